"""Row-for-row equality of two warehouses' marts, as pytests/test_season.py checks a published
copy against a fresh build: every table of the schema on both sides, EXCEPT ALL both ways. The
incremental tests (pytests/deliveries.py) use it too, leaving out bookkeeping columns."""

from __future__ import annotations

from pathlib import Path


def schema_differences(
    left: Path, right: Path, schema: str = "marts", ignore_columns: tuple[str, ...] = ()
) -> list[str]:
    """One line per table of `schema` that differs between the DuckDB files `left` (the
    incremental build) and `right` (a fresh build); empty when every table is equal. Columns
    named in `ignore_columns` (bookkeeping, such as when a row was written) are not compared."""
    import duckdb

    problems = []
    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as lhs (read_only)")
        con.execute(f"attach '{right}' as rhs (read_only)")

        def tables(catalog: str) -> set[str]:
            return {
                row[0]
                for row in con.execute(
                    "select table_name from information_schema.tables"
                    " where table_catalog = ? and table_schema = ?",
                    [catalog, schema],
                ).fetchall()
            }

        left_tables, right_tables = tables("lhs"), tables("rhs")
        if not left_tables and not right_tables:
            return [f"no tables in schema {schema} on either side"]
        if left_tables != right_tables:
            problems.append(
                f"tables differ: only incremental {sorted(left_tables - right_tables)}, "
                f"only fresh {sorted(right_tables - left_tables)}"
            )
        for table in sorted(left_tables & right_tables):
            problem = _table_difference(con, schema, table, ignore_columns)
            if problem:
                problems.append(problem)
    return problems


def _table_difference(con, schema: str, table: str, ignore_columns: tuple[str, ...]) -> str | None:
    """How one table differs between the attached warehouses `lhs` and `rhs`, or None."""
    import duckdb

    columns = [
        f'"{name}"'
        for (name,) in con.execute(
            "select column_name from information_schema.columns where table_catalog ="
            " 'lhs' and table_schema = ? and table_name = ? order by ordinal_position",
            [schema, table],
        ).fetchall()
        if name not in ignore_columns
    ]
    listed = ", ".join(columns)
    left_rows = f'select {listed} from lhs.{schema}."{table}"'
    right_rows = f'select {listed} from rhs.{schema}."{table}"'
    try:
        only_left, only_right = con.execute(
            f"select (select count(*) from ({left_rows} except all {right_rows})),"
            f" (select count(*) from ({right_rows} except all {left_rows}))"
        ).fetchone()
    except duckdb.Error as error:  # columns that differ in number or type
        return f"{table}: not comparable ({str(error).splitlines()[0]})"
    if only_left or only_right:
        return f"{table}: {only_left} rows only incremental, {only_right} only fresh"
    return None


# What an intraday run writes (docs/triggers.md): the base models it advances (bookkeeping aside:
# when a row was written) and the trigger tables; the trigger views are their SQL only.
TRIGGER_TABLES = (
    ("staging", "base_shop__orders"),
    ("staging", "base_shop__sessions"),
    ("triggers", "int_trigger_moment"),
    ("triggers", "int_trigger_events"),
    ("triggers", "fct_trigger_spells"),
    ("triggers", "fct_trigger_audience_members"),
)
# Whether M was given or found differs between a run that found it and a computation pinned to it.
TRIGGER_IGNORED = ("_loaded_at", "source_file_fingerprint", "is_trigger_as_of_given")


def trigger_differences(left: Path, right: Path) -> list[str]:
    """One line per table an intraday run writes that differs between the warehouse `left`
    (after intraday runs) and `right` (a fresh computation for the same moment)."""
    import duckdb

    with duckdb.connect() as con:
        con.execute(f"attach '{left}' as lhs (read_only)")
        con.execute(f"attach '{right}' as rhs (read_only)")
        found = [
            _table_difference(con, schema, table, TRIGGER_IGNORED)
            for schema, table in TRIGGER_TABLES
        ]
    return [f"{problem}" for problem in found if problem]
