"""The synthetic national delivery with planted truth (``bipdask synth``).

:func:`generate` writes a delivery folder as :mod:`bipdask.data.delivery` describes it — the HIR panel
of all 97 job centres (:mod:`bipdask.synth.hir.jobcentre`, calibrated to the HIR quantitative report,
Metrica 2019, and the HIR main report, Discus 2019), the BIP survey part
(:mod:`bipdask.synth.bip.delivery`), ``truth.json`` and ``_truth/`` side files. Every job centre is
simulated from ``SeedSequence([seed, jobcentre_id, stream])`` and its weeks are written as soon as
they are made, so the same seed gives byte-identical files for any number of workers and memory
stays bounded by one job centre per worker.
"""

from __future__ import annotations

import json
import resource
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from bipdask.data.contract import (
    ASSIGNMENTS,
    BELIEF_SURVEY,
    BIP_RESPONSES,
    CASELOAD,
    DREAM_CODES,
    JOBCENTRES,
    PERSONS,
    TABLES,
)
from bipdask.synth.hir import caseworkers as C
from bipdask.synth.hir import geography
from bipdask.synth.hir import params as P
from bipdask.synth.hir import plan as PL
from bipdask.synth.hir import truth as T

__all__ = ["SynthSummary", "generate"]


@dataclass(frozen=True)
class SynthSummary:
    """What :func:`generate` wrote: row counts per table, persons per period, wall time."""

    out: str
    scale: float
    seed: int
    workers: int
    rows: dict[str, int]
    persons_per_period: dict[str, dict[str, int]]
    wall_seconds: float
    peak_rss_mib: float
    notes: tuple[str, ...] = field(default=())

    def describe(self) -> str:
        lines = [f"synthetic delivery → {self.out}  (scale {self.scale:g}, seed {self.seed}, "
                 f"workers {self.workers})"]
        lines += [f"  {name:<14} {n:>12,} rows" for name, n in self.rows.items()]
        for d, v in self.persons_per_period.items():
            lines.append(f"  persons in resource courses, {d}: before {v['before']:,}, "
                         f"intervention {v['intervention']:,}")
        lines.append(f"  wall time {self.wall_seconds:.1f} s, peak RSS {self.peak_rss_mib:,.0f} MiB")
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)


def _bip_part(jobcentres: pd.DataFrame, scale: float, seed: int):
    try:
        from bipdask.synth.bip.delivery import generate_bip
    except ImportError:  # the BIP part is developed separately; the HIR part stands alone
        return None
    return generate_bip(jobcentres, P.panel_weeks(), scale=scale, seed=seed,
                        person_id_start=PL.BIP_PERSON_ID_START,
                        caseworker_id_start=PL.BIP_CASEWORKER_ID_START)


def _write(df: pd.DataFrame, table, path: Path) -> int:
    pq.write_table(PL.arrow_table(df, table), path)
    return len(df)


def _sorted(frames: list[pd.DataFrame], keys: list[str]) -> pd.DataFrame:
    frames = [f for f in frames if f is not None and len(f)]
    if not frames:
        return pd.DataFrame()
    return pd.concat(frames, ignore_index=True).sort_values(keys, kind="stable").reset_index(drop=True)


def _run_jobcentre(plan, weeks_dir: Path, extra_weeks: pd.DataFrame | None) -> PL.JobcentreOutput:
    return PL.run_jobcentre(plan, weeks_dir=weeks_dir, extra_weeks=extra_weeks)


def generate(out: Path, *, scale: float = 1.0, seed: int = 42, workers: int = 1,
             jobcentre_shocks: bool | float = True) -> SynthSummary:
    """Write the synthetic national delivery to ``out`` and return a summary.

    Parameters
    ----------
    out : folder to write (created; existing files of the same names are overwritten).
    scale : 1.0 = the reports' population (HIR quantitative report, Tabel 1: 4,169/4,354 persons in the 15
        participating job centres, 22,151/24,207 elsewhere); counts are rounded, ≥ 1 per job
        centre and period.
    seed : master seed; job centre j uses ``SeedSequence([seed, j, stream])``.
    workers : processes simulating job centres (results do not depend on it).
    jobcentre_shocks : job-centre × period shocks on the Tabel 6 outcome's weekly probability and
        the gap hazard (:data:`~bipdask.synth.hir.params.JOBCENTRE_SHARE_SHOCK_SD_PP`,
        :data:`~bipdask.synth.hir.params.JOBCENTRE_FRAILTY_SD`): ``True`` = the planted SDs,
        ``False`` or 0 = none (byte-identical to the DGP without shocks), a float = a multiplier
        on the SDs. They are drawn from ``SeedSequence([seed, j, 5])`` only.
    """
    t0 = time.perf_counter()
    if not scale > 0:
        raise ValueError("synth: scale must be positive")
    shock_scale = float(jobcentre_shocks)
    if not shock_scale >= 0:
        raise ValueError("synth: jobcentre_shocks must be a bool or a non-negative multiplier")
    out = Path(out)
    (out / "weeks").mkdir(parents=True, exist_ok=True)
    (out / "_truth").mkdir(exist_ok=True)
    for old in (out / "weeks").glob("part-*.parquet"):
        old.unlink()
    jobcentres = geography.jobcentres()
    notes: list[str] = []
    bip = _bip_part(jobcentres, scale, seed)
    if bip is None:
        notes.append("bipdask.synth.bip.delivery not available: no BIP part (bip_responses empty)")
    bip_weeks = {} if bip is None else {int(k): g for k, g in bip.weeks.groupby("jobcentre_id")}

    plans = PL.build_plans(scale, seed, shock_scale=shock_scale)
    extras = [bip_weeks.get(p.jobcentre_id) for p in plans]
    dirs = [out / "weeks"] * len(plans)
    if workers > 1:
        with ProcessPoolExecutor(max_workers=workers) as ex:
            results = list(ex.map(_run_jobcentre, plans, dirs, extras))
    else:
        results = [_run_jobcentre(p, d, x) for p, d, x in zip(plans, dirs, extras)]

    rows: dict[str, int] = {}
    persons = _sorted([r.persons for r in results] + ([bip.persons] if bip is not None else []), ["person_id"])
    rows["persons"] = _write(persons, PERSONS, out / "persons.parquet")
    rows["jobcentres"] = _write(jobcentres, JOBCENTRES, out / "jobcentres.parquet")
    rows["dream_codes"] = _write(P.dream_code_list(), DREAM_CODES, out / "dream_codes.parquet")
    rows["weeks"] = sum(r.weeks_rows for r in results)
    assignments = _sorted([r.assignments for r in results], ["person_id", "start_date", "caseworker_id"])
    rows["assignments"] = _write(assignments, ASSIGNMENTS, out / "assignments.parquet")
    caseload = _sorted([r.caseload for r in results], ["caseworker_id", "week"])
    rows["caseload"] = _write(caseload, CASELOAD, out / "caseload.parquet")
    cws = _sorted([r.caseworkers for r in results], ["caseworker_id"])
    belief = C.belief_survey(cws, scale, np.random.default_rng(np.random.SeedSequence([seed, 0, 4])))
    rows["belief_survey"] = _write(belief, BELIEF_SURVEY, out / "belief_survey.parquet")
    responses = bip.bip_responses if bip is not None else pd.DataFrame(
        {c: pd.Series(dtype="object") for c in BIP_RESPONSES.column_names})
    rows["bip_responses"] = _write(responses, BIP_RESPONSES, out / "bip_responses.parquet")

    cw_weeks = _sorted([r.caseworker_weeks for r in results], ["person_id", "week"])
    pq.write_table(pa_table(cw_weeks), out / "_truth" / "caseworker_weeks.parquet")
    courses = _sorted([r.courses for r in results], ["person_id"])
    courses.to_parquet(out / "_truth" / "courses.parquet", index=False)
    _sorted([r.caseload_true for r in results], ["caseworker_id", "week"]).to_parquet(
        out / "_truth" / "caseload_true.parquet", index=False)

    truth = _truth(plans, results, scale, seed, belief, bip, shock_scale)
    (out / "truth.json").write_text(json.dumps(truth, indent=1, sort_keys=True, ensure_ascii=False) + "\n",
                                    encoding="utf-8")
    persons_pp = {d: {per: int(sum(r.stats["persons"][per] for p, r in zip(plans, results)
                                   if p.participating == (d == "participating")))
                      for per in ("before", "intervention")} for d in ("participating", "other")}
    rss = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
              resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss) / 1024.0
    return SynthSummary(str(out), scale, seed, workers, rows, persons_pp,
                        time.perf_counter() - t0, rss, tuple(notes))


def pa_table(cw_weeks: pd.DataFrame):
    """The ``_truth/caseworker_weeks`` frame as Arrow (person_id, week, caseworker_id nullable)."""
    import pyarrow as pa

    schema = pa.schema([pa.field("person_id", pa.int64(), False), pa.field("week", pa.date32(), False),
                        pa.field("caseworker_id", pa.int64(), True)])
    if not len(cw_weeks):
        return schema.empty_table()
    return pa.Table.from_pandas(cw_weeks[["person_id", "week", "caseworker_id"]], schema=schema,
                                preserve_index=False).replace_schema_metadata(None)


def _truth(plans, results, scale: float, seed: int, belief: pd.DataFrame, bip, shock_scale: float = 0.0) -> dict:
    """truth.json: planted parameters, realised counts and the population quantities."""
    realised: dict = {"persons_per_jobcentre": {}, "exits": {}, "rc_person_weeks": {}}
    link = {"rc_weeks_intervention": 0, "with_caseworker": 0, "linked": 0, "caseworker_weeks": 0,
            "unreported": 0, "typo_low": 0, "typo_high": 0}
    kinds: dict = {}
    caseload_means = {}
    for p, r in zip(plans, results):
        realised["persons_per_jobcentre"][p.name] = {"jobcentre_id": p.jobcentre_id, **r.stats["persons"]}
        d = "participating" if p.participating else "other"
        for per, ex in r.stats["exits"].items():
            cell = realised["exits"].setdefault(d, {}).setdefault(per, dict.fromkeys(ex, 0))
            for k, v in ex.items():
                cell[k] += v
        for per, s in r.stats["share"].items():
            c = realised["rc_person_weeks"].setdefault(d, {})
            c[per] = c.get(per, 0) + s["rc_weeks"]
        if p.participating:
            for k in link:
                link[k] += r.stats["linkage"][k]
            for k, v in r.stats.get("assignment_kinds", {}).items():
                kinds[k] = kinds.get(k, 0) + v
            caseload_means[p.name] = r.stats["caseload_fte_mean"]
    sample = T.aggregate_shares(plans, [r.stats for r in results])
    link["match_rate"] = link["linked"] / max(link["rc_weeks_intervention"], 1)
    link["typo_rate"] = (link["typo_low"] + link["typo_high"]) / max(link["caseworker_weeks"], 1)
    pop = T.cached_population_truth()
    truth = {
        "dgp_version": P.DGP_VERSION, "scale": scale, "seed": seed,
        "planted": T.planted_parameters(),
        "realised": {**realised, "linkage": link, "assignment_kinds": kinds,
                     "caseload_fte_true_mean_by_subperiod": caseload_means,
                     "belief_respondents": belief.groupby("wave").size().to_dict(),
                     "sample_share": {k: sample[k] for k in ("cell_share", "did_share", "did_share_last3m")},
                     "sample_exit": T.aggregate_exits(plans, [r.stats for r in results])},
        "population": pop if pop is not None else {"missing": "run python -m bipdask.synth.hir.truth"},
        "how": {
            "persons": "Tabel 1 × scale exactly per job centre and period (deterministic course spans)",
            "planted": ("constants in bipdask/synth/hir/params.py calibrated to the HIR quantitative and main "
                        "reports' tables"),
            "realised": ("counted from this delivery's simulated arrays before writing; sample_exit = "
                         "the Tabel 8 exit cell sums, rates, DiDs and eq. (3) β of this delivery "
                         "(bipdask.synth.hir.truth.aggregate_exits)"),
            "population": "bipdask.synth.hir.truth.population_truth (cached, keyed by dgp_version)",
            "linkage": ("rc_weeks_intervention = resource-course person-weeks of participating job "
                        "centres in the intervention period; linked = those whose true caseworker has a "
                        "caseload record that week (before trimming)"),
        },
        "tables": sorted(TABLES),
    }
    if shock_scale:  # only with shocks: without them truth.json stays byte-identical to before
        truth["planted"]["jobcentre_shocks"] = T.planted_shocks(shock_scale)
        truth["realised"]["jobcentre_shocks"] = {
            p.name: {"jobcentre_id": p.jobcentre_id, "participating": p.participating,
                     **{k: list(v) for k, v in p.shocks().items()}} for p in plans}
        truth["how"]["jobcentre_shocks"] = (
            "per job centre j and period E (before, intervention) u[j,E] ~ N(0, share_sd_pp²) and "
            "v[j,E] ~ N(0, log_hazard_sd²) from SeedSequence([seed, j, 5]); realised values listed; "
            "the population truth is the DGP at zero shocks (their mean), so the delivery's "
            "estimates differ from it by the realised shocks as well as by sampling noise")
    if bip is not None:
        truth["bip"] = bip.truth
    return truth
