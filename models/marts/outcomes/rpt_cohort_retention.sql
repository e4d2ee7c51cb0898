-- The retention triangle. Users are grouped into acquisition cohorts by the month of their first
-- activity (cohort_type first_activity: every user) and, for buyers, by the month of their first
-- purchase (cohort_type first_purchase). For every cohort and every month from its own to D's,
-- the share of the cohort active in that month, the share that bought in it, and the revenue of
-- that month per cohort user. Months with nobody active still have a row (shares of zero), so the
-- triangle has no holes; the month of D is flagged as not yet complete.

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

-- Each user's cohort months (a user with no purchase has no first_purchase cohort).
firsts as (
    select
        user_id,
        cast({{ dbt.date_trunc('month', 'min(activity_date)') }} as date) as first_activity_month,
        cast({{ dbt.date_trunc(
            'month', 'min(case when purchases > 0 then activity_date end)'
        ) }} as date) as first_purchase_month
    from user_days
    group by user_id
),

members as (
    select
        'first_activity' as cohort_type,
        user_id,
        first_activity_month as cohort_month
    from firsts
    union all
    select
        'first_purchase' as cohort_type,
        user_id,
        first_purchase_month as cohort_month
    from firsts
    where first_purchase_month is not null
),

cohorts as (
    select
        cohort_type,
        cohort_month,
        count(*) as cohort_users
    from members
    group by cohort_type, cohort_month
),

-- The months from the first month with data to D's month.
bounds as (
    select
        min(firsts.first_activity_month) as first_month,
        cast({{ dbt.date_trunc('month', 'max(as_of.as_of_date)') }} as date) as last_month,
        max(as_of.as_of_date) as as_of_date
    from firsts
    cross join as_of
),

months as (
    {{ date_series('bounds', 'first_month', 'last_month', 'month', 'activity_month') }}
),

-- What each user did in each month they were seen.
user_months as (
    select
        user_id,
        cast({{ dbt.date_trunc('month', 'activity_date') }} as date) as activity_month,
        max(case when purchases > 0 then 1 else 0 end) as bought,
        sum(revenue) as revenue
    from user_days
    group by user_id, cast({{ dbt.date_trunc('month', 'activity_date') }} as date)
),

cohort_months as (
    select
        members.cohort_type,
        members.cohort_month,
        user_months.activity_month,
        count(*) as active_users,
        sum(user_months.bought) as buying_users,
        sum(user_months.revenue) as revenue
    from members
    inner join user_months
        on
            members.user_id = user_months.user_id
            and members.cohort_month <= user_months.activity_month
    group by members.cohort_type, members.cohort_month, user_months.activity_month
),

-- Every cell of the triangle, with or without activity.
cells as (
    select
        cohorts.cohort_type,
        cohorts.cohort_month,
        months.activity_month,
        cohorts.cohort_users
    from cohorts
    inner join months
        on cohorts.cohort_month <= months.activity_month
),

final as (
    select
        cells.cohort_type,
        cells.cohort_month,
        cells.activity_month,
        cast(
            (extract(year from cells.activity_month) - extract(year from cells.cohort_month)) * 12
            + extract(month from cells.activity_month) - extract(month from cells.cohort_month)
            as integer
        ) as months_since_cohort,
        cast(cells.cohort_users as {{ dbt.type_bigint() }}) as cohort_users,
        cast(coalesce(cohort_months.active_users, 0) as {{ dbt.type_bigint() }}) as active_users,
        cast(coalesce(cohort_months.buying_users, 0) as {{ dbt.type_bigint() }}) as buying_users,
        cast(coalesce(cohort_months.active_users, 0) as double) / cells.cohort_users
            as active_share,
        cast(coalesce(cohort_months.buying_users, 0) as double) / cells.cohort_users
            as buying_share,
        cast(coalesce(cohort_months.revenue, 0) as decimal(38, 2)) as revenue,
        {{ divide_money('coalesce(cohort_months.revenue, 0)', 'cells.cohort_users') }}
            as revenue_per_cohort_user,
        {{ period_end('month', 'cells.activity_month') }} <= bounds.as_of_date
            as is_complete_month
    from cells
    cross join bounds
    left join cohort_months
        on
            cells.cohort_type = cohort_months.cohort_type
            and cells.cohort_month = cohort_months.cohort_month
            and cells.activity_month = cohort_months.activity_month
)

select * from final
