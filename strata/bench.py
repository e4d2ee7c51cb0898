"""The benchmark behind `make bench`: strata's cost at 100k, 1M (and optionally 10M) users.

For each size it generates demo data (deterministic: fixed seed and end date), builds it phase by
phase, each phase a dbt subprocess of its own so that its wall time and peak memory (the largest
resident set of that process, DuckDB included: dbt runs DuckDB in-process) are its own:

    parse         dbt parse
    staging       dbt seed + dbt run -s staging       (raw files read, cleaned, quarantined)
    intermediate  dbt run -s intermediate
    marts         dbt run -s marts                    (includes the RFM snapshot backfill)
    tests         dbt test, data tests only           (unit tests belong to `make test`)
    publish       strata's atomic publish of the marts

then runs the hand-written baseline query (bench/baseline_duckdb.sql, strata/baseline.py) on the
same raw files, checks that it agrees with strata on every user's lifecycle stage and R, F and M
scores, and only then reports strata's model build time divided by the baseline's. Finally it
adds one new day of data and rebuilds (the incremental case), reporting that rebuild's time as a
share of the full build.

Nothing here asserts a time: figures are printed and written to docs/benchmarks.md. Machines are
shared and noisy; read the figures as what one run measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import duckdb

from strata.dbt_runner import dbt_executable
from strata.settings import find_project_dir

SEED = 42
# The data ends the day before NEW_DAY; the incremental case then adds NEW_DAY.
END_DATE = dt.date(2026, 6, 29)
NEW_DAY = END_DATE + dt.timedelta(days=1)
PHASES = ("parse", "staging", "intermediate", "marts", "tests", "publish")
DOC_BEGIN = "<!-- bench:begin -->"
DOC_END = "<!-- bench:end -->"


@dataclass
class Step:
    """One measured subprocess: wall seconds, peak resident memory, and dbt's own node timings."""

    seconds: float
    peak_rss_bytes: int
    node_seconds: dict[str, float] = field(default_factory=dict)


@dataclass
class SizeResult:
    users: int
    orders_rows: int = 0
    sessions_rows: int = 0
    phases: dict[str, Step] = field(default_factory=dict)
    warehouse_bytes: int = 0
    baseline_seconds: float | None = None
    baseline_rss_bytes: int | None = None
    agreement: str = "not checked"
    incremental: Step | None = None
    full_build_seconds: float = 0.0

    dim_users_models: frozenset[str] = frozenset()

    @property
    def same_answer_seconds(self) -> float:
        """dbt's execution time of dim_users and every model upstream of it: the models that
        compute what the baseline computes (the history marts are extra work on top)."""
        return sum(
            seconds
            for phase in ("staging", "intermediate", "marts")
            for node, seconds in self.phases[phase].node_seconds.items()
            if node in self.dim_users_models
        )

    @property
    def model_seconds(self) -> float:
        """dbt's execution time of every model (staging, intermediate, marts), without start-up."""
        return sum(
            seconds
            for phase in ("staging", "intermediate", "marts")
            for node, seconds in self.phases[phase].node_seconds.items()
            if node.startswith("model.")
        )

    @property
    def peak_rss_bytes(self) -> int:
        return max(step.peak_rss_bytes for step in self.phases.values())


def run_measured(command: Sequence[str], env: dict[str, str], cwd: Path, log: Path) -> Step:
    """Run a command to completion; fail loudly (naming the log) if it fails."""
    started = time.perf_counter()
    with log.open("a") as handle:
        handle.write(f"\n$ {' '.join(command)}\n")
        handle.flush()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=handle, stderr=handle)
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    if process.returncode != 0:
        raise RuntimeError(
            f"{command[0]} {command[1]} failed (exit {process.returncode}); see {log}"
        )
    # ru_maxrss is in kibibytes on Linux.
    return Step(seconds=seconds, peak_rss_bytes=usage.ru_maxrss * 1024)


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


def python_step(code: str, env: dict[str, str], cwd: Path, log: Path) -> Step:
    return run_measured([sys.executable, "-c", code], env, cwd, log)


def split_new_day(source: Path, base: Path, full: Path) -> None:
    """`full` = the generated data; `base` = the same without rows from NEW_DAY on (by the
    event time, parsed as strata parses it; unparseable rows stay in base, quarantined there)."""
    for folder in (base, full):
        folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    for table, column in (("orders", "ordered_at"), ("sessions", "started_at")):
        shutil.copyfile(source / f"{table}.parquet", full / f"{table}.parquet")
        con.execute(
            f"copy (select * from read_parquet('{source / f'{table}.parquet'}')"
            f" where coalesce(try_cast({column} as timestamptz) < '{NEW_DAY}', true))"
            f" to '{base / f'{table}.parquet'}' (format parquet)"
        )
    con.close()


class Bench:
    def __init__(self, work: Path, threads: int, memory_limit: str) -> None:
        self.project = find_project_dir()
        self.work = work.resolve()
        self.threads = threads
        self.memory_limit = memory_limit
        self.log = self.work / "bench.log"

    def env(self, raw_dir: Path, db: Path) -> dict[str, str]:
        return {
            **os.environ,
            "DBT_PROFILES_DIR": str(self.project),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "STRATA_RAW_DIR": str(raw_dir),
            "STRATA_DB_PATH": str(db),
            "STRATA_THREADS": str(self.threads),
            "STRATA_MEMORY_LIMIT": self.memory_limit,
            "STRATA_TEMP_DIR": str(self.work / "tmp"),
            "DBT_TARGET_PATH": str(self.work / "target"),
        }

    def dbt(self, args: Sequence[str], env: dict[str, str], as_of: dt.date) -> Step:
        command = [dbt_executable(), "--no-use-colors", *args]
        if args[0] not in ("parse",):
            command += ["--vars", json.dumps({"as_of_date": as_of.isoformat()})]
        step = run_measured(command, env, self.project, self.log)
        if args[0] != "parse":
            step.node_seconds = node_timings(self.work / "target")
        return step

    def generate(self, users: int) -> Path:
        """The data, generated and split in child processes: a child's peak RSS starts at its
        parent's size when it is forked, so the parent stays small to keep every phase's figure
        its own."""
        data = self.work / "data"
        source, base, full = data / f"{users}", data / f"{users}-base", data / f"{users}-full"
        if not (source / "orders.parquet").exists():
            python_step(
                "import datetime as dt; from pathlib import Path; "
                "from strata.generate import generate; "
                f"generate(users={users}, seed={SEED}, end_date=dt.date.fromisoformat("
                f"{NEW_DAY.isoformat()!r}), out_dir=Path({str(source)!r}), fmt='parquet')",
                dict(os.environ),
                self.project,
                self.log,
            )
        python_step(
            "from pathlib import Path; from strata.bench import split_new_day; "
            f"split_new_day(Path({str(source)!r}), Path({str(base)!r}), Path({str(full)!r}))",
            dict(os.environ),
            self.project,
            self.log,
        )
        return base

    def build_phases(self, raw_dir: Path, db: Path, as_of: dt.date) -> dict[str, Step]:
        env = self.env(raw_dir, db)
        phases = {"parse": self.dbt(["parse"], env, as_of)}
        seed = self.dbt(["seed"], env, as_of)
        staging = self.dbt(["run", "-s", "staging"], env, as_of)
        phases["staging"] = Step(
            seed.seconds + staging.seconds,
            max(seed.peak_rss_bytes, staging.peak_rss_bytes),
            {**seed.node_seconds, **staging.node_seconds},
        )
        phases["intermediate"] = self.dbt(["run", "-s", "intermediate"], env, as_of)
        phases["marts"] = self.dbt(["run", "-s", "marts"], env, as_of)
        phases["tests"] = self.dbt(["test", "--exclude", "resource_type:unit_test"], env, as_of)
        serving = self.work / "serving"
        phases["publish"] = python_step(
            "from pathlib import Path; from strata.publish import publish; "
            f"publish(Path({str(db)!r}), Path({str(serving)!r}), keep=1)",
            env,
            self.project,
            self.log,
        )
        return phases

    def baseline(self, raw_dir: Path, as_of: dt.date, db: Path, result: SizeResult) -> None:
        out = self.work / "baseline.json"
        code = (
            "import json, sys; from pathlib import Path; "
            "from strata.baseline import run_baseline, compare_with_strata; "
            f"rows, seconds = run_baseline(Path({str(raw_dir)!r}), {as_of.isoformat()!r}, "
            f"project_dir=Path({str(self.project)!r}), "
            f"memory_limit={self.memory_limit!r}); "
            f"problems = compare_with_strata(Path({str(db)!r}), rows); "
            f"Path({str(out)!r}).write_text(json.dumps("
            "{'seconds': seconds, 'users': len(rows), 'problems': problems[:20], "
            "'mismatches': len(problems)}))"
        )
        try:
            step = python_step(code, self.env(raw_dir, db), self.project, self.log)
        except RuntimeError as error:
            result.agreement = f"baseline failed: {error}"
            return
        report = json.loads(out.read_text())
        result.baseline_seconds = report["seconds"]
        result.baseline_rss_bytes = step.peak_rss_bytes
        if report["mismatches"]:
            result.agreement = (
                f"{report['mismatches']} users disagree, e.g. {report['problems'][:3]}"
            )
        else:
            result.agreement = f"all {report['users']:,} users agree"

    def run_size(self, users: int, incremental: bool) -> SizeResult:
        result = SizeResult(users=users)
        base = self.generate(users)
        db = self.work / f"strata-{users}.duckdb"
        for path in (db, Path(f"{db}.wal")):
            path.unlink(missing_ok=True)
        result.phases = self.build_phases(base, db, END_DATE)
        result.dim_users_models = upstream_models(
            self.work / "target" / "manifest.json", "model.strata.dim_users"
        )
        result.full_build_seconds = sum(
            result.phases[phase].seconds for phase in ("staging", "intermediate", "marts", "tests")
        )
        result.warehouse_bytes = db.stat().st_size
        with duckdb.connect(str(db), read_only=True) as con:
            counts = dict(
                con.execute(
                    "select source_table, raw_rows from marts.rpt_source_reconciliation"
                ).fetchall()
            )
        result.orders_rows, result.sessions_rows = counts["orders"], counts["sessions"]
        self.baseline(base, END_DATE, db, result)
        if incremental:
            full = self.work / "data" / f"{users}-full"
            env = self.env(full, db)
            result.incremental = self.dbt(
                ["build", "--exclude", "resource_type:unit_test"], env, NEW_DAY
            )
        return result


def _gb(size: float) -> str:
    return f"{size / 1024**3:.2f} GB"


def machine() -> dict[str, str]:
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024**2:.1f} GiB"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "dbt-core": metadata.version("dbt-core"),
        "dbt-duckdb": metadata.version("dbt-duckdb"),
    }


def render(results: list[SizeResult], info: dict[str, str], threads: int, limit: str) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores, {info['memory']} "
        f"({info['platform']}); Python {info['python']}, DuckDB {info['duckdb']}, "
        f"dbt-core {info['dbt-core']}, dbt-duckdb {info['dbt-duckdb']}; dbt threads {threads}, "
        f"DuckDB memory_limit {limit}.",
        "",
        "| users | orders in | sessions in | "
        + " | ".join(f"{phase} s" for phase in PHASES)
        + " | all models s | dim_users and upstream s | baseline s | same answer / baseline |"
        " peak RSS | warehouse |"
        " one new day s | new day / full build |",
        "|" + "---|" * (3 + len(PHASES) + 8),
    ]
    for r in results:
        ratio = (
            f"{r.same_answer_seconds / r.baseline_seconds:.1f}x"
            if r.baseline_seconds and r.agreement.startswith("all")
            else "n/a (see agreement)"
        )
        inc = r.incremental
        lines.append(
            f"| {r.users:,} | {r.orders_rows:,} | {r.sessions_rows:,} | "
            + " | ".join(f"{r.phases[phase].seconds:.1f}" for phase in PHASES)
            + f" | {r.model_seconds:.1f} | {r.same_answer_seconds:.1f} | "
            f"{r.baseline_seconds or 0:.1f} | {ratio} | "
            f"{_gb(r.peak_rss_bytes)} | {_gb(r.warehouse_bytes)} | "
            + (
                f"{inc.seconds:.1f} | {inc.seconds / r.full_build_seconds:.0%} |"
                if inc
                else "- | - |"
            )
        )
    lines.append("")
    lines.append("Baseline agreement (lifecycle stage and R, F, M scores of every user):")
    lines += [f"- {r.users:,} users: {r.agreement}" for r in results]
    lines.append("")
    lines.append("Peak RSS per phase (GB):")
    lines.append("")
    lines.append("| users | " + " | ".join(PHASES) + " | baseline |")
    lines.append("|" + "---|" * (len(PHASES) + 2))
    for r in results:
        lines.append(
            f"| {r.users:,} | "
            + " | ".join(f"{r.phases[p].peak_rss_bytes / 1024**3:.2f}" for p in PHASES)
            + f" | {(r.baseline_rss_bytes or 0) / 1024**3:.2f} |"
        )
    slowest = []
    for r in results:
        nodes = {k: v for p in PHASES[1:5] for k, v in r.phases[p].node_seconds.items()}
        top = sorted(nodes.items(), key=lambda item: -item[1])[:5]
        slowest.append(
            f"- {r.users:,} users: "
            + ", ".join(f"{name.split('.')[-1]} {seconds:.1f} s" for name, seconds in top)
        )
    lines += ["", "Slowest nodes (dbt's own timing, run_results.json):", *slowest]
    return "\n".join(lines)


def write_docs(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else f"{DOC_BEGIN}\n{DOC_END}\n"
    head, _, rest = text.partition(DOC_BEGIN)
    _, _, tail = rest.partition(DOC_END)
    path.write_text(f"{head}{DOC_BEGIN}\n{table}\n{DOC_END}{tail}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m strata.bench", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--users", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--with-10m", action="store_true", help="Add the 10M-user step.")
    parser.add_argument("--work", type=Path, default=Path("warehouse/bench"))
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="dbt threads (default 1: DuckDB already runs each model on every core; models built "
        "side by side on two cores only contend, which inflates each one's time).",
    )
    parser.add_argument("--memory-limit", default=os.environ.get("STRATA_MEMORY_LIMIT", "3GB"))
    parser.add_argument("--no-incremental", action="store_true")
    parser.add_argument("--docs", type=Path, default=None, help="Write the table into this file.")
    args = parser.parse_args(argv)
    sizes = [*args.users, *([10_000_000] if args.with_10m else [])]
    bench = Bench(args.work, args.threads, args.memory_limit)
    bench.work.mkdir(parents=True, exist_ok=True)
    results = []
    for users in sizes:
        print(f"strata bench: {users:,} users ...", flush=True)
        results.append(bench.run_size(users, incremental=not args.no_incremental))
        print(render(results[-1:], machine(), args.threads, args.memory_limit), flush=True)
    table = render(results, machine(), args.threads, args.memory_limit)
    print(table)
    if args.docs:
        write_docs(args.docs, table)
        print(f"written to {args.docs}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
