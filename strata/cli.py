"""The `strata` command line: generate demo data, run the build, report what it did.

Exit codes, for schedulers: 0 success; 1 the build or its tests failed; 2 bad usage or
configuration.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path

import click

from strata.config import ConfigError, Settings, resolve_raw_dir
from strata.dbt_runner import Progress, run_dbt
from strata.summary import format_summary, read_summary

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2


def _fail_usage(message: str) -> None:
    click.echo(f"strata: {message}", err=True)
    sys.exit(EXIT_USAGE)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="strata")
def main() -> None:
    """strata: where every user stands today (lifecycle stage, RFM segment, next action).

    A thin wrapper around the dbt project: it runs the build safely and reports what it did.
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
@click.option(
    "--raw-dir",
    type=str,
    default=None,
    help="Folder with orders and sessions (.parquet or .csv) [default: $STRATA_RAW_DIR].",
)
@click.option(
    "--as-of",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Compute everything as of the end of this UTC day [default: latest day with data].",
)
@click.option("--select", "select", type=str, default=None, help="dbt node selection.")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--db", "db_path", type=str, default=None, help="Warehouse file [$STRATA_DB_PATH].")
@click.option("--target", type=str, default=None, help="dbt target [$STRATA_TARGET or duckdb].")
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON.")
def run(
    raw_dir: str | None,
    as_of: dt.datetime | None,
    select: str | None,
    full_refresh: bool,
    db_path: str | None,
    target: str | None,
    as_json: bool,
) -> None:
    """Build the warehouse with `dbt build` and print what it read, kept and assigned."""
    try:
        settings = Settings.load(db_path=db_path, target=target)
        raw = resolve_raw_dir(raw_dir)
    except ConfigError as error:
        _fail_usage(str(error))
        return

    # Unit tests check the SQL's logic, not the data: they belong to `make test`, not to every run.
    args = ["build", "--exclude-resource-type", "unit_test"]
    if select:
        args += ["--select", select]
    if full_refresh:
        args.append("--full-refresh")
    if as_of:
        args += ["--vars", json.dumps({"as_of_date": as_of.date().isoformat()})]

    started = time.monotonic()
    result = run_dbt(settings, args, env={"STRATA_RAW_DIR": str(raw)}, on_event=Progress())
    seconds = time.monotonic() - started

    models = result.count(["model", "seed"], ["success"])
    tests = result.count(["test", "unit_test"], ["pass"])
    failed = result.failed_nodes()
    if not result.ok:
        click.echo(f"strata: build failed after {seconds:.1f}s", err=True)
        for node in failed:
            click.echo(f"  {node.resource_type} {node.name}: {node.message}", err=True)
        if not failed:
            for message in result.errors[-10:]:
                click.echo(f"  {message}", err=True)
        sys.exit(EXIT_FAILED)

    summary = read_summary(settings.db_path)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "seconds": round(seconds, 1),
                    "models_built": models,
                    "tests_passed": tests,
                    "as_of_date": summary.as_of_date,
                    "reconciliation": summary.reconciliation,
                    "breakdowns": summary.breakdowns,
                    "warehouse": str(summary.db_path),
                },
                default=str,
            )
        )
        return
    click.echo(
        f"strata build on {raw}: {models} models and seeds built, {tests} tests passed"
        f" in {seconds:.1f}s"
    )
    click.echo(format_summary(summary))


if __name__ == "__main__":
    main()
