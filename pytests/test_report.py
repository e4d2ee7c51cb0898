"""The run report (strata/report): its figures, its behaviour on missing marts, a real browser.

One warehouse is built for real (1,500 generated users, the whole `strata run`) and published;
the tests read its serving copy, or copies of it with marts dropped, emptied or added. The
figures the page embeds are compared with queries written here, independently of the report's
own SQL. The browser test opens the file in headless Chromium with every network request
refused and fails on any request, console error or chart without marks.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import math
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main
from strata.generate import generate
from strata.publish import publish
from strata.report import REPORT_FILE, ReportResult, build_report
from tools.report_bench import make_serving_db

# one worker for the module: its tests share a module-scoped build
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("report")]

AS_OF = "2026-06-30"
BUILD_ID = "test-report-build"
MAX_BYTES = 5_000_000
# Read at import: conftest's session fixture removes every STRATA_* variable before tests run.
CHROMIUM = Path(os.environ.get("STRATA_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOT = os.environ.get("STRATA_REPORT_SCREENSHOT")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


# --- the warehouse and its report ----------------------------------------------------------------


@pytest.fixture(scope="module")
def serving(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving DuckDB file of a real build: 1,500 generated users as of 2026-06-30."""
    folder = tmp_path_factory.mktemp("report-warehouse")
    generate(users=1500, seed=7, end_date=dt.date.fromisoformat(AS_OF), out_dir=folder / "raw")
    warehouse = folder / "warehouse.duckdb"
    result = CliRunner().invoke(
        main,
        [
            "run",
            "--raw-dir",
            str(folder / "raw"),
            "--db",
            str(warehouse),
            "--as-of",
            AS_OF,
            "--no-publish",
        ],
    )
    assert result.exit_code == 0, result.output
    # copies (setting serving_copies): the tests below copy this file and drop, empty or add
    # marts in the copy, which needs the marts in the file itself; the default publication, views
    # of the version's Parquet files, is read by the next test
    published = publish(
        warehouse,
        folder / "serving",
        build={"build_id": BUILD_ID, "as_of_date": AS_OF},
        copies=True,
    )
    return published.serving_db


def test_a_publication_of_views_gives_the_same_report(
    serving: Path, report: tuple, tmp_path: Path
) -> None:
    """The default publication: the marts are views of the version's Parquet files, which the
    report reads with every other file access switched off."""
    published = publish(
        serving.parent.parent / "warehouse.duckdb",
        tmp_path / "serving",
        build={"build_id": BUILD_ID, "as_of_date": AS_OF},
    )
    with duckdb.connect(str(published.serving_db), read_only=True) as con:
        assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0]
        marts = "select count(*) from duckdb_tables() where schema_name = 'marts'"
        assert con.execute(marts).fetchone()[0] == 0
    result = build_report(published.serving_db, tmp_path / REPORT_FILE)
    expected, page = report
    assert (result.sections, result.unavailable) == (expected.sections, expected.unavailable)
    assert island(result.path.read_text(encoding="utf-8"), "strata-data") == island(
        page, "strata-data"
    )


@pytest.fixture(scope="module")
def report(serving: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[ReportResult, str]:
    out = tmp_path_factory.mktemp("report") / REPORT_FILE
    result = build_report(serving, out)
    return result, out.read_text(encoding="utf-8")


OUTCOME_MARTS = ("rpt_play_outcomes", "rpt_stage_outcomes", "rpt_cohort_retention")


def marts_in(db: Path) -> set[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture(scope="module")
def core(serving: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The serving file without the outcome marts (they are newer than the others, and an older
    warehouse has none): the sections that depend on nothing optional."""
    db = copy_of(serving, tmp_path_factory.mktemp("core"))
    execute(db, *(f"drop table if exists marts.{table}" for table in OUTCOME_MARTS))
    return db


@pytest.fixture(scope="module")
def with_outcomes(serving: Path) -> Path:
    """The serving file with the three outcome marts, as the build made them: a build that
    stopped making them fails here rather than being replaced by made-up rows."""
    missing = set(OUTCOME_MARTS) - marts_in(serving)
    assert not missing, f"the build did not make {sorted(missing)}"
    return serving


def columns_of(db: Path, table: str) -> set[str]:
    schema, name = table.split(".")
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "select column_name from duckdb_columns() where schema_name = ? and table_name = ?",
            [schema, name],
        ).fetchall()
    return {row[0] for row in rows}


def copy_of(serving: Path, folder: Path) -> Path:
    """A private copy of the serving file, to drop, empty or add marts in: every table, and every
    mart a view of the published Parquet files, copied into a file of tables."""
    target = folder / "strata.duckdb"
    with duckdb.connect(str(target)) as con:
        con.execute(f"attach '{serving}' as source (read_only)")
        relations = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = 'source'"
            " union all select schema_name, view_name from duckdb_views()"
            " where database_name = 'source' and not internal"
        ).fetchall()
        for schema, name in relations:
            con.execute(f"create schema if not exists {schema}")
            con.execute(f"create table {schema}.{name} as select * from source.{schema}.{name}")
    return target


def execute(db: Path, *statements: str) -> None:
    with duckdb.connect(str(db)) as con:
        for statement in statements:
            con.execute(statement)


def query(db: Path, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    with duckdb.connect(str(db), read_only=True) as con:
        cursor = con.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def scalar(db: Path, sql: str, params: list[Any] | None = None) -> Any:
    return next(iter(query(db, sql, params)[0].values()))


# --- reading the page back ---------------------------------------------------------------------


def island(page: str, element_id: str) -> Any:
    """The JSON of one <script type="application/json"> element of the page."""
    found = re.search(
        rf'<script type="application/json" id="{element_id}">(.*?)</script>', page, re.S
    )
    assert found, f"no data island {element_id}"
    return json.loads(found.group(1))


def sections(page: str) -> dict[str, bool]:
    """Section id -> whether it has something to show."""
    return {
        key: shown == "true"
        for key, shown in re.findall(r'<section id="([^"]+)" data-shown="(true|false)">', page)
    }


def normal(value: Any) -> Any:
    """A value as the page carries it, for comparing: dates as text, money and shares as
    floats rounded to 6 places."""
    if isinstance(value, dt.datetime):
        return value.isoformat(timespec="seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | str):
        return value
    number = float(value)
    return None if math.isnan(number) else round(number, 6)


def as_set(rows: list[dict[str, Any]], keys: list[str]) -> set[tuple[Any, ...]]:
    return {tuple(normal(row[key]) for key in keys) for row in rows}


def section_text(page: str, key: str) -> str:
    found = re.search(rf'<section id="{key}"[^>]*>(.*?)</section>', page, re.S)
    assert found, f"no section {key}"
    return re.sub(r"<[^>]+>", " ", found.group(1))


# --- (a) the figures in the page are the marts' ------------------------------------------------


def test_figures_in_the_page_equal_the_marts(serving: Path, report: tuple) -> None:
    result, page = report
    data = island(page, "strata-data")

    users = scalar(serving, "select count(*) from marts.dim_users")
    months = query(
        serving,
        "select * from marts.rpt_growth_accounting where grain = 'month'"
        " order by period_start desc limit 2",
    )
    previous_end = scalar(
        serving,
        "select max(period_end) from marts.rpt_segment_transitions"
        " where grain = 'month' and segment_type = 'lifecycle_stage' and period_end < ?",
        [AS_OF],
    )
    users_then = scalar(
        serving,
        "select sum(user_count) from marts.rpt_segment_transitions"
        " where grain = 'month' and segment_type = 'lifecycle_stage' and period_end = ?",
        [previous_end],
    )
    headline = {row["key"]: row for row in data["headline"]}
    assert headline["users"]["value"] == users
    assert headline["users"]["previous"] == users_then
    assert headline["users"]["change"] == users - users_then
    for key in ("monthly_active_users", "new_users", "churned_users"):
        assert headline[key]["value"] == months[0][key]
        assert headline[key]["previous"] == months[1][key]
    assert headline["quick_ratio"]["value"] == pytest.approx(months[0]["quick_ratio"])
    revenue = query(
        serving,
        "select sum(revenue_30d) as now, sum(revenue_90d) - sum(revenue_30d) as before"
        " from marts.dim_users",
    )[0]
    assert headline["revenue_30d"]["value"] == pytest.approx(float(revenue["now"]))
    assert headline["revenue_30d"]["previous"] == pytest.approx(float(revenue["before"]) / 2)
    loyal = scalar(serving, "select count(*) from marts.dim_users where lifecycle_stage = 'loyal'")
    assert headline["stage_loyal"]["value"] == loyal

    stages = query(
        serving,
        "select period_end, to_segment as stage, sum(user_count) as users"
        " from marts.rpt_segment_transitions"
        " where grain = 'month' and segment_type = 'lifecycle_stage' group by all",
    )
    keys = ["period_end", "stage", "users"]
    assert as_set(data["stages_over_time"], keys) == as_set(stages, keys)

    grid = query(
        serving,
        "select r_score, f_score, rfm_segment as segment, count(*) as users,"
        " sum(monetary) as revenue from marts.dim_users where r_score is not null group by all",
    )
    keys = ["r_score", "f_score", "segment", "users", "revenue"]
    assert as_set(data["rfm_grid"], keys) == as_set(grid, keys)
    assert (
        sum(row["users"] for row in data["rfm_grid"])
        + sum(row["users"] for row in data["rfm_outside_grid"])
        == users
    )

    for segment_type, name in (
        ("lifecycle_stage", "flows_lifecycle"),
        ("rfm_segment", "flows_rfm"),
    ):
        flows = query(
            serving,
            "select from_segment, to_segment, user_count as users"
            " from marts.rpt_segment_transitions where grain = 'month' and segment_type = ?"
            " and period_end = (select max(period_end) from marts.rpt_segment_transitions)",
            [segment_type],
        )
        keys = ["from_segment", "to_segment", "users"]
        assert as_set(data[name], keys) == as_set(flows, keys)

    growth = query(serving, "select * from marts.rpt_growth_accounting where grain = 'month'")
    keys = [
        "period_start",
        "is_complete",
        "active_users",
        "new_users",
        "retained_users",
        "resurrected_users",
        "churned_users",
        "quick_ratio",
        "daily_active_users",
        "weekly_active_users",
        "monthly_active_users",
    ]
    assert as_set(data["growth_monthly"], keys) == as_set(growth, keys)

    for segment_type, name in (("value_tier", "value_tiers"), ("rfm_class", "rfm_classes")):
        summary = {
            row["segment"]: row
            for row in query(
                serving,
                "select segment, user_count, buyer_count, revenue_in_window"
                " from marts.rpt_segment_summary where segment_type = ?",
                [segment_type],
            )
        }
        for row in data[name]:
            mart = summary.get(row["segment"])
            assert row["users"] == (mart["user_count"] if mart else 0), row
            assert row["buyers"] == (mart["buyer_count"] if mart else 0), row
            assert row["revenue"] == pytest.approx(
                float(mart["revenue_in_window"]) if mart else 0.0
            )
    assert len(data["rfm_classes"]) == 8
    assert [row["segment"] for row in data["value_tiers"]] == ["vip", "mid", "low", "none"]

    plays = query(
        serving,
        "select lifecycle_stage as segment, recommended_action as action,"
        " action_channel as channel, count(*) as users from marts.dim_users group by all",
    )
    keys = ["segment", "action", "channel", "users"]
    assert as_set(data["playbook_lifecycle"], keys) == as_set(plays, keys)
    assert sum(row["users"] for row in data["playbook_lifecycle"]) == users

    reconciliation = query(serving, "select * from marts.rpt_source_reconciliation")
    keys = ["source_table", "raw_rows", "clean_rows", "excluded_rows", "quarantined_rows"]
    assert as_set(data["reconciliation"], keys) == as_set(reconciliation, keys)
    reasons = query(
        serving,
        "select source_table, reason_code, row_count from marts.rpt_row_reasons"
        " where row_disposition = 'quarantined' and row_count > 0"
        " order by row_count desc, source_table, reason_code limit 10",
    )
    keys = ["source_table", "reason_code", "row_count"]
    assert [tuple(r[k] for k in keys) for r in data["quarantine_reasons"]] == [
        tuple(r[k] for k in keys) for r in reasons
    ]

    # Predictions: the bins add up to the buyers with a prediction, each bin holds its buyers.
    predicted = scalar(serving, "select count(p_alive) from marts.dim_users")
    assert predicted > 0
    assert sum(row["buyers"] for row in data["p_alive_bins"]) == predicted
    for row in data["p_alive_bins"]:
        upper = "<=" if row["bin_end"] >= 1 else "<"
        assert row["buyers"] == scalar(
            serving,
            f"select count(*) from marts.dim_users where p_alive >= ? and p_alive {upper} ?",
            [row["bin_start"], row["bin_end"]],
        )
    clv = query(
        serving,
        "select count(predicted_clv) as buyers, sum(predicted_clv) as total from marts.dim_users",
    )[0]
    assert sum(row["buyers"] for row in data["clv_bins"]) == clv["buyers"]
    assert sum(row["predicted_clv"] for row in data["clv_bins"]) == pytest.approx(clv["total"])
    calibration = query(serving, "select * from marts.rpt_prediction_calibration")
    keys = ["breakdown", "group_value", "buyers", "actual_purchase_days", "predicted_purchase_days"]
    assert as_set(data["calibration"], keys) == as_set(calibration, keys)

    # What the page is about.
    about = island(page, "strata-about")
    assert about["as_of_date"] == AS_OF == result.as_of_date
    assert about["build_id"] == BUILD_ID == result.build_id
    assert about["version"] == scalar(serving, "select max(version) from strata_meta.publication")
    assert dt.datetime.fromisoformat(about["built_at"]).tzinfo is not None
    assert f'data-as-of="{AS_OF}"' in page and f'data-build-id="{BUILD_ID}"' in page


def test_every_chart_reads_datasets_that_the_page_carries(report: tuple) -> None:
    _, page = report
    data = island(page, "strata-data")
    charts = island(page, "strata-charts")["charts"]
    assert charts

    def named(node: Any) -> Iterator[str]:
        if isinstance(node, dict):
            if isinstance(node.get("data"), dict) and "name" in node["data"]:
                yield node["data"]["name"]
            for value in node.values():
                yield from named(value)
        elif isinstance(node, list):
            for value in node:
                yield from named(value)

    for chart in charts:
        used = set(named(chart["spec"]))
        assert used, chart["id"]
        assert used <= set(chart["datasets"]) <= set(data), chart["id"]
        assert f'id="{chart["id"]}"' in page
        assert chart["spec"]["$schema"].startswith("https://vega.github.io/schema/vega-lite/")


def test_the_page_is_self_contained_small_and_complete(serving: Path, report: tuple) -> None:
    result, page = report
    assert result.bytes == len(page.encode("utf-8")) < MAX_BYTES
    # Nothing to fetch: every script inline, and outside the scripts no image, frame, style
    # sheet or font to load (the scripts' own text mentions such tags, hence the split).
    assert all("src=" not in tag for tag in re.findall(r"<script\b[^>]*>", page))
    markup = re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S)
    assert not re.search(r"<(img|iframe|link|source|object|embed|video|audio)\b", markup)
    assert "@import" not in markup and "url(" not in markup
    assert "default-src 'none'" in page
    # The page-level parts: one bundle, each section in order with its reading aids.
    assert page.count("window.vegaEmbed") == 1
    shown = sections(page)
    optional = [
        key
        for key, table in (
            ("plays", "rpt_play_outcomes"),
            ("stage-outcomes", "rpt_stage_outcomes"),
            ("cohorts", "rpt_cohort_retention"),
        )
        if table in marts_in(serving)
    ]
    core_sections = ["headline", "stages", "rfm", "flows", "growth", "tiers", "playbook"]
    assert list(shown) == [*core_sections, "predictions", *optional, "audiences", "quality"]
    assert all(shown[key] for key in [*core_sections, "predictions", "audiences", "quality"])
    assert result.sections == tuple(key for key, ok in shown.items() if ok)
    charts = island(page, "strata-charts")["charts"]
    aids = re.findall(r'<figcaption><strong>[^<]+</strong><p class="aid">([^<]+)</p>', page)
    assert len(aids) == len(charts) and all(len(aid) > 40 for aid in aids)


def test_the_report_is_written_atomically_and_leaves_the_marts_alone(
    serving: Path, tmp_path: Path
) -> None:
    before = serving.read_bytes()
    out = tmp_path / "nested" / REPORT_FILE
    build_report(serving, out, build_id="first")
    build_report(serving, out, build_id="second", as_of="2026-06-29")
    assert [p.name for p in out.parent.iterdir()] == [REPORT_FILE]
    page = out.read_text(encoding="utf-8")
    assert 'data-build-id="second"' in page and 'data-as-of="2026-06-29"' in page
    assert serving.read_bytes() == before
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "missing.duckdb", out)


# --- (b) missing and empty marts ---------------------------------------------------------------

MISSING = {
    # dropped tables -> sections that then say why they have nothing to show
    "rpt_segment_transitions": {"stages", "flows"},
    "rpt_growth_accounting": {"growth"},
    "rpt_segment_summary": {"tiers"},
    "rpt_source_reconciliation": {"quality"},
    "dim_users": {"rfm", "playbook", "predictions"},
}


@pytest.mark.parametrize("table", sorted(MISSING))
def test_a_missing_mart_is_said_in_its_section(core: Path, tmp_path: Path, table: str) -> None:
    db = copy_of(core, tmp_path)
    execute(db, f"drop table marts.{table}")
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    shown = sections(page)
    assert {key for key, ok in shown.items() if not ok} == MISSING[table]
    assert set(result.unavailable) == MISSING[table]
    for key in MISSING[table]:
        assert "Not available" in section_text(page, key)
    assert shown["headline"]  # the figures that remain are still given


def test_missing_outcome_and_prediction_marts_leave_their_sections_out(
    core: Path, tmp_path: Path
) -> None:
    db = copy_of(core, tmp_path)
    execute(
        db,
        "drop table marts.fct_customer_model_fits",
        "drop table marts.rpt_prediction_calibration",
        "alter table marts.dim_users drop column p_alive",
        "drop table marts.rpt_row_reasons",
        "drop table marts.rpt_purchase_gaps",
        "drop table strata_meta.publication",
    )
    page_path = tmp_path / REPORT_FILE
    result = build_report(db, page_path)
    page = page_path.read_text(encoding="utf-8")
    shown = sections(page)
    assert "predictions" not in shown and "plays" not in shown and "cohorts" not in shown
    assert all(shown.values())
    assert "Quarantine reasons: marts.rpt_row_reasons is not in the serving database" in page
    # Without the publication table the as-of date comes from dim_users; the build id is unknown.
    assert result.as_of_date == AS_OF and result.build_id is None


def test_calibration_is_left_out_when_only_it_is_missing(serving: Path, tmp_path: Path) -> None:
    db = copy_of(serving, tmp_path)
    execute(db, "drop table marts.rpt_prediction_calibration")
    build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert sections(page)["predictions"]
    assert 'id="chart-p-alive"' in page and 'id="chart-calibration"' not in page


def test_predictions_that_were_not_made_are_explained(serving: Path, tmp_path: Path) -> None:
    db = copy_of(serving, tmp_path)
    execute(
        db,
        "update marts.dim_users set p_alive = null, predicted_clv = null,"
        " intent_segment = null, intent_action = null",
        "update marts.fct_customer_model_fits set is_converged = false,"
        " message = 'fewer than 10 repeat buyers (3)'",
    )
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert "predictions" in result.unavailable
    text = section_text(page, "predictions")
    assert "No predictions were made" in text or "no predictions were made" in text
    assert "fewer than 10 repeat buyers (3)" in text
    assert "playbook_intent_segment" not in island(page, "strata-data")


def empty_every_table(db: Path) -> None:
    with duckdb.connect(str(db)) as con:
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where schema_name = 'marts'"
        ).fetchall()
        for schema, table in tables:
            con.execute(f'delete from "{schema}"."{table}"')


def test_empty_marts_say_there_is_nothing_to_show(core: Path, tmp_path: Path) -> None:
    db = copy_of(core, tmp_path)
    empty_every_table(db)
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    shown = sections(page)
    assert set(result.unavailable) == {
        "stages",
        "rfm",
        "flows",
        "growth",
        "tiers",
        "playbook",
        "predictions",
        "audiences",
        "quality",
    }
    assert shown["headline"]  # zero users is a figure too
    assert island(page, "strata-charts")["charts"] == []
    assert page.count("Nothing to show") == len(result.unavailable)


def test_a_serving_file_without_any_mart_still_gives_a_page(tmp_path: Path) -> None:
    db = tmp_path / "strata.duckdb"
    execute(db, "create schema marts")
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert result.sections == ()
    assert set(sections(page)) == {
        "headline",
        "stages",
        "rfm",
        "flows",
        "growth",
        "tiers",
        "playbook",
        "audiences",
        "quality",
    }
    assert "marts.dim_users is not in the serving database" in page
    assert "audiences/*.yml" in section_text(page, "audiences")


# --- the outcome marts, when they exist --------------------------------------------------------


def test_outcome_marts_are_shown_when_present(with_outcomes: Path, tmp_path: Path) -> None:
    result = build_report(with_outcomes, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert {"plays", "stage-outcomes", "cohorts"} <= set(result.sections)
    data = island(page, "strata-data")

    # Group sizes are entries where the mart counts them (a user may enter twice), else users.
    # Audiences are measured in the same mart; they have their own section (test_audiences_*).
    plays = "marts.rpt_play_outcomes"
    size = "entry_count" if "entry_count" in columns_of(with_outcomes, plays) else "user_count"
    treated = query(
        with_outcomes,
        f"select play_id, {size} as size, lift_pp, lift_ci_low_pp, lift_ci_high_pp from {plays}"
        " where group_name = 'treated' and cohort_grain = 'all'"
        " and segment_type is distinct from 'audience'",
    )
    keys = ["play_id", "lift_pp", "lift_ci_low_pp", "lift_ci_high_pp"]
    assert as_set(data["play_outcomes"], keys) == as_set(treated, keys)
    holdout = {
        row["play_id"]: row["size"]
        for row in query(
            with_outcomes,
            f"select play_id, {size} as size from {plays}"
            " where group_name = 'holdout' and cohort_grain = 'all'",
        )
    }
    for row in data["play_outcomes"]:
        assert row["treated_users"] == next(
            t["size"] for t in treated if t["play_id"] == row["play_id"]
        )
        assert row["holdout_users"] == holdout.get(row["play_id"])

    outcomes = query(
        with_outcomes,
        "select segment_type, segment, user_count as users, retained_share, moved_up_share,"
        " moved_down_share, churned_share from marts.rpt_stage_outcomes"
        " where grain = 'month'"
        " and period_end = (select max(period_end) from marts.rpt_stage_outcomes)",
    )
    keys = list(outcomes[0])
    assert as_set(data["stage_outcomes"], keys) == as_set(outcomes, keys)

    # The page keeps the last 24 cohorts of each type, up to 24 months on.
    cohorts = query(
        with_outcomes,
        "select cohort_type, cohort_month, months_since_cohort as months_since, active_share,"
        " buying_share from marts.rpt_cohort_retention where months_since_cohort <= 24"
        " qualify dense_rank() over (partition by cohort_type order by cohort_month desc)"
        " <= 24",
    )
    keys = ["cohort_type", "cohort_month", "months_since", "active_share", "buying_share"]
    assert as_set(data["cohort_retention"], keys) == as_set(cohorts, keys)
    for chart_id in ("chart-plays", "chart-stage-outcomes", "chart-cohorts-first-activity"):
        assert f'id="{chart_id}"' in page


def test_empty_outcome_marts_say_so(with_outcomes: Path, tmp_path: Path) -> None:
    db = copy_of(with_outcomes, tmp_path)
    execute(
        db,
        "delete from marts.rpt_play_outcomes",
        "delete from marts.rpt_stage_outcomes",
        "delete from marts.rpt_cohort_retention",
    )
    result = build_report(db, tmp_path / REPORT_FILE)
    assert {"plays", "stage-outcomes", "cohorts"} <= set(result.unavailable)


# --- audiences ---------------------------------------------------------------------------------

AUDIENCE_MARTS = (
    "dim_audiences",
    "fct_audience_memberships",
    "rpt_audience_sizes",
    "rpt_audience_portraits",
)
# rpt_audience_portraits' dimensions; the portrait names under-represented values only among
# those at least this share of all users have (strata.report.data.PORTRAIT_MIN_SHARE)
PORTRAIT_DIMENSIONS = {
    "lifecycle_stage",
    "rfm_segment",
    "value_tier",
    "platform",
    "clv_band",
    "intent_segment",
}
PORTRAIT_MIN_SHARE = 0.05


@pytest.fixture(scope="module")
def golden(fixture_run: Any) -> Path:
    """The serving file of the golden fixture build (conftest's fixture_run), whose audiences
    are tests/fixtures/audiences/fixture.yml: one of each kind, counted by hand elsewhere."""
    db = fixture_run.db.parent / "serving" / fixture_run.db.stem / "strata.duckdb"
    assert db.is_file(), db
    return db


def strongest_values(rows: list[dict[str, Any]]) -> dict[tuple[str, str, str], tuple]:
    """(audience, dimension, over|under) -> (value, index), from every row of the portraits
    mart: the highest index above 1 (ties: more members, then the value's name) and the lowest
    below 1 among values common enough (ties: the more common value, then the name)."""
    best: dict[tuple[str, str, str], tuple[tuple, dict[str, Any]]] = {}
    for row in rows:
        index = row["representation_index"]
        if index is None:
            continue
        if index > 1:
            side, rank = "over", (-index, -row["member_count"], row["dimension_value"])
        elif index < 1 and row["all_user_share"] >= PORTRAIT_MIN_SHARE:
            side, rank = "under", (index, -row["all_user_share"], row["dimension_value"])
        else:
            continue
        key = (row["audience_name"], row["dimension"], side)
        if key not in best or rank < best[key][0]:
            best[key] = (rank, row)
    return {
        key: (row["dimension_value"], normal(row["representation_index"]))
        for key, (_, row) in best.items()
    }


def check_audiences_section(db: Path, page: str) -> list[dict[str, Any]]:
    """The audiences section of ``page`` against the marts of ``db``: every audience in
    definition order with its size on D and its outcome, every size, the portraits' strongest
    values. Returns the section's table rows."""
    data = island(page, "strata-data")
    assert sections(page)["audiences"]
    text = html.unescape(section_text(page, "audiences"))
    defined = query(db, "select * from marts.dim_audiences order by definition_order")
    rows = data["audiences"]
    assert [row["audience_name"] for row in rows] == [a["audience_name"] for a in defined]

    on_d = {
        row["audience_name"]: row
        for row in query(db, "select * from marts.rpt_audience_sizes where is_as_of_date")
    }
    outcomes = query(
        db,
        "select play_id, group_name, entry_count, lift_pp, lift_ci_low_pp, lift_ci_high_pp,"
        " is_too_small from marts.rpt_play_outcomes"
        " where segment_type = 'audience' and cohort_grain = 'all'",
    )
    treated = {r["play_id"]: r for r in outcomes if r["group_name"] == "treated"}
    held = {r["play_id"]: r for r in outcomes if r["group_name"] == "holdout"}
    for row, audience in zip(rows, defined, strict=True):
        name = audience["audience_name"]
        assert name in text
        for key in ("audience_owner", "definition", "has_history", "play_id"):
            assert row[key] == audience[key], (name, key)
        size = on_d[name]
        for key in ("member_count", "holdout_count", "sendable_count"):
            assert row[key] == size[key], (name, key)
        assert row["sendable_count"] + row["holdout_count"] == row["member_count"]
        mart = treated.get(audience["play_id"])
        holdout = held.get(audience["play_id"])
        assert row["treated_users"] == (mart["entry_count"] if mart else None), name
        assert row["holdout_users"] == (holdout["entry_count"] if holdout and mart else None)
        for key in ("lift_pp", "lift_ci_low_pp", "lift_ci_high_pp"):
            assert normal(row[key]) == normal(mart[key] if mart else None), (name, key)
        # the outcome in words: a lift with its interval, or why there is none
        outcome = row["outcome"]
        if mart is None:
            expected = "not measured" if not audience["has_history"] else "no closed cohort"
            assert outcome.startswith(expected), (name, outcome)
        elif holdout is None:
            assert outcome.startswith("no holdout yet"), (name, outcome)
        elif mart["is_too_small"]:
            assert outcome.startswith("too few to read"), (name, outcome)
        else:
            assert outcome.startswith(
                f"{mart['lift_pp']:+.2f} pp (95%: {mart['lift_ci_low_pp']:+.2f} to "
                f"{mart['lift_ci_high_pp']:+.2f})"
            ), (name, outcome)
        assert outcome in text

    sizes = query(db, "select * from marts.rpt_audience_sizes")
    keys = [
        "audience_name",
        "evaluated_on",
        "is_as_of_date",
        "member_count",
        "holdout_count",
        "sendable_count",
        "entered_count",
        "exited_count",
    ]
    assert as_set(data["audience_sizes"], keys) == as_set(sizes, keys)

    portraits = query(db, "select * from marts.rpt_audience_portraits")
    expected = strongest_values(portraits)
    shown = {
        (r["audience_name"], r["dimension"], r["side"]): (
            r["dimension_value"],
            normal(r["representation_index"]),
        )
        for r in data["audience_portraits"]
    }
    assert len(shown) == len(data["audience_portraits"])  # one value per side and dimension
    assert shown == expected
    assert {key[1] for key in shown} <= PORTRAIT_DIMENSIONS

    chart_ids = {c["id"] for c in island(page, "strata-charts")["charts"]}
    assert {"chart-audience-sizes", "chart-audience-portraits"} <= chart_ids
    measured = any(row["lift_pp"] is not None for row in rows)
    assert ("chart-audience-lift" in chart_ids) == measured
    # the lifecycle plays' section leaves the audiences to this one, and says so
    assert not [r for r in data.get("play_outcomes", []) if r["segment_type"] == "audience"]
    if treated or held:
        assert "their lift is in the Audiences section" in section_text(page, "plays")
    return rows


def test_the_audiences_section_equals_the_marts_of_the_golden_fixture(
    golden: Path, tmp_path: Path
) -> None:
    result = build_report(golden, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert "audiences" in result.sections
    rows = check_audiences_section(golden, page)
    # The fixture defines one audience of each kind; the ones read on D alone (a platform
    # known as of D, a model) have no history, so no entry day and no outcome.
    kinds = {row["audience_name"]: row["audience_kind"] for row in rows}
    assert set(kinds.values()) == {"rule", "list", "combine", "model"}
    without_history = [row for row in rows if row["has_history"] is False]
    assert without_history
    for row in without_history:
        assert row["outcome"].startswith("not measured: evaluated on the as-of date only")
        days = [
            r
            for r in island(page, "strata-data")["audience_sizes"]
            if r["audience_name"] == row["audience_name"]
        ]
        assert [r["is_as_of_date"] for r in days] == [True]
    # the portrait of an audience with members on D covers the dimensions where it differs
    portrayed = {r["audience_name"] for r in island(page, "strata-data")["audience_portraits"]}
    assert portrayed == {row["audience_name"] for row in rows if row["member_count"]}


def test_the_audiences_section_equals_the_marts_of_a_generated_build(
    serving: Path, report: tuple
) -> None:
    """The generated build reads the project's audiences (audiences/*.yml)."""
    _, page = report
    rows = check_audiences_section(serving, page)
    assert rows and any(row["member_count"] for row in rows)


@pytest.mark.parametrize("case", ["older warehouse", "no definitions"])
def test_a_publication_without_audiences_says_how_to_define_them(
    golden: Path, tmp_path: Path, case: str
) -> None:
    db = copy_of(golden, tmp_path)
    change = "drop table" if case == "older warehouse" else "delete from"
    execute(
        db,
        *(f"{change} marts.{table}" for table in AUDIENCE_MARTS),
        "delete from marts.rpt_play_outcomes where segment_type = 'audience'",
    )
    full = build_report(golden, tmp_path / "full.html")
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert result.unavailable == (*full.unavailable, "audiences")
    assert result.sections == tuple(key for key in full.sections if key != "audiences")
    text = section_text(page, "audiences")
    assert "Nothing to show" in text and "Not available" not in text
    assert "audiences/*.yml" in text and "docs/audiences.md" in text
    data = island(page, "strata-data")
    assert not {"audiences", "audience_sizes", "audience_portraits"} & set(data)
    assert not [c for c in island(page, "strata-charts")["charts"] if "audience" in c["id"]]
    assert "their lift is in the Audiences section" not in page


def test_a_missing_audience_mart_is_said_in_the_section(golden: Path, tmp_path: Path) -> None:
    db = copy_of(golden, tmp_path)
    execute(db, "drop table marts.rpt_audience_portraits", "drop table marts.rpt_play_outcomes")
    result = build_report(db, tmp_path / REPORT_FILE)
    page = (tmp_path / REPORT_FILE).read_text(encoding="utf-8")
    assert "audiences" in result.sections
    text = section_text(page, "audiences")
    assert "Portraits: marts.rpt_audience_portraits is not in the serving database." in text
    assert "Outcomes: marts.rpt_play_outcomes is not in the serving database" in text
    data = island(page, "strata-data")
    assert "audience_portraits" not in data and data["audience_sizes"]
    assert all(row["outcome"] is None for row in data["audiences"])


# --- (c) a real browser, offline ---------------------------------------------------------------


def open_in_chromium(page_path: Path, screenshot: Path) -> dict[str, Any]:
    """Open ``page_path`` in headless Chromium with every request but the file itself refused;
    wait for the charts, count their marks, save a full-page screenshot."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    if not CHROMIUM.is_file():
        pytest.skip(
            f"Chromium is not installed at {CHROMIUM}: `apt-get install -y chromium` "
            "(make install does it)"
        )
    url = page_path.resolve().as_uri()
    problems: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 900})
            page = context.new_page()

            def refuse_all_but_the_file(route: Any) -> None:
                requests.append(route.request.url)
                if route.request.url == url:
                    route.continue_()
                else:
                    route.abort()

            page.route("**/*", refuse_all_but_the_file)
            page.on(
                "console",
                lambda message: problems.append(f"{message.type}: {message.text}")
                if message.type in ("error", "warning", "assert")
                else None,
            )
            page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
            page.on("requestfailed", lambda request: requests.append(request.url))
            page.goto(url)
            page.wait_for_selector("html[data-charts-done]", state="attached", timeout=60_000)
            charts = page.evaluate(
                """() => Array.from(document.querySelectorAll('.vega')).map(element => ({
                    id: element.id,
                    rendered: element.getAttribute('data-rendered'),
                    marks: element.querySelectorAll('svg .role-mark > *').length,
                }))"""
            )
            done = page.evaluate("document.documentElement.getAttribute('data-charts-done')")
            screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(screenshot), full_page=True)
        finally:
            browser.close()
    return {"problems": problems, "requests": requests, "charts": charts, "done": done}


def screenshot_path(tmp_path: Path, name: str) -> Path:
    if SCREENSHOT and name == "report":
        return Path(SCREENSHOT)
    return tmp_path / f"{name}.png"


@pytest.mark.parametrize("case", ["full", "empty"])
def test_the_report_renders_offline_in_chromium(
    with_outcomes: Path, tmp_path: Path, case: str
) -> None:
    db = copy_of(with_outcomes, tmp_path)
    if case == "empty":
        empty_every_table(db)
    page_path = tmp_path / REPORT_FILE
    build_report(db, page_path)
    expected = len(island(page_path.read_text(encoding="utf-8"), "strata-charts")["charts"])
    shot = screenshot_path(tmp_path, "report" if case == "full" else f"report-{case}")
    seen = open_in_chromium(page_path, shot)

    assert seen["requests"] == [page_path.resolve().as_uri()], seen["requests"]
    assert seen["problems"] == []
    assert seen["done"] == str(expected)
    assert len(seen["charts"]) == expected
    if case == "full":
        assert expected >= 15
    for chart in seen["charts"]:
        assert chart["rendered"] == "true", chart
        assert chart["marks"] > 0, chart
    assert shot.stat().st_size > 10_000


# --- (d) size and time at scale ----------------------------------------------------------------


def test_the_report_of_a_million_users_stays_small(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    serving = make_serving_db(tmp_path / "strata.duckdb", 1_000_000)
    result = build_report(serving, tmp_path / REPORT_FILE)
    with capsys.disabled():
        print(
            f"\nreport for 1,000,000 synthetic users: {result.bytes / 1e6:.2f} MB,"
            f" built in {result.seconds:.2f} s"
        )
    assert result.bytes < MAX_BYTES
    # the synthetic marts have no audiences: that section says how to define them
    assert len(result.sections) == 12 and result.unavailable == ("audiences",)
