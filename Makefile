# strata: `make run` builds the warehouse on demo data, `make test` runs every check.
# Both create (or reuse) the virtual environment in .venv and install the pinned dependencies.

PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

DEMO_DIR ?= demo_data
DEMO_USERS ?= 50000
DEMO_SEED ?= 42
FIXTURE_DIR := tests/fixtures/raw
# Named strata.duckdb, as the project's warehouse is: dbt names a DuckDB warehouse's tables by its
# file name ("strata"."marts"."dim_users"), and this build's semantic manifest stays in target/,
# where MetricFlow's `mf` reads it, for the published warehouse too, after `make test` (README).
FIXTURE_DB := warehouse/fixture/strata.duckdb

# dbt reads profiles.yml from the repository root.
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

# numpy's first import (a dbt Python model, in one of dbt's threads) sets and deletes these, which
# races with threads reading the environment (strata/dbt_runner.py says the same for its runs).
export OPENBLAS_MAIN_FREE := 1
export GOTOBLAS_MAIN_FREE := 1

# Headless Chromium for the report's browser test (pytests/test_report.py): Debian's package,
# never playwright's own browser download. Installed once; as root, or through sudo.
# Defined before `install` names it: a variable used before its definition expands to nothing,
# which is how `make install` once skipped Chromium without a word.
CHROMIUM := /usr/bin/chromium

.PHONY: install install-spark run test test-season test-spark bench lint lint-changed dbt-test semantic pytest demo-data clean

install: $(STAMP) $(CHROMIUM)

$(CHROMIUM):
	$(if $(filter 0,$(shell id -u)),,sudo) apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $(if $(filter 0,$(shell id -u)),,sudo -E) apt-get install -y -qq \
		--no-install-recommends chromium fonts-dejavu-core

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint requirements/constraints.txt --editable '.[dev,metricflow]'
	@touch $@

# Demo data is generated once (deterministic: same seed, same users) into a git-ignored folder.
demo-data: $(STAMP)
	@test -f $(DEMO_DIR)/orders.parquet -a -f $(DEMO_DIR)/sessions.parquet || \
		$(BIN)/strata generate --users $(DEMO_USERS) --seed $(DEMO_SEED) --out $(DEMO_DIR)

run: demo-data
	$(BIN)/strata run --raw-dir $(DEMO_DIR)

# CI (CI=true) lints every file; a developer's `make test` lints the SQL files changed since the
# last commit (and untracked ones), which is what a change can break: sqlfluff's dbt templater
# takes about 40 s for the whole project (docs/testing.md). ruff is fast enough to check all.
test: $(if $(CI),lint,lint-changed) dbt-test semantic pytest

SQL_DIRS := models macros tests analyses

lint: $(STAMP)
	STRATA_RAW_DIR=$(FIXTURE_DIR) $(BIN)/sqlfluff lint $(SQL_DIRS)
	$(BIN)/ruff check strata tools pytests
	$(BIN)/ruff format --check strata tools pytests

lint-changed: $(STAMP)
	@changed="$$( { git diff --name-only --diff-filter=d HEAD -- $(SQL_DIRS); \
		git ls-files --others --exclude-standard -- $(SQL_DIRS); } | grep '\.sql$$' | sort -u)"; \
	if [ -n "$$changed" ]; then \
		echo "sqlfluff lint (changed files):" $$changed; \
		STRATA_RAW_DIR=$(FIXTURE_DIR) $(BIN)/sqlfluff lint $$changed; \
	else echo "sqlfluff: no SQL file changed since the last commit (make lint checks all)"; fi
	$(BIN)/ruff check strata tools pytests
	$(BIN)/ruff format --check strata tools pytests

# The committed fixture: a few dozen hand-written rows covering every cleaning rule. Most of them
# are dirt by design, so the quarantined-share guard is lifted for it (pytest tests the guards).
FIXTURE_VARS := '{guard_max_quarantined_share: 1, guard_max_new_quarantined_share: 1}'

# The fixture's audiences (tests/fixtures/audiences), checked and turned into var audiences by the
# CLI, as `strata run` does with audiences/*.yml (docs/audiences.md).
FIXTURE_AUDIENCES := tests/fixtures/audiences

dbt-test: $(STAMP)
	rm -f $(FIXTURE_DB) && mkdir -p $(dir $(FIXTURE_DB))
	STRATA_RAW_DIR=$(FIXTURE_DIR) STRATA_DB_PATH=$(FIXTURE_DB) $(BIN)/dbt build --fail-fast \
		--vars "$$($(BIN)/strata audiences vars --dir $(FIXTURE_AUDIENCES) --raw-dir $(FIXTURE_DIR) \
		--vars $(FIXTURE_VARS))"

# The semantic layer (models/marts/semantic): MetricFlow validates every semantic model, dimension,
# measure and metric, and queries each against the fixture warehouse dbt-test just built.
semantic: $(STAMP)
	STRATA_RAW_DIR=$(FIXTURE_DIR) STRATA_DB_PATH=$(FIXTURE_DB) $(BIN)/mf validate-configs

# Two workers (pytest-xdist); tests that share a module's build stay on one worker (xdist_group),
# and the session's golden fixture build is made once for both (pytests/conftest.py).
PYTEST_WORKERS ?= 2

pytest: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadgroup --durations=10

# Sequences of daily runs, each warehouse compared with a fresh build for the same date: a season
# of simulated runs (issue #14, docs/scheduling.md: outages, late and corrected data, a refused day,
# a killed run, backfills) and incremental deliveries (issue #19, pytests/test_incremental.py);
# and the lifecycle history against six builds of a generated shop (test_history_equivalence).
# Each sequence is one xdist group: its module-scoped warehouse is built once, on one worker, and
# the sequences run side by side on the two cores (most of each is dbt starting and compiling,
# one core's work).
test-season: $(STAMP)
	$(BIN)/pytest -m season -n $(PYTEST_WORKERS) --dist loadgroup --durations=5

# ---- Spark (issue #8, docs/spark.md): the same project on local Spark, compared with DuckDB ----
# Not part of `make test`: it needs Java 17 and pyspark, and takes minutes rather than seconds.
SPARK_STAMP := $(VENV)/.spark-installed-stamp
SPARK_WORK := warehouse/engines
# The fixture's latest activity date, and a generated data set small enough for local Spark.
FIXTURE_AS_OF := 2025-06-03
SPARK_DEMO_USERS ?= 2000
SPARK_DEMO_SEED ?= 7
SPARK_DEMO_END := 2026-06-30
# Compared two days before the data ends, so that rows after D exist and rpt_data_notes has
# sentences to compare (their numbers are formatted by engine-specific SQL).
SPARK_DEMO_AS_OF := 2026-06-28
# Before the compared run, the demo's snapshots are built as a backfill for a later day with a
# later var rfm_snapshot_begin leaves them (compare_engines, $(5) to $(7)): the compared run must
# drop the month end after its own D (2026-06-30), keep March to May, and append every month
# before March.
SPARK_DEMO_EARLIER := 2026-06-30
SPARK_DEMO_EARLIER_VARS := {rfm_snapshot_begin: "2026-03-01"}
SPARK_DEMO_LAYOUT := STRATA_RAW_TABLES=orders,sessions STRATA_RAW_LAYOUT=orders=orders.parquet,sessions=sessions/

install-spark: $(SPARK_STAMP)

$(SPARK_STAMP): $(STAMP)
	@command -v java >/dev/null || { echo "make test-spark needs Java 17 (java on PATH)"; exit 2; }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint requirements/constraints.txt --editable '.[dev,metricflow,spark]'
	@touch $@

# Builds one raw data set on DuckDB (plain dbt build) and on local Spark (strata run --target
# spark: the path Spark users take, which also computes the predictions dbt-spark cannot run as
# Python models) for the same as-of date, then compares every table of both builds row for row.
# $(1): name, $(2): raw folder, $(3): as-of date, $(4): audience definitions (the fixture's, with
# its uploaded list, or the project's). The fixture is dirt by design: its quarantine
# guards are lifted on both engines. The trigger models (schema triggers) are computed for the
# same moment on both: 20:00 UTC on the as-of date.
# $(5), optional: another as-of date, $(6) the raw tables' layout on Spark (env, as the CLI names
# it) and $(7) the vars of that build. Spark's one incremental model, fct_user_rfm_snapshots, is
# then first built for that date and those vars with what it reads, as an earlier run leaves it,
# so that the compared `strata run` updates it in place (stale snapshot dates dropped as
# partitions, missing ones appended) and must still equal DuckDB's fresh build. Every other model
# is a full rebuild on Spark.
SPARK_VARS := {guard_max_quarantined_share: 1, guard_max_new_quarantined_share: 1}
define spark_earlier_snapshots
	STRATA_SPARK_DIR=$(CURDIR)/$(SPARK_WORK)/$(1)/spark SPARK_LOCAL_IP=127.0.0.1 \
		STRATA_RAW_DIR=$(CURDIR)/$(2) $(4) STRATA_AS_OF_DATE=$(3) \
		DBT_TARGET_PATH=target/engines-spark-earlier $(BIN)/dbt build --quiet --target spark \
		--select +fct_user_rfm_snapshots --exclude-resource-type test \
		--exclude-resource-type unit_test --vars '$(5)'
endef
define compare_engines
	rm -rf $(SPARK_WORK)/$(1) && mkdir -p $(SPARK_WORK)/$(1)/spark
	$(if $(5),$(call spark_earlier_snapshots,$(1),$(2),$(5),$(6),$(7)))
	STRATA_RAW_DIR=$(CURDIR)/$(2) STRATA_DB_PATH=$(SPARK_WORK)/$(1)/duckdb.duckdb \
		STRATA_AS_OF_DATE=$(3) STRATA_TRIGGER_AS_OF=$(3)T20:00:00 DBT_TARGET_PATH=target/engines-duckdb \
		$(BIN)/dbt build --quiet --fail-fast --vars "$$($(BIN)/strata audiences vars --dir $(4) \
		--raw-dir $(2) --vars '$(SPARK_VARS)')"
	STRATA_SPARK_DIR=$(CURDIR)/$(SPARK_WORK)/$(1)/spark SPARK_LOCAL_IP=127.0.0.1 \
		STRATA_AUDIENCES_DIR=$(4) $(BIN)/strata run --target spark --raw-dir $(2) --as-of $(3) \
		--at $(3)T20:00:00 \
		--vars '$(SPARK_VARS)' --db $(SPARK_WORK)/$(1)/spark/state.duckdb
	$(BIN)/python -m tools.engines --duckdb $(SPARK_WORK)/$(1)/duckdb.duckdb \
		--spark-dir $(SPARK_WORK)/$(1)/spark --duckdb-results target/engines-duckdb/run_results.json \
		--spark-db $(SPARK_WORK)/$(1)/spark/state.duckdb
endef

test-spark: install-spark
	$(call compare_engines,fixture,$(FIXTURE_DIR),$(FIXTURE_AS_OF),$(FIXTURE_AUDIENCES))
	# The unit tests on Spark too, against the tables the fixture build left there.
	STRATA_RAW_DIR=$(CURDIR)/$(FIXTURE_DIR) STRATA_RAW_FORMAT=csv \
		STRATA_SPARK_DIR=$(CURDIR)/$(SPARK_WORK)/fixture/spark DBT_TARGET_PATH=target/engines-spark \
		SPARK_LOCAL_IP=127.0.0.1 $(BIN)/dbt test --quiet --target spark --select "test_type:unit" \
		--vars "$$($(BIN)/strata audiences vars --dir $(FIXTURE_AUDIENCES) --raw-dir $(FIXTURE_DIR))"
	rm -rf $(SPARK_WORK)/demo-data
	$(BIN)/strata generate --users $(SPARK_DEMO_USERS) --seed $(SPARK_DEMO_SEED) \
		--end-date $(SPARK_DEMO_END) --out $(SPARK_WORK)/demo-data
	# The demo's sessions as a folder of parts, the daily-delivery layout the README recommends:
	# Spark reads each table by the path the CLI's listing names (env STRATA_RAW_LAYOUT).
	mkdir -p $(SPARK_WORK)/demo-data/sessions
	mv $(SPARK_WORK)/demo-data/sessions.parquet $(SPARK_WORK)/demo-data/sessions/part-0.parquet
	$(call compare_engines,demo,$(SPARK_WORK)/demo-data,$(SPARK_DEMO_AS_OF),audiences,$(SPARK_DEMO_EARLIER),$(SPARK_DEMO_LAYOUT),$(SPARK_DEMO_EARLIER_VARS))
	$(BIN)/strata status --db $(SPARK_WORK)/demo/spark/state.duckdb --limit 1

# ---- Benchmark (issue #9, docs/benchmarks.md): prints figures, asserts none ----
# BENCH_USERS: the sizes; BENCH_10M=1 adds the 10M-user step (generate, build, baseline and the
# new day's `strata run`; hours on 2 cores, see docs/benchmarks.md); BENCH_SPARK=1 adds the
# Spark row at BENCH_SPARK_USERS (strata run --target spark beside DuckDB's, every mart compared).
BENCH_USERS ?= 100000 1000000
BENCH_DOCS ?= docs/benchmarks.md
# dbt threads for the benchmark: 1, because DuckDB already spreads each model over every core.
BENCH_THREADS ?= 1
BENCH_SPARK_USERS ?= 1000000

bench: $(STAMP) $(if $(BENCH_SPARK),$(SPARK_STAMP))
	$(BIN)/python -m tools.bench $(addprefix --users ,$(BENCH_USERS)) $(if $(BENCH_10M),--with-10m) \
		$(if $(BENCH_SPARK),--spark-users $(BENCH_SPARK_USERS)) \
		--threads $(BENCH_THREADS) --docs $(BENCH_DOCS)

clean:
	rm -rf target logs warehouse/*.duckdb warehouse/*.wal warehouse/.tmp warehouse/fixture warehouse/engines warehouse/bench
