"""The benchmark's printed figures: tables per size, the issue #19 figures, docs/benchmarks.md."""

from __future__ import annotations

import datetime as dt
import os
import platform
from importlib import metadata
from pathlib import Path

from strata.dbt_runner import node_name
from tools.bench.measure import Step
from tools.bench.run import END_DATE, NEW_DAY, PHASES, SizeResult

DOC_BEGIN = "<!-- bench:begin -->"
DOC_END = "<!-- bench:end -->"


def _gb(size: float | None) -> str:
    return "-" if size is None else f"{size / 1024**3:.2f} GB"


def _gib(size: float | None) -> str:
    return "-" if size is None else f"{size / 1024**3:.2f}"


def _s(step: Step | None, missing: str = "-") -> str:
    return missing if step is None else f"{step.seconds:.1f}"


def _x(ratio: float | None) -> str:
    return "n/a" if ratio is None else f"{ratio:.1f}x"


def machine() -> dict[str, str]:
    memory = "unknown"
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
        memory = f"{kib / 1024**2:.1f} GiB"
    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": str(os.cpu_count()),
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
        # Versions from the installed metadata: importing DuckDB here would grow this process.
        "duckdb": metadata.version("duckdb"),
        "dbt-core": metadata.version("dbt-core"),
        "dbt-duckdb": metadata.version("dbt-duckdb"),
    }


def _new_day_share(r: SizeResult) -> str:
    day = r.new_day
    if day is None:
        return "-"
    if day.error:
        return "n/a (failed)"
    if day.ratio is None:
        return "n/a (marts differ)"
    return f"{day.ratio:.0%}"


def full_build_table(results: list[SizeResult]) -> list[str]:
    lines = [
        f"Full build as of {END_DATE}, one dbt process per phase (seconds are wall time):",
        "",
        "| users | orders in | sessions in | generate s | "
        + " | ".join(f"{phase} s" for phase in PHASES)
        + " | all models s | dim_users and upstream s | baseline s | same answer / baseline |"
        " floor s | all models / floor | peak RSS | warehouse |",
        "|" + "---|" * (4 + len(PHASES) + 9),
    ]
    for r in results:
        baseline_ratio = _x(r.baseline_ratio) + ("" if r.baseline_ratio else " (see agreement)")
        lines.append(
            f"| {r.users:,} | {r.orders_rows:,} | {r.sessions_rows:,} | "
            f"{_s(r.generate, 'cached')} | "
            + " | ".join(f"{r.phases[phase].seconds:.1f}" for phase in PHASES)
            + f" | {r.model_seconds:.1f} | {r.same_answer_seconds:.1f} | "
            f"{r.baseline_seconds or 0:.1f} | {baseline_ratio} | "
            + (f"{r.floor_seconds:.1f}" if r.floor_seconds else "-")
            + f" | {_x(r.floor_ratio) if r.floor_seconds else '-'} | "
            f"{_gb(r.peak_rss_bytes)} ({r.peak_phase}) | {_gb(r.warehouse_bytes)} |"
        )
    retried = [
        f"{r.users:,} users' {phase}"
        for r in results
        for phase in PHASES
        if r.phases[phase].retries
    ]
    if retried:
        lines += [
            "",
            f"Retried with `dbt retry` after a transient failure, as `strata run` does (the "
            f"phase's seconds count both attempts): {', '.join(retried)}; the bench's log says "
            "which model failed and why.",
        ]
    return lines


def new_day_table(results: list[SizeResult]) -> list[str]:
    rows = [r for r in results if r.new_day is not None]
    if not rows:
        return []
    lines = [
        f"One new day: {NEW_DAY}'s files delivered into the raw folder of the build above, then "
        f"`dbt run` as of {NEW_DAY} on the same warehouse, against `dbt run --full-refresh` of "
        "the same raw folder on a fresh warehouse (seeded first, untimed). The share counts only "
        "when every table of `marts` is equal in the two, row for row:",
        "",
        "| users | new day `dbt run` s | full `dbt run --full-refresh` s | new day / full build |"
        " models s, new day / full | marts | `strata run` s (build, tests, publish) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        day = r.new_day
        assert day is not None
        models = (
            f"{day.incremental.model_seconds:.1f} / {day.full_refresh.model_seconds:.1f}"
            if day.incremental and day.full_refresh
            else "-"
        )
        marts = f"failed: {day.error}" if day.error else day.equality
        strata_run = _s(day.strata_run) if not day.strata_run_error else "failed"
        lines.append(
            f"| {r.users:,} | {_s(day.incremental)} | {_s(day.full_refresh)} | "
            f"{_new_day_share(r)} | {models} | {marts} | {strata_run} |"
        )
    errors = [
        f"- {r.users:,} users: `strata run` {r.new_day.strata_run_error}"
        for r in rows
        if r.new_day and r.new_day.strata_run_error
    ]
    return [*lines, *(["", *errors] if errors else [])]


def rss_table(results: list[SizeResult]) -> list[str]:
    lines = [
        "Peak RSS per process (GB; the process and its children, from the kernel):",
        "",
        "| users | generate | "
        + " | ".join(PHASES)
        + " | baseline | floor | new day run | full refresh | strata run |",
        "|" + "---|" * (len(PHASES) + 7),
    ]
    for r in results:
        day = r.new_day
        lines.append(
            f"| {r.users:,} | "
            + (_gib(r.generate.peak_rss_bytes) if r.generate else "cached")
            + " | "
            + " | ".join(_gib(r.phases[p].peak_rss_bytes) for p in PHASES)
            + f" | {_gib(r.baseline_rss_bytes)} | {_gib(r.floor_rss_bytes)} | "
            + " | ".join(
                _gib(step.peak_rss_bytes) if step else "-"
                for step in (
                    (day.incremental, day.full_refresh, day.strata_run)
                    if day
                    else (None, None, r.daily_run)
                )
            )
            + " |"
        )
    return lines


def _top(nodes: dict[str, float], count: int = 5) -> str:
    top = sorted(nodes.items(), key=lambda item: -item[1])[:count]
    return ", ".join(f"{node_name(name)} {seconds:.1f} s" for name, seconds in top)


def slowest(results: list[SizeResult]) -> list[str]:
    lines = ["Slowest nodes of the full build (dbt's own timing, run_results.json):"]
    for r in results:
        nodes = {k: v for p in PHASES[1:5] for k, v in r.phases[p].node_seconds.items()}
        lines.append(f"- {r.users:,} users: {_top(nodes)}")
    days = [r for r in results if r.new_day and r.new_day.incremental]
    if days:
        lines += ["", "Slowest models of the new day's `dbt run`:"]
        for r in days:
            assert r.new_day is not None and r.new_day.incremental is not None
            lines.append(f"- {r.users:,} users: {_top(r.new_day.incremental.node_seconds)}")
    runs = [(r, step) for r in results if (step := _daily_strata_run(r)) and step.node_seconds]
    if runs:
        lines += ["", "Slowest nodes of the new day's `strata run` (build and tests):"]
        lines += [f"- {r.users:,} users: {_top(step.node_seconds)}" for r, step in runs]
    return lines


def _daily_strata_run(r: SizeResult) -> Step | None:
    """`strata run --as-of NEW_DAY` at this size: the new day's, or the 10M step's."""
    return r.new_day.strata_run if r.new_day else r.daily_run


# Issue #27: from 1M to 10M users, every phase and the slowest models grow at most 12x, that is
# 1.2 times the growth of the data; between other sizes the same allowance is scaled.
GROWTH_ALLOWANCE = 1.2
PEAK_RSS_TARGET_GB = 16


def growth_table(results: list[SizeResult]) -> list[str]:
    """Each phase and the five slowest models of either size at the largest size measured below
    the 10M step and at the 10M step, with the growth factor against the allowance (issue #27:
    at most 12x for 10x the users). Empty unless both were measured."""
    big = next((r for r in results if r.ten_m_slot and r.phases), None)
    smaller = [
        r for r in results if not r.ten_m_slot and r.phases and r.users < (big.users if big else 0)
    ]
    if big is None or not smaller:
        return []
    small = max(smaller, key=lambda r: r.users)
    users = big.users / small.users
    allowed = GROWTH_ALLOWANCE * users

    def nodes(r: SizeResult) -> dict[str, float]:
        return {k: v for p in PHASES[1:5] for k, v in r.phases[p].node_seconds.items()}

    def row(name: str, before: float | None, after: float | None) -> str:
        if not before or after is None:
            return f"| {name} | {before or 0:.1f} | {after or 0:.1f} | - | - |"
        factor = after / before
        verdict = "within" if factor <= allowed else "**over**"
        return f"| {name} | {before:.1f} | {after:.1f} | {factor:.1f}x | {verdict} |"

    small_nodes, big_nodes = nodes(small), nodes(big)
    slowest = sorted(small_nodes, key=small_nodes.__getitem__, reverse=True)[:5]
    slowest += [
        n
        for n in sorted(big_nodes, key=big_nodes.__getitem__, reverse=True)[:5]
        if n not in slowest
    ]
    lines = [
        f"Growth from {small.users:,} to {big.users:,} users ({users:.0f}x the users; allowed "
        f"{allowed:.0f}x, issue #27): each phase's wall time and the slowest models of either "
        "size (dbt's own timing):",
        "",
        f"| phase or model | {small.users:,} s | {big.users:,} s | growth "
        f"| within {allowed:.0f}x |",
        "|---|---|---|---|---|",
    ]
    lines += [
        row(phase, small.phases[phase].seconds, big.phases[phase].seconds) for phase in PHASES
    ]
    small_run, big_run = _daily_strata_run(small), _daily_strata_run(big)
    if small_run or big_run:
        lines.append(
            row(
                "`strata run`, the new day (build, tests, publish)",
                small_run.seconds if small_run else None,
                big_run.seconds if big_run else None,
            )
        )
    lines += [
        row(f"`{node_name(node)}`", small_nodes.get(node), big_nodes.get(node)) for node in slowest
    ]
    before, after = small.peak_rss_bytes / 1024**3, big.peak_rss_bytes / 1024**3
    lines.append(
        f"| peak RSS, GB (target: under {PEAK_RSS_TARGET_GB} at 10M) | {before:.2f} | "
        f"{after:.2f} | {after / before:.1f}x | "
        f"{'under the target' if after < PEAK_RSS_TARGET_GB else '**over the target**'} |"
    )
    return lines


def issue_figures(results: list[SizeResult], headline_users: int) -> list[str]:
    """The figures issue #19 asks `make bench` for, at the headline size (1M by default)."""
    sized = [r for r in results if not r.ten_m_slot]
    lines = []
    if sized:
        head = next((r for r in sized if r.users == headline_users), None)
        note = ""
        if head is None:
            head = max(sized, key=lambda r: r.users)
            note = f" ({headline_users:,} not measured in this run)"
        lines += [f"Issue #19 figures at {head.users:,} users{note}:", ""]
        day = head.new_day
        if day is None:
            lines.append("- one new day: not measured (--no-new-day)")
        elif day.error:
            lines.append(f"- one new day: failed ({day.error})")
        else:
            assert day.incremental and day.full_refresh
            lines.append(
                f"- one new day: marts of the daily run against a fresh full build: "
                f"{day.equality}; `dbt run` {day.incremental.seconds:.1f} s against "
                f"`dbt run --full-refresh` {day.full_refresh.seconds:.1f} s: "
                f"**{_new_day_share(head)}** of a full build (target: at most 15%)"
                + (f"; `strata run` {day.strata_run.seconds:.1f} s" if day.strata_run else "")
            )
        if head.floor_seconds:
            lines.append(
                f"- full build (every model, seeds and tests aside) against the plain floor: "
                f"{head.model_seconds:.1f} s against {head.floor_seconds:.1f} s: "
                f"**{_x(head.floor_ratio)}** (target: within 8x)"
            )
        else:
            lines.append(f"- full build against the plain floor: {head.floor_note}")
        lines.append(
            f"- dim_users and upstream against the hand-written baseline: "
            f"{head.same_answer_seconds:.1f} s against {head.baseline_seconds or 0:.1f} s: "
            f"**{_x(head.baseline_ratio)}** ({head.agreement}; target: within 2x)"
        )
        if head.prediction_seconds is not None:
            lines.append(
                f"- predictions (BG/NBD and Gamma-Gamma fitted as of D and as of the calibration"
                f" cut-off, every buyer scored): {head.prediction_seconds:.1f} s"
                " (issue #16 target: at most 20 s)"
            )
    head = next((r for r in sized if r.users == headline_users), None) if sized else None
    if head is not None:
        lines.append(audience_line(head))
        lines.append(trigger_line(head))
    lines += [spark_line(r) for r in sized if r.spark is not None] or [
        "- Spark: not run (make bench BENCH_SPARK=1)"
    ]
    big = next((r for r in results if r.ten_m_slot), None)
    if big is None:
        lines.append("- 10M users: not run (make bench BENCH_10M=1)")
    else:
        generate = (
            f"generate {big.generate.seconds:.1f} s, peak RSS {_gb(big.generate.peak_rss_bytes)}"
            if big.generate
            else "generate: cached data (--regenerate to measure it)"
        )
        phases = ", ".join(
            f"{phase} {big.phases[phase].seconds:.1f} s / {_gb(big.phases[phase].peak_rss_bytes)}"
            for phase in PHASES
        )
        lines.append(
            f"- {big.users:,} users (the 10M step): {generate} (target: under 4 GB); build "
            f"{sum(step.seconds for step in big.phases.values()):.1f} s ({phases}); peak RSS "
            f"**{_gb(big.peak_rss_bytes)}** ({big.peak_phase}; target: under 16 GB); "
            f"dim_users and upstream against the baseline: **{_x(big.baseline_ratio)}** "
            f"({big.same_answer_seconds:.1f} s against {big.baseline_seconds or 0:.1f} s; "
            f"{big.agreement}); {_ten_m_strata_run(big)}"
        )
    return lines


def _ten_m_strata_run(big: SizeResult) -> str:
    """Issue #27: the 10M `strata run` completes, and its time is printed."""
    if big.daily_run_error:
        return f"`strata run` for the new day **failed** ({big.daily_run_error})"
    if big.daily_run is None:
        return "`strata run` for the new day: not run (--no-strata-run)"
    return (
        f"`strata run --as-of {NEW_DAY}` (the new day's build, tests and publish, one command) "
        f"**{big.daily_run.seconds:.1f} s**, peak RSS {_gb(big.daily_run.peak_rss_bytes)}"
    )


def spark_line(r: SizeResult) -> str:
    """Issue #27: `strata run --target spark` at this size, its marts compared with DuckDB's;
    its time is printed with the comparison's outcome, never without it."""
    spark = r.spark
    assert spark is not None
    if spark.differing_rows is None:
        return f"- Spark at {r.users:,} users: failed ({spark.error or 'no comparison'})"
    outcome = (
        f"every mart equal ({spark.tables} tables, {spark.rows:,} rows)"
        if spark.equal
        else f"**{spark.differing_rows:,} rows differ** in {spark.tables} tables"
        + (f", {spark.structural} with a structural difference" if spark.structural else "")
    )
    assert spark.duckdb_run and spark.spark_run
    on_spark, on_duckdb = spark.spark_run, spark.duckdb_run
    return (
        f"- Spark at {r.users:,} users: `strata run --target spark` (build and tests on local "
        f"Spark) **{on_spark.seconds:.1f} s**, peak RSS {_gb(on_spark.peak_rss_bytes)}, "
        f"against `strata run` on DuckDB (build, tests, publish) {on_duckdb.seconds:.1f} s; "
        f"{outcome}"
        + (f"; compared in {spark.compare.seconds:.1f} s" if spark.compare else "")
        + (f" ({spark.error})" if spark.error else "")
    )


def audience_line(r: SizeResult) -> str:
    """Issue #25: ten typical audiences and their exports against the full build."""
    if r.audience_error:
        return f"- ten typical audiences: failed ({r.audience_error})"
    if r.audience_seconds is None:
        return "- ten typical audiences: not measured"
    assert r.audience_models and r.audience_exports
    share = r.audience_seconds / r.full_build_seconds if r.full_build_seconds else None
    return (
        f"- ten typical audiences (bench/audiences/typical.yml) and their exports: models "
        f"{r.audience_models.model_seconds:.1f} s + exports {r.audience_exports.seconds:.1f} s "
        f"({r.audience_members:,} members exported) = {r.audience_seconds:.1f} s: "
        f"**{'n/a' if share is None else f'{share:.1%}'}** of the full build "
        f"({r.full_build_seconds:.1f} s; issue #25 aim: under 10%)"
    )


def trigger_line(r: SizeResult) -> str:
    """Issue #26: latency from a fifteen-minute delivery landing to the trigger audiences
    published, printed only once the triggers equal a fresh computation for the same moment."""
    t = r.triggers
    if t is None:
        return "- trigger audiences within the day: not measured (needs the new day's strata run)"
    if t.error:
        return f"- trigger audiences within the day: failed ({t.error})"
    if not t.equal:
        return (
            "- trigger audiences within the day: **n/a**, the triggers differ from a fresh "
            f"computation: {'; '.join(t.differences or ['not checked'])}"
        )
    cold = ", ".join(f"{step.seconds:.1f} s" for step in t.cold)
    warm = "n/a" if t.warm_seconds is None else f"{t.warm_seconds:.1f} s"
    return (
        f"- trigger audiences within the day, a fifteen-minute delivery ({t.sessions:,} sessions, "
        f"{t.orders:,} orders) landing to its trigger version published: `strata run "
        f"--intraday` **{cold}** (three deliveries, cold dbt as cron starts it; peak RSS "
        f"{_gb(max(step.peak_rss_bytes for step in t.cold))}), the watcher (`--watch`, dbt warm) "
        f"**{warm}**; every table the runs wrote equals a fresh computation for the same moment "
        "(issue #26 target: under 30 s)"
    )


def render(
    results: list[SizeResult],
    info: dict[str, str],
    threads: int,
    limit: str,
    headline_users: int = 1_000_000,
) -> str:
    lines = [
        f"Measured {info['date']} on {info['cores']} cores, {info['memory']} "
        f"({info['platform']}); Python {info['python']}, DuckDB {info['duckdb']}, "
        f"dbt-core {info['dbt-core']}, dbt-duckdb {info['dbt-duckdb']}; dbt threads {threads}, "
        f"DuckDB memory_limit {limit}.",
        "",
        *issue_figures(results, headline_users),
        "",
        *full_build_table(results),
        "",
    ]
    day = new_day_table(results)
    if day:
        lines += [*day, ""]
    lines.append("Baseline agreement (lifecycle stage and R, F, M scores of every user):")
    lines += [f"- {r.users:,} users: {r.agreement}" for r in results]
    floors = [r for r in results if r.floor_seconds or r.floor_note != "not run"]
    if floors:
        lines += ["", "Plain floor (bench/floor_duckdb.sql; no cleaning, so not compared):"]
        lines += [f"- {r.users:,} users: {r.floor_note}" for r in floors]
    lines += ["", *rss_table(results), "", *slowest(results)]
    growth = growth_table(results)
    if growth:
        lines += ["", *growth]
    return "\n".join(lines)


def write_docs(path: Path, table: str) -> None:
    text = path.read_text() if path.exists() else f"{DOC_BEGIN}\n{DOC_END}\n"
    head, _, rest = text.partition(DOC_BEGIN)
    _, _, tail = rest.partition(DOC_END)
    path.write_text(f"{head}{DOC_BEGIN}\n{table}\n{DOC_END}{tail}")
