-- One row per spell of a user in an audience: the evaluation days (int_audience_calendar) they
-- were found a member on, one after another. A spell's entry and exit are known to the interval
-- between two evaluation days: entered_at is the start of the day after the last day they were
-- not a member (an uploaded list: the day it was delivered), null when they were already in on
-- the audience's first evaluation day; exited_at the start of the day after the last day they
-- were in, null while they still are. Every user is held out of an audience, or not, by the
-- holdout rule of the plays (macro is_holdout with play `audience:<name>`, drawn on the day they
-- entered): the exports leave them out, and rpt_play_outcomes measures the audience against them.


with

members as (
    select * from {{ ref('int_audience_members_evaluated') }}
),

calendar as (
    select * from {{ ref('int_audience_calendar') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

-- Each audience's first evaluation day: the calendar's first, or D for one without history.
audience_starts as (
    select
        audiences.audience_name,
        min(calendar.point_number) as first_point
    from audiences
    inner join calendar
        on audiences.has_history or calendar.is_as_of_date
    group by audiences.audience_name
),

numbered as (
    select
        members.*,
        calendar.point_number,
        calendar.point_number - row_number() over (
            partition by members.audience_name, members.user_id
            order by calendar.point_number asc
        ) as spell_key
    from members
    inner join calendar
        on members.evaluated_on = calendar.evaluated_on
),

spells as (
    select
        audience_name,
        user_id,
        spell_key,
        min(point_number) as first_point,
        max(point_number) as last_point,
        min(evaluated_on) as first_found_on,
        max(evaluated_on) as last_found_on,
        min(member_since) as member_since
    from numbered
    group by audience_name, user_id, spell_key
),

dated as (
    select
        spells.*,
        case
            when spells.member_since is not null
                then
                    case
                        when spells.member_since > first_day.evaluated_on
                            then spells.member_since
                    end
            when spells.first_point > audience_starts.first_point
                then cast({{ dbt.dateadd('day', 1, 'before_first.evaluated_on') }} as date)
        end as entered_on,
        case
            when not last_day.is_as_of_date
                then cast({{ dbt.dateadd('day', 1, 'spells.last_found_on') }} as date)
        end as exited_on,
        last_day.is_as_of_date as is_current
    from spells
    inner join audience_starts
        on spells.audience_name = audience_starts.audience_name
    inner join calendar as first_day
        on audience_starts.first_point = first_day.point_number
    inner join calendar as last_day
        on spells.last_point = last_day.point_number
    left join calendar as before_first
        on spells.first_point - 1 = before_first.point_number
),

final as (
    select
        {{ dbt.concat([
            'dated.audience_name', "'|'", 'dated.user_id', "'|'",
            'cast(dated.first_found_on as ' ~ dbt.type_string() ~ ')'
        ]) }} as membership_id,
        dated.audience_name,
        dated.user_id,
        cast(dated.entered_on as {{ dbt.type_timestamp() }}) as entered_at,
        cast(dated.exited_on as {{ dbt.type_timestamp() }}) as exited_at,
        dated.first_found_on,
        dated.last_found_on,
        dated.entered_on is not null as is_entry_known,
        dated.is_current,
        {{ is_holdout(
            'dated.user_id', dbt.concat(["'audience:'", 'dated.audience_name']),
            on_date='coalesce(dated.entered_on, dated.first_found_on)'
        ) }} as is_holdout,
        numbered.reason
    from dated
    inner join numbered
        on
            dated.audience_name = numbered.audience_name
            and dated.user_id = numbered.user_id
            and dated.last_point = numbered.point_number
)

select * from final
