"""The CDNOW 1/10th sample as the papers use it, for the tests of strata.predict: a purchase is a
purchase DAY, calibration ends with 1997-09-30 (its purchases included), times in weeks."""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

CDNOW_DIR = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cdnow"
CALIBRATION_END = dt.date(1997, 9, 30)
HOLDOUT_END = dt.date(1998, 6, 30)


def purchase_days() -> dict[int, dict[dt.date, float]]:
    """Sample customer id -> purchase day -> the day's dollar total."""
    days: dict[int, dict[dt.date, float]] = defaultdict(lambda: defaultdict(float))
    with (CDNOW_DIR / "CDNOW_sample.txt").open() as lines:
        for line in lines:
            _master, customer, date, _cds, dollars = line.split()
            day = dt.date(int(date[:4]), int(date[4:6]), int(date[6:]))
            days[int(customer)][day] += float(dollars)
    return days


def cdnow_calibration() -> dict[str, np.ndarray]:
    """Per customer, in customer id order: `id`, the calibration statistics `x`, `t_x`, `T` in
    WEEKS, `mean_spend` (the mean of the repeat purchase days' totals, NaN when x = 0) and
    `holdout_x` (purchase days in the 39-week holdout)."""
    columns: dict[str, list[float]] = defaultdict(list)
    for customer, spend_by_day in sorted(purchase_days().items()):
        calibration = sorted(day for day in spend_by_day if day <= CALIBRATION_END)
        first, repeats = calibration[0], calibration[1:]
        columns["id"].append(customer)
        columns["x"].append(len(repeats))
        columns["t_x"].append((calibration[-1] - first).days / 7)
        # T runs from the first purchase day to 1997-09-30 as a date difference: a customer
        # whose first purchase was on 1997-01-01 has T = 272 / 7 = 38.86 weeks.
        columns["T"].append((CALIBRATION_END - first).days / 7)
        columns["mean_spend"].append(
            sum(spend_by_day[day] for day in repeats) / len(repeats) if repeats else math.nan
        )
        columns["holdout_x"].append(
            sum(CALIBRATION_END < day <= HOLDOUT_END for day in spend_by_day)
        )
    return {name: np.array(values, dtype=np.float64) for name, values in columns.items()}
