"""The report page: one self-contained HTML file, with its styles, scripts and data inlined.

The page fetches nothing. Vega, Vega-Lite and vega-embed come from ``vl-convert-python``'s
``javascript_bundle()`` (one script, no imports, no network), inlined once; the figures are in one
JSON data island (``<script type="application/json" id="strata-data">``), each dataset once; the
chart specs in another (``strata-charts``), each naming the datasets it reads. A small script
hands every chart its datasets and draws it with vega-embed's SVG renderer. A Content-Security-
Policy forbids every fetch, so a chart that tried one would fail loudly rather than phone home.

Headline figures and tables are plain HTML, so they read even where scripts do not run.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import importlib.metadata
import json
import logging
import os
import re
from pathlib import Path
from typing import Any

import altair as alt
import vl_convert

from strata.atomic_files import write_text_atomic
from strata.report import charts
from strata.report.data import Row
from strata.report.sections import Chart, Figures, Note, Report, Section, Table, day, words

__all__ = ["javascript_bundle", "render"]

log = logging.getLogger(__name__)

# Scripts must be inline ('unsafe-inline'), and Vega compiles its expressions with Function()
# ('unsafe-eval'). Everything else, fetches above all, is refused by the browser itself.
CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)

STYLE = """
:root { color-scheme: light; --ink: #1f2328; --muted: #59636e; --line: #d8dee4;
  --good: #1a7f37; --bad: #cf222e; --soft: #f6f8fa; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1080px; margin: 0 auto; padding: 24px 28px 64px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
header .meta { margin: 0; color: var(--muted); font-size: 14px; }
header .meta b { color: var(--ink); font-weight: 600; }
nav { margin: 16px 0 8px; padding: 10px 14px; background: var(--soft); border-radius: 6px;
  font-size: 14px; }
nav ol { margin: 0; padding-left: 20px; columns: 2; }
nav .off { color: var(--muted); }
section { border-top: 1px solid var(--line); margin-top: 28px; padding-top: 8px; }
h2 { font-size: 20px; margin: 8px 0 10px; }
h3 { font-size: 15px; margin: 18px 0 2px; }
.aid { color: var(--muted); font-size: 13.5px; margin: 0 0 8px; max-width: 860px; }
.note { font-size: 14px; padding: 6px 10px; border-left: 3px solid var(--line);
  background: var(--soft); max-width: 860px; }
.note.warning { border-left-color: #d4a72c; background: #fff8c5; }
figure { margin: 16px 0 8px; }
figcaption strong { display: block; font-size: 15px; }
.vega { min-height: 40px; overflow-x: auto; }
.tiles { display: grid; grid-template-columns: repeat(auto-fill, minmax(235px, 1fr));
  gap: 12px; margin: 10px 0; }
.tile { border: 1px solid var(--line); border-radius: 8px; padding: 10px 14px; }
.tile .label { font-size: 13px; color: var(--muted); }
.tile .value { font-size: 28px; font-weight: 650; line-height: 1.25;
  font-variant-numeric: tabular-nums; }
.tile .delta { font-size: 13px; font-variant-numeric: tabular-nums; }
.tile .hint { font-size: 12px; color: var(--muted); margin-top: 4px; }
.good { color: var(--good); } .bad { color: var(--bad); } .flat { color: var(--muted); }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0 10px; }
th, td { padding: 4px 10px; border-bottom: 1px solid var(--line); text-align: left;
  vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
footer { margin-top: 40px; color: var(--muted); font-size: 12.5px; }
code { font-size: 12.5px; }
@media print { nav, .vega-embed details { display: none; } section { break-inside: avoid; } }
"""

# Hands each chart its datasets (a copy: Vega marks the rows it ingests) and draws it; marks the
# page done when every chart has settled, so a test (or a screenshot) knows when to look.
SCRIPT = """
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("strata-data").textContent);
  var page = JSON.parse(document.getElementById("strata-charts").textContent);
  var copy = function (rows) { return JSON.parse(JSON.stringify(rows)); };
  var pending = page.charts.map(function (chart) {
    var element = document.getElementById(chart.id);
    var spec = Object.assign({}, chart.spec, { datasets: {} });
    chart.datasets.forEach(function (name) { spec.datasets[name] = copy(data[name]); });
    return vegaEmbed(element, spec, {
      renderer: "svg",
      actions: { export: true, source: false, compiled: false, editor: false },
      downloadFileName: chart.id,
      config: page.config
    }).then(function () {
      element.setAttribute("data-rendered", "true");
    }).catch(function (error) {
      element.setAttribute("data-rendered", "error");
      element.textContent = "This chart could not be drawn: " + error;
      console.error("strata report: chart " + chart.id + " failed", error);
    });
  });
  Promise.all(pending).then(function () {
    document.documentElement.setAttribute("data-charts-done", String(pending.length));
  });
})();
"""


# --- the JavaScript bundle ---------------------------------------------------------------------


def _vega_lite_version() -> str | None:
    """The Vega-Lite version Altair writes specs for, as vl-convert names it (``v6.4``).

    None (vl-convert's latest) when vl-convert does not ship that one.
    """
    major_minor = ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    return f"v{major_minor}" if major_minor in vl_convert.get_vegalite_versions() else None


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "strata"


@functools.cache
def javascript_bundle() -> str:
    """Vega + Vega-Lite + vega-embed as one script that sets ``window.vegaEmbed``.

    vl-convert assembles it in about four seconds, so it is cached: in the process, and on disk
    under ``$XDG_CACHE_HOME/strata`` (``~/.cache/strata``) keyed by the vl-convert and Vega-Lite
    versions, so that only the first report on a machine pays. Any cache trouble is ignored.
    """
    vl_version = _vega_lite_version()
    package = importlib.metadata.version("vl-convert-python")
    cached = _cache_dir() / f"vega-bundle-vlc{package}-vl{vl_version or 'latest'}.js"
    try:
        text = cached.read_text(encoding="utf-8")
        if "window.vegaEmbed" in text:
            return text
    except OSError:
        pass
    text = vl_convert.javascript_bundle(vl_version=vl_version)
    # Inlined in a <script> element, the text must not close it early.
    text = re.sub(r"</(script)", r"<\\/\1", text, flags=re.IGNORECASE).replace("<!--", "<\\!--")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(cached, text)
    except OSError as error:
        log.debug("could not cache the Vega bundle at %s: %s", cached, error)
    return text


# --- formatting --------------------------------------------------------------------------------


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json(value: Any) -> str:
    """JSON safe inside a <script> element: no '<', so no '</script>' or '<!--'."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.replace("<", "\\u003c").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def cell(value: Any, kind: str) -> str:
    """One value as a table shows it (``kind``: count, share, share2, pp, money, decimal, bool,
    words, text)."""
    if value is None:
        return "-"
    if kind == "count":
        return f"{value:,.0f}"
    if kind == "share":
        return f"{value:.1%}"
    if kind == "share2":
        return f"{value:.2%}"
    if kind == "pp":
        return f"{value:+.2f}"
    if kind == "money":
        return f"{value:,.2f}"
    if kind == "decimal":
        return f"{value:,.3f}"
    if kind == "bool":
        return "yes" if value else "no"
    if kind == "words":
        return words(value)
    return str(value)


def _figure_value(value: Any, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:,.2f}"
    if unit == "money":
        return f"{value:,.0f}"
    return f"{value:,.0f}"


def _tile(row: Row) -> str:
    unit = row.get("unit", "count")
    change, previous = row.get("change"), row.get("previous")
    if change is None:
        delta = '<div class="delta flat">no earlier figure to compare</div>'
    else:
        tone = "flat"
        if change and row.get("better") in ("up", "down"):
            good = (change > 0) == (row["better"] == "up")
            tone = "good" if good else "bad"
        arrow = "▲" if change > 0 else ("▼" if change < 0 else "■")
        amount = f"{change:+,.2f}" if unit == "ratio" else f"{change:+,.0f}"
        relative = row.get("relative_change")
        percent = f" ({relative:+.1%})" if relative is not None else ""
        delta = (
            f'<div class="delta {tone}">{arrow} {_esc(amount)}{_esc(percent)} vs '
            f"{_esc(_figure_value(previous, unit))}, {_esc(row.get('previous_period') or '')}"
            "</div>"
        )
    return (
        f'<div class="tile" data-key="{_esc(row["key"])}"'
        f' data-running="{"true" if row.get("is_running") else "false"}">'
        f'<div class="label">{_esc(row["label"])} <span class="flat">· '
        f"{_esc(row.get('period') or '')}</span></div>"
        f'<div class="value">{_esc(_figure_value(row.get("value"), unit))}</div>'
        f"{delta}"
        f'<div class="hint">{_esc(row.get("hint") or "")}</div></div>'
    )


# --- the page ----------------------------------------------------------------------------------


def _block(block: Any, datasets: dict[str, list[Row]]) -> str:
    if isinstance(block, Note):
        return f'<p class="note {_esc(block.kind)}">{_esc(block.text)}</p>'
    if isinstance(block, Figures):
        tiles = "".join(_tile(row) for row in datasets[block.dataset])
        return f'<div class="tiles" data-dataset="{_esc(block.dataset)}">{tiles}</div>'
    if isinstance(block, Chart):
        return (
            f"<figure><figcaption><strong>{_esc(block.title)}</strong>"
            f'<p class="aid">{_esc(block.aid)}</p></figcaption>'
            f'<div class="vega" id="{_esc(block.id)}" '
            f'data-datasets="{_esc(" ".join(block.datasets))}"></div></figure>'
        )
    if isinstance(block, Table):
        rows = datasets[block.dataset]
        numeric = {"count", "share", "share2", "pp", "money", "decimal"}
        head = "".join(
            f'<th class="{"num" if kind in numeric else ""}">{_esc(header)}</th>'
            for _, header, kind in block.columns
        )
        body = "".join(
            "<tr>"
            + "".join(
                f'<td class="{"num" if kind in numeric else ""}">'
                f"{_esc(cell(row.get(key), kind))}</td>"
                for key, _, kind in block.columns
            )
            + "</tr>"
            for row in rows
        )
        return (
            f'<h3>{_esc(block.title)}</h3><p class="aid">{_esc(block.aid)}</p>'
            f'<table data-dataset="{_esc(block.dataset)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>"
        )
    raise TypeError(f"unknown block {block!r}")


def _section(number: int, section: Section, datasets: dict[str, list[Row]]) -> str:
    blocks = "".join(_block(block, datasets) for block in section.blocks)
    return (
        f'<section id="{_esc(section.key)}" data-shown="{str(section.shown).lower()}">'
        f"<h2>{number}. {_esc(section.title)}</h2>{blocks}</section>"
    )


def _when(value: str | None) -> str:
    if not value:
        return "unknown"
    moment = dt.datetime.fromisoformat(str(value))
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC)
    return moment.strftime("%-d %b %Y %H:%M UTC")


def render(report: Report, *, built_at: dt.datetime, source: str) -> str:
    """The whole page as one string."""
    meta = report.meta
    charts_used = [b for s in report.sections for b in s.blocks if isinstance(b, Chart)]
    toc = "".join(
        f'<li class="{"" if s.shown else "off"}"><a href="#{_esc(s.key)}">{_esc(s.title)}</a>'
        + ("" if s.shown else " (nothing to show)")
        + "</li>"
        for s in report.sections
    )
    body = "".join(
        _section(number, section, report.datasets)
        for number, section in enumerate(report.sections, start=1)
    )
    built = built_at.astimezone(dt.UTC).isoformat(timespec="seconds")
    published = (
        f" · published version <b>{_esc(meta['version'])}</b>"
        f" at {_esc(_when(meta.get('published_at')))}"
        if meta.get("version")
        else ""
    )
    header = (
        f"<header><h1>Where our users stand</h1>"
        f'<p class="meta">As of <b data-as-of="{_esc(meta.get("as_of_date") or "")}">'
        f"{_esc(day(meta.get('as_of_date')))}</b> · build "
        f'<b data-build-id="{_esc(meta.get("build_id") or "")}">'
        f"{_esc(meta.get('build_id') or 'unknown')}</b> · report built "
        f'<b data-built-at="{_esc(built)}">{_esc(_when(built))}</b>{published}</p></header>'
    )
    payload = {
        "config": charts.CONFIG,
        "charts": [{"id": c.id, "datasets": list(c.datasets), "spec": c.spec} for c in charts_used],
    }
    about = {
        "as_of_date": meta.get("as_of_date"),
        "build_id": meta.get("build_id"),
        "version": meta.get("version"),
        "published_at": meta.get("published_at"),
        "built_at": built,
        "source": source,
        "sections": [s.key for s in report.sections if s.shown],
    }
    return "".join(
        [
            '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>strata report · as of {_esc(meta.get('as_of_date') or 'unknown')}</title>",
            f"<style>{STYLE}</style></head><body><main>",
            header,
            '<noscript><p class="note warning">The charts need JavaScript; the figures and '
            "tables below read without it.</p></noscript>",
            f"<nav><ol>{toc}</ol></nav>",
            body,
            "<footer>Built by strata from the published marts of "
            f"<code>{_esc(source)}</code> only: aggregates, no individual users. Charts: "
            f"Vega-Lite {_esc(alt.SCHEMA_VERSION)} via Altair, drawn offline in this file; "
            "each chart's menu (…) saves it as SVG or PNG. Definitions: docs/segments.md, "
            "docs/history.md, docs/predictions.md, docs/data_quality.md.</footer>",
            "</main>",
            f'<script type="application/json" id="strata-about">{_json(about)}</script>',
            f'<script type="application/json" id="strata-data">{_json(report.datasets)}</script>',
            f'<script type="application/json" id="strata-charts">{_json(payload)}</script>',
            f"<script>{javascript_bundle()}</script>",
            f"<script>{SCRIPT}</script>",
            "</body></html>\n",
        ]
    )
