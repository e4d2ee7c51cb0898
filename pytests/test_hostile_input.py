"""Input that is wrong, odd or hostile: it either builds correctly or stops with a sentence naming
the file and the column; it never reaches SQL, and never publishes a wrong result.

The inputs that must build share one build: orders as Parquet with the column names DuckDB's
reader uses itself (`filename`, `file_row_number`), sessions as CSV whose extra columns are named
to break out of the SQL they would be spliced into. The inputs that must be refused fail before
any model runs, so each costs only dbt's start.
"""

from __future__ import annotations

import csv
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from strata.cli import main

# one worker for the module: its tests share a module-scoped build
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("hostile_input")]

FIXTURE = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "raw"

# Column names a user's file might carry, meant or not to break the SQL around them.
# TARGET is where a successful injection would write a file.
HOSTILE_NAMES = [
    'a"b',
    "it's",
    "x; COPY (SELECT 'pwned') TO 'TARGET' (FORMAT csv); --",
    "\"); COPY (SELECT 1) TO 'TARGET'; --",
    "{{ exceptions.raise_compiler_error('jinja ran') }}",
    "{% do run_query(\"COPY (SELECT 1) TO 'TARGET'\") %}",
    "x" * 300,
    "semi;colon",
]


def run_cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def read_fixture(table: str) -> list[list[str]]:
    with (FIXTURE / f"{table}.csv").open(newline="") as handle:
        return list(csv.reader(handle))


def write_csv(path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)


def orders_as_parquet(folder: Path, extra: dict[str, str]) -> None:
    """The fixture's orders as Parquet (every column text), with extra constant columns."""
    extras = ", ".join(f"'{value}' as \"{name}\"" for name, value in extra.items())
    with duckdb.connect() as con:
        con.execute(
            f"copy (select *, {extras} from read_csv('{FIXTURE / 'orders.csv'}',"
            f" all_varchar = true)) to '{folder / 'orders.parquet'}' (format parquet)"
        )


@pytest.fixture(scope="module")
def odd_but_valid(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path, str]:
    root = tmp_path_factory.mktemp("odd")
    raw = root / "raw"
    raw.mkdir()
    target = root / "pwned.csv"
    orders_as_parquet(raw, {"filename": "not a file", "file_row_number": "-1"})
    sessions = read_fixture("sessions")
    names = [name.replace("TARGET", str(target)) for name in HOSTILE_NAMES]
    write_csv(raw / "sessions.csv", [sessions[0] + names] + [row + ["v"] * len(names)
                                                             for row in sessions[1:]])  # fmt: skip
    db = root / "warehouse.duckdb"
    code, output = run_cli("run", "--raw-dir", str(raw), "--db", str(db))
    return raw, db, target, output if code == 0 else f"exit {code}: {output}"


def test_hostile_column_names_never_reach_sql(odd_but_valid) -> None:
    _, db, target, output = odd_but_valid
    assert not output.startswith("exit"), output
    assert not target.exists()
    with duckdb.connect(str(db), read_only=True) as con:
        raw_columns = {
            row[0]
            for row in con.execute(
                "select column_name from information_schema.columns"
                " where table_schema = 'strata_raw' and table_name = 'sessions'"
            ).fetchall()
        }
        sessions = con.execute(
            "select raw_rows from marts.rpt_source_reconciliation where source_table = 'sessions'"
        ).fetchone()[0]
    assert not raw_columns & {name.replace("TARGET", str(target)) for name in HOSTILE_NAMES}
    assert sessions == len(read_fixture("sessions")) - 1


def test_columns_named_like_the_readers_own_are_data(odd_but_valid) -> None:
    """A Parquet column called `filename` or `file_row_number` is an extra column like any other:
    the rows still carry the real file and their real position in it."""
    raw, db, _, output = odd_but_valid
    assert not output.startswith("exit"), output
    with duckdb.connect(str(db), read_only=True) as con:
        files, first, last, rows = con.execute(
            "select count(distinct source_file), min(source_row), max(source_row), count(*)"
            " from staging.base_shop__orders"
        ).fetchone()
        rejected = con.execute(
            "select source_file from staging.stg_shop__orders_rejected limit 1"
        ).fetchone()[0]
    assert (files, first, last, rows) == (1, 1, rows, len(read_fixture("orders")) - 1)
    assert rejected == str(raw / "orders.parquet")


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        pytest.param(
            lambda raw: orders_as_parquet(raw, {"_strata_source_row": "999"}),
            "column '_strata_source_row' uses the prefix _strata",
            id="internal-name",
        ),
        pytest.param(
            lambda raw: write_csv(
                raw / "orders.csv",
                [[*read_fixture("orders")[0], "AMOUNT"]]
                + [[*row, "1"] for row in read_fixture("orders")[1:]],
            ),
            "columns 'amount' and 'AMOUNT' differ only in case",
            id="case-twins",
        ),
        pytest.param(
            lambda raw: write_csv(
                raw / "orders.csv",
                [[*read_fixture("orders")[0], "two\nlines"]]
                + [[*row, "1"] for row in read_fixture("orders")[1:]],
            ),
            "column 10 ('two lines') has a line break in its name",
            id="line-break",
        ),
    ],
)
def test_names_that_would_be_misread_are_refused(make, expected: str, tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    raw.mkdir()
    make(raw)
    write_csv(raw / "sessions.csv", read_fixture("sessions"))
    db = tmp_path / "w.duckdb"
    code, output = run_cli("run", "--raw-dir", str(raw), "--db", str(db))
    assert code == 1
    assert expected in output
    assert str(raw / "orders") in output


def test_a_list_typed_column_stops_the_build_naming_file_column_and_type(tmp_path: Path) -> None:
    """A Parquet `amount` that is a list of texts is not text: reading it as text would
    quarantine every order and publish a shop of prospects."""
    raw = tmp_path / "raw"
    raw.mkdir()
    with duckdb.connect() as con:
        con.execute(
            "copy (select 'o1' as order_id, 'u1' as user_id, '2025-01-01' as ordered_at,"
            " 'completed' as status, ['12.50'] as amount, 'USD' as currency)"
            f" to '{raw / 'orders.parquet'}' (format parquet)"
        )
    code, output = run_cli("run", "--raw-dir", str(raw), "--db", str(tmp_path / "w.duckdb"))
    assert code == 1
    assert f"file {raw / 'orders.parquet'}: column 'amount' has type VARCHAR[]" in output
    assert "nested type" in output
