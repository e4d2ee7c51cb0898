-- Every raw row lands in exactly one place: raw = clean + superseded + excluded + quarantined, and
-- the clean and quarantine models hold exactly the clean and quarantined rows. Checked for every
-- source delivered to this build (a source that was not delivered has no raw rows and no row in
-- the reconciliation). A returned row is a source that does not add up, with all its counts
-- (stored in the audit schema for inspection).
{{ config(store_failures=true) }}

with

inputs as (
    select * from {{ ref('stg_shop__raw_inputs') }}
),

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
        inputs.source_table,
        inputs.is_provided,
        raw_counts.raw_rows,
        reconciliation.raw_rows as reconciled_rows,
        reconciliation.clean_rows,
        reconciliation.superseded_rows,
        reconciliation.excluded_rows,
        reconciliation.quarantined_rows,
        model_counts.staged_rows,
        model_counts.rejected_rows
    from inputs
    inner join raw_counts
        on inputs.source_table = raw_counts.source_table
    left join reconciliation
        on inputs.source_table = reconciliation.source_table
    left join model_counts
        on inputs.source_table = model_counts.source_table
)

select *
from compared
where
    -- a source not delivered has no rows anywhere and no reconciliation row
    (not is_provided and (raw_rows <> 0 or reconciled_rows is not null or staged_rows <> 0))
    or (
        is_provided
        and (
            reconciled_rows is null
            or raw_rows <> reconciled_rows
            or raw_rows <> clean_rows + superseded_rows + excluded_rows + quarantined_rows
            or staged_rows <> clean_rows
            or rejected_rows <> quarantined_rows
        )
    )
