"""The benchmark's runs, one size at a time: generate, build phase by phase, check against the
baseline, time the plain floor, then one new day delivered and the daily run on it.

Every measured command is a subprocess of its own (tools.bench.measure): dbt, `strata generate`,
`strata run`, and the Python steps of tools.bench.step.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from strata.dbt_runner import DbtResult, dbt_executable, is_transient, read_run_results
from strata.settings import find_project_dir, load_settings
from tools.bench.deliveries import deliver
from tools.bench.measure import (
    Step,
    StepFailed,
    node_timings,
    run_measured,
    step_command,
    step_env,
    strata_command,
    upstream_models,
)

SEED = 42
# The full build is as of END_DATE; the new day NEW_DAY is then delivered and run as of.
END_DATE = dt.date(2026, 6, 29)
NEW_DAY = END_DATE + dt.timedelta(days=1)
# Local Spark's driver (in which local mode runs the executors too) for the Spark row.
SPARK_DRIVER_MEMORY = "8g"
PHASES = ("parse", "staging", "intermediate", "marts", "tests", "publish")
# The dbt Python models that fit the customer models and score the buyers (DuckDB).
PREDICTION_MODELS = ("int_customer_models_fitted", "int_buyer_predictions_scored")
BUILD_PHASES = ("staging", "intermediate", "marts")
# The ten typical audiences (issue #25) and the models that evaluate them.
AUDIENCES = Path("bench") / "audiences"
AUDIENCE_MODELS = (
    "path:models/marts/audiences",
    "path:models/audiences",
)


@dataclass
class NewDay:
    """One new day delivered after the full build as of the day before: the daily run on the
    same warehouse against a full build of the same raw folder on a fresh one, both `dbt run`."""

    incremental: Step | None = None
    full_refresh: Step | None = None
    # "equal", or one line per differing mart; "not checked" until compared.
    differences: list[str] | None = None
    error: str | None = None
    strata_run: Step | None = None
    strata_run_error: str | None = None

    @property
    def equal(self) -> bool:
        return self.differences == []

    @property
    def ratio(self) -> float | None:
        """The daily run's wall time as a share of the full build's; None unless the marts of
        the two builds are equal, row for row."""
        if not (self.equal and self.incremental and self.full_refresh):
            return None
        return self.incremental.seconds / self.full_refresh.seconds

    @property
    def model_ratio(self) -> float | None:
        if not (self.equal and self.incremental and self.full_refresh):
            return None
        full = self.full_refresh.model_seconds
        return self.incremental.model_seconds / full if full else None

    @property
    def equality(self) -> str:
        if self.differences is None:
            return "not checked"
        return "equal" if self.equal else "; ".join(self.differences)


# Issue #26: fifteen-minute deliveries after the daily run as of NEW_DAY, each holding about
# 7,000 sessions and 700 orders at 1M users (in proportion at other sizes).
TRIGGER_DELIVERIES = 4  # three timed as cron starts the run, one with the watcher
TRIGGER_SESSIONS_PER_MILLION = 7_000
TRIGGER_ORDERS_PER_MILLION = 700


@dataclass
class TriggerBench:
    """Intraday runs on fifteen-minute deliveries: each one's wall time from the delivery landing
    to the trigger audiences published (`strata run --intraday`, dbt a subprocess as cron starts
    it), one with the watcher's dbt warm, and the comparison with a fresh computation."""

    sessions: int = 0
    orders: int = 0
    cold: list[Step] = field(default_factory=list)
    warm_seconds: float | None = None
    differences: list[str] | None = None
    error: str | None = None

    @property
    def equal(self) -> bool:
        return self.differences == []


@dataclass
class SparkBench:
    """Issue #27: `strata run --target spark` on local Spark (build, tests; Spark publishes
    nothing) beside the same `strata run` on DuckDB, as of the same day and trigger moment, and
    every mart of the two compared row for row (tools.engines, in DuckDB)."""

    duckdb_run: Step | None = None
    spark_run: Step | None = None
    compare: Step | None = None
    tables: int = 0
    rows: int = 0
    differing_rows: int | None = None
    structural: int = 0
    error: str | None = None

    @property
    def equal(self) -> bool:
        return self.differing_rows == 0 and self.structural == 0


@dataclass
class SizeResult:
    users: int
    ten_m_slot: bool = False
    generate: Step | None = None  # None: the data was already there (cached)
    orders_rows: int = 0
    sessions_rows: int = 0
    phases: dict[str, Step] = field(default_factory=dict)
    warehouse_bytes: int = 0
    baseline_seconds: float | None = None
    baseline_rss_bytes: int | None = None
    agreement: str = "not checked"
    floor_seconds: float | None = None
    floor_rss_bytes: int | None = None
    floor_note: str = "not run"
    new_day: NewDay | None = None
    # Ten typical audiences (bench/audiences/typical.yml): their models' dbt time and their
    # exports' wall time, on the full build (issue #25).
    audience_models: Step | None = None
    audience_exports: Step | None = None
    audience_members: int = 0
    audience_error: str | None = None
    triggers: TriggerBench | None = None
    spark: SparkBench | None = None
    # The 10M step (issue #27): `strata run --as-of NEW_DAY` (build, tests, publish) as one
    # command after the full build, as the smaller sizes' new day times it.
    daily_run: Step | None = None
    daily_run_error: str | None = None

    dim_users_models: frozenset[str] = frozenset()

    @property
    def same_answer_seconds(self) -> float:
        """dbt's execution time of dim_users and every model upstream of it: the models that
        compute what the baseline computes (the history marts are extra work on top)."""
        return sum(
            seconds
            for phase in BUILD_PHASES
            for node, seconds in self.phases[phase].node_seconds.items()
            if node in self.dim_users_models
        )

    @property
    def prediction_seconds(self) -> float | None:
        """dbt's execution time of the prediction models (issue #16): fitting BG/NBD and
        Gamma-Gamma at both cut-offs, and scoring every buyer. None when they did not run."""
        seconds = [
            seconds
            for phase in BUILD_PHASES
            for node, seconds in self.phases[phase].node_seconds.items()
            if node.split(".")[-1] in PREDICTION_MODELS
        ]
        return sum(seconds) if seconds else None

    @property
    def model_seconds(self) -> float:
        """dbt's execution time of every model (staging, intermediate, marts), without start-up:
        the full build, seeds and tests aside."""
        return sum(self.phases[phase].model_seconds for phase in BUILD_PHASES)

    @property
    def full_build_seconds(self) -> float:
        return sum(
            self.phases[phase].seconds for phase in ("staging", "intermediate", "marts", "tests")
        )

    @property
    def audience_seconds(self) -> float | None:
        """The ten audiences' models (dbt's execution time) and exports (wall time)."""
        if self.audience_models is None or self.audience_exports is None:
            return None
        return self.audience_models.model_seconds + self.audience_exports.seconds

    def _peaks(self) -> dict[str, int]:
        peaks = {phase: step.peak_rss_bytes for phase, step in self.phases.items()}
        if self.daily_run is not None:
            peaks["strata run"] = self.daily_run.peak_rss_bytes
        return peaks

    @property
    def peak_rss_bytes(self) -> int:
        """The highest peak of the full build's phases and, in the 10M step, its `strata run`."""
        return max(self._peaks().values())

    @property
    def peak_phase(self) -> str:
        peaks = self._peaks()
        return max(peaks, key=peaks.__getitem__)

    @property
    def baseline_agrees(self) -> bool:
        return self.baseline_seconds is not None and self.agreement.startswith("all")

    @property
    def baseline_ratio(self) -> float | None:
        if not self.baseline_agrees or not self.baseline_seconds:
            return None
        return self.same_answer_seconds / self.baseline_seconds

    @property
    def floor_ratio(self) -> float | None:
        if not self.floor_seconds:
            return None
        return self.model_seconds / self.floor_seconds


class Bench:
    def __init__(self, work: Path, threads: int, memory_limit: str) -> None:
        self.project = find_project_dir()
        self.work = work.resolve()
        self.threads = threads
        self.memory_limit = memory_limit
        self.log = self.work / "bench.log"
        self.target = self.work / "target"

    def env(self, raw_dir: Path, db: Path) -> dict[str, str]:
        return step_env(
            {
                **os.environ,
                "DBT_PROFILES_DIR": str(self.project),
                "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
                "STRATA_RAW_DIR": str(raw_dir),
                "STRATA_DB_PATH": str(db),
                "STRATA_THREADS": str(self.threads),
                "STRATA_MEMORY_LIMIT": self.memory_limit,
                "STRATA_TEMP_DIR": str(self.work / "tmp"),
                "DBT_TARGET_PATH": str(self.target),
            }
        )

    def measure(self, command: Sequence[str], env: dict[str, str] | None = None) -> Step:
        return run_measured(command, env or step_env(dict(os.environ)), self.project, self.log)

    def dbt(
        self, args: Sequence[str], env: dict[str, str], as_of: dt.date, *, parse_vars: bool = False
    ) -> Step:
        """One dbt command as of `as_of` (env STRATA_AS_OF_DATE, the one channel for D). `dbt
        parse` gets the date only with `parse_vars`: the untimed parse before a timed command, so
        that the command starts from a parse made with its own environment (dbt parses the
        models that read a changed environment variable again, which would otherwise be charged
        to one of the two commands compared and not the other)."""
        command = [dbt_executable(), "--no-use-colors", *args]
        env = dict(env)
        if args[0] != "parse" or parse_vars:
            env["STRATA_AS_OF_DATE"] = as_of.isoformat()
        try:
            step = self.measure(command, env)
        except StepFailed as failure:
            if args[0] == "parse" or not self._transient_failure():
                raise
            return self._retried(failure, env)
        if args[0] != "parse":
            step.node_seconds = node_timings(self.target)
        return step

    def _transient_failure(self) -> bool:
        """Whether the dbt command that just failed failed as `strata run` would try again (a
        model out of memory in a long process, a held lock: strata.dbt_runner.is_transient)."""
        nodes = read_run_results(self.target / "run_results.json")
        return bool(nodes) and is_transient(DbtResult(["dbt"], 1, nodes))

    def _retried(self, failure: StepFailed, env: dict[str, str]) -> Step:
        """`dbt retry` after a transient failure, as `strata run` makes it: a new process builds
        what failed and what was skipped. The phase counts both attempts' time and memory, and
        each node its last attempt."""
        first = node_timings(self.target)
        retry = self.measure([dbt_executable(), "--no-use-colors", "retry"], env)
        return Step(
            seconds=failure.seconds + retry.seconds,
            peak_rss_bytes=max(failure.peak_rss_bytes, retry.peak_rss_bytes),
            node_seconds={**first, **node_timings(self.target)},
            retries=1,
        )

    def data(self, users: int, regenerate: bool) -> tuple[Path, Step | None]:
        """The generated data up to NEW_DAY, by the product's own `strata generate` in a process
        of its own (its peak RSS is the generator's), in a folder named by the generator's
        version; kept between runs unless `regenerate`."""
        source = self.work / "data" / f"{users}-v{self.generator_version()}"
        if not regenerate and (source / "orders.parquet").exists():
            return source, None
        shutil.rmtree(source, ignore_errors=True)
        command = strata_command(
            "generate", "--users", str(users), "--seed", str(SEED),
            "--end-date", NEW_DAY.isoformat(), "--out", str(source),
        )  # fmt: skip
        return source, self.measure(command)

    def generator_version(self) -> str:
        """Asked of a child process: importing the generator here would grow this process, and
        with it every measured child's peak RSS (see tools.bench.measure)."""
        return subprocess.run(
            step_command("generator-version"),
            env=step_env(dict(os.environ)),
            cwd=self.project,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()

    def build_phases(self, raw_dir: Path, db: Path, as_of: dt.date) -> dict[str, Step]:
        env = self.env(raw_dir, db)
        phases = {"parse": self.dbt(["parse"], env, as_of)}
        seed = self.dbt(["seed"], env, as_of)
        staging = self.dbt(["run", "-s", "staging"], env, as_of)
        phases["staging"] = Step(
            seed.seconds + staging.seconds,
            max(seed.peak_rss_bytes, staging.peak_rss_bytes),
            {**seed.node_seconds, **staging.node_seconds},
        )
        phases["intermediate"] = self.dbt(["run", "-s", "intermediate"], env, as_of)
        # The marts, the models of model audiences (models/audiences, which read the marts) and
        # the trigger models (models/triggers, which read the history and the rhythm).
        phases["marts"] = self.dbt(["run", "-s", "marts", "audiences", "triggers"], env, as_of)
        phases["tests"] = self.dbt(["test", "--exclude", "resource_type:unit_test"], env, as_of)
        serving = self.work / "serving"
        phases["publish"] = self.measure(
            step_command("publish", "--db", str(db), "--serving", str(serving), "--keep", "1"),
            env,
        )
        return phases

    def baseline(self, raw_dir: Path, as_of: dt.date, db: Path, result: SizeResult) -> None:
        out = self.work / "baseline.json"
        command = step_command(
            "baseline", "--raw-dir", str(raw_dir), "--as-of", as_of.isoformat(),
            "--db", str(db), "--project-dir", str(self.project),
            "--memory-limit", self.memory_limit, "--out", str(out),
        )  # fmt: skip
        try:
            step = self.measure(command, self.env(raw_dir, db))
        except StepFailed as error:
            result.agreement = f"baseline failed: {error}"
            return
        report = json.loads(out.read_text())
        result.baseline_seconds = report["seconds"]
        result.baseline_rss_bytes = step.peak_rss_bytes
        if report["mismatches"]:
            result.agreement = (
                f"{report['mismatches']} users disagree, e.g. {report['problems'][:3]}"
            )
        else:
            result.agreement = f"all {report['users']:,} users agree"

    def floor(self, raw_dir: Path, as_of: dt.date, db: Path, result: SizeResult) -> None:
        out = self.work / "floor.json"
        command = step_command(
            "floor", "--raw-dir", str(raw_dir), "--as-of", as_of.isoformat(),
            "--project-dir", str(self.project), "--memory-limit", self.memory_limit,
            "--out", str(out),
        )  # fmt: skip
        try:
            step = self.measure(command, self.env(raw_dir, db))
        except StepFailed as error:
            result.floor_note = f"floor failed: {error}"
            return
        report = json.loads(out.read_text())
        result.floor_seconds = report["seconds"]
        result.floor_rss_bytes = step.peak_rss_bytes
        result.floor_note = f"{report['users']:,} users, {report['scored']:,} scored"

    def audiences(self, raw_dir: Path, db: Path, as_of: dt.date, result: SizeResult) -> None:
        """Ten typical audiences on the full build: the bench's uploaded list (1% of the users)
        is written into the raw folder, the definitions checked and compiled by the CLI, the
        audience models built (`dbt run`, after an untimed parse with the new vars), then every
        export written as a publish does."""
        import duckdb

        listed = raw_dir / "audience_lists" / "loaded_at=2026-01-01" / "newsletter.csv"
        listed.parent.mkdir(parents=True, exist_ok=True)
        with duckdb.connect(str(db), read_only=True) as con:
            con.execute(
                f"copy (select user_id from marts.dim_users where hash(user_id) % 100 = 0 "
                f"order by user_id) to '{listed}' (header)"
            )
        definitions = subprocess.run(
            [*strata_command("audiences", "vars"), "--dir", str(self.project / AUDIENCES),
             "--raw-dir", str(raw_dir)],
            env=step_env(dict(os.environ)), cwd=self.project, capture_output=True, text=True,
            check=True,
        ).stdout.strip()  # fmt: skip
        env = self.env(raw_dir, db)
        select = ["--select", *AUDIENCE_MODELS, "--vars", definitions]
        try:
            self.dbt(["parse", "--vars", definitions], env, as_of, parse_vars=True)
            result.audience_models = self.dbt(["run", *select], env, as_of)
            out = self.work / "audience-exports"
            shutil.rmtree(out, ignore_errors=True)
            result.audience_exports = self.measure(
                step_command("export-audiences", "--db", str(db), "--out", str(out)), env
            )
            result.audience_members = sum(
                json.loads(manifest.read_text())["counts"]["members"]
                for manifest in out.glob("*/manifest.json")
            )
        except StepFailed as error:
            result.audience_error = str(error)

    def new_day(
        self, raw_dir: Path, pending: Path, db: Path, users: int, strata_run: bool
    ) -> NewDay:
        """Deliver NEW_DAY's files into the raw folder the warehouse `db` was built from as of
        the day before, then time `dbt run` as of NEW_DAY on it, and `dbt run --full-refresh` as
        of NEW_DAY on a fresh warehouse of the same raw folder (seeded first, untimed: seeds
        aside). The new-day time counts only once every mart of the two equals, row for row.
        With `strata_run`, `strata run --as-of NEW_DAY` (build, tests, publish) is also timed on
        a copy of the warehouse as it was before the new day, for information."""
        result = NewDay()
        copy = self.work / f"strata-{users}-daily.duckdb"
        fresh = self.work / f"strata-{users}-fresh.duckdb"
        for path in (copy, fresh):
            _remove_warehouse(path)
        if strata_run:
            shutil.copyfile(db, copy)
        deliver(pending, raw_dir)
        try:
            env = self.env(raw_dir, db)
            self.dbt(["parse"], env, NEW_DAY, parse_vars=True)
            result.incremental = self.dbt(["run"], env, NEW_DAY)
            fresh_env = self.env(raw_dir, fresh)
            self.dbt(["seed"], fresh_env, NEW_DAY)
            self.dbt(["parse"], fresh_env, NEW_DAY, parse_vars=True)
            result.full_refresh = self.dbt(["run", "--full-refresh"], fresh_env, NEW_DAY)
            out = self.work / "compare.json"
            self.measure(
                step_command("compare", "--left", str(db), "--right", str(fresh), "--out", str(out))
            )
            result.differences = json.loads(out.read_text())["differences"]
        except StepFailed as error:
            result.error = str(error)
        if strata_run:
            try:
                result.strata_run = self.strata_run(raw_dir, copy)
            except StepFailed as error:
                result.strata_run_error = str(error)
        return result

    def strata_run(self, raw_dir: Path, db: Path) -> Step:
        """`strata run --as-of NEW_DAY` (build, tests, publish) on `db`, timed as one command,
        with dbt's own timing of its nodes (the run's target folder, beside the warehouse)."""
        command = strata_command(
            "run", "--raw-dir", str(raw_dir), "--db", str(db), "--as-of", NEW_DAY.isoformat()
        )
        step = self.measure(command, self.env(raw_dir, db))
        state = load_settings(db_path=str(db)).state_dir / "target"
        if (state / "run_results.json").is_file():
            step.node_seconds = node_timings(state)
        return step

    def daily_run(self, raw_dir: Path, pending: Path, db: Path, result: SizeResult) -> None:
        """The 10M step's `strata run`: NEW_DAY's files delivered into the raw folder of the full
        build, then `strata run --as-of NEW_DAY` on its warehouse, as the smaller sizes time it.
        It is not compared with a fresh build here: that is a second full build at 10M, and the
        new day of every smaller size makes the comparison."""
        deliver(pending, raw_dir)
        try:
            result.daily_run = self.strata_run(raw_dir, db)
        except StepFailed as error:
            result.daily_run_error = str(error)

    def triggers(self, raw_dir: Path, db: Path, users: int) -> TriggerBench:
        """Three fifteen-minute deliveries land after the daily run as of NEW_DAY on `db` (a
        copy of the warehouse that `strata run` built); after each, `strata run --intraday` is
        timed from the landing to the publication. A fourth lands while the watcher runs
        (`--watch`, dbt warm), timed until its trigger version is current. Then the warehouse is
        copied and its base and trigger models are rebuilt from scratch for the last moment, and
        every table the intraday runs wrote must equal the fresh one, row for row, before a time
        is printed. The moment is given (`--at`): the bench's generated files carry the time
        they were written, not the time they stand for."""
        import signal
        import time

        from strata.triggers import INTRADAY_SELECT, current_trigger_manifest

        result = TriggerBench()
        sessions = max(1, users * TRIGGER_SESSIONS_PER_MILLION // 1_000_000)
        orders = max(1, users * TRIGGER_ORDERS_PER_MILLION // 1_000_000)
        env = self.env(raw_dir, db)
        serving = db.parent / "serving" / db.stem

        def land(seed: int) -> None:
            moment = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
            counts = json.loads(
                subprocess.run(
                    step_command(
                        "trigger-delivery", "--db", str(db), "--raw", str(raw_dir),
                        "--at", moment.isoformat(), "--sessions", str(sessions),
                        "--orders", str(orders), "--seed", str(seed),
                    ),
                    env=step_env(dict(os.environ)), capture_output=True, text=True, check=True,
                ).stdout
            )  # fmt: skip
            result.sessions, result.orders = counts["sessions"], counts["orders"]

        try:
            for seed in range(TRIGGER_DELIVERIES - 1):
                land(seed)
                command = strata_command(
                    "run", "--intraday", "--raw-dir", str(raw_dir), "--db", str(db)
                )  # fmt: skip
                result.cold.append(self.measure(command, env))
                time.sleep(1)  # the next delivery's stamp is a later second
            # the watcher: started, its first run done, then a delivery lands
            watcher = subprocess.Popen(
                strata_command(
                    "run", "--intraday", "--watch", "--poll-seconds", "0.5", "--raw-dir",
                    str(raw_dir), "--db", str(db),
                ),
                env=step_env(env), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                before = (current_trigger_manifest(serving) or {}).get("version")
                deadline = time.monotonic() + 600
                while (current_trigger_manifest(serving) or {}).get("version") == before:
                    if time.monotonic() > deadline or watcher.poll() is not None:
                        raise StepFailed("the watcher did not publish its first run")
                    time.sleep(0.2)
                before = current_trigger_manifest(serving)["version"]
                started = time.monotonic()
                land(TRIGGER_DELIVERIES - 1)
                while (current_trigger_manifest(serving) or {}).get("version") == before:
                    if time.monotonic() > deadline or watcher.poll() is not None:
                        raise StepFailed("the watcher did not publish the delivery")
                    time.sleep(0.05)
                result.warm_seconds = time.monotonic() - started
            finally:
                watcher.send_signal(signal.SIGTERM)
                watcher.wait(timeout=600)
            moment = current_trigger_manifest(serving)["trigger_as_of"].removesuffix("Z")
            # the same file name in another folder: the views name the warehouse's catalog
            fresh = self.work / "triggers-fresh" / db.name
            fresh.parent.mkdir(exist_ok=True)
            _remove_warehouse(fresh)
            shutil.copyfile(db, fresh)
            definitions = subprocess.run(
                [*strata_command("audiences", "vars"), "--raw-dir", str(raw_dir)],
                env=step_env(dict(os.environ)), cwd=self.project, capture_output=True, text=True,
                check=True,
            ).stdout.strip()  # fmt: skip
            fresh_env = {**self.env(raw_dir, fresh), "STRATA_TRIGGER_AS_OF": moment}
            self.dbt(["parse", "--vars", definitions], fresh_env, NEW_DAY, parse_vars=True)
            self.dbt(
                ["run", "--full-refresh", "--select", INTRADAY_SELECT, "--vars", definitions],
                fresh_env, NEW_DAY,
            )  # fmt: skip
            out = self.work / "trigger-compare.json"
            self.measure(
                step_command("trigger-compare", "--left", str(db), "--right", str(fresh),
                             "--out", str(out))
            )  # fmt: skip
            result.differences = json.loads(out.read_text())["differences"]
        except (StepFailed, subprocess.CalledProcessError) as error:
            result.error = str(error)
        return result

    def spark(self, users: int) -> SparkBench:
        """The Spark row: both engines through `strata run` on this size's raw history as of
        END_DATE (the trigger moment 20:00 that day), then the marts compared."""
        result = SparkBench()
        raw = self.work / "raw" / str(users)
        folder = self.work / f"spark-{users}"
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "spark").mkdir(parents=True)
        env = self.env(raw, folder / "duckdb" / "warehouse.duckdb")
        common = ["--raw-dir", str(raw), "--as-of", END_DATE.isoformat(),
                  "--at", f"{END_DATE.isoformat()}T20:00:00"]  # fmt: skip
        spark_env = {
            **env,
            "STRATA_SPARK_DIR": str(folder / "spark"),
            "SPARK_LOCAL_IP": "127.0.0.1",
            "STRATA_SPARK_DRIVER_MEMORY": SPARK_DRIVER_MEMORY,
        }
        out = folder / "compare.json"
        try:
            result.duckdb_run = self.measure(
                strata_command("run", *common, "--db", str(folder / "duckdb" / "warehouse.duckdb")),
                env,
            )
            result.spark_run = self.measure(
                strata_command("run", "--target", "spark", *common,
                               "--db", str(folder / "spark" / "state.duckdb")),
                spark_env,
            )  # fmt: skip
            result.compare = self.measure(
                [sys.executable, "-m", "tools.engines",
                 "--duckdb", str(folder / "duckdb" / "warehouse.duckdb"),
                 "--spark-dir", str(folder / "spark"), "--schemas", "marts", "--out", str(out)],
                spark_env,
            )  # fmt: skip
        except StepFailed as error:
            result.error = str(error)
        if out.exists():
            totals = json.loads(out.read_text())
            result.tables, result.rows = totals["tables"], totals["rows"]
            result.differing_rows, result.structural = (
                totals["differing_rows"],
                totals["structural"],
            )
        return result

    def run_size(
        self,
        users: int,
        *,
        new_day: bool,
        floor: bool,
        strata_run: bool,
        regenerate: bool = False,
        ten_m_slot: bool = False,
    ) -> SizeResult:
        result = SizeResult(users=users, ten_m_slot=ten_m_slot)
        source, result.generate = self.data(users, regenerate)
        raw = self.work / "raw" / str(users)
        pending = self.work / "pending" / str(users)
        split = self.work / "split.json"
        command = step_command(
            "split", "--source", str(source), "--raw", str(raw), "--pending", str(pending),
            "--day", NEW_DAY.isoformat(), "--out", str(split),
        )  # fmt: skip
        self.measure(command)
        counts = json.loads(split.read_text())
        result.orders_rows = counts["orders/history.parquet"]
        result.sessions_rows = counts["sessions/history.parquet"]
        db = self.work / f"strata-{users}.duckdb"
        _remove_warehouse(db)
        result.phases = self.build_phases(raw, db, END_DATE)
        result.dim_users_models = upstream_models(
            self.target / "manifest.json", "model.strata.dim_users"
        )
        result.warehouse_bytes = db.stat().st_size
        self.baseline(raw, END_DATE, db, result)
        if floor:
            self.floor(raw, END_DATE, db, result)
        if new_day:
            result.new_day = self.new_day(raw, pending, db, users, strata_run)
            copy = self.work / f"strata-{users}-daily.duckdb"
            if strata_run and result.new_day.strata_run is not None:
                # on the warehouse `strata run` built as of NEW_DAY: its daily marts and record
                result.triggers = self.triggers(raw, copy, users)
        if ten_m_slot and strata_run:
            # after the baseline, which reads the warehouse as of END_DATE
            self.daily_run(raw, pending, db, result)
        if not ten_m_slot:
            # Last: its vars differ from the build's, and it rebuilds the audience models only.
            self.audiences(raw, db, END_DATE, result)
        return result


def _remove_warehouse(path: Path) -> None:
    for file in (path, Path(f"{path}.wal")):
        file.unlink(missing_ok=True)
