"""Helpers shared by the prediction models: array coercion, grouping of rows, the input checks
and maximum-likelihood drivers of the fits (log-scale parameters, never raise), and the
conditional and discounted expectations built from a model's expectation if alive."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy import optimize

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.intp]

# Log-scale bounds of every parameter. A maximum that runs to e^+-18 (about 6.6e7 or 1.5e-8) is
# a degenerate fit (e.g. no heterogeneity, no dropout) that the data cannot pin down.
LOG_BOUND = 18.0
# A fit whose log-parameter has a standard error above this (a factor e^5 ~ 150 either way at one
# standard error) is not an estimate: typically a maximum approached along a flat ridge towards
# the boundary, e.g. no visible dropout sends the BG/NBD's a to 0 and b to infinity.
MAX_LOG_STANDARD_ERROR = 5.0
# A fit is accepted when every component of the gradient of the MEAN log-likelihood per customer
# with respect to the log-parameters is below this. At the paper's optimum a change of 1e-4 in
# any parameter moves it by far more, so this is tight enough to reproduce 3 decimals.
GRADIENT_TOLERANCE = 1e-7


def as_float_array(values: npt.ArrayLike) -> FloatArray:
    """`values` as a one-dimensional float64 array (a scalar becomes one element)."""
    return np.atleast_1d(np.asarray(values, dtype=np.float64)).ravel()


def weighted_sum(weights: FloatArray, values: FloatArray) -> float:
    """sum(weights * values). Not `weights @ values`: a BLAS dot product hands even a 20,000-long
    vector to OpenBLAS's threads, which measured 8 ms against 0.03 ms on a busy 2-core machine."""
    return float(np.sum(weights * values))


def unique_rows(*columns: FloatArray) -> tuple[list[FloatArray], IntArray]:
    """Distinct rows of equally long columns, sorted, and for every input row the index of its
    distinct row (so that `uniques[j][inverse]` gives back column j). One lexsort: cheaper than
    `np.unique(axis=0)` on a million rows."""
    n = columns[0].size
    if n == 0:
        return [column[:0] for column in columns], np.zeros(0, dtype=np.intp)
    order = np.lexsort(columns[::-1])
    ordered = [column[order] for column in columns]
    starts = np.zeros(n, dtype=bool)
    starts[0] = True
    for column in ordered:
        starts[1:] |= column[1:] != column[:-1]
    inverse = np.empty(n, dtype=np.intp)
    inverse[order] = np.cumsum(starts) - 1
    return [column[starts] for column in ordered], inverse


@dataclass(frozen=True)
class Optimum:
    """What `maximise` found: log-parameters, whether to trust them and why not."""

    log_params: FloatArray
    converged: bool
    message: str
    iterations: int
    log_standard_errors: FloatArray


def log_standard_errors(
    mean_log_likelihood: Callable[[FloatArray], tuple[float, FloatArray]],
    theta: FloatArray,
    n_customers: float,
) -> FloatArray:
    """Asymptotic standard errors of the log-parameters at a maximum: the square roots of the
    diagonal of the inverse observed information, n_customers times minus the Hessian of the mean
    log-likelihood (central differences of the exact gradient). NaN where the Hessian is not
    negative definite (a flat or saddle point)."""
    step = 1e-4
    columns = []
    with np.errstate(all="ignore"):
        for i in range(theta.size):
            shift = np.zeros_like(theta)
            shift[i] = step
            plus = mean_log_likelihood(theta + shift)[1]
            minus = mean_log_likelihood(theta - shift)[1]
            columns.append((plus - minus) / (2 * step))
    hessian = np.array(columns)
    information = -n_customers * (hessian + hessian.T) / 2
    nan = np.full(theta.size, np.nan)
    if not np.all(np.isfinite(information)):
        return nan
    try:
        cholesky = np.linalg.cholesky(information)
    except np.linalg.LinAlgError:
        return nan
    inverse_factor = np.linalg.inv(cholesky)
    return np.sqrt(np.sum(inverse_factor**2, axis=0))


def maximise(
    mean_log_likelihood: Callable[[FloatArray], tuple[float, FloatArray]],
    initial_log_params: FloatArray,
    names: tuple[str, ...],
    max_iterations: int,
    n_customers: float,
) -> Optimum:
    """Maximise a mean log-likelihood over log-parameters with L-BFGS-B and its exact gradient.

    `mean_log_likelihood(theta)` returns the mean log-likelihood per customer and its gradient
    with respect to theta (the logs of the parameters). L-BFGS-B is run up to three times, each
    restart from the previous end point: a restart clears the curvature memory, which finishes
    the last few digits when the first run stopped on its relative-decrease test. A maximum is
    accepted only if no parameter sits on a bound, the gradient vanishes and every log-parameter
    has a standard error below MAX_LOG_STANDARD_ERROR for `n_customers` customers.
    """

    def objective(theta: FloatArray) -> tuple[float, FloatArray]:
        with np.errstate(all="ignore"):
            value, gradient = mean_log_likelihood(theta)
        if not np.isfinite(value) or not np.all(np.isfinite(gradient)):
            # Tell the line search this point is infeasible rather than stop the optimiser.
            return np.inf, np.zeros_like(theta)
        return -value, -gradient

    theta = np.clip(initial_log_params, -LOG_BOUND, LOG_BOUND)
    unknown = np.full(theta.size, np.nan)
    start_value, _ = objective(theta)
    if not np.isfinite(start_value):
        return Optimum(
            theta, False, "log-likelihood is not finite at the starting values", 0, unknown
        )
    bounds = [(-LOG_BOUND, LOG_BOUND)] * theta.size
    iterations = 0
    message = ""
    gradient = np.full(theta.size, np.inf)
    for _ in range(3):
        result = optimize.minimize(
            objective,
            theta,
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            options={
                "maxiter": max(max_iterations - iterations, 1),
                "ftol": 1e-15,
                "gtol": GRADIENT_TOLERANCE / 10,
                "maxcor": 20,
            },
        )
        iterations += int(result.nit)
        theta = np.asarray(result.x, dtype=np.float64)
        _, gradient = objective(theta)
        message = str(result.message)
        if np.max(np.abs(gradient)) <= GRADIENT_TOLERANCE or iterations >= max_iterations:
            break

    at_bound = [
        name for name, value in zip(names, theta, strict=True) if LOG_BOUND - abs(value) < 1e-6
    ]
    if at_bound:
        return Optimum(
            theta,
            False,
            f"{', '.join(at_bound)} ran to the bound exp(+-{LOG_BOUND:g}): the data do not "
            "identify the model (degenerate maximum)",
            iterations,
            unknown,
        )
    worst = float(np.max(np.abs(gradient)))
    if not np.isfinite(worst) or worst > GRADIENT_TOLERANCE:
        return Optimum(
            theta,
            False,
            f"optimiser stopped without converging after {iterations} iterations "
            f"(max |gradient| {worst:.3g}): {message}",
            iterations,
            unknown,
        )
    errors = log_standard_errors(mean_log_likelihood, theta, n_customers)
    if not np.all(np.isfinite(errors)):
        return Optimum(
            theta,
            False,
            "the log-likelihood is flat or not concave at the maximum: the data do not identify "
            "the model",
            iterations,
            unknown,
        )
    loose = [
        f"log({name}) {error:.3g}"
        for name, error in zip(names, errors, strict=True)
        if error > MAX_LOG_STANDARD_ERROR
    ]
    if loose:
        return Optimum(
            theta,
            False,
            f"the data do not identify the model: standard error of {', '.join(loose)} "
            f"(at {', '.join(f'{n}={v:.3g}' for n, v in zip(names, np.exp(theta), strict=True))})",
            iterations,
            unknown,
        )
    return Optimum(theta, True, "", iterations, errors)


def fit_by_numeric_gradient(
    mean_log_likelihood: Callable[[FloatArray], float],
    initial_log_params: FloatArray,
    names: tuple[str, ...],
    max_iterations: int,
    n_customers: float,
    step: float = 1e-5,
) -> Optimum:
    """`maximise` for a likelihood without an analytic gradient: the gradient with respect to
    the log-parameters by central differences (a step of 1e-5 in each log-parameter, whose error,
    of the order of 1e-10, is far below GRADIENT_TOLERANCE)."""

    def with_gradient(theta: FloatArray) -> tuple[float, FloatArray]:
        value = mean_log_likelihood(theta)
        gradient = np.empty(theta.size)
        for i in range(theta.size):
            shift = np.zeros_like(theta)
            shift[i] = step
            gradient[i] = (
                mean_log_likelihood(theta + shift) - mean_log_likelihood(theta - shift)
            ) / (2 * step)
        return value, gradient

    return maximise(with_gradient, initial_log_params, names, max_iterations, n_customers)


def steps_in_horizon(horizon: float, step: float, discount_rate_per_step: float) -> int:
    """How many steps of `step` make `horizon` (the discounted expectations' periods); raises
    ValueError unless both are positive, the horizon is a whole number of steps and the rate is
    above -1."""
    if not (step > 0 and horizon > 0 and discount_rate_per_step > -1):
        raise ValueError("horizon and step must be positive and discount_rate_per_step > -1")
    periods = round(horizon / step)
    if periods < 1 or abs(periods * step - horizon) > 1e-9 * horizon:
        raise ValueError(f"horizon {horizon} is not a whole number of steps of {step}")
    return periods


def discounted_if_alive(
    if_alive: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    x: FloatArray,
    T: FloatArray,
    *,
    horizon: float,
    step: float,
    discount_rate_per_step: float,
) -> FloatArray:
    """For each (x, T): sum_{i=1..n} (E_i - E_{i-1}) / (1 + d)^i, n = horizon/step, where
    E_i = if_alive(i*step, x, T) is a model's expected purchases in (T, T + i*step] of a customer
    alive at T. Evaluated once per distinct (x, T); the models multiply it by their P(alive)."""
    periods = steps_in_horizon(horizon, step, discount_rate_per_step)
    (ux, uT), inverse = unique_rows(x, T)
    ends = step * np.arange(periods + 1, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        expected = if_alive(ends[None, :], ux[:, None], uT[:, None])
    discount = (1.0 + discount_rate_per_step) ** -np.arange(1, periods + 1, dtype=np.float64)
    return np.sum(np.diff(expected, axis=1) * discount, axis=1)[inverse]


def conditional_if_alive(
    if_alive: Callable[[FloatArray, FloatArray, FloatArray], FloatArray],
    t: FloatArray,
    x: FloatArray,
    T: FloatArray,
) -> FloatArray:
    """if_alive(t, x, T) for each row, evaluated once per distinct (t, x, T)."""
    (ut, ux, uT), inverse = unique_rows(t, x, T)
    with np.errstate(invalid="ignore", divide="ignore"):
        return if_alive(ut, ux, uT)[inverse]


def input_problem(x: FloatArray, t_x: FloatArray, T: FloatArray, weight: FloatArray) -> str:
    """Why (x, t_x, T, weight) cannot be fitted, or "" when it can."""
    if not (x.size == t_x.size == T.size == weight.size):
        return (
            f"x, t_x, T and weight differ in length ({x.size}, {t_x.size}, {T.size}, {weight.size})"
        )
    for name, values in (("x", x), ("t_x", t_x), ("T", T), ("weight", weight)):
        if not np.all(np.isfinite(values)):
            return f"{name} has NaN or infinite values"
        if np.any(values < 0):
            return f"{name} has negative values"
    if np.any(x != np.floor(x)):
        return "x (repeat purchases) must be whole numbers"
    if np.any(t_x > T):
        return "t_x (recency) exceeds T (age) for some customers"
    if np.any((x == 0) & (t_x != 0)):
        return "t_x must be 0 for customers with x = 0"
    return ""


@dataclass(frozen=True)
class NumericFit:
    """What `fit_numerically` found; `params` NaN unless `converged` (`message` says why)."""

    params: tuple[float, ...]
    log_likelihood: float
    n_customers: float
    n_repeat_buyers: float
    converged: bool
    message: str
    iterations: int


def fit_numerically(
    log_likelihood: Callable[[FloatArray, FloatArray, FloatArray, FloatArray], FloatArray],
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weight: npt.ArrayLike | None,
    *,
    names: tuple[str, ...],
    start: Callable[[FloatArray, FloatArray, FloatArray, float], FloatArray],
    max_iterations: int,
    min_repeat_buyers: float,
    prepare: Callable[[FloatArray, FloatArray, FloatArray], Callable[[FloatArray], FloatArray]]
    | None = None,
) -> NumericFit:
    """Maximum likelihood for a model of (x, t_x, T) whose per-customer log-likelihood is
    `log_likelihood(params, x, t_x, T)`, with `weight` customers per row: the refusals of the
    BG/NBD's fit (invalid input, no customers, too few repeat buyers), then L-BFGS-B over the
    log-parameters with a central-difference gradient, from `start(x, T, weight, n)`. The
    likelihood is summed over distinct sorted (x, t_x, T), so neither the fit nor its last digit
    depends on the order the customers came in. `prepare(x, t_x, T)`, when given, returns the
    same per-customer log-likelihood as a function of the parameters alone, for a model that can
    do once what does not depend on them. Never raises."""
    nan = (math.nan,) * len(names)
    n, repeat = 0.0, 0.0
    try:
        xs, txs, Ts = as_float_array(x), as_float_array(t_x), as_float_array(T)
        ws = np.ones_like(xs) if weight is None else as_float_array(weight)
        problem = input_problem(xs, txs, Ts, ws)
        if problem:
            return NumericFit(nan, math.nan, n, repeat, False, problem, 0)
        keep = ws > 0
        xs, txs, Ts, ws = xs[keep], txs[keep], Ts[keep], ws[keep]
        n, repeat = float(ws.sum()), float(ws[xs > 0].sum())
        if n == 0:
            return NumericFit(nan, math.nan, n, repeat, False, "no customers", 0)
        if repeat < min_repeat_buyers:
            message = (
                f"fewer than {min_repeat_buyers:g} repeat buyers ({repeat:g}): "
                "the dropout process cannot be estimated"
            )
            return NumericFit(nan, math.nan, n, repeat, False, message, 0)
        first = start(xs, Ts, ws, n)
        (ux, utx, uT), inverse = unique_rows(xs, txs, Ts)
        uw = np.bincount(inverse, ws, minlength=ux.size)

        if prepare is None:

            def on_rows(params: FloatArray) -> FloatArray:
                return log_likelihood(params, ux, utx, uT)

        else:
            on_rows = prepare(ux, utx, uT)

        def mean_log_likelihood(theta: FloatArray) -> float:
            return weighted_sum(uw, on_rows(np.exp(theta))) / n

        optimum = fit_by_numeric_gradient(mean_log_likelihood, first, names, max_iterations, n)
        if not optimum.converged:
            return NumericFit(nan, math.nan, n, repeat, False, optimum.message, optimum.iterations)
        fitted = tuple(float(value) for value in np.exp(optimum.log_params))
        total = weighted_sum(uw, on_rows(np.array(fitted)))
        return NumericFit(fitted, total, n, repeat, True, "", optimum.iterations)
    except Exception as exc:  # the contract: one bad segment must not stop a batch of fits
        return NumericFit(
            nan, math.nan, n, repeat, False, f"fit failed: {type(exc).__name__}: {exc}", 0
        )
