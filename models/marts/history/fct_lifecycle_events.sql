-- One row per user per entry into a lifecycle stage: the feed for automated campaigns. A user who
-- turned dormant on a day appears once, on that day, with the stage they left. A campaign tool
-- reads it incrementally by event_date (docs/history.md).

with

history as (
    select * from {{ ref('fct_user_lifecycle_history') }}
),

final as (
    select
        spell_id as event_id,
        user_id,
        valid_from as event_date,
        lifecycle_stage as entered_stage,
        previous_stage as left_stage,
        previous_stage is null as is_first_seen
    from history
)

select * from final
