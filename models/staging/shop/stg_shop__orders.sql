with

base as (
    select * from {{ ref('base_shop__orders') }}
),

renamed as (
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

        ---------- booleans
        status = 'completed' as is_purchase,
        status = 'refunded' as is_refunded,
        status = 'cancelled' as is_cancelled,
        status = 'pending' as is_pending,

        ---------- timestamps
        ordered_at,
        ordered_date,
        updated_at
    from base
    where row_disposition = 'clean'
)

select * from renamed
