-- Every raw order row, parsed, checked and given exactly one disposition: clean, superseded (an
-- older version of an order), excluded (internal or test user) or quarantined (with reasons).
-- Materialised once per build so the clean view, the quarantine and the reconciliation all read
-- the same parsed rows instead of parsing the raw files three times.

{{ raw_delivery_config(
    'orders', 'order_id',
    incremental_vars=[
        'excluded_user_pattern',
        'future_tolerance_minutes',
        'min_event_date',
        'reporting_currency',
        'max_order_amount',
    ],
    incremental_seeds=['excluded_users', 'currency_rates'],
) }}

{%- set plan = raw_delivery_plan('orders', 'order_id', announce=true) %}
{#- The reporting currency as a quoted literal: a var reaches SQL only as a literal. -#}
{%- set reporting_currency = strata_quote_literal(var('reporting_currency')) %}

with

source as (
    select * from {{ source('shop', 'orders') }}
    where {{ raw_rows_to_read(plan, 'orders', 'order_id') }}
),

files as (
    select * from {{ source('shop', 'orders__files') }}
),

currency_rates as (
    select * from {{ ref('currency_rates') }}
),

excluded_users as (
    select * from {{ ref('excluded_users') }}
),

as_text as (
    -- The contract's columns (the raw view holds nothing else), as delivered, as text.
    select
        source._strata_source_file as source_file,
        source._strata_source_row as source_row,
        files.file_fingerprint as source_file_fingerprint,
        files.delivered_at as source_delivered_at,
        source.order_id as raw_order_id,
        source.user_id as raw_user_id,
        source.ordered_at as raw_ordered_at,
        source.status as raw_status,
        source.amount as raw_amount,
        source.currency as raw_currency,
        source.updated_at as raw_updated_at
    from source
    left join files
        on source._strata_source_file = files.source_file
),

parsed as (
    select
        *,
        {{ clean_text('raw_order_id') }} as order_id,
        {{ clean_text('raw_user_id') }} as user_id,
        {{ parse_utc_timestamp(clean_text('raw_ordered_at')) }} as ordered_at,
        {{ parse_utc_timestamp(clean_text('raw_updated_at')) }} as updated_at,
        lower({{ clean_text('raw_status') }}) as status,
        {{ try_cast(clean_text('raw_amount'), 'decimal(18, 2)') }} as original_amount,
        upper({{ clean_text('raw_currency') }}) as original_currency,
        {{ generate_surrogate_key([
            'raw_order_id', 'raw_user_id', 'raw_ordered_at', 'raw_status', 'raw_amount',
            'raw_currency', 'raw_updated_at'
        ]) }} as row_hash
    from as_text
),

-- A rate holds from its month until the currency's next rate: a month without its own rate uses
-- the latest earlier one.
rate_spells as (
    select
        currency_code,
        units_per_usd,
        rate_month as valid_from_month,
        lead(rate_month) over (
            partition by currency_code order by rate_month asc nulls last
        ) as valid_to_month
    from currency_rates
),

known_currencies as (
    select distinct currency_code from currency_rates
),

with_month as (
    select
        *,
        cast({{ dbt.date_trunc('month', 'ordered_at') }} as date) as ordered_month
    from parsed
),

-- Rates are looked up once per currency and month that occurs (a few hundred pairs), then joined
-- to the orders on equality: a range join of every order against the rate spells was half of
-- this model's build time at a million orders (docs/benchmarks.md).
order_months as (
    select distinct
        original_currency,
        ordered_month
    from with_month
    where original_currency is not null and ordered_month is not null
),

month_rates as (
    select
        order_months.original_currency,
        order_months.ordered_month,
        order_rate.units_per_usd as order_units_per_usd,
        reporting_rate.units_per_usd as reporting_units_per_usd
    from order_months
    left join rate_spells as order_rate
        on
            order_months.original_currency = order_rate.currency_code
            and order_months.ordered_month >= order_rate.valid_from_month
            and (
                order_months.ordered_month < order_rate.valid_to_month
                or order_rate.valid_to_month is null
            )
    left join rate_spells as reporting_rate
        on
            reporting_rate.currency_code = {{ reporting_currency }}
            and order_months.ordered_month >= reporting_rate.valid_from_month
            and (
                order_months.ordered_month < reporting_rate.valid_to_month
                or reporting_rate.valid_to_month is null
            )
),

converted as (
    select
        with_month.*,
        known_currencies.currency_code is not null as is_known_currency,
        month_rates.order_units_per_usd,
        month_rates.reporting_units_per_usd,
        -- The amount in the reporting currency as a double, to compare with the ceiling before
        -- any cast to decimal(18, 2) could overflow.
        case
            when with_month.original_currency = {{ reporting_currency }}
                then cast(with_month.original_amount as double)
            else
                cast(with_month.original_amount as double)
                * month_rates.reporting_units_per_usd
                / month_rates.order_units_per_usd
        end as reporting_amount_estimate
    from with_month
    left join known_currencies
        on with_month.original_currency = known_currencies.currency_code
    left join month_rates
        on
            with_month.original_currency = month_rates.original_currency
            and with_month.ordered_month = month_rates.ordered_month
),

checked as (
    select
        converted.*,
        case
            when excluded_users.user_id is not null then 'excluded_user_list'
            when {{ regex_matches('converted.user_id', var('excluded_user_pattern')) }}
                then 'excluded_user_pattern'
        end as exclusion_reason,
        {{ reason_list([
            ('converted.order_id is null', 'missing_order_id'),
            ('converted.user_id is null', 'missing_user_id'),
            ("converted.raw_ordered_at is null or trim(converted.raw_ordered_at) = ''",
                'missing_ordered_at'),
            ("trim(converted.raw_ordered_at) <> '' and converted.ordered_at is null",
                'unparseable_ordered_at'),
            (
                'converted.ordered_at > ' ~ future_limit('converted.source_delivered_at'),
                'future_ordered_at'
            ),
            ('converted.ordered_at < ' ~ past_limit(), 'too_early_ordered_at'),
            ("trim(converted.raw_updated_at) <> '' and converted.updated_at is null",
                'unparseable_updated_at'),
            (
                'converted.updated_at > ' ~ future_limit('converted.source_delivered_at'),
                'future_updated_at'
            ),
            ('converted.updated_at < ' ~ past_limit(), 'too_early_updated_at'),
            ("converted.raw_amount is null or trim(converted.raw_amount) = ''", 'missing_amount'),
            ("trim(converted.raw_amount) <> '' and converted.original_amount is null",
                'unparseable_amount'),
            ('converted.original_amount < 0', 'negative_amount'),
            ('converted.reporting_amount_estimate > ' ~ max_order_amount(), 'amount_above_ceiling'),
            ('not converted.is_known_currency', 'unknown_currency'),
            ('converted.is_known_currency and converted.ordered_at is not null'
                ~ ' and converted.original_currency <> ' ~ reporting_currency
                ~ ' and (converted.order_units_per_usd is null'
                ~ ' or converted.reporting_units_per_usd is null)', 'missing_fx_rate'),
            ("converted.status is null or converted.status not in"
                ~ " ('completed', 'cancelled', 'refunded', 'pending')", 'unknown_status'),
        ]) }} as reject_reasons
    from converted
    left join excluded_users
        on converted.user_id = excluded_users.user_id
),

ranked as (
    select
        *,
        -- Among the usable versions of an order the latest `updated_at` wins; a version without
        -- `updated_at` is older than any with one. Ties go to the status furthest along
        -- (refunded, cancelled, completed, pending), then to the row's content hash, then to its
        -- position in the file, then to the file's name (an identical copy of the order at the
        -- same position of another file: a delivery sent twice), so the winner is the same on
        -- every run and engine, incremental or fresh.
        -- Cast: row_number() is a bigint on DuckDB but an int on Spark.
        -- A row without an order id has no versions: 1, whatever other id-less rows a build
        -- reads with it (an incremental build reads only the new files' ones; a fresh build all).
        cast(case when order_id is null then 1 else row_number() over (
            partition by
                order_id,
                exclusion_reason is null and reject_reasons is null
            order by
                updated_at desc nulls last,
                case status
                    when 'refunded' then 4
                    when 'cancelled' then 3
                    when 'completed' then 2
                    when 'pending' then 1
                end desc nulls last,
                row_hash asc nulls last,
                source_row asc nulls last,
                source_file asc nulls last
        ) end as {{ dbt.type_bigint() }}) as version_rank
    from checked
),

final as (
    select
        source_file,
        source_row,
        source_file_fingerprint,
        {{ build_started_at_literal() }} as _loaded_at,
        raw_order_id,
        raw_user_id,
        raw_ordered_at,
        raw_status,
        raw_amount,
        raw_currency,
        raw_updated_at,
        order_id,
        user_id,
        ordered_at,
        cast(ordered_at as date) as ordered_date,
        updated_at,
        status,
        original_amount,
        original_currency,
        -- Only amounts within the ceiling are converted (the others are quarantined), so the cast
        -- to decimal(18, 2) cannot overflow.
        case
            when reporting_amount_estimate > {{ max_order_amount() }} then null
            when original_currency = {{ reporting_currency }} then original_amount
            else {{ round_money('reporting_amount_estimate') }}
        end as amount,
        exclusion_reason,
        reject_reasons,
        version_rank,
        {{ row_disposition('version_rank') }} as row_disposition
    from ranked
)

select * from final
