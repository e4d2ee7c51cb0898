-- One row per entry into a lifecycle stage (fct_lifecycle_events) with what the user did in the
-- outcome window after it: whether they converted (for the plays of the inactive stages, dormant
-- and churned, coming back to any activity; for the other plays, purchasing) on days e + 1 to
-- e + N after the entry day e (N is var outcome_window_days; the play goes out after the day's
-- build), the revenue of those days, and whether the window has closed by D. What
-- rpt_play_outcomes and the semantic layer's conversion metrics aggregate.
--
-- Audiences (docs/audiences.md) are measured the same way: every spell of fct_audience_memberships
-- whose entry is known is an entry into the play `audience:<name>` on the first day the user was
-- found in it (the day an export would have sent them), held out by the same rule, converting by
-- the audience's goal (dim_audiences.conversion_goal, purchase by default). A spell that was
-- already running on the audience's first evaluation day has no known entry and is left out, and
-- so is one found before the audience's measure_from (the day it started being sent), if set.

{%- set window = var('outcome_window_days') %}

{{ user_keyed_incremental_config(
    ['fct_lifecycle_events', 'int_user_days_aggregated'],
    on_schema_change='append_new_columns',
    other_vars=['outcome_window_days'],
    changed_from_column='event_date',
    changed_from_days_earlier=window,
    also_replaced="stored.segment_type = 'audience'"
        ~ " or (not stored.is_window_closed and stored.window_end_date <= {as_of_date})",
) }}

{#- Incremental on DuckDB (macros/incremental). An entry's row changes only with its user's events
    and user-days, which change from the user's first changed day on, and with D through
    is_window_closed. So a build computes again: the entries of the listed users from N days
    before their first changed day (a window reaches N days after its entry), the entries whose
    window closed since the last build's D, and every audience entry (the memberships are built
    again every run). The others' rows are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies(stage_thresholds=true) }}

with

events as (
    select * from {{ ref('fct_lifecycle_events') }}
),

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

-- Entries into stage plays and into audiences, alike.
entered as (
    select
        event_id,
        user_id,
        play_id,
        'lifecycle_stage' as segment_type,
        entered_stage as segment,
        event_date,
        is_holdout,
        entered_stage in ('dormant', 'churned') as is_return_play
    from events
    union all
    select
        memberships.membership_id as event_id,
        memberships.user_id,
        audiences.play_id,
        'audience' as segment_type,
        memberships.audience_name as segment,
        memberships.first_found_on as event_date,
        memberships.is_holdout,
        audiences.conversion_goal = 'return_to_activity' as is_return_play
    from memberships
    inner join audiences
        on memberships.audience_name = audiences.audience_name
    where
        memberships.is_entry_known
        and (
            audiences.measured_from is null
            or memberships.first_found_on >= audiences.measured_from
        )
),

-- Each entry with what the user did in the window after it: in an incremental build, the entries
-- to compute again (config above).
entries as (
    select
        entered.*,
        cast({{ dbt.dateadd('day', window, 'entered.event_date') }} as date) <= as_of.as_of_date
            as is_window_closed
    from entered
    cross join as_of
    {% if plan.mode != 'full' %}
        where
            entered.segment_type = 'audience'
            or (
                cast({{ dbt.dateadd('day', window, 'entered.event_date') }} as date)
                > cast('{{ plan.previous.as_of_date }}' as date)
                and cast({{ dbt.dateadd('day', window, 'entered.event_date') }} as date)
                <= as_of.as_of_date
            )
            or {{ only_changed_rows(plan, 'entered.user_id', 'entered.event_date', window) }}
    {% endif %}
),

-- The outcome of an entry depends only on its user and its date: computed once per user and
-- entry date (an event and the audiences a user enters that day share it), then joined back.
-- Grouped by entry instead, the join and its grouping outgrew the 3 GB memory limit at 10M users
-- (issue #27).
entry_days as (
    select distinct
        user_id,
        event_date
    from entries
),

outcomes as (
    select
        entry_days.user_id,
        entry_days.event_date,
        max(case when user_days.activity_date is not null then 1 else 0 end) as returned,
        max(case when user_days.purchases > 0 then 1 else 0 end) as purchased,
        coalesce(sum(user_days.revenue), 0) as revenue_in_window
    from entry_days
    left join user_days
        on
            entry_days.user_id = user_days.user_id
            and entry_days.event_date < user_days.activity_date
            and cast({{ dbt.dateadd('day', window, 'entry_days.event_date') }} as date)
            >= user_days.activity_date
    group by entry_days.user_id, entry_days.event_date
),

scored as (
    select
        entries.*,
        case
            when entries.is_return_play then outcomes.returned
            else outcomes.purchased
        end as converted,
        outcomes.revenue_in_window
    from entries
    inner join outcomes
        on
            entries.user_id = outcomes.user_id
            and entries.event_date = outcomes.event_date
),

final as (
    select
        event_id,
        user_id,
        play_id,
        segment_type,
        segment,
        event_date,
        is_holdout,
        case when is_return_play then 'return_to_activity' else 'purchase' end as conversion_goal,
        cast({{ dbt.dateadd('day', window, 'event_date') }} as date) as window_end_date,
        is_window_closed,
        converted = 1 as has_converted,
        cast(converted as integer) as conversions,
        cast(revenue_in_window as decimal(38, 2)) as revenue_in_window
    from scored
)

select * from final
