{#- Audiences a marketer defines in audiences/*.yml (docs/audiences.md). The strata CLI reads and
    checks the files (strata/audiences/definitions.py: file, line and what is wrong) and hands the
    checked definitions to dbt as var `audiences`; these macros compile them into SQL, the same on
    DuckDB and Spark. They check again what reaches SQL, for a var written by hand: names and
    columns are identifiers, operators come from a fixed list, and values become literals only
    (strata_quote_literal for text), never SQL. -#}

{#- The comparison operators a rule may use, as SQL. -#}
{% macro audience_comparisons() %}
    {{ return({
        'equals': '=', 'not_equals': '<>', 'above': '>', 'at_least': '>=', 'below': '<',
        'at_most': '<=',
    }) }}
{% endmacro %}


{#- The checked definitions (var audiences), each combination after what it reads: those the
    daily run evaluates (`trigger` audiences are the intraday run's, trigger_audience_definitions). -#}
{% macro audience_definitions() %}
    {{ return(all_audience_definitions() | rejectattr('kind', 'equalto', 'trigger') | list) }}
{% endmacro %}


{#- The trigger audiences of var audiences (docs/triggers.md). -#}
{% macro trigger_audience_definitions() %}
    {{ return(all_audience_definitions() | selectattr('kind', 'equalto', 'trigger') | list) }}
{% endmacro %}


{#- Every definition of var audiences, checked. -#}
{% macro all_audience_definitions() %}
    {% set definitions = var('audiences', []) or [] %}
    {% set seen = [] %}
    {% for audience in definitions %}
        {% if audience is not mapping or not audience_identifier(audience.get('name')) %}
            {{ exceptions.raise_compiler_error(
                "var audiences: every audience needs a name of lower-case letters, digits and _, "
                ~ "got " ~ audience ~ " (write definitions in audiences/*.yml; `strata audiences "
                ~ "vars` checks them and prints this var)"
            ) }}
        {% endif %}
        {% if audience.kind not in ('rule', 'list', 'combine', 'model', 'trigger') %}
            {{ exceptions.raise_compiler_error(
                "var audiences: audience " ~ audience.name ~ " has an unknown kind " ~ audience.kind
            ) }}
        {% endif %}
        {% if audience.kind == 'combine' %}
            {% for part in audience_parts(audience.spec) if part not in seen %}
                {{ exceptions.raise_compiler_error(
                    "var audiences: combination " ~ audience.name ~ " reads " ~ part
                    ~ ", which is not defined before it"
                ) }}
            {% endfor %}
        {% endif %}
        {% do seen.append(audience.name) %}
    {% endfor %}
    {{ return(definitions) }}
{% endmacro %}


{% macro audience_identifier(name) %}
    {{ return(name is string and modules.re.match('^[a-z][a-z0-9_]{0,62}$', name) is not none) }}
{% endmacro %}


{#- The audiences a combination tree reads. -#}
{% macro audience_parts(tree) %}
    {% if 'audience' in tree %}
        {{ return([tree.audience]) }}
    {% elif 'not' in tree %}
        {{ return(audience_parts(tree['not'])) }}
    {% endif %}
    {% set parts = [] %}
    {% for child in tree.get('all') or tree.get('any') or [] %}
        {% do parts.extend(audience_parts(child)) %}
    {% endfor %}
    {{ return(parts) }}
{% endmacro %}


{#- Walks rule trees: the dim_users columns and the (metric, days) behaviour windows they read. -#}
{% macro audience_inputs(definitions) %}
    {% set found = {'columns': [], 'behaviours': [], 'history': false} %}
    {% for audience in definitions %}
        {% if audience.has_history and audience.kind in ('rule', 'list', 'combine') %}
            {% do found.update({'history': true}) %}
        {% endif %}
        {% if audience.kind == 'rule' %}
            {% do _collect_inputs(audience.spec, found) %}
        {% endif %}
    {% endfor %}
    {{ return(found) }}
{% endmacro %}

{% macro _collect_inputs(tree, found) %}
    {% if 'column' in tree %}
        {% if tree.column not in found.columns %}{% do found.columns.append(tree.column) %}{% endif %}
    {% elif 'behaviour' in tree %}
        {% set key = behaviour_column(tree.behaviour, tree.days) %}
        {% if key not in found.behaviours | map(attribute='column') | list %}
            {% do found.behaviours.append({
                'column': key, 'metric': tree.behaviour, 'days': tree.days | int
            }) %}
        {% endif %}
    {% elif 'not' in tree %}
        {% do _collect_inputs(tree['not'], found) %}
    {% else %}
        {% for child in tree.get('all') or tree.get('any') or [] %}
            {% do _collect_inputs(child, found) %}
        {% endfor %}
    {% endif %}
{% endmacro %}


{#- The state column holding a behaviour window: b__<metric>__<days>d. -#}
{% macro behaviour_column(metric, days) %}
    {% if metric not in ('purchases', 'orders', 'revenue', 'average_order_value', 'sessions',
        'active_days', 'page_views', 'session_minutes') %}
        {{ exceptions.raise_compiler_error("var audiences: unknown behaviour " ~ metric) }}
    {% endif %}
    {% if days is not number or days is sameas true or days is sameas false or days < 1 %}
        {{ exceptions.raise_compiler_error(
            "var audiences: behaviour " ~ metric ~ " needs days, a whole number, got " ~ days
        ) }}
    {% endif %}
    {{ return('b__' ~ metric ~ '__' ~ (days | int) ~ 'd') }}
{% endmacro %}


{#- The sum over user days that a behaviour window reads (the days are picked by the caller). -#}
{% macro behaviour_day_value(metric, days_alias) %}
    {% set sums = {
        'purchases': days_alias ~ '.purchases',
        'orders': days_alias ~ '.orders',
        'revenue': days_alias ~ '.revenue',
        'sessions': days_alias ~ '.sessions',
        'active_days': '1',
        'page_views': days_alias ~ '.page_views',
        'session_minutes': 'cast(' ~ days_alias ~ '.session_seconds as double) / 60',
    } %}
    {{ return(sums[metric]) }}
{% endmacro %}


{#- A value as a SQL literal of its family. -#}
{% macro audience_literal(value, family) %}
    {% if family == 'boolean' %}
        {% if value is sameas true %}{{ return('true') }}{% elif value is sameas false %}{{ return('false') }}{% endif %}
    {% elif family == 'number' %}
        {% if value is number and value is not sameas true and value is not sameas false %}
            {{ return('cast(' ~ value ~ ' as double)') }}
        {% endif %}
    {% elif family in ('date', 'timestamp') %}
        {% if value is string and modules.re.match('^\d{4}-\d{2}-\d{2}$', value) %}
            {{ return('cast(' ~ strata_quote_literal(value) ~ ' as date)') }}
        {% endif %}
    {% elif family == 'text' %}
        {% if value is string %}{{ return(strata_quote_literal(value)) }}{% endif %}
    {% endif %}
    {{ exceptions.raise_compiler_error(
        "var audiences: value " ~ value ~ " is not a " ~ family ~ " literal"
    ) }}
{% endmacro %}


{#- One condition of a rule as a SQL boolean over the state row `alias` (never null: a missing
    value makes a term false, and `not` of it true). -#}
{% macro audience_condition(tree, alias) %}
    {% if 'all' in tree or 'any' in tree %}
        {% set joiner = ' and ' if 'all' in tree else ' or ' %}
        {% set parts = [] %}
        {% for child in tree.get('all') or tree.get('any') %}
            {% do parts.append(audience_condition(child, alias)) %}
        {% endfor %}
        {{ return('(' ~ parts | join(joiner) ~ ')') }}
    {% elif 'not' in tree %}
        {{ return('(not ' ~ audience_condition(tree['not'], alias) ~ ')') }}
    {% endif %}
    {% if 'column' in tree %}
        {% if not audience_identifier(tree.column) %}
            {{ exceptions.raise_compiler_error("var audiences: bad column " ~ tree.column) }}
        {% endif %}
        {% set subject = alias ~ '.' ~ tree.column %}
    {% else %}
        {% set subject = alias ~ '.' ~ behaviour_column(tree.behaviour, tree.days) %}
    {% endif %}
    {% set family = tree.get('family', 'number') %}
    {% set op = tree.op %}
    {% set comparisons = audience_comparisons() %}
    {% if op in comparisons %}
        {% set test = subject ~ ' ' ~ comparisons[op] ~ ' ' ~ audience_literal(tree.value, family) %}
    {% elif op in ('in', 'not_in') %}
        {% set values = [] %}
        {% for value in tree.value %}{% do values.append(audience_literal(value, family)) %}{% endfor %}
        {% set test = subject ~ (' in (' if op == 'in' else ' not in (') ~ values | join(', ') ~ ')' %}
    {% elif op == 'between' %}
        {% set test = subject ~ ' between ' ~ audience_literal(tree.value[0], family) ~ ' and '
            ~ audience_literal(tree.value[1], family) %}
    {% elif op == 'is_set' %}
        {% set test = subject ~ (' is not null' if tree.value is sameas true else ' is null') %}
    {% else %}
        {{ exceptions.raise_compiler_error("var audiences: unknown operator " ~ op) }}
    {% endif %}
    {{ return('coalesce(' ~ test ~ ', false)') }}
{% endmacro %}


{#- Why a member is in: the terms of the rule that hold for them (an `any` names only the
    branches that matched). `condition` is audience_condition or, for combinations, the
    membership of the audiences read. -#}
{% macro audience_reason(tree, alias, definitions) %}
    {% if 'all' in tree or 'any' in tree %}
        {% set parts = [] %}
        {% for child in tree.get('all') or tree.get('any') %}
            {% set reason = audience_reason(child, alias, definitions) %}
            {% if 'all' in child or 'any' in child %}
                {% set reason = dbt.concat(["'('", reason, "')'"]) %}
            {% endif %}
            {% if 'any' in tree %}
                {% set reason = 'case when ' ~ audience_tree_sql(child, alias, definitions)
                    ~ ' then ' ~ reason ~ ' end' %}
            {% endif %}
            {% do parts.append(reason) %}
        {% endfor %}
        {{ return('concat_ws(' ~ strata_quote_literal(' and ' if 'all' in tree else ' or ') ~ ', '
            ~ parts | join(', ') ~ ')') }}
    {% endif %}
    {{ return(strata_quote_literal(tree.text)) }}
{% endmacro %}


{#- A rule tree (`definitions` none), or a combination tree over the memberships of the
    audiences in `definitions`, as SQL; with `definitions` 'flags', over the columns
    `is__<audience>` of the row `alias`. -#}
{% macro audience_tree_sql(tree, alias, definitions) %}
    {% if definitions is none %}
        {{ return(audience_condition(tree, alias)) }}
    {% elif 'audience' in tree and definitions == 'flags' %}
        {{ return(alias ~ '.is__' ~ tree.audience) }}
    {% elif 'audience' in tree %}
        {{ return(audience_membership_sql(
            audience_named(definitions, tree.audience), alias, definitions
        )) }}
    {% elif 'not' in tree %}
        {{ return('(not ' ~ audience_tree_sql(tree['not'], alias, definitions) ~ ')') }}
    {% endif %}
    {% set parts = [] %}
    {% for child in tree.get('all') or tree.get('any') %}
        {% do parts.append(audience_tree_sql(child, alias, definitions)) %}
    {% endfor %}
    {{ return('(' ~ parts | join(' and ' if 'all' in tree else ' or ') ~ ')') }}
{% endmacro %}


{% macro audience_named(definitions, name) %}
    {% for audience in definitions if audience.name == name %}
        {{ return(audience) }}
    {% endfor %}
    {{ exceptions.raise_compiler_error("var audiences: unknown audience " ~ name) }}
{% endmacro %}


{#- Whether the user of state row `alias` is a member of `audience` on the row's day. An audience
    that reads what is known as of D only (a prediction, a model) is evaluated on D alone. -#}
{% macro audience_membership_sql(audience, alias, definitions) %}
    {% if audience.kind == 'rule' %}
        {% set sql = audience_condition(audience.spec, alias) %}
    {% elif audience.kind == 'combine' %}
        {% set sql = audience_tree_sql(audience.spec, alias, definitions) %}
    {% elif audience.kind == 'list' %}
        {% set sql = '(list__' ~ audience.name ~ '.user_id is not null and list__' ~ audience.name
            ~ '.delivered_on <= ' ~ alias ~ '.evaluated_on)' %}
    {% else %}
        {% set sql = '(model__' ~ audience.name ~ '.user_id is not null)' %}
    {% endif %}
    {% if not audience.has_history or audience.kind == 'model' %}
        {% set sql = '(' ~ alias ~ '.is_as_of_date and ' ~ sql ~ ')' %}
    {% endif %}
    {{ return(sql) }}
{% endmacro %}


{#- Why a member of `audience` is in, over the row `alias` of states with the membership flags
    (is__<audience>) and list deliveries (since__<audience>) beside them. -#}
{% macro audience_member_reason(audience, alias) %}
    {% if audience.kind == 'rule' %}
        {{ return(audience_reason(audience.spec, alias, none)) }}
    {% elif audience.kind == 'combine' %}
        {{ return(audience_reason(audience.spec, alias, 'flags')) }}
    {% elif audience.kind == 'list' %}
        {{ return(dbt.concat([
            strata_quote_literal('on list ' ~ audience.spec ~ ' delivered '),
            'cast(' ~ alias ~ '.since__' ~ audience.name ~ ' as ' ~ dbt.type_string() ~ ')'
        ])) }}
    {% else %}
        {{ return(strata_quote_literal(audience.text)) }}
    {% endif %}
{% endmacro %}


{#- The view an uploaded list is read through (registered by register_audience_lists). -#}
{% macro audience_list_relation(audience) %}
    {{ return(var('raw_schema') ~ '.audience_list__' ~ audience.name) }}
{% endmacro %}


{#- One row per audience (name, kind, owner, ...): the definitions as a table (dim_audiences). -#}
{% macro audience_definitions_sql(definitions) %}
    {% set rows = [] %}
    {% for audience in definitions %}
        {% do rows.append(
            'select ' ~ strata_quote_literal(audience.name) ~ ' as audience_name, '
            ~ strata_quote_literal(audience.kind) ~ ' as audience_kind, '
            ~ strata_quote_literal(audience.owner) ~ ' as audience_owner, '
            ~ strata_quote_literal(audience.description) ~ ' as description, '
            ~ strata_quote_literal(audience.text) ~ ' as definition, '
            ~ strata_quote_literal(audience.attributes | join(',')) ~ ' as export_attributes, '
            ~ strata_quote_literal(audience.get('goal', 'purchase')) ~ ' as conversion_goal, '
            ~ ('true' if audience.has_history else 'false') ~ ' as has_history, '
            ~ strata_quote_literal(audience.source) ~ ' as defined_at, '
            ~ (audience_literal(audience.measure_from, 'date') if audience.get('measure_from')
                else 'cast(null as date)') ~ ' as measured_from, '
            ~ loop.index ~ ' as definition_order'
        ) %}
    {% endfor %}
    {% if not rows %}
        {% do rows.append(
            'select ' ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as audience_name, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as audience_kind, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as audience_owner, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as description, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as definition, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as export_attributes, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as conversion_goal, '
            ~ 'false as has_history, '
            ~ ("cast(null as " ~ dbt.type_string() ~ ")") ~ ' as defined_at, '
            ~ 'cast(null as date) as measured_from, '
            ~ '0 as definition_order where 1 = 0'
        ) %}
    {% endif %}
    {{ return(rows | join('\n union all \n')) }}
{% endmacro %}
