-- For a data owner fixing rows upstream: every quarantined row of both sources, grouped by the
-- file it came from and its reasons, with the first few rows to look at.
-- Run with: dbt compile --select quarantine_by_file, then the SQL in target/compiled.

with

orders as (
    select
        source_table,
        source_file,
        source_row,
        reject_reasons
    from {{ ref('stg_shop__orders_rejected') }}
),

sessions as (
    select
        source_table,
        source_file,
        source_row,
        reject_reasons
    from {{ ref('stg_shop__sessions_rejected') }}
),

rejected as (
    select * from orders
    union all
    select * from sessions
)

select
    source_table,
    source_file,
    reject_reasons,
    count(*) as row_count,
    min(source_row) as first_row
from rejected
group by source_table, source_file, reject_reasons
order by source_table asc, row_count desc
