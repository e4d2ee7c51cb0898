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

positions as (
    select
        'lifecycle_stage' as segment_type,
        complete_period_ends.period_end,
        history.user_id,
        history.lifecycle_stage as segment
    from complete_period_ends
    inner join history
        on
            complete_period_ends.period_end >= history.valid_from
            and (complete_period_ends.period_end <= history.valid_to or history.valid_to is null)
    union all
    select
        'rfm_segment' as segment_type,
        snapshot_date as period_end,
        user_id,
        rfm_segment as segment
    from snapshots
),

paired as (
    select
        this_period.segment_type,
        this_period.period_end,
        coalesce(last_period.segment, 'none') as from_segment,
        this_period.segment as to_segment
    from positions as this_period
    left join positions as last_period
        on
            this_period.segment_type = last_period.segment_type
            and this_period.user_id = last_period.user_id
            and last_period.period_end = cast(
                {{ dbt.dateadd('day', -1, dbt.date_trunc(grain, 'this_period.period_end')) }}
                as date
            )
),

final as (
    select
        '{{ grain }}' as grain,
        period_end,
        segment_type,
        from_segment,
        to_segment,
        cast(count(*) as {{ dbt.type_bigint() }}) as user_count
    from paired
    group by period_end, segment_type, from_segment, to_segment
)

select * from final
