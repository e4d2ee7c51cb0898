-- Trigger `came_back`: a session or purchase by a user whom the daily run had as dormant or
-- churned on the day before it (fct_user_lifecycle_history; for a day after the last daily
-- run's D, the stage on D). The user enters at that event and leaves at their next purchase after
-- it (`purchased`) or var trigger_came_back_keep_days (7) days after their last event that
-- qualified (`aged_out`). A return by a purchase stays in until the next one or the keep ends.
-- Evidence: the returning session or order.

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
            when next_purchase_at <= {{ add_seconds('event_at', windows.came_back_keep) }}
                then next_purchase_at
            else {{ add_seconds('event_at', windows.came_back_keep) }}
        end as end_at,
        case
            when next_purchase_at <= {{ add_seconds('event_at', windows.came_back_keep) }}
                then 'purchased'
            else 'aged_out'
        end as end_reason,
        event_kind as evidence_kind,
        event_id as evidence_id
    from events
    where stage_before in ('dormant', 'churned')
),

{{ trigger_spells('came_back', 'candidates') }}

select * from final
