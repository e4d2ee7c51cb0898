-- Warns when dormant_after_days or churn_after_days is too short or too long for the shop's
-- purchase rhythm (rpt_purchase_gaps): each returned row is rpt_data_notes' sentence, which the
-- run summary and the report show word for word.
{{ config(severity='warn', tags=['notes']) }}

select message
from {{ ref('rpt_data_notes') }}
where
    note_code in (
        'churn_threshold_short', 'churn_threshold_long',
        'dormant_threshold_short', 'dormant_threshold_long'
    )
