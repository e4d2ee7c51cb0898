"""Measuring one subprocess: its wall time and peak resident memory, and dbt's own node timings.

Every measured phase runs in a fresh process of its own and is waited for with `os.wait4`, whose
resource usage is the kernel's for that process and every descendant it waited for (ru_maxrss is
the largest resident set among them), so a phase's peak memory is its own, DuckDB included (dbt
runs DuckDB in-process). A child's high-water mark starts at its parent's size when it is
forked, so the benchmark's own process stays small: everything heavy runs in a step
(tools.bench.step), never in the parent.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

# The folder holding the `tools` package: on the path of every step, wherever it runs from.
TOOLS_ROOT = Path(__file__).resolve().parent.parent.parent


@dataclass
class Step:
    """One measured subprocess: wall seconds, peak resident memory, and dbt's own node timings."""

    seconds: float
    peak_rss_bytes: int
    node_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def model_seconds(self) -> float:
        """dbt's execution time of the models this step ran, without dbt's start-up."""
        return sum(
            seconds for node, seconds in self.node_seconds.items() if node.startswith("model.")
        )


class StepFailed(RuntimeError):
    """A measured command exited with an error; the message names its log."""


def run_measured(command: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> Step:
    """Run a command to completion, its output appended to `log`; raise StepFailed (naming the
    log) if it fails."""
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=handle)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise StepFailed(f"{' '.join(command[:4])} failed (exit {process.returncode}); see {log}")
    # ru_maxrss is in kibibytes on Linux.
    return Step(seconds=seconds, peak_rss_bytes=usage.ru_maxrss * 1024)


def step_command(name: str, *args: str) -> list[str]:
    """The command line of one of tools.bench.step's entry points."""
    return [sys.executable, "-m", "tools.bench.step", name, *args]


def strata_command(*args: str) -> list[str]:
    """The command line of the product's own CLI (`strata ...`), run by this interpreter."""
    return [sys.executable, "-m", "strata.cli", *args]


def step_env(env: dict[str, str]) -> dict[str, str]:
    """`env` with the tools package importable, whatever the working directory."""
    path = [str(TOOLS_ROOT), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    return {**env, "PYTHONPATH": os.pathsep.join(dict.fromkeys(path))}


def upstream_models(manifest_path: Path, node: str) -> frozenset[str]:
    """`node` and every model it depends on, directly or not, from dbt's manifest."""
    nodes = json.loads(manifest_path.read_text())["nodes"]
    seen: set[str] = set()
    todo = [node]
    while todo:
        current = todo.pop()
        if current in seen or not current.startswith("model."):
            continue
        seen.add(current)
        todo += nodes[current]["depends_on"]["nodes"]
    return frozenset(seen)


def node_timings(target_path: Path) -> dict[str, float]:
    results = json.loads((target_path / "run_results.json").read_text())
    return {result["unique_id"]: result["execution_time"] for result in results["results"]}
