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


@main.command("trigger-delivery")
@click.option("--db", type=PATH, required=True, help="The warehouse whose users visit and buy.")
@click.option("--raw", type=PATH, required=True, help="The raw folder the delivery lands in.")
@click.option("--at", "moment", type=click.DateTime(), required=True, help="The delivery's time.")
@click.option("--sessions", type=int, required=True)
@click.option("--orders", type=int, required=True)
@click.option("--seed", type=int, default=0)
def trigger_delivery(
    db: Path, raw: Path, moment: dt.datetime, sessions: int, orders: int, seed: int
) -> None:
    """A fifteen-minute delivery (issue #26): `sessions` sessions of existing users in the
    quarter hour before `moment`, a third of them adding to the cart, and `orders` completed
    orders of some of those users, as `<table>/loaded_at=<moment>/part-0.parquet`. Written
    beside the raw folder and renamed into place, so it lands whole."""
    import duckdb

    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    start = moment - dt.timedelta(minutes=15)
    with duckdb.connect() as con:
        con.execute(f"attach '{db}' as w (read_only)")
        con.execute(
            f"create table visitors as select user_id, row_number() over (order by hash(user_id, "
            f"{seed})) as n from w.marts.dim_users qualify n <= {sessions}"
        )
        con.execute(
            f"""create table delivered_sessions as select
                'trg-s-{stamp}-' || n as session_id, user_id,
                strftime(timestamp '{start}' + to_microseconds(cast(hash(n, {seed}) % 900000000
                    as bigint)), '%Y-%m-%dT%H:%M:%SZ') as started_at,
                cast(null as varchar) as ended_at, 'web' as platform, '3' as page_views,
                case when n % 3 = 0 then 'true' else 'false' end as added_to_cart
            from visitors"""
        )
        con.execute(
            f"""create table delivered_orders as select
                'trg-o-{stamp}-' || n as order_id, user_id,
                strftime(cast(started_at as timestamp) + interval 5 minute,
                    '%Y-%m-%dT%H:%M:%SZ') as ordered_at,
                'completed' as status, '42.50' as amount, 'USD' as currency,
                cast(null as varchar) as updated_at
            from delivered_sessions join visitors using (user_id)
            where n % {max(1, sessions // max(1, orders))} = 1"""
        )
        for table, relation in (("sessions", "delivered_sessions"), ("orders", "delivered_orders")):
            folder = raw / table / f"loaded_at={stamp}"
            # written beside the raw folder, outside what strata reads, then moved in whole
            temp = raw.parent / f".landing-{table}-{stamp}"
            temp.mkdir(parents=True, exist_ok=True)
            con.execute(f"copy {relation} to '{temp / 'part-0.parquet'}' (format parquet)")
            temp.rename(folder)
        counts = {
            "sessions": con.execute("select count(*) from delivered_sessions").fetchone()[0],
            "orders": con.execute("select count(*) from delivered_orders").fetchone()[0],
        }
    click.echo(json.dumps(counts))


@main.command("trigger-compare")
@click.option("--left", type=PATH, required=True, help="The warehouse after intraday runs.")
@click.option("--right", type=PATH, required=True, help="A fresh computation for the same M.")
@click.option("--out", type=PATH, default=None, help="JSON report [stdout].")
def trigger_compare(left: Path, right: Path, out: Path | None) -> None:
    """The tables an intraday run writes, row for row, against a fresh computation."""
    from tools.bench.checks import trigger_differences

    _write(out, {"differences": trigger_differences(left, right)})


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
