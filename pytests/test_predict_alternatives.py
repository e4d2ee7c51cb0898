"""The Pareto/NBD and the modified BG/NBD against their published CDNOW fits, against direct
numerical integration of their definitions, against simulation and at their edges; the registry
of the three models, the wait for the next purchase and the choice between the models (pure
Python, no dbt).

Published values (CDNOW 1/10th sample, 2,357 customers, 39-week calibration, times in weeks):
- Pareto/NBD: r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, log-likelihood -9595.0 (Fader,
  Hardie and Lee 2005, "A Note on Deriving the Pareto/NBD Model and Related Expressions", and
  "Counting Your Customers the Easy Way", Table 1).
- MBG/NBD: r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (the BTYDplus R package's CDNOW fit,
  the reference the lifetimes test suite checks its ModifiedBetaGeoFitter against, to 3
  decimals: lifetimes' tests/test_estimation.py, test_params_out_is_close_to_BTYDplus). No
  published log-likelihood was found; the likelihood itself is checked against integration.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pytest
from cdnow_data import cdnow_calibration
from scipy import integrate, special, stats

from strata.predict.bgnbd import fit_bgnbd, group_customers
from strata.predict.mbg_nbd import (
    MbgNbdParams,
    fit_mbgnbd,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_discounted_expected_purchases,
    mbgnbd_log_likelihood,
    mbgnbd_log_likelihood_of,
    mbgnbd_p_alive,
)
from strata.predict.pareto_nbd import (
    ParetoNbdParams,
    fit_paretonbd,
    paretonbd_conditional_expected_purchases,
    paretonbd_discounted_expected_purchases,
    paretonbd_log_likelihood,
    paretonbd_log_likelihood_of,
    paretonbd_p_alive,
)
from strata.predict.pipeline import (
    FIT_SCHEMA,
    PredictionSettings,
    _choose,
    _exact_sum,
    _fit_row,
    _wait_quantile,
    fit_inputs,
    fit_models,
    fit_models_on,
    score_buyers,
)
from strata.predict.repeat_models import REPEAT_MODELS, next_purchase_quantiles

pytestmark = pytest.mark.xdist_group("predict_models")

PAPER_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
PAPER_PARETO_LOG_LIKELIHOOD = -9595.0
BTYDPLUS_MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
# Customers at the edges: one-time, recent repeat buyer, long-silent repeat buyer, t_x = T.
EDGES = [(0, 0.0, 30.0), (2, 30.43, 38.86), (7, 10.0, 38.0), (3, 20.0, 20.0)]
# ... and heavy buyers, whose x puts the posterior far in the tail of the prior.
HEAVY = [(60, 35.0, 38.0), (150, 90.0, 100.0)]


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    """(x, t_x, T) in weeks per customer, as the papers build them (a purchase is a day)."""
    return cdnow_calibration()


def grouped(cdnow: dict[str, np.ndarray]):
    return group_customers(cdnow["x"], cdnow["t_x"], cdnow["T"])


# ---- 1. the published fits ----------------------------------------------------------------------


def test_pareto_nbd_reproduces_the_published_cdnow_fit(cdnow: dict[str, np.ndarray]) -> None:
    g = grouped(cdnow)
    fit = fit_paretonbd(g.x, g.t_x, g.T, g.weight)
    assert fit.converged, fit.message
    for name, published in PAPER_PARETO.items():
        assert getattr(fit, name) == pytest.approx(published, abs=0.01), name
    assert fit.log_likelihood == pytest.approx(PAPER_PARETO_LOG_LIKELIHOOD, abs=0.1)
    # grouped and per-customer likelihoods agree
    per_customer = paretonbd_log_likelihood(fit.params, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert per_customer.sum() == pytest.approx(fit.log_likelihood, abs=1e-6)


def test_mbg_nbd_reproduces_the_published_cdnow_fit(cdnow: dict[str, np.ndarray]) -> None:
    g = grouped(cdnow)
    fit = fit_mbgnbd(g.x, g.t_x, g.T, g.weight)
    assert fit.converged, fit.message
    for name, published in BTYDPLUS_MBG.items():
        assert getattr(fit, name) == pytest.approx(published, abs=0.002), name
    per_customer = mbgnbd_log_likelihood(fit.params, cdnow["x"], cdnow["t_x"], cdnow["T"])
    assert per_customer.sum() == pytest.approx(fit.log_likelihood, abs=1e-6)


@pytest.mark.parametrize("fit", [fit_paretonbd, fit_mbgnbd])
def test_grouped_per_customer_and_daily_fits_agree(fit, cdnow: dict[str, np.ndarray]) -> None:
    """One row per customer gives the grouped fit; doubling every weight doubles the
    log-likelihood and leaves the estimate alone; the same customers in days give the weekly
    parameters in days (`in_time_unit(7)`)."""
    g = grouped(cdnow)
    weekly = fit(g.x, g.t_x, g.T, g.weight)
    assert weekly.converged, weekly.message
    per_customer = fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    np.testing.assert_allclose(per_customer.params, weekly.params, rtol=1e-6)
    assert per_customer.log_likelihood == pytest.approx(weekly.log_likelihood, rel=1e-10)
    assert (per_customer.n_customers, per_customer.n_repeat_buyers) == (2357, 946)
    doubled = fit(g.x, g.t_x, g.T, 2 * g.weight)
    np.testing.assert_allclose(doubled.params, weekly.params, rtol=1e-5)
    assert doubled.log_likelihood == pytest.approx(2 * weekly.log_likelihood, rel=1e-10)
    daily = fit(g.x, 7 * g.t_x, 7 * g.T, g.weight)
    np.testing.assert_allclose(daily.params, weekly.params.in_time_unit(7), rtol=1e-5)


def test_the_registry_wraps_each_model(cdnow: dict[str, np.ndarray]) -> None:
    """Every entry fits as its module does, hands the parameters back in `param_names` order
    and predicts from that tuple as its module does from the named parameters."""
    g = grouped(cdnow)
    own = {"bgnbd": fit_bgnbd, "pareto_nbd": fit_paretonbd, "mbgnbd": fit_mbgnbd}
    assert list(REPEAT_MODELS) == list(own)
    x, t_x, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 30.43, 10.0]), np.full(3, 38.86)
    for name, model in REPEAT_MODELS.items():
        assert model.name == name
        found = model.fit(g.x, g.t_x, g.T, g.weight, min_repeat_buyers=10)
        assert found.converged and found.message == "", found.message
        assert (found.n_customers, found.n_repeat_buyers) == (2357, 946)
        assert found.iterations > 0 and math.isfinite(found.log_likelihood)
        direct = own[name](g.x, g.t_x, g.T, g.weight)
        assert found.params == tuple(direct.params)
        assert found.log_likelihood == direct.log_likelihood
        np.testing.assert_array_equal(
            model.p_alive(found.params, x, t_x, T), model.p_alive(direct.params, x, t_x, T)
        )
        assert len(found.params) == len(model.param_names) == 4
        assert model.param_names[:2] == ("r", "alpha")
        alive = model.p_alive(found.params, x, t_x, T)
        assert np.all((alive > 0) & (alive <= 1))
        expected = model.conditional_expected_purchases(found.params, 39.0, x, t_x, T)
        discounted = model.discounted_expected_purchases(
            found.params, x, t_x, T, horizon=39.0, step=13.0, discount_rate_per_step=0.0
        )
        np.testing.assert_allclose(discounted, expected, rtol=1e-12)
        refused = model.fit([], [], [], None, min_repeat_buyers=10)
        assert not refused.converged and "no customers" in refused.message
        assert all(math.isnan(value) for value in refused.params)
        assert np.all(np.isnan(model.p_alive(refused.params, x, t_x, T)))
    assert REPEAT_MODELS["pareto_nbd"].param_names == ("r", "alpha", "s", "beta")
    assert REPEAT_MODELS["mbgnbd"].param_names == ("r", "alpha", "a", "b")


# ---- 2. against the models' definitions, integrated numerically ---------------------------------


@functools.cache
def _unit_legendre(nodes: int) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes and weights on (0, 1). scipy's roots_legendre, not numpy's leggauss:
    the latter solves a 600 x 600 eigenproblem, seconds on a busy machine."""
    u, w = special.roots_legendre(nodes)
    return (u + 1) / 2, w / 2


def expectation_over(dist_a, dist_b, f, nodes: int = 600) -> float:
    """E[f(A, B)] for independent A ~ dist_a and B ~ dist_b, by Gauss-Legendre quadrature over
    their quantiles: the integral of f(F_A^-1(u), F_B^-1(v)) over the unit square, which is
    smooth where the densities (shape parameters below 1) are not."""
    u, w = _unit_legendre(nodes)
    a, b = np.meshgrid(dist_a.ppf(u), dist_b.ppf(u), indexing="ij")
    return float(np.einsum("i,j,ij->", w, w, f(a, b)))


def mean_of(dist, h: Callable[[float], float]) -> float:
    """E[h(V)] for V ~ dist by adaptive quadrature of h(F^-1(u)) over u in (0, 1)."""
    value, _ = integrate.quad(
        lambda u: h(float(dist.ppf(u))), 0.0, 1.0, epsabs=0.0, epsrel=1e-11, limit=200
    )
    return float(value)


def beta_mean(a: float, b: float, h: Callable[[float], float]) -> float:
    """E[h(P)] for P ~ Beta(a, b) by QUADPACK's algebraic-weight rule (QAWS), which integrates
    h(p) p^(a-1) (1-p)^(b-1) with the endpoint singularities of the density handled exactly,
    also where h is concentrated at one end (a heavy buyer's (1-p)^x)."""
    value, _ = integrate.quad(
        h, 0.0, 1.0, weight="alg", wvar=(a - 1, b - 1), epsabs=0.0, epsrel=1e-12, limit=200
    )
    return float(value / special.beta(a, b))


def pareto_by_integration(p: ParetoNbdParams, x: int, t_x: float, T: float, t: float):
    """P(alive) and E[Y(t)] from the individual-level model integrated over the gamma priors of
    lambda and mu: alive, lambda^x e^-(lambda+mu)T; dead in (t_x, T],
    lambda^x mu/(lambda+mu) (e^-(lambda+mu)t_x - e^-(lambda+mu)T); an alive customer buys
    lambda/mu (1 - e^-mu t) in the next t."""
    lam, mu = stats.gamma(p.r, scale=1 / p.alpha), stats.gamma(p.s, scale=1 / p.beta)
    alive = expectation_over(lam, mu, lambda a, b: a**x * np.exp(-(a + b) * T))
    dead = expectation_over(
        lam, mu, lambda a, b: a**x * b / (a + b) * (np.exp(-(a + b) * t_x) - np.exp(-(a + b) * T))
    )
    buys = expectation_over(
        lam, mu, lambda a, b: a**x * np.exp(-(a + b) * T) * a / b * -np.expm1(-b * t)
    )
    return alive / (alive + dead), buys / (alive + dead)


@pytest.mark.parametrize(("x", "t_x", "T"), EDGES[:3])
def test_pareto_nbd_p_alive_and_expectation_match_integration(x: int, t_x: float, T: float) -> None:
    p = ParetoNbdParams(0.553, 10.578, 0.606, 11.669)
    alive, expected = pareto_by_integration(p, x, t_x, T, 39.0)
    assert paretonbd_p_alive(p, x, t_x, T)[0] == pytest.approx(alive, rel=1e-4)
    assert paretonbd_conditional_expected_purchases(p, 39.0, x, t_x, T)[0] == pytest.approx(
        expected, rel=1e-4
    )


@pytest.mark.parametrize(("x", "t_x", "T"), EDGES)
def test_mbg_nbd_p_alive_matches_integration(x: int, t_x: float, T: float) -> None:
    """Given (lambda, p): alive after x + 1 survived purchases, (1-p)^(x+1) lambda^x e^-lambda T;
    dropped at the last purchase, p (1-p)^x lambda^x e^-lambda t_x (the first one too)."""
    q = MbgNbdParams(0.525, 6.183, 0.891, 1.614)
    lam, drop = stats.gamma(q.r, scale=1 / q.alpha), stats.beta(q.a, q.b)
    alive = expectation_over(lam, drop, lambda a, p: (1 - p) ** (x + 1) * a**x * np.exp(-a * T))
    dead = expectation_over(lam, drop, lambda a, p: p * (1 - p) ** x * a**x * np.exp(-a * t_x))
    assert mbgnbd_p_alive(q, x, t_x, T)[0] == pytest.approx(alive / (alive + dead), rel=1e-4)
    # the likelihood is that expectation itself
    assert math.log(alive + dead) == pytest.approx(mbgnbd_log_likelihood(q, x, t_x, T)[0], abs=1e-4)


def pareto_by_quadrature(p: ParetoNbdParams, x: int, t_x: float, T: float, t: float):
    """Log-likelihood, P(alive) and E[Y(t)] from the integral forms behind note 009's closed
    ones, by one-dimensional adaptive quadrature (no hypergeometric function, so neither of its
    branches alpha >= beta, alpha < beta is assumed). With lambda and mu integrated out, the
    dead term is s alpha^r beta^s G(r+x)/G(r) times the integral over the death time tau in
    (t_x, T] of (alpha+tau)^-(r+x) (beta+tau)^-(s+1), the alive term G(r+x)/G(r) alpha^r beta^s
    (alpha+T)^-(r+x) (beta+T)^-s. Given alive, lambda ~ Gamma(r+x, alpha+T) and mu ~ Gamma(s,
    beta+T) are independent and E[Y(t) | lambda, mu] = lambda (1 - e^-mu t) / mu."""
    k = p.r + x

    def dead_over_alive(tau: float) -> float:
        return ((p.alpha + T) / (p.alpha + tau)) ** k * ((p.beta + T) / (p.beta + tau)) ** (p.s + 1)

    ratio = p.s / (p.beta + T) * integrate.quad(dead_over_alive, t_x, T, epsrel=1e-12)[0]
    log_alive = (
        special.gammaln(k)
        - special.gammaln(p.r)
        + p.r * math.log(p.alpha)
        + p.s * math.log(p.beta)
        - k * math.log(p.alpha + T)
        - p.s * math.log(p.beta + T)
    )
    alive = 1 / (1 + ratio)
    mu = stats.gamma(p.s, scale=1 / (p.beta + T))
    if_alive = k / (p.alpha + T) * mean_of(mu, lambda m: -math.expm1(-m * t) / m if m > 0 else t)
    return log_alive + math.log1p(ratio), alive, alive * if_alive


def mbg_by_quadrature(q: MbgNbdParams, x: int, t_x: float, T: float, t: float):
    """The same for the MBG/NBD: with lambda integrated out, alive is E[(1-p)^(x+1)] and dropped
    at the last purchase E[p (1-p)^x] over p ~ Beta(a, b), each times G(r+x)/G(r) alpha^r over
    (alpha+T)^(r+x), resp. (alpha+t_x)^(r+x). Given alive, p ~ Beta(a, b+x+1) and lambda ~
    Gamma(r+x, alpha+T), and E[Y(t) | lambda, p] = (1 - e^-lambda p t) / p, whose mean over
    lambda is (1 - ((alpha+T)/(alpha+T+p t))^(r+x)) / p."""
    k = q.r + x
    rate = special.gammaln(k) - special.gammaln(q.r) + q.r * math.log(q.alpha)
    log_alive = (
        rate
        + math.log(beta_mean(q.a, q.b, lambda p: (1 - p) ** (x + 1)))
        - k * math.log(q.alpha + T)
    )
    log_dead = (
        rate
        + math.log(beta_mean(q.a, q.b, lambda p: p * (1 - p) ** x))
        - k * math.log(q.alpha + t_x)
    )
    log_likelihood = float(np.logaddexp(log_alive, log_dead))
    alive = math.exp(log_alive - log_likelihood)

    def buys(p: float) -> float:
        if p == 0:
            return k * t / (q.alpha + T)
        return -math.expm1(-k * math.log1p(p * t / (q.alpha + T))) / p

    if_alive = beta_mean(q.a, q.b + x + 1, buys)
    return log_likelihood, alive, alive * if_alive


@pytest.mark.parametrize(
    "p",
    [
        ParetoNbdParams(0.553, 10.578, 0.606, 11.669),  # CDNOW: alpha < beta
        ParetoNbdParams(0.55, 15.0, 0.61, 5.0),  # alpha > beta
        ParetoNbdParams(0.55, 10.58, 0.61, 10.58),  # alpha = beta: the 2F1 argument is 0
        ParetoNbdParams(0.55, 10.58, 0.61, 10.58 * (1 + 1e-9)),  # just across the switch
        ParetoNbdParams(2.0, 1.0, 0.05, 300.0),  # argument near 1, s small
        ParetoNbdParams(0.1, 300.0, 3.0, 1.0),  # argument near 1 the other way, s > 1
    ],
    ids=["alpha<beta", "alpha>beta", "alpha=beta", "alpha~beta", "z~1", "z~1-swapped"],
)
def test_pareto_nbd_matches_its_integral_form_in_both_branches(p: ParetoNbdParams) -> None:
    """The log-space hypergeometric evaluation in either branch, at the edges and for heavy
    buyers, against quadrature: the likelihood to 1e-8, P(alive) and E[Y(t)] to 1e-7."""
    for x, t_x, T in [*EDGES, *HEAVY]:
        log_likelihood, alive, expected = pareto_by_quadrature(p, x, t_x, T, 39.0)
        case = f"x={x} t_x={t_x} T={T}"
        assert paretonbd_log_likelihood(p, x, t_x, T)[0] == pytest.approx(
            log_likelihood, abs=1e-8
        ), case
        assert paretonbd_p_alive(p, x, t_x, T)[0] == pytest.approx(alive, rel=1e-7, abs=1e-15), case
        found = paretonbd_conditional_expected_purchases(p, 39.0, x, t_x, T)[0]
        assert found == pytest.approx(expected, rel=1e-7, abs=1e-15), case
    # a purchase at T: nothing can have ended between the last purchase and T
    assert paretonbd_p_alive(p, 3, 20.0, 20.0)[0] == 1.0


def cdnow_and_edge_buyers(cdnow: dict[str, np.ndarray]) -> tuple[np.ndarray, ...]:
    """(x, t_x, T) of CDNOW's customers followed by the edge and heavy buyers: what the fits'
    precomputed likelihoods are checked on, bit for bit."""
    edges = np.array([*EDGES, *HEAVY], dtype=float)
    return tuple(
        np.concatenate([cdnow[name], edges[:, column]])
        for column, name in enumerate(("x", "t_x", "T"))
    )


def test_pareto_nbd_likelihood_by_pair_is_the_likelihood(cdnow: dict[str, np.ndarray]) -> None:
    """The fit's likelihood (log F once per distinct pair of x with t_x or T) gives every
    customer's value bit for bit, in both branches and at their edges, on CDNOW's customers and
    on the edge and heavy buyers."""
    x, t_x, T = cdnow_and_edge_buyers(cdnow)
    of_customers = paretonbd_log_likelihood_of(x, t_x, T)
    for p in [
        ParetoNbdParams(0.553, 10.578, 0.606, 11.669),
        ParetoNbdParams(0.55, 15.0, 0.61, 5.0),
        ParetoNbdParams(0.55, 10.58, 0.61, 10.58),
        ParetoNbdParams(2.0, 1.0, 0.05, 300.0),
        ParetoNbdParams(0.1, 300.0, 3.0, 1.0),
    ]:
        expected = paretonbd_log_likelihood(p, x, t_x, T)
        np.testing.assert_array_equal(of_customers(np.array(p)), expected, err_msg=str(p))


def test_mbg_nbd_likelihood_by_distinct_value_is_the_likelihood(
    cdnow: dict[str, np.ndarray],
) -> None:
    """The fit's MBG/NBD likelihood (each special function once per distinct x, t_x or T, then
    gathered) gives every customer's value bit for bit, on CDNOW's customers and on the edge and
    heavy buyers, at the published fit and far from it."""
    x, t_x, T = cdnow_and_edge_buyers(cdnow)
    of_customers = mbgnbd_log_likelihood_of(x, t_x, T)
    for q in [
        MbgNbdParams(0.525, 6.183, 0.891, 1.614),
        MbgNbdParams(2.0, 1.0, 0.05, 300.0),
        MbgNbdParams(0.1, 300.0, 3.0, 0.01),
    ]:
        expected = mbgnbd_log_likelihood(q, x, t_x, T)
        np.testing.assert_array_equal(of_customers(np.array(q)), expected, err_msg=str(q))


@pytest.mark.parametrize(
    "q",
    [
        MbgNbdParams(0.525, 6.183, 0.891, 1.614),  # BTYDplus on CDNOW
        MbgNbdParams(0.525, 6.183, 1.0, 1.614),  # a = 1: the expectation's limit form
        MbgNbdParams(4.0, 100.0, 3.5, 0.3),
    ],
    ids=["cdnow", "a=1", "a>1"],
)
def test_mbg_nbd_matches_its_integral_form(q: MbgNbdParams) -> None:
    for x, t_x, T in [*EDGES, *HEAVY]:
        log_likelihood, alive, expected = mbg_by_quadrature(q, x, t_x, T, 39.0)
        case = f"x={x} t_x={t_x} T={T}"
        assert mbgnbd_log_likelihood(q, x, t_x, T)[0] == pytest.approx(log_likelihood, abs=1e-8), (
            case
        )
        assert mbgnbd_p_alive(q, x, t_x, T)[0] == pytest.approx(alive, rel=1e-8), case
        found = mbgnbd_conditional_expected_purchases(q, 39.0, x, t_x, T)[0]
        assert found == pytest.approx(expected, rel=1e-7), case
    # a purchase at T may still have been the last one: P(alive) = (b+x) / (a+b+x)
    assert mbgnbd_p_alive(q, 3, 20.0, 20.0)[0] == pytest.approx((q.b + 3) / (q.a + q.b + 3))


# ---- 3. edges ----------------------------------------------------------------------------------
def test_one_time_buyers_can_be_gone_and_nothing_is_expected_in_no_time() -> None:
    pareto, mbg = (
        ParetoNbdParams(0.55, 10.58, 0.61, 11.67),
        MbgNbdParams(0.525, 6.183, 0.891, 1.614),
    )
    assert 0 < paretonbd_p_alive(pareto, 0, 0.0, 30.0)[0] < 1
    closed = 1 / (1 + mbg.a / mbg.b * ((mbg.alpha + 30.0) / mbg.alpha) ** mbg.r)
    assert mbgnbd_p_alive(mbg, 0, 0.0, 30.0)[0] == pytest.approx(closed, rel=1e-12)
    # a customer who bought at T is not more likely gone than one who bought before it
    assert paretonbd_p_alive(pareto, 3, 20.0, 20.0)[0] > paretonbd_p_alive(pareto, 3, 10.0, 20.0)[0]
    for expectation, params in (
        (paretonbd_conditional_expected_purchases, pareto),
        (mbgnbd_conditional_expected_purchases, mbg),
    ):
        assert expectation(params, 0.0, 2, 30.43, 38.86)[0] == 0.0


def test_time_unit_is_the_callers() -> None:
    weekly_pareto, weekly_mbg = (
        ParetoNbdParams(0.55, 10.58, 0.61, 11.67),
        MbgNbdParams(0.525, 6.183, 0.891, 1.614),
    )
    for expectation, weekly in (
        (paretonbd_conditional_expected_purchases, weekly_pareto),
        (mbgnbd_conditional_expected_purchases, weekly_mbg),
    ):
        in_weeks = expectation(weekly, 39.0, 2, 30.43, 38.86)[0]
        in_days = expectation(weekly.in_time_unit(7), 273.0, 2, 30.43 * 7, 38.86 * 7)[0]
        assert in_days == pytest.approx(in_weeks, rel=1e-10)


@pytest.mark.parametrize(
    ("discounted", "expectation", "params"),
    [
        (
            paretonbd_discounted_expected_purchases,
            paretonbd_conditional_expected_purchases,
            ParetoNbdParams(0.55, 10.58, 0.61, 11.67),
        ),
        (
            mbgnbd_discounted_expected_purchases,
            mbgnbd_conditional_expected_purchases,
            MbgNbdParams(0.525, 6.183, 0.891, 1.614),
        ),
    ],
)
def test_discounted_purchases_are_the_stepped_sum(discounted, expectation, params) -> None:
    by_hand = sum(
        (expectation(params, 4.0 * i, 2, 30.43, 38.86)[0]
         - expectation(params, 4.0 * (i - 1), 2, 30.43, 38.86)[0]) / 1.01**i
        for i in range(1, 14)
    )  # fmt: skip
    found = discounted(params, 2, 30.43, 38.86, horizon=52.0, step=4.0, discount_rate_per_step=0.01)
    assert found[0] == pytest.approx(by_hand, rel=1e-10)
    undiscounted = discounted(params, 2, 30.43, 38.86, horizon=52.0, step=4.0,
                              discount_rate_per_step=0.0)  # fmt: skip
    assert undiscounted[0] == pytest.approx(expectation(params, 52.0, 2, 30.43, 38.86)[0])


@pytest.mark.parametrize("fit", [fit_paretonbd, fit_mbgnbd])
@pytest.mark.parametrize(
    ("x", "t_x", "T", "weight", "fragment"),
    [
        pytest.param([], [], [], None, "no customers", id="empty"),
        pytest.param([1, 2], [5.0], [6.0, 7.0], None, "differ in length", id="lengths"),
        pytest.param([1.5], [1.0], [2.0], None, "whole numbers", id="fractional-x"),
        pytest.param(
            [0, 0, 1],
            [0.0, 0.0, 1.0],
            [5.0] * 3,
            None,
            "fewer than 10 repeat buyers",
            id="2-repeaters",
        ),
        pytest.param([1, math.nan], [1.0, 1.0], [4.0, 4.0], None, "NaN", id="nan"),
        pytest.param([1, 2], [1.0, 2.0], [4.0, math.inf], None, "NaN", id="inf"),
        pytest.param([1, 2], [5.0, 2.0], [4.0, 4.0], None, "exceeds T", id="t_x-after-T"),
        pytest.param([1, 2], [1.0, 2.0], [4.0, 4.0], [1, -1], "negative", id="negative-weight"),
        pytest.param([1, 2], [1.0, 2.0], [4.0, 4.0], [0, 0], "no customers", id="zero-weights"),
        pytest.param([0], [3.0], [4.0], None, "t_x must be 0", id="x-0-with-recency"),
        pytest.param("abc", [1.0], [4.0], None, "fit failed", id="not-numbers"),
    ],
)
def test_fits_never_raise_and_say_why(fit, x, t_x, T, weight, fragment: str) -> None:
    found = fit(x, t_x, T, weight)
    assert not found.converged and fragment in found.message, found.message
    assert all(math.isnan(value) for value in found.params)
    assert math.isnan(found.log_likelihood)


@pytest.mark.parametrize("fit", [fit_paretonbd, fit_mbgnbd])
def test_data_without_dropout_or_iterations_are_reported(fit) -> None:
    """Every repeat buyer bought on the last day: no sign of dropout, so no finite maximum.
    And a fit cut off after 3 iterations. Neither raises; both say why."""
    x = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    none_left = fit(
        x,
        np.array([0.0, 30.0, 30.0, 30.0, 30.0]),
        np.full(5, 30.0),
        np.array([100.0, 40.0, 20.0, 10.0, 5.0]),
    )
    assert not none_left.converged and none_left.message
    assert all(math.isnan(value) for value in none_left.params)
    assert none_left.n_repeat_buyers == 75
    cut = fit(
        x,
        np.array([0.0, 10.0, 20.0, 25.0, 28.0]),
        np.full(5, 30.0),
        np.array([100.0, 40.0, 20.0, 10.0, 5.0]),
        max_iterations=3,
    )
    assert not cut.converged and "after 3 iterations" in cut.message, cut.message


def simulate_pareto_nbd(p: ParetoNbdParams, n: int, seed: int):
    """(x, t_x, T) of n customers, in weeks, ages uniform in [26, 104): lambda ~ Gamma(r, alpha),
    mu ~ Gamma(s, beta), a lifetime ~ Exponential(mu); she buys as Poisson(lambda) over the part
    L of (0, T] she is alive, and the last of x uniform arrivals in (0, L] is L U^(1/x)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26.0, 104.0, n)
    rate = rng.gamma(p.r, 1 / p.alpha, n)
    seen = np.minimum(rng.exponential(1 / rng.gamma(p.s, 1 / p.beta, n)), T)
    x = rng.poisson(rate * seen).astype(np.float64)
    t_x = np.where(x > 0, seen * rng.random(n) ** (1 / np.maximum(x, 1.0)), 0.0)
    return x, t_x, T


def simulate_mbg_nbd(q: MbgNbdParams, n: int, seed: int):
    """The same for the MBG/NBD: p ~ Beta(a, b), and she leaves right after her first purchase
    with probability p, else after each repeat purchase with probability p, so the repeat
    purchases she would ever make are K ~ Geometric(p) - 1 (K = 0: gone at once). With N ~
    Poisson(lambda T) arrivals of the unstopped process, x = min(K, N) and the x-th of N uniform
    arrivals in (0, T] is at T Beta(x, N - x + 1)."""
    rng = np.random.default_rng(seed)
    T = rng.uniform(26.0, 104.0, n)
    rate = rng.gamma(q.r, 1 / q.alpha, n)
    would_make = rng.geometric(rng.beta(q.a, q.b, n)) - 1.0
    arrivals = rng.poisson(rate * T).astype(np.float64)
    x = np.minimum(would_make, arrivals)
    t_x = np.where(x > 0, T * rng.beta(np.maximum(x, 1.0), arrivals - x + 1.0), 0.0)
    return x, t_x, T


@pytest.mark.parametrize(
    ("fit", "simulate", "log_likelihood", "truth"),
    [
        (
            fit_paretonbd,
            simulate_pareto_nbd,
            paretonbd_log_likelihood,
            ParetoNbdParams(0.8, 8.0, 0.7, 30.0),
        ),
        (fit_mbgnbd, simulate_mbg_nbd, mbgnbd_log_likelihood, MbgNbdParams(0.8, 8.0, 0.9, 3.0)),
    ],
    ids=["pareto_nbd", "mbgnbd"],
)
def test_fit_recovers_simulated_parameters(fit, simulate, log_likelihood, truth) -> None:
    """4,000 simulated customers: the purchase process (r, alpha) within 10%; the dropout
    process, which rests on far fewer informative customers, within 35%; and the likelihood-ratio
    test does not reject the truth (2 (LL(fit) - LL(truth)) below the 99.9% point of chi2(4))."""
    x, t_x, T = simulate(truth, 4000, seed=11)
    found = fit(x, t_x, T)
    assert found.converged, found.message
    ratio = np.array(found.params) / np.array(truth)
    assert np.all(np.abs(ratio[:2] - 1) < 0.10), ratio
    assert np.all(np.abs(ratio[2:] - 1) < 0.35), ratio
    statistic = 2 * (found.log_likelihood - log_likelihood(truth, x, t_x, T).sum())
    assert 0 <= statistic < stats.chi2.ppf(0.999, 4)


# ---- 4. the next purchase, and the choice between models -----------------------------------------


def test_the_wait_for_the_next_purchase_is_lomax() -> None:
    r, alpha, x, T = 0.55, 10.58, 2.0, 38.86
    quantiles = next_purchase_quantiles(r, alpha, x, T, np.array([0.0, 0.1, 0.5, 0.9]))
    assert quantiles[0] == 0.0 and np.all(np.diff(quantiles) > 0)
    survival = ((alpha + T) / (alpha + T + quantiles[1:])) ** (r + x)
    assert survival == pytest.approx([0.9, 0.5, 0.1], rel=1e-12)
    # Monte Carlo: a rate from Gamma(r + x, alpha + T), then an exponential wait
    rng = np.random.default_rng(5)
    waits = rng.exponential(1 / rng.gamma(r + x, 1 / (alpha + T), 200_000))
    assert np.quantile(waits, [0.1, 0.5, 0.9]) == pytest.approx(quantiles[1:], rel=0.03)
    assert math.isnan(next_purchase_quantiles(r, alpha, x, T, 1.0)[0])


def test_next_purchase_quantiles_are_per_customer_and_in_the_callers_unit() -> None:
    """One float q over many customers: each row is its own Lomax quantile; more purchases or a
    younger customer mean a shorter wait; in days it is 7 times the weekly wait."""
    r, alpha = 0.55, 10.58
    x, T = np.array([0.0, 2.0, 10.0, 2.0]), np.array([30.0, 38.86, 38.86, 10.0])
    for q in (0.0, 0.1, 0.5, 0.9):
        weeks = next_purchase_quantiles(r, alpha, x, T, q)
        assert weeks.shape == (4,)
        closed = (alpha + T) * ((1 - q) ** (-1 / (r + x)) - 1)
        np.testing.assert_allclose(weeks, closed, rtol=1e-12)
        days = next_purchase_quantiles(r, alpha * 7, x, T * 7, q)
        np.testing.assert_allclose(days, 7 * weeks, rtol=1e-12)
        if q > 0:
            assert weeks[2] < weeks[1] and weeks[3] < weeks[1]
    assert np.all(next_purchase_quantiles(r, alpha, x, T, 0.0) == 0.0)


def test_the_unconditional_wait_counts_the_chance_of_never() -> None:
    """With P(alive) 0.8, the median is the alive customer's 0.5 / 0.8 quantile, and the 90%
    quantile does not exist (null): more than 10% never buy again."""
    p_alive = np.array([0.8, 0.8, 0.4])
    x, age = np.array([2.0, 2.0, 2.0]), np.array([38.86] * 3)
    median = _wait_quantile((0.55, 10.58), 0.5, p_alive, x, age)
    assert median[0] == pytest.approx(next_purchase_quantiles(0.55, 10.58, 2, 38.86, 0.625)[0])
    assert math.isnan(median[2])
    assert math.isnan(_wait_quantile((0.55, 10.58), 0.9, p_alive, x, age)[0])


def candidate(model: str, purpose: str, converged: bool, error: float | None) -> dict:
    row = _fit_row(purpose, None, model, converged=converged)
    row["holdout_mean_absolute_error"] = error
    return row


def test_the_model_with_the_smallest_back_test_error_is_chosen() -> None:
    rows = [
        candidate("bgnbd", "calibration", True, 0.40),
        candidate("pareto_nbd", "calibration", True, 0.35),
        candidate("mbgnbd", "calibration", True, 0.30),
        candidate("bgnbd", "current", True, None),
        candidate("pareto_nbd", "current", True, None),
        candidate("mbgnbd", "current", False, None),  # best back-test, but no fit as of D
        candidate("gamma_gamma", "current", True, None),
    ]
    _choose(rows)
    chosen = {(row["purpose"], row["model"]) for row in rows if row["is_chosen"]}
    assert chosen == {("calibration", "pareto_nbd"), ("current", "pareto_nbd")}
    by = {(row["purpose"], row["model"]): row for row in rows}
    assert by[("current", "mbgnbd")]["choice"] == "not used: did not converge"
    assert by[("current", "gamma_gamma")]["is_chosen"] is None
    assert "0.3500" in by[("current", "pareto_nbd")]["choice"]


def test_without_a_back_test_the_first_model_that_fitted_is_chosen() -> None:
    rows = [
        candidate("bgnbd", "calibration", False, None),
        candidate("pareto_nbd", "calibration", False, None),
        candidate("mbgnbd", "calibration", False, None),
        candidate("bgnbd", "current", False, None),
        candidate("pareto_nbd", "current", True, None),
        candidate("mbgnbd", "current", True, None),
    ]
    _choose(rows)
    assert {row["model"] for row in rows if row["is_chosen"]} == {"pareto_nbd"}
    assert "no back-test" in next(row["choice"] for row in rows if row["is_chosen"])


def cdnow_buyers(cdnow: dict[str, np.ndarray], spend: np.ndarray | None = None) -> pa.Table:
    """CDNOW's customers as int_buyers_summarised rows, in days: every one as of D, the first
    half at the calibration cut-off too, with a holdout."""
    n = cdnow["x"].size
    days = {name: cdnow[name] * 7 for name in ("t_x", "T")}
    half = n // 2
    return pa.table(
        {
            "purpose": ["current"] * n + ["calibration"] * half,
            "cutoff_date": [dt.date(1998, 6, 30)] * n + [dt.date(1997, 9, 30)] * half,
            "user_id": [f"c{i}" for i in range(n)] + [f"c{i}" for i in range(half)],
            "repeat_purchase_days": np.concatenate([cdnow["x"], cdnow["x"][:half]]),
            "days_first_to_last": np.concatenate([days["t_x"], days["t_x"][:half]]),
            "days_first_to_cutoff": np.concatenate([days["T"], days["T"][:half]]),
            "mean_repeat_spend": np.full(n + half, 35.0) if spend is None else spend,
            "holdout_purchase_days": np.concatenate(
                [np.full(n, np.nan), np.minimum(cdnow["x"][:half], 3)]
            ),
        }
    )


def test_fit_and_score_use_the_chosen_model(cdnow: dict[str, np.ndarray]) -> None:
    """The pipeline on CDNOW in days: every candidate is fitted at both cut-offs, one is chosen,
    and every prediction comes from it."""
    days = {name: cdnow[name] * 7 for name in ("t_x", "T")}
    buyers = cdnow_buyers(cdnow)
    settings = PredictionSettings((30, 90), 90, 360, 30, 0.1, 10)
    fits = fit_models(buyers, settings)
    assert fits.schema == FIT_SCHEMA
    rows = fits.to_pylist()
    assert {row["model"] for row in rows} == {*REPEAT_MODELS, "gamma_gamma"}
    chosen = [row for row in rows if row["is_chosen"]]
    assert len(chosen) == 2 and len({row["model"] for row in chosen}) == 1
    best = min(
        (row for row in rows if row["purpose"] == "calibration" and row["model"] in REPEAT_MODELS),
        key=lambda row: row["holdout_mean_absolute_error"],
    )
    assert chosen[0]["model"] == best["model"]
    scores = score_buyers(buyers, fits, settings).to_pylist()
    assert {row["purchase_model"] for row in scores} == {best["model"]}
    current = [row for row in scores if row["purpose"] == "current"]
    model = REPEAT_MODELS[best["model"]]
    params = next(
        tuple(row[name] for name in model.param_names)
        for row in rows
        if row["purpose"] == "current" and row["is_chosen"]
    )
    expected = model.p_alive(params, cdnow["x"], days["t_x"], days["T"])
    assert [row["p_alive"] for row in current] == pytest.approx(list(expected))
    for row in current:
        if row["next_purchase_days_p50"] is not None:
            assert row["p_alive"] > 0.5
            assert row["next_purchase_days_p10"] <= row["next_purchase_days_p50"]


def test_fits_on_grouped_buyers_are_the_fits_on_every_buyer(cdnow: dict[str, np.ndarray]) -> None:
    """The Spark path fits on buyers grouped by the values the fits read (strata/spark_scoring.py:
    no process holds every buyer); every fitted figure, the back-test's among them, is the same
    bit for bit as the fit on one row per buyer."""
    half = cdnow["x"].size // 2
    rng = np.random.default_rng(7)
    # Spends rounded to cents, so that some buyers share one and are grouped together.
    spend = np.round(rng.gamma(6.0, 6.0, cdnow["x"].size + half), 2)
    buyers = cdnow_buyers(cdnow, np.where(np.concatenate([cdnow["x"], cdnow["x"][:half]]) > 0,
                                          spend, np.nan))  # fmt: skip
    settings = PredictionSettings((30, 90), 90, 360, 30, 0.1, 10)
    keys = ["purpose", "cutoff_date", "repeat_purchase_days", "days_first_to_last",
            "days_first_to_cutoff", "holdout_purchase_days"]  # fmt: skip
    repeat = buyers.group_by(keys).aggregate([("user_id", "count")])
    spends = buyers.group_by(["purpose", "repeat_purchase_days", "mean_repeat_spend"]).aggregate(
        [("user_id", "count")]
    )
    repeat, spends = (
        table.rename_columns([*table.column_names[:-1], "buyers"]) for table in (repeat, spends)
    )
    assert repeat.num_rows < buyers.num_rows / 2 and spends.num_rows < buyers.num_rows
    on_grouped = fit_models_on(fit_inputs(repeat, spends), settings).to_pylist()
    on_every_buyer = fit_models(buyers, settings).to_pylist()
    assert any(row["holdout_mean_absolute_error"] for row in on_every_buyer)
    assert on_grouped == on_every_buyer


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_an_exact_weighted_sum_is_the_sum_of_every_repeated_value(seed: int) -> None:
    rng = np.random.default_rng(seed)
    values = rng.lognormal(0.0, 3.0, 300) * rng.choice([-1.0, 1.0], 300)
    weights = rng.integers(1, 5000, 300).astype(float)
    repeated = np.repeat(values, weights.astype(int))
    assert _exact_sum(values, weights) == math.fsum(repeated.tolist())
    assert _exact_sum(values, np.ones(300)) == math.fsum(values.tolist())
