-- Trigger `browsing_without_purchase`: a session that makes at least var trigger_browse_sessions
-- (3) sessions of the user within var trigger_browse_days (7) days, ending with it, with no
-- purchase in those days. The user enters at that session and leaves at their next purchase
-- (`purchased`) or var trigger_browse_keep_days (3) days after the last session that qualified
-- (`aged_out`): every further qualifying session keeps them in. Both ends of the window count.
-- Evidence: the session that first qualified.

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
    {{ trigger_candidates('events', 'event_at', windows.browse_keep,
        "event_kind = 'session' and sessions_in_browse_window >= " ~ var('trigger_browse_sessions') ~ " and (previous_purchase_at is null or previous_purchase_at < " ~ add_seconds('event_at', -windows.browse) ~ ")") }}
),

{{ trigger_spells('browsing_without_purchase', 'candidates') }}

select * from final
