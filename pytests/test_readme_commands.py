"""Every command the README shows works as shown, in the order shown, on a fresh clone (issue 24,
part 7).

The commands are read from README.md's `sh` code blocks, so a README edit is what is tested. Each
one is classified in COMMANDS: part of the demo walkthrough (on a small demo), a command on the
reader's own data (the README's own `orders.csv` standing in for `/data/shop`), or skipped for a
stated reason. They all run in order in the season tier (make test-season, which CI runs); make
test checks that every command is classified and which runs leave the manifest `mf` reads. A
command the table does not know fails the test until it is classified.

Each walkthrough runs in a fresh copy of the checkout (the files git lists, uncommitted edits
included, with the checkout's .venv linked in): the warehouse, its publication, the demo data and
dbt's target/ are the copy's own, as on a fresh clone, and nothing the commands write reaches the
checkout's target/, which other runs use. The venv's strata is the checkout's (an editable
install), so STRATA_PROJECT_DIR names the copy as the project, and `make` is told never to
reinstall the venv from the copy (`-o`).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import duckdb
import pytest

from strata import dbt_runner
from strata.orchestrate import _share_semantic_manifest
from strata.publish import SERVING_DB
from strata.settings import load_settings

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"

DEMO = "demo"  # the demo walkthrough
OWN_DATA = "own data"  # the reader's own data, in their places between the demo's
SKIP = "skip"

# command as the README writes it (trailing comment stripped) -> (tier, what is run: None for the
# command as written, else a substitute with {tmp}/{shop} folders), or (SKIP, why)
COMMANDS: dict[str, tuple[str, str | None]] = {
    # make's own set-up (the venv, Chromium for make test) is the checkout's, never redone here
    "make run": (DEMO, "make -o .venv/.installed-stamp run DEMO_USERS=2000"),
    "make test": (SKIP, "the test suite that runs this test (CI runs it on a fresh clone)"),
    ".venv/bin/strata run --raw-dir /data/shop --as-of 2024-06-30": (
        OWN_DATA, ".venv/bin/strata run --raw-dir {shop} --as-of 2024-06-30"
    ),
    "source .venv/bin/activate": (OWN_DATA, None),
    "STRATA_RAW_DIR=/data/shop STRATA_AS_OF_DATE=2024-06-30 dbt build": (
        OWN_DATA, "STRATA_RAW_DIR={shop} STRATA_AS_OF_DATE=2024-06-30 dbt build"
    ),
    "STRATA_TARGET=serving .venv/bin/mf query --metrics users,buyers,revenue_per_user"
    " --group-by user__lifecycle_stage": (DEMO, None),
    ".venv/bin/strata generate --users 1000000 --seed 7 --end-date 2026-11-21 --out /tmp/demo": (
        DEMO, ".venv/bin/strata generate --users 1000 --seed 7 --end-date 2026-11-21"
        " --out {tmp}/generated"
    ),
    # the scheduling block is about a live feed: the demo's, which is current
    ".venv/bin/strata run --raw-dir /data/shop": (
        OWN_DATA, ".venv/bin/strata run --raw-dir demo_data"
    ),
    ".venv/bin/strata run --intraday --raw-dir /data/shop": (
        SKIP, "a shop delivering every few minutes (pytests/test_triggers.py, test_trigger_day.py)"
    ),
    ".venv/bin/strata run --intraday --watch --raw-dir /data/shop": (
        SKIP, "runs until stopped (pytests/test_trigger_day.py drives the watcher)"
    ),
    '.venv/bin/strata schedule --cron "0 6 * * *" --raw-dir /data/shop': (
        SKIP, "runs until stopped (pytests/test_orchestrate.py tests the scheduler)"
    ),
    ".venv/bin/strata status": (DEMO, None),
    ".venv/bin/strata backfill --start 2025-01-01 --end 2025-06-30 --raw-dir /data/shop": (
        OWN_DATA,
        ".venv/bin/strata backfill --start 2025-01-01 --end 2025-06-30 --raw-dir demo_data",
    ),
    ".venv/bin/strata publish": (DEMO, None),
    ".venv/bin/strata report --out /tmp/report.html": (
        DEMO, ".venv/bin/strata report --out {tmp}/report.html"
    ),
}  # fmt: skip

MF_QUERY = re.compile(r"(^|[\s/])mf query\b")
MF_HEADER = re.compile(r"user__lifecycle_stage\s+users\s+buyers\s+revenue_per_user")


def readme_blocks(language: str) -> list[str]:
    text = README.read_text()
    return [
        block
        for lang, block in re.findall(r"```([a-z]*)\n(.*?)```", text, re.S)
        if lang == language
    ]


def readme_commands() -> list[list[str]]:
    """The commands of each `sh` block, in order, without their trailing comments."""
    blocks = []
    for block in readme_blocks("sh"):
        lines = [re.sub(r"\s+#\s.*$", "", line).strip() for line in block.splitlines()]
        blocks.append([line for line in lines if line and not line.startswith("#")])
    return blocks


def fresh_clone(folder: Path) -> Path:
    """The checkout's files as git lists them (tracked and new, not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=PROJECT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split(b"\0")):
        source = PROJECT / os.fsdecode(name)
        if source.is_file():  # a tracked file deleted in the working tree is listed, yet absent
            copy = folder / os.fsdecode(name)
            copy.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, copy)
    (folder / ".venv").symlink_to(PROJECT / ".venv")
    return folder


def walk(tmp_path: Path, tiers: set[str]) -> tuple[Path, list[tuple[list[str], str]]]:
    """Run the README's commands of these tiers, block by block in order, in a fresh clone; each
    block is one shell (so `source` carries over), and must exit 0. Returns the clone and each
    block's commands with what they printed."""
    clone = fresh_clone(tmp_path / "strata")
    shop = tmp_path / "shop"
    shop.mkdir()
    (orders,) = readme_blocks("csv")
    (shop / "orders.csv").write_text("\n".join(line.strip() for line in orders.splitlines()) + "\n")
    folders = {"tmp": tmp_path, "shop": shop}
    # a reader's shell: none of this session's settings, nor an outer make's
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRATA_", "DBT_", "PYTEST_", "MAKE", "MFLAGS"))
    }
    env["STRATA_PROJECT_DIR"] = str(clone)
    done = []
    for block in readme_commands():
        script = []
        for command in block:
            tier, run = COMMANDS[command]
            if tier in tiers:
                script.append(command if run is None else run.format(**folders))
        if not script:
            continue
        # mf reads the publication, as dashboards do: it must work while a run holds the
        # warehouse it builds in (held open here, as dbt holds it)
        holding = (
            duckdb.connect(str(clone / "warehouse" / "strata.duckdb"))
            if any(MF_QUERY.search(line) for line in script)
            else contextlib.nullcontext()
        )
        with holding:
            result = subprocess.run(
                ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
                cwd=clone, env=env, capture_output=True, text=True, timeout=600,
            )  # fmt: skip
        assert result.returncode == 0, f"{script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        done.append((script, result.stdout))
    return clone, done


def check_mf_reads_the_publication(clone: Path, done: list[tuple[list[str], str]]) -> None:
    """The query's figures per stage are the published copy's (the build warehouse may hold
    another build by then: the season's plain dbt build of the README's two orders)."""
    (printed,) = [out for script, out in done if any(MF_QUERY.search(line) for line in script)]
    assert "Unable to load the semantic manifest" not in printed
    assert MF_HEADER.search(printed), printed
    shown = {
        stage: (int(users), int(buyers))
        for stage, users, buyers in re.findall(r"^(\w+)\s+(\d+)\s+(\d+)\s+\S+\s*$", printed, re.M)
    }
    serving = clone / "warehouse" / "serving" / "strata" / "strata.duckdb"
    with duckdb.connect(str(serving), read_only=True) as con:
        published = {
            stage: (users, buyers)
            for stage, users, buyers in con.execute(
                "select lifecycle_stage, count(user_id),"
                " sum(case when buyer_status <> 'prospect' then 1 else 0 end)"
                " from marts.dim_users group by lifecycle_stage"
            ).fetchall()
        }
    assert shown == published
    assert sum(users for users, _ in published.values()) > 1000  # the demo's, not the two orders


def test_every_readme_command_is_classified() -> None:
    shown = [command for block in readme_commands() for command in block]
    assert sorted(set(shown) - set(COMMANDS)) == [], "classify the new README command(s)"
    assert sorted(set(COMMANDS) - set(shown)) == [], "the README no longer shows these"
    assert all(tier in (DEMO, OWN_DATA, SKIP) for tier, _ in COMMANDS.values())


def test_only_the_projects_own_publication_leaves_its_manifest_for_mf(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`mf` reads one manifest, target/semantic_manifest.json, for the publication profiles.yml's
    `serving` target reads: another warehouse's (a test's, a `--db`) names tables `mf` cannot
    find there, so it leaves target/ alone."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: strata\n")
    monkeypatch.setenv("STRATA_PROJECT_DIR", str(project))
    shared = project / "target" / "semantic_manifest.json"
    for db_path, serving_dir in [
        (tmp_path / "elsewhere" / "strata.duckdb", None),  # another warehouse
        (None, tmp_path / "serving"),  # the project's, published elsewhere
        (None, None),  # the project's, where the `serving` target reads
    ]:
        settings = load_settings(
            db_path=db_path and str(db_path), serving_dir=serving_dir and str(serving_dir)
        )
        built = dbt_runner.target_path(settings) / "semantic_manifest.json"
        built.parent.mkdir(parents=True, exist_ok=True)
        built.write_text(str(settings.db))
        assert _share_semantic_manifest(settings, settings.serving / SERVING_DB) is None
        assert shared.exists() == (db_path is None and serving_dir is None)
    assert shared.read_text() == str(project / "warehouse" / "strata.duckdb")


@pytest.mark.season
@pytest.mark.xdist_group("sequences")  # beside test_season.py (docs/testing.md)
def test_every_readme_command_works_in_order(tmp_path: Path) -> None:
    """Every command in order: make run on a small demo, the README's own orders.csv built by
    `strata run` and by plain dbt, the MetricFlow query (read from the publication while the
    warehouse is held), generate, a live run, status, a backfill, publish and the report."""
    clone, done = walk(tmp_path, {DEMO, OWN_DATA})
    printed = "\n".join(out for _, out in done)
    assert "published version" in done[0][1]  # make run published the demo
    assert "published version" in printed.split(done[0][1], 1)[1]  # strata publish, later
    assert (tmp_path / "generated" / "orders.parquet").exists()
    check_mf_reads_the_publication(clone, done)
    assert (tmp_path / "report.html").stat().st_size > 0
