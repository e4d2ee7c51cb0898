with

base as (
    select * from {{ ref('base_shop__sessions') }}
),

renamed as (
    select
        ---------- ids
        session_id,
        user_id,

        ---------- strings
        platform,

        ---------- numerics
        page_views,
        duration_seconds,

        ---------- booleans
        added_to_cart,

        ---------- timestamps
        started_at,
        started_date,
        ended_at
    from base
    where row_disposition = 'clean'
)

select * from renamed
