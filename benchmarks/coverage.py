"""Size under the null and coverage of a planted effect, over many draws, for HIR Table 6's DiD.

The caseload cap was assigned to 15 of 97 job centres, so job centres that share period shocks
are the unit of inference. This benchmark draws the Table 6 design many times — 97 centres, the
15 participating ones with the person counts of the HIR quantitative report's Table 1, two
periods, a job-centre × period shock on the weekly share, person heterogeneity — and records how
often each method rejects a true null at 5 % and how often its 95 % interval covers a planted
effect:

* ``wcr`` — the wild cluster restricted bootstrap at job-centre level (Rademacher weights),
  :func:`bipdask.estimators.cell_did.cell_did_wild`;
* ``randomization`` — randomization inference over which centres participate,
  :func:`bipdask.inference.randomization.share_did_randomization`;
* ``cr1_jobcentre`` — the analytic job-centre-clustered CR1 t-test (G − 1 degrees of freedom);
* ``cr1_person`` — the analytic person-clustered CR1 test (what a person-level analysis reports);
* ``pairs_person`` — the person-level pairs cluster bootstrap (percentile interval), on fewer draws.

A second section, ``duration_did``, draws the spells of HIR eq. (1) (Weibull PH, shape 0.8,
planted D, E and D×E effects, persons with ~2 spells) and records how often the person pairs
bootstrap's percentile intervals of :func:`bipdask.estimators.duration_did.duration_did` cover
the planted expected weeks per D×E group and their DiD (weeks and percent), and the largest
share of failed replicates (they count as extreme in both tails; docs/methods.md).

Sections run alone with ``--section NAME`` (repeatable; updates that entry of the results file):

* ``duration_did_whole_weeks`` — whole-week spells (event in week ⌈T⌉, censored after 56 weeks,
  ``interval=True``): coverage of the planted 52-week restricted means, their DiD and the hazard
  ratio exp(δ) (HIR Table 4's restricted-mean and hazard-ratio rows) by the pairs bootstrap;
* ``table9`` — person-weeks with a weekly caseload and three job centres far apart in baseline:
  coverage of the planted caseload hazard ratio by HIR Table 9's stratified Cox
  (:func:`bipdask.analyses.hir.mediators.table9`), bootstrap percentile and cluster-robust Wald;
* ``recovery`` — synthetic deliveries (:func:`bipdask.synth.generate`, scale 0.1, no job-centre
  shocks) through the library's spells and linkage: coverage of the planted gap hazard (eq. 1:
  comparison centres' ``_cons``, ``gamma_E``, ``ln_p``, the 30 per-centre x'b contrasts) and the
  planted caseload log hazard ratio. About 10 CPU seconds per delivery;
* ``table8`` — course weeks with weekly exits to the four destinations at the report's Tabel 8
  rates: coverage of the planted eq. (3) DiD β per destination by HIR Table 8
  (:func:`bipdask.analyses.hir.exits.table8_exits`, analytic person-clustered intervals).

The single-delivery tests (``tests/test_recovery.py``, ``tests/estimators/test_duration_did.py``,
Table 9 in ``tests/analyses/test_hir_tables.py``) check these fits exactly (against lifelines, and
the intervals against the replicates' percentiles); coverage of the planted truth is measured here.

Draws are made at person level (per-person sums of weeks and weeks with the outcome, never
person-weeks), so 1,000 draws take minutes. ``--shock-sd 0`` shows that all methods hold their
size without common shocks; the default 0.03 (3 pp per job centre and period) gives a spread
of the participating centres' DiDs close to the report's Table 6 (SD ≈ 5 pp). Results go to
``benchmarks/results/coverage.json``; a cheap version runs in CI (``tests/inference/test_coverage.py``).

Usage: ``python benchmarks/coverage.py --draws 1000 --replicates 999``

``--bip`` runs instead the BIP Tabel 1 section (:func:`bip_run`): the counterfactual "every
caseworker as effective as the top-quartile mean" over many draws of the synthetic BIP part at
scale 1, for the three top-quartile estimators (``eb``, ``split``, ``raw``), against two truths —
the generator's policy truth (``truth["outcome"]["expected_increase"]``, log-hazard scale, whole
window) and the fixed-effects LPM's own noise-free value (the LPM fitted on the exact expected
outcomes, top quartile by the true effects), which isolates the winner's curse from what the
LPM cannot identify. Results go to ``benchmarks/results/bip_coverage.json``; the cheap CI
version is ``tests/analyses/test_bip_ranking.py``.
Usage: ``python benchmarks/coverage.py --bip --draws 100 --replicates 199``
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bipdask.estimators.cell_did import cell_did, cell_did_wild
from bipdask.estimators.duration_did import GROUP_NAMES, duration_did
from bipdask.inference.config import Inference
from bipdask.inference.pairs import replicate_summary
from bipdask.inference.randomization import share_did_randomization

# Participating centres' persons in resource courses before the cap (HIR quantitative report, Table 1).
TREATED_PERSONS = [176, 200, 413, 296, 243, 230, 249, 383, 258, 411, 107, 663, 131, 140, 269]
N_CENTRES = 97
WEEKS = 26  # average course weeks per person and period
BASE_SHARE = 0.155
PERIOD_TREND = 0.02


def design(seed: int = 1) -> pd.DataFrame:
    """The 97 job centres: id, participating flag, persons (comparison centres lognormal around
    the participating centres' median, as Danish job centres vary ~10-fold in size)."""
    rng = np.random.default_rng(seed)
    others = np.maximum(40, rng.lognormal(np.log(np.median(TREATED_PERSONS)), 0.6, N_CENTRES - 15)).astype(int)
    persons = np.concatenate([TREATED_PERSONS, others])
    return pd.DataFrame({"jobcentre_id": np.arange(1, N_CENTRES + 1), "d": (np.arange(N_CENTRES) < 15).astype(int),
                         "persons": persons})


def draw_cells(centres: pd.DataFrame, rng: np.random.Generator, *, shock_sd: float, effect: float,
               person_sd: float = 0.08) -> pd.DataFrame:
    """Per-person cell sums (jobcentre_id, person_id, period, d, n_weeks, n_yes) of one draw."""
    g = len(centres)
    level = BASE_SHARE + rng.normal(0, 0.03, g)  # centres differ in level (absorbed by the DiD)
    shocks = rng.normal(0, shock_sd, (g, 2))  # job-centre × period shocks: what persons do not average out
    jc = np.repeat(centres["jobcentre_id"].to_numpy(), centres["persons"].to_numpy())
    d = np.repeat(centres["d"].to_numpy(), centres["persons"].to_numpy())
    gi = np.repeat(np.arange(g), centres["persons"].to_numpy())
    n = jc.size
    person = rng.normal(0, person_sd, n)
    frames = []
    for e, label in ((0, "before"), (1, "intervention")):
        p = np.clip(level[gi] + PERIOD_TREND * e + shocks[gi, e] + person + effect * d * e, 0.001, 0.999)
        weeks = rng.integers(WEEKS // 2, WEEKS * 3 // 2 + 1, n)
        frames.append(pd.DataFrame({"jobcentre_id": jc, "person_id": np.arange(n) + e * 0, "period": label,
                                    "d": d, "e": e, "n_weeks": weeks, "n_yes": rng.binomial(weeks, p)}))
    return pd.concat(frames, ignore_index=True)


def _jobcentre_sums(cells: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    agg = cells.groupby(["jobcentre_id", "e"])[["n_weeks", "n_yes"]].sum().unstack("e")
    ids = agg.index.to_numpy()
    treated = cells.loc[cells["d"] == 1, "jobcentre_id"].unique()
    return ids, agg["n_weeks"].to_numpy(float), agg["n_yes"].to_numpy(float), treated


def one_draw(centres: pd.DataFrame, seed: int, *, shock_sd: float, effect: float, replicates: int,
             pairs: bool) -> dict[str, tuple[float, float, float]]:
    """(p-value of DiD = 0, ci_low, ci_high) per method for one draw."""
    rng = np.random.default_rng([seed, 0xC0FE])
    cells = draw_cells(centres, rng, shock_sd=shock_sd, effect=effect)
    out: dict[str, tuple[float, float, float]] = {}
    person = cell_did(cells)
    out["cr1_person"] = (person.p_value, *person.ci)
    jcells = cells.groupby(["jobcentre_id", "d", "e"], as_index=False)[["n_weeks", "n_yes"]].sum()
    jc = cell_did(jcells, cluster="jobcentre_id")
    out["cr1_jobcentre"] = (jc.p_value, *jc.ci)
    wild = cell_did_wild(jcells, cluster="jobcentre_id", bootstrap=replicates, seed=seed).wild.table.loc["D_E"]
    out["wcr"] = (float(wild["p_value"]), float(wild["ci_low"]), float(wild["ci_high"]))
    ids, n_weeks, n_yes, treated = _jobcentre_sums(cells)
    ri = share_did_randomization(ids, n_weeks, n_yes, treated, seed=seed, assignments=replicates, studentize=False)
    out["randomization"] = (ri.p_value, ri.ci_low, ri.ci_high)
    if pairs:
        from bipdask.analyses.hir.shares import share_did_replicates

        reps = share_did_replicates(cells, treated_ids=treated, before="before", after=["intervention"],
                                    inference=Inference(replicates=replicates, seed=seed))
        did = reps["did|all|intervention"].to_numpy()
        s = replicate_summary(did[:, None], np.array([person.estimate])).iloc[0]  # failures count as extreme
        out["pairs_person"] = (float(s["p_value"]), float(s["ci_low"]), float(s["ci_high"]))
    return out


# --------------------------------------------------------------------------- HIR Tables A/4: Weibull DiD

DURATION_TRUTH = {"cons": -3.0, "D": 0.2, "E": 0.1, "DE": -0.3, "p": 0.8}


def duration_spells(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Gap spells of the eq. (1) Weibull PH model (shape 0.8), person-clustered (~2 spells per
    person), censored at 200 weeks; 30 % in participating centres."""
    D = (rng.random(n) < 0.3).astype(int)
    E = rng.integers(0, 2, n)
    xb = DURATION_TRUTH["cons"] + DURATION_TRUTH["D"] * D + DURATION_TRUTH["E"] * E + DURATION_TRUTH["DE"] * D * E
    t = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / DURATION_TRUTH["p"])
    return pd.DataFrame({"duration": np.minimum(t, 200), "event": (t <= 200).astype(int), "D": D, "E": E,
                         "person_id": rng.integers(0, n // 2, n)})


def duration_truth() -> dict[str, float]:
    """The planted expected weeks Γ(1 + 1/p)·exp(−x'b/p) per D×E group and their DiD."""
    from scipy.special import gamma

    t = DURATION_TRUTH
    e = {name: gamma(1 + 1 / t["p"]) * np.exp(-(t["cons"] + t["D"] * d + t["E"] * k + t["DE"] * d * k) / t["p"])
         for name, (d, k) in zip(GROUP_NAMES, [(1, 0), (1, 1), (0, 0), (0, 1)])}
    did = (e["participating_intervention"] - e["participating_before"]) - (e["other_intervention"] - e["other_before"])
    return {**e, "did_weeks": did, "did_pct": 100 * did / e["participating_before"]}


def duration_run(draws: int, replicates: int, spells: int = 6000, seed: int = 1, alpha: float = 0.05) -> dict:
    """Coverage of the planted expected weeks and DiD by the person pairs bootstrap of
    :func:`bipdask.estimators.duration_did.duration_did` (percentile CI, failed replicates counted
    as extreme), over ``draws`` draws; with the share of failed replicates."""
    truth = duration_truth()
    hits: dict[str, list[bool]] = {q: [] for q in truth}
    failed, withheld = [], 0
    t0 = time.perf_counter()
    for i in range(draws):
        rng = np.random.default_rng([seed, i, 0xD0])
        tab = duration_did(duration_spells(rng, spells), bootstrap=replicates, seed=seed * 1_000_003 + i,
                           alpha=alpha).table.set_index("quantity")
        failed.append(float(tab["replicate_failure_share"].max()))
        withheld += int(tab["ci_low"].isna().any())
        for q, want in truth.items():
            hits[q].append(bool(tab.loc[q, "ci_low"] <= want <= tab.loc[q, "ci_high"]))
    summary = {}
    for q, h in hits.items():
        cover = float(np.mean(h))
        summary[q] = {"coverage": round(cover, 4),
                      "coverage_mc_se": round(math.sqrt(max(cover * (1 - cover), 1e-12) / draws), 4)}
    return {"draws": draws, "replicates": replicates, "spells": spells, "alpha": alpha,
            "truth": {k: round(float(v), 4) for k, v in truth.items()},
            "max_replicate_failure_share": round(max(failed, default=0.0), 4), "draws_withheld": withheld,
            "seconds": round(time.perf_counter() - t0, 1), "quantities": summary}


def _coverage_summary(hits: dict[str, list[bool]], estimates: dict[str, list[float]], truth: dict[str, float]) -> dict:
    """Per quantity: coverage and its Monte-Carlo SE, mean estimate, its MC SE and the bias in MC SEs."""
    out = {}
    for q, h in hits.items():
        draws = len(h)
        cover = float(np.mean(h))
        est = np.asarray(estimates[q], dtype=float)
        mc_se = float(np.std(est, ddof=1) / math.sqrt(len(est)))
        out[q] = {"coverage": round(cover, 4),
                  "coverage_mc_se": round(math.sqrt(max(cover * (1 - cover), 1e-12) / draws), 4),
                  "truth": round(float(truth[q]), 6), "mean_estimate": round(float(est.mean()), 6),
                  "mean_mc_se": round(mc_se, 6), "bias_in_mc_se": round(float((est.mean() - truth[q]) / mc_se), 2)}
    return out


WHOLE_WEEK_TRUTH = {"cons": -2.6, "D": -0.1, "E": -0.05, "DE": -0.3, "p": 0.75, "window": 56}


def whole_week_spells(rng: np.random.Generator, n: int) -> pd.DataFrame:
    """Whole-week gap spells of a Weibull PH process (the event in week ⌈T⌉, censored after 56
    whole weeks: the ``interval=True`` convention of :func:`bipdask.estimators.weibull.weibull_ph`),
    40 % in participating centres, persons with ~2 spells."""
    t = WHOLE_WEEK_TRUTH
    D, E = (rng.random(n) < 0.4).astype(int), rng.integers(0, 2, n)
    xb = t["cons"] + t["D"] * D + t["E"] * E + t["DE"] * D * E
    time_ = (-np.log(rng.random(n)) / np.exp(xb)) ** (1 / t["p"])
    event = (time_ <= t["window"]).astype(int)
    return pd.DataFrame({"t": np.where(event == 1, np.ceil(time_), t["window"]), "event": event, "D": D, "E": E,
                         "person_id": rng.integers(0, n // 2, n)})


def whole_week_truth() -> dict[str, float]:
    """Planted 52-week restricted means Σ_{k<52} S(k) per D×E group, their DiD and exp(δ)."""
    t = WHOLE_WEEK_TRUTH
    weeks = np.arange(52)
    rm = {f"rmst52_{name}": float(np.sum(np.exp(-np.exp(t["cons"] + t["D"] * d + t["E"] * e + t["DE"] * d * e)
                                               * weeks ** t["p"])))
          for name, (d, e) in zip(GROUP_NAMES, [(1, 0), (1, 1), (0, 0), (0, 1)])}
    did = (rm["rmst52_participating_intervention"] - rm["rmst52_participating_before"]) - (
        rm["rmst52_other_intervention"] - rm["rmst52_other_before"])
    return {**rm, "rmst52_did_weeks": did, "hazard_ratio": float(np.exp(t["DE"]))}


def whole_week_run(draws: int, replicates: int, spells: int = 4000, seed: int = 1, alpha: float = 0.05) -> dict:
    """Coverage of the planted restricted-mean DiD and hazard ratio exp(δ) by the person pairs
    bootstrap percentile intervals of :func:`bipdask.estimators.duration_did.duration_did` on
    whole-week spells (``interval=True``; HIR Table 4's restricted-mean and hazard-ratio rows)."""
    truth = whole_week_truth()
    hits: dict[str, list[bool]] = {q: [] for q in truth}
    est: dict[str, list[float]] = {q: [] for q in truth}
    failed = []
    t0 = time.perf_counter()
    for i in range(draws):
        rng = np.random.default_rng([seed, i, 0x77])
        tab = duration_did(whole_week_spells(rng, spells), duration="t", interval=True, bootstrap=replicates,
                           seed=seed * 1_000_003 + i, alpha=alpha).table.set_index("quantity")
        failed.append(float(tab["replicate_failure_share"].max()))
        for q, want in truth.items():
            hits[q].append(bool(tab.loc[q, "ci_low"] <= want <= tab.loc[q, "ci_high"]))
            est[q].append(float(tab.loc[q, "estimate"]))
    return {"draws": draws, "replicates": replicates, "spells": spells, "alpha": alpha, "dgp": WHOLE_WEEK_TRUTH,
            "max_replicate_failure_share": round(max(failed, default=0.0), 4),
            "seconds": round(time.perf_counter() - t0, 1), "quantities": _coverage_summary(hits, est, truth)}


TABLE9_BASELINES = {11: -3.0, 12: -1.5, 13: -2.2}  # weekly log hazards of three job centres


def table9_weeks(rng: np.random.Generator, n_spells: int, log_hr: float) -> pd.DataFrame:
    """Person-week rows of HIR Table 9's input: the week's LAB probability 1 − exp(−exp(a_jc +
    log_hr·(caseload − 30) − 0.3·miss)) (a grouped continuous-time PH process), caseload ~ N(30, 6),
    missing (0, indicator 1) in 10 % of weeks, job-centre baselines far apart, ≤ 40 weeks, two
    spells per person."""
    jcs = np.array(list(TABLE9_BASELINES))
    base = np.array(list(TABLE9_BASELINES.values()))
    rows = []
    for s in range(n_spells):
        j = int(rng.integers(0, len(jcs)))
        miss = rng.random(40) < 0.1
        load = np.where(miss, 0.0, rng.normal(30, 6, 40))
        h = 1 - np.exp(-np.exp(base[j] + log_hr * np.where(miss, 0.0, load - 30) - 0.3 * miss))
        ev = rng.random(40) < h
        last = int(np.argmax(ev)) if ev.any() else 39
        k = np.arange(last + 1)
        rows.append(pd.DataFrame({"jobcentre_id": int(jcs[j]), "person_id": 2_000_000 + s // 2, "start": k,
                                  "stop": k + 1, "event": ev[: last + 1].astype(int), "caseload": load[k],
                                  "casemiss": miss[k].astype(int)}))
    out = pd.concat(rows, ignore_index=True)
    return out.assign(caseload_change=np.where(out["casemiss"] == 1, 0.0, out["caseload"] - 30),
                      change_miss=out["casemiss"])


def table9_run(draws: int, replicates: int, spells: int = 1500, log_hr: float = -0.05, seed: int = 1) -> dict:
    """Coverage of the planted caseload hazard ratio exp(log_hr) by HIR Table 9's stratified Cox
    (:func:`bipdask.analyses.hir.mediators.table9`): the person pairs bootstrap percentile interval
    of exp(β*) (``replicates`` > 0), and the cluster-robust Wald interval of the same fit."""
    from bipdask.analyses.hir.mediators import table9

    truth = {"hr_caseload": float(np.exp(log_hr))}
    hits: dict[str, list[bool]] = {"hr_caseload_bootstrap": [], "hr_caseload_wald": []}
    est: dict[str, list[float]] = {q: [] for q in hits}
    t0 = time.perf_counter()
    for i in range(draws):
        tv = table9_weeks(np.random.default_rng([seed, i, 0x99]), spells, log_hr)
        for kind, b in (("bootstrap", replicates), ("wald", 0)):
            row = table9(tv, inference=Inference(replicates=b, seed=seed * 1_000_003 + i)).rows.set_index(
                "estimand").loc["hr_caseload"]
            hits[f"hr_caseload_{kind}"].append(bool(row["ci_low"] <= truth["hr_caseload"] <= row["ci_high"]))
            est[f"hr_caseload_{kind}"].append(float(row["estimate"]))
    return {"draws": draws, "replicates": replicates, "spells": spells, "log_hr": log_hr,
            "seconds": round(time.perf_counter() - t0, 1),
            "quantities": _coverage_summary(hits, est, {q: truth["hr_caseload"] for q in hits})}


RECOVERY_WINDOWS = (("2017-03-01", "2018-02-28"), ("2018-03-01", "2019-03-31"))  # before, intervention


def recovery_panel(out: Path) -> dict:
    """Gap spells and the participating centres' caseload rows of one synthetic delivery, built
    with the library's own spells and linkage (as ``tests/test_recovery.py`` does), and the truth."""
    from bipdask.data import delivery
    from bipdask.prepare import linkage, spells
    from bipdask.synth.hir.geography import participating_jobcentre_ids

    codes = delivery.read_table(out, "dream_codes")
    assignments = delivery.read_table(out, "assignments")
    caseload = delivery.read_table(out, "caseload")
    treated = list(participating_jobcentre_ids())
    gaps, tv = [], []
    for part in sorted((out / "weeks").glob("*.parquet")):
        weeks = spells.with_course_status(pd.read_parquet(part), codes)
        jc = int(weeks["jobcentre_id"].iloc[0])
        for e, (a, b) in enumerate(RECOVERY_WINDOWS):
            g = spells.gap_spells(weeks, period_start=a, period_end=b, treated_jobcentre_ids=treated, E=e)
            gaps.append(g)
            if e == 1 and jc in treated:
                linked = linkage.link_caseload(weeks[weeks["in_course"]], assignments[assignments.jobcentre_id == jc],
                                               caseload[caseload.jobcentre_id == jc], period_start=a, period_end=b)
                tv.append(spells.time_varying_rows(g, linked))
    gaps = pd.concat(gaps, ignore_index=True)
    gaps["t"] = np.where(gaps["event"] == 1, gaps["duration"], gaps["duration"] - 1)
    gaps["DE"] = gaps["D"] * gaps["E"]
    names = delivery.read_table(out, "jobcentres").drop_duplicates("jobcentre_id").set_index("jobcentre_id")["name"]
    return {"gaps": gaps, "tv": pd.concat(tv, ignore_index=True), "names": names, "treated": treated,
            "truth": json.loads((out / "truth.json").read_text())["planted"]}


def recovery_draw(seed: int, scale: float, replicates: int) -> dict[str, tuple[float, float, float, float]]:
    """(estimate, truth, ci_low, ci_high) per checked quantity of one delivery: the comparison
    centres' Weibull ``_cons``, ``gamma_E``, ``ln_p`` (bootstrap percentile and Wald), each
    participating centre's two x'b contrasts (Wald), the caseload log hazard ratio (bootstrap, Wald)."""
    import tempfile

    from scipy import stats

    from bipdask.errors import FitError
    from bipdask.estimators.cox import cox_ph
    from bipdask.estimators.weibull import weibull_ph
    from bipdask.synth import generate

    z = stats.norm.ppf(0.975)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "delivery"
        generate(out, scale=scale, seed=seed, workers=1, jobcentre_shocks=False)
        panel = recovery_panel(out)
    gaps, truth, res = panel["gaps"], panel["truth"], {}
    others = gaps[gaps["D"] == 0]
    fit = weibull_ph(others, duration="t", event="event", covariates=["E"], cluster="person_id", interval=True,
                     bootstrap=replicates, seed=seed)
    boot, wald = fit.conf_int(kind="bootstrap"), fit.conf_int()
    for term, key in (("_cons", "_cons"), ("E", "gamma_E"), ("ln_p", "ln_p")):
        want = truth["gap_hazard"][key]
        res[f"weibull_{key}_bootstrap"] = (fit.params[term], want, boot.loc[term, "lower"], boot.loc[term, "upper"])
        res[f"weibull_{key}_wald"] = (fit.params[term], want, wald.loc[term, "lower"], wald.loc[term, "upper"])
    for jc in panel["treated"]:
        sub = pd.concat([gaps[(gaps["D"] == 1) & (gaps["jobcentre_id"] == jc)], others], ignore_index=True)
        try:
            f = weibull_ph(sub, duration="t", event="event", covariates=["D", "E", "DE"], cluster="person_id",
                           interval=True)
        except FitError:  # a small centre with no gap in one period (scale < 1): counted, not fitted
            res[f"skipped_{jc}"] = (np.nan, np.nan, np.nan, np.nan)
            continue
        for label, contrast, want in zip(("before", "intervention"), (["_cons", "D"], ["_cons", "D", "E", "DE"]),
                                         truth["gap_hazard"]["jobcentre_xb"][panel["names"][jc]]):
            c = f.params.index.isin(contrast).astype(float)
            est, se = float(c @ f.params.to_numpy()), float(np.sqrt(c @ f.cov.to_numpy() @ c))
            res[f"xb_{jc}_{label}"] = (est, want, est - z * se, est + z * se)
    cox = cox_ph(panel["tv"], start="start", duration="stop", event="event", covariates=["caseload", "casemiss"],
                 strata="jobcentre_id", cluster="person_id", bootstrap=replicates, seed=seed)
    want = truth["caseload_effect"]["log_hr"]
    for kind, ci in (("bootstrap", cox.conf_int(kind="bootstrap")), ("wald", cox.conf_int())):
        res[f"cox_caseload_{kind}"] = (cox.params["caseload"], want, ci.loc["caseload", "lower"],
                                       ci.loc["caseload", "upper"])
    return {k: tuple(float(x) for x in v) for k, v in res.items()}


def recovery_run(draws: int, replicates: int, scale: float = 0.1, seed: int = 1) -> dict:
    """Coverage of what the synthetic generator plants (gap hazard of HIR eq. (1), the caseload
    hazard ratio of Table 9) by the library's spells → linkage → Weibull/Cox pipeline over
    ``draws`` deliveries at ``scale`` without job-centre × period shocks (person-level intervals
    do not cover those). The 30 per-centre x'b contrasts are pooled into ``xb_contrasts``."""
    t0 = time.perf_counter()
    rows = [recovery_draw(seed * 100_003 + i, scale, replicates) for i in range(draws)]
    return {"draws": draws, "replicates": replicates, "scale": scale, "seconds": round(time.perf_counter() - t0, 1),
            **recovery_summary(rows)}


def recovery_summary(rows: list[dict[str, tuple[float, float, float, float]]]) -> dict:
    """Coverage summaries of :func:`recovery_draw` rows (the x'b contrasts pooled)."""
    hits: dict[str, list[bool]] = {}
    est: dict[str, list[float]] = {}
    truth: dict[str, float] = {}
    pooled, skipped, withheld = [], 0, {}
    for r in rows:
        for k, (e, want, lo, hi) in r.items():
            if k.startswith("skipped_"):
                skipped += 1
                continue
            if k.startswith("xb_"):
                pooled.append(lo <= want <= hi)
                continue
            withheld[k] = withheld.get(k, 0) + int(not (np.isfinite(lo) and np.isfinite(hi)))
            hits.setdefault(k, []).append(lo <= want <= hi)  # a withheld (NaN) interval does not cover
            est.setdefault(k, []).append(e)
            truth[k] = want
    cover = float(np.mean(pooled)) if pooled else float("nan")
    return {"quantities": _coverage_summary(hits, est, truth),
            "intervals_withheld": {k: n for k, n in withheld.items() if n},  # > 1 % failed replicates
            "xb_contrasts": {"intervals": len(pooled), "centre_fits_skipped": skipped, "coverage": round(cover, 4),
                             "coverage_mc_se_if_independent":
                                 round(math.sqrt(cover * (1 - cover) / max(len(pooled), 1)), 4)}}


def table8_weeks(rng: np.random.Generator, persons: int, weeks: int = 52) -> pd.DataFrame:
    """Course weeks of HIR Table 8's input: each person (30 % participating, half in each period)
    leaves the course each week to one destination with the weekly probability of the report's
    Tabel 8 percentage over a year (:data:`bipdask.synth.hir.params.TABLE8_EXIT_PCT` / 100 / 52),
    else stays, for at most ``weeks`` weeks (the exit week is the last row)."""
    from bipdask.prepare.spells import EXIT_DESTINATIONS
    from bipdask.synth.hir.params import TABLE8_EXIT_PCT

    D = (rng.random(persons) < 0.3).astype(np.int8)
    E = rng.integers(0, 2, persons).astype(np.int8)
    rates = np.array([[TABLE8_EXIT_PCT[d][bool(D_)][E_] / 100 / 52 for d in EXIT_DESTINATIONS]
                      for D_, E_ in zip(D, E)])  # persons × destinations
    u = rng.random((persons, weeks))
    cum = np.cumsum(rates, axis=1)
    dest = (u[:, :, None] >= cum[:, None, :]).sum(axis=2)  # 0..3 a destination, 4 = stays
    left = dest < len(EXIT_DESTINATIONS)
    last = np.where(left.any(axis=1), left.argmax(axis=1), weeks - 1)
    pid = np.repeat(np.arange(persons), last + 1)
    tau = np.concatenate([np.arange(k + 1) for k in last])
    got = dest[pid, tau]
    out = pd.DataFrame({"person_id": pid, "tau": tau, "D": D[pid], "E": E[pid]})
    for j, d in enumerate(EXIT_DESTINATIONS):
        out[f"exit_{d}"] = (got == j).astype(np.int8)
    return out


def table8_run(draws: int, persons: int = 4000, seed: int = 1) -> dict:
    """Coverage of the planted weekly-exit DiD β of eq. (3) per destination by HIR Table 8
    (:func:`bipdask.analyses.hir.exits.table8_exits`, analytic person-clustered intervals)."""
    from bipdask.analyses.estimates import estimates_frame
    from bipdask.analyses.hir.exits import table8_exits
    from bipdask.synth.hir.params import TABLE8_EXIT_PCT

    truth = {d: ((v[True][1] - v[True][0]) - (v[False][1] - v[False][0])) / 100 / 52
             for d, v in TABLE8_EXIT_PCT.items()}
    hits: dict[str, list[bool]] = {d: [] for d in truth}
    est: dict[str, list[float]] = {d: [] for d in truth}
    t0 = time.perf_counter()
    for i in range(draws):
        rows = estimates_frame(table8_exits(table8_weeks(np.random.default_rng([seed, i, 0x88]), persons),
                                            inference=Inference(replicates=0)))
        did = rows[rows["period"] == "intervention"].set_index("estimand")
        for d, want in truth.items():
            hits[d].append(bool(did.loc[d, "ci_low"] <= want <= did.loc[d, "ci_high"]))
            est[d].append(float(did.loc[d, "estimate"]))
    return {"draws": draws, "persons": persons, "inference": "analytic person-clustered",
            "seconds": round(time.perf_counter() - t0, 1), "quantities": _coverage_summary(hits, est, truth)}


SECTIONS = {"duration_did_whole_weeks": lambda a: whole_week_run(a.section_draws or 400, min(a.replicates, 199)),
            "table9": lambda a: table9_run(a.section_draws or 200, min(a.replicates, 99)),
            "recovery": lambda a: recovery_run(a.section_draws or 100, min(a.replicates, 99)),
            "table8": lambda a: table8_run(a.section_draws or 200)}


def run(draws: int, replicates: int, shock_sd: float, effect: float, pairs_draws: int, seed: int = 1,
        alpha: float = 0.05) -> dict:
    """Rejection rate at ``alpha`` of H0: DiD = 0 and coverage of ``effect`` per method."""
    centres = design(seed)
    results: dict[str, list[tuple[float, float, float]]] = {}
    t0 = time.perf_counter()
    for i in range(draws):
        for method, value in one_draw(centres, seed * 1_000_003 + i, shock_sd=shock_sd, effect=effect,
                                      replicates=replicates, pairs=i < pairs_draws).items():
            results.setdefault(method, []).append(value)
    summary = {}
    for method, values in results.items():
        arr = np.array(values, dtype=float)
        n = len(arr)
        reject = float(np.mean(arr[:, 0] <= alpha))
        cover = float(np.mean((arr[:, 1] <= effect) & (effect <= arr[:, 2])))
        summary[method] = {"draws": n, "rejection_rate": round(reject, 4),
                           "rejection_mc_se": round(math.sqrt(max(reject * (1 - reject), 1e-12) / n), 4),
                           "coverage": round(cover, 4),
                           "coverage_mc_se": round(math.sqrt(max(cover * (1 - cover), 1e-12) / n), 4)}
    return {"draws": draws, "replicates": replicates, "shock_sd": shock_sd, "effect": effect, "alpha": alpha,
            "centres": N_CENTRES, "treated": 15, "persons": int(design(seed)["persons"].sum()),
            "seconds": round(time.perf_counter() - t0, 1), "methods": summary}


BIP_METHODS = ("eb", "split", "raw")


def bip_draw(seed: int, replicates: int, count_caseworker: str = "citizens") -> dict[str, float]:
    """One synthetic BIP part at scale 1: the two truths and, per method, estimate and 95 % CI of
    the increase."""
    from bipdask.analyses.bip.effectiveness import caseworker_effectiveness
    from bipdask.prepare.bip import caseworker_sample
    from bipdask.synth.bip.delivery import generate_bip
    from bipdask.synth.hir import geography
    from bipdask.synth.hir import params as hir_params

    part = generate_bip(geography.jobcentres(), hir_params.panel_weeks(), scale=1.0, seed=seed,
                        person_id_start=5_000_000, caseworker_id_start=900_000)
    sample = caseworker_sample(part.bip_responses, part.weeks, count_caseworker=count_caseworker)
    noise_free = sample.frame.copy()
    noise_free["outcome"] = part.expected_outcome[noise_free["response_id"].to_numpy() - 1]
    cw = caseworker_effectiveness(noise_free, part.persons, top_quartile="raw").caseworkers
    true_q = cw["caseworker_id"].map(part.truth["caseworkers"]["sample_quartile"])
    out = {"truth": part.truth["outcome"]["expected_increase"],
           "lpm_truth": float(cw.loc[true_q == 4, "effect"].mean()), "caseworkers": float(len(cw))}
    for method in BIP_METHODS:
        t = caseworker_effectiveness(sample, part.persons, top_quartile=method,
                                     inference=Inference(replicates=replicates, seed=seed)).counterfactual
        out[f"{method}_estimate"], out[f"{method}_ci_low"], out[f"{method}_ci_high"] = (
            float(v) for v in t.loc["increase", ["estimate", "ci_low", "ci_high"]])
    return out


def bip_run(draws: int, replicates: int, seed: int = 1, count_caseworker: str = "citizens",
            workers: int = 1) -> dict:
    """Bias and coverage of the BIP Tabel 1 increase per method over ``draws`` generator draws
    (each draw has its own seed, so ``workers`` processes give the same rows as one)."""
    t0 = time.perf_counter()
    seeds = [seed * 1_000_003 + i for i in range(draws)]
    if workers > 1:
        from concurrent.futures import ProcessPoolExecutor
        from functools import partial

        with ProcessPoolExecutor(workers) as pool:
            rows = pd.DataFrame(list(pool.map(partial(bip_draw, replicates=replicates,
                                                      count_caseworker=count_caseworker), seeds)))
    else:
        rows = pd.DataFrame([bip_draw(s, replicates, count_caseworker) for s in seeds])
    summary = {}
    for method in BIP_METHODS:
        est = rows[f"{method}_estimate"]
        m = {"mean_estimate": round(float(est.mean()), 5), "sd_estimate": round(float(est.std()), 5)}
        for target in ("truth", "lpm_truth"):
            cover = ((rows[f"{method}_ci_low"] <= rows[target]) & (rows[target] <= rows[f"{method}_ci_high"])).mean()
            bias = float((est - rows[target]).mean())
            m[target] = {"bias": round(bias, 5), "bias_pct": round(100 * bias / float(rows[target].mean()), 1),
                         "bias_mc_se": round(float((est - rows[target]).std() / math.sqrt(len(rows))), 5),
                         "coverage": round(float(cover), 4),
                         "coverage_mc_se": round(math.sqrt(max(cover * (1 - cover), 1e-12) / len(rows)), 4)}
        summary[method] = m
    return {"draws": draws, "replicates": replicates, "scale": 1.0, "count_caseworker": count_caseworker,
            "mean_truth": round(float(rows["truth"].mean()), 5),
            "mean_lpm_truth": round(float(rows["lpm_truth"].mean()), 5),
            "mean_caseworkers": round(float(rows["caseworkers"].mean()), 1),
            "seconds": round(time.perf_counter() - t0, 1), "methods": summary,
            "targets": {"abs_bias_pct": 5.0, "coverage": [0.93, 0.97]}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--draws", type=int, default=1000)
    ap.add_argument("--replicates", type=int, default=999)
    ap.add_argument("--pairs-draws", type=int, default=200, help="draws that also run the person pairs bootstrap")
    ap.add_argument("--shock-sd", type=float, default=0.03)
    ap.add_argument("--effect", type=float, default=0.015, help="planted DiD for the coverage runs (share)")
    ap.add_argument("--duration-draws", type=int, default=200, help="draws of the Weibull DiD (Tables A/4) section")
    ap.add_argument("--out", default=None,
                    help="default benchmarks/results/coverage.json (bip_coverage.json with --bip)")
    ap.add_argument("--bip", action="store_true", help="run the BIP Tabel 1 section instead (see the module docstring)")
    ap.add_argument("--workers", type=int, default=1, help="processes for the --bip draws (same results)")
    ap.add_argument("--section", choices=sorted(SECTIONS), action="append",
                    help="run only this section (repeatable) and update its entry in the results file")
    ap.add_argument("--section-draws", type=int, default=None, help="draws of a --section run (default per section)")
    args = ap.parse_args(argv)
    results = Path(__file__).parent / "results"
    if args.section:
        out = Path(args.out or results / "coverage.json")
        report = json.loads(out.read_text()) if out.exists() else {}
        for name in args.section:
            report[name] = SECTIONS[name](args)
            out.write_text(json.dumps(report, indent=1) + "\n")
            json.dump({name: report[name]}, sys.stdout, indent=1)
            print()
        return 0
    if args.bip:
        report = bip_run(args.draws, args.replicates, workers=args.workers)
        Path(args.out or results / "bip_coverage.json").write_text(json.dumps(report, indent=1) + "\n")
        json.dump(report, sys.stdout, indent=1)
        print()
        return 0
    args.out = args.out or str(results / "coverage.json")
    report = {"null": run(args.draws, args.replicates, args.shock_sd, 0.0, args.pairs_draws),
              "planted": run(args.draws, args.replicates, args.shock_sd, args.effect, args.pairs_draws),
              "null_no_shocks": run(max(args.draws // 4, 50), args.replicates, 0.0, 0.0, args.pairs_draws // 4),
              "duration_did": duration_run(args.duration_draws, min(args.replicates, 199)),
              **{name: section(args) for name, section in SECTIONS.items()}}
    report["targets"] = {"rejection_at_5pct_wcr_and_randomization": [0.04, 0.065], "coverage": [0.93, 0.97]}
    Path(args.out).write_text(json.dumps(report, indent=1) + "\n")
    json.dump(report, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
