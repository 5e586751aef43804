"""A fake committed run (tidy estimates, replicates, curves, manifest) for the report, CLI and
privacy tests, with planted person-like ids that must never appear in any output."""


from __future__ import annotations

import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from bipdask.analyses.estimates import Estimate, estimates_table
from bipdask.runtime import storage

PLANTED_IDS = [48151623, 42000917, 73194851, 61803398, 27182818, 31415926]
NAMES = {11: "Favrskov", 12: "Haderslev", 13: "Varde", 21: "Aarhus"}
SMALL_JC = 13  # its before-period share rests on 3 persons
SMALL_VALUE = 0.8765  # shown as "87.7" if it leaked


def _est(analysis, estimand, jc, period, value, n, n_obs=None, width=0.02, p=0.2):
    return Estimate(analysis, estimand, jc, period, value, width / 2, value - width, value + width, p, n,
                    n if n_obs is None else n_obs)


def fake_estimates(shift: float = 0.0) -> list[Estimate]:
    """A handful of tidy rows for every analysis the report shows (values in the stored units)."""
    s = "share_internship_or_hours"
    rows = []
    for jc, (nb, ni), (mb, mi) in ((11, (40, 42), (0.19, 0.30)), (12, (30, 33), (0.25, 0.18)),
                                   (SMALL_JC, (3, 25), (SMALL_VALUE, 0.15))):
        rows += [_est(s, "mean_participating", jc, "before", mb + shift, nb, nb * 40),
                 _est(s, "mean_participating", jc, "intervention", mi + shift, ni, ni * 50),
                 _est(s, "mean_participating", jc, "last_3_months", mi + shift, ni, ni * 10),
                 _est(s, "did", jc, "intervention", (mi - mb) - 0.02, 3000, 90000, 0.05, 0.01),
                 _est(s, "did", jc, "last_3_months", (mi - mb) - 0.01, 3000, 60000, 0.05, 0.2)]
    rows += [_est(s, "mean_participating", None, p, 0.2 + shift, 73, 4000) for p in ("before", "intervention",
                                                                                     "last_3_months")]
    rows += [_est(s, "mean_others", None, p, v, 3000, 90000) for p, v in (("before", 0.149), ("intervention", 0.168),
                                                                         ("last_3_months", 0.17))]
    rows += [_est(s, "did", None, "intervention", 0.017 + shift, 3073, 100000, 0.01, 0.001),
             _est(s, "did", None, "last_3_months", 0.032, 3073, 50000, 0.01, 0.01)]
    for a in ("hir_table4", "hir_table7"):
        for jc, pb, pi in ((11, 29.0, 22.0), (12, 45.0, 60.0), (SMALL_JC, 31.0, 33.0), (None, 43.0, 41.0)):
            n = {11: 30, 12: 25, SMALL_JC: 20, None: 75}[jc]
            rows += [_est(a, "participating_before", jc, "intervention", pb + shift, n, width=4),
                     _est(a, "participating_intervention", jc, "intervention", pi, n, width=4),
                     _est(a, "other_before", jc, "intervention", 38.0, 900, width=2),
                     _est(a, "other_intervention", jc, "intervention", 40.0, 950, width=2),
                     _est(a, "did_weeks", jc, "intervention", (pi - pb) - 2.0, 2000, width=5, p=0.03),
                     _est(a, "did_pct", jc, "intervention", 100 * ((pi - pb) - 2.0) / pb, 2000, width=10, p=0.03)]
        rows += [_est(a, "rmst52_participating_before", None, "intervention", 31.0 + shift, 75, width=2),
                 _est(a, "rmst52_participating_intervention", None, "intervention", 29.5, 75, width=2),
                 _est(a, "rmst52_other_before", None, "intervention", 30.0, 900, width=1),
                 _est(a, "rmst52_other_intervention", None, "intervention", 30.4, 950, width=1),
                 _est(a, "rmst52_did_weeks", None, "intervention", -1.9, 2000, width=1.5, p=0.01),
                 _est(a, "hazard_ratio", None, "intervention", 1.087, 2000, width=0.04, p=0.004)]
    for b in ("internship_3m", "ordinary_hours_1y", "job_2y"):
        rows += [_est("hir_table3", b, None, "pre", 43.4, 81, width=3), _est("hir_table3", b, None, "post", 43.8, 81,
                                                                             width=3),
                 _est("hir_table3", b, None, "difference", 0.3, 81, width=2, p=0.8)]
    for d in ("ordinary_employment", "flex_job", "ledighedsydelse", "disability_pension"):
        for side in ("mean_participating", "mean_others"):
            rows += [_est("hir_table8", f"{d}:{side}", None, p, 0.004, 1200, 50000, 0.001)
                     for p in ("before", "intervention")]
        rows.append(_est("hir_table8", d, None, "intervention", -0.0005, 9000, 600000, 0.001, 0.5))
        for side, levels in (("persons_participating", (0.100, 0.128)), ("persons_others", (0.085, 0.113))):
            rows += [_est("hir_table8", f"{d}:{side}", None, p, v, 1200, 1200, 0.01)
                     for p, v in zip(("before", "intervention"), levels)]
        rows.append(_est("hir_table8", f"{d}:persons_did", None, "intervention", -0.001, 9000, 14000, 0.02, 0.9))
    rows += [_est("hir_table9", "hr_caseload", None, "intervention", 0.9553, 600, 12000, 0.01, 0.0005),
             _est("hir_table9", "hr_caseload_change", None, "intervention", 0.9912, 600, 12000, 0.004, 0.002),
             _est("hir_table9", "hr_casemiss", None, "intervention", 0.8, 600, 12000, 0.2),
             _est("hir_table9", "caseload", None, "intervention", 0.0012, 1300, 55000, 0.001, 0.135),
             _est("hir_table9", "caseload_change", None, "intervention", -0.0028, 1300, 55000, 0.001, 0.0009)]
    for b in ("internship_3m", "ordinary_hours_1y", "job_2y"):
        rows += [_est("hir_table10", f"hr_belief_{b}", None, "intervention", 1.0041, 600, 12000, 0.003, 0.008),
                 _est("hir_table10", b, None, "intervention", 0.0021, 1300, 55000, 0.001, 0.0009)]
    a = "bip_caseworker_effectiveness"
    rows += [_est(a, "actual", None, "all", 0.1476, 700, 2000, 0.01, 0.001),
             _est(a, "counterfactual_top_quartile", None, "all", 0.2845, 700, 2000, 0.04, 0.001),
             _est(a, "increase", None, "all", 0.1469, 700, 2000, 0.04, 0.0001),
             Estimate(a, "r2_without_fe", None, "all", 0.16, n_persons=700, n_obs=2000),
             Estimate(a, "r2_with_fe", None, "all", 0.21, n_persons=700, n_obs=2000)]
    for q, (rate, eff) in enumerate(((0.07, -0.05), (0.13, -0.01), (0.18, 0.02), (0.23, 0.1)), start=1):
        rows += [_est(a, f"outcome_rate/q{q}", None, "all", rate, 700, 500, 0.02, None),
                 _est(a, f"mean_effect/q{q}", None, "all", eff, 700, 500, 0.02, None)]
        rows += [_est(a, f"profile/{g}/q{q}", None, "all", 0.2 + 0.05 * k, 700, 490, 0.03, None)
                 for k, g in enumerate(("J", "O", "S", "H", "none"))]
    c = "bip_caseworker_change"
    rows += [_est(c, "effect_pp", None, "all", -0.03, 700, 2000, 0.02, 0.04),
             _est(c, "rate_changed", None, "all", 0.10, 700, 120, 0.03),
             _est(c, "rate_changed_without_change", None, "all", 0.13, 700, 120, 0.03),
             _est(c, "rate_unchanged", None, "all", 0.11, 700, 1880, 0.01),
             _est(c, "relative_effect", None, "all", -0.22, 700, 2000, 0.1, 0.04)]
    g = "bip_progression"
    for ind in ("citizen_avg", "b1", "s2", "caseworker_avg"):
        rows.append(_est(g, f"mean_change/{ind}", None, "all", 0.03, 900, 2900, 0.01, 0.01))
    for combo in range(16):
        rows.append(_est(g, f"effect_size/citizen_avg/{combo:04b}", None, "all", 0.05 * (combo % 5 - 2), 900,
                         100 + combo, 0.1))
        rows.append(Estimate(g, f"combination_share/{combo:04b}", None, "all", 1 / 16, n_persons=900, n_obs=2900))
    return rows + fake_data_estimates(shift)


def fake_data_estimates(shift: float = 0.0) -> list[Estimate]:
    """Rows of the first-stage caseload table and the descriptive Tables 1, 2, 5 (SMALL_JC's
    baseline caseload rests on 3 caseworkers, its before-period persons on 3)."""
    c = "hir_caseload"
    rows = []
    for jc, caseworkers, (b, i) in ((11, 9, (29.4, 27.0)), (12, 8, (57.2, 31.6)), (SMALL_JC, 3, (46.9, 33.0))):
        rows += [Estimate(c, "caseload_fte", jc, "baseline", b + shift, n_persons=caseworkers, n_obs=8 * caseworkers),
                 Estimate(c, "caseload_fte", jc, "intervention", i, n_persons=caseworkers + 3, n_obs=50 * caseworkers),
                 Estimate(c, "caseload_fte", jc, "mar_may_2018", i + 1, n_persons=caseworkers + 3,
                          n_obs=12 * caseworkers)]
    rows += [Estimate(c, "caseload_fte", None, p, v, n_persons=20, n_obs=900)
             for p, v in (("baseline", 44.5), ("intervention", 30.5), ("mar_may_2018", 31.5))]
    rows.append(_est(c, "change", None, "intervention", -14.0, 40, 1800, 6.0, 0.002))
    t1 = "hir_table1_persons"
    for jc, (nb, ni) in ((11, (176, 172)), (12, (230, 295)), (SMALL_JC, (3, 25))):
        rows += [Estimate(t1, "persons_participating", jc, p, float(n), n_persons=n, n_obs=40 * n)
                 for p, n in (("before", nb), ("intervention", ni))]
    rows += [Estimate(t1, "persons_participating", None, "before", 409.0, n_persons=409, n_obs=16000),
             Estimate(t1, "persons_participating", None, "intervention", 492.0, n_persons=492, n_obs=20000),
             Estimate(t1, "persons_others", None, "before", 22151.0, n_persons=22151, n_obs=900000),
             Estimate(t1, "persons_others", None, "intervention", 24207.0, n_persons=24207, n_obs=990000)]
    for var, value in (("male", 0.36), ("age", 41.0), ("non_western", 0.18), ("western", 0.02), ("married", 0.3),
                       ("emp_weeks_6y", 31.0), ("rf_weeks_3y", 62.0)):
        for group, n in (("participating", 409), ("others", 22151)):
            rows += [_est("hir_table2_background", f"{var}:{group}", None, p, value, n, n, 0.01)
                     for p in ("before", "intervention")]
    for lab, share, n in (("none", 0.62, 380), ("guidance_upskilling", 0.21, 150), ("ordinary_education", 0.01, 9),
                          ("wage_subsidy", 0.004, 2), ("company_internship", 0.156, 140)):
        for group, k in (("participating", 1), ("others", 50)):
            rows += [_est("hir_table5_lab_mix", f"{lab}:{group}", None, p, share, n * k, 16000 * k, 0.01)
                     for p in ("before", "intervention")]
    return rows


def _curves(kind: str) -> pd.DataFrame:
    rows = []
    for gi, (group, d, e) in enumerate((("participating_before", 1, 0), ("participating_intervention", 1, 1),
                                        ("other_before", 0, 0), ("other_intervention", 0, 1))):
        at_risk = 200 - 20 * gi
        surv = 1.0
        for w in range(1, 41):
            at_risk = max(at_risk - 6, 2)
            h = 0.03 + 0.002 * gi
            surv *= 1 - h
            base = dict(group=group, D=d, E=e, n_risk=float(at_risk), n_event=float(round(h * at_risk)))
            if kind == "hazard":
                rows.append({**base, "week": w, "hazard": h, "lower": h * 0.7, "upper": h * 1.3})
            else:
                rows.append({**base, "time": float(w), "surv": surv, "std_err": 0.02, "lower": surv - 0.05,
                             "upper": min(surv + 0.05, 1.0)})
    return pd.DataFrame(rows)


def fake_replicates(b: int = 199, seed: int = 3) -> pd.DataFrame:
    """Table 4 replicates as the flow stores them (``estimand|jobcentre|period`` columns, weeks):
    the totals' four expected durations from one draw each, so the differences are correlated."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 2.0, b)  # shared by both periods of a replicate
    cols = {"replicate": np.arange(b, dtype=np.int32)}
    for jc, (pb, pi) in (("all", (43.0, 41.0)), ("11", (29.0, 22.0))):
        cols[f"participating_before|{jc}|intervention"] = pb + common + rng.normal(0, 1.0, b)
        cols[f"participating_intervention|{jc}|intervention"] = pi + common + rng.normal(0, 1.0, b)
        cols[f"other_before|{jc}|intervention"] = 38.0 + rng.normal(0, 0.3, b)
        cols[f"other_intervention|{jc}|intervention"] = 40.0 + rng.normal(0, 0.3, b)
        cols[f"did_weeks|{jc}|intervention"] = rng.normal(-4, 2, b)
    cols["rmst52_participating_before|all|intervention"] = 31.0 + common / 2 + rng.normal(0, 0.5, b)
    cols["rmst52_participating_intervention|all|intervention"] = 29.5 + common / 2 + rng.normal(0, 0.5, b)
    cols["participating_before|all|intervention"][5] = np.nan  # a failed replicate
    return pd.DataFrame(cols)


def make_fake_run(root: Path, run_id: str = "r00000000000000a1", committed_at: str = "2026-10-01T06:00:00+00:00",
                  shift: float = 0.0, seed: int = 7, edit=None, report: bool = True,
                  manifest_extra: dict | None = None) -> storage.CommittedRun:
    """A committed run directory as the flow writes it, with planted person ids in its staged layer
    and (``report``) its English and Danish reports; ``edit`` changes the estimates table (a frame)
    before it is written; ``manifest_extra`` replaces or adds top-level manifest keys."""
    run = storage.RunLayout.create(root, run_id)
    table = estimates_table(fake_estimates(shift))
    if edit is not None:
        table = pa.Table.from_pandas(edit(table.to_pandas()), schema=table.schema, preserve_index=False)
    storage.write_parquet(table, storage.join(run.results, "estimates.parquet"))
    storage.write_parquet(_curves("hazard"), storage.join(run.results, "figure1_raw_hazard.parquet"))
    storage.write_parquet(_curves("km"), storage.join(run.results, "figure2_km.parquet"))
    storage.write_parquet(pd.DataFrame({"level": ["overall"], "jobcentre_id": pd.array([None], dtype="Int32"),
                                        "person_weeks": [55618], "linked": [53243], "trimmed": [766],
                                        "no_caseworker": [1067], "no_caseload_record": [542], "matched": [54009],
                                        "match_rate": [0.971]}),
                          storage.join(run.results, "linkage_report.parquet"))
    storage.write_parquet(fake_replicates(), storage.join(run.replicates, "hir_table4.parquet"))
    storage.write_parquet(pd.DataFrame({"person_id": PLANTED_IDS, "birth_year": [1970] * 6}),
                          storage.join(run.staged, "persons.parquet"))
    storage.write_parquet(pd.DataFrame({"jobcentre_id": list(NAMES), "name": list(NAMES.values()),
                                        "municipality_code": [710, 510, 573, 751]}),
                          storage.join(run.staged, "jobcentres.parquet"))
    manifest = {"run_id": run_id, "flow": "evaluate", "seed": seed, "committed_at": committed_at,
                "code_version": {"bipdask": "0.1.0", "git_sha": "abc1234"},
                "spec": {"name": "hir", "source": "hir", "content": {"disclosure_min_persons": 5, "seed": seed,
                                                                 "bip_top_quartile": "eb",
                                                                 "bip_count_caseworker": "citizens"}},
                "inputs": {"delivery": "/data/delivery", "sha256": {"persons.parquet": "ab" * 32,
                                                                     "weeks/part-00011.parquet": "cd" * 32}},
                "estimation": {"bootstrap_replicates": 199, "bootstrap_scheme": "multinomial", "cluster": "person_id",
                               "notes": {"hir_table7": {"spells": 900, "first_week_lab": 37}}},
                "row_counts": {"estimates": len(fake_estimates())}, **(manifest_extra or {})}
    if report:  # as the flow does: the report is written before the commit, so it is part of the run
        from bipdask.publish.report.build import write_report

        for lang in ("en", "da"):
            write_report(run.url, lang=lang, manifest=manifest)
    return storage.commit(run, manifest)


def digit_tokens(text: str) -> set[str]:
    """Every run of digits, also with thousands separators removed (1,234,567 / 1.234.567)."""
    tokens = set(re.findall(r"\d+", text))
    tokens |= {re.sub(r"[,.\u00a0 ]", "", t) for t in re.findall(r"\d{1,3}(?:[,.\u00a0 ]\d{3})+", text)}
    return tokens


def png_text_chunks(data: bytes) -> list[bytes]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out, pos = [], 8
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind in (b"tEXt", b"iTXt"):
            out.append(body)
        elif kind == b"zTXt":
            key, _, rest = body.partition(b"\0")
            out.append(key + b"\0" + zlib.decompress(rest[1:]))
        pos += 12 + length
    return out
