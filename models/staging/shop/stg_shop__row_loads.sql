-- When each raw row's user was last written by the base models, whatever the row's disposition:
-- one row per raw row (its file and position) with its user, its day and `_loaded_at`. The
-- incremental intermediate models read it to find the users whose rows a build added or judged
-- again, and from which day their stages can have changed (macros/incremental).

with

orders as (
    select * from {{ ref('base_shop__orders') }}
),

sessions as (
    select * from {{ ref('base_shop__sessions') }}
),

loads as (
    select
        ---------- ids
        'orders' as source_table,
        source_file,
        source_row,
        user_id,

        ---------- dates
        ordered_date as activity_date,

        ---------- timestamps
        _loaded_at
    from orders
    union all
    select
        'sessions' as source_table,
        source_file,
        source_row,
        user_id,
        started_date as activity_date,
        _loaded_at
    from sessions
)

select * from loads
