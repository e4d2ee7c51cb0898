-- An audience a rule cannot say (docs/audiences.md, "Model audiences"): users whose first order
-- was refunded, as the order stood at the end of D. A model audience returns user_id on D; it is
-- tagged `audience` by its folder (dbt_project.yml) and named in audiences/*.yml by `model:`.

with

orders as (
    select * from {{ ref('int_orders_resolved') }}
),

ranked as (
    select
        user_id,
        status = 'refunded' as is_refunded,
        row_number() over (
            partition by user_id order by ordered_at asc, order_id asc
        ) as order_number
    from orders
),

final as (
    select user_id
    from ranked
    where order_number = 1 and is_refunded
)

select * from final
