-- RFM scores, segment, class and value tier of every buyer at the end of each period (var
-- rfm_snapshot_grain: month or week) up to D. RFM compares users with each other, so a past
-- period's scores cannot be derived from one user's dates alone: they are snapshots, each computed
-- from the data up to that period's end as if D were that day, by the same macro as dim_users.
--
-- Incremental, driven by D and by the data, never by the clock: int_rfm_snapshot_inputs_
-- fingerprinted lists the snapshot dates a fresh build for D would hold, each with a fingerprint
-- of its inputs. The pre-hook deletes every stored date that is not on that list with the same
-- fingerprint (changed inputs, or a date after D), and the model appends the dates that are then
-- missing. A first build, a month skipped, a run repeated, a backfill for an earlier D, late or
-- corrected history and a changed var all leave the table equal to a fresh build. Var
-- rfm_snapshot_recompute ({start, end}, set by `strata backfill`) recomputes a range regardless.

{{ config(
    materialized='incremental',
    incremental_strategy='strata_append' if target.type == 'duckdb' else 'append',
    on_schema_change='fail',
    partition_by=slice_partition_by('snapshot_date'),
    meta={'incremental_slices': {
        'slice_column': 'snapshot_date', 'fingerprint_column': 'inputs_fingerprint',
    }},
    pre_hook="{% if is_incremental() %}{{ delete_stale_slices(this, rfm_snapshots_to_keep(), 'snapshot_date', 'inputs_fingerprint') }}{% endif %}",
) }}

with

wanted as (
    select * from {{ ref('int_rfm_snapshot_inputs_fingerprinted') }}
),

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

-- depends_on: {{ ref('rfm_score_thresholds') }}
{% if var('rfm_scoring') == 'thresholds' -%}
    thresholds as (
        select * from {{ ref('rfm_score_thresholds') }}
    ),
{%- endif %}

snapshot_dates as (
    select
        wanted.snapshot_date,
        wanted.inputs_fingerprint
    from wanted
    {% if is_incremental() -%}
        -- After the pre-hook, every stored date is current: compute the missing ones only.
        where not exists (
            select 1
            from {{ this }} as stored
            where stored.snapshot_date = wanted.snapshot_date
        )
    {%- endif %}
),

purchase_days as (
    select
        user_id,
        activity_date,
        purchases,
        revenue
    from user_days
    where purchases > 0
),

buyers as (
    select
        snapshot_dates.snapshot_date,
        purchase_days.user_id,
        cast(
            {{ days_between('max(purchase_days.activity_date)', 'snapshot_dates.snapshot_date') }}
            as integer
        ) as recency_days,
        {{ windowed_sum(
            'purchase_days.purchases', 'purchase_days.activity_date', var('rfm_window_days'),
            'snapshot_dates.snapshot_date'
        ) }} as frequency,
        {{ windowed_sum(
            'purchase_days.revenue', 'purchase_days.activity_date', var('rfm_window_days'),
            'snapshot_dates.snapshot_date'
        ) }} as monetary
    from snapshot_dates
    inner join purchase_days
        on snapshot_dates.snapshot_date >= purchase_days.activity_date
    group by snapshot_dates.snapshot_date, purchase_days.user_id
),

{{ rfm_scoring_ctes('buyers', by='snapshot_date') }},

final as (
    select
        rfm_final.snapshot_date,
        rfm_final.user_id,
        buyers.recency_days,
        cast(buyers.frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(buyers.monetary as decimal(38, 2)) as monetary,
        rfm_final.r_score,
        rfm_final.f_score,
        rfm_final.m_score,
        rfm_final.rfm_segment,
        rfm_final.rfm_class,
        rfm_final.value_tier,
        rfm_final.monetary_decile,
        snapshot_dates.inputs_fingerprint
    from rfm_final
    inner join buyers
        on
            rfm_final.snapshot_date = buyers.snapshot_date
            and rfm_final.user_id = buyers.user_id
    inner join snapshot_dates
        on rfm_final.snapshot_date = snapshot_dates.snapshot_date
)

select * from final
