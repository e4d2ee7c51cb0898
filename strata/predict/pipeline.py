"""From the warehouse's buyer summaries to fitted models and per-buyer predictions.

The dbt Python models on DuckDB (models/intermediate/predictions/) and the strata CLI on Spark
(which cannot run dbt Python models) both call these two functions on the same Arrow tables, so
the predictions are the same on both engines. Input: `int_buyers_summarised`, one row per buyer
and purpose (`current`: as of D; `calibration`: as of D minus the holdout), with the models'
sufficient statistics in days (x, t_x, T) and the mean of the repeat days' spend.

Time is in days throughout (alpha is per day); money in the reporting currency.
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from strata.predict.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_p_alive,
    discounted_expected_purchases,
    fit_bgnbd,
    group_customers,
)
from strata.predict.gamma_gamma import fit_gamma_gamma, gamma_gamma_expected_spend

PURPOSES = ("current", "calibration")
TIME_UNIT = "day"

FIT_SCHEMA = pa.schema(
    [
        ("purpose", pa.string()),
        ("cutoff_date", pa.date32()),
        ("model", pa.string()),
        ("r", pa.float64()),
        ("alpha", pa.float64()),
        ("a", pa.float64()),
        ("b", pa.float64()),
        ("p", pa.float64()),
        ("q", pa.float64()),
        ("v", pa.float64()),
        ("log_likelihood", pa.float64()),
        ("customers_used", pa.int64()),
        ("repeat_buyers_used", pa.int64()),
        ("time_unit", pa.string()),
        ("is_converged", pa.bool_()),
        ("message", pa.string()),
        ("iterations", pa.int64()),
        ("settings", pa.string()),
    ]
)


@dataclasses.dataclass(frozen=True)
class PredictionSettings:
    """The prediction vars of dbt_project.yml (docs/predictions.md), read once."""

    horizons_days: tuple[int, ...]
    holdout_days: int
    clv_horizon_days: int
    clv_step_days: int
    clv_annual_discount_rate: float
    min_repeat_buyers: int

    def __post_init__(self) -> None:
        if self.clv_step_days <= 0 or self.clv_horizon_days % self.clv_step_days:
            raise ValueError(
                f"var clv_horizon_days ({self.clv_horizon_days}) must be a whole number of "
                f"var clv_step_days ({self.clv_step_days}), e.g. 360 and 30"
            )
        if not self.horizons_days or min(self.horizons_days) <= 0 or self.holdout_days <= 0:
            raise ValueError(
                "vars prediction_horizon_days and prediction_holdout_days must be positive days"
            )

    @classmethod
    def from_vars(cls, var: Any) -> PredictionSettings:
        """From dbt's `var` (a Python model's dbt.config.get or a mapping's get)."""
        return cls(
            horizons_days=tuple(int(days) for days in var("prediction_horizon_days")),
            holdout_days=int(var("prediction_holdout_days")),
            clv_horizon_days=int(var("clv_horizon_days")),
            clv_step_days=int(var("clv_step_days")),
            clv_annual_discount_rate=float(var("clv_annual_discount_rate")),
            min_repeat_buyers=int(var("prediction_min_repeat_buyers")),
        )

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> PredictionSettings:
        values = json.loads(text)
        values["horizons_days"] = tuple(values["horizons_days"])
        return cls(**values)

    @property
    def discount_rate_per_step(self) -> float:
        """The annual rate as a rate per CLV step (10% a year is about 0.79% per 30 days)."""
        return (1.0 + self.clv_annual_discount_rate) ** (self.clv_step_days / 365.0) - 1.0


def _column(table: pa.Table, name: str) -> np.ndarray:
    return np.asarray(table.column(name).to_numpy(zero_copy_only=False), dtype=np.float64)


def _purpose(buyers: pa.Table, purpose: str) -> pa.Table:
    mask = np.asarray(buyers.column("purpose").to_numpy(zero_copy_only=False)) == purpose
    return buyers.filter(pa.array(mask))


def _finite_or_none(value: float) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def fit_models(buyers: pa.Table, settings: PredictionSettings) -> pa.Table:
    """One row per purpose and model (BG/NBD, Gamma-Gamma): parameters, log-likelihood, what
    was used, and whether the fit converged (and why not). Never raises for the data's sake."""
    rows: list[dict[str, Any]] = []
    for purpose in PURPOSES:
        part = _purpose(buyers, purpose)
        cutoffs = part.column("cutoff_date").to_pylist()
        cutoff = cutoffs[0] if cutoffs else None
        if part.num_rows == 0:
            for model in ("bgnbd", "gamma_gamma"):
                rows.append(_fit_row(purpose, cutoff, model, message="no buyers by the cut-off"))
            continue
        x = _column(part, "repeat_purchase_days")
        grouped = group_customers(
            x, _column(part, "days_first_to_last"), _column(part, "days_first_to_cutoff")
        )
        bg = fit_bgnbd(
            grouped.x, grouped.t_x, grouped.T, grouped.weight,
            min_repeat_buyers=settings.min_repeat_buyers,
        )  # fmt: skip
        rows.append(
            _fit_row(
                purpose,
                cutoff,
                "bgnbd",
                r=bg.r,
                alpha=bg.alpha,
                a=bg.a,
                b=bg.b,
                log_likelihood=bg.log_likelihood,
                customers=bg.n_customers,
                repeat_buyers=bg.n_repeat_buyers,
                converged=bg.converged,
                message=bg.message,
                iterations=bg.iterations,
            )
        )
        spend = _column(part, "mean_repeat_spend")
        usable = (x > 0) & np.isfinite(spend) & (spend > 0)
        (gx, gz), counts = _distinct(x[usable], spend[usable])
        gg = fit_gamma_gamma(gx, gz, counts, min_customers=settings.min_repeat_buyers)
        rows.append(
            _fit_row(
                purpose,
                cutoff,
                "gamma_gamma",
                p=gg.p,
                q=gg.q,
                v=gg.v,
                log_likelihood=gg.log_likelihood,
                customers=gg.n_customers,
                repeat_buyers=gg.n_customers,
                converged=gg.converged,
                message=gg.message,
                iterations=gg.iterations,
            )
        )
    for row in rows:
        row["settings"] = settings.to_json()
    return pa.Table.from_pylist(rows, schema=FIT_SCHEMA)


def settings_of(fits: pa.Table) -> PredictionSettings:
    """The settings the fits were made with (recorded on every row)."""
    return PredictionSettings.from_json(fits.column("settings")[0].as_py())


def _distinct(x: np.ndarray, z: np.ndarray) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    if x.size == 0:
        return (x, z), np.zeros(0)
    pairs, counts = np.unique(np.stack([x, z], axis=1), axis=0, return_counts=True)
    return (pairs[:, 0], pairs[:, 1]), counts.astype(np.float64)


def _fit_row(
    purpose: str,
    cutoff: Any,
    model: str,
    *,
    message: str = "",
    converged: bool = False,
    customers: float = 0.0,
    repeat_buyers: float = 0.0,
    iterations: int = 0,
    log_likelihood: float = math.nan,
    **params: float,
) -> dict[str, Any]:
    row: dict[str, Any] = {name: None for name in ("r", "alpha", "a", "b", "p", "q", "v")}
    row.update({name: _finite_or_none(value) for name, value in params.items()})
    row.update(
        purpose=purpose,
        cutoff_date=cutoff,
        model=model,
        log_likelihood=_finite_or_none(log_likelihood),
        customers_used=round(customers),
        repeat_buyers_used=round(repeat_buyers),
        time_unit=TIME_UNIT,
        is_converged=bool(converged),
        message=message or None,
        iterations=int(iterations),
    )
    return row


def prediction_schema(settings: PredictionSettings) -> pa.Schema:
    return pa.schema(
        [
            ("purpose", pa.string()),
            ("user_id", pa.string()),
            ("p_alive", pa.float64()),
            *[(f"expected_purchases_{days}d", pa.float64()) for days in settings.horizons_days],
            ("expected_purchases_holdout", pa.float64()),
            ("discounted_expected_purchases", pa.float64()),
            ("expected_average_order_value", pa.float64()),
            ("predicted_clv", pa.float64()),
        ]
    )


def score_buyers(buyers: pa.Table, fits: pa.Table, settings: PredictionSettings) -> pa.Table:
    """Per buyer and purpose: P(alive), expected purchase days over each horizon (and over the
    holdout, for the calibration cut-off), the expected spend per purchase day and the discounted
    value over the CLV horizon. Null wherever its model did not converge."""
    parameters = _fitted(fits)
    schema = prediction_schema(settings)
    parts = []
    for purpose in PURPOSES:
        part = _purpose(buyers, purpose)
        if part.num_rows == 0:
            continue
        x = _column(part, "repeat_purchase_days")
        t_x = _column(part, "days_first_to_last")
        age = _column(part, "days_first_to_cutoff")
        spend = _column(part, "mean_repeat_spend")
        bg = parameters.get((purpose, "bgnbd"))
        gg = parameters.get((purpose, "gamma_gamma"))
        missing = np.full(part.num_rows, np.nan)
        discounted = (
            discounted_expected_purchases(
                bg,
                x,
                t_x,
                age,
                horizon=settings.clv_horizon_days,
                step=settings.clv_step_days,
                discount_rate_per_step=settings.discount_rate_per_step,
            )
            if bg
            else missing
        )
        aov = gamma_gamma_expected_spend(gg, x, spend) if gg else missing
        values = {
            "p_alive": bgnbd_p_alive(bg, x, t_x, age) if bg else missing,
            **{
                f"expected_purchases_{days}d": (
                    bgnbd_conditional_expected_purchases(bg, days, x, t_x, age) if bg else missing
                )
                for days in settings.horizons_days
            },
            "expected_purchases_holdout": (
                bgnbd_conditional_expected_purchases(bg, settings.holdout_days, x, t_x, age)
                if bg and purpose == "calibration"
                else missing
            ),
            "discounted_expected_purchases": discounted,
            "expected_average_order_value": aov,
            "predicted_clv": discounted * aov,
        }
        arrays = [
            pa.array([purpose] * part.num_rows, pa.string()),
            part.column("user_id").cast(pa.string()),
            *[_nullable(values[name]) for name in schema.names[2:]],
        ]
        parts.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _nullable(array: np.ndarray) -> pa.Array:
    """A float column with null where the model gave no finite value."""
    array = np.asarray(array, dtype=np.float64)
    return pa.array(array, type=pa.float64(), mask=~np.isfinite(array))


def _fitted(fits: pa.Table) -> Mapping[tuple[str, str], tuple[float, ...]]:
    """The converged models' parameters, by (purpose, model)."""
    found: dict[tuple[str, str], tuple[float, ...]] = {}
    for row in fits.to_pylist():
        if not row["is_converged"]:
            continue
        names: Sequence[str] = ("r", "alpha", "a", "b") if row["model"] == "bgnbd" else "pqv"
        found[(row["purpose"], row["model"])] = tuple(float(row[name]) for name in names)
    return found
