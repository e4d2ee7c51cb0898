-- The net change of each period equals its active users minus the previous period's: the
-- growth-accounting identity across periods. A returned row is a period where it does not hold.

with

growth as (
    select * from {{ ref('rpt_growth_accounting') }}
),

compared as (
    select
        grain,
        period_start,
        active_users,
        net_change,
        lag(active_users) over (
            partition by grain order by period_start asc nulls last
        ) as previous_active_users
    from growth
)

select *
from compared
where
    net_change <> active_users - coalesce(previous_active_users, 0)
