"""The modified BG/NBD model (Batislam, Denizel & Filiztekin 2007, "Empirical validation and
comparison of models for customer base analysis", International Journal of Research in
Marketing 24(3), 201-209).

As the BG/NBD (strata.predict.bgnbd), with one change: a customer may drop out right after ANY
purchase, the first one included, so a one-time buyer is not certainly alive, which makes the
model less optimistic about customers who never came back. The likelihood of (x, t_x, T):

    L = B(a, b+x+1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
      + B(a+1, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x))

P(alive) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)), for every x. The expectation of an
alive customer over (T, T+t] is the BG/NBD's with b + 1 in place of b, so it reuses that
module's series. Time unit, grouping and the fit's contract are the BG/NBD's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import special

from strata.predict._common import (
    FloatArray,
    as_float_array,
    conditional_if_alive,
    discounted_if_alive,
    fit_numerically,
    steps_in_horizon,
    unique_rows,
    weighted_sum,
)
from strata.predict.bgnbd import (
    DEFAULT_MAX_ITERATIONS,
    DEFAULT_MIN_REPEAT_BUYERS,
    BgNbdParams,
    _expected_purchases_if_alive,
)


class MbgNbdParams(NamedTuple):
    """MBG/NBD parameters. `alpha` is in the caller's time unit; r, a, b are unit-free."""

    r: float
    alpha: float
    a: float
    b: float

    def in_time_unit(self, new_units_per_old_unit: float) -> MbgNbdParams:
        """The same model with time measured in another unit (7: weekly to daily)."""
        return MbgNbdParams(self.r, self.alpha * new_units_per_old_unit, self.a, self.b)


@dataclass(frozen=True)
class MbgNbdFit:
    """Result of `fit_mbgnbd`; parameters are NaN unless `converged` (then `message` says why)."""

    r: float
    alpha: float
    a: float
    b: float
    log_likelihood: float
    n_customers: float
    n_repeat_buyers: float
    converged: bool
    message: str
    iterations: int

    @property
    def params(self) -> MbgNbdParams:
        return MbgNbdParams(self.r, self.alpha, self.a, self.b)


def _params(params: npt.ArrayLike) -> MbgNbdParams:
    if isinstance(params, MbgNbdFit):
        return params.params
    r, alpha, a, b = (float(value) for value in params)  # type: ignore[union-attr]
    return MbgNbdParams(r, alpha, a, b)


def _finite(p: MbgNbdParams) -> bool:
    return all(math.isfinite(value) and value > 0 for value in p)


def _log_dropout_odds(p: MbgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log of a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x): the likelihood's dropout term over its
    alive term, for every x (a one-time buyer may have dropped out at the first purchase)."""
    return (
        math.log(p.a) - np.log(p.b + x) + (p.r + x) * (np.log(p.alpha + T) - np.log(p.alpha + t_x))
    )


def mbgnbd_log_likelihood(
    params: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T), not weighted: log(alive term) +
    log1p(exp(log dropout odds)), so that neither term under- or overflows."""
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    with np.errstate(invalid="ignore", divide="ignore"):
        alive = (
            special.gammaln(p.r + x)
            - special.gammaln(p.r)
            + p.r * math.log(p.alpha)
            + special.betaln(p.a, p.b + x + 1.0)
            - special.betaln(p.a, p.b)
            - (p.r + x) * np.log(p.alpha + T)
        )
        return np.asarray(
            alive + np.logaddexp(0.0, _log_dropout_odds(p, x, t_x, T)), dtype=np.float64
        )


def mbgnbd_log_likelihood_of(
    x: FloatArray, t_x: FloatArray, T: FloatArray
) -> Callable[[FloatArray], FloatArray]:
    """`mbgnbd_log_likelihood` of fixed customers as a function of the parameters, for the fit,
    which evaluates it about five hundred times. Its special functions and logarithms each depend
    on one of x, t_x and T, which take few distinct values (at 1M users about 60 of x and 1,100
    of t_x and of T, against 98,292 distinct customers): each is evaluated once per distinct
    value and gathered, in the same order of operations, so every customer's value is the same
    bit for bit."""
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    (xs,), of_x = unique_rows(x)
    (txs,), of_tx = unique_rows(t_x)
    (Ts,), of_T = unique_rows(T)

    def log_likelihood(params: FloatArray) -> FloatArray:
        p = _params(params)
        with np.errstate(invalid="ignore", divide="ignore"):
            log_alpha_T = np.log(p.alpha + Ts)[of_T]
            alive = (
                special.gammaln(p.r + xs)[of_x]
                - special.gammaln(p.r)
                + p.r * math.log(p.alpha)
                + special.betaln(p.a, p.b + xs + 1.0)[of_x]
                - special.betaln(p.a, p.b)
                - (p.r + x) * log_alpha_T
            )
            dropout = (
                math.log(p.a)
                - np.log(p.b + xs)[of_x]
                + (p.r + x) * (log_alpha_T - np.log(p.alpha + txs)[of_tx])
            )
            return np.asarray(alive + np.logaddexp(0.0, dropout), dtype=np.float64)

    return log_likelihood


def mbgnbd_p_alive(
    params: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)); below 1
    for one-time buyers too."""
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        return np.asarray(special.expit(-_log_dropout_odds(p, x, t_x, T)), dtype=np.float64)


def _if_alive(p: MbgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """Expected purchases in (T, T+t] of a customer alive at T: (a+b+x)/(a-1) [1 -
    ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))], the BG/NBD's
    expression with b + 1."""
    return _expected_purchases_if_alive(BgNbdParams(p.r, p.alpha, p.a, p.b + 1.0), t, x, T)


def mbgnbd_conditional_expected_purchases(
    params: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t time units, P(alive) times the
    expectation if alive (computed once per distinct (t, x, T))."""
    p = _params(params)
    t, x, t_x, T = np.broadcast_arrays(
        as_float_array(t), as_float_array(x), as_float_array(t_x), as_float_array(T)
    )
    if not _finite(p):
        return np.full(x.shape, np.nan)
    if_alive = conditional_if_alive(partial(_if_alive, p), t, x, T)
    return np.asarray(if_alive * mbgnbd_p_alive(p, x, t_x, T), dtype=np.float64)


def mbgnbd_discounted_expected_purchases(
    params: npt.ArrayLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    horizon: float,
    step: float,
    discount_rate_per_step: float,
) -> FloatArray:
    """sum_{i=1..n} (E[Y(i*step)] - E[Y((i-1)*step)]) / (1 + d)^i, n = horizon/step, as
    `bgnbd.discounted_expected_purchases` (same contract)."""
    steps_in_horizon(horizon, step, discount_rate_per_step)
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    discounted = discounted_if_alive(
        partial(_if_alive, p), x, T,
        horizon=horizon, step=step, discount_rate_per_step=discount_rate_per_step,
    )  # fmt: skip
    return np.asarray(discounted * mbgnbd_p_alive(p, x, t_x, T), dtype=np.float64)


def fit_mbgnbd(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    min_repeat_buyers: float = DEFAULT_MIN_REPEAT_BUYERS,
) -> MbgNbdFit:
    """Maximum-likelihood MBG/NBD fit on grouped (x, t_x, T) with `weight` customers each, over
    the log-parameters with L-BFGS-B and a central-difference gradient of the closed-form
    likelihood (strata.predict._common.fit_numerically: the refusals of `fit_bgnbd`, never
    raises). Starts from r = a = b = 1 and alpha from the observed purchase rate."""

    def start(xs: FloatArray, Ts: FloatArray, ws: FloatArray, n: float) -> FloatArray:
        rate = weighted_sum(ws, xs) / max(weighted_sum(ws, Ts), 1e-12)
        return np.log([1.0, 1.0 / max(rate, 1e-12), 1.0, 1.0])

    found = fit_numerically(
        mbgnbd_log_likelihood, x, t_x, T, weight, names=("r", "alpha", "a", "b"), start=start,
        max_iterations=max_iterations, min_repeat_buyers=min_repeat_buyers,
        prepare=mbgnbd_log_likelihood_of,
    )  # fmt: skip
    return MbgNbdFit(
        *found.params, found.log_likelihood, found.n_customers, found.n_repeat_buyers,
        found.converged, found.message, found.iterations,
    )  # fmt: skip
