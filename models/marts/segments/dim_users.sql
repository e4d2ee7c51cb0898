-- One row per user seen on or before the as-of date D: where they stand (lifecycle stage, buyer
-- status, RFM scores, segment, class and value tier), the action the playbook recommends, and
-- every metric these come from. What dashboards and campaign tools read.

with

measured as (
    select * from {{ ref('int_users_measured') }}
),

scored as (
    select * from {{ ref('int_users_scored') }}
),

segment_map as (
    select * from {{ ref('rfm_segment_map') }}
),

playbook as (
    select * from {{ ref('segment_playbook') }}
),

staged as (
    select
        measured.*,
        {{ lifecycle_stage(
            days_since_first_seen=days_between('measured.first_seen_date', 'measured.as_of_date')
        ) }} as lifecycle_stage,
        case
            when measured.purchases_lifetime = 0 then 'prospect'
            when measured.purchases_lifetime = 1 then 'one_time'
            else 'repeat'
        end as buyer_status,
        scored.r_score,
        scored.f_score,
        scored.m_score,
        coalesce(segment_map.rfm_segment, 'prospect') as rfm_segment,
        scored.rfm_class,
        coalesce(scored.value_tier, 'none') as value_tier,
        scored.monetary_decile
    from measured
    left join scored
        on measured.user_id = scored.user_id
    left join segment_map
        on
            scored.r_score = segment_map.r_score
            and scored.f_score = segment_map.f_score
),

final as (
    select
        ---------- ids
        staged.user_id,

        ---------- where the user stands
        staged.as_of_date,
        staged.lifecycle_stage,
        staged.buyer_status,
        staged.r_score,
        staged.f_score,
        staged.m_score,
        staged.rfm_segment,
        staged.rfm_class,
        staged.value_tier,
        staged.monetary_decile,

        ---------- what to do: the lifecycle stage's play, or the RFM segment's when the stage
        ---------- has none (whole rows, never a mix of two plays)
        case
            when stage_play.segment is not null then stage_play.recommended_action
            else segment_play.recommended_action
        end as recommended_action,
        case
            when stage_play.segment is not null then stage_play.objective
            else segment_play.objective
        end as action_objective,
        case
            when stage_play.segment is not null then stage_play.channel
            else segment_play.channel
        end as action_channel,
        cast(
            case
                when stage_play.segment is not null then stage_play.priority
                else segment_play.priority
            end as integer
        ) as action_priority,
        segment_play.recommended_action as rfm_segment_action,

        ---------- metrics as of D
        staged.first_seen_date,
        staged.last_active_date,
        staged.first_purchase_date,
        staged.last_purchase_date,
        staged.days_inactive,
        staged.recency_days,
        staged.frequency,
        staged.monetary,
        staged.purchases_lifetime,
        staged.revenue_lifetime,
        staged.average_order_value,
        staged.median_days_between_purchases,
        staged.loyalty_purchases,
        staged.active_days_7d,
        staged.sessions_7d,
        staged.session_minutes_7d,
        staged.page_views_7d,
        staged.purchases_7d,
        staged.revenue_7d,
        staged.active_days_30d,
        staged.sessions_30d,
        staged.session_minutes_30d,
        staged.page_views_30d,
        staged.purchases_30d,
        staged.revenue_30d,
        staged.active_days_90d,
        staged.sessions_90d,
        staged.session_minutes_90d,
        staged.page_views_90d,
        staged.purchases_90d,
        staged.revenue_90d,
        staged.active_days_recent,
        staged.baseline_active_days,
        staged.engagement_baseline,
        staged.engagement_ratio,
        staged.last_gap_days,
        staged.has_open_cart
    from staged
    left join playbook as stage_play
        on
            stage_play.segment_type = 'lifecycle_stage'
            and staged.lifecycle_stage = stage_play.segment
    left join playbook as segment_play
        on
            segment_play.segment_type = 'rfm_segment'
            and staged.rfm_segment = segment_play.segment
)

select * from final
