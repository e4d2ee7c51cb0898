-- Guard: the rows a build brings in may not be quarantined beyond var
-- guard_max_new_quarantined_share (default 20%), judged on two scopes the whole-history guard
-- (guard_quarantined_share) would hide: the new delivery (every raw row from a file that the
-- published build did not read as it is now: a new file, or one rewritten since; known by its
-- fingerprint, so a raw folder moved elsewhere is not new) and the new day
-- (every raw row dated D). A day whose every row is broken (amounts written `3350,00`, times as
-- epoch seconds) is then refused even when years of clean history keep the whole share low.
-- Scopes with fewer than var guard_min_new_rows (default 20) raw rows are not judged: a handful of
-- rows says nothing. The new delivery is judged once a build has been published (the CLI records
-- the files it read in strata_meta.published_inputs); a first build has the whole-history guard.
-- A returned row is a source and scope over the threshold, with its three most frequent reasons.
{{ config(severity=guard_severity(), store_failures=true, tags=['guard']) }}
{%- set published = adapter.get_relation(
    database=target.database, schema='strata_meta', identifier='published_inputs'
) if execute and target.type == 'duckdb' else none %}

with

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

raw_rows as (
    select
        'orders' as source_table,
        source_file,
        source_file_fingerprint,
        ordered_date as event_date,
        row_disposition,
        reject_reasons
    from {{ ref('base_shop__orders') }}
    union all
    select
        'sessions' as source_table,
        source_file,
        source_file_fingerprint,
        started_date as event_date,
        row_disposition,
        reject_reasons
    from {{ ref('base_shop__sessions') }}
),

scoped as (
    {% if published is not none -%}
        select
            raw_rows.source_table,
            'new delivery' as scope,
            raw_rows.row_disposition,
            raw_rows.reject_reasons
        from raw_rows
        left join {{ published }} as published
            on
                raw_rows.source_table = published.source_table
                and raw_rows.source_file_fingerprint = published.source_file_fingerprint
        where published.source_file_fingerprint is null
        union all
    {%- endif %}
    select
        raw_rows.source_table,
        concat('day ', cast(as_of.as_of_date as {{ dbt.type_string() }})) as scope,
        raw_rows.row_disposition,
        raw_rows.reject_reasons
    from raw_rows
    cross join as_of
    where raw_rows.event_date = as_of.as_of_date
),

measured as (
    select
        source_table,
        scope,
        count(*) as raw_rows,
        cast(sum(case when row_disposition = 'quarantined' then 1 else 0 end) as double)
        / count(*) as quarantined_share,
        max(case when row_disposition = 'quarantined' then reject_reasons end) as a_reason
    from scoped
    group by source_table, scope
)

select
    {{ guard_row(
        'quarantined share of new rows',
        'source_table',
        'quarantined_share',
        var('guard_max_new_quarantined_share'),
        'null',
        "concat('the ', scope, ': ', cast(raw_rows as " ~ dbt.type_string()
            ~ "), ' raw rows, for example quarantined as ', a_reason)"
    ) }}
from measured
where
    raw_rows >= {{ var('guard_min_new_rows') }}
    and quarantined_share > {{ var('guard_max_new_quarantined_share') }}
