"""The benchmark behind `make bench`: strata's cost at 100k, 1M (and optionally 10M) users.

For each size (`python -m tools.bench`, tools.bench.cli) it

1. generates demo data up to the new day D (2026-06-30) with the product's `strata generate`
   (deterministic: seed 42, fixed end date; kept between runs per generator version), and splits
   each table into deliveries (tools.bench.deliveries): `orders/history.parquet` (up to D-1) in
   the raw folder, `orders/<D>.parquet` pending, the same for sessions;
2. builds the raw folder as of D-1 phase by phase, each phase a dbt process of its own so that
   its wall time and peak memory (tools.bench.measure) are its own:

       parse         dbt parse
       staging       dbt seed + dbt run -s staging       (raw files read, cleaned, quarantined)
       intermediate  dbt run -s intermediate
       marts         dbt run -s marts                    (includes the RFM snapshot backfill)
       tests         dbt test, data tests only           (unit tests belong to `make test`)
       publish       strata's atomic publish of the marts

3. runs the hand-written baseline query (bench/baseline_duckdb.sql, tools.baseline) on the same
   raw files, checks that it agrees with strata on every user's lifecycle stage and R, F and M
   scores, and only then reports "dim_users and upstream" divided by the baseline's time;
4. runs the plain floor (bench/floor_duckdb.sql: the same answers with `try_cast` and no cleaning
   rule) and reports the full build (every model) divided by it;
5. delivers day D's files and times `dbt run` as of D on the same warehouse against
   `dbt run --full-refresh` as of D on a fresh warehouse of the same raw folder; every table of
   `marts` must be equal in the two, row for row, before the share is printed. `strata run` as
   of D on a copy of the D-1 warehouse is timed too, for information.

`--with-10m` adds the 10M-user step: generate, build and baseline (steps 1 to 3).

Every Python step measured runs real code in a process of its own (`python -m tools.bench.step`,
tools.bench.step). Nothing here asserts a time: figures are printed (tools.bench.report) and,
with --docs, written to docs/benchmarks.md. Machines are shared and noisy; read the figures as
what one run measured.
"""
