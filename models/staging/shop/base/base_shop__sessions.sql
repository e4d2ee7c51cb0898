-- Every raw session row, parsed, checked and given exactly one disposition: clean, superseded (an
-- identical copy of a session already kept), excluded (anonymous visitor, internal or test user)
-- or quarantined (with reasons). Materialised once per build, like base_shop__orders.

with

source as (
    select * from {{ source('shop', 'sessions') }}
),

excluded_users as (
    select * from {{ ref('excluded_users') }}
),

as_text as (
    -- Only the contract's columns go past this point: extra raw columns (PII) stop here.
    select
        _strata_source_file as source_file,
        _strata_source_row as source_row,
        {{ raw_contract_columns('sessions') }}
    from source
),

parsed as (
    select
        *,
        {{ clean_text('raw_session_id') }} as session_id,
        {{ clean_text('raw_user_id') }} as user_id,
        {{ parse_utc_timestamp(clean_text('raw_started_at')) }} as started_at,
        {{ parse_utc_timestamp(clean_text('raw_ended_at')) }} as ended_at,
        lower({{ clean_text('raw_platform') }}) as platform_text,
        {{ try_cast(clean_text('raw_page_views'), dbt.type_bigint()) }} as parsed_page_views,
        {{ parse_boolean(clean_text('raw_added_to_cart')) }} as parsed_added_to_cart,
        {{ generate_surrogate_key([
            'raw_session_id', 'raw_user_id', 'raw_started_at', 'raw_ended_at', 'raw_platform',
            'raw_page_views', 'raw_added_to_cart'
        ]) }} as row_hash
    from as_text
),

with_duration as (
    select
        *,
        {{ seconds_between('started_at', 'ended_at') }} as duration_seconds,
        -- A session id delivered more than once with different content cannot be resolved
        -- safely: every copy is quarantined. Identical copies are simply re-deliveries.
        min(row_hash) over (partition by session_id)
        <> max(row_hash) over (partition by session_id) as has_conflicting_copies
    from parsed
),

checked as (
    select
        with_duration.*,
        case
            when with_duration.user_id is null then 'anonymous_session'
            when excluded_users.user_id is not null then 'excluded_user_list'
            when {{ regex_matches('with_duration.user_id', var('excluded_user_pattern')) }}
                then 'excluded_user_pattern'
        end as exclusion_reason,
        {{ reason_list([
            ('with_duration.session_id is null', 'missing_session_id'),
            ("with_duration.raw_started_at is null or trim(with_duration.raw_started_at) = ''",
                'missing_started_at'),
            ("trim(with_duration.raw_started_at) <> '' and with_duration.started_at is null",
                'unparseable_started_at'),
            ('with_duration.started_at > ' ~ future_limit(), 'future_started_at'),
            ("trim(with_duration.raw_ended_at) <> '' and with_duration.ended_at is null",
                'unparseable_ended_at'),
            ('with_duration.ended_at > ' ~ future_limit(), 'future_ended_at'),
            ('with_duration.ended_at < with_duration.started_at', 'ended_before_started'),
            ('with_duration.duration_seconds > ' ~ (var('max_session_hours') * 3600),
                'session_too_long'),
            ("trim(with_duration.raw_page_views) <> ''"
                ~ " and with_duration.parsed_page_views is null", 'unparseable_page_views'),
            ('with_duration.parsed_page_views < 0', 'negative_page_views'),
            ("trim(with_duration.raw_added_to_cart) <> ''"
                ~ " and with_duration.parsed_added_to_cart is null", 'unparseable_added_to_cart'),
            ('with_duration.session_id is not null and with_duration.has_conflicting_copies',
                'duplicate_session_conflict'),
        ]) }} as reject_reasons
    from with_duration
    left join excluded_users
        on with_duration.user_id = excluded_users.user_id
),

ranked as (
    select
        *,
        -- Only identical copies share a usable session id; the first in file order is kept.
        row_number() over (
            partition by
                session_id,
                exclusion_reason is null and reject_reasons is null
            order by source_row asc nulls last, source_file asc nulls last
        ) as copy_rank
    from checked
),

final as (
    select
        source_file,
        source_row,
        raw_session_id,
        raw_user_id,
        raw_started_at,
        raw_ended_at,
        raw_platform,
        raw_page_views,
        raw_added_to_cart,
        session_id,
        user_id,
        started_at,
        cast(started_at as date) as started_date,
        ended_at,
        duration_seconds,
        case
            when platform_text in ('web', 'ios', 'android') then platform_text
            when platform_text is null then 'unknown'
            else 'other'
        end as platform,
        -- Every session shows at least its landing page, so an absent count means one view.
        coalesce(parsed_page_views, 1) as page_views,
        coalesce(parsed_added_to_cart, false) as added_to_cart,
        exclusion_reason,
        reject_reasons,
        copy_rank,
        case
            when exclusion_reason is not null then 'excluded'
            when reject_reasons is not null then 'quarantined'
            when copy_rank = 1 then 'clean'
            else 'superseded'
        end as row_disposition
    from ranked
)

select * from final
