"""Developer tools beside the strata package: the benchmark (`python -m tools.bench`, make bench),
its hand-written baseline and floor queries (tools.baseline), and the DuckDB/Spark comparison
(`python -m tools.engines`, make test-spark).

They live outside `strata/` on purpose: the wheel ships `strata*` only (pyproject.toml), so none
of this reaches a user's installation. Run them from the repository root, which is on pytest's
path (`pythonpath = ["."]`) and on Python's when started with `python -m` from there.
"""
