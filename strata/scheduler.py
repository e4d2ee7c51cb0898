"""A long-running schedule for strata runs, on APScheduler rather than a hand-written loop.

One run at a time: a run that falls due while another is still going is skipped (and a run
missed while the process was busy is run once, not once per missed slot). SIGINT and SIGTERM
stop the schedule cleanly: no new run starts, a run in progress is allowed to finish, and the
process exits 0.
"""

from __future__ import annotations

import datetime as dt
import signal
import threading
from collections.abc import Callable, Sequence

from apscheduler.events import EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger


def make_trigger(cron: str | None, interval_seconds: float | None):
    """The trigger of a schedule. A cron expression that never fires (`0 6 31 2 *`: there is no
    31 February) is refused, rather than a process that idles forever."""
    if cron is not None:
        try:
            trigger = CronTrigger.from_crontab(cron, timezone="UTC")
        except ValueError as error:
            raise ValueError(f"invalid cron expression {cron!r}: {error}") from error
        if next_run(trigger) is None:
            raise ValueError(f"cron expression {cron!r} never fires (no such date); fix the date")
        return trigger
    if interval_seconds is None or interval_seconds <= 0:
        raise ValueError("give a cron expression or a positive interval")
    return IntervalTrigger(seconds=interval_seconds, timezone="UTC")


def next_run(trigger) -> dt.datetime | None:
    """When the trigger fires next, from now (UTC); None when it never will."""
    return trigger.get_next_fire_time(None, dt.datetime.now(dt.UTC))


def run_schedule(
    job: Callable[[], int],
    *,
    cron: str | None = None,
    interval_seconds: float | None = None,
    max_runs: int | None = None,
    log: Callable[[str], None] = print,
    signals: Sequence[signal.Signals] = (signal.SIGINT, signal.SIGTERM),
    stop: threading.Event | None = None,
) -> int:
    """Run `job` on the schedule until a signal arrives, `stop` is set, or `max_runs` runs have
    finished. Returns 0 after a clean stop."""
    trigger = make_trigger(cron, interval_seconds)
    stop = stop or threading.Event()
    runs = 0
    lock = threading.Lock()

    def guarded() -> None:
        nonlocal runs
        if stop.is_set():
            return
        try:
            code = job()
            log(f"strata schedule: run finished with exit code {code}")
        except Exception as error:  # a crashing run must not end the schedule
            log(f"strata schedule: run raised {type(error).__name__}: {error}")
        with lock:
            runs += 1
            if max_runs is not None and runs >= max_runs:
                stop.set()

    scheduler = BackgroundScheduler(timezone="UTC")
    scheduler.add_job(
        guarded,
        trigger,
        id="strata-run",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    scheduler.add_listener(
        lambda _event: log("strata schedule: a run was due while one is going; skipped"),
        EVENT_JOB_MAX_INSTANCES,
    )

    previous = {}

    def on_signal(signum, _frame) -> None:
        log(f"strata schedule: {signal.Signals(signum).name} received, stopping")
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for signum in signals:
            previous[signum] = signal.signal(signum, on_signal)
    scheduler.start()
    due = next_run(trigger)
    log(
        f"strata schedule: started ({cron or f'every {interval_seconds}s'}, UTC); next run due "
        + (f"{due.astimezone(dt.UTC):%Y-%m-%d %H:%M:%S}Z" if due else "never")
    )
    try:
        stop.wait()
    finally:
        scheduler.shutdown(wait=True)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
    log("strata schedule: stopped")
    return 0
