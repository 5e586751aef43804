"""One job centre's model inputs for the HIR duration and mediator analyses (HIR quantitative report).

The map side of a run (``docs/architecture.md#data-flow-of-a-run``, step 4: per job centre,
linkage → spells/outcomes → sufficient statistics): from one job centre's staged weeks (+ the
versioned DREAM code list, and for a participating job centre its assignments and caseload
records) :func:`jobcentre_model_inputs` builds, in one pass over the weeks,

- ``gap_spells`` — gaps between LAB spells begun in the before (E=0) and the intervention period
  (E=1), the durations of eq. (1), Tables A/4 and Figures 1–2;
- ``first_lab_spells`` — time from a newly granted course to its first LAB (Table 7);
- ``spell_counts`` and ``spell_persons`` — both kinds of spells as pattern counts per (job centre,
  D, E, duration, event) and distinct persons per job centre and period
  (:mod:`bipdask.prepare.spell_counts`): what Tables A/4, 7 and Figures 1–2 are fitted on when the
  clusters are job centres. The spells themselves are written only for person clusters
  (:func:`written_kinds`);
- ``new_course_share_cells`` — per person and period the weeks of the courses newly granted in the
  before (E=0) or the intervention period (E=1), from the course start to the period end, and how
  many had a company internship or ordinary hours (Table 7's share block; the columns of
  :func:`bipdask.prepare.outcomes.share_cell_sums`, the same new-course rule and lookback as
  ``first_lab_spells``);
- ``course_exit_cells`` and ``course_exit_persons`` — Table 8's sufficient statistics
  (:mod:`bipdask.prepare.exit_cells`): per (cluster, week within the period τ, D, E) the course
  weeks and their exits to each destination, and per person, period and job centre the first
  course week and whether the course ended to each destination (from
  :func:`bipdask.prepare.spells.course_exits`, never written row by row);
- ``time_varying`` — the intervention-period gap spells of a participating job centre split into
  person-weeks with that week's caseworker, FTE caseload and its change from the January–February
  2018 baseline (Boks 1; the counting-process input of the Cox mediator models, Tables 9–10);
- ``share_weeks`` — the intervention-period resource-course person-weeks of a participating job
  centre with the week's share outcome (company internship or ordinary hours), caseworker and
  caseload (the person-week LPMs of Tables 9–10);
- ``linkage_counts`` — how many of the job centre's intervention-period resource-course
  person-weeks were linked, per week (counts only; :func:`linkage_report_from_counts` turns the
  gathered counts back into a :class:`bipdask.prepare.linkage.LinkageReport`).

The caseworker's pre-survey belief (Table 10) is joined at the reduce, on ``caseworker_id``, by
:func:`with_pre_belief`: the survey is small and not per job centre.

Every frame keeps only the columns its estimator needs (the Weibull: D, E, jobcentre_id,
person_id, duration, event) in narrow integer types: these are the files the reduce reads.
Pure functions over frames; no I/O.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bipdask.analyses.hir.beliefs import BELIEF_PREFIX, BELIEFS, belief_percentages
from bipdask.analyses.hir.linear_table import SHARE_OUTCOME
from bipdask.data.contract import FTE_HOURS_PER_WEEK
from bipdask.data.weeks import as_datetime64
from bipdask.prepare.exit_cells import (
    empty_exit_cells,
    empty_exit_persons,
    exit_cells,
    exit_persons,
    period_first_weeks,
)
from bipdask.prepare.linkage import (
    LINK_STATUSES,
    LinkageReport,
    add_caseload_change,
    caseload_baseline,
    caseload_fte,
    combine_linkage_reports,
    link_caseload,
    linkage_report,
)
from bipdask.prepare.outcomes import (
    NEW_COURSE_WINDOWS,
    empty_cell_sums,
    in_internship_or_hours,
    new_course_share_cell_sums,
)
from bipdask.prepare.spell_counts import unit_spell_counts, unit_spell_persons
from bipdask.prepare.spells import (
    course_exits,
    first_lab_spells,
    gap_spells,
    time_varying_rows,
    with_course_status,
)
from bipdask.spec import EvaluationSpec, Period

KINDS = ("gap_spells", "first_lab_spells", "new_course_share_cells", "course_exit_cells", "course_exit_persons",
         "time_varying", "share_weeks", "linkage_counts", "spell_counts", "spell_persons")
SPELL_ROW_KINDS = ("gap_spells", "first_lab_spells")  # rows: read only by the person-cluster Tables 4/7
SPELL_COLUMNS = ("D", "E", "jobcentre_id", "person_id", "duration", "event")
TIME_VARYING_COLUMNS = ("jobcentre_id", "person_id", "start", "stop", "event", "caseload", "casemiss",
                        "caseload_change", "change_miss", "caseworker_id")
SHARE_WEEK_COLUMNS = ("person_id", "jobcentre_id", "week", SHARE_OUTCOME, "caseload", "casemiss", "caseload_change",
                      "change_miss", "caseworker_id")
MISS_SUFFIX = "_miss"
COUNT_COLUMNS = ("person_weeks", *LINK_STATUSES)
LINKAGE_COLUMNS = ("jobcentre_id", "week", *COUNT_COLUMNS)

__all__ = [
    "KINDS",
    "JobcentreInputs",
    "caseworkers_rows",
    "concat_inputs",
    "persons_rows",
    "ModelInputConfig",
    "empty_inputs",
    "jobcentre_model_inputs",
    "linkage_counts",
    "linkage_report_from_counts",
    "linkage_report_table",
    "unit_sums_suffice",
    "written_kinds",
]


# per-person rows whose per-unit sums the reduces fit on when those give the same rows
# (:func:`unit_sums_suffice`) → whether a person-level bootstrap reads the rows themselves
SUMMED_ROW_KINDS = {"share_cells": True, "new_course_share_cells": True, "lab_weeks": False}


def unit_sums_suffice(persons_disjoint: bool, person_bootstrap: bool) -> bool:
    """Whether per-unit sums give the same rows as the units' gathered per-person rows: distinct
    persons add up over units only when no person has weeks in two units (``persons_disjoint``;
    a job centre's parts are disjoint by construction), and a person-level bootstrap resamples the
    persons themselves (``person_bootstrap``)."""
    return bool(persons_disjoint) and not person_bootstrap


def written_kinds(config: ModelInputConfig, kinds: Iterable[str] = KINDS) -> tuple[str, ...]:
    """The kinds of ``kinds`` the map writes under ``config``, in their order: the spell rows only
    for person clusters (job-centre clusters fit Tables A/4 and 7 on ``spell_counts``,
    :mod:`bipdask.prepare.spell_counts`); the per-person rows of :data:`SUMMED_ROW_KINDS` only when
    their per-unit sums do not suffice (:func:`unit_sums_suffice`); every other kind always."""
    def needed(kind: str) -> bool:
        if kind in SPELL_ROW_KINDS:
            return config.cluster == "person_id"
        if kind in SUMMED_ROW_KINDS:
            return not unit_sums_suffice(config.persons_disjoint, SUMMED_ROW_KINDS[kind] and config.person_bootstrap)
        return True

    return tuple(k for k in kinds if needed(k))


@dataclass(frozen=True)
class ModelInputConfig:
    """What the per-job-centre inputs depend on, taken from the spec (plain values, picklable).

    ``panel_start`` is the first week the delivery observes (for Table 7's 52-week lookback);
    ``None`` uses the job centre's own first week. ``cluster`` is the spec's cluster column
    (``"jobcentre_id"`` or ``"person_id"``): Table 8's exit cells lie within its clusters.
    ``persons_disjoint`` (validation saw no person with weeks in two job centres) and
    ``person_bootstrap`` (the spec bootstraps persons) decide which per-person rows the map writes
    (:func:`written_kinds`); the defaults write them all.
    """

    treated_ids: tuple[int, ...]
    before: tuple[dt.date, dt.date]
    intervention: tuple[dt.date, dt.date]
    caseload_baseline: tuple[dt.date, dt.date] | None = None
    caseload_trim: tuple[float, float] = (13.0, 50.0)
    fte_hours: float = FTE_HOURS_PER_WEEK
    lookback_weeks: int = 52
    panel_start: dt.date | None = None
    cluster: str = "jobcentre_id"
    persons_disjoint: bool = False
    person_bootstrap: bool = True

    @classmethod
    def from_spec(cls, spec: EvaluationSpec, treated_ids: Iterable[int],
                  panel_start: dt.date | str | None = None, persons_disjoint: bool = False) -> ModelInputConfig:
        base = spec.caseload_baseline
        inference = spec.inference()
        return cls(
            treated_ids=tuple(sorted(int(i) for i in treated_ids)),
            before=(spec.before.start, spec.before.end),
            intervention=(spec.intervention.start, spec.intervention.end),
            caseload_baseline=None if base is None else (base.start, base.end),
            caseload_trim=tuple(float(x) for x in spec.caseload_trim),
            fte_hours=float(spec.fte_hours_per_week),
            panel_start=None if panel_start is None else pd.Timestamp(panel_start).date(),
            cluster=inference.cluster,
            persons_disjoint=bool(persons_disjoint),
            person_bootstrap=inference.person_bootstrap,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-able form (ISO dates), the task argument."""
        out = dataclasses.asdict(self)
        for k, v in out.items():
            if isinstance(v, tuple) and v and isinstance(v[0], dt.date):
                out[k] = [d.isoformat() for d in v]
            elif isinstance(v, dt.date):
                out[k] = v.isoformat()
            elif isinstance(v, tuple):
                out[k] = list(v)
        return out

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> ModelInputConfig:
        def dates(x):
            return None if x is None else tuple(dt.date.fromisoformat(str(d)) for d in x)

        return cls(
            treated_ids=tuple(int(i) for i in raw["treated_ids"]),
            before=dates(raw["before"]),
            intervention=dates(raw["intervention"]),
            caseload_baseline=dates(raw.get("caseload_baseline")),
            caseload_trim=tuple(float(x) for x in raw.get("caseload_trim", (13.0, 50.0))),
            fte_hours=float(raw.get("fte_hours", FTE_HOURS_PER_WEEK)),
            lookback_weeks=int(raw.get("lookback_weeks", 52)),
            panel_start=None if raw.get("panel_start") is None else dt.date.fromisoformat(str(raw["panel_start"])),
            cluster=str(raw.get("cluster", "jobcentre_id")),
            persons_disjoint=bool(raw.get("persons_disjoint", False)),
            person_bootstrap=bool(raw.get("person_bootstrap", True)),
        )


@dataclass(frozen=True)
class JobcentreInputs:
    """The model inputs of one job centre (or several, concatenated); one frame per kind."""

    gap_spells: pd.DataFrame
    first_lab_spells: pd.DataFrame
    new_course_share_cells: pd.DataFrame
    course_exit_cells: pd.DataFrame
    course_exit_persons: pd.DataFrame
    time_varying: pd.DataFrame
    share_weeks: pd.DataFrame
    linkage_counts: pd.DataFrame
    spell_counts: pd.DataFrame
    spell_persons: pd.DataFrame

    def frames(self) -> dict[str, pd.DataFrame]:
        return {k: getattr(self, k) for k in KINDS}

    def row_counts(self) -> dict[str, int]:
        return {k: int(len(v)) for k, v in self.frames().items()}


# --------------------------------------------------------------------------- compact frames


def _spells(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "D": frame["D"].to_numpy(np.int8),
        "E": frame["E"].to_numpy(np.int8),
        "jobcentre_id": frame["jobcentre_id"].to_numpy(np.int32),
        "person_id": frame["person_id"].to_numpy(np.int64),
        "duration": frame["duration"].to_numpy(np.int32),
        "event": frame["event"].to_numpy(np.int8),
    })


def _time_varying(frame: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "jobcentre_id": frame["jobcentre_id"].to_numpy(np.int32),
        "person_id": frame["person_id"].to_numpy(np.int64),
        "start": frame["start"].to_numpy(np.int16),
        "stop": frame["stop"].to_numpy(np.int16),
        "event": frame["event"].to_numpy(np.int8),
        **_caseload_columns(frame),
    })


def _caseload_columns(frame: pd.DataFrame) -> dict:
    """The week's linkage columns (caseload, casemiss, caseload_change, change_miss,
    caseworker_id) in their compact model-input types."""
    return {
        "caseload": frame["caseload"].to_numpy(np.float64),
        "casemiss": frame["casemiss"].to_numpy(np.int8),
        "caseload_change": frame["caseload_change"].to_numpy(np.float64),
        "change_miss": frame["change_miss"].to_numpy(np.int8),
        "caseworker_id": pd.array(frame["caseworker_id"], dtype="Int64"),
    }


def share_weeks(course_weeks: pd.DataFrame, linked: pd.DataFrame) -> pd.DataFrame:
    """The person-weeks of the share mediator LPMs (Tables 9–10): :data:`SHARE_WEEK_COLUMNS`.

    Parameters
    ----------
    course_weeks : DataFrame
        A job centre's resource-course weeks: person_id, week, lab_type, ordinary_hours.
    linked : DataFrame
        :func:`bipdask.prepare.linkage.link_caseload` + :func:`bipdask.prepare.linkage.add_caseload_change` on
        those weeks: one row per intervention-period course week, sorted by person and week.

    Returns
    -------
    DataFrame
        One row per row of ``linked`` (same order) with the week's share outcome
        (``in_internship_or_hours``: company internship or ordinary hours > 0, int8) and its
        caseworker (``caseworker_id``, <NA> when unlinked), caseload, casemiss, caseload_change,
        change_miss.
    """
    outcome = pd.DataFrame({
        "person_id": course_weeks["person_id"].to_numpy(np.int64),
        "week": as_datetime64(course_weeks["week"]).to_numpy("datetime64[ns]"),
        "y": in_internship_or_hours(course_weeks["lab_type"], course_weeks["ordinary_hours"]).to_numpy(np.int8),
    })
    keys = pd.DataFrame({"person_id": linked["person_id"].to_numpy(np.int64),
                         "week": as_datetime64(linked["week"]).to_numpy("datetime64[ns]")})
    y = keys.merge(outcome, on=["person_id", "week"], how="left", validate="one_to_one")["y"]
    return pd.DataFrame({
        "person_id": keys["person_id"].to_numpy(),
        "jobcentre_id": linked["jobcentre_id"].to_numpy(np.int32),
        "week": keys["week"].to_numpy(),
        SHARE_OUTCOME: y.fillna(0).to_numpy(np.int8),
        **_caseload_columns(linked),
    })


def with_pre_belief(person_weeks: pd.DataFrame, belief_survey: pd.DataFrame) -> pd.DataFrame:
    """Add the week's caseworker's pre-survey belief (HIR Table 10, *tro på borgeren* before).

    For each belief of :data:`bipdask.analyses.hir.beliefs.BELIEFS`: ``belief_<name>`` = the answer in
    percent of the caseworker's caseload in the ``pre`` wave
    (:func:`bipdask.analyses.hir.beliefs.belief_percentages`) and ``belief_<name>_miss`` = 1 where there is
    none — the week has no caseworker, or the caseworker did not answer (that question of) the
    pre survey — with the belief then 0, the report's casemiss convention. A caseworker with
    several pre answers gets their mean.

    Parameters
    ----------
    person_weeks : DataFrame with ``caseworker_id`` (nullable): ``time_varying`` or ``share_weeks``.
    belief_survey : the contract table (both waves; only ``pre`` is used).

    Returns
    -------
    DataFrame
        ``person_weeks`` (same rows, same order) with the belief columns (float64) and the
        indicators (int8).
    """
    pre = belief_percentages(belief_survey, wave="pre")
    cols = [BELIEF_PREFIX + b for b in BELIEFS]
    per_cw = pre.groupby(pre["caseworker_id"].to_numpy(np.int64), sort=True)[cols].mean()
    cw = person_weeks["caseworker_id"]
    has = cw.notna().to_numpy()
    ids = cw.to_numpy(np.int64, na_value=-1) if hasattr(cw, "to_numpy") else np.asarray(cw, np.int64)
    out = person_weeks.copy()
    for c in cols:
        value = np.full(len(out), np.nan)
        if has.any():
            value[has] = per_cw[c].reindex(ids[has]).to_numpy(np.float64)
        miss = np.isnan(value)
        out[c] = np.where(miss, 0.0, value)
        out[c + MISS_SUFFIX] = miss.astype(np.int8)
    return out


def linkage_counts(report: LinkageReport, jobcentre_id: int) -> pd.DataFrame:
    """A job centre's linkage report as counts per week (no ids): :data:`LINKAGE_COLUMNS`."""
    by_week = report.by_week
    out = pd.DataFrame({
        "jobcentre_id": np.full(len(by_week), int(jobcentre_id), np.int32),
        "week": as_datetime64(by_week["week"]).to_numpy("datetime64[ns]") if len(by_week)
        else np.array([], "datetime64[ns]"),
    })
    for c in COUNT_COLUMNS:
        out[c] = by_week[c].to_numpy(np.int64) if len(by_week) else np.array([], np.int64)
    return out


def combine_linkage_counts(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several units' :func:`linkage_counts` as one frame of the same form: the counts of equal
    (jobcentre_id, week) summed (the parts of a job centre add up; integers, so any grouping of the
    units gives the same frame and the same :func:`linkage_report_from_counts`). Sorted by the keys."""
    frames = [f for f in parts if len(f)]
    if not frames:
        return linkage_counts(linkage_report(pd.DataFrame({"jobcentre_id": [], "week": [], "link_status": []})), 0)
    both = pd.concat([f[list(LINKAGE_COLUMNS)] for f in frames], ignore_index=True)
    out = both.groupby(["jobcentre_id", "week"], sort=True)[list(COUNT_COLUMNS)].sum().reset_index()
    return pd.DataFrame({"jobcentre_id": out["jobcentre_id"].to_numpy(np.int32),
                         "week": out["week"].to_numpy("datetime64[ns]"),
                         **{c: out[c].to_numpy(np.int64) for c in COUNT_COLUMNS}})


def linkage_report_from_counts(counts: pd.DataFrame) -> LinkageReport:
    """Rebuild the per-job-centre reports from gathered :func:`linkage_counts` and combine them.

    Returns the national :class:`~bipdask.prepare.linkage.LinkageReport` (overall, per job centre, per
    week) via :func:`bipdask.prepare.linkage.combine_linkage_reports`.
    """
    reports = []
    for jc, g in counts.groupby("jobcentre_id", sort=True):
        # a job centre cut into parts (bipdask.prepare.partitions) has one row per part and week
        by_week = g.groupby("week", sort=True, as_index=False)[list(COUNT_COLUMNS)].sum()
        by_week = _rates(by_week)
        totals = {c: int(g[c].sum()) for c in COUNT_COLUMNS}
        by_jc = _rates(pd.DataFrame({"jobcentre_id": np.array([jc], np.int32),
                                     **{c: np.array([totals[c]], np.int64) for c in COUNT_COLUMNS}}))
        reports.append(LinkageReport(by_jobcentre=by_jc, by_week=by_week, **totals))
    if not reports:
        return linkage_report(pd.DataFrame({"jobcentre_id": [], "week": [], "link_status": []}))
    return combine_linkage_reports(reports)


def linkage_report_table(report: LinkageReport) -> pd.DataFrame:
    """The linkage report as one tidy frame (counts only, no ids): overall, per job centre, per week.

    Columns: level ("overall"/"jobcentre"/"week"), jobcentre_id (null unless level is
    "jobcentre"), week (null unless "week"), person_weeks, linked, trimmed, no_caseworker,
    no_caseload_record, matched (= linked + trimmed, Boks 1's count), match_rate.
    """
    overall = pd.DataFrame({c: [int(getattr(report, c))] for c in COUNT_COLUMNS}).assign(level="overall")
    by_jc = report.by_jobcentre.assign(level="jobcentre")
    by_week = report.by_week.assign(level="week")
    frames = [f for f in (overall, by_jc, by_week) if len(f)]
    out = pd.concat(frames, ignore_index=True) if frames else overall.iloc[:0]
    table = pd.DataFrame({
        "level": out["level"].astype(object).to_numpy(),
        "jobcentre_id": pd.array(out["jobcentre_id"] if "jobcentre_id" in out else [pd.NA] * len(out), dtype="Int32"),
        "week": pd.to_datetime(out["week"]) if "week" in out else pd.Series(pd.NaT, index=out.index),
    })
    for c in COUNT_COLUMNS:
        table[c] = out[c].to_numpy(np.int64)
    table["matched"] = table["linked"] + table["trimmed"]
    with np.errstate(invalid="ignore", divide="ignore"):
        table["match_rate"] = table["matched"].to_numpy(np.float64) / table["person_weeks"].to_numpy(np.float64)
    return table


def _rates(frame: pd.DataFrame) -> pd.DataFrame:
    pw = frame["person_weeks"].to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        frame["match_rate"] = (frame["linked"] + frame["trimmed"]).to_numpy(np.float64) / pw
    return frame


# --------------------------------------------------------------------------- one job centre


def empty_inputs(cluster: str = "jobcentre_id") -> JobcentreInputs:
    """Typed empty frames of every kind (a job centre without weeks; ``course_exit_cells`` keyed by
    ``cluster``); fresh copies of frames built once per process (building them costs ~30 ms, paid
    per job centre otherwise)."""
    frames = {k: getattr(_empty_inputs(), k).copy() for k in KINDS}
    frames["course_exit_cells"] = empty_exit_cells(cluster)
    return JobcentreInputs(**frames)


@functools.lru_cache(maxsize=1)
def _empty_inputs() -> JobcentreInputs:
    spells = _spells(pd.DataFrame({c: [] for c in SPELL_COLUMNS}))
    tv = _time_varying(pd.DataFrame({c: np.array([], np.float64) for c in TIME_VARYING_COLUMNS}))
    shares = share_weeks(pd.DataFrame({"person_id": [], "week": np.array([], "datetime64[ns]"), "lab_type": [],
                                       "ordinary_hours": []}),
                         pd.DataFrame({c: np.array([], np.float64) for c in (*SHARE_WEEK_COLUMNS, "week")}
                                      ).assign(week=np.array([], "datetime64[ns]")))
    counts = pd.DataFrame({"jobcentre_id": np.array([], np.int32), "week": np.array([], "datetime64[ns]"),
                           **{c: np.array([], np.int64) for c in COUNT_COLUMNS}})
    none = {"gap": spells, "first_lab": spells}
    return JobcentreInputs(spells, spells.copy(), empty_cell_sums(), empty_exit_cells(), empty_exit_persons(), tv,
                           shares, counts, unit_spell_counts(none), unit_spell_persons(none))


def jobcentre_model_inputs(
    weeks: pd.DataFrame,
    dream_codes: pd.DataFrame,
    config: ModelInputConfig,
    assignments: pd.DataFrame | None = None,
    caseload: pd.DataFrame | None = None,
) -> JobcentreInputs:
    """All HIR model inputs of one job centre from its weeks (Tables 4, 7, 8, 9; Boks 1).

    Parameters
    ----------
    weeks : DataFrame
        One job centre's staged weeks: person_id, week, jobcentre_id, dream_code, lab_type,
        ordinary_hours, employed (the whole panel: the before period, the intervention period and the weeks
        before them that the spell definitions look back on).
    dream_codes : DataFrame
        The versioned DREAM code list (course status per week).
    config : ModelInputConfig
        Periods, participating job centres, caseload trim and baseline window.
    assignments, caseload : DataFrame, optional
        The job centre's caseworker assignments and caseload records (all rows of its persons
        and of their caseworkers). Linkage and the time-varying rows are built only for a
        participating job centre when both are given; otherwise those frames are empty.

    Returns
    -------
    JobcentreInputs
        Compact frames, each sorted as its builder sorts it (person, then time).
    """
    if len(weeks) == 0:
        return empty_inputs(config.cluster)
    panel = with_course_status(weeks, dream_codes)
    if "lab_type" in panel.columns:  # compared in every spell builder below: once per category, not per row
        panel["lab_type"] = panel["lab_type"].astype("category")
    treated = config.treated_ids
    gaps, firsts, exits = [], [], []
    gaps_e1 = None
    for E, (start, end) in ((0, config.before), (1, config.intervention)):
        kw = dict(period_start=start, period_end=end, treated_jobcentre_ids=treated, E=E)
        g = gap_spells(panel, **kw)
        if E == 1:
            gaps_e1 = g
        gaps.append(_spells(g))
        firsts.append(_spells(first_lab_spells(panel, lookback_weeks=config.lookback_weeks,
                                               panel_start=config.panel_start, **kw)))
        exits.append(course_exits(panel, **kw))
    new_course_cells = empty_cell_sums()
    if "ordinary_hours" in panel.columns:
        windows = dict(zip(NEW_COURSE_WINDOWS, (Period(*config.before), Period(*config.intervention))))
        new_course_cells = new_course_share_cell_sums(panel, treated, windows, lookback_weeks=config.lookback_weeks)
    exits = pd.concat(exits, ignore_index=True)
    out = empty_inputs(config.cluster)
    tv, shares, counts = out.time_varying, out.share_weeks, out.linkage_counts
    jc = int(pd.unique(weeks["jobcentre_id"])[0])
    is_treated = jc in set(treated)
    if is_treated and assignments is not None and caseload is not None:
        start, end = config.intervention
        wanted = [c for c in ("person_id", "week", "jobcentre_id", "lab_type", "ordinary_hours") if c in panel]
        course_weeks = panel.loc[panel["in_course"].to_numpy(bool), wanted]
        linked = link_caseload(course_weeks, assignments, caseload, period_start=start, period_end=end,
                               trim=config.caseload_trim, fte_hours=config.fte_hours)
        if config.caseload_baseline is not None:
            base = caseload_baseline(caseload_fte(caseload, fte_hours=config.fte_hours),
                                     baseline_start=config.caseload_baseline[0],
                                     baseline_end=config.caseload_baseline[1], trim=config.caseload_trim)
        else:
            base = pd.DataFrame({"caseworker_id": np.array([], np.int64), "caseload_baseline": np.array([], float)})
        linked = add_caseload_change(linked, base)
        tv = _time_varying(_with_caseworker(time_varying_rows(gaps_e1, linked), linked))
        if {"lab_type", "ordinary_hours"} <= set(course_weeks.columns):
            shares = share_weeks(course_weeks, linked)
        counts = linkage_counts(linkage_report(linked), jc)
    gaps, firsts = pd.concat(gaps, ignore_index=True), pd.concat(firsts, ignore_index=True)
    both = {"gap": gaps, "first_lab": firsts}
    return JobcentreInputs(
        gap_spells=gaps,
        first_lab_spells=firsts,
        new_course_share_cells=new_course_cells,
        course_exit_cells=exit_cells(exits, cluster=config.cluster,
                                     first_weeks=period_first_weeks(config.before, config.intervention)),
        course_exit_persons=exit_persons(exits),
        time_varying=tv,
        share_weeks=shares,
        linkage_counts=counts,
        spell_counts=unit_spell_counts(both),
        spell_persons=unit_spell_persons(both),
    )


def _with_caseworker(rows: pd.DataFrame, linked: pd.DataFrame) -> pd.DataFrame:
    """``rows`` (person_id, week) with the week's ``caseworker_id`` from ``linked`` (<NA> if none)."""
    lk = pd.DataFrame({"person_id": linked["person_id"].to_numpy(np.int64),
                       "week": as_datetime64(linked["week"]).to_numpy("datetime64[ns]"),
                       "caseworker_id": pd.array(linked["caseworker_id"], dtype="Int64")})
    keys = pd.DataFrame({"person_id": rows["person_id"].to_numpy(np.int64),
                         "week": as_datetime64(rows["week"]).to_numpy("datetime64[ns]")})
    found = keys.merge(lk, on=["person_id", "week"], how="left", validate="many_to_one")
    return rows.assign(caseworker_id=found["caseworker_id"].array)


def concat_inputs(parts: Sequence[JobcentreInputs], cluster: str = "jobcentre_id") -> JobcentreInputs:
    """Stack several job centres' inputs (in the given order) into one per kind (none: the empty
    frames, exit cells keyed by ``cluster``)."""
    if not parts:
        return empty_inputs(cluster)
    return JobcentreInputs(**{k: pd.concat([getattr(p, k) for p in parts], ignore_index=True) for k in KINDS})


def persons_rows(table: pd.DataFrame | None, person_ids: np.ndarray) -> pd.DataFrame | None:
    """The rows of ``table`` (assignments) that belong to ``person_ids``; ``None`` passes through."""
    if table is None:
        return None
    return table[table["person_id"].isin(person_ids)]


def caseworkers_rows(caseload: pd.DataFrame | None, assignments: pd.DataFrame | None) -> pd.DataFrame | None:
    """The caseload records of the caseworkers appearing in ``assignments``."""
    if caseload is None or assignments is None:
        return caseload
    return caseload[caseload["caseworker_id"].isin(assignments["caseworker_id"].unique())]
