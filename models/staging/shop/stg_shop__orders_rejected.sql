-- The order quarantine: every raw order row that failed a check, with all of its reasons and its
-- original values exactly as delivered, so the data owner can find and fix it upstream.

with

base as (
    select * from {{ ref('base_shop__orders') }}
),

rejected as (
    select
        ---------- where the row came from
        'orders' as source_table,
        source_file,
        source_row,

        ---------- why
        reject_reasons,

        ---------- the row as delivered
        raw_order_id,
        raw_user_id,
        raw_ordered_at,
        raw_status,
        raw_amount,
        raw_currency,
        raw_updated_at
    from base
    where row_disposition = 'quarantined'
)

select * from rejected
