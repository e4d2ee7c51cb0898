{#- Holdout groups (docs/outcomes.md). A user is held out of a play when a hash of the user, the
    play and var holdout_salt falls in the first var holdout_share of its range (or, for an entry
    made before the current rule was set, by the rule of var holdout_history in force then): the first 8 hex
    digits of md5(user_id || '|' || play_id || '|' || salt), as a whole number, modulo 10,000,
    below holdout_share * 10,000 (rounded half up). md5 and the hex digits are the same on DuckDB
    and Spark, so every engine and every run puts every user in the same group, and a user held
    out of a play stays held out of it. strata.generate.is_holdout is the same rule in Python. -#}

{#- The hash bucket 0-9999 of a user for a play under `salt` (var holdout_salt by default). -#}
{% macro holdout_bucket(user_expression, play_expression, salt=none) -%}
    ({{ hex_to_bigint(
        'substr(md5(' ~ dbt.concat([
            user_expression, "'|'", play_expression, "'|'",
            strata_quote_literal(var('holdout_salt') if salt is none else salt)
        ]) ~ '), 1, 8)'
    ) }} % 10000)
{%- endmacro %}


{#- True when the user's bucket falls in the first `share` of the range. -#}
{% macro holdout_test(user_expression, play_expression, salt, share) -%}
    {%- if share is none or share < 0 or share > 1 -%}
        {{ exceptions.raise_compiler_error(
            "var holdout_share must be a share between 0 and 1, got '" ~ share ~ "'"
        ) }}
    {%- endif -%}
    ({{ holdout_bucket(user_expression, play_expression, salt) }} < {{ (share * 10000 + 0.5) | int }})
{%- endmacro %}


{#- The earlier holdout rules (var holdout_history), checked and in date order: a list of dicts
    with `until` (the last day, YYYY-MM-DD, an entry was drawn under it), `salt` and `share`. -#}
{% macro holdout_history() %}
    {% set rules = [] %}
    {% for rule in var('holdout_history') or [] %}
        {% if rule is not mapping or rule.get('until') is none or rule.get('salt') is none
            or rule.get('share') is none %}
            {{ exceptions.raise_compiler_error(
                "var holdout_history: each entry needs until (YYYY-MM-DD), salt and share, got "
                ~ rule
            ) }}
        {% endif %}
        {% do rules.append({
            'until': rule['until'] | string, 'salt': rule['salt'] | string,
            'share': rule['share'],
        }) %}
    {% endfor %}
    {{ return(rules | sort(attribute='until')) }}
{% endmacro %}


{#- True when the user is held out of the play: by the rule in force on `on_date` (a date
    expression: the day the user entered the play), which is var holdout_history's first rule
    whose `until` is on or after that day, else the current vars holdout_salt and holdout_share.
    So a new salt or share starts a new experiment from the day it is set, and every past entry
    keeps the group it was drawn into (docs/outcomes.md). Without `on_date`, the current rule. -#}
{% macro is_holdout(user_expression, play_expression, on_date=none) -%}
    {%- set current = holdout_test(
        user_expression, play_expression, var('holdout_salt'), var('holdout_share')
    ) -%}
    {%- set history = holdout_history() if on_date is not none else [] -%}
    {%- if history | length == 0 -%}
        {{ current }}
    {%- else -%}
        case
            {%- for rule in history %}
                when {{ on_date }} <= cast({{ strata_quote_literal(rule.until) }} as date)
                    then {{ holdout_test(user_expression, play_expression, rule.salt, rule.share) }}
            {%- endfor %}
            else {{ current }}
        end
    {%- endif -%}
{%- endmacro %}


{#- A play's id: the playbook row it comes from, `<segment_type>:<segment>`. -#}
{% macro play_id(segment_type_expression, segment_expression) -%}
    {{ dbt.concat([segment_type_expression, "':'", segment_expression]) }}
{%- endmacro %}
