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


def test_every_macro_is_documented_with_its_arguments() -> None:
    """Every `{% macro %}` (and generic `{% test %}`, which dbt names `test_<name>`) under macros/
    has an entry in the macros YAML of its own folder that lists exactly its arguments, in order."""
    import yaml

    def argument_names(text: str, start: int) -> list[str]:
        """The names in the argument list opening at text[start] == "(", read up to its closing
        parenthesis: split on the commas outside brackets and quotes (a default may be a list or
        a string), each name the part before any `=`."""
        parts, current, depth, quote = [], "", 0, ""
        for char in text[start + 1 :]:
            if quote:
                quote = "" if char == quote else quote
            elif char in "'\"":
                quote = char
            elif char in "([{":
                depth += 1
            elif char in ")]}" and depth:
                depth -= 1
            elif char == ")":
                break
            elif char == "," and depth == 0:
                parts.append(current)
                current = ""
                continue
            current += char
        parts.append(current)
        return [part.split("=")[0].strip() for part in parts if part.strip()]

    defined: dict[str, tuple[str, list[str]]] = {}
    opening = re.compile(r"\{%-?\s*(macro|test)\s+(\w+)\s*\(")
    for path in sorted((PROJECT / "macros").rglob("*.sql")):
        text = re.sub(r"\{#.*?#\}", "", path.read_text(), flags=re.DOTALL)
        for match in opening.finditer(text):
            name = ("test_" if match.group(1) == "test" else "") + match.group(2)
            assert name not in defined, f"{name} is defined twice"
            folder = str(path.parent.relative_to(PROJECT))
            defined[name] = (folder, argument_names(text, match.end() - 1))

    documented: dict[str, tuple[str, list[str]]] = {}
    for path in sorted((PROJECT / "macros").rglob("*.yml")):
        for entry in (yaml.safe_load(path.read_text()) or {}).get("macros") or []:
            name = entry["name"]
            assert entry.get("description"), f"{name} in {path.name} has no description"
            assert name not in documented, f"{name} is documented twice"
            arguments = entry.get("arguments") or []
            for argument in arguments:
                assert argument.get("type") and argument.get("description"), (
                    f"argument {argument['name']} of {name} needs a type and a description"
                )
            folder = str(path.parent.relative_to(PROJECT))
            documented[name] = (folder, [argument["name"] for argument in arguments])

    assert defined, "no macros found under macros/"
    problems = [f"{name}: not documented" for name in sorted(set(defined) - set(documented))]
    problems += [f"{name}: no such macro" for name in sorted(set(documented) - set(defined))]
    for name in sorted(set(defined) & set(documented)):
        (folder, arguments), (yaml_folder, yaml_arguments) = defined[name], documented[name]
        if yaml_folder != folder:
            problems.append(f"{name}: documented in {yaml_folder}, defined in {folder}")
        if yaml_arguments != arguments:
            problems.append(f"{name}: arguments {yaml_arguments} in YAML, {arguments} in SQL")
    assert not problems, "\n".join(problems)
