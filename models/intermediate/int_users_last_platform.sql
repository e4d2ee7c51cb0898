-- The platform of each user's latest session on or before D (ties: the larger session_id), for
-- dim_users.last_platform, the audience rules and their portraits. Users without a session on or
-- before D have no row (dim_users says `none`).

{{ user_keyed_incremental_config(['base_shop__sessions'], stage_thresholds=false) }}

{#- Incremental on DuckDB (macros/incremental): only a user with a session read or dated since
    the last build can have a new latest session, so only the users the list of changed users
    names are ranked again; the others' rows are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies() }}

with

sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

ranked as (
    select
        sessions.user_id,
        sessions.platform,
        row_number() over (
            partition by sessions.user_id
            order by sessions.started_at desc, sessions.session_id desc
        ) as recency_rank
    from sessions
    inner join as_of
        on sessions.started_date <= as_of.as_of_date
    where {{ only_changed_users(plan, 'sessions.user_id') }}
),

final as (
    select
        user_id,
        platform as last_platform
    from ranked
    where recency_rank = 1
)

select * from final
