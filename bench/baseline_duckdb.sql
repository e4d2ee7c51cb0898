-- The benchmark's baseline (make bench, docs/benchmarks.md): one hand-written DuckDB query that
-- computes every user's lifecycle stage and R, F and M scores as of $as_of_date straight from the
-- raw files, applying the cleaning rules that can change those answers, with nothing else:
-- no quarantine bookkeeping, no history, no intermediate tables. tools.baseline fills in the
-- placeholders ($orders, $sessions: table expressions over the raw files, each row with the
-- future_limit of the file it came in: that delivery's time plus the tolerance; $currency_rates
-- and $excluded_users: the seed files; the rule thresholds: dbt_project.yml's vars).
--
-- Rules reproduced (see models/staging/shop/base and models/intermediate):
--   sessions: usable when session id, user id and start parse, nothing is later than its own
--     delivery (plus var future_tolerance_minutes), nothing is before
--     var min_event_date or malformed (end, duration, page views, cart flag), the user is not
--     excluded, and the session id does not arrive with conflicting content;
--   orders: usable when ids, time, amount (at most var max_order_amount once converted),
--     currency (with a rate for the month), status and update time are valid (none before
--     min_event_date) and the user is not excluded; among an order's usable versions, the
--     one known at the end of D wins (latest updated_at, then status, then content hash), else
--     the oldest; only completed orders are purchases, converted to the reporting currency;
--   stage: churned, dormant, new, reactivated, at_risk, loyal, active, first match wins;
--   RFM: buyers with a purchase in the RFM window (the others have lapsed and are not scored),
--     1 + floor(5 * (rank - 1) / n) with rank() ties for F and M; R by a tie group's middle
--     position, 1 + floor(5 * (2 * (rank - 1) + ties - 1) / (2 * n)).

with

excluded as (
    select user_id from read_csv('$excluded_users', header = true, all_varchar = true)
),

session_rows as (
    select
        nullif(trim(cast(session_id as varchar)), '') as session_id,
        nullif(trim(cast(user_id as varchar)), '') as user_id,
        nullif(trim(cast(started_at as varchar)), '') as started_text,
        nullif(trim(cast(ended_at as varchar)), '') as ended_text,
        nullif(trim(cast(page_views as varchar)), '') as page_views_text,
        lower(nullif(trim(cast(added_to_cart as varchar)), '')) as cart_text,
        hash(
            cast(session_id as varchar), cast(user_id as varchar), cast(started_at as varchar),
            cast(ended_at as varchar), cast(platform as varchar), cast(page_views as varchar),
            cast(added_to_cart as varchar)
        ) as content_hash,
        future_limit
    from $sessions
),

session_parsed as (
    select
        session_id,
        user_id,
        content_hash,
        timezone('UTC', try_cast(started_text as timestamptz)) as started_at,
        ended_text,
        timezone('UTC', try_cast(ended_text as timestamptz)) as ended_at,
        page_views_text,
        try_cast(page_views_text as bigint) as page_views,
        cart_text,
        future_limit
    from session_rows
),

-- Session ids delivered with different content: every copy is quarantined.
conflicting_sessions as (
    select session_id
    from session_parsed
    where session_id is not null
    group by session_id
    having min(content_hash) <> max(content_hash)
),

session_days as (
    select distinct
        sessions.user_id,
        cast(sessions.started_at as date) as activity_date
    from session_parsed as sessions
    anti join conflicting_sessions
        on sessions.session_id = conflicting_sessions.session_id
    anti join excluded
        on sessions.user_id = excluded.user_id
    where
        not regexp_matches(sessions.user_id, '$excluded_user_pattern')
        and
        sessions.session_id is not null
        and sessions.user_id is not null
        and sessions.started_at is not null
        and sessions.started_at <= sessions.future_limit
        and sessions.started_at >= $past_limit
        and cast(sessions.started_at as date) <= date '$as_of_date'
        and (sessions.ended_text is null or sessions.ended_at is not null)
        and (sessions.ended_at is null or sessions.ended_at <= sessions.future_limit)
        and (sessions.ended_at is null or sessions.ended_at >= $past_limit)
        and (sessions.ended_at is null or sessions.ended_at >= sessions.started_at)
        and (
            sessions.ended_at is null
            or date_diff('second', sessions.started_at, sessions.ended_at)
            <= $max_session_hours * 3600
        )
        and (sessions.page_views_text is null or sessions.page_views is not null)
        and (sessions.page_views is null or sessions.page_views >= 0)
        and (
            sessions.cart_text is null
            or sessions.cart_text in ('true', 't', 'yes', 'y', '1', 'false', 'f', 'no', 'n', '0')
        )
),

rates as (
    select
        currency_code,
        rate_month,
        units_per_usd,
        lead(rate_month) over (partition by currency_code order by rate_month) as next_month
    from read_csv('$currency_rates', header = true, all_varchar = false)
),

order_rows as (
    select
        nullif(trim(cast(order_id as varchar)), '') as order_id,
        nullif(trim(cast(user_id as varchar)), '') as user_id,
        timezone('UTC', try_cast(nullif(trim(cast(ordered_at as varchar)), '') as timestamptz))
            as ordered_at,
        nullif(trim(cast(updated_at as varchar)), '') as updated_text,
        timezone('UTC', try_cast(nullif(trim(cast(updated_at as varchar)), '') as timestamptz))
            as updated_at,
        lower(nullif(trim(cast(status as varchar)), '')) as status,
        try_cast(nullif(trim(cast(amount as varchar)), '') as decimal(18, 2)) as amount,
        upper(nullif(trim(cast(currency as varchar)), '')) as currency,
        md5(concat_ws('|',
            coalesce(cast(order_id as varchar), '<null>'),
            coalesce(cast(user_id as varchar), '<null>'),
            coalesce(cast(ordered_at as varchar), '<null>'),
            coalesce(cast(status as varchar), '<null>'),
            coalesce(cast(amount as varchar), '<null>'),
            coalesce(cast(currency as varchar), '<null>'),
            coalesce(cast(updated_at as varchar), '<null>')
        )) as content_hash,
        future_limit
    from $orders
),

usable_versions as (
    select
        orders.order_id,
        orders.user_id,
        orders.ordered_at,
        orders.updated_at,
        orders.status,
        orders.content_hash,
        case
            when orders.currency = '$reporting_currency' then orders.amount
            else cast(
                floor(
                    cast(orders.amount as double) * reporting.units_per_usd
                    / own.units_per_usd * 100 + 0.5
                ) / 100 as decimal(18, 2)
            )
        end as amount
    from order_rows as orders
    left join rates as own
        on
            orders.currency = own.currency_code
            and date_trunc('month', orders.ordered_at) >= own.rate_month
            and (date_trunc('month', orders.ordered_at) < own.next_month or own.next_month is null)
    left join rates as reporting
        on
            reporting.currency_code = '$reporting_currency'
            and date_trunc('month', orders.ordered_at) >= reporting.rate_month
            and (
                date_trunc('month', orders.ordered_at) < reporting.next_month
                or reporting.next_month is null
            )
    anti join excluded
        on orders.user_id = excluded.user_id
    where
        orders.order_id is not null
        and orders.user_id is not null
        and not regexp_matches(orders.user_id, '$excluded_user_pattern')
        and orders.ordered_at is not null
        and orders.ordered_at <= orders.future_limit
        and orders.ordered_at >= $past_limit
        and (orders.updated_text is null or orders.updated_at is not null)
        and (orders.updated_at is null or orders.updated_at <= orders.future_limit)
        and (orders.updated_at is null or orders.updated_at >= $past_limit)
        and orders.amount is not null
        and orders.amount >= 0
        and case
            when orders.currency = '$reporting_currency' then cast(orders.amount as double)
            else cast(orders.amount as double) * reporting.units_per_usd / own.units_per_usd
        end <= $max_order_amount
        and orders.currency in (select currency_code from rates)
        and (
            orders.currency = '$reporting_currency'
            or (own.units_per_usd is not null and reporting.units_per_usd is not null)
        )
        and orders.status in ('completed', 'cancelled', 'refunded', 'pending')
),

-- Each order as it stood at the end of D: the latest version known by then, else the oldest.
orders_at_as_of as (
    select
        user_id,
        cast(ordered_at as date) as activity_date,
        status = 'completed' as is_purchase,
        amount
    from (
        select
            *,
            row_number() over (
                partition by order_id
                order by
                    coalesce(updated_at, ordered_at)
                    < date '$as_of_date' + interval 1 day desc,
                    updated_at desc nulls last,
                    case status
                        when 'refunded' then 4 when 'cancelled' then 3
                        when 'completed' then 2 when 'pending' then 1
                    end desc,
                    content_hash asc
            ) as version_order,
            count(*) over (partition by order_id) as versions,
            sum(case when coalesce(updated_at, ordered_at) < date '$as_of_date' + interval 1 day
                then 1 else 0 end) over (partition by order_id) as known_versions
        from usable_versions
        where cast(ordered_at as date) <= date '$as_of_date'
    ) as ranked
    -- Known versions sort first, latest first; with none known, the last row is the oldest.
    where (known_versions > 0 and version_order = 1) or (known_versions = 0 and version_order = versions)
),

user_days as (
    select
        user_id,
        activity_date,
        sum(purchases) as purchases,
        sum(revenue) as revenue
    from (
        select user_id, activity_date, 0 as purchases, cast(0 as decimal(18, 2)) as revenue
        from session_days
        union all
        select
            user_id,
            activity_date,
            case when is_purchase then 1 else 0 end,
            case when is_purchase then amount else 0 end
        from orders_at_as_of
    ) as events
    group by user_id, activity_date
),
$stages_and_scores
