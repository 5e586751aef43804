"""What the three BIP analyses share: quartile ranking, inference columns and tidy rows.

- :func:`quartile_of` ranks caseworker effects into four quartiles of (nearly) equal size, the
  extra caseworkers in the lower quartiles (the BIP caseworker report: 115 → 29/29/29/28).
- :func:`lpm_inference` and ``_inference`` give each quantity its estimate, SE, CI and p-value:
  the bootstrap's (SE of the replicates, percentile CI, centred-replicate p-value) when the
  analysis drew replicates, else the analytic cluster-robust values with Student's t on G − 1
  degrees of freedom (Stata's cluster convention), else none.
- ``_estimates`` turns such a table into rows of the tidy estimates schema
  (:mod:`bipdask.analyses.estimates`), period ``all``.

Methods: ``docs/methods.md#bip-tabel-1--caseworker-effectiveness`` and the sections after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.analyses.estimates import Estimate
from bipdask.errors import InputError, Problem
from bipdask.inference.pairs import BootstrapSummary
from bipdask.prepare.bip import ANALYSIS_PERIOD, CaseworkerSample

# The BIP caseworker LPMs' per-citizen cross products held at once by their pairs bootstrap
# (:mod:`bipdask.estimators.lpm.replicates`): 64 covariates over 71,555 citizens at scale 30 are
# 1.2 GiB whole; formed in groups of columns of at most 128 MiB. Below it (every test and run
# up to scale 10) they are formed whole.
MOMENT_BYTES = 128 << 20


def quartile_of(values: np.ndarray) -> np.ndarray:
    """Quartile 1 (least effective) … 4 of each value by rank; sizes as equal as possible with
    the extra ones in the lower quartiles (115 → 29/29/29/28 in the BIP caseworker
    report). Ties keep input order."""
    values = np.asarray(values, dtype=float)
    n = values.size
    rank = np.empty(n, dtype=np.int64)
    rank[np.argsort(values, kind="stable")] = np.arange(n)
    sizes = np.full(4, n // 4)
    sizes[: n % 4] += 1
    return np.searchsorted(np.cumsum(sizes), rank, side="right") + 1


def _frame_of(sample: CaseworkerSample | pd.DataFrame) -> pd.DataFrame:
    frame = sample.frame if isinstance(sample, CaseworkerSample) else sample
    if len(frame) == 0:
        raise InputError([Problem("bip_responses", "", "caseworker sample is empty", 0)])
    return frame


def _inference(estimate: pd.Series, summary: BootstrapSummary | None, analytic_se: pd.Series | None,
               n_clusters: int, alpha: float) -> pd.DataFrame:
    """SE, CI and p-value per quantity: bootstrap percentile when replicates exist, else
    analytic (t with G−1 degrees of freedom, as Stata's cluster VCE), else none. Bootstrap rows also
    carry ``replicate_failure_share`` (failed replicates count as extreme; above 1 % se/CI/p are NaN)."""
    out = pd.DataFrame({"estimate": estimate.astype(float)})
    if summary is not None:
        ci = summary.conf_int(alpha)
        out["se"] = summary.se.reindex(out.index)
        out["ci_low"], out["ci_high"] = ci["lower"].reindex(out.index), ci["upper"].reindex(out.index)
        out["p_value"] = summary.p_value.reindex(out.index)
        out["replicate_failure_share"] = summary.failure_share.reindex(out.index)
        return out
    se = (analytic_se if analytic_se is not None else pd.Series(np.nan, index=out.index)).reindex(out.index)
    q = stats.t.ppf(1 - alpha / 2, max(n_clusters - 1, 1))
    out["se"] = se
    out["ci_low"], out["ci_high"] = out["estimate"] - q * se, out["estimate"] + q * se
    t = out["estimate"] / se
    out["p_value"] = 2 * stats.t.sf(np.abs(t), max(n_clusters - 1, 1))
    return out


def lpm_inference(fit, names: list[str], alpha: float) -> pd.DataFrame:
    """Estimate, SE, CI and p-value of lpm parameters: its bootstrap if it ran, else analytic."""
    boot = getattr(fit, "bootstrap", None)
    if boot is not None:
        sub = BootstrapSummary(boot.replicates[names], boot.estimate.reindex(names), boot.scheme, boot.seed,
                               boot.n_failed)
        return _inference(fit.params[names], sub, None, int(fit.n_clusters), alpha)
    return _inference(fit.params[names], None, fit.se[names], int(fit.n_clusters), alpha)


def _estimates(analysis: str, table: pd.DataFrame, n_persons: int, n_obs: int | pd.Series) -> list[Estimate]:
    rows = []
    for name, r in table.iterrows():
        n = int(n_obs[name]) if isinstance(n_obs, pd.Series) else int(n_obs)
        rows.append(Estimate(analysis, str(name), None, ANALYSIS_PERIOD, float(r["estimate"]),
                             _f(r.get("se")), _f(r.get("ci_low")), _f(r.get("ci_high")),
                             _f(r.get("p_value")), n_persons, n,
                             replicate_failure_share=_f(r.get("replicate_failure_share"))))
    return rows


def _f(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)
