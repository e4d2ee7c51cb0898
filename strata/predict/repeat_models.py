"""The three models of repeat purchasing strata fits, behind one interface, and when the next
purchase should come.

| name         | model                               | a customer may drop out            |
|--------------|-------------------------------------|------------------------------------|
| `bgnbd`      | BG/NBD (Fader, Hardie & Lee 2005)   | right after a repeat purchase      |
| `pareto_nbd` | Pareto/NBD (Schmittlein et al. 1987) | at any moment                      |
| `mbgnbd`     | modified BG/NBD (Batislam et al. 2007) | right after any purchase, the first too |

The pipeline (strata.predict.pipeline) fits all three and chooses one per shop by the back-test
(docs/predictions.md, "Which model"). Parameters travel as tuples in `param_names` order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from strata.predict._common import FloatArray, NumericFit, as_float_array
from strata.predict.bgnbd import (
    bgnbd_conditional_expected_purchases,
    bgnbd_p_alive,
    discounted_expected_purchases,
    fit_bgnbd,
)
from strata.predict.mbg_nbd import (
    fit_mbgnbd,
    mbgnbd_conditional_expected_purchases,
    mbgnbd_discounted_expected_purchases,
    mbgnbd_p_alive,
)
from strata.predict.pareto_nbd import (
    fit_paretonbd,
    paretonbd_conditional_expected_purchases,
    paretonbd_discounted_expected_purchases,
    paretonbd_p_alive,
)

# A fit of any of the models: `params` in the model's `param_names` order.
RepeatFit = NumericFit


@dataclass(frozen=True)
class RepeatModel:
    """One model: how to fit it and what it predicts of a customer (x, t_x, T)."""

    name: str
    param_names: tuple[str, ...]
    _fit: Callable[..., Any]
    p_alive: Callable[..., FloatArray]
    conditional_expected_purchases: Callable[..., FloatArray]
    discounted_expected_purchases: Callable[..., FloatArray]

    def fit(
        self,
        x: npt.ArrayLike,
        t_x: npt.ArrayLike,
        T: npt.ArrayLike,
        weight: npt.ArrayLike | None = None,
        *,
        min_repeat_buyers: float,
    ) -> RepeatFit:
        found = self._fit(x, t_x, T, weight, min_repeat_buyers=min_repeat_buyers)
        return RepeatFit(
            tuple(float(getattr(found, name)) for name in self.param_names),
            float(found.log_likelihood),
            float(found.n_customers),
            float(found.n_repeat_buyers),
            bool(found.converged),
            str(found.message),
            int(found.iterations),
        )


REPEAT_MODELS: dict[str, RepeatModel] = {
    "bgnbd": RepeatModel(
        "bgnbd",
        ("r", "alpha", "a", "b"),
        fit_bgnbd,
        bgnbd_p_alive,
        bgnbd_conditional_expected_purchases,
        discounted_expected_purchases,
    ),
    "pareto_nbd": RepeatModel(
        "pareto_nbd",
        ("r", "alpha", "s", "beta"),
        fit_paretonbd,
        paretonbd_p_alive,
        paretonbd_conditional_expected_purchases,
        paretonbd_discounted_expected_purchases,
    ),
    "mbgnbd": RepeatModel(
        "mbgnbd",
        ("r", "alpha", "a", "b"),
        fit_mbgnbd,
        mbgnbd_p_alive,
        mbgnbd_conditional_expected_purchases,
        mbgnbd_discounted_expected_purchases,
    ),
}


def next_purchase_quantiles(
    r: float, alpha: float, x: npt.ArrayLike, T: npt.ArrayLike, q: npt.ArrayLike
) -> FloatArray:
    """The q quantile of the time from the cut-off T to the next purchase of a customer who is
    alive (and stays so), for each (x, T): given alive, her rate is Gamma(r + x, alpha + T) in
    all three models, so the wait W is Lomax, P(W > w) = ((alpha+T)/(alpha+T+w))^(r+x), and
    w_q = (alpha+T) ((1-q)^(-1/(r+x)) - 1). Exact for the BG/NBD and MBG/NBD (an alive customer
    drops out only at a purchase); for the Pareto/NBD it leaves out a death during the wait.
    `q` broadcasts against x and T; NaN where q is not in [0, 1)."""
    x, T, q = np.broadcast_arrays(as_float_array(x), as_float_array(T), as_float_array(q))
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        valid = (q >= 0) & (q < 1)
        wait = (alpha + T) * np.expm1(-np.log1p(-np.where(valid, q, 0.0)) / (r + x))
        return np.asarray(np.where(valid, wait, np.nan), dtype=np.float64)
