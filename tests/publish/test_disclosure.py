"""Disclosure control: primary and complementary suppression, checked by explicit attacks."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.publish.disclosure import (
    ALL,
    PREVIOUS,
    PRIMARY,
    SECONDARY,
    SUPPRESSED,
    assert_protected,
    cell_key,
    cell_persons,
    compare_releases,
    protect_curve,
    protect_estimates,
    relations,
    safe_order_statistics,
)

S = "share_internship_or_hours"
COLS = ["analysis", "estimand", "jobcentre_id", "period", "estimate", "se", "ci_low", "ci_high", "p_value",
        "n_persons", "n_obs"]


def row(analysis, estimand, jc, period, est, n_persons, n_obs):
    return dict(analysis=analysis, estimand=estimand, jobcentre_id=jc, period=period, estimate=est, se=0.01,
                ci_low=est - 0.02, ci_high=est + 0.02, p_value=0.5, n_persons=n_persons, n_obs=n_obs)


def share_table(persons: dict[int, tuple[int, int]], weeks_per_person: int = 10, seed: int = 1) -> pd.DataFrame:
    """Table 6 rows: per job centre (persons before, persons intervention) → cell means, the pooled
    means as exact person-week-weighted averages, others' means and every DiD as in eq. (2)."""
    rng = np.random.default_rng(seed)
    rows = []
    pooled = {"before": [0.0, 0], "intervention": [0.0, 0]}
    others = {"before": 0.15, "intervention": 0.17}
    for jc, (nb, ni) in persons.items():
        m = {}
        for period, n in (("before", nb), ("intervention", ni)):
            weeks = n * weeks_per_person
            y = int(rng.integers(0, weeks + 1))
            m[period] = y / weeks
            pooled[period][0] += y
            pooled[period][1] += weeks
            rows.append(row(S, "mean_participating", jc, period, m[period], n, weeks))
        rows.append(row(S, "did", jc, "intervention",
                        (m["intervention"] - m["before"]) - (others["intervention"] - others["before"]), 5000, 90000))
    for period in ("before", "intervention"):
        y, w = pooled[period]
        rows.append(row(S, "mean_participating", None, period, y / w, w // weeks_per_person, w))
        rows.append(row(S, "mean_others", None, period, others[period], 4000, 40000))
    mb, mi = (pooled[p][0] / pooled[p][1] for p in ("before", "intervention"))
    rows.append(row(S, "did", None, "intervention",
                    (mi - mb) - (others["intervention"] - others["before"]), 6000, 100000))
    return pd.DataFrame(rows, columns=COLS)


# --------------------------------------------------------------------------- the attacker


def attack(published: pd.DataFrame, truth: pd.DataFrame) -> set:
    """Recover suppressed cells from what is published, using every relation of the run.

    Unknowns per suppressed cell: its mean m, outcome sum y = m·n and person-weeks n. Equations:
    additive groups Σ y_parts = y_total and Σ n_parts = n_total; derived DiDs (one linear
    equation in the four cell means); y = m·n (applied whenever two of the three are known).
    Returns the keys of suppressed cells whose mean the attacker determines.
    """
    pub = {cell_key(r): r for r in published.to_dict("records")}
    known_m, known_y, known_n = {}, {}, {}
    for k, r in pub.items():
        if not r[SUPPRESSED]:
            known_m[k] = float(r["estimate"])
            known_n[k] = float(r["n_obs"])
            known_y[k] = known_m[k] * known_n[k]
    rels = relations(truth)  # the attacker knows the table structure
    progress = True
    while progress:
        progress = False
        for rel in rels:
            if rel.kind == "additive" and rel.target is not None:
                for known in (known_y, known_n):
                    if rel.target not in known:
                        continue
                    missing = [p for p in rel.parts if p not in known]
                    if len(missing) == 1:
                        known[missing[0]] = known[rel.target] - sum(known[p] for p in rel.parts if p in known)
                        progress = True
            elif rel.kind == "derived" and rel.target[1] == "did":
                cells = list(rel.parts)  # mp(before), mp(window), mo(before), mo(window)
                coef = {cells[0]: -1.0, cells[1]: 1.0, cells[2]: 1.0, cells[3]: -1.0}
                unknown = [c for c in [*cells, rel.target] if c not in known_m]
                if len(unknown) == 1:
                    u = unknown[0]
                    if u == rel.target:
                        known_m[u] = sum(coef[c] * known_m[c] for c in cells)
                    else:
                        rest = sum(coef[c] * known_m[c] for c in cells if c != u)
                        known_m[u] = (known_m[rel.target] - rest) / coef[u]
                    progress = True
        for k in pub:
            if k not in known_m and k in known_y and k in known_n and known_n[k] > 0:
                known_m[k] = known_y[k] / known_n[k]
                progress = True
    return {k for k, r in pub.items() if r[SUPPRESSED] and k in known_m}


# --------------------------------------------------------------------------- tests


def test_primary_suppression_masks_values_and_counts():
    # the failure share of a 3-person cell's replicates (≈ e^−3) would reveal its size
    t = share_table({11: (40, 42), 12: (3, 30), 13: (50, 55)}).assign(replicate_failure_share=0.05)
    p = protect_estimates(t, 5)
    small = p[(p["jobcentre_id"] == 12) & (p["period"] == "before") & (p["estimand"] == "mean_participating")].iloc[0]
    assert small[SUPPRESSED] == PRIMARY
    assert all(math.isnan(small[c]) for c in ("estimate", "se", "ci_low", "ci_high", "replicate_failure_share"))
    assert pd.isna(small["n_persons"]) and pd.isna(small["n_obs"])
    sel = (t["jobcentre_id"] == 13) & (t["period"] == "before") & (t["estimand"] == "mean_participating")
    big = p[sel.to_numpy()].iloc[0]
    assert big[SUPPRESSED] == "" and big["estimate"] == t.loc[sel, "estimate"].iloc[0]


def test_the_attack_works_on_primary_suppression_alone():
    """Sanity: with only the small cell hidden, the differencing attack recovers it exactly."""
    t = share_table({11: (40, 42), 12: (3, 30), 13: (50, 55)})
    naive = t.assign(**{SUPPRESSED: ""})
    naive.loc[(naive["jobcentre_id"] == 12) & (naive["period"] == "before"), SUPPRESSED] = PRIMARY
    recovered = attack(naive, t)
    assert (S, "mean_participating", 12, "before") in recovered


def test_differencing_attack_on_totals_and_did_recovers_nothing():
    t = share_table({11: (40, 42), 12: (3, 30), 13: (50, 55), 14: (20, 21)})
    p = protect_estimates(t, 5)
    assert attack(p, t) == set()
    # the small cell, its DiD and a complementary job centre are hidden
    hidden = set(map(cell_key, p[p[SUPPRESSED] != ""].to_dict("records")))
    assert (S, "did", 12, "intervention") in hidden
    assert any(k[2] not in (12, ALL) and k[1] == "mean_participating" and k[3] == "before" for k in hidden)
    # the complementary cells together rest on at least N persons
    before_parts = p[(p["estimand"] == "mean_participating") & (p["period"] == "before") & p["jobcentre_id"].notna()
                     & (p[SUPPRESSED] != "")]
    assert t.loc[before_parts.index, "n_persons"].sum() >= 5 and len(before_parts) >= 2


def test_attack_across_tables_of_one_run():
    """Table A repeats Table 6's totals, Table 4 has its own per-job-centre cells: protecting the
    whole run at once leaves no cell solvable from any combination of tables."""
    t = share_table({11: (40, 42), 12: (60, 4), 13: (50, 55)})
    durations = []
    for jc, n in ((11, 30), (12, 3), (13, 40), (None, 73)):
        for g, k in (("participating_before", n), ("participating_intervention", n + 1), ("other_before", 900),
                     ("other_intervention", 950)):
            durations.append(row("hir_table4", g, jc, "intervention", 40.0, k, k))
        for d in ("did_weeks", "did_pct"):
            durations.append(row("hir_table4", d, jc, "intervention", -2.0, 5000, 6000))
    run = pd.concat([t, pd.DataFrame(durations, columns=COLS)], ignore_index=True)
    p = protect_estimates(run, 5)
    assert attack(p, run) == set()
    flagged = p.set_index(["analysis", "estimand", "jobcentre_id", "period"])[SUPPRESSED]
    assert flagged[("hir_table4", "participating_before", 12, "intervention")] == PRIMARY
    assert flagged[("hir_table4", "did_weeks", 12, "intervention")] == SECONDARY
    assert flagged[("hir_table4", "did_pct", 12, "intervention")] == SECONDARY
    # counts: the other suppressed participating_before cell keeps the total from revealing n=3
    parts = p[(p["analysis"] == "hir_table4") & (p["estimand"] == "participating_before") & p["jobcentre_id"].notna()]
    assert (parts[SUPPRESSED] != "").sum() >= 2
    assert_protected(p, 5)


def test_combination_shares_summing_to_one_get_a_complement():
    combos = [row("bip_progression", f"combination_share/{c:04b}", None, "all", s, 900, 1000)
              for c, s in enumerate([0.5, 0.3, 0.198, 0.002])]
    p = protect_estimates(pd.DataFrame(combos, columns=COLS), 5)
    assert list(p[SUPPRESSED]) == ["", "", SECONDARY, PRIMARY]


def test_protect_is_idempotent_and_assert_protected_detects_raw_frames():
    t = share_table({11: (40, 42), 12: (3, 30), 13: (50, 55)})
    p = protect_estimates(t, 5)
    pd.testing.assert_frame_equal(protect_estimates(p, 5), p)
    assert_protected(p, 5)
    with pytest.raises(ValueError):
        assert_protected(t, 5)
    with pytest.raises(ValueError):
        assert_protected(protect_estimates(t, 2), 5)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 40), st.integers(1, 40)), min_size=2, max_size=6),
       st.integers(2, 8), st.integers(0, 1000))
def test_no_suppressed_cell_is_ever_recovered(sizes, n_min, seed):
    t = share_table({100 + i: s for i, s in enumerate(sizes)}, seed=seed)
    p = protect_estimates(t, n_min)
    assert attack(p, t) == set()
    shown = p[p[SUPPRESSED] == ""]
    assert (t.loc[shown.index, "n_persons"] >= n_min).all()


def test_protect_curve_stops_where_few_are_at_risk():
    f = pd.DataFrame({"group": ["a"] * 5 + ["b"] * 3, "week": [1, 2, 3, 4, 5, 1, 2, 3],
                      "n_risk": [50, 20, 4, 6, 3, 9, 8, 7], "hazard": 0.1})
    out = protect_curve(f, 5)
    assert out[out["group"] == "a"]["week"].tolist() == [1, 2]  # not week 4, although 6 ≥ 5
    assert out[out["group"] == "b"]["week"].tolist() == [1, 2, 3]
    assert (out["n_risk"] >= 5).all()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(0, 10_000), min_size=0, max_size=40, unique=True), st.integers(2, 7))
def test_order_statistics_never_single_out_a_person(values, k):
    out = safe_order_statistics(values, k)
    if len(values) < k:
        assert out is None
        return
    for name in ("min", "median", "max"):
        # a mean of k distinct integers equals one of them only by coincidence of the middle;
        # it is never the extreme value itself
        assert out[name] != min(values) and out[name] != max(values)
    assert min(values) <= out["min"] <= out["median"] <= out["max"] <= max(values)


# --------------------------------------------------------------------------- across monthly runs
#
# The rule: no suppressed cell can be recovered from totals, other tables of the run, or the
# previous month's run. The attacker below holds every release, knows the table structure and
# which cells did not change between the runs (the worst case for us), and solves the linear
# systems of outcome sums y, observation counts n and means m exactly (null-space test), with
# y = m·n linking them.

WEEKS = 10  # person-weeks per person in the hand-made share tables
OTHERS = {"before": (4000, 6000), "intervention": (4200, 7140)}  # persons, weeks with the outcome


def share_run(cells: dict[int, tuple[tuple[int, int], tuple[int, int]]]) -> pd.DataFrame:
    """Table 6 rows from explicit cell data: job centre → ((persons, outcome weeks) before,
    (persons, outcome weeks) intervention), ``WEEKS`` weeks per person; the pooled means are the
    exact sums, the DiDs the exact differences, counts as the flow reports them."""
    rows = []
    pooled = {"before": [0, 0, 0], "intervention": [0, 0, 0]}
    om = {p: y / (n * WEEKS) for p, (n, y) in OTHERS.items()}
    for jc, (before, inter) in sorted(cells.items()):
        m = {}
        for period, (n, y) in (("before", before), ("intervention", inter)):
            m[period] = y / (n * WEEKS)
            rows.append(row(S, "mean_participating", jc, period, m[period], n, n * WEEKS))
            pooled[period][0] += y
            pooled[period][1] += n * WEEKS
            pooled[period][2] += n
        persons = before[0] + inter[0] + sum(n for n, _ in OTHERS.values())
        rows.append(row(S, "did", jc, "intervention", (m["intervention"] - m["before"])
                        - (om["intervention"] - om["before"]), persons, persons * WEEKS))
    for period in ("before", "intervention"):
        y, w, n = pooled[period]
        rows.append(row(S, "mean_participating", None, period, y / w, n, w))
        rows.append(row(S, "mean_others", None, period, om[period], OTHERS[period][0], OTHERS[period][0] * WEEKS))
    mb, mi = (pooled[p][0] / pooled[p][1] for p in ("before", "intervention"))
    n_all = pooled["before"][2] + pooled["intervention"][2] + sum(n for n, _ in OTHERS.values())
    rows.append(row(S, "did", None, "intervention", (mi - mb) - (om["intervention"] - om["before"]), n_all,
                    n_all * WEEKS))
    return pd.DataFrame(rows, columns=COLS)


def release(truth: pd.DataFrame, published: pd.DataFrame) -> pd.DataFrame:
    """What the next run compares with: the true cells with the flags that were published."""
    return truth.assign(**{SUPPRESSED: published[SUPPRESSED].to_numpy()})


def unchanged_keys(a: pd.DataFrame, b: pd.DataFrame) -> set:
    """Keys whose true estimate and counts are identical in both runs."""
    def cells(f):
        return {cell_key(r): (round(r["estimate"], 12), r["n_persons"], r["n_obs"]) for r in f.to_dict("records")}
    ca, cb = cells(a), cells(b)
    return {k for k in ca.keys() & cb.keys() if ca[k] == cb[k]}


def _linear_equations(truth: pd.DataFrame, var) -> dict[str, list[tuple[dict, float]]]:
    """The run's relations as linear equations in the spaces y (sums), n (counts), m (means)."""
    eqs: dict[str, list[tuple[dict, float]]] = {"y": [], "n": [], "m": []}
    for rel in relations(truth):
        if rel.kind == "additive" and rel.target is not None:
            for q in ("y", "n"):
                coef = {var(rel.target): 1.0}
                for p in rel.parts:
                    coef[var(p)] = coef.get(var(p), 0.0) - 1.0
                eqs[q].append((coef, 0.0))
        elif rel.kind == "additive":
            eqs["m"].append(({var(p): 1.0 for p in rel.parts}, 1.0))
        elif rel.target[1] in ("did", "did_weeks"):  # (after − before) − (others after − others before)
            b, a, ob, oa = rel.parts
            eqs["m"].append(({var(rel.target): 1.0, var(a): -1.0, var(b): 1.0, var(oa): 1.0, var(ob): -1.0}, 0.0))
    return eqs


def linear_attack(releases: list[tuple[pd.DataFrame, pd.DataFrame]], unchanged: Iterable = ()) -> set:
    """(run, key) of every suppressed cell — never published in any release — of which the mean,
    the outcome sum or the count is determined by what the releases publish.

    ``releases`` are (published, truth) pairs, oldest first; cells in ``unchanged`` share their
    variables across consecutive runs (the attacker knows they did not change).
    """
    unchanged = set(unchanged)

    def var(run: int, key):
        return var(run - 1, key) if run > 0 and key in unchanged else (run, key)

    known: dict[str, dict] = {"y": {}, "n": {}, "m": {}}
    eqs: dict[str, list] = {"y": [], "n": [], "m": []}
    suppressed, ever_published = set(), set()
    for r, (published, truth) in enumerate(releases):
        for q, rows in _linear_equations(truth, lambda k, r=r: var(r, k)).items():
            eqs[q] += rows
        for rec in published.to_dict("records"):
            v = var(r, cell_key(rec))
            if rec[SUPPRESSED]:
                suppressed.add((r, cell_key(rec)))
                continue
            ever_published.add(v)
            known["m"][v] = float(rec["estimate"])
            known["n"][v] = float(rec["n_obs"])
            known["y"][v] = known["m"][v] * known["n"][v]
    progress = True
    while progress:
        progress = False
        for q, rows in eqs.items():
            unknown = sorted({v for coef, _ in rows for v in coef if v not in known[q]}, key=str)
            if not unknown:
                continue
            col = {v: i for i, v in enumerate(unknown)}
            a = np.zeros((len(rows), len(unknown)))
            b = np.zeros(len(rows))
            for i, (coef, rhs) in enumerate(rows):
                b[i] = rhs
                for v, c in coef.items():
                    if v in col:
                        a[i, col[v]] += c
                    else:
                        b[i] -= c * known[q][v]
            _, sv, vt = np.linalg.svd(a)
            rank = int((sv > 1e-9 * max(sv.max(initial=0.0), 1.0)).sum())
            null = vt[rank:]
            x = np.linalg.lstsq(a, b, rcond=None)[0]
            for v, i in col.items():
                if not len(null) or np.abs(null[:, i]).max() < 1e-9:
                    known[q][v] = float(x[i])
                    progress = True
        for v in set(known["y"]) | set(known["n"]) | set(known["m"]):
            y, n, m = (known[q].get(v) for q in ("y", "n", "m"))
            if m is None and y is not None and n:
                known["m"][v] = y / n
                progress = True
            elif y is None and m is not None and n is not None:
                known["y"][v] = m * n
                progress = True
            elif n is None and y is not None and m:
                known["n"][v] = y / m
                progress = True
    return {(r, k) for r, k in suppressed
            if var(r, k) not in ever_published and any(var(r, k) in known[q] for q in known)}


def small_differences(releases: list[tuple[pd.DataFrame, pd.DataFrame]], n_min: int) -> set:
    """Keys published in two consecutive runs whose true person counts differ by 1 … N−1 (or whose
    observation counts differ while the persons do not): the difference describes fewer than N."""
    out = set()
    for (p0, t0), (p1, t1) in zip(releases, releases[1:]):
        shown0 = {cell_key(r) for r in p0.to_dict("records") if not r[SUPPRESSED]}
        shown1 = {cell_key(r) for r in p1.to_dict("records") if not r[SUPPRESSED]}
        c0 = {cell_key(r): (r["n_persons"], r["n_obs"]) for r in t0.to_dict("records")}
        c1 = {cell_key(r): (r["n_persons"], r["n_obs"]) for r in t1.to_dict("records")}
        for k in shown0 & shown1:
            if c0[k] != c1[k] and abs(min(c1[k]) - min(c0[k])) < n_min:
                out.add(k)
    return out


def two_runs(cells0: dict, cells1: dict, n_min: int = 5, *, rule: bool = True):
    """Protect month 0 alone and month 1 against month 0's release (or alone, ``rule=False``)."""
    t0, t1 = share_run(cells0), share_run(cells1)
    p0 = protect_estimates(t0, n_min)
    p1 = protect_estimates(t1, n_min, previous=release(t0, p0) if rule else None)
    return [(p0, t0), (p1, t1)], unchanged_keys(t0, t1)


BASE = {11: ((40, 60), (42, 90)), 12: ((30, 45), (33, 70)), 13: ((50, 80), (55, 120))}


def test_the_linear_attacker_recovers_what_primary_suppression_alone_hides():
    t = share_run({**BASE, 14: ((3, 7), (30, 50))})
    naive = t.assign(**{SUPPRESSED: ""})
    naive.loc[(naive["jobcentre_id"] == 14) & (naive["period"] == "before")
              & (naive["estimand"] == "mean_participating"), SUPPRESSED] = PRIMARY
    assert linear_attack([(naive, t)]) == {(0, (S, "mean_participating", 14, "before"))}
    assert linear_attack([(protect_estimates(t, 5), t)]) == set()


def test_two_more_persons_in_a_total_are_not_revealed_by_differencing_months():
    """Month 1 adds two persons to job centre 12: published twice, the difference of the
    outcome sums over the difference of the weeks is those two persons' share."""
    month1 = {**BASE, 12: ((32, 45 + 17), (33, 70))}
    naive, _ = two_runs(BASE, month1, rule=False)
    assert (S, "mean_participating", 12, "before") in small_differences(naive, 5)
    assert (S, "mean_participating", ALL, "before") in small_differences(naive, 5)
    runs, same = two_runs(BASE, month1)
    assert small_differences(runs, 5) == set()
    assert linear_attack(runs, same) == set()
    flags = runs[1][0].set_index(["estimand", "jobcentre_id", "period"])[SUPPRESSED]
    assert flags[("mean_participating", 12, "before")] == PREVIOUS
    total = runs[1][0][(runs[1][0]["estimand"] == "mean_participating") & runs[1][0]["jobcentre_id"].isna()
                       & (runs[1][0]["period"] == "before")]
    assert total[SUPPRESSED].iloc[0] == PREVIOUS
    assert_protected(runs[1][0], 5)


def test_a_complement_that_changes_between_months_does_not_reveal_last_months_cell():
    """Month 0 hides the 3-person cell of job centre 14 and job centre 12 (the smallest) as its
    complement. In month 1 job centre 13 shrinks to 20 persons: protected alone, month 1 picks 13
    as the complement and publishes 12 unchanged — which solves month 0's total for 14."""
    month0 = {**BASE, 14: ((3, 7), (30, 50))}
    month1 = {**month0, 13: ((20, 30), (55, 120))}
    naive, same = two_runs(month0, month1, rule=False)
    assert linear_attack(naive[:1]) == set() and linear_attack(naive[1:]) == set()  # each month alone is safe
    recovered = linear_attack(naive, same)
    assert (0, (S, "mean_participating", 14, "before")) in recovered
    runs, same = two_runs(month0, month1)
    assert linear_attack(runs, same) == set()
    flags = runs[1][0].set_index(["estimand", "jobcentre_id", "period"])[SUPPRESSED]
    assert flags[("mean_participating", 12, "before")] == PREVIOUS  # last month's complement stays hidden


def test_a_cell_published_last_month_is_no_complement_for_a_new_small_cell():
    """Month 1: a new 3-person job centre 14 and 10 more persons in 13 (the total moves by 13, so
    it may be published). Alone, month 1 hides 12 (the smallest) as the complement — but 12 is
    unchanged and was published in month 0, so the attacker subtracts month 0's value."""
    month1 = {**BASE, 13: ((60, 95), (55, 120)), 14: ((3, 7), (30, 50))}
    naive, same = two_runs(BASE, month1, rule=False)
    assert (1, (S, "mean_participating", 14, "before")) in linear_attack(naive, same)
    runs, same = two_runs(BASE, month1)
    assert linear_attack(runs, same) == set() and small_differences(runs, 5) == set()
    flags = runs[1][0].set_index(["estimand", "jobcentre_id", "period"])[SUPPRESSED]
    assert flags[("mean_participating", 12, "before")] == ""  # known anyway: no use hiding it
    assert flags[("mean_participating", 13, "before")] == SECONDARY  # changed by ≥ N: a real complement


def test_compare_releases_classifies_each_cell():
    t0 = share_run({**BASE, 14: ((3, 7), (30, 50))})
    p0 = protect_estimates(t0, 5)
    t1 = share_run({11: BASE[11], 12: ((36, 50), (33, 70)), 13: ((52, 80), (55, 120)), 14: ((3, 7), (30, 50)),
                    15: ((20, 20), (20, 20))})
    status = compare_releases(t1, release(t0, p0), 5)
    by = {cell_key(r): s for r, s in zip(t1.to_dict("records"), status)}
    assert by[(S, "mean_participating", 11, "before")] == "same_published"
    assert by[(S, "mean_participating", 14, "before")] == "same_suppressed"
    assert by[(S, "mean_participating", 12, "before")] == "large_change"  # +6 persons
    assert by[(S, "mean_participating", 13, "before")] == "small_change"  # +2 persons
    assert by[(S, "mean_participating", 15, "before")] == "new"
    # a masked release (counts of suppressed cells unknown): a suppressed cell is presumed unchanged
    masked = compare_releases(t1, p0, 5)
    assert masked[t1.index[(t1["jobcentre_id"] == 14) & (t1["period"] == "before")
                           & (t1["estimand"] == "mean_participating")][0]] == "same_suppressed"


def test_protecting_against_the_previous_release_keeps_the_run_protected_alone():
    t0 = share_run({**BASE, 14: ((3, 7), (30, 50))})
    p0 = protect_estimates(t0, 5)
    t1 = share_run({**BASE, 13: ((52, 81), (55, 120)), 14: ((3, 7), (30, 50))})
    p1 = protect_estimates(t1, 5, previous=release(t0, p0))
    assert_protected(p1, 5)
    pd.testing.assert_frame_equal(protect_estimates(p1, 5), p1)
    assert (p1[SUPPRESSED] == PREVIOUS).any()
    hidden = p1[p1[SUPPRESSED] != ""]
    assert hidden["estimate"].isna().all() and hidden["n_persons"].isna().all()


@st.composite
def monthly_pair(draw):
    """Month 0: 2–6 participating job centres; month 1: each kept, changed by a few persons (or
    many), or dropped, plus maybe a new one."""
    def cell(n):
        return n, draw(st.integers(0, n * WEEKS))

    n_jc = draw(st.integers(2, 6))
    month0 = {100 + i: (cell(draw(st.integers(1, 40))), cell(draw(st.integers(1, 40)))) for i in range(n_jc)}
    month1 = {}
    for jc, (before, inter) in month0.items():
        kind = draw(st.sampled_from(["same", "same", "few", "many", "dropped"]))
        if kind == "same":
            month1[jc] = (before, inter)
        elif kind != "dropped":
            step = st.integers(-4, 4) if kind == "few" else st.integers(-30, 30)
            nb, ni = max(1, before[0] + draw(step)), max(1, inter[0] + draw(step))
            month1[jc] = (cell(nb) if nb != before[0] else before, cell(ni) if ni != inter[0] else inter)
    if draw(st.booleans()):
        month1[100 + n_jc] = (cell(draw(st.integers(1, 12))), cell(draw(st.integers(1, 40))))
    if len(month1) < 2:
        month1.update({jc: v for jc, v in list(month0.items())[:2]})
    return month0, month1


@settings(max_examples=80, deadline=None)
@given(monthly_pair(), st.integers(2, 8))
def test_no_suppressed_cell_is_recovered_across_two_monthly_runs(pair, n_min):
    month0, month1 = pair
    runs, same = two_runs(month0, month1, n_min)
    assert linear_attack(runs, same) == set()
    assert small_differences(runs, n_min) == set()
    for published, truth in runs:
        shown = published[SUPPRESSED] == ""
        assert (cell_persons(truth[shown]) >= n_min).all()
        assert_protected(published, n_min)


def table4_run(sizes: dict[int, tuple[int, float]]) -> pd.DataFrame:
    """Table 4 rows: job centre → (persons in the participating cells, expected weeks before);
    the total's spells and weeks are the job centres' sums."""
    rows = []
    for jc, (n, weeks) in [*sorted(sizes.items()), (None, (sum(n for n, _ in sizes.values()),
                                                         sum(n * w for n, w in sizes.values())
                                                         / sum(n for n, _ in sizes.values())))]:
        for g, k, w in (("participating_before", n, weeks), ("participating_intervention", n + 1, 40.0),
                        ("other_before", 900, 38.0), ("other_intervention", 950, 40.0)):
            rows.append(row("hir_table4", g, jc, "intervention", w, k, k))
        for d in ("did_weeks", "did_pct"):
            rows.append(row("hir_table4", d, jc, "intervention", -2.0, 2 * n + 1851, 2 * n + 1851))
    return pd.DataFrame(rows, columns=COLS)


def test_across_tables_and_two_months_no_suppressed_cell_is_recovered():
    """One run = Table 6 + Table 4; in month 1 two persons join job centre 12's Table 4 spells and
    a 3-person job centre 14 joins Table 6. Every relation of both tables, both months."""
    t4 = {11: (30, 41.0), 12: (25, 44.0), 13: (40, 39.0)}
    truth0 = pd.concat([share_run(BASE), table4_run(t4)], ignore_index=True)
    truth1 = pd.concat([share_run({**BASE, 14: ((3, 7), (30, 50))}), table4_run({**t4, 12: (27, 43.0)})],
                       ignore_index=True)
    p0 = protect_estimates(truth0, 5)
    naive = protect_estimates(truth1, 5)
    same = unchanged_keys(truth0, truth1)
    assert small_differences([(p0, truth0), (naive, truth1)], 5)  # 25 → 27 persons published twice
    p1 = protect_estimates(truth1, 5, previous=release(truth0, p0))
    runs = [(p0, truth0), (p1, truth1)]
    assert linear_attack(runs, same) == set() and small_differences(runs, 5) == set()
    flags = p1.set_index(["analysis", "estimand", "jobcentre_id", "period"])[SUPPRESSED]
    assert flags[("hir_table4", "participating_before", 12, "intervention")] == PREVIOUS
    assert flags[("hir_table4", "did_weeks", 12, "intervention")] != ""
    assert flags[(S, "mean_participating", 14, "before")] == PRIMARY
    assert_protected(p1, 5)


def test_a_small_restricted_mean_cell_cannot_be_solved_from_its_did():
    """The 52-week restricted means of Tables 4/7 are tied to their DiD like the expected weeks:
    hiding one group cell hides a complement too."""
    a = "hir_table4"
    groups = ["participating_before", "participating_intervention", "other_before", "other_intervention"]
    persons = {"participating_before": 3, "participating_intervention": 40, "other_before": 900,
               "other_intervention": 950}
    rows = [row(a, f"rmst52_{g}", 11, "intervention", 20.0 + i, persons[g], 2 * persons[g])
            for i, g in enumerate(groups)]
    rows.append(row(a, "rmst52_did_weeks", 11, "intervention", 0.0, 43, 86))
    t = pd.DataFrame(rows, columns=COLS)
    target = (a, "rmst52_did_weeks", 11, "intervention")
    assert any(r.kind == "derived" and r.target == target for r in relations(t))
    p = protect_estimates(t, 5)
    hidden = p[p[SUPPRESSED] != ""]
    assert len(hidden) >= 2 and not attack(p, t)


def test_a_small_table8_persons_cell_cannot_be_solved_from_the_persons_did():
    a = "hir_table8"
    rows = [row(a, "flex_job:persons_participating", None, "before", 0.015, 3, 3),
            row(a, "flex_job:persons_participating", None, "intervention", 0.019, 800, 800),
            row(a, "flex_job:persons_others", None, "before", 0.012, 5000, 5000),
            row(a, "flex_job:persons_others", None, "intervention", 0.013, 5200, 5200),
            row(a, "flex_job:persons_did", None, "intervention", 0.003, 9000, 11000)]
    t = pd.DataFrame(rows, columns=COLS)
    assert any(r.kind == "derived" and r.target == (a, "flex_job:persons_did", ALL, "intervention")
               for r in relations(t))
    assert (protect_estimates(t, 5)[SUPPRESSED] != "").sum() >= 2


# --------------------------------------------------------------------------- first stage and Tables 1, 2, 5


def _hidden(p: pd.DataFrame) -> dict:
    return {cell_key(r): r[SUPPRESSED] for r in p.to_dict("records") if r[SUPPRESSED]}


def test_a_small_job_centre_in_table1_gets_a_complement_so_the_total_does_not_reveal_it():
    a = "hir_table1_persons"
    rows = [row(a, "persons_participating", jc, "before", float(n), n, 40 * n) for jc, n in ((11, 176), (12, 3),
                                                                                            (13, 230))]
    rows += [row(a, "persons_participating", None, "before", 409.0, 409, 16360),
             row(a, "persons_others", None, "before", 22151.0, 22151, 900000)]
    p = protect_estimates(pd.DataFrame(rows, columns=COLS), 5)
    hidden = _hidden(p)
    assert hidden.pop((a, "persons_participating", 12, "before")) == PRIMARY
    assert list(hidden.values()) == [SECONDARY] and next(iter(hidden))[2] == 11  # the smallest other centre
    assert (a, "persons_participating", ALL, "before") not in _hidden(p)
    assert_protected(p, 5)


def test_a_lab_type_resting_on_few_persons_is_hidden_with_a_complement_among_the_types():
    a = "hir_table5_lab_mix"
    shares = {"none": (0.62, 380), "guidance_upskilling": (0.21, 150), "ordinary_education": (0.01, 9),
              "wage_subsidy": (0.004, 2), "company_internship": (0.156, 140)}
    rows = [row(a, f"{t}:participating", None, "before", s, n, 16000) for t, (s, n) in shares.items()]
    p = protect_estimates(pd.DataFrame(rows, columns=COLS), 5)
    assert _hidden(p) == {(a, "wage_subsidy:participating", ALL, "before"): PRIMARY,
                          (a, "ordinary_education:participating", ALL, "before"): SECONDARY}


def test_a_centres_caseload_on_few_caseworkers_is_hidden_and_the_mean_of_means_cannot_reveal_it():
    a = "hir_caseload"
    rows = [row(a, "caseload_fte", jc, "baseline", v, n, 8 * n) for jc, v, n in ((11, 29.4, 9), (12, 57.2, 3),
                                                                                (13, 46.9, 12))]
    rows += [row(a, "caseload_fte", None, "baseline", 44.5, 24, 192),
             row(a, "caseload_fte", None, "intervention", 30.5, 30, 1500),
             row(a, "change", None, "intervention", -14.0, 54, 1692)]
    p = protect_estimates(pd.DataFrame(rows, columns=COLS), 5)
    hidden = _hidden(p)
    assert hidden == {(a, "caseload_fte", 12, "baseline"): PRIMARY, (a, "caseload_fte", 11, "baseline"): SECONDARY}
    rels = relations(pd.DataFrame(rows, columns=COLS))
    assert {(r.kind, r.target) for r in rels} == {("additive", (a, "caseload_fte", ALL, "baseline")),
                                                  ("derived", (a, "change", ALL, "intervention"))}
    tiny = [row(a, "caseload_fte", None, "baseline", 44.5, 4, 30), *rows[4:]]
    hidden = _hidden(protect_estimates(pd.DataFrame(tiny, columns=COLS), 5))
    assert hidden[(a, "caseload_fte", ALL, "baseline")] == PRIMARY
    assert hidden[(a, "change", ALL, "intervention")] == SECONDARY  # the change would give the baseline back
