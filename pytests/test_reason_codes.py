"""The reason codes in the seed, the SQL that emits them and the docs page agree."""

from __future__ import annotations

import csv
import re
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
BASE_MODELS = PROJECT / "models" / "staging" / "shop" / "base"


def seed_codes() -> dict[tuple[str, str], set[str]]:
    codes: dict[tuple[str, str], set[str]] = {}
    with (PROJECT / "seeds" / "reason_codes.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            key = (row["source_table"], row["row_disposition"])
            codes.setdefault(key, set()).add(row["reason_code"])
    return codes


def emitted_reject_codes(source: str) -> set[str]:
    """Codes in the reason_list([...]) call of the source's base model."""
    sql = (BASE_MODELS / f"base_shop__{source}.sql").read_text()
    block = sql[sql.index("reason_list([") : sql.index("]) }} as reject_reasons")]
    return set(re.findall(r"'([a-z_]+)'\),", block))


def test_every_quarantine_code_is_emitted_and_every_emitted_code_is_documented() -> None:
    codes = seed_codes()
    for source in ("orders", "sessions"):
        emitted = emitted_reject_codes(source)
        assert emitted, f"no reason codes found in base_shop__{source}.sql"
        assert emitted == codes[(source, "quarantined")]


def test_exclusion_codes_match_the_seed() -> None:
    codes = seed_codes()
    for source in ("orders", "sessions"):
        sql = (BASE_MODELS / f"base_shop__{source}.sql").read_text()
        exclusion = sql[sql.index("case\n") : sql.index("end as exclusion_reason")]
        assert set(re.findall(r"'([a-z_]+)'", exclusion)) == codes[(source, "excluded")]


def test_docs_page_lists_every_code() -> None:
    page = (PROJECT / "docs" / "data_quality.md").read_text()
    for (source, disposition), codes in seed_codes().items():
        for code in codes:
            assert f"| {source} | {disposition} | `{code}` |" in page
