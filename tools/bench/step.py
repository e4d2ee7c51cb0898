"""The benchmark's measured steps that are Python rather than dbt, one process each:

    python -m tools.bench.step split    --source DIR --raw DIR --pending DIR --day D
    python -m tools.bench.step publish  --db FILE --serving DIR
    python -m tools.bench.step baseline --raw-dir DIR --as-of D --db FILE --out FILE
    python -m tools.bench.step floor    --raw-dir DIR --as-of D --out FILE
    python -m tools.bench.step compare  --left FILE --right FILE --out FILE
    python -m tools.bench.step export-audiences --db FILE --out DIR
    python -m tools.bench.step generator-version

The benchmark runs each in a fresh process so that its wall time and peak memory are its own
(tools.bench.measure); each writes what it found as JSON to --out, for the benchmark to read.
Generating the data is not a step here: the benchmark measures the product's own
`strata generate`.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from strata.settings import find_project_dir

PATH = click.Path(path_type=Path)
DATE = click.DateTime(formats=["%Y-%m-%d"])


def _write(out: Path | None, report: dict) -> None:
    if out is not None:
        out.write_text(json.dumps(report, indent=2))
    else:
        click.echo(json.dumps(report, indent=2))


@click.group()
def main() -> None:
    """One measured step of `python -m tools.bench`."""


@main.command()
@click.option("--source", type=PATH, required=True, help="Folder of generated <table>.parquet.")
@click.option("--raw", type=PATH, required=True, help="Raw folder to write the history into.")
@click.option("--pending", type=PATH, required=True, help="Folder for the new day's files.")
@click.option("--day", type=DATE, required=True, help="The new day D (its rows wait).")
@click.option("--out", type=PATH, default=None, help="JSON report [stdout].")
def split(source: Path, raw: Path, pending: Path, day: dt.datetime, out: Path | None) -> None:
    """Split generated data into a history delivery and a pending delivery of day D."""
    from tools.bench.deliveries import split_deliveries

    _write(out, split_deliveries(source, raw, pending, day.date()))


@main.command("generator-version")
def generator_version() -> None:
    """Print the demo generator's version (the benchmark keeps generated data per version)."""
    from strata.generate import GENERATOR_VERSION

    click.echo(GENERATOR_VERSION)


@main.command()
@click.option("--db", type=PATH, required=True)
@click.option("--serving", type=PATH, required=True)
@click.option("--keep", type=click.IntRange(min=1), default=1, show_default=True)
def publish(db: Path, serving: Path, keep: int) -> None:
    """strata's atomic publish of the marts, as `strata run` does after a build."""
    from strata.publish import publish as publish_marts

    publish_marts(db, serving, keep=keep)


@main.command(name="export-audiences")
@click.option("--db", type=PATH, required=True)
@click.option("--out", "folder", type=PATH, required=True)
def export_audiences(db: Path, folder: Path) -> None:
    """Every audience's export (members, changes, manifest), as a publish writes it."""
    import duckdb

    from strata.audiences.exports import write_exports

    with duckdb.connect() as con:
        con.execute(f"attach '{db}' as build (read_only)")
        write_exports(
            con, "build", folder, version="bench", as_of_date=None, previous=None,
            previous_version=None,
        )  # fmt: skip


def _project(project_dir: Path | None) -> Path:
    return project_dir or find_project_dir()


@main.command()
@click.option("--raw-dir", type=PATH, required=True)
@click.option("--as-of", type=DATE, required=True)
@click.option("--db", type=PATH, required=True, help="The strata build to check the answer on.")
@click.option("--project-dir", type=PATH, default=None, help="The dbt project [found].")
@click.option("--memory-limit", default=None, help="DuckDB memory_limit [DuckDB's default].")
@click.option("--out", type=PATH, default=None, help="JSON report [stdout].")
def baseline(
    raw_dir: Path,
    as_of: dt.datetime,
    db: Path,
    project_dir: Path | None,
    memory_limit: str | None,
    out: Path | None,
) -> None:
    """The hand-written baseline query, then its answer checked against marts.dim_users."""
    from tools.baseline import compare_with_strata, run_baseline

    rows, seconds = run_baseline(
        raw_dir,
        as_of.date().isoformat(),
        project_dir=_project(project_dir),
        memory_limit=memory_limit,
    )
    problems = compare_with_strata(db, rows)
    _write(
        out,
        {
            "seconds": seconds,
            "users": len(rows),
            "problems": problems[:20],
            "mismatches": len(problems),
        },
    )


@main.command()
@click.option("--raw-dir", type=PATH, required=True)
@click.option("--as-of", type=DATE, required=True)
@click.option("--project-dir", type=PATH, default=None, help="The dbt project [found].")
@click.option("--memory-limit", default=None, help="DuckDB memory_limit [DuckDB's default].")
@click.option("--out", type=PATH, default=None, help="JSON report [stdout].")
def floor(
    raw_dir: Path,
    as_of: dt.datetime,
    project_dir: Path | None,
    memory_limit: str | None,
    out: Path | None,
) -> None:
    """The plain floor query (try_cast, no cleaning rule): its time and how many users it saw."""
    from tools.baseline import run_floor

    rows, seconds = run_floor(
        raw_dir,
        as_of.date().isoformat(),
        project_dir=_project(project_dir),
        memory_limit=memory_limit,
    )
    _write(
        out,
        {
            "seconds": seconds,
            "users": len(rows),
            "scored": sum(row[2] is not None for row in rows),
        },
    )


@main.command()
@click.option("--left", type=PATH, required=True, help="The incrementally built warehouse.")
@click.option("--right", type=PATH, required=True, help="A fresh full build of the same data.")
@click.option("--schema", default="marts", show_default=True)
@click.option("--out", type=PATH, default=None, help="JSON report [stdout].")
def compare(left: Path, right: Path, schema: str, out: Path | None) -> None:
    """Every table of a schema, row for row (EXCEPT ALL both ways), between two warehouses."""
    from tools.bench.checks import schema_differences

    _write(out, {"differences": schema_differences(left, right, schema)})


if __name__ == "__main__":
    main()
