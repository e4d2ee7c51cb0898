"""A build for a past as-of date ignores every later row and gives the same numbers every time.

Three narrowed builds (docs/testing.md) of what the proof reads: the users' marts, their
lifecycle history and RFM snapshots, and the as-of layer of orders. One before later rows are
appended (through `strata run --as-of`, the path users take), one after, and the same again.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from builds import build, rows, table
from click.testing import CliRunner
from conftest import FIXTURE_RAW

from strata.cli import main

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("as_of")]

AS_OF = "2025-04-30"
SELECT = (
    "+dim_users +fct_user_lifecycle_history +fct_user_rfm_snapshots +int_orders_resolved"
    " +fct_audience_memberships"
)
# What must not move, each table with the order its rows are compared in (by column name).
COMPARED = {
    "marts.dim_users": "user_id",
    "marts.fct_user_lifecycle_history": "user_id, valid_from",
    "marts.fct_user_rfm_snapshots": "snapshot_date, user_id",
    "intermediate.int_users_measured": "user_id",
    # the audiences (the project's audiences/*.yml) on D and the evaluation days before it
    "marts.fct_audience_memberships": "audience_name, user_id, first_found_on",
}

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


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("as-of")
    raw = root / "raw"
    shutil.copytree(FIXTURE_RAW, raw)
    before = root / "before"
    result = CliRunner().invoke(
        main,
        ["run", "--raw-dir", str(raw), "--db", str(before / "warehouse.duckdb"), "--as-of", AS_OF,
         "--select", SELECT, "--no-publish"],
        env={"DBT_INDIRECT_SELECTION": "cautious"},
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    with (raw / "orders.csv").open("a") as handle:
        handle.write("\n".join(LATER_ORDERS) + "\n")
    with (raw / "sessions.csv").open("a") as handle:
        handle.write("\n".join(LATER_SESSIONS) + "\n")
    return {
        "before": before / "warehouse.duckdb",
        "after": build(raw, root / "after", SELECT, as_of=AS_OF),
        "again": build(raw, root / "again", SELECT, as_of=AS_OF),
    }


@pytest.mark.parametrize("name", sorted(COMPARED))
def test_later_rows_change_nothing(builds: dict[str, Path], name: str) -> None:
    before = table(builds["before"], name, COMPARED[name])
    assert before, f"{name} must have rows as of {AS_OF}"
    assert table(builds["after"], name, COMPARED[name]) == before
    # and again: the same input gives the same output
    assert table(builds["again"], name, COMPARED[name]) == before


def test_everything_is_as_of_the_given_date(builds: dict[str, Path]) -> None:
    assert rows(builds["after"], "select distinct as_of_date from marts.dim_users") == [
        (rows(builds["before"], "select cast(? as date)", [AS_OF])[0][0],)
    ]
    assert rows(builds["after"], "select count(*) from marts.dim_users where user_id = 'u777'") == [
        (0,)
    ]


def test_a_refund_written_after_the_as_of_date_shows_only_in_staging(
    builds: dict[str, Path],
) -> None:
    """Staging shows each order as it stands now; the as-of layer as it stood at the end of D."""
    now = rows(
        builds["after"], "select status from staging.stg_shop__orders where order_id = 'o001'"
    )
    at_as_of = rows(
        builds["after"],
        "select status from intermediate.int_orders_resolved where order_id = 'o001'",
    )
    assert now == [("refunded",)]
    assert at_as_of == [("completed",)]
