"""The rules of a delivery folder (docs/scheduling.md, "Deliveries"), each a defect found by an
attack on deliveries (issue #23), each checked against a fresh build where it matters:

* a Parquet file rewritten with the same size, second and footer statistics is noticed;
* a file larger than DuckDB's memory limit is fingerprinted within it (issue #27);
* a folder name such as `currency=USD/` never rewrites a column, and a `loaded_at=` folder added
  later changes nothing;
* a file that is not a Parquet part, inside a delivery folder, is refused by name;
* a folder reached through a symbolic link is refused by name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import duckdb
import pytest
from builds import build, rows, table
from click.testing import CliRunner
from conftest import FIXTURE_RAW

from strata import dbt_runner
from strata.cli import main
from strata.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("delivery_edges")]

SELECT = "+dim_users"
# Two completed USD orders whose amounts have the same width, after the swap.
SWAPPED = {"o001": "30.00", "o027": "25.00"}


def write_orders_part(path: Path) -> None:
    """The fixture's orders as one Parquet part, every column text, uncompressed (so that the
    amounts can be swapped in place below)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with duckdb.connect() as con:
        con.execute(
            f"copy (select * from read_csv('{FIXTURE_RAW / 'orders.csv'}', all_varchar = true))"
            f" to '{path}' (format parquet, compression uncompressed)"
        )


def swap_amounts_in_place(path: Path) -> None:
    """Swap the amounts 25.00 and 30.00 (orders o001 and o027, each the only one with its amount)
    in the file's bytes: the dictionary entries trade places, so the size, the column statistics
    (minimum, maximum, counts) and, restored below, the modification time stay what they were."""
    data = bytearray(path.read_bytes())
    first, second = (len(value).to_bytes(4, "little") + value for value in (b"25.00", b"30.00"))
    assert data.count(first) == data.count(second) == 1
    at_first, at_second = data.index(first), data.index(second)
    data[at_first : at_first + len(first)] = second
    data[at_second : at_second + len(second)] = first
    path.write_bytes(bytes(data))


def run_cli(raw: Path, db: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["run", "--raw-dir", str(raw), "--db", str(db)])
    return result.exit_code, result.output


@pytest.fixture
def raw(tmp_path: Path) -> Path:
    folder = tmp_path / "raw"
    folder.mkdir()
    shutil.copy(FIXTURE_RAW / "sessions.csv", folder / "sessions.csv")
    return folder


def test_rewritten_parquet_and_hive_named_folders_equal_a_fresh_build(
    raw: Path, tmp_path: Path
) -> None:
    part = raw / "orders" / "currency=USD" / "part-0.parquet"
    write_orders_part(part)
    warehouse = build(raw, tmp_path / "incremental", SELECT)
    # the folder name is a path, never a column: every order keeps the currency it was sent in
    sent = rows(
        warehouse, "select order_id, original_currency from staging.stg_shop__order_versions"
    )
    assert {currency for _, currency in sent} > {"USD"}

    # Day two: the same part rewritten with two amounts swapped (same size, same second, same
    # footer statistics), and a later delivery in a `loaded_at=` folder.
    before = part.stat()
    swap_amounts_in_place(part)
    assert part.stat().st_size == before.st_size
    os.utime(part, ns=(before.st_atime_ns, before.st_mtime_ns))
    later = raw / "orders" / "loaded_at=2025-06-04" / "part-0.parquet"
    later.parent.mkdir()
    with duckdb.connect() as con:  # one new order
        con.execute(
            f"copy (select * replace ('o990' as order_id) from read_parquet('{part}') limit 1)"
            f" to '{later}' (format parquet)"
        )

    incremental = build(raw, tmp_path / "incremental", SELECT)
    fresh = build(raw, tmp_path / "fresh", SELECT)
    amounts = dict(
        rows(
            incremental,
            "select order_id, cast(original_amount as varchar) from staging.stg_shop__orders"
            " where order_id in ('o001', 'o027')",
        )
    )
    assert amounts == SWAPPED
    for name, order in (
        ("marts.dim_users", "user_id"),
        ("staging.stg_shop__order_versions", "order_id, version_rank"),
    ):
        assert table(incremental, name, order) == table(fresh, name, order), name


def test_a_csv_part_in_a_delivery_folder_is_refused_by_name(raw: Path, tmp_path: Path) -> None:
    write_orders_part(raw / "orders" / "loaded_at=2025-06-01" / "part-0.parquet")
    stray = raw / "orders" / "loaded_at=2025-06-02" / "part-0.csv"
    stray.parent.mkdir()
    shutil.copy(FIXTURE_RAW / "orders.csv", stray)
    (raw / "orders" / "_SUCCESS").write_text("")  # a writer's marker is let be
    db = tmp_path / "warehouse.duckdb"
    code, output = run_cli(raw, db)
    assert code == 2, output
    assert f"file {stray} is in the delivery folder" in output and "not a Parquet part" in output
    assert not db.exists()  # refused before dbt started

    # a plain dbt build is refused by the hook, naming the file too
    settings = load_settings(db_path=str(tmp_path / "dbt" / "warehouse.duckdb"))
    result = dbt_runner.run_dbt(
        settings, ["run", "--select", "stg_shop__orders"], env={"STRATA_RAW_DIR": str(raw)}
    )
    assert not result.ok
    assert any(str(stray) in line and "not a Parquet part" in line for line in result.errors)


def test_a_symlinked_delivery_folder_is_refused_by_name(raw: Path, tmp_path: Path) -> None:
    write_orders_part(raw / "orders" / "loaded_at=2025-06-01" / "part-0.parquet")
    elsewhere = tmp_path / "elsewhere"
    write_orders_part(elsewhere / "part-0.parquet")
    link = raw / "orders" / "loaded_at=2025-06-02"
    link.symlink_to(elsewhere, target_is_directory=True)
    db = tmp_path / "warehouse.duckdb"
    code, output = run_cli(raw, db)
    assert code == 2, output
    assert f"folder {link} is a symbolic link" in output
    assert not db.exists()


def test_a_broken_new_delivery_is_refused_though_the_history_is_clean(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clean shop's history, published; then a delivery whose every row is broken (amounts
    written `3350,00`, times as epoch seconds, some of them dated D). Its 45 rows are under 5% of
    the whole history, which the whole-history guard judges; the new delivery and the day D are
    judged on their own and the run is refused, naming both."""
    monkeypatch.delenv("STRATA_DBT_VARS")  # the real guards, not the fixture's relaxed one
    raw = tmp_path / "raw"
    made = CliRunner().invoke(
        main, ["generate", "--users", "1500", "--seed", "5", "--end-date", "2026-06-29",
               "--dirty-share", "0", "--out", str(tmp_path / "generated")],
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    for name in ("orders", "sessions"):
        (raw / name / "loaded_at=2026-06-29").mkdir(parents=True)
        shutil.move(
            tmp_path / "generated" / f"{name}.parquet",
            raw / name / "loaded_at=2026-06-29" / "part-0.parquet",
        )
    db = tmp_path / "warehouse" / "warehouse.duckdb"
    first = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw), "--db", str(db), "--as-of", "2026-06-29"]
    )
    assert first.exit_code == 0, first.output

    broken = raw / "orders" / "loaded_at=2026-06-30" / "part-0.parquet"
    broken.parent.mkdir()
    with duckdb.connect() as con:
        history = raw / "orders" / "loaded_at=2026-06-29" / "part-0.parquet"
        con.execute(
            f"copy (select * replace ('o-broken-' || row_number() over () as order_id,"
            " '3350,00' as amount, case when row_number() over () <= 25"
            " then '2026-06-30T10:00:00Z' else '1782813600' end as ordered_at)"
            f" from read_parquet('{history}') limit 45) to '{broken}' (format parquet)"
        )
    second = CliRunner().invoke(
        main, ["run", "--raw-dir", str(raw), "--db", str(db), "--as-of", "2026-06-30"]
    )
    assert second.exit_code == 1, second.output
    assert "quarantined share of new rows for orders is 1" in second.output
    assert "the new delivery: 45 raw rows" in second.output
    assert "the day 2026-06-30: 25 raw rows" in second.output
    # the whole history stayed under its own threshold: only the new guard refused
    assert "quarantined share for orders" not in second.output


def test_a_file_larger_than_the_memory_limit_is_fingerprinted(raw: Path, tmp_path: Path) -> None:
    """Issue #27: a delivery's fingerprint read the whole file as one value, so the 10M bench's
    3.63 GB sessions file stopped the build under a 3 GB limit. Here a 160 MB file (as one value
    DuckDB asks for 256 MiB) against a 100 MB limit: its rows are digested within the limit, and
    the digest is the one its rows give."""
    (raw / "sessions.csv").unlink()
    big = raw / "sessions.parquet"
    shutil.copy(FIXTURE_RAW / "orders.csv", raw / "orders.csv")
    with duckdb.connect() as con:
        con.execute(
            "copy (select repeat(md5(cast(i as varchar)), 4) as session_id,"
            " 'u' || (i % 1000) as user_id, '2025-01-01T00:00:00Z' as started_at"
            f" from range(1200000) as t(i)) to '{big}' (format parquet, compression uncompressed)"
        )
    assert big.stat().st_size > 150_000_000
    settings = load_settings(db_path=str(tmp_path / "warehouse.duckdb"))
    result = dbt_runner.run_dbt(
        settings,
        ["run-operation", "register_raw_sources"],
        env={"STRATA_RAW_DIR": str(raw), "STRATA_MEMORY_LIMIT": "100MB"},
    )
    assert result.ok, "\n".join(result.errors)
    with duckdb.connect(str(settings.db)) as con:
        con.execute("set memory_limit = '100MB'")
        with pytest.raises(duckdb.OutOfMemoryException):  # what the fingerprint used to do
            con.execute(f"select hash(content) from read_blob('{big}')").fetchall()
        ((fingerprint,),) = con.execute(
            "select file_fingerprint from strata_raw.sessions__files"
        ).fetchall()
        expected = con.execute(
            "select cast(sum(hash(session_id, user_id, started_at, cast(null as varchar),"
            " cast(null as varchar), cast(null as varchar), cast(null as varchar),"
            f" file_row_number + 1)) as varchar) from read_parquet('{big}', file_row_number = true)"
        ).fetchone()[0]
    assert fingerprint.split("|")[0] == str(big.stat().st_size)
    assert fingerprint.split("|")[-1] == expected
