-- One row per as-of date, segment type and segment: how many users each segment holds and what
-- they are worth. The first page of a segmentation dashboard.

with

users as (
    select * from {{ ref('dim_users') }}
),

segment_rows as (
    {% for segment_type in ['lifecycle_stage', 'rfm_segment', 'rfm_class', 'value_tier'] %}
        select
            as_of_date,
            '{{ segment_type }}' as segment_type,
            coalesce({{ segment_type }}, 'none') as segment,
            user_id,
            buyer_status,
            recency_days,
            frequency,
            monetary
        from users
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

summarised as (
    select
        as_of_date,
        segment_type,
        segment,
        count(*) as user_count,
        sum(case when buyer_status <> 'prospect' then 1 else 0 end) as buyer_count,
        sum(frequency) as purchases_in_window,
        sum(monetary) as revenue_in_window,
        -- Averages from exact sums (whole days, whole purchases, decimal money) divided once:
        -- a sum of doubles depends on the order an engine adds them in, so two runs on the same
        -- data could differ in the last digits.
        cast(sum(recency_days) as double) / count(recency_days) as average_recency_days,
        cast(sum(frequency) as double) / count(frequency) as average_frequency,
        cast(sum(monetary) as double) / count(monetary) as average_monetary
    from segment_rows
    group by as_of_date, segment_type, segment
),

final as (
    select
        as_of_date,
        segment_type,
        segment,
        cast(user_count as {{ dbt.type_bigint() }}) as user_count,
        cast(user_count as double)
        / sum(user_count) over (partition by as_of_date, segment_type) as user_share,
        cast(buyer_count as {{ dbt.type_bigint() }}) as buyer_count,
        cast(revenue_in_window as decimal(38, 2)) as revenue_in_window,
        {{ divide_money('revenue_in_window', 'purchases_in_window') }} as average_order_value,
        average_recency_days,
        average_frequency,
        average_monetary
    from summarised
)

select * from final
