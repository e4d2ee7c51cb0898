-- Every raw session row, parsed, checked and given exactly one disposition: clean, superseded (an
-- identical copy of a session already kept), excluded (anonymous visitor, internal or test user)
-- or quarantined (with reasons). Materialised once per build, like base_shop__orders.
--
-- Sessions are the biggest input (ten per user), so this model is written for speed
-- (docs/benchmarks.md): one window pass over the rows, a fast engine-native content hash, and the
-- raw text kept only on the rows that are not clean (the quarantine is what shows it).

{{ raw_delivery_config(
    'sessions', 'session_id',
    incremental_vars=[
        'excluded_user_pattern',
        'future_tolerance_minutes',
        'max_session_hours',
        'min_event_date',
    ],
    incremental_seeds=['excluded_users'],
) }}

{%- set plan = raw_delivery_plan('sessions', 'session_id', announce=true) %}

with

source as (
    select * from {{ source('shop', 'sessions') }}
    where {{ raw_rows_to_read(plan, 'sessions', 'session_id') }}
),

files as (
    select * from {{ source('shop', 'sessions__files') }}
),

excluded_users as (
    select * from {{ ref('excluded_users') }}
),

as_text as (
    -- The contract's columns (the raw view holds nothing else), as delivered, as text.
    select
        source._strata_source_file as source_file,
        source._strata_source_row as source_row,
        files.file_fingerprint as source_file_fingerprint,
        files.delivered_at as source_delivered_at,
        source.session_id as raw_session_id,
        source.user_id as raw_user_id,
        source.started_at as raw_started_at,
        source.ended_at as raw_ended_at,
        source.platform as raw_platform,
        source.page_views as raw_page_views,
        source.added_to_cart as raw_added_to_cart
    from source
    left join files
        on source._strata_source_file = files.source_file
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
        {{ content_hash([
            'raw_session_id', 'raw_user_id', 'raw_started_at', 'raw_ended_at', 'raw_platform',
            'raw_page_views', 'raw_added_to_cart'
        ]) }} as row_hash
    from as_text
),

with_duration as (
    select
        *,
        {{ seconds_between('started_at', 'ended_at') }} as duration_seconds,
        -- Copies of a session id, in file order; the three windows share one specification, so
        -- the rows are partitioned and sorted once.
        {%- set copies_in_file_order -%}
            partition by session_id
            order by source_row asc nulls last, source_file asc nulls last
        {%- endset %}
        {%- set all_copies = copies_in_file_order
            ~ ' rows between unbounded preceding and unbounded following' %}
        min(row_hash) over ({{ all_copies }}) as lowest_copy_hash,
        max(row_hash) over ({{ all_copies }}) as highest_copy_hash,
        -- Identical copies pass or fail the same checks (each reads only the row's content), so
        -- a session id without conflicting copies keeps its rank-1 copy; with them, every copy
        -- is quarantined. Cast: row_number() is a bigint on DuckDB but an int on Spark.
        -- A row without a session id is nobody's copy: 1, whatever other id-less rows a build
        -- reads with it (an incremental build reads only the new files' ones; a fresh build all).
        cast(
            case
                when session_id is null then 1
                else row_number() over ({{ copies_in_file_order }})
            end as {{ dbt.type_bigint() }}
        ) as copy_rank
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
        -- Last check: a session id delivered more than once with different content cannot be
        -- resolved safely, so every copy is quarantined. Identical copies are re-deliveries.
        {{ reason_list([
            ('with_duration.session_id is null', 'missing_session_id'),
            ("with_duration.raw_started_at is null or trim(with_duration.raw_started_at) = ''",
                'missing_started_at'),
            ("trim(with_duration.raw_started_at) <> '' and with_duration.started_at is null",
                'unparseable_started_at'),
            (
                'with_duration.started_at > ' ~ future_limit('with_duration.source_delivered_at'),
                'future_started_at'
            ),
            ('with_duration.started_at < ' ~ past_limit(), 'too_early_started_at'),
            ("trim(with_duration.raw_ended_at) <> '' and with_duration.ended_at is null",
                'unparseable_ended_at'),
            (
                'with_duration.ended_at > ' ~ future_limit('with_duration.source_delivered_at'),
                'future_ended_at'
            ),
            ('with_duration.ended_at < ' ~ past_limit(), 'too_early_ended_at'),
            ('with_duration.ended_at < with_duration.started_at', 'ended_before_started'),
            ('with_duration.duration_seconds > ' ~ (var('max_session_hours') * 3600),
                'session_too_long'),
            ("trim(with_duration.raw_page_views) <> ''"
                ~ " and with_duration.parsed_page_views is null", 'unparseable_page_views'),
            ('with_duration.parsed_page_views < 0', 'negative_page_views'),
            ("trim(with_duration.raw_added_to_cart) <> ''"
                ~ " and with_duration.parsed_added_to_cart is null", 'unparseable_added_to_cart'),
            ('with_duration.session_id is not null'
                ~ ' and with_duration.lowest_copy_hash <> with_duration.highest_copy_hash',
                'duplicate_session_conflict'),
        ]) }} as reject_reasons
    from with_duration
    left join excluded_users
        on with_duration.user_id = excluded_users.user_id
),

disposed as (
    select
        *,
        {{ row_disposition('copy_rank') }} as row_disposition
    from checked
),

final as (
    select
        source_file,
        source_row,
        source_file_fingerprint,
        {{ build_started_at_literal() }} as _loaded_at,
        -- The raw text is kept where someone reads it: on rows that are not clean.
        case when row_disposition <> 'clean' then raw_session_id end as raw_session_id,
        case when row_disposition <> 'clean' then raw_user_id end as raw_user_id,
        case when row_disposition <> 'clean' then raw_started_at end as raw_started_at,
        case when row_disposition <> 'clean' then raw_ended_at end as raw_ended_at,
        case when row_disposition <> 'clean' then raw_platform end as raw_platform,
        case when row_disposition <> 'clean' then raw_page_views end as raw_page_views,
        case when row_disposition <> 'clean' then raw_added_to_cart end as raw_added_to_cart,
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
        row_disposition
    from disposed
)

select * from final
