"""How big and how slow the report is at scale, on synthetic marts made directly in DuckDB.

Building the real warehouse for a million users takes many minutes; the report only reads the
marts, so this module writes marts of the published shape for ``users`` users in seconds (pseudo-
random but deterministic: a hash of the row number) and times ``build_report`` on them. The
report's size must not grow with the number of users, only with the number of months, stages and
segments; ``pytests/test_report.py`` asserts the size bound, and this prints size and time:

    python -m tools.report_bench --users 1000000

A developer tool beside the package, like tools.bench: it does not ship with strata.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from typing import Any

import click
import duckdb

from strata.report import REPORT_FILE, ReportResult, build_report
from strata.report.data import RFM_SEGMENTS

__all__ = ["add_outcome_marts", "make_serving_db", "run_benchmark"]

AS_OF = dt.date(2026, 6, 30)
MONTHS = 24

# (r, f) -> RFM segment, as seeds/rfm_segment_map.csv ships it (docs/segments.md, section 4).
_SEGMENT_OF_CELL = """
case
    when r_score = 5 and f_score = 1 then 'new_customers'
    when r_score = 5 and f_score >= 4 then 'champions'
    when r_score >= 4 and f_score between 2 and 3 then 'potential_loyalists'
    when r_score = 4 and f_score = 1 then 'promising'
    when r_score between 3 and 4 and f_score >= 4 then 'loyal_customers'
    when r_score = 3 and f_score = 3 then 'need_attention'
    when r_score = 3 then 'about_to_sleep'
    when f_score = 5 then 'cant_lose_them'
    when f_score >= 3 then 'at_risk'
    else 'hibernating'
end
"""

_STAGE_PLAYS = {
    "churned": ("win-back offer, feedback survey", "email", 5),
    "dormant": ("'we miss you' message with an incentive", "email", 2),
    "new": ("welcome series, first-order incentive", "email and in-app", 2),
    "reactivated": ("welcome back, recommendations", "email and in-app", 2),
    "at_risk": ("proactive outreach, short survey", "email and push", 1),
    "loyal": ("VIP programme, early access", "email and dedicated service", 3),
    "active": ("personalised recommendations", "in-app and push", 4),
}


def _case(column: str, mapping: dict[str, Any]) -> str:
    """A SQL CASE mapping ``column``'s values to literals."""
    arms = " ".join(f"when {_lit(key)} then {_lit(value)}" for key, value in mapping.items())
    return f"case {column} {arms} end"


def _lit(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return str(value)


def make_serving_db(path: Path, users: int, *, outcomes: bool = True) -> Path:
    """Write a serving DuckDB file with synthetic marts for ``users`` users as of 2026-06-30.

    Every mart the report reads is there (``outcomes`` adds the play, stage and cohort outcome
    marts). ``dim_users`` has one row per user; the others are aggregates of plausible size.
    """
    path = Path(path)
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        con.execute("set enable_progress_bar = false")
        con.execute("create schema marts")
        con.execute("create schema strata_meta")
        con.execute(
            f"""
            create table marts.dim_users as
            with base as (
                select i,
                    (hash(i, 1) % 100000) / 100000.0 as a,
                    (hash(i, 2) % 100000) / 100000.0 as b,
                    (hash(i, 3) % 100000) / 100000.0 as c,
                    (hash(i, 4) % 100000) / 100000.0 as e
                from range({int(users)}) as t(i)
            ),
            staged as (
                select *,
                    case
                        when a < 0.55 then 'churned' when a < 0.70 then 'dormant'
                        when a < 0.80 then 'new' when a < 0.90 then 'active'
                        when a < 0.94 then 'loyal' when a < 0.97 then 'reactivated'
                        else 'at_risk'
                    end as lifecycle_stage,
                    b < 0.30 as is_buyer,
                    b < 0.24 as in_window,
                    1 + cast(floor(c * 5) as integer) as r,
                    1 + cast(floor(e * 5) as integer) as f
                from base
            ),
            scored as (
                select *,
                    case when in_window then r end as r_score,
                    case when in_window then f end as f_score,
                    case when in_window then 1 + cast(floor(((c + e) / 2) * 5) as integer) end
                        as m_score,
                    case when in_window then cast(round(20 + e * e * 900 + c * 60, 2)
                        as decimal(38, 2)) else 0 end as monetary
                from staged
            )
            select
                'user_' || i as user_id,
                date '{AS_OF}' as as_of_date,
                lifecycle_stage,
                case when not is_buyer then 'prospect' when e < 0.4 then 'one_time'
                    else 'repeat' end as buyer_status,
                r_score, f_score, m_score,
                case when not is_buyer then 'prospect' when not in_window then 'lapsed'
                    else {_SEGMENT_OF_CELL} end as rfm_segment,
                case
                    when not is_buyer then null
                    when not in_window then 'lost'
                    else ['lost', 'new', 'pre_churn', 'potential', 'important_winback',
                        'important_development', 'important_retention',
                        'important_value'][1 + (r_score >= 3)::int + 2 * (f_score >= 3)::int
                        + 4 * (m_score >= 3)::int]
                end as rfm_class,
                case when not in_window then 'none' when m_score = 5 and e > 0.9 then 'vip'
                    when m_score >= 3 then 'mid' else 'low' end as value_tier,
                {_case("lifecycle_stage", {k: v[0] for k, v in _STAGE_PLAYS.items()})}
                    as recommended_action,
                'keep them' as action_objective,
                {_case("lifecycle_stage", {k: v[1] for k, v in _STAGE_PLAYS.items()})}
                    as action_channel,
                {_case("lifecycle_stage", {k: v[2] for k, v in _STAGE_PLAYS.items()})}
                    as action_priority,
                'the RFM segment''s play' as rfm_segment_action,
                case when is_buyer then least(1.0, 0.05 + c * 0.97) end as p_alive,
                case when is_buyer then e * 1.5 end as expected_purchases_30d,
                case when is_buyer then e * e * 1400 + c * 40 end as predicted_clv,
                case when not is_buyer then null when c < 0.3 then 'high'
                    when c < 0.7 then 'medium' else 'low' end as churn_risk,
                case when not is_buyer then null when e > 0.9 and c < 0.7
                    then 'high_value_at_risk' when e > 0.6 then 'likely_to_buy'
                    when c < 0.3 then 'slipping_away' else 'steady' end as intent_segment,
                case when is_buyer then 'the intent''s play' end as intent_action,
                monetary,
                cast(f_score as bigint) as frequency,
                cast(case when in_window and r_score = 5 then monetary / 4 else 0 end
                    as decimal(38, 2)) as revenue_30d,
                cast(case when in_window and r_score >= 4 then monetary / 2 else 0 end
                    as decimal(38, 2)) as revenue_90d
            from scored
            """
        )
        con.execute(
            """
            create table marts.rpt_segment_summary as
            with rows as (
                select as_of_date, 'lifecycle_stage' as segment_type, lifecycle_stage as segment,
                    buyer_status, monetary from marts.dim_users
                union all select as_of_date, 'rfm_segment', rfm_segment, buyer_status, monetary
                    from marts.dim_users
                union all select as_of_date, 'rfm_class', coalesce(rfm_class, 'none'),
                    buyer_status, monetary from marts.dim_users
                union all select as_of_date, 'value_tier', value_tier, buyer_status, monetary
                    from marts.dim_users
            )
            select as_of_date, segment_type, segment, count(*) as user_count,
                count(*) / sum(count(*)) over (partition by segment_type) as user_share,
                count(*) filter (where buyer_status <> 'prospect') as buyer_count,
                sum(monetary) as revenue_in_window
            from rows group by as_of_date, segment_type, segment
            """
        )
        months = f"""
            select m, cast(date_trunc('month', date '{AS_OF}') - to_months({MONTHS - 1} - m)
                as date) as period_start
            from range({MONTHS}) as t(m)
        """
        stages = ["none", *_STAGE_PLAYS]
        segments = ["none", *(segment for segment in RFM_SEGMENTS if segment != "prospect")]
        con.execute(
            f"""
            create table marts.rpt_segment_transitions as
            with months as ({months}),
            pairs as (
                select 'lifecycle_stage' as segment_type, f.s as from_segment, t.s as to_segment
                from unnest({stages}) as f(s), unnest({stages[1:]}) as t(s)
                union all
                select 'rfm_segment', f.s, t.s
                from unnest({segments}) as f(s), unnest({segments[1:]}) as t(s)
            )
            select 'month' as grain, cast(period_start + interval 1 month - interval 1 day
                    as date) as period_end,
                segment_type, from_segment, to_segment,
                cast(({int(users)} / 60.0) * (1 + m / 12.0)
                    * case when from_segment = to_segment then 6 else 0.3 end
                    * ((hash(m, from_segment, to_segment) % 100) / 100.0) as bigint) + 1
                    as user_count
            from months, pairs
            """
        )
        con.execute(
            f"""
            create table marts.rpt_growth_accounting as
            with months as ({months}),
            counted as (
                select m, period_start,
                    cast({int(users)} * (0.010 + 0.0004 * m) as bigint) as new_users,
                    cast({int(users)} * (0.020 + 0.0010 * m) as bigint) as retained_users,
                    cast({int(users)} * 0.002 as bigint) as resurrected_users,
                    case when m = 0 then 0 else cast({int(users)} * (0.011 + 0.0004 * m)
                        as bigint) end as churned_users
                from months
            )
            select 'month' as grain, period_start,
                cast(period_start + interval 1 month - interval 1 day as date) as period_end,
                true as is_complete,
                new_users + retained_users + resurrected_users as active_users,
                new_users, retained_users, resurrected_users, churned_users,
                new_users + resurrected_users - churned_users as net_change,
                case when churned_users > 0
                    then (new_users + resurrected_users) / churned_users end as quick_ratio,
                cast(period_start + interval 1 month - interval 1 day as date) as measured_on,
                cast((new_users + retained_users) * 0.12 as bigint) as daily_active_users,
                cast((new_users + retained_users) * 0.45 as bigint) as weekly_active_users,
                new_users + retained_users + resurrected_users as monthly_active_users,
                0.12 as stickiness
            from counted
            """
        )
        con.execute(
            f"""
            create table marts.rpt_source_reconciliation as
            select * from (values
                ('orders', {users * 3}, {users * 3 - 2100}, 600, 1200, 300, 300 / {users * 3}),
                ('sessions', {users * 30}, {users * 30 - 9000}, 3000, 5000, 1000,
                    1000 / {users * 30})
            ) as t(source_table, raw_rows, clean_rows, superseded_rows, excluded_rows,
                quarantined_rows, quarantined_share)
            """
        )
        con.execute(
            """
            create table marts.rpt_row_reasons as
            select source_table, 'quarantined' as row_disposition, reason_code,
                row_count, 'why the row was kept aside' as description,
                'fix it at the source' as how_to_fix
            from (values
                ('sessions', 'missing_session_id', 400), ('sessions', 'session_too_long', 300),
                ('sessions', 'ended_before_started', 300), ('orders', 'negative_amount', 120),
                ('orders', 'unknown_status', 100), ('orders', 'missing_amount', 80),
                ('orders', 'future_ordered_at', 0)
            ) as t(source_table, reason_code, row_count)
            """
        )
        con.execute(
            f"""
            create table marts.fct_customer_model_fits as
            select date '{AS_OF}' as as_of_date, purpose, model, true as is_converged,
                cast(null as varchar) as message
            from unnest(['current', 'calibration']) as p(purpose),
                unnest(['bgnbd', 'gamma_gamma']) as m(model)
            """
        )
        con.execute(
            f"""
            create table marts.rpt_prediction_calibration as
            select date '{AS_OF}' as as_of_date, date '{AS_OF}' - 90 as cutoff_date,
                90 as holdout_days, breakdown, group_value, group_order, buyers,
                actual_purchase_days, predicted_purchase_days
            from (values
                ('total', 'all buyers', 0, {users // 4}, {users // 5}, {users / 5.3}),
                ('repeat_purchase_days', '0', 0, {users // 8}, {users // 30}, {users / 32}),
                ('repeat_purchase_days', '1', 1, {users // 16}, {users // 25}, {users / 24}),
                ('repeat_purchase_days', '2', 2, {users // 32}, {users // 28}, {users / 27}),
                ('repeat_purchase_days', '7+', 7, {users // 64}, {users // 20}, {users / 21}),
                ('rfm_segment', 'champions', 0, {users // 40}, {users // 15}, {users / 14}),
                ('rfm_segment', 'hibernating', 0, {users // 20}, {users // 90}, {users / 80})
            ) as t(breakdown, group_value, group_order, buyers, actual_purchase_days,
                predicted_purchase_days)
            """
        )
        con.execute(
            f"""
            create table marts.rpt_purchase_gaps as
            select date '{AS_OF}' as as_of_date, {users // 3} as repeat_gaps,
                21.0 as gap_days_p50, 140.0 as gap_days_p90, 90 as churn_after_days,
                0.24 as share_over_churn_after_days, true as is_churn_threshold_short,
                120 as suggested_churn_after_days
            """
        )
        if outcomes:
            add_outcome_marts(con, AS_OF, users)
        con.execute(
            "create table strata_meta.publication (version varchar, published_at timestamp,"
            " source_warehouse varchar, build_id varchar, as_of_date date,"
            " table_schema varchar, table_name varchar, row_count bigint)"
        )
        con.execute(
            "insert into strata_meta.publication"
            f" select 'bench-{int(users)}', timestamp '{AS_OF} 06:00:00', 'synthetic',"
            f" 'bench-build', date '{AS_OF}', schema_name, table_name, estimated_size"
            " from duckdb_tables() where schema_name = 'marts'"
        )
        con.execute("checkpoint")
    return path


def add_outcome_marts(con: duckdb.DuckDBPyConnection, as_of: dt.date, users: int) -> None:
    """Create ``rpt_play_outcomes``, ``rpt_stage_outcomes`` and ``rpt_cohort_retention`` in
    schema ``marts`` of ``con``, with a few plausible rows each, in the shape of
    models/marts/outcomes."""
    scale = max(int(users), 100)
    con.execute(
        f"""
        create table marts.rpt_play_outcomes as
        with plays as (
            select * from (values
                ('lifecycle_stage:dormant', 'lifecycle_stage', 'dormant', 0.08, 0.05, false),
                ('lifecycle_stage:at_risk', 'lifecycle_stage', 'at_risk', 0.12, 0.11, false),
                ('lifecycle_stage:new', 'lifecycle_stage', 'new', 0.20, 0.21, false),
                ('lifecycle_stage:churned', 'lifecycle_stage', 'churned', 0.3, 0.1, true)
            ) as t(play_id, segment_type, segment, treated_rate, holdout_rate, is_too_small)
        ),
        groups as (
            select plays.*, g.group_name,
                case when g.group_name = 'treated' then {scale // 20} else {scale // 200} end
                    * case when is_too_small then 0.01 else 1 end as n,
                case when g.group_name = 'treated' then treated_rate else holdout_rate end
                    as rate
            from plays, (values ('treated'), ('holdout')) as g(group_name)
        )
        select play_id, segment_type, segment, 'all' as cohort_grain,
            cast(null as date) as cohort_start, group_name,
            cast(greatest(n, 3) * 0.9 as bigint) as user_count,
            cast(greatest(n, 3) as bigint) as entry_count,
            cast(round(greatest(n, 3) * rate) as bigint) as converted_count,
            rate as conversion_rate,
            cast(greatest(n, 3) * 12.5 as decimal(38, 2)) as revenue_in_window,
            cast(12.5 as decimal(18, 2)) as revenue_per_entry, true as is_window_closed,
            is_too_small,
            case when group_name = 'treated' then (treated_rate - holdout_rate) * 100 end
                as lift_pp,
            case when group_name = 'treated' then (treated_rate - holdout_rate)
                / holdout_rate end as lift_relative,
            case when group_name = 'treated'
                then (treated_rate - holdout_rate) * 100 - 2.5 end as lift_ci_low_pp,
            case when group_name = 'treated'
                then (treated_rate - holdout_rate) * 100 + 2.5 end as lift_ci_high_pp
        from groups
        """
    )
    con.execute(
        f"""
        create table marts.rpt_stage_outcomes as
        select 'month' as grain,
            last_day(cast(date '{as_of}' - interval 1 month as date)) as period_end,
            cast(date '{as_of}' as date) as next_period_end,
            segment_type, segment, cast({scale} * share as bigint) as user_count,
            retained as retained_share, up as moved_up_share, down as moved_down_share,
            1 - retained - up - down as churned_share
        from (values
            ('lifecycle_stage', 'new', 0.10, 0.30, 0.25, 0.05),
            ('lifecycle_stage', 'active', 0.20, 0.45, 0.15, 0.10),
            ('lifecycle_stage', 'loyal', 0.04, 0.70, 0.00, 0.20),
            ('lifecycle_stage', 'at_risk', 0.01, 0.30, 0.20, 0.30),
            ('lifecycle_stage', 'dormant', 0.15, 0.55, 0.05, 0.00),
            ('rfm_segment', 'champions', 0.02, 0.60, 0.00, 0.35),
            ('rfm_segment', 'hibernating', 0.05, 0.50, 0.10, 0.00)
        ) as t(segment_type, segment, share, retained, up, down)
        """
    )
    con.execute(
        f"""
        create table marts.rpt_cohort_retention as
        with cohorts as (
            select c, cast(date_trunc('month', date '{as_of}') - to_months(c) as date)
                as cohort_month
            from range(12) as t(c)
        )
        select cohort_type, cohort_month,
            cast(cohort_month + to_months(s) as date) as activity_month,
            cast(s as integer) as months_since_cohort,
            cast({scale} / 40 * (1 + c / 10) as bigint) as cohort_users,
            case when s = 0 then 1.0 else 0.45 * pow(0.85, s) end as active_share,
            case when s = 0 then 1.0 else 0.25 * pow(0.8, s) end as buying_share,
            cast(12.0 * pow(0.9, s) as decimal(18, 2)) as revenue_per_cohort_user,
            s < c as is_complete_month
        from cohorts, range(13) as m(s), unnest(['first_activity', 'first_purchase'])
            as k(cohort_type)
        where s <= c
        """
    )


def run_benchmark(users: int, folder: Path) -> ReportResult:
    """Make synthetic marts for ``users`` users in ``folder`` and build their report there."""
    serving = make_serving_db(Path(folder) / "strata.duckdb", users)
    return build_report(serving, Path(folder) / REPORT_FILE)


@click.command(help="Print the size and build time of the report for a synthetic population.")
@click.option("--users", type=int, default=1_000_000, show_default=True)
def main(users: int) -> None:
    with tempfile.TemporaryDirectory(prefix="strata-report-bench-") as folder:
        result = run_benchmark(users, Path(folder))
        click.echo(
            f"report for {users:,} users: {result.bytes / 1e6:.2f} MB, "
            f"built in {result.seconds:.2f} s (JavaScript bundle cached after the first run)"
        )


if __name__ == "__main__":
    main(prog_name="python -m tools.report_bench")
