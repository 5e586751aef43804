"""What the HIR tables estimated as linear (probability) models share: Tables 3, 8, 9 and 10.

The tables themselves (HIR quantitative report, Metrica 2019) are pure functions over frames,
each returning rows of the tidy estimates schema (:mod:`bipdask.analyses.estimates`), all fitted
with :func:`bipdask.estimators.lpm.model.lpm`:

* :func:`bipdask.analyses.hir.exits.table8_exits` — exits from the resource course (*afgang fra
  ressourceforløb*), the weekly transition LPM of eq. (3), Y_τ = ϑ_τ + κD + ξE + βDE + ε, one
  per destination (ordinary employment, flex job, ledighedsydelse, disability pension), week
  effects ϑ_τ absorbed, clustered by the spec's cluster, fitted on per-cluster cells
  (:mod:`bipdask.prepare.exit_cells`).
* :func:`bipdask.analyses.hir.beliefs.table3_belief` — caseworker belief in the citizen (*tro på
  borgeren*), a before/after comparison of the caseworkers who answered both surveys,
  controlling for job centre (job-centre fixed effects), clustered by caseworker ("Der
  kontrolleres for sagsbehandlernes jobcenter-tilknytning"; 81 caseworkers; Table 3:
  43.4 → 43.8, 18.3 → 17.0, 34.5 → 35.6 percent).
* :func:`bipdask.analyses.hir.mediators.table9_10_share` — the mediator LPMs of the share in
  company internship or with ordinary hours (eq. 2's outcome) on the week's caseload
  (+casemiss), on the change in caseload from the Jan–Feb 2018 baseline (+change_miss) —
  Table 9, 0.0012 and −0.0028 — and on the caseworker's pre-survey belief — Table 10, 0.0021,
  0.0001, −0.0004 — clustered by person.

This module holds what they share: :func:`estimate_row` (a tidy row from a fit),
:class:`ModelFit` / :class:`LinearTable` (the fits behind the rows) and the conversion of a
table's fits into replicate columns.

Every row carries the cluster-bootstrap SE, percentile CI and p-value when ``bootstrap > 0``
(the analytic CR1 values otherwise): ``se``, ``ci_low``, ``ci_high`` and ``p_value`` of the
schema hold whichever was computed. Effects on shares are differences of fractions; belief
outcomes are percent of the caseload, as in Table 3.

With ``return_fits=True`` each function returns a :class:`LinearTable` instead of the bare
rows: the same rows plus one :class:`ModelFit` per bootstrapped row — the fitted
:class:`~bipdask.estimators.lpm.model.LinearResult` and the term behind the row — so a caller can write
the B replicates of every row (:meth:`LinearTable.replicate_columns`) without refitting.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.analyses.estimates import (
    Estimate,
    HazardEstimates,
    _replicates_frame,
    replicate_key,
    rows_frame,
)
from bipdask.estimators.lpm import LinearResult

SHARE_OUTCOME = "in_internship_or_hours"
__all__ = ["LinearTable", "ModelFit", "estimate_row"]


@dataclass(frozen=True)
class ModelFit:
    """The fitted model behind one row: ``fit.params[term]`` is the row's estimate.

    ``fit`` is the :class:`~bipdask.estimators.lpm.model.LinearResult` without its private fit state
    (the absorbed data, ~(k+2)·n floats), so holding it costs O(B·k), not O(n); its
    ``fixed_effect_values`` is therefore unavailable.
    """

    analysis: str
    estimand: str
    period: str
    term: str
    fit: LinearResult
    jobcentre_id: int | None = None

    @property
    def replicates(self) -> np.ndarray | None:
        """The B bootstrap replicates of the row's estimate (None without a bootstrap)."""
        boot = self.fit.bootstrap
        return None if boot is None else boot.replicates[self.term].to_numpy(np.float64)


@dataclass(frozen=True)
class LinearTable:
    """Rows of one linear HIR table function (Tables 3, 8, 9–10) and the fits behind its bootstrapped rows.

    ``rows`` is exactly what the function returns without ``return_fits``; ``fits`` has one
    :class:`ModelFit` per row fitted with the caller's ``bootstrap`` (Table 8: the DiD β per
    destination; Table 3: the before/after difference per belief; Tables 9–10: each mediator
    coefficient), in row order; their replicates exist when ``bootstrap > 0``. The
    analytic-only rows (weekly exit shares, wave means) have no entry.
    """

    rows: list[Estimate]
    fits: list[ModelFit]

    def replicate_columns(self) -> dict[tuple[str, str, int | None, str], np.ndarray]:
        """(analysis, estimand, jobcentre_id, period) → the (B,) replicates of that row's estimate,
        for the fits that were bootstrapped. The SD (ddof 1) of each column is the row's ``se``."""
        out = {}
        for m in self.fits:
            reps = m.replicates
            if reps is not None:
                out[(m.analysis, m.estimand, m.jobcentre_id, m.period)] = reps
        return out


def _model_fit(fit: LinearResult, term: str, row: Estimate) -> ModelFit:
    if any(f.name == "_state" for f in dataclasses.fields(fit)):
        fit = dataclasses.replace(fit, _state=None)  # drop the O(n) fit state, keep params/cov/replicates
    return ModelFit(row.analysis, row.estimand, row.period, term, fit, row.jobcentre_id)


def _returned(rows: list[Estimate], fits: list[ModelFit], return_fits: bool) -> list[Estimate] | LinearTable:
    return LinearTable(rows, fits) if return_fits else rows


def estimate_row(fit: LinearResult, term: str, *, analysis: str, estimand: str, period: str,
                 jobcentre_id: int | None = None, alpha: float = 0.05, n_persons: int | None = None,
                 n_obs: int | None = None) -> Estimate:
    """One tidy row for ``term`` of ``fit``: bootstrap SE/CI/p when replicated, else analytic.

    ``n_persons`` (the persons behind the row, for disclosure control) defaults to the fit's
    clusters, which is right only when the clusters are persons. ``n_obs`` defaults to the rows
    fitted (``fit.nobs``); a fit on frequency-weighted cells passes the rows they stand for."""
    est = float(fit.params[term])
    if fit.wild is not None and np.isfinite(fit.wild.table.loc[term, "p_value"]):
        w = fit.wild.table.loc[term]
        ci, se, p = pd.Series({"lower": w["ci_low"], "upper": w["ci_high"]}), float(w["se"]), float(w["p_value"])
    elif fit.bootstrap is not None:
        ci = fit.conf_int(alpha, kind="bootstrap").loc[term]
        se, p = float(fit.bootstrap.se[term]), float(fit.bootstrap.p_value[term])
    else:
        ci = fit.conf_int(alpha).loc[term]
        se, p = float(fit.se[term]), float(fit.pvalues[term])
    return Estimate(analysis, estimand, jobcentre_id, period, est, se, float(ci["lower"]), float(ci["upper"]),
                    p, int(fit.n_clusters if n_persons is None else n_persons),
                    int(fit.nobs if n_obs is None else n_obs),
                    inference=fit.inference, n_clusters=int(fit.n_clusters), n_replicates=fit.n_replicates)



# --------------------------------------------------------------------------- Table 3






# --------------------------------------------------------------------------- Tables 9–10




def _linear_estimates(analysis: str, table: LinearTable, *, notes: dict) -> HazardEstimates:
    """Rows of a linear HIR table function (``table8_exits``, ``table3_belief``,
    ``table9_10_share`` with ``return_fits=True``) and the replicates of their bootstrapped
    terms, taken from the fits behind the rows (no refit): column
    ``"<estimand>|<jobcentre>|<period>"``. Rows without an estimate (a covariate omitted as
    collinear) are dropped, with their columns, and counted.
    """
    kept = [r for r in table.rows if r.estimate is not None and np.isfinite(r.estimate)]
    if len(kept) < len(table.rows):
        notes["rows_without_estimate_dropped"] = len(table.rows) - len(kept)
    frame = rows_frame([dataclasses.asdict(r) for r in kept])
    keys = {replicate_key(r.estimand, r.jobcentre_id, r.period) for r in kept}
    reps: dict[str, np.ndarray] = {}
    for m in table.fits:
        key, col = replicate_key(m.estimand, m.jobcentre_id, m.period), m.replicates
        if col is not None and key in keys:
            reps[key] = col
    n = len(next(iter(reps.values()))) if reps else 0
    return HazardEstimates(analysis, frame, _replicates_frame(reps, n), notes)
