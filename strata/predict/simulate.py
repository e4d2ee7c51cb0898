"""Simulated BG/NBD customers in DAYS, and a timing run of fit + scoring on them.

`python -m strata.predict.simulate --users 1000000` simulates the users, groups them into
distinct (x, t_x, T), fits the BG/NBD and scores every group (P(alive), expected purchases over
the next year, discounted expected purchases), printing the seconds of each step.
"""

from __future__ import annotations

import argparse
import time
from typing import NamedTuple

import numpy as np

from strata.predict._common import FloatArray
from strata.predict.bgnbd import (
    BgNbdParams,
    bgnbd_conditional_expected_purchases,
    bgnbd_p_alive,
    discounted_expected_purchases,
    fit_bgnbd,
    group_customers,
)

# Daily parameters of a plausible shop: a purchase every ~120 days on average while alive, a
# mean dropout probability of 0.24 after each repeat purchase.
DEFAULT_PARAMS = BgNbdParams(r=0.5, alpha=60.0, a=0.8, b=2.5)


class SimulatedCustomers(NamedTuple):
    """Per-customer calibration history (x, t_x, T in whole days) and the number of repeat
    purchases each made in the `holdout_days` after T (`holdout_x`)."""

    x: FloatArray
    t_x: FloatArray
    T: FloatArray
    holdout_x: FloatArray


def simulate_bgnbd(
    params: BgNbdParams,
    n_customers: int,
    *,
    max_age_days: int = 730,
    holdout_days: float = 0.0,
    seed: int = 0,
) -> SimulatedCustomers:
    """Draw customers from the BG/NBD with daily `params`, without a loop over customers.

    First purchases are spread uniformly over the last `max_age_days` days (T = 0 .. max-1).
    Each customer draws lambda ~ Gamma(r, alpha), p ~ Beta(a, b) and J ~ Geometric(p), the
    repeat purchase after which she drops out (J >= 1: no dropout before the first repeat
    purchase). With N ~ Poisson(lambda T) purchases of the unstopped process in (0, T],
    x = min(N, J), and the time of the x-th of N uniform arrivals is T * Beta(x, N - x + 1).
    Times are then rounded up to whole days (a repeat purchase falls on day 1 .. T), which is
    what day-granular warehouse data look like.
    """
    rng = np.random.default_rng(seed)
    T = rng.integers(0, max_age_days, n_customers).astype(np.float64)
    rate = rng.gamma(params.r, 1.0 / params.alpha, n_customers)
    dropout = rng.beta(params.a, params.b, n_customers)
    last_purchase = rng.geometric(dropout).astype(np.float64)
    arrivals = rng.poisson(rate * T).astype(np.float64)
    x = np.minimum(arrivals, last_purchase)
    t_x = np.zeros(n_customers)
    repeat = x > 0
    t_x[repeat] = np.ceil(T[repeat] * rng.beta(x[repeat], arrivals[repeat] - x[repeat] + 1.0)).clip(
        1.0, T[repeat]
    )
    later = rng.poisson(rate * holdout_days).astype(np.float64)
    holdout_x = np.minimum(arrivals + later, last_purchase) - x
    return SimulatedCustomers(x, t_x, T, holdout_x)


def main(argv: list[str] | None = None) -> None:
    """Time grouping, fitting and scoring of simulated users and print the seconds."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--users", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    customers = simulate_bgnbd(DEFAULT_PARAMS, args.users, seed=args.seed)
    start = time.perf_counter()
    groups = group_customers(customers.x, customers.t_x, customers.T)
    grouped = time.perf_counter()
    fit = fit_bgnbd(groups.x, groups.t_x, groups.T, groups.weight)
    fitted = time.perf_counter()
    p_alive = bgnbd_p_alive(fit, groups.x, groups.t_x, groups.T)
    next_year = bgnbd_conditional_expected_purchases(fit, 365.0, groups.x, groups.t_x, groups.T)
    discounted = discounted_expected_purchases(
        fit,
        groups.x,
        groups.t_x,
        groups.T,
        horizon=360.0,
        step=30.0,
        discount_rate_per_step=1.10 ** (30 / 365) - 1,
    )
    per_user = (p_alive[groups.inverse], next_year[groups.inverse], discounted[groups.inverse])
    scored = time.perf_counter()

    print(f"users {args.users:,}, distinct (x, t_x, T) groups {groups.x.size:,}")
    print(f"true   {DEFAULT_PARAMS}")
    print(f"fitted {fit.params} converged={fit.converged} {fit.message}")
    print(f"group {grouped - start:.2f} s, fit {fitted - grouped:.2f} s", end=", ")
    print(f"score {scored - fitted:.2f} s")
    print(f"total {scored - start:.2f} s; mean P(alive) {per_user[0].mean():.4f}")


if __name__ == "__main__":
    main()
