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
    {{ trigger_candidates('events', 'event_at', windows.came_back_keep,
        "stage_before in ('dormant', 'churned')") }}
),

{{ trigger_spells('came_back', 'candidates') }}

select * from final
