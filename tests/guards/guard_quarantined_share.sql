-- Guard: no delivered source may have more than var guard_max_quarantined_share (default 5%) of
-- its raw rows quarantined. A half-broken file or an upstream type change shows here first. A
-- returned row is a source over the threshold, with its three most frequent reasons.
{{ config(severity=guard_severity(), store_failures=true, tags=['guard']) }}

with

reconciliation as (
    select * from {{ ref('rpt_source_reconciliation') }}
),

reasons as (
    select * from {{ ref('rpt_row_reasons') }}
),

ranked_reasons as (
    select
        source_table,
        concat(reason_code, ' (', cast(row_count as {{ dbt.type_string() }}), ')') as reason,
        row_number() over (
            partition by source_table order by row_count desc, reason_code asc
        ) as reason_rank
    from reasons
    where row_disposition = 'quarantined' and row_count > 0
),

top_reasons as (
    select
        source_table,
        concat_ws(
            ', ',
            max(case when reason_rank = 1 then reason end),
            max(case when reason_rank = 2 then reason end),
            max(case when reason_rank = 3 then reason end)
        ) as reasons
    from ranked_reasons
    group by source_table
)

select
    {{ guard_row(
        'quarantined share',
        'reconciliation.source_table',
        'reconciliation.quarantined_share',
        var('guard_max_quarantined_share'),
        'null',
        "concat('top reasons: ', top_reasons.reasons)"
    ) }}
from reconciliation
left join top_reasons
    on reconciliation.source_table = top_reasons.source_table
where reconciliation.quarantined_share > {{ var('guard_max_quarantined_share') }}
