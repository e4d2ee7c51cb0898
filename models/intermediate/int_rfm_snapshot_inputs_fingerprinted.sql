-- One row per RFM snapshot date up to D (every period end of var rfm_snapshot_grain from the
-- first purchase's period, or from var rfm_snapshot_begin when set), with a fingerprint of
-- everything that snapshot is computed from: every purchase day up to that date, the scoring
-- vars, the segment map and thresholds seeds, and the snapshot model's own code. The snapshots
-- are incremental: a stored snapshot whose fingerprint differs from this one (late or corrected
-- data, a changed var or seed, a run for an earlier D) is deleted and computed again, and a
-- missing one is computed, so the table always equals a fresh build for the same D.
--
-- A purchase day's fingerprint is a whole number from md5 over its values (row_fingerprint);
-- their sum per period, accumulated over periods, fingerprints all purchases up to each date
-- without regard to row order, alike on DuckDB and Spark.

{%- set grain = var('rfm_snapshot_grain') %}
{%- if grain not in ('week', 'month') %}
    {{ exceptions.raise_compiler_error(
        "var rfm_snapshot_grain must be 'week' or 'month', got '" ~ grain ~ "'"
    ) }}
{%- endif %}
{%- set begin = var('rfm_snapshot_begin', none) %}
{%- if begin is not none and not modules.re.match('^\d{4}-\d{2}-\d{2}$', begin | string) %}
    {{ exceptions.raise_compiler_error(
        "var rfm_snapshot_begin must be null or a date as YYYY-MM-DD, got '" ~ begin ~ "'"
    ) }}
{%- endif %}
{#- What the snapshots depend on besides the data. The logic version is raised whenever the
    scoring macros change meaning, so that snapshots stored by an older strata are recomputed. -#}
{%- set snapshot_model = graph.get('nodes', {}).get(
    'model.' ~ project_name ~ '.fct_user_rfm_snapshots', {}
) %}
{%- set settings = [
    'logic=2',
    'grain=' ~ grain,
    'window=' ~ var('rfm_window_days'),
    'scoring=' ~ var('rfm_scoring'),
    'center=' ~ var('rfm_class_center'),
    'vip=' ~ var('value_tier_vip_min_decile'),
    'mid=' ~ var('value_tier_mid_min_decile'),
    'code=' ~ local_md5(snapshot_model.get('raw_code', '')),
] | join(';') %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
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

purchase_days as (
    select
        {{ period_end(grain, 'activity_date') }} as period_end,
        {{ row_fingerprint(['user_id', 'activity_date', 'purchases', 'revenue']) }} as fingerprint
    from user_days
    where purchases > 0
),

reference_fingerprint as (
    select sum(fingerprint) as fingerprint
    from (
        select {{ row_fingerprint(['r_score', 'f_score', 'rfm_segment']) }} as fingerprint
        from segment_map
        {% if var('rfm_scoring') == 'thresholds' -%}
            union all
            select {{ row_fingerprint(['metric', 'score', 'threshold']) }} as fingerprint
            from thresholds
        {%- endif %}
    ) as reference_rows
),

bounds as (
    select
        {% if begin is none -%}
            cast({{ dbt.date_trunc(grain, 'min(purchase_days.period_end)') }} as date)
        {%- else -%}
            cast({{ dbt.date_trunc(grain, "cast('" ~ begin ~ "' as date)") }} as date)
        {%- endif %} as first_period_start,
        max(as_of.as_of_date) as as_of_date
    from purchase_days
    cross join as_of
),

period_starts as (
    {{ date_series('bounds', 'first_period_start', 'as_of_date', grain, 'period_start') }}
),

snapshot_dates as (
    select {{ period_end(grain, 'period_starts.period_start') }} as snapshot_date
    from period_starts
    cross join as_of
    where {{ period_end(grain, 'period_starts.period_start') }} <= as_of.as_of_date
),

period_fingerprints as (
    select
        period_end,
        sum(fingerprint) as fingerprint
    from purchase_days
    group by period_end
),

-- Every period with purchases or a snapshot, so that purchases before the first snapshot date
-- (var rfm_snapshot_begin) still count in the accumulated fingerprint.
periods as (
    select snapshot_date as period_end from snapshot_dates
    union
    select period_end from period_fingerprints
),

accumulated as (
    select
        periods.period_end,
        sum(coalesce(period_fingerprints.fingerprint, 0)) over (
            order by periods.period_end asc rows between unbounded preceding and current row
        ) as fingerprint
    from periods
    left join period_fingerprints
        on periods.period_end = period_fingerprints.period_end
),

final as (
    select
        snapshot_dates.snapshot_date,
        md5(concat_ws(
            '|',
            {{ strata_quote_literal(settings) }},
            coalesce(cast(reference_fingerprint.fingerprint as {{ dbt.type_string() }}), ''),
            cast(accumulated.fingerprint as {{ dbt.type_string() }})
        )) as inputs_fingerprint
    from snapshot_dates
    inner join accumulated
        on snapshot_dates.snapshot_date = accumulated.period_end
    cross join reference_fingerprint
)

select * from final
