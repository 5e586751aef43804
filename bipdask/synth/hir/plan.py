"""Planning the national synthetic delivery: counts, id ranges and parameters per job centre,
and the per-job-centre unit of work :func:`run_jobcentre` (module level, so it pickles)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from bipdask.data.contract import WEEKS, Table
from bipdask.synth.hir import caseworkers as C
from bipdask.synth.hir import geography as G
from bipdask.synth.hir import jobcentre as H
from bipdask.synth.hir import params as P

HIR_PERSON_ID_START = 1
BIP_PERSON_ID_START = 5_000_000
HIR_CASEWORKER_ID_START = 100_000
BIP_CASEWORKER_ID_START = 900_000
CASEWORKER_BLOCK = 5_000


def scaled_counts(scale: float) -> pd.DataFrame:
    """Persons in resource courses per job centre and period (HIR quantitative report, Tabel 1) × ``scale``.

    Participating job centres: round(n × scale), at least 1. Other job centres: the national
    totals × scale split by population (largest remainder, at least 1 each)."""
    jc = G.jobcentre_table()
    out = jc[["jobcentre_id", "name", "population", "participating"]].copy()
    for e, col in enumerate(("n_before", "n_intervention")):
        vals = np.zeros(len(jc), np.int64)
        part = jc["participating"].to_numpy()
        vals[part] = [max(1, int(round(P.TABLE1_PERSONS[n][e] * scale))) for n in jc.loc[part, "name"]]
        total = max(int(round(P.TABLE1_OTHER_TOTAL[e] * scale)), 1)
        vals[~part] = G.apportion(total, jc.loc[~part, "population"].to_numpy(), minimum=1)
        out[col] = vals
    return out


def exit_probabilities(counts: pd.DataFrame) -> dict[bool, tuple[tuple[float, ...], tuple[float, ...]]]:
    """Per D and period: P(destination | the course ends in the period), so that the expected
    % of the period's persons exiting to each destination is the HIR quantitative report's Tabel 8."""
    out = {}
    for d in (True, False):
        sub = counts[counts["participating"] == d]
        ex = np.array([H.exits_in_period(b, i) for b, i in zip(sub.n_before, sub.n_intervention)]).sum(axis=0)
        probs = []
        for e, n in enumerate((sub.n_before.sum(), sub.n_intervention.sum())):
            frac = max(ex[e] / n, 1e-9)
            p = np.array([P.TABLE8_EXIT_PCT[k][d][e] / 100.0 / frac for k in P.EXIT_DESTINATIONS])
            if p.sum() > 1.0:
                p = p / p.sum()
            probs.append(tuple(float(x) for x in p))
        out[d] = (probs[0], probs[1])
    return out


def build_plans(scale: float, seed: int, stream_offset: int = 0,
                share_calibration: float | None = None, shock_scale: float = 0.0) -> list[H.JobcentrePlan]:
    """One :class:`~bipdask.synth.hir.jobcentre.JobcentrePlan` per job centre, in jobcentre_id order.

    ``shock_scale`` multiplies the planted job-centre × period shock SDs (0 = no shocks, the
    population-truth runs; :func:`bipdask.synth.generate` passes 1 by default)."""
    counts = scaled_counts(scale)
    exits = exit_probabilities(counts)
    m = G.municipalities()
    jc = G.jobcentre_table()
    plans = []
    pid = HIR_PERSON_ID_START
    rank = 0
    for row, crow in zip(jc.itertuples(), counts.itertuples()):
        munis = m[m["jobcentre"] == row.name]
        d = bool(row.participating)
        plan = H.JobcentrePlan(
            jobcentre_id=int(row.jobcentre_id), name=row.name,
            municipality_codes=tuple(int(x) for x in munis.municipality_code),
            municipality_weights=tuple(float(x) for x in munis.population),
            participating=d, n_before=int(crow.n_before), n_intervention=int(crow.n_intervention),
            person_id_start=pid,
            caseworker_id_start=HIR_CASEWORKER_ID_START + rank * CASEWORKER_BLOCK if d else 0,
            exit_probs=exits[d],
            gap_weeks=P.TABLE4_GAP_WEEKS[row.name] if d else P.TABLE4_NATIONAL[False],
            share_pct=(P.TABLE6_SHARE_PCT[row.name] if d
                       else (P.TABLE6_OTHER[0], P.TABLE6_OTHER[1], 0.0, 0.0)),
            caseload_fte=P.TABLE1_CASELOAD_FTE[row.name] if d else (),
            scale=scale, seed=seed, stream_offset=stream_offset, share_calibration=share_calibration,
            shock_scale=float(shock_scale),
        )
        pid += plan.n_persons
        rank += int(d)
        plans.append(plan)
    if pid >= BIP_PERSON_ID_START:
        raise ValueError("synth: scale too large for the HIR person id range")
    return plans


def arrow_table(df: pd.DataFrame, table: Table) -> pa.Table:
    """``df`` as an Arrow table with exactly the contract schema of ``table`` (no metadata)."""
    return pa.Table.from_pandas(df[list(table.column_names)], schema=table.schema(),
                                preserve_index=False).replace_schema_metadata(None)


@dataclass
class JobcentreOutput:
    """What one job centre's simulation hands back (everything but its weeks rows)."""

    jobcentre_id: int
    persons: pd.DataFrame
    courses: pd.DataFrame
    stats: dict
    weeks_rows: int
    assignments: pd.DataFrame | None = None
    caseload: pd.DataFrame | None = None
    caseload_true: pd.DataFrame | None = None
    caseworker_weeks: pd.DataFrame | None = None
    caseworkers: pd.DataFrame | None = None
    weeks: pd.DataFrame | None = field(default=None, repr=False)


def run_jobcentre(plan: H.JobcentrePlan, weeks_dir: Path | None = None,
                  extra_weeks: pd.DataFrame | None = None, keep_weeks: bool = False,
                  light: bool = False) -> JobcentreOutput:
    """Simulate one job centre; write its weeks part file (plus ``extra_weeks``, the BIP part's
    rows of this job centre) to ``weeks_dir`` when given. ``light`` skips assignment records
    (population-truth runs need only the LAB dynamics and the true caseworkers)."""
    courses = H.draw_courses(plan, plan.rng(H.STREAM_COURSES))
    n = len(courses.start)
    person_ids = np.arange(plan.person_id_start, plan.person_id_start + n, dtype=np.int64)
    persons = H.draw_persons(plan, courses, plan.rng(H.STREAM_COURSES + 10))
    out = JobcentreOutput(plan.jobcentre_id, persons, pd.DataFrame(), {}, 0)
    dev = None
    stats: dict = {}
    w = np.arange(P.N_PANEL)
    in_rc = (w >= courses.start[:, None]) & (w <= courses.end[:, None])
    if plan.participating:
        rng_cw = plan.rng(H.STREAM_CASEWORKERS)
        rc_weekly = in_rc[:, P.E1_FIRST:].sum(axis=0).mean()
        k = max(2, int(round(rc_weekly / P.RC_PERSONS_PER_CASEWORKER)))
        cw = C.draw_caseworkers(k, plan.caseworker_id_start, plan.caseload_fte, rng_cw)
        paths, cw_week = C.draw_true_paths(courses.start, courses.end, cw, rng_cw)
        has = cw_week >= 0
        fte = np.where(has, cw.fte_true[np.maximum(cw_week, 0), w[None, :]], 0.0)
        mean_by_week = np.where(w >= P.E1_FIRST, cw.period_mean[1], cw.period_mean[0])
        dev = np.where(has, fte - mean_by_week[None, :], 0.0).astype(np.float32)
        caseload, cl_counts = C.caseload_records(cw, plan.jobcentre_id, rng_cw)
        reported = np.zeros_like(cw.active)
        local = np.searchsorted(cw.ids, caseload["caseworker_id"].to_numpy())
        wk = ((caseload["week"] - C.MONDAY0).dt.days // 7).to_numpy()
        reported[local, wk] = True
        linked = has & reported[np.maximum(cw_week, 0), w[None, :]]
        e1 = slice(P.E1_FIRST, P.E1_LAST + 1)
        stats["linkage"] = {"rc_weeks_intervention": int(in_rc[:, e1].sum()),
                            "with_caseworker": int((in_rc & has)[:, e1].sum()),
                            "linked": int((in_rc & linked)[:, e1].sum()), **cl_counts}
        sp = C.subperiod_of_week(w)
        stats["caseload_fte_mean"] = [float(np.nanmean(cw.fte_true[:, (sp == s) & (w >= P.CW_FIRST)]))
                                      for s in range(6)]
        stats["caseload_period_mean"] = [float(x) for x in cw.period_mean]
        out.caseload = caseload
        out.caseworkers = pd.DataFrame({
            "caseworker_id": cw.ids, "jobcentre_id": np.int32(plan.jobcentre_id),
            "n_cases_pre": cw.n_cases[:, P.CW_FIRST + 1], "n_cases_post": cw.n_cases[:, P.E1_LAST - 2]})
        if not light:
            out.assignments, stats["assignment_kinds"] = C.encode_assignments(
                paths, person_ids, courses.start, cw, plan.jobcentre_id, plan.rng(H.STREAM_ASSIGNMENTS))
            ki, wi = np.nonzero(cw.active)
            out.caseload_true = pd.DataFrame({
                "caseworker_id": cw.ids[ki], "week": C.MONDAY0 + pd.to_timedelta(wi * 7, unit="D"),
                "caseload_fte": cw.fte_true[ki, wi],
                "deviation_from_period_mean": cw.fte_true[ki, wi] - np.where(
                    wi >= P.E1_FIRST, cw.period_mean[1], cw.period_mean[0])})
        out._cw_week = cw_week  # type: ignore[attr-defined]
        out._cw_ids = cw.ids  # type: ignore[attr-defined]
    panel = H.simulate_lab(plan, courses, dev, plan.rng(H.STREAM_LAB))
    stats["share"] = H.share_statistics(plan, courses, panel)
    stats["persons"] = {"before": int(in_rc[:, P.E0_FIRST:P.E0_LAST + 1].any(axis=1).sum()),
                        "intervention": int(in_rc[:, P.E1_FIRST:].any(axis=1).sum()),
                        "total": int(n)}
    stats["exits"] = {}
    for e, (lo, hi) in enumerate(((P.E0_FIRST, P.E0_LAST), (P.E1_FIRST, P.E1_LAST))):
        ended = (courses.end >= lo) & (courses.end <= hi)
        stats["exits"]["before" if e == 0 else "intervention"] = {
            k: int((ended & (courses.destination == i)).sum()) for i, k in enumerate(P.EXIT_DESTINATIONS)}
    stats["exit_weeks"] = H.exit_statistics(courses)
    out.stats = stats
    if light:
        return out
    codes = H.weekly_codes(plan, courses, plan.rng(H.STREAM_COURSES + 20))
    weeks = H.assemble_weeks(plan, courses, panel, codes, plan.rng(H.STREAM_COURSES + 30), person_ids)
    out.courses = pd.DataFrame({
        "person_id": person_ids, "jobcentre_id": np.int32(plan.jobcentre_id),
        "course_start": C.MONDAY0 + pd.to_timedelta(courses.start * 7, unit="D"),
        "course_end": C.MONDAY0 + pd.to_timedelta(np.minimum(courses.end, 10_000) * 7, unit="D"),
        "ends_in_panel": courses.end <= P.E1_LAST,
        "destination": np.asarray(list(P.EXIT_DESTINATIONS) + ["other", "none"], dtype=object)[courses.destination],
        "period_group": np.asarray(["before_only", "intervention_only", "both"], dtype=object)[courses.group],
    })
    if plan.participating:
        wk_idx = ((weeks["week"] - C.MONDAY0).dt.days // 7).to_numpy()
        sel = wk_idx >= P.CW_FIRST
        pidx = (weeks["person_id"].to_numpy()[sel] - plan.person_id_start)
        cwl = out._cw_week[pidx, wk_idx[sel]]  # type: ignore[attr-defined]
        out.caseworker_weeks = pd.DataFrame({
            "person_id": weeks["person_id"].to_numpy()[sel], "week": weeks["week"].to_numpy()[sel],
            "caseworker_id": pd.array(np.where(cwl >= 0, out._cw_ids[np.maximum(cwl, 0)], 0),  # type: ignore[attr-defined]
                                      dtype="Int64")})
        out.caseworker_weeks.loc[cwl < 0, "caseworker_id"] = pd.NA
    if extra_weeks is not None and len(extra_weeks):
        weeks = pd.concat([weeks, extra_weeks[list(WEEKS.column_names)]], ignore_index=True)
        weeks = weeks.sort_values(["person_id", "week"], kind="stable").reset_index(drop=True)
    out.weeks_rows = len(weeks)
    if weeks_dir is not None:
        pq.write_table(arrow_table(weeks, WEEKS), Path(weeks_dir) / f"part-{plan.jobcentre_id:05d}.parquet")
    if keep_weeks:
        out.weeks = weeks
    for attr in ("_cw_week", "_cw_ids"):
        if hasattr(out, attr):
            delattr(out, attr)
    return out
