-- Warns when the given as-of date is a partial day (the data stops early in it): each returned
-- row is rpt_data_notes' sentence, which the run summary and the report show word for word.
{{ config(severity='warn', tags=['notes']) }}

select message
from {{ ref('rpt_data_notes') }}
where note_code = 'partial_as_of_day'
