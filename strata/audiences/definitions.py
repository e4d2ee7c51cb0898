"""Audience definitions: read from `audiences/*.yml`, checked, compiled into dbt var `audiences`.

A marketer writes each audience in YAML (docs/audiences.md); this module is the compiler's front
end. It reads every file with the line of every value, checks each definition against what the
warehouse has (the columns of `dim_users` and their types, from the mart's contract; the
behaviour metrics; the other audiences; the list files; the models tagged `audience`) and
returns the definitions in the plain form the dbt macros compile into SQL
(macros/audiences/). A bad definition raises `DefinitionError` naming the file, the line and
what is wrong, before dbt is started, so nothing is built or published.

Values reach SQL only as literals: names and columns must be identifiers the catalogue knows,
operators come from a fixed list, numbers must be numbers, and text that tries to be SQL or
Jinja (a quote-breaking `;`, a comment, `{{ }}`) is refused rather than quoted.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

DIM_USERS_YAML = Path("models") / "marts" / "segments" / "_segments__models.yml"
RFM_SEGMENT_MAP = Path("seeds") / "rfm_segment_map.csv"

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Text that tries to be SQL or Jinja: no value a dim_users column holds contains these.
LOOKS_LIKE_CODE = re.compile(r"(\{\{|\{%|\{#|%\}|\}\}|#\}|;|--|/\*|\*/)")

# Operators a marketer writes, and their SQL. `between` takes [low, high]; `in`/`not_in` a list;
# `is_set` true/false (not null / null).
COMPARISONS = {
    "equals": "=",
    "not_equals": "<>",
    "above": ">",
    "at_least": ">=",
    "below": "<",
    "at_most": "<=",
}
OPERATORS = (*COMPARISONS, "between", "in", "not_in", "is_set")
ORDERED_OPERATORS = {"above", "at_least", "below", "at_most", "between"}

# Behaviour over the last N days ending on the evaluation day, from int_user_days_aggregated.
BEHAVIOUR_METRICS = {
    "purchases": "purchase orders (refunded and cancelled orders excluded)",
    "orders": "orders of any status",
    "revenue": "revenue of the purchases, in the reporting currency",
    "average_order_value": "revenue / purchases (null without purchases)",
    "sessions": "sessions",
    "active_days": "days with a session or an order",
    "page_views": "page views",
    "session_minutes": "minutes spent in sessions",
}
MAX_WINDOW_DAYS = 3650

# dim_users columns known as of every past evaluation day too (the audience history of
# int_audience_states): the stage from fct_user_lifecycle_history, the RFM columns from
# fct_user_rfm_snapshots, the platform from the sessions. Every other column is known as of D
# only: an audience reading one is evaluated on D alone (docs/audiences.md, "History").
HISTORICAL_COLUMNS = (
    "lifecycle_stage",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_segment",
    "rfm_class",
    "value_tier",
    "monetary_decile",
    "last_platform",
)

KINDS = ("rule", "list", "combine", "model", "trigger")
COMMON_KEYS = {"name", "owner", "description", "attributes", "goal", "measure_from"}
GOALS = ("purchase", "return_to_activity")


class DefinitionError(Exception):
    """One or more definitions are wrong; each problem names its file and line."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("\n".join(problems))


@dataclass(frozen=True)
class Column:
    name: str
    family: str  # text, number, date, boolean
    values: tuple[Any, ...] | None = None  # the accepted values, when the contract lists them


@dataclass
class Audience:
    name: str
    kind: str
    owner: str
    description: str
    attributes: list[str]
    goal: str
    source: str  # file:line
    spec: Any  # the rule tree, the list file, the combination tree or the model name
    has_history: bool = True
    text: str = ""  # the definition in words (the `reason` of every member)
    measure_from: str | None = None  # entries before this day are not measured (none was sent)
    depends_on: list[str] = field(default_factory=list)

    def as_var(self) -> dict[str, Any]:
        """The plain form the dbt macros read (var `audiences`). No value is null: `dbt retry`
        reads the failed build's vars back from run_results.json, and a null did not come back as
        a null (found at 10M users: every retry of a build stopped on `dim_audiences`, "value
        None is not a date literal"); the macros read an absent `measure_from` as none."""
        plain = {
            "name": self.name,
            "kind": self.kind,
            "owner": self.owner,
            "description": self.description,
            "attributes": self.attributes,
            "goal": self.goal,
            "source": self.source,
            "has_history": self.has_history,
            "text": self.text,
            "spec": self.spec,
        }
        if self.measure_from is not None:
            plain["measure_from"] = self.measure_from
        return plain


# ---- reading YAML with lines --------------------------------------------------------------------


class _Located:
    """A YAML value with the file line it starts on (1-based)."""

    __slots__ = ("line", "value")

    def __init__(self, value: Any, line: int):
        self.value = value
        self.line = line


def _plain(node: yaml.Node, where: str) -> _Located:
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        result: dict[str, _Located] = {}
        for key_node, value_node in node.value:
            key = _plain(key_node, where)
            if not isinstance(key.value, str):
                raise DefinitionError(
                    [f"{where}:{key.line}: keys must be words, got {key.value!r}"]
                )
            if key.value in result:
                raise DefinitionError([f"{where}:{key.line}: '{key.value}' is given twice"])
            result[key.value] = _plain(value_node, where)
        return _Located(result, line)
    if isinstance(node, yaml.SequenceNode):
        return _Located([_plain(item, where) for item in node.value], line)
    if node.tag not in {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:timestamp",
    }:
        raise DefinitionError([f"{where}:{line}: unsupported YAML tag {node.tag}"])
    try:
        value = yaml.SafeLoader("").construct_object(node)
    except (ValueError, yaml.YAMLError) as error:
        raise DefinitionError(
            [f"{where}:{line}: {node.value!r} is not a valid value ({error})"]
        ) from error
    return _Located(value, line)


def _read_file(path: Path, shown: str) -> _Located | None:
    try:
        node = yaml.compose(path.read_text(encoding="utf-8"), Loader=yaml.SafeLoader)
    except UnicodeDecodeError as error:
        raise DefinitionError([f"{shown}: not UTF-8 text ({error.reason})"]) from error
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        line = mark.line + 1 if mark else 1
        raise DefinitionError([f"{shown}:{line}: not valid YAML: {error.problem}"]) from error
    return None if node is None else _plain(node, shown)


# ---- the catalogue ------------------------------------------------------------------------------


def _family(data_type: str) -> str:
    data_type = data_type.lower()
    if data_type in {"string", "varchar", "text"}:
        return "text"
    if data_type == "boolean":
        return "boolean"
    if data_type == "date":
        return "date"
    if data_type.startswith("timestamp"):
        return "timestamp"
    return "number"


def catalogue(project_dir: Path) -> dict[str, Column]:
    """The columns a rule may read: dim_users' contract (name, type, accepted values)."""
    document = yaml.safe_load((project_dir / DIM_USERS_YAML).read_text())
    model = next(m for m in document["models"] if m["name"] == "dim_users")
    segments = [
        row["rfm_segment"] for row in csv.DictReader((project_dir / RFM_SEGMENT_MAP).open())
    ]
    columns: dict[str, Column] = {}
    for column in model["columns"]:
        values = None
        for test in column.get("data_tests") or []:
            if isinstance(test, dict) and "accepted_values" in test:
                values = tuple(test["accepted_values"]["arguments"]["values"])
        if column["name"] == "rfm_segment":
            values = (*dict.fromkeys(segments), "lapsed", "prospect")
        columns[column["name"]] = Column(column["name"], _family(column["data_type"]), values)
    return columns


def audience_models(project_dir: Path) -> set[str]:
    """Models tagged `audience` (config(tags=[...]) in the SQL, or the folder models/audiences)."""
    found = set()
    for path in (project_dir / "models").rglob("*.sql"):
        text = path.read_text(encoding="utf-8")
        if "audiences" in path.relative_to(project_dir / "models").parts[:-1] or re.search(
            r"tags\s*=\s*\[[^\]]*['\"]audience['\"]", text
        ):
            found.add(path.stem)
    return found


def trigger_names(project_dir: Path) -> set[str]:
    """The triggers an audience of kind `trigger` may name: models/triggers/trg_<name>.sql."""
    return {
        path.stem[len("trg_") :] for path in (project_dir / "models" / "triggers").glob("trg_*.sql")
    }


# ---- checking -----------------------------------------------------------------------------------


class _Checker:
    def __init__(self, shown: str, columns: Mapping[str, Column], problems: list[str]):
        self.shown = shown
        self.columns = columns
        self.problems = problems
        self.historical = True
        self.behaviours: set[tuple[str, int]] = set()

    def fail(self, line: int, message: str) -> None:
        self.problems.append(f"{self.shown}:{line}: {message}")

    def text(self, item: _Located, what: str, pattern: re.Pattern | None = None) -> str | None:
        if not isinstance(item.value, str) or not item.value.strip():
            self.fail(item.line, f"{what} must be text, got {item.value!r}")
            return None
        if LOOKS_LIKE_CODE.search(item.value):
            self.fail(item.line, f"{what} {item.value!r} looks like SQL or Jinja, which is refused")
            return None
        if pattern is not None and not pattern.match(item.value):
            self.fail(
                item.line,
                f"{what} {item.value!r} must be lower-case letters, digits and _ "
                "(starting with a letter)",
            )
            return None
        return item.value

    # A condition: {column: C, <op>: V} | {behaviour: M, days: N, <op>: V} | {all|any: [...]} |
    # {not: condition}. Returns the plain tree or None.
    def condition(self, item: _Located, leaf: str = "column") -> Any:
        if not isinstance(item.value, dict):
            self.fail(item.line, f"a condition must be a mapping, got {item.value!r}")
            return None
        keys = set(item.value)
        for group in ("all", "any"):
            if group in keys:
                if keys != {group}:
                    self.fail(
                        item.line, f"'{group}' stands alone in its mapping, found {sorted(keys)}"
                    )
                    return None
                parts = item.value[group]
                if not isinstance(parts.value, list) or not parts.value:
                    self.fail(parts.line, f"'{group}' needs a list of at least one condition")
                    return None
                children = [self.condition(part, leaf) for part in parts.value]
                if None in children:
                    return None
                node = {group: children}
                node["text"] = _words(node)
                return node
        if "not" in keys:
            if keys != {"not"}:
                self.fail(item.line, f"'not' stands alone in its mapping, found {sorted(keys)}")
                return None
            child = self.condition(item.value["not"], leaf)
            if child is None:
                return None
            node = {"not": child}
            node["text"] = _words(node)
            return node
        if leaf == "audience":
            if keys != {"audience"}:
                self.fail(
                    item.line,
                    "a combination's parts are {audience: NAME}, all, any or not; "
                    f"found {sorted(keys)}",
                )
                return None
            name = self.text(item.value["audience"], "audience", NAME)
            return None if name is None else {"audience": name, "text": name}
        return self.term(item)

    def term(self, item: _Located) -> Any:
        values = item.value
        operators = [key for key in values if key in OPERATORS]
        if "column" in values:
            subject_keys = {"column"}
        elif "behaviour" in values:
            subject_keys = {"behaviour", "days"}
        else:
            self.fail(
                item.line,
                "a condition names a `column` of dim_users or a `behaviour` (with `days`), "
                f"or groups others with all/any/not; found {sorted(values)}",
            )
            return None
        unknown = set(values) - subject_keys - set(OPERATORS)
        if unknown:
            self.fail(
                item.line, f"unknown key(s) {sorted(unknown)} (operators: {', '.join(OPERATORS)})"
            )
            return None
        if len(operators) != 1:
            self.fail(
                item.line, f"a condition needs exactly one operator of {', '.join(OPERATORS)}"
            )
            return None
        op = operators[0]
        if "column" in values:
            name = self.text(values["column"], "column")
            if name is None:
                return None
            column = self.columns.get(name)
            if column is None:
                self.fail(
                    values["column"].line, f"unknown column '{name}': dim_users has no such column"
                )
                return None
            if name not in HISTORICAL_COLUMNS:
                self.historical = False
            family, subject = column.family, {"column": name}
            accepted = column.values
        else:
            metric = self.text(values["behaviour"], "behaviour")
            if metric is None:
                return None
            if metric not in BEHAVIOUR_METRICS:
                self.fail(
                    values["behaviour"].line,
                    f"unknown behaviour '{metric}' (known: {', '.join(BEHAVIOUR_METRICS)})",
                )
                return None
            if "days" not in values:
                self.fail(item.line, f"behaviour '{metric}' needs `days`, the window's length")
                return None
            days = values["days"]
            if (
                not isinstance(days.value, int)
                or isinstance(days.value, bool)
                or not 1 <= days.value <= MAX_WINDOW_DAYS
            ):
                self.fail(
                    days.line,
                    f"days must be a whole number from 1 to {MAX_WINDOW_DAYS}, got {days.value!r}",
                )
                return None
            self.behaviours.add((metric, days.value))
            family, subject, accepted = "number", {"behaviour": metric, "days": days.value}, None
        value = self.value(values[op], op, family, accepted, subject)
        if value is _BAD:
            return None
        node = {**subject, "op": op, "value": value, "family": family}
        node["text"] = _words(node)
        return node

    def value(self, item: _Located, op: str, family: str, accepted, subject) -> Any:
        what = subject.get("column") or f"behaviour {subject['behaviour']}"
        if op == "is_set":
            if not isinstance(item.value, bool):
                self.fail(item.line, f"is_set takes true or false, got {item.value!r}")
                return _BAD
            return item.value
        if op in ORDERED_OPERATORS and family in {"text", "boolean"}:
            self.fail(item.line, f"'{op}' compares numbers or dates, and {what} is {family}")
            return _BAD
        if op in {"in", "not_in", "between"}:
            if not isinstance(item.value, list) or not item.value:
                self.fail(item.line, f"'{op}' takes a list of values")
                return _BAD
            if op == "between" and len(item.value) != 2:
                self.fail(item.line, "'between' takes two values: [low, high]")
                return _BAD
            results = [self.scalar(part, family, accepted, what) for part in item.value]
            return _BAD if _BAD in results else results
        return self.scalar(item, family, accepted, what)

    def scalar(self, item: _Located, family: str, accepted, what: str) -> Any:
        value = item.value
        if family == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                self.fail(item.line, f"{what} is a number; {value!r} is not")
                return _BAD
            if value != value or value in (float("inf"), float("-inf")):
                self.fail(item.line, f"{what}: {value!r} is not a finite number")
                return _BAD
        elif family == "boolean":
            if not isinstance(value, bool):
                self.fail(item.line, f"{what} is true or false; {value!r} is not")
                return _BAD
        elif family in {"date", "timestamp"}:
            if isinstance(value, date):
                return value.isoformat()[:10]
            if not (isinstance(value, str) and re.match(r"^\d{4}-\d{2}-\d{2}$", value)):
                self.fail(item.line, f"{what} is a date (YYYY-MM-DD); {value!r} is not")
                return _BAD
            try:
                date.fromisoformat(value)
            except ValueError:
                self.fail(item.line, f"{what}: {value!r} is not a real date")
                return _BAD
        else:
            if not isinstance(value, str):
                self.fail(item.line, f"{what} is text; {value!r} is not (quote it)")
                return _BAD
            if LOOKS_LIKE_CODE.search(value):
                self.fail(item.line, f"value {value!r} looks like SQL or Jinja, which is refused")
                return _BAD
        if accepted is not None and value not in accepted:
            self.fail(
                item.line,
                f"{what} is never {value!r}; its values are {', '.join(str(v) for v in accepted)}",
            )
            return _BAD
        return value


_BAD = object()


def _words(tree: Any) -> str:
    """A rule or a combination in words: what `reason` says about every member."""
    if "all" in tree or "any" in tree:
        joiner = " and " if "all" in tree else " or "
        parts = [_words(part) for part in tree.get("all") or tree.get("any")]
        text = joiner.join(
            f"({part})" if (" and " in part or " or " in part) else part for part in parts
        )
        return text
    if "not" in tree:
        inner = _words(tree["not"])
        return f"not ({inner})" if " " in inner else f"not {inner}"
    if "audience" in tree:
        return tree["audience"]
    subject = tree.get("column") or f"{tree['behaviour']} in {tree['days']}d"
    op, value = tree["op"], tree["value"]
    if op == "is_set":
        return f"{subject} is {'set' if value else 'not set'}"
    shown = (
        ", ".join(_literal_words(v) for v in value)
        if isinstance(value, list)
        else _literal_words(value)
    )
    symbol = COMPARISONS.get(op)
    if symbol:
        return f"{subject} {symbol} {shown}"
    if op == "between":
        return f"{subject} between {_literal_words(value[0])} and {_literal_words(value[1])}"
    return f"{subject} {'in' if op == 'in' else 'not in'} ({shown})"


def _literal_words(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def _audience_names(tree: Any) -> list[str]:
    if "audience" in tree:
        return [tree["audience"]]
    if "not" in tree:
        return _audience_names(tree["not"])
    return [name for part in tree.get("all") or tree.get("any") for name in _audience_names(part)]


def _check_list_file(
    raw_dir: Path | None, relative: str, shown: str, line: int, problems: list[str]
) -> None:
    where = f"{shown}:{line}"
    if raw_dir is None:
        problems.append(
            f"{where}: a list audience reads a file in the raw folder; no raw folder given"
        )
        return
    if (
        Path(relative).is_absolute()
        or ".." in Path(relative).parts
        or not relative.endswith(".csv")
    ):
        problems.append(f"{where}: list {relative!r} must be a .csv path inside the raw folder")
        return
    path = raw_dir / relative
    if not path.is_file():
        problems.append(f"{where}: list file {path} does not exist")
        return
    try:
        # utf-8-sig: a byte-order mark (Excel's "CSV UTF-8") is not part of the first name,
        # as the build's CSV reader drops it too; the name must be exactly user_id, as there
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or "user_id" not in header:
                problems.append(
                    f"{where}: list file {path}, line 1: needs a column named exactly user_id, "
                    f"found {header}"
                )
                return
            position = header.index("user_id")
            ids = 0
            for number, row in enumerate(reader, start=2):
                if not row:
                    continue
                value = row[position].strip() if position < len(row) else ""
                if not value:
                    problems.append(f"{where}: list file {path}, line {number}: user_id is empty")
                    return
                ids += 1
    except UnicodeDecodeError as error:
        problems.append(f"{where}: list file {path} is not UTF-8 ({error.reason})")
        return
    except csv.Error as error:
        problems.append(f"{where}: list file {path}: {error}")
        return
    if ids == 0:
        problems.append(f"{where}: list file {path} is empty: it has a header but no user ids")


def load(folder: Path, project_dir: Path, raw_dir: Path | None = None) -> list[Audience]:
    """Every audience of `folder/*.yml`, checked, in an order where each combination comes after
    the audiences it reads. Raises DefinitionError listing every problem found."""
    columns = catalogue(project_dir)
    models = audience_models(project_dir)
    triggers = trigger_names(project_dir)
    problems: list[str] = []
    audiences: list[Audience] = []
    lines: dict[str, str] = {}
    files = sorted(folder.glob("*.yml")) + sorted(folder.glob("*.yaml")) if folder.is_dir() else []
    for path in files:
        shown = (
            str(path.relative_to(project_dir)) if path.is_relative_to(project_dir) else str(path)
        )
        try:
            document = _read_file(path, shown)
        except DefinitionError as error:
            problems += error.problems
            continue
        if document is None:
            continue
        if not isinstance(document.value, dict) or set(document.value) - {"version", "audiences"}:
            problems.append(
                f"{shown}:{document.line}: a file holds `audiences:`, a list of definitions"
            )
            continue
        entries = document.value.get("audiences")
        if entries is None or not isinstance(entries.value, list):
            problems.append(f"{shown}:{document.line}: `audiences:` must be a list of definitions")
            continue
        for entry in entries.value:
            audience = _one(entry, shown, columns, models, raw_dir, problems, triggers)
            if audience is None:
                continue
            if audience.name in lines:
                problems.append(
                    f"{audience.source}: audience '{audience.name}' is already defined at "
                    f"{lines[audience.name]}"
                )
                continue
            lines[audience.name] = audience.source
            audiences.append(audience)
    ordered = _order(audiences, problems)
    if problems:
        raise DefinitionError(problems)
    return ordered


def _one(
    entry: _Located, shown: str, columns, models, raw_dir, problems, triggers=frozenset()
) -> Audience | None:
    if not isinstance(entry.value, dict):
        problems.append(f"{shown}:{entry.line}: each audience is a mapping with a name")
        return None
    checker = _Checker(shown, columns, problems)
    before = len(problems)
    values = entry.value
    kinds = [kind for kind in KINDS if kind in values]
    unknown = set(values) - COMMON_KEYS - set(KINDS)
    if unknown:
        checker.fail(
            entry.line,
            f"unknown key(s) {sorted(unknown)}: an audience has "
            f"{', '.join(sorted(COMMON_KEYS))} and one of {', '.join(KINDS)}",
        )
    for key in ("name", "owner", "description"):
        if key not in values:
            checker.fail(entry.line, f"an audience needs a {key}")
    if len(kinds) != 1:
        checker.fail(
            entry.line,
            f"an audience has exactly one of {', '.join(KINDS)}; found {kinds or 'none'}",
        )
    if len(problems) > before:
        return None
    name = checker.text(values["name"], "name", NAME)
    owner = checker.text(values["owner"], "owner")
    description = checker.text(values["description"], "description")
    attributes: list[str] = []
    if "attributes" in values:
        listed = values["attributes"]
        if not isinstance(listed.value, list):
            checker.fail(listed.line, "attributes is a list of dim_users columns")
        else:
            for item in listed.value:
                column = checker.text(item, "attribute", NAME)
                if column is not None and column not in columns:
                    checker.fail(
                        item.line, f"unknown attribute '{column}': dim_users has no such column"
                    )
                elif column in {"user_id", "entered_at"}:
                    checker.fail(item.line, f"attribute '{column}' is always exported")
                elif column is not None:
                    attributes.append(column)
    goal = "purchase"
    if "goal" in values:
        goal = checker.text(values["goal"], "goal")
        if goal is not None and goal not in GOALS:
            checker.fail(values["goal"].line, f"goal is one of {', '.join(GOALS)}, got {goal!r}")
    measure_from = None
    if "measure_from" in values:
        measure_from = checker.scalar(values["measure_from"], "date", None, "measure_from")
        measure_from = None if measure_from is _BAD else measure_from
    kind = kinds[0]
    body = values[kind]
    spec: Any = None
    depends: list[str] = []
    history = True
    if kind == "rule":
        spec = checker.condition(body)
        history = checker.historical
    elif kind == "combine":
        spec = checker.condition(body, leaf="audience")
        depends = _audience_names(spec) if spec else []
    elif kind == "list":
        relative = checker.text(body, "list")
        if relative is not None:
            _check_list_file(raw_dir, relative, shown, body.line, problems)
            spec = relative
    elif kind == "trigger":
        trigger = checker.text(body, "trigger", NAME)
        if trigger is not None and trigger not in triggers:
            checker.fail(
                body.line,
                f"unknown trigger '{trigger}': one of {', '.join(sorted(triggers))} "
                "(models/triggers, docs/triggers.md)",
            )
        spec = trigger
        history = False
    else:
        model = checker.text(body, "model", NAME)
        if model is not None and model not in models:
            checker.fail(
                body.line, f"model '{model}' is not a model tagged `audience` (models/audiences/)"
            )
        spec = model
        history = False
    if len(problems) > before:
        return None
    text = {
        "rule": lambda: _words(spec),
        "combine": lambda: _words(spec),
        "list": lambda: f"on list {spec}",
        "model": lambda: f"chosen by model {spec}",
        "trigger": lambda: f"in trigger {spec} now",
    }[kind]()
    return Audience(
        name=name,
        kind=kind,
        owner=owner,
        description=description,
        attributes=attributes,
        goal=goal,
        source=f"{shown}:{values['name'].line}",
        spec=spec,
        has_history=history,
        text=text,
        depends_on=depends,
        measure_from=measure_from,
    )


def _order(audiences: list[Audience], problems: list[str]) -> list[Audience]:
    """Each combination after what it reads; unknown names and cycles are problems."""
    by_name = {audience.name: audience for audience in audiences}
    for audience in audiences:
        for name in audience.depends_on:
            if name in by_name and by_name[name].kind == "trigger":
                problems.append(
                    f"{audience.source}: combination '{audience.name}' reads trigger audience "
                    f"'{name}', which changes within the day; the daily audiences cannot combine "
                    "it (docs/triggers.md)"
                )
            elif name not in by_name:
                problems.append(
                    f"{audience.source}: combination '{audience.name}' reads unknown "
                    f"audience '{name}'"
                )
    ordered: list[Audience] = []
    state: dict[str, str] = {}

    def visit(audience: Audience, path: list[str]) -> None:
        if state.get(audience.name) == "done":
            return
        if state.get(audience.name) == "visiting":
            cycle = [*path[path.index(audience.name) :], audience.name]
            problems.append(f"{audience.source}: combinations form a cycle: {' -> '.join(cycle)}")
            return
        state[audience.name] = "visiting"
        for name in audience.depends_on:
            if name in by_name:
                visit(by_name[name], [*path, audience.name])
        state[audience.name] = "done"
        ordered.append(audience)

    for audience in audiences:
        visit(audience, [])
    # A combination has history only when everything it reads has.
    for audience in ordered:
        if audience.kind == "combine":
            audience.has_history = all(
                by_name[n].has_history for n in audience.depends_on if n in by_name
            )
    return ordered


def as_vars(audiences: Iterable[Audience]) -> dict[str, Any]:
    """dbt var `audiences`: the checked definitions, in dependency order."""
    return {"audiences": [audience.as_var() for audience in audiences]}


def vars_for(folder: Path, project_dir: Path, raw_dir: Path | None) -> dict[str, Any]:
    """var audiences for the definitions of `folder`, as `strata run` passes it to dbt."""
    return as_vars(load(folder, project_dir, raw_dir))


def fingerprint(audiences: Iterable[Audience]) -> str:
    """A short hash of the definitions, recorded with each run and publication."""
    import hashlib

    text = json.dumps([a.as_var() for a in audiences], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:12]
