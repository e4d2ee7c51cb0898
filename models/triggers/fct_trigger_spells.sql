-- Every trigger spell active in the lookback window, one row per user, trigger and entry: when
-- the user entered, when they left and why, and the session or order that put them in. Rebuilt
-- whole from the events known at M on every run (the trigger models read a bounded window of
-- time), so it always equals a fresh build for the same M.

{%- set triggers = [
    'trg_cart_abandoned', 'trg_browsing_without_purchase', 'trg_came_back',
    'trg_first_purchase', 'trg_second_purchase_overdue',
] %}

with

{% for trigger in triggers %}
{{ trigger }} as (
    select * from {{ ref(trigger) }}
),

{% endfor -%}

unioned as (
    {% for trigger in triggers -%}
        select * from {{ trigger }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

final as (
    select
        cast(spell_id as {{ dbt.type_string() }}) as spell_id,
        cast(trigger_name as {{ dbt.type_string() }}) as trigger_name,
        cast(user_id as {{ dbt.type_string() }}) as user_id,
        cast(entered_at as {{ dbt.type_timestamp() }}) as entered_at,
        cast(left_at as {{ dbt.type_timestamp() }}) as left_at,
        cast(left_reason as {{ dbt.type_string() }}) as left_reason,
        cast(is_open as boolean) as is_open,
        cast(evidence_kind as {{ dbt.type_string() }}) as evidence_kind,
        cast(evidence_id as {{ dbt.type_string() }}) as evidence_id,
        cast(evidence_count as {{ dbt.type_bigint() }}) as evidence_count,
        cast(trigger_as_of as {{ dbt.type_timestamp() }}) as trigger_as_of
    from unioned
)

select * from final
