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
                problems.append(f"{table}: not comparable ({str(error).splitlines()[0]})")
                continue
            if only_left or only_right:
                problems.append(
                    f"{table}: {only_left} rows only incremental, {only_right} only fresh"
                )
    return problems
