"""The Gamma-Gamma model of spend per transaction (Fader, Hardie & Lee 2005, "RFM and CLV: Using
Iso-Value Curves for Customer Base Analysis", Journal of Marketing Research 42(4); Hardie, "The
Gamma-Gamma Model of Monetary Value", 2013).

A customer's transaction values are Gamma(p, nu) (shape p, rate nu), so her mean spend is p/nu;
nu varies across customers as Gamma(q, v) (shape q, rate v). A customer is summarised by x, the
number of transactions whose values are averaged, and mean_spend, their mean value. As in the
paper, strata uses the REPEAT transactions only (x of the BG/NBD, mean of the repeat purchases'
values, the first purchase excluded), and assumes spend independent of purchase frequency.

Money unit: v and every expected spend are in the unit of mean_spend; p and q are unit-free.
There is no time unit in this model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import numpy.typing as npt
from scipy import special

from strata.predict._common import FloatArray, as_float_array, maximise, weighted_sum

# Three parameters: fewer than ten customers with a repeat purchase cannot separate the spread
# of spend within customers (p) from the spread between them (q, v).
DEFAULT_MIN_CUSTOMERS = 10
DEFAULT_MAX_ITERATIONS = 1000


class GammaGammaParams(NamedTuple):
    """Gamma-Gamma parameters: p and q unit-free, v in the money unit of the spend."""

    p: float
    q: float
    v: float


@dataclass(frozen=True)
class GammaGammaFit:
    """Result of `fit_gamma_gamma`. Parameters are NaN unless `converged`; `message` says why.

    `log_likelihood` is the weighted sum of the log-density of each used customer's mean spend;
    `n_customers` the sum of weights of the customers used (x > 0 and mean_spend > 0);
    `standard_errors` the asymptotic standard errors of (p, q, v), NaN unless converged.
    """

    p: float
    q: float
    v: float
    log_likelihood: float
    n_customers: float
    converged: bool
    message: str
    iterations: int
    standard_errors: tuple[float, float, float] = (math.nan,) * 3

    @property
    def params(self) -> GammaGammaParams:
        """(p, q, v) as a `GammaGammaParams`."""
        return GammaGammaParams(self.p, self.q, self.v)


GammaGammaLike = GammaGammaParams | GammaGammaFit | tuple[float, float, float]


def _params(params: GammaGammaLike) -> GammaGammaParams:
    if isinstance(params, GammaGammaFit):
        return params.params
    p, q, v = params
    return GammaGammaParams(float(p), float(q), float(v))


def gamma_gamma_log_likelihood(
    params: GammaGammaLike, x: npt.ArrayLike, mean_spend: npt.ArrayLike
) -> FloatArray:
    """Log-density of each customer's mean spend z given x > 0 transactions (Hardie 2013):

    f(z | x) = G(px+q) / (G(px) G(q)) * v^q z^(px-1) x^(px) / (v + x z)^(px+q).

    Not weighted; defined for x > 0 and mean_spend > 0 (NaN or -inf elsewhere).
    """
    gg = _params(params)
    x, z = np.broadcast_arrays(as_float_array(x), as_float_array(mean_spend))
    px = gg.p * x
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(
            special.gammaln(px + gg.q)
            - special.gammaln(px)
            - special.gammaln(gg.q)
            + gg.q * math.log(gg.v)
            + (px - 1.0) * np.log(z)
            + px * np.log(x)
            - (px + gg.q) * np.log(gg.v + x * z),
            dtype=np.float64,
        )


def gamma_gamma_expected_spend(
    params: GammaGammaLike, x: npt.ArrayLike, mean_spend: npt.ArrayLike
) -> FloatArray:
    """E[spend per transaction | x, mean_spend] = p (v + x z) / (p x + q - 1), in the money
    unit of mean_spend: a weighted average of the population mean p v / (q - 1) and the
    customer's own mean z, the latter weighing more as x grows.

    For x = 0 it is the population mean p v / (q - 1) whatever mean_spend holds (NaN is fine);
    NaN when that mean does not exist (q <= 1), and NaN whenever p x + q <= 1.
    """
    gg = _params(params)
    x, z = np.broadcast_arrays(as_float_array(x), as_float_array(mean_spend))
    z = np.where(x > 0, z, 0.0)
    denominator = gg.p * x + gg.q - 1.0
    with np.errstate(invalid="ignore", divide="ignore"):
        spend = gg.p * (gg.v + x * z) / denominator
    return np.asarray(np.where(denominator > 0, spend, np.nan), dtype=np.float64)


def _failed(message: str, n_customers: float, iterations: int = 0) -> GammaGammaFit:
    nan = math.nan
    return GammaGammaFit(nan, nan, nan, nan, n_customers, False, message, iterations)


class _Data:
    """Used customers with the parameter-free terms precomputed."""

    def __init__(self, x: FloatArray, z: FloatArray, weight: FloatArray) -> None:
        self.x, self.weight, self.n = x, weight, float(weight.sum())
        self.xz = x * z
        # (px - 1) log z + px log x = px log(x z) - log z: the last term is parameter-free.
        self.log_xz = np.log(self.xz)
        self.constant = -weighted_sum(weight, np.log(z))

    def mean_log_likelihood(self, theta: FloatArray) -> tuple[float, FloatArray]:
        """Mean log-likelihood per customer and its gradient in (log p, log q, log v)."""
        p, q, v = np.exp(theta)
        x, w = self.x, self.weight
        px = p * x
        log_v_xz = np.log(v + self.xz)
        dot = weighted_sum
        value = (
            dot(w, special.gammaln(px + q) - special.gammaln(px) + px * self.log_xz)
            - dot(w, (px + q) * log_v_xz)
            + self.n * (q * math.log(v) - special.gammaln(q))
            + self.constant
        )
        psi_pq = special.digamma(px + q)
        grad_p = dot(w, x * (psi_pq - special.digamma(px) + self.log_xz - log_v_xz))
        grad_q = dot(w, psi_pq - log_v_xz) + self.n * (math.log(v) - special.digamma(q))
        grad_v = self.n * q / v - dot(w, (px + q) / (v + self.xz))
        gradient = np.array([grad_p * p, grad_q * q, grad_v * v]) / self.n
        return float(value / self.n), gradient


def fit_gamma_gamma(
    x: npt.ArrayLike,
    mean_spend: npt.ArrayLike,
    weight: npt.ArrayLike | None = None,
    *,
    initial: GammaGammaLike | None = None,
    max_iterations: int = DEFAULT_MAX_ITERATIONS,
    min_customers: float = DEFAULT_MIN_CUSTOMERS,
) -> GammaGammaFit:
    """Maximum-likelihood Gamma-Gamma fit on customers with x > 0 and mean_spend > 0 (others are
    ignored; `weight` customers per row, default 1). v comes out in mean_spend's money unit.

    Maximises over (log p, log q, log v) with L-BFGS-B and the exact gradient. Never raises:
    NaN or infinite values (mean_spend may be NaN where x = 0), negative x or weight, fewer than
    `min_customers` usable customers, non-convergence or a maximum the data do not identify
    (see `fit_bgnbd`) give `converged=False`, NaN parameters and the reason in `message`.
    """
    n_customers = 0.0
    try:
        xs, zs = as_float_array(x), as_float_array(mean_spend)
        ws = np.ones_like(xs) if weight is None else as_float_array(weight)
        if not (xs.size == zs.size == ws.size):
            return _failed(
                f"x, mean_spend and weight differ in length ({xs.size}, {zs.size}, {ws.size})",
                n_customers,
            )
        if not (np.all(np.isfinite(xs)) and np.all(np.isfinite(ws))):
            return _failed("x or weight has NaN or infinite values", n_customers)
        if np.any(xs < 0) or np.any(ws < 0):
            return _failed("x or weight has negative values", n_customers)
        if not np.all(np.isfinite(zs[xs > 0])):
            return _failed("mean_spend has NaN or infinite values where x > 0", n_customers)
        used = (xs > 0) & (zs > 0) & (ws > 0)
        xs, zs, ws = xs[used], zs[used], ws[used]
        n_customers = float(ws.sum())
        if n_customers < min_customers:
            return _failed(
                f"fewer than {min_customers:g} customers with x > 0 and mean_spend > 0 "
                f"({n_customers:g})",
                n_customers,
            )
        if initial is None:
            # p = 1, q = 2 and v matching the observed mean spend: p v / (q - 1) = mean.
            start = GammaGammaParams(1.0, 2.0, weighted_sum(ws, zs) / n_customers)
        else:
            start = _params(initial)
        if not all(math.isfinite(value) and value > 0 for value in start):
            return _failed("initial parameters must be finite and positive", n_customers)
        data = _Data(xs, zs, ws)
        optimum = maximise(
            data.mean_log_likelihood,
            np.log(np.array(start, dtype=np.float64)),
            ("p", "q", "v"),
            max_iterations,
            n_customers,
        )
        if not optimum.converged:
            return _failed(optimum.message, n_customers, optimum.iterations)
        fitted = GammaGammaParams(*(float(value) for value in np.exp(optimum.log_params)))
        log_likelihood = weighted_sum(ws, gamma_gamma_log_likelihood(fitted, xs, zs))
        if not math.isfinite(log_likelihood):
            return _failed("log-likelihood is not finite at the optimum", n_customers)
        errors = np.array(fitted) * optimum.log_standard_errors
        return GammaGammaFit(
            *fitted,
            log_likelihood,
            n_customers,
            True,
            "",
            optimum.iterations,
            (float(errors[0]), float(errors[1]), float(errors[2])),
        )
    except Exception as exc:  # the contract: one bad segment must not stop a batch of fits
        return _failed(f"fit failed: {type(exc).__name__}: {exc}", n_customers)
