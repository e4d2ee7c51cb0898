{#- The raw data contract, read from the sources YAML (models/staging/shop/_shop__sources.yml):
    the one place it is written. Returns, per raw table of source `shop` that carries a
    `strata_contract` meta:
      {'required': bool, 'event_time_column': name,
       'columns': [{'name': ..., 'required': bool, 'types': [type families]}, ...]}
    in the YAML's order. Type families: text, integer, number, timestamp, date, boolean. Empty
    while dbt parses (the graph is filled in only when nodes execute). -#}
{% macro raw_tables() %}
    {% set tables = {} %}
    {% for node in graph.get('sources', {}).values()
        if node.package_name == project_name and node.source_name == 'shop' %}
        {% set table_contract = node.config.meta.get('strata_contract') %}
        {% if table_contract %}
            {% set columns = [] %}
            {% for column in node.columns.values() %}
                {% set column_contract = column.config.meta.get('strata_contract') %}
                {% if column_contract %}
                    {% do columns.append({
                        'name': column.name,
                        'required': column_contract.get('required', false),
                        'types': column_contract.get('types', ['text']),
                    }) %}
                {% endif %}
            {% endfor %}
            {% do tables.update({node.name: {
                'required': table_contract.get('required', true),
                'event_time_column': table_contract.get('event_time_column'),
                'columns': columns,
            }}) %}
        {% endif %}
    {% endfor %}
    {{ return(tables) }}
{% endmacro %}
