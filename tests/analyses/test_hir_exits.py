"""HIR Table 8 as the report states it: the share of persons exiting to each destination."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from bipdask.analyses.estimates import estimates_frame, replicate_key
from bipdask.analyses.hir.exits import (
    cells_for_fit,
    persons_exits,
    persons_exits_from_rows,
    table8,
    table8_from_cells,
    table8_persons,
)
from bipdask.analyses.hir.linear_table import estimate_row
from bipdask.data.weeks import week_ordinal
from bipdask.errors import InputError
from bipdask.estimators.lpm import CONS, lpm
from bipdask.inference.config import Inference
from bipdask.prepare.exit_cells import exit_cells, exit_persons, period_first_weeks
from bipdask.prepare.spells import EXIT_DESTINATIONS

FLAGS = [f"exit_{d}" for d in EXIT_DESTINATIONS]
PERIODS = ((dt.date(2017, 3, 1), dt.date(2017, 6, 30)), (dt.date(2018, 3, 1), dt.date(2018, 6, 30)))


def _weeks(person, jc, D, E, first_week, n, exit_to=None):
    """``n`` course weeks of one person from ``first_week``; the last one exits to ``exit_to``."""
    weeks = pd.date_range(first_week, periods=n, freq="7D")
    rows = pd.DataFrame({"person_id": person, "jobcentre_id": jc, "D": D, "E": E, "week": weeks})
    for f in FLAGS:
        rows[f] = 0
    if exit_to is not None:
        rows.loc[rows.index[-1], f"exit_{exit_to}"] = 1
    return rows


def hand_case() -> pd.DataFrame:
    """Before (E=0) from 2017-03-06, intervention (E=1) from 2018-03-05.

    Participating: 4 persons before (1 to disability pension, 1 to flex job), 5 in the
    intervention period (2 to disability pension; person 1 is in both periods and moves to a
    comparison centre mid-period: counted once, at the centre of their first week).
    Others: 5 persons before (1 to disability pension), 4 in the intervention period (none).
    """
    b, i = "2017-03-06", "2018-03-05"
    parts = [
        _weeks(1, 11, 1, 0, b, 10, "disability_pension"),
        _weeks(2, 11, 1, 0, b, 52, "flex_job"),
        _weeks(3, 12, 1, 0, b, 30), _weeks(4, 12, 1, 0, b, 5),
        _weeks(1, 11, 1, 1, i, 3), _weeks(1, 21, 0, 1, "2018-03-26", 4, "disability_pension"),
        _weeks(5, 11, 1, 1, i, 8, "disability_pension"), _weeks(6, 11, 1, 1, i, 20),
        _weeks(7, 12, 1, 1, i, 20), _weeks(8, 12, 1, 1, i, 20),
        *[_weeks(p, 21, 0, 0, b, 10) for p in (20, 21, 22, 23)], _weeks(24, 22, 0, 0, b, 12, "disability_pension"),
        *[_weeks(p, 22, 0, 1, i, 10) for p in (30, 31, 32, 33)],
    ]
    return pd.concat(parts, ignore_index=True)


def test_persons_exits_is_one_row_per_person_and_period_with_any_exit():
    p = persons_exits(hand_case()).set_index(["person_id", "E"])
    assert len(p) == 4 + 5 + 5 + 4
    assert p.loc[(1, 0), "exit_disability_pension"] == 1 and p.loc[(1, 0), "exit_flex_job"] == 0
    # the mover: D and job centre of the first week in the period, the exit counted
    assert p.loc[(1, 1), "D"] == 1 and p.loc[(1, 1), "jobcentre_id"] == 11
    assert p.loc[(1, 1), "exit_disability_pension"] == 1
    assert p[FLAGS].sum().to_dict() == {"exit_ordinary_employment": 0, "exit_flex_job": 1,
                                        "exit_ledighedsydelse": 0, "exit_disability_pension": 4}


def test_table8_persons_shares_and_did_by_hand():
    rows = {(r.estimand, r.period): r for r in table8_persons(persons_exits(hand_case()), inference=Inference())}
    share = {k: rows[k].estimate for k in rows}
    dp = "disability_pension"
    assert share[(f"{dp}:persons_participating", "before")] == pytest.approx(1 / 4)
    assert share[(f"{dp}:persons_participating", "intervention")] == pytest.approx(2 / 5)
    assert share[(f"{dp}:persons_others", "before")] == pytest.approx(1 / 5)
    assert share[(f"{dp}:persons_others", "intervention")] == pytest.approx(0)
    assert share[(f"{dp}:persons_did", "intervention")] == pytest.approx((2 / 5 - 1 / 4) - (0 - 1 / 5))
    assert share[("flex_job:persons_did", "intervention")] == pytest.approx((0 - 1 / 4) - 0)
    assert rows[(f"{dp}:persons_participating", "intervention")].n_persons == 5
    assert rows[(f"{dp}:persons_did", "intervention")].n_persons == 17  # distinct persons, person 1 once


def test_table8_carries_the_persons_rows_beside_the_weekly_ones_with_replicates():
    rng = np.random.default_rng(3)
    parts = []
    for person in range(400):
        D, E = int(person % 2), int(person % 4 >= 2)
        jc = (11 if D else 21) + int(person % 3)
        first = "2018-03-05" if E else "2017-03-06"
        dest = rng.choice([None, *EXIT_DESTINATIONS], p=[0.6, 0.05, 0.1, 0.1, 0.15])
        parts.append(_weeks(person, jc, D, E, first, int(rng.integers(2, 40)), dest))
    weeks = pd.concat(parts, ignore_index=True).assign(next_observed=1)
    res = table8(weeks, inference=Inference(replicates=40, seed=2))
    est = res.rows.set_index(["estimand", "period"])
    for d in EXIT_DESTINATIONS:
        assert (d, "intervention") in est.index  # the weekly DiD stays, as the secondary estimand
        key = f"{d}:persons_did|all|intervention"
        assert key in res.replicates.columns
        assert est.loc[(f"{d}:persons_did", "intervention"), "se"] == pytest.approx(
            np.nanstd(res.replicates[key], ddof=1))
    assert res.notes["person_periods"] == 400


def test_table8_persons_needs_all_four_groups():
    p = persons_exits(hand_case())
    with pytest.raises(InputError, match="D, E"):
        table8_persons(p[p["E"] == 0], inference=Inference())


# --------------------------------------------------------------------------- cells = rows, exactly


def _reference_table8(rows: pd.DataFrame, inference: Inference, period: str = "intervention"):
    """The row-level Table 8 the cell path replaces, kept as the reference: eq. (3) by lpm on every
    observed person-week (τ = weeks since each period's first observed week, 0/1 outcomes, no
    weights), the weekly shares on the rows of each D×E group, the persons' LPMs on one row per
    person and period (D and job centre of their first course week). Returns the rows (a frame
    indexed by estimand and period) and the replicates per replicate key."""
    data = rows.loc[rows["next_observed"].to_numpy() == 1]
    d, e = data["D"].to_numpy(np.int8), data["E"].to_numpy(np.int8)
    days = data["week"].to_numpy("datetime64[D]").astype(np.int64)
    tau = np.empty(len(data), np.int64)
    for v in (0, 1):
        tau[e == v] = (days[e == v] - days[e == v].min()) // 7
    frame = data.assign(D=d, E=e, DE=d * e, tau=tau)
    cluster, kw = inference.cluster, inference.estimator_kwargs()
    n_all = None if cluster == "person_id" else int(frame["person_id"].nunique())
    out, reps = [], {}
    for dest in EXIT_DESTINATIONS:
        y = f"exit_{dest}"
        fit = lpm(frame, y=y, covariates=["D", "E", "DE"], fixed_effects="tau", cluster=cluster, **kw)
        out.append(estimate_row(fit, "DE", analysis="hir_table8", estimand=dest, period=period, n_persons=n_all))
        if fit.bootstrap is not None:  # pairs replicates (the wild test publishes its se/CI/p, no replicates)
            reps[replicate_key(dest, None, period)] = fit.bootstrap.replicates["DE"].to_numpy()
        for d_val, label in ((1, "mean_participating"), (0, "mean_others")):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster)
                out.append(estimate_row(m, CONS, analysis="hir_table8", estimand=f"{dest}:{label}", period=per,
                                        n_persons=None if n_all is None else int(sub["person_id"].nunique())))
    f = frame.sort_values(["person_id", "E", "week"], kind="mergesort")
    g = f.groupby(["person_id", "E"], sort=True)
    persons = g[["D", "jobcentre_id"]].first().join(g[FLAGS].max()).reset_index()
    for dest in EXIT_DESTINATIONS:  # the persons' DiD φ (its replicates; the rows come from table8_persons)
        fit = lpm(persons.assign(DE=persons["D"] * persons["E"]), y=f"exit_{dest}", covariates=["D", "E", "DE"],
                  cluster=cluster, **kw)
        if fit.bootstrap is not None:
            reps[replicate_key(f"{dest}:persons_did", None, period)] = fit.bootstrap.replicates["DE"].to_numpy()
    out += table8_persons(persons, inference=inference, period=period)
    return estimates_frame(out).set_index(["estimand", "period"]), reps


def _panel(seed: int = 11, persons: int = 700, weeks: int = 16) -> pd.DataFrame:
    """Person-weeks of both periods in 12 job centres (101–104 participating): courses of random
    spans, 8 % of persons moving to another job centre mid-course, a few weeks whose next week
    the panel does not show, at most one exit per week. Every period's first week has courses."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 8]))
    jcs, treated = np.array([101, 102, 103, 104, *range(201, 209)]), {101, 102, 103, 104}
    parts = []
    for p in range(persons):
        for e, start in ((0, "2017-03-06"), (1, "2018-03-05")):
            if rng.random() < 0.25 and p % 7:
                continue
            a = 0 if p % 7 == 0 else int(rng.integers(0, weeks - 1))
            n = int(rng.integers(1, weeks - a + 1))
            jc = np.full(n, rng.choice(jcs))
            if rng.random() < 0.08 and n > 1:
                jc[int(rng.integers(1, n)):] = rng.choice(jcs)
            f = pd.DataFrame({"person_id": p, "jobcentre_id": jc.astype(np.int32),
                              "week": pd.date_range(start, periods=weeks, freq="7D")[a:a + n],
                              "D": np.isin(jc, list(treated)).astype(np.int8), "E": np.int8(e)})
            f["next_observed"] = (rng.random(n) > 0.03).astype(np.int8)
            dest = rng.choice(5, n, p=[0.9, 0.02, 0.03, 0.02, 0.03])
            for i, flag in enumerate(FLAGS):
                f[flag] = (dest == i + 1).astype(np.int8)
            parts.append(f)
    return pd.concat(parts, ignore_index=True)


def exit_cells_tau(rows: pd.DataFrame) -> np.ndarray:
    """τ of the observed rows: weeks since the period's first week (every period's first week has rows)."""
    r = rows[rows["next_observed"] == 1]
    first = period_first_weeks(*PERIODS)
    return week_ordinal(r["week"]) - r["E"].map(first).to_numpy()


INFERENCES = {
    "jobcentre-wild": Inference(cluster="jobcentre_id", method="wild", replicates=199, seed=5),
    "person-pairs": Inference(cluster="person_id", method="pairs", replicates=99, seed=5),
}
PUBLISHED = ["estimate", "se", "ci_low", "ci_high", "p_value", "n_obs", "n_persons", "n_clusters"]


@pytest.mark.parametrize("spec", list(INFERENCES))
def test_table8_from_cells_equals_the_row_level_fit(spec):
    inference = INFERENCES[spec]
    rows = _panel()
    want, want_reps = _reference_table8(rows, inference)
    cells = exit_cells(rows, cluster=inference.cluster, first_weeks=period_first_weeks(*PERIODS))
    assert len(cells) < len(rows) if inference.cluster == "jobcentre_id" else len(cells) <= len(rows)
    got = table8_from_cells(cells, exit_persons(rows), inference=inference)
    est = got.rows.set_index(["estimand", "period"])
    assert set(est.index) == set(want.index) and len(est) == len(want) == 40
    np.testing.assert_allclose(est.loc[want.index, PUBLISHED].to_numpy(np.float64),
                               want[PUBLISHED].to_numpy(np.float64), rtol=1e-10, atol=1e-15)
    assert (est.loc[want.index, "inference"] == want["inference"]).all()
    assert set(got.replicates.columns) - {"replicate"} == set(want_reps)
    for key, col in want_reps.items():
        np.testing.assert_allclose(got.replicates[key].to_numpy(), col, rtol=1e-10, atol=1e-15, err_msg=key)
    if inference.method == "wild":  # the WCR draws rest on the per-cluster sums: equal, so every draw is
        row_fit = lpm(rows[rows["next_observed"] == 1].assign(
            DE=rows["D"] * rows["E"], tau=exit_cells_tau(rows)), y="exit_flex_job", covariates=["D", "E", "DE"],
            fixed_effects="tau", cluster=inference.cluster)
        cell_fit = lpm(cells_for_fit(cells, inference.cluster), y="rate_flex_job", covariates=["D", "E", "DE"],
                       fixed_effects="tau", cluster=inference.cluster, weights="n_weeks")
        a, b = row_fit.cluster_moments(), cell_fit.cluster_moments()
        for x, y in ((a.xx, b.xx), (a.xy, b.xy), *zip(a.cells.x, b.cells.x), (a.cells.y, b.cells.y),
                     (a.cells.inverse, b.cells.inverse)):
            np.testing.assert_allclose(x, y, rtol=1e-10, atol=1e-12)
        assert a.nobs == b.nobs and a.k_dof == b.k_dof
    n_unobs = int((rows["next_observed"] == 0).sum())
    assert got.notes == {"rows": len(rows), "rows_next_week_unobserved": n_unobs,
                         "person_periods": int(rows[rows["next_observed"] == 1].groupby(["person_id", "E"]).ngroups)}


def test_table8_from_cells_without_the_weights_would_differ():
    """The test above can fail: the unweighted fit on the same cells gives another β."""
    rows = _panel()
    frame = cells_for_fit(exit_cells(rows, cluster="jobcentre_id", first_weeks=period_first_weeks(*PERIODS)),
                          "jobcentre_id")
    weighted = lpm(frame, y="rate_flex_job", covariates=["D", "E", "DE"], fixed_effects="tau",
                   cluster="jobcentre_id", weights="n_weeks")
    unweighted = lpm(frame, y="rate_flex_job", covariates=["D", "E", "DE"], fixed_effects="tau",
                     cluster="jobcentre_id")
    want, _ = _reference_table8(rows, Inference(cluster="jobcentre_id", method="analytic"))
    assert weighted.params["DE"] == pytest.approx(want.loc[("flex_job", "intervention"), "estimate"], rel=1e-10)
    assert abs(unweighted.params["DE"] - weighted.params["DE"]) > 1e-4


@pytest.mark.parametrize("spec", list(INFERENCES))
def test_table8_cells_of_two_jobcentre_partitions_sum_to_the_one_partition_fit(spec):
    """The map side per job centre, the reduce a sum: cells and person rows written by two
    partitions of the job centres (a mover's weeks split between them), concatenated in either
    order, give the table of the whole frame, bit for bit."""
    inference = INFERENCES[spec]
    rows = _panel(seed=12, persons=400)
    first = period_first_weeks(*PERIODS)
    left = rows["jobcentre_id"].isin([101, 102, 201, 202, 203]).to_numpy()
    assert rows.loc[left, "person_id"].isin(rows.loc[~left, "person_id"]).any()  # movers cross the partition

    def mapped(part):
        return exit_cells(part, cluster=inference.cluster, first_weeks=first), exit_persons(part)

    whole = table8_from_cells(*mapped(rows), inference=inference)
    (ca, pa), (cb, pb) = mapped(rows[left]), mapped(rows[~left])
    for cells, persons in (((ca, cb), (pa, pb)), ((cb, ca), (pb, pa))):
        got = table8_from_cells(pd.concat(cells, ignore_index=True), pd.concat(persons, ignore_index=True),
                                inference=inference)
        pd.testing.assert_frame_equal(got.rows, whole.rows)
        pd.testing.assert_frame_equal(got.replicates, whole.replicates)
        assert got.notes == whole.notes


def test_persons_exits_from_rows_counts_a_mover_once_at_their_first_jobcentre():
    rows = hand_case()
    split = [exit_persons(rows[rows["jobcentre_id"] == jc]) for jc in (21, 11, 12, 22)]  # any order
    merged = persons_exits_from_rows(pd.concat(split, ignore_index=True))
    pd.testing.assert_frame_equal(merged, persons_exits(rows))
    p = merged.set_index(["person_id", "E"])
    assert p.loc[(1, 1), "jobcentre_id"] == 11 and p.loc[(1, 1), "exit_disability_pension"] == 1


def test_table8_cells_need_the_specs_cluster():
    rows = _panel(persons=60)
    cells = exit_cells(rows, cluster="jobcentre_id")
    with pytest.raises(InputError, match="person_id"):
        table8_from_cells(cells, exit_persons(rows), inference=Inference(cluster="person_id"))


def test_table8_draws_the_person_weights_once_for_the_four_destinations(monkeypatch):
    """With person pairs the four weekly DiD fits (and the four persons' fits) share each block
    of weights: two passes over the weight blocks, not eight; the replicates are each fit's own
    (tests/estimators/test_lpm_replicates.py)."""
    from bipdask.inference import bootstrap as bs

    inference = INFERENCES["person-pairs"]
    rows = _panel()
    cells = exit_cells(rows, cluster=inference.cluster, first_weeks=period_first_weeks(*PERIODS))
    passes = []
    blocks = bs.replicate_blocks

    def counted(*args, **kwargs):
        passes.append(args[1:3])
        return blocks(*args, **kwargs)

    monkeypatch.setattr(bs, "replicate_blocks", counted)
    got = table8_from_cells(cells, exit_persons(rows), inference=inference)
    assert passes == [(99, 5), (99, 5)]
    assert got.replicates.shape == (99, 1 + 2 * len(EXIT_DESTINATIONS))
