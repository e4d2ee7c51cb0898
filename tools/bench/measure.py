"""Measuring one subprocess: its wall time and peak resident memory, and dbt's own node timings.

Every measured phase runs in a fresh process of its own and is waited for with `os.wait4`, whose
resource usage is the kernel's for that process and every descendant it waited for (ru_maxrss is
the largest resident set among them), so a phase's peak memory is its own, DuckDB included (dbt
runs DuckDB in-process). A child's high-water mark starts at its parent's size when it is
forked, so the benchmark's own process stays small: everything heavy runs in a step
(tools.bench.step), never in the parent.

A descendant nobody waits for escapes ru_maxrss: the JVM PySpark starts for dbt-spark is one (it
outlives the wait, re-parented). So the living process tree is also read from /proc twice a
second, and a step's peak is the larger of the two: the largest single process, or the most the
tree held at once. The tree's memory is each member's proportional share (Pss, from
smaps_rollup), so pages that forked workers share are counted once, not once per worker. A
sample can miss a spike shorter than half a second; on a system without /proc only ru_maxrss
counts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
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
    # dbt retries after a transient failure (out of memory), as `strata run` makes them; the
    # seconds and memory above count every attempt
    retries: int = 0

    @property
    def model_seconds(self) -> float:
        """dbt's execution time of the models this step ran, without dbt's start-up."""
        return sum(
            seconds for node, seconds in self.node_seconds.items() if node.startswith("model.")
        )


class StepFailed(RuntimeError):
    """A measured command exited with an error; the message names its log. It carries what the
    failed attempt measured, for a retry that counts it."""

    def __init__(self, message: str, seconds: float = 0.0, peak_rss_bytes: int = 0) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.peak_rss_bytes = peak_rss_bytes


def run_measured(command: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> Step:
    """Run a command to completion, its output appended to `log`; raise StepFailed (naming the
    log) if it fails."""
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=handle)
        sampler = TreeSampler(process.pid)
        sampler.start()
        try:
            _, status, usage = os.wait4(process.pid, 0)
        finally:
            sampler.stop()
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    # ru_maxrss is in kibibytes on Linux.
    peak = max(usage.ru_maxrss * 1024, sampler.peak_bytes)
    if process.returncode != 0:
        raise StepFailed(
            f"{' '.join(command[:4])} failed (exit {process.returncode}); see {log}", seconds, peak
        )
    return Step(seconds=seconds, peak_rss_bytes=peak)


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def tree_rss_bytes(root: int) -> int:
    """Resident bytes of `root` and every living descendant, from /proc (0 without it): each
    member's proportional share (Pss), else its resident set where smaps_rollup is unreadable."""
    children: dict[int, list[int]] = {}
    resident: dict[int, int] = {}
    try:
        entries = [entry.name for entry in os.scandir("/proc") if entry.name.isdigit()]
    except OSError:
        return 0
    for name in entries:
        try:
            stat = Path("/proc", name, "stat").read_text()
            # after the command's name (which may hold spaces): state, ppid, ..., rss (field 24)
            fields = stat[stat.rindex(")") + 2 :].split()
            children.setdefault(int(fields[1]), []).append(int(name))
            resident[int(name)] = int(fields[21]) * PAGE_BYTES
        except (OSError, ValueError, IndexError):
            continue  # ended while listed, or a line this reader does not know
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        if pid in resident:
            total += _proportional_bytes(pid, resident[pid])
        pending.extend(children.get(pid, ()))
    return total


def _proportional_bytes(pid: int, fallback: int) -> int:
    try:
        for line in Path("/proc", str(pid), "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return fallback


class TreeSampler(threading.Thread):
    """The most a process tree holds resident at once, sampled every `interval` seconds."""

    def __init__(self, root: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak_bytes = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.wait(self.interval):
            self.peak_bytes = max(self.peak_bytes, tree_rss_bytes(self.root))

    def stop(self) -> None:
        self._done.set()
        self.join()


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
