-- The events the triggers read (one row per session and per purchase known at M, from the
-- trigger read start on), each with what its user's other events say about it: the purchases
-- just before and after it, the sessions in the browsing window before it, the purchase's place
-- in the user's purchases (over the whole history) and the lifecycle stage the daily run knew
-- for the user on the day before it.
--
-- An order is known at M in its latest version then (`coalesce(updated_at, ordered_at) <= M`),
-- and counts as a purchase when that version is completed, as in the daily marts: a refund
-- known by M takes the purchase back. Events after M are not read, so a past M ignores later
-- data, as a past D does.

{%- set windows = trigger_windows() %}

with

moment as (
    select * from {{ ref('int_trigger_moment') }}
),

sessions as (
    select * from {{ ref('stg_shop__sessions') }}
),

order_versions as (
    select * from {{ ref('stg_shop__order_versions') }}
),

stage_history as (
    select * from {{ ref('fct_user_lifecycle_history') }}
),

versions_known as (
    select
        order_versions.*,
        row_number() over (
            partition by order_versions.order_id order by order_versions.version_rank asc
        ) as known_rank
    from order_versions
    cross join moment
    where
        order_versions.ordered_at <= moment.trigger_as_of
        and coalesce(order_versions.updated_at, order_versions.ordered_at) <= moment.trigger_as_of
),

purchases as (
    select
        user_id,
        order_id,
        ordered_at,
        cast(row_number() over (
            partition by user_id order by ordered_at asc, order_id asc
        ) as {{ dbt.type_bigint() }}) as purchase_number,
        lead(ordered_at) over (
            partition by user_id order by ordered_at asc, order_id asc
        ) as next_purchase_at
    from versions_known
    where known_rank = 1 and is_purchase
),

events as (
    select
        sessions.user_id,
        'session' as event_kind,
        sessions.session_id as event_id,
        sessions.started_at as event_at,
        sessions.added_to_cart,
        cast(null as {{ dbt.type_bigint() }}) as purchase_number,
        cast(null as {{ dbt.type_timestamp() }}) as following_purchase_at
    from sessions
    cross join moment
    where sessions.started_at <= moment.trigger_as_of and sessions.started_at > moment.read_from
    union all
    select
        purchases.user_id,
        'purchase' as event_kind,
        purchases.order_id as event_id,
        purchases.ordered_at as event_at,
        false as added_to_cart,
        purchases.purchase_number,
        purchases.next_purchase_at as following_purchase_at
    from purchases
    cross join moment
    -- Every first purchase, however old: the second purchase is due a rhythm later.
    where purchases.ordered_at > moment.read_from or purchases.purchase_number = 1
),

timed as (
    select
        *,
        {{ epoch_seconds('event_at') }} as event_second,
        case when event_kind = 'purchase' then event_at end as purchase_at
    from events
),

windowed as (
    select
        *,
        -- Peers (events at the same instant) are inside both frames: a purchase at the very
        -- second a session starts is before it and after it.
        max(purchase_at) over (
            partition by user_id order by event_second
            range between unbounded preceding and current row
        ) as previous_purchase_at,
        min(purchase_at) over (
            partition by user_id order by event_second
            range between current row and unbounded following
        ) as next_purchase_at,
        sum(case when event_kind = 'session' then 1 else 0 end) over (
            partition by user_id order by event_second
            range between {{ windows.browse }} preceding and current row
        ) as sessions_in_browse_window
    from timed
),

staged as (
    select
        windowed.*,
        -- the day whose stage the daily run knew before the event: the day before it, or D
        least(
            {{ days_before('cast(windowed.event_at as date)', 1) }}, moment.daily_as_of_date
        ) as stage_day
    from windowed
    cross join moment
),

final as (
    select
        staged.user_id,
        staged.event_kind,
        staged.event_id,
        staged.event_at,
        staged.added_to_cart,
        staged.purchase_number,
        staged.previous_purchase_at,
        case
            when staged.event_kind = 'purchase' then staged.following_purchase_at
            else staged.next_purchase_at
        end as next_purchase_at,
        cast(staged.sessions_in_browse_window as {{ dbt.type_bigint() }})
            as sessions_in_browse_window,
        stage_history.lifecycle_stage as stage_before
    from staged
    -- an equality and a range without `or`: a hash join on the user, the days as its filter
    left join stage_history
        on
            staged.user_id = stage_history.user_id
            and staged.stage_day >= stage_history.valid_from
            and staged.stage_day <= coalesce(stage_history.valid_to, cast('9999-12-31' as date))
)

select * from final
