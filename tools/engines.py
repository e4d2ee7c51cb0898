"""Proof that Spark and DuckDB build the same warehouse: every table compared, row for row.

`make test-spark` builds the fixture data on both engines for the same as-of date and then runs

    python -m tools.engines --duckdb warehouse/engines.duckdb --spark-dir warehouse/spark

which exports each table of the compared schemas from the Spark build as Parquet, then compares
it in DuckDB with the DuckDB build's table of the same name: values are normalised where the two
engines represent the same thing differently (a decimal's scale, a double's last bits, a time
as an instant), and the rows that are in one build and not the other are counted with
`EXCEPT ALL` both ways. Any differing row, missing table or differing column list fails the
comparison. Nothing is collected into Python but a few example rows: DuckDB streams (and
spills) the comparison, so a build of a million users compares as well as the fixture
(`make bench`'s Spark row).

The local Spark build is read back through its Hive metastore (Derby) and warehouse folder, the
same ones the `spark` dbt target writes (env STRATA_SPARK_DIR, see profiles.yml).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import click
import duckdb

# Bookkeeping of the incremental tables (strata/incremental.py): not compared. Spark, which
# always builds in full, has none of their values to match.
from strata.incremental import BOOKKEEPING_COLUMNS
from strata.runs import read_runs
from strata.settings import load_settings

DEFAULT_SCHEMAS = ("reference", "staging", "intermediate", "marts", "triggers")
# Doubles are compared to this many significant digits: the engines sum and average in
# different orders, which moves the last bits and nothing else.
SIGNIFICANT_DIGITS = 9
# Rows shown per table when a comparison fails.
EXAMPLES = 5
INTEGER_TYPES = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
                 "UINTEGER", "UBIGINT", "UHUGEINT"}  # fmt: skip


@dataclass(frozen=True)
class Side:
    """One build's table as DuckDB reads it: its columns (name, DuckDB type) and a relation."""

    columns: list[tuple[str, str]]
    relation: str


def normalized(expression: str, kind: str) -> str:
    """SQL for a value in the form both engines' values are compared in: text tagged with its
    family (`n:` a number, `b:` a boolean, `t:` text), so that the text '5' never equals the
    number 5. Integers as they are; a double or decimal that is a whole number (below 2^53) as
    that integer, NaN as `NaN`, any other to SIGNIFICANT_DIGITS significant digits; a time as
    microseconds and a date as days since 1970-01-01, numbers (what the Spark export writes,
    since an instant in year 0 exists on both engines but not in every client)."""
    kind = kind.upper()
    if kind.startswith("TIMESTAMP"):
        expression, kind = f"epoch_us({expression})", "BIGINT"
    elif kind == "DATE":
        expression, kind = f"date_diff('day', date '1970-01-01', {expression})", "BIGINT"
    if kind in {"DOUBLE", "FLOAT", "REAL"} or kind.startswith("DECIMAL"):
        number = f"cast({expression} as double)"
        return (
            f"'n:' || case when isnan({number}) then 'NaN'"
            f" when abs({number}) < 9007199254740992 and {number} = trunc({number})"
            f" then cast(cast({number} as hugeint) as varchar)"
            f" else printf('%.{SIGNIFICANT_DIGITS}g', {number}) end"
        )
    family = "n" if kind in INTEGER_TYPES else "b" if kind == "BOOLEAN" else "t"
    return f"'{family}:' || cast({expression} as varchar)"


@dataclass
class TableComparison:
    schema: str
    table: str
    left_rows: int = 0
    right_rows: int = 0
    only_left_rows: int = 0
    only_right_rows: int = 0
    # a few of the differing rows, normalised, for the report
    only_left: list[tuple[object, ...]] = field(default_factory=list)
    only_right: list[tuple[object, ...]] = field(default_factory=list)
    problem: str | None = None
    note: str | None = None

    @property
    def differing_rows(self) -> int:
        return self.only_left_rows + self.only_right_rows

    @property
    def equal(self) -> bool:
        return self.problem is None and self.differing_rows == 0


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compare_sides(
    con: duckdb.DuckDBPyConnection,
    schema: str,
    table: str,
    left: Side | None,
    right: Side | None,
) -> TableComparison:
    """Compare one table of two builds (None: the table is missing), in DuckDB."""
    result = TableComparison(schema, table)
    if left is None or right is None:
        result.problem = f"missing on {'DuckDB' if left is None else 'Spark'}"
        return result
    left_columns = [c for c in left.columns if c[0].lower() not in BOOKKEEPING_COLUMNS]
    right_columns = [c for c in right.columns if c[0].lower() not in BOOKKEEPING_COLUMNS]
    left_names = [name.lower() for name, _ in left_columns]
    right_names = [name.lower() for name, _ in right_columns]
    if sorted(left_names) != sorted(right_names):
        result.problem = (
            f"columns differ: DuckDB {[name for name, _ in left_columns]}"
            f" / Spark {[name for name, _ in right_columns]}"
        )
        return result
    # Columns are matched by name: Spark stores a table's partition columns last.
    if right_names != left_names:
        result.note = "column order differs (Spark puts partition columns last)"
    by_name = {name.lower(): (name, kind) for name, kind in right_columns}
    matched = [by_name[name] for name in left_names]

    def select(columns: list[tuple[str, str]], relation: str) -> str:
        values = ", ".join(
            f"{normalized(_quoted(name), kind)} as c{index}"
            for index, (name, kind) in enumerate(columns)
        )
        return f"select {values} from {relation}"

    left_sql, right_sql = select(left_columns, left.relation), select(matched, right.relation)
    result.left_rows = con.execute(f"select count(*) from {left.relation}").fetchone()[0]
    result.right_rows = con.execute(f"select count(*) from {right.relation}").fetchone()[0]
    for first, second, attribute in ((left_sql, right_sql, "left"), (right_sql, left_sql, "right")):
        rows = con.execute(
            f"select *, count(*) over () from ({first} except all {second}) limit {EXAMPLES}"
        ).fetchall()
        setattr(result, f"only_{attribute}_rows", rows[0][-1] if rows else 0)
        setattr(result, f"only_{attribute}", [tuple(row[:-1]) for row in rows])
    return result


def duckdb_sides(con: duckdb.DuckDBPyConnection, catalog: str, schemas: Sequence[str]):
    """Every table and view of `schemas` in an attached DuckDB file: {(schema, table): Side}."""
    names = con.execute(
        "select table_schema, table_name from information_schema.tables"
        " where table_catalog = ? and table_schema in (select unnest(?))",
        [catalog, list(schemas)],
    ).fetchall()
    sides = {}
    for schema, table in names:
        columns = con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_catalog = ? and table_schema = ? and table_name = ?"
            " order by ordinal_position",
            [catalog, schema, table],
        ).fetchall()
        relation = f"{_quoted(catalog)}.{_quoted(schema)}.{_quoted(table)}"
        sides[(schema, table)] = Side([(name, kind) for name, kind in columns], relation)
    return sides


def parquet_sides(con: duckdb.DuckDBPyConnection, folder: Path) -> dict:
    """The tables an export wrote (export_spark): {(schema, table): Side} over their Parquet."""
    listing = json.loads((folder / "tables.json").read_text())
    sides = {}
    for entry in listing:
        parts = sorted((folder / entry["schema"] / entry["table"]).glob("*.parquet"))
        if parts:
            relation = f"read_parquet({[str(part) for part in parts]!r})"
            columns = con.execute(f"describe select * from {relation}").fetchall()
            sides[(entry["schema"], entry["table"])] = Side(
                [(row[0], row[1]) for row in columns], relation
            )
        else:  # an empty table: its columns, no rows
            columns = [(name, "VARCHAR") for name in entry["columns"]]
            values = ", ".join(f"cast(null as varchar) as {_quoted(name)}" for name, _ in columns)
            sides[(entry["schema"], entry["table"])] = Side(columns, f"(select {values} limit 0)")
    return sides


def compare_builds(con: duckdb.DuckDBPyConnection, left: dict, right: dict) -> list:
    # Spark's raw-file helper tables (strata_raw) are not compared: they are engine plumbing.
    return [
        compare_sides(con, schema, table, left.get((schema, table)), right.get((schema, table)))
        for schema, table in sorted(set(left) | set(right))
    ]


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


def export_spark(spark, schemas: Sequence[str], folder: Path) -> None:
    """Every table and view of `schemas` in the Spark catalog, written as Parquet into
    `folder`/<schema>/<table>/ (times and dates as integers, `_comparable`), with a list of
    them and their columns in `folder`/tables.json."""
    listing = []
    for schema in schemas:
        if not spark.catalog.databaseExists(schema):
            continue
        for table in spark.catalog.listTables(schema):
            if table.isTemporary:
                continue
            frame = spark.table(f"`{schema}`.`{table.name}`")
            frame = frame.select(*(_comparable(frame, field) for field in frame.schema.fields))
            frame.write.mode("overwrite").parquet(str(folder / schema / table.name))
            listing.append({"schema": schema, "table": table.name, "columns": frame.columns})
    (folder / "tables.json").write_text(json.dumps(listing))


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
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Also write the totals as JSON here (make bench's Spark row).",
)
@click.option(
    "--duckdb-results",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The DuckDB build's run_results.json: with --spark-db, also check that the Spark run "
    "built every model and seed and ran every data test of it, each once.",
)
@click.option(
    "--spark-db",
    type=click.Path(path_type=Path, dir_okay=False),
    help="The --db of the `strata run --target spark` compared (its run history is read).",
)
def main(
    duckdb_path: Path,
    spark_dir: Path,
    schemas: tuple[str, ...],
    out: Path | None,
    duckdb_results: Path | None,
    spark_db: Path | None,
) -> None:
    """Compare a DuckDB build of strata with a local Spark build, row for row."""
    schemas = tuple(name.strip() for value in schemas for name in value.split(",") if name.strip())
    if duckdb_results and spark_db:
        problems = node_count_differences(duckdb_results, spark_db)
        for problem in problems:
            click.echo(f"strata: {problem}", err=True)
        if problems:
            sys.exit(1)
        click.echo("nodes: the Spark run built and tested what the DuckDB build did, each once")
    if not duckdb_path.is_file():
        click.echo(f"strata: no DuckDB build at {duckdb_path}", err=True)
        sys.exit(2)
    if not (spark_dir / "metastore_db").is_dir():
        click.echo(f"strata: no Spark build at {spark_dir} (no metastore_db)", err=True)
        sys.exit(2)
    started = time.monotonic()
    results = compare(duckdb_path, spark_dir, schemas)
    agreed = report(results)
    if out:
        out.write_text(
            json.dumps(
                {
                    "tables": len(results),
                    "rows": sum(result.left_rows for result in results),
                    "differing_rows": sum(result.differing_rows for result in results),
                    "structural": sum(1 for result in results if result.problem),
                    "seconds": round(time.monotonic() - started, 1),
                }
            )
        )
    sys.exit(0 if agreed else 1)


def node_count_differences(duckdb_results: Path, spark_db: Path) -> list[str]:
    """The Spark run builds in two steps around the predictions (strata/spark_predictions.py),
    the second leaving out what the first built: it must still build every model and seed and
    run every data test the DuckDB build did, none twice. Compared by count, from the DuckDB
    build's run_results.json (unit tests aside: `strata run` does not run them) and the Spark
    run's record in its history. Returns what differs."""
    results = json.loads(duckdb_results.read_text())["results"]

    def counted(kinds: tuple[str, ...], statuses: tuple[str, ...]) -> int:
        return sum(
            1
            for result in results
            if result["unique_id"].split(".")[0] in kinds and result["status"] in statuses
        )

    runs = read_runs(load_settings(db_path=str(spark_db)).history_file)
    if not runs:
        return [f"no run recorded for {spark_db}"]
    spark = runs[-1]
    pairs = [
        ("models and seeds built", counted(("model", "seed"), ("success",)), spark.models_passed),
        (
            "data tests passed or warned",
            counted(("test",), ("pass", "warn")),
            spark.tests_passed + spark.tests_warned,
        ),
    ]
    return [
        f"{what}: {on_duckdb} on DuckDB, {on_spark} on Spark"
        for what, on_duckdb, on_spark in pairs
        if on_duckdb != on_spark
    ]


def compare(duckdb_path: Path, spark_dir: Path, schemas: Sequence[str]) -> list[TableComparison]:
    """Export the Spark build's tables as Parquet beside it, then compare them in DuckDB."""
    export = Path(tempfile.mkdtemp(prefix="compare-", dir=spark_dir))
    try:
        spark = spark_session(spark_dir)
        try:
            export_spark(spark, schemas, export)
        finally:
            spark.stop()
        con = duckdb.connect()
        try:
            # Attached under its own name: dbt-duckdb's views name their catalog (the file's
            # stem), so another alias would leave them unreadable.
            con.execute(f"attach '{duckdb_path}' (read_only)")
            catalog = duckdb_path.stem
            return compare_builds(
                con, duckdb_sides(con, catalog, schemas), parquet_sides(con, export)
            )
        finally:
            con.close()
    finally:
        shutil.rmtree(export, ignore_errors=True)


if __name__ == "__main__":
    main(prog_name="python -m tools.engines")
