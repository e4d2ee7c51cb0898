"""The one lock helper (Linux/POSIX: an advisory `flock` on a file).

The OS releases the lock when the holding process ends, even by SIGKILL, so a stale lock file
never blocks the next holder. The holder writes who it is into the file, so that a refused caller
can say which process holds it. The run lock and the publish lock are both this class.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import sys
import time
from pathlib import Path


class LockHeld(Exception):
    """Another process holds the lock."""


class FileLock:
    """An exclusive lock on `path`, waiting up to `wait_seconds` for it (0: refuse at once).

    `what` names the lock in the refusal ("another strata run holds ..."), `remedy` says what to
    do about it.
    """

    def __init__(
        self,
        path: Path,
        wait_seconds: float = 0.0,
        *,
        what: str = "another strata run",
        remedy: str = "wait with --wait SECONDS or try again later",
        poll_seconds: float = 0.2,
    ) -> None:
        self.path = Path(path)
        self.wait_seconds = wait_seconds
        self.what = what
        self.remedy = remedy
        self.poll_seconds = poll_seconds
        self._handle = None

    def __enter__(self) -> FileLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.path.open("a+")
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = describe_holder(self.path)
                    handle.close()
                    raise LockHeld(
                        f"{self.what} holds the lock {self.path}{holder}; {self.remedy}"
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

    def __exit__(self, *exc: object) -> None:
        if self._handle is not None:
            fcntl.flock(self._handle.fileno(), fcntl.LOCK_UN)
            self._handle.close()
            self._handle = None


def describe_holder(path: Path) -> str:
    """' (pid 123, started ...)' from the holder's note in the lock file, or ''."""
    try:
        info = json.loads(Path(path).read_text() or "{}")
    except (OSError, ValueError):
        return ""
    if not info:
        return ""
    return f" (pid {info.get('pid')}, started {info.get('started_at')})"


def process_command(pid: int) -> str | None:
    """The command line of a running process, or None when it is gone or unreadable."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    return (text[:117] + "...") if len(text) > 120 else (text or None)


def process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
