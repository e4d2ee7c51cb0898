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
        reason_code,
        row_count,
        row_number() over (
            partition by source_table order by row_count desc, reason_code asc
        ) as position
    from reasons
    where row_disposition = 'quarantined' and row_count > 0
),

top_reasons as (
    select
        source_table,
        concat_ws(
            ', '
            {%- for position in [1, 2, 3] %},
            max(
                case
                    when position = {{ position }}
                        then concat(reason_code, ' (', cast(row_count as {{ dbt.type_string() }}), ')')
                end
            )
            {%- endfor %}
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
