-- One row per user seen on or before the as-of date D: where they stand (lifecycle stage, buyer
-- status, RFM scores, segment, class and value tier), the action the playbook recommends, and
-- every metric these come from. What dashboards and campaign tools read.
--
-- Where the purchase model and the lifecycle rules disagree (a churned or dormant user whom the
-- chosen model calls likely to buy, or at low churn risk), is_prediction_in_conflict says so:
-- the recommended action follows the lifecycle stage, and rpt_data_notes counts the conflicts.

with

measured as (
    select * from {{ ref('int_users_measured') }}
),

scored as (
    select * from {{ ref('int_users_scored') }}
),

playbook as (
    select * from {{ ref('segment_playbook') }}
),

predictions as (
    select * from {{ ref('int_buyer_predictions_scored') }}
    where purpose = 'current'
),

platforms as (
    select * from {{ ref('int_users_last_platform') }}
),

-- Churn risk from P(alive), and the predicted-CLV decile among the buyers with a prediction.
predicted as (
    select
        predictions.*,
        case
            when predictions.p_alive < {{ var('churn_risk_high_below') }} then 'high'
            when predictions.p_alive < {{ var('churn_risk_medium_below') }} then 'medium'
            when predictions.p_alive is not null then 'low'
        end as churn_risk,
        case
            when predictions.predicted_clv is not null
                then {{ quantile_from_rank(
                    'rank() over (partition by predictions.predicted_clv is null'
                    ~ ' order by predictions.predicted_clv asc)',
                    'count(*) over (partition by predictions.predicted_clv is null)',
                    10
                ) }}
        end as clv_decile
    from predictions
),

intents as (
    select
        predicted.*,
        case
            when predicted.p_alive is null then null
            when
                predicted.clv_decile >= {{ var('intent_high_value_min_decile') }}
                and predicted.churn_risk in ('high', 'medium')
                then 'high_value_at_risk'
            when
                predicted.expected_purchases_{{ var('prediction_horizon_days')[0] }}d
                >= {{ var('intent_likely_to_buy_min_purchases') }}
                then 'likely_to_buy'
            when predicted.churn_risk = 'high' then 'slipping_away'
            else 'steady'
        end as intent_segment
    from predicted
),

stage_plays as (
    select segment as lifecycle_stage
    from playbook
    where segment_type = 'lifecycle_stage'
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
        coalesce(scored.rfm_segment, 'prospect') as rfm_segment,
        scored.rfm_class,
        coalesce(scored.value_tier, 'none') as value_tier,
        scored.monetary_decile,
        intents.p_alive,
        {% for days in var('prediction_horizon_days') -%}
            intents.expected_purchases_{{ days }}d,
        {% endfor -%}
        intents.expected_average_order_value,
        intents.predicted_clv,
        cast(intents.clv_decile as integer) as predicted_clv_decile,
        intents.churn_risk,
        intents.intent_segment,
        intents.purchase_model,
        {% for bound, percent in [('earliest', 10), ('expected', 50), ('latest', 90)] -%}
            cast({{ dbt.dateadd(
                'day', 'cast(ceil(intents.next_purchase_days_p' ~ percent ~ ') as integer)',
                'measured.as_of_date'
            ) }} as date) as next_purchase_{{ bound }}_on,
        {% endfor -%}
        intents.next_purchase_days_p50,
        coalesce(platforms.last_platform, 'none') as last_platform
    from measured
    left join scored
        on measured.user_id = scored.user_id
    left join intents
        on measured.user_id = intents.user_id
    left join platforms
        on measured.user_id = platforms.user_id
),

-- The play a user gets: their lifecycle stage's, or their RFM segment's when the stage has none.
-- Chosen once, as a key, so that every action column comes from the same playbook row.
play_keyed as (
    select
        staged.*,
        case
            when stage_plays.lifecycle_stage is not null then 'lifecycle_stage'
            else 'rfm_segment'
        end as play_segment_type,
        case
            when stage_plays.lifecycle_stage is not null then staged.lifecycle_stage
            else staged.rfm_segment
        end as play_segment
    from staged
    left join stage_plays
        on staged.lifecycle_stage = stage_plays.lifecycle_stage
),

final as (
    select
        ---------- ids
        play_keyed.user_id,

        ---------- where the user stands
        play_keyed.as_of_date,
        play_keyed.lifecycle_stage,
        play_keyed.buyer_status,
        play_keyed.r_score,
        play_keyed.f_score,
        play_keyed.m_score,
        play_keyed.rfm_segment,
        play_keyed.rfm_class,
        play_keyed.value_tier,
        play_keyed.monetary_decile,

        ---------- what to do
        {{ play_id('play_keyed.play_segment_type', 'play_keyed.play_segment') }} as play_id,
        {{ is_holdout(
            'play_keyed.user_id',
            play_id('play_keyed.play_segment_type', 'play_keyed.play_segment'),
            on_date='play_keyed.as_of_date'
        ) }} as is_holdout,
        play.recommended_action,
        play.objective as action_objective,
        play.channel as action_channel,
        cast(play.priority as integer) as action_priority,
        segment_play.recommended_action as rfm_segment_action,

        ---------- where the user is likely going (docs/predictions.md)
        play_keyed.p_alive,
        {% for days in var('prediction_horizon_days') -%}
            play_keyed.expected_purchases_{{ days }}d,
        {% endfor -%}
        play_keyed.expected_average_order_value,
        play_keyed.predicted_clv,
        play_keyed.predicted_clv_decile,
        play_keyed.churn_risk,
        play_keyed.intent_segment,
        intent_play.recommended_action as intent_action,
        play_keyed.purchase_model,
        play_keyed.next_purchase_expected_on,
        play_keyed.next_purchase_earliest_on,
        play_keyed.next_purchase_latest_on,
        coalesce(
            play_keyed.lifecycle_stage in ('churned', 'dormant')
            and (
                play_keyed.intent_segment = 'likely_to_buy' or play_keyed.churn_risk = 'low'
            ),
            false
        ) as is_prediction_in_conflict,

        ---------- metrics as of D
        play_keyed.first_seen_date,
        play_keyed.last_active_date,
        play_keyed.first_purchase_date,
        play_keyed.last_purchase_date,
        play_keyed.days_inactive,
        play_keyed.recency_days,
        play_keyed.frequency,
        play_keyed.monetary,
        play_keyed.purchases_lifetime,
        play_keyed.revenue_lifetime,
        play_keyed.average_order_value,
        play_keyed.median_days_between_purchases,
        play_keyed.loyalty_purchases,
        play_keyed.active_days_7d,
        play_keyed.sessions_7d,
        play_keyed.session_minutes_7d,
        play_keyed.page_views_7d,
        play_keyed.purchases_7d,
        play_keyed.revenue_7d,
        play_keyed.active_days_30d,
        play_keyed.sessions_30d,
        play_keyed.session_minutes_30d,
        play_keyed.page_views_30d,
        play_keyed.purchases_30d,
        play_keyed.revenue_30d,
        play_keyed.active_days_90d,
        play_keyed.sessions_90d,
        play_keyed.session_minutes_90d,
        play_keyed.page_views_90d,
        play_keyed.purchases_90d,
        play_keyed.revenue_90d,
        play_keyed.active_days_recent,
        play_keyed.baseline_active_days,
        play_keyed.engagement_baseline,
        play_keyed.engagement_ratio,
        play_keyed.last_gap_days,
        play_keyed.has_open_cart,
        play_keyed.last_platform
    from play_keyed
    left join playbook as play
        on
            play_keyed.play_segment_type = play.segment_type
            and play_keyed.play_segment = play.segment
    left join playbook as segment_play
        on
            segment_play.segment_type = 'rfm_segment'
            and play_keyed.rfm_segment = segment_play.segment
    left join playbook as intent_play
        on
            intent_play.segment_type = 'intent_segment'
            and play_keyed.intent_segment = intent_play.segment
)

select * from final
