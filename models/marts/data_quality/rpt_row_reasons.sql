-- How many raw rows carry each reason code, per source delivered to this build: every code in
-- seeds/reason_codes.csv is listed, with zero when no row carries it, so a data-quality tile can
-- show the full picture. A quarantined row with several problems counts once under each of its
-- reasons. A source that was not delivered (sessions, for an orders-only shop) has no rows.

with

inputs as (
    select * from {{ ref('stg_shop__raw_inputs') }}
),

-- The codes of the sources delivered to this build.
reason_codes as (
    select codes.*
    from {{ ref('reason_codes') }} as codes
    inner join inputs
        on codes.source_table = inputs.source_table
    where inputs.is_provided
),

orders as (
    select * from {{ ref('base_shop__orders') }}
),

sessions as (
    select * from {{ ref('base_shop__sessions') }}
),

flagged_rows as (
    select
        'orders' as source_table,
        row_disposition,
        case row_disposition
            when 'quarantined' then reject_reasons
            when 'excluded' then exclusion_reason
            when 'superseded' then 'older_version'
        end as reason_codes
    from orders
    where row_disposition <> 'clean'
    union all
    select
        'sessions' as source_table,
        row_disposition,
        case row_disposition
            when 'quarantined' then reject_reasons
            when 'excluded' then exclusion_reason
            when 'superseded' then 'identical_copy'
        end as reason_codes
    from sessions
    where row_disposition <> 'clean'
),

-- Reason lists are short comma-separated texts; matching each known code against them is
-- portable and cheap because only non-clean rows take part.
matched as (
    select
        reason_codes.source_table,
        reason_codes.row_disposition,
        reason_codes.reason_code,
        reason_codes.description,
        reason_codes.how_to_fix,
        count(flagged_rows.reason_codes) as row_count
    from reason_codes
    left join flagged_rows
        on
            reason_codes.source_table = flagged_rows.source_table
            and reason_codes.row_disposition = flagged_rows.row_disposition
            and {{ dbt.position(
                dbt.concat(["', '", 'reason_codes.reason_code', "', '"]),
                dbt.concat(["', '", 'flagged_rows.reason_codes', "', '"])
            ) }} > 0
    group by
        reason_codes.source_table,
        reason_codes.row_disposition,
        reason_codes.reason_code,
        reason_codes.description,
        reason_codes.how_to_fix
),

final as (
    select
        source_table,
        row_disposition,
        reason_code,
        cast(row_count as {{ dbt.type_bigint() }}) as row_count,
        description,
        how_to_fix
    from matched
)

select * from final
