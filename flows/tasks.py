"""Thin Prefect tasks (verb_noun) over :mod:`bipdask`: they pass job centre ids and URLs,
never DataFrames, and turn any unexpected failure into a message without data values.

Each task body is a module-level ``*_impl`` function (pure bipdask calls plus storage I/O), so
it can be tested and run without Prefect; :func:`bipdask_task` makes the Prefect task of one.
The reduces (``estimate_*``) return a :class:`flows.outputs.ReduceOutput`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
from prefect import task
from prefect.cache_policies import NO_CACHE

from bipdask.analyses.bip.blocks import (
    bip_point,
    bip_replicate_block_from_plans,
    combine_bip,
    dump_plan,
    load_plan,
)
from bipdask.analyses.estimates import (
    Estimate,
    HazardEstimates,
    combine_estimates,
    describe_inference,
    estimates_frame,
    estimates_table,
    withhold_unstable_intervals,
)
from bipdask.analyses.hir.beliefs import table3
from bipdask.analyses.hir.descriptives import (
    descriptives_from_moments,
    table1_persons,
    table2_background,
    table5_lab_mix,
)
from bipdask.analyses.hir.durations import (
    figure_curves_from_counts,
    table4,
    table4_from_counts,
    table7,
    table7_from_counts,
)
from bipdask.analyses.hir.exits import table8_from_cells
from bipdask.analyses.hir.first_stage import FIRST_STAGE_ANALYSIS, caseload_table
from bipdask.analyses.hir.mediators import share_mediators_by_partition, table9, table10
from bipdask.analyses.hir.shares import (
    SHARE_ANALYSIS,
    design_based_rows,
    jobcentre_rows,
    share_did_replicates,
    share_did_table,
    with_bootstrap,
)
from bipdask.data.validate import validate_delivery
from bipdask.errors import BipdaskError, InfrastructureError, InputError
from bipdask.estimators.cell_did import ALL_PERIODS, person_cell_moments
from bipdask.inference.config import Inference
from bipdask.prepare.bip import bip_jobcentre_ids, combine_first_hits, first_hits
from bipdask.prepare.descriptives import (
    DESCRIPTIVE_WINDOWS,
    PERSON_COLUMNS,
    descriptive_moments,
    empty_lab_week_sums,
    lab_week_sums,
)
from bipdask.prepare.hir import (
    ModelInputConfig,
    caseworkers_rows,
    concat_inputs,
    jobcentre_model_inputs,
    linkage_report_from_counts,
    linkage_report_table,
    persons_rows,
    unit_sums_suffice,
    with_pre_belief,
    written_kinds,
)
from bipdask.prepare.linkage import check_match_rate
from bipdask.prepare.outcomes import (
    NEW_COURSE_WINDOWS,
    empty_cell_sums,
    share_cell_sums,
)
from bipdask.prepare.partitions import Unit, person_bucket, unit_name
from bipdask.prepare.spell_counts import combine_counts, combine_persons
from bipdask.publish import history
from bipdask.publish.disclosure import NEW_COURSE_SHARE_ANALYSIS
from bipdask.runtime import claims, input_cache, storage
from bipdask.runtime.input_cache import frame_digest
from bipdask.spec import Period
from flows import quiet_console
from flows.distributed_cox import on_every_worker, task_client, time_varying_rows
from flows.outputs import ESTIMATES_FILE, ReduceOutput

WEEKS_COLUMNS = ["person_id", "week", "dream_code", "lab_type", "ordinary_hours", "employed"]
BIP_FIRST_HITS = "bip_first_hits"  # the model-input kind of a BIP job centre's units: the outcome's map part
BIP_RESPONSE_COLUMNS = ["response_id", "person_id", "response_date"]  # what the outcome's map part reads
LINKAGE_FILE = "linkage_report.parquet"
FIGURE1 = "figure1_raw_hazard"
FIGURE2 = "figure2_km"

if not os.environ.get("BIPDASK_DEBUG"):
    # a LocalCluster's workers write to the caller's terminal: the task-run log goes to the Prefect API only
    quiet_console()


def _sanitized(name: str) -> Callable:
    """Re-raise non-bipdask exceptions as InfrastructureError naming only the task and type.

    pandas/pyarrow messages can quote cell values (a person id); ours never do.
    """

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except BipdaskError:
                raise
            except Exception as exc:  # noqa: BLE001
                raise InfrastructureError(f"{name} failed ({type(exc).__name__})") from None

        return inner

    return wrap


# --------------------------------------------------------------------------- validate and stage


def validate_and_stage_impl(input_dir: str, run_url: str, coverage_limits: dict | None = None,
                            root: str | None = None) -> dict[str, Any]:
    """Validate the delivery and write the run's staged layer; the report as a dict.

    ``coverage_limits`` are the spec's ``[coverage]`` thresholds; the coverage is compared with
    that of the latest run committed under ``root`` (the previous delivery), if any."""
    t0 = time.perf_counter()
    report = validate_delivery(input_dir, out_url=run_url, storage_options=storage.storage_options(run_url),
                               coverage_limits=coverage_limits,
                               previous_coverage=previous_coverage(root) if root else None)
    out = report.to_dict()
    out["staged_url"] = storage.join(run_url, "staged")
    out["seconds"] = time.perf_counter() - t0
    return out


def previous_coverage(root: str) -> dict | None:
    """The coverage the latest committed run under ``root`` recorded (None: no such run, or one
    committed before coverage was recorded)."""
    try:
        manifest = storage.open_run(root).manifest
    except FileNotFoundError:
        return None
    return (manifest.get("validation") or {}).get("coverage")


# --------------------------------------------------------------------------- per job centre


def staged_weeks_files(staged_url: str, jobcentre_id: int) -> list[str]:
    """The part files of one job centre in the staged weeks (hive: ``jobcentre_id=<id>``)."""
    return storage.list_files(storage.join(staged_url, "weeks", f"jobcentre_id={int(jobcentre_id)}"), ".parquet")


def read_staged_weeks(staged_url: str, jobcentre_id: int, columns: Sequence[str] = WEEKS_COLUMNS,
                      unit: Unit | None = None) -> pd.DataFrame:
    """One job centre's staged weeks, with ``jobcentre_id`` restored from the partition path;
    with a ``unit`` of several parts only the persons of its hash bucket, read one part file at a
    time (memory: the unit's rows, not the job centre's)."""
    files = staged_weeks_files(staged_url, jobcentre_id)
    if not files:
        return pd.DataFrame({c: [] for c in [*columns, "jobcentre_id"]})
    names = storage.parquet_columns(files[0])
    wanted = [c for c in columns if c in names]
    if unit is None or unit.parts == 1:
        weeks = storage.read_parquet(files, columns=wanted)
    else:
        pieces = []
        for f in files:
            piece = storage.read_parquet(f, columns=wanted)
            keep = person_bucket(piece["person_id"].to_numpy(), unit.parts) == unit.part
            pieces.append(piece.loc[keep])
        weeks = pd.concat(pieces, ignore_index=True)
    weeks["jobcentre_id"] = int(jobcentre_id)
    return weeks


def staged_bip_jobcentre_ids(staged_url: str) -> list[int]:
    """The BIP job centres (:func:`bipdask.prepare.bip.bip_jobcentre_ids`) from the staged responses'
    ``jobcentre_id`` column alone; none without bip_responses."""
    url = storage.join(staged_url, "bip_responses.parquet")
    if not storage.exists(url):
        return []
    return bip_jobcentre_ids(storage.read_parquet(url, columns=["jobcentre_id"]))


def _windows(raw: dict[str, tuple[str, str]]) -> dict[str, Period]:
    return {k: Period(dt.date.fromisoformat(a), dt.date.fromisoformat(b)) for k, (a, b) in raw.items()}


def _read_optional(staged_url: str, name: str) -> pd.DataFrame | None:
    """A staged whole table (``staged/<name>.parquet``), or ``None`` when the delivery had none."""
    url = storage.join(staged_url, f"{name}.parquet")
    return storage.read_parquet(url) if storage.exists(url) else None


def _jobcentre_frames(weeks: pd.DataFrame, dream_codes: pd.DataFrame, treated_ids: Sequence[int],
                      periods: dict[str, Period], cfg: ModelInputConfig, own_a: pd.DataFrame | None,
                      own_c: pd.DataFrame | None, own_persons: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every model input of one job centre the run reads: the moments of the share cell sums
    (:data:`SHARE_MOMENTS`), given the unit's ``own_persons`` the descriptive tables' sums
    (:data:`DESCRIPTIVE_MOMENTS`), and of the Table 6 cell sums, the descriptive tables' LAB weeks
    and the kinds of ``KINDS`` those :func:`bipdask.prepare.hir.written_kinds` keeps under ``cfg``
    (the per-person rows behind the sums only when a reduce gathers them)."""
    if not len(weeks):
        inputs = concat_inputs([], cfg.cluster).frames()
        frames = {"share_cells": empty_cell_sums(), "lab_weeks": empty_lab_week_sums()}
    else:
        inputs = concat_inputs([jobcentre_model_inputs(weeks, dream_codes, cfg, own_a, own_c)]).frames()
        frames = {"share_cells": share_cell_sums(weeks, dream_codes, treated_ids, periods),
                  "lab_weeks": lab_week_sums(weeks, dream_codes, treated_ids, periods)}
    frames.update(inputs)
    for kind in SHARE_MOMENTS:  # Tables 6 and 7's share block: the cell sums' moments (persons × periods → a few rows)
        frames[SHARE_MOMENTS[kind]] = person_cell_moments(frames[kind])
    if own_persons is not None:  # Tables 1, 2 and 5: per-unit sums, the persons' background joined here
        frames[DESCRIPTIVE_MOMENTS] = descriptive_moments(
            frames["lab_weeks"], own_persons, {k: periods[k].start for k in DESCRIPTIVE_WINDOWS if k in periods})
    kept = set(written_kinds(cfg, frames))
    return {k: v for k, v in frames.items() if k in kept}


SHARE_MOMENTS = {"share_cells": "share_moments", "new_course_share_cells": "new_course_share_moments"}
DESCRIPTIVE_MOMENTS = "descriptive_moments"


def compute_model_inputs_impl(
    units: Sequence[Sequence[int] | int],
    staged_url: str,
    model_input_url: str,
    treated_ids: Sequence[int],
    windows: dict[str, tuple[str, str]],
    config: dict[str, Any],
    cache_url: str | None = None,
    code_version: str = "",
    bip_ids: Sequence[int] = (),
) -> dict[str, Any]:
    """One pass over a batch of work units' staged weeks → every per-job-centre model input.

    ``units`` are :meth:`bipdask.prepare.partitions.Unit.key` lists ``[jobcentre_id, part, parts]``
    (a bare id: a whole job centre): a job centre too large for one task is cut into parts by a
    person hash (:mod:`bipdask.prepare.partitions`), each part's inputs written under
    :func:`~bipdask.prepare.partitions.unit_name`.
    Writes ``model_input/<kind>/<unit name>`` for the Table 6 cell sums (``share_cells``),
    the persons' resource-course weeks by LAB type (``lab_weeks``, Tables 1, 2, 5) and each kind
    of :data:`bipdask.prepare.hir.KINDS`; returns their URLs and row counts.
    Assignments and caseload are read only when the batch holds a participating job centre,
    and each job centre gets the rows of its own persons and of their caseworkers (Boks 1
    compares all of a person's assignments). Likewise the BIP responses only when the batch holds
    one of ``bip_ids`` (:func:`staged_bip_jobcentre_ids`): each unit of such a job centre also
    writes :data:`BIP_FIRST_HITS`, the BIP outcome's map part
    (:func:`bipdask.prepare.bip.first_hits` of its own citizens' responses on its weeks; a frame
    sized by the responses), so no BIP task reads weeks.

    Incremental refresh: with ``cache_url`` each job centre's inputs are keyed by content
    (:mod:`bipdask.runtime.input_cache`); a job centre whose key is cached is copied into the run
    instead of recomputed. The result lists both sets and the keys used.
    """
    t0 = time.perf_counter()
    work = sorted(Unit.from_key(u) for u in units)
    ids = sorted({u.jobcentre_id for u in work})
    cfg = ModelInputConfig.from_dict(config)
    dream_codes = storage.read_parquet(storage.join(staged_url, "dream_codes.parquet"))
    persons = storage.read_parquet(storage.join(staged_url, "persons.parquet"), columns=list(PERSON_COLUMNS))
    treated = set(int(i) for i in treated_ids)
    assignments = caseload = None
    if treated & set(ids):
        assignments = _read_optional(staged_url, "assignments")
        caseload = _read_optional(staged_url, "caseload")
    bip = set(int(i) for i in bip_ids)
    responses = None
    if bip & set(ids):
        responses = storage.read_parquet(storage.join(staged_url, "bip_responses.parquet"),
                                         columns=BIP_RESPONSE_COLUMNS)
    periods = _windows(windows)
    context = {"config": config, "windows": {k: list(v) for k, v in sorted(windows.items())},
               "treated_ids": sorted(treated), "code_version": code_version,
               "dream_codes": frame_digest(dream_codes)}
    urls: dict[str, list[str]] = {}
    rows: dict[str, int] = {}
    reused, recomputed, keys = [], [], []
    n_weeks = 0
    for unit in work:
        jc = unit.jobcentre_id
        is_bip = responses is not None and jc in bip
        weeks = read_staged_weeks(staged_url, jc, [*WEEKS_COLUMNS, "su"] if is_bip else WEEKS_COLUMNS, unit=unit)
        n_weeks += len(weeks)
        mine = None  # the responses of this unit's citizens: what its first hits depend on
        if is_bip:
            mine = responses[responses["person_id"].isin(pd.unique(weeks["person_id"])).to_numpy()]
            mine = mine.reset_index(drop=True)
        own_a = own_c = None
        if jc in treated and assignments is not None and caseload is not None and len(weeks):
            own_a = persons_rows(assignments, weeks["person_id"].unique())
            own_c = caseworkers_rows(caseload, own_a)
        own_persons = persons[persons["person_id"].isin(pd.unique(weeks["person_id"]))]
        name = unit_name(unit)
        counts = key = None
        if cache_url:
            key = input_cache.entry_key({"weeks": frame_digest(weeks), "assignments": frame_digest(own_a),
                                         "caseload": frame_digest(own_c), "persons": frame_digest(own_persons),
                                         "jobcentre_id": str(jc),
                                         **({"part": f"{unit.part}/{unit.parts}"} if unit.parts > 1 else {}),
                                         **({"bip_responses": frame_digest(mine)} if is_bip else {})},
                                        context)
            keys.append(key)
            counts = input_cache.lookup(cache_url, key)
            if counts is not None:
                input_cache.copy_out(cache_url, key, counts,
                                     {k: storage.join(model_input_url, k, name) for k in counts})
                reused.append(jc)
        if counts is None:
            hits = first_hits(mine, weeks) if is_bip else None
            if is_bip:
                del weeks["su"]  # the HIR inputs read the same columns as for any other job centre
            frames = _jobcentre_frames(weeks, dream_codes, treated_ids, periods, cfg, own_a, own_c, own_persons)
            if hits is not None:
                frames[BIP_FIRST_HITS] = hits
            counts = {k: int(len(v)) for k, v in frames.items()}
            files = {k: storage.parquet_bytes(v) for k, v in frames.items()}
            for kind, data in files.items():
                storage.write_bytes(data, storage.join(model_input_url, kind, name))
            if key is not None:
                input_cache.store(cache_url, key, files, counts)
            recomputed.append(jc)
        for kind, n in counts.items():
            urls.setdefault(kind, []).append(storage.join(model_input_url, kind, name))
            rows[kind] = rows.get(kind, 0) + int(n)
    return {"urls": urls, "rows": rows, "jobcentres": len(ids), "units": len(work), "weeks_rows": n_weeks,
            "reused": reused,
            "recomputed": recomputed, "keys": keys, "seconds": time.perf_counter() - t0}


# --------------------------------------------------------------------------- reduce and write


def from_unit_sums(sums: bool = True, *, persons_disjoint: bool = True, per_person: bool = False) -> bool:
    """Whether a reduce fits on the map units' summed statistics (:mod:`bipdask.prepare.sums`, summed
    in a tree by the flow: ``flows/tree.py``) rather than on the gathered per-person rows: the
    one rule of Tables 6/7's shares, Tables 1, 2, 5 and the durations (A/4, 7).

    The sums give the rows of the persons' rows when every unit wrote them (``sums``: a unit
    reused from an older cache may lack a kind), distinct persons add up over units
    (``persons_disjoint``: validation saw nobody with weeks in two job centres; a centre's parts are
    disjoint by construction) and the analysis needs nothing per person (``per_person``: a
    person-cluster bootstrap or fit): :func:`bipdask.prepare.hir.unit_sums_suffice`, the rule by which
    the map step leaves those rows out (:func:`bipdask.prepare.hir.written_kinds`)."""
    return bool(sums) and unit_sums_suffice(persons_disjoint, per_person)


def _share_cells(cell_urls: Sequence[str], moment_urls: Sequence[str] | None, persons_disjoint: bool,
                 inference: Inference) -> tuple[pd.DataFrame, str]:
    """Tables 6/7's share input: the units' moments (:func:`person_cell_moments`, a few rows per
    unit; ``moment_urls``: the units' files or the root of their tree) when they give the same rows
    (:func:`from_unit_sums`), else the gathered per-person cell sums. Returns the frame and which."""
    if from_unit_sums(moment_urls is not None, persons_disjoint=persons_disjoint,
                      per_person=inference.person_bootstrap):
        return storage.read_parquet(list(moment_urls)), "unit moments"
    return storage.read_parquet(list(cell_urls)), "person cell sums"


def estimate_share_did_impl(
    cell_urls: Sequence[str],
    treated_ids: Sequence[int],
    windows: Sequence[str],
    min_persons: int = 0,
    replicates_url: str | None = None,
    inference: Inference = Inference(),
    moment_urls: Sequence[str] | None = None,
    persons_disjoint: bool = False,
) -> ReduceOutput:
    """Reduce: fit Table 6 and (``inference.replicates`` > 0) its bootstrap from the units' moments
    or, when those cannot give the same rows, the concatenated per-person cell sums
    (:func:`_share_cells`); rows as plain dicts, replicates to ``replicates/<analysis>.parquet``."""
    t0 = time.perf_counter()
    cells, source = _share_cells(cell_urls, moment_urls, persons_disjoint, inference)
    rows = share_did_table(cells, treated_ids=treated_ids, before=windows[0], after=windows[1:],
                           min_persons=min_persons)
    rows, reps, files, counts = _share_bootstrap(SHARE_ANALYSIS, rows, cells, treated_ids, windows[0], windows[1:],
                                                 replicates_url, inference)
    if inference.method == "wild":  # the caseload cap was assigned to job centres
        rows = design_based_rows(rows, cells, treated_ids=treated_ids, before=windows[0], after=windows[1:],
                                 inference=inference, min_persons=min_persons)
    plain = _described(pd.DataFrame([dataclasses.asdict(r) for r in rows]), reps,
                       inference.cluster if reps is not None else "person_id")
    return ReduceOutput(rows=plain, files=files, counts=counts, notes={SHARE_ANALYSIS: {"input": source}},
                        seconds=time.perf_counter() - t0)


def _share_bootstrap(analysis: str, rows: list[Estimate], cells: pd.DataFrame, treated_ids: Sequence[int],
                     before: str, after: Sequence[str], replicates_url: str | None, inference: Inference,
                     pooled_only: bool = False) -> tuple[list[Estimate], pd.DataFrame | None, dict, dict]:
    """The person-cluster bootstrap of a share DiD (Tables 6, 7): rows with bootstrap SE/CI/p, the
    replicates (written to ``replicates/<analysis>.parquet``; ``pooled_only``: the ``|all|``
    columns), the file and its counts; the rows as they are without replicates. The replicates
    resample the run's clusters: persons, or job centres (the cell sums are additive, so a job
    centre's sums stand in for its persons')."""
    if not inference.bootstrap or not replicates_url:
        return rows, None, {}, {}
    n_clusters = None  # person clusters: each row keeps its own count of persons
    if inference.cluster == "jobcentre_id":
        cells = (jobcentre_rows(cells).groupby(["jobcentre_id", "period", "d"], as_index=False)[["n_weeks", "n_yes"]]
                 .sum().assign(person_id=lambda f: f["jobcentre_id"].astype("int64")))
        n_clusters = int(cells["jobcentre_id"].nunique())
    reps = share_did_replicates(cells, treated_ids=treated_ids, before=before, after=after, inference=inference)
    if pooled_only:
        reps = reps[["replicate", *(c for c in reps.columns if str(c).split("|")[1:2] == ["all"])]]
    url = storage.write_parquet(reps, storage.join(replicates_url, f"{analysis}.parquet"))
    rows = with_bootstrap(rows, reps, n_clusters=n_clusters)
    return rows, reps, {f"replicates_{analysis}": url}, {
        analysis: {"estimates": len(rows), "replicates": int(len(reps)), "replicate_columns": int(reps.shape[1] - 1)}}


def estimate_new_course_share_impl(
    cell_urls: Sequence[str],
    treated_ids: Sequence[int],
    replicates_url: str | None = None,
    inference: Inference = Inference(),
    moment_urls: Sequence[str] | None = None,
    persons_disjoint: bool = False,
) -> ReduceOutput:
    """Table 7's share block: Table 6's DiD (eq. 2) on the ``new_course_share_cells`` (their units'
    moments when those give the same rows, as :func:`estimate_share_did_impl`).

    Pooled rows only (Table 7 has no job-centre rows): ``did`` for the intervention period and
    ``mean_participating`` / ``mean_others`` for before and intervention, analysis
    ``share_internship_or_hours_new_courses``; with ``inference.replicates`` > 0 the person-cluster
    bootstrap of :mod:`bipdask.analyses.hir.shares` (the same replicate weights as Table 6 over
    these persons), replicates to ``replicates/share_internship_or_hours_new_courses.parquet``.
    Skipped (noted) when a D × period cell has no new course (a small delivery).
    """
    t0 = time.perf_counter()
    analysis = NEW_COURSE_SHARE_ANALYSIS
    before, after = NEW_COURSE_WINDOWS[0], list(NEW_COURSE_WINDOWS[1:])
    cells, source = _share_cells(cell_urls, moment_urls, persons_disjoint, inference)
    try:  # treated ids only split the participating cells by job centre: pooled fits need none
        rows = share_did_table(cells, treated_ids=(), before=before, after=after)
    except InputError as exc:
        return _skipped([analysis], str(exc), t0)
    rows = [dataclasses.replace(r, analysis=analysis) for r in rows if r.jobcentre_id is None]
    rows, reps, files, counts = _share_bootstrap(analysis, rows, cells, treated_ids, before, after, replicates_url,
                                                 inference, pooled_only=True)
    if inference.method == "wild":
        rows = design_based_rows(rows, cells, treated_ids=treated_ids, before=before, after=after, inference=inference)
    plain = _described(pd.DataFrame([dataclasses.asdict(r) for r in rows]), reps,
                       inference.cluster if reps is not None else "person_id")
    every = cells[cells["period"] == ALL_PERIODS] if "period2" in cells.columns else None
    notes = {analysis: {"persons": int(every["n_persons"].sum() if every is not None else cells["person_id"].nunique()),
                        "person_weeks": int((every if every is not None else cells)["n_weeks"].sum()),
                        "input": source,
                        "weeks": "course weeks of courses granted in the period (the hir_table7 rule: no course "
                                 "week in the lookback before), from the course start to the period end"}}
    return ReduceOutput(rows=plain, files=files, notes=notes, counts=counts, seconds=time.perf_counter() - t0)


def _plain_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Tidy rows as plain Python dicts (None for missing), fit for :class:`Estimate`."""
    out = []
    for r in frame.to_dict("records"):
        row = {}
        for k, v in r.items():
            if v is None or (not isinstance(v, str) and pd.isna(v)):
                row[k] = None
            elif k in ("jobcentre_id", "n_persons", "n_obs", "n_clusters", "n_replicates"):
                row[k] = int(v)
            elif isinstance(v, str):
                row[k] = v
            else:
                row[k] = float(v)
        out.append(row)
    return out


def check_linkage_impl(count_urls: Sequence[str], results_url: str, floor: float, available: bool,
                       quarantined: dict | None = None) -> dict[str, Any]:
    """Combine the job centres' linkage counts, write ``results/linkage_report.parquet`` and stop
    the run (InputError, exit 2) when the match rate is below the spec's floor.

    ``available`` is False when the delivery has no assignments or no caseload table: the
    linkage (and Table 9) cannot be made, which is reported, not an error. ``quarantined`` is
    the validation's (table → reason → rows), for the message to name rows set aside.
    """
    t0 = time.perf_counter()
    if not available:
        return {"available": False, "reason": "no assignments or caseload table in the delivery",
                "seconds": time.perf_counter() - t0}
    report = linkage_report_from_counts(storage.read_parquet(list(count_urls)))
    url = storage.write_parquet(linkage_report_table(report), storage.join(results_url, LINKAGE_FILE))
    out = {"available": True, "url": url, "person_weeks": report.person_weeks, "matched": report.matched,
           "linked": report.linked, "trimmed": report.trimmed, "no_caseworker": report.no_caseworker,
           "no_caseload_record": report.no_caseload_record, "match_rate": round(report.match_rate, 6),
           "usable_rate": round(report.usable_rate, 6), "floor": floor}
    check_match_rate(report, floor, quarantined)
    out["seconds"] = time.perf_counter() - t0
    return out


def _write_replicates(est: HazardEstimates, replicates_url: str) -> str | None:
    if est.replicates.shape[1] <= 1:  # only the replicate number: no bootstrap
        return None
    return storage.write_parquet(est.replicates, storage.join(replicates_url, f"{est.analysis}.parquet"))


def estimate_hir_durations_impl(
    count_urls: Sequence[str],
    person_urls: Sequence[str],
    results_url: str,
    replicates_url: str,
    inference: Inference,
    min_persons: int = 0,
    gap_urls: Sequence[str] = (),
    first_lab_urls: Sequence[str] = (),
) -> ReduceOutput:
    """Tables A/4 and 7 (Weibull DiD with bootstrap) and Figures 1–2 from the units' spell pattern
    counts (``spell_counts``, ``spell_persons``: :mod:`bipdask.prepare.spell_counts`; a few hundred
    rows per unit, at most one per job centre, D, E, week and event), stacked. Person clusters do
    not compress: then Tables A/4 and 7 gather the spells (``gap_urls``, ``first_lab_urls``)."""
    t0 = time.perf_counter()
    counts = [storage.read_parquet(list(count_urls))] if count_urls else []  # the units' count frames (or a root)
    persons = [storage.read_parquet(list(person_urls))] if person_urls else []
    kw = dict(inference=inference, min_persons=min_persons)
    raw, km = figure_curves_from_counts(combine_counts(counts, "gap"))
    files = {name: storage.write_parquet(frame, storage.join(results_url, f"{name}.parquet"))
             for name, frame in ((FIGURE1, raw), (FIGURE2, km))}
    if not from_unit_sums(per_person=inference.cluster == "person_id"):  # person bootstraps side by side, last
        t4, t7 = _side_by_side([(_spell_table, (table4, list(gap_urls), kw)),
                                (_spell_table, (table7, list(first_lab_urls), kw))])
    else:
        t4 = table4_from_counts(combine_counts(counts, "gap"), combine_persons(persons, "gap"), **kw)
        t7 = table7_from_counts(combine_counts(counts, "first_lab"), combine_persons(persons, "first_lab"), **kw)
    out = _outputs([t4, t7], replicates_url, t0, inference.cluster)  # the withholding rule, as every table
    return dataclasses.replace(out, files={**files, **out.files}, seconds=time.perf_counter() - t0)


def _spell_table(table: Callable, urls: list[str], kw: dict[str, Any]) -> Any:
    """Table 4 or 7 on the gathered spells at ``urls`` (person clusters)."""
    return table(storage.read_parquet(urls), **kw)


def _side_by_side(calls: Sequence[tuple[Callable, tuple]]) -> list[Any]:
    """``[fn(*args) for fn, args in calls]``, on every worker when this runs in a task on a Dask
    worker (:func:`flows.distributed_cox.on_every_worker`: in the workers' actor threads, not
    queued behind the run's long reduces; this task secedes meanwhile and does not rejoin, as
    :func:`flows.distributed_cox.time_varying_rows` — so callers do only light work after it): the
    person bootstraps of Tables 4 and 7 (~half the durations task each at B = 9,999) then run on
    both workers. Outside a worker (tests, a task body called directly) in turn, in this process.
    The results do not depend on where a call runs."""
    client = task_client()
    if client is None:
        return [fn(*args) for fn, args in calls]
    from distributed import secede

    secede()
    return on_every_worker(client, calls)


def _described(rows: pd.DataFrame, replicates: Any, cluster: str | None) -> list[dict[str, Any]]:
    """Rows as plain dicts with their inference columns filled (method, cluster level, usable
    replicates; :func:`bipdask.analyses.estimates.describe_inference`)."""
    return _plain_rows(describe_inference(rows, replicates, cluster=cluster))


def _outputs(estimates: Sequence[HazardEstimates], replicates_url: str, t0: float,
             cluster: str | None) -> ReduceOutput:
    """The task result of one or more analyses: rows, replicate files, notes, seconds."""
    rows, files, notes, counts = [], {}, {}, {}
    for est in estimates:
        kept, withheld = withhold_unstable_intervals(est.rows, est.replicates, est.analysis)
        rows += _described(kept, est.replicates, cluster)
        url = _write_replicates(est, replicates_url)
        if url:
            files[f"replicates_{est.analysis}"] = url
        notes[est.analysis] = {**est.notes, **({"intervals_withheld_failed_replicates": withheld} if withheld else {})}
        counts[est.analysis] = {"estimates": int(len(est.rows)), "replicates": int(len(est.replicates)) if url else 0,
                                "replicate_columns": int(est.replicates.shape[1] - 1) if url else 0}
    return ReduceOutput(rows=rows, files=files, notes=notes, counts=counts, seconds=time.perf_counter() - t0)


def _skipped(analyses: Sequence[str], reason: str, t0: float) -> ReduceOutput:
    return ReduceOutput.skipped(analyses, reason, seconds=time.perf_counter() - t0)


def estimate_hir_mediators_impl(
    time_varying_urls: Sequence[str],
    share_weeks_urls: Sequence[str],
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """Table 9: the stratified Cox on the week's caseload and its change (time-varying rows) and
    the share LPMs on the same (share_weeks); one replicates file ``hir_table9``. The Cox rows
    are fitted where the time-varying rows are (:mod:`flows.distributed_cox`): this task never
    holds them; they come last, as the task leaves its worker thread for them
    (:func:`flows.distributed_cox.time_varying_rows`)."""
    t0 = time.perf_counter()
    boot = dict(inference=inference)
    share = share_mediators_by_partition((storage.read_parquet(u) for u in share_weeks_urls),
                                         analysis="hir_table9", **boot)  # one unit's file at a time
    with time_varying_rows(time_varying_urls) as rows:
        cox = table9(rows, **boot)
    t9 = combine_estimates("hir_table9", cox, dataclasses.replace(share, notes={"share": share.notes}))
    return _outputs([t9], replicates_url, t0, inference.cluster)


def estimate_hir_beliefs_impl(
    time_varying_urls: Sequence[str],
    share_weeks_urls: Sequence[str],
    staged_url: str,
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """Table 10: the LAB hazard (Cox, as Table 9) and the share (LPM) on the week's caseworker's
    pre-survey belief; skipped (noted) when the delivery has no belief_survey."""
    t0 = time.perf_counter()
    survey = _read_optional(staged_url, "belief_survey")
    if survey is None:
        return _skipped(["hir_table10"], "no belief_survey table in the delivery", t0)
    boot = dict(inference=inference)
    without_belief: dict[str, int] = {}

    def shares():  # one unit's share weeks at a time, counting weeks without a pre-survey belief
        for url in share_weeks_urls:
            part = with_pre_belief(storage.read_parquet(url), survey)
            for c in part.columns:
                if c.endswith("_miss") and c.startswith("belief_"):
                    without_belief[c] = without_belief.get(c, 0) + int(part[c].sum())
            yield part

    share = share_mediators_by_partition(shares(), analysis="hir_table10", **boot)
    with time_varying_rows(time_varying_urls, survey) as rows:  # fitted where the rows are, last
        cox = table10(rows, **boot)
    t10 = combine_estimates("hir_table10", cox, dataclasses.replace(share, notes={"share": share.notes}))
    t10.notes["weeks_without_pre_belief"] = without_belief
    return _outputs([t10], replicates_url, t0, inference.cluster)


def estimate_hir_exits_impl(
    exit_cell_urls: Sequence[str],
    exit_person_urls: Sequence[str],
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """Table 8: the weekly exit LPMs (eq. 3) per destination on the gathered ``course_exit_cells``
    (frequency-weighted, exactly the person-week fit) and the persons' exit shares on the gathered
    ``course_exit_persons`` (:func:`bipdask.analyses.hir.exits.table8_from_cells`)."""
    t0 = time.perf_counter()
    t8 = table8_from_cells(storage.read_parquet(list(exit_cell_urls)), storage.read_parquet(list(exit_person_urls)),
                           inference=inference)
    return _outputs([t8], replicates_url, t0, inference.cluster)


def estimate_hir_belief_change_impl(
    staged_url: str,
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """Table 3: caseworker belief before/after (clustered by caseworker); skipped (noted) without a
    belief_survey or when too few caseworkers answered both waves."""
    t0 = time.perf_counter()
    survey = _read_optional(staged_url, "belief_survey")
    if survey is None:
        return _skipped(["hir_table3"], "no belief_survey table in the delivery", t0)
    jobcentres = storage.read_parquet(storage.join(staged_url, "jobcentres.parquet"))
    try:
        t3 = table3(survey, jobcentres, inference=inference.at_unit("caseworker_id"))
    except InputError as exc:
        return _skipped(["hir_table3"], str(exc), t0)
    return _outputs([t3], replicates_url, t0, "caseworker_id")


def estimate_hir_descriptives_impl(
    lab_week_urls: Sequence[str],
    staged_url: str,
    windows: dict[str, tuple[str, str]],
    replicates_url: str,
    moment_urls: Sequence[str] | None = None,
    persons_disjoint: bool = False,
) -> ReduceOutput:
    """Tables 1, 2 and 5 of the HIR quantitative report (persons, background, LAB mix)
    (:mod:`bipdask.analyses.hir.descriptives`): from the map units' sums (``moment_urls``: their files
    or the root of their tree) when they give the same rows (:func:`from_unit_sums`: no person in two
    job centres), else from the gathered ``lab_weeks`` and the staged persons."""
    t0 = time.perf_counter()
    starts = {k: _windows(windows)[k].start for k in windows}
    if from_unit_sums(moment_urls is not None, persons_disjoint=persons_disjoint):
        parts = descriptives_from_moments(storage.read_parquet(list(moment_urls)), starts)
        parts[0].notes["input"] = "unit moments"
        return _outputs(parts, replicates_url, t0, "person_id")
    lab_weeks = storage.read_parquet(list(lab_week_urls))
    persons = storage.read_parquet(storage.join(staged_url, "persons.parquet"))
    persons = persons[persons["person_id"].isin(pd.unique(lab_weeks["person_id"]))].reset_index(drop=True)
    parts = [table1_persons(lab_weeks), table2_background(lab_weeks, persons, starts), table5_lab_mix(lab_weeks)]
    parts[0].notes["input"] = "persons' rows"
    return _outputs(parts, replicates_url, t0, "person_id")


def estimate_hir_first_stage_impl(
    staged_url: str,
    treated_ids: Sequence[int],
    baseline: tuple[str, str] | None,
    intervention: tuple[str, str],
    plausible: tuple[float, float],
    fte_hours: float,
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """The first stage (HIR main report, Tabel 1): FTE caseload per caseworker, its change and DiD,
    from the staged caseload (:mod:`bipdask.analyses.hir.first_stage`); skipped (noted) without a
    caseload table or a caseload baseline period in the spec."""
    t0 = time.perf_counter()
    caseload = _read_optional(staged_url, "caseload")
    if caseload is None or len(caseload) == 0:
        return _skipped([FIRST_STAGE_ANALYSIS], "no caseload table in the delivery", t0)
    if baseline is None:
        return _skipped([FIRST_STAGE_ANALYSIS], "the spec has no periods.caseload_baseline", t0)
    periods = _windows({"baseline": tuple(baseline), "intervention": tuple(intervention)})
    est = caseload_table(caseload, treated_ids=treated_ids, baseline=periods["baseline"],
                         intervention=periods["intervention"], inference=inference,
                         plausible=(float(plausible[0]), float(plausible[1])), fte_hours=float(fte_hours))
    return _outputs([est], replicates_url, t0, "jobcentre_id")


BIP_INPUTS = "bip"  # the run's model_input/bip/: the BIP analyses' inputs, point rows and replicate blocks


def prepare_bip_impl(staged_url: str, model_input_url: str, first_hit_urls: Sequence[str] = ()) -> dict[str, Any]:
    """The BIP analyses' inputs, read once for all their tasks: the staged responses' citizens'
    persons rows and the earliest of the map step's first hits per response (``first_hit_urls``:
    the :data:`BIP_FIRST_HITS` files of the BIP job centres' units, or the root of their tree of
    combines; :func:`bipdask.prepare.bip.combine_first_hits`) to ``model_input/bip/`` — frames sized by the
    responses, never by the weeks; ``skipped`` (the reason) without bip_responses. Returns the
    URLs and counts, never rows."""
    t0 = time.perf_counter()
    responses = _read_optional(staged_url, "bip_responses")
    if responses is None or len(responses) == 0:
        return {"skipped": "no bip_responses table in the delivery", "seconds": time.perf_counter() - t0}
    persons = storage.read_parquet(storage.join(staged_url, "persons.parquet"))
    persons = persons[persons["person_id"].isin(pd.unique(responses["person_id"]))].reset_index(drop=True)
    hits = combine_first_hits([storage.read_parquet(u) for u in first_hit_urls])
    root = storage.join(model_input_url, BIP_INPUTS)
    return {"skipped": None, "responses": storage.join(staged_url, "bip_responses.parquet"),
            "persons": storage.write_parquet(persons, storage.join(root, "persons.parquet")),
            "first_hits": storage.write_parquet(hits, storage.join(root, "first_hits.parquet")),
            "counts": {"responses": int(len(responses)), "first_hits": int(len(hits)),
                       "first_hit_files": len(first_hit_urls), "jobcentres": len(bip_jobcentre_ids(responses))},
            "seconds": time.perf_counter() - t0}


def _bip_inputs(prepared: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    return tuple(storage.read_parquet(prepared[k]) for k in ("responses", "persons"))


def _bip_first_hits(prepared: dict[str, Any]) -> pd.DataFrame:
    return storage.read_parquet(prepared["first_hits"])


def estimate_bip_point_impl(prepared: dict[str, Any], inference: Inference, panel_end: str | None,
                            top_quartile: str = "eb", count_caseworker: str = "citizens") -> dict[str, Any]:
    """The BIP point rows (:func:`bipdask.analyses.bip.blocks.bip_point`) to ``model_input/bip/point.parquet``
    and, with replicates, each analysis's replicate plan (what its replicates need after the point
    fits) to ``model_input/bip/plans/<analysis>.pkl`` (``plans``: analysis → URL, in the replicate
    files' order); ``skipped`` when :func:`prepare_bip_impl` skipped or the sample rules leave
    nothing to fit."""
    t0 = time.perf_counter()
    if prepared["skipped"]:
        return {"skipped": prepared["skipped"], "seconds": time.perf_counter() - t0}
    if panel_end is None:
        return {"skipped": "no weeks in the delivery (no panel end for the 52-week outcome)",
                "seconds": time.perf_counter() - t0}
    root = prepared["persons"].rsplit("/", 1)[0]
    plans: dict[str, str] = {}

    def write_plan(analysis: str, plan: Any) -> None:  # as soon as it is made: one plan in memory
        plans[analysis] = storage.join(root, "plans", f"{analysis}.pkl")
        _write_plan(plan, plans[analysis])

    try:
        point = bip_point(*_bip_inputs(prepared), first_hits=_bip_first_hits(prepared), inference=inference,
                          plan_sink=write_plan, panel_end=panel_end, top_quartile=top_quartile,
                          count_caseworker=count_caseworker)
    except InputError as exc:
        return {"skipped": str(exc), "seconds": time.perf_counter() - t0}
    url = storage.write_parquet(estimates_table(point.rows), storage.join(root, "point.parquet"))
    return {"skipped": None, "url": url, "sample_responses": point.sample_responses, "plans": plans,
            "seconds": time.perf_counter() - t0}


def estimate_bip_block_impl(point: dict[str, Any], inference: Inference, window: Sequence[int]) -> dict[str, Any]:
    """Replicates ``window`` = [b0, b1) of the BIP analyses from the point task's replicate plans
    (:func:`bipdask.analyses.bip.blocks.bip_replicate_block_from_plans`, one plan read at a time; no
    point fit is redone) to ``model_input/bip/replicates/<analysis>/<b0>.parquet``; returns their
    URLs (nothing when the point task skipped)."""
    t0 = time.perf_counter()
    if point["skipped"] or not point.get("plans"):
        return {"urls": {}, "seconds": time.perf_counter() - t0}
    b0, b1 = (int(b) for b in window)
    loaders = {a: functools.partial(_read_plan, u) for a, u in point["plans"].items()}
    frames = bip_replicate_block_from_plans(loaders, inference.replace(window=(b0, b1)))
    root = storage.join(point["url"].rsplit("/", 1)[0], "replicates")
    urls = {a: storage.write_parquet(f, storage.join(root, a, f"{b0:07d}.parquet")) for a, f in frames.items()}
    return {"urls": urls, "seconds": time.perf_counter() - t0}


def _write_plan(plan: Any, url: str) -> None:
    """A replicate plan to ``url``, streamed (no bytes copy of a ~300 MB plan in the point task's memory)."""
    storage.write_stream(lambda fh: dump_plan(plan, fh), url)


def _read_plan(url: str) -> Any:
    return storage.read_stream(load_plan, url)


def estimate_bip_impl(
    prepared: dict[str, Any],
    point: dict[str, Any],
    blocks: Sequence[dict[str, Any]],
    replicates_url: str,
    inference: Inference,
) -> ReduceOutput:
    """The BIP analyses from their point rows and replicate blocks (in replicate order):
    :func:`bipdask.analyses.bip.blocks.combine_bip`, the same rows and replicate files as one
    call of :func:`bipdask.analyses.bip.estimates.bip_estimates` with all replicates; skipped (noted)
    without bip_responses or when the sample rules leave nothing to fit."""
    t0 = time.perf_counter()
    if point["skipped"]:
        return _skipped(["bip"], point["skipped"], t0)
    frames = [{a: storage.read_parquet(u) for a, u in b["urls"].items()} for b in blocks]
    rows, by_analysis = combine_bip(estimates_frame(storage.read_parquet(point["url"])), frames, inference.alpha)
    for est in by_analysis.values():
        rows, _ = withhold_unstable_intervals(rows, est.replicates, est.analysis)
    out = _outputs(list(by_analysis.values()), replicates_url, t0, "person_id")
    bip = {**prepared["counts"], "sample_responses": int(point["sample_responses"]), "replicate_blocks": len(blocks)}
    rows = _described(rows, [est.replicates for est in by_analysis.values()], "person_id")
    return dataclasses.replace(out, rows=rows, notes={**out.notes, "bip": bip}, seconds=time.perf_counter() - t0)


def write_results_impl(rows: Sequence[dict[str, Any]], results_url: str) -> str:
    """The tidy estimates to ``results/estimates.parquet`` (atomic); returns its URL."""
    url = storage.join(results_url, ESTIMATES_FILE)
    storage.write_parquet(estimates_table([Estimate(**r) for r in rows]), url)
    return url


def commit_run_impl(root: str, run_id: str, manifest: dict[str, Any], claim_token: str | None = None
                    ) -> dict[str, Any]:
    """Write the manifest (last) and the latest pointer.

    With ``claim_token`` the run's ``_claim`` must still hold that token (no other process
    took the run over as stale); otherwise nothing is written and the task fails.
    """
    layout = storage.RunLayout(root, run_id)
    if claim_token is not None and not claims.holds_claim(claims.Claim(layout.claim, claim_token)):
        if layout.is_committed():  # the one that took over committed the same run key
            return storage.open_run(root, run_id).manifest
        raise InfrastructureError(f"commit_run: the claim on run {run_id} was lost")
    committed = storage.commit(storage.RunLayout(root, run_id), manifest)
    return committed.manifest


def prune_cache_impl(root: str, keep_runs: int = input_cache.DEFAULT_KEEP_RUNS) -> dict[str, int]:
    """After a commit: drop model-input cache entries the newest ``keep_runs`` runs did not use.

    Housekeeping only: a failure is reported in the result, never fails the committed run.
    """
    try:
        return input_cache.prune(root, keep_runs)
    except Exception as exc:  # noqa: BLE001 - the run is committed; the next run prunes again
        return {"kept": -1, "removed": 0, "error": type(exc).__name__}


def sync_history_impl(root: str, run_id: str) -> dict[str, Any]:
    """After a commit: the committed run's rows into the cross-run table ``<root>/published/``,
    and any committed run missing from it (an earlier append that never ran) added
    (:func:`bipdask.publish.history.sync_history`). Run ids and counts only."""
    result = history.sync_history(root)
    return {"run_id": run_id, "in_table": run_id in history.table_run_ids(root),
            "added": list(result.added), "removed": list(result.removed), "unchanged": result.unchanged,
            "problems": list(result.problems)}


# --------------------------------------------------------------------------- Prefect tasks

RETRY_DELAYS_S = [1, 4, 16]  # exponential backoff between the attempts of an I/O task


def retry_unless_input_error(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect ``retry_condition_fn``: retry infrastructure failures, never bad input (the same
    delivery fails the same way every time)."""
    exc = state.data if isinstance(state.data, BaseException) else None
    return not isinstance(exc, InputError)


def write_report_impl(run_url: str, manifest: dict[str, Any], languages: Sequence[str] = ("en", "da")) -> list[str]:
    """The disclosure-protected HTML report of the run, written before the commit (so a committed run
    always has one), in English and Danish; returns the URLs of the HTML files."""
    from bipdask.publish.report.build import write_report as _write

    return [str(_write(run_url, lang=lang, manifest=manifest)) for lang in languages]


def bipdask_task(impl: Callable, *, name: str, idempotent: bool = False, **options: Any) -> Any:
    """The Prefect task ``name`` over ``impl``: no cache, prints not logged, any unexpected
    failure re-raised without data values (:func:`_sanitized`).

    ``idempotent`` I/O tasks — every attempt rewrites the same objects (staging starts by
    removing the staged layer), so a retry after a transient failure cannot duplicate rows —
    retry with backoff (:data:`RETRY_DELAYS_S`), never on bad input; the others do not retry.
    ``options`` go to Prefect's ``task`` (e.g. ``task_run_name``, a template of the parameters).
    """
    retry: dict[str, Any] = (dict(retries=len(RETRY_DELAYS_S), retry_delay_seconds=RETRY_DELAYS_S,
                                  retry_condition_fn=retry_unless_input_error)
                             if idempotent else dict(retries=0))
    made = task(name=name, cache_policy=NO_CACHE, log_prints=False, **retry, **options)(_sanitized(name)(impl))
    TASKS.append(made)
    return made


TASKS: list[Any] = []  # every task bipdask_task made: the flow gives each its timeout (flows.timeouts)


validate_and_stage = bipdask_task(validate_and_stage_impl, name="validate_and_stage", idempotent=True)
compute_model_inputs = bipdask_task(compute_model_inputs_impl, name="compute_model_inputs", idempotent=True)
check_linkage = bipdask_task(check_linkage_impl, name="check_linkage")
estimate_share_did = bipdask_task(estimate_share_did_impl, name="estimate_share_did")
estimate_new_course_share = bipdask_task(estimate_new_course_share_impl, name="estimate_new_course_share")
estimate_hir_durations = bipdask_task(estimate_hir_durations_impl, name="estimate_hir_durations")
estimate_hir_mediators = bipdask_task(estimate_hir_mediators_impl, name="estimate_hir_mediators")
estimate_hir_beliefs = bipdask_task(estimate_hir_beliefs_impl, name="estimate_hir_beliefs")
estimate_hir_exits = bipdask_task(estimate_hir_exits_impl, name="estimate_hir_exits")
estimate_hir_belief_change = bipdask_task(estimate_hir_belief_change_impl, name="estimate_hir_belief_change")
prepare_bip = bipdask_task(prepare_bip_impl, name="prepare_bip", idempotent=True)
estimate_bip_point = bipdask_task(estimate_bip_point_impl, name="estimate_bip_point", idempotent=True)
estimate_bip_block = bipdask_task(estimate_bip_block_impl, name="estimate_bip_block", idempotent=True)
estimate_bip = bipdask_task(estimate_bip_impl, name="estimate_bip")
estimate_hir_descriptives = bipdask_task(estimate_hir_descriptives_impl, name="estimate_hir_descriptives")
estimate_hir_first_stage = bipdask_task(estimate_hir_first_stage_impl, name="estimate_hir_first_stage")
write_results = bipdask_task(write_results_impl, name="write_results", idempotent=True)
write_report = bipdask_task(write_report_impl, name="write_report", idempotent=True)
commit_run = bipdask_task(commit_run_impl, name="commit_run", idempotent=True)
prune_cache = bipdask_task(prune_cache_impl, name="prune_cache", idempotent=True)
sync_history = bipdask_task(sync_history_impl, name="sync_history", idempotent=True)
