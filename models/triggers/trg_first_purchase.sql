-- Trigger `first_purchase`: a user's first purchase ever (completed, in its version known at M).
-- The user enters at it and leaves at their second purchase (`purchased`) or var
-- trigger_first_purchase_keep_days (14) days later (`aged_out`). Evidence: the order.

{{ config(materialized="view") }}

{%- set windows = trigger_windows() %}

with

moment as (
    select * from {{ ref('int_trigger_moment') }}
),

events as (
    select * from {{ ref('int_trigger_events') }}
),

candidates as (
    select
        user_id,
        event_at as start_at,
        case
            when next_purchase_at <= {{ add_seconds('event_at', windows.first_purchase_keep) }}
                then next_purchase_at
            else {{ add_seconds('event_at', windows.first_purchase_keep) }}
        end as end_at,
        case
            when next_purchase_at <= {{ add_seconds('event_at', windows.first_purchase_keep) }}
                then 'purchased'
            else 'aged_out'
        end as end_reason,
        event_kind as evidence_kind,
        event_id as evidence_id
    from events
    where event_kind = 'purchase' and purchase_number = 1
),

{{ trigger_spells('first_purchase', 'candidates') }}

select * from final
