-- Growth accounting per week and per month: who is active in each period and where they came
-- from. active = new + retained + resurrected; change = new + resurrected - churned (the change in
-- active users from the previous period); quick ratio = (new + resurrected) / churned. Weeks start
-- on Monday. DAU, WAU and MAU are taken on the period's last day (or D for the current period).
--
-- Like with like: every row carries the figures it should be compared with (comparison_*). For a
-- complete period, the whole previous period. For the running one (the period containing D, not
-- yet over), the same days of the previous period: its first days_measured days, counted the same
-- way (new, retained against the period before it, resurrected, and churned so far), so that the
-- 4th of a month is set against the 1st to the 4th of the month before, never the whole of it.

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

-- Each user-day with the user's previous activity day (none on their first day). A day is the
-- user's first in a period when the previous one lies in an earlier period, and that previous day
-- says where the user was: nowhere before (new), in the period just before (retained) or earlier
-- (resurrected). So every count below is one pass over the user-days, without a distinct list of
-- users per period or a join of each period's users with the period before.
days_with_previous as (
    select
        user_id,
        activity_date,
        case
            when days_since_previous_activity is not null
                then cast(
                    {{ dbt.dateadd('day', '-days_since_previous_activity', 'activity_date') }}
                    as date
                )
        end as previous_activity_date
    from user_days
),

-- The same steps for weeks and for months (Jinja writes each CTE once per grain, prefixed with
-- the grain): the calendar of periods, each user's first day in each period they were active in,
-- classified, the counts per period, and the running period's comparison.
{% for grain in ['week', 'month'] %}
    {{ grain }}_calendar as (
        {{ date_series(
            'bounds', 'first_' ~ grain ~ '_start', 'as_of_date', grain, 'period_start'
        ) }}
    ),

    {{ grain }}_entries as (
        select
            cast({{ dbt.date_trunc(grain, 'activity_date') }} as date) as period_start,
            case
                when previous_activity_date is null then 'new'
                when
                    cast({{ dbt.date_trunc(grain, 'previous_activity_date') }} as date)
                    = cast({{ dbt.dateadd(
                        grain, -1, dbt.date_trunc(grain, 'activity_date')
                    ) }} as date)
                    then 'retained'
                else 'resurrected'
            end as user_status
        from days_with_previous
        where
            previous_activity_date is null
            or {{ dbt.date_trunc(grain, 'previous_activity_date') }}
            < {{ dbt.date_trunc(grain, 'activity_date') }}
    ),

    {{ grain }}_counts as (
        select
            period_start,
            count(*) as active_users,
            sum(case when user_status = 'new' then 1 else 0 end) as new_users,
            sum(case when user_status = 'retained' then 1 else 0 end) as retained_users,
            sum(case when user_status = 'resurrected' then 1 else 0 end) as resurrected_users
        from {{ grain }}_entries
        group by period_start
    ),

    -- The running period's comparison: the previous period's first days, as many as have passed
    -- in the running one (at most all of it), and the period before that, retention's reference.
    {{ grain }}_running as (
        select
            as_of_date,
            cast({{ dbt.date_trunc(grain, 'as_of_date') }} as date) as running_start
        from bounds
    ),

    {{ grain }}_comparison_window as (
        select
            '{{ grain }}' as grain,
            running_start as period_start,
            cast({{ dbt.dateadd(grain, -1, 'running_start') }} as date) as comparison_start,
            least(
                cast({{ dbt.dateadd(
                    'day', days_between('running_start', 'as_of_date'),
                    dbt.dateadd(grain, -1, 'running_start')
                ) }} as date),
                {{ days_before('running_start', 1) }}
            ) as comparison_end,
            cast({{ dbt.dateadd(grain, -2, 'running_start') }} as date) as reference_start
        from {{ grain }}_running
    ),

    -- Each user's first day within the comparison's days, counted the same way: new when it is
    -- their first day ever, retained when their previous day lies in the reference period.
    {{ grain }}_comparison_classified as (
        select
            count(*) as active_users,
            sum(
                case when days_with_previous.previous_activity_date is null then 1 else 0 end
            ) as new_users,
            sum(
                case
                    when
                        days_with_previous.previous_activity_date
                        >= comparing.reference_start
                        then 1
                    else 0
                end
            ) as retained_users
        from days_with_previous
        cross join {{ grain }}_comparison_window as comparing
        where
            days_with_previous.activity_date >= comparing.comparison_start
            and days_with_previous.activity_date <= comparing.comparison_end
            and (
                days_with_previous.previous_activity_date is null
                or days_with_previous.previous_activity_date < comparing.comparison_start
            )
    ),

    -- The churned so far: active in the reference period and not yet back, which is the
    -- reference period's active users less the comparison's retained ones.
    {{ grain }}_comparison as (
        select
            comparison_window.grain,
            comparison_window.period_start,
            comparison_window.comparison_start,
            comparison_window.comparison_end,
            coalesce(classified.active_users, 0) as active_users,
            coalesce(classified.new_users, 0) as new_users,
            coalesce(classified.retained_users, 0) as retained_users,
            coalesce(
                classified.active_users - classified.new_users - classified.retained_users, 0
            ) as resurrected_users,
            coalesce(reference.active_users, 0) - coalesce(classified.retained_users, 0)
                as churned_users
        from {{ grain }}_comparison_window as comparison_window
        cross join {{ grain }}_comparison_classified as classified
        left join {{ grain }}_counts as reference
            on comparison_window.reference_start = reference.period_start
    ),

    {{ grain }}_periods as (
        select
            '{{ grain }}' as grain,
            calendar.period_start,
            coalesce(counts.active_users, 0) as active_users,
            coalesce(counts.new_users, 0) as new_users,
            coalesce(counts.retained_users, 0) as retained_users,
            coalesce(counts.resurrected_users, 0) as resurrected_users
        from {{ grain }}_calendar as calendar
        left join {{ grain }}_counts as counts
            on calendar.period_start = counts.period_start
    ),
{% endfor %}

-- Every period up to D, measured on its last day, or on D for the running one (incomplete).
-- Built from the calendars alone, so that the active audiences below need not read the counts.
measured_periods as (
    {% for grain in ['week', 'month'] %}
        select
            '{{ grain }}' as grain,
            calendar.period_start,
            {{ period_end(grain, 'calendar.period_start') }} as period_end
        from {{ grain }}_calendar as calendar
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

bounded_periods as (
    select
        measured_periods.*,
        least(measured_periods.period_end, as_of.as_of_date) as measured_on,
        measured_periods.period_end <= as_of.as_of_date as is_complete
    from measured_periods
    cross join as_of
    where measured_periods.period_start <= as_of.as_of_date
),

periods as (
    select * from week_periods
    union all
    select * from month_periods
),

running_comparisons as (
    select * from week_comparison
    union all
    select * from month_comparison
),

-- Each step below reads the one before once: Spark writes a CTE out at every reference, and the
-- counts above are most of this model's plan.
bounded as (
    select
        bounded_periods.*,
        periods.active_users,
        periods.new_users,
        periods.retained_users,
        periods.resurrected_users,
        -- active in the period before and not in this one: all of the period before but those
        -- retained in this one (every period is listed, so the row before is the period before)
        coalesce(
            lag(periods.active_users) over (
                partition by periods.grain order by periods.period_start
            ),
            0
        ) - periods.retained_users as churned_users
    from bounded_periods
    inner join periods
        on
            bounded_periods.grain = periods.grain
            and bounded_periods.period_start = periods.period_start
),

-- What each period is compared with: the whole previous period, or for the running period the
-- same days of the previous one.
previous as (
    select
        bounded.*,
        lag(bounded.period_start) over (
            partition by bounded.grain order by bounded.period_start
        ) as previous_start,
        {% for column in ['active', 'new', 'retained', 'resurrected', 'churned'] %}
            lag(bounded.{{ column }}_users) over (
                partition by bounded.grain order by bounded.period_start
            ) as previous_{{ column }}_users,
        {% endfor %}
        lag(bounded.period_end) over (
            partition by bounded.grain order by bounded.period_start
        ) as previous_end
    from bounded
),

compared as (
    select
        previous.*,
        {{ days_between('previous.period_start', 'previous.measured_on') }} + 1 as days_measured,
        case
            when previous.is_complete then previous.previous_start else running.comparison_start
        end as comparison_period_start,
        {% for column in ['active', 'new', 'retained', 'resurrected', 'churned'] %}
            case
                when previous.is_complete then previous.previous_{{ column }}_users
                else running.{{ column }}_users
            end as comparison_{{ column }}_users,
        {% endfor %}
        case
            when previous.is_complete then previous.previous_end else running.comparison_end
        end as comparison_measured_on
    from previous
    left join running_comparisons as running
        on previous.grain = running.grain and previous.period_start = running.period_start
),

-- Active audiences without a distinct count over every window: a user is in the N-day audience
-- of day d when active in (d - N, d]. Each activity day covers the days to activity_date + N - 1,
-- starting where the user's previous activity's cover ended, so one user's spans never overlap
-- and the spans covering d count distinct users: span starts minus span ends up to d. A span's
-- start depends only on its day and the gap since the user's previous day (capped at the longest
-- window), so the user-days are counted once by day and gap, and the spans are computed from
-- those few thousand counts; and the join of each period with the few hundred days on which the
-- count changes replaces a range join of every period with its last 30 days of user-days.
capped_gaps as (
    select
        activity_date,
        case
            when
                days_since_previous_activity is null or days_since_previous_activity >= 30
                then 30
            else days_since_previous_activity
        end as gap_days
    from user_days
),

day_gaps as (
    select
        activity_date,
        gap_days,
        count(*) as user_count
    from capped_gaps
    group by activity_date, gap_days
),

audience_edges as (
    {% for days in [7, 30] %}
        select
            {{ days }} as window_days,
            case
                when gap_days >= {{ days }} then activity_date
                else cast(
                    {{ dbt.dateadd('day', days ~ ' - gap_days', 'activity_date') }} as date
                )
            end as change_day,
            user_count as audience_change
        from day_gaps
        union all
        select
            {{ days }} as window_days,
            cast({{ dbt.dateadd('day', days, 'activity_date') }} as date) as change_day,
            -user_count as audience_change
        from day_gaps
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
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
        bounded_periods.grain,
        bounded_periods.period_start,
        sum(
            case when audience_changes.window_days = 7 then audience_changes.audience_change end
        ) as weekly_active_users,
        sum(
            case when audience_changes.window_days = 30 then audience_changes.audience_change end
        ) as monthly_active_users
    from bounded_periods
    inner join audience_changes
        on bounded_periods.measured_on >= audience_changes.change_day
    group by bounded_periods.grain, bounded_periods.period_start
),

daily_active as (
    select
        activity_date,
        sum(user_count) as daily_active_users
    from day_gaps
    group by activity_date
),

audience as (
    select
        bounded_periods.grain,
        bounded_periods.period_start,
        coalesce(daily_active.daily_active_users, 0) as daily_active_users,
        coalesce(window_audiences.weekly_active_users, 0) as weekly_active_users,
        coalesce(window_audiences.monthly_active_users, 0) as monthly_active_users
    from bounded_periods
    left join daily_active
        on bounded_periods.measured_on = daily_active.activity_date
    left join audience_on_measured_days as window_audiences
        on
            bounded_periods.grain = window_audiences.grain
            and bounded_periods.period_start = window_audiences.period_start
),

final as (
    select
        compared.grain,
        compared.period_start,
        compared.period_end,
        compared.is_complete,
        cast(compared.active_users as {{ dbt.type_bigint() }}) as active_users,
        cast(compared.new_users as {{ dbt.type_bigint() }}) as new_users,
        cast(compared.retained_users as {{ dbt.type_bigint() }}) as retained_users,
        cast(compared.resurrected_users as {{ dbt.type_bigint() }}) as resurrected_users,
        cast(compared.churned_users as {{ dbt.type_bigint() }}) as churned_users,
        cast(
            compared.new_users + compared.resurrected_users - compared.churned_users
            as {{ dbt.type_bigint() }}
        ) as net_change,
        cast(compared.new_users + compared.resurrected_users as double)
        / nullif(compared.churned_users, 0) as quick_ratio,
        compared.measured_on,
        cast(audience.daily_active_users as {{ dbt.type_bigint() }}) as daily_active_users,
        cast(audience.weekly_active_users as {{ dbt.type_bigint() }}) as weekly_active_users,
        cast(audience.monthly_active_users as {{ dbt.type_bigint() }}) as monthly_active_users,
        cast(audience.daily_active_users as double)
        / nullif(audience.monthly_active_users, 0) as stickiness,
        cast(compared.days_measured as integer) as days_measured,
        compared.comparison_period_start,
        compared.comparison_measured_on,
        {% for column in ['active', 'new', 'retained', 'resurrected', 'churned'] %}
            cast(compared.comparison_{{ column }}_users as {{ dbt.type_bigint() }})
                as comparison_{{ column }}_users,
        {% endfor %}
        cast(compared.comparison_new_users + compared.comparison_resurrected_users as double)
        / nullif(compared.comparison_churned_users, 0) as comparison_quick_ratio
    from compared
    inner join audience
        on
            compared.grain = audience.grain
            and compared.period_start = audience.period_start
)

select * from final
