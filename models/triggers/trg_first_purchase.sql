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
    {{ trigger_candidates('events', 'event_at', windows.first_purchase_keep,
        "event_kind = 'purchase' and purchase_number = 1") }}
),

{{ trigger_spells('first_purchase', 'candidates') }}

select * from final
