-- Each audience's size on every day it is evaluated on (int_audience_calendar: D and the ends
-- of the periods before it; D alone for an audience without history): its members, how many are
-- held out and how many an export sends to, and how many entered since the evaluation day before
-- and left since then. From fct_audience_memberships, so the two always agree.

with

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
),

calendar as (
    select * from {{ ref('int_audience_calendar') }}
),

audiences as (
    select * from {{ ref('dim_audiences') }}
),

days as (
    select
        audiences.audience_name,
        calendar.evaluated_on,
        calendar.is_as_of_date,
        calendar.previous_on,
        min(calendar.evaluated_on) over (partition by audiences.audience_name) as first_evaluated_on
    from audiences
    inner join calendar
        on audiences.has_history or calendar.is_as_of_date
),

counted as (
    select
        days.audience_name,
        days.evaluated_on,
        days.is_as_of_date,
        sum(
            case
                when
                    memberships.first_found_on <= days.evaluated_on
                    and memberships.last_found_on >= days.evaluated_on
                    then 1
                else 0
            end
        ) as member_count,
        sum(
            case
                when
                    memberships.first_found_on <= days.evaluated_on
                    and memberships.last_found_on >= days.evaluated_on
                    and memberships.is_holdout
                    then 1
                else 0
            end
        ) as holdout_count,
        sum(
            case
                when
                    memberships.first_found_on = days.evaluated_on
                    and days.evaluated_on > days.first_evaluated_on
                    then 1
                else 0
            end
        ) as entered_count,
        sum(
            case when memberships.last_found_on = days.previous_on then 1 else 0 end
        ) as exited_count
    from days
    left join memberships
        on
            days.audience_name = memberships.audience_name
            and days.evaluated_on >= memberships.first_found_on
            and (
                days.evaluated_on <= memberships.last_found_on
                or days.previous_on = memberships.last_found_on
            )
    group by days.audience_name, days.evaluated_on, days.is_as_of_date
),

final as (
    select
        audience_name,
        evaluated_on,
        is_as_of_date,
        cast(member_count as {{ dbt.type_bigint() }}) as member_count,
        cast(holdout_count as {{ dbt.type_bigint() }}) as holdout_count,
        cast(member_count - holdout_count as {{ dbt.type_bigint() }}) as sendable_count,
        cast(entered_count as {{ dbt.type_bigint() }}) as entered_count,
        cast(exited_count as {{ dbt.type_bigint() }}) as exited_count
    from counted
)

select * from final
