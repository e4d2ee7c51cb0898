"""Files and commands at their edges (issue #23): where `strata report --out` may write, a run
history with damaged lines, a warehouse path under a file, and a schedule that never fires.

Device targets are private device nodes made in the test's own folder (root only), never the
host's /dev/null: a writer that renamed over it would break it for every process.
"""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.atomic_files import write_text_atomic
from strata.cli import main
from strata.scheduler import make_trigger, next_run, run_schedule
from strata.settings import load_settings

NULL_DEVICE = os.makedev(1, 3)  # what /dev/null is on Linux
FULL_DEVICE = os.makedev(1, 7)  # /dev/full


def device(path: Path, number: int) -> Path:
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, number)
    except PermissionError:
        pytest.skip("making a device node needs root")
    return path


@pytest.fixture
def published(tmp_path: Path) -> Path:
    """A warehouse with a published serving file (no marts: the report still gives a page)."""
    db = tmp_path / "warehouse.duckdb"
    serving = load_settings(db_path=str(db)).serving
    serving.mkdir(parents=True)
    duckdb.connect(str(serving / "strata.duckdb")).close()
    return db


def report(db: Path, out: Path | str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--out", str(out)])
    return result.exit_code, result.output


def test_a_device_is_written_through_never_replaced(published: Path, tmp_path: Path) -> None:
    null = device(tmp_path / "null", NULL_DEVICE)
    code, output = report(published, null)
    assert code == 0, output
    assert stat.S_ISCHR(null.lstat().st_mode)  # still the device, not a file renamed over it
    assert not list(tmp_path.glob(".null.*.tmp"))


def test_a_full_device_fails_with_a_sentence_and_exit_1(published: Path, tmp_path: Path) -> None:
    full = device(tmp_path / "full", FULL_DEVICE)
    code, output = report(published, full)
    assert code == 1
    assert f"the report was not written to {full}: No space left on device" in output
    assert "Traceback" not in output
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_is_written_through(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()))
    reader.start()
    write_text_atomic(fifo, "<html>report</html>")
    reader.join(timeout=10)
    assert received == ["<html>report</html>"]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


@pytest.mark.parametrize(
    "where",
    [
        lambda tmp: "/proc/strata-report.html",  # a folder nobody can create files in
        lambda tmp: tmp / "a-file" / "report.html",  # a "folder" that is a file
    ],
    ids=["unwritable-folder", "folder-is-a-file"],
)
def test_an_unwritable_place_is_a_sentence_not_a_traceback(
    published: Path, tmp_path: Path, where
) -> None:
    (tmp_path / "a-file").write_text("")
    target = where(tmp_path)
    code, output = report(published, target)
    assert code == 1, output
    assert f"the report was not written to {target}" in output
    assert "Traceback" not in output


def test_a_symlink_is_followed_and_kept(published: Path, tmp_path: Path) -> None:
    real = tmp_path / "reports" / "latest.html"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "report.html"
    link.symlink_to(real)
    code, output = report(published, link)
    assert code == 0, output
    assert link.is_symlink() and link.resolve() == real
    assert real.read_text().startswith("<!DOCTYPE html>")


def test_a_file_keeps_its_mode_and_a_read_only_one_is_refused(
    published: Path, tmp_path: Path
) -> None:
    shared = tmp_path / "shared.html"
    shared.write_text("old")
    shared.chmod(0o640)
    assert report(published, shared)[0] == 0
    assert stat.S_IMODE(shared.stat().st_mode) == 0o640
    assert shared.read_text() != "old"

    frozen = tmp_path / "frozen.html"
    frozen.write_text("keep me")
    frozen.chmod(0o444)
    code, output = report(published, frozen)
    assert code == 1
    assert "read-only" in output
    assert frozen.read_text() == "keep me" and stat.S_IMODE(frozen.stat().st_mode) == 0o444


def test_status_skips_damaged_history_lines_and_names_them(tmp_path: Path) -> None:
    db = tmp_path / "warehouse.duckdb"
    history = load_settings(db_path=str(db)).history_file
    history.parent.mkdir(parents=True)
    good = b'{"run_id": "r1", "command": "run", "started_at": "2026-11-30T06:00:00",'
    good += b' "status": "success", "exit_code": 0}'
    history.write_bytes(b"\n".join([good, b"\xff\xfe broken", b"[1, 2]", b"42", b"{no json"]))
    result = CliRunner().invoke(main, ["status", "--db", str(db)])
    assert result.exit_code == 0, result.output
    assert "success" in result.output
    for line in (
        "skipped line 2 (not UTF-8 text)",
        "skipped line 3 (not a JSON object)",
        "skipped line 4 (not a JSON object)",
        "skipped line 5 (not valid JSON)",
    ):
        assert line in result.output


@pytest.mark.parametrize("command", ["run", "schedule", "status"])
def test_a_warehouse_under_a_file_is_a_usage_error(tmp_path: Path, command: str) -> None:
    (tmp_path / "some_file").write_text("")
    db = tmp_path / "some_file" / "x.duckdb"
    args = [command, "--db", str(db)]
    if command != "status":
        (tmp_path / "raw").mkdir()
        args += ["--raw-dir", str(tmp_path / "raw")]
    if command == "schedule":
        args += ["--cron", "0 6 * * *"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"lies under {tmp_path / 'some_file'}, which is a file" in result.output
    assert "Traceback" not in result.output


def test_a_schedule_that_never_fires_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="never fires"):
        make_trigger("0 6 31 2 *", None)
    (tmp_path / "raw").mkdir()
    result = CliRunner().invoke(
        main,
        ["schedule", "--cron", "0 6 31 2 *", "--raw-dir", str(tmp_path / "raw"),
         "--db", str(tmp_path / "warehouse.duckdb")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "never fires" in result.output


def test_the_schedule_says_when_the_next_run_is_due() -> None:
    assert next_run(make_trigger("0 6 * * *", None)).hour == 6
    lines: list[str] = []
    stop = threading.Event()
    stop.set()
    run_schedule(lambda: 0, cron="0 6 * * *", log=lines.append, signals=(), stop=stop)
    started = next(line for line in lines if "started" in line)
    assert "next run due" in started and started.endswith(":00Z")
