"""A small shop that delivers its sessions and orders every fifteen minutes, for the trigger
audiences (docs/triggers.md): the history up to 30 June 2025 in one delivery, then a day of
deliveries on 1 July, every fifteen minutes through the shop's day (07:00 to 19:00; the first
brings the night), each a folder `loaded_at=<time>` holding the events of the quarter hour
before it. Every trigger has a user written for it, and a seeded crowd of other users browses
and buys around them.

Three deliveries go wrong on purpose (`QUIRKS`): one arrives late (its marker says 10:00, but it
lands after the 10:30 run, and it holds the order that means a cart was never abandoned), one is
delivered twice, and one has broken rows (an unparseable time, a time in the future), while the
17:00 delivery first lands as a file that is not Parquet at all and is then delivered again.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

DAY = dt.date(2025, 7, 1)
HISTORY_END = dt.datetime(2025, 6, 30, 23, 59)
HISTORY_MARKER = "2025-06-30T23:59:00"
STEP = dt.timedelta(minutes=15)
FIRST_DELIVERY = dt.datetime(2025, 7, 1, 7, 0)
LAST_DELIVERY = dt.datetime(2025, 7, 1, 19, 0)

SESSION_COLUMNS = ("session_id", "user_id", "started_at", "ended_at", "platform", "page_views",
                   "added_to_cart")  # fmt: skip
ORDER_COLUMNS = ("order_id", "user_id", "ordered_at", "status", "amount", "currency", "updated_at")

LATE_MARKER = dt.datetime(2025, 7, 1, 10, 0)  # lands after the 10:30 run
LATE_ARRIVES = dt.datetime(2025, 7, 1, 10, 45)
REPEATED_MARKER = dt.datetime(2025, 7, 1, 14, 0)  # delivered again with the 14:30 one
REPEATED_AGAIN = dt.datetime(2025, 7, 1, 14, 30)
BROKEN_ROWS_MARKER = dt.datetime(2025, 7, 1, 16, 0)  # rows to quarantine
CORRUPT_MARKER = dt.datetime(2025, 7, 1, 17, 0)  # lands unreadable, fixed by the next run


def _ts(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Events:
    sessions: list[tuple] = field(default_factory=list)
    orders: list[tuple] = field(default_factory=list)
    count: int = 0

    def session(self, user: str, at: dt.datetime, cart: bool = False, minutes: int = 12) -> str:
        self.count += 1
        sid = f"s{self.count:05d}"
        self.sessions.append(
            (
                sid,
                user,
                _ts(at),
                _ts(at + dt.timedelta(minutes=minutes)),
                "web",
                "4",
                "true" if cart else "false",
            )
        )
        return sid

    def order(self, user: str, at: dt.datetime, amount: float = 40.0, status="completed") -> str:
        self.count += 1
        oid = f"o{self.count:05d}"
        self.orders.append((oid, user, _ts(at), status, f"{amount:.2f}", "USD", ""))
        return oid


def _at(hour: int, minute: int, day: dt.date = DAY) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute)


def shop_events(seed: int = 7) -> Events:
    """Every event of the shop, history and day alike (each delivery takes its own)."""
    events = Events()
    # The crowd: regular customers through May and June, and browsing and buying on the day.
    rng = random.Random(seed)
    for number in range(24):
        user = f"c{number:02d}"
        day = dt.date(2025, 4, 1) + dt.timedelta(days=rng.randrange(20))
        while day <= HISTORY_END.date():
            at = dt.datetime.combine(day, dt.time(rng.randrange(7, 22), rng.randrange(60)))
            events.session(user, at, cart=rng.random() < 0.3)
            if rng.random() < 0.4:
                events.order(user, at + dt.timedelta(minutes=rng.randrange(5, 50)))
            day += dt.timedelta(days=rng.randrange(2, 9))
        for _ in range(rng.randrange(0, 3)):
            at = _at(rng.randrange(7, 17), rng.randrange(60))
            events.session(user, at, cart=rng.random() < 0.5)
            if rng.random() < 0.3:
                events.order(user, at + dt.timedelta(minutes=rng.randrange(5, 110)))

    # cart_abandoned: a cart at 08:05, nothing bought: in from 10:05 (the 10:15 run).
    events.session("u_cart", _at(8, 5), cart=True)
    # ... a cart at 07:00, in from 09:00, and a purchase at 12:20 takes the user out.
    events.session("u_cart_buys", _at(7, 0), cart=True)
    events.order("u_cart_buys", _at(12, 20))
    # ... a cart at 07:50 with an order at 09:50 that only the late delivery brings: in at the
    # 10:00 to 10:30 runs, out again from 10:45, since the order was within the two hours.
    events.session("u_late", _at(7, 50), cart=True)
    events.order("u_late", _at(9, 50))
    # browsing_without_purchase: two visits in June's last week, a third at 09:20 on the day.
    events.session("u_browse", _at(11, 0, dt.date(2025, 6, 26)))
    events.session("u_browse", _at(18, 30, dt.date(2025, 6, 29)))
    events.session("u_browse", _at(9, 20))
    # came_back: active in March, dormant (more than 30 days) by June, back at 11:05.
    events.session("u_back", _at(10, 0, dt.date(2025, 3, 10)))
    events.order("u_back", _at(10, 20, dt.date(2025, 3, 10)))
    events.session("u_back", _at(11, 5))
    # first_purchase: a new customer's first order at 13:50 (in the delivery sent twice).
    events.session("u_first", _at(13, 30), cart=True)
    events.order("u_first", _at(13, 50))
    # second_purchase_overdue: a first purchase on 23 June and none since: the crowd's median
    # gap between purchase days is 8 days, so the second is due at 12:00 on 1 July.
    events.session("u_second", _at(11, 50, dt.date(2025, 6, 23)))
    events.order("u_second", _at(12, 0, dt.date(2025, 6, 23)))
    return events


def _delivery_of(at: str) -> dt.datetime:
    moment = dt.datetime.strptime(at, "%Y-%m-%dT%H:%M:%SZ")
    if moment <= HISTORY_END:
        return HISTORY_END
    if moment <= FIRST_DELIVERY:
        return FIRST_DELIVERY
    # the quarter hour the event falls in is delivered at its end
    start = dt.datetime.combine(DAY, dt.time())
    steps = (moment - start - dt.timedelta(microseconds=1)) // STEP + 1
    return start + steps * STEP


def _write(folder: Path, columns: tuple[str, ...], rows: list[tuple], part: str = "part-0") -> None:
    folder.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        names = ", ".join(f"{column} varchar" for column in columns)
        con.execute(f"create table rows ({names})")
        if rows:
            con.executemany(
                f"insert into rows values ({', '.join('?' for _ in columns)})",
                [list(r) for r in rows],
            )
        con.execute(f"copy rows to '{folder / part}.parquet' (format parquet)")


@dataclass
class DayShop:
    """The shop's deliveries, landed one run at a time into `raw`."""

    raw: Path
    events: Events = field(default_factory=shop_events)

    def marker(self, moment: dt.datetime) -> str:
        return moment.strftime("%Y-%m-%dT%H:%M:%S")

    def rows_delivered_at(self, moment: dt.datetime) -> tuple[list[tuple], list[tuple]]:
        sessions = [r for r in self.events.sessions if _delivery_of(r[2]) == moment]
        orders = [r for r in self.events.orders if _delivery_of(r[2]) == moment]
        return sessions, orders

    def land(self, moment: dt.datetime, marker: dt.datetime | None = None) -> None:
        """The delivery for the quarter hour ending at `moment`, under the marker `marker`."""
        sessions, orders = self.rows_delivered_at(moment)
        if moment == BROKEN_ROWS_MARKER:
            sessions = [
                *sessions,
                ("s_bad_time", "c01", "half past four", "", "web", "2", "false"),
                ("s_future", "c02", _ts(moment + dt.timedelta(hours=3)), "", "web", "2", "true"),
            ]
        stamp = self.marker(marker or moment)
        # a delivery sent again lands beside the one of its new time, as another part
        part = "part-0" if marker in (None, moment) else "part-1"
        _write(self.raw / "sessions" / f"loaded_at={stamp}", SESSION_COLUMNS, sessions, part)
        _write(self.raw / "orders" / f"loaded_at={stamp}", ORDER_COLUMNS, orders, part)

    def land_history(self) -> None:
        self.land(HISTORY_END)

    def land_corrupt(self, moment: dt.datetime) -> Path:
        """The delivery for `moment` as a file that is not Parquet; returns its path."""
        path = self.raw / "sessions" / f"loaded_at={self.marker(moment)}" / "part-0.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"PAR1 this export was cut off")
        _, orders = self.rows_delivered_at(moment)
        _write(self.raw / "orders" / f"loaded_at={self.marker(moment)}", ORDER_COLUMNS, orders)
        return path

    def runs(self) -> list[dict]:
        """The day's deliveries in order: what lands at each time (a list of (quarter, marker,
        kind)), every fifteen minutes from 07:00 to 19:00."""
        plan = []
        moment = FIRST_DELIVERY
        while moment <= LAST_DELIVERY:
            landing = []
            if moment == LATE_MARKER:
                pass  # late: lands with the 10:45 run
            elif moment == CORRUPT_MARKER:
                landing.append((moment, moment, "corrupt"))
            else:
                landing.append((moment, moment, "good"))
            if moment == LATE_ARRIVES:
                landing.append((LATE_MARKER, LATE_MARKER, "good"))
            if moment == REPEATED_AGAIN:
                landing.append((REPEATED_MARKER, REPEATED_AGAIN, "good"))
            if moment == CORRUPT_MARKER + STEP:
                landing.append((CORRUPT_MARKER, CORRUPT_MARKER, "good"))
            plan.append({"run_at": moment, "landing": landing})
            moment += STEP
        return plan
