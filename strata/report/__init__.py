"""The run report: one self-contained ``report.html`` built from the published marts.

``build_report(serving_db, out)`` reads the serving DuckDB file (read-only), aggregates in SQL,
draws the charts with Vega-Lite (through Altair) and writes a single HTML file that opens from
disk or an e-mail attachment with no server and no network: every script, style and figure is
inlined. See docs/report.md for what it shows and how it is checked.

    from strata.report import build_report
    result = build_report(Path("serving/strata.duckdb"), Path("serving/report.html"))
    print(result.path, result.bytes, result.seconds, result.sections)
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from pathlib import Path

from strata.atomic_files import write_text_atomic
from strata.report import data
from strata.report.page import render
from strata.report.sections import collect

__all__ = ["REPORT_FILE", "ReportResult", "build_report"]

REPORT_FILE = "report.html"


@dataclass(frozen=True)
class ReportResult:
    """What one report build wrote."""

    path: Path
    bytes: int
    seconds: float
    sections: tuple[str, ...]  # sections with something to show, in page order
    unavailable: tuple[str, ...]  # sections listed but saying why they have nothing to show
    as_of_date: str | None
    build_id: str | None


def build_report(
    serving_db: Path,
    out: Path,
    *,
    build_id: str | None = None,
    as_of: str | None = None,
    built_at: dt.datetime | None = None,
) -> ReportResult:
    """Write the report of the marts in ``serving_db`` to ``out``, atomically.

    ``serving_db`` is opened read-only. ``build_id`` and ``as_of`` (``YYYY-MM-DD``) default to
    what ``strata_meta.publication`` says; pass them when reporting on a copy without that table.
    ``built_at`` (default: now) is the build time printed on the page. ``out``'s folder is
    created if missing; the file is written to a temp name beside it and renamed over ``out``,
    so a reader never sees half a report. A missing or empty mart never fails the build: its
    section says so. Raises FileNotFoundError when ``serving_db`` does not exist.
    """
    started = time.monotonic()
    serving_db, out = Path(serving_db), Path(out)
    with data.Serving.open(serving_db) as db:
        meta = data.publication(db)
        if build_id:
            meta["build_id"] = build_id
        if as_of:
            meta["as_of_date"] = dt.date.fromisoformat(as_of).isoformat()
        report = collect(db, meta)
    text = render(report, built_at=built_at or dt.datetime.now(dt.UTC), source=serving_db.name)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(out, text)
    return ReportResult(
        path=out,
        bytes=out.stat().st_size,
        seconds=time.monotonic() - started,
        sections=tuple(s.key for s in report.sections if s.shown),
        unavailable=tuple(s.key for s in report.sections if not s.shown),
        as_of_date=meta.get("as_of_date"),
        build_id=meta.get("build_id"),
    )
