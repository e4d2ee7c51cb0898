"""``python -m strata.report SERVING_DB [OUT]``: build the report of a serving DuckDB file.

A stop-gap entry point until the CLI has a ``strata report`` command; it prints what it wrote.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from strata.report import REPORT_FILE, build_report


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, build the report, print a one-line summary."""
    parser = argparse.ArgumentParser(prog="python -m strata.report", description=__doc__)
    parser.add_argument("serving_db", type=Path, help="the serving DuckDB file (strata.duckdb)")
    parser.add_argument(
        "out", type=Path, nargs="?", help=f"the HTML file (default: {REPORT_FILE} beside it)"
    )
    parser.add_argument("--build-id", help="override the build id the page shows")
    parser.add_argument("--as-of", help="override the as-of date the page shows (YYYY-MM-DD)")
    args = parser.parse_args(argv)
    out = args.out or args.serving_db.with_name(REPORT_FILE)
    result = build_report(args.serving_db, out, build_id=args.build_id, as_of=args.as_of)
    print(
        f"report: {result.path} ({result.bytes / 1e6:.2f} MB, {result.seconds:.1f} s); "
        f"sections: {', '.join(result.sections)}"
        + (f"; nothing to show: {', '.join(result.unavailable)}" if result.unavailable else "")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
