"""The Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987, "Counting
Your Customers: Who Are They and What Will They Do Next?", Management Science 33(1), 1-24), with
the likelihood and expressions of Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD
Model and Related Expressions" (brucehardie.com, note 009).

While alive, a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha); her lifetime
is exponential with rate mu ~ Gamma(s, beta), so she may leave at any moment, not only right
after a purchase as in the BG/NBD. (x, t_x, T), grouping, time unit and the fit's contract are
the BG/NBD's (strata.predict.bgnbd); alpha and beta are in the caller's time unit.

The likelihood (note 009, eq. 22):

    L = G(r+x) alpha^r beta^s / G(r) * [ 1 / ((alpha+T)^(r+x) (beta+T)^s) + s/(r+s+x) A0 ]

with A0 = F(t_x) - F(T), where for alpha >= beta
F(t) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/(alpha+t)) / (alpha+t)^(r+s+x), and for
alpha < beta the same with (s+1) -> (r+x) and alpha and beta swapped. The Gaussian
hypergeometric function there has c - a - b below 0 and grows without bound as its argument
nears 1, so it is evaluated after Euler's transformation, 2F1(a, b; c; z) = (1-z)^(c-a-b)
2F1(c-a, c-b; c; z), in logs: the transformed function has first argument 1 and converges at 1.
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
    discounted_if_alive,
    fit_numerically,
    steps_in_horizon,
    unique_rows,
    weighted_sum,
)
from strata.predict.bgnbd import DEFAULT_MAX_ITERATIONS, DEFAULT_MIN_REPEAT_BUYERS


class ParetoNbdParams(NamedTuple):
    """Pareto/NBD parameters: alpha and beta in the caller's time unit; r and s unit-free."""

    r: float
    alpha: float
    s: float
    beta: float

    def in_time_unit(self, new_units_per_old_unit: float) -> ParetoNbdParams:
        """The same model with time measured in another unit (7: weekly to daily): both rates'
        scales change."""
        k = new_units_per_old_unit
        return ParetoNbdParams(self.r, self.alpha * k, self.s, self.beta * k)


@dataclass(frozen=True)
class ParetoNbdFit:
    """Result of `fit_paretonbd`; parameters are NaN unless `converged` (`message` says why)."""

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    n_customers: float
    n_repeat_buyers: float
    converged: bool
    message: str
    iterations: int

    @property
    def params(self) -> ParetoNbdParams:
        return ParetoNbdParams(self.r, self.alpha, self.s, self.beta)


def _params(params: npt.ArrayLike) -> ParetoNbdParams:
    if isinstance(params, ParetoNbdFit):
        return params.params
    r, alpha, s, beta = (float(value) for value in params)  # type: ignore[union-attr]
    return ParetoNbdParams(r, alpha, s, beta)


def _finite(p: ParetoNbdParams) -> bool:
    return all(math.isfinite(value) and value > 0 for value in p)


def _log_f(p: ParetoNbdParams, x: FloatArray, t: FloatArray) -> FloatArray:
    """log F(t) of the module docstring, through Euler's transformation."""
    total = p.r + p.s + x
    if p.alpha >= p.beta:
        z = (p.alpha - p.beta) / (p.alpha + t)
        log1m_z = np.log(p.beta + t) - np.log(p.alpha + t)
        # 2F1(r+s+x, s+1; r+s+x+1; z) = (1-z)^(-s) 2F1(1, r+x; r+s+x+1; z)
        log_2f1 = -p.s * log1m_z + np.log(special.hyp2f1(1.0, p.r + x, total + 1.0, z))
        return log_2f1 - total * np.log(p.alpha + t)
    z = (p.beta - p.alpha) / (p.beta + t)
    log1m_z = np.log(p.alpha + t) - np.log(p.beta + t)
    # 2F1(r+s+x, r+x; r+s+x+1; z) = (1-z)^(1-r-x) 2F1(1, s+1; r+s+x+1; z)
    log_2f1 = (1.0 - p.r - x) * log1m_z + np.log(special.hyp2f1(1.0, p.s + 1.0, total + 1.0, z))
    return log_2f1 - total * np.log(p.beta + t)


class _Known(NamedTuple):
    """What `paretonbd_log_likelihood_of` computed once per distinct value, gathered back to
    every customer: log F(t_x), log F(T), log(alpha+T), log(beta+T), log(r+s+x), gammaln(r+x)."""

    log_f_tx: FloatArray
    log_f_T: FloatArray
    log_alpha_T: FloatArray
    log_beta_T: FloatArray
    log_rsx: FloatArray
    gammaln_rx: FloatArray


def _known(p: ParetoNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> _Known:
    """The same functions evaluated for every customer (`paretonbd_log_likelihood_of` evaluates
    them once per distinct value instead)."""
    return _Known(
        _log_f(p, x, t_x), _log_f(p, x, T), np.log(p.alpha + T), np.log(p.beta + T),
        np.log(p.r + p.s + x), special.gammaln(p.r + x),
    )  # fmt: skip


def _log_terms(
    p: ParetoNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray, known: _Known
) -> tuple[FloatArray, FloatArray]:
    """log of the bracket's two terms: alive at T, and s/(r+s+x) A0 (left between t_x and T),
    from the functions of one column in `known`."""
    alive = -(p.r + x) * known.log_alpha_T - p.s * known.log_beta_T
    log_f_tx, log_f_T = known.log_f_tx, known.log_f_T
    with np.errstate(divide="ignore", invalid="ignore"):
        log_a0 = log_f_tx + np.log1p(-np.exp(np.minimum(log_f_T - log_f_tx, 0.0)))
    left = math.log(p.s) - known.log_rsx + np.where(t_x < T, log_a0, -np.inf)
    return alive, left


def paretonbd_log_likelihood(
    params: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T), not weighted (note 009, eq. 22)."""
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    p = _params(params)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        known = _known(p, x, t_x, T)
    return _log_likelihood(p, x, t_x, T, known)


def paretonbd_log_likelihood_of(
    x: FloatArray, t_x: FloatArray, T: FloatArray
) -> Callable[[FloatArray], FloatArray]:
    """`paretonbd_log_likelihood` of fixed customers as a function of the parameters, for the
    fit, which evaluates it about a thousand times. The hypergeometric function is its cost and
    depends on (x, t) only: it is evaluated once per distinct pair of x with t_x or with T. At
    1M users the current cut-off had 98,292 distinct (x, t_x, T), 7,818 distinct (x, t_x) and
    14,351 distinct (x, T)."""
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    (pair_x, pair_t), pair = unique_rows(np.concatenate([x, x]), np.concatenate([t_x, T]))
    of_tx, of_T = pair[: x.size], pair[x.size :]
    # the functions of x or of T alone, likewise once per distinct value
    (xs,), of_x = unique_rows(x)
    (Ts,), of_each_T = unique_rows(T)

    def log_likelihood(params: FloatArray) -> FloatArray:
        p = _params(params)
        with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
            log_f = _log_f(p, pair_x, pair_t)
            known = _Known(
                log_f[of_tx],
                log_f[of_T],
                np.log(p.alpha + Ts)[of_each_T],
                np.log(p.beta + Ts)[of_each_T],
                np.log(p.r + p.s + xs)[of_x],
                special.gammaln(p.r + xs)[of_x],
            )
        return _log_likelihood(p, x, t_x, T, known)

    return log_likelihood


def _log_likelihood(
    p: ParetoNbdParams,
    x: FloatArray,
    t_x: FloatArray,
    T: FloatArray,
    known: _Known,
) -> FloatArray:
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        alive, left = _log_terms(p, x, t_x, T, known)
        return np.asarray(
            known.gammaln_rx
            - special.gammaln(p.r)
            + p.r * math.log(p.alpha)
            + p.s * math.log(p.beta)
            + np.logaddexp(alive, left),
            dtype=np.float64,
        )


def paretonbd_p_alive(
    params: npt.ArrayLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """P(alive at T | x, t_x, T) (note 009, eq. 18): the bracket's alive term over the whole
    bracket. Below 1 for one-time buyers too: a lifetime can end at any moment."""
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        alive, left = _log_terms(p, x, t_x, T, _known(p, x, t_x, T))
        return np.asarray(np.exp(alive - np.logaddexp(alive, left)), dtype=np.float64)


def _if_alive(p: ParetoNbdParams, t: FloatArray, x: FloatArray, T: FloatArray) -> FloatArray:
    """Expected purchases in (T, T+t] of a customer alive at T (note 009, eq. 41 before its
    P(alive)): (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)], written as
    (r+x)(beta+T)/(alpha+T) * -expm1(-(s-1) L)/(s-1), L = log((beta+T+t)/(beta+T)), which is
    exact at s = 1 (the limit is L)."""
    log_ratio = np.log1p(t / (p.beta + T))
    e = p.s - 1.0
    grows = log_ratio if e == 0.0 else -np.expm1(-e * log_ratio) / e
    return np.asarray((p.r + x) * (p.beta + T) / (p.alpha + T) * grows, dtype=np.float64)


def paretonbd_conditional_expected_purchases(
    params: npt.ArrayLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T]: expected purchases in the next t time units (note 009, eq. 41)."""
    p = _params(params)
    t, x, t_x, T = np.broadcast_arrays(
        as_float_array(t), as_float_array(x), as_float_array(t_x), as_float_array(T)
    )
    if not _finite(p):
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(_if_alive(p, t, x, T) * paretonbd_p_alive(p, x, t_x, T))


def paretonbd_discounted_expected_purchases(
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
    `bgnbd.discounted_expected_purchases` (same contract). The expectation of an alive customer
    has a closed form at every step end, so the sum is exact for the stepped discounting."""
    steps_in_horizon(horizon, step, discount_rate_per_step)
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    discounted = discounted_if_alive(
        partial(_if_alive, p), x, T,
        horizon=horizon, step=step, discount_rate_per_step=discount_rate_per_step,
    )  # fmt: skip
    return np.asarray(discounted * paretonbd_p_alive(p, x, t_x, T), dtype=np.float64)


def fit_paretonbd(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    min_repeat_buyers: float = DEFAULT_MIN_REPEAT_BUYERS,
) -> ParetoNbdFit:
    """Maximum-likelihood Pareto/NBD fit on grouped (x, t_x, T) with `weight` customers each,
    over the log-parameters with L-BFGS-B and a central-difference gradient
    (strata.predict._common.fit_numerically: the refusals of `fit_bgnbd`, never raises). Starts
    from r = s = 1, alpha from the observed purchase rate and beta from the mean age."""

    def start(xs: FloatArray, Ts: FloatArray, ws: FloatArray, n: float) -> FloatArray:
        mean_T = weighted_sum(ws, Ts) / n
        rate = weighted_sum(ws, xs) / max(weighted_sum(ws, Ts), 1e-12)
        return np.log([1.0, 1.0 / max(rate, 1e-12), 1.0, max(mean_T, 1e-6)])

    found = fit_numerically(
        paretonbd_log_likelihood, x, t_x, T, weight, names=("r", "alpha", "s", "beta"),
        start=start, max_iterations=max_iterations, min_repeat_buyers=min_repeat_buyers,
        prepare=paretonbd_log_likelihood_of,
    )  # fmt: skip
    return ParetoNbdFit(
        *found.params, found.log_likelihood, found.n_customers, found.n_repeat_buyers,
        found.converged, found.message, found.iterations,
    )  # fmt: skip
