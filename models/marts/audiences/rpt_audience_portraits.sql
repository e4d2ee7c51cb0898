-- Who is in each audience on D, set against all users: for each dimension (lifecycle stage, RFM
-- segment, value tier, last platform, predicted-CLV band, intent segment) and value, the
-- audience's members with it and their share of the audience, and the same for every user of
-- dim_users. index = the audience's share / all users' share: above 1 the value is
-- over-represented in the audience, below 1 under-represented. Members include the held-out ones
-- (they are the same kind of people; the exports leave them out).
--
-- Predicted-CLV band, from dim_users.predicted_clv_decile: `top_20` (deciles 9-10), `middle_50`
-- (4-8), `bottom_30` (1-3), `none` without a prediction. Users without an RFM segment, intent or
-- platform show as `none`.

{%- set dimensions = {
    'lifecycle_stage': "coalesce(users.lifecycle_stage, 'none')",
    'rfm_segment': "coalesce(users.rfm_segment, 'none')",
    'value_tier': "coalesce(users.value_tier, 'none')",
    'platform': "coalesce(users.last_platform, 'none')",
    'clv_band': "case when users.predicted_clv_decile >= 9 then 'top_20'"
        ~ " when users.predicted_clv_decile >= 4 then 'middle_50'"
        ~ " when users.predicted_clv_decile >= 1 then 'bottom_30' else 'none' end",
    'intent_segment': "coalesce(users.intent_segment, 'none')",
} %}

with

memberships as (
    select * from {{ ref('fct_audience_memberships') }}
    where is_current
),

users as (
    select * from {{ ref('dim_users') }}
),

described as (
    {%- for dimension, expression in dimensions.items() %}
        select
            '{{ dimension }}' as dimension,
            users.user_id,
            cast({{ expression }} as {{ dbt.type_string() }}) as dimension_value
        from users
        {%- if not loop.last %}
            union all
        {%- endif %}
    {%- endfor %}
),

everyone as (
    select
        dimension,
        dimension_value,
        count(*) as user_count,
        sum(count(*)) over (partition by dimension) as total_users
    from described
    group by dimension, dimension_value
),

sizes as (
    select
        audiences.audience_name,
        count(memberships.user_id) as total_members
    from {{ ref('dim_audiences') }} as audiences
    left join memberships
        on audiences.audience_name = memberships.audience_name
    group by audiences.audience_name
),

in_audiences as (
    select
        memberships.audience_name,
        described.dimension,
        described.dimension_value,
        count(*) as member_count
    from memberships
    inner join described
        on memberships.user_id = described.user_id
    group by memberships.audience_name, described.dimension, described.dimension_value
),

-- Every value of every dimension for every audience: a value no member has shows with 0.
final as (
    select
        sizes.audience_name,
        everyone.dimension,
        everyone.dimension_value,
        cast(coalesce(in_audiences.member_count, 0) as {{ dbt.type_bigint() }}) as member_count,
        cast(coalesce(in_audiences.member_count, 0) as double)
        / nullif(sizes.total_members, 0) as member_share,
        cast(everyone.user_count as {{ dbt.type_bigint() }}) as all_user_count,
        cast(everyone.user_count as double) / everyone.total_users as all_user_share,
        (cast(coalesce(in_audiences.member_count, 0) as double) / nullif(sizes.total_members, 0))
        / (cast(everyone.user_count as double) / everyone.total_users) as representation_index
    from sizes
    cross join everyone
    left join in_audiences
        on
            sizes.audience_name = in_audiences.audience_name
            and everyone.dimension = in_audiences.dimension
            and everyone.dimension_value = in_audiences.dimension_value
)

select * from final
