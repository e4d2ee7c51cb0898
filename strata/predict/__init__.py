"""Buyer-level predictions: P(alive) and expected purchases (BG/NBD), expected spend
(Gamma-Gamma) and discounted lifetime value, from the published models' likelihoods.

Every function takes NumPy arrays and is vectorised. Time is in the caller's unit throughout
(strata's warehouse: days); see each module's docstring.
"""

from __future__ import annotations

from strata.predict.bgnbd import (
    BgNbdFit,
    BgNbdParams,
    GroupedCustomers,
    bgnbd_conditional_expected_purchases,
    bgnbd_expected_purchases,
    bgnbd_log_likelihood,
    bgnbd_p_alive,
    discounted_expected_purchases,
    fit_bgnbd,
    group_customers,
)
from strata.predict.clv import expected_clv
from strata.predict.gamma_gamma import (
    GammaGammaFit,
    GammaGammaParams,
    fit_gamma_gamma,
    gamma_gamma_expected_spend,
    gamma_gamma_log_likelihood,
)

__all__ = [
    "BgNbdFit",
    "BgNbdParams",
    "GammaGammaFit",
    "GammaGammaParams",
    "GroupedCustomers",
    "bgnbd_conditional_expected_purchases",
    "bgnbd_expected_purchases",
    "bgnbd_log_likelihood",
    "bgnbd_p_alive",
    "discounted_expected_purchases",
    "expected_clv",
    "fit_bgnbd",
    "fit_gamma_gamma",
    "gamma_gamma_expected_spend",
    "gamma_gamma_log_likelihood",
    "group_customers",
]
