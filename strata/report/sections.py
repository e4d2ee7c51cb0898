"""The report's sections: which figures each one shows, its charts, tables and reading aids.

A section is assembled from the data module's aggregates and the chart module's specs. When a mart
it needs is missing, lacks a column or cannot be read, the section is still listed and says so in
a sentence; the sections that belong to optional marts (predictions, play and stage outcomes,
cohort retention) are left out altogether when their mart does not exist. The audiences section is
always listed: without audiences it says how to define them.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import duckdb

from strata.report import charts
from strata.report import data as d
from strata.report.data import MartUnavailable, Row, Serving

__all__ = ["Chart", "Figures", "Note", "Report", "Section", "Table", "collect"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chart:
    """One Vega-Lite chart, the datasets it reads, and its one-line reading aid."""

    id: str
    title: str
    aid: str
    spec: dict[str, Any]
    datasets: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """An HTML table of one dataset: columns are (key, header, format)."""

    title: str
    aid: str
    dataset: str
    columns: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class Figures:
    """The headline tiles, one per row of ``dataset``."""

    dataset: str


@dataclass(frozen=True)
class Note:
    """A sentence of the section's own (a caveat, or why something is not shown)."""

    text: str
    kind: str = "info"  # "info" or "warning"


Block = Chart | Table | Figures | Note


@dataclass
class Section:
    """One numbered part of the report."""

    key: str
    title: str
    blocks: list[Block] = field(default_factory=list)
    shown: bool = True  # False: the section only says why it has nothing to show


@dataclass
class Report:
    """Everything the page needs: what it is about, its sections, and every dataset once."""

    meta: Row
    sections: list[Section]
    datasets: dict[str, list[Row]]


# --- formatting used in sentences --------------------------------------------------------------


def day(value: str | None) -> str:
    """``2026-06-30`` as ``30 Jun 2026`` (a reader's date, not an ISO one)."""
    if not value:
        return "unknown date"
    return dt.date.fromisoformat(str(value)[:10]).strftime("%-d %b %Y")


def month(value: str | None) -> str:
    """``2026-06-01`` as ``June 2026``."""
    if not value:
        return "unknown month"
    return dt.date.fromisoformat(str(value)[:10]).strftime("%B %Y")


def compared_periods(now: Row, before: Row) -> tuple[str, str | None]:
    """Labels of a monthly row of growth accounting and of what it is compared with: a complete
    month and the whole month before, or a running month (so far) and the same days of the
    month before (comparison_period_start to comparison_measured_on)."""
    if now.get("is_complete", True):
        return month(now["period_start"]), (month(before["period_start"]) if before else None)
    label_now = f"{month(now['period_start'])} so far, to {day(now['measured_on'])} (running)"
    if now.get("comparison_measured_on"):
        return label_now, (
            f"the same days before: {day(now['comparison_period_start'])} to "
            f"{day(now['comparison_measured_on'])}"
        )
    return label_now, (month(before["period_start"]) if before else None)


def count(value: float | None) -> str:
    """A whole number with thousands separators."""
    return "-" if value is None else f"{value:,.0f}"


def words(value: str) -> str:
    """``at_risk`` as ``at risk``."""
    return str(value).replace("_", " ")


# --- the sections ------------------------------------------------------------------------------


class _Builder:
    """Collects datasets under unique names while the sections are assembled."""

    def __init__(self, db: Serving, meta: Row) -> None:
        self.db = db
        self.meta = meta
        self.as_of: str | None = meta.get("as_of_date")
        self.datasets: dict[str, list[Row]] = {}

    def dataset(self, name: str, rows: list[Row]) -> str:
        """Keep ``rows`` under ``name`` (once) and return the name, for a chart or table."""
        if name in self.datasets:
            raise ValueError(f"dataset {name} defined twice")
        self.datasets[name] = rows
        return name

    def chart(self, chart_id: str, title: str, aid: str, chart: Any, *datasets: str) -> Chart:
        """A chart block: the Altair chart's validated spec and the datasets it reads."""
        return Chart(id=chart_id, title=title, aid=aid, spec=charts.spec(chart), datasets=datasets)

    # 1 ------------------------------------------------------------------------------------------

    def headline(self) -> Section:
        section = Section("headline", "Headline figures")
        figures: list[Row] = []
        notes: list[str] = []

        def figure(key: str, label: str, value: Any, previous: Any, **extra: Any) -> None:
            change = value - previous if value is not None and previous is not None else None
            relative = change / previous if change is not None and previous else None
            figures.append(
                {
                    "key": key,
                    "label": label,
                    "value": value,
                    "previous": previous,
                    "change": change,
                    "relative_change": relative,
                    **extra,
                }
            )

        try:
            totals = d.user_totals(self.db)
        except MartUnavailable as missing:
            totals = None
            notes.append(f"Users and stages: {missing}.")
        then = d.stages_at_previous_month_end(self.db, self.as_of) if totals else None
        then_label = f"at {day(then['period_end'])}" if then else None
        if totals:
            figure(
                "users",
                "Users",
                totals["users"],
                then["users"] if then else None,
                unit="count",
                better="up",
                period=f"as of {day(self.as_of)}",
                previous_period=then_label,
                hint="everyone with any activity up to the as-of date",
            )
        try:
            months = d.latest_months(self.db)
        except MartUnavailable as missing:
            months = []
            notes.append(f"Monthly figures: {missing}.")
        if months:
            now = months[-1]
            before = months[-2] if len(months) > 1 else {}
            label_now, label_compared = compared_periods(now, before)
            if "monthly_active_users" in now:
                figure(
                    "monthly_active_users",
                    "Monthly active users",
                    now["monthly_active_users"],
                    before.get("monthly_active_users"),
                    unit="count",
                    better="up",
                    period=f"30 days to {day(now.get('measured_on'))}",
                    previous_period=(
                        f"30 days to {day(before.get('measured_on'))}" if before else None
                    ),
                    hint="users active in the 30 days to the date",
                )
            for key, label, better, hint in (
                ("new_users", "New users", "up", "first activity in the month"),
                (
                    "churned_users",
                    "Churned users",
                    "down",
                    "active the month before, not (yet) in this one",
                ),
                (
                    "quick_ratio",
                    "Quick ratio",
                    "up",
                    "(new + resurrected) / churned: above 1 means growing",
                ),
            ):
                if key in now:
                    figure(
                        key,
                        label,
                        now[key],
                        # like with like: the same days of the month before for a running month
                        now.get(f"comparison_{key}", before.get(key)),
                        unit="ratio" if key == "quick_ratio" else "count",
                        better=better,
                        period=label_now,
                        previous_period=label_compared,
                        hint=hint,
                        is_running=not now.get("is_complete", True),
                    )
        if totals and "revenue_30d" in totals:
            average = totals["revenue_31_90d"]
            figure(
                "revenue_30d",
                "Revenue, last 30 days",
                totals["revenue_30d"],
                average / 2 if average is not None else None,
                unit="money",
                better="up",
                period=f"30 days to {day(self.as_of)}",
                previous_period="the 30-day average of the 60 days before",
                hint="completed purchases, in the reporting currency",
            )
        if totals:
            for stage, label, better in (
                ("loyal", "Loyal users", "up"),
                ("at_risk", "At-risk users", "down"),
            ):
                figure(
                    f"stage_{stage}",
                    label,
                    totals["stages"].get(stage, 0),
                    then["stages"].get(stage, 0) if then else None,
                    unit="count",
                    better=better,
                    period=f"as of {day(self.as_of)}",
                    previous_period=then_label,
                    hint=f"users in the lifecycle stage {words(stage)}",
                )
        if not figures:
            return _unavailable(section, " ".join(notes))
        section.blocks.append(
            Note(
                "Each figure is set against the span shown under it, like with like: a complete "
                "month against the whole month before, a running month against the same days "
                "of the month before (the 1st to the 4th against the 1st to the 4th), stages "
                "against the last month end before the as-of date."
            )
        )
        section.blocks.append(Figures(self.dataset("headline", figures)))
        section.blocks.extend(Note(text, "warning") for text in notes)
        # rpt_data_notes, word for word as in the run summary and dbt's warnings: what to know
        # before acting on these figures (rows after D are told in the data-quality section)
        section.blocks.extend(
            Note(row["message"], "warning" if row["severity"] == "warning" else "info")
            for row in d.data_notes(self.db)
            if row["note_code"] != "rows_after_as_of_date"
        )
        return section

    # 2 ------------------------------------------------------------------------------------------

    def stages(self) -> Section:
        section = Section("stages", "Users per lifecycle stage over time")
        grain = d.transition_grain(self.db, "lifecycle_stage")
        rows = d.stages_over_time(self.db, grain) if grain else []
        if not rows:
            return _empty(section, "The movements mart has no lifecycle rows yet.")
        stages = d.order_of([r["stage"] for r in rows], d.LIFECYCLE_STAGES)
        name = self.dataset("stages_over_time", rows)
        section.blocks.append(
            self.chart(
                "chart-stages",
                f"Users per lifecycle stage at each {grain} end",
                "Each bar is everyone known at that date, split by stage: the engaged stages "
                "form the base and dormant and churned users stack on top, so a growing base "
                "is good news.",
                charts.stage_history(name, stages, grain),
                name,
            )
        )
        return section

    # 3 ------------------------------------------------------------------------------------------

    def rfm(self) -> Section:
        section = Section("rfm", "The RFM grid")
        rows = d.rfm_grid(self.db)
        outside = d.outside_grid(self.db)
        outside_text = ", ".join(f"{count(r['users'])} {words(r['segment'])}" for r in outside)
        if not rows:
            return _empty(
                section,
                "No buyer has a purchase in the RFM window, so nobody is scored"
                + (f" ({outside_text})." if outside_text else "."),
            )
        segments = d.order_of([r["segment"] for r in rows], d.RFM_SEGMENTS)
        name = self.dataset("rfm_grid", rows)
        section.blocks.append(
            self.chart(
                "chart-rfm",
                "Buyers by recency (R) and frequency (F)",
                "Top right are the best customers (recent and frequent), bottom right the "
                "frequent buyers slipping away; each cell gives its named segment, its users "
                "and their revenue in the RFM window.",
                charts.rfm_grid(name, segments),
                name,
            )
        )
        if outside_text:
            self.dataset("rfm_outside_grid", outside)
            section.blocks.append(
                Note(f"Outside the grid (no purchase in the RFM window): {outside_text}.")
            )
        return section

    # 4 ------------------------------------------------------------------------------------------

    def flows(self) -> Section:
        section = Section("flows", "Movements over the last period")
        found = False
        for segment_type, key, noun, newcomer, preferred in (
            ("lifecycle_stage", "lifecycle", "stage", "(not yet a user)", d.LIFECYCLE_STAGES),
            ("rfm_segment", "rfm", "RFM segment", "(not yet a buyer)", d.RFM_SEGMENTS),
        ):
            grain = d.transition_grain(self.db, segment_type)
            if not grain:
                continue
            period, rows = d.latest_flows(self.db, segment_type, grain)
            if not rows:
                continue
            found = True
            froms = d.order_of([r["from_segment"] for r in rows], ("none", *preferred))
            tos = d.order_of([r["to_segment"] for r in rows], preferred)
            name = self.dataset(f"flows_{key}", rows)
            moved = sum(r["users"] for r in rows if r["from_segment"] != r["to_segment"])
            start = (
                f"{day(period['period_start'])} to {day(period['period_end'])}"
                if period["period_start"]
                else f"the {grain} to {day(period['period_end'])}"
            )
            top = max(r["users"] for r in rows)
            section.blocks.append(
                self.chart(
                    f"chart-flows-{key}",
                    f"Users by {noun}: from {start}",
                    f"Rows are the {noun} at the start, columns at the end: the diagonal "
                    f"stayed put, every other cell moved ({count(moved)} users moved or "
                    f"arrived; {newcomer} are the newcomers).",
                    charts.flow_matrix(
                        name, froms, tos, noun, newcomer=newcomer, dark_above=top * 0.4
                    ),
                    name,
                )
            )
        if not found:
            return _empty(section, "The movements mart has no rows yet.")
        return section

    # 5 ------------------------------------------------------------------------------------------

    def growth(self) -> Section:
        section = Section("growth", "Growth accounting and active users")
        rows = d.growth(self.db)
        if not rows:
            return _empty(section, "Growth accounting has no months yet.")
        name = self.dataset("growth_monthly", rows)
        last = rows[-1]
        running = (
            f" The last month is still running (to {day(last['measured_on'])}) and is drawn paler."
            if not last["is_complete"]
            else ""
        )
        section.blocks.append(
            self.chart(
                "chart-growth",
                "Where each month's active users came from",
                "Above zero: retained (active the month before too), new and resurrected "
                "(back after a gap) users, adding up to the month's active users; below zero: "
                "users lost since the month before." + running,
                charts.growth_bars(name),
                name,
            )
        )
        section.blocks.append(
            self.chart(
                "chart-quick-ratio",
                "Quick ratio",
                "(new + resurrected) / churned per month: above the dashed line at 1 the "
                "active base grows, below it shrinks; months without churn have no ratio.",
                charts.quick_ratio(
                    name,
                    complete=any(r["is_complete"] and r["quick_ratio"] is not None for r in rows),
                    running=any(
                        not r["is_complete"] and r["quick_ratio"] is not None for r in rows
                    ),
                ),
                name,
            )
        )
        section.blocks.append(
            self.chart(
                "chart-active",
                "Daily, weekly and monthly active users",
                "DAU, WAU and MAU counted on each month's last day (the as-of date for the "
                "running month); DAU / MAU, the stickiness, is in the tooltip.",
                charts.active_users(name),
                name,
            )
        )
        return section

    # 6 ------------------------------------------------------------------------------------------

    def tiers(self) -> Section:
        section = Section("tiers", "Value tiers and RFM classes")
        tiers = d.segment_summary(self.db, "value_tier", d.VALUE_TIERS)
        classes = [
            r
            for r in d.segment_summary(self.db, "rfm_class", d.RFM_CLASSES)
            if r["segment"] != "none"
        ]
        if not any(r["users"] for r in tiers + classes):
            return _empty(section, "The segment summary has no rows yet.")
        tiers_name = self.dataset("value_tiers", tiers)
        classes_name = self.dataset("rfm_classes", classes)
        section.blocks.append(
            self.chart(
                "chart-tiers",
                "Value tiers",
                "Buyers of the RFM window ranked by spend: vip is the top decile, mid deciles "
                "6-9, low the rest; none are prospects and lapsed buyers. Compare the users "
                "bar with the revenue bar.",
                charts.segment_bars(tiers_name, [r["segment"] for r in tiers], "value tier"),
                tiers_name,
            )
        )
        section.blocks.append(
            self.chart(
                "chart-classes",
                "The eight RFM classes",
                "Each buyer rated high or low on recency, frequency and spend against the "
                "average buyer: the four important classes spend above average, lost is low "
                "on all three.",
                charts.segment_bars(classes_name, [r["segment"] for r in classes], "RFM class"),
                classes_name,
            )
        )
        return section

    # 7 ------------------------------------------------------------------------------------------

    def playbook(self) -> Section:
        section = Section("playbook", "The playbook: who gets which play")
        stage_rows = d.playbook(self.db, "lifecycle_stage")
        if not stage_rows:
            return _empty(section, "dim_users has no users yet.")
        columns = [("segment", "stage", "words"), ("users", "users", "count")]
        columns.append(("share", "share", "share"))
        optional = [
            ("priority", "priority", "text"),
            ("action", "recommended action", "text"),
            ("channel", "channel", "text"),
        ]
        columns += [c for c in optional if c[0] in stage_rows[0]]
        section.blocks.append(
            Table(
                "By lifecycle stage (the play every user gets)",
                "One row per stage: how many users get its play now, and through which "
                "channel; priority 1 is the most urgent.",
                self.dataset("playbook_lifecycle", stage_rows),
                tuple(columns),
            )
        )
        for segment_type, title, aid in (
            (
                "rfm_segment",
                "By RFM segment (for campaigns built on RFM)",
                "The RFM segment's own play, for campaigns that target segments rather than "
                "stages.",
            ),
            (
                "intent_segment",
                "By predicted intent (for buyers with a prediction)",
                "Plays chosen from the predictions: who is about to buy, who is slipping away.",
            ),
        ):
            try:
                rows = d.playbook(self.db, segment_type)
            except MartUnavailable:
                continue
            if rows:
                section.blocks.append(
                    Table(
                        title,
                        aid,
                        self.dataset(f"playbook_{segment_type}", rows),
                        (
                            ("segment", "segment", "words"),
                            ("users", "users", "count"),
                            ("share", "share", "share"),
                            ("action", "recommended action", "text"),
                        ),
                    )
                )
        return section

    # predictions ------------------------------------------------------------------------------

    def predictions(self) -> Section | None:
        if not self.db.has("fct_customer_model_fits") and "p_alive" not in self.db.columns(
            "dim_users"
        ):
            return None
        section = Section("predictions", "Predictions: who is still a customer, and their value")
        fits = d.model_fits(self.db) if self.db.has("fct_customer_model_fits") else []
        self.dataset("model_fits", fits)
        if d.predicted_buyers(self.db) == 0:
            reasons = [
                f"{r['model']} ({r['purpose']}): {r.get('message') or 'not converged'}"
                for r in fits
                if not r["is_converged"]
            ]
            return _empty(
                section,
                "No predictions were made" + (": " + "; ".join(reasons) + "." if reasons else "."),
            )
        choice = d.model_choice(self.db)
        chosen = next((row for row in choice if row["is_chosen"]), None)
        if choice:
            section.blocks.append(
                Table(
                    "Which model: three models of repeat purchasing, back-tested",
                    "Each model, fitted as if it were the cut-off date, predicts every buyer's "
                    "purchase days in the holdout; the smallest mean error per buyer is chosen "
                    "for every prediction"
                    + (f": {chosen['model']}." if chosen else ": none converged."),
                    self.dataset("model_choice", choice),
                    (
                        ("model", "model", "text"),
                        ("back_test_error", "error per buyer", "decimal"),
                        ("predicted_purchase_days", "predicted", "count"),
                        ("actual_purchase_days", "actual", "count"),
                        ("log_likelihood", "log-likelihood", "count"),
                        ("choice", "choice", "text"),
                    ),
                )
            )
        one_time = (
            "one-time buyers always sit at 1, as the BG/NBD cannot tell them apart."
            if chosen is None or chosen["model"] == "bgnbd"
            else "one-time buyers can be gone too, as the chosen model lets them drop out."
        )
        alive = self.dataset("p_alive_bins", d.p_alive_bins(self.db))
        section.blocks.append(
            self.chart(
                "chart-p-alive",
                "Probability that a buyer is still a customer (p_alive)",
                "Buyers per band of p_alive: the left is likely gone, the right likely still "
                "buying; " + one_time,
                charts.histogram(alive, "p_alive", ".0%", "#4393c3"),
                alive,
            )
        )
        clv_rows = d.clv_bins(self.db)
        clv = self.dataset("clv_bins", clv_rows)
        section.blocks.append(
            self.chart(
                "chart-clv",
                "Predicted customer lifetime value (next 12 months)",
                "Buyers per band of predicted revenue over the next 360 days (discounted); "
                "the last bar also holds everyone above it (the top 1%).",
                charts.histogram(clv, "predicted CLV", ",.0f", "#1b7837"),
                clv,
            )
        )
        if self.db.has("rpt_prediction_calibration"):
            rows = d.calibration(self.db)
            predicted = [r for r in rows if r["predicted_purchase_days"] is not None]
            if predicted:
                name = self.dataset("calibration", rows)
                total = next((r for r in predicted if r["breakdown"] == "total"), None)
                summary = ""
                if total and total["actual_purchase_days"]:
                    error = total["predicted_purchase_days"] / total["actual_purchase_days"] - 1
                    summary = (
                        f" Over all {count(total['buyers'])} buyers: "
                        f"{count(total['predicted_purchase_days'])} predicted against "
                        f"{count(total['actual_purchase_days'])} actual ({error:+.0%})."
                    )
                groups = [
                    r["group_value"] for r in rows if r["breakdown"] == "repeat_purchase_days"
                ]
                holdout = f" the {rows[0]['holdout_days']} days after {day(rows[0]['cutoff_date'])}"
                if groups:
                    section.blocks.append(
                        self.chart(
                            "chart-calibration",
                            "Back-test: predicted against actual purchase days",
                            "Models fitted as if it were the cut-off date predict each group's "
                            f"purchase days in{holdout}; bars of equal height mean the "
                            "predictions held." + summary,
                            charts.calibration_bars(name, groups),
                            name,
                        )
                    )
                segment_rows = [r for r in predicted if r["breakdown"] == "rfm_segment"]
                if segment_rows:
                    top = max(
                        max(r["actual_purchase_days"], r["predicted_purchase_days"])
                        for r in segment_rows
                    )
                    section.blocks.append(
                        self.chart(
                            "chart-calibration-segments",
                            "Back-test by RFM segment",
                            "One dot per segment: on the dashed diagonal the prediction was "
                            "exact, above it buyers bought more than predicted, below it less.",
                            charts.calibration_scatter(name, top),
                            name,
                        )
                    )
        return section

    # outcomes ---------------------------------------------------------------------------------

    def plays(self) -> Section | None:
        if not self.db.has("rpt_play_outcomes"):
            return None
        section = Section("plays", "Play outcomes: did the plays work?")
        rows = d.play_outcomes(self.db)  # the lifecycle plays; audiences have their section
        if not rows:
            return _empty(section, "No play has a treated group with a holdout yet.")
        name = self.dataset("play_outcomes", rows)
        measured = [r for r in rows if r["lift_pp"] is not None]
        if measured:
            section.blocks.append(
                self.chart(
                    "chart-plays",
                    "Lift per play (treated against holdout, all cohorts)",
                    "Each line is a play's 95% interval for the extra conversion of treated "
                    "users over the holdout, in percentage points: wholly right of zero is a "
                    "proven lift, across zero is not yet distinguishable from none.",
                    charts.play_lift(name, [r["play_id"] for r in measured]),
                    name,
                )
            )
        else:
            section.blocks.append(Note("No play has a measurable lift yet.", "warning"))
        # said only where the Audiences section lists them (a publication with audiences)
        if (
            "segment_type" in self.db.columns("rpt_play_outcomes")
            and self.db.has("dim_audiences")
            and self.db.one("select 1 as found from marts.dim_audiences limit 1")
            and self.db.one(
                "select 1 as found from marts.rpt_play_outcomes"
                " where segment_type = 'audience' limit 1"
            )
        ):
            section.blocks.append(
                Note(
                    "The mart measures audiences the same way (plays named audience:<name>): "
                    "their lift is in the Audiences section, not here."
                )
            )
        rules = d.holdout_rules(self.db)
        if len(rules) > 1:
            earlier = "; ".join(
                f"up to {day(rule['until'])}: salt '{rule['salt']}', share {rule['share']:g}"
                for rule in rules[:-1]
            )
            section.blocks.append(
                Note(
                    f"The holdout rule changed. Entries keep the group they were drawn into: "
                    f"{earlier}; since then salt '{rules[-1]['salt']}', share "
                    f"{rules[-1]['share']:g} (docs/outcomes.md).",
                    "warning",
                )
            )
        section.blocks.append(
            Table(
                "Per play",
                "Entries sent the play against entries held out of it, and how many of each "
                "converted within the outcome window; a group too small makes the lift "
                "unreliable.",
                name,
                (
                    ("play_id", "play", "text"),
                    ("treated_users", "treated", "count"),
                    ("treated_rate", "conversion", "share"),
                    ("holdout_users", "held out", "count"),
                    ("holdout_rate", "conversion", "share"),
                    ("lift_pp", "lift (pp)", "pp"),
                    ("lift_ci_low_pp", "95% from", "pp"),
                    ("lift_ci_high_pp", "95% to", "pp"),
                    ("is_window_closed", "window closed", "bool"),
                    ("is_too_small", "too small", "bool"),
                ),
            )
        )
        return section

    def stage_outcomes(self) -> Section | None:
        if not self.db.has("rpt_stage_outcomes"):
            return None
        section = Section("stage-outcomes", "Stage outcomes: where each stage's users went")
        period, rows = d.stage_outcomes(self.db)
        if not rows:
            return _empty(section, "No period has outcomes yet.")
        name = self.dataset("stage_outcomes", rows)
        segments = d.order_of([r["segment"] for r in rows], (*d.LIFECYCLE_STAGES, *d.RFM_SEGMENTS))
        later = f" (at {day(period['next_period_end'])})" if period["next_period_end"] else ""
        section.blocks.append(
            self.chart(
                "chart-stage-outcomes",
                f"Users of each stage and segment at {day(period['period_end'])}, a period "
                f"later{later}",
                "Each bar splits the users of a stage or segment by where they were one period "
                "later: moved up, stayed, moved down or lost (churned, lapsed); a long red end "
                "is a group that leaks. A description, not proof that a play worked.",
                charts.stage_outcomes(name, segments),
                name,
            )
        )
        return section

    def cohorts(self) -> Section | None:
        if not self.db.has("rpt_cohort_retention"):
            return None
        section = Section("cohorts", "Cohort retention")
        rows = d.cohort_retention(self.db)
        if not rows:
            return _empty(section, "No cohort has been followed yet.")
        name = self.dataset("cohort_retention", rows)
        types = {r["cohort_type"] for r in rows}
        for cohort_type, share, title, aid in (
            (
                "first_activity",
                "active_share",
                "share active",
                "Each row is the users first seen in a month; each cell the share of them "
                "active so many months later (month 0 is everyone): darker is better, a row "
                "darker than those above is a cohort that stays better; the running month is "
                "paler.",
            ),
            (
                "first_purchase",
                "buying_share",
                "share buying",
                "Each row is the buyers whose first purchase fell in a month; each cell the "
                "share of them buying again so many months later (month 0 is everyone).",
            ),
        ):
            if cohort_type in types:
                later = [
                    r[share]
                    for r in rows
                    if r["cohort_type"] == cohort_type
                    and r["months_since"] > 0
                    and r[share] is not None
                ]
                section.blocks.append(
                    self.chart(
                        f"chart-cohorts-{cohort_type.replace('_', '-')}",
                        f"Cohorts by {words(cohort_type)}: {title}",
                        aid,
                        charts.cohort_heatmap(
                            name, cohort_type, share, title, top=max(later, default=0) or 1.0
                        ),
                        name,
                    )
                )
        return section

    # audiences --------------------------------------------------------------------------------

    def audiences(self) -> Section:
        section = Section("audiences", "Audiences: size, portrait and outcome")
        how = (
            "Define audiences in audiences/*.yml (docs/audiences.md): the next run builds them, "
            "and this section shows each one's size over time, portrait and outcome."
        )
        if not self.db.has("dim_audiences"):
            return _empty(section, f"This publication has no audiences yet. {how}")
        listed = d.audiences(self.db)
        if not listed:
            return _empty(section, f"No audience is defined. {how}")
        names = [row["audience_name"] for row in listed]
        warnings: list[str] = []

        try:
            sizes = d.audience_sizes(self.db)
        except MartUnavailable as missing:
            sizes = None
            warnings.append(f"Sizes: {missing}.")
        on_d = {row["audience_name"]: row for row in sizes or [] if row["is_as_of_date"]}

        outcomes: dict[str, Row] | None = None
        if self.db.has("rpt_play_outcomes"):
            try:
                outcomes = {row["play_id"]: row for row in d.play_outcomes(self.db, audiences=True)}
            except MartUnavailable as missing:
                warnings.append(f"Outcomes: {missing}.")
        else:
            warnings.append(
                "Outcomes: marts.rpt_play_outcomes is not in the serving database, so no "
                "audience's lift is measured."
            )

        rows: list[Row] = []
        for audience in listed:
            size = on_d.get(audience["audience_name"], {})
            outcome = (outcomes or {}).get(audience["play_id"], {})
            row = {
                **audience,
                "evaluated_on": size.get("evaluated_on"),
                "member_count": size.get("member_count"),
                "holdout_count": size.get("holdout_count"),
                "sendable_count": size.get("sendable_count"),
                "entered_count": size.get("entered_count"),
                "exited_count": size.get("exited_count"),
                **{
                    key: outcome.get(key)
                    for key in (
                        "treated_users",
                        "treated_rate",
                        "holdout_users",
                        "holdout_rate",
                        "lift_pp",
                        "lift_ci_low_pp",
                        "lift_ci_high_pp",
                        "is_too_small",
                    )
                },
            }
            row["outcome"] = audience_outcome(row, outcome if outcomes is not None else None)
            rows.append(row)
        table = self.dataset("audiences", rows)
        section.blocks.append(
            Table(
                f"The audiences on {day(self.as_of)}",
                "In the order they are defined (audiences/*.yml): members on the as-of date, "
                "the ones an export sends to and the ones held out of it, and the outcome: the "
                "extra conversion of the members sent to over the held-out ones, over every "
                "closed cohort of entries, in percentage points with its 95% interval.",
                table,
                (
                    ("audience_name", "audience", "text"),
                    ("audience_owner", "owner", "text"),
                    ("definition", "definition", "text"),
                    ("member_count", "members", "count"),
                    ("sendable_count", "sent to", "count"),
                    ("holdout_count", "held out", "count"),
                    ("outcome", "outcome", "text"),
                ),
            )
        )

        if sizes:
            name = self.dataset("audience_sizes", sizes)
            drawn = d.order_of([r["audience_name"] for r in sizes], names)
            section.blocks.append(
                self.chart(
                    "chart-audience-sizes",
                    "Size of each audience on every evaluation day",
                    "Members (blue) and the ones an export sends to (green: members less the "
                    "held-out) on the period ends before the as-of date D and on D (dashed); "
                    "each panel has its own scale. An audience that reads what is known on D "
                    "only (a prediction, a model) is evaluated on D alone: one point.",
                    charts.audience_sizes(name, [n for n in names if n in drawn]),
                    name,
                )
            )
        elif sizes is not None:
            section.blocks.append(Note("No audience has been evaluated yet.", "warning"))

        try:
            portraits = d.audience_portraits(self.db)
        except MartUnavailable as missing:
            portraits = None
            warnings.append(f"Portraits: {missing}.")
        if portraits:
            name = self.dataset("audience_portraits", portraits)
            drawn = {r["audience_name"] for r in portraits}
            dimensions = d.order_of([r["dimension"] for r in portraits], d.PORTRAIT_DIMENSIONS)
            empty = [n for n in names if n not in drawn]
            section.blocks.append(
                self.chart(
                    "chart-audience-portraits",
                    f"Who is in each audience on {day(self.as_of)}, against all users",
                    "Per dimension, the value most over-represented among the members (▲, "
                    "blue) and the one most under-represented (▼, red; among values at least "
                    f"{d.PORTRAIT_MIN_SHARE:.0%} of all users have), with the representation "
                    "index: the members' share over all users' share, 2 twice as common, 0 "
                    "absent. The tooltip gives the counts and shares."
                    + (f" Empty on that day, so no portrait: {', '.join(empty)}." if empty else ""),
                    charts.audience_portraits(name, [n for n in names if n in drawn], dimensions),
                    name,
                )
            )
        elif portraits is not None:
            section.blocks.append(Note("No audience has members on the as-of date: no portrait."))

        measured = [r for r in rows if r["lift_pp"] is not None]
        if measured:
            section.blocks.append(
                self.chart(
                    "chart-audience-lift",
                    "Lift per audience (sent to against held out, all closed cohorts)",
                    "Each line is an audience's 95% interval for the extra conversion (by its "
                    "goal: a purchase, or a return to activity) of the members sent to over the "
                    "held-out ones, in percentage points: wholly right of zero is a proven lift.",
                    charts.play_lift(
                        table, [r["audience_name"] for r in measured], "audience_name", "audience"
                    ),
                    table,
                )
            )
        section.blocks.extend(Note(text, "warning") for text in warnings)
        return section

    # 8 ------------------------------------------------------------------------------------------

    def quality(self) -> Section:
        section = Section("quality", "Data quality")
        rows = d.reconciliation(self.db)
        if not rows:
            return _empty(section, "The reconciliation has no rows yet.")
        section.blocks.append(
            Table(
                "Reconciliation: every raw row accounted for",
                "Raw rows = clean + superseded (older copies) + excluded (test accounts, "
                "anonymous visits) + quarantined (broken rows kept aside).",
                self.dataset("reconciliation", rows),
                (
                    ("source_table", "source", "text"),
                    ("raw_rows", "raw", "count"),
                    ("clean_rows", "clean", "count"),
                    ("superseded_rows", "superseded", "count"),
                    ("excluded_rows", "excluded", "count"),
                    ("quarantined_rows", "quarantined", "count"),
                    ("quarantined_share", "quarantined share", "share2"),
                    *(
                        [("clean_rows_after_as_of_date", "clean, dated after D", "count")]
                        if "clean_rows_after_as_of_date" in rows[0]
                        else []
                    ),
                ),
            )
        )
        try:
            reasons = d.quarantine_reasons(self.db)
        except MartUnavailable as missing:
            section.blocks.append(Note(f"Quarantine reasons: {missing}.", "warning"))
            reasons = None
        if reasons:
            name = self.dataset("quarantine_reasons", reasons)
            section.blocks.append(
                self.chart(
                    "chart-quarantine",
                    "Top reasons rows were quarantined",
                    "The most frequent problems in the raw data, longest bar first: fix them "
                    "at the source (docs/data_quality.md says how for each reason).",
                    charts.quarantine_reasons(
                        name, [(r["source_table"], r["reason_code"]) for r in reasons]
                    ),
                    name,
                )
            )
        elif reasons is not None:
            section.blocks.append(Note("No row was quarantined."))
        section.blocks.extend(
            Note(row["message"], "info")
            for row in d.data_notes(self.db)
            if row["note_code"] == "rows_after_as_of_date"
        )
        gaps = d.purchase_gaps(self.db)
        if gaps and gaps["repeat_gaps"]:
            source = "auto" if gaps["thresholds_source"] == "auto" else "vars"
            section.blocks.append(
                Note(
                    f"Purchase rhythm: a customer's next purchase day came a median "
                    f"{gaps['gap_days_p50']:g} days after the one before, 90% within "
                    f"{gaps['gap_days_p90']:g} and 95% within {gaps['gap_days_p95']:g} days "
                    f"({count(gaps['repeat_gaps'])} gaps). Thresholds in use "
                    f"({source}): dormant after {gaps['dormant_after_days']} days, churned after "
                    f"{gaps['churn_after_days']}; the rhythm suggests "
                    f"{gaps['suggested_dormant_after_days']} and "
                    f"{gaps['suggested_churn_after_days']} (docs/segments.md)."
                )
            )
        return section


def audience_outcome(row: Row, outcome: Row | None) -> str | None:
    """An audience's outcome in words, from its ``all`` treated row of rpt_play_outcomes
    (``outcome``: empty when it has none; None when outcomes are not measured at all)."""
    if outcome is None:
        return None
    if not outcome:
        if row.get("has_history") is False:
            return "not measured: evaluated on the as-of date only, so no entry day is known"
        return "no closed cohort yet (no entry's outcome window has closed)"
    sent = f"{count(row['treated_users'])} sent"
    if row["holdout_users"] is None:
        return f"no holdout yet: {sent}, none held out"
    groups = f"{sent}, {count(row['holdout_users'])} held out"
    if row["is_too_small"]:
        return f"too few to read yet: {groups}"
    low, high = row["lift_ci_low_pp"], row["lift_ci_high_pp"]
    if row["lift_pp"] is None or low is None or high is None:
        return f"no lift measured: {groups}"
    reading = "a lift" if low > 0 else ("worse than holding out" if high < 0 else "no clear effect")
    return f"{row['lift_pp']:+.2f} pp (95%: {low:+.2f} to {high:+.2f}), {reading}; {groups}"


def _unavailable(section: Section, reason: str) -> Section:
    section.shown = False
    section.blocks = [Note(f"Not available: {reason}", "warning")]
    return section


def _empty(section: Section, reason: str) -> Section:
    section.shown = False
    section.blocks = [Note(f"Nothing to show: {reason[:1].lower()}{reason[1:]}", "warning")]
    return section


def _guarded(builder: Callable[[], Section | None], key: str, title: str) -> Section | None:
    """Run one section's builder; a missing or unreadable mart becomes a sentence, not a crash.

    Any other error is logged with its traceback and also becomes a sentence: one section that
    cannot be drawn must not cost the reader the other twelve (the tests check that every
    section of a real build is shown, so such an error cannot pass unnoticed there).
    """
    try:
        return builder()
    except MartUnavailable as missing:
        return _unavailable(Section(key, title), f"{missing}.")
    except duckdb.Error as error:
        log.warning("report section %s could not be read: %s", key, error)
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
        return _unavailable(Section(key, title), f"the marts could not be read ({first_line}).")
    except Exception as error:
        log.exception("report section %s could not be drawn", key)
        return _unavailable(
            Section(key, title), f"this section could not be drawn ({type(error).__name__})."
        )


def collect(db: Serving, meta: Row) -> Report:
    """Every section of the report, in order, with the datasets they read."""
    builder = _Builder(db, meta)
    plan: list[tuple[Callable[[], Section | None], str, str]] = [
        (builder.headline, "headline", "Headline figures"),
        (builder.stages, "stages", "Users per lifecycle stage over time"),
        (builder.rfm, "rfm", "The RFM grid"),
        (builder.flows, "flows", "Movements over the last period"),
        (builder.growth, "growth", "Growth accounting and active users"),
        (builder.tiers, "tiers", "Value tiers and RFM classes"),
        (builder.playbook, "playbook", "The playbook: who gets which play"),
        (builder.predictions, "predictions", "Predictions"),
        (builder.plays, "plays", "Play outcomes"),
        (builder.stage_outcomes, "stage-outcomes", "Stage outcomes"),
        (builder.cohorts, "cohorts", "Cohort retention"),
        (builder.audiences, "audiences", "Audiences"),
        (builder.quality, "quality", "Data quality"),
    ]
    sections = [s for s in (_guarded(*step) for step in plan) if s is not None]
    return Report(meta=meta, sections=sections, datasets=builder.datasets)
