-- Raw columns outside the contract (emails, addresses, free text) must never reach a model.
-- Only the base models read the raw sources, so every other model sees only what they keep. The
-- test checks both halves: no model but a base model reads a source, and no base model carries a
-- raw column the contract does not name. A returned row is a model that breaks either rule.
-- depends_on: {{ ref('base_shop__orders') }}
-- depends_on: {{ ref('base_shop__sessions') }}
{% set leaks = [] %}
{% if execute %}
    {% set extras = [] %}
    {% for table, columns in raw_tables().items() %}
        {% set contract = columns | map(attribute='name') | list %}
        {% for column in adapter.get_columns_in_relation(source('shop', table)) %}
            {% set name = column.name | lower %}
            {% if name not in contract and not name.startswith('_strata_') %}
                {% do extras.append(name) %}
            {% endif %}
        {% endfor %}
    {% endfor %}
    {% for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name %}
        {% for dependency in node.depends_on.nodes
            if dependency.startswith('source.') and not node.name.startswith('base_') %}
            {% do leaks.append((node.name, 'reads raw ' ~ dependency ~ ' directly')) %}
        {% endfor %}
    {% endfor %}
    {% for node in graph.nodes.values()
        if node.resource_type == 'model' and node.package_name == project_name
        and node.name.startswith('base_') %}
        {% set relation = adapter.get_relation(
            database=node.database, schema=node.schema, identifier=node.alias
        ) %}
        {% if relation is not none %}
            {% for column in adapter.get_columns_in_relation(relation) %}
                {% if column.name | lower in extras %}
                    {% do leaks.append((node.name, 'carries raw column ' ~ column.name)) %}
                {% endif %}
            {% endfor %}
        {% endif %}
    {% endfor %}
{% endif %}

{% for model_name, problem in leaks %}
    select
        '{{ model_name }}' as model_name,
        '{{ problem }}' as problem
    {% if not loop.last %}union all{% endif %}
{% else %}
    select
        cast(null as {{ dbt.type_string() }}) as model_name,
        cast(null as {{ dbt.type_string() }}) as problem
    where 1 = 0
{% endfor %}
