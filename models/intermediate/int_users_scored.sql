-- RFM scores, segment, class, value decile and tier for every buyer (a user with at least one
-- purchase on or before D). Only the buyers with a purchase in the RFM window are scored, against
-- each other; the others have lapsed and stay outside the grid (rfm_segment `lapsed`). Scores come
-- from each buyer's rank, not from ntile(): 1 + floor(5 * (rank - 1) / n), with rank() giving tied
-- values the same (lowest) rank, so equal values always get equal scores on every engine. The
-- steps are in macro rfm_scoring_ctes, shared with the RFM snapshots.

with

measured as (
    select * from {{ ref('int_users_measured') }}
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
