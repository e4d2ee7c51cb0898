{#- Fails for every row of the model where `expression` is not true (null counts as failing).
    Declared on a column or on the model; the expression is written in full either way, and dbt's
    own `where` config narrows the rows checked. -#}
{% test expression_is_true(model, expression, column_name=none) %}
    select *
    from {{ model }}
    where
        not coalesce({{ expression }}, false)
{% endtest %}
