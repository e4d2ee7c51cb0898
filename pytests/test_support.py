"""The run lock, run history, alerts and settings file, each on its own."""

from __future__ import annotations

import http.server
import json
import os
import shlex
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import ClassVar

import pytest

from strata.alerts import AlertConfig, build_payload, send_alerts
from strata.runs import LockHeld, RunRecord, append_run, new_run_id, read_runs, run_lock
from strata.settings import ConfigError, example_toml, load_settings


def hold_lock(path: Path) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(f"""
            import time
            from pathlib import Path
            from strata.runs import run_lock
            with run_lock(Path({str(path)!r})):
                print("held", flush=True)
                time.sleep(60)
        """)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def test_lock_held_by_another_process_names_file_and_holder(tmp_path: Path) -> None:
    path = tmp_path / "run.lock"
    holder = hold_lock(path)
    try:
        with pytest.raises(LockHeld) as raised, run_lock(path):
            pass
        assert str(path) in str(raised.value)
        assert f"pid {holder.pid}" in str(raised.value)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    # the OS released the lock of the killed holder: no stale lock
    with run_lock(path):
        pass


def record(status: str = "success") -> RunRecord:
    return RunRecord(run_id=new_run_id(), command="run", started_at="2026-11-22T06:00:00+00:00",
                     status=status, exit_code=0 if status == "success" else 1)  # fmt: skip


def test_history_round_trip_limit_and_corrupt_lines(tmp_path: Path) -> None:
    history = tmp_path / "state" / "runs.jsonl"
    assert read_runs(history) == []
    first, second = record(), record("failed")
    append_run(history, first)
    with history.open("a") as handle:
        handle.write("{not json\n")
    append_run(history, second)
    assert [run.run_id for run in read_runs(history)] == [first.run_id, second.run_id]
    assert read_runs(history, limit=1) == [second]


class Hook(http.server.BaseHTTPRequestHandler):
    bodies: ClassVar[list[dict]] = []
    answers: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        Hook.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        self.send_response(Hook.answers.pop(0) if Hook.answers else 200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def hook_url():
    Hook.bodies.clear()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()


def test_webhook_gets_the_failure_and_retries_a_server_error(hook_url: str) -> None:
    Hook.answers[:] = [500]
    payload = build_payload(record("failed"))
    assert send_alerts(AlertConfig(webhook_url=hook_url), payload, succeeded=False) == []
    assert len(Hook.bodies) == 2
    assert Hook.bodies[-1]["event"] == "run_failed"
    assert Hook.bodies[-1]["run"]["status"] == "failed"


def test_no_alert_on_success_unless_asked(hook_url: str) -> None:
    payload = build_payload(record())
    assert send_alerts(AlertConfig(webhook_url=hook_url), payload, succeeded=True) == []
    assert Hook.bodies == []
    send_alerts(AlertConfig(webhook_url=hook_url, on_success=True), payload, succeeded=True)
    assert Hook.bodies[0]["event"] == "run_succeeded"


def test_undeliverable_alerts_are_reported_not_raised(tmp_path: Path) -> None:
    import socket

    with socket.socket() as probe:  # a port on the loopback address nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = AlertConfig(webhook_url=f"http://127.0.0.1:{port}/", command="false")
    problems = send_alerts(config, build_payload(record("failed")), succeeded=False)
    assert len(problems) == 2


def test_command_alert_receives_the_payload_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "alert.json"
    script = f"import sys, json; json.dump(json.load(sys.stdin), open({str(out)!r}, 'w'))"
    config = AlertConfig(command=shlex.join([sys.executable, "-c", script]))
    assert send_alerts(config, build_payload(record("failed")), succeeded=False) == []
    assert json.loads(out.read_text())["run"]["exit_code"] == 1


def test_settings_flag_then_env_then_file_then_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "strata.toml"
    config.write_text(
        '[strata]\nraw_dir = "/data"\nretries = 4\nalert_on_success = true\nkeep_versions = 5\n'
    )
    monkeypatch.setenv("STRATA_RETRIES", "1")
    monkeypatch.setenv("STRATA_KEEP_VERSIONS", "6")
    settings = load_settings(config, keep_versions=7)
    assert (settings.raw_dir, settings.retries, settings.alert_on_success) == ("/data", 1, True)
    assert settings.keep_versions == 7  # the flag wins over the environment and the file
    assert settings.lock_wait_seconds == 0.0  # the default, written once on the field
    monkeypatch.delenv("STRATA_RETRIES")
    assert load_settings(config).retries == 4
    assert load_settings(None).raw_dir is None


def test_state_and_serving_copy_belong_to_one_warehouse(tmp_path: Path) -> None:
    first = load_settings(db_path=str(tmp_path / "a.duckdb"))
    second = load_settings(db_path=str(tmp_path / "b.duckdb"))
    assert first.state_dir != second.state_dir
    assert first.serving != second.serving
    assert first.history_file.parent == first.state_dir


def test_the_example_settings_file_lists_every_setting() -> None:
    """strata.toml.example is written from the settings' own fields, defaults and meanings."""
    example = Path(__file__).resolve().parent.parent / "strata.toml.example"
    assert example.read_text() == example_toml()


@pytest.mark.parametrize(
    ("text", "environ", "expected"),
    [
        ("[strata]\nretrys = 1\n", {}, "unknown setting(s): retrys"),
        ('[strata]\nretries = "many"\n', {}, "retries = 'many'"),
        ("", {"STRATA_FRESHNESS_CHECK": "maybe"}, "STRATA_FRESHNESS_CHECK"),
    ],
)
def test_bad_settings_name_the_place_and_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, environ: dict, expected: str
) -> None:
    config = tmp_path / "strata.toml"
    config.write_text(text)
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as raised:
        load_settings(config)
    assert expected in str(raised.value)


def test_a_run_that_never_recorded_its_end_shows_as_killed(tmp_path: Path) -> None:
    """A run records itself when it starts; killed before it could record its outcome, it stays in
    the history, shown as killed once its process is gone."""
    history = tmp_path / "runs.jsonl"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    killed = RunRecord(run_id=new_run_id(), command="run", started_at="2026-11-22T06:00:00",
                       status="running", pid=gone.pid)  # fmt: skip
    alive = RunRecord(run_id=new_run_id(), command="run", started_at="2026-11-22T07:00:00",
                      status="running", pid=os.getpid())  # fmt: skip
    append_run(history, killed)
    append_run(history, alive)
    finished = record()
    finished.started_at = "2026-11-22T08:00:00"
    append_run(history, RunRecord(**{**finished.to_dict(), "status": "running"}))
    append_run(history, finished)
    runs = read_runs(history)
    assert [run.status for run in runs] == ["killed", "running", "success"]
    assert "before it could record its outcome" in (runs[0].message or "")
