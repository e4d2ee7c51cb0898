-- Every usable version of every order (the clean, winning one and the superseded ones), so that a
-- build as of a past date can use each order as it stood then rather than as it stands now.

with

base as (
    select * from {{ ref('base_shop__orders') }}
),

versions as (
    select
        ---------- ids
        order_id,
        user_id,

        ---------- strings
        status,
        original_currency,

        ---------- numerics
        amount,
        original_amount,
        version_rank,

        ---------- booleans
        status = 'completed' as is_purchase,
        row_disposition = 'clean' as is_latest_version,

        ---------- timestamps
        ordered_at,
        ordered_date,
        updated_at
    from base
    where row_disposition in ('clean', 'superseded')
)

select * from versions
