-- The members of every trigger audience at M (audiences/*.yml entries with `trigger:`), one row
-- per audience and user: a user whose spell of the audience's trigger is still running at M.
-- Each is drawn into the audience's holdout on the day they entered, by the rule of the plays
-- (play `audience:<name>`, macros/segments/holdouts.sql), so a held-out user stays held out of
-- that audience. What the intraday run exports (docs/triggers.md).

{%- set definitions = trigger_audience_definitions() %}

with

spells as (
    select * from {{ ref('fct_trigger_spells') }}
),

moment as (
    select * from {{ ref('int_trigger_moment') }}
),

audiences as (
    {% for audience in definitions -%}
        select
            {{ strata_quote_literal(audience.name) }} as audience_name,
            {{ strata_quote_literal(audience.spec) }} as trigger_name,
            {{ strata_quote_literal(audience.owner) }} as audience_owner
        {% if not loop.last %}union all{% endif %}
    {% else -%}
        select
            cast(null as {{ dbt.type_string() }}) as audience_name,
            cast(null as {{ dbt.type_string() }}) as trigger_name,
            cast(null as {{ dbt.type_string() }}) as audience_owner
        where 1 = 0
    {%- endfor %}
),

members as (
    select
        audiences.audience_name,
        audiences.trigger_name,
        audiences.audience_owner,
        spells.user_id,
        spells.spell_id,
        spells.entered_at,
        spells.evidence_kind,
        spells.evidence_id,
        {{ dbt.concat(["'audience:'", 'audiences.audience_name']) }} as play_id
    from audiences
    inner join spells
        on audiences.trigger_name = spells.trigger_name
    where spells.is_open
),

final as (
    select
        cast(members.audience_name as {{ dbt.type_string() }}) as audience_name,
        cast(members.trigger_name as {{ dbt.type_string() }}) as trigger_name,
        cast(members.audience_owner as {{ dbt.type_string() }}) as audience_owner,
        cast(members.user_id as {{ dbt.type_string() }}) as user_id,
        cast(members.spell_id as {{ dbt.type_string() }}) as spell_id,
        cast(members.entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast(members.evidence_kind as {{ dbt.type_string() }}) as evidence_kind,
        cast(members.evidence_id as {{ dbt.type_string() }}) as evidence_id,
        cast(members.play_id as {{ dbt.type_string() }}) as play_id,
        cast({{ is_holdout('members.user_id', 'members.play_id',
            'cast(members.entered_at as date)') }} as boolean) as is_holdout,
        cast(moment.trigger_as_of as {{ dbt.type_timestamp() }}) as trigger_as_of
    from members
    cross join moment
)

select * from final
