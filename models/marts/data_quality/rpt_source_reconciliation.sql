-- Where every raw row went, per source delivered to this build: the build's proof that nothing
-- was silently lost. raw_rows = clean_rows + superseded_rows + excluded_rows + quarantined_rows
-- always holds; the singular test assert_raw_rows_reconcile checks it against the raw source
-- itself. A source that was not delivered (sessions, for an orders-only shop) has no row.

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

dispositions as (
    select
        'orders' as source_table,
        row_disposition
    from orders
    union all
    select
        'sessions' as source_table,
        row_disposition
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
        ) as quarantined_rows
    from inputs
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
        cast(quarantined_rows as double) / nullif(raw_rows, 0) as quarantined_share
    from counted
)

select * from final
