"""`python -m tools.bench`: see tools.bench."""

from tools.bench.cli import main

main(prog_name="python -m tools.bench")
