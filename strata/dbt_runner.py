"""Runs dbt as a subprocess, one invocation at a time, and reads what it did.

dbt is the transformation engine; this module only starts it with the right environment, shows
progress on a terminal, and turns run_results.json into a result the CLI can report on.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from strata.atomic_files import write_text_atomic
from strata.settings import Settings


@dataclass(frozen=True)
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    seconds: float


@dataclass(frozen=True)
class DbtResult:
    """What one dbt invocation did."""

    command: list[str]
    return_code: int
    nodes: list[NodeResult] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # what the project's own macros told the run: lines logged as "strata <topic>: ..."
    # (an incremental model rebuilt in full and why, docs/scheduling.md)
    notices: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.return_code == 0

    def failed_nodes(self) -> list[NodeResult]:
        return [node for node in self.nodes if node.status in ("error", "fail", "runtime error")]

    def count(self, resource_types: Sequence[str], statuses: Sequence[str]) -> int:
        return sum(
            1
            for node in self.nodes
            if node.resource_type in resource_types and node.status in statuses
        )


NOTICE_PREFIX = "strata incremental:"


def dbt_executable() -> str:
    """The dbt installed beside this Python (the project's pinned one), else dbt on PATH."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else "dbt"


def target_path(settings: Settings) -> Path:
    """dbt's artifacts for this warehouse (run_results.json, sources.json, the parse cache): one
    folder per warehouse, so that runs on two warehouses never read each other's results."""
    return settings.state_dir / "target"


def _die_with_parent() -> None:  # pragma: no cover - runs in the child before exec
    """Linux: the kernel sends the dbt child SIGTERM if strata itself dies, even by SIGKILL, so a
    killed run never leaves dbt writing to the warehouse behind it."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


PARSE_CACHE = "partial_parse.msgpack"
# Shared parse caches kept per warehouse file name: one per set of vars and profile settings, the
# most recently used. The test suite alone builds warehouses of one name with about a dozen.
PARSE_CACHES_KEPT = 32


def profile_env_names(project_dir: Path) -> list[str]:
    """The environment variables the project's profiles.yml reads (`env_var('NAME', ...)`)."""
    try:
        text = (project_dir / "profiles.yml").read_text()
    except OSError:
        return []
    return sorted(set(re.findall(r"env_var\(\s*['\"]([A-Za-z_][A-Za-z0-9_]*)['\"]", text)))


def parse_cache_dir(
    settings: Settings, args: Sequence[str] = (), env: Mapping[str, str] | None = None
) -> Path:
    """The shared copy of dbt's parse cache for this warehouse file name, target, `--vars` and
    profile settings (see `run_dbt`). dbt parses the whole project again whenever the vars or
    the rendered profile differ from the ones its cache was made with, so one shared cache per
    file name made two builds with different vars (an audience list, a relaxed guard, `auto`
    thresholds) throw each other's cache away, a 13 s parse each time; one per vars keeps each.
    The profile's environment variables (`env`, as dbt will see them: threads, memory limit,
    spill folder) count for the same reason: two builds differing only in `STRATA_THREADS` made
    each other parse the whole project too."""
    profile = {name: (env or {}).get(name) for name in profile_env_names(settings.project_dir)}
    key = json.dumps([settings.target, *_vars_argument(args), profile], sort_keys=True)
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return settings.project_dir / "target" / "parse-cache" / settings.db.name / digest


def run_dbt(
    settings: Settings,
    args: Sequence[str],
    *,
    env: dict[str, str] | None = None,
    on_event: Callable[[dict], None] | None = None,
) -> DbtResult:
    """Run `dbt <args>` on the project with JSON logs and a target path of its own.

    On DuckDB, dbt runs in the warehouse's folder with the warehouse (and DuckDB's spill folder)
    named relative to it. dbt re-parses the whole project (about 13 s) whenever its profile
    changes, and an absolute path would make every warehouse a different profile; relative, every
    warehouse with the same file name has the same profile, so a new warehouse starts from the
    parse cache of the last one of its name (dbt checks every file and setting it depends on
    before reusing anything, so a stale cache only costs the parse it would have cost anyway).

    With a warm runner installed (`WARM`, the intraday watcher) dbt runs in this process instead.
    """
    if WARM is not None:
        return WARM.run(settings, args, env=env, on_event=on_event)
    artifacts = target_path(settings)
    command = [
        dbt_executable(),
        "--log-format",
        "json",
        "--no-use-colors",
        # dbt's own log file, per warehouse, at info level: at debug level (dbt's default) it
        # writes every query and event, megabytes a run, which costs seconds on every build.
        "--log-path",
        str(artifacts / "logs"),
        "--log-level-file",
        "info",
        *args,
        "--project-dir",
        str(settings.project_dir),
        "--target",
        settings.target,
        "--target-path",
        str(artifacts),
    ]
    settings.db.parent.mkdir(parents=True, exist_ok=True)
    local = settings.engine == "duckdb"
    process_env = {
        **os.environ,
        "DBT_PROFILES_DIR": str(settings.project_dir),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        # numpy, on its first import (by a Python model, in one of dbt's threads), sets these
        # and deletes them again: another thread reading the environment meanwhile fails with a
        # KeyError. Set, they are left alone.
        "OPENBLAS_MAIN_FREE": "1",
        "GOTOBLAS_MAIN_FREE": "1",
        "STRATA_DB_PATH": settings.db.name if local else str(settings.db),
        **(env or {}),
    }
    if local and not os.environ.get("STRATA_TEMP_DIR"):
        process_env["STRATA_TEMP_DIR"] = str(
            (settings.state_dir / "tmp").relative_to(settings.db.parent)
        )
    retry = list(args[:1]) == ["retry"]
    # `dbt retry` takes the vars of the build it retries, not the ones on its command line, so it
    # keeps the warehouse's own cache (made by that build) and offers it to no one: shared under
    # the key of its command line, it made the next build without vars parse everything again.
    sharing = local and not retry
    cache = parse_cache_dir(settings, args, process_env) / PARSE_CACHE
    if sharing and cache.is_file():
        # the shared cache for these vars is this warehouse's own last one for them or newer
        artifacts.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cache, artifacts / PARSE_CACHE)
    results_file = artifacts / "run_results.json"
    if not retry:
        # `dbt retry` reads the previous results; every other command must not report stale ones.
        results_file.unlink(missing_ok=True)

    errors: list[str] = []
    notices: list[str] = []
    with (
        subprocess.Popen(
            command,
            cwd=settings.db.parent if local else settings.project_dir,
            env=process_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
        ) as process,
        _forward_termination(process),
    ):
        assert process.stdout is not None
        for line in process.stdout:
            event = _parse_event(line)
            if event is None:
                if line.strip():
                    errors.append(line.rstrip())
                continue
            info = event.get("info", {})
            if info.get("level") == "error" and info.get("msg"):
                errors.append(info["msg"])
            if info.get("name") == "JinjaLogInfo" and str(info.get("msg", "")).startswith(
                NOTICE_PREFIX
            ):
                notices.append(info["msg"].removeprefix("strata ").strip())
            if on_event is not None:
                on_event(event)
        return_code = process.wait()

    if sharing and (artifacts / PARSE_CACHE).is_file():
        _share_parse_cache(artifacts / PARSE_CACHE, cache)
    return DbtResult(
        command=command,
        return_code=return_code,
        nodes=read_run_results(results_file),
        errors=errors,
        notices=notices,
    )


@contextlib.contextmanager
def _forward_termination(process: subprocess.Popen) -> Iterator[None]:
    """While dbt runs, SIGTERM and SIGINT to strata are passed on to dbt, which then stops
    cleanly (dbt cancels its queries); strata waits for it and reports the run as failed."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {}

    def forward(signum, _frame) -> None:
        if process.poll() is None:
            process.send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        previous[signum] = signal.signal(signum, forward)
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _share_parse_cache(source: Path, cache: Path) -> None:
    """Offer this run's parse cache to the next run with the same warehouse file name and vars,
    and keep only the most recently used `PARSE_CACHES_KEPT` of that name (best effort)."""
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temp = cache.with_name(f".{cache.name}.{os.getpid()}.tmp")
        shutil.copyfile(source, temp)
        os.replace(temp, cache)
        kept = sorted(
            (folder for folder in cache.parent.parent.iterdir() if folder.is_dir()),
            key=lambda folder: folder.stat().st_mtime,
            reverse=True,
        )
        for folder in kept[PARSE_CACHES_KEPT:]:
            shutil.rmtree(folder, ignore_errors=True)
    except OSError:
        pass


def _parse_event(line: str) -> dict | None:
    try:
        event = json.loads(line)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


def node_name(unique_id: str) -> str:
    """A node's name from its unique_id: test.<package>.<name>[.<hash>] is named by its third
    part (a data test's hash says nothing to a reader); every other kind ends with its name."""
    parts = unique_id.split(".")
    return parts[2] if parts[0] == "test" and len(parts) > 2 else parts[-1]


def read_run_results(path: Path) -> list[NodeResult]:
    """The nodes of run_results.json; empty when dbt stopped before writing it."""
    if not path.is_file():
        return []
    document = json.loads(path.read_text())
    nodes = []
    for result in document.get("results", []):
        unique_id = result["unique_id"]
        nodes.append(
            NodeResult(
                unique_id=unique_id,
                resource_type=unique_id.split(".")[0],
                name=node_name(unique_id),
                status=str(result.get("status")),
                message=result.get("message"),
                seconds=float(result.get("execution_time") or 0.0),
            )
        )
    return nodes


class Progress:
    """Prints one line per finished dbt node on a terminal; silent otherwise (cron, CI logs)."""

    def __init__(self, stream=None, enabled: bool | None = None) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled

    def __call__(self, event: dict) -> None:
        if not self.enabled:
            return
        name = event.get("info", {}).get("name")
        if name in ("LogModelResult", "LogTestResult", "LogSeedResult", "LogHookEndLine"):
            print(event["info"].get("msg", ""), file=self.stream, flush=True)


# Failures that say nothing about the models or the data: another process holds the warehouse
# file, or a connection dropped. Those are worth another try; a failing model or test is not.
# DuckDB running out of memory is one too: in one long dbt process a model can fail to allocate
# what the same model, alone in a fresh process, builds within the same limit (measured at 10M
# users: int_stage_change_points_listed failed to allocate 512 MiB after the seven models before
# it in the same process, about four minutes, then built in 98.5 s alone; docs/benchmarks.md).
# The retry is `dbt retry`, a new process that builds only what failed and what was skipped.
# Where the model's own work does not fit the limit, the retry fails the same way (the 10M new
# day's change points did, until their delete moved after their select; docs/decisions.md,
# "Delete after the new rows are computed").
TRANSIENT_PATTERNS = (
    "out of memory error",
    "could not set lock on file",
    "conflicting lock is held",
    "database is locked",
    "connection reset",
    "connection refused",
    "broken pipe",
    "timed out",
    "temporarily unavailable",
)


def is_transient(result: DbtResult) -> bool:
    """True when a failed invocation failed for a reason another attempt may not meet."""
    if result.ok:
        return False
    messages = [*result.errors, *(node.message or "" for node in result.failed_nodes())]
    text = "\n".join(messages).lower()
    if not any(pattern in text for pattern in TRANSIENT_PATTERNS):
        return False
    # A model or test that failed on its own terms makes the whole run a real failure.
    return all(
        any(pattern in (node.message or "").lower() for pattern in TRANSIENT_PATTERNS)
        for node in result.failed_nodes()
    )


def run_dbt_with_retries(
    settings: Settings,
    args: Sequence[str],
    *,
    retries: int = 2,
    backoff_seconds: float = 5.0,
    env: dict[str, str] | None = None,
    on_event: Callable[[dict], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[DbtResult, int]:
    """Run dbt; on a transient failure wait (backoff doubling) and try again, at most `retries`
    more times. When the failed invocation got as far as writing run_results.json, the retry is
    `dbt retry`, which re-runs only what failed or was skipped. Returns the last result and the
    number of attempts made."""
    result = run_dbt(settings, args, env=env, on_event=on_event)
    attempts = 1
    while is_transient(result) and attempts <= retries:
        sleep(backoff_seconds * 2 ** (attempts - 1))
        if result.nodes:
            results_file = target_path(settings) / "run_results.json"
            failed_document = _read_json(results_file)
            result = merge_retry(result, run_dbt(settings, ["retry"], env=env, on_event=on_event))
            merge_run_results_file(failed_document, results_file)
        else:
            result = run_dbt(settings, list(args), env=env, on_event=on_event)
        attempts += 1
    return result, attempts


def merge_retry(failed: DbtResult, retried: DbtResult) -> DbtResult:
    """What a build and its `dbt retry` did together. The retry's run_results.json holds only the
    nodes it ran again, so on its own it would report a 10M build of 382 nodes, retried for one
    model, as "2 models built, 21 tests passed" (measured). Each node counts once, by its last
    result; the retry's return code and errors stand, and the notices of both are kept."""
    nodes = {node.unique_id: node for node in [*failed.nodes, *retried.nodes]}
    notices = list(dict.fromkeys([*failed.notices, *retried.notices]))
    return replace(retried, nodes=list(nodes.values()), notices=notices)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def merge_run_results_file(failed: dict | None, path: Path) -> None:
    """Write the retry's run_results.json back as the union of the failed build's results and
    the retry's, each node by its last result, in the build's order. Every reader of dbt's
    artifact (the bench's slowest nodes, a scheduler's log parser, another `dbt retry`) then sees
    the whole build rather than the one model retried. The retry's metadata, args and elapsed
    time stay as dbt wrote them; `dbt retry` reads only the statuses, which are the same for the
    nodes it would run again. Nothing is written when either document is missing."""
    retried = _read_json(path)
    if failed is None or retried is None:
        return
    last = {result["unique_id"]: result for result in retried.get("results", [])}
    merged = [last.pop(result["unique_id"], result) for result in failed.get("results", [])]
    retried["results"] = [*merged, *last.values()]
    write_text_atomic(path, json.dumps(retried))


class WarmDbt:
    """dbt inside this process, with the project parsed once: what `strata run --intraday
    --watch` uses, so that each cycle pays for its models, not for starting Python, importing
    dbt and loading the parse cache again (about 7 of the 10 seconds a small intraday run takes
    as a subprocess; docs/triggers.md).

    The parsed manifest is kept while the vars stay the same, and thrown away when they change.
    Between invocations the DuckDB warehouse is closed (dbt-duckdb keeps one database instance
    per process), so the daily `strata run`, another process, can open it while the watcher
    waits. dbt's invocations share global state, so one runs at a time (the watcher is one loop).
    """

    def __init__(self) -> None:
        self._manifest = None
        self._key: tuple | None = None

    def run(
        self,
        settings: Settings,
        args: Sequence[str],
        *,
        env: dict[str, str] | None = None,
        on_event: Callable[[dict], None] | None = None,
    ) -> DbtResult:
        from dbt.cli.main import dbtRunner  # only the watcher pays for importing dbt
        from dbt_common.events.functions import msg_to_dict

        artifacts = target_path(settings)
        common = [
            "--log-path", str(artifacts / "logs"), "--log-level-file", "info", "--quiet",
            "--project-dir", str(settings.project_dir), "--target", settings.target,
            "--target-path", str(artifacts),
        ]  # fmt: skip
        variables = _vars_argument(args)
        local = settings.engine == "duckdb"
        overrides = {
            "DBT_PROFILES_DIR": str(settings.project_dir),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            # relative, in the warehouse's folder, as for a subprocess: the same profile, so the
            # parse cache stays valid for the daily run's dbt
            "STRATA_DB_PATH": settings.db.name if local else str(settings.db),
            **(env or {}),
        }
        if local and not os.environ.get("STRATA_TEMP_DIR"):
            overrides["STRATA_TEMP_DIR"] = str(
                (settings.state_dir / "tmp").relative_to(settings.db.parent)
            )
        errors: list[str] = []
        notices: list[str] = []

        def listen(message) -> None:
            event = msg_to_dict(message)
            info = event.get("info", {})
            if info.get("level") == "error" and info.get("msg"):
                errors.append(info["msg"])
            if info.get("name") == "JinjaLogInfo" and str(info.get("msg", "")).startswith(
                NOTICE_PREFIX
            ):
                notices.append(info["msg"].removeprefix("strata ").strip())
            if on_event is not None:
                on_event(event)

        results_file = artifacts / "run_results.json"
        results_file.unlink(missing_ok=True)
        saved = {name: os.environ.get(name) for name in overrides}
        os.environ.update(overrides)
        settings.db.parent.mkdir(parents=True, exist_ok=True)
        working_dir = os.getcwd()
        os.chdir(settings.db.parent if local else settings.project_dir)
        try:
            # the manifest holds relations by the warehouse's file name, not its folder
            key = (variables, str(settings.project_dir), settings.target, settings.db.name)
            if self._manifest is None or self._key != key:
                parsed = dbtRunner().invoke(["parse", *common, *variables])
                self._manifest = parsed.result if parsed.success else None
                self._key = key if parsed.success else None
            outcome = dbtRunner(manifest=self._manifest, callbacks=[listen]).invoke(
                [*args, *common]
            )
            return_code = 0 if outcome.success else (2 if outcome.exception else 1)
            if outcome.exception is not None:
                errors.append(str(outcome.exception))
        finally:
            _close_duckdb()
            os.chdir(working_dir)
            for name, value in saved.items():
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        return DbtResult(
            command=["dbt (in process)", *args],
            return_code=return_code,
            nodes=read_run_results(results_file),
            errors=errors,
            notices=notices,
        )


def _vars_argument(args: Sequence[str]) -> tuple[str, ...]:
    """The `--vars` option of an argument list (the parse must see the same vars)."""
    args = list(args)
    if "--vars" in args:
        index = args.index("--vars")
        return tuple(args[index : index + 2])
    return ()


def _close_duckdb() -> None:
    """Close the DuckDB database dbt-duckdb keeps open in this process, so that another process
    (the daily run) can open the warehouse file."""
    try:
        from dbt.adapters.duckdb.connections import DuckDBConnectionManager
    except ImportError:  # pragma: no cover - the Spark-only install
        return
    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        with contextlib.suppress(Exception):
            environment.close()
        DuckDBConnectionManager._ENV = None


# The runner `run_dbt` hands invocations to when one is installed (`strata run --intraday
# --watch`); None: every invocation is a subprocess.
WARM: WarmDbt | None = None
