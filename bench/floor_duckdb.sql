-- The benchmark's plain floor (make bench, docs/benchmarks.md, issue #19): the least work that
-- turns the raw files into every user's lifecycle stage and R, F and M scores as of $as_of_date.
-- One DuckDB query, `try_cast` and no cleaning rule: no quarantine, no deduplication of
-- re-delivered sessions, no choice among an order's versions (every version row counts), no
-- excluded users, no bounds on times, amounts or durations. What it keeps is what the answer
-- needs to mean anything: a row needs a user and a parseable time, only activity up to the as-of
-- date counts, only completed orders are purchases, and amounts are converted to the reporting
-- currency at their month's rate (an as-of join on the currency_rates seed). The stage and score
-- rules are the baseline's: both end with bench/stages_and_scores_duckdb.sql, from `user_days` on.
--
-- Its rows are not expected to equal strata's: dirty rows count here. The figure it gives is a
-- time, the floor under any build of these answers on this machine. tools.baseline fills in the
-- placeholders as for the baseline.

with

session_days as (
    select distinct
        user_id,
        cast(timezone('UTC', try_cast(started_at as timestamptz)) as date) as activity_date
    from $sessions
),

rates as (
    select
        currency_code,
        rate_month,
        units_per_usd
    from read_csv('$currency_rates', header = true, all_varchar = false)
),

order_rows as (
    select
        user_id,
        timezone('UTC', try_cast(ordered_at as timestamptz)) as ordered_at,
        status = 'completed' as is_purchase,
        try_cast(amount as decimal(18, 2)) as amount,
        currency
    from $orders
),

orders_converted as (
    select
        orders.user_id,
        cast(orders.ordered_at as date) as activity_date,
        orders.is_purchase,
        case
            when orders.currency = '$reporting_currency' then orders.amount
            else cast(
                cast(orders.amount as double) * reporting.units_per_usd / own.units_per_usd
                as decimal(18, 2)
            )
        end as amount
    from order_rows as orders
    asof left join rates as own
        on
            orders.currency = own.currency_code
            and orders.ordered_at >= own.rate_month
    asof left join (
        select * from rates where currency_code = '$reporting_currency'
    ) as reporting
        on orders.ordered_at >= reporting.rate_month
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
            case when is_purchase then coalesce(amount, 0) else 0 end
        from orders_converted
    ) as events
    where
        user_id is not null
        and activity_date is not null
        and activity_date <= date '$as_of_date'
    group by user_id, activity_date
),
$stages_and_scores
