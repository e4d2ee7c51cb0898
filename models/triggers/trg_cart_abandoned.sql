-- Trigger `cart_abandoned`: a session that added to the cart, with no purchase by the user from
-- the session's start until var trigger_cart_hours (2) later. The user enters at that moment
-- (the session's start plus the window: only then is the cart known to be left), and leaves at
-- their next purchase (`purchased`) or var trigger_cart_keep_hours (48) after entering
-- (`aged_out`). A purchase exactly at the end of the window is within it. Evidence: the session.

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
    {{ trigger_candidates('events', add_seconds('event_at', windows.cart), windows.cart_keep,
        "event_kind = 'session' and added_to_cart and (next_purchase_at is null or next_purchase_at > " ~ add_seconds('event_at', windows.cart) ~ ")") }}
),

{{ trigger_spells('cart_abandoned', 'candidates') }}

select * from final
