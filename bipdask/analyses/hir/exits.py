"""HIR Table 8: exits from the resource course (*afgang fra ressourceforløb*), HIR quantitative report.

**The table's quantity** (its level columns, "procent"; e.g. 10.0 → 12.8 % to disability
pension): the share of persons in a resource course during a period whose course ended in that
period to destination d (:func:`persons_exits`, :func:`table8_persons`). Per destination the
person-period LPM Y = η + μD + θE + φ·DE is saturated, so φ is the DiD of the four groups'
shares (a difference of fractions; shown in percentage points), and the group shares are its
cell means. Estimands ``<destination>:persons_did``, ``<destination>:persons_participating`` and
``<destination>:persons_others``.

**Secondary: the weekly rate.** The weekly transition LPM of eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε, one per destination
(ordinary employment, flex job, ledighedsydelse, disability pension): Y_τ = 1 when the person's
next week is in that destination, on every resource-course week of both periods in all job
centres (:func:`bipdask.prepare.spells.course_exits`); ϑ_τ, the week within the period, is
absorbed. β is the effect on the weekly exit probability (a difference of fractions). Beside
it, the weekly exit share of each D×E cell, with analytic person-clustered SEs.

:func:`table8_exits` fits the table from person-weeks; :func:`table8` runs it on the gathered
``course_exits`` model inputs and returns the rows with the bootstrap replicates of β
(analysis ``hir_table8``). Method: ``docs/methods.md#hir-table-8--exits-from-the-resource-course``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import Estimate, HazardEstimates
from bipdask.analyses.hir.linear_table import (
    LinearTable,
    ModelFit,
    _linear_estimates,
    _model_fit,
    _returned,
    estimate_row,
    period_week,
)
from bipdask.errors import InputError, Problem, require_columns
from bipdask.estimators.lpm import CONS, lpm
from bipdask.inference.config import Inference
from bipdask.prepare.spells import EXIT_DESTINATIONS


def table8(course_exits: pd.DataFrame, *, inference: Inference, period: str = "intervention") -> HazardEstimates:
    """HIR Table 8 (exits from the course) via :func:`bipdask.analyses.hir.exits.table8_exits`, with replicates.

    Rows whose next week is not in the panel (``next_observed == 0``: the panel ends there) are
    dropped, as table8_exits asks. The replicates are those of the DiD β per destination
    (``"<destination>|all|<period>"``); the weekly exit shares have analytic SEs.
    """
    notes: dict = {"rows": int(len(course_exits))}
    data = course_exits
    if "next_observed" in data.columns:
        data = data.loc[data["next_observed"].to_numpy() == 1]
        notes["rows_next_week_unobserved"] = int(len(course_exits) - len(data))
    d, e = data["D"].to_numpy(np.int8), data["E"].to_numpy(np.int8)
    frame = data.assign(D=d, E=e, DE=d * e, tau=period_week(data))
    tab = table8_exits(frame, inference=inference, period=period, return_fits=True)
    persons = persons_exits(frame)
    notes["person_periods"] = len(persons)
    by_person = table8_persons(persons, inference=inference, period=period, return_fits=True)
    both = LinearTable(tab.rows + by_person.rows, tab.fits + by_person.fits)
    return _linear_estimates("hir_table8", both, notes=notes)


PERSONS_DID, PERSONS_PARTICIPATING, PERSONS_OTHERS = ":persons_did", ":persons_participating", ":persons_others"


def persons_exits(person_weeks: pd.DataFrame, destinations: Sequence[str] = EXIT_DESTINATIONS) -> pd.DataFrame:
    """One row per person and period (E): did the person's course end in the period to each destination?

    ``person_weeks`` are the course weeks of :func:`bipdask.prepare.spells.course_exits` (rows whose
    next week the panel does not show already dropped). A person counts in a period when they
    have a course week in it; ``exit_<d>`` = 1 when any of their course weeks in the period is
    followed by destination d — a course ending in the period's last week counts, as its next
    week (after the period) shows where it went. D and ``jobcentre_id`` are those of the person's
    first course week in the period (a person moving between job centres counts once).

    Returns person_id, E, D, jobcentre_id and one int8 ``exit_<d>`` per destination, sorted by
    person and period.
    """
    require_columns(person_weeks, ["person_id", "week", "D", "E", "jobcentre_id",
                                   *(f"exit_{d}" for d in destinations)], "person_weeks")
    f = person_weeks.sort_values(["person_id", "E", "week"], kind="mergesort")
    g = f.groupby(["person_id", "E"], sort=True)
    first = g[["D", "jobcentre_id"]].first()
    flags = g[[f"exit_{d}" for d in destinations]].max().astype(np.int8)
    out = first.join(flags).reset_index()
    out["D"], out["E"] = out["D"].astype(np.int8), out["E"].astype(np.int8)
    return out.assign(DE=(out["D"] * out["E"]).astype(np.int8))


def table8_persons(
    persons: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 8 as the report states it: the share of persons exiting to each destination.

    Per destination d, on the person-periods of :func:`persons_exits`: the DiD φ of the saturated
    LPM ``exit_d = η + μD + θE + φ·DE`` (estimand ``"<d>:persons_did"``, period ``period``) with the
    spec's inference — the cluster bootstrap or, with job-centre clusters, the wild cluster
    bootstrap (HIR assigned the cap to job centres) — and each D×E group's share
    (``"<d>:persons_participating"`` / ``"<d>:persons_others"``, periods ``"before"`` / ``period``)
    with analytic clustered SEs. Shares are fractions of the persons in a course in the period.
    """
    cluster, alpha = inference.cluster, inference.alpha
    require_columns(persons, [cluster, "person_id", "D", "E", *(f"exit_{d}" for d in destinations)], "persons")
    frame = persons.assign(D=persons["D"].astype(np.int8), E=persons["E"].astype(np.int8))
    frame = frame.assign(DE=(frame["D"] * frame["E"]).astype(np.int8))
    if frame.groupby(["D", "E"]).ngroups < 4:
        raise InputError([Problem("person_weeks", "D, E", "a D×E group has no persons in a course", len(frame))])
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    n_all = int(frame["person_id"].nunique())
    for d in destinations:
        y = f"exit_{d}"
        fit = lpm(frame, y=y, covariates=["D", "E", "DE"], cluster=cluster, **inference.estimator_kwargs())
        rows.append(estimate_row(fit, "DE", analysis=TABLE8, estimand=f"{d}{PERSONS_DID}", period=period,
                                 alpha=alpha, n_persons=n_all))
        fits.append(_model_fit(fit, "DE", rows[-1]))
        for d_val, suffix in ((1, PERSONS_PARTICIPATING), (0, PERSONS_OTHERS)):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster)
                rows.append(estimate_row(m, CONS, analysis=TABLE8, estimand=f"{d}{suffix}", period=per, alpha=alpha,
                                         n_persons=int(sub["person_id"].nunique())))
    return _returned(rows, fits, return_fits)


TABLE8 = "hir_table8"


def table8_exits(
    person_weeks: pd.DataFrame,
    *,
    destinations: Sequence[str] = EXIT_DESTINATIONS,
    inference: Inference,
    period: str = "intervention",
    return_fits: bool = False,
) -> list[Estimate] | LinearTable:
    """HIR Table 8: per destination the DiD β of eq. (3) and the weekly exit shares behind it.

    Parameters
    ----------
    person_weeks : the course weeks of both periods, :func:`bipdask.prepare.spells.course_exits` output
        concatenated over job centres and periods: person_id, week, D, E and one 0/1 column
        ``exit_<destination>`` per destination; a ``tau`` column (week within period) is used
        when present, else derived by :func:`period_week`. Rows with destination
        ``"unobserved"`` (no panel row for the next week) should be dropped by the caller when
        the panel is known to end there.

    Returns
    -------
    Rows with analysis ``"hir_table8"``: estimand = destination, period ``period``: β (a
    difference of weekly exit probabilities); estimand ``"<destination>:mean_participating"`` /
    ``"<destination>:mean_others"`` with period ``"before"``/``period``: the weekly exit share of
    the D×E group (analytic person-clustered SEs). The report's level columns (e.g. 10.0 → 12.8
    percent to disability pension) read as shares of persons over a period, not weekly rates.
    With ``return_fits=True``: a :class:`LinearTable` whose ``fits`` are the four eq. (3) models
    (term ``"DE"``).
    """
    cluster, alpha = inference.cluster, inference.alpha
    require_columns(person_weeks, [cluster, "D", "E", *(f"exit_{d}" for d in destinations)], "person_weeks")
    frame = person_weeks.assign(
        D=person_weeks["D"].astype(np.int8), E=person_weeks["E"].astype(np.int8),
        DE=(person_weeks["D"].astype(np.int8) * person_weeks["E"].astype(np.int8)),
    )
    if "tau" not in frame.columns:
        require_columns(person_weeks, ["week"], "person_weeks")
        frame["tau"] = period_week(frame)
    cells = frame.groupby(["D", "E"]).size()
    if len(cells) < 4:
        raise InputError([Problem("person_weeks", "D, E", "a D×E group has no person-weeks", len(frame))])
    # with person clusters the fit's clusters are the persons; otherwise count them for disclosure
    n_persons = None if cluster == "person_id" else int(frame["person_id"].nunique())
    rows: list[Estimate] = []
    fits: list[ModelFit] = []
    for d in destinations:
        y = f"exit_{d}"
        fit = lpm(frame, y=y, covariates=["D", "E", "DE"], fixed_effects="tau", cluster=cluster,
                  **inference.estimator_kwargs())
        rows.append(estimate_row(fit, "DE", analysis=TABLE8, estimand=d, period=period, alpha=alpha,
                                 n_persons=n_persons))
        fits.append(_model_fit(fit, "DE", rows[-1]))
        for d_val, label in ((1, "mean_participating"), (0, "mean_others")):
            for e_val, per in ((0, "before"), (1, period)):
                sub = frame[(frame["D"] == d_val) & (frame["E"] == e_val)]
                m = lpm(sub, y=y, covariates=[], cluster=cluster)
                rows.append(estimate_row(m, CONS, analysis=TABLE8, estimand=f"{d}:{label}", period=per, alpha=alpha,
                                         n_persons=int(sub["person_id"].nunique()) if n_persons is not None else None))
    return _returned(rows, fits, return_fits)
