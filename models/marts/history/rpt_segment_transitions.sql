-- How many users moved from each segment to each other between consecutive period ends (var
-- rfm_snapshot_grain), for lifecycle stages (from the history) and RFM segments (from the
-- snapshots): what a flow (Sankey) chart needs. A user who did not exist at the previous period
-- end (first seen, or first purchase for RFM) comes from `none`; users never leave, since
-- `churned` is itself a stage and a buyer stays scored.

{%- set grain = var('rfm_snapshot_grain') %}

with

history as (
    select * from {{ ref('fct_user_lifecycle_history') }}
),

snapshots as (
    select * from {{ ref('fct_user_rfm_snapshots') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

-- The periods from the first user's first day to D, from the data's own range.
bounds as (
    select
        cast({{ dbt.date_trunc(grain, 'min(history.valid_from)') }} as date) as first_period_start,
        max(as_of.as_of_date) as as_of_date
    from history
    cross join as_of
),

period_starts as (
    {{ date_series('bounds', 'first_period_start', 'as_of_date', grain, 'period_start') }}
),

complete_period_ends as (
    select {{ period_end(grain, 'period_starts.period_start') }} as period_end
    from period_starts
    cross join as_of
    where {{ period_end(grain, 'period_starts.period_start') }} <= as_of.as_of_date
),

-- The last complete period end, on or before D.
last_complete as (
    select max(period_end) as last_period_end
    from complete_period_ends
),

-- Every day from the first period's start to D, with the end of its period and the last period
-- end on or before it: the spells below look their first and last days up here, so the date
-- arithmetic runs once per day rather than once per spell.
calendar_days as (
    {{ date_series('bounds', 'first_period_start', 'as_of_date', 'day', 'calendar_day') }}
),

day_period_ends as (
    select
        calendar_day,
        period_end_of_day,
        case
            when period_end_of_day = calendar_day then calendar_day else previous_period_end
        end as period_end_by_day
    from (
        select
            calendar_day,
            {{ period_end(grain, 'calendar_day') }} as period_end_of_day,
            cast({{ dbt.dateadd('day', -1, dbt.date_trunc(grain, 'calendar_day')) }} as date)
                as previous_period_end
        from calendar_days
    ) as calendar_periods
),

-- Lifecycle stages come from spells, not from every user at every period end: a spell is the
-- position at the period ends from the end of the period it starts in to the last one on or
-- before its last day (the last complete one while it runs). A spell that starts and ends
-- between two period ends is nobody's position.
spell_period_ends as (
    select
        history.user_id,
        history.lifecycle_stage,
        history.valid_from,
        from_day.period_end_of_day as first_period_end,
        case
            when
                history.valid_to is not null
                and to_day.period_end_by_day < last_complete.last_period_end
                then to_day.period_end_by_day
            else last_complete.last_period_end
        end as last_period_end
    from history
    inner join day_period_ends as from_day
        on history.valid_from = from_day.calendar_day
    left join day_period_ends as to_day
        on history.valid_to = to_day.calendar_day
    cross join last_complete
),

-- The spells that are a position at some period end, each with the stage of the user's spell
-- before it among those: spells follow each other without a gap, so that one is the position at
-- the period end before this spell's first (none when the user had not yet been seen).
positional_spells as (
    select
        lifecycle_stage,
        first_period_end,
        last_period_end,
        lag(lifecycle_stage) over (partition by user_id order by valid_from) as previous_stage
    from spell_period_ends
    where first_period_end <= last_period_end
),

-- A move into a spell, at its first period end.
lifecycle_arrivals as (
    select
        first_period_end as period_end,
        coalesce(previous_stage, 'none') as from_segment,
        lifecycle_stage as to_segment,
        count(*) as user_count
    from positional_spells
    group by first_period_end, coalesce(previous_stage, 'none'), lifecycle_stage
),

-- A stay in a spell, at each of its later period ends: at a period end P, the spells whose first
-- period end is before P less those whose last is before P (a few rows per stage and period end,
-- not one per user and period end; and no date arithmetic, which Spark spells out at length).
stay_changes as (
    select
        lifecycle_stage,
        first_period_end as change_period_end,
        count(*) as stay_change
    from positional_spells
    where last_period_end > first_period_end
    group by lifecycle_stage, first_period_end
    union all
    select
        lifecycle_stage,
        last_period_end as change_period_end,
        -count(*) as stay_change
    from positional_spells
    where last_period_end > first_period_end
    group by lifecycle_stage, last_period_end
),

lifecycle_stays as (
    select
        complete_period_ends.period_end,
        stay_changes.lifecycle_stage as from_segment,
        stay_changes.lifecycle_stage as to_segment,
        sum(stay_changes.stay_change) as user_count
    from complete_period_ends
    inner join stay_changes
        on complete_period_ends.period_end > stay_changes.change_period_end
    group by complete_period_ends.period_end, stay_changes.lifecycle_stage
),

lifecycle_moves as (
    select
        'lifecycle_stage' as segment_type,
        period_end,
        from_segment,
        to_segment,
        sum(user_count) as user_count
    from (
        select * from lifecycle_arrivals
        union all
        select * from lifecycle_stays
    ) as moves
    group by period_end, from_segment, to_segment
),

rfm_paired as (
    select
        this_period.snapshot_date as period_end,
        coalesce(last_period.rfm_segment, 'none') as from_segment,
        this_period.rfm_segment as to_segment
    from snapshots as this_period
    left join snapshots as last_period
        on
            this_period.user_id = last_period.user_id
            and last_period.snapshot_date = cast(
                {{ dbt.dateadd('day', -1, dbt.date_trunc(grain, 'this_period.snapshot_date')) }}
                as date
            )
),

rfm_moves as (
    select
        'rfm_segment' as segment_type,
        period_end,
        from_segment,
        to_segment,
        count(*) as user_count
    from rfm_paired
    group by period_end, from_segment, to_segment
),

final as (
    select
        '{{ grain }}' as grain,
        period_end,
        segment_type,
        from_segment,
        to_segment,
        cast(user_count as {{ dbt.type_bigint() }}) as user_count
    from (
        select * from lifecycle_moves
        union all
        select * from rfm_moves
    ) as moves
    where user_count > 0
)

select * from final
