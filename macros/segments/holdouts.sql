{#- Holdout groups (docs/outcomes.md). A user is held out of a play when a hash of the user, the
    play and var holdout_salt falls in the first var holdout_share of its range: the first 8 hex
    digits of md5(user_id || '|' || play_id || '|' || salt), as a whole number, modulo 10,000,
    below holdout_share * 10,000 (rounded half up). md5 and the hex digits are the same on DuckDB
    and Spark, so every engine and every run puts every user in the same group, and a user held
    out of a play stays held out of it. strata.generate.is_holdout is the same rule in Python. -#}

{#- The hash bucket 0-9999 of a user for a play. -#}
{% macro holdout_bucket(user_expression, play_expression) -%}
    ({{ hex_to_bigint(
        'substr(md5(' ~ dbt.concat([
            user_expression, "'|'", play_expression, "'|'",
            strata_quote_literal(var('holdout_salt'))
        ]) ~ '), 1, 8)'
    ) }} % 10000)
{%- endmacro %}


{#- True when the user is held out of the play. -#}
{% macro is_holdout(user_expression, play_expression) -%}
    {%- set share = var('holdout_share') -%}
    {%- if share is none or share < 0 or share > 1 -%}
        {{ exceptions.raise_compiler_error(
            "var holdout_share must be a share between 0 and 1, got '" ~ share ~ "'"
        ) }}
    {%- endif -%}
    ({{ holdout_bucket(user_expression, play_expression) }} < {{ (share * 10000 + 0.5) | int }})
{%- endmacro %}


{#- A play's id: the playbook row it comes from, `<segment_type>:<segment>`. -#}
{% macro play_id(segment_type_expression, segment_expression) -%}
    {{ dbt.concat([segment_type_expression, "':'", segment_expression]) }}
{%- endmacro %}
