"""The run history: one JSON Lines file per warehouse, one record per run.

A run appends a `running` record when it starts and its final record when it ends, each with a
single write; reading keeps the last record of each run. A run killed before it could finish
(SIGKILL, a power cut) therefore still shows, as `killed`, once its process is gone.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import secrets
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from strata.locking import FileLock, LockHeld, process_alive

__all__ = ["LockHeld", "RunRecord", "append_run", "new_run_id", "read_runs", "run_lock"]


def run_lock(path: Path, wait_seconds: float = 0.0) -> FileLock:
    """The run lock of one warehouse: one strata run at a time writes to it."""
    return FileLock(path, wait_seconds, what="another strata run")


@dataclass
class RunRecord:
    """What one run did, as `strata status` and alerts show it."""

    run_id: str
    command: str
    started_at: str
    finished_at: str | None = None
    duration_seconds: float | None = None
    status: str = "error"
    exit_code: int = 1
    as_of_date: str | None = None
    models_passed: int = 0
    models_failed: int = 0
    tests_passed: int = 0
    tests_failed: int = 0
    tests_warned: int = 0
    rows_quarantined: int | None = None
    published_version: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    message: str | None = None
    warehouse: str | None = None
    raw_dir: str | None = None
    pid: int | None = None
    accepted_anomalies: bool = False
    # every dbt var the run set away from dbt_project.yml's default (settings and --vars)
    vars: dict[str, Any] = field(default_factory=dict)
    # the lifecycle thresholds the build used and where they came from (vars, or `auto`: the
    # purchase rhythm), so that a stage history stays explainable when they move
    thresholds: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunRecord:
        known = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in known})


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ") + "-" + secrets.token_hex(3)


def append_run(history_file: Path, record: RunRecord) -> None:
    history_file.parent.mkdir(parents=True, exist_ok=True)
    line = (json.dumps(record.to_dict(), default=str) + "\n").encode()
    descriptor = os.open(history_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(descriptor, line)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def read_runs(
    history_file: Path, limit: int | None = None, skipped: list[str] | None = None
) -> list[RunRecord]:
    """The recorded runs, oldest first, each in its last recorded state. A line that cannot be
    read (not UTF-8, not JSON, not a JSON object, not a run) is skipped, and named in `skipped`
    when given ("line 3 (not a JSON object)"). A run still `running` whose process is gone was
    killed."""
    if not history_file.is_file():
        return []
    latest: dict[str, RunRecord] = {}
    for number, raw in enumerate(history_file.read_bytes().splitlines(), start=1):
        problem = None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                problem = "not a JSON object"
            else:
                record = RunRecord.from_dict(data)
                if not isinstance(record.run_id, str) or not isinstance(record.started_at, str):
                    problem = "not a run record (no run_id or started_at)"
        except UnicodeDecodeError:
            problem = "not UTF-8 text"
        except ValueError:
            problem = "not valid JSON"
        except TypeError:
            problem = "not a run record"
        if problem is not None:
            if skipped is not None and raw.strip():
                skipped.append(f"line {number} ({problem})")
            continue
        latest.pop(record.run_id, None)  # keep the order of the latest state
        latest[record.run_id] = record
    records = sorted(latest.values(), key=lambda record: record.started_at)
    for record in records:
        if record.status == "running" and not (record.pid and process_alive(record.pid)):
            record.status = "killed"
            record.message = record.message or "the run ended before it could record its outcome"
    return records[-limit:] if limit else records
