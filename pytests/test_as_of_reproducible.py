"""A build for a past as-of date ignores every later row and gives the same numbers every time."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main

pytestmark = pytest.mark.slow

AS_OF = "2025-04-30"

LATER_ORDERS = [
    # existing users buying again after the as-of date, one just past midnight UTC
    "o901,u001,2025-05-01T00:00:00Z,completed,99.00,USD,,late@example.com,",
    "o902,u003,2025-04-30T20:30:00-05:00,completed,15.00,USD,,late@example.com,",
    # a new user who only exists after the as-of date
    "o903,u777,2025-06-10T10:00:00Z,completed,10.00,USD,,new@example.com,",
    # a later version of an order placed before the as-of date, refunding it
    "o001,u001,2025-03-01T10:00:00Z,refunded,25.00,USD,2025-05-02T00:00:00Z,ann@example.com,",
]
LATER_SESSIONS = [
    "s901,u001,2025-05-01T00:00:00Z,2025-05-01T00:10:00Z,web,3,true,,",
    "s902,u002,2025-04-30T23:59:59-01:00,2025-05-01T01:10:00Z,ios,3,false,,",
    "s903,u777,2025-06-10T09:00:00Z,2025-06-10T09:30:00Z,android,3,true,,",
]


def measured(db: Path) -> list[tuple]:
    with duckdb.connect(str(db), read_only=True) as con:
        return con.execute(
            "select * from intermediate.int_users_measured order by user_id"
        ).fetchall()


def build(raw_dir: Path, db: Path) -> list[tuple]:
    result = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw_dir), "--db", str(db), "--as-of", AS_OF]
    )
    assert result.exit_code == 0, result.output
    return measured(db)


def test_later_rows_change_nothing(raw_dir: Path, tmp_path: Path) -> None:
    before = build(raw_dir, tmp_path / "before.duckdb")
    assert before, "the fixture must have users active before the as-of date"
    assert {row[1].isoformat() for row in before} == {AS_OF}

    with (raw_dir / "orders.csv").open("a") as handle:
        handle.write("\n".join(LATER_ORDERS) + "\n")
    with (raw_dir / "sessions.csv").open("a") as handle:
        handle.write("\n".join(LATER_SESSIONS) + "\n")

    after = build(raw_dir, tmp_path / "after.duckdb")
    assert after == before
    # and again: the same input gives the same output
    assert build(raw_dir, tmp_path / "again.duckdb") == before


def test_a_refund_written_after_the_as_of_date_shows_only_in_staging(
    raw_dir: Path, tmp_path: Path
) -> None:
    """Staging shows each order as it stands now; the as-of layer as it stood at the end of D."""
    with (raw_dir / "orders.csv").open("a") as handle:
        handle.write(LATER_ORDERS[-1] + "\n")
    db = tmp_path / "w.duckdb"
    build(raw_dir, db)
    with duckdb.connect(str(db), read_only=True) as con:
        now = con.execute(
            "select status from staging.stg_shop__orders where order_id = 'o001'"
        ).fetchone()
        at_as_of = con.execute(
            "select status from intermediate.int_orders_resolved where order_id = 'o001'"
        ).fetchone()
    assert now == ("refunded",)
    assert at_as_of == ("completed",)
