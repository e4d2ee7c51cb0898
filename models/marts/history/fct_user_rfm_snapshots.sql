-- RFM scores, segment, class and value tier of every buyer at the end of each period (var
-- rfm_snapshot_grain: month or week) up to D. RFM compares users with each other, so a past
-- period's scores cannot be derived from one user's dates alone: they are snapshots, each computed
-- from the data up to that period's end as if D were that day. The first build backfills every
-- period since var rfm_snapshot_begin; later builds compute only new months plus a lookback of
-- var rfm_snapshot_lookback_months for late data (microbatch by month, available on DuckDB and
-- Spark alike).

{{ config(
    materialized='incremental',
    incremental_strategy='microbatch',
    event_time='snapshot_date',
    batch_size='month',
    begin=var('rfm_snapshot_begin'),
    lookback=var('rfm_snapshot_lookback_months'),
    concurrent_batches=false,
    on_schema_change='fail',
    partition_by=microbatch_partition_by('snapshot_date'),
) }}

{%- set grain = var('rfm_snapshot_grain') %}
{%- if grain not in ('week', 'month') %}
    {{ exceptions.raise_compiler_error(
        "var rfm_snapshot_grain must be 'week' or 'month', got '" ~ grain ~ "'"
    ) }}
{%- endif %}
{#- Each microbatch computes the period ends of its month; outside a batch (compile, lint) the
    whole range. -#}
{%- set batch = model.batch if model is mapping and model.get('batch') else none %}
{%- set batch_start = batch.event_time_start.strftime('%Y-%m-%d') if batch
    else var('rfm_snapshot_begin') %}
{%- set batch_end = batch.event_time_end.strftime('%Y-%m-%d') if batch else '9999-12-31' %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

calendar as (
    select * from {{ ref('metricflow_time_spine') }}
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

period_ends as (
    select distinct {{ period_end(grain, 'date_day') }} as snapshot_date
    from calendar
),

snapshot_dates as (
    select period_ends.snapshot_date
    from period_ends
    cross join as_of
    where
        period_ends.snapshot_date <= as_of.as_of_date
        and period_ends.snapshot_date >= cast('{{ var("rfm_snapshot_begin") }}' as date)
        and period_ends.snapshot_date >= cast('{{ batch_start }}' as date)
        and period_ends.snapshot_date < cast('{{ batch_end }}' as date)
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
        {% set rfm_window = var('rfm_window_days') -%}
        sum(
            {% if rfm_window is none -%}
                purchase_days.purchases
            {%- else -%}
                case
                    when
                        {{ in_last_days(
                            'purchase_days.activity_date', rfm_window, 'snapshot_dates.snapshot_date'
                        ) }}
                        then purchase_days.purchases
                    else 0
                end
            {%- endif %}
        ) as frequency,
        sum(
            {% if rfm_window is none -%}
                purchase_days.revenue
            {%- else -%}
                case
                    when
                        {{ in_last_days(
                            'purchase_days.activity_date', rfm_window, 'snapshot_dates.snapshot_date'
                        ) }}
                        then purchase_days.revenue
                    else 0
                end
            {%- endif %}
        ) as monetary
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
        cast(buyers.monetary as decimal(18, 2)) as monetary,
        rfm_final.r_score,
        rfm_final.f_score,
        rfm_final.m_score,
        segment_map.rfm_segment,
        rfm_final.rfm_class,
        rfm_final.value_tier,
        rfm_final.monetary_decile
    from rfm_final
    inner join buyers
        on
            rfm_final.snapshot_date = buyers.snapshot_date
            and rfm_final.user_id = buyers.user_id
    left join segment_map
        on
            rfm_final.r_score = segment_map.r_score
            and rfm_final.f_score = segment_map.f_score
)

select * from final
