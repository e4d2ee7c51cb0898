-- Every value a user can be given has a playbook row: each lifecycle stage, each RFM segment of
-- the map plus `prospect` and `lapsed`, each of the eight RFM classes and each value tier. A
-- returned row is a value without a play.

with

playbook as (
    select * from {{ ref('segment_playbook') }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

required as (
    {% for stage in lifecycle_stages() %}
        select
            'lifecycle_stage' as segment_type,
            '{{ stage }}' as segment
        union all
    {% endfor %}
    {% for class in ['important_value', 'important_development', 'important_retention',
        'important_winback', 'potential', 'new', 'pre_churn', 'lost'] %}
        select
            'rfm_class' as segment_type,
            '{{ class }}' as segment
        union all
    {% endfor %}
    {% for tier in ['vip', 'mid', 'low', 'none'] %}
        select
            'value_tier' as segment_type,
            '{{ tier }}' as segment
        union all
    {% endfor %}
    {% for segment in ['prospect', 'lapsed'] %}
        select
            'rfm_segment' as segment_type,
            '{{ segment }}' as segment
        union all
    {% endfor %}
    select distinct
        'rfm_segment' as segment_type,
        rfm_segment as segment
    from segment_map
)

select required.*
from required
left join playbook
    on
        required.segment_type = playbook.segment_type
        and required.segment = playbook.segment
where playbook.segment is null
