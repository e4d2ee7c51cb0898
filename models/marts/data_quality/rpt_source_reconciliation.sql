-- Where every raw row went, per source delivered to this build: the build's proof that nothing
-- was silently lost. raw_rows = clean_rows + superseded_rows + excluded_rows + quarantined_rows
-- always holds; the singular test assert_raw_rows_reconcile checks it against the raw source
-- itself. A source that was not delivered (sessions, for an orders-only shop) has no row.
-- Clean rows dated after D (an order placed, a session started later) are in clean_rows, and
-- counted again in clean_rows_after_as_of_date: a build for a past D reads them and ignores them,
-- and says so rather than presenting every clean row as part of D's picture.

with

orders as (
    select * from {{ ref('base_shop__orders') }}
),

sessions as (
    select * from {{ ref('base_shop__sessions') }}
),

inputs as (
    select * from {{ ref('stg_shop__raw_inputs') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

dispositions as (
    select
        'orders' as source_table,
        row_disposition,
        ordered_date as event_date
    from orders
    union all
    select
        'sessions' as source_table,
        row_disposition,
        started_date as event_date
    from sessions
),

counted as (
    select
        inputs.source_table,
        count(dispositions.row_disposition) as raw_rows,
        sum(
            case when dispositions.row_disposition = 'clean' then 1 else 0 end
        ) as clean_rows,
        sum(
            case when dispositions.row_disposition = 'superseded' then 1 else 0 end
        ) as superseded_rows,
        sum(
            case when dispositions.row_disposition = 'excluded' then 1 else 0 end
        ) as excluded_rows,
        sum(
            case when dispositions.row_disposition = 'quarantined' then 1 else 0 end
        ) as quarantined_rows,
        sum(
            case
                when
                    dispositions.row_disposition = 'clean'
                    and dispositions.event_date > as_of.as_of_date
                    then 1
                else 0
            end
        ) as clean_rows_after_as_of_date,
        max(as_of.as_of_date) as as_of_date
    from inputs
    cross join as_of
    left join dispositions
        on inputs.source_table = dispositions.source_table
    where inputs.is_provided
    group by inputs.source_table
),

final as (
    select
        source_table,
        cast(raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(clean_rows as {{ dbt.type_bigint() }}) as clean_rows,
        cast(superseded_rows as {{ dbt.type_bigint() }}) as superseded_rows,
        cast(excluded_rows as {{ dbt.type_bigint() }}) as excluded_rows,
        cast(quarantined_rows as {{ dbt.type_bigint() }}) as quarantined_rows,
        cast(quarantined_rows as double) / nullif(raw_rows, 0) as quarantined_share,
        cast(coalesce(clean_rows_after_as_of_date, 0) as {{ dbt.type_bigint() }})
            as clean_rows_after_as_of_date,
        as_of_date
    from counted
)

select * from final
