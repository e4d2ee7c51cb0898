"""Orders written as the raw contract's minimal `orders.csv` (README, "Running on your own data"),
for the tests that build a shop from orders alone."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

COLUMNS = ("order_id", "user_id", "ordered_at", "status", "amount", "currency")


def write_orders_csv(folder: Path, rows: Sequence[Sequence[str]]) -> int:
    """`folder`/orders.csv with the contract's required columns and `rows`; returns their count."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "orders.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    return len(rows)
