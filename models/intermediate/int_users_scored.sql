-- RFM scores, segment, class, value decile and tier for every buyer (a user with at least one
-- purchase on or before D). Only the buyers with a purchase in the RFM window are scored, against
-- each other; the others have lapsed and stay outside the grid (rfm_segment `lapsed`). Scores come
-- from each buyer's rank, not from ntile(): 1 + floor(5 * (rank - 1) / n), with rank() giving tied
-- values the same (lowest) rank, so equal values always get equal scores on every engine. The
-- steps are in macro rfm_scoring_ctes, shared with the RFM snapshots.
--
-- Recency is scored in whole days against recency_scored_on (int_as_of_dates_resolved): D, or the
-- day before D when D is a partial day (the data stops early in it). A buyer of that partial day
-- then ties with the day before's buyers at 0 days, so a few hours of data cannot shrink R = 5 to
-- the handful who bought in them (docs/segments.md, "A partial last day"). recency_days in
-- dim_users stays the plain days since the last purchase.

with

measured as (
    select * from {{ ref('int_users_measured') }}
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

buyers as (
    select
        measured.user_id,
        greatest(
            measured.recency_days
            - {{ days_between('as_of.recency_scored_on', 'as_of.as_of_date') }},
            0
        ) as recency_days,
        measured.frequency,
        measured.monetary
    from measured
    cross join as_of
    where measured.purchases_lifetime > 0
),

{{ rfm_scoring_ctes('buyers') }}

select * from rfm_final
