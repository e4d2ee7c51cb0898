-- The stage and score rules of the benchmark's hand-written queries (bench/baseline_duckdb.sql
-- and bench/floor_duckdb.sql), written once: from `user_days` (one row per user and activity
-- day, up to the as-of date, with purchases and revenue) to every user's lifecycle stage and R, F
-- and M scores, by the default rules of docs/segments.md. tools.baseline puts it in place of
-- the placeholder `stages_and_scores` in either query. The metrics are computed here by hand; the
-- stage rule itself (placeholder `lifecycle_stage`) is the project's macro lifecycle_stage, rendered with
-- dbt_project.yml's vars, so that the rule has one definition.

measured as (
    select
        user_id,
        date '$as_of_date' - max(activity_date) as days_inactive,
        date '$as_of_date' - min(activity_date) as days_since_first_seen,
        max(case when gap is not null and activity_date > date '$as_of_date' - $return_window_days
            then gap end) as last_gap_days,
        count(*) filter (where activity_date > date '$as_of_date' - $engagement_recent_days)
            as active_days_recent,
        count(*) filter (
            where activity_date > date '$as_of_date' - ($engagement_recent_days + $engagement_baseline_days)
            and activity_date <= date '$as_of_date' - $engagement_recent_days
        ) as baseline_active_days,
        sum(purchases) filter (where activity_date > date '$as_of_date' - $loyal_window_days)
            as loyalty_purchases,
        sum(purchases) as purchases_lifetime,
        date '$as_of_date' - max(activity_date) filter (where purchases > 0) as recency_days,
        coalesce(sum(purchases) filter (
            where activity_date > date '$as_of_date' - $rfm_window_days
        ), 0) as frequency,
        coalesce(sum(revenue) filter (
            where activity_date > date '$as_of_date' - $rfm_window_days
        ), 0) as monetary
    from (
        select
            *,
            activity_date - lag(activity_date) over (partition by user_id order by activity_date)
                as gap
        from user_days
    ) as with_gaps
    group by user_id
),

staged as (
    select
        *,
        $lifecycle_stage as lifecycle_stage
    from measured
),

scored as (
    select
        user_id,
        -- R: a tie group (a day's buyers) takes the score of its middle position
        1 + (5 * (2 * (rank() over (order by recency_days desc) - 1)
            + count(*) over (partition by recency_days) - 1)) // (2 * count(*) over ()) as r_score,
        1 + (5 * (rank() over (order by frequency asc) - 1)) // count(*) over () as f_score,
        1 + (5 * (rank() over (order by monetary asc) - 1)) // count(*) over () as m_score
    from staged
    where purchases_lifetime > 0 and frequency > 0
)

select
    staged.user_id,
    staged.lifecycle_stage,
    scored.r_score,
    scored.f_score,
    scored.m_score
from staged
left join scored on staged.user_id = scored.user_id
