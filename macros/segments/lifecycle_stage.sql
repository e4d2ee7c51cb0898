{#
    The lifecycle stage of a user, as one SQL expression over their metrics as of D. The first rule
    that matches wins; every threshold is a var (docs/segments.md lists them):
      1. churned      days_inactive >= churn_after_days (90)
      2. dormant      days_inactive >= dormant_after_days (30)
      3. new          D - first_seen_date < new_user_days (30)
      4. reactivated  last_gap_days >= dormant_after_days (30): back after a dormant-length lapse
      5. at_risk      engagement_baseline >= at_risk_min_baseline (2 active days per 30)
                      and engagement_ratio < at_risk_ratio (0.5)
      6. loyal        loyalty_purchases >= loyal_min_purchases (4 in the last 365 days)
      7. active       everyone else
    Arguments are the SQL expressions holding each metric, so the history models can evaluate the
    same rule on other columns.
#}
{% macro lifecycle_stage(
    days_inactive='days_inactive',
    days_since_first_seen='days_since_first_seen',
    last_gap_days='last_gap_days',
    engagement_baseline='engagement_baseline',
    engagement_ratio='engagement_ratio',
    loyalty_purchases='loyalty_purchases'
) -%}
    case
        when {{ days_inactive }} >= {{ lifecycle_threshold('churn_after_days') }} then 'churned'
        when {{ days_inactive }} >= {{ lifecycle_threshold('dormant_after_days') }} then 'dormant'
        when {{ days_since_first_seen }} < {{ var('new_user_days') }} then 'new'
        when {{ last_gap_days }} >= {{ lifecycle_threshold('dormant_after_days') }}
            then 'reactivated'
        when
            {{ engagement_baseline }} >= {{ var('at_risk_min_baseline') }}
            and {{ engagement_ratio }} < {{ var('at_risk_ratio') }}
            then 'at_risk'
        when {{ loyalty_purchases }} >= {{ var('loyal_min_purchases') }} then 'loyal'
        else 'active'
    end
{%- endmacro %}


{#- Everything else the lifecycle rule implies, defined here next to the rule so that nothing
    restates it: every model that evaluates stages, lists the days they can change on, or decides
    which users an incremental build must evaluate again reads this dict.
      vars                the vars the rule reads (a change rebuilds the stage models in full;
                          the two thresholds count by the values lifecycle_threshold() resolves)
      lookback_days       the longest window any rule looks back: older activity changes nothing
      activity_offsets    days after an activity date on which it can change a stage: the day
                          itself, the ends of the recent and baseline engagement windows, the
                          dormant and churned thresholds, the end of the return window
      purchase_offset     the day after a purchase day on which it can (leaving the loyalty
                          window)
      first_seen_offset   the day after the first day seen on which it can (the end of `new`) -#}
{% macro lifecycle_rules() %}
    {% set recent = var('engagement_recent_days') %}
    {% set baseline = var('engagement_baseline_days') %}
    {% set dormant = lifecycle_threshold('dormant_after_days') %}
    {% set churn = lifecycle_threshold('churn_after_days') %}
    {{ return({
        'vars': [
            'engagement_recent_days', 'engagement_baseline_days', 'return_window_days',
            'loyal_window_days', 'churn_after_days', 'dormant_after_days', 'new_user_days',
            'at_risk_min_baseline', 'at_risk_ratio', 'loyal_min_purchases', 'lifecycle_thresholds',
        ],
        'lookback_days': [
            var('loyal_window_days'), churn, recent + baseline, var('return_window_days'),
        ] | max,
        'activity_offsets': [
            0, recent, recent + baseline, dormant, churn, var('return_window_days'),
        ] | unique | list,
        'purchase_offset': var('loyal_window_days'),
        'first_seen_offset': var('new_user_days'),
    }) }}
{% endmacro %}


{#- The values lifecycle_stage() can return, in rule order. -#}
{% macro lifecycle_stages() %}
    {{ return(['churned', 'dormant', 'new', 'reactivated', 'at_risk', 'loyal', 'active']) }}
{% endmacro %}


{#- Engagement as defined in docs/dbt/metrics.md, from counts of active days. The baseline is the
    active days of the baseline window scaled to the recent window's length; the ratio is written
    as one division of whole numbers so that edges such as exactly 0.5 are exact. -#}
{% macro engagement_baseline(baseline_active_days) -%}
    cast({{ baseline_active_days }} as double)
    * {{ var('engagement_recent_days') }} / {{ var('engagement_baseline_days') }}
{%- endmacro %}

{% macro engagement_ratio(active_days_recent, baseline_active_days) -%}
    case
        when {{ baseline_active_days }} > 0
            then
                cast({{ active_days_recent }} * {{ var('engagement_baseline_days') }} as double)
                / ({{ baseline_active_days }} * {{ var('engagement_recent_days') }})
    end
{%- endmacro %}


{#- Every value a user can be given for each of `segment_types` (lifecycle_stage, rfm_segment,
    rfm_class, intent_segment, value_tier), as a select of (segment_type, segment): what a seed
    keyed by segment must cover. RFM segments are the map's plus `extra_rfm_segments` (the
    segments outside the map: `prospect` for non-buyers, `lapsed` for buyers outside the window).
-#}
{% macro known_segments(segment_types, extra_rfm_segments=['lapsed']) -%}
    {%- set values = {
        'lifecycle_stage': lifecycle_stages(),
        'rfm_class': ['important_value', 'important_development', 'important_retention',
            'important_winback', 'potential', 'new', 'pre_churn', 'lost'],
        'intent_segment': ['high_value_at_risk', 'likely_to_buy', 'slipping_away', 'steady'],
        'value_tier': ['vip', 'mid', 'low', 'none'],
        'rfm_segment': extra_rfm_segments,
    } -%}
    {%- set selects = [] -%}
    {%- for segment_type in segment_types -%}
        {%- for segment in values[segment_type] -%}
            {%- do selects.append(
                "select '" ~ segment_type ~ "' as segment_type, '" ~ segment ~ "' as segment"
            ) -%}
        {%- endfor -%}
    {%- endfor -%}
    {%- if 'rfm_segment' in segment_types -%}
        {%- do selects.append(
            "select distinct 'rfm_segment' as segment_type, rfm_segment as segment from "
            ~ ref('rfm_segment_map')
        ) -%}
    {%- endif -%}
    {{ selects | join('\nunion all\n') }}
{%- endmacro %}


{#- A threshold of the lifecycle rules (`dormant_after_days` or `churn_after_days`) as this build
    uses it: the var, or with var lifecycle_thresholds: auto the value the shop's own purchase
    rhythm gives (int_lifecycle_thresholds_resolved, read when the calling model runs; that model
    then is among its parents). Any other name is the var itself. -#}
{% macro lifecycle_threshold(name) %}
    {% if name in ('dormant_after_days', 'churn_after_days')
        and var('lifecycle_thresholds') == 'auto' %}
        {% set relation = ref('int_lifecycle_thresholds_resolved') %}
        {% if execute and load_relation(relation) is not none %}
            {% set value = run_query('select ' ~ name ~ ' from ' ~ relation).columns[0].values()[0] %}
            {% if value is not none %}
                {{ return(value | int) }}
            {% endif %}
        {% endif %}
    {% endif %}
    {{ return(var(name)) }}
{% endmacro %}


{#- `days` rounded UP to the next step of a ladder of familiar lengths (days up to a week, two
    and three weeks, a month, 45 days, two and three months, ... five years); beyond it, to whole
    days. Thresholds suggested from the purchase rhythm land on it, so a suggestion is at least
    its percentile and stays put while the rhythm drifts a little. -#}
{% macro days_up_the_ladder(days) -%}
    case
        {%- for step in [1, 2, 3, 4, 5, 6, 7, 10, 14, 21, 30, 45, 60, 90, 120, 180, 270, 365,
            540, 730, 1095, 1460, 1825] %}
            when {{ days }} <= {{ step }} then {{ step }}
        {%- endfor %}
        else cast(ceil({{ days }}) as integer)
    end
{%- endmacro %}
