{#
    The RFM scoring steps as CTEs, shared by int_users_scored (one population, as of D) and
    fct_user_rfm_snapshots (one population per snapshot date). `buyers` names a CTE with user_id,
    recency_days, frequency and monetary (and the `by` column when given); every ranking, centre
    and decile is computed within each value of `by`. The last CTE is `rfm_final`.

    Scores are 1 + floor(5 * (rank - 1) / n) over rank(), so tied values always share a score
    (ntile would split them arbitrarily); var rfm_scoring = 'thresholds' uses the fixed bins of
    seeds/rfm_score_thresholds.csv, read from the CTE named by `thresholds`.
#}
{% macro rfm_scoring_ctes(buyers, thresholds='thresholds', by=none) %}
    {%- set partition = 'partition by ' ~ by if by else '' %}
    {%- set by_column = by ~ ',' if by else '' %}
    {%- if var('rfm_class_center') not in ('mean', 'median') %}
        {{ exceptions.raise_compiler_error(
            "var rfm_class_center must be 'mean' or 'median', got '" ~ var('rfm_class_center') ~ "'"
        ) }}
    {%- endif %}
    {%- if var('rfm_scoring') not in ('quantile', 'thresholds') %}
        {{ exceptions.raise_compiler_error(
            "var rfm_scoring must be 'quantile' or 'thresholds', got '" ~ var('rfm_scoring') ~ "'"
        ) }}
    {%- endif %}

    -- The center each buyer's R, F and M is compared with for the eight classes.
    rfm_centers as (
        select
            {{ by_column }}
            {% if var('rfm_class_center') == 'median' -%}
                {{ median('recency_days') }} as recency_center,
                {{ median('frequency') }} as frequency_center,
                {{ median('monetary') }} as monetary_center
            {%- else -%}
                avg(cast(recency_days as double)) as recency_center,
                avg(cast(frequency as double)) as frequency_center,
                avg(cast(monetary as double)) as monetary_center
            {%- endif %}
        from {{ buyers }}
        {% if by %}group by {{ by }}{% endif %}
    ),

    rfm_ranked as (
        select
            {{ by_column }}
            user_id,
            recency_days,
            frequency,
            monetary,
            count(*) over ({{ partition }}) as scored_users,
            -- The most recent buyer (fewest days) ranks highest, so it gets the top score.
            rank() over ({{ partition }} order by recency_days desc nulls first) as recency_rank,
            rank() over ({{ partition }} order by frequency asc nulls first) as frequency_rank,
            rank() over ({{ partition }} order by monetary asc nulls first) as monetary_rank
        from {{ buyers }}
    ),

    {% if var('rfm_scoring') == 'thresholds' -%}
        rfm_threshold_scores as (
            -- Fixed business bins: the best score whose threshold the buyer meets.
            select
                {% if by %}buyers.{{ by }},{% endif %}
                buyers.user_id,
                max(
                    case
                        when bins.metric = 'recency' and buyers.recency_days <= bins.threshold
                            then bins.score
                    end
                ) as r_score,
                max(
                    case
                        when bins.metric = 'frequency' and buyers.frequency >= bins.threshold
                            then bins.score
                    end
                ) as f_score,
                max(
                    case
                        when bins.metric = 'monetary' and buyers.monetary >= bins.threshold
                            then bins.score
                    end
                ) as m_score
            from {{ buyers }} as buyers
            cross join {{ thresholds }} as bins
            group by {% if by %}buyers.{{ by }}, {% endif %}buyers.user_id
        ),
    {%- endif %}

    rfm_scored as (
        select
            {% if by %}rfm_ranked.{{ by }},{% endif %}
            rfm_ranked.user_id,
            {% if var('rfm_scoring') == 'quantile' -%}
                {{ quantile_from_rank('rfm_ranked.recency_rank', 'rfm_ranked.scored_users', 5) }}
                    as r_score,
                {{ quantile_from_rank('rfm_ranked.frequency_rank', 'rfm_ranked.scored_users', 5) }}
                    as f_score,
                {{ quantile_from_rank('rfm_ranked.monetary_rank', 'rfm_ranked.scored_users', 5) }}
                    as m_score,
            {%- else -%}
                rfm_threshold_scores.r_score,
                rfm_threshold_scores.f_score,
                rfm_threshold_scores.m_score,
            {%- endif %}
            {{ quantile_from_rank('rfm_ranked.monetary_rank', 'rfm_ranked.scored_users', 10) }}
                as monetary_decile,
            rfm_ranked.recency_days <= rfm_centers.recency_center as is_recency_high,
            rfm_ranked.frequency >= rfm_centers.frequency_center as is_frequency_high,
            rfm_ranked.monetary >= rfm_centers.monetary_center as is_monetary_high
        from rfm_ranked
        {% if by -%}
            inner join rfm_centers
                on rfm_ranked.{{ by }} = rfm_centers.{{ by }}
        {%- else -%}
            cross join rfm_centers
        {%- endif %}
        {% if var('rfm_scoring') == 'thresholds' -%}
            left join rfm_threshold_scores
                on
                    rfm_ranked.user_id = rfm_threshold_scores.user_id
                    {% if by %}and rfm_ranked.{{ by }} = rfm_threshold_scores.{{ by }}{% endif %}
        {%- endif %}
    ),

    rfm_final as (
        select
            {{ by_column }}
            user_id,
            cast(r_score as integer) as r_score,
            cast(f_score as integer) as f_score,
            cast(m_score as integer) as m_score,
            cast(monetary_decile as integer) as monetary_decile,
            is_recency_high,
            is_frequency_high,
            is_monetary_high,
            {{ rfm_class('is_recency_high', 'is_frequency_high', 'is_monetary_high') }}
                as rfm_class,
            case
                when monetary_decile >= {{ var('value_tier_vip_min_decile') }} then 'vip'
                when monetary_decile >= {{ var('value_tier_mid_min_decile') }} then 'mid'
                else 'low'
            end as value_tier
        from rfm_scored
    )
{% endmacro %}
