"""Discounted customer lifetime value: BG/NBD purchases times Gamma-Gamma spend.

CLV = [sum_{i=1..n} (E[Y(i*step)] - E[Y((i-1)*step)]) / (1 + d)^i] * E[spend | x, mean_spend]
      * margin,
the usual discrete-period approximation (Fader, Hardie & Lee 2005, "RFM and CLV"), which treats
the number of purchases and the spend per purchase as independent, as the Gamma-Gamma model
assumes. Time unit: the BG/NBD parameters' (alpha), shared by t_x, T, horizon and step. Money
unit: mean_spend's.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from strata.predict._common import FloatArray
from strata.predict.bgnbd import BgNbdLike, discounted_expected_purchases
from strata.predict.gamma_gamma import GammaGammaLike, gamma_gamma_expected_spend


def expected_clv(
    bgnbd: BgNbdLike,
    gamma_gamma: GammaGammaLike,
    x: npt.ArrayLike,
    t_x: npt.ArrayLike,
    T: npt.ArrayLike,
    mean_spend: npt.ArrayLike,
    *,
    horizon: float,
    step: float,
    discount_rate_per_step: float,
    margin: float = 1.0,
) -> FloatArray:
    """Discounted expected value of each customer's purchases over the next `horizon`.

    x, t_x, T: the BG/NBD history (x repeat purchases); mean_spend: the mean value of those x
    repeat purchases (ignored, may be NaN, when x = 0: the population mean spend is used).
    horizon and step in the BG/NBD time unit, horizon a whole number of steps, discount rate per
    step (e.g. step = 30 days with d = 1.10 ** (30 / 365) - 1 for 10% a year). `margin` turns
    revenue into profit (1.0 = revenue). Result in mean_spend's money unit, NaN where either
    model has no estimate (a failed fit, or x = 0 with q <= 1).
    """
    purchases = discounted_expected_purchases(
        bgnbd,
        x,
        t_x,
        T,
        horizon=horizon,
        step=step,
        discount_rate_per_step=discount_rate_per_step,
    )
    spend = gamma_gamma_expected_spend(gamma_gamma, x, mean_spend)
    return np.asarray(purchases * spend * margin, dtype=np.float64)
