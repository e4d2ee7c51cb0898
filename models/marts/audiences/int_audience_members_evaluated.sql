-- One row per audience, member and evaluation day: every audience of var audiences (checked and
-- ordered by the strata CLI from audiences/*.yml) evaluated on each day of int_audience_calendar
-- it can be (D alone for one that reads what is known as of D only), with the reason the user is
-- in: the rule's terms that hold for them, the audiences a combination found them in, the list
-- and its delivery, or the model that chose them. An uploaded list counts from the day it was
-- delivered (member_since); a model audience is the set of user_ids its model returns on D.

-- Downstream of the marts it reads (dim_users, the stage history, the RFM snapshots), so it
-- lives beside the audience marts; built into the intermediate schema, never published.
{{ config(schema='intermediate', access='protected') }}

{%- set definitions = audience_definitions() %}
{%- set inputs = audience_inputs(definitions) %}

with

states as (
    select * from {{ ref('int_audience_states') }}
),
{%- for audience in definitions if audience.kind == 'list' %}

list__{{ audience.name }} as (
    select
        user_id,
        min(delivered_on) as delivered_on
    from {{ audience_list_relation(audience) }}
    where user_id is not null and user_id <> ''
    group by user_id
),
{%- endfor %}
{%- for audience in definitions if audience.kind == 'model' %}

model__{{ audience.name }} as (
    select distinct cast(user_id as {{ dbt.type_string() }}) as user_id
    from {{ ref(audience.spec) }}
    where user_id is not null
),
{%- endfor %}

evaluated as (
    select
        {% for column in inputs.columns + inputs.behaviours | map(attribute='column') | list -%}
            states.{{ column }},
        {% endfor -%}
        {% for audience in definitions -%}
            {{ audience_membership_sql(audience, 'states', definitions) }} as is__{{ audience.name }},
            {% if audience.kind == 'list' -%}
                list__{{ audience.name }}.delivered_on
            {%- else -%}
                cast(null as date)
            {%- endif %} as since__{{ audience.name }},
        {% endfor -%}
        states.user_id,
        states.evaluated_on,
        states.is_as_of_date
    from states
    {% for audience in definitions if audience.kind in ('list', 'model') -%}
        left join {{ audience.kind }}__{{ audience.name }}
            on states.user_id = {{ audience.kind }}__{{ audience.name }}.user_id
    {% endfor -%}
),

-- The members of every audience, one audience after another (no rows without an audience).
final as (
    select
        user_id,
        evaluated_on,
        is_as_of_date,
        cast(null as {{ dbt.type_string() }}) as audience_name,
        cast(null as date) as member_since,
        cast(null as {{ dbt.type_string() }}) as reason
    from evaluated
    where false
    {%- for audience in definitions %}
    union all
    select
        user_id,
        evaluated_on,
        is_as_of_date,
        {{ strata_quote_literal(audience.name) }} as audience_name,
        since__{{ audience.name }} as member_since,
        {{ audience_member_reason(audience, 'evaluated') }} as reason
    from evaluated
    where is__{{ audience.name }}
    {%- endfor %}
)

select
    audience_name,
    user_id,
    evaluated_on,
    is_as_of_date,
    member_since,
    reason
from final
