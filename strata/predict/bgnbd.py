"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting Your Customers the
Easy Way: An Alternative to the Pareto/NBD Model", Marketing Science 24(2), 275-284).

While alive, a customer buys as a Poisson process of rate lambda ~ Gamma(r, alpha) (shape r,
rate alpha); after each REPEAT purchase she drops out for good with probability p ~ Beta(a, b).
A customer is summarised by (x, t_x, T): x = number of repeat purchases (purchases after the
first one), t_x = time from the first purchase to the last one (0 when x = 0), T = time from the
first purchase to the end of the observation period.

Time unit: the model is unit-free. `alpha`, t_x, T and every horizon t are in one and the same
unit chosen by the caller (strata's warehouse uses DAYS; the CDNOW paper uses WEEKS); r, a and b
carry no unit. `BgNbdParams.in_time_unit` converts fitted parameters from one unit to another.

Inputs are GROUPED: every array function takes NumPy arrays of distinct (x, t_x, T) triples and
the fit takes a `weight` (how many customers share the triple), so a million customers reduce to
the few hundred thousand distinct triples that day-granular data has. `group_customers` builds
those groups.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import special

from strata.predict._common import (
    FloatArray,
    IntArray,
    as_float_array,
    conditional_if_alive,
    discounted_if_alive,
    input_problem,
    maximise,
    steps_in_horizon,
    unique_rows,
    weighted_sum,
)

# With fewer repeat buyers the dropout process (a, b) rests on a handful of recency values: four
# parameters from under ten informative customers is a guess, not an estimate. Ten is a floor
# that rejects empty or near-empty segments; callers wanting tighter estimates should pass more.
DEFAULT_MIN_REPEAT_BUYERS = 10
DEFAULT_MAX_ITERATIONS = 1000
# Hard cap on the terms of the hypergeometric series (see `_scaled_series`). Reached only when
# t / (alpha + T) is above about 10^4 (a horizon ten thousand times the purchase-rate scale).
MAX_SERIES_TERMS = 1_000_000


class BgNbdParams(NamedTuple):
    """BG/NBD parameters. `alpha` is in the caller's time unit; r, a, b are unit-free."""

    r: float
    alpha: float
    a: float
    b: float

    def in_time_unit(self, new_units_per_old_unit: float) -> BgNbdParams:
        """The same model with time measured in another unit: e.g. 7 turns weekly parameters
        into daily ones. Only alpha changes (lambda is per time unit, alpha is its rate)."""
        return BgNbdParams(self.r, self.alpha * new_units_per_old_unit, self.a, self.b)


@dataclass(frozen=True)
class BgNbdFit:
    """Result of `fit_bgnbd`. Parameters are NaN unless `converged`; `message` says why not.

    `log_likelihood` is the sum over customers (weights applied) of the log-likelihood, in the
    paper's form (no constant dropped); `n_customers` is the sum of weights and
    `n_repeat_buyers` the sum of weights of triples with x > 0. `standard_errors` are the
    asymptotic standard errors of (r, alpha, a, b) from the observed information (delta method
    from the log scale), NaN unless converged.
    """

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
    standard_errors: tuple[float, float, float, float] = (math.nan,) * 4

    @property
    def params(self) -> BgNbdParams:
        """(r, alpha, a, b) as a `BgNbdParams`."""
        return BgNbdParams(self.r, self.alpha, self.a, self.b)


BgNbdLike = BgNbdParams | BgNbdFit | tuple[float, float, float, float]


class GroupedCustomers(NamedTuple):
    """Distinct (x, t_x, T) triples with how many customers share each (`weight`), and for every
    input customer the index of its triple (`inverse`): `scores[inverse]` maps back."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    weight: FloatArray
    inverse: IntArray


def group_customers(
    x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike, weight: npt.ArrayLike | None = None
) -> GroupedCustomers:
    """Group per-customer (x, t_x, T) rows into distinct triples with weights (any time unit);
    with `weight`, each row stands for that many customers."""
    (ux, utx, uT), inverse = unique_rows(as_float_array(x), as_float_array(t_x), as_float_array(T))
    counts = np.bincount(
        inverse, weights=None if weight is None else as_float_array(weight), minlength=ux.size
    )
    weight = counts.astype(np.float64)
    return GroupedCustomers(ux, utx, uT, weight, inverse)


def _params(params: BgNbdLike) -> BgNbdParams:
    if isinstance(params, BgNbdFit):
        return params.params
    r, alpha, a, b = params
    return BgNbdParams(float(r), float(alpha), float(a), float(b))


def _finite(p: BgNbdParams) -> bool:
    return all(math.isfinite(value) and value > 0 for value in p)


def _log_dropout_odds(p: BgNbdParams, x: FloatArray, t_x: FloatArray, T: FloatArray) -> FloatArray:
    """log of a/(b+x-1) * ((alpha+T)/(alpha+t_x))^(r+x), for x >= 1.

    It is the ratio of the likelihood's "dropped out after the last purchase" term to its
    "still alive at T" term, so P(alive) = 1/(1 + exp(this)) and the likelihood is the alive term
    times 1 + exp(this). Rows with x = 0 get a placeholder (their dropout term does not exist).
    """
    x_safe = np.where(x > 0, x, 1.0)
    return (
        math.log(p.a)
        - np.log(p.b + x_safe - 1.0)
        + (p.r + x_safe) * (np.log(p.alpha + T) - np.log(p.alpha + t_x))
    )


def bgnbd_log_likelihood(
    params: BgNbdLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """Log-likelihood of each customer's (x, t_x, T) (paper eq. 6), not weighted.

    L = B(a, b+x)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+T)^(r+x))
        + [x > 0] B(a+1, b+x-1)/B(a, b) * G(r+x) alpha^r / (G(r) (alpha+t_x)^(r+x)),
    evaluated as log(first term) + log1p(second/first) so that neither term under/overflows.
    t_x, T and alpha in the same time unit.
    """
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    with np.errstate(invalid="ignore", divide="ignore"):
        alive = (
            special.gammaln(p.r + x)
            - special.gammaln(p.r)
            + p.r * math.log(p.alpha)
            + special.betaln(p.a, p.b + x)
            - special.betaln(p.a, p.b)
            - (p.r + x) * np.log(p.alpha + T)
        )
        dropout = np.logaddexp(0.0, _log_dropout_odds(p, x, t_x, T))
    return np.asarray(alive + np.where(x > 0, dropout, 0.0), dtype=np.float64)


def bgnbd_p_alive(
    params: BgNbdLike, x: npt.ArrayLike, t_x: npt.ArrayLike, T: npt.ArrayLike
) -> FloatArray:
    """P(customer still alive at T | x, t_x, T) (paper eq. 13): 1 / (1 + [x > 0] a/(b+x-1)
    ((alpha+T)/(alpha+t_x))^(r+x)). Exactly 1 when x = 0: the BG/NBD lets a customer drop out
    only right after a repeat purchase. t_x, T and alpha in the same time unit."""
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        alive = special.expit(-_log_dropout_odds(p, x, t_x, T))
    return np.asarray(np.where(x > 0, alive, 1.0), dtype=np.float64)


def _scaled_series(c1: float, a: float, c: FloatArray, z: FloatArray) -> FloatArray:
    """c S with S = sum_{k>=1} (c1)_k (a)_{k-1} z^k / ((c)_k k!), for 0 <= z < 1, elementwise.

    S is the hypergeometric function with the factor (a-1) taken out,
    2F1(c1, a-1; c; z) = 1 + (a-1) S, and c S = sum_k (c1)_k (a)_{k-1} z^k / ((c+1)_{k-1} k!)
    has no pole at c = 0. Summed term by term; an element stops once the remaining tail, bounded
    by a geometric series of ratio max(current term ratio, z) (the ratio tends to z), is below
    1e-17 of the sum. Finished elements leave the working arrays, so the few slow elements
    (z close to 1) do not keep the whole array in the loop.
    """
    c, z = np.broadcast_arrays(np.asarray(c, dtype=np.float64), np.asarray(z, dtype=np.float64))
    shape = z.shape
    c, z = c.ravel(), z.ravel()
    out = np.full(z.size, np.nan)
    active = np.flatnonzero(np.isfinite(c) & np.isfinite(z) & (z >= 0.0) & (z < 1.0))
    cc, zz = c[active], z[active]
    term = c1 * zz
    total = term.copy()
    k = 1
    while active.size:
        ratio = (c1 + k) * (a + k - 1.0) * zz / ((cc + k) * (k + 1.0))
        bound = np.maximum(np.abs(ratio), zz)
        tail = np.abs(term) * bound / (1.0 - bound)
        done = (term == 0.0) | ((bound < 1.0) & (tail <= 1e-17 * np.abs(total)))
        done |= ~np.isfinite(total)  # overflow: stop rather than loop to MAX_SERIES_TERMS
        if k >= MAX_SERIES_TERMS:
            # Unreachable in practice (see MAX_SERIES_TERMS): close with the geometric tail.
            total = total + term * ratio / (1.0 - np.minimum(bound, 1.0 - 1e-12))
            done[:] = True
        if done.any():
            out[active[done]] = total[done]
            keep = ~done
            active, cc, zz, term, total, ratio = (
                arr[keep] for arr in (active, cc, zz, term, total, ratio)
            )
        term = term * ratio
        total = total + term
        k += 1
    return out.reshape(shape)


def _expected_purchases_if_alive(
    p: BgNbdParams, t: FloatArray, x: FloatArray, T: FloatArray
) -> FloatArray:
    """(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x; a+b+x-1; z)],
    z = t/(alpha+T+t): the conditional expectation of the paper (eq. 10) before its division by
    1 + [x > 0] (dropout odds), i.e. expected purchases in (T, T+t] for a customer alive at T.

    Computed through Euler's transformation 2F1(A, B; C; z) = (1-z)^(C-A-B) 2F1(C-A, C-B; C; z):
    (1-z)^(r+x) 2F1(r+x, b+x; C; z) = (1-z)^(a-1) 2F1(a+b-1-r, a-1; C; z) with C = a+b+x-1.
    The original function grows like (1-z)^-(x+r-a+1) and overflows for large x; the transformed
    one stays near 1, and its series shrinks faster as x (hence C) grows. With
    2F1(., a-1; C; z) = 1 + (a-1) S, the expectation becomes
    C (-expm1((a-1) log(1-z)) / (a-1)) - (1-z)^(a-1) C S, exact as a tends to 1 (no 0/0).
    """
    t, x, T = np.broadcast_arrays(t, x, T)
    alpha_T = p.alpha + T
    z = t / (alpha_T + t)
    log1m_z = -np.log1p(t / alpha_T)
    eps = p.a - 1.0
    first = -log1m_z if eps == 0.0 else -np.expm1(eps * log1m_z) / eps
    c = p.a + p.b + x - 1.0
    scaled = _scaled_series(p.a + p.b - 1.0 - p.r, p.a, c, z)
    return np.asarray(c * first - np.exp(eps * log1m_z) * scaled, dtype=np.float64)


def bgnbd_expected_purchases(params: BgNbdLike, t: npt.ArrayLike) -> FloatArray:
    """E[X(t)] (paper eq. 9): expected number of repeat purchases in (0, t] of a customer who
    made her first purchase at time 0, i.e. of a NEW customer. t in alpha's time unit; summing
    it over a cohort's ages gives the paper's tracking plots."""
    p = _params(params)
    t = as_float_array(t)
    if not _finite(p):
        return np.full(t.shape, np.nan)
    zeros = np.zeros_like(t)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _expected_purchases_if_alive(p, t, zeros, zeros)


def bgnbd_conditional_expected_purchases(
    params: BgNbdLike,
    t: npt.ArrayLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
) -> FloatArray:
    """E[Y(t) | x, t_x, T] (paper eq. 10): expected number of purchases in the next t time units,
    (T, T+t], of a customer with history (x, t_x, T). All times in alpha's unit (e.g. t = 365
    with daily parameters for the next year). Equals P(alive) times the expectation if alive,
    and the latter depends on (x, T) only, so it is computed once per distinct (x, T, t).
    """
    p = _params(params)
    t, x, t_x, T = np.broadcast_arrays(
        as_float_array(t), as_float_array(x), as_float_array(t_x), as_float_array(T)
    )
    if not _finite(p):
        return np.full(x.shape, np.nan)
    if_alive = conditional_if_alive(partial(_expected_purchases_if_alive, p), t, x, T)
    return np.asarray(if_alive * bgnbd_p_alive(p, x, t_x, T), dtype=np.float64)


def discounted_expected_purchases(
    params: BgNbdLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    *,
    horizon: float,
    step: float,
    discount_rate_per_step: float,
) -> FloatArray:
    """Discounted expected number of purchases over the next `horizon` time units:
    sum_{i=1..n} (E[Y(i*step)] - E[Y((i-1)*step)]) / (1 + d)^i, n = horizon/step, where
    E[Y(t)] is `bgnbd_conditional_expected_purchases` and d the discount rate per step.

    The usual discrete-period approximation of a discounted CLV: each period's purchases are
    discounted by the period's end. horizon, step, t_x, T and alpha in the same time unit
    (e.g. days: horizon=365, step=30 for monthly periods with d the monthly rate, such as
    1.10 ** (30 / 365) - 1 for 10% a year). horizon must be a whole number of steps. With d = 0
    it equals E[Y(horizon)]. Multiply by the expected spend per purchase to get a CLV.
    """
    steps_in_horizon(horizon, step, discount_rate_per_step)
    p = _params(params)
    x, t_x, T = np.broadcast_arrays(as_float_array(x), as_float_array(t_x), as_float_array(T))
    if not _finite(p):
        return np.full(x.shape, np.nan)
    discounted = discounted_if_alive(
        partial(_expected_purchases_if_alive, p), x, T,
        horizon=horizon, step=step, discount_rate_per_step=discount_rate_per_step,
    )  # fmt: skip
    return np.asarray(discounted * bgnbd_p_alive(p, x, t_x, T), dtype=np.float64)


class _GroupedData:
    """The fit's data, with every transcendental function evaluated on distinct values only.

    Terms that depend on x alone are summed per distinct x, terms in log(alpha + T) per distinct
    T, so only the dropout term log1p(exp(.)) of repeat buyers is evaluated per (x, t_x, T)
    group.
    """

    def __init__(self, x: FloatArray, t_x: FloatArray, T: FloatArray, weight: FloatArray) -> None:
        self.n = float(weight.sum())
        self.ux, ix = np.unique(x, return_inverse=True)
        self.weight_x = np.bincount(ix, weight, minlength=self.ux.size)
        self.uT, iT = np.unique(T, return_inverse=True)
        self.weight_T = np.bincount(iT, weight, minlength=self.uT.size)
        self.weight_x_T = np.bincount(iT, weight * x, minlength=self.uT.size)
        self.utx, itx = np.unique(t_x, return_inverse=True)
        repeat = x > 0
        self.rep_x = x[repeat]
        self.rep_w = weight[repeat]
        self.rep_iT, self.rep_itx = iT[repeat], itx[repeat]

    def mean_log_likelihood(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Mean log-likelihood per customer and its gradient in (log r, log alpha, log a, log b)."""
        r, alpha, a, b = np.exp(theta)
        ux, wx, n, dot = self.ux, self.weight_x, self.n, weighted_sum
        gl, dg = special.gammaln, special.digamma
        log_alpha_T = np.log(alpha + self.uT)
        log_alpha_tx = np.log(alpha + self.utx)
        weight_rate_T = r * self.weight_T + self.weight_x_T  # sum of w (r + x) per distinct T

        value = dot(wx, gl(r + ux) + gl(b + ux) - gl(a + b + ux)) + n * (
            -gl(r) - gl(b) + gl(a + b) + r * math.log(alpha)
        )
        value -= dot(weight_rate_T, log_alpha_T)
        grad_r = (
            dot(wx, dg(r + ux)) + n * (math.log(alpha) - dg(r)) - dot(self.weight_T, log_alpha_T)
        )
        grad_alpha = n * r / alpha - dot(weight_rate_T, 1.0 / (alpha + self.uT))
        shared_ab = n * dg(a + b) - dot(wx, dg(a + b + ux))
        grad_a = shared_ab
        grad_b = shared_ab + dot(wx, dg(b + ux)) - n * dg(b)

        # Dropout term of repeat buyers: log1p(exp(rho)), rho = log dropout odds.
        rep_x = self.rep_x
        log_gap = log_alpha_T[self.rep_iT] - log_alpha_tx[self.rep_itx]
        rho = math.log(a) - np.log(b + rep_x - 1.0) + (r + rep_x) * log_gap
        value += dot(self.rep_w, np.logaddexp(0.0, rho))
        weighted_sigmoid = self.rep_w * special.expit(rho)
        grad_r += dot(weighted_sigmoid, log_gap)
        inv_gap = (1.0 / (alpha + self.uT))[self.rep_iT] - (1.0 / (alpha + self.utx))[self.rep_itx]
        grad_alpha += dot(weighted_sigmoid, (r + rep_x) * inv_gap)
        grad_a += float(weighted_sigmoid.sum()) / a
        grad_b -= dot(weighted_sigmoid, 1.0 / (b + rep_x - 1.0))

        # Chain rule to log-parameters: d/d(log p) = p d/dp.
        gradient = np.array([grad_r * r, grad_alpha * alpha, grad_a * a, grad_b * b]) / n
        return float(value / n), gradient


def _failed(message: str, n_customers: float, n_repeat: float, iterations: int = 0) -> BgNbdFit:
    nan = math.nan
    return BgNbdFit(nan, nan, nan, nan, nan, n_customers, n_repeat, False, message, iterations)


def fit_bgnbd(
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    initial: BgNbdLike | None = None,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    min_repeat_buyers: float = DEFAULT_MIN_REPEAT_BUYERS,
) -> BgNbdFit:
    """Maximum-likelihood BG/NBD fit on grouped (x, t_x, T) with `weight` customers each
    (default 1 each). Time unit: the caller's (alpha comes out in the unit of t_x and T).

    Maximises the paper's log-likelihood over (log r, log alpha, log a, log b) with L-BFGS-B and
    the exact gradient. Never raises: empty input, invalid values (NaN, negative, t_x > T,
    non-integer x, t_x != 0 when x = 0), fewer than `min_repeat_buyers` repeat buyers (weights
    summed), an infinite likelihood, non-convergence within `max_iterations`, or a maximum the
    data do not identify (a parameter at exp(+-18), or a log-parameter with a standard error
    above 5, as when no customer shows any sign of dropout) give `converged=False`, NaN
    parameters and the reason in `message`. `initial` is an optional starting point; the
    default (r = 1, alpha from the observed purchase rate, a = b = 1) reproduces the paper.
    """
    n_customers, n_repeat = 0.0, 0.0
    try:
        xs, txs, Ts = as_float_array(x), as_float_array(t_x), as_float_array(T)
        ws = np.ones_like(xs) if weight is None else as_float_array(weight)
        problem = input_problem(xs, txs, Ts, ws)
        if problem:
            return _failed(problem, n_customers, n_repeat)
        keep = ws > 0
        xs, txs, Ts, ws = xs[keep], txs[keep], Ts[keep], ws[keep]
        n_customers = float(ws.sum())
        n_repeat = float(ws[xs > 0].sum())
        if n_customers == 0:
            return _failed("no customers", n_customers, n_repeat)
        if n_repeat < min_repeat_buyers:
            return _failed(
                f"fewer than {min_repeat_buyers:g} repeat buyers ({n_repeat:g}): "
                "the dropout process cannot be estimated",
                n_customers,
                n_repeat,
            )
        if initial is None:
            # r = 1 and alpha matching the observed purchase rate; a = b = 1 (uniform dropout
            # probability). Unit-free: alpha follows the unit of T.
            rate = weighted_sum(ws, xs) / max(weighted_sum(ws, Ts), 1e-12)
            start = BgNbdParams(1.0, 1.0 / max(rate, 1e-12), 1.0, 1.0)
        else:
            start = _params(initial)
            if not _finite(start):
                return _failed(
                    "initial parameters must be finite and positive", n_customers, n_repeat
                )
        data = _GroupedData(xs, txs, Ts, ws)
        optimum = maximise(
            data.mean_log_likelihood,
            np.log(np.array(start, dtype=np.float64)),
            ("r", "alpha", "a", "b"),
            max_iterations,
            n_customers,
        )
        if not optimum.converged:
            return _failed(optimum.message, n_customers, n_repeat, optimum.iterations)
        fitted = BgNbdParams(*(float(value) for value in np.exp(optimum.log_params)))
        log_likelihood = weighted_sum(ws, bgnbd_log_likelihood(fitted, xs, txs, Ts))
        if not math.isfinite(log_likelihood):
            return _failed("log-likelihood is not finite at the optimum", n_customers, n_repeat)
        errors = np.array(fitted) * optimum.log_standard_errors
        return BgNbdFit(
            *fitted,
            log_likelihood,
            n_customers,
            n_repeat,
            True,
            "",
            optimum.iterations,
            (float(errors[0]), float(errors[1]), float(errors[2]), float(errors[3])),
        )
    except Exception as exc:  # the contract: one bad segment must not stop a batch of fits
        return _failed(f"fit failed: {type(exc).__name__}: {exc}", n_customers, n_repeat)
