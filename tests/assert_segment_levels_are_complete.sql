-- Every lifecycle stage and every RFM segment a buyer can be in (the map's segments and `lapsed`)
-- has a level in seeds/segment_levels.csv, and exactly one lost stage and one lost segment are
-- marked, so that rpt_stage_outcomes puts every move in one of its four outcomes. A returned row
-- is a stage or segment without a level, or a segment type whose lost marks are not exactly one.

with

levels as (
    select * from {{ ref('segment_levels') }}
),

required as (
    {{ known_segments(['lifecycle_stage', 'rfm_segment'], ['lapsed']) }}
),

missing as (
    select
        required.segment_type,
        required.segment,
        'no level' as problem
    from required
    left join levels
        on
            required.segment_type = levels.segment_type
            and required.segment = levels.segment
    where levels.segment is null
),

lost_marks as (
    select
        segment_type,
        cast(null as {{ dbt.type_string() }}) as segment,
        'lost marks: ' || cast(sum(case when is_lost then 1 else 0 end) as {{ dbt.type_string() }})
            as problem
    from levels
    group by segment_type
    having sum(case when is_lost then 1 else 0 end) <> 1
)

select * from missing
union all
select * from lost_marks
