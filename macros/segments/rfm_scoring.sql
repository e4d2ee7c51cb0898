{#
    The RFM scoring steps as CTEs, shared by int_users_scored (one population, as of D) and
    fct_user_rfm_snapshots (one population per snapshot date). `buyers` names a CTE with one row
    per buyer (a user with a purchase on or before the date scored): user_id, recency_days,
    frequency and monetary (and the `by` column when given). Every ranking, centre and decile is
    computed within each value of `by`. The last CTE is `rfm_final`, one row per buyer.

    Who is scored: the buyers with at least one purchase in the RFM window (frequency > 0; with
    var rfm_window_days null, every buyer). A buyer whose purchases all lie before the window has
    lapsed: they stay outside the grid (null scores and decile), with rfm_segment `lapsed`,
    rfm_class `lost` and value_tier `none`. Scoring every buyer ever instead would let the most
    recent members of a population that stopped buying look like champions.

    Scores are 1 + floor(5 * (rank - 1) / n) over rank(), so tied values always share a score
    (ntile would split them arbitrarily); var rfm_scoring = 'thresholds' uses the fixed bins of
    seeds/rfm_score_thresholds.csv, read from the CTE named by `thresholds`. The segment comes from
    the (R, F) cell in the CTE named by `segment_map`. Centres are computed from exact sums (whole
    numbers and decimals), never from a sum of doubles, whose last digits depend on the order in
    which an engine adds them.
#}
{% macro rfm_scoring_ctes(buyers, thresholds='thresholds', segment_map='segment_map', by=none) %}
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

    -- The scoring population: buyers with a purchase in the RFM window.
    rfm_population as (
        select *
        from {{ buyers }}
        {% if var('rfm_window_days') is not none -%}
            where frequency > 0
        {%- endif %}
    ),

    -- The centre each scored buyer's R, F and M is compared with for the eight classes.
    rfm_centers as (
        select
            {{ by_column }}
            {% if var('rfm_class_center') == 'median' -%}
                {{ median('recency_days') }} as recency_center,
                {{ median('frequency') }} as frequency_center,
                {{ median('monetary') }} as monetary_center
            {%- else -%}
                cast(sum(recency_days) as double) / count(*) as recency_center,
                cast(sum(frequency) as double) / count(*) as frequency_center,
                cast(sum(monetary) as double) / count(*) as monetary_center
            {%- endif %}
        from rfm_population
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
            count(*) over ({{ partition_and('recency_days', by) }}) as recency_ties,
            rank() over ({{ partition }} order by frequency asc nulls first) as frequency_rank,
            rank() over ({{ partition }} order by monetary asc nulls first) as monetary_rank
        from rfm_population
    ),

    {% if var('rfm_scoring') == 'thresholds' -%}
        rfm_threshold_scores as (
            -- Fixed business bins: the best score whose threshold the buyer meets.
            select
                {% if by %}population.{{ by }},{% endif %}
                population.user_id,
                max(
                    case
                        when bins.metric = 'recency' and population.recency_days <= bins.threshold
                            then bins.score
                    end
                ) as r_score,
                max(
                    case
                        when bins.metric = 'frequency' and population.frequency >= bins.threshold
                            then bins.score
                    end
                ) as f_score,
                max(
                    case
                        when bins.metric = 'monetary' and population.monetary >= bins.threshold
                            then bins.score
                    end
                ) as m_score
            from rfm_population as population
            cross join {{ thresholds }} as bins
            group by {% if by %}population.{{ by }}, {% endif %}population.user_id
        ),
    {%- endif %}

    rfm_scored as (
        select
            {% if by %}rfm_ranked.{{ by }},{% endif %}
            rfm_ranked.user_id,
            {% if var('rfm_scoring') == 'quantile' -%}
                {{ quantile_from_mid_rank(
                    'rfm_ranked.recency_rank', 'rfm_ranked.recency_ties',
                    'rfm_ranked.scored_users', 5
                ) }} as r_score,
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

    -- Every buyer: the scored ones with their cell, the lapsed ones outside the grid.
    rfm_final as (
        select
            {% if by %}buyers.{{ by }},{% endif %}
            buyers.user_id,
            rfm_scored.user_id is not null as is_in_rfm_window,
            cast(rfm_scored.r_score as integer) as r_score,
            cast(rfm_scored.f_score as integer) as f_score,
            cast(rfm_scored.m_score as integer) as m_score,
            cast(rfm_scored.monetary_decile as integer) as monetary_decile,
            rfm_scored.is_recency_high,
            rfm_scored.is_frequency_high,
            rfm_scored.is_monetary_high,
            case
                when rfm_scored.user_id is null then 'lapsed'
                else cell.rfm_segment
            end as rfm_segment,
            case
                when rfm_scored.user_id is null then 'lost'
                else {{ rfm_class(
                    'rfm_scored.is_recency_high',
                    'rfm_scored.is_frequency_high',
                    'rfm_scored.is_monetary_high'
                ) }}
            end as rfm_class,
            case
                when rfm_scored.user_id is null then 'none'
                when rfm_scored.monetary_decile >= {{ var('value_tier_vip_min_decile') }}
                    then 'vip'
                when rfm_scored.monetary_decile >= {{ var('value_tier_mid_min_decile') }}
                    then 'mid'
                else 'low'
            end as value_tier
        from {{ buyers }} as buyers
        left join rfm_scored
            on
                buyers.user_id = rfm_scored.user_id
                {% if by %}and buyers.{{ by }} = rfm_scored.{{ by }}{% endif %}
        left join {{ segment_map }} as cell
            on
                rfm_scored.r_score = cell.r_score
                and rfm_scored.f_score = cell.f_score
    )
{% endmacro %}


{#- The eight classes of the R/F/M high-low split, from three boolean expressions. -#}
{% macro rfm_class(r_high, f_high, m_high) -%}
    case
        when {{ r_high }} and {{ f_high }} and {{ m_high }} then 'important_value'
        when {{ r_high }} and not {{ f_high }} and {{ m_high }} then 'important_development'
        when not {{ r_high }} and {{ f_high }} and {{ m_high }} then 'important_retention'
        when not {{ r_high }} and not {{ f_high }} and {{ m_high }} then 'important_winback'
        when {{ r_high }} and {{ f_high }} and not {{ m_high }} then 'potential'
        when {{ r_high }} and not {{ f_high }} and not {{ m_high }} then 'new'
        when not {{ r_high }} and {{ f_high }} and not {{ m_high }} then 'pre_churn'
        when not {{ r_high }} and not {{ f_high }} and not {{ m_high }} then 'lost'
    end
{%- endmacro %}


{#- A 1-based quantile from a rank: 1 + floor(buckets * (rank - 1) / n), in whole numbers, so that
    tied values (which share the lowest rank) always share a bucket, on every engine. -#}
{% macro quantile_from_rank(rank_expr, n_expr, buckets) -%}
    (1 + {{ int_divide(buckets ~ ' * (' ~ rank_expr ~ ' - 1)', n_expr) }})
{%- endmacro %}


{#- The bucket of a tie group's MIDDLE position: 1 + floor(buckets * (rank - 1 + (ties - 1) / 2)
    / n), in whole numbers. R scores use it: recency is counted in whole days, so a day's buyers
    tie only because a day is the unit; in time they spread across it, and the group goes where
    its middle falls. (F and M keep quantile_from_rank: equal counts are truly equal, and one-time
    buyers stay at F = 1.) -#}
{% macro quantile_from_mid_rank(rank_expr, ties_expr, n_expr, buckets) -%}
    (1 + {{ int_divide(
        buckets ~ ' * (2 * (' ~ rank_expr ~ ' - 1) + ' ~ ties_expr ~ ' - 1)', '2 * ' ~ n_expr
    ) }})
{%- endmacro %}


{#- A window's `partition by` over `column`, and `by` first when given. -#}
{% macro partition_and(column, by=none) -%}
    partition by {{ by ~ ', ' if by else '' }}{{ column }}
{%- endmacro %}
