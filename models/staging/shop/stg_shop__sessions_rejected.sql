-- The session quarantine: every raw session row that failed a check, with all of its reasons and
-- its original values exactly as delivered, so the data owner can find and fix it upstream.

with

base as (
    select * from {{ ref('base_shop__sessions') }}
),

rejected as (
    select
        ---------- where the row came from
        'sessions' as source_table,
        source_file,
        source_row,

        ---------- why
        reject_reasons,

        ---------- the row as delivered
        raw_session_id,
        raw_user_id,
        raw_started_at,
        raw_ended_at,
        raw_platform,
        raw_page_views,
        raw_added_to_cart
    from base
    where row_disposition = 'quarantined'
)

select * from rejected
