"""Slow reference fits for tests and benchmarks: statsmodels refits that the fast engines in
``bipdask/`` are checked and timed against. statsmodels is a test dependency only (the
``test`` extra), so nothing in ``bipdask/`` or ``flows/`` imports this module.

Benchmarks put this folder on ``sys.path`` to import it (``benchmarks/bench_linear.py``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd
import statsmodels.api as sm

from bipdask.estimators.lpm import CONS


def refit_replicate(data: pd.DataFrame, weights_by_cluster: pd.Series, *, y: str, covariates: Sequence[str],
                    fixed_effects: Sequence[str] = (), cluster: str) -> pd.Series:
    """One pairs-cluster-bootstrap replicate of :func:`bipdask.estimators.lpm.lpm`, refitted
    naively: statsmodels OLS on the resampled, duplicated clusters.

    Every row of cluster g is repeated ``weights_by_cluster[g]`` times (copies keep their fixed-
    effect levels), then OLS is fitted with fixed-effect dummies. Slow by design: the reference
    lpm's per-cluster-moment replicates (:mod:`bipdask.estimators.lpm.replicates`) must equal.
    """
    times = data[cluster].map(weights_by_cluster).fillna(0).to_numpy(np.int64)
    dup = data.loc[data.index.repeat(times)]
    X = dup[list(covariates)].astype(float)
    if fixed_effects:
        dummies = [pd.get_dummies(dup[f].astype("category").cat.remove_unused_categories(), prefix=f"fe{i}",
                                  drop_first=i > 0, dtype=float) for i, f in enumerate(fixed_effects)]
        X = pd.concat([X, *dummies], axis=1)
    else:
        X = sm.add_constant(X, has_constant="add").rename(columns={"const": CONS})
    with warnings.catch_warnings():  # rank-deficient dummies (levels absent from the replicate)
        warnings.simplefilter("ignore")
        fit = sm.OLS(dup[y].astype(float), X).fit()
    names = list(covariates) + ([] if fixed_effects else [CONS])
    return fit.params[names]
