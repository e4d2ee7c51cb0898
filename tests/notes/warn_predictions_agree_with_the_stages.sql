-- Warns when more than var prediction_conflict_warn_share of the churned and dormant users are
-- likely to buy or at low churn risk by the chosen purchase model (dim_users.
-- is_prediction_in_conflict): the returned row is rpt_data_notes' sentence, which the run summary
-- and the report show word for word.
{{ config(severity='warn', tags=['notes']) }}

select message
from {{ ref('rpt_data_notes') }}
where note_code = 'predictions_contradict_stages' and severity = 'warning'
