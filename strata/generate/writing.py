"""Writing: the blocks' rows as text columns, appended to one Parquet or CSV file per table.

Every column is written as text, in Parquet as in CSV, as a raw landing zone keeps it, so that a
bad value can be there at all. DuckDB formats the text (order-preserving, whatever its number of
threads) and pyarrow writes it: Parquet through one `ParquetWriter` (each block adds its own row
groups), CSV through one `CSVWriter` that quotes every text value (RFC 4180), so a blank id reads
back as blank text and an empty field as null. Files are written beside their destination and
moved into place only once every block is written, so a failed run leaves the previous files whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from strata.generate.dirt import (
    O_BAD_AMOUNT,
    O_BAD_TIME,
    O_BAD_UPDATED,
    O_BLANK_ID,
    O_BLANK_USER,
    O_CURRENCY,
    O_EARLY,
    O_EARLY_UPDATED,
    O_MESSY_STATUS,
    O_MISSING_AMOUNT,
    O_MISSING_TIME,
    O_NULL_ID,
    O_NULL_USER,
    O_UNKNOWN_STATUS,
    S_BAD_CART,
    S_BAD_END,
    S_BAD_PAGE_VIEWS,
    S_BAD_TIME,
    S_BLANK_ID,
    S_EARLY,
    S_EARLY_END,
    S_MISSING_TIME,
    S_NEGATIVE_PAGE_VIEWS,
    S_NULL_ID,
)
from strata.generate.model import (
    CITIES,
    CURRENCIES,
    EMAIL_DOMAINS,
    FIRST_NAMES,
    INTERNAL_USERS,
    LAST_NAMES,
    OFFSETS,
    PLATFORM_TEXTS,
    STATUSES,
    STREETS,
    STYLE_NAIVE,
    STYLE_Z,
    USER_AGENTS,
    Columns,
)

FORMATS: tuple[str, ...] = ("parquet", "csv")
ORDER_COLUMNS: tuple[str, ...] = (
    "order_id",
    "user_id",
    "ordered_at",
    "status",
    "amount",
    "currency",
    "updated_at",
    "customer_email",
    "shipping_address",
)
SESSION_COLUMNS: tuple[str, ...] = (
    "session_id",
    "user_id",
    "started_at",
    "ended_at",
    "platform",
    "page_views",
    "added_to_cart",
    "ip_address",
    "user_agent",
)
# Rows per Arrow batch fetched from DuckDB (and so the most rows in one Parquet row group).
_BATCH_ROWS = 1 << 20

_BLANKS = (" ", "  ", "   ")
_UNKNOWN_STATUSES = ("shipped", "on hold", "processing", "returned", "payment_failed")
_UNKNOWN_CURRENCIES = ("XXX", "ABC", "US$", "EURO", "RMB")
_BAD_CART_TEXTS = ("maybe", "unknown", "n/a", "2", "yes please")
# Placeholder times before 1980 (var min_event_date), as a source system writes its default.
_EARLY_TEXTS = (
    "0001-01-01T00:00:00Z",
    "1970-01-01 00:00:00",
    "1970-01-01T00:00:00Z",
    "0001-01-01 00:00:00",
)


def connect() -> duckdb.DuckDBPyConnection:
    """A private in-memory DuckDB; row order is preserved whatever the number of threads."""
    con = duckdb.connect(":memory:")
    con.execute("set preserve_insertion_order = true")
    con.execute("set TimeZone = 'UTC'")
    con.execute("set enable_progress_bar = false")  # a block's query can take seconds
    return con


def _sql_list(values: tuple[str, ...]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def _padded_id(prefix: str, width: int) -> str:
    """`prefix` and the row id with leading zeros to `width` digits (never cut when longer)."""
    return f"'{prefix}' || lpad(id::varchar, greatest({width}, length(id::varchar))::integer, '0')"


def install_macros(con: duckdb.DuckDBPyConnection, n_users: int) -> None:
    """Macros that spell timestamps, user ids and missing values; `n_users` regular users."""
    suffixes = tuple(
        f"{'-' if m < 0 else '+'}{abs(int(m)) // 60:02d}:{abs(int(m)) % 60:02d}" for m in OFFSETS
    )
    offsets = "[" + ", ".join(str(int(m)) for m in OFFSETS) + "]"
    width = len(str(n_users))
    con.execute(f"""
        create or replace macro ts_text(secs, tz, style) as
            case
                when secs is null then null
                when style = {STYLE_Z}
                    then strftime(make_timestamp(secs * 1000000), '%Y-%m-%dT%H:%M:%SZ')
                when style = {STYLE_NAIVE}
                    then strftime(make_timestamp(secs * 1000000), '%Y-%m-%d %H:%M:%S')
                else strftime(
                    make_timestamp((secs + {offsets}[tz + 1] * 60) * 1000000),
                    '%Y-%m-%dT%H:%M:%S'
                ) || {_sql_list(suffixes)}[tz + 1]
            end
    """)
    con.execute("""
        create or replace macro bad_ts(secs, variant) as
            case variant % 5
                when 0 then 'not a date'
                when 1 then strftime(make_timestamp(secs * 1000000), '%d/%m/%Y')
                when 2 then strftime(make_timestamp(secs * 1000000), '%Y-02-30 %H:%M:%S')
                when 3 then 'N/A'
                else strftime(make_timestamp(secs * 1000000), '%Y-%m-%dT25:%M:%S')
            end
    """)
    con.execute(f"""
        create or replace macro user_text(u) as
            case
                when u < 0 then null
                when u >= {n_users} then {_sql_list(INTERNAL_USERS)}[u - {n_users} + 1]
                else 'u' || lpad((u + 1)::varchar, {width}, '0')
            end
    """)
    con.execute(f"create or replace macro blank(variant) as {_sql_list(_BLANKS)}[variant % 3 + 1]")
    con.execute(f"""
        create or replace macro early_ts(variant) as
            {_sql_list(_EARLY_TEXTS)}[variant % {len(_EARLY_TEXTS)} + 1]
    """)
    # a missing value arrives as null or as blank text
    con.execute("""
        create or replace macro missing(variant) as
            case when variant % 2 = 0 then null else blank(variant // 2) end
    """)


def orders_sql(id_width: int) -> str:
    """The text columns of `orders`, in order, from the block's columns registered as `src`."""
    statuses = _sql_list(STATUSES)
    currencies = _sql_list(CURRENCIES)
    return f"""
        select
            case kind
                when {O_NULL_ID} then null
                when {O_BLANK_ID} then blank(variant)
                else {_padded_id("o", id_width)}
            end as order_id,
            case kind
                when {O_NULL_USER} then null
                when {O_BLANK_USER} then blank(variant)
                else user_text("user")
            end as user_id,
            case kind
                when {O_MISSING_TIME} then missing(variant)
                when {O_BAD_TIME} then bad_ts(t, variant)
                when {O_EARLY} then early_ts(variant)
                else ts_text(t, tz, style)
            end as ordered_at,
            case kind
                when {O_UNKNOWN_STATUS}
                    then {_sql_list(_UNKNOWN_STATUSES)}[variant % {len(_UNKNOWN_STATUSES)} + 1]
                when {O_MESSY_STATUS} then (
                    case variant % 4
                        when 0 then upper({statuses}[status + 1])
                        when 1 then ' ' || upper({statuses}[status + 1][1])
                            || {statuses}[status + 1][2:] || ' '
                        when 2 then {statuses}[status + 1] || ' '
                        else upper({statuses}[status + 1][1]) || {statuses}[status + 1][2:]
                    end
                )
                else {statuses}[status + 1]
            end as status,
            case kind
                when {O_MISSING_AMOUNT} then missing(variant)
                when {O_BAD_AMOUNT} then (
                    case variant % 4
                        when 0 then replace(amount::varchar, '.', ',')
                        when 1 then '$' || amount::varchar
                        when 2 then 'N/A'
                        else amount::varchar || ' ' || {currencies}[currency + 1]
                    end
                )
                else amount::varchar
            end as amount,
            case kind
                when {O_CURRENCY} then
                    {_sql_list(_UNKNOWN_CURRENCIES)}[variant % {len(_UNKNOWN_CURRENCIES)} + 1]
                else {currencies}[currency + 1]
            end as currency,
            case kind
                when {O_BAD_UPDATED} then bad_ts(updated, variant)
                when {O_EARLY_UPDATED} then early_ts(variant)
                else ts_text(case when updated_null then null else updated end, tz, style)
            end as updated_at,
            {_sql_list(FIRST_NAMES)}[first_name + 1] || '.'
                || replace({_sql_list(LAST_NAMES)}[last_name + 1], '''', '')
                || email_no::varchar || '@' || {_sql_list(EMAIL_DOMAINS)}[domain + 1]
                as customer_email,
            house_no::varchar || ' ' || {_sql_list(STREETS)}[street + 1] || ', '
                || {_sql_list(CITIES)}[city + 1] as shipping_address
        from src
    """


def sessions_sql(id_width: int) -> str:
    """The text columns of `sessions`, in order, from the block's columns registered as `src`."""
    return f"""
        select
            case kind
                when {S_NULL_ID} then null
                when {S_BLANK_ID} then blank(variant)
                else {_padded_id("s", id_width)}
            end as session_id,
            user_text("user") as user_id,
            case kind
                when {S_MISSING_TIME} then missing(variant)
                when {S_BAD_TIME} then bad_ts(start, variant)
                when {S_EARLY} then early_ts(variant)
                else ts_text(start, tz, style)
            end as started_at,
            case kind
                when {S_BAD_END} then bad_ts(start + duration, variant)
                -- a placeholder start has no end, or the same placeholder as its end
                when {S_EARLY} then (
                    case when variant // {len(_EARLY_TEXTS)} % 2 = 0 then null
                        else early_ts(variant) end
                )
                when {S_EARLY_END} then early_ts(variant)
                else ts_text(case when ended_null then null else start + duration end, tz, style)
            end as ended_at,
            {_sql_list(PLATFORM_TEXTS)}[platform + 1] as platform,
            case
                when kind = {S_NEGATIVE_PAGE_VIEWS} then '-' || greatest(page_views, 1)::varchar
                when kind = {S_BAD_PAGE_VIEWS} then (
                    case variant % 4
                        when 0 then 'many'
                        when 1 then greatest(page_views, 1)::varchar || '.5x'
                        when 2 then greatest(page_views, 1)::varchar || ' pages'
                        else 'n/a'
                    end
                )
                when page_views < 0 then null
                else page_views::varchar
            end as page_views,
            case
                when kind = {S_BAD_CART}
                    then {_sql_list(_BAD_CART_TEXTS)}[variant % {len(_BAD_CART_TEXTS)} + 1]
                when cart = 1 then 'true'
                when cart = 0 then 'false'
            end as added_to_cart,
            (ip >> 24)::varchar || '.' || ((ip >> 16) & 255)::varchar || '.'
                || ((ip >> 8) & 255)::varchar || '.' || (ip & 255)::varchar as ip_address,
            {_sql_list(USER_AGENTS)}[user_agent + 1] as user_agent
        from src
    """


def _decimal_cents(cents: np.ndarray) -> pa.Array:
    """int64 cents as an Arrow decimal(18, 2) array, exactly."""
    words = np.empty((len(cents), 2), dtype=np.int64)
    words[:, 0] = cents
    words[:, 1] = cents >> 63  # sign extension into the high 64 bits
    return pa.Array.from_buffers(
        pa.decimal128(18, 2), len(cents), [None, pa.py_buffer(words.tobytes())]
    )


class BlockWriter:
    """Appends blocks of rows to `orders.<fmt>` and `sessions.<fmt>` in `out_dir`, then moves the
    finished files (and any side files) into place with `commit`; leaving the `with` block
    without committing removes the partial files."""

    def __init__(self, out_dir: Path, fmt: str, n_users: int) -> None:
        self.paths = {name: out_dir / f"{name}.{fmt}" for name in ("orders", "sessions")}
        self._tmp = {
            name: path.with_name(f".{path.name}.{os.getpid()}.tmp")
            for name, path in self.paths.items()
        }
        self._con: duckdb.DuckDBPyConnection | None = connect()
        self._writers: dict[str, pq.ParquetWriter | pacsv.CSVWriter] = {}
        self._schemas: dict[str, pa.Schema] = {}
        try:
            self._open(fmt, n_users)
        except BaseException:
            self.__exit__(None, None, None)
            raise

    def _open(self, fmt: str, n_users: int) -> None:
        assert self._con is not None
        install_macros(self._con, n_users)
        for name, columns in (("orders", ORDER_COLUMNS), ("sessions", SESSION_COLUMNS)):
            # every column as Arrow `string`, whichever text type DuckDB hands over
            schema = pa.schema([pa.field(column, pa.string()) for column in columns])
            self._schemas[name] = schema
            if fmt == "parquet":
                self._writers[name] = pq.ParquetWriter(
                    self._tmp[name], schema, compression="snappy"
                )
            else:
                self._writers[name] = pacsv.CSVWriter(
                    self._tmp[name], schema, write_options=pacsv.WriteOptions(delimiter=",")
                )

    def __enter__(self) -> BlockWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self._close()
        for tmp in self._tmp.values():
            tmp.unlink(missing_ok=True)

    def write(self, orders: Columns, sessions: Columns, widths: tuple[int, int]) -> None:
        """Append one block: its orders and sessions, with ids padded to (order, session) widths."""
        self._append("orders", orders_sql(widths[0]), orders)
        self._append("sessions", sessions_sql(widths[1]), sessions)

    def commit(self, side_files: dict[str, str | None]) -> None:
        """Finish the files and move them into place, with each side file (name -> text) beside
        them; a side file given as None is removed, so no stale one describes new data."""
        self._close()
        folder = self.paths["orders"].parent
        for name, text in side_files.items():
            if text is not None:
                self.paths[name] = folder / name
                self._tmp[name] = folder / f".{name}.{os.getpid()}.tmp"
                self._tmp[name].write_text(text, encoding="utf-8")
        for name, tmp in self._tmp.items():
            os.replace(tmp, self.paths[name])
        for name, text in side_files.items():
            if text is None:
                (folder / name).unlink(missing_ok=True)

    def _close(self) -> None:
        for writer in self._writers.values():
            writer.close()
        self._writers.clear()
        if self._con is not None:
            self._con.close()
            self._con = None

    def _append(self, name: str, sql: str, columns: Columns) -> None:
        """Format the block's rows with DuckDB and stream them, in order, into the open file."""
        table = pa.table({column: v for column, v in columns.items() if column != "cents"})
        if "cents" in columns:
            table = table.append_column("amount", _decimal_cents(columns["cents"]))
        writer, con = self._writers[name], self._con
        assert con is not None, "the files are already committed"
        con.register("src", table)
        try:
            reader = con.execute(sql).to_arrow_reader(_BATCH_ROWS)
            schema = self._schemas[name]
            if reader.schema.names != schema.names:
                raise RuntimeError(f"{name}: the query gives {reader.schema.names}")
            for batch in reader:
                if batch.num_rows:
                    writer.write_batch(batch.cast(schema))
        finally:
            con.unregister("src")
