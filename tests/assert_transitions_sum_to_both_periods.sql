-- For each segment type and period, the users leaving a segment (every from_segment but `none`)
-- are exactly the users of the previous period end, and the users arriving are exactly the users
-- of this period end. A returned row is a period whose flows do not add up.

with

transitions as (
    select * from {{ ref('rpt_segment_transitions') }}
),

per_period as (
    select
        segment_type,
        period_end,
        sum(user_count) as users_now,
        sum(case when from_segment <> 'none' then user_count else 0 end) as users_from_before
    from transitions
    group by segment_type, period_end
),

compared as (
    select
        segment_type,
        period_end,
        users_now,
        users_from_before,
        lag(users_now) over (
            partition by segment_type order by period_end asc nulls last
        ) as users_before
    from per_period
)

select *
from compared
where users_from_before <> coalesce(users_before, 0)
