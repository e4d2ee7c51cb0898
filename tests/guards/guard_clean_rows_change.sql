-- Guard: per delivered source, clean rows may fall by at most var guard_max_clean_rows_drop
-- (default 10%) and grow by at most var guard_max_clean_rows_growth (default 100%) against the
-- last published build (env STRATA_GUARD_BASELINE, set by the strata CLI). The raw files of a
-- daily feed only grow: a drop is a half-delivered or truncated file, a jump a duplicated
-- delivery. Skipped for a build as of an earlier date than the published one (a backfill), and
-- without a publication to compare with. A returned row is a source out of bounds.
{{ config(severity=guard_severity(), store_failures=true, tags=['guard']) }}
{%- set baseline = guard_baseline() %}
{%- set previous = baseline.get('clean_rows', {}) %}

with

reconciliation as (
    select * from {{ ref('rpt_source_reconciliation') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

previous as (
    {% for source_table, rows in previous.items() %}
        select
            {{ strata_quote_literal(source_table) }} as source_table,
            cast({{ rows | int }} as {{ dbt.type_bigint() }}) as clean_rows
        union all
    {% endfor %}
    select
        cast(null as {{ dbt.type_string() }}) as source_table,
        cast(null as {{ dbt.type_bigint() }}) as clean_rows
    where 1 = 0
)

select
    {{ guard_row(
        'clean rows against the last published build',
        'reconciliation.source_table',
        'reconciliation.clean_rows',
        'case when reconciliation.clean_rows < previous.clean_rows then '
            ~ (1 - var('guard_max_clean_rows_drop')) ~ ' else '
            ~ (1 + var('guard_max_clean_rows_growth')) ~ ' end * previous.clean_rows',
        'previous.clean_rows',
        "concat('published build as of ', " ~ strata_quote_literal(baseline.get('as_of_date', ''))
            ~ ")"
    ) }}
from reconciliation
inner join previous
    on reconciliation.source_table = previous.source_table
cross join as_of
where
    {% if baseline.get('as_of_date') -%}
        as_of.as_of_date >= cast({{ strata_quote_literal(baseline.as_of_date) }} as date)
    {%- else -%}
        1 = 0
    {%- endif %}
    and (
        reconciliation.clean_rows
        < previous.clean_rows * {{ 1 - var('guard_max_clean_rows_drop') }}
        or reconciliation.clean_rows
        > previous.clean_rows * {{ 1 + var('guard_max_clean_rows_growth') }}
    )
