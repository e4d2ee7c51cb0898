-- RFM scores, class and value decile for every buyer (a user with at least one purchase on or
-- before D). Scores come from each buyer's rank among all buyers, not from ntile(): ntile() cuts
-- the ranked list into equal-sized pieces and so splits users with the same value between two
-- scores, arbitrarily and differently from one engine or run to the next. Here a score is
-- 1 + floor(5 * (rank - 1) / n), with rank() giving tied values the same (lowest) rank, so equal
-- values always get equal scores and the result is the same everywhere.

with

measured as (
    select * from {{ ref('int_users_measured') }}
),

-- depends_on: {{ ref('rfm_score_thresholds') }}
{% if var('rfm_scoring') == 'thresholds' -%}
    thresholds as (
        select * from {{ ref('rfm_score_thresholds') }}
    ),
{%- endif %}

buyers as (
    select
        user_id,
        recency_days,
        frequency,
        monetary
    from measured
    where purchases_lifetime > 0
),

-- The center each buyer's R, F and M is compared with for the eight classes.
centers as (
    select
        {% if var('rfm_class_center') == 'median' -%}
            {{ median('recency_days') }} as recency_center,
            {{ median('frequency') }} as frequency_center,
            {{ median('monetary') }} as monetary_center
        {%- elif var('rfm_class_center') == 'mean' -%}
            avg(cast(recency_days as double)) as recency_center,
            avg(cast(frequency as double)) as frequency_center,
            avg(cast(monetary as double)) as monetary_center
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "var rfm_class_center must be 'mean' or 'median', got '"
                ~ var('rfm_class_center') ~ "'"
            ) }}
        {%- endif %}
    from buyers
),

ranked as (
    select
        user_id,
        recency_days,
        frequency,
        monetary,
        count(*) over () as scored_users,
        -- The most recent buyer (fewest days) ranks highest, so it gets the top score.
        rank() over (order by recency_days desc nulls first) as recency_rank,
        rank() over (order by frequency asc nulls first) as frequency_rank,
        rank() over (order by monetary asc nulls first) as monetary_rank
    from buyers
),

{% if var('rfm_scoring') == 'thresholds' -%}
    threshold_scores as (
    -- Fixed business bins: the best score whose threshold the buyer meets.
    select
        buyers.user_id,
        max(
            case
                when thresholds.metric = 'recency' and buyers.recency_days <= thresholds.threshold
                    then thresholds.score
            end
        ) as r_score,
        max(
            case
                when thresholds.metric = 'frequency' and buyers.frequency >= thresholds.threshold
                    then thresholds.score
            end
        ) as f_score,
        max(
            case
                when thresholds.metric = 'monetary' and buyers.monetary >= thresholds.threshold
                    then thresholds.score
            end
        ) as m_score
    from buyers
    cross join thresholds
    group by buyers.user_id
),
{%- endif %}

scored as (
    select
        ranked.user_id,
        {% if var('rfm_scoring') == 'quantile' -%}
            {{ quantile_from_rank('ranked.recency_rank', 'ranked.scored_users', 5) }} as r_score,
            {{ quantile_from_rank('ranked.frequency_rank', 'ranked.scored_users', 5) }}
                as f_score,
            {{ quantile_from_rank('ranked.monetary_rank', 'ranked.scored_users', 5) }} as m_score,
        {%- elif var('rfm_scoring') == 'thresholds' -%}
            threshold_scores.r_score,
            threshold_scores.f_score,
            threshold_scores.m_score,
        {%- else -%}
            {{ exceptions.raise_compiler_error(
                "var rfm_scoring must be 'quantile' or 'thresholds', got '"
                ~ var('rfm_scoring') ~ "'"
            ) }}
        {%- endif %}
        {{ quantile_from_rank('ranked.monetary_rank', 'ranked.scored_users', 10) }}
            as monetary_decile,
        ranked.recency_days <= centers.recency_center as is_recency_high,
        ranked.frequency >= centers.frequency_center as is_frequency_high,
        ranked.monetary >= centers.monetary_center as is_monetary_high
    from ranked
    cross join centers
    {% if var('rfm_scoring') == 'thresholds' -%}
        left join threshold_scores
            on ranked.user_id = threshold_scores.user_id
    {%- endif %}
),

final as (
    select
        user_id,
        cast(r_score as integer) as r_score,
        cast(f_score as integer) as f_score,
        cast(m_score as integer) as m_score,
        cast(monetary_decile as integer) as monetary_decile,
        is_recency_high,
        is_frequency_high,
        is_monetary_high,
        {{ rfm_class('is_recency_high', 'is_frequency_high', 'is_monetary_high') }} as rfm_class,
        case
            when monetary_decile >= {{ var('value_tier_vip_min_decile') }} then 'vip'
            when monetary_decile >= {{ var('value_tier_mid_min_decile') }} then 'mid'
            else 'low'
        end as value_tier
    from scored
)

select * from final
