"""Randomization inference over job centres for the pooled share DiD (HIR eq. 2, Table 6).

In the HIR caseload experiment the caseload cap was assigned to 15 of 97 job centres, so the
design-based reference distribution of the pooled DiD of the HIR quantitative report's Table 6
(the share of resource-course weeks in a company internship or with ordinary hours) is the
distribution over the other ways K of the G job centres could have been chosen. Under the sharp
null of no effect for any job centre the data are fixed and only the labels move, and the pooled
DiD of eq. (2) — the DiD of the four cell means pooled over person-weeks,

    φ = (ȳ_T1 − ȳ_T0) − (ȳ_C1 − ȳ_C0),    ȳ_de = Σ_{g in arm d} n_yes[g, e] / Σ_{g in arm d} n_weeks[g, e],

is a function of the job-centre × period sums only. For a block of assignments (a B × G 0/1
matrix A) the four cell sums of the treated arm are one product A·S with the G × 4 matrix S of
(n_weeks, n_yes) per period, the control arm's are the totals minus those: no refits on rows.

* **Exact or sampled.** When C(G, K) ≤ ``max_enumerate`` (200,000) every assignment is
  enumerated and the p-value is exact and seed-free; otherwise B assignments are drawn uniformly
  (with replacement over assignments) as a pure function of the seed:
  ``Generator(PCG64(SeedSequence([seed, G, K, 0x5A11])))``, each row the K smallest of G
  uniforms over the centres sorted by id.
* **p-value** of the sharp null, two-sided, with the observed assignment counted (the "+1"
  convention): (1 + #{a ≠ observed: |φ_a| ≥ |φ|}) / n_assignments, where n_assignments is
  C(G, K) when enumerated (the observed assignment is one of them) and B + 1 when sampled. So
  p ∈ [1/n_assignments, 1]. Ties are counted (relative tolerance 1e-10).
* **Studentised variant** (``studentize=True``): the same test on t = φ / SE_G(φ), SE_G the
  job-centre-clustered CR1 standard error computed from the same sums for each assignment;
  more robust when centres of very different size make the weak (average-effect) null the
  relevant one.
* **Confidence interval** by inverting the sharp null of a constant additive effect τ on the
  share (τ in fractions, so 0.01 = 1 percentage point): shift the observed-treated centres'
  after-period outcome, n_yes − τ·n_weeks. For assignment a the DiD on the shifted data is
  φ_a − τ·h_a with h_a = (share of a's treated after-weeks in observed-treated centres) − (the
  same share of a's control after-weeks), so φ_a counts as extreme exactly on the interval
  between the two roots of |φ_a − τ·h_a| = |φ − τ|, which always contains φ. The acceptance set
  {τ: p(τ) > α} is then an interval whose end points are order statistics of those roots: exact,
  no grid. With too few assignments (1/n_assignments > α) it is the whole line.
* **Ineligible centres.** Only centres with weeks in both periods are permuted (a centre
  without before- or after-weeks would leave a cell of some assignments empty). Centres with
  weeks in one period only keep their observed arm in every assignment (``ineligible="fixed"``,
  the default: the test conditions on their assignment, valid under complete randomization, and
  the estimate is exactly the Table 6 pooled DiD); ``ineligible="drop"`` removes them.

The generic entry point :func:`weighted_did_randomization` takes any per-centre, per-period
statistic θ[g, e] and weight w[g, e] and tests the weighted DiD Σ_T w θ / Σ_T w − ... (the share
DiD is θ = share, w = weeks). The Weibull (Tables 4, 7) and Cox (Tables 9–10) DiDs are not
weighted means of per-centre statistics: under the sharp null the data stay fixed but the D and
D·E columns change with the assignment, so each assignment is a refit. Making them cheap would
need per-centre × pattern count matrices in which D is a pattern key (as the bootstrap already
builds), re-labelled per assignment and solved by the vectorised Newton of
:mod:`bipdask.estimators.newton`; or, approximately, per-centre log hazard ratios (after/before)
with inverse-variance weights fed to :func:`weighted_did_randomization`.

:func:`jobcentre_cell_sums` turns the per-person cell rows of
:func:`bipdask.prepare.outcomes.share_cell_sums` into the job-centre sums, and
:func:`table6_design_inference` gives Table 6's pooled RI result together with the per-centre
placebo intervals of :mod:`bipdask.inference.placebo`. Method:
``docs/methods.md#randomization-inference-over-job-centres``.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

Ineligible = Literal["fixed", "drop"]

MAX_ENUMERATE = 200_000
_BLOCK = 8192  # assignments per block: bounds the B × G temporaries
_SEED_TAG = 0x5A11
_RTOL = 1e-10


@dataclass(frozen=True)
class NullDistribution:
    """Summary of the permutation distribution of the statistic (all assignments, observed
    included; DiDs in fractions of a share, so 0.01 = 1 percentage point)."""

    mean: float
    sd: float
    min: float
    q025: float
    q05: float
    median: float
    q95: float
    q975: float
    max: float

    @classmethod
    def of(cls, values: np.ndarray) -> "NullDistribution":
        v = np.asarray(values, dtype=np.float64)
        v = v[np.isfinite(v)]
        if v.size == 0:
            return cls(*([float("nan")] * 9))
        q = np.quantile(v, [0.025, 0.05, 0.5, 0.95, 0.975])
        return cls(float(v.mean()), float(v.std(ddof=1)) if v.size > 1 else 0.0, float(v.min()),
                   *(float(x) for x in q), float(v.max()))


@dataclass(frozen=True)
class RandomizationResult:
    """Randomization inference for a pooled DiD over job-centre assignments.

    ``estimate`` : the observed DiD (fractions; 0.017 = 1.7 pp).
    ``p_value`` : the sharp-null p-value, two-sided, observed assignment counted.
    ``n_assignments`` : assignments in the reference distribution, observed included
        (C(G, K) when ``enumerated``, B + 1 when sampled).
    ``enumerated`` : all C(G, K) assignments were used (exact, seed-free).
    ``n_centres``, ``n_treated`` : permuted (eligible) centres G and treated among them K;
        ``n_fixed`` centres kept their observed arm (weeks in one period only).
    ``distribution`` : summary of the DiD over the assignments.
    ``t_stat``, ``p_value_studentized`` : the job-centre-clustered (CR1) t of the observed
        assignment and the p-value of the same test on |t| (None without ``studentize``).
    ``ci_low``, ``ci_high`` : the interval of constant additive effects τ not rejected at
        ``alpha`` (None without ``ci``; ±inf when no assignment set can reject).
    ``draws`` : the DiD of every assignment (observed first) when asked for (``keep_draws``).
    """

    estimate: float
    p_value: float
    n_assignments: int
    enumerated: bool
    n_centres: int
    n_treated: int
    n_fixed: int
    distribution: NullDistribution
    alpha: float = 0.05
    seed: int | None = None
    t_stat: float | None = None
    p_value_studentized: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    draws: np.ndarray | None = field(default=None, repr=False, compare=False)


# --------------------------------------------------------------------------------------------
# the vectorised DiD of an assignment block

def did_from_sums(assignment: np.ndarray, sums: np.ndarray) -> np.ndarray:
    """The pooled DiD of every assignment row: (B × G) 0/1 matrix times (G × 4) sums.

    ``sums`` columns are (w_before, wy_before, w_after, wy_after) — for shares (n_weeks, n_yes)
    per period. Returns φ_b = (ȳ_T1 − ȳ_T0) − (ȳ_C1 − ȳ_C0) per row; NaN where a cell is empty.
    """
    a = np.asarray(assignment, dtype=np.float64)
    s = np.asarray(sums, dtype=np.float64)
    t = a @ s[:, :4]
    c = s[:, :4].sum(axis=0) - t
    with np.errstate(invalid="ignore", divide="ignore"):
        return (t[:, 3] / t[:, 2] - t[:, 1] / t[:, 0]) - (c[:, 3] / c[:, 2] - c[:, 1] / c[:, 0])


def _block_stats(a: np.ndarray, s: np.ndarray, studentize: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """DiD, h (see module doc) and the CR1-clustered t (if asked) of an assignment block.

    ``s`` is G × 5: (w0, wy0, w1, wy1, z) with z = w1 for the observed-treated centres, else 0.
    """
    t = a @ s
    c = s.sum(axis=0) - t
    with np.errstate(invalid="ignore", divide="ignore"):
        mt0, mt1 = t[:, 1] / t[:, 0], t[:, 3] / t[:, 2]
        mc0, mc1 = c[:, 1] / c[:, 0], c[:, 3] / c[:, 2]
        did = (mt1 - mt0) - (mc1 - mc0)
        h = t[:, 4] / t[:, 2] - c[:, 4] / c[:, 2]
        if not studentize:
            return did, h, None
        # influence of centre g on the DiD (up to sign): its after-minus-before score in its arm
        treated = a > 0.5
        m1 = np.where(treated, mt1[:, None], mc1[:, None])
        m0 = np.where(treated, mt0[:, None], mc0[:, None])
        n1 = np.where(treated, t[:, 2:3], c[:, 2:3])
        n0 = np.where(treated, t[:, 0:1], c[:, 0:1])
        u = (s[None, :, 3] - s[None, :, 2] * m1) / n1 - (s[None, :, 1] - s[None, :, 0] * m0) / n0
        se = np.sqrt((u * u).sum(axis=1))
        tstat = np.where(se > 0, did / np.where(se > 0, se, 1.0), np.where(did == 0, 0.0, np.sign(did) * np.inf))
    return did, h, tstat


def _at_least(values: np.ndarray, observed: float) -> np.ndarray:
    """|values| ≥ |observed|, ties within a relative tolerance counted."""
    av, ao = np.abs(values), abs(observed)
    return (av >= ao) | np.isclose(av, ao, rtol=_RTOL, atol=1e-15)


# --------------------------------------------------------------------------------------------
# assignments

def _enumerated_blocks(g: int, k: int):
    """All K-subsets of range(G) in lexicographic order, as (block × K) index arrays."""
    combos = itertools.combinations(range(g), k)
    while True:
        chunk = list(itertools.islice(combos, _BLOCK))
        if not chunk:
            return
        yield np.array(chunk, dtype=np.int64).reshape(len(chunk), k)


def _sampled_blocks(g: int, k: int, n: int, seed: int):
    """``n`` uniform K-subsets of range(G), a pure function of (seed, G, K, n): row b holds the
    positions of the K smallest of G uniforms, read in order from one stream (so the rows do not
    depend on the block size)."""
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([int(seed), g, k, _SEED_TAG])))
    for start in range(0, n, _BLOCK):
        b = min(_BLOCK, n - start)
        u = rng.random((b, g))
        yield np.sort(np.argpartition(u, k - 1, axis=1)[:, :k], axis=1) if k < g else np.tile(np.arange(g), (b, 1))


def assignment_count(n_centres: int, n_treated: int) -> int:
    """C(G, K): how many ways K of G job centres can be the participating ones."""
    return math.comb(int(n_centres), int(n_treated))


# --------------------------------------------------------------------------------------------
# public tests

def share_did_randomization(
    jobcentre_ids: Iterable[int],
    n_weeks: np.ndarray,
    n_yes: np.ndarray,
    treated: Iterable[int],
    *,
    seed: int = 0,
    assignments: int = 9999,
    max_enumerate: int = MAX_ENUMERATE,
    alpha: float = 0.05,
    studentize: bool = True,
    ci: bool = True,
    ineligible: Ineligible = "fixed",
    keep_draws: bool = False,
) -> RandomizationResult:
    """Randomization inference over job centres for the pooled share DiD of HIR Table 6.

    Parameters
    ----------
    jobcentre_ids : the G job centre ids (any order; results do not depend on it).
    n_weeks, n_yes : G × 2 arrays, columns (before, after): resource-course person-weeks and
        weeks with the outcome (company internship or ordinary hours) per job centre and period.
    treated : participating job centre ids (D = 1); ids not among ``jobcentre_ids`` are ignored.
    seed : seed of the sampled assignments (unused when enumerated).
    assignments : B, the number of sampled assignments when C(G, K) > ``max_enumerate``.
    alpha : level of the inverted confidence interval.
    studentize : also test the job-centre-clustered t statistic.
    ci : invert the sharp null of a constant additive effect τ into an interval.
    ineligible : centres without weeks in both periods: ``"fixed"`` (keep their observed arm,
        the default) or ``"drop"``.
    keep_draws : keep the DiD of every assignment in the result (observed first).
    """
    n = np.asarray(n_weeks, dtype=np.float64)
    y = np.asarray(n_yes, dtype=np.float64)
    return _randomization(jobcentre_ids, n, y, treated, seed=seed, assignments=assignments,
                          max_enumerate=max_enumerate, alpha=alpha, studentize=studentize, ci=ci,
                          ineligible=ineligible, keep_draws=keep_draws)


def weighted_did_randomization(
    jobcentre_ids: Iterable[int],
    statistic: np.ndarray,
    weight: np.ndarray,
    treated: Iterable[int],
    **kwargs,
) -> RandomizationResult:
    """Randomization inference for a DiD of weighted means of per-centre statistics.

    φ = Σ_T w₁θ₁/Σ_T w₁ − Σ_T w₀θ₀/Σ_T w₀ − (the same over the comparison centres), with
    ``statistic`` θ and ``weight`` w both G × 2 (before, after). A centre with zero weight in a
    period counts as having no observations in it. The share DiD is θ = n_yes/n_weeks,
    w = n_weeks. Keyword arguments as :func:`share_did_randomization`; the τ interval inverts a
    constant additive effect on θ in the after period.
    """
    w = np.asarray(weight, dtype=np.float64)
    th = np.asarray(statistic, dtype=np.float64)
    return _randomization(jobcentre_ids, w, np.where(w > 0, w * th, 0.0), treated, **kwargs)


def _randomization(jobcentre_ids, n, y, treated, *, seed=0, assignments=9999, max_enumerate=MAX_ENUMERATE,
                   alpha=0.05, studentize=True, ci=True, ineligible: Ineligible = "fixed",
                   keep_draws=False) -> RandomizationResult:
    ids = np.asarray(list(jobcentre_ids), dtype=np.int64)
    if n.shape != (ids.size, 2) or y.shape != (ids.size, 2):
        raise ValueError("n_weeks and n_yes must be G × 2 (before, after)")
    if np.unique(ids).size != ids.size:
        raise ValueError("jobcentre_ids must be unique")
    if ineligible not in ("fixed", "drop"):
        raise ValueError("ineligible must be 'fixed' or 'drop'")
    order = np.argsort(ids, kind="stable")
    ids, n, y = ids[order], n[order], y[order]
    d_obs = np.isin(ids, np.asarray(list(treated), dtype=np.int64))
    keep = (n > 0).any(axis=1)  # centres without any weeks play no part
    ids, n, y, d_obs = ids[keep], n[keep], y[keep], d_obs[keep]
    eligible = (n > 0).all(axis=1)
    if ineligible == "drop":
        ids, n, y, d_obs = ids[eligible], n[eligible], y[eligible], d_obs[eligible]
        eligible = eligible[eligible]
    s = np.column_stack([n[:, 0], y[:, 0], n[:, 1], y[:, 1], np.where(d_obs, n[:, 1], 0.0)])
    g, k = int(eligible.sum()), int((d_obs & eligible).sum())
    if k == 0 or k == g:
        raise ValueError(f"randomization needs treated and comparison centres with weeks in both periods "
                         f"(got {k} of {g})")
    cols = np.flatnonzero(eligible)  # positions of the permuted centres
    fixed = np.where(~eligible & d_obs, 1.0, 0.0)
    a_obs = d_obs.astype(np.float64)
    did_obs, _, t_obs = _block_stats(a_obs[None, :], s, studentize)
    d_hat = float(did_obs[0])
    if not np.isfinite(d_hat):
        raise ValueError("the observed DiD is undefined (an empty cell)")
    obs_set = np.flatnonzero(d_obs[cols])

    total = assignment_count(g, k)
    enumerated = total <= max_enumerate
    blocks = _enumerated_blocks(g, k) if enumerated else _sampled_blocks(g, k, int(assignments), seed)
    if not enumerated and int(assignments) < 1:
        raise ValueError("assignments must be ≥ 1 when not enumerating")

    dids, hs, ts, is_obs = [], [], [], []
    for idx in blocks:
        b = idx.shape[0]
        a = np.tile(fixed, (b, 1))
        a[np.arange(b)[:, None], cols[idx]] = 1.0
        did, h, tstat = _block_stats(a, s, studentize)
        dids.append(did)
        hs.append(h)
        if studentize:
            ts.append(tstat)
        is_obs.append((idx == obs_set[None, :]).all(axis=1))
    did = np.concatenate(dids)
    h = np.concatenate(hs)
    obs_rows = np.concatenate(is_obs)
    extreme = _at_least(did, d_hat) | obs_rows
    if enumerated:
        n_assign = total
        hits = int(extreme.sum()) - int(obs_rows.sum()) + 1  # the observed assignment once
        others = ~obs_rows
    else:
        n_assign = int(assignments) + 1
        hits = 1 + int(extreme.sum())
        others = np.ones(did.size, dtype=bool)
    p = hits / n_assign

    t_val = p_t = None
    if studentize:
        tt = np.concatenate(ts)
        t_val = float(t_obs[0]) * math.sqrt(_cr1_factor(ids.size, float(n.sum())))
        ext_t = _at_least(tt, float(t_obs[0])) | obs_rows
        p_t = (1 + int(ext_t[others].sum())) / n_assign

    lo = hi = None
    if ci:
        lo, hi = _invert_shift(did[others], h[others], obs_rows[others], d_hat, n_assign, alpha)

    all_draws = np.concatenate([[d_hat], did[others]])
    return RandomizationResult(
        estimate=d_hat, p_value=float(p), n_assignments=int(n_assign), enumerated=bool(enumerated),
        n_centres=g, n_treated=k, n_fixed=int(ids.size - g), distribution=NullDistribution.of(all_draws),
        alpha=float(alpha), seed=None if enumerated else int(seed), t_stat=t_val, p_value_studentized=p_t,
        ci_low=lo, ci_high=hi, draws=all_draws if keep_draws else None)


def _cr1_factor(g: int, n_total: float) -> float:
    """G/(G−1)·(N−1)/(N−4): the CR1 factor of the job-centre-clustered variance (reported t only;
    a constant across assignments, so it does not change the studentised p-value)."""
    return g / (g - 1) * (n_total - 1) / (n_total - 4) if g > 1 and n_total > 4 else 1.0


def _invert_shift(did: np.ndarray, h: np.ndarray, same_as_obs: np.ndarray, d_hat: float, n_assign: int,
                  alpha: float) -> tuple[float, float]:
    """The interval {τ: p(τ) > α} for the sharp null of a constant additive effect τ.

    Under H_τ assignment a's statistic is φ_a − τ·h_a and the observed one φ − τ. Assignment a
    counts (|φ_a − τ h_a| ≥ |φ − τ|) exactly on [min(r1, r2), max(r1, r2)], r1 = (φ − φ_a)/(1 − h_a),
    r2 = (φ + φ_a)/(1 + h_a) (|h_a| ≤ 1, so the quadratic opens downward); every such interval
    contains φ, so #counting(τ) rises up to φ and falls after it, and the acceptance set is the
    interval between the k-th smallest lower root and the k-th largest upper root, k the least
    count with (1 + k)/n_assignments > α.
    """
    need = max(math.floor(alpha * n_assign - 1.0 + 1e-9) + 1, 0)  # least k with (1 + k)/n > α
    if need == 0:
        return (-math.inf, math.inf)
    with np.errstate(invalid="ignore", divide="ignore"):
        r1 = (d_hat - did) / (1.0 - h)  # ±inf when h = 1: a half-line, which fmin/fmax keep
        r2 = (d_hat + did) / (1.0 + h)
    lo, hi = np.fmin(r1, r2), np.fmax(r1, r2)
    whole = same_as_obs | (np.isfinite(did) & (np.isnan(r1) | np.isnan(r2)))  # 0/0: |φ_a − τ h_a| ≡ |φ − τ|
    lo = np.where(whole, -np.inf, np.where(np.isfinite(did), lo, np.inf))  # an undefined DiD never counts
    hi = np.where(whole, np.inf, np.where(np.isfinite(did), hi, -np.inf))
    if need > lo.size:  # cannot happen (at τ = φ every assignment counts), kept for safety
        return (d_hat, d_hat)
    lo_sorted = np.sort(lo)
    hi_sorted = np.sort(hi)
    return (float(lo_sorted[need - 1]), float(hi_sorted[hi.size - need]))


# --------------------------------------------------------------------------------------------
# Table 6 plumbing

SUM_COLUMNS = ("jobcentre_id", "d", "n_weeks_before", "n_yes_before", "n_persons_before",
               "n_weeks_after", "n_yes_after", "n_persons_after")


def jobcentre_cell_sums(cells: pd.DataFrame, before: str, after: str) -> pd.DataFrame:
    """Per job centre × (before, after): weeks, weeks with the outcome, and persons.

    From the per-person rows of :func:`bipdask.prepare.outcomes.share_cell_sums`
    (jobcentre_id, person_id, period, d, n_weeks, n_yes) of every job centre: one row per job
    centre with :data:`SUM_COLUMNS` — ``d`` (1 = participating), and for the E = 0 window
    ``before`` and the E = 1 window ``after`` the resource-course person-weeks, the weeks in a
    company internship or with ordinary hours, and the persons with at least one such week
    (0 when the centre has no weeks in the period). Sorted by jobcentre_id. These are the
    sufficient statistics of the pooled and per-centre DiDs of HIR Table 6 under any
    re-assignment of the job centres. ``cells`` may instead be the per-unit moments of
    :func:`bipdask.estimators.cell_did.person_cell_moments` (persons disjoint across units):
    their one-period rows give the same sums and counts.
    """
    moments = "period2" in cells.columns  # per-unit moments of persons disjoint across units
    if moments:
        cells = cells[cells["period"] == cells["period2"]]
    sample = cells[cells["period"].isin([before, after]) & (cells["n_weeks"] > 0)]
    if sample.empty:
        return pd.DataFrame({c: pd.Series(dtype="int64") for c in SUM_COLUMNS})
    d = sample.groupby("jobcentre_id", sort=True)["d"].agg(["min", "max"])
    if (d["min"] != d["max"]).any():
        bad = d.index[d["min"] != d["max"]].tolist()
        raise ValueError(f"d differs within job centres {bad[:5]}")
    agg = (sample.assign(e=np.where(sample["period"] == after, "after", "before"))
           .groupby(["jobcentre_id", "e"], sort=True)
           .agg(n_weeks=("n_weeks", "sum"), n_yes=("n_yes", "sum"),
                n_persons=("n_persons", "sum") if moments else ("person_id", "nunique"))
           .unstack("e", fill_value=0))
    out = pd.DataFrame({"jobcentre_id": d.index.to_numpy().astype("int64"), "d": d["max"].to_numpy().astype("int8")})
    for e in ("before", "after"):
        for col in ("n_weeks", "n_yes", "n_persons"):
            out[f"{col}_{e}"] = (agg[(col, e)].to_numpy().astype("int64") if (col, e) in agg.columns
                                 else np.zeros(len(out), dtype="int64"))
    return out[list(SUM_COLUMNS)].reset_index(drop=True)


class Table6DesignInference(NamedTuple):
    """Design-based inference for HIR Table 6: ``pooled`` (:class:`RandomizationResult`) and
    ``per_centre`` (one row per participating job centre: jobcentre_id, estimate, ci_low,
    ci_high, p_value, outside, n_placebos, q_low, q_high — the placebo intervals of
    :func:`bipdask.inference.placebo.share_did_placebo`)."""

    pooled: RandomizationResult
    per_centre: pd.DataFrame


def table6_design_inference(
    cells: pd.DataFrame,
    treated_ids: Iterable[int],
    before: str,
    after: str,
    seed: int,
    assignments: int = 9999,
    alpha: float = 0.05,
    *,
    adjust: str = "ferman_pinto",
    min_persons: int = 0,
    max_enumerate: int = MAX_ENUMERATE,
) -> Table6DesignInference:
    """HIR Table 6 with inference at the level of assignment (job centres).

    The pooled DiD gets randomization inference over job centres
    (:func:`share_did_randomization`: p-value, studentised p-value, inverted CI); each
    participating job centre's DiD against all non-participating centres gets a Conley–Taber
    placebo interval (:func:`bipdask.inference.placebo.share_did_placebo`, with the Ferman–Pinto
    size adjustment unless ``adjust="none"``). The estimates equal the point estimates of
    :func:`bipdask.analyses.hir.shares.share_did_table` for the window ``after``.

    Parameters
    ----------
    cells : rows of :func:`bipdask.prepare.outcomes.share_cell_sums` from every job centre, or
        their per-unit moments (:func:`jobcentre_cell_sums`).
    treated_ids : participating job centre ids (D = 1); must agree with the ``d`` column.
    before, after : the E = 0 and E = 1 period labels (e.g. ``"before"``, ``"intervention"``).
    seed, assignments : the sampled assignments (when C(G, K) is above ``max_enumerate``).
    alpha : level of the RI interval and the placebo intervals.
    min_persons : a per-centre row is left out when one of its cells (the centre's before and
        after, the comparison centres' before and after) has fewer persons, as in Table 6.
    """
    from bipdask.inference.placebo import placebo_table, share_did_placebo

    treated = sorted({int(j) for j in treated_ids})
    sums = jobcentre_cell_sums(cells, before, after)
    in_treated = sums["jobcentre_id"].isin(treated).to_numpy()
    if (in_treated != (sums["d"].to_numpy() == 1)).any():
        raise ValueError("treated_ids disagree with the d column of the cell sums")
    ids = sums["jobcentre_id"].to_numpy()
    n = sums[["n_weeks_before", "n_weeks_after"]].to_numpy()
    y = sums[["n_yes_before", "n_yes_after"]].to_numpy()
    pooled = share_did_randomization(ids, n, y, treated, seed=seed, assignments=assignments,
                                     max_enumerate=max_enumerate, alpha=alpha)
    results = share_did_placebo(ids, n, y, treated, alpha=alpha, adjust=adjust)
    if min_persons > 0:
        sample = cells[cells["period"].isin([before, after]) & (cells["n_weeks"] > 0)]
        if "period2" in cells.columns:  # moments: one-period rows, persons disjoint across units
            sample = sample[sample["period"] == sample["period2"]]
        ctrl = sample[sample["d"] == 0]
        ctrl_persons = (ctrl.groupby("period")["n_persons"].sum() if "period2" in cells.columns
                        else ctrl.groupby("period")["person_id"].nunique())
        ok_ctrl = min(int(ctrl_persons.get(before, 0)), int(ctrl_persons.get(after, 0))) >= min_persons
        own = sums.set_index("jobcentre_id")
        results = [r for r in results if ok_ctrl and min(int(own.at[r.jobcentre_id, "n_persons_before"]),
                                                         int(own.at[r.jobcentre_id, "n_persons_after"])) >= min_persons]
    return Table6DesignInference(pooled, placebo_table(results))
