"""strata.predict: BG/NBD, Gamma-Gamma and CLV against the papers, hand computation and
simulation (pure Python, no dbt).

The CDNOW tests rebuild the papers' calibration data from the raw 1/10th sample: a purchase is a
purchase DAY, calibration ends with 1997-09-30 (its purchases included), times in weeks.
"""

from __future__ import annotations

import csv
import math
import time

import numpy as np
import pytest
from cdnow_data import CDNOW_DIR, cdnow_calibration
from scipy import integrate, special

from strata.predict import (
    BgNbdFit,
    BgNbdParams,
    GammaGammaParams,
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    discounted_expected_purchases,
    expected_clv,
    fit_bgnbd,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
    group_customers,
)
from strata.predict.bgnbd import _GroupedData, _scaled_series
from strata.predict.simulate import DEFAULT_PARAMS, simulate_bgnbd

# one worker for the module: its module-scoped data is made once
pytestmark = pytest.mark.xdist_group("predict_models")

# Fader, Hardie & Lee (2005), BG/NBD on CDNOW weeks 1-39: r, alpha, a, b and the log-likelihood.
PAPER_BGNBD = BgNbdParams(r=0.243, alpha=4.414, a=0.793, b=2.426)
PAPER_LOG_LIKELIHOOD = -9582.4
# Fader, Hardie & Lee (2005, "RFM and CLV") / Hardie (2013): Gamma-Gamma on the same customers.
PAPER_GAMMA_GAMMA = GammaGammaParams(p=6.25, q=3.74, v=15.44)

Arrays = dict[str, np.ndarray]


@pytest.fixture(scope="module")
def cdnow() -> Arrays:
    """Per-customer calibration statistics in WEEKS, the mean spend of the repeat purchase days
    and the number of repeat purchase days in the 39-week holdout."""
    return cdnow_calibration()


@pytest.fixture(scope="module")
def cdnow_fit(cdnow: Arrays) -> BgNbdFit:
    groups = group_customers(cdnow["x"], cdnow["t_x"], cdnow["T"])
    return fit_bgnbd(groups.x, groups.t_x, groups.T, groups.weight)


# ---- 1. CDNOW reproduction -------------------------------------------------------------------


def test_cdnow_statistics_match_the_published_summary(cdnow: Arrays) -> None:
    """x, t_x, T (weeks, 2 decimals) and the mean repeat spend of all 2,357 customers equal the
    summary published with the data, so the same rules can be written in SQL."""
    with (CDNOW_DIR / "cdnow_customers_summary_with_transactions.csv").open() as handle:
        summary = {int(row["ID"]): row for row in csv.DictReader(handle)}
    assert len(cdnow["id"]) == len(summary) == 2357
    for i, customer in enumerate(cdnow["id"].astype(int)):
        row = summary[customer]
        assert cdnow["x"][i] == int(row["x"])
        assert round(cdnow["t_x"][i], 2) == pytest.approx(float(row["t_x"]), abs=1e-9)
        assert round(cdnow["T"][i], 2) == pytest.approx(float(row["T"]), abs=1e-9)
        if cdnow["x"][i] > 0:
            assert abs(cdnow["mean_spend"][i] - float(row["zbar"])) <= 0.005 + 1e-9
    assert int((cdnow["x"] > 0).sum()) == 946


def test_bgnbd_reproduces_the_paper_on_cdnow(cdnow_fit: BgNbdFit) -> None:
    fit = cdnow_fit
    print(f"\nCDNOW BG/NBD: {fit}")
    assert fit.converged and fit.message == ""
    for fitted, published in zip(fit.params, PAPER_BGNBD, strict=True):
        assert fitted == pytest.approx(published, abs=0.005)
    assert fit.log_likelihood == pytest.approx(PAPER_LOG_LIKELIHOOD, abs=0.5)
    assert (fit.n_customers, fit.n_repeat_buyers) == (2357, 946)


def test_gamma_gamma_reproduces_the_paper_on_cdnow(cdnow: Arrays) -> None:
    fit = fit_gamma_gamma(cdnow["x"], cdnow["mean_spend"], np.ones_like(cdnow["x"]))
    print(f"\nCDNOW Gamma-Gamma: {fit}")
    assert fit.converged and fit.message == ""
    assert fit.n_customers == 946
    for fitted, published in zip(fit.params, PAPER_GAMMA_GAMMA, strict=True):
        assert fitted == pytest.approx(published, abs=0.05)


def test_cdnow_forecasts_track_the_data(cdnow: Arrays, cdnow_fit: BgNbdFit) -> None:
    """The model's sums match the data in and after calibration (a sanity check in the spirit of
    the paper's tracking plots, not a published figure)."""
    expected_calibration = bgnbd_expected_purchases(cdnow_fit, cdnow["T"]).sum()
    expected_holdout = bgnbd_conditional_expected_purchases(
        cdnow_fit, 39.0, cdnow["x"], cdnow["t_x"], cdnow["T"]
    ).sum()
    actual_calibration, actual_holdout = cdnow["x"].sum(), cdnow["holdout_x"].sum()
    print(f"\nrepeat purchase days: calibration {actual_calibration:.0f}", end=" ")
    print(
        f"vs E {expected_calibration:.1f}; holdout {actual_holdout:.0f} vs E {expected_holdout:.1f}"
    )
    assert expected_calibration == pytest.approx(actual_calibration, rel=0.02)
    # The data out-buy the model in the holdout (1,882 repeat purchase days against about
    # 1,653 expected): a loose bound that still catches a unit or formula slip.
    assert expected_holdout == pytest.approx(actual_holdout, rel=0.15)


# ---- 2. Hand-computed boundary cases ---------------------------------------------------------


def _hand_hyp2f1(a: float, b: float, c: float, z: float) -> float:
    """Gauss's series for 2F1(a, b; c; z), term by term in plain floats (0 <= z < 1)."""
    terms, term, total, k = [1.0], 1.0, 1.0, 0
    while True:
        term *= (a + k) * (b + k) / ((c + k) * (k + 1)) * z
        k += 1
        terms.append(term)
        total += term
        if k > 10 and abs(term) < 1e-18 * abs(total):
            return math.fsum(terms)


def _hand_p_alive(p: BgNbdParams, x: int, t_x: float, T: float) -> float:
    if x == 0:
        return 1.0
    odds = p.a / (p.b + x - 1) * ((p.alpha + T) / (p.alpha + t_x)) ** (p.r + x)
    return 1.0 / (1.0 + odds)


def _hand_conditional(p: BgNbdParams, t: float, x: int, t_x: float, T: float) -> float:
    """The paper's eq. (10) as printed, without Euler's transformation."""
    z = t / (p.alpha + T + t)
    hyp = _hand_hyp2f1(p.r + x, p.b + x, p.a + p.b + x - 1, z)
    bracket = 1.0 - ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x) * hyp
    return (p.a + p.b + x - 1) / (p.a - 1) * bracket * _hand_p_alive(p, x, t_x, T)


def _hand_log_likelihood(p: BgNbdParams, x: int, t_x: float, T: float) -> float:
    def log_beta(u: float, v: float) -> float:
        return math.lgamma(u) + math.lgamma(v) - math.lgamma(u + v)

    common = math.lgamma(p.r + x) - math.lgamma(p.r) + p.r * math.log(p.alpha)
    alive = math.exp(
        log_beta(p.a, p.b + x) - log_beta(p.a, p.b) + common - (p.r + x) * math.log(p.alpha + T)
    )
    dropped = 0.0
    if x > 0:
        dropped = math.exp(
            log_beta(p.a + 1, p.b + x - 1)
            - log_beta(p.a, p.b)
            + common
            - (p.r + x) * math.log(p.alpha + t_x)
        )
    return math.log(alive + dropped)


BOUNDARY_CASES = [
    pytest.param(0, 0.0, 38.86, 39.0, id="no-repeat-purchase"),
    pytest.param(0, 0.0, 0.0, 78.0, id="new-customer"),
    pytest.param(4, 25.0, 25.0, 39.0, id="recency-equals-age"),
    pytest.param(1, 1.0, 500.0, 52.0, id="very-old-customer"),
    pytest.param(30, 499.0, 500.0, 52.0, id="large-x"),
    pytest.param(100, 120.0, 500.0, 365.0, id="large-x-long-horizon"),
]


@pytest.mark.parametrize(("x", "t_x", "T", "t"), BOUNDARY_CASES)
def test_boundary_cases_match_hand_computation(x: int, t_x: float, T: float, t: float) -> None:
    p = PAPER_BGNBD
    p_alive = bgnbd_p_alive(p, [x], [t_x], [T])[0]
    expected = bgnbd_conditional_expected_purchases(p, t, [x], [t_x], [T])[0]
    log_likelihood = bgnbd_log_likelihood(p, [x], [t_x], [T])[0]
    assert p_alive == pytest.approx(_hand_p_alive(p, x, t_x, T), rel=1e-12, abs=0)
    assert expected == pytest.approx(_hand_conditional(p, t, x, t_x, T), rel=1e-12, abs=0)
    assert log_likelihood == pytest.approx(_hand_log_likelihood(p, x, t_x, T), rel=1e-12)
    if x == 0:
        assert p_alive == 1.0  # exactly: no dropout before the first repeat purchase
    if x > 0 and t_x == T:
        assert p_alive == pytest.approx((p.b + x - 1) / (p.a + p.b + x - 1), rel=1e-14)


def test_large_x_and_horizon_match_the_direct_series() -> None:
    """x = 100, T = 500, t = 365: the original 2F1 is about 1e24 there; the module's transformed
    series must agree with Gauss's series on the untransformed function (and SciPy's hyp2f1)."""
    p, x, T, t = PAPER_BGNBD, 100, 500.0, 365.0
    value = bgnbd_conditional_expected_purchases(p, t, [x], [T], [T])[0]
    z = t / (p.alpha + T + t)
    args = (p.r + x, p.b + x, p.a + p.b + x - 1, z)
    shrink = ((p.alpha + T) / (p.alpha + T + t)) ** (p.r + x)
    for hyp in (_hand_hyp2f1(*args), float(special.hyp2f1(*args))):
        if_alive = (p.a + p.b + x - 1) / (p.a - 1) * (1 - shrink * hyp)
        direct = if_alive * _hand_p_alive(p, x, T, T)
        assert math.isfinite(value)
        assert value == pytest.approx(direct, rel=1e-9)


def test_series_near_z_one_and_a_equal_one() -> None:
    """z close to 1 (a horizon 2,000 times alpha + T) converges to the same value as Gauss's
    series, and the expectation is continuous through a = 1, where (a+b+x-1)/(a-1) is 0/0."""
    p = PAPER_BGNBD
    far = bgnbd_expected_purchases(p, [1e4])[0]
    z = 1e4 / (p.alpha + 1e4)
    hyp = _hand_hyp2f1(p.r, p.b, p.a + p.b - 1, z)
    assert far == pytest.approx(
        (p.a + p.b - 1) / (p.a - 1) * (1 - (p.alpha / (p.alpha + 1e4)) ** p.r * hyp), rel=1e-9
    )
    at_one = bgnbd_expected_purchases(p._replace(a=1.0), [39.0])[0]
    for a in (1.0 - 1e-7, 1.0 + 1e-7):
        assert bgnbd_expected_purchases(p._replace(a=a), [39.0])[0] == pytest.approx(
            at_one, rel=1e-6
        )
    # The vectorised series itself, 2F1(c1, a-1; c; z) = 1 + (a-1) (c S) / c, against SciPy on
    # many points at once: elements finish after different numbers of terms and must land in
    # place.
    rng = np.random.default_rng(7)
    c1, a = 2.3, 1.7
    c, z = rng.uniform(0.5, 200.0, 2000), rng.uniform(0.0, 0.97, 2000)
    np.testing.assert_allclose(
        1 + (a - 1) * _scaled_series(c1, a, c, z) / c, special.hyp2f1(c1, a - 1, c, z), rtol=1e-12
    )
    assert np.isnan(_scaled_series(c1, a, np.array([5.0, 5.0]), np.array([np.nan, 1.0]))).all()
    # a + b = 1 puts c = a + b + x - 1 at 0 for x = 0: a removable singularity, finite here and
    # continuous with its neighbours.
    edge = bgnbd_expected_purchases((0.5, 3.0, 0.3, 0.7), [10.0])[0]
    near = bgnbd_expected_purchases((0.5, 3.0, 0.3, 0.7 + 1e-9), [10.0])[0]
    assert math.isfinite(edge) and edge == pytest.approx(near, rel=1e-7)


def test_time_unit_is_the_callers() -> None:
    """Weekly parameters with weekly times give what daily parameters give with daily times."""
    x, t_x, T = np.array([0.0, 2.0, 7.0]), np.array([0.0, 10.0, 30.5]), np.array([20.0, 30.0, 31.0])
    daily = PAPER_BGNBD.in_time_unit(7.0)
    assert daily.alpha == pytest.approx(7 * PAPER_BGNBD.alpha)
    np.testing.assert_allclose(
        bgnbd_conditional_expected_purchases(PAPER_BGNBD, 13.0, x, t_x, T),
        bgnbd_conditional_expected_purchases(daily, 91.0, x, 7 * t_x, 7 * T),
        rtol=1e-12,
    )
    np.testing.assert_allclose(
        bgnbd_p_alive(PAPER_BGNBD, x, t_x, T), bgnbd_p_alive(daily, x, 7 * t_x, 7 * T), rtol=1e-12
    )


def test_discounted_purchases_and_clv() -> None:
    p, gg = PAPER_BGNBD, PAPER_GAMMA_GAMMA
    x, t_x, T = np.array([0.0, 1.0, 5.0, 5.0]), np.array([0.0, 3.0, 20.0, 35.0]), np.full(4, 38.0)
    undiscounted = discounted_expected_purchases(
        p, x, t_x, T, horizon=52.0, step=4.0, discount_rate_per_step=0.0
    )
    np.testing.assert_allclose(
        undiscounted, bgnbd_conditional_expected_purchases(p, 52.0, x, t_x, T), rtol=1e-12
    )
    d = 0.01
    discounted = discounted_expected_purchases(
        p, x, t_x, T, horizon=52.0, step=4.0, discount_rate_per_step=d
    )
    cumulative = [bgnbd_conditional_expected_purchases(p, 4.0 * i, x, t_x, T) for i in range(14)]
    by_hand = sum((cumulative[i] - cumulative[i - 1]) / (1 + d) ** i for i in range(1, 14))
    np.testing.assert_allclose(discounted, by_hand, rtol=1e-12)
    assert np.all(discounted < undiscounted)

    mean_spend = np.array([np.nan, 30.0, 12.0, 12.0])
    clv = expected_clv(
        p, gg, x, t_x, T, mean_spend, horizon=52.0, step=4.0, discount_rate_per_step=d, margin=0.3
    )
    np.testing.assert_allclose(
        clv, discounted * gamma_gamma_expected_spend(gg, x, mean_spend) * 0.3, rtol=1e-15
    )
    assert np.all(np.isfinite(clv))
    with pytest.raises(ValueError, match="whole number"):
        discounted_expected_purchases(
            p, x, t_x, T, horizon=50.0, step=4.0, discount_rate_per_step=d
        )


def test_gamma_gamma_formulas() -> None:
    gg = PAPER_GAMMA_GAMMA
    population_mean = gg.p * gg.v / (gg.q - 1)
    spend = gamma_gamma_expected_spend(gg, [0, 0, 3], [np.nan, 99.0, 20.0])
    assert spend[0] == spend[1] == pytest.approx(population_mean, rel=1e-15)
    weight = (gg.q - 1) / (gg.p * 3 + gg.q - 1)
    assert spend[2] == pytest.approx(weight * population_mean + (1 - weight) * 20.0, rel=1e-14)
    assert np.isnan(gamma_gamma_expected_spend(gg._replace(q=0.9), [0], [np.nan])[0])
    # The density of a mean of x transactions integrates to one over the mean.
    for x in (1, 4):
        total, _ = integrate.quad(
            lambda z, x=x: math.exp(gamma_gamma_log_likelihood(gg, [x], [z])[0]), 0, np.inf
        )
        assert total == pytest.approx(1.0, rel=1e-8)


# ---- 3. Grouping invariance ------------------------------------------------------------------


def test_grouped_and_per_customer_fits_agree(cdnow: Arrays, cdnow_fit: BgNbdFit) -> None:
    x, t_x, T = cdnow["x"], cdnow["t_x"], cdnow["T"]
    groups = group_customers(x, t_x, T)
    assert groups.x.size < x.size / 2
    np.testing.assert_array_equal(groups.T[groups.inverse], T)
    per_customer = fit_bgnbd(x, t_x, T, np.ones_like(x))
    assert per_customer.converged
    np.testing.assert_allclose(per_customer.params, cdnow_fit.params, rtol=1e-6)
    assert per_customer.log_likelihood == pytest.approx(cdnow_fit.log_likelihood, rel=1e-12)
    # Doubling every weight doubles the log-likelihood and leaves the estimate alone.
    doubled = fit_bgnbd(groups.x, groups.t_x, groups.T, 2 * groups.weight)
    np.testing.assert_allclose(doubled.params, cdnow_fit.params, rtol=1e-6)
    assert doubled.log_likelihood == pytest.approx(2 * cdnow_fit.log_likelihood, rel=1e-12)


def test_fit_objective_matches_the_per_customer_likelihood(cdnow: Arrays) -> None:
    """The aggregated objective the optimiser sees equals the summed per-customer formula, and
    its gradient equals central differences."""
    groups = group_customers(cdnow["x"], cdnow["t_x"], cdnow["T"])
    data = _GroupedData(groups.x, groups.t_x, groups.T, groups.weight)
    theta = np.log(np.array(PAPER_BGNBD))
    value, gradient = data.mean_log_likelihood(theta)
    per_customer = np.sum(
        groups.weight * bgnbd_log_likelihood(PAPER_BGNBD, groups.x, groups.t_x, groups.T)
    )
    assert value * groups.weight.sum() == pytest.approx(per_customer, rel=1e-12)
    h = 1e-6
    for i in range(4):
        step = np.zeros(4)
        step[i] = h
        numeric = (
            data.mean_log_likelihood(theta + step)[0] - data.mean_log_likelihood(theta - step)[0]
        ) / (2 * h)
        assert gradient[i] == pytest.approx(numeric, rel=1e-6, abs=1e-9)


def test_standard_errors_match_a_numerical_hessian(cdnow_fit: BgNbdFit, cdnow: Arrays) -> None:
    """The fit's standard errors against the inverse of minus the Hessian of the summed
    per-customer log-likelihood, by second differences in the natural parameters."""
    theta = np.array(cdnow_fit.params)

    def total(params: np.ndarray) -> float:
        values = bgnbd_log_likelihood(tuple(params), cdnow["x"], cdnow["t_x"], cdnow["T"])
        return math.fsum(values)

    steps = 1e-4 * theta
    hessian = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            ei, ej = np.eye(4)[i] * steps[i], np.eye(4)[j] * steps[j]
            hessian[i, j] = (
                total(theta + ei + ej)
                - total(theta + ei - ej)
                - total(theta - ei + ej)
                + total(theta - ei - ej)
            ) / (4 * steps[i] * steps[j])
    errors = np.sqrt(np.diag(np.linalg.inv(-hessian)))
    print(f"\nCDNOW standard errors {cdnow_fit.standard_errors}")
    np.testing.assert_allclose(cdnow_fit.standard_errors, errors, rtol=1e-3)


# ---- 4. Never raises -------------------------------------------------------------------------


def _assert_failed(fit: object, fragment: str) -> None:
    assert not fit.converged  # type: ignore[attr-defined]
    assert fragment in fit.message  # type: ignore[attr-defined]
    assert all(math.isnan(value) for value in fit.params)  # type: ignore[attr-defined]
    assert math.isnan(fit.log_likelihood)  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("x", "t_x", "T", "weight", "fragment"),
    [
        pytest.param([], [], [], [], "no customers", id="empty"),
        pytest.param([0] * 50, [0] * 50, range(50), [1] * 50, "fewer than 10 repeat", id="all-x-0"),
        pytest.param([0, 1, 2, 3], [0, 1, 2, 3], [5] * 4, [9, 1, 1, 1], "(3)", id="3-repeaters"),
        pytest.param([1, 2, math.nan], [1, 2, 3], [4] * 3, [1] * 3, "NaN", id="nan"),
        pytest.param([1, 2, 3], [1, 2, 3], [4, math.inf, 4], [1] * 3, "NaN", id="inf"),
        pytest.param([1, 2], [1, 2], [4], [1, 1], "differ in length", id="lengths"),
        pytest.param([1, 2], [5, 2], [4, 4], [1, 1], "exceeds T", id="t_x-after-T"),
        pytest.param([1, -2], [1, 2], [4, 4], [1, 1], "negative", id="negative"),
        pytest.param([1.5], [1], [4], [1], "whole numbers", id="fractional-x"),
        pytest.param([0], [3], [4], [1], "t_x must be 0", id="x-0-with-recency"),
        pytest.param("abc", [1], [4], [1], "fit failed", id="not-numbers"),
    ],
)
def test_bgnbd_fit_never_raises(
    x: object, t_x: object, T: object, weight: object, fragment: str
) -> None:
    fit = fit_bgnbd(x, t_x, T, weight)  # type: ignore[arg-type]
    _assert_failed(fit, fragment)
    # Scoring with a failed fit gives NaN, not an exception or an endless series.
    assert np.all(np.isnan(bgnbd_conditional_expected_purchases(fit, 10.0, [1, 0], [1, 0], [5, 5])))
    assert np.all(np.isnan(bgnbd_p_alive(fit, [0, 1], [0, 1], [5, 5])))


def test_bgnbd_non_convergence_is_reported(cdnow: Arrays) -> None:
    fit = fit_bgnbd(cdnow["x"], cdnow["t_x"], cdnow["T"], max_iterations=3)
    _assert_failed(fit, "without converging after 3 iterations")
    assert fit.iterations == 3


def test_bgnbd_degenerate_maximum_is_reported() -> None:
    """Every repeat buyer bought on the last day: no sign of dropout, so the likelihood keeps
    rising as a -> 0 and b -> infinity along a flat ridge. The fit says the data do not identify
    the model instead of returning a point picked by the optimiser's tolerance."""
    x = np.array([0.0, 1.0, 2.0, 3.0, 5.0])
    t_x = np.array([0.0, 30.0, 30.0, 30.0, 30.0])
    fit = fit_bgnbd(x, t_x, np.full(5, 30.0), np.array([100.0, 40.0, 20.0, 10.0, 5.0]))
    _assert_failed(fit, "the data do not identify the model")
    assert fit.n_repeat_buyers == 75


@pytest.mark.parametrize(
    ("x", "mean_spend", "fragment"),
    [
        pytest.param([], [], "fewer than 10", id="empty"),
        pytest.param([0] * 20, [math.nan] * 20, "fewer than 10", id="all-x-0"),
        pytest.param([1, 2, 3, 0], [5.0, 6.0, 7.0, 0.0], "(3)", id="3-customers"),
        pytest.param([1] * 20, [5.0] * 19 + [math.nan], "NaN", id="nan-spend"),
        pytest.param([1] * 19 + [math.nan], [5.0] * 20, "NaN", id="nan-x"),
    ],
)
def test_gamma_gamma_fit_never_raises(x: object, mean_spend: object, fragment: str) -> None:
    fit = fit_gamma_gamma(x, mean_spend)  # type: ignore[arg-type]
    _assert_failed(fit, fragment)
    assert np.isnan(gamma_gamma_expected_spend(fit, [0], [np.nan])[0])


# ---- 5. Simulation: recovery and speed -------------------------------------------------------


def test_fit_recovers_simulated_parameters() -> None:
    """50,000 simulated customers in days over two years; the full million is
    `python -m strata.predict.simulate` (printed timing, not asserted)."""
    customers = simulate_bgnbd(DEFAULT_PARAMS, 50_000, holdout_days=180.0, seed=1)
    start = time.perf_counter()
    groups = group_customers(customers.x, customers.t_x, customers.T)
    fit = fit_bgnbd(groups.x, groups.t_x, groups.T, groups.weight)
    fitted = time.perf_counter()
    next_half_year = bgnbd_conditional_expected_purchases(
        fit, 180.0, groups.x, groups.t_x, groups.T
    )
    scored = time.perf_counter()
    print(
        f"\n50k simulated: {groups.x.size} groups, fit {fitted - start:.2f} s, "
        f"score {scored - fitted:.2f} s, {fit.params}"
    )
    assert fit.converged
    np.testing.assert_allclose(fit.params, DEFAULT_PARAMS, rtol=0.05)
    # The model's own forecasts against the simulated future and the simulated past.
    assert np.sum(groups.weight * next_half_year) == pytest.approx(
        customers.holdout_x.sum(), rel=0.03
    )
    expected_past = bgnbd_expected_purchases(DEFAULT_PARAMS, customers.T).sum()
    assert expected_past == pytest.approx(customers.x.sum(), rel=0.02)
