-- The back-test that makes the predictions believable: the models are fitted on the history up
-- to D minus var prediction_holdout_days (the calibration cut-off), predict every buyer's purchase
-- days in the holdout that follows, and the predictions are set against what happened, in total,
-- by the buyer's repeat purchase days before the cut-off (the published paper's Figure 2 view) and
-- by their RFM segment at the last snapshot before the cut-off.

{%- set holdout = var('prediction_holdout_days') %}

with

buyers as (
    select * from {{ ref('int_buyers_summarised') }}
    where purpose = 'calibration'
),

scored as (
    select * from {{ ref('int_buyer_predictions_scored') }}
    where purpose = 'calibration'
),

snapshots as (
    select * from {{ ref('fct_user_rfm_snapshots') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

cutoff as (
    select distinct cutoff_date from buyers
),

-- The RFM segments of the last snapshot on or before the cut-off.
segment_snapshot as (
    select max(snapshots.snapshot_date) as snapshot_date
    from snapshots
    inner join cutoff
        on snapshots.snapshot_date <= cutoff.cutoff_date
),

segments as (
    select
        snapshots.user_id,
        snapshots.rfm_segment
    from snapshots
    inner join segment_snapshot
        on snapshots.snapshot_date = segment_snapshot.snapshot_date
),

compared as (
    select
        buyers.cutoff_date,
        buyers.user_id,
        buyers.repeat_purchase_days,
        coalesce(segments.rfm_segment, 'after the last snapshot') as rfm_segment,
        buyers.holdout_purchase_days as actual_purchase_days,
        scored.expected_purchases_holdout as predicted_purchase_days
    from buyers
    left join scored
        on buyers.user_id = scored.user_id
    left join segments
        on buyers.user_id = segments.user_id
),

breakdowns as (
    select
        cutoff_date,
        'total' as breakdown,
        'all buyers' as group_value,
        0 as group_order,
        actual_purchase_days,
        predicted_purchase_days
    from compared
    union all
    select
        cutoff_date,
        'repeat_purchase_days' as breakdown,
        case
            when repeat_purchase_days >= 7 then '7+'
            else cast(repeat_purchase_days as {{ dbt.type_string() }})
        end as group_value,
        least(repeat_purchase_days, 7) as group_order,
        actual_purchase_days,
        predicted_purchase_days
    from compared
    union all
    select
        cutoff_date,
        'rfm_segment' as breakdown,
        rfm_segment as group_value,
        0 as group_order,
        actual_purchase_days,
        predicted_purchase_days
    from compared
),

final as (
    select
        as_of.as_of_date,
        breakdowns.cutoff_date,
        cast({{ holdout }} as integer) as holdout_days,
        breakdowns.breakdown,
        breakdowns.group_value,
        cast(breakdowns.group_order as integer) as group_order,
        cast(count(*) as {{ dbt.type_bigint() }}) as buyers,
        cast(sum(breakdowns.actual_purchase_days) as {{ dbt.type_bigint() }})
            as actual_purchase_days,
        -- Predictions are summed as decimals: exact, so the same on every run and engine (a sum
        -- of doubles depends on the order it is added in).
        cast(sum(cast(breakdowns.predicted_purchase_days as decimal(38, 9))) as double)
            as predicted_purchase_days,
        cast(sum(breakdowns.actual_purchase_days) as double) / count(*) as actual_per_buyer,
        cast(sum(cast(breakdowns.predicted_purchase_days as decimal(38, 9))) as double)
        / count(*) as predicted_per_buyer
    from breakdowns
    cross join as_of
    group by
        as_of.as_of_date,
        breakdowns.cutoff_date,
        breakdowns.breakdown,
        breakdowns.group_value,
        breakdowns.group_order
)

select * from final
