"""The run lock and the run history (Linux/POSIX: the lock uses fcntl.flock).

The lock is an advisory flock on a file: the OS releases it when the holding process ends, even
by SIGKILL, so a stale lock file never blocks the next run. The history is a JSON Lines file, one
record per run, appended with a single write.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import secrets
import sys
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any


class LockHeld(Exception):
    """Another strata run holds the lock."""


class RunLock:
    """An exclusive, non-blocking lock on `path`, waiting up to `wait_seconds` for it."""

    def __init__(self, path: Path, wait_seconds: float = 0.0, poll_seconds: float = 0.2) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self._handle = None

    def __enter__(self) -> RunLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = self._holder()
                    handle.close()
                    raise LockHeld(
                        f"another strata run holds the lock {self.path}{holder}; "
                        "wait with --wait SECONDS or try again later"
                    ) from None
                time.sleep(self.poll_seconds)
        handle.seek(0)
        handle.truncate()
        handle.write(
            json.dumps(
                {
                    "pid": os.getpid(),
                    "started_at": dt.datetime.now(dt.UTC).isoformat(),
                    "command": " ".join(sys.argv),
                }
            )
        )
        handle.flush()
        self._handle = handle
        return self

    def _holder(self) -> str:
        try:
            info = json.loads(self.path.read_text() or "{}")
        except (OSError, ValueError):
            return ""
        if not info:
            return ""
        return f" (pid {info.get('pid')}, started {info.get('started_at')})"

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


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
    rows_quarantined: int | None = None
    published_version: str | None = None
    failures: list[dict[str, str]] = field(default_factory=list)
    message: str | None = None

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


def read_runs(history_file: Path, limit: int | None = None) -> list[RunRecord]:
    """The recorded runs, oldest first; corrupt lines are skipped."""
    if not history_file.is_file():
        return []
    records = []
    for line in history_file.read_text().splitlines():
        try:
            records.append(RunRecord.from_dict(json.loads(line)))
        except (ValueError, TypeError):
            continue
    return records[-limit:] if limit else records
