-- Every raw row lands in exactly one place: raw = clean + superseded + excluded + quarantined, and
-- the clean and quarantine models hold exactly the clean and quarantined rows. A returned row is a
-- source that does not add up, with all its counts (stored in the audit schema for inspection).
{{ config(store_failures=true) }}

with

raw_counts as (
    select
        'orders' as source_table,
        count(*) as raw_rows
    from {{ source('shop', 'orders') }}
    union all
    select
        'sessions' as source_table,
        count(*) as raw_rows
    from {{ source('shop', 'sessions') }}
),

model_counts as (
    select
        'orders' as source_table,
        (select count(*) from {{ ref('stg_shop__orders') }}) as staged_rows,
        (select count(*) from {{ ref('stg_shop__orders_rejected') }}) as rejected_rows
    union all
    select
        'sessions' as source_table,
        (select count(*) from {{ ref('stg_shop__sessions') }}) as staged_rows,
        (select count(*) from {{ ref('stg_shop__sessions_rejected') }}) as rejected_rows
),

reconciliation as (
    select * from {{ ref('rpt_source_reconciliation') }}
),

compared as (
    select
        raw_counts.source_table,
        raw_counts.raw_rows,
        reconciliation.raw_rows as reconciled_rows,
        reconciliation.clean_rows,
        reconciliation.superseded_rows,
        reconciliation.excluded_rows,
        reconciliation.quarantined_rows,
        model_counts.staged_rows,
        model_counts.rejected_rows
    from raw_counts
    left join reconciliation
        on raw_counts.source_table = reconciliation.source_table
    left join model_counts
        on raw_counts.source_table = model_counts.source_table
)

select *
from compared
where
    reconciled_rows is null
    or raw_rows <> reconciled_rows
    or raw_rows <> clean_rows + superseded_rows + excluded_rows + quarantined_rows
    or staged_rows <> clean_rows
    or rejected_rows <> quarantined_rows
