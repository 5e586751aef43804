"""TODO docstring (bipdask/estimators/results.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats
from bipdask.inference.pairs import BootstrapSummary


def confidence_interval(params: pd.Series, se: pd.Series, summary: "BootstrapSummary | None",
                        alpha: float = 0.05, kind: str = "analytic") -> pd.DataFrame:
    """Wald CIs (``kind="analytic"``) or bootstrap percentile CIs (``kind="bootstrap"``)."""
    if kind == "bootstrap":
        if summary is None:
            raise ValueError("no bootstrap replicates: fit with bootstrap=B")
        return summary.conf_int(alpha)
    z = stats.norm.ppf(1 - alpha / 2)
    return pd.DataFrame({"lower": params - z * se, "upper": params + z * se})


def wald_table(params: pd.Series, se: pd.Series, ci: pd.DataFrame, summary: "BootstrapSummary | None",
               **extra: np.ndarray) -> pd.DataFrame:
    """The tidy table every estimator returns: term, estimate, [extra columns], se, z, p_value,
    ci_low, ci_high, and with bootstrap replicates se_boot, ci_low_boot, ci_high_boot,
    p_value_boot (normal-theory z and p)."""
    z = (params / se).to_numpy()
    out = pd.DataFrame({"term": params.index, "estimate": params.to_numpy(), **extra, "se": se.to_numpy(),
                        "z": z, "p_value": 2 * stats.norm.sf(np.abs(z)),
                        "ci_low": ci["lower"].to_numpy(), "ci_high": ci["upper"].to_numpy()})
    if summary is not None:
        bci = summary.conf_int()
        out["se_boot"] = summary.se.to_numpy()
        out["ci_low_boot"] = bci["lower"].to_numpy()
        out["ci_high_boot"] = bci["upper"].to_numpy()
        out["p_value_boot"] = summary.p_value.to_numpy()
    return out
