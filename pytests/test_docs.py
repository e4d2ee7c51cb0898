"""The pages people read say what the project does: the raw contract in the README matches the
one the build enforces (the sources YAML), and the data-quality page explains every reason code."""

from __future__ import annotations

import csv
import re
from pathlib import Path

from strata.preflight import SOURCES_YAML, raw_contract_tables

PROJECT = Path(__file__).resolve().parent.parent


def yaml_contract() -> dict[str, dict[str, tuple[bool, list[str]]]]:
    import yaml

    document = yaml.safe_load((PROJECT / SOURCES_YAML).read_text())
    contract: dict[str, dict[str, tuple[bool, list[str]]]] = {}
    for table in document["sources"][0]["tables"]:
        columns = {}
        for column in table.get("columns", []):
            meta = column.get("config", {}).get("meta", {}).get("strata_contract")
            if meta:
                columns[column["name"]] = (bool(meta["required"]), list(meta["types"]))
        if columns:
            contract[table["name"]] = columns
    return contract


def readme_contract() -> dict[str, dict[str, tuple[bool, list[str]]]]:
    """The README's contract tables: `| column | types | required | notes |` under the sentence
    that names each table."""
    text = (PROJECT / "README.md").read_text()
    section = text[text.index("### The raw data contract") : text.index("### Every row accounted")]
    tables: dict[str, dict[str, tuple[bool, list[str]]]] = {}
    current = None
    for line in section.splitlines():
        named = re.match(r"^`(\w+)` \((required|optional)\)", line)
        if named:
            current = named.group(1)
            tables[current] = {}
            continue
        row = re.match(r"^\| `(\w+)` \| ([^|]+) \| (yes|no) \|", line)
        if row and current:
            types = re.split(r",\s*|\s+or\s+", row.group(2).strip())
            tables[current][row.group(1)] = (row.group(3) == "yes", types)
    return tables


def test_the_readme_contract_is_the_enforced_contract() -> None:
    assert readme_contract() == yaml_contract()


def test_the_readme_says_which_tables_are_required() -> None:
    text = (PROJECT / "README.md").read_text()
    for table, required in raw_contract_tables(PROJECT).items():
        assert f"`{table}` ({'required' if required else 'optional'})" in text


def test_the_data_quality_page_explains_every_reason_code() -> None:
    page = (PROJECT / "docs" / "data_quality.md").read_text()
    with (PROJECT / "seeds" / "reason_codes.csv").open(newline="") as handle:
        for row in csv.DictReader(handle):
            line = f"| {row['source_table']} | {row['row_disposition']} | `{row['reason_code']}` |"
            assert line in page
