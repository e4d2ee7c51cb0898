-- Each user's recency, frequency, monetary value, activity windows and engagement as of the
-- resolved as-of date D: one row per user with any activity on or before D. Everything after the
-- end of D (UTC) is ignored, so a past D always gives the same numbers. "The last N days" are the
-- N calendar days ending on D: D - N < date <= D.

{%- set rfm_window = var('rfm_window_days') %}
{%- set recent = var('engagement_recent_days') %}
{%- set baseline = var('engagement_baseline_days') %}

with

user_days as (
    select * from {{ ref('int_user_days_aggregated') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

-- Whether sessions were delivered: without them, session metrics are unknown (null), not zero.
sessions_input as (
    select is_provided as has_sessions
    from {{ ref('stg_shop__raw_inputs') }}
    where source_table = 'sessions'
),

days_to_date as (
    select
        user_days.*,
        as_of.as_of_date
    from user_days
    cross join as_of
    where user_days.activity_date <= as_of.as_of_date
),

aggregated as (
    select
        user_id,
        as_of_date,
        min(activity_date) as first_seen_date,
        max(activity_date) as last_active_date,
        min(case when purchases > 0 then activity_date end) as first_purchase_date,
        max(case when purchases > 0 then activity_date end) as last_purchase_date,
        sum(purchases) as purchases_lifetime,
        sum(revenue) as revenue_lifetime,
        {{ windowed_sum('purchases', 'activity_date', rfm_window) }} as frequency,
        {{ windowed_sum('revenue', 'activity_date', rfm_window) }} as monetary,
        {{ windowed_sum('purchases', 'activity_date', var('loyal_window_days')) }}
            as loyalty_purchases,
        {% for days in var('activity_windows') %}
            {{ windowed_sum('1', 'activity_date', days) }} as active_days_{{ days }}d,
            {{ windowed_sum('sessions', 'activity_date', days) }} as sessions_{{ days }}d,
            {{ windowed_sum('session_seconds', 'activity_date', days) }}
                as session_seconds_{{ days }}d,
            {{ windowed_sum('page_views', 'activity_date', days) }} as page_views_{{ days }}d,
            {{ windowed_sum('purchases', 'activity_date', days) }} as purchases_{{ days }}d,
            {{ windowed_sum('revenue', 'activity_date', days) }} as revenue_{{ days }}d,
        {% endfor %}
        {{ windowed_sum('1', 'activity_date', recent) }} as active_days_recent,
        {{ windowed_sum('1', 'activity_date', baseline, days_before('as_of_date', recent)) }}
            as baseline_active_days,
        max(
            case
                when {{ in_last_days('activity_date', var('return_window_days')) }}
                    then days_since_previous_activity
            end
        ) as last_gap_days,
        {{ median('days_since_previous_purchase') }} as median_days_between_purchases,
        max(last_cart_added_at) as last_cart_added_at,
        max(last_ordered_at) as last_ordered_at
    from days_to_date
    group by user_id, as_of_date
),

with_inputs as (
    select
        aggregated.*,
        coalesce(sessions_input.has_sessions, false) as has_sessions
    from aggregated
    left join sessions_input
        on 1 = 1
),

final as (
    select
        ---------- ids
        user_id,

        ---------- dates
        as_of_date,
        first_seen_date,
        last_active_date,
        first_purchase_date,
        last_purchase_date,

        ---------- recency
        cast({{ days_between('last_active_date', 'as_of_date') }} as integer)
            as days_inactive,
        cast({{ days_between('last_purchase_date', 'as_of_date') }} as integer)
            as recency_days,

        ---------- frequency and monetary
        cast(frequency as {{ dbt.type_bigint() }}) as frequency,
        cast(monetary as decimal(38, 2)) as monetary,
        cast(purchases_lifetime as {{ dbt.type_bigint() }}) as purchases_lifetime,
        cast(revenue_lifetime as decimal(38, 2)) as revenue_lifetime,
        {{ divide_money('revenue_lifetime', 'purchases_lifetime') }} as average_order_value,
        cast(median_days_between_purchases as double) as median_days_between_purchases,
        cast(loyalty_purchases as {{ dbt.type_bigint() }}) as loyalty_purchases,

        ---------- activity windows
        {% for days in var('activity_windows') %}
            cast(active_days_{{ days }}d as integer) as active_days_{{ days }}d,
            case
                when has_sessions then cast(sessions_{{ days }}d as {{ dbt.type_bigint() }})
            end as sessions_{{ days }}d,
            -- Minutes from the exact sum of whole seconds: the same on every engine and run.
            case
                when has_sessions then cast(session_seconds_{{ days }}d as double) / 60
            end as session_minutes_{{ days }}d,
            case
                when has_sessions then cast(page_views_{{ days }}d as {{ dbt.type_bigint() }})
            end as page_views_{{ days }}d,
            cast(purchases_{{ days }}d as {{ dbt.type_bigint() }}) as purchases_{{ days }}d,
            cast(revenue_{{ days }}d as decimal(38, 2)) as revenue_{{ days }}d,
        {% endfor %}

        ---------- engagement
        cast(active_days_recent as integer) as active_days_recent,
        cast(baseline_active_days as integer) as baseline_active_days,
        -- Active days per {{ recent }} days over the {{ baseline }} days before the last
        -- {{ recent }}: the user's own usual pace.
        {{ engagement_baseline('baseline_active_days') }} as engagement_baseline,
        {{ engagement_ratio('active_days_recent', 'baseline_active_days') }} as engagement_ratio,
        cast(last_gap_days as integer) as last_gap_days,

        ---------- cart (unknown without sessions)
        case
            when has_sessions
                then coalesce(
                    last_cart_added_at
                    > {{ dbt.dateadd(
                        'hour',
                        -1 * var('open_cart_hours'),
                        dbt.dateadd('day', 1, 'cast(as_of_date as ' ~ dbt.type_timestamp() ~ ')')
                    ) }}
                    and (last_ordered_at is null or last_ordered_at < last_cart_added_at),
                    false
                )
        end as has_open_cart
    from with_inputs
)

select * from final
