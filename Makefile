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
FIXTURE_DB := warehouse/fixture.duckdb

# dbt reads profiles.yml from the repository root.
export DBT_PROFILES_DIR := $(CURDIR)
export DBT_SEND_ANONYMOUS_USAGE_STATS := false

.PHONY: install run test lint dbt-test pytest demo-data clean

install: $(STAMP)

$(STAMP): pyproject.toml requirements/constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip==25.3
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		--constraint requirements/constraints.txt --editable '.[dev]'
	@touch $@

# Demo data is generated once (deterministic: same seed, same users) into a git-ignored folder.
demo-data: $(STAMP)
	@test -f $(DEMO_DIR)/orders.parquet -a -f $(DEMO_DIR)/sessions.parquet || \
		$(BIN)/strata generate --users $(DEMO_USERS) --seed $(DEMO_SEED) --out $(DEMO_DIR)

run: demo-data
	$(BIN)/strata run --raw-dir $(DEMO_DIR)

test: lint dbt-test pytest

lint: $(STAMP)
	STRATA_RAW_DIR=$(FIXTURE_DIR) $(BIN)/sqlfluff lint models macros tests analyses
	$(BIN)/ruff check strata pytests
	$(BIN)/ruff format --check strata pytests

# The committed fixture: a few dozen hand-written rows covering every cleaning rule.
dbt-test: $(STAMP)
	rm -f $(FIXTURE_DB)
	STRATA_RAW_DIR=$(FIXTURE_DIR) STRATA_DB_PATH=$(FIXTURE_DB) $(BIN)/dbt build --fail-fast

pytest: $(STAMP)
	$(BIN)/pytest

clean:
	rm -rf target logs warehouse/*.duckdb warehouse/*.wal warehouse/.tmp
