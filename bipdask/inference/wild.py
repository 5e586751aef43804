"""Wild cluster bootstrap tests at the level where treatment is assigned.

A :class:`WildTest` is what a wild bootstrap leaves on a fitted result: per term, the
null-imposed (restricted) bootstrap p-value of H0: coefficient = 0, the confidence interval
found by inverting that test, and a standard error implied by the interval. The linear models
get the wild cluster restricted bootstrap (WCR, :func:`wcr_linear`); the Weibull and Cox models
the wild score bootstrap of Kline and Santos (2012) (:mod:`bipdask.inference.score`). Methods:
``docs/methods.md#inference``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import pandas as pd

WildWeights = Literal["rademacher", "webb"]
WILD_COLUMNS = ("se", "ci_low", "ci_high", "p_value")


@dataclass(frozen=True)
class WildTest:
    """Per-term wild bootstrap inference.

    ``table`` is indexed by term with columns ``se``, ``ci_low``, ``ci_high``, ``p_value``
    (the WCR or score-bootstrap test of the term = 0, its inverted CI at ``alpha``, and the SE
    that CI implies, (ci_high − ci_low) / (2·z_{1−α/2})). Terms that were not tested are NaN.
    ``enumerated``: all 2^G sign vectors were used (exact, seed-free p-values).
    """

    table: pd.DataFrame
    method: str  # "wcr" (linear) or "score" (likelihood models)
    weights: WildWeights
    n_clusters: int
    n_replicates: int
    enumerated: bool
    alpha: float = 0.05
    seed: int | None = None
