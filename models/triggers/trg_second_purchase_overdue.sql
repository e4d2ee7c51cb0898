-- Trigger `second_purchase_overdue`: a first purchase with no second one when the shop's rhythm
-- says it should have come. The wait is var trigger_second_purchase_days: `auto` (default) takes
-- the median gap between a customer's purchase days (rpt_purchase_gaps.gap_days_p50, rounded up)
-- when there are enough gaps to trust it (has_enough_gaps), else var
-- trigger_second_purchase_fallback_days (30); a number sets it. A grocery's customers come back
-- in days, a furniture shop's in years, and the wait follows. The user enters at the first
-- purchase plus the wait and leaves at the second purchase (`purchased`) or var
-- trigger_second_purchase_keep_days (30) days after entering (`aged_out`). A second purchase at
-- the very end of the wait is in time. Evidence: the first order.

{{ config(materialized="view") }}

{%- set windows = trigger_windows() %}
{%- set wait = var('trigger_second_purchase_days') %}
{%- if wait != 'auto' and (wait is not number or wait <= 0) %}
    {{ exceptions.raise_compiler_error(
        "var trigger_second_purchase_days must be auto or a positive number of days, got '"
        ~ wait ~ "'"
    ) }}
{%- endif %}

with

moment as (
    select * from {{ ref('int_trigger_moment') }}
),

events as (
    select * from {{ ref('int_trigger_events') }}
),

rhythm as (
    select
        {% if wait == 'auto' -%}
            cast(case
                when has_enough_gaps then ceil(gap_days_p50)
                else {{ var('trigger_second_purchase_fallback_days') }}
            end as {{ dbt.type_bigint() }})
        {%- else -%}
            cast({{ wait }} as {{ dbt.type_bigint() }})
        {%- endif %} * 86400 as wait_seconds
    from {{ ref('rpt_purchase_gaps') }}
),

due as (
    select
        events.user_id,
        events.event_id,
        events.event_kind,
        events.next_purchase_at,
        {{ dbt.dateadd('second', 'rhythm.wait_seconds', 'events.event_at') }} as due_at
    from events
    cross join rhythm
    where events.event_kind = 'purchase' and events.purchase_number = 1
),

candidates as (
    {{ trigger_candidates('due', 'due_at', windows.second_purchase_keep,
        'next_purchase_at is null or next_purchase_at > due_at') }}
),

{{ trigger_spells('second_purchase_overdue', 'candidates') }}

select * from final
