-- Each order placed on or before D as it stood at the end of D: the latest version known by then
-- (a version is known from its `updated_at`, or from `ordered_at` when it has none). An order
-- whose every version was written after D is taken in its earliest version, the closest to what
-- was true at D. Re-deliveries after D therefore change nothing for a past D.

with

versions as (
    select * from {{ ref('stg_shop__order_versions') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

placed_by_as_of as (
    select
        versions.*,
        coalesce(versions.updated_at, versions.ordered_at)
        < {{ dbt.dateadd('day', 1, 'cast(as_of.as_of_date as ' ~ dbt.type_timestamp() ~ ')') }}
            as is_known_at_as_of
    from versions
    cross join as_of
    where versions.ordered_date <= as_of.as_of_date
),

ranked as (
    select
        *,
        -- version_rank orders all versions from latest (1) to earliest: take the lowest among
        -- those known at D, else the highest.
        row_number() over (
            partition by order_id
            order by
                case when is_known_at_as_of then 0 else 1 end asc,
                case when is_known_at_as_of then version_rank else -1 * version_rank end asc
        ) as pick
    from placed_by_as_of
),

final as (
    select
        order_id,
        user_id,
        status,
        amount,
        is_purchase,
        ordered_at,
        ordered_date,
        updated_at,
        is_known_at_as_of
    from ranked
    where pick = 1
)

select * from final
