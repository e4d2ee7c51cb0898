"""Every command the README shows works as shown, in the order shown (issue 24, part 7).

The commands are read from README.md's `sh` code blocks, so a README edit is what is tested.
Each one is classified below: run as written, run with a stated substitution (a folder the reader
would have, `/data/shop`, becomes the README's own minimal `orders.csv`; a size that would take
minutes becomes a small one), or skipped for a stated reason. A command the table does not know
fails the test until it is classified. The warehouse lives in the test's temporary folder
(STRATA_DB_PATH); the MetricFlow query reads it, with the semantic manifest the last build left in
the project's target/.

In the season tier (make test-season, which CI runs): it builds the demo, the README's own data
and a plain dbt build, about three minutes.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.season

PROJECT = Path(__file__).resolve().parent.parent
README = PROJECT / "README.md"

RUN = "run"
# command as the README writes it (comments stripped) -> what the walkthrough does with it:
# RUN, ("as", substituted command with {tmp} folders), or ("skip", why)
COMMANDS: dict[str, object] = {
    "make run": ("as", "make run DEMO_USERS=2000 DEMO_DIR={demo}"),
    "make test": ("skip", "the test suite itself (CI runs it on a fresh clone)"),
    ".venv/bin/strata run --raw-dir /data/shop --as-of 2024-06-30": (
        "as", ".venv/bin/strata run --raw-dir {shop} --as-of 2024-06-30"
    ),
    "source .venv/bin/activate": RUN,
    "STRATA_RAW_DIR=/data/shop STRATA_AS_OF_DATE=2024-06-30 dbt build": (
        "as", "STRATA_RAW_DIR={shop} STRATA_AS_OF_DATE=2024-06-30 dbt build"
    ),
    ".venv/bin/mf query --metrics users,buyers,revenue_per_user --group-by user__lifecycle_stage": (
        RUN
    ),
    ".venv/bin/strata generate --users 1000000 --seed 7 --end-date 2026-11-21 --out /tmp/demo": (
        "as", ".venv/bin/strata generate --users 1000 --seed 7 --end-date 2026-11-21 --out {tmp}/g"
    ),
    # the scheduling block is about a live feed: the demo's, which is current
    ".venv/bin/strata run --raw-dir /data/shop": ("as", ".venv/bin/strata run --raw-dir {demo}"),
    '.venv/bin/strata schedule --cron "0 6 * * *" --raw-dir /data/shop': (
        "skip", "runs until stopped (pytests/test_orchestrate.py tests the scheduler)"
    ),
    ".venv/bin/strata status": RUN,
    ".venv/bin/strata backfill --start 2025-01-01 --end 2025-06-30 --raw-dir /data/shop": (
        "as", ".venv/bin/strata backfill --start 2025-01-01 --end 2025-06-30 --raw-dir {demo}"
    ),
    ".venv/bin/strata publish": RUN,
    ".venv/bin/strata report --out /tmp/report.html": (
        "as", ".venv/bin/strata report --out {tmp}/report.html"
    ),
}  # fmt: skip


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


def test_every_readme_command_is_classified() -> None:
    shown = [command for block in readme_commands() for command in block]
    assert sorted(set(shown) - set(COMMANDS)) == [], "classify the new README command(s)"
    assert sorted(set(COMMANDS) - set(shown)) == [], "the README no longer shows these"


def test_the_readme_commands_work_in_order(tmp_path: Path) -> None:
    shop = tmp_path / "shop"
    shop.mkdir()
    (orders,) = readme_blocks("csv")
    (shop / "orders.csv").write_text("\n".join(line.strip() for line in orders.splitlines()) + "\n")
    folders = {"tmp": tmp_path, "shop": shop, "demo": tmp_path / "demo"}
    # One warehouse for every command, as for a reader who keeps the default: the demo's, then
    # the README's own data, then the plain dbt build, each over the one before. (The semantic
    # manifest names the warehouse's database, so mf must query the warehouse it was made for.)
    warehouse = tmp_path / "warehouse" / "strata.duckdb"
    warehouse.parent.mkdir()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("STRATA_", "DBT_", "PYTEST_"))
    }
    env["STRATA_DB_PATH"] = str(warehouse)
    outputs = []
    for block in readme_commands():
        script = []
        for command in block:
            action = COMMANDS[command]
            if isinstance(action, tuple) and action[0] == "skip":
                continue
            script.append(action[1].format(**folders) if isinstance(action, tuple) else command)
        if not script:
            continue
        result = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", "\n".join(script)],
            cwd=PROJECT,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
        )
        assert result.returncode == 0, f"{script}\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        outputs.append(result.stdout)
    everything = "\n".join(outputs)
    assert "published version" in everything  # make run published the demo
    assert "Unable to load the semantic manifest" not in everything
    assert re.search(r"user__lifecycle_stage\s+users\s+buyers\s+revenue_per_user", everything)
    assert (tmp_path / "report.html").exists()
