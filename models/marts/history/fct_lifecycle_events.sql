-- One row per user per entry into a lifecycle stage: the feed for automated campaigns. A user who
-- turned dormant on a day appears once, on that day, with the stage they left. A campaign tool
-- reads it incrementally by event_date (docs/history.md), runs the play of the stage entered
-- (play_id, seeds/segment_playbook.csv) and sends only to is_holdout = false: the held-out users
-- are what the play's effect is measured against (docs/outcomes.md).

{{ user_keyed_incremental_config(
    ['fct_user_lifecycle_history'],
    on_schema_change='append_new_columns',
    other_vars=['holdout_salt', 'holdout_share', 'holdout_history'],
) }}

{#- Incremental on DuckDB: an event is the start of a spell, so the events of the users whose
    spells were merged again are derived again; the others' events are kept. -#}
{%- set plan = user_keyed_plan() %}

{{ changed_users_dependencies(stage_thresholds=true) }}

with

history as (
    select * from {{ ref('fct_user_lifecycle_history') }}
    where {{ only_changed_users(plan) }}
),

final as (
    select
        spell_id as event_id,
        user_id,
        valid_from as event_date,
        lifecycle_stage as entered_stage,
        previous_stage as left_stage,
        previous_stage is null as is_first_seen,
        {{ play_id("'lifecycle_stage'", 'lifecycle_stage') }} as play_id,
        {{ is_holdout(
            'user_id', play_id("'lifecycle_stage'", 'lifecycle_stage'), on_date='valid_from'
        ) }} as is_holdout
    from history
)

select * from final
