"""`python -m tools.bench`: the command behind `make bench`."""

from __future__ import annotations

import re
from pathlib import Path

import click

from tools.bench.report import machine, render, write_docs
from tools.bench.run import Bench


def _sizes(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[int]:
    """--users may be repeated, and each value may hold several sizes (commas or spaces)."""
    sizes = []
    for value in values:
        for text in filter(None, re.split(r"[,\s]+", value)):
            try:
                size = int(text.replace("_", ""))
            except ValueError:
                raise click.BadParameter(f"{text!r} is not a number of users") from None
            if size < 1:
                raise click.BadParameter(f"{size} users: must be at least 1")
            sizes.append(size)
    return sizes


@click.command(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--users",
    multiple=True,
    default=("100000", "1000000"),
    callback=_sizes,
    show_default=True,
    help="Sizes to measure in full (repeat, or separate by commas or spaces).",
)
@click.option(
    "--with-10m",
    is_flag=True,
    help="Add the 10M-user step (build, baseline, and the new day's `strata run`).",
)
@click.option(
    "--ten-m-users",
    type=click.IntRange(min=1),
    default=10_000_000,
    show_default=True,
    help="Users of the --with-10m step; a small number proves the path in a smoke run.",
)
@click.option(
    "--headline-users",
    type=click.IntRange(min=1),
    default=1_000_000,
    show_default=True,
    help="The size whose figures are printed against issue #19's targets (else the largest "
    "measured); set it to a small --users size for a smoke run.",
)
@click.option(
    "--work",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("warehouse/bench"),
    show_default=True,
)
@click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="dbt threads (1: DuckDB already runs each model on every core; models built side by "
    "side on two cores only contend, which inflates each one's time).",
)
@click.option("--memory-limit", envvar="STRATA_MEMORY_LIMIT", default="3GB", show_default=True)
@click.option(
    "--no-new-day",
    "--no-incremental",
    "no_new_day",
    is_flag=True,
    help="Skip the new day (daily run against a full build).",
)
@click.option("--no-floor", is_flag=True, help="Skip the plain floor query.")
@click.option(
    "--no-strata-run",
    is_flag=True,
    help="Skip timing `strata run` on the new day (information only).",
)
@click.option("--regenerate", is_flag=True, help="Generate the data again even if it is there.")
@click.option(
    "--spark-users",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Add the Spark row at this size (one of --users; 0: none): `strata run --target spark` "
    "on local Spark beside `strata run` on DuckDB, every mart compared (needs make install-spark).",
)
@click.option(
    "--docs",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the figures into this file, between its bench markers.",
)
def main(
    users: list[int],
    with_10m: bool,
    ten_m_users: int,
    headline_users: int,
    work: Path,
    threads: int,
    memory_limit: str,
    no_new_day: bool,
    no_floor: bool,
    no_strata_run: bool,
    regenerate: bool,
    spark_users: int,
    docs: Path | None,
) -> None:
    """strata's cost at 100k, 1M (and optionally 10M) users; prints figures, asserts none."""
    bench = Bench(work, threads, memory_limit)
    bench.work.mkdir(parents=True, exist_ok=True)
    if spark_users and spark_users not in users:
        raise click.BadParameter(
            f"{spark_users:,} is not one of the sizes measured (--users)",
            param_hint="--spark-users",
        )
    sizes = [(size, False) for size in users] + ([(ten_m_users, True)] if with_10m else [])
    results = []
    for size, ten_m_slot in sizes:
        label = " (the 10M step)" if ten_m_slot else ""
        click.echo(f"strata bench: {size:,} users{label} ...")
        results.append(
            bench.run_size(
                size,
                # The 10M step measures generate, the build, the baseline and, unless
                # --no-strata-run, `strata run` for the new day (Bench.daily_run).
                new_day=not (no_new_day or ten_m_slot),
                floor=not (no_floor or ten_m_slot),
                strata_run=not no_strata_run,
                regenerate=regenerate,
                ten_m_slot=ten_m_slot,
            )
        )
        if spark_users and size == spark_users and not ten_m_slot:
            click.echo(f"strata bench: Spark at {size:,} users ...")
            results[-1].spark = bench.spark(size)
        click.echo(render(results[-1:], machine(), threads, memory_limit, size))
        click.echo()
        if docs:  # after every size, so that a long step cut short keeps what was measured
            write_docs(docs, render(results, machine(), threads, memory_limit, headline_users))
    table = render(results, machine(), threads, memory_limit, headline_users)
    click.echo(table)
    if docs:
        click.echo(f"written to {docs}")
