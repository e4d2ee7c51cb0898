-- Growth accounting per week and per month: who is active in each period and where they came
-- from. active = new + retained + resurrected; change = new + resurrected - churned (the change in
-- active users from the previous period); quick ratio = (new + resurrected) / churned. Weeks start
-- on Monday. DAU, WAU and MAU are taken on the period's last day (or D for the current period).

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

-- The first activity's week and month, and D: the calendar of this report comes from the data's
-- own range, so it spans the data whatever its dates.
bounds as (
    select
        cast({{ dbt.date_trunc('week', 'min(user_days.activity_date)') }} as date)
            as first_week_start,
        cast({{ dbt.date_trunc('month', 'min(user_days.activity_date)') }} as date)
            as first_month_start,
        max(as_of.as_of_date) as as_of_date
    from user_days
    cross join as_of
),

-- The same six steps for weeks and for months (Jinja writes each CTE once per grain, prefixed
-- with the grain): the calendar of periods, who was active in each, their first period, the
-- classification (new, retained, resurrected), the churned, and the counts per period.
{% for grain in ['week', 'month'] %}
    {{ grain }}_calendar as (
        {{ date_series(
            'bounds', 'first_' ~ grain ~ '_start', 'as_of_date', grain, 'period_start'
        ) }}
    ),

    {{ grain }}_active as (
        select distinct
            user_id,
            cast({{ dbt.date_trunc(grain, 'activity_date') }} as date) as period_start
        from user_days
    ),

    {{ grain }}_first as (
        select
            user_id,
            min(period_start) as first_period_start
        from {{ grain }}_active
        group by user_id
    ),

    {{ grain }}_classified as (
        select
            active.period_start,
            case
                when active.period_start = first_seen.first_period_start then 'new'
                when previous.user_id is not null then 'retained'
                else 'resurrected'
            end as user_status
        from {{ grain }}_active as active
        inner join {{ grain }}_first as first_seen
            on active.user_id = first_seen.user_id
        left join {{ grain }}_active as previous
            on
                active.user_id = previous.user_id
                and cast(
                    {{ dbt.dateadd(grain, -1, 'active.period_start') }} as date
                ) = previous.period_start
    ),

    {{ grain }}_churned as (
        select
            cast({{ dbt.dateadd(grain, 1, 'previous.period_start') }} as date) as period_start,
            count(*) as churned_users
        from {{ grain }}_active as previous
        left join {{ grain }}_active as later
            on
                previous.user_id = later.user_id
                and cast(
                    {{ dbt.dateadd(grain, 1, 'previous.period_start') }} as date
                ) = later.period_start
        where later.user_id is null
        group by cast({{ dbt.dateadd(grain, 1, 'previous.period_start') }} as date)
    ),

    {{ grain }}_counts as (
        select
            period_start,
            count(*) as active_users,
            sum(case when user_status = 'new' then 1 else 0 end) as new_users,
            sum(case when user_status = 'retained' then 1 else 0 end) as retained_users,
            sum(case when user_status = 'resurrected' then 1 else 0 end) as resurrected_users
        from {{ grain }}_classified
        group by period_start
    ),

    {{ grain }}_periods as (
        select
            '{{ grain }}' as grain,
            calendar.period_start,
            {{ period_end(grain, 'calendar.period_start') }} as period_end,
            coalesce(counts.active_users, 0) as active_users,
            coalesce(counts.new_users, 0) as new_users,
            coalesce(counts.retained_users, 0) as retained_users,
            coalesce(counts.resurrected_users, 0) as resurrected_users,
            coalesce(churned.churned_users, 0) as churned_users
        from {{ grain }}_calendar as calendar
        left join {{ grain }}_counts as counts
            on calendar.period_start = counts.period_start
        left join {{ grain }}_churned as churned
            on calendar.period_start = churned.period_start
    ),
{% endfor %}

periods as (
    select * from week_periods
    union all
    select * from month_periods
),

-- Periods up to D; the current one is measured on D and flagged incomplete.
bounded as (
    select
        periods.*,
        least(periods.period_end, as_of.as_of_date) as measured_on,
        periods.period_end <= as_of.as_of_date as is_complete
    from periods
    cross join as_of
    where periods.period_start <= as_of.as_of_date
),

-- Active audiences without a distinct count over every window: a user is in the N-day audience
-- of day d when active in (d - N, d]. Each activity day covers the days to activity_date + N - 1,
-- starting where the user's previous activity's cover ended, so one user's spans never overlap
-- and the spans covering d count distinct users: span starts minus span ends up to d. That needs
-- one pass over user-days and a join of each period with the few hundred days on which the
-- count changes, where a range join of every period with its last 30 days of user-days grew with
-- periods x active users.
audience_spans as (
    {% for days in [7, 30] %}
        select
            {{ days }} as window_days,
            case
                when
                    days_since_previous_activity is null
                    or days_since_previous_activity >= {{ days }}
                    then activity_date
                else cast(
                    {{ dbt.dateadd(
                        'day', days ~ ' - days_since_previous_activity', 'activity_date'
                    ) }} as date
                )
            end as span_start,
            cast({{ dbt.dateadd('day', days, 'activity_date') }} as date) as span_stop
        from user_days
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

audience_edges as (
    select
        window_days,
        span_start as change_day,
        1 as audience_change
    from audience_spans
    union all
    select
        window_days,
        span_stop as change_day,
        -1 as audience_change
    from audience_spans
),

audience_changes as (
    select
        window_days,
        change_day,
        sum(audience_change) as audience_change
    from audience_edges
    group by window_days, change_day
),

-- The N-day audience on a day: the span starts minus the span ends on or before it.
audience_on_measured_days as (
    select
        bounded.grain,
        bounded.period_start,
        audience_changes.window_days,
        sum(audience_changes.audience_change) as active_users
    from bounded
    inner join audience_changes
        on bounded.measured_on >= audience_changes.change_day
    group by bounded.grain, bounded.period_start, audience_changes.window_days
),

daily_active as (
    select
        activity_date,
        count(*) as daily_active_users
    from user_days
    group by activity_date
),

audience as (
    select
        bounded.grain,
        bounded.period_start,
        coalesce(daily_active.daily_active_users, 0) as daily_active_users,
        coalesce(weekly.active_users, 0) as weekly_active_users,
        coalesce(monthly.active_users, 0) as monthly_active_users
    from bounded
    left join daily_active
        on bounded.measured_on = daily_active.activity_date
    left join audience_on_measured_days as weekly
        on
            bounded.grain = weekly.grain
            and bounded.period_start = weekly.period_start
            and weekly.window_days = 7
    left join audience_on_measured_days as monthly
        on
            bounded.grain = monthly.grain
            and bounded.period_start = monthly.period_start
            and monthly.window_days = 30
),

final as (
    select
        bounded.grain,
        bounded.period_start,
        bounded.period_end,
        bounded.is_complete,
        cast(bounded.active_users as {{ dbt.type_bigint() }}) as active_users,
        cast(bounded.new_users as {{ dbt.type_bigint() }}) as new_users,
        cast(bounded.retained_users as {{ dbt.type_bigint() }}) as retained_users,
        cast(bounded.resurrected_users as {{ dbt.type_bigint() }}) as resurrected_users,
        cast(bounded.churned_users as {{ dbt.type_bigint() }}) as churned_users,
        cast(
            bounded.new_users + bounded.resurrected_users - bounded.churned_users
            as {{ dbt.type_bigint() }}
        ) as net_change,
        cast(bounded.new_users + bounded.resurrected_users as double)
        / nullif(bounded.churned_users, 0) as quick_ratio,
        bounded.measured_on,
        cast(audience.daily_active_users as {{ dbt.type_bigint() }}) as daily_active_users,
        cast(audience.weekly_active_users as {{ dbt.type_bigint() }}) as weekly_active_users,
        cast(audience.monthly_active_users as {{ dbt.type_bigint() }}) as monthly_active_users,
        cast(audience.daily_active_users as double)
        / nullif(audience.monthly_active_users, 0) as stickiness
    from bounded
    inner join audience
        on
            bounded.grain = audience.grain
            and bounded.period_start = audience.period_start
)

select * from final
