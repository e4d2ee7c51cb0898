"""`strata audiences ...`: look at audiences without SQL (docs/audiences.md).

`check` and `vars` read the definitions (audiences/*.yml); `list`, `show` and `export` read the
published copy that dashboards read (the serving DuckDB file), never the build warehouse, so they
work while a run is building.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import duckdb
import yaml

from strata.audiences.definitions import DefinitionError, as_vars, load
from strata.audiences.exports import audiences as published_audiences
from strata.audiences.exports import members_sql
from strata.settings import ConfigError, Settings, check_db_path, load_settings

EXIT_USAGE = 2

DIR_OPTION = click.option(
    "--dir",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Folder of definitions (*.yml) [setting audiences_dir, else the project's audiences/].",
)
RAW_OPTION = click.option(
    "--raw-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="The raw folder list audiences read their files from [setting raw_dir].",
)
DB_OPTION = click.option("--db", "db_path", default=None, help="The warehouse [the project's].")
CONFIG_OPTION = click.option(
    "--config", type=click.Path(dir_okay=False, path_type=Path), default=None
)


def _fail(message: str) -> None:
    click.echo(f"strata: {message}", err=True)
    sys.exit(EXIT_USAGE)


def _settings(config: Path | None, **flags: Any) -> Settings:
    try:
        settings = load_settings(config, **{k: v for k, v in flags.items() if v is not None})
        check_db_path(settings)
        return settings
    except ConfigError as error:
        _fail(str(error))
        raise AssertionError("unreachable") from error


def _definitions(settings: Settings, folder: Path | None, raw_dir: Path | None):
    folder = folder.resolve() if folder else settings.audiences_folder
    raw = raw_dir or (Path(settings.raw_dir) if settings.raw_dir else None)
    try:
        return load(folder, settings.project_dir, raw.resolve() if raw else None)
    except DefinitionError as error:
        click.echo("strata: audience definitions refused:", err=True)
        for problem in error.problems:
            click.echo(f"  {problem}", err=True)
        sys.exit(EXIT_USAGE)


def _published(settings: Settings) -> duckdb.DuckDBPyConnection:
    serving_db = settings.serving / "strata.duckdb"
    if not serving_db.exists():
        _fail(f"nothing published at {settings.serving}: run `strata run` first")
    con = duckdb.connect(str(serving_db), read_only=True)
    if not published_audiences(con, "strata"):
        con.close()
        _fail(f"the publication at {settings.serving} has no audiences (audiences/*.yml)")
    return con


@click.group()
def audiences() -> None:
    """Audiences a marketer defines in audiences/*.yml: check, list, show, export."""


@audiences.command()
@DIR_OPTION
@RAW_OPTION
@CONFIG_OPTION
def check(folder: Path | None, raw_dir: Path | None, config: Path | None) -> None:
    """Check every definition (file, line and what is wrong) without building anything."""
    settings = _settings(config)
    found = _definitions(settings, folder, raw_dir)
    raw = raw_dir or (Path(settings.raw_dir) if settings.raw_dir else None)
    for audience in found:
        history = (
            "within the day"
            if audience.kind == "trigger"
            else ("history" if audience.has_history else "as of D only")
        )
        click.echo(f"{audience.name:<28} {audience.kind:<8} {history:<13} {audience.text}")
        if audience.kind == "list" and raw is not None:
            click.echo(f"{'':<28} {list_delivery(raw / audience.spec)}")
    click.echo(f"{len(found)} audience(s) checked")


def list_delivery(path: Path) -> str:
    """When a list counts from, as the build reads it (macro delivery_marker_at): the day of a
    `loaded_at=` marker in its path, else the file's modification time (UTC)."""
    import datetime as dt
    import re

    marker = re.search(r"loaded_at=(\d{4}-\d{2}-\d{2})", str(path))
    if marker:
        return f"counts from {marker.group(1)} (its loaded_at= folder)"
    moment = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    return (
        f"counts from {moment:%Y-%m-%d} (the file's modification time, {moment:%H:%M} UTC; a run "
        "for an earlier day ignores it: put it under loaded_at=YYYY-MM-DD/ to say from when)"
    )


@audiences.command(name="vars")
@DIR_OPTION
@RAW_OPTION
@click.option("--vars", "extra", default=None, help="Other vars (YAML) to print with them.")
@CONFIG_OPTION
def print_vars(folder: Path | None, raw_dir: Path | None, extra: str | None, config: Path | None):
    """Print the checked definitions as dbt vars (JSON), for a plain `dbt build --vars`."""
    settings = _settings(config)
    merged: dict[str, Any] = {}
    if extra:
        value = yaml.safe_load(extra)
        if not isinstance(value, dict):
            _fail(f"--vars must be a mapping, not {extra!r}")
        merged.update(value)
    merged.update(as_vars(_definitions(settings, folder, raw_dir)))
    click.echo(json.dumps(merged, separators=(",", ":")))


@audiences.command(name="list")
@DB_OPTION
@CONFIG_OPTION
def list_audiences(db_path: str | None, config: Path | None) -> None:
    """Every published audience: kind, owner, members, sent to, held out, definition."""
    settings = _settings(config, db_path=db_path)
    con = _published(settings)
    rows = con.execute(
        "select a.audience_name, a.audience_kind, a.audience_owner, s.member_count, "
        "s.sendable_count, s.holdout_count, s.entered_count, s.exited_count, a.definition "
        "from marts.dim_audiences as a left join marts.rpt_audience_sizes as s "
        "on a.audience_name = s.audience_name and s.is_as_of_date order by a.definition_order"
    ).fetchall()
    click.echo(
        f"{'audience':<28} {'kind':<8} {'members':>9} {'sent to':>9} {'held out':>9} "
        f"{'in':>7} {'out':>7}  owner / definition"
    )
    for name, kind, owner, members, sendable, holdout, entered, exited, definition in rows:
        click.echo(
            f"{name:<28} {kind:<8} {members or 0:>9,} {sendable or 0:>9,} {holdout or 0:>9,} "
            f"{entered or 0:>7,} {exited or 0:>7,}  {owner}"
        )
        click.echo(f"{'':<28} {definition}")
    click.echo("in / out: entered and left since the evaluation day before D")
    from strata.triggers import current_trigger_manifest  # trigger audiences (docs/triggers.md)

    trigger = current_trigger_manifest(settings.serving)
    if trigger and trigger.get("audiences"):
        click.echo(
            f"\ntrigger audiences as of {trigger['trigger_as_of']} (version {trigger['version']}):"
        )
        for name, counts in trigger["audiences"].items():
            click.echo(
                f"{name:<28} {'trigger':<8} {counts['members'] + counts['held_out']:>9,} "
                f"{counts['members']:>9,} {counts['held_out']:>9,} {counts['adds']:>7,} "
                f"{counts['removes']:>7,}"
            )
        click.echo("in / out: added and removed since the previous trigger version")


@audiences.command()
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=0), default=10, show_default=True)
@DB_OPTION
@CONFIG_OPTION
def show(name: str, limit: int, db_path: str | None, config: Path | None) -> None:
    """One audience: its definition, size over time, portrait, outcome and first members."""
    con = _published(_settings(config, db_path=db_path))
    audience = next((a for a in published_audiences(con, "strata") if a["name"] == name), None)
    if audience is None:
        _fail(f"no audience {name!r} is published (`strata audiences list` names them)")
    row = con.execute(
        "select audience_owner, description, definition, audience_kind, has_history, defined_at, "
        "conversion_goal from marts.dim_audiences where audience_name = ?",
        [name],
    ).fetchone()
    owner, description, definition, kind, history, defined_at, goal = row
    click.echo(f"{name} ({kind}, defined at {defined_at})")
    click.echo(f"  owner       {owner}")
    click.echo(f"  description {description}")
    click.echo(f"  definition  {definition}")
    click.echo(
        f"  exported    user_id, entered_at{''.join(', ' + a for a in audience['attributes'])}"
    )
    click.echo(f"  history     {'yes' if history else 'as of D only'}; outcome goal: {goal}")
    click.echo("\nsize over time")
    click.echo(f"  {'day':<10} {'members':>9} {'sent to':>9} {'held out':>9} {'in':>7} {'out':>7}")
    for day, members, sendable, holdout, entered, exited in con.execute(
        "select evaluated_on, member_count, sendable_count, holdout_count, entered_count, "
        "exited_count from marts.rpt_audience_sizes where audience_name = ? order by 1",
        [name],
    ).fetchall():
        click.echo(
            f"  {day!s:<10} {members:>9,} {sendable:>9,} {holdout:>9,} {entered:>7,} {exited:>7,}"
        )
    click.echo("\nportrait: share of the audience against all users (index > 1: over-represented)")
    for dimension, value, members, share, all_share, index in con.execute(
        "select dimension, dimension_value, member_count, member_share, all_user_share, "
        "representation_index from marts.rpt_audience_portraits where audience_name = ? "
        "and member_count > 0 order by dimension, member_count desc, dimension_value",
        [name],
    ).fetchall():
        click.echo(
            f"  {dimension:<16} {value:<22} {members:>8,} {share:>7.1%} vs {all_share:>6.1%}"
            f"  index {index:5.2f}"
        )
    outcome = con.execute(
        "select user_count, conversion_rate, lift_pp, lift_ci_low_pp, lift_ci_high_pp, "
        "is_too_small from marts.rpt_play_outcomes where play_id = ? and cohort_grain = 'all' "
        "and group_name = 'treated'",
        [f"audience:{name}"],
    ).fetchone()
    click.echo("\noutcome (every closed entry cohort)")
    if outcome is None or outcome[2] is None:
        click.echo("  no closed cohort with a holdout yet")
    else:
        users, rate, lift, low, high, small = outcome
        click.echo(
            f"  treated {users:,} users converted {rate:.1%}; lift {lift:+.1f} pp "
            f"(95% CI {low:+.1f} to {high:+.1f}){' - too small to read' if small else ''}"
        )
    click.echo(f"\nfirst {limit} members an export sends to")
    rows = con.execute(members_sql("strata", audience) + f" limit {limit}").fetchall()
    columns = [column[0] for column in con.description]
    click.echo("  " + " | ".join(columns))
    for values in rows:
        click.echo("  " + " | ".join("" if v is None else str(v) for v in values))


@audiences.command()
@click.argument("name")
@click.option(
    "--out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File to write: .csv or .parquet.",
)
@DB_OPTION
@CONFIG_OPTION
def export(name: str, out: Path, db_path: str | None, config: Path | None) -> None:
    """Write an audience's members (held-out users excluded), as the publication's export."""
    if out.suffix not in {".csv", ".parquet"}:
        _fail(f"--out must end in .csv or .parquet, not {out.name}")
    con = _published(_settings(config, db_path=db_path))
    audience = next((a for a in published_audiences(con, "strata") if a["name"] == name), None)
    if audience is None:
        _fail(f"no audience {name!r} is published (`strata audiences list` names them)")
    from strata.audiences.exports import _write_pair

    out.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"create temp table export_members as {members_sql('strata', audience)}")
    tmp = out.parent / f".{out.name}.tmp"
    tmp.mkdir(exist_ok=True)
    try:
        rows = _write_pair(con, "export_members", tmp, "members")
        (tmp / f"members{out.suffix}").replace(out)
    finally:
        for leftover in tmp.iterdir():
            leftover.unlink()
        tmp.rmdir()
    click.echo(f"{rows:,} members of {name} written to {out}")
