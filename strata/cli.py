"""The `strata` command line: run the build on a schedule, publish it for BI, report what it did.

Exit codes, for schedulers and orchestrators:
  0  success
  1  the build, its tests, a guard, the freshness check or the publish failed (the published copy
     is unchanged; failing models and tests are named on stderr)
  2  bad usage or configuration (a missing raw folder or file, a bad setting)
  3  busy: another strata run holds this warehouse's lock, or another process holds the
     warehouse file open (use --wait to queue behind it)
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
import threading
from pathlib import Path
from typing import Any

import click
import yaml

from strata.audiences import commands as audiences_commands
from strata.orchestrate import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_USAGE,
    RunOptions,
    RunOutcome,
    execute,
)
from strata.runs import read_runs
from strata.settings import ConfigError, Settings, check_db_path, load_settings
from strata.summary import format_summary, read_summary
from strata.triggers import intraday_dbt_args
from strata.var_rules import var_problems

# Vars the wrapper sets itself, each from its own flag.
RESERVED_VARS = {
    "as_of_date": "--as-of",
    "accept_anomalies": "--accept-anomaly",
    "rfm_snapshot_recompute": "strata backfill --start/--end",
    "audiences": "audiences/*.yml (setting audiences_dir; docs/audiences.md)",
}


def _fail_usage(message: str) -> None:
    click.echo(f"strata: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _settings(config: Path | None, **flags: Any) -> Settings:
    try:
        settings = load_settings(config, **flags)
        check_db_path(settings)
        return settings
    except ConfigError as error:
        _fail_usage(str(error))
        raise AssertionError("unreachable") from error


def _raw_dir(settings: Settings) -> Path:
    """The raw folder: --raw-dir, else $STRATA_RAW_DIR, else raw_dir in strata.toml."""
    if not settings.raw_dir:
        _fail_usage(
            "no raw data: pass --raw-dir DIR, or set STRATA_RAW_DIR or raw_dir in strata.toml"
        )
    path = Path(settings.raw_dir).expanduser().resolve()
    if not path.is_dir():
        _fail_usage(f"raw data folder {path} does not exist")
    return path


def _dbt_vars(settings: Settings, text: str | None) -> dict[str, Any]:
    """The dbt vars of a run: `dbt_vars` of the settings, then --vars (a YAML mapping, as
    `dbt --vars` takes it) over them."""
    value: Any = {}
    if text:
        try:
            value = yaml.safe_load(text)
        except yaml.YAMLError as error:
            _fail_usage(f"--vars is not valid YAML: {error}")
        if not isinstance(value, dict):
            _fail_usage(
                f"--vars must be a mapping such as '{{churn_after_days: 120}}', not {text!r}"
            )
    merged = {**settings.dbt_vars, **value}
    for name, flag in RESERVED_VARS.items():
        if name in merged:
            _fail_usage(f"--vars: set {name} with {flag}, not as a var")
    problems = var_problems(merged)
    if problems:
        _fail_usage("vars refused, nothing was built: " + "; ".join(problems))
    return merged


def _report(settings: Settings, outcome: RunOutcome, as_json: bool) -> None:
    record = outcome.record
    if as_json:
        summary = (
            read_summary(settings.db)
            if outcome.exit_code == EXIT_OK and settings.engine == "duckdb"
            else None
        )
        payload = {
            "run": record.to_dict(),
            "seconds": record.duration_seconds,
            "models_built": record.models_passed,
            "tests_passed": record.tests_passed,
            "as_of_date": record.as_of_date,
            "reconciliation": summary.reconciliation if summary else None,
            "breakdowns": summary.breakdowns if summary else None,
            "warehouse": str(settings.db),
            "report": str(outcome.report) if outcome.report else None,
            "notes": outcome.notes,
        }
        click.echo(json.dumps(payload, default=str))
    if outcome.exit_code != EXIT_OK:
        click.echo(f"strata: {record.command} failed: {record.message or record.status}", err=True)
        for failure in record.failures:
            click.echo(f"  {failure['name']}: {failure['message']}", err=True)
    elif not as_json:
        click.echo(
            f"strata {record.command} on {settings.db}: {record.models_passed} models and seeds "
            f"built, {record.tests_passed} tests passed in {record.duration_seconds:.1f}s"
            + (
                f"; published version {record.published_version}"
                if record.published_version
                else ""
            )
        )
        if settings.engine != "duckdb":
            click.echo(record.message)
        elif record.command not in ("publish", "intraday"):
            click.echo(format_summary(read_summary(settings.db)))
    if not as_json:
        for note in outcome.notes:
            click.echo(f"strata: {note}")
        if outcome.report:
            click.echo(f"report: {outcome.report}")
        for warning in record.warnings:
            click.echo(f"strata: warning from {warning['name']}: {warning['message']}", err=True)
    for problem in outcome.problems:
        click.echo(f"strata: alert not delivered: {problem}", err=True)


CONFIG_OPTION = click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="strata.toml to read [default: $STRATA_CONFIG or ./strata.toml].",
)
DB_OPTION = click.option(
    "--db", "db_path", type=str, default=None, help="Warehouse file [$STRATA_DB_PATH]."
)
TARGET_OPTION = click.option(
    "--target",
    type=str,
    default=None,
    help="dbt target in profiles.yml: duckdb, spark (local Spark) or spark_thrift (a cluster) "
    "[$STRATA_TARGET or duckdb]. Spark targets build only; BI reads their marts in the cluster.",
)
RAW_OPTION = click.option(
    "--raw-dir",
    type=str,
    default=None,
    help="Folder with orders (and optional sessions) as .parquet or .csv [$STRATA_RAW_DIR].",
)
WAIT_OPTION = click.option(
    "--wait",
    "lock_wait_seconds",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait for another run's lock, or for a process holding the warehouse, "
    "before giving up with exit code 3 [0].",
)
AS_OF_OPTION = click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Compute everything as of the end of this UTC day [default: latest day with data]. "
    "A past date is historical analysis: the freshness check is skipped.",
)
ACCEPT_OPTION = click.option(
    "--accept-anomaly",
    "accept_anomalies",
    is_flag=True,
    help="Let this one run publish although a guard (quarantined share, a drop in rows or "
    "users, missing recent data) failed; the run history records it.",
)
VARS_OPTION = click.option(
    "--vars",
    "vars_text",
    type=str,
    default=None,
    help="dbt vars as YAML, e.g. '{churn_after_days: 120}' (docs/segments.md lists them).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="strata")
def main() -> None:
    """strata: where every user stands today (lifecycle stage, RFM segment, next action).

    A thin wrapper around the dbt project: it runs the build safely, publishes the marts for BI
    readers and reports what it did. Settings come from flags, then env vars, then strata.toml.
    """


@main.command()
@click.option("--users", type=click.IntRange(min=1), default=50_000, show_default=True)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=42,
    show_default=True,
    help="Same seed, same data.",
)
@click.option(
    "--end-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Last day of data (UTC) [default: yesterday, the last complete day].",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo_data"),
    show_default=True,
    help="Folder to write orders and sessions into.",
)
@click.option(
    "--format", "fmt", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True
)
@click.option(
    "--dirty-share",
    type=click.FloatRange(0, 0.5),
    default=0.01,
    show_default=True,
    help="Share of each file's rows made dirty (one quarantinable defect per row); 0 for clean.",
)
@click.option(
    "--treatment-effect",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Plant a known lift: the chance that a dormant user who is not held out, and would not "
    "come back on their own, returns within the outcome window. Writes treatment.json; use "
    "--dirty-share 0 for exact counts.",
)
@click.option(
    "--holdout-share",
    type=click.FloatRange(0, 1),
    default=None,
    help="Share of users held out of the play (stable md5 hash); default: var holdout_share.",
)
@click.option(
    "--holdout-salt",
    default=None,
    help="Salt of the holdout hash; default: var holdout_salt.",
)
@click.option(
    "--outcome-window-days",
    type=click.IntRange(1, 365),
    default=None,
    help="Days after entering dormant in which a return counts; default: var outcome_window_days.",
)
@click.option(
    "--rhythm",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Write an orders-only shop instead, whose customers buy every RHYTHM days on average "
    "(3 for a grocery, 1000 for a furniture shop), clean (strata.generate.rhythm).",
)
@click.option(
    "--end-hour",
    type=click.IntRange(0, 24),
    default=24,
    show_default=True,
    help="With --rhythm: the data stops at this UTC hour of the end date (4: a partial last day).",
)
def generate(
    users: int,
    seed: int,
    end_date: dt.datetime | None,
    out: Path,
    fmt: str,
    dirty_share: float,
    treatment_effect: float,
    holdout_share: float | None,
    holdout_salt: str | None,
    outcome_window_days: int | None,
    rhythm: float | None,
    end_hour: int,
) -> None:
    """Write a realistic, deterministic demo population (orders and sessions, ~1% dirty rows)."""
    from strata.generate import generate as generate_data

    day = end_date.date() if end_date else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    if rhythm is not None:
        from strata.generate.rhythm import generate_rhythm_shop

        path, orders = generate_rhythm_shop(
            users, seed, day, out, mean_gap_days=rhythm, end_hour=end_hour
        )
        click.echo(
            f"wrote {orders:,} orders for {users:,} customers buying every {rhythm:g} days on "
            f"average, up to {day} {end_hour:02d}:00 UTC, to {path}"
        )
        return
    given = {
        "holdout_share": holdout_share, "holdout_salt": holdout_salt,
        "outcome_window_days": outcome_window_days,
    }  # fmt: skip
    result = generate_data(
        users=users, seed=seed, end_date=day, out_dir=out, fmt=fmt, dirty_share=dirty_share,
        treatment_effect=treatment_effect,
        **{name: value for name, value in given.items() if value is not None},
    )  # fmt: skip
    dirty = sum(result.dirty_rows.values())
    click.echo(
        f"wrote {result.orders_rows:,} orders and {result.sessions_rows:,} sessions for "
        f"{users:,} users up to {day} ({dirty:,} dirty rows) to {out} "
        f"in {result.seconds:.1f}s"
    )
    if result.treatment:
        click.echo(
            f"planted lift {result.treatment.true_lift:.3f} over "
            f"{result.treatment.counts.treated_entries:,} treated entries -> "
            f"{result.treatment_path}"
        )


def _build_args(select: str | None = None, full_refresh: bool = False) -> list[str]:
    """`dbt build` without unit tests, which check the SQL's logic (make test), not the data."""
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    return args


@main.command()
@RAW_OPTION
@AS_OF_OPTION
@VARS_OPTION
@click.option("--select", "select", type=str, default=None, help="dbt node selection.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option(
    "--freshness-check/--no-freshness-check",
    default=None,
    help="Stop before building when a source is past its error_after age [on; off with --as-of].",
)
@click.option("--no-publish", is_flag=True, help="Build without publishing for BI readers.")
@ACCEPT_OPTION
@click.option(
    "--publish-older",
    is_flag=True,
    help="Publish even when this build is as of an earlier date than the published one.",
)
@click.option(
    "--intraday",
    is_flag=True,
    help="Read only the new deliveries, rebuild the trigger models and publish the trigger "
    "audiences; the daily marts stay as they are (docs/triggers.md).",
)
@click.option(
    "--at",
    "trigger_at",
    type=click.DateTime(formats=["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S"]),
    default=None,
    help="The moment M (UTC) the triggers are computed for [the newest delivery].",
)
@click.option(
    "--watch",
    is_flag=True,
    help="With --intraday: keep running, and run again whenever a delivery lands, with dbt "
    "kept warm in this process (docs/triggers.md).",
)
@click.option(
    "--poll-seconds",
    type=click.FloatRange(min=0.1),
    default=10.0,
    show_default=True,
    help="With --watch: how often the raw folder is listed.",
)
@click.option(
    "--max-runs",
    type=click.IntRange(min=1),
    default=None,
    help="With --watch: stop after this many runs.",
)
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run(
    raw_dir: str | None,
    as_of: dt.datetime | None,
    vars_text: str | None,
    select: str | None,
    full_refresh: bool,
    freshness_check: bool | None,
    no_publish: bool,
    accept_anomalies: bool,
    publish_older: bool,
    intraday: bool,
    trigger_at: dt.datetime | None,
    watch: bool,
    poll_seconds: float,
    max_runs: int | None,
    lock_wait_seconds: float | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
    as_json: bool,
) -> None:
    """Check the input and freshness, run `dbt build`, publish on success, print what it did.

    Unit tests are left to `make test`: they check the SQL's logic, not the data. With
    --intraday: only the new deliveries and the trigger audiences (docs/triggers.md).
    """
    if intraday and (as_of or select or full_refresh or publish_older):
        _fail_usage(
            "--intraday reads the newest deliveries: it takes no --as-of, --select, "
            "--full-refresh or --publish-older"
        )
    if watch and (not intraday or trigger_at):
        _fail_usage("--watch is for `strata run --intraday` without --at")
    settings = _settings(
        config, raw_dir=raw_dir, db_path=db_path, target=target,
        lock_wait_seconds=lock_wait_seconds,
    )  # fmt: skip
    options = RunOptions.from_settings(
        settings,
        command="intraday" if intraday else "run",
        raw_dir=_raw_dir(settings),
        dbt_args=intraday_dbt_args() if intraday else _build_args(select, full_refresh),
        as_of=as_of.date().isoformat() if as_of else None,
        dbt_vars=_dbt_vars(settings, vars_text),
        freshness_check=freshness_check,
        publish=not no_publish,
        publish_older=publish_older,
        accept_anomalies=accept_anomalies,
        intraday=intraday,
        trigger_as_of=trigger_at.isoformat() if trigger_at else None,
    )
    if watch:
        sys.exit(_watch(settings, options, poll_seconds, max_runs, as_json))
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json)
    sys.exit(outcome.exit_code)


def _watch(
    settings: Settings,
    options: RunOptions,
    poll_seconds: float,
    max_runs: int | None,
    as_json: bool,
) -> int:
    """`strata run --intraday --watch`: an intraday run whenever the raw folder changes, with dbt
    warm in this process, until SIGINT or SIGTERM (a run in progress finishes first)."""
    from strata import dbt_runner
    from strata.triggers import watch

    if options.raw_dir is None:
        _fail_usage("--watch needs a raw folder to watch (--raw-dir or raw_dir)")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    dbt_runner.WARM = dbt_runner.WarmDbt()

    def once() -> int:
        outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
        _report(settings, outcome, as_json)
        return outcome.exit_code

    click.echo(f"strata: watching {options.raw_dir} every {poll_seconds:g}s (stop with Ctrl-C)")
    return watch(
        once, options.raw_dir, poll_seconds=poll_seconds, max_runs=max_runs,
        stopped=stop.is_set, sleep=stop.wait,
    )  # fmt: skip


@main.command()
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@RAW_OPTION
@AS_OF_OPTION
@VARS_OPTION
@ACCEPT_OPTION
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def backfill(
    start: dt.datetime,
    end: dt.datetime,
    raw_dir: str | None,
    as_of: dt.datetime | None,
    vars_text: str | None,
    accept_anomalies: bool,
    lock_wait_seconds: float | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
) -> None:
    """Recompute the history of START..END (inclusive) in one build, and say what was recomputed.

    Every history mart but the RFM snapshots is computed over the whole data range on every
    build; the snapshots whose period ends in the range are recomputed even where their inputs
    have not changed. A backfill never replaces a published build of a later date.
    """
    if end < start:
        _fail_usage("--end is before --start")
    settings = _settings(
        config, raw_dir=raw_dir, db_path=db_path, target=target,
        lock_wait_seconds=lock_wait_seconds,
    )  # fmt: skip
    dbt_vars = _dbt_vars(settings, vars_text)
    dbt_vars["rfm_snapshot_recompute"] = {
        "start": start.date().isoformat(),
        "end": end.date().isoformat(),
    }
    options = RunOptions.from_settings(
        settings,
        command="backfill",
        raw_dir=_raw_dir(settings),
        dbt_args=_build_args(),
        as_of=as_of.date().isoformat() if as_of else None,
        dbt_vars=dbt_vars,
        freshness_check=False,
        accept_anomalies=accept_anomalies,
    )
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json=False)
    sys.exit(outcome.exit_code)


@main.command()
@click.option(
    "--publish-older",
    is_flag=True,
    help="Publish even when the warehouse is as of an earlier date than the published one.",
)
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def publish(
    publish_older: bool,
    lock_wait_seconds: float | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
) -> None:
    """Publish the current warehouse again for BI readers (no build).

    Only a warehouse whose last build completed is published; after a failed build this refuses
    (exit 1) and says which build readers see now.
    """
    settings = _settings(
        config, db_path=db_path, target=target, lock_wait_seconds=lock_wait_seconds
    )
    if settings.engine != "duckdb":
        _fail_usage(
            f"publish copies a DuckDB warehouse; on target {settings.target} BI reads the marts "
            "from the cluster's catalog (docs/spark.md)"
        )
    if not settings.db.exists():
        _fail_usage(f"no warehouse at {settings.db}: run `strata run` first")
    options = RunOptions.from_settings(
        settings, command="publish", raw_dir=None, dbt_args=[], publish_older=publish_older
    )
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json=False)
    sys.exit(outcome.exit_code)


@main.command()
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Where to write the report [default: report.html beside the serving copy].",
)
@DB_OPTION
@CONFIG_OPTION
def report(out: Path | None, db_path: str | None, config: Path | None) -> None:
    """Write the run report (one self-contained HTML page) from the published marts again.

    `strata run` and `strata publish` write it on every publication; this rebuilds it, for
    example after an upgrade of strata, or to another file to send.
    """
    from strata.report import REPORT_FILE, build_report  # Altair: imported only to report

    settings = _settings(config, db_path=db_path)
    serving_db = settings.serving / "strata.duckdb"
    if not serving_db.exists():
        _fail_usage(f"nothing published at {settings.serving}: run `strata run` first")
    target = out or settings.serving / REPORT_FILE
    try:
        result = build_report(serving_db, target)
    except OSError as error:
        # a folder that cannot be written, a read-only file, a full device: a sentence, exit 1
        click.echo(
            f"strata: the report was not written to {target}: {error.strerror or error}",
            err=True,
        )
        sys.exit(EXIT_FAILED)
    click.echo(
        f"report: {result.path} ({result.bytes / 1e6:.2f} MB, {result.seconds:.1f}s); "
        f"as of {result.as_of_date}, build {result.build_id}"
    )


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@DB_OPTION
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON lines.")
def status(limit: int, db_path: str | None, config: Path | None, as_json: bool) -> None:
    """Show this warehouse's last runs: when, how long, on which data, as of which date, what
    passed, failed and was published."""
    settings = _settings(config, db_path=db_path)
    skipped: list[str] = []
    runs = read_runs(settings.history_file, limit=limit, skipped=skipped)
    for problem in skipped:
        click.echo(f"strata: {settings.history_file.name}: skipped {problem}", err=True)
    if as_json:
        for record in runs:
            click.echo(json.dumps(record.to_dict(), default=str))
        return
    click.echo(f"warehouse {settings.db}")
    if not runs:
        click.echo(f"no runs recorded yet in {settings.history_file}")
        return
    click.echo(
        f"{'started (UTC)':<20} {'command':<9} {'status':<8} {'secs':>7} {'as of':<10} "
        f"{'models':>10} {'tests':>10} {'quarantined':>11}  published"
    )
    for record in runs:
        started = (record.started_at or "")[:19].replace("T", " ")
        models = f"{record.models_passed}/{record.models_failed}"
        tests = f"{record.tests_passed}/{record.tests_failed}"
        quarantined = "" if record.rows_quarantined is None else f"{record.rows_quarantined:,}"
        click.echo(
            f"{started:<20} {record.command:<9} {record.status:<8} "
            f"{record.duration_seconds or 0:>7.1f} {record.as_of_date or '':<10} "
            f"{models:>10} {tests:>10} {quarantined:>11}  {record.published_version or ''}"
        )
        if record.raw_dir:
            click.echo(f"    raw data {record.raw_dir}")
        if record.accepted_anomalies:
            click.echo("    guards overridden (--accept-anomaly, or a guard var set for the run)")
        if record.vars:
            shown = ", ".join(f"{name}={value}" for name, value in sorted(record.vars.items()))
            click.echo(f"    vars {shown}")
        if record.status != "success" and record.message:
            click.echo(f"    {record.message}")
    click.echo("models and tests: passed/failed")
    _echo_holdout_rule(settings)


def _echo_holdout_rule(settings: Settings) -> None:
    """The holdout rule of the published build, and the earlier rules past entries keep: a
    changed salt or share is visible here, not only in dbt_project.yml (docs/outcomes.md)."""
    from strata.publish import current_manifest

    holdout = (current_manifest(settings.serving) or {}).get("holdout")
    if not holdout:
        return
    click.echo(f"holdout rule: salt {holdout['salt']!r}, share {holdout['share']:g}")
    for rule in holdout.get("history", []):
        click.echo(
            f"    entries up to {rule['until']}: salt {rule['salt']!r}, share {rule['share']:g}"
        )


@main.command()
@click.option("--cron", type=str, default=None, help='When to run, e.g. "0 6 * * *" (UTC).')
@click.option(
    "--interval-seconds",
    type=click.FloatRange(min=0.1),
    default=None,
    help="Run every N seconds instead of on a cron schedule (for testing).",
)
@click.option("--max-runs", type=click.IntRange(min=1), default=None, hidden=True)
@RAW_OPTION
@VARS_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def schedule(
    cron: str | None,
    interval_seconds: float | None,
    max_runs: int | None,
    raw_dir: str | None,
    vars_text: str | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
) -> None:
    """Run `strata run` on a schedule until stopped (SIGINT or SIGTERM stop it cleanly).

    One run at a time: a run that is due while another is going is skipped, not queued.
    Each run is logged and recorded in the run history (`strata status`).
    """
    from strata.scheduler import run_schedule

    settings = _settings(
        config, raw_dir=raw_dir, db_path=db_path, target=target, schedule_cron=cron
    )
    if (settings.schedule_cron is None) == (interval_seconds is None):
        _fail_usage(
            "give exactly one of --cron (or schedule_cron in strata.toml) and --interval-seconds"
        )
    options = RunOptions.from_settings(
        settings, command="run", raw_dir=_raw_dir(settings), dbt_args=_build_args(),
        dbt_vars=_dbt_vars(settings, vars_text),
    )  # fmt: skip

    def job() -> int:
        outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
        record = outcome.record
        click.echo(
            f"{record.started_at} run {record.status} (exit {outcome.exit_code}) in "
            f"{record.duration_seconds}s; as of {record.as_of_date}; "
            f"published {record.published_version}"
        )
        for note in outcome.notes:
            click.echo(f"strata: {note}")
        for problem in outcome.problems:
            click.echo(f"strata: alert not delivered: {problem}", err=True)
        return outcome.exit_code

    try:
        code = run_schedule(
            job, cron=settings.schedule_cron, interval_seconds=interval_seconds,
            max_runs=max_runs, log=lambda line: click.echo(line),
            signals=(signal.SIGINT, signal.SIGTERM),
        )  # fmt: skip
    except ValueError as error:
        _fail_usage(str(error))
        return
    sys.exit(code)


# `strata audiences check|vars|list|show|export` (strata/audiences/commands.py).
main.add_command(audiences_commands.audiences)


if __name__ == "__main__":
    main()
