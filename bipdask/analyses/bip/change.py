"""BIP caseworker change: what a new caseworker does to the citizen's job chance (the BIP slides).

The slides: a change of caseworker "reducerer borgerens jobchance med 22 pct.".
:func:`caseworker_change` estimates it on the BIP caseworker report's sample
(:func:`bipdask.prepare.bip.caseworker_sample`): the LPM of "job or SU education within 52 weeks
of a response" on ``caseworker_changed`` (the response's caseworker differs from the one of the
citizen's previous response) and the covariates of the effectiveness model, caseworker effects
absorbed, clustered by citizen. γ is the effect in percentage points (a difference of fractions);
the relative effect γ / (rate of changed responses − γ) is the change in percent of the job
chance those responses would have had without it (a fraction: −0.22 = −22 %). Analysis
``bip_caseworker_change``; method: ``docs/methods.md#bip-caseworker-change``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.analyses.bip.common import MOMENT_BYTES, _estimates, _frame_of, _inference
from bipdask.analyses.estimates import estimates_frame
from bipdask.errors import InputError, Problem
from bipdask.estimators.lpm import LinearResult, lpm
from bipdask.estimators.lpm.replicates import PairsState, pairs_replicates
from bipdask.inference.bootstrap import replicate_blocks, window_rows
from bipdask.inference.config import Inference
from bipdask.inference.pairs import BootstrapSummary, summarise
from bipdask.prepare.bip import (
    CaseworkerSample,
    cluster_ids,
    cluster_mean,
    full_rank_columns,
    model_frame,
)

CHANGE = "bip_caseworker_change"


@dataclass(frozen=True)
class CaseworkerChange:
    """Effect of a change of caseworker on the 52-week job/SU chance (the BIP slides: −22 %).

    ``table`` rows: ``effect_pp`` (the LPM coefficient γ of ``caseworker_changed``),
    ``rate_changed`` (outcome rate of responses that came with a new caseworker),
    ``rate_changed_without_change`` (rate_changed − γ), ``rate_unchanged``, and
    ``relative_effect`` = γ / (rate_changed − γ): the change in percent of the job chance the
    same responses would have had without the change.
    """

    fit: LinearResult
    table: pd.DataFrame
    n_obs: int
    n_citizens: int
    n_changed: int
    caseworker_fe: bool
    bootstrap: BootstrapSummary | None = None
    replicate_plan: ChangeReplicates | None = None

    @property
    def relative_effect(self) -> float:
        return float(self.table.loc["relative_effect", "estimate"])

    def tidy(self) -> pd.DataFrame:
        """Estimates rows, analysis ``bip_caseworker_change``."""
        n = pd.Series(self.n_obs, index=self.table.index)
        n["rate_changed"] = n["rate_changed_without_change"] = self.n_changed
        n["rate_unchanged"] = self.n_obs - self.n_changed
        return estimates_frame(_estimates(CHANGE, self.table, self.n_citizens, n))


def caseworker_change(
    sample: CaseworkerSample | pd.DataFrame,
    persons: pd.DataFrame,
    *,
    caseworker_fe: bool = True,
    inference: Inference = Inference(),
    replicate_plan: bool = False,
) -> CaseworkerChange:
    """LPM of the 52-week outcome on ``caseworker_changed`` (the response's caseworker differs
    from the citizen's previous response's) and the covariates of the effectiveness model.

    On the caseworker-report sample (every response has a previous one). With
    ``caseworker_fe`` (default) the caseworker effects are absorbed, so a change is compared
    with the same caseworker's continuing citizens and does not pick up who the new caseworker
    is. The relative effect's CI comes from the bootstrap (lpm's replicates of γ and the
    replicate-weighted rate of the changed responses); without a bootstrap it has no SE.
    ``replicate_plan``: keep what the replicates need (:class:`ChangeReplicates`) instead of
    drawing them (``inference.replicates`` must be 0).
    """
    bootstrap, seed, scheme, cluster, alpha = (inference.replicates, inference.seed, inference.scheme,
                                               inference.cluster, inference.alpha)
    window = inference.replicate_window
    frame = _frame_of(sample)
    data, candidates = model_frame(frame, persons)
    data["caseworker_changed"] = data["caseworker_changed"].to_numpy(dtype=bool).astype(float)
    groups = pd.factorize(data["caseworker_id"], sort=True)[0] if caseworker_fe else None
    covariates = full_rank_columns(data[["caseworker_changed", *candidates]], groups=groups)
    if "caseworker_changed" not in covariates:
        raise InputError([Problem("bip_responses", "caseworker_id", "no caseworker changes to compare", 0)])
    if replicate_plan and bootstrap:
        raise ValueError("caseworker_change: replicate_plan keeps the replicates for later; set replicates=0")
    fit = lpm(data, y="outcome", covariates=covariates,
              fixed_effects="caseworker_id" if caseworker_fe else None,
              cluster=cluster, bootstrap=bootstrap, seed=seed, scheme=scheme, replicate_window=window,
              keep_pairs_state=replicate_plan, max_moment_bytes=MOMENT_BYTES)
    y = data["outcome"].to_numpy(dtype=float)
    changed = data["caseworker_changed"].to_numpy(dtype=float) == 1.0
    gamma = float(fit.params["caseworker_changed"])
    ids, g_codes = cluster_ids(data, cluster)
    rate_c = float(y[changed].mean())
    est = pd.Series({"effect_pp": gamma, "rate_changed": rate_c, "rate_changed_without_change": rate_c - gamma,
                     "rate_unchanged": float(y[~changed].mean()), "relative_effect": gamma / (rate_c - gamma)})
    summary = plan = None
    if bootstrap > 0 or replicate_plan:
        sums = np.column_stack([np.bincount(g_codes, weights=y * changed, minlength=len(ids)),
                                np.bincount(g_codes, weights=changed.astype(float), minlength=len(ids)),
                                np.bincount(g_codes, weights=y * ~changed, minlength=len(ids)),
                                np.bincount(g_codes, weights=(~changed).astype(float), minlength=len(ids))])
        plan = ChangeReplicates(fit.pairs_state, sums, ids, seed, scheme, tuple(est.index))
    if bootstrap > 0:
        g_reps = fit.bootstrap.replicates["caseworker_changed"].to_numpy(dtype=float)
        summary = summarise(plan.replicates(bootstrap, window, g_reps), est, scheme, seed)
        plan = None
    analytic = pd.Series({"effect_pp": float(fit.se["caseworker_changed"]),
                          "rate_changed": cluster_mean(np.where(changed, y, np.nan), g_codes, len(ids))[1],
                          "rate_unchanged": cluster_mean(np.where(~changed, y, np.nan), g_codes, len(ids))[1]})
    table = _inference(est, summary, analytic, len(ids), alpha)
    return CaseworkerChange(fit=fit, table=table, n_obs=len(data), n_citizens=int(data["person_id"].nunique()),
                            n_changed=int(changed.sum()), caseworker_fe=caseworker_fe, bootstrap=summary,
                            replicate_plan=plan)


@dataclass(frozen=True)
class ChangeReplicates:
    """What the replicates of :func:`caseworker_change` need after the point fit: the LPM's
    :class:`~bipdask.estimators.lpm.replicates.PairsState` (γ per replicate) and per citizen
    Σy and n of the changed and the unchanged responses (the replicate-weighted rates);
    ``columns``: the bootstrap's columns."""

    fit: PairsState | None
    sums: np.ndarray
    ids: np.ndarray
    seed: int
    scheme: str
    columns: tuple[str, ...]

    def replicates(self, n_reps: int, window: range | None = None, g_reps: np.ndarray | None = None) -> np.ndarray:
        """Replicates ``window`` (all without one) of B = ``n_reps``, one row each, ``columns``;
        ``g_reps``: the LPM's replicates of γ when the fit drew them already."""
        if g_reps is None:
            frame = pairs_replicates(self.fit, n_reps, self.seed, self.scheme, window, MOMENT_BYTES)
            g_reps = frame["caseworker_changed"].to_numpy(dtype=float)
        parts = []
        for reps, w in replicate_blocks(self.ids, n_reps, self.seed, self.scheme, window=window):
            parts.append((w @ self.sums)[window_rows(reps, window)[0]])  # the whole block's product, then its window
        s = np.vstack(parts)
        with np.errstate(invalid="ignore", divide="ignore"):
            rc, ru = s[:, 0] / s[:, 1], s[:, 2] / s[:, 3]
            return np.column_stack([g_reps, rc, rc - g_reps, ru, g_reps / (rc - g_reps)])
