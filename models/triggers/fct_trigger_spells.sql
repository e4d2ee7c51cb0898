-- Every trigger spell active in the lookback window, one row per user, trigger and entry: when
-- the user entered, when they left and why, and the session or order that put them in. Rebuilt
-- whole from the events known at M on every run (the trigger models read a bounded window of
-- time), so it always equals a fresh build for the same M.

with

cart_abandoned as (
    select * from {{ ref('trg_cart_abandoned') }}
),

browsing_without_purchase as (
    select * from {{ ref('trg_browsing_without_purchase') }}
),

came_back as (
    select * from {{ ref('trg_came_back') }}
),

first_purchase as (
    select * from {{ ref('trg_first_purchase') }}
),

second_purchase_overdue as (
    select * from {{ ref('trg_second_purchase_overdue') }}
),

unioned as (
    select * from cart_abandoned
    union all
    select * from browsing_without_purchase
    union all
    select * from came_back
    union all
    select * from first_purchase
    union all
    select * from second_purchase_overdue
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
