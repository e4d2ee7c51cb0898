-- Did the play work? For every play (a lifecycle stage's row of the playbook), every cohort of
-- entries into the stage (by entry week and by month, and all closed cohorts together) and each
-- group (treated: sent the play; holdout: held out of it, is_holdout), how many entries converted
-- within var outcome_window_days (fct_play_entries has the rule). On the treated rows, the
-- difference from the holdout (the lift) in percentage points and relative, with a 95%
-- confidence interval for a difference of two proportions. Entries are the trials, and a user
-- who enters a stage again is the same person: the variance of each group's rate is clustered by
-- user (the sandwich estimator, sum over users of (conversions - rate * entries)^2 / entries^2),
-- which with one entry per user is the usual p(1 - p) / n. A cohort whose window has not closed
-- by D is flagged and left out of the `all` rows; a group with fewer users than var
-- outcome_min_group_users is flagged too small to read.

with

entries as (
    select * from {{ ref('fct_play_entries') }}
),

-- Each play's segment, to join back to its rows.
plays as (
    select distinct
        play_id,
        segment_type,
        segment
    from entries
),

-- The users who entered a play more than once. Only their entries in a cohort need grouping
-- into one cluster: most users enter a play once, and that entry is its own cluster, so the
-- grouping by user runs over the repeat entrants' entries alone (at 1M users, a tenth of them).
repeat_entrants as (
    select
        user_id,
        play_id
    from entries
    group by user_id, play_id
    having count(*) > 1
),

entries_marked as (
    select
        entries.play_id,
        entries.user_id,
        entries.event_date,
        entries.is_holdout,
        entries.is_window_closed,
        entries.conversions,
        entries.revenue_in_window,
        repeat_entrants.user_id is not null as is_repeat_entrant
    from entries
    left join repeat_entrants
        on entries.user_id = repeat_entrants.user_id and entries.play_id = repeat_entrants.play_id
),

cohorts as (
    {% for grain in ['week', 'month'] %}
        select
            play_id,
            '{{ grain }}' as cohort_grain,
            cast({{ dbt.date_trunc(grain, 'event_date') }} as date) as cohort_start,
            is_holdout,
            user_id,
            is_repeat_entrant,
            is_window_closed,
            conversions,
            revenue_in_window
        from entries_marked
        union all
    {% endfor %}
    -- Every closed cohort together: the play's effect so far.
    select
        play_id,
        'all' as cohort_grain,
        cast(null as date) as cohort_start,
        is_holdout,
        user_id,
        is_repeat_entrant,
        is_window_closed,
        conversions,
        revenue_in_window
    from entries_marked
    where is_window_closed
),

-- Each user's entries and conversions in the cohort: the clusters of the variance. Grouped by the
-- play alone (its segment follows from it, and is joined back at the end): at 1M users each key
-- column more cost about a third of this step.
per_user as (
    select
        play_id,
        cohort_grain,
        cohort_start,
        is_holdout,
        1 as entries,
        conversions,
        revenue_in_window,
        case when is_window_closed then 1 else 0 end as is_window_closed
    from cohorts
    where not is_repeat_entrant
    union all
    select
        play_id,
        cohort_grain,
        cohort_start,
        is_holdout,
        count(*) as entries,
        sum(conversions) as conversions,
        sum(revenue_in_window) as revenue_in_window,
        min(case when is_window_closed then 1 else 0 end) as is_window_closed
    from cohorts
    where is_repeat_entrant
    group by play_id, cohort_grain, cohort_start, is_holdout, user_id
),

grouped as (
    select
        play_id,
        cohort_grain,
        cohort_start,
        case when is_holdout then 'holdout' else 'treated' end as group_name,
        count(*) as user_count,
        sum(entries) as entry_count,
        sum(conversions) as converted_count,
        sum(revenue_in_window) as revenue_in_window,
        min(is_window_closed) = 1 as is_window_closed,
        -- sums for the clustered variance: sum of (y - p n)^2 = yy - 2 p yn + p^2 nn
        sum(conversions * conversions) as sum_yy,
        sum(conversions * entries) as sum_yn,
        sum(entries * entries) as sum_nn
    from per_user
    group by play_id, cohort_grain, cohort_start, is_holdout
),

rated as (
    select
        grouped.*,
        cast(grouped.converted_count as double) / grouped.entry_count as conversion_rate,
        -- The smaller group of the cohort, in users (zero when a group has nobody).
        case
            when
                count(*) over (
                    partition by grouped.play_id, grouped.cohort_grain, grouped.cohort_start
                ) < 2
                then 0
            else
                min(grouped.user_count) over (
                    partition by grouped.play_id, grouped.cohort_grain, grouped.cohort_start
                )
        end as smaller_group_users
    from grouped
),

variances as (
    select
        rated.*,
        greatest(
            rated.sum_yy
            - 2 * rated.conversion_rate * rated.sum_yn
            + rated.conversion_rate * rated.conversion_rate * rated.sum_nn,
            0
        ) / (cast(rated.entry_count as double) * rated.entry_count) as rate_variance
    from rated
),

-- The holdout beside each treated row; a cohort with no holdout user has nothing to compare with.
compared as (
    select
        treated.*,
        holdout.conversion_rate as holdout_rate,
        holdout.rate_variance as holdout_variance
    from variances as treated
    left join variances as holdout
        on
            treated.play_id = holdout.play_id
            and treated.cohort_grain = holdout.cohort_grain
            and holdout.group_name = 'holdout'
            and (
                treated.cohort_start = holdout.cohort_start
                or (treated.cohort_start is null and holdout.cohort_start is null)
            )
    where treated.group_name = 'treated'
),

lifted as (
    select
        compared.*,
        100 * (compared.conversion_rate - compared.holdout_rate) as lift_pp,
        case
            when compared.holdout_rate > 0
                then compared.conversion_rate / compared.holdout_rate - 1
        end as lift_relative,
        100 * sqrt(compared.rate_variance + compared.holdout_variance) as lift_standard_error_pp
    from compared
),

final as (
    select
        variances.play_id,
        plays.segment_type,
        plays.segment,
        variances.cohort_grain,
        variances.cohort_start,
        variances.group_name,
        cast(variances.user_count as {{ dbt.type_bigint() }}) as user_count,
        cast(variances.entry_count as {{ dbt.type_bigint() }}) as entry_count,
        cast(variances.converted_count as {{ dbt.type_bigint() }}) as converted_count,
        variances.conversion_rate,
        cast(variances.revenue_in_window as decimal(38, 2)) as revenue_in_window,
        {{ divide_money('variances.revenue_in_window', 'variances.entry_count') }}
            as revenue_per_entry,
        variances.is_window_closed,
        variances.smaller_group_users < {{ var('outcome_min_group_users') }} as is_too_small,
        lifted.lift_pp,
        lifted.lift_relative,
        lifted.lift_pp - 1.96 * lifted.lift_standard_error_pp as lift_ci_low_pp,
        lifted.lift_pp + 1.96 * lifted.lift_standard_error_pp as lift_ci_high_pp
    from variances
    inner join plays
        on variances.play_id = plays.play_id
    left join lifted
        on
            variances.play_id = lifted.play_id
            and variances.cohort_grain = lifted.cohort_grain
            and variances.group_name = 'treated'
            and (
                variances.cohort_start = lifted.cohort_start
                or (variances.cohort_start is null and lifted.cohort_start is null)
            )
)

select * from final
