"""Disclosure control: primary and complementary suppression, checked by explicit attacks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.disclosure import (
    ALL,
    PRIMARY,
    SECONDARY,
    SUPPRESSED,
    assert_protected,
    cell_key,
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
    t = share_table({11: (40, 42), 12: (3, 30), 13: (50, 55)})
    p = protect_estimates(t, 5)
    small = p[(p["jobcentre_id"] == 12) & (p["period"] == "before") & (p["estimand"] == "mean_participating")].iloc[0]
    assert small[SUPPRESSED] == PRIMARY
    assert all(math.isnan(small[c]) for c in ("estimate", "se", "ci_low", "ci_high"))
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
