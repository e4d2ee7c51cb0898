-- Raw columns outside the contract (emails, addresses, free text) must never reach a model. The
-- raw views select only the contract's columns, and only the base models read the raw tables of
-- the contract, so every other model sees only what they keep. The test checks both: no model but
-- a base model reads a contract table, and no raw view carries a column the contract does not name
-- (so no model can). A returned row is a relation that breaks either rule.
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('base_shop__sessions') }}
{% set leaks = [] %}
{% if execute %}
    {% set tables = raw_tables() %}
    {% set contract_names = [] %}
    {% for table, contract in tables.items() %}
        {% do contract_names.extend(contract.columns | map(attribute='name') | list) %}
        {% for column in adapter.get_columns_in_relation(source('shop', table)) %}
            {% set name = column.name | lower %}
            {% if name not in contract_names and not name.startswith('_strata_') %}
                {% do leaks.append(('strata_raw.' ~ table, 'carries raw column ' ~ column.name)) %}
            {% endif %}
        {% endfor %}
    {% endfor %}
    {% set contract_sources = [] %}
    {% for table in tables %}
        {% do contract_sources.append('source.' ~ project_name ~ '.shop.' ~ table) %}
    {% endfor %}
    {% for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name %}
        {% for dependency in node.depends_on.nodes
            if dependency in contract_sources and not node.name.startswith('base_') %}
            {% do leaks.append((node.name, 'reads raw ' ~ dependency ~ ' directly')) %}
        {% endfor %}
    {% endfor %}
{% endif %}

{% for model_name, problem in leaks %}
    select
        {{ strata_quote_literal(model_name) }} as model_name,
        {{ strata_quote_literal(problem) }} as problem
    {% if not loop.last %}union all{% endif %}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as problem
    where 1 = 0
{% endfor %}
