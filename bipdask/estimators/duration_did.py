"""Expected durations by group and their difference-in-differences (HIR Tables A, 4 and 7).

The HIR quantitative report (Metrica 2019, eq. 1) fits a Weibull PH model on D (participating job
centre), E (intervention period) and D×E, converts it to the expected weeks between LAB
interventions for the four groups, and reports the DiD in weeks and in percent of the
participating job centres' before-period value (Table A: 43 → 41 vs 38 → 40, −4 weeks,
−9.3 %). Table 4 repeats this for each participating job centre against all non-participating
job centres; expected durations above 52 weeks are printed as ">52" and a difference involving
one as ">0"/"<0". Table 7 applies the same machinery to the time to the first LAB of new courses.
Every number carries a cluster-bootstrap SE and percentile CI from the same replicates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.estimators.weibull import WeibullResult, expected_from_params, weibull_ph

GROUPS = pd.DataFrame({"D": [1, 1, 0, 0], "E": [0, 1, 0, 1]}).assign(DE=lambda g: g["D"] * g["E"])
GROUP_NAMES = ["participating_before", "participating_intervention", "other_before", "other_intervention"]
DISPLAY_CAP_WEEKS = 52.0


@dataclass(frozen=True)
class DurationDiD:
    """Expected durations of the four D×E groups, the DiD in weeks and in percent."""

    label: str
    fit: WeibullResult
    table: pd.DataFrame  # quantity, estimate, se_boot, ci_low, ci_high, p_value, display

    def tidy(self) -> pd.DataFrame:
        return self.table.assign(label=self.label)


def _quantities(theta_draws: np.ndarray, fit: WeibullResult) -> np.ndarray:
    """(B × 6): the four expected durations, the DiD in weeks and in percent."""
    e = expected_from_params(theta_draws, fit.params.index, GROUPS)
    did = (e[:, 1] - e[:, 0]) - (e[:, 3] - e[:, 2])
    return np.column_stack([e, did, 100 * did / e[:, 0]])


def _display(estimate: float, quantity: str, values: np.ndarray) -> str:
    if quantity in GROUP_NAMES:
        return ">52" if estimate > DISPLAY_CAP_WEEKS else f"{estimate:.0f}"
    if np.any(values[:4] > DISPLAY_CAP_WEEKS):
        return ">0" if estimate > 0 else "<0"
    return f"{estimate:.0f}" if quantity == "did_weeks" else f"{estimate:.1f}"


def duration_did(
    spells: pd.DataFrame,
    *,
    label: str = "all participating",
    duration: str = "duration",
    event: str = "event",
    cluster: str = "person_id",
    bootstrap: int = 999,
    seed: int = 0,
    scheme: str = "multinomial",
    alpha: float = 0.05,
    interval: bool = False,
) -> DurationDiD:
    """Weibull DiD (eq. 1) on ``spells`` with columns D, E, duration, event, cluster.

    Returns expected weeks per group, the DiD in weeks and percent, each with a bootstrap SE,
    percentile CI and p-value (share of centred replicates at least as extreme as the estimate).
    ``interval=True`` reads durations as grouped weeks (see :func:`bipdask.estimators.weibull.weibull_ph`).
    """
    data = spells.assign(DE=spells["D"] * spells["E"])
    fit = weibull_ph(data, duration=duration, event=event, covariates=["D", "E", "DE"], cluster=cluster,
                     bootstrap=bootstrap, seed=seed, scheme=scheme, interval=interval)
    point = _quantities(fit.params.to_numpy()[None, :], fit)[0]
    names = [*GROUP_NAMES, "did_weeks", "did_pct"]
    rows = []
    if bootstrap:
        reps = _quantities(fit.bootstrap.replicates.to_numpy(), fit)
        lo, hi = np.nanquantile(reps, [alpha / 2, 1 - alpha / 2], axis=0)
        se = np.nanstd(reps, axis=0, ddof=1)
        far = np.abs(reps - point) >= np.abs(point)
        p = (1 + far.sum(axis=0)) / (np.isfinite(reps).sum(axis=0) + 1)
    else:
        lo = hi = se = p = np.full(point.size, np.nan)
    for i, q in enumerate(names):
        rows.append({"quantity": q, "estimate": point[i], "se_boot": se[i], "ci_low": lo[i], "ci_high": hi[i],
                     "p_value": p[i] if q.startswith("did") else np.nan, "display": _display(point[i], q, point)})
    return DurationDiD(label, fit, pd.DataFrame(rows))


def duration_did_by_jobcentre(
    spells: pd.DataFrame,
    *,
    jobcentre: str = "jobcentre_id",
    bootstrap: int = 999,
    seed: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """Table 4: the national model, then each participating job centre against all others (D=0)."""
    frames = [duration_did(spells, bootstrap=bootstrap, seed=seed, **kwargs).tidy().assign(jobcentre_id=pd.NA)]
    others = spells[spells["D"] == 0]
    for jc in sorted(spells.loc[spells["D"] == 1, jobcentre].unique()):
        sub = pd.concat([spells[(spells["D"] == 1) & (spells[jobcentre] == jc)], others], ignore_index=True)
        res = duration_did(sub, label=str(jc), bootstrap=bootstrap, seed=seed, **kwargs)
        frames.append(res.tidy().assign(jobcentre_id=jc))
    return pd.concat(frames, ignore_index=True)
