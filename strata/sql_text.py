"""SQL text the wrapper writes into DuckDB statements: a value as a quoted string literal."""

from __future__ import annotations

from pathlib import Path


def literal(value: str | Path) -> str:
    """``value`` as a single-quoted SQL string literal, its quotes doubled."""
    return "'" + str(value).replace("'", "''") + "'"
