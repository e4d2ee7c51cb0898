"""The Pareto/NBD and the modified BG/NBD against their published CDNOW fits, against direct
numerical integration of their definitions, and at their edges; the choice between the three
models and the wait for the next purchase (pure Python, no dbt).

Published values (CDNOW 1/10th sample, 2,357 customers, 39-week calibration, times in weeks):
- Pareto/NBD: r = 0.55, alpha = 10.58, s = 0.61, beta = 11.67, log-likelihood -9595.0 (Fader,
  Hardie and Lee 2005, "A Note on Deriving the Pareto/NBD Model and Related Expressions", and
  "Counting Your Customers the Easy Way", Table 1).
- MBG/NBD: r = 0.525, alpha = 6.183, a = 0.891, b = 1.614 (the BTYDplus R package's CDNOW fit,
  the reference the lifetimes test suite checks its ModifiedBetaGeoFitter against).
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from scipy import stats

from strata.predict.bgnbd import group_customers
from strata.predict.mbg_nbd import (
    MbgNbdParams,
    fit_mbgnbd,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_discounted_expected_purchases,
    mbgnbd_log_likelihood,
    mbgnbd_p_alive,
)
from strata.predict.pareto_nbd import (
    ParetoNbdParams,
    fit_paretonbd,
    paretonbd_conditional_expected_purchases,
    paretonbd_discounted_expected_purchases,
    paretonbd_log_likelihood,
    paretonbd_p_alive,
)
from strata.predict.pipeline import (
    FIT_SCHEMA,
    PredictionSettings,
    _choose,
    _fit_row,
    _wait_quantile,
    fit_models,
    score_buyers,
)
from strata.predict.repeat_models import REPEAT_MODELS, next_purchase_quantiles

pytestmark = pytest.mark.xdist_group("predict_models")

SAMPLE = (
    Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "cdnow" / "CDNOW_sample.txt"
)
CALIBRATION_END = dt.date(1997, 9, 30)
PAPER_PARETO = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
PAPER_PARETO_LOG_LIKELIHOOD = -9595.0
BTYDPLUS_MBG = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}
# Customers at the edges: one-time, recent repeat buyer, long-silent repeat buyer, t_x = T.
EDGES = [(0, 0.0, 30.0), (2, 30.43, 38.86), (7, 10.0, 38.0), (3, 20.0, 20.0)]


@pytest.fixture(scope="module")
def cdnow() -> dict[str, np.ndarray]:
    """(x, t_x, T) in weeks per customer, as the papers build them (a purchase is a day)."""
    days: dict[str, set[dt.date]] = defaultdict(set)
    for line in SAMPLE.read_text().splitlines():
        _, customer, day, _, _ = line.split()
        days[customer].add(dt.date(int(day[:4]), int(day[4:6]), int(day[6:])))
    x, t_x, T = [], [], []
    for customer_days in days.values():
        calibration = sorted(day for day in customer_days if day <= CALIBRATION_END)
        x.append(len(calibration) - 1)
        t_x.append((calibration[-1] - calibration[0]).days / 7)
        T.append((CALIBRATION_END - calibration[0]).days / 7)
    return {"x": np.array(x, float), "t_x": np.array(t_x), "T": np.array(T)}


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


# ---- 2. against the models' definitions, integrated numerically ---------------------------------


def expectation_over(dist_a, dist_b, f, nodes: int = 600) -> float:
    """E[f(A, B)] for independent A ~ dist_a and B ~ dist_b, by Gauss-Legendre quadrature over
    their quantiles: the integral of f(F_A^-1(u), F_B^-1(v)) over the unit square, which is
    smooth where the densities (shape parameters below 1) are not."""
    u, w = np.polynomial.legendre.leggauss(nodes)
    u, w = (u + 1) / 2, w / 2
    a, b = np.meshgrid(dist_a.ppf(u), dist_b.ppf(u), indexing="ij")
    return float(np.einsum("i,j,ij->", w, w, f(a, b)))


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
    ("x", "t_x", "T", "fragment"),
    [
        ([], [], [], "no customers"),
        ([1, 2], [5.0], [6.0, 7.0], "differ in length"),
        ([1.5], [1.0], [2.0], "whole numbers"),
        ([0, 0, 1], [0.0, 0.0, 1.0], [5.0, 5.0, 5.0], "fewer than 10 repeat buyers"),
    ],
)
def test_fits_never_raise_and_say_why(fit, x, t_x, T, fragment: str) -> None:
    found = fit(x, t_x, T)
    assert not found.converged and fragment in found.message
    assert math.isnan(found.r)


# ---- 4. the next purchase, and the choice between models -----------------------------------------


def test_the_wait_for_the_next_purchase_is_lomax() -> None:
    r, alpha, x, T = 0.55, 10.58, 2.0, 38.86
    quantiles = next_purchase_quantiles(r, alpha, x, T, np.array([0.0, 0.1, 0.5, 0.9]))
    assert quantiles[0] == 0.0 and np.all(np.diff(quantiles) > 0)
    survival = ((alpha + T) / (alpha + T + quantiles[1:])) ** (r + x)
    assert survival == pytest.approx([0.9, 0.5, 0.1], rel=1e-12)
    # Monte Carlo: a rate from Gamma(r + x, alpha + T), then an exponential wait
    rng = np.random.default_rng(5)
    waits = rng.exponential(1 / rng.gamma(r + x, 1 / (alpha + T), 400_000))
    assert np.quantile(waits, 0.5) == pytest.approx(quantiles[2], rel=0.02)
    assert math.isnan(next_purchase_quantiles(r, alpha, x, T, 1.0)[0])


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


def test_fit_and_score_use_the_chosen_model(cdnow: dict[str, np.ndarray]) -> None:
    """The pipeline on CDNOW in days: every candidate is fitted at both cut-offs, one is chosen,
    and every prediction comes from it."""
    n = cdnow["x"].size
    days = {name: cdnow[name] * 7 for name in ("t_x", "T")}
    half = n // 2
    buyers = pa.table(
        {
            "purpose": ["current"] * n + ["calibration"] * half,
            "cutoff_date": [dt.date(1998, 6, 30)] * n + [dt.date(1997, 9, 30)] * half,
            "user_id": [f"c{i}" for i in range(n)] + [f"c{i}" for i in range(half)],
            "repeat_purchase_days": np.concatenate([cdnow["x"], cdnow["x"][:half]]),
            "days_first_to_last": np.concatenate([days["t_x"], days["t_x"][:half]]),
            "days_first_to_cutoff": np.concatenate([days["T"], days["T"][:half]]),
            "mean_repeat_spend": np.full(n + half, 35.0),
            "holdout_purchase_days": np.concatenate(
                [np.full(n, np.nan), np.minimum(cdnow["x"][:half], 3)]
            ),
        }
    )
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
