-- Every reason a base model gives a row that is not clean is listed in seeds/reason_codes.csv for
-- that source and disposition, so the reports (rpt_row_reasons) count it and docs/data_quality.md
-- explains it. A row's reasons are a comma-separated text: each row must match as many seed
-- codes as it lists. (The other direction, every seed code occurring, is checked on the committed
-- fixture by pytests/test_cli_run.py.) A returned row is a reason text with an undocumented code.

with

reason_codes as (
    select * from {{ ref('reason_codes') }}
),

flagged_rows as (
    {% for source_table in ['orders', 'sessions'] %}
        select
            '{{ source_table }}' as source_table,
            row_disposition,
            case row_disposition
                when 'quarantined' then reject_reasons
                when 'excluded' then exclusion_reason
                when 'superseded' then
                    '{{ "older_version" if source_table == "orders" else "identical_copy" }}'
            end as reasons
        from {{ ref('base_shop__' ~ source_table) }}
        where row_disposition <> 'clean'
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

distinct_texts as (
    select distinct
        source_table,
        row_disposition,
        reasons
    from flagged_rows
),

matched as (
    select
        distinct_texts.source_table,
        distinct_texts.row_disposition,
        distinct_texts.reasons,
        count(reason_codes.reason_code) as known_codes
    from distinct_texts
    left join reason_codes
        on
            distinct_texts.source_table = reason_codes.source_table
            and distinct_texts.row_disposition = reason_codes.row_disposition
            and {{ dbt.position(
                dbt.concat(["', '", 'reason_codes.reason_code', "', '"]),
                dbt.concat(["', '", 'distinct_texts.reasons', "', '"])
            ) }} > 0
    group by distinct_texts.source_table, distinct_texts.row_disposition, distinct_texts.reasons
)

select *
from matched
where
    reasons is null
    or known_codes
    <> {{ dbt.length('reasons') }} - {{ dbt.length(dbt.replace('reasons', "','", "''")) }} + 1
