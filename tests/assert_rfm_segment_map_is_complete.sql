-- Every (r_score, f_score) pair from 1-5 x 1-5 appears exactly once in the segment map, and no
-- other pair does. A returned row is a missing, duplicated or out-of-range pair.

with

scores as (
    {% for score in range(1, 6) %}
        select {{ score }} as n
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
),

pairs as (
    select
        r.n as r_score,
        f.n as f_score
    from scores as r
    cross join scores as f
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

mapped as (
    select
        r_score,
        f_score,
        count(*) as mappings
    from segment_map
    group by r_score, f_score
)

select
    coalesce(pairs.r_score, mapped.r_score) as r_score,
    coalesce(pairs.f_score, mapped.f_score) as f_score,
    coalesce(mapped.mappings, 0) as mappings
from pairs
full outer join mapped
    on
        pairs.r_score = mapped.r_score
        and pairs.f_score = mapped.f_score
where
    pairs.r_score is null
    or mapped.mappings is null
    or mapped.mappings <> 1
