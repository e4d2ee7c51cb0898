{#- Trigger audiences (docs/triggers.md): behaviour within the day, at the grain of a user and a
    moment. Each trigger model lists candidate intervals (a user qualifies from `start_at` until
    `end_at`, for a reason); trigger_spells() merges a user's overlapping candidates into spells
    and cuts them at the moment M the triggers are computed for, so a spell still running at M
    has no `left_at`. Everything is a pure function of the events known at M, the daily marts and
    the vars: the intraday run and a fresh build for the same M give the same rows. -#}


{#- The trigger windows (vars) in seconds, and the widest of them: how far before the lookback
    start the events are read, so that every window of a spell active in the lookback is whole. -#}
{% macro trigger_windows() %}
    {% set hours = 3600 %}
    {% set days = 86400 %}
    {% set windows = {
        'cart': var('trigger_cart_hours') * hours,
        'cart_keep': var('trigger_cart_keep_hours') * hours,
        'browse': var('trigger_browse_days') * days,
        'browse_keep': var('trigger_browse_keep_days') * days,
        'came_back_keep': var('trigger_came_back_keep_days') * days,
        'first_purchase_keep': var('trigger_first_purchase_keep_days') * days,
        'second_purchase_keep': var('trigger_second_purchase_keep_days') * days,
        'lookback': var('trigger_lookback_days') * days,
    } %}
    {% for name, seconds in windows.items() %}
        {% if seconds is not number or seconds <= 0 %}
            {{ exceptions.raise_compiler_error(
                "the trigger windows (vars trigger_*_hours and trigger_*_days) must be positive "
                ~ "numbers; one of them gives " ~ seconds ~ " seconds for " ~ name
            ) }}
        {% endif %}
    {% endfor %}
    {% if var('trigger_browse_sessions') is not number or var('trigger_browse_sessions') < 1 %}
        {{ exceptions.raise_compiler_error(
            "var trigger_browse_sessions must be a whole number of at least 1, got "
            ~ var('trigger_browse_sessions')
        ) }}
    {% endif %}
    {% do windows.update({'read_margin': [
        windows.cart + windows.cart_keep, windows.browse + windows.browse_keep,
        windows.came_back_keep, windows.first_purchase_keep,
    ] | max}) %}
    {{ return(windows) }}
{% endmacro %}


{#- Whole seconds since 1970-01-01 of a UTC timestamp, the same on every engine: the ordering of
    the range windows that count events within hours or days. -#}
{% macro epoch_seconds(timestamp_expression) -%}
    {{ seconds_between("cast('1970-01-01 00:00:00' as " ~ dbt.type_timestamp() ~ ")",
        timestamp_expression) }}
{%- endmacro %}


{#- `timestamp_expression` plus `seconds` whole seconds. -#}
{% macro add_seconds(timestamp_expression, seconds) -%}
    {{ dbt.dateadd('second', seconds, timestamp_expression) }}
{%- endmacro %}


{#- The spells of one trigger, from the relation `candidates` (user_id, start_at, end_at,
    end_reason: `purchased` or `aged_out`, evidence_kind, evidence_id) and the one-row relation
    `moment` (trigger_as_of, lookback_start). Candidates that start after M are not known yet and
    are dropped; the rest are merged per user into spells (a candidate that starts before the
    spell so far has ended joins it). A spell ends at the latest end of its candidates; if that is
    after M, the spell is still running (left_at null). Spells that ended before the lookback
    start are not kept. The evidence is the first candidate's. -#}
{% macro trigger_spells(trigger_name, candidates, moment='moment') %}
    {%- set order_by = 'start_at, evidence_id' %}
    known as (
        select candidates.*
        from {{ candidates }} as candidates
        cross join {{ moment }} as moment
        where candidates.start_at <= moment.trigger_as_of
    ),

    ordered as (
        select
            *,
            max(end_at) over (
                partition by user_id order by {{ order_by }}
                rows between unbounded preceding and 1 preceding
            ) as earlier_end_at
        from known
    ),

    flagged as (
        select
            *,
            case
                when earlier_end_at is null or start_at > earlier_end_at then 1 else 0
            end as starts_spell
        from ordered
    ),

    numbered as (
        select
            *,
            sum(starts_spell) over (
                partition by user_id order by {{ order_by }} rows unbounded preceding
            ) as spell_number
        from flagged
    ),

    spell_ends as (
        select
            user_id,
            spell_number,
            min(start_at) as entered_at,
            max(end_at) as ended_at
        from numbered
        group by user_id, spell_number
    ),

    spells as (
        select
            spell_ends.user_id,
            spell_ends.entered_at,
            spell_ends.ended_at,
            firsts.evidence_kind,
            firsts.evidence_id,
            -- A spell that a purchase cut ends at that purchase: some candidate ended there for it.
            max(case
                when numbered.end_reason = 'purchased' and numbered.end_at = spell_ends.ended_at
                    then 1 else 0
            end) as ended_by_purchase,
            count(*) as candidate_count
        from spell_ends
        inner join numbered as firsts
            on
                spell_ends.user_id = firsts.user_id
                and spell_ends.spell_number = firsts.spell_number
                and firsts.starts_spell = 1
        inner join numbered
            on
                spell_ends.user_id = numbered.user_id
                and spell_ends.spell_number = numbered.spell_number
        group by
            spell_ends.user_id, spell_ends.entered_at, spell_ends.ended_at,
            firsts.evidence_kind, firsts.evidence_id
    ),

    final as (
        select
            {{ generate_surrogate_key([strata_quote_literal(trigger_name), 'spells.user_id',
                'spells.entered_at']) }} as spell_id,
            cast({{ strata_quote_literal(trigger_name) }} as {{ dbt.type_string() }})
                as trigger_name,
            spells.user_id,
            spells.entered_at,
            case when spells.ended_at <= moment.trigger_as_of then spells.ended_at end as left_at,
            case
                when spells.ended_at > moment.trigger_as_of then cast(null as {{ dbt.type_string() }})
                when spells.ended_by_purchase = 1 then 'purchased'
                else 'aged_out'
            end as left_reason,
            spells.ended_at > moment.trigger_as_of as is_open,
            spells.evidence_kind,
            spells.evidence_id,
            cast(spells.candidate_count as {{ dbt.type_bigint() }}) as evidence_count,
            moment.trigger_as_of
        from spells
        cross join {{ moment }} as moment
        where spells.ended_at > moment.lookback_start
    )
{% endmacro %}


{#- A select of one trigger's candidates from `relation` (rows matching `where`): each starts at
    `start_at` and ends at the user's next purchase (`purchased`) when it comes within
    `keep_seconds`, else when the keep window ends (`aged_out`). -#}
{% macro trigger_candidates(relation, start_at, keep_seconds, where) %}
    {%- set kept_until = add_seconds(start_at, keep_seconds) %}
    select
        user_id,
        {{ start_at }} as start_at,
        case
            when next_purchase_at <= {{ kept_until }} then next_purchase_at
            else {{ kept_until }}
        end as end_at,
        case
            when next_purchase_at <= {{ kept_until }} then 'purchased'
            else 'aged_out'
        end as end_reason,
        event_kind as evidence_kind,
        event_id as evidence_id
    from {{ relation }}
    where {{ where }}
{% endmacro %}
