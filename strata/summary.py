"""The run summary: what a build read, kept, excluded and quarantined, and where users stand.

Every figure is read from the warehouse the build just wrote; a mart that does not exist yet is
reported as not built, never filled in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import duckdb

DISPOSITIONS = ("clean", "superseded", "excluded", "quarantined")


@dataclass
class Summary:
    db_path: Path
    reconciliation: dict[str, dict[str, int]] = field(default_factory=dict)
    top_reasons: list[tuple[str, str, int]] = field(default_factory=list)
    breakdowns: dict[str, list[tuple[str, int]] | None] = field(default_factory=dict)
    as_of_date: str | None = None
    not_provided: list[str] = field(default_factory=list)
    purchase_gaps: dict | None = None
    predictions: dict | None = None
    largest_play: tuple | None = None
    growth_month: dict | None = None
    audiences: list[tuple] = field(default_factory=list)
    notes: list[tuple[str, str]] = field(default_factory=list)


# Breakdowns the summary shows, and the mart column each comes from.
BREAKDOWNS = {
    "lifecycle stage": ("marts", "dim_users", "lifecycle_stage"),
    "RFM segment": ("marts", "dim_users", "rfm_segment"),
}


def _table_columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns"
        " where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {row[0] for row in rows}


def read_summary(db_path: Path) -> Summary:
    summary = Summary(db_path=db_path)
    con = duckdb.connect(str(db_path), read_only=True)
    try:
        if _table_columns(con, "marts", "rpt_source_reconciliation"):
            rows = con.execute(
                "select source_table, raw_rows, clean_rows, superseded_rows, excluded_rows,"
                " quarantined_rows from marts.rpt_source_reconciliation order by source_table"
            ).fetchall()
            for source, raw, *counts in rows:
                summary.reconciliation[source] = {
                    "raw": raw,
                    **dict(zip(DISPOSITIONS, counts, strict=True)),
                }
        if _table_columns(con, "marts", "rpt_row_reasons"):
            summary.top_reasons = con.execute(
                "select source_table, reason_code, row_count from marts.rpt_row_reasons"
                " where row_disposition = 'quarantined' and row_count > 0"
                " order by row_count desc, source_table, reason_code limit 5"
            ).fetchall()
        if _table_columns(con, "staging", "stg_shop__raw_inputs"):
            summary.not_provided = [
                row[0]
                for row in con.execute(
                    "select source_table from staging.stg_shop__raw_inputs"
                    " where not is_provided order by source_table"
                ).fetchall()
            ]
        if _table_columns(con, "marts", "rpt_purchase_gaps"):
            cursor = con.execute("select * from marts.rpt_purchase_gaps")
            names = [column[0] for column in cursor.description]
            row = cursor.fetchone()
            summary.purchase_gaps = dict(zip(names, row, strict=True)) if row else None
        if _table_columns(con, "marts", "fct_customer_model_fits") and "p_alive" in _table_columns(
            con, "marts", "dim_users"
        ):
            summary.predictions = _predictions(con)
        if _table_columns(con, "marts", "rpt_data_notes"):
            summary.notes = con.execute(
                "select severity, message from marts.rpt_data_notes"
                " order by severity = 'warning' desc, note_code, subject"
            ).fetchall()
        if "comparison_measured_on" in _table_columns(con, "marts", "rpt_growth_accounting"):
            cursor = con.execute(
                "select * from marts.rpt_growth_accounting where grain = 'month'"
                " order by period_start desc limit 1"
            )
            names = [column[0] for column in cursor.description]
            row = cursor.fetchone()
            summary.growth_month = dict(zip(names, row, strict=True)) if row else None
        if _table_columns(con, "marts", "rpt_play_outcomes"):
            summary.largest_play = _largest_play(con)
        if _table_columns(con, "marts", "rpt_audience_sizes"):
            summary.audiences = con.execute(
                "select a.audience_name, s.member_count, s.sendable_count, s.entered_count,"
                " s.exited_count from marts.dim_audiences as a"
                " left join marts.rpt_audience_sizes as s"
                "   on a.audience_name = s.audience_name and s.is_as_of_date"
                " order by a.definition_order"
            ).fetchall()
        for label, (schema, table, column) in BREAKDOWNS.items():
            columns = _table_columns(con, schema, table)
            if column not in columns:
                summary.breakdowns[label] = None
                continue
            summary.breakdowns[label] = con.execute(
                f"select coalesce({column}, '(none)'), count(*) from {schema}.{table}"
                " group by 1 order by 2 desc, 1"
            ).fetchall()
            if "as_of_date" in columns:
                value = con.execute(f"select max(as_of_date) from {schema}.{table}").fetchone()
                summary.as_of_date = str(value[0]) if value and value[0] else None
    finally:
        con.close()
    return summary


def format_summary(summary: Summary) -> str:
    lines = []
    if summary.as_of_date:
        lines.append(f"as of {summary.as_of_date} (UTC)")
    if summary.reconciliation:
        lines.append("rows read        raw      clean  superseded   excluded  quarantined")
        for source, counts in summary.reconciliation.items():
            lines.append(
                f"  {source:<9}"
                + "".join(f"{counts[key]:>11,}" for key in ("raw", *DISPOSITIONS[:3]))
                + f"{counts['quarantined']:>13,}"
            )
    else:
        lines.append("rows read: the reconciliation report was not built")
    for source in summary.not_provided:
        lines.append(f"  {source}: not provided (activity comes from the other sources alone)")
    if summary.top_reasons:
        lines.append("top quarantine reasons")
        lines += [
            f"  {source}.{reason:<28}{count:>10,}" for source, reason, count in summary.top_reasons
        ]
    for label, rows in summary.breakdowns.items():
        if rows is None:
            lines.append(f"users per {label}: not built by this version of strata yet")
            continue
        total = sum(count for _, count in rows) or 1
        lines.append(f"users per {label}")
        lines += [f"  {value:<22}{count:>10,}  {count / total:6.1%}" for value, count in rows]
    lines += growth_lines(summary.growth_month)
    lines += purchase_gap_lines(summary.purchase_gaps)
    lines += prediction_lines(summary.predictions)
    lines += play_lines(summary.largest_play)
    lines += audience_lines(summary.audiences)
    # rpt_data_notes' sentences, word for word (the report and dbt's warnings show the same)
    lines += [
        f"{'warning' if severity == 'warning' else 'note'}: {message}"
        for severity, message in summary.notes
    ]
    lines.append(f"warehouse: {summary.db_path}")
    return "\n".join(lines)


def growth_lines(month: dict | None) -> list[str]:
    """The month of D against what it compares with, like with like: a running month so far
    against the same days of the month before, a complete one against the whole month before."""
    if not month or month.get("comparison_period_start") is None:
        return []
    start, until = month["period_start"], month["measured_on"]
    if month["is_complete"]:
        head = f"month {start:%B %Y} (complete) vs {month['comparison_period_start']:%B %Y}"
    else:
        head = (
            f"month {start:%B %Y} so far ({month['days_measured']} days to {until:%d %b}, "
            f"running) vs the same days of {month['comparison_period_start']:%B %Y} "
            f"(to {month['comparison_measured_on']:%d %b})"
        )

    def ratio(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    return [
        head,
        f"  new {month['new_users']:,} vs {month['comparison_new_users']:,}; churned "
        f"{month['churned_users']:,} vs {month['comparison_churned_users']:,}; quick ratio "
        f"{ratio(month['quick_ratio'])} vs {ratio(month['comparison_quick_ratio'])}",
    ]


def purchase_gap_lines(gaps: dict | None) -> list[str]:
    """The purchase rhythm and the thresholds in use (a threshold that does not fit it is one of
    rpt_data_notes' warnings)."""
    if not gaps or not gaps.get("repeat_gaps"):
        return []
    source = gaps.get("thresholds_source", "vars")
    return [
        f"days between purchases: median {gaps['gap_days_p50']:g}, 90% within "
        f"{gaps['gap_days_p90']:g}, 95% within {gaps['gap_days_p95']:g} "
        f"({gaps['repeat_gaps']:,} repeat gaps); thresholds in use ({source}): dormant after "
        f"{gaps['dormant_after_days']} days, churned after {gaps['churn_after_days']}"
    ]


MODEL_NAMES = {"bgnbd": "BG/NBD", "pareto_nbd": "Pareto/NBD", "mbgnbd": "MBG/NBD"}


def _predictions(con: duckdb.DuckDBPyConnection) -> dict:
    columns = _table_columns(con, "marts", "fct_customer_model_fits")
    chosen = "is_chosen" if "is_chosen" in columns else "model = 'bgnbd'"
    error = "holdout_mean_absolute_error" if "holdout_mean_absolute_error" in columns else "null"
    fits = {
        model: (converged, message, customers, repeat, is_chosen, back_test)
        for model, converged, message, customers, repeat, is_chosen, back_test in con.execute(
            f"select current_fit.model, current_fit.is_converged, current_fit.message,"
            f" current_fit.customers_used, current_fit.repeat_buyers_used,"
            f" coalesce(current_fit.{chosen}, false), calibration.{error}"
            " from marts.fct_customer_model_fits as current_fit"
            " left join marts.fct_customer_model_fits as calibration"
            "   on calibration.model = current_fit.model and calibration.purpose = 'calibration'"
            " where current_fit.purpose = 'current'"
        ).fetchall()
    }
    by_stage = con.execute(
        "select lifecycle_stage, avg(p_alive) from marts.dim_users where p_alive is not null"
        " group by 1 order by 2 desc, 1"
    ).fetchall()
    return {"fits": fits, "p_alive_by_stage": by_stage}


def prediction_lines(predictions: dict | None) -> list[str]:
    """Which repeat-purchase model the predictions use and why, the spend model, and mean
    P(alive) by lifecycle stage."""
    if not predictions or not predictions["fits"]:
        return []
    fits = predictions["fits"]
    chosen = next((model for model, fit in fits.items() if fit[4]), None)
    if chosen is None:
        bg = fits.get("bgnbd")
        reason = bg[1] if bg else "no fit"
        return [f"predictions: not made ({reason}); p_alive and predicted_clv are null"]
    fit = fits[chosen]
    others = ", ".join(
        f"{MODEL_NAMES.get(model, model)} {other[5]:.3f}"
        for model, other in fits.items()
        if model in MODEL_NAMES and model != chosen and other[5] is not None
    )
    why = (
        f" (back-test error {fit[5]:.3f} purchase days per buyer"
        + (f"; {others}" if others else "")
        + ")"
        if fit[5] is not None
        else ""
    )
    gg = fits.get("gamma_gamma")
    spend = (
        "Gamma-Gamma fitted"
        if gg and gg[0]
        else f"spend model not fitted ({gg[1] if gg else 'no fit'})"
    )
    lines = [
        f"predictions: {MODEL_NAMES.get(chosen, chosen)} chosen{why}, {spend}, "
        f"on {fit[2]:,} buyers ({fit[3]:,} repeat buyers)"
    ]
    stages = ", ".join(f"{stage} {value:.2f}" for stage, value in predictions["p_alive_by_stage"])
    lines.append(f"  mean p_alive by lifecycle stage: {stages}")
    return lines


def _largest_play(con: duckdb.DuckDBPyConnection) -> tuple | None:
    """The play with the most closed entries: its treated and holdout sizes, rates and lift."""
    return con.execute(
        "select treated.play_id, treated.entry_count, treated.conversion_rate, holdout.entry_count,"
        " holdout.conversion_rate, treated.lift_pp, treated.lift_ci_low_pp,"
        " treated.lift_ci_high_pp, treated.is_too_small"
        " from marts.rpt_play_outcomes as treated"
        " left join marts.rpt_play_outcomes as holdout"
        "   on treated.play_id = holdout.play_id and holdout.cohort_grain = 'all'"
        "   and holdout.group_name = 'holdout'"
        " where treated.cohort_grain = 'all' and treated.group_name = 'treated'"
        "   and treated.segment_type <> 'audience'"
        " order by treated.entry_count + coalesce(holdout.entry_count, 0) desc, treated.play_id"
        " limit 1"
    ).fetchone()


def audience_lines(audiences: list[tuple]) -> list[str]:
    """Each audience's members on D, how many an export sends to (the held-out ones are not),
    and how many entered and left since the evaluation day before (docs/audiences.md)."""
    if not audiences:
        return []
    lines = ["audiences (members, sent to; in and out since the evaluation day before)"]
    for name, members, sendable, entered, exited in audiences:
        changes = f"+{entered or 0:,} -{exited or 0:,}"
        lines.append(f"  {name:<28}{members or 0:>10,}{sendable or 0:>10,}   {changes}")
    return lines


def play_lines(play: tuple | None) -> list[str]:
    """The lift of the largest play with its 95% interval, or why it cannot be read yet."""
    if not play:
        return ["largest play: no entry has had its whole outcome window yet"]
    play_id, treated, rate, held, held_rate, lift, low, high, too_small = play
    head = f"largest play: {play_id}, {treated:,} treated entries"
    if not held:
        return [f"{head}, nobody held out (holdout_share is 0): its effect cannot be measured"]
    line = (
        f"{head} ({rate:.1%} converted) vs {held:,} held out ({held_rate:.1%}): "
        f"lift {lift:+.1f} pp (95% CI {low:+.1f} to {high:+.1f})"
    )
    if too_small:
        line += "; too few users to read (docs/outcomes.md)"
    return [line]
