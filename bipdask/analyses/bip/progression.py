"""Progression between consecutive BIP responses and the J/O/S/H activity combinations.

The BIP progression report — Rosholm, Sørensen, Skipper & Nielsen (2018), *Aktiv
beskæftigelsesindsats og progression* (``docs/methods.md#bip-progression``):

* Tabel 1 — mean change per question between a response and the same citizen's previous
  one (B1–B9, S2–S12) and of the citizen average B1–B9 and the caseworker average S2–S12
  (averages only where all their questions are answered in both responses), with n;
* "knap 22 uger" between consecutive responses and the linear regression of the change on
  the weeks since the previous response ("faldende progression, jo længere der er gået");
* Tabel 3 — the 16 J/O/S/H combinations of the activities of the last three months (question
  S1, grouped by Tabel 2) on all repeat responses;
* Figures 3–24 — the change standardised to mean 0 and SD 1 ("fratrække middelværdien og
  dividere med standardafvigelsen") regressed on the 16 combination indicators; each
  coefficient, with its 95 % CI, is the effect size (Cohen's d) of that combination.

The combination is that of the *later* response of each pair: S1 asks about the activities
"inden for de sidste tre måneder", i.e. between the two responses, and Tabel 3 counts "alle
efterfølgende besvarelser". Pairs whose later response has no caseworker part (no S1 box
ticked) have no combination and stay out of Tabel 3 and the figures.

The regression is fitted with :func:`bipdask.estimators.lpm.model.lpm` as ``z ~ 1 + 15 dummies``
(0000 the reference); the 16 effect sizes are _cons and _cons + β_c (the no-intercept
presentation of the figures), their SEs from lpm's covariance, their bootstrap from lpm's replicates.

With a bootstrap, :attr:`Progression.bootstrap` keeps the B replicates of every bootstrapped
row (mean changes, effect sizes, weeks slopes), columns named by the row's tidy estimand, like
the caseworker analyses' ``bootstrap`` (:mod:`bipdask.analyses.bip.effectiveness`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse

from bipdask.analyses.bip.common import _inference, lpm_inference
from bipdask.analyses.estimates import Estimate, estimates_frame
from bipdask.data.contract import BIP_CASEWORKER_QUESTIONS, BIP_CITIZEN_QUESTIONS
from bipdask.errors import InputError, Problem
from bipdask.estimators.lpm import lpm
from bipdask.estimators.lpm.replicates import PairsState, pairs_replicates
from bipdask.inference.bootstrap import pattern_weights, replicate_blocks, window_rows
from bipdask.inference.cells import Cells
from bipdask.inference.config import Inference
from bipdask.inference.pairs import BootstrapSummary, summarise
from bipdask.prepare.bip import (
    ANALYSIS_PERIOD,
    COMBINATIONS,
    cluster_ids,
    cluster_mean,
    with_previous,
)

PROGRESSION = "bip_progression"
CITIZEN_AVERAGED = BIP_CITIZEN_QUESTIONS[:9]          # B1–B9 (progression report Tabel 1)
INDICATORS = ("citizen_avg", *CITIZEN_AVERAGED, "caseworker_avg", *BIP_CASEWORKER_QUESTIONS)


@dataclass(frozen=True)
class Progression:
    """The BIP progression report reproduced; changes are on the 1–5 answer scale.

    ``mean_change`` (Tabel 1): indicator, estimate, se, ci_low, ci_high, p_value, n.
    ``combinations`` (Tabel 3): combination, n, share.
    ``effects`` (Figures 3–24): indicator, combination, estimate (effect size), se, ci_low,
    ci_high, p_value, n (combinations that do not occur for an indicator have no row); with a
    bootstrap, this, ``mean_change`` and ``weeks_slope`` also carry ``replicate_failure_share``.
    ``weeks_between``: mean weeks between consecutive responses (estimate, se, n).
    ``weeks_slope``: per indicator the slope of the change on weeks since the previous
    response (change per week), with se/CI/p and n.
    ``bootstrap`` (when fitted with ``bootstrap=B``): ``replicates`` is B × one column per
    bootstrapped tidy row, named by its estimand — ``mean_change/<indicator>``,
    ``effect_size/<indicator>/<JOSH>``, ``weeks_slope/<indicator>`` — so each column's SD
    (ddof 1) is that row's se and its percentiles its CI; ``estimate`` the point estimates.
    Replicate weights are a pure function of (seed, b, the model's sorted cluster ids): the
    columns of one model (all mean changes; one indicator's effect sizes) are a joint
    bootstrap, while models on different rows (indicators answered by different citizens)
    draw for their own cluster sets, so across them each column is valid on its own only.
    The combination shares and the weeks between responses have no replicates.
    """

    mean_change: pd.DataFrame
    combinations: pd.DataFrame
    effects: pd.DataFrame
    weeks_between: pd.Series
    weeks_slope: pd.DataFrame
    n_pairs: int
    n_citizens: int
    bootstrap: BootstrapSummary | None = None
    replicate_plan: ProgressionReplicates | None = None

    def tidy(self) -> pd.DataFrame:
        """Estimates rows, analysis ``bip_progression``: ``mean_change/<indicator>``,
        ``combination_share/<JOSH>``, ``effect_size/<indicator>/<JOSH>``,
        ``weeks_between_responses``, ``weeks_slope/<indicator>``."""
        rows = []

        def add(name, r, n):
            rows.append(Estimate(PROGRESSION, name, None, ANALYSIS_PERIOD, float(r["estimate"]),
                                 _f(r.get("se")), _f(r.get("ci_low")), _f(r.get("ci_high")),
                                 _f(r.get("p_value")), self.n_citizens, int(n),
                                 replicate_failure_share=_f(r.get("replicate_failure_share"))))

        for _, r in self.mean_change.iterrows():
            add(f"mean_change/{r['indicator']}", r, r["n"])
        total = int(self.combinations["n"].sum())
        for _, r in self.combinations.iterrows():
            add(f"combination_share/{r['combination']}", {"estimate": r["share"]}, total)
        for _, r in self.effects.iterrows():
            add(f"effect_size/{r['indicator']}/{r['combination']}", r, r["n"])
        add("weeks_between_responses", self.weeks_between, self.weeks_between["n"])
        for _, r in self.weeks_slope.iterrows():
            add(f"weeks_slope/{r['indicator']}", r, r["n"])
        return estimates_frame(rows)


def _f(x) -> float | None:
    return None if x is None or pd.isna(x) else float(x)


def change_pairs(bip_responses: pd.DataFrame) -> pd.DataFrame:
    """One row per repeat response: the change of every indicator since the previous response.

    Columns: person_id, response_id, caseworker_id, jobcentre_id, combination (of the later
    response), weeks_since_previous, and one column per :data:`INDICATORS` (NaN where not
    defined: a question missing in either response; an average unless all its questions are
    answered in both).
    """
    r = with_previous(bip_responses)
    r = r[r["seq"] > 0].reset_index(drop=True)
    out = r[["person_id", "response_id", "caseworker_id", "jobcentre_id", "combination",
             "weeks_since_previous"]].copy()
    for q in (*CITIZEN_AVERAGED, *BIP_CASEWORKER_QUESTIONS):
        out[q] = r[q].to_numpy(dtype=float) - r[f"{q}_prev"].to_numpy(dtype=float)
    # The mean of changes over complete pairs equals the change of the mean.
    out["citizen_avg"] = out[list(CITIZEN_AVERAGED)].mean(axis=1, skipna=False)
    out["caseworker_avg"] = out[list(BIP_CASEWORKER_QUESTIONS)].mean(axis=1, skipna=False)
    return out


def progression(
    bip_responses: pd.DataFrame,
    *,
    inference: Inference = Inference(),
    indicators: tuple[str, ...] = INDICATORS,
    replicate_plan: bool = False,
) -> Progression:
    """The BIP progression report's tables and figures from all BIP responses.

    Parameters
    ----------
    bip_responses : the contract table (all responses; the pairs are consecutive responses of
        the same citizen, in date order).
    inference : cluster bootstrap (replicate weights of
        :func:`bipdask.inference.bootstrap.replicate_weights` over the sorted cluster ids; 0
        replicates = analytic cluster-robust SEs); its cluster column defaults to citizens
        (``person_id``): a citizen's pairs share one person and overlap (the middle response of
        three enters two changes).
    indicators : which of :data:`INDICATORS` get effect sizes and slopes (default all 22).
    replicate_plan : keep what the replicates need (:class:`ProgressionReplicates`) instead of
        drawing them (``inference.replicates`` must be 0).
    """
    bootstrap, seed, scheme, cluster, alpha = (inference.replicates, inference.seed, inference.scheme,
                                               inference.cluster, inference.alpha)
    window = inference.replicate_window
    if replicate_plan and bootstrap:
        raise ValueError("progression: replicate_plan keeps the replicates for later; set replicates=0")
    pairs = change_pairs(bip_responses)
    if pairs.empty:
        raise InputError([Problem("bip_responses", "person_id", "no citizen has two responses", 0)])
    unknown = [i for i in indicators if i not in INDICATORS]
    if unknown:
        raise ValueError(f"unknown indicators {unknown}; choose from {INDICATORS}")
    ids, g_codes = cluster_ids(pairs, cluster)
    n_g = len(ids)

    values = pairs[list(INDICATORS)].to_numpy(dtype=float)
    point, se, n = {}, {}, {}
    for j, ind in enumerate(INDICATORS):
        point[ind], se[ind], n[ind] = cluster_mean(values[:, j], g_codes, n_g)
    summary = mean_sums = None
    if bootstrap > 0 or replicate_plan:
        mean_sums = _mean_sums(values, g_codes, n_g)
    if bootstrap > 0:
        summary = summarise(_mean_replicates(*mean_sums, ids, bootstrap, seed, scheme, window),
                            pd.Series(point), scheme, seed)
    inf = _inference(pd.Series(point), summary, pd.Series(se), n_g, alpha)
    mean_change = inf.rename_axis("indicator").reset_index().assign(n=[n[i] for i in INDICATORS])

    combo = pairs["combination"]
    counts = combo.value_counts().reindex(list(COMBINATIONS), fill_value=0)
    combinations = pd.DataFrame({"combination": list(COMBINATIONS), "n": counts.to_numpy().astype("int64")})
    combinations["share"] = combinations["n"] / max(int(combinations["n"].sum()), 1)

    reps: list[pd.DataFrame] = []
    if summary is not None:
        reps.append(summary.replicates.add_prefix("mean_change/"))
    # One indicator's effect sizes and weeks slope one after the other: mostly the same citizens,
    # so the slope's bootstrap reuses the weights just drawn (bootstrap.shared_weights).
    parts, slopes, slope_reps, effect_plans, slope_plans = [], [], [], [], []
    for ind in indicators:
        frame, r, kept = _effect_sizes(pairs, ind, cluster, bootstrap, seed, scheme, alpha, window, replicate_plan)
        parts.append(frame)
        effect_plans.append((ind, *kept))
        if r is not None:
            reps.append(r.add_prefix(f"effect_size/{ind}/"))
        row, r, kept = _weeks_slope(pairs, ind, cluster, bootstrap, seed, scheme, alpha, window, replicate_plan)
        slopes.append(row)
        slope_plans.append((ind, kept))
        if r is not None:
            slope_reps.append(pd.DataFrame({f"weeks_slope/{ind}": r}))
    reps += slope_reps
    effects = pd.concat(parts, ignore_index=True)

    gap = pairs["weeks_since_previous"].to_numpy(dtype=float)
    m, s, k = cluster_mean(gap, g_codes, n_g)
    weeks_between = pd.Series({"estimate": m, "se": s, "n": k})
    weeks_slope = pd.DataFrame(slopes)
    boot = None
    if reps:
        estimate = pd.concat([
            mean_change.set_index("indicator")["estimate"].add_prefix("mean_change/"),
            pd.Series(effects["estimate"].to_numpy(),
                      index="effect_size/" + effects["indicator"] + "/" + effects["combination"]),
            weeks_slope.set_index("indicator")["estimate"].add_prefix("weeks_slope/"),
        ])
        table = pd.concat(reps, axis=1)
        boot = summarise(table.to_numpy(np.float64), estimate.reindex(table.columns), scheme, seed)
    plan = (ProgressionReplicates(ids, seed, scheme, *mean_sums, tuple(effect_plans), tuple(slope_plans))
            if replicate_plan else None)
    return Progression(mean_change=mean_change, combinations=combinations, effects=effects,
                       weeks_between=weeks_between, weeks_slope=weeks_slope, n_pairs=len(pairs),
                       n_citizens=int(pairs["person_id"].nunique()), bootstrap=boot, replicate_plan=plan)


@dataclass(frozen=True)
class ProgressionReplicates:
    """What the replicates of :func:`progression` need after its point fits: per citizen the
    sums and counts of the 22 changes (Tabel 1's means), and per indicator the
    :class:`~bipdask.estimators.lpm.replicates.PairsState` of its effect-size regression (with
    the parameter names and the map L to the 16 combinations) and of its weeks slope — compact
    (dummies as int8): ≈ 10 MB per indicator at scale 30 instead of its rows and refit."""

    ids: np.ndarray
    seed: int
    scheme: str
    mean_sums: sparse.csr_matrix
    mean_counts: sparse.csr_matrix
    effects: tuple  # (indicator, PairsState, names, present, lmap) per indicator
    slopes: tuple  # (indicator, PairsState) per indicator

    def replicates(self, n_reps: int, window: range | None = None) -> pd.DataFrame:
        """Replicates ``window`` (all without one) of B = ``n_reps``: the columns of
        :attr:`Progression.bootstrap` in its order, bit for bit."""
        means = _mean_replicates(self.mean_sums, self.mean_counts, self.ids, n_reps, self.seed, self.scheme, window)
        reps = [pd.DataFrame(means, columns=list(INDICATORS)).add_prefix("mean_change/")]
        for ind, state, names, present, lmap in self.effects:
            frame = pairs_replicates(state, n_reps, self.seed, self.scheme, window)
            reps.append(_effect_replicates(frame, names, lmap, present).add_prefix(f"effect_size/{ind}/"))
        for ind, state in self.slopes:
            r = pairs_replicates(state, n_reps, self.seed, self.scheme, window)["weeks_since_previous"]
            reps.append(pd.DataFrame({f"weeks_slope/{ind}": r.to_numpy(np.float64)}))
        return pd.concat(reps, axis=1)


def _mean_sums(values, g_codes, n_g) -> tuple[sparse.csr_matrix, sparse.csr_matrix]:
    """Per-citizen sums and counts of each indicator's defined changes."""
    ok = np.isfinite(values)
    cells = Cells.of(g_codes, np.zeros_like(g_codes), (n_g, 1))
    return cells.sum_matrix(np.where(ok, values, 0.0)), cells.sum_matrix(ok)


def _mean_replicates(s, c, ids, n_reps, seed, scheme, window=None) -> np.ndarray:
    out = [np.empty((0, s.shape[1]))]
    for reps, w in replicate_blocks(ids, n_reps, seed, scheme, window=window):
        with np.errstate(invalid="ignore", divide="ignore"):
            out.append((pattern_weights(w, s) / pattern_weights(w, c))[window_rows(reps, window)[0]])
    return np.vstack(out)


def standardize(values: np.ndarray) -> np.ndarray:
    """(x − mean) / SD (ddof 1), the BIP progression report's note 3."""
    sd = float(np.std(values, ddof=1)) if values.size > 1 else float("nan")
    return (values - values.mean()) / sd if sd > 0 else np.full_like(values, np.nan)


def _effect_sizes(pairs, indicator, cluster, bootstrap, seed, scheme, alpha,
                  window=None, keep: bool = False) -> tuple[pd.DataFrame, pd.DataFrame | None, tuple]:
    """Figures 3–24 for one indicator: the rows, (with a bootstrap) the B × combinations
    replicates, and (``keep``) what they need later: (PairsState, names, present, L)."""
    d = pairs[list(dict.fromkeys([cluster, "person_id", "combination", indicator]))]
    d = d.dropna(subset=[indicator, "combination"])
    d = d.reset_index(drop=True)
    z = standardize(d[indicator].to_numpy(dtype=float))
    combo = d["combination"].to_numpy(dtype=object)
    present = [c for c in COMBINATIONS if (combo == c).any()]
    data = pd.DataFrame({cluster: d[cluster].to_numpy(), "z": z})
    if cluster != "person_id":
        data["person_id"] = d["person_id"].to_numpy()
    ref = present[0] if present else COMBINATIONS[0]
    dummies = [f"c{c}" for c in present if c != ref]
    for name in dummies:
        data[name] = (combo == name[1:]).astype(float)
    fit = lpm(data, y="z", covariates=dummies, cluster=cluster, bootstrap=bootstrap, seed=seed,
              scheme=scheme, replicate_window=window, keep_pairs_state=keep)
    cons = _intercept_name(fit, dummies)
    names = [cons, *dummies]
    # Effect size of combination c = _cons (+ β_c): a linear map L of the parameters.
    lmap = np.zeros((len(present), len(names)))
    lmap[:, 0] = 1.0
    for i, c in enumerate(present):
        if c != ref:
            lmap[i, names.index(f"c{c}")] = 1.0
    theta = fit.params[names].to_numpy(dtype=float)
    est = pd.Series(lmap @ theta, index=present)
    cov = np.asarray(pd.DataFrame(fit.cov).loc[names, names], dtype=float)
    analytic = pd.Series(np.sqrt(np.clip(np.diag(lmap @ cov @ lmap.T), 0.0, None)), index=present)
    summary = None
    boot = getattr(fit, "bootstrap", None)
    if boot is not None:
        reps = _effect_replicates(boot.replicates, names, lmap, present)
        summary = BootstrapSummary(reps, est, boot.scheme, boot.seed, boot.n_failed)
    inf = _inference(est, summary, analytic, int(fit.n_clusters), alpha)
    counts = pd.Series(combo).value_counts()
    rows = inf.rename_axis("combination").reset_index().assign(
        indicator=indicator, n=[int(counts.get(c, 0)) for c in present]
    )[["indicator", "combination", "estimate", "se", "ci_low", "ci_high", "p_value", "n",
       *(["replicate_failure_share"] if summary is not None else [])]]
    return rows, (None if summary is None else summary.replicates), (fit.pairs_state, names, present, lmap)


def _effect_replicates(replicates: pd.DataFrame, names: list[str], lmap: np.ndarray, present: list[str]
                       ) -> pd.DataFrame:
    """The effect sizes' replicates from the regression's: L·θ*_b per replicate."""
    return pd.DataFrame(replicates[names].to_numpy(dtype=float) @ lmap.T, columns=present)


def _intercept_name(fit, covariates: list[str]) -> str:
    extra = [n for n in fit.params.index if n not in covariates]
    if len(extra) != 1:
        raise RuntimeError(f"lpm returned {len(extra)} parameters besides the covariates; expected one intercept")
    return str(extra[0])


def _weeks_slope(pairs, indicator, cluster, bootstrap, seed, scheme, alpha,
                 window=None, keep: bool = False) -> tuple[dict, np.ndarray | None, PairsState | None]:
    """The change-on-weeks slope of one indicator: its row, (with a bootstrap) its B replicates
    and (``keep``) the fit's PairsState."""
    d = pairs[list(dict.fromkeys([cluster, "person_id", "weeks_since_previous", indicator]))]
    d = d.dropna().reset_index(drop=True)
    data = pd.DataFrame({cluster: d[cluster].to_numpy(), "change": d[indicator].to_numpy(dtype=float),
                         "weeks_since_previous": d["weeks_since_previous"].to_numpy(dtype=float)})
    fit = lpm(data, y="change", covariates=["weeks_since_previous"], cluster=cluster,
              bootstrap=bootstrap, seed=seed, scheme=scheme, replicate_window=window, keep_pairs_state=keep)
    r = lpm_inference(fit, ["weeks_since_previous"], alpha).iloc[0]
    boot = getattr(fit, "bootstrap", None)
    reps = None if boot is None else boot.replicates["weeks_since_previous"].to_numpy(np.float64)
    return {"indicator": indicator, "estimate": float(r["estimate"]), "se": float(r["se"]),
            "ci_low": float(r["ci_low"]), "ci_high": float(r["ci_high"]), "p_value": float(r["p_value"]),
            "n": len(d), **({} if reps is None else {"replicate_failure_share": float(r["replicate_failure_share"])})
            }, reps, fit.pairs_state
