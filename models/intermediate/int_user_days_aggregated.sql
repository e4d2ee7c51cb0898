-- One row per user per UTC date, up to the as-of date D, on which they started a clean session or
-- placed a clean order (any status): the compact activity model every window and stage is
-- computed from. Orders are taken as they stood at the end of D (int_orders_resolved).

{{ user_keyed_incremental_config(
    ['base_shop__orders', 'base_shop__sessions'], stage_thresholds=false
) }}

{#- Incremental on DuckDB (macros/incremental): the days of the users that new or re-read raw
    rows, or the move of D, can change are computed again; the others' days are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies() }}

with

sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

orders as (
    select * from {{ ref('int_orders_resolved') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

sessions_to_date as (
    select sessions.*
    from sessions
    cross join as_of
    where
        sessions.started_date <= as_of.as_of_date
        and {{ only_changed_users(plan, 'sessions.user_id') }}
),

orders_of_users as (
    select *
    from orders
    where {{ only_changed_users(plan) }}
),

events as (
    select
        user_id,
        started_date as activity_date,
        1 as sessions,
        duration_seconds,
        page_views,
        case when added_to_cart then started_at end as cart_added_at,
        0 as orders,
        0 as purchases,
        cast(0 as decimal(38, 2)) as revenue,
        cast(null as {{ dbt.type_timestamp() }}) as ordered_at
    from sessions_to_date
    union all
    select
        user_id,
        ordered_date as activity_date,
        0 as sessions,
        cast(null as {{ dbt.type_bigint() }}) as duration_seconds,
        0 as page_views,
        cast(null as {{ dbt.type_timestamp() }}) as cart_added_at,
        1 as orders,
        case when is_purchase then 1 else 0 end as purchases,
        case when is_purchase then amount else cast(0 as decimal(38, 2)) end as revenue,
        ordered_at
    from orders_of_users
),

days as (
    select
        user_id,
        activity_date,
        sum(sessions) as sessions,
        coalesce(sum(duration_seconds), 0) as session_seconds,
        sum(page_views) as page_views,
        sum(orders) as orders,
        sum(purchases) as purchases,
        sum(revenue) as revenue,
        max(cart_added_at) as last_cart_added_at,
        max(ordered_at) as last_ordered_at
    from events
    group by user_id, activity_date
),

with_activity_gaps as (
    select
        *,
        {{ days_between(
            'lag(activity_date) over (partition by user_id order by activity_date asc nulls last)',
            'activity_date'
        ) }} as days_since_previous_activity
    from days
),

-- Gaps between consecutive purchase dates, measured on purchase days only.
purchase_gaps as (
    select
        user_id,
        activity_date,
        {{ days_between(
            'lag(activity_date) over (partition by user_id order by activity_date asc nulls last)',
            'activity_date'
        ) }} as days_since_previous_purchase
    from days
    where purchases > 0
),

final as (
    select
        with_activity_gaps.user_id,
        with_activity_gaps.activity_date,
        cast(with_activity_gaps.sessions as {{ dbt.type_bigint() }}) as sessions,
        cast(with_activity_gaps.session_seconds as {{ dbt.type_bigint() }}) as session_seconds,
        cast(with_activity_gaps.page_views as {{ dbt.type_bigint() }}) as page_views,
        cast(with_activity_gaps.orders as {{ dbt.type_bigint() }}) as orders,
        cast(with_activity_gaps.purchases as {{ dbt.type_bigint() }}) as purchases,
        cast(with_activity_gaps.revenue as decimal(38, 2)) as revenue,
        with_activity_gaps.last_cart_added_at,
        with_activity_gaps.last_ordered_at,
        cast(with_activity_gaps.days_since_previous_activity as integer)
            as days_since_previous_activity,
        cast(purchase_gaps.days_since_previous_purchase as integer)
            as days_since_previous_purchase
    from with_activity_gaps
    left join purchase_gaps
        on
            with_activity_gaps.user_id = purchase_gaps.user_id
            and with_activity_gaps.activity_date = purchase_gaps.activity_date
)

select * from final
