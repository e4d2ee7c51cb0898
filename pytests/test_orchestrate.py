"""The run around dbt: retries, the lock, freshness, publishing, history, schedule, exit codes."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path
from typing import ClassVar

import duckdb
import pytest
from click.testing import CliRunner

from strata import dbt_runner
from strata.cli import main
from strata.dbt_runner import DbtResult, NodeResult, run_dbt_with_retries
from strata.runs import run_lock
from strata.scheduler import run_schedule
from strata.settings import Settings, load_settings

FIXTURE_RAW = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "raw"

LOCK_ERROR = 'IO Error: Could not set lock on file "w.duckdb": Conflicting lock is held'


def node(status: str, message: str | None = None, kind: str = "model") -> NodeResult:
    return NodeResult(f"{kind}.strata.x", kind, "x", status, message, 0.1)


def fake_dbt(monkeypatch: pytest.MonkeyPatch, results: list[DbtResult]) -> list[list[str]]:
    calls: list[list[str]] = []

    def run(settings, args, env=None, on_event=None):  # same signature as run_dbt
        calls.append(list(args))
        return results[len(calls) - 1]

    monkeypatch.setattr(dbt_runner, "run_dbt", run)
    return calls


def settings(tmp_path: Path) -> Settings:
    return load_settings(db_path=str(tmp_path / "w.duckdb"))


def test_transient_failure_before_results_is_retried_with_the_same_command(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 2, [], [LOCK_ERROR]),
        DbtResult(["dbt"], 0, [node("success")], []),
    ])  # fmt: skip
    pauses: list[float] = []
    result, attempts = run_dbt_with_retries(
        settings(tmp_path), ["build"], retries=2, backoff_seconds=1.5, sleep=pauses.append
    )
    assert result.ok and attempts == 2
    assert calls == [["build"], ["build"]]
    assert pauses == [1.5]


def test_transient_failure_after_results_uses_dbt_retry_with_backoff(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 1, [node("success"), node("error", LOCK_ERROR)], []),
        DbtResult(["dbt"], 1, [node("error", LOCK_ERROR)], []),
        DbtResult(["dbt"], 0, [node("success")], []),
    ])  # fmt: skip
    pauses: list[float] = []
    result, attempts = run_dbt_with_retries(
        settings(tmp_path), ["build"], retries=3, backoff_seconds=1.0, sleep=pauses.append
    )
    assert result.ok and attempts == 3
    assert calls == [["build"], ["retry"], ["retry"]]
    assert pauses == [1.0, 2.0]


OUT_OF_MEMORY = (
    "Out of Memory Error: failed to allocate data of size 512.0 MiB (2.3 GiB/2.7 GiB used)"
)


def named(name: str, status: str, message: str | None = None, kind: str = "model") -> NodeResult:
    return NodeResult(f"{kind}.strata.{name}", kind, name, status, message, 0.1)


def test_a_model_out_of_memory_is_retried_in_a_new_process(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """DuckDB can fail to allocate in a long dbt process what a fresh one builds within the same
    limit (measured at 10M users): `dbt retry` builds what failed and what was skipped. The run
    then reports every node once, by its last result, not only the retry's."""
    calls = fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 1, [
            named("a", "success"), named("a", "pass", kind="test"),
            named("b", "error", OUT_OF_MEMORY), named("b", "skipped", kind="test"),
            named("c", "skipped"),
        ], ["b ran out of memory"], ["strata incremental: a rebuilt in full: x"]),
        DbtResult(["dbt"], 0, [
            named("b", "success"), named("b", "pass", kind="test"), named("c", "success"),
        ], [], ["strata incremental: c rebuilt in full: y"]),
    ])  # fmt: skip
    result, attempts = run_dbt_with_retries(settings(tmp_path), ["build"], sleep=lambda _: None)
    assert result.ok and attempts == 2
    assert calls == [["build"], ["retry"]]
    assert result.count(["model"], ["success"]) == 3 and result.count(["test"], ["pass"]) == 2
    assert result.failed_nodes() == [] and result.errors == []
    assert len(result.notices) == 2
    # beside a model that failed on its own terms, it is a real failure
    fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 1, [node("error", OUT_OF_MEMORY), node("error", "Binder Error: x")], []),
    ])  # fmt: skip
    _, attempts = run_dbt_with_retries(settings(tmp_path), ["build"], sleep=lambda _: None)
    assert attempts == 1


def test_a_retried_build_leaves_run_results_of_the_whole_build(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """dbt retry writes run_results.json with only the nodes it ran again; the bench's slowest
    nodes of a retried 10M run listed the retry's two models. The file is written back as the
    whole build, each node by its last result, in the build's order, the retry's args kept."""
    config = settings(tmp_path)
    results_file = dbt_runner.target_path(config) / "run_results.json"
    documents = [
        {"args": {"which": "build"}, "results": [
            {"unique_id": "model.strata.a", "status": "success", "execution_time": 1.0},
            {"unique_id": "model.strata.b", "status": "error", "execution_time": 2.0,
             "message": OUT_OF_MEMORY},
            {"unique_id": "test.strata.t_b", "status": "skipped", "execution_time": 0.0},
        ]},
        {"args": {"which": "retry"}, "results": [
            {"unique_id": "model.strata.b", "status": "success", "execution_time": 3.0},
            {"unique_id": "test.strata.t_b", "status": "pass", "execution_time": 0.5},
        ]},
    ]  # fmt: skip
    calls: list[list[str]] = []

    def run(settings, args, env=None, on_event=None):  # same signature as run_dbt
        calls.append(list(args))
        results_file.parent.mkdir(parents=True, exist_ok=True)
        results_file.write_text(json.dumps(documents[len(calls) - 1]))
        return DbtResult(["dbt"], int(len(calls) == 1), dbt_runner.read_run_results(results_file))

    monkeypatch.setattr(dbt_runner, "run_dbt", run)
    result, attempts = run_dbt_with_retries(config, ["build"], sleep=lambda _: None)
    assert result.ok and attempts == 2 and calls == [["build"], ["retry"]]
    written = json.loads(results_file.read_text())
    assert written["args"] == {"which": "retry"}
    assert [(r["unique_id"], r["status"], r["execution_time"]) for r in written["results"]] == [
        ("model.strata.a", "success", 1.0),
        ("model.strata.b", "success", 3.0),
        ("test.strata.t_b", "pass", 0.5),
    ]
    assert dbt_runner.read_run_results(results_file) == result.nodes


def test_dbt_retry_builds_the_audiences_of_the_failed_build(published_copy) -> None:
    """The retry is real dbt: `dbt retry` reads the failed build's vars back from
    run_results.json. With a null in the audiences' definitions (an audience without
    measure_from) every retry stopped on dim_audiences, "value None is not a date literal"
    (found at 10M users); the definitions now hold no null, and the retry builds it."""
    settings = load_settings(db_path=str(published_copy.db))
    results_file = dbt_runner.target_path(settings) / "run_results.json"
    results = json.loads(results_file.read_text())
    assert any(audience.get("goal") for audience in results["args"]["vars"]["audiences"])
    for result in results["results"]:
        if result["unique_id"] == "model.strata.dim_audiences":
            result["status"] = "error"  # as if it had failed on a held lock
    results_file.write_text(json.dumps(results))
    retried = dbt_runner.run_dbt(
        settings, ["retry"], env={"STRATA_RAW_DIR": str(published_copy.raw)}
    )
    assert retried.ok, retried.errors[-3:]
    assert [
        (node.name, node.status) for node in retried.nodes if node.resource_type == "model"
    ] == [("dim_audiences", "success")]


def test_a_failing_test_is_not_retried(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 1, [node("fail", "Got 3 results", kind="test")], []),
    ])  # fmt: skip
    result, attempts = run_dbt_with_retries(settings(tmp_path), ["build"], sleep=lambda _: None)
    assert not result.ok and attempts == 1 and len(calls) == 1


def test_a_model_error_next_to_a_lock_error_is_not_retried(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    fake_dbt(monkeypatch, [
        DbtResult(["dbt"], 1, [node("error", LOCK_ERROR), node("error", "Binder Error: x")], []),
    ])  # fmt: skip
    _, attempts = run_dbt_with_retries(settings(tmp_path), ["build"], sleep=lambda _: None)
    assert attempts == 1


def test_retries_give_up_after_the_limit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    calls = fake_dbt(monkeypatch, [DbtResult(["dbt"], 2, [], [LOCK_ERROR])] * 3)
    result, attempts = run_dbt_with_retries(
        settings(tmp_path), ["build"], retries=2, sleep=lambda _: None
    )
    assert not result.ok and attempts == 3 and len(calls) == 3


# A stand-in for dbt: it notes which parse cache it found in its target folder (dbt's own parse
# would reuse it only when the vars match), then leaves one made with its own vars.
PARSE_RECORDER = """\
import json, pathlib, sys
args = sys.argv[1:]
target = pathlib.Path(args[args.index("--target-path") + 1])
made_with = args[args.index("--vars") + 1] if "--vars" in args else ""
cache = target / "partial_parse.msgpack"
found = cache.read_text() if cache.is_file() else None
with open(pathlib.Path(sys.argv[0]).with_suffix(".log"), "a") as log:
    log.write(json.dumps([made_with, found]) + "\\n")
target.mkdir(parents=True, exist_ok=True)
cache.write_text(made_with)
"""


def parse_recording_dbt(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    """A stand-in project and a dbt that runs PARSE_RECORDER: (the project, the recorder's log)."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "dbt_project.yml").write_text("name: stand_in\n")
    monkeypatch.setenv("STRATA_PROJECT_DIR", str(project))
    dbt = tmp_path / "dbt.py"
    dbt.write_text(f"#!{sys.executable}\n{PARSE_RECORDER}")
    dbt.chmod(0o755)
    monkeypatch.setattr(dbt_runner, "dbt_executable", lambda: str(dbt))
    return project, dbt.with_suffix(".log")


def test_builds_with_different_vars_keep_their_own_parse_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Two kinds of build alternating (the fixture's audiences and the project's, a relaxed
    guard) used to replace the one shared parse cache each time, so every new warehouse parsed
    the whole project again. Each set of vars now finds the cache made with it."""
    project, log = parse_recording_dbt(monkeypatch, tmp_path)

    def build(folder: str, made_with: str) -> list:
        warehouse = load_settings(db_path=str(tmp_path / folder / "warehouse.duckdb"))
        variables = ["--vars", made_with] if made_with else []
        assert dbt_runner.run_dbt(warehouse, ["build", *variables]).ok
        return json.loads(log.read_text().splitlines()[-1])

    assert build("first", '{"a": 1}') == ['{"a": 1}', None]
    assert build("second", '{"b": 2}') == ['{"b": 2}', None]
    # new warehouses of the same file name, each vars alternating: each finds its own
    assert build("third", '{"a": 1}') == ['{"a": 1}', '{"a": 1}']
    assert build("fourth", '{"b": 2}') == ['{"b": 2}', '{"b": 2}']
    # a warehouse that last ran with other vars gets the cache of this run's vars
    assert build("first", '{"b": 2}') == ['{"b": 2}', '{"b": 2}']
    # a build without vars has a cache of its own too
    assert build("fifth", "") == ["", None]
    assert build("sixth", "") == ["", ""]
    caches = project / "target" / "parse-cache" / "warehouse.duckdb"
    for index in range(dbt_runner.PARSE_CACHES_KEPT + 2):
        build(f"many-{index}", json.dumps({"n": index}))
    assert len([folder for folder in caches.iterdir() if folder.is_dir()]) == (
        dbt_runner.PARSE_CACHES_KEPT
    )
    # the most recently used are the ones kept
    assert build("again", json.dumps({"n": dbt_runner.PARSE_CACHES_KEPT + 1}))[1] is not None


def test_a_retry_keeps_the_cache_of_the_build_it_retries(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`dbt retry` runs with the vars of the build it retries, whatever its own command line
    says. It used to start from the shared cache of a build without vars, and to leave its
    cache (made with the build's vars) as that one: a full parse for the retry, and another for
    the next build without vars."""
    _, log = parse_recording_dbt(monkeypatch, tmp_path)

    def invoke(folder: str, *args: str) -> list:
        warehouse = load_settings(db_path=str(tmp_path / folder / "warehouse.duckdb"))
        assert dbt_runner.run_dbt(warehouse, list(args)).ok
        return json.loads(log.read_text().splitlines()[-1])

    invoke("plain", "build")  # the shared cache of builds without vars
    invoke("retried", "build", "--vars", '{"a": 1}')
    # the retry finds the cache its build left in the warehouse's own folder
    assert invoke("retried", "retry") == ["", '{"a": 1}']
    # and the next build without vars still finds theirs
    assert invoke("other", "build") == ["", ""]


def test_builds_with_different_profile_settings_keep_their_own_parse_caches(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """dbt parses the whole project again when its rendered profile changes, as when the vars
    do: builds of one warehouse name alternating between two thread counts used to throw each
    other's cache away (nine full parses in every warm `make test`). Each profile setting the
    profile reads now has its own cache; a variable the profile does not read changes nothing."""
    project, log = parse_recording_dbt(monkeypatch, tmp_path)
    (project / "profiles.yml").write_text(
        "stand_in:\n  outputs:\n    duckdb:\n"
        "      threads: \"{{ env_var('STRATA_THREADS', '4') | int }}\"\n"
    )

    def build(folder: str, env: dict[str, str]) -> list:
        warehouse = load_settings(db_path=str(tmp_path / folder / "warehouse.duckdb"))
        assert dbt_runner.run_dbt(warehouse, ["build"], env=env).ok
        return log.read_text().splitlines()

    one, four = {"STRATA_THREADS": "1"}, {"STRATA_THREADS": "4"}
    first = load_settings(db_path=str(tmp_path / "first" / "warehouse.duckdb"))
    assert dbt_runner.parse_cache_dir(first, [], one) != dbt_runner.parse_cache_dir(first, [], four)
    assert dbt_runner.parse_cache_dir(first, [], {**one, "UNREAD": "x"}) == (
        dbt_runner.parse_cache_dir(first, [], one)
    )
    build("first", one)
    build("second", four)
    caches = project / "target" / "parse-cache" / "warehouse.duckdb"
    assert len([folder for folder in caches.iterdir() if folder.is_dir()]) == 2
    # a new warehouse of the same name finds the cache of its own thread count
    assert json.loads(build("third", one)[-1])[1] is not None
    assert json.loads(build("fourth", four)[-1])[1] is not None


def test_a_held_lock_exits_3_without_touching_anything(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    with run_lock(tmp_path / ".strata" / "w" / "run.lock"):
        started = time.monotonic()
        result = CliRunner().invoke(main, ["run", "--raw-dir", str(raw_dir), "--db", str(db)])
    assert result.exit_code == 3, result.output
    assert "lock" in result.output.lower()
    assert time.monotonic() - started < 10
    assert not db.exists()


def test_wait_queues_behind_a_held_lock(raw_dir: Path, tmp_path: Path) -> None:
    lock_file = tmp_path / ".strata" / "w" / "run.lock"
    lock_file.parent.mkdir(parents=True)
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from strata.runs import run_lock
            with run_lock(__import__("pathlib").Path({str(lock_file)!r})):
                print("held", flush=True)
                time.sleep(2)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    # a run of one model is enough to show that it waited for the lock and then ran
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw_dir), "--db", str(tmp_path / "w.duckdb"),
               "--wait", "60", "--no-publish", "--select", "+int_as_of_dates_resolved"],
        env={"DBT_INDIRECT_SELECTION": "cautious"},
    )  # fmt: skip
    assert holder.poll() is not None, "the run must have waited for the holder to finish"
    holder.wait(timeout=30)
    assert result.exit_code == 0, result.output


def test_stale_sources_stop_the_run_before_building(raw_dir: Path, tmp_path: Path) -> None:
    db = tmp_path / "w.duckdb"
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw_dir), "--db", str(db), "--freshness-check"]
    )
    assert result.exit_code == 1
    assert "stale source" in result.output
    with duckdb.connect(str(db), read_only=True) as con:
        marts = con.execute(
            "select count(*) from information_schema.tables where table_schema = 'marts'"
        ).fetchone()[0]
    assert marts == 0


class Recorder(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def test_publish_history_status_and_a_failed_run_that_changes_nothing(
    published_copy, tmp_path: Path
) -> None:
    """From a published warehouse (a copy of the session's golden build): a broken delivery
    fails, alerts and changes nothing readers see; status shows both runs; publishing the failed
    build is refused; a good build is published by `strata publish`."""
    raw_dir, db, _ = published_copy
    Recorder.received.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    config = tmp_path / "strata.toml"
    config.write_text(
        f'[strata]\nalert_webhook_url = "http://127.0.0.1:{server.server_address[1]}/hook"\n'
        "keep_versions = 2\n"
    )
    runner = CliRunner()
    args = ["--raw-dir", str(raw_dir), "--db", str(db), "--config", str(config)]
    serving = load_settings(db_path=str(db)).serving
    try:
        version = (serving / "CURRENT").read_text().strip()
        with duckdb.connect(str(serving / "strata.duckdb"), read_only=True) as con:
            users = con.execute("select count(*) from marts.dim_users").fetchone()[0]
        assert users > 0

        (raw_dir / "orders.csv").write_text("order_id,user_id\nx,y\n")  # a broken delivery
        second = runner.invoke(main, ["run", *args])
        assert second.exit_code == 1
        assert (serving / "CURRENT").read_text().strip() == version
        with duckdb.connect(str(serving / "strata.duckdb"), read_only=True) as con:
            assert con.execute("select count(*) from marts.dim_users").fetchone()[0] == users
        assert len(Recorder.received) == 1
        assert Recorder.received[0]["run"]["status"] == "failed"
        assert Recorder.received[0]["run"]["exit_code"] == 1

        shown = runner.invoke(main, ["status", "--db", str(db), "--config", str(config)])
        assert shown.exit_code == 0
        assert "success" in shown.output and "failed" in shown.output and version in shown.output

        # The failed build may have left tables of two builds: publishing it is refused, and
        # the refusal says which build readers see now.
        again = runner.invoke(main, ["publish", "--db", str(db), "--config", str(config)])
        assert again.exit_code == 1, again.output
        assert "did not complete" in again.output and f"version {version}" in again.output
        assert (serving / "CURRENT").read_text().strip() == version

        (raw_dir / "orders.csv").unlink()
        shutil.copy(FIXTURE_RAW / "orders.csv", raw_dir / "orders.csv")
        rebuilt = runner.invoke(main, ["run", *args, "--no-publish"])
        assert rebuilt.exit_code == 0, rebuilt.output
        # the failed run and the refused publish alerted; a success does not, by default
        assert [alert["event"] for alert in Recorder.received] == ["run_failed", "run_failed"]
        again = runner.invoke(main, ["publish", "--db", str(db), "--config", str(config)])
        assert again.exit_code == 0, again.output
        assert (serving / "CURRENT").read_text().strip() != version
    finally:
        server.shutdown()


def test_schedule_runs_one_at_a_time_and_stops_after_max_runs() -> None:
    running = 0
    overlaps = 0
    finished = 0

    def job() -> int:
        nonlocal running, overlaps, finished
        running += 1
        overlaps += running > 1
        time.sleep(0.3)  # longer than the interval: due runs are skipped, never stacked
        running -= 1
        finished += 1
        return 0

    lines: list[str] = []
    started = time.monotonic()
    code = run_schedule(job, interval_seconds=0.1, max_runs=3, log=lines.append, signals=())
    assert code == 0
    assert finished == 3 and overlaps == 0
    assert time.monotonic() - started < 10
    assert lines[-1] == "strata schedule: stopped"


def test_schedule_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import time
        from strata.scheduler import run_schedule
        def job():
            print("ran", flush=True)
            return 0
        def say(line):
            print(line, flush=True)
        raise SystemExit(run_schedule(job, interval_seconds=0.2, log=say))
    """)
    process = subprocess.Popen(
        [sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=os.environ.copy()
    )
    assert process.stdout is not None
    for line in process.stdout:
        if line.strip() == "ran":
            break
    process.send_signal(signal.SIGTERM)
    output = process.communicate(timeout=20)[0]
    assert process.returncode == 0
    assert "SIGTERM received, stopping" in output
    assert output.strip().endswith("strata schedule: stopped")


def test_bad_cron_is_a_usage_error(tmp_path: Path, raw_dir: Path) -> None:
    result = CliRunner().invoke(
        main, ["schedule", "--cron", "every day", "--raw-dir", str(raw_dir),
               "--db", str(tmp_path / "w.duckdb")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "cron" in result.output
