-- Every value a user can be given has a playbook row: each lifecycle stage, each RFM segment of
-- the map plus `prospect` and `lapsed`, each of the eight RFM classes, each value tier and each
-- intent segment. A returned row is a value without a play.

with

playbook as (
    select * from {{ ref('segment_playbook') }}
),

required as (
    {{ known_segments(
        ['lifecycle_stage', 'rfm_class', 'intent_segment', 'value_tier', 'rfm_segment'],
        ['prospect', 'lapsed']
    ) }}
)

select required.*
from required
left join playbook
    on
        required.segment_type = playbook.segment_type
        and required.segment = playbook.segment
where playbook.segment is null
