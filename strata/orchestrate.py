"""One strata run, end to end: check, lock, freshness, dbt build (with retries), publish, record,
alert.

The CLI's `run`, `backfill`, `publish` and the scheduler all go through `execute`, so every run
is checked, locked, recorded in the run history and alerted on in the same way. Everything a run
keeps belongs to one warehouse (Settings.state_dir): two warehouses in one folder never share a
lock, a history, a build record or a serving copy.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import duckdb

from strata import dbt_runner, incremental, spark_predictions
from strata.alerts import AlertConfig, build_payload, send_alerts
from strata.atomic_files import replace_file, write_text_atomic
from strata.audiences.definitions import DefinitionError
from strata.audiences.definitions import as_vars as audience_vars
from strata.audiences.definitions import load as load_audiences
from strata.dbt_runner import DbtResult, NodeResult, Progress
from strata.preflight import RawTable, WarehouseBusy, check_raw_dir, check_warehouse_free
from strata.project import project_vars
from strata.publish import SERVING_DB, PublishError, current_manifest, publish
from strata.runs import LockHeld, RunRecord, append_run, new_run_id, run_lock
from strata.settings import DEFAULT_DB_PATH, ConfigError, Settings
from strata.summary import read_summary
from strata.triggers import publish_triggers
from strata.var_rules import differing_vars

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 3

# The file profiles.yml's `serving` output reads (relative to the project): the publication of
# the project's own warehouse, which `mf` queries (README, _share_semantic_manifest).
MF_SERVING_DB = DEFAULT_DB_PATH.parent / "serving" / DEFAULT_DB_PATH.stem / SERVING_DB


@dataclass(frozen=True)
class RunOptions:
    """What one run does, resolved from the settings (flags, environment, strata.toml)."""

    command: str
    raw_dir: Path | None
    dbt_args: Sequence[str]
    serving_dir: Path
    keep_versions: int
    lock_wait_seconds: float
    retries: int
    retry_backoff_seconds: float
    alerts: AlertConfig
    freshness_check: bool
    as_of: str | None = None
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)
    publish: bool = True
    publish_older: bool = False
    accept_anomalies: bool = False
    # `strata run --intraday`: the base models and the trigger models only, then the trigger
    # audiences published (strata/triggers.py); `trigger_as_of` pins the moment M.
    intraday: bool = False
    trigger_as_of: str | None = None
    # a copy of every table in the serving file rather than views of the version's Parquet
    serving_copies: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, **given: Any) -> RunOptions:
        """The run's options: the settings' values, then what the command itself says."""
        freshness = given.pop("freshness_check", None)
        return cls(
            serving_dir=settings.serving,
            keep_versions=settings.keep_versions,
            serving_copies=settings.serving_copies,
            lock_wait_seconds=settings.lock_wait_seconds,
            retries=settings.retries,
            retry_backoff_seconds=settings.retry_backoff_seconds,
            alerts=AlertConfig(
                webhook_url=settings.alert_webhook_url,
                command=settings.alert_command,
                on_success=settings.alert_on_success,
            ),
            freshness_check=settings.freshness_check if freshness is None else freshness,
            **given,
        )


@dataclass
class RunOutcome:
    exit_code: int
    record: RunRecord
    dbt: DbtResult | None = None
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    report: Path | None = None  # the published run report (serving folder), when one was written


def build_record_file(settings: Settings) -> Path:
    """The record of the last build of this warehouse: running, complete or failed."""
    return settings.state_dir / "build.json"


def read_build_record(settings: Settings) -> dict[str, Any] | None:
    try:
        return json.loads(build_record_file(settings).read_text())
    except (OSError, ValueError):
        return None


def _write_build_record(settings: Settings, **fields: Any) -> None:
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    write_text_atomic(build_record_file(settings), json.dumps(fields, default=str) + "\n")


def _share_semantic_manifest(settings: Settings, serving_db: Path) -> str | None:
    """Leave the published build's semantic manifest where MetricFlow's `mf` reads it; returns
    why not when it could not be written.

    `mf` reads only `<project>/target/semantic_manifest.json` (dbt-metricflow has no option for
    another path) and queries through profiles.yml: `STRATA_TARGET=serving` is the published copy
    of the project's warehouse, read-only (README). strata keeps dbt's artifacts per warehouse,
    under its state folder, so a fresh clone's target/ has none after `make run`. The manifest
    names its tables by the warehouse's catalog, the file name (`"strata"."marts"."dim_users"`),
    so it is shared only for the publication that output reads, after it went live: a test's or
    another `--db` warehouse leaves target/ alone rather than hand `mf` tables it cannot find.
    Written atomically, so `mf` reads one whole manifest."""
    project = settings.project_dir
    if settings.db != project / DEFAULT_DB_PATH or serving_db != project / MF_SERVING_DB:
        return None
    built = dbt_runner.target_path(settings) / "semantic_manifest.json"
    shared = project / "target" / "semantic_manifest.json"
    try:
        shared.parent.mkdir(exist_ok=True)
        write_text_atomic(shared, built.read_text())
    except OSError as error:
        return f"the semantic manifest for mf was not written to {shared}: {error}"
    return None


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
    path = dbt_runner.target_path(settings) / "sources.json"
    if not path.is_file():
        return []
    stale = []
    for result in json.loads(path.read_text()).get("results", []):
        if result.get("status") != "error":
            continue
        name = result["unique_id"].split(".", 2)[-1]
        newest = str(result.get("max_loaded_at") or "")
        # dbt reports a source without a single dated row as newest 0001-01-01.
        shown = "no rows with a valid time" if newest.startswith("0001-01-01") else newest
        stale.append(f"{name} (newest row {shown})")
    return stale


def execute(
    settings: Settings,
    options: RunOptions,
    *,
    progress: Callable[[dict], None] | None = None,
    log: Callable[[str], None] = print,
) -> RunOutcome:
    """Run one checked, locked, recorded, alerted unit of work. Never raises for a failed build."""
    started = _now()
    clock = time.monotonic()
    record = RunRecord(
        run_id=new_run_id(),
        command=options.command,
        started_at=started.isoformat(),
        as_of_date=options.as_of,
        warehouse=str(settings.db),
        raw_dir=str(options.raw_dir) if options.raw_dir else None,
        pid=os.getpid(),
        accepted_anomalies=options.accept_anomalies,
    )
    outcome = RunOutcome(exit_code=EXIT_FAILED, record=record)
    progress = progress or Progress()
    recorded = False
    try:
        with run_lock(settings.state_dir / "run.lock", wait_seconds=options.lock_wait_seconds):
            record.status = "running"
            append_run(settings.history_file, record)
            recorded = True
            outcome = _locked(settings, options, record, progress, log)
    except LockHeld as error:
        record.status, record.exit_code, record.message = "error", EXIT_LOCKED, str(error)
        outcome = RunOutcome(exit_code=EXIT_LOCKED, record=record)
    except WarehouseBusy as error:
        record.status, record.exit_code, record.message = "error", EXIT_LOCKED, str(error)
        outcome = RunOutcome(exit_code=EXIT_LOCKED, record=record)
    except ConfigError as error:
        record.status, record.exit_code, record.message = "error", EXIT_USAGE, str(error)
        outcome = RunOutcome(exit_code=EXIT_USAGE, record=record)
    record.exit_code = outcome.exit_code
    record.finished_at = _now().isoformat()
    record.duration_seconds = round(time.monotonic() - clock, 2)
    if recorded:
        # A run that never got the lock did nothing: it is reported, not recorded as a run.
        append_run(settings.history_file, record)
    outcome.problems += send_alerts(
        options.alerts, build_payload(record), succeeded=outcome.exit_code == EXIT_OK
    )
    return outcome


@dataclass
class _Run:
    """One locked run as it goes, step by step (see `_locked`): what the checks found, the
    environment and vars dbt gets, and what the run will say at the end."""

    settings: Settings
    options: RunOptions
    record: RunRecord
    progress: Callable[[dict], None]
    log: Callable[[str], None]
    raw_tables: dict[str, RawTable] = field(default_factory=dict)
    live: dict[str, Any] | None = None  # the publication readers see now, read once
    env: dict[str, str] = field(default_factory=dict)
    dbt_vars: dict[str, Any] = field(default_factory=dict)
    dbt_args: list[str] = field(default_factory=list)
    slices_before: dict[str, dict[str, str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    result: DbtResult | None = None
    # On Spark, what the build gets besides `env` and the nodes built before it (the predictions'
    # inputs, strata/spark_predictions.py), counted with the build's own
    build_env: dict[str, str] = field(default_factory=dict)
    prebuilt: list[NodeResult] = field(default_factory=list)
    # the trigger audiences to publish (docs/triggers.md); None: not known (`strata publish` on
    # its own republishes the daily version only: the definitions are the build's)
    trigger_audiences: list[dict[str, Any]] | None = None

    @property
    def builds(self) -> bool:
        """False for `strata publish` on its own, which only publishes the last build."""
        return bool(self.options.dbt_args)

    @property
    def vars_args(self) -> list[str]:
        return ["--vars", json.dumps(self.dbt_vars)] if self.dbt_vars else []

    def stop(self, message: str, dbt: DbtResult | None = None) -> RunOutcome:
        self.record.status, self.record.message = "failed", message
        if dbt is not None:
            self.record.failures = _failures(dbt)
        return RunOutcome(exit_code=EXIT_FAILED, record=self.record, dbt=dbt)


def _locked(
    settings: Settings,
    options: RunOptions,
    record: RunRecord,
    progress: Callable[[dict], None],
    log: Callable[[str], None],
) -> RunOutcome:
    """The run under the lock, one step after another; a step that stops the run says why."""
    run = _Run(settings, options, record, progress, log)
    _check_inputs(run)
    _prepare_dbt(run)
    if options.intraday:
        return _intraday(run)
    _check_holdout_rule(run)
    for step in (_check_freshness, _plan_incremental, _prepare_spark, _build):
        stopped = step(run)
        if stopped is not None:
            return stopped
    return _finish(run)


def _check_inputs(run: _Run) -> None:
    """Before dbt starts: the raw folder is what the contract needs (raises ConfigError) and no
    other process holds the warehouse open (raises WarehouseBusy)."""
    settings, options = run.settings, run.options
    if options.raw_dir:
        run.raw_tables = check_raw_dir(settings.project_dir, options.raw_dir)
    if run.builds and settings.engine == "duckdb":
        check_warehouse_free(
            settings.db, options.serving_dir / "strata.duckdb", options.lock_wait_seconds
        )
    run.live = current_manifest(options.serving_dir)


def _prepare_dbt(run: _Run) -> None:
    """What dbt is given: the raw folder (and on Spark which tables were delivered and their
    layout), the as-of date, the published build the guards compare with, and the vars."""
    settings, options = run.settings, run.options
    # The as-of date travels to dbt in one channel, env STRATA_AS_OF_DATE (docs/segments.md);
    # an empty one keeps a stray shell value out.
    run.env = {
        "STRATA_AS_OF_DATE": options.as_of or "",
        "STRATA_TRIGGER_AS_OF": options.trigger_as_of or "",
    }
    if options.raw_dir:
        run.env["STRATA_RAW_DIR"] = str(options.raw_dir)
        if settings.engine == "spark":
            provided = {name: table for name, table in run.raw_tables.items() if table.provided}
            run.env["STRATA_RAW_TABLES"] = ",".join(provided)
            # Each table's layout as the listing found it (Spark SQL cannot list a folder),
            # whatever the shell exports: the preflight checked these paths and no others.
            run.env["STRATA_RAW_LAYOUT"] = ",".join(
                f"{name}={table.spark_path}" for name, table in provided.items()
            )
    if run.live and run.live.get("figures"):
        run.env["STRATA_GUARD_BASELINE"] = json.dumps(run.live["figures"])
    run.dbt_vars = dict(options.dbt_vars)
    # Every var set away from its default is recorded (run history, build record, publication),
    # and a relaxed guard counts as an accepted anomaly: a build a guard would have refused is
    # never published without a trace (docs/data_quality.md, guards).
    run.record.vars = differing_vars(run.dbt_vars)
    relaxed = sorted(name for name in run.record.vars if name.startswith("guard_"))
    if relaxed:
        run.record.accepted_anomalies = True
        run.notes.append(f"guards relaxed for this run by var(s): {', '.join(relaxed)}")
    if options.accept_anomalies:
        run.dbt_vars["accept_anomalies"] = True
    if run.builds:
        checked = _audience_vars(settings, options.raw_dir)
        run.trigger_audiences = [
            audience for audience in checked["audiences"] if audience["kind"] == "trigger"
        ]
        run.dbt_vars.update(checked)
    run.dbt_args = list(options.dbt_args)


def _audience_vars(settings: Settings, raw_dir: Path | None) -> dict[str, Any]:
    """var audiences: the definitions of audiences/*.yml, checked before dbt starts. A bad one
    stops the run (exit 2) naming the file and line; nothing is built or published."""
    try:
        audiences = load_audiences(settings.audiences_folder, settings.project_dir, raw_dir)
    except DefinitionError as error:
        raise ConfigError(
            "audience definitions refused, nothing was built:\n  " + "\n  ".join(error.problems)
        ) from error
    return audience_vars(audiences)


def holdout_rule(dbt_vars: Mapping[str, Any]) -> dict[str, Any]:
    """The holdout rule a build draws its groups by: the current salt and share (the run's vars
    over dbt_project.yml's) and the earlier rules past entries keep (var holdout_history)."""
    values = {**project_vars(), **dbt_vars}
    history = [
        {"until": str(rule["until"]), "salt": str(rule["salt"]), "share": float(rule["share"])}
        for rule in values.get("holdout_history") or []
        if isinstance(rule, Mapping) and {"until", "salt", "share"} <= set(rule)
    ]
    return {
        "salt": str(values["holdout_salt"]),
        "share": float(values["holdout_share"]),
        "history": sorted(history, key=lambda rule: rule["until"]),
    }


def _check_holdout_rule(run: _Run) -> None:
    """A new holdout salt or share would draw every past entry's group afresh and rewrite closed
    experiments without a word. It is taken only when the published build's rule is kept in var
    holdout_history (with the last day it applied); otherwise the run stops (exit 2) saying how."""
    live = (run.live or {}).get("holdout")
    if not run.builds or not live:
        return
    rule = holdout_rule(run.dbt_vars)
    if (rule["salt"], rule["share"]) == (live["salt"], live["share"]):
        return
    if any((old["salt"], old["share"]) == (live["salt"], live["share"]) for old in rule["history"]):
        return
    raise ConfigError(
        f"the holdout rule changed (salt {live['salt']!r}, share {live['share']} published; "
        f"now salt {rule['salt']!r}, share {rule['share']}): every past entry would be drawn "
        "into its group afresh and closed experiments rewritten. Keep the published rule for the "
        "entries it drew by adding it to var holdout_history with the last day it applied, e.g. "
        f"holdout_history: [{{until: YYYY-MM-DD, salt: {live['salt']}, share: {live['share']}}}] "
        "(docs/outcomes.md)"
    )


def _check_freshness(run: _Run) -> RunOutcome | None:
    """Stop before building when a delivered source is past its error_after age. Only for a run
    about the present: an explicit --as-of is historical by design."""
    settings, options = run.settings, run.options
    if not (run.builds and options.freshness_check and not options.as_of):
        return None
    provided = [name for name, table in run.raw_tables.items() if table.provided] or ["orders"]
    select = " ".join(f"source:shop.{name}" for name in provided)
    (dbt_runner.target_path(settings) / "sources.json").unlink(missing_ok=True)
    freshness = dbt_runner.run_dbt(
        settings, ["source", "freshness", "--select", select, *run.vars_args], env=run.env
    )
    stale = _stale_sources(settings)
    if not stale:
        return None
    return run.stop(
        f"stale source(s): {', '.join(stale)} (past their error_after threshold); "
        "nothing was built or published. For data that is not meant to be current "
        "(historical analysis), pass --as-of DATE; to build anyway, --no-freshness-check.",
        freshness,
    )


def _plan_incremental(run: _Run) -> None:
    """On DuckDB: rebuild in full when a table was stored by an earlier strata, and remember the
    incremental tables' slices, so that the run can say what it recomputed."""
    settings = run.settings
    if not run.builds or settings.engine != "duckdb":
        return None
    # What the stored tables were built as: the manifest of the build that wrote them.
    stored = incremental.incremental_models(dbt_runner.target_path(settings) / "manifest.json")
    outdated = incremental.outdated_tables(settings.db, stored)
    if outdated and "--full-refresh" not in run.dbt_args:
        run.dbt_args.append("--full-refresh")
        run.notes.append(
            f"rebuilt from scratch (--full-refresh): {', '.join(outdated)} was stored by an "
            "earlier strata and cannot be checked slice by slice"
        )
    if "--full-refresh" not in run.dbt_args:
        run.slices_before = incremental.slice_states(settings.db, stored)
    return None


def _prepare_spark(run: _Run) -> RunOutcome | None:
    """dbt-spark cannot run the prediction Python models: strata computes them between two builds
    with the same code (strata/spark_predictions.py, docs/predictions.md)."""
    settings = run.settings
    if not (run.builds and settings.engine == "spark" and run.dbt_args[0] == "build"):
        return None
    steps: list[DbtResult] = []
    run_step = spark_predictions.run_step(settings)

    def step(args: list[str], env: dict[str, str]) -> DbtResult:
        steps.append(run_step(args, env))
        return steps[-1]

    failed = spark_predictions.prepare(
        settings, run.vars_args, run.env, run.dbt_vars, step,
        full_refresh="--full-refresh" in run.dbt_args,
    )  # fmt: skip
    if failed is not None:
        return run.stop("computing the predictions on Spark failed", failed)
    if "--select" not in run.dbt_args:
        # the build leaves out what step 1 built and still runs its tests (spark_predictions)
        run.dbt_args += spark_predictions.SECOND_STEP_EXCLUDE
        run.build_env.update(spark_predictions.SECOND_STEP_ENV)
        run.prebuilt = steps[0].nodes
    return None


def _build(run: _Run) -> RunOutcome | None:
    """dbt itself, retried on transient failures, with the build record written around it."""
    settings, options, record = run.settings, run.options, run.record
    if not run.builds:
        return None
    _write_build_record(
        settings, build_id=record.run_id, status="running", started_at=record.started_at,
        as_of_date=options.as_of, raw_dir=record.raw_dir, vars=record.vars,
    )  # fmt: skip
    result, attempts = dbt_runner.run_dbt_with_retries(
        settings,
        [*run.dbt_args, *run.vars_args],
        retries=options.retries,
        backoff_seconds=options.retry_backoff_seconds,
        env={**run.env, **run.build_env},
        on_event=run.progress,
    )
    if run.prebuilt:
        result = replace(result, nodes=[*run.prebuilt, *result.nodes])
    run.result = result
    _count_nodes(record, result)
    if attempts > 1:
        run.log(f"strata: dbt needed {attempts} attempts (transient failures retried)")
    if result.ok:
        return None
    guards = guard_failures(settings.db, result)
    _write_build_record(
        settings, build_id=record.run_id, status="failed", started_at=record.started_at,
        finished_at=_now().isoformat(), as_of_date=options.as_of, raw_dir=record.raw_dir,
    )  # fmt: skip
    message = "the build or its tests failed; the published copy is unchanged"
    if guards:
        message = (
            "a guard stopped the build, so nothing was published: "
            + "; ".join(guards)
            + ". If the change is real, run again with --accept-anomaly "
            "(docs/data_quality.md, guards)."
        )
    return run.stop(message, result)


def _count_nodes(record: RunRecord, result: DbtResult) -> None:
    record.models_passed = result.count(["model", "seed"], ["success"])
    record.models_failed = result.count(["model", "seed"], ["error"])
    record.tests_passed = result.count(["test", "unit_test"], ["pass"])
    record.tests_failed = result.count(["test", "unit_test"], ["fail", "error"])
    record.tests_warned = result.count(["test"], ["warn"])
    record.warnings = [
        {"name": node.name, "message": node.message or ""}
        for node in result.nodes
        if node.status == "warn"
    ]


def _finish(run: _Run) -> RunOutcome:
    """After a good build (or for `strata publish`): the summary, the build record, what the
    incremental tables recomputed, and the publication."""
    settings, options, record = run.settings, run.options, run.record
    if settings.engine != "duckdb":
        # The marts live in the cluster's catalog: BI reads them there (docs/spark.md). The
        # serving copy and the summary read a DuckDB warehouse, so they are for DuckDB targets.
        record.status = "success"
        record.message = f"built on target {settings.target}; nothing to publish (docs/spark.md)"
        return RunOutcome(exit_code=EXIT_OK, record=record, dbt=run.result)

    summary = read_summary(settings.db)
    record.as_of_date = summary.as_of_date or record.as_of_date
    record.rows_quarantined = (
        sum(counts["quarantined"] for counts in summary.reconciliation.values())
        if summary.reconciliation
        else None
    )
    gaps = summary.purchase_gaps or {}
    if "thresholds_source" in gaps:
        record.thresholds = {
            name: gaps[name]
            for name in ("thresholds_source", "dormant_after_days", "churn_after_days")
        }
    build = read_build_record(settings) or {}
    if run.builds:
        build = {
            "build_id": record.run_id, "status": "complete", "started_at": record.started_at,
            "finished_at": _now().isoformat(), "as_of_date": record.as_of_date,
            "raw_dir": record.raw_dir, "vars": record.vars, "thresholds": record.thresholds,
            "accepted_anomalies": record.accepted_anomalies,
        }  # fmt: skip
        _write_build_record(settings, **build)
    elif build.get("status") != "complete":
        # `strata publish` on its own: only a warehouse whose last build completed is whole.
        return _refuse_publish(settings, run.live, record, build)

    notes = run.notes + (run.result.notices if run.result is not None else [])
    outcome = RunOutcome(exit_code=EXIT_OK, record=record, dbt=run.result, notes=notes)
    if run.builds:
        outcome.notes += _recomputed_slices(run)
    if options.publish:
        _publish(settings, options, record, build, outcome, run.live)
        if record.status != "failed":
            _publish_trigger_audiences(run, outcome)
    if record.status != "failed":
        record.status = "success"
    else:
        outcome.exit_code = EXIT_FAILED
    return outcome


def _intraday(run: _Run) -> RunOutcome:
    """`strata run --intraday`: the files delivered since the last build, read by the base
    models, and every trigger model, then the trigger audiences published. The daily marts and
    the daily publication are not touched (docs/triggers.md)."""
    settings, options, record = run.settings, run.options, run.record
    if settings.engine != "duckdb":
        raise ConfigError(
            "the intraday run is for the DuckDB warehouse; on Spark the trigger models are built "
            "by `strata run` (docs/decisions.md, docs/triggers.md)"
        )
    build = read_build_record(settings) or {}
    if build.get("status") != "complete":
        return run.stop(
            f"the intraday run needs a complete daily build of {settings.db} (the trigger models "
            f"read its lifecycle history and rhythm); the last build is "
            f"{build.get('status') or 'missing'}. Run `strata run` first; nothing was published."
        )
    result, _attempts = dbt_runner.run_dbt_with_retries(
        settings,
        [*run.dbt_args, *run.vars_args],
        retries=options.retries,
        backoff_seconds=options.retry_backoff_seconds,
        env=run.env,
        on_event=run.progress,
    )
    run.result = result
    _count_nodes(record, result)
    if not result.ok:
        return run.stop(
            "the intraday build or its tests failed; the published trigger audiences are unchanged",
            result,
        )
    outcome = RunOutcome(
        exit_code=EXIT_OK, record=record, dbt=result, notes=run.notes + result.notices
    )
    if options.publish:
        _publish_trigger_audiences(run, outcome)
    if record.status == "failed":
        outcome.exit_code = EXIT_FAILED
    else:
        record.status = "success"
    return outcome


def _publish_trigger_audiences(run: _Run, outcome: RunOutcome) -> None:
    """A new trigger version (strata/triggers.py), after a good daily or intraday build."""
    settings, options, record = run.settings, run.options, run.record
    if run.trigger_audiences is None:
        return
    try:
        published = publish_triggers(
            settings.db,
            options.serving_dir,
            run.trigger_audiences,
            keep=options.keep_versions,
            run_id=record.run_id,
        )
    except PublishError as error:
        record.status, record.message = "failed", str(error)
        return
    if published is None:
        return
    counts = ", ".join(
        f"{name} {figures['members']} (+{figures['adds']} -{figures['removes']})"
        for name, figures in published.counts.items()
    )
    outcome.notes.append(
        f"trigger audiences as of {published.trigger_as_of} published as version "
        f"{published.version}" + (f": {counts}" if counts else "")
    )
    if options.intraday:
        record.published_version = published.version
        record.message = f"trigger audiences as of {published.trigger_as_of}"


def _recomputed_slices(run: _Run) -> list[str]:
    """A line per incremental table: the slices this build computed, kept and removed (a
    backfill's var rfm_snapshot_recompute forces its range)."""
    recompute = run.options.dbt_vars.get("rfm_snapshot_recompute") or {}
    models = incremental.incremental_models(dbt_runner.target_path(run.settings) / "manifest.json")
    after = incremental.slice_states(run.settings.db, models)
    forced = {
        day
        for day in after.get("marts.fct_user_rfm_snapshots", {})
        if recompute and recompute["start"] <= day <= recompute["end"]
    }
    return [
        incremental.describe(change)
        for change in incremental.changes(run.slices_before, after, forced)
    ]


def guard_figures(db: Path) -> dict[str, Any]:
    """What the next run's guards compare with: clean rows per delivered source and users active
    in the last 30 days, as of this build's date."""
    with duckdb.connect(str(db), read_only=True) as con:
        clean = dict(
            con.execute(
                "select source_table, clean_rows from marts.rpt_source_reconciliation"
            ).fetchall()
        )
        as_of, active = con.execute(
            "select cast(max(as_of_date) as varchar),"
            " sum(case when active_days_30d > 0 then 1 else 0 end) from marts.dim_users"
        ).fetchone()
        newest = con.execute(
            "select cast(max(last_active_date) as varchar) from marts.dim_users"
        ).fetchone()[0]
    return {
        "as_of_date": as_of,
        "newest_data_date": newest,
        "clean_rows": clean,
        "active_users": int(active or 0),
    }


def guard_failures(db: Path, result: DbtResult) -> list[str]:
    """A sentence per guard that failed, from the rows it stored in the audit schema: the guard,
    the source, the figure, the threshold and what it was compared with."""
    failed = [
        node.name
        for node in result.failed_nodes()
        if node.resource_type == "test" and node.name.startswith("guard_")
    ]
    sentences = []
    if not failed or not db.exists():
        return sentences
    with duckdb.connect(str(db), read_only=True) as con:
        for name in failed:
            try:
                rows = con.execute(
                    "select guard, source_table, figure, threshold, compared_with, detail"
                    f' from dbt_test__audit."{name}"'
                ).fetchall()
            except duckdb.Error:
                sentences.append(f"{name} failed")
                continue
            for guard, source, figure, threshold, compared, detail in rows:
                text = f"{guard} for {source} is {_number(figure)}, past the threshold "
                text += _number(threshold)
                if compared is not None:
                    text += f" (the published build had {_number(compared)})"
                if detail:
                    text += f"; {detail}"
                sentences.append(text)
    return sentences


def _number(value: Any) -> str:
    if value is None:
        return "none"
    value = float(value)
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.3g}"


def _refuse_publish(
    settings: Settings, live: dict[str, Any] | None, record: RunRecord, build: dict[str, Any]
) -> RunOutcome:
    shown = (
        f"version {live['version']} (build {live.get('build_id')}, as of {live.get('as_of_date')})"
        if live
        else "nothing"
    )
    state = build.get("status", "unknown") if build else "unknown (no build recorded)"
    record.status = "failed"
    record.message = (
        f"the last build of {settings.db} did not complete (build {build.get('build_id')}: "
        f"{state}), so its tables may mix two builds; nothing was published. Published now: "
        f"{shown}. Run `strata run` to build again."
    )
    return RunOutcome(exit_code=EXIT_FAILED, record=record)


def _publish(
    settings: Settings,
    options: RunOptions,
    record: RunRecord,
    build: dict[str, Any],
    outcome: RunOutcome,
    live: dict[str, Any] | None,
) -> None:
    """Publish the build, unless it is for an earlier date than what readers see now (`live`,
    the publication read when the run started, under the run lock)."""
    live_as_of = (live or {}).get("as_of_date")
    as_of = build.get("as_of_date")
    if live_as_of and as_of and as_of < live_as_of and not options.publish_older:
        outcome.notes.append(
            f"not published: this build is as of {as_of}, older than the published version "
            f"{live['version']} (as of {live_as_of}), which dashboards keep showing"
            + ("" if options.command == "backfill" else "; pass --publish-older to replace it")
        )
        return
    try:
        published = publish(
            settings.db,
            options.serving_dir,
            keep=options.keep_versions,
            build={
                "build_id": build.get("build_id"),
                "as_of_date": as_of,
                "figures": guard_figures(settings.db),
                "holdout": holdout_rule(options.dbt_vars),
                "vars": record.vars,
                "accepted_anomalies": record.accepted_anomalies,
            },
            after=_report_writer(build.get("build_id"), as_of, outcome),
            copies=options.serving_copies,
        )
    except PublishError as error:
        record.status, record.message = "failed", f"publish failed: {error}"
        return
    record.published_version = published.version
    _record_published_inputs(settings.db)
    if problem := _share_semantic_manifest(settings, published.serving_db):
        outcome.notes.append(problem)
    if published.after_error:
        outcome.notes.append(f"the run report was not written: {published.after_error}")


def _record_published_inputs(db: Path) -> None:
    """Which raw files, as they were, the published build read: the next build's guard on its
    new delivery (tests/guards/guard_new_rows_quarantined.sql) judges the rows of every other
    file. Kept in the build warehouse's strata_meta, which builds never rebuild."""
    with duckdb.connect(str(db)) as con:
        con.execute("create schema if not exists strata_meta")
        con.execute(
            "create or replace table strata_meta.published_inputs as"
            " select distinct 'orders' as source_table, source_file, source_file_fingerprint"
            " from staging.base_shop__orders"
            " union all"
            " select distinct 'sessions', source_file, source_file_fingerprint"
            " from staging.base_shop__sessions"
        )


def _report_writer(
    build_id: str | None, as_of: str | None, outcome: RunOutcome
) -> Callable[[Path, Path], None]:
    """What publish() runs once a version is live: the run report of exactly that version, in
    its version folder and, replaced atomically, beside the serving copy (docs/report.md)."""

    def write(serving_db: Path, version_dir: Path) -> None:
        from strata.report import REPORT_FILE, build_report  # Altair: imported only to report

        result = build_report(serving_db, version_dir / REPORT_FILE, build_id=build_id, as_of=as_of)
        target = serving_db.parent / REPORT_FILE
        temp = target.with_name(f".{REPORT_FILE}.{os.getpid()}.tmp")
        shutil.copyfile(result.path, temp)
        replace_file(temp, target)
        outcome.report = target

    return write
