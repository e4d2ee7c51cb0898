"""The report's figures: small SQL aggregates over the published marts, read-only.

Every function here takes a :class:`Serving` (one read-only DuckDB connection to the serving
file) and returns plain rows (``list[dict]``) that go into the page as they are. The aggregation
happens in DuckDB, so the page holds a few hundred rows whatever the number of users: nothing here
ever returns one row per user.

A function raises :class:`MartUnavailable` when a mart it needs is missing or lacks a column (an
older warehouse, a shop without sessions); the report then says so in that section. An empty mart
is not an error: the function returns no rows and the section says there is nothing to show.
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb

from strata.sql_text import literal

__all__ = [
    "MartUnavailable",
    "Row",
    "Serving",
]

Row = dict[str, Any]

# Stage and segment names in the order a reader expects them (best first, or the order of the
# rules in docs/segments.md). Names not listed here (a renamed segment) follow, alphabetically.
LIFECYCLE_STAGES = ("new", "active", "loyal", "reactivated", "at_risk", "dormant", "churned")
RFM_SEGMENTS = (
    "champions",
    "loyal_customers",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "at_risk",
    "cant_lose_them",
    "hibernating",
    "lapsed",
    "prospect",
)
RFM_CLASSES = (
    "important_value",
    "important_development",
    "important_retention",
    "important_winback",
    "potential",
    "new",
    "pre_churn",
    "lost",
)
VALUE_TIERS = ("vip", "mid", "low", "none")
INTENT_SEGMENTS = ("high_value_at_risk", "likely_to_buy", "slipping_away", "steady")
# The dimensions of rpt_audience_portraits, in the order the portrait shows them.
PORTRAIT_DIMENSIONS = (
    "lifecycle_stage",
    "rfm_segment",
    "value_tier",
    "platform",
    "clv_band",
    "intent_segment",
)
# A value held by fewer than this share of all users is not named as an audience's most
# under-represented one: a value almost nobody has is absent from most audiences by chance.
PORTRAIT_MIN_SHARE = 0.05


class MartUnavailable(Exception):
    """A mart (or a column of it) that a section needs is not in the serving file."""


def _plain(value: Any) -> Any:
    """A value as JSON carries it: money as float, dates as ISO text, NaN as null."""
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class Serving:
    """One read-only connection to a serving DuckDB file, with the checks the sections need."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con
        # the marts are views of the version's Parquet files, or tables (setting serving_copies)
        rows = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'serving'"
            " union all select schema_name, view_name from duckdb_views()"
            " where database_name = 'serving' and not internal"
        ).fetchall()
        self._tables = {f"{schema}.{name}" for schema, name in rows}
        self._columns: dict[str, set[str]] = {}

    @classmethod
    @contextmanager
    def open(cls, path: Path) -> Iterator[Serving]:
        """Attach ``path`` read-only to a fresh in-memory database and yield a reader.

        Attaching (rather than ``duckdb.connect(path)``) sidesteps DuckDB's per-process cache of
        database instances: a process that holds the serving file open (publish, a BI tool in the
        same process) would otherwise hand back its cached, possibly older, instance, or refuse a
        read-only connection beside its read-write one. File access is switched off afterwards,
        but for the serving folder's published versions, whose Parquet files the marts' views
        read: the report can read nothing but the marts.
        """
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"serving database {path} does not exist")
        con = duckdb.connect(":memory:")
        try:
            con.execute(f"attach {literal(path)} as serving (read_only)")
            con.execute("use serving")
            # a folder with its trailing slash, as DuckDB's allowed_directories wants it
            versions = literal(f"{path.resolve().parent / 'versions'}/")
            con.execute(f"set allowed_directories = [{versions}]")
            con.execute("set enable_external_access = false")
            yield cls(con)
        finally:
            con.close()

    # --- what is there -------------------------------------------------------------------------

    def has(self, table: str) -> bool:
        """Whether ``schema.table`` exists (``marts.`` is assumed without a schema)."""
        return _qualified(table) in self._tables

    def columns(self, table: str) -> set[str]:
        """The column names of ``table`` (empty when it does not exist)."""
        name = _qualified(table)
        if name not in self._columns:
            if name not in self._tables:
                return set()
            schema, table_name = name.split(".", 1)
            rows = self.con.execute(
                "select column_name from duckdb_columns()"
                " where database_name = 'serving' and schema_name = ? and table_name = ?",
                [schema, table_name],
            ).fetchall()
            self._columns[name] = {row[0] for row in rows}
        return self._columns[name]

    def require(self, table: str, columns: Sequence[str] = ()) -> None:
        """Raise MartUnavailable unless ``table`` exists with every one of ``columns``."""
        name = _qualified(table)
        if name not in self._tables:
            raise MartUnavailable(f"{name} is not in the serving database")
        missing = [column for column in columns if column not in self.columns(name)]
        if missing:
            raise MartUnavailable(f"{name} has no column {', '.join(missing)}")

    def pick(self, table: str, *names: str) -> str:
        """The first of ``names`` that is a column of ``table`` (a mart renamed a column since
        the report was written); MartUnavailable when none is."""
        self.require(table)
        found = next((name for name in names if name in self.columns(table)), None)
        if found is None:
            raise MartUnavailable(f"{_qualified(table)} has no column {' or '.join(names)}")
        return found

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run ``sql`` and return its rows as dicts of JSON-ready values."""
        cursor = self.con.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        return [
            {name: _plain(value) for name, value in zip(names, row, strict=True)}
            for row in cursor.fetchall()
        ]

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        """The first row of ``sql``, or None."""
        found = self.rows(sql, params)
        return found[0] if found else None


def _qualified(table: str) -> str:
    return table if "." in table else f"marts.{table}"


def order_of(values: Sequence[str], preferred: Sequence[str]) -> list[str]:
    """``values`` in the ``preferred`` order, the ones it does not list after them, sorted."""
    present = set(values)
    return [v for v in preferred if v in present] + sorted(present - set(preferred))


# --- what the report is about ------------------------------------------------------------------


def publication(db: Serving) -> Row:
    """Version, publication time, build id and as-of date of the serving file.

    Read from ``strata_meta.publication`` (publish writes it); the as-of date falls back to
    ``dim_users`` for a copy without it. Values that cannot be found are None.
    """
    found: Row = {"version": None, "published_at": None, "build_id": None, "as_of_date": None}
    if db.has("strata_meta.publication"):
        columns = db.columns("strata_meta.publication")
        wanted = [c for c in ("version", "published_at", "build_id", "as_of_date") if c in columns]
        if wanted:
            row = db.one(
                f"select {', '.join(f'max({c}) as {c}' for c in wanted)}"
                " from strata_meta.publication"
            )
            found.update(row or {})
    if found["as_of_date"] is None and "as_of_date" in db.columns("dim_users"):
        row = db.one("select max(as_of_date) as as_of_date from marts.dim_users")
        found["as_of_date"] = (row or {}).get("as_of_date")
    return found


def holdout_rules(db: Serving) -> list[Row]:
    """The holdout rules the published groups were drawn by (strata_meta.holdout_rules, written
    by publish): earlier rules with the last day they applied (`until`), then the current one
    (`until` null). Empty for a serving file without them."""
    if not db.has("strata_meta.holdout_rules"):
        return []
    return db.rows(
        "select salt, share, until from strata_meta.holdout_rules order by until nulls last"
    )


# --- 1. headline figures -----------------------------------------------------------------------


def latest_months(db: Serving) -> list[Row]:
    """The last two monthly rows of growth accounting (the running month last)."""
    db.require(
        "rpt_growth_accounting",
        ["grain", "period_start", "period_end", "is_complete", "active_users", "new_users"],
    )
    rows = db.rows(
        "select * from marts.rpt_growth_accounting where grain = 'month'"
        " order by period_start desc limit 2"
    )
    return list(reversed(rows))


def user_totals(db: Serving) -> Row:
    """Users, users per lifecycle stage, and revenue of the last 30 and 31-90 days, as of D."""
    db.require("dim_users", ["lifecycle_stage"])
    columns = db.columns("dim_users")
    revenue = (
        ", sum(revenue_30d) as revenue_30d, sum(revenue_90d) - sum(revenue_30d) as revenue_31_90d"
        if {"revenue_30d", "revenue_90d"} <= columns
        else ""
    )
    totals = db.one(f"select count(*) as users{revenue} from marts.dim_users") or {}
    totals["stages"] = {
        row["stage"]: row["users"]
        for row in db.rows(
            "select lifecycle_stage as stage, count(*) as users from marts.dim_users group by 1"
        )
    }
    return totals


def stages_at_previous_month_end(db: Serving, as_of: str | None) -> Row | None:
    """Users per lifecycle stage at the last month end before D, from the movements mart.

    None when there is no such month end (a first month, or no movements mart).
    """
    if not db.has("rpt_segment_transitions"):
        return None
    row = db.one(
        "select max(period_end) as period_end from marts.rpt_segment_transitions"
        " where grain = 'month' and segment_type = 'lifecycle_stage'"
        " and (cast(? as date) is null or period_end < cast(? as date))",
        [as_of, as_of],
    )
    if not row or row["period_end"] is None:
        return None
    stages = db.rows(
        "select to_segment as stage, sum(user_count) as users"
        " from marts.rpt_segment_transitions"
        " where grain = 'month' and segment_type = 'lifecycle_stage' and period_end = ?"
        " group by 1",
        [row["period_end"]],
    )
    return {
        "period_end": row["period_end"],
        "users": sum(stage["users"] for stage in stages),
        "stages": {stage["stage"]: stage["users"] for stage in stages},
    }


# --- 2. and 4. lifecycle stages over time, and movements -------------------------------------


def transition_grain(db: Serving, segment_type: str) -> str | None:
    """The grain of the movements mart for ``segment_type``: month if built, else week."""
    db.require(
        "rpt_segment_transitions",
        ["grain", "period_end", "segment_type", "from_segment", "to_segment", "user_count"],
    )
    grains = {
        row["grain"]
        for row in db.rows(
            "select distinct grain from marts.rpt_segment_transitions where segment_type = ?",
            [segment_type],
        )
    }
    for grain in ("month", "week"):
        if grain in grains:
            return grain
    return min(grains) if grains else None


def stages_over_time(db: Serving, grain: str) -> list[Row]:
    """Users per lifecycle stage at each period end (a user is counted where they ended)."""
    return db.rows(
        "select period_end, to_segment as stage, sum(user_count) as users"
        " from marts.rpt_segment_transitions"
        " where segment_type = 'lifecycle_stage' and grain = ?"
        " group by all order by period_end, stage",
        [grain],
    )


def latest_flows(db: Serving, segment_type: str, grain: str) -> tuple[Row, list[Row]]:
    """Movements of the last period: ({period_start, period_end}, rows of from, to, users).

    ``period_start`` is the previous period end (where the "from" stage was taken); ``none`` as
    ``from_segment`` means the user did not exist yet then.
    """
    ends = db.rows(
        "select distinct period_end from marts.rpt_segment_transitions"
        " where segment_type = ? and grain = ? order by period_end desc limit 2",
        [segment_type, grain],
    )
    if not ends:
        return {"period_start": None, "period_end": None}, []
    period = {
        "period_end": ends[0]["period_end"],
        "period_start": ends[1]["period_end"] if len(ends) > 1 else None,
    }
    rows = db.rows(
        "select from_segment, to_segment, sum(user_count) as users"
        " from marts.rpt_segment_transitions"
        " where segment_type = ? and grain = ? and period_end = ?"
        " group by all order by users desc, from_segment, to_segment",
        [segment_type, grain, period["period_end"]],
    )
    return period, rows


# --- 3. the RFM grid ---------------------------------------------------------------------------


def rfm_grid(db: Serving) -> list[Row]:
    """Per scored (R, F) cell: its segment, users and their spend in the RFM window."""
    db.require("dim_users", ["r_score", "f_score", "rfm_segment", "monetary"])
    return db.rows(
        "select r_score, f_score, rfm_segment as segment, count(*) as users,"
        " sum(monetary) as revenue"
        " from marts.dim_users where r_score is not null and f_score is not null"
        " group by all order by r_score desc, f_score, segment"
    )


def outside_grid(db: Serving) -> list[Row]:
    """Users without R and F scores, per segment (prospects and lapsed buyers)."""
    db.require("dim_users", ["r_score", "f_score", "rfm_segment"])
    return db.rows(
        "select rfm_segment as segment, count(*) as users from marts.dim_users"
        " where r_score is null or f_score is null group by 1 order by users desc, segment"
    )


# --- 5. growth accounting ----------------------------------------------------------------------


GROWTH_COLUMNS = (
    "period_start",
    "period_end",
    "is_complete",
    "active_users",
    "new_users",
    "retained_users",
    "resurrected_users",
    "churned_users",
    "net_change",
    "quick_ratio",
    "measured_on",
    "daily_active_users",
    "weekly_active_users",
    "monthly_active_users",
    "stickiness",
)
# What each month is compared with (issue 24); optional, for a warehouse built before them.
COMPARISON_COLUMNS = (
    "days_measured",
    "comparison_period_start",
    "comparison_measured_on",
    "comparison_new_users",
    "comparison_churned_users",
    "comparison_quick_ratio",
)


def growth(db: Serving) -> list[Row]:
    """Monthly growth accounting, DAU/WAU/MAU and stickiness, oldest month first, with what each
    month is compared with when the mart has it (COMPARISON_COLUMNS)."""
    db.require("rpt_growth_accounting", ["grain", *GROWTH_COLUMNS])
    present = db.columns("rpt_growth_accounting")
    columns = [*GROWTH_COLUMNS, *(c for c in COMPARISON_COLUMNS if c in present)]
    return db.rows(
        f"select {', '.join(columns)} from marts.rpt_growth_accounting"
        " where grain = 'month' order by period_start"
    )


# --- 6. value tiers and RFM classes ------------------------------------------------------------


def segment_summary(db: Serving, segment_type: str, known: Sequence[str]) -> list[Row]:
    """Users, buyers and revenue per segment of ``segment_type``, from rpt_segment_summary.

    Every segment in ``known`` gets a row, with zeros when nobody is in it (the chart shows all
    eight classes); other segments present in the mart follow.
    """
    db.require(
        "rpt_segment_summary",
        ["segment_type", "segment", "user_count", "user_share", "buyer_count", "revenue_in_window"],
    )
    rows = db.rows(
        "select segment, user_count as users, user_share, buyer_count as buyers,"
        " revenue_in_window as revenue from marts.rpt_segment_summary"
        " where segment_type = ?",
        [segment_type],
    )
    by_segment = {row["segment"]: row for row in rows}
    ordered = order_of(list(by_segment) + list(known), known)
    return [
        by_segment.get(
            segment,
            {"segment": segment, "users": 0, "user_share": 0.0, "buyers": 0, "revenue": 0.0},
        )
        for segment in ordered
    ]


# --- 7. the playbook ---------------------------------------------------------------------------


def playbook(db: Serving, segment_type: str) -> list[Row]:
    """The play each user gets, grouped: segment, users, share, priority, action, channel.

    ``lifecycle_stage`` gives the play dim_users assigns (recommended_action, its objective,
    channel and priority); ``rfm_segment`` the RFM-segment play (``rfm_segment_action``);
    ``intent_segment`` the prediction-based play (``intent_action``).
    """
    if segment_type == "lifecycle_stage":
        wanted = {
            "action_priority": "priority",
            "recommended_action": "action",
            "action_objective": "objective",
            "action_channel": "channel",
        }
        db.require("dim_users", ["lifecycle_stage", "recommended_action"])
    elif segment_type == "rfm_segment":
        wanted = {"rfm_segment_action": "action"}
        db.require("dim_users", ["rfm_segment", "rfm_segment_action"])
    elif segment_type == "intent_segment":
        wanted = {"intent_action": "action"}
        db.require("dim_users", ["intent_segment", "intent_action"])
    else:
        raise ValueError(f"no play for segment type {segment_type!r}")
    columns = db.columns("dim_users")
    extra = [f"{column} as {alias}" for column, alias in wanted.items() if column in columns]
    order = "priority, " if "action_priority" in columns and "priority" in wanted.values() else ""
    return db.rows(
        f"select {segment_type} as segment, {', '.join(extra)}, count(*) as users,"
        " count(*) / sum(count(*)) over () as share"
        f" from marts.dim_users where {segment_type} is not null"
        f" group by all order by {order}users desc, segment"
    )


# --- 8. data quality ---------------------------------------------------------------------------


def reconciliation(db: Serving) -> list[Row]:
    """Raw rows against clean, superseded, excluded and quarantined rows, per source table, and
    the clean rows dated after D (when the mart has them)."""
    columns = [
        "source_table",
        "raw_rows",
        "clean_rows",
        "superseded_rows",
        "excluded_rows",
        "quarantined_rows",
        "quarantined_share",
    ]
    db.require("rpt_source_reconciliation", columns)
    if "clean_rows_after_as_of_date" in db.columns("rpt_source_reconciliation"):
        columns.append("clean_rows_after_as_of_date")
    return db.rows(
        f"select {', '.join(columns)} from marts.rpt_source_reconciliation order by source_table"
    )


def quarantine_reasons(db: Serving, limit: int = 10) -> list[Row]:
    """The most frequent reasons rows were quarantined (rows with none are left out)."""
    db.require("rpt_row_reasons", ["source_table", "row_disposition", "reason_code", "row_count"])
    has_text = {"description", "how_to_fix"} <= db.columns("rpt_row_reasons")
    text = ", description, how_to_fix" if has_text else ""
    return db.rows(
        f"select source_table, reason_code, row_count{text} from marts.rpt_row_reasons"
        " where row_disposition = 'quarantined' and row_count > 0"
        " order by row_count desc, source_table, reason_code limit ?",
        [limit],
    )


def data_notes(db: Serving) -> list[Row]:
    """rpt_data_notes: what to know to read the numbers, worded once (warnings first)."""
    if not db.has("rpt_data_notes"):
        return []
    return db.rows(
        "select note_code, severity, subject, message from marts.rpt_data_notes"
        " order by severity = 'warning' desc, note_code, subject"
    )


def purchase_gaps(db: Serving) -> Row | None:
    """The purchase rhythm and the lifecycle thresholds in use, from rpt_purchase_gaps."""
    wanted = [
        "repeat_gaps",
        "gap_days_p50",
        "gap_days_p90",
        "gap_days_p95",
        "thresholds_source",
        "dormant_after_days",
        "churn_after_days",
        "suggested_dormant_after_days",
        "suggested_churn_after_days",
    ]
    if not db.has("rpt_purchase_gaps") or not set(wanted) <= db.columns("rpt_purchase_gaps"):
        return None
    return db.one(f"select {', '.join(wanted)} from marts.rpt_purchase_gaps limit 1")


# --- predictions -------------------------------------------------------------------------------


def model_fits(db: Serving) -> list[Row]:
    """Which customer models were fitted (current and calibration) and, if not, why not."""
    db.require("fct_customer_model_fits", ["purpose", "model", "is_converged"])
    message = ", message" if "message" in db.columns("fct_customer_model_fits") else ""
    return db.rows(
        f"select purpose, model, is_converged{message} from marts.fct_customer_model_fits"
        " order by purpose desc, model"
    )


def model_choice(db: Serving) -> list[Row]:
    """The repeat-purchase models side by side: back-test error, predicted and actual holdout
    purchase days, log-likelihood as of D, and which is chosen (empty for an older mart)."""
    wanted = {"is_chosen", "choice", "holdout_mean_absolute_error"}
    if not db.has("fct_customer_model_fits") or not wanted <= db.columns("fct_customer_model_fits"):
        return []
    return db.rows(
        "select calibration.model, calibration.holdout_mean_absolute_error as back_test_error,"
        " calibration.holdout_predicted_purchase_days as predicted_purchase_days,"
        " calibration.holdout_actual_purchase_days as actual_purchase_days,"
        " current_fit.log_likelihood, current_fit.is_converged, current_fit.is_chosen,"
        " current_fit.choice"
        " from marts.fct_customer_model_fits as calibration"
        " inner join marts.fct_customer_model_fits as current_fit"
        "   on calibration.model = current_fit.model and current_fit.purpose = 'current'"
        " where calibration.purpose = 'calibration' and calibration.model <> 'gamma_gamma'"
        " order by current_fit.is_chosen desc, calibration.holdout_mean_absolute_error nulls last"
    )


def predicted_buyers(db: Serving) -> int:
    """How many users have a p_alive (0 when the models were not fitted)."""
    db.require("dim_users", ["p_alive", "predicted_clv"])
    row = db.one("select count(p_alive) as buyers from marts.dim_users")
    return int((row or {}).get("buyers") or 0)


def p_alive_bins(db: Serving, bins: int = 20) -> list[Row]:
    """Buyers per p_alive bin of width 1/``bins`` (1.0 goes into the last bin)."""
    return db.rows(
        "with binned as ("
        " select least(floor(p_alive * ?), ? - 1) as bin, count(*) as buyers"
        " from marts.dim_users where p_alive is not null group by 1)"
        " select bin / ? as bin_start, (bin + 1) / ? as bin_end, false as open_ended, buyers"
        " from binned order by bin_start",
        [bins, bins, bins, bins],
    )


def nice_step(span: float, bins: int) -> float:
    """A round bin width (1, 2, 2.5 or 5 times a power of ten) giving about ``bins`` bins."""
    if not span or span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / bins
    power = 10 ** math.floor(math.log10(raw))
    return next(step * power for step in (1, 2, 2.5, 5, 10) if step * power >= raw)


def clv_bins(db: Serving, bins: int = 20) -> list[Row]:
    """Buyers and their total predicted CLV per CLV bin.

    Bins are round widths up to the 99th percentile; the last bin is open-ended (``open_ended``)
    so that a few very large customers do not squeeze everyone else into one bar.
    """
    top = db.one(
        "select quantile_cont(predicted_clv, 0.99) as p99, max(predicted_clv) as top"
        " from marts.dim_users where predicted_clv is not null"
    )
    if not top or top["top"] is None:
        return []
    step = nice_step(top["p99"] or top["top"], bins)
    rows = db.rows(
        "with binned as ("
        " select least(floor(greatest(predicted_clv, 0) / ?), ?) as bin, count(*) as buyers,"
        " sum(predicted_clv) as predicted_clv from marts.dim_users"
        " where predicted_clv is not null group by 1)"
        " select bin * ? as bin_start, (bin + 1) * ? as bin_end, bin = ? as open_ended,"
        " buyers, predicted_clv from binned order by bin_start",
        [step, bins, step, step, bins],
    )
    return rows


def calibration(db: Serving) -> list[Row]:
    """The back-test: actual against predicted purchase days per group of buyers."""
    columns = [
        "breakdown",
        "group_value",
        "group_order",
        "buyers",
        "actual_purchase_days",
        "predicted_purchase_days",
        "cutoff_date",
        "holdout_days",
    ]
    db.require("rpt_prediction_calibration", columns)
    return db.rows(
        f"select {', '.join(columns)} from marts.rpt_prediction_calibration"
        " order by breakdown, group_order, group_value"
    )


# --- outcome marts (shown when they exist) -----------------------------------------------------
#
# Their column names follow models/marts/outcomes (user_count, period_end, months_since_cohort);
# the names first announced for them (users, month_end, months_since) are read as well.


def play_outcomes(db: Serving, *, audiences: bool = False) -> list[Row]:
    """Per play, over all closed cohorts (``cohort_grain = 'all'``): treated against holdout,
    and the lift with its 95% interval.

    The mart measures audiences as plays too (``segment_type = 'audience'``, play
    ``audience:<name>``): they are left out, or with ``audiences`` the only rows returned (none
    from a mart without ``segment_type``, which predates audiences). The group sizes are entries
    (``entry_count``: a user who entered twice counts twice, as the conversion rate does) where
    the mart has them, else users.
    """
    table = "rpt_play_outcomes"
    db.require(
        table,
        [
            "play_id",
            "cohort_grain",
            "group_name",
            "conversion_rate",
            "lift_pp",
            "lift_ci_low_pp",
            "lift_ci_high_pp",
        ],
    )
    size = db.pick(table, "entry_count", "user_count", "users")
    columns = db.columns(table)

    def optional(side: str, alias: str, *names: str) -> str:
        found = next((name for name in names if name in columns), None)
        return f"{side}.{found} as {alias}" if found else f"null as {alias}"

    same_cohort = (
        " and h.cohort_start is not distinct from t.cohort_start"
        if "cohort_start" in columns
        else ""
    )
    if "segment_type" in columns:
        kind = (
            " and t.segment_type = 'audience'"
            if audiences
            else " and t.segment_type is distinct from 'audience'"
        )
    elif audiences:
        return []
    else:
        kind = ""
    selected = ", ".join(
        [
            "t.play_id",
            optional("t", "segment_type", "segment_type"),
            optional("t", "segment", "segment"),
            f"t.{size} as treated_users",
            optional("t", "treated_converted", "converted_count", "converted_users"),
            "t.conversion_rate as treated_rate",
            f"h.{size} as holdout_users",
            optional("h", "holdout_converted", "converted_count", "converted_users"),
            "h.conversion_rate as holdout_rate",
            "t.lift_pp",
            "t.lift_ci_low_pp",
            "t.lift_ci_high_pp",
            optional("t", "is_window_closed", "is_window_closed"),
            optional("t", "is_too_small", "is_too_small"),
        ]
    )
    return db.rows(
        f"select {selected} from marts.{table} as t"
        f" left join marts.{table} as h"
        "   on h.play_id = t.play_id and h.cohort_grain = t.cohort_grain"
        f"   and h.group_name = 'holdout'{same_cohort}"
        f" where t.group_name = 'treated' and t.cohort_grain = 'all'{kind}"
        " order by t.play_id"
    )


def stage_outcomes(db: Serving) -> tuple[Row, list[Row]]:
    """Where the users of each stage and segment at the latest period end M stood at the next
    one: ({period_end, next_period_end}, rows of segment_type, segment, users and the shares)."""
    table = "rpt_stage_outcomes"
    period = db.pick(table, "period_end", "month_end")
    users = db.pick(table, "user_count", "users")
    shares = ["retained_share", "moved_up_share", "moved_down_share", "churned_share"]
    db.require(table, ["segment_type", "segment", *shares])
    columns = db.columns(table)
    # Monthly rows when the mart has several grains (var rfm_snapshot_grain).
    where = "where grain = 'month'" if "grain" in columns else ""
    if where and not db.one(f"select 1 as found from marts.{table} {where} limit 1"):
        where = ""
    latest = db.one(f"select max({period}) as period_end from marts.{table} {where}")
    period_end = (latest or {}).get("period_end")
    if period_end is None:
        return {"period_end": None, "next_period_end": None}, []
    condition = f"{where + ' and' if where else 'where'} {period} = ?"
    following = "next_period_end" if "next_period_end" in columns else "null"
    rows = db.rows(
        f"select segment_type, segment, {users} as users, {', '.join(shares)},"
        f" {following} as next_period_end from marts.{table} {condition}"
        " order by segment_type, segment",
        [period_end],
    )
    return {"period_end": period_end, "next_period_end": rows[0]["next_period_end"]}, rows


def cohort_retention(db: Serving, cohorts: int = 24, months: int = 24) -> list[Row]:
    """The last ``cohorts`` monthly cohorts of each type, up to ``months`` months on."""
    table = "rpt_cohort_retention"
    since = db.pick(table, "months_since_cohort", "months_since")
    db.require(
        table,
        ["cohort_type", "cohort_month", "cohort_users", "active_share", "buying_share"],
    )
    columns = db.columns(table)
    complete = "r.is_complete_month" if "is_complete_month" in columns else "true"
    revenue = "r.revenue_per_cohort_user" if "revenue_per_cohort_user" in columns else "null"
    return db.rows(
        "with recent as ("
        " select cohort_type, cohort_month,"
        "  dense_rank() over (partition by cohort_type order by cohort_month desc) as age"
        f" from (select distinct cohort_type, cohort_month from marts.{table}))"
        f" select r.cohort_type, r.cohort_month, r.{since} as months_since, r.cohort_users,"
        f" r.active_share, r.buying_share, {revenue} as revenue_per_cohort_user,"
        f" {complete} as is_complete_month"
        f" from marts.{table} as r join recent using (cohort_type, cohort_month)"
        f" where recent.age <= ? and r.{since} <= ?"
        " order by r.cohort_type, r.cohort_month, months_since",
        [cohorts, months],
    )


# --- audiences (docs/audiences.md) -------------------------------------------------------------


def audiences(db: Serving) -> list[Row]:
    """dim_audiences in definition order: name, kind, owner, description, definition, goal,
    whether it has a history, and its play id in rpt_play_outcomes. Empty when no audience is
    defined; MartUnavailable when the mart is missing (a warehouse built before audiences)."""
    table = "dim_audiences"
    db.require(table, ["audience_name"])
    columns = db.columns(table)

    def optional(alias: str, *names: str, default: str = "null") -> str:
        found = next((name for name in names if name in columns), None)
        return f"{found} as {alias}" if found else f"{default} as {alias}"

    selected = ", ".join(
        [
            "audience_name",
            optional("audience_kind", "audience_kind", "kind"),
            optional("audience_owner", "audience_owner", "owner"),
            optional("description", "description"),
            optional("definition", "definition"),
            optional("conversion_goal", "conversion_goal", "goal"),
            optional("has_history", "has_history"),
            optional("definition_order", "definition_order"),
            optional("play_id", "play_id", default="'audience:' || audience_name"),
        ]
    )
    order = "definition_order nulls last, " if "definition_order" in columns else ""
    return db.rows(f"select {selected} from marts.{table} order by {order}audience_name")


def audience_sizes(db: Serving) -> list[Row]:
    """rpt_audience_sizes: each audience's members, held-out and sent-to users on every day it
    is evaluated on (D and the period ends before it), with the entries and exits since the
    evaluation day before; oldest day first."""
    table = "rpt_audience_sizes"
    wanted = [
        "audience_name",
        "evaluated_on",
        "is_as_of_date",
        "member_count",
        "holdout_count",
        "sendable_count",
    ]
    db.require(table, wanted)
    columns = db.columns(table)
    changes = [
        f"{column} as {column}" if column in columns else f"null as {column}"
        for column in ("entered_count", "exited_count")
    ]
    return db.rows(
        f"select {', '.join([*wanted, *changes])} from marts.{table}"
        " order by audience_name, evaluated_on"
    )


def audience_portraits(db: Serving, min_share: float = PORTRAIT_MIN_SHARE) -> list[Row]:
    """Each audience's portrait on D in two values per dimension: the most over-represented
    (``side = 'over'``: the highest representation index above 1; ties to the value with more
    members) and the most under-represented (``side = 'under'``: the lowest index below 1 among
    values held by at least ``min_share`` of all users; ties to the more common value). A
    dimension without such a value has no row on that side; an audience empty on D has none."""
    table = "rpt_audience_portraits"
    fields = [
        "audience_name",
        "dimension",
        "dimension_value",
        "representation_index",
        "member_count",
        "member_share",
        "all_user_count",
        "all_user_share",
    ]
    db.require(table, fields)
    selected = ", ".join(fields)
    return db.rows(
        f"with over as (select 'over' as side, {selected} from marts.{table}"
        "  where representation_index > 1"
        "  qualify row_number() over (partition by audience_name, dimension"
        "   order by representation_index desc, member_count desc, dimension_value) = 1),"
        f" under as (select 'under' as side, {selected} from marts.{table}"
        "  where representation_index < 1 and all_user_share >= ?"
        "  qualify row_number() over (partition by audience_name, dimension"
        "   order by representation_index, all_user_share desc, dimension_value) = 1)"
        f" select audience_name, dimension, side, dimension_value, representation_index,"
        " member_count, member_share, all_user_count, all_user_share"
        " from (select * from over union all select * from under)"
        " order by audience_name, dimension, side",
        [min_share],
    )
