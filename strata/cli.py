"""The `strata` command line: run the build on a schedule, publish it for BI, report what it did.

Exit codes, for schedulers and orchestrators:
  0  success
  1  the build, its tests, the freshness check or the publish failed (the published copy is
     unchanged; failing models and tests are named on stderr)
  2  bad usage or configuration
  3  another strata run holds the lock (use --wait to queue behind it)
"""

from __future__ import annotations

import datetime as dt
import json
import signal
import sys
from pathlib import Path

import click

from strata.alerts import AlertConfig
from strata.config import ConfigError, Settings, resolve_raw_dir
from strata.orchestrate import (
    EXIT_OK,
    EXIT_USAGE,
    RunOptions,
    RunOutcome,
    default_serving_dir,
    execute,
    history_file,
)
from strata.runs import read_runs
from strata.settings_file import FileSettings, SettingsError, load_file_settings
from strata.summary import format_summary, read_summary


def _fail_usage(message: str) -> None:
    click.echo(f"strata: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _pick(*values):
    """The first value that is set: a flag, then strata.toml/env (env wins inside), then default."""
    return next((value for value in values if value is not None), None)


def _load(config: Path | None, db_path: str | None, target: str | None):
    try:
        file_settings = load_file_settings(config)
        settings = Settings.load(
            db_path=_pick(db_path, file_settings.db_path),
            target=_pick(target, file_settings.target),
        )
    except (ConfigError, SettingsError) as error:
        _fail_usage(str(error))
        raise AssertionError("unreachable") from error
    return settings, file_settings


def _options(
    settings: Settings,
    file_settings: FileSettings,
    *,
    command: str,
    raw_dir: str | None,
    dbt_args: list[str],
    as_of: str | None = None,
    freshness_check: bool | None = None,
    publish: bool = True,
    wait: float | None = None,
) -> RunOptions:
    raw = None
    if dbt_args:
        try:
            raw = resolve_raw_dir(_pick(raw_dir, file_settings.raw_dir))
        except ConfigError as error:
            _fail_usage(str(error))
    serving = _pick(file_settings.serving_dir)
    return RunOptions(
        command=command,
        raw_dir=raw,
        dbt_args=dbt_args,
        as_of=as_of,
        freshness_check=bool(_pick(freshness_check, file_settings.freshness_check, True)),
        publish=publish,
        serving_dir=Path(serving).resolve() if serving else default_serving_dir(settings),
        keep_versions=int(_pick(file_settings.keep_versions, 3)),
        lock_wait_seconds=float(_pick(wait, file_settings.lock_wait_seconds, 0.0)),
        retries=int(_pick(file_settings.retries, 2)),
        retry_backoff_seconds=float(_pick(file_settings.retry_backoff_seconds, 5.0)),
        alerts=AlertConfig(
            webhook_url=file_settings.alert_webhook_url,
            command=file_settings.alert_command,
            on_success=bool(file_settings.alert_on_success),
        ),
    )


def _report(settings: Settings, outcome: RunOutcome, as_json: bool) -> None:
    record = outcome.record
    if as_json:
        summary = (
            read_summary(settings.db_path)
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
            "warehouse": str(settings.db_path),
        }
        click.echo(json.dumps(payload, default=str))
    if outcome.exit_code != EXIT_OK:
        click.echo(f"strata: {record.command} failed: {record.message or record.status}", err=True)
        for failure in record.failures:
            click.echo(f"  {failure['name']}: {failure['message']}", err=True)
    elif not as_json:
        click.echo(
            f"strata {record.command}: {record.models_passed} models and seeds built, "
            f"{record.tests_passed} tests passed in {record.duration_seconds:.1f}s"
            + (
                f"; published version {record.published_version}"
                if record.published_version
                else ""
            )
        )
        if settings.engine != "duckdb":
            click.echo(record.message)
        elif record.command != "publish":
            click.echo(format_summary(read_summary(settings.db_path)))
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
    help="Folder with orders and sessions (.parquet or .csv) [$STRATA_RAW_DIR].",
)
WAIT_OPTION = click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=None,
    help="Seconds to wait for another run's lock before giving up with exit code 3 [0].",
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
def generate(users: int, seed: int, end_date: dt.datetime | None, out: Path, fmt: str) -> None:
    """Write a realistic, deterministic demo population (orders and sessions, ~1% dirty rows)."""
    from strata.generate import generate as generate_data

    day = end_date.date() if end_date else dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    result = generate_data(users=users, seed=seed, end_date=day, out_dir=out, fmt=fmt)
    dirty = sum(result.dirty_rows.values())
    click.echo(
        f"wrote {result.orders_rows:,} orders and {result.sessions_rows:,} sessions for "
        f"{users:,} users up to {day} ({dirty:,} dirty rows) to {out} "
        f"in {result.seconds:.1f}s"
    )


@main.command()
@RAW_OPTION
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Compute everything as of the end of this UTC day [default: latest day with data].",
)
@click.option("--select", "select", type=str, default=None, help="dbt node selection.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option(
    "--freshness-check/--no-freshness-check",
    default=None,
    help="Stop before building when a source is past its error_after age [on; off with --as-of].",
)
@click.option("--no-publish", is_flag=True, help="Build without publishing for BI readers.")
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON.")
def run(
    raw_dir: str | None,
    as_of: dt.datetime | None,
    select: str | None,
    full_refresh: bool,
    freshness_check: bool | None,
    no_publish: bool,
    wait: float | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
    as_json: bool,
) -> None:
    """Check freshness, run `dbt build`, publish on success and print what the build did.

    Unit tests are left to `make test`: they check the SQL's logic, not the data.
    """
    settings, file_settings = _load(config, db_path, target)
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    options = _options(
        settings,
        file_settings,
        command="run",
        raw_dir=raw_dir,
        dbt_args=args,
        as_of=as_of.date().isoformat() if as_of else None,
        freshness_check=freshness_check,
        publish=not no_publish,
        wait=wait,
    )
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json)
    sys.exit(outcome.exit_code)


@main.command()
@click.option("--start", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@click.option("--end", type=click.DateTime(formats=["%Y-%m-%d"]), required=True)
@RAW_OPTION
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def backfill(
    start: dt.datetime,
    end: dt.datetime,
    raw_dir: str | None,
    wait: float | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
) -> None:
    """Rebuild the history for START..END (inclusive) in one build.

    The lifecycle history, transitions and growth accounting are computed set-based over the
    whole data range on every build; the RFM snapshots are incremental, so their months in the
    range are recomputed (dbt microbatch with --event-time-start/--event-time-end).
    """
    if end < start:
        _fail_usage("--end is before --start")
    settings, file_settings = _load(config, db_path, target)
    end_exclusive = (end + dt.timedelta(days=1)).strftime("%Y-%m-%d")
    args = [
        "build",
        "--exclude-resource-type",
        "unit_test",
        "--event-time-start",
        start.strftime("%Y-%m-%d"),
        "--event-time-end",
        end_exclusive,
    ]
    options = _options(
        settings, file_settings, command="backfill", raw_dir=raw_dir, dbt_args=args,
        freshness_check=False, wait=wait,
    )  # fmt: skip
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json=False)
    sys.exit(outcome.exit_code)


@main.command()
@WAIT_OPTION
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def publish(
    wait: float | None, db_path: str | None, target: str | None, config: Path | None
) -> None:
    """Publish the current warehouse again for BI readers (no build)."""
    settings, file_settings = _load(config, db_path, target)
    if settings.engine != "duckdb":
        _fail_usage(
            f"publish copies a DuckDB warehouse; on target {settings.target} BI reads the marts "
            "from the cluster's catalog (docs/spark.md)"
        )
    if not settings.db_path.exists():
        _fail_usage(f"no warehouse at {settings.db_path}: run `strata run` first")
    options = _options(
        settings, file_settings, command="publish", raw_dir=None, dbt_args=[], wait=wait
    )
    outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
    _report(settings, outcome, as_json=False)
    sys.exit(outcome.exit_code)


@main.command()
@click.option("--limit", type=click.IntRange(min=1), default=10, show_default=True)
@DB_OPTION
@CONFIG_OPTION
@click.option("--json", "as_json", is_flag=True, help="Print the runs as JSON lines.")
def status(limit: int, db_path: str | None, config: Path | None, as_json: bool) -> None:
    """Show the last runs: when, how long, as of which date, what passed, failed and published."""
    settings, _ = _load(config, db_path, None)
    runs = read_runs(history_file(settings), limit=limit)
    if as_json:
        for record in runs:
            click.echo(json.dumps(record.to_dict(), default=str))
        return
    if not runs:
        click.echo(f"no runs recorded yet in {history_file(settings)}")
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
        if record.status != "success" and record.message:
            click.echo(f"    {record.message}")
    click.echo("models and tests: passed/failed")


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
@DB_OPTION
@TARGET_OPTION
@CONFIG_OPTION
def schedule(
    cron: str | None,
    interval_seconds: float | None,
    max_runs: int | None,
    raw_dir: str | None,
    db_path: str | None,
    target: str | None,
    config: Path | None,
) -> None:
    """Run `strata run` on a schedule until stopped (SIGINT or SIGTERM stop it cleanly).

    One run at a time: a run that is due while another is going is skipped, not queued.
    Each run is logged and recorded in the run history (`strata status`).
    """
    from strata.scheduler import run_schedule

    settings, file_settings = _load(config, db_path, target)
    cron = _pick(cron, file_settings.schedule_cron)
    if (cron is None) == (interval_seconds is None):
        _fail_usage(
            "give exactly one of --cron (or schedule_cron in strata.toml) and --interval-seconds"
        )
    options = _options(
        settings, file_settings, command="run", raw_dir=raw_dir,
        dbt_args=["build", "--exclude-resource-type", "unit_test"],
    )  # fmt: skip

    def job() -> int:
        outcome = execute(settings, options, log=lambda line: click.echo(line, err=True))
        record = outcome.record
        click.echo(
            f"{record.started_at} run {record.status} (exit {outcome.exit_code}) in "
            f"{record.duration_seconds}s; as of {record.as_of_date}; "
            f"published {record.published_version}"
        )
        for problem in outcome.problems:
            click.echo(f"strata: alert not delivered: {problem}", err=True)
        return outcome.exit_code

    try:
        code = run_schedule(
            job, cron=cron, interval_seconds=interval_seconds, max_runs=max_runs,
            log=lambda line: click.echo(line),
            signals=(signal.SIGINT, signal.SIGTERM),
        )  # fmt: skip
    except ValueError as error:
        _fail_usage(str(error))
        return
    sys.exit(code)


if __name__ == "__main__":
    main()
