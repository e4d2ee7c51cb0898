-- RFM scores, class and value decile for every buyer (a user with at least one purchase on or
-- before D). Scores come from each buyer's rank among all buyers, not from ntile(): ntile() cuts
-- the ranked list into equal-sized pieces and so splits users with the same value between two
-- scores, arbitrarily and differently from one engine or run to the next. Here a score is
-- 1 + floor(5 * (rank - 1) / n), with rank() giving tied values the same (lowest) rank, so equal
-- values always get equal scores and the result is the same everywhere. The steps are in macro
-- rfm_scoring_ctes, shared with the RFM snapshots.

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

{{ rfm_scoring_ctes('buyers') }}

select * from rfm_final
