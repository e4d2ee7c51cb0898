"""The benchmark's hand-written queries over the raw files (make bench): baseline and floor.

`run_baseline` fills bench/baseline_duckdb.sql with the raw files, the seed files and the rule
thresholds from dbt_project.yml's vars, runs it on a fresh in-memory DuckDB and returns every
user's (user_id, lifecycle_stage, r_score, f_score, m_score) with the wall time the query took.
`compare_with_strata` checks those rows against marts.dim_users of a strata build: the benchmark
compares times only when the two agree on every user.

`run_floor` does the same with bench/floor_duckdb.sql, the "plain floor": the same answers
computed with `try_cast` and no cleaning rule at all, so its rows are not expected to agree with
strata's; it only says how fast the raw files can be turned into stages and scores at all.

A raw table is read from the layouts strata accepts for Parquet and CSV: `<table>.csv`,
`<table>.csv.gz`, `<table>.parquet`, or a folder `<table>/` of Parquet files (one per delivery,
in the folder itself or in folders below it).
"""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path
from string import Template

import duckdb
import jinja2

from strata.project import project_vars

BENCH_SQL = Path(__file__).resolve().parent.parent / "bench"
QUERY = BENCH_SQL / "baseline_duckdb.sql"
FLOOR_QUERY = BENCH_SQL / "floor_duckdb.sql"
# The stage and score rules both queries end with, written once.
RULES = BENCH_SQL / "stages_and_scores_duckdb.sql"
# Where the lifecycle rule is defined (macro lifecycle_stage), read by the baseline too.
LIFECYCLE_MACROS = Path("macros") / "segments" / "lifecycle_stage.sql"
VARS = (
    "reporting_currency",
    "excluded_user_pattern",
    "max_session_hours",
    "future_tolerance_minutes",
    "rfm_window_days",
    "engagement_recent_days",
    "engagement_baseline_days",
    "return_window_days",
    "loyal_window_days",
    "churn_after_days",
    "dormant_after_days",
    "new_user_days",
    "at_risk_min_baseline",
    "at_risk_ratio",
    "loyal_min_purchases",
    "max_order_amount",
)


def _literal(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _raw_files(raw_dir: Path, table: str) -> tuple[str, str]:
    """The path or glob of a raw table's files, and the DuckDB function that reads them."""
    parquet = raw_dir / f"{table}.parquet"
    if parquet.exists():
        return str(parquet), "read_parquet({files}, filename = true)"
    for csv in (raw_dir / f"{table}.csv", raw_dir / f"{table}.csv.gz"):
        if csv.exists():
            return str(csv), "read_csv({files}, header = true, all_varchar = true, filename = true)"
    folder = raw_dir / table
    if folder.is_dir() and any(folder.rglob("*.parquet")):
        # One file per delivery, in the folder or below it (`loaded_at=.../part-0.parquet`),
        # columns matched by name and folder names never read as columns, as strata reads it.
        return str(folder / "**" / "*.parquet"), (
            "read_parquet({files}, union_by_name = true, hive_partitioning = false,"
            " filename = true)"
        )
    raise FileNotFoundError(
        f"no {table}.parquet, {table}.csv, {table}.csv.gz or {table}/**/*.parquet in {raw_dir}"
    )


def _raw_table(raw_dir: Path, table: str, tolerance_minutes: int | None = None) -> str:
    """A raw table's rows. With `tolerance_minutes` (the baseline), each has `future_limit`: the
    latest time its file may hold, which is the file's own delivery (its `loaded_at=` folder,
    else its modification time) plus the tolerance. strata judges "in the future" per delivered
    file, never against the build's clock or another file's delivery: judged against the raw
    folder's newest file, a row that arrived in an earlier delivery with a time after that
    delivery counted here and was quarantined in strata (one user of 10M disagreed on F)."""
    files, reader = _raw_files(raw_dir, table)
    if tolerance_minutes is None:  # the floor: no rule, so no delivery time either
        return reader.replace(", filename = true", "").format(files=_literal(files))
    marker = "regexp_extract(filename, 'loaded_at=([0-9][0-9:T .-]*[0-9])', 1)"
    delivered = (
        f"select filename, coalesce(case"
        f" when length({marker}) = 10 then try_cast({marker} as timestamp) + interval 1 day"
        f" when length({marker}) > 10 then try_cast({marker} as timestamp) end,"
        f" timezone('UTC', last_modified)) + interval ({int(tolerance_minutes)}) minute"
        f" as future_limit from read_blob({_literal(files)})"
    )
    return (
        f"(select rows.* exclude (filename), delivered.future_limit"
        f" from {reader.format(files=_literal(files))} as rows"
        f" left join ({delivered}) as delivered on rows.filename = delivered.filename)"
    )


def lifecycle_stage_sql(project_dir: Path, values: dict[str, object]) -> str:
    """The lifecycle rule as the project defines it (macro lifecycle_stage, its one home), over
    the baseline's own metric columns. The macro only reads vars, so plain Jinja renders it with
    dbt_project.yml's values: the baseline computes the metrics by hand, but never restates the
    rule or its thresholds."""
    environment = jinja2.Environment(extensions=["jinja2.ext.do"])
    environment.globals["var"] = lambda name, default=None: values.get(name, default)
    # dbt's `return` ends a macro with a value; the rule's macros call it last, so printing the
    # value is the same in plain Jinja
    environment.globals["return"] = lambda value: value
    module = environment.from_string((project_dir / LIFECYCLE_MACROS).read_text()).module
    return str(
        module.lifecycle_stage(
            engagement_baseline=module.engagement_baseline("baseline_active_days"),
            engagement_ratio=module.engagement_ratio("active_days_recent", "baseline_active_days"),
            loyalty_purchases="coalesce(loyalty_purchases, 0)",
        )
    )


def render(raw_dir: Path, as_of_date: str, project_dir: Path, query: Path = QUERY) -> str:
    values = project_vars(project_dir)
    if values.get("rfm_window_days") is None or values.get("rfm_scoring") != "quantile":
        raise ValueError("the baseline implements the default RFM settings only")
    mapping = {name: values[name] for name in VARS}
    mapping["excluded_user_pattern"] = str(values["excluded_user_pattern"]).replace("'", "''")
    # the floor applies no rule, so it needs no delivery time
    tolerance = None if query == FLOOR_QUERY else int(values["future_tolerance_minutes"])
    mapping.update(
        orders=_raw_table(raw_dir, "orders", tolerance),
        sessions=_raw_table(raw_dir, "sessions", tolerance),
        currency_rates=project_dir / "seeds" / "currency_rates.csv",
        excluded_users=project_dir / "seeds" / "excluded_users.csv",
        as_of_date=dt.date.fromisoformat(as_of_date).isoformat(),
        past_limit=f"timestamp '{dt.date.fromisoformat(str(values['min_event_date']))} 00:00:00'",
    )
    mapping["lifecycle_stage"] = lifecycle_stage_sql(project_dir, values)
    mapping["stages_and_scores"] = Template(RULES.read_text()).substitute(mapping)
    return Template(query.read_text()).substitute(mapping)


def run_baseline(
    raw_dir: Path,
    as_of_date: str,
    *,
    project_dir: Path,
    memory_limit: str | None = None,
    query: Path = QUERY,
) -> tuple[list[tuple], float]:
    """Every user's stage and scores as of `as_of_date`, and the seconds the query took."""
    sql = render(raw_dir, as_of_date, project_dir, query)
    con = duckdb.connect()
    try:
        con.execute("set TimeZone = 'UTC'")
        if memory_limit:
            con.execute(f"set memory_limit = {_literal(memory_limit)}")
        started = time.perf_counter()
        rows = con.execute(sql).fetchall()
        return rows, time.perf_counter() - started
    finally:
        con.close()


def run_floor(
    raw_dir: Path,
    as_of_date: str,
    *,
    project_dir: Path,
    memory_limit: str | None = None,
) -> tuple[list[tuple], float]:
    """The plain floor's rows (same shape as the baseline's) and the seconds its query took."""
    return run_baseline(
        raw_dir, as_of_date, project_dir=project_dir, memory_limit=memory_limit, query=FLOOR_QUERY
    )


def compare_with_strata(db_path: Path, rows: list[tuple]) -> list[str]:
    """Differences between the baseline's rows and marts.dim_users; empty when they agree."""
    with duckdb.connect(str(db_path), read_only=True) as con:
        strata = {
            row[0]: tuple(row[1:])
            for row in con.execute(
                "select user_id, lifecycle_stage, r_score, f_score, m_score from marts.dim_users"
            ).fetchall()
        }
    baseline = {row[0]: tuple(row[1:]) for row in rows}
    problems = [f"{user}: only in strata" for user in sorted(strata.keys() - baseline.keys())]
    problems += [
        f"{user}: only in the baseline" for user in sorted(baseline.keys() - strata.keys())
    ]
    for user in sorted(strata.keys() & baseline.keys()):
        if strata[user] != baseline[user]:
            problems.append(f"{user}: strata {strata[user]}, baseline {baseline[user]}")
    return problems
