"""From the warehouse's buyer summaries to fitted models and per-buyer predictions.

Three models of repeat purchasing are fitted on every build (BG/NBD, Pareto/NBD and the
modified BG/NBD, strata.predict.repeat_models) and one is chosen per shop by the back-test: each
is fitted at the calibration cut-off (D minus the holdout), predicts every calibration buyer's
purchase days in the holdout, and the one with the smallest mean absolute error per buyer is used
for the predictions as of D (docs/predictions.md, "Which model"). Gamma-Gamma gives the spend.

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

from strata.predict.bgnbd import group_customers
from strata.predict.gamma_gamma import fit_gamma_gamma, gamma_gamma_expected_spend
from strata.predict.repeat_models import REPEAT_MODELS, RepeatModel, next_purchase_quantiles

PURPOSES = ("current", "calibration")
PARAMETERS = ("r", "alpha", "a", "b", "s", "beta", "p", "q", "v")
# The next purchase's interval: these quantiles of the wait (docs/predictions.md).
NEXT_PURCHASE_QUANTILES = (0.1, 0.5, 0.9)
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
        ("s", pa.float64()),
        ("beta", pa.float64()),
        ("p", pa.float64()),
        ("q", pa.float64()),
        ("v", pa.float64()),
        ("log_likelihood", pa.float64()),
        ("holdout_mean_absolute_error", pa.float64()),
        ("holdout_predicted_purchase_days", pa.float64()),
        ("holdout_actual_purchase_days", pa.float64()),
        ("is_chosen", pa.bool_()),
        ("choice", pa.string()),
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


@dataclasses.dataclass(frozen=True)
class FitInputs:
    """What the fits of one purpose read: the repeat models' rows (x, t_x, T and the holdout's
    purchase days) and Gamma-Gamma's (x and the mean repeat spend), each row standing for
    `weight` buyers. From one row per buyer (weight 1: the DuckDB Python model) or from rows
    grouped by those values (the Spark path, which never brings every buyer into one process);
    either way the fits are the same, bit for bit."""

    cutoff: Any
    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    holdout: np.ndarray
    weight: np.ndarray
    spend_x: np.ndarray
    spend: np.ndarray
    spend_weight: np.ndarray

    @property
    def buyers(self) -> float:
        return float(self.weight.sum())


def _weights(table: pa.Table) -> np.ndarray:
    if "buyers" in table.column_names:
        return _column(table, "buyers")
    return np.ones(table.num_rows)


def fit_inputs(buyers: pa.Table, spend_rows: pa.Table | None = None) -> dict[str, FitInputs]:
    """Per purpose, the fits' inputs from `buyers` (one row per buyer, or grouped rows with a
    `buyers` column counting the buyers each stands for); Gamma-Gamma's from `spend_rows` when
    given (grouped by purpose, x and mean repeat spend), else from `buyers`."""
    inputs = {}
    for purpose in PURPOSES:
        part = _purpose(buyers, purpose)
        spend_part = _purpose(spend_rows, purpose) if spend_rows is not None else part
        cutoffs = part.column("cutoff_date").to_pylist()
        spend_x = _column(spend_part, "repeat_purchase_days")
        spend = _column(spend_part, "mean_repeat_spend")
        usable = (spend_x > 0) & np.isfinite(spend) & (spend > 0)
        inputs[purpose] = FitInputs(
            cutoff=cutoffs[0] if cutoffs else None,
            x=_column(part, "repeat_purchase_days"),
            t_x=_column(part, "days_first_to_last"),
            T=_column(part, "days_first_to_cutoff"),
            holdout=np.nan_to_num(_column(part, "holdout_purchase_days")),
            weight=_weights(part),
            spend_x=spend_x[usable],
            spend=spend[usable],
            spend_weight=_weights(spend_part)[usable],
        )
    return inputs


def fit_models(buyers: pa.Table, settings: PredictionSettings) -> pa.Table:
    """One row per purpose and model (the three repeat-purchase models and Gamma-Gamma):
    parameters, log-likelihood, what was used, whether the fit converged (and why not), the
    back-test of each repeat model and which one is chosen. Never raises for the data's sake."""
    return fit_models_on(fit_inputs(buyers), settings)


def fit_models_on(inputs: Mapping[str, FitInputs], settings: PredictionSettings) -> pa.Table:
    """`fit_models` on inputs already gathered (`fit_inputs`)."""
    rows: list[dict[str, Any]] = []
    for purpose in PURPOSES:
        part = inputs[purpose]
        cutoff = part.cutoff
        if part.buyers == 0:
            for model in (*REPEAT_MODELS, "gamma_gamma"):
                rows.append(_fit_row(purpose, cutoff, model, message="no buyers by the cut-off"))
            continue
        grouped = group_customers(part.x, part.t_x, part.T, part.weight)
        for name, repeat_model in REPEAT_MODELS.items():
            fit = repeat_model.fit(
                grouped.x, grouped.t_x, grouped.T, grouped.weight,
                min_repeat_buyers=settings.min_repeat_buyers,
            )  # fmt: skip
            params = dict(zip(repeat_model.param_names, fit.params, strict=True))
            row = _fit_row(
                purpose,
                cutoff,
                name,
                log_likelihood=fit.log_likelihood,
                customers=fit.n_customers,
                repeat_buyers=fit.n_repeat_buyers,
                converged=fit.converged,
                message=fit.message,
                iterations=fit.iterations,
                **params,
            )
            if purpose == "calibration" and fit.converged:
                row.update(_back_test(repeat_model, fit.params, part, settings))
            rows.append(row)
        (gx, gz), counts = _distinct(part.spend_x, part.spend, part.spend_weight)
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
    _choose(rows)
    for row in rows:
        row["settings"] = settings.to_json()
    return pa.Table.from_pylist(rows, schema=FIT_SCHEMA)


def _back_test(
    model: RepeatModel, params: tuple[float, ...], part: FitInputs, settings: PredictionSettings
) -> dict[str, float]:
    """A calibration fit against the holdout that followed it: the purchase days it predicts for
    each calibration buyer over the holdout, against those the buyer made."""
    predicted = model.conditional_expected_purchases(
        params, settings.holdout_days, part.x, part.t_x, part.T
    )
    if predicted.size == 0 or not np.all(np.isfinite(predicted)):
        return {}
    # Exact sums, so the figures do not depend on the order the buyers came in, nor on whether
    # a row stands for one buyer or for many.
    return {
        "holdout_mean_absolute_error": _exact_sum(np.abs(predicted - part.holdout), part.weight)
        / part.buyers,
        "holdout_predicted_purchase_days": _exact_sum(predicted, part.weight),
        "holdout_actual_purchase_days": _exact_sum(part.holdout, part.weight),
    }


def _exact_sum(values: np.ndarray, weights: np.ndarray) -> float:
    """The sum of values times whole-number weights, rounded once (math.fsum of the products,
    each split exactly into its rounded value and its rounding error by Dekker's product): the
    same float as math.fsum over every value repeated `weight` times."""
    product = values * weights
    split = 134217729.0  # 2**27 + 1

    def halves(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        scaled = split * a
        high = scaled - (scaled - a)
        return high, a - high

    value_high, value_low = halves(values)
    weight_high, weight_low = halves(weights)
    error = (
        (value_high * weight_high - product) + value_high * weight_low + value_low * weight_high
    ) + value_low * weight_low
    return math.fsum(np.concatenate([product, error]).tolist())


def _choose(rows: list[dict[str, Any]]) -> None:
    """Mark the repeat model the predictions use (`is_chosen` on both of its rows) and say why
    on every candidate (`choice`): the smallest back-test error among the models that converged
    at both cut-offs; without a back-test, the first of REPEAT_MODELS that converged."""
    by = {(row["purpose"], row["model"]): row for row in rows}
    usable = [
        name
        for name in REPEAT_MODELS
        if by.get(("current", name), {}).get("is_converged")
        and by.get(("calibration", name), {}).get("is_converged")
    ]
    tested = [
        n for n in usable if by[("calibration", n)]["holdout_mean_absolute_error"] is not None
    ]
    if tested:
        chosen = min(tested, key=lambda n: by[("calibration", n)]["holdout_mean_absolute_error"])
        best = by[("calibration", chosen)]["holdout_mean_absolute_error"]
        why = f"smallest back-test error ({best:.4f} purchase days per buyer over the holdout)"
    else:
        current = [n for n in REPEAT_MODELS if by.get(("current", n), {}).get("is_converged")]
        chosen = current[0] if current else None
        why = "no back-test (the calibration fits did not converge): the first model that fitted"
    for row in rows:
        if row["model"] not in REPEAT_MODELS:
            continue
        row["is_chosen"] = row["model"] == chosen
        if row["model"] == chosen:
            row["choice"] = f"chosen: {why}"
        elif not row["is_converged"]:
            row["choice"] = "not used: did not converge"
        else:
            row["choice"] = f"not used: {chosen} was chosen" if chosen else "not used"


def settings_of(fits: pa.Table) -> PredictionSettings:
    """The settings the fits were made with (recorded on every row)."""
    return PredictionSettings.from_json(fits.column("settings")[0].as_py())


def _distinct(
    x: np.ndarray, z: np.ndarray, weight: np.ndarray
) -> tuple[tuple[np.ndarray, np.ndarray], np.ndarray]:
    """Distinct (x, z) pairs, sorted, with the buyers each stands for."""
    if x.size == 0:
        return (x, z), np.zeros(0)
    pairs, inverse = np.unique(np.stack([x, z], axis=1), axis=0, return_inverse=True)
    counts = np.bincount(inverse.ravel(), weights=weight, minlength=len(pairs))
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
    row: dict[str, Any] = {name: None for name in PARAMETERS}
    row.update(
        holdout_mean_absolute_error=None,
        holdout_predicted_purchase_days=None,
        holdout_actual_purchase_days=None,
        is_chosen=None,
        choice=None,
    )
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
            ("purchase_model", pa.string()),
            *[
                (f"next_purchase_days_p{round(q * 100)}", pa.float64())
                for q in NEXT_PURCHASE_QUANTILES
            ],
        ]
    )


def score_buyers(buyers: pa.Table, fits: pa.Table, settings: PredictionSettings) -> pa.Table:
    """Per buyer and purpose, from the chosen repeat model: P(alive), expected purchase days over
    each horizon (and over the holdout, for the calibration cut-off), the discounted value over
    the CLV horizon with Gamma-Gamma's expected spend, and when the next purchase should come:
    the 10%, 50% and 90% quantiles of the wait in days after the cut-off, counting the chance
    that the buyer never buys again (null where that chance exceeds the quantile's). Null
    wherever no model converged."""
    parameters = _fitted(fits)
    chosen = _chosen(fits)
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
        model = REPEAT_MODELS[chosen] if chosen else None
        params = parameters.get((purpose, chosen)) if chosen else None
        gg = parameters.get((purpose, "gamma_gamma"))
        missing = np.full(part.num_rows, np.nan)
        fitted = model is not None and params is not None
        discounted = (
            model.discounted_expected_purchases(
                params,
                x,
                t_x,
                age,
                horizon=settings.clv_horizon_days,
                step=settings.clv_step_days,
                discount_rate_per_step=settings.discount_rate_per_step,
            )
            if fitted
            else missing
        )
        aov = gamma_gamma_expected_spend(gg, x, spend) if gg else missing
        p_alive = model.p_alive(params, x, t_x, age) if fitted else missing
        values = {
            "p_alive": p_alive,
            **{
                f"expected_purchases_{days}d": (
                    model.conditional_expected_purchases(params, days, x, t_x, age)
                    if fitted
                    else missing
                )
                for days in settings.horizons_days
            },
            "expected_purchases_holdout": (
                model.conditional_expected_purchases(params, settings.holdout_days, x, t_x, age)
                if fitted and purpose == "calibration"
                else missing
            ),
            "discounted_expected_purchases": discounted,
            "expected_average_order_value": aov,
            "predicted_clv": discounted * aov,
            **{
                f"next_purchase_days_p{round(q * 100)}": (
                    _wait_quantile(params, q, p_alive, x, age) if fitted else missing
                )
                for q in NEXT_PURCHASE_QUANTILES
            },
        }
        arrays = [
            pa.array([purpose] * part.num_rows, pa.string()),
            part.column("user_id").cast(pa.string()),
            *[
                pa.array([chosen if fitted else None] * part.num_rows, pa.string())
                if name == "purchase_model"
                else _nullable(values[name])
                for name in schema.names[2:]
            ],
        ]
        parts.append(pa.Table.from_arrays(arrays, schema=schema))
    return pa.concat_tables(parts) if parts else schema.empty_table()


def _wait_quantile(
    params: tuple[float, ...], q: float, p_alive: np.ndarray, x: np.ndarray, age: np.ndarray
) -> np.ndarray:
    """The q quantile of the days from the cut-off to the next purchase, counting the chance
    (1 - p_alive) that it never comes: the q / p_alive quantile of the wait of an alive buyer
    (strata.predict.repeat_models), NaN where q >= p_alive."""
    r, alpha = params[0], params[1]
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.where(p_alive > q, q / p_alive, np.nan)
        return next_purchase_quantiles(r, alpha, x, age, level)


def _nullable(array: np.ndarray) -> pa.Array:
    """A float column with null where the model gave no finite value."""
    array = np.asarray(array, dtype=np.float64)
    return pa.array(array, type=pa.float64(), mask=~np.isfinite(array))


def _fitted(fits: pa.Table) -> Mapping[tuple[str, str], tuple[float, ...]]:
    """The converged models' parameters, by (purpose, model), in each model's own order."""
    found: dict[tuple[str, str], tuple[float, ...]] = {}
    for row in fits.to_pylist():
        if not row["is_converged"]:
            continue
        model = REPEAT_MODELS.get(row["model"])
        names: Sequence[str] = model.param_names if model else ("p", "q", "v")
        found[(row["purpose"], row["model"])] = tuple(float(row[name]) for name in names)
    return found


def _chosen(fits: pa.Table) -> str | None:
    """The repeat model the fits chose (see `_choose`), if any."""
    for row in fits.to_pylist():
        if row.get("is_chosen"):
            return str(row["model"])
    return None
