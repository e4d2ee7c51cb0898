"""Proof that Spark and DuckDB build the same warehouse: every table compared, row for row.

`make test-spark` builds the fixture data on both engines for the same as-of date and then runs

    python -m tools.engines --duckdb warehouse/engines.duckdb --spark-dir warehouse/spark

which reads each table of the compared schemas from both builds, normalises values that the two
engines represent differently without meaning anything different (a decimal's scale, a double's
last bits, a Spark Row against a DuckDB tuple), and counts the rows that are in one build and not
the other. Any differing row, missing table or differing column list fails the comparison.

The local Spark build is read back through its Hive metastore (Derby) and warehouse folder, the
same ones the `spark` dbt target writes (env STRATA_SPARK_DIR, see profiles.yml).
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import click
import duckdb

# Bookkeeping of the incremental tables (strata/incremental.py): not compared. Spark, which
# always builds in full, has none of their values to match.
from strata.incremental import BOOKKEEPING_COLUMNS

DEFAULT_SCHEMAS = ("reference", "staging", "intermediate", "marts", "triggers")
# Doubles are compared to this many significant digits: the engines sum and average in
# different orders, which moves the last bits and nothing else.
SIGNIFICANT_DIGITS = 9
# Rows shown per table when a comparison fails.
EXAMPLES = 5


def normalize_value(value: object) -> object:
    """A value in the form both engines' values are compared in."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, Decimal | float):
        number = float(value)
        if number != number:  # NaN equals nothing, itself included
            return "NaN"
        if number.is_integer() and abs(number) < 2**53:
            return int(number)
        return float(f"{number:.{SIGNIFICANT_DIGITS}g}")
    if isinstance(value, dt.datetime):
        # Both builds hold UTC instants without a zone; an aware value is brought to UTC.
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value
    return value


def normalize_rows(rows: Iterable[Sequence[object]]) -> Counter[tuple[object, ...]]:
    """The rows as a multiset: row order is not part of a table's meaning."""
    return Counter(tuple(normalize_value(value) for value in row) for row in rows)


@dataclass
class TableComparison:
    schema: str
    table: str
    left_rows: int = 0
    right_rows: int = 0
    only_left: list[tuple[object, ...]] = field(default_factory=list)
    only_right: list[tuple[object, ...]] = field(default_factory=list)
    problem: str | None = None
    note: str | None = None

    @property
    def differing_rows(self) -> int:
        return len(self.only_left) + len(self.only_right)

    @property
    def equal(self) -> bool:
        return self.problem is None and self.differing_rows == 0


def _without_bookkeeping(
    columns: list[str], rows: list[Sequence[object]]
) -> tuple[list[str], list[Sequence[object]]]:
    kept = [index for index, name in enumerate(columns) if name.lower() not in BOOKKEEPING_COLUMNS]
    if len(kept) == len(columns):
        return columns, rows
    return [columns[index] for index in kept], [[row[index] for index in kept] for row in rows]


def compare_table(
    schema: str,
    table: str,
    left: tuple[list[str], list[Sequence[object]]] | None,
    right: tuple[list[str], list[Sequence[object]]] | None,
) -> TableComparison:
    """Compare one table's (columns, rows) from two builds; None means the table is missing."""
    result = TableComparison(schema, table)
    if left is None or right is None:
        result.problem = f"missing on {'DuckDB' if left is None else 'Spark'}"
        return result
    left_columns, left_rows = _without_bookkeeping(*left)
    right_columns, right_rows = _without_bookkeeping(*right)
    result.left_rows, result.right_rows = len(left_rows), len(right_rows)
    left_names = [column.lower() for column in left_columns]
    right_names = [column.lower() for column in right_columns]
    if sorted(left_names) != sorted(right_names):
        result.problem = f"columns differ: DuckDB {left_columns} / Spark {right_columns}"
        return result
    # Columns are matched by name: Spark stores a table's partition columns last.
    if right_names != left_names:
        result.note = "column order differs (Spark puts partition columns last)"
        order = [right_names.index(name) for name in left_names]
        right_rows = [[row[index] for index in order] for row in right_rows]
    left_set, right_set = normalize_rows(left_rows), normalize_rows(right_rows)
    result.only_left = sorted((left_set - right_set).elements(), key=repr)
    result.only_right = sorted((right_set - left_set).elements(), key=repr)
    return result


def read_duckdb(path: Path, schemas: Sequence[str]) -> dict[tuple[str, str], tuple]:
    """Every table and view of `schemas` in a DuckDB file: {(schema, table): (columns, rows)}."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = con.execute(
            "select table_schema, table_name from information_schema.tables"
            " where table_schema in (select unnest(?))",
            [list(schemas)],
        ).fetchall()
        tables = {}
        for schema, table in names:
            types = con.execute(
                "select column_name, data_type from information_schema.columns"
                " where table_schema = ? and table_name = ? order by ordinal_position",
                [schema, table],
            ).fetchall()
            listed = ", ".join(
                (
                    f'epoch_us("{name}") as "{name}"'
                    if kind.startswith("TIMESTAMP")
                    else f"date_diff('day', date '1970-01-01', \"{name}\") as \"{name}\""
                    if kind == "DATE"
                    else f'"{name}"'
                )
                for name, kind in types
            )
            cursor = con.execute(f'select {listed} from "{schema}"."{table}"')
            columns = [description[0] for description in cursor.description]
            tables[(schema, table)] = (columns, cursor.fetchall())
        return tables
    finally:
        con.close()


def spark_session(spark_dir: Path):
    """A local Spark session on the metastore and warehouse the `spark` dbt target wrote."""
    # Spark hands timestamps to Python in the process's zone: make that zone UTC.
    os.environ["TZ"] = "UTC"
    time.tzset()
    from pyspark.sql import SparkSession

    spark_dir = spark_dir.resolve()
    return (
        SparkSession.builder.master("local[2]")
        .appName("strata-engine-comparison")
        .enableHiveSupport()
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.sql.warehouse.dir", str(spark_dir / "tables"))
        .config(
            "spark.hadoop.javax.jdo.option.ConnectionURL",
            f"jdbc:derby:;databaseName={spark_dir / 'metastore_db'};create=false",
        )
        .config(
            "spark.driver.extraJavaOptions",
            f"-Dderby.stream.error.file={spark_dir / 'derby.log'}"
            " -Dlog4j2.configurationFile=spark/log4j2.properties",
        )
        .config("spark.ui.enabled", "false")
        .getOrCreate()
    )


def _comparable(frame, field):
    """A Spark column as compared: times and dates as integers (microseconds and days since
    1970-01-01, as read_duckdb() reads them), since Python's datetime cannot hold every instant
    either engine can (a time in year 0, from an ancient raw value moved to UTC)."""
    from pyspark.sql import functions
    from pyspark.sql.types import DateType, TimestampNTZType, TimestampType

    column = frame[f"`{field.name}`"]
    if isinstance(field.dataType, TimestampType | TimestampNTZType):
        return functions.unix_micros(column.cast("timestamp")).alias(field.name)
    if isinstance(field.dataType, DateType):
        return functions.unix_date(column).alias(field.name)
    return column


def read_spark(spark, schemas: Sequence[str]) -> dict[tuple[str, str], tuple]:
    """Every table and view of `schemas` in the Spark catalog, keyed like read_duckdb()."""
    tables = {}
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:
                continue
            frame = spark.table(f"`{schema}`.`{table.name}`")
            frame = frame.select(*(_comparable(frame, field) for field in frame.schema.fields))
            tables[(schema, table.name)] = (frame.columns, [tuple(row) for row in frame.collect()])
    return tables


def compare_builds(
    left: dict[tuple[str, str], tuple], right: dict[tuple[str, str], tuple]
) -> list[TableComparison]:
    # Spark's raw-file helper tables (strata_raw) are not compared: they are engine plumbing.
    names = sorted(set(left) | set(right))
    return [
        compare_table(schema, table, left.get((schema, table)), right.get((schema, table)))
        for schema, table in names
    ]


def report(results: list[TableComparison], out=None) -> bool:
    """Print one line per table and the differing rows; True when every table agrees."""
    out = out or sys.stdout
    width = max((len(f"{r.schema}.{r.table}") for r in results), default=10)
    print(
        f"{'table':<{width}}  {'duckdb rows':>11}  {'spark rows':>10}  {'differing':>9}", file=out
    )
    for result in results:
        name = f"{result.schema}.{result.table}"
        line = (
            f"{name:<{width}}  {result.left_rows:>11}  {result.right_rows:>10}  "
            f"{result.differing_rows:>9}"
        )
        remark = result.problem or result.note
        print(line + (f"  {remark}" if remark else ""), file=out)
    failed = [result for result in results if not result.equal]
    for result in failed:
        for label, rows in (
            ("only on DuckDB", result.only_left),
            ("only on Spark", result.only_right),
        ):
            for row in rows[:EXAMPLES]:
                print(f"  {result.schema}.{result.table} {label}: {row}", file=out)
    total = sum(result.differing_rows for result in results)
    compared = sum(result.left_rows for result in results)
    print(
        f"{len(results)} tables, {compared} rows compared: {total} differing rows, "
        f"{sum(1 for r in results if r.problem)} tables with a structural difference",
        file=out,
    )
    return not failed


@click.command(
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.option(
    "--duckdb",
    "duckdb_path",
    type=click.Path(path_type=Path),
    required=True,
    help="The DuckDB warehouse file.",
)
@click.option(
    "--spark-dir",
    type=click.Path(path_type=Path),
    envvar="STRATA_SPARK_DIR",
    default=Path("warehouse/spark"),
    help="The local Spark build's folder [$STRATA_SPARK_DIR or warehouse/spark].",
)
@click.option(
    "--schemas",
    multiple=True,
    default=(",".join(DEFAULT_SCHEMAS),),
    show_default=True,
    help="Schemas to compare, comma-separated (or the option repeated).",
)
def main(duckdb_path: Path, spark_dir: Path, schemas: tuple[str, ...]) -> None:
    """Compare a DuckDB build of strata with a local Spark build, row for row."""
    schemas = tuple(name.strip() for value in schemas for name in value.split(",") if name.strip())
    if not duckdb_path.is_file():
        click.echo(f"strata: no DuckDB build at {duckdb_path}", err=True)
        sys.exit(2)
    if not (spark_dir / "metastore_db").is_dir():
        click.echo(f"strata: no Spark build at {spark_dir} (no metastore_db)", err=True)
        sys.exit(2)
    duckdb_tables = read_duckdb(duckdb_path, schemas)
    spark = spark_session(spark_dir)
    try:
        spark_tables = read_spark(spark, schemas)
    finally:
        spark.stop()
    sys.exit(0 if report(compare_builds(duckdb_tables, spark_tables)) else 1)


if __name__ == "__main__":
    main(prog_name="python -m tools.engines")
