-- What became of each segment a period later, without any experiment: for every period end M
-- (var rfm_snapshot_grain, month by default) and every lifecycle stage and RFM segment, the share
-- of its users who at the next period end were retained (the same level, still buying or
-- active), had moved up, had moved down or had churned (churned stage, lapsed RFM segment), by the
-- levels of seeds/segment_levels.csv. The four shares sum to 1 for each starting group. Read from
-- rpt_segment_transitions, which holds the same moves as counts. The case studies' figures ("36%
-- of at-risk customers retained") are these shares; whether a play caused them is
-- rpt_play_outcomes' question.

with

transitions as (
    select * from {{ ref('rpt_segment_transitions') }}
),

levels as (
    select * from {{ ref('segment_levels') }}
),

moves as (
    select
        transitions.grain,
        -- The period the users started in: the period end before the one they moved by.
        cast({{ dbt.dateadd(
            'day', -1, dbt.date_trunc(var('rfm_snapshot_grain'), 'transitions.period_end')
        ) }} as date) as period_end,
        transitions.period_end as next_period_end,
        transitions.segment_type,
        transitions.from_segment as segment,
        transitions.to_segment,
        transitions.user_count,
        case
            when to_level.is_lost then 'churned'
            when to_level.level > from_level.level then 'moved_up'
            when to_level.level < from_level.level then 'moved_down'
            else 'retained'
        end as outcome
    from transitions
    inner join levels as from_level
        on
            transitions.segment_type = from_level.segment_type
            and transitions.from_segment = from_level.segment
    inner join levels as to_level
        on
            transitions.segment_type = to_level.segment_type
            and transitions.to_segment = to_level.segment
    where transitions.from_segment <> 'none'
),

summarised as (
    select
        grain,
        period_end,
        next_period_end,
        segment_type,
        segment,
        sum(user_count) as user_count,
        sum(case when outcome = 'retained' then user_count else 0 end) as retained_users,
        sum(case when outcome = 'moved_up' then user_count else 0 end) as moved_up_users,
        sum(case when outcome = 'moved_down' then user_count else 0 end) as moved_down_users,
        sum(case when outcome = 'churned' then user_count else 0 end) as churned_users
    from moves
    group by grain, period_end, next_period_end, segment_type, segment
),

final as (
    select
        grain,
        period_end,
        next_period_end,
        segment_type,
        segment,
        cast(user_count as {{ dbt.type_bigint() }}) as user_count,
        cast(retained_users as {{ dbt.type_bigint() }}) as retained_users,
        cast(moved_up_users as {{ dbt.type_bigint() }}) as moved_up_users,
        cast(moved_down_users as {{ dbt.type_bigint() }}) as moved_down_users,
        cast(churned_users as {{ dbt.type_bigint() }}) as churned_users,
        cast(retained_users as double) / user_count as retained_share,
        cast(moved_up_users as double) / user_count as moved_up_share,
        cast(moved_down_users as double) / user_count as moved_down_share,
        cast(churned_users as double) / user_count as churned_share
    from summarised
)

select * from final
