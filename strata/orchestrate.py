"""One strata run, end to end: lock, freshness, dbt build (with retries), publish, record, alert.

The CLI's `run`, `backfill`, `publish` and the scheduler all go through `execute`, so every run
is locked, recorded in the run history and alerted on in the same way.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strata.alerts import AlertConfig, build_payload, send_alerts
from strata.config import Settings, raw_file_format
from strata.dbt_runner import DbtResult, Progress, run_dbt, run_dbt_with_retries
from strata.publish import PublishError, publish
from strata.runs import LockHeld, RunLock, RunRecord, append_run, new_run_id
from strata.summary import read_summary

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3


@dataclass(frozen=True)
class RunOptions:
    """What a run does, resolved from flags, strata.toml and env vars."""

    command: str = "run"
    raw_dir: Path | None = None
    dbt_args: Sequence[str] = ("build",)
    as_of: str | None = None
    freshness_check: bool = True
    publish: bool = True
    serving_dir: Path | None = None
    keep_versions: int = 3
    lock_wait_seconds: float = 0.0
    retries: int = 2
    retry_backoff_seconds: float = 5.0
    alerts: AlertConfig = field(default_factory=AlertConfig)


@dataclass
class RunOutcome:
    exit_code: int
    record: RunRecord
    dbt: DbtResult | None = None
    problems: list[str] = field(default_factory=list)


def state_dir(settings: Settings) -> Path:
    """Where the lock and the run history live: beside the warehouse file."""
    return settings.db_path.parent / ".strata"


def history_file(settings: Settings) -> Path:
    return state_dir(settings) / "runs.jsonl"


def default_serving_dir(settings: Settings) -> Path:
    return settings.db_path.parent / "serving"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _failures(result: DbtResult) -> list[dict[str, str]]:
    failures = [
        {"name": f"{node.resource_type} {node.name}", "message": node.message or ""}
        for node in result.failed_nodes()
    ]
    if not failures and not result.ok:
        failures = [{"name": "dbt", "message": message} for message in result.errors[-5:]]
    return failures


def _stale_sources(settings: Settings) -> list[str]:
    """Sources past their error_after age, from the sources.json `dbt source freshness` wrote."""
    path = settings.project_dir / "target" / "strata" / "sources.json"
    if not path.is_file():
        return []
    results = json.loads(path.read_text()).get("results", [])
    return [
        f"{result['unique_id'].split('.', 2)[-1]} (newest row {result.get('max_loaded_at')})"
        for result in results
        if result.get("status") == "error"
    ]


def execute(
    settings: Settings,
    options: RunOptions,
    *,
    progress: Callable[[dict], None] | None = None,
    log: Callable[[str], None] = print,
) -> RunOutcome:
    """Run one locked, recorded, alerted unit of work. Never raises for a failed build."""
    started = _now()
    clock = time.monotonic()
    record = RunRecord(
        run_id=new_run_id(),
        command=options.command,
        started_at=started.isoformat(),
        finished_at=None,
        duration_seconds=None,
        status="error",
        exit_code=EXIT_FAILED,
        as_of_date=options.as_of,
        models_passed=0,
        models_failed=0,
        tests_passed=0,
        tests_failed=0,
        rows_quarantined=None,
        published_version=None,
        failures=[],
        message=None,
    )
    outcome = RunOutcome(exit_code=EXIT_FAILED, record=record)
    env = {"STRATA_RAW_DIR": str(options.raw_dir)} if options.raw_dir else {}
    if options.raw_dir and settings.engine == "spark" and "STRATA_RAW_FORMAT" not in os.environ:
        env["STRATA_RAW_FORMAT"] = raw_file_format(options.raw_dir)
    progress = progress or Progress()
    try:
        with RunLock(state_dir(settings) / "run.lock", wait_seconds=options.lock_wait_seconds):
            outcome = _locked(settings, options, record, env, progress, log)
    except LockHeld as error:
        record.status, record.exit_code, record.message = "error", EXIT_LOCKED, str(error)
        outcome = RunOutcome(exit_code=EXIT_LOCKED, record=record)
    record.finished_at = _now().isoformat()
    record.duration_seconds = round(time.monotonic() - clock, 2)
    if outcome.exit_code != EXIT_LOCKED:
        # A run that never got the lock did nothing: it is reported, not recorded as a run.
        append_run(history_file(settings), record)
    outcome.problems += send_alerts(
        options.alerts, build_payload(record), succeeded=outcome.exit_code == EXIT_OK
    )
    return outcome


def _locked(
    settings: Settings,
    options: RunOptions,
    record: RunRecord,
    env: dict[str, str],
    progress: Callable[[dict], None],
    log: Callable[[str], None],
) -> RunOutcome:
    vars_args = ["--vars", json.dumps({"as_of_date": options.as_of})] if options.as_of else []
    if options.dbt_args and options.freshness_check and not options.as_of:
        (settings.project_dir / "target" / "strata" / "sources.json").unlink(missing_ok=True)
        freshness = run_dbt(settings, ["source", "freshness"], env=env)
        stale = _stale_sources(settings)
        if stale:
            record.status = "failed"
            record.message = (
                f"stale source(s): {', '.join(stale)} (past their error_after threshold); "
                "nothing was built or published. Pass --no-freshness-check to build anyway."
            )
            record.failures = _failures(freshness)
            return RunOutcome(exit_code=EXIT_FAILED, record=record, dbt=freshness)

    result: DbtResult | None = None
    if options.dbt_args:
        result, attempts = run_dbt_with_retries(
            settings,
            [*options.dbt_args, *vars_args],
            retries=options.retries,
            backoff_seconds=options.retry_backoff_seconds,
            env=env,
            on_event=progress,
        )
        record.models_passed = result.count(["model", "seed"], ["success"])
        record.models_failed = result.count(["model", "seed"], ["error"])
        record.tests_passed = result.count(["test", "unit_test"], ["pass"])
        record.tests_failed = result.count(["test", "unit_test"], ["fail", "error"])
        if attempts > 1:
            log(f"strata: dbt needed {attempts} attempts (transient failures retried)")
        if not result.ok:
            record.status = "failed"
            record.failures = _failures(result)
            record.message = "the build or its tests failed; the published copy is unchanged"
            return RunOutcome(exit_code=EXIT_FAILED, record=record, dbt=result)

    if settings.engine != "duckdb":
        # The marts live in the cluster's catalog: BI reads them there (docs/spark.md). The
        # serving copy and the summary read a DuckDB warehouse, so they are for DuckDB targets.
        record.status, record.exit_code = "success", EXIT_OK
        record.message = f"built on target {settings.target}; nothing to publish (docs/spark.md)"
        return RunOutcome(exit_code=EXIT_OK, record=record, dbt=result)

    summary = read_summary(settings.db_path)
    record.as_of_date = summary.as_of_date or record.as_of_date
    record.rows_quarantined = (
        sum(counts["quarantined"] for counts in summary.reconciliation.values())
        if summary.reconciliation
        else None
    )
    if options.publish:
        try:
            published = publish(
                settings.db_path,
                options.serving_dir or default_serving_dir(settings),
                keep=options.keep_versions,
            )
        except PublishError as error:
            record.status, record.message = "failed", f"publish failed: {error}"
            return RunOutcome(exit_code=EXIT_FAILED, record=record, dbt=result)
        record.published_version = published.version
    record.status, record.exit_code = "success", EXIT_OK
    return RunOutcome(exit_code=EXIT_OK, record=record, dbt=result)
