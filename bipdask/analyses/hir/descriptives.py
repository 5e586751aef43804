"""HIR quantitative report Tables 1, 2 and 5: persons in resource courses, their background and the
LAB mix, per participating job centre, for all participating and all other job centres, per period.

From the per-job-centre sums of :func:`bipdask.prepare.descriptives.lab_week_sums` (one row per
job centre × person × period with a resource-course week) and, for Table 2, the ``persons`` table:

* ``hir_table1_persons`` (Tabel 1): ``persons_participating`` — persons with at least one
  resource-course week in the period, per participating job centre and in total (the sum of the
  centres' counts, as the report's "I ALT"); ``persons_others`` — the same for all other job
  centres together. Counts of persons.
* ``hir_table2_background`` (Tabel 2): ``<variable>:participating`` / ``<variable>:others`` —
  shares (fractions) of men, non-Western and Western immigrants/descendants and married persons,
  mean age in years (the period's first calendar year − birth year) and mean weeks of
  employment, cash benefit, self-support, SU, sickness benefit and resource course over the
  last 3 and 6 years (as delivered in ``persons``), over the distinct persons of the group and
  period (a person with no value is left out of that variable).
* ``hir_table5_lab_mix`` (Tabel 5): ``<lab_type>:participating`` / ``<lab_type>:others`` —
  the share of the group's resource-course person-weeks with each LAB type (the five shares add
  up to 1). ``n_persons`` is the number of persons with a week of that type, so disclosure
  control suppresses a type that rests on few persons.

Rows for one participating job centre carry its id; group rows a null ``jobcentre_id``. Means
and shares carry the person-clustered analytic SE (a ratio estimator for Table 5); counts have
no SE (inference ``"none"``). Definitions: ``docs/methods.md#hir-descriptive-tables-1-2-and-5``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.analyses.estimates import HazardEstimates, rows_frame
from bipdask.data.contract import LAB_TYPES
from bipdask.errors import require_columns
from bipdask.prepare.descriptives import (
    BACKGROUND_VARIABLES,
    DESCRIPTIVE_WINDOWS,
    HISTORY,  # noqa: F401 - re-exported (the report reads it here)
    LAB_WEEK_COLUMNS,
    WEEK_COLUMNS,
    background_values,
)

PERSONS_ANALYSIS = "hir_table1_persons"
BACKGROUND_ANALYSIS = "hir_table2_background"
LAB_MIX_ANALYSIS = "hir_table5_lab_mix"
GROUPS = ("participating", "others")
SHARE_VARIABLES = ("male", "non_western", "western", "married")


def _groups(lab_weeks: pd.DataFrame, period: str):
    """(group, jobcentre_id or None, rows) of one period: the group totals and each participating centre."""
    p = lab_weeks[lab_weeks["period"] == period]
    part = p[p["d"] == 1]
    yield "participating", None, part
    yield "others", None, p[p["d"] == 0]
    for jc, rows in part.groupby("jobcentre_id", sort=True):
        yield "participating", int(jc), rows


def table1_persons(lab_weeks: pd.DataFrame) -> HazardEstimates:
    """Tabel 1: persons in resource courses per job centre and period (module docstring)."""
    require_columns(lab_weeks, LAB_WEEK_COLUMNS, "lab_weeks")
    rows = []
    for period in DESCRIPTIVE_WINDOWS:
        for group, jc, g in _groups(lab_weeks, period):
            if g.empty and jc is None:
                continue
            n = len(g[["jobcentre_id", "person_id"]].drop_duplicates())
            rows.append(dict(analysis=PERSONS_ANALYSIS, estimand=f"persons_{group}", jobcentre_id=jc, period=period,
                             estimate=float(n), n_persons=n, n_obs=int(g["n_weeks"].sum()), inference="none"))
    return HazardEstimates(PERSONS_ANALYSIS, rows_frame(rows), pd.DataFrame({"replicate": []}))


def table2_background(lab_weeks: pd.DataFrame, persons: pd.DataFrame, period_starts: Mapping[str, dt.date],
                      alpha: float = 0.05) -> HazardEstimates:
    """Tabel 2: background by group (participating / others; each participating centre) and period.

    ``period_starts`` maps the period labels to their first day (the age reference year).
    """
    require_columns(lab_weeks, LAB_WEEK_COLUMNS, "lab_weeks")
    rows = []
    notes = {"persons_without_background": 0}
    for period in DESCRIPTIVE_WINDOWS:
        if period not in period_starts:
            continue
        values = background_values(persons, period_starts[period])
        for group, jc, g in _groups(lab_weeks, period):
            ids = pd.unique(g["person_id"].to_numpy(np.int64))
            if not len(ids):
                continue
            v = values.reindex(ids)
            if jc is None:
                notes["persons_without_background"] += int(v.isna().all(axis=1).sum())
            for var in BACKGROUND_VARIABLES:
                x = v[var].to_numpy(float)
                x = x[np.isfinite(x)]
                if not len(x):
                    continue
                rows.append(_mean_row(BACKGROUND_ANALYSIS, f"{var}:{group}", jc, period, x, alpha))
    return HazardEstimates(BACKGROUND_ANALYSIS, rows_frame(rows), pd.DataFrame({"replicate": []}), notes)


def _mean_row(analysis: str, estimand: str, jc: int | None, period: str, x: np.ndarray, alpha: float) -> dict:
    n = len(x)
    mean = float(x.mean())
    row = dict(analysis=analysis, estimand=estimand, jobcentre_id=jc, period=period, estimate=mean, n_persons=n,
               n_obs=n, inference="analytic", cluster_level="person", n_clusters=n, n_replicates=0)
    if n > 1:
        se = float(x.std(ddof=1) / np.sqrt(n))
        q = stats.t.ppf(1 - alpha / 2, n - 1)
        row.update(se=se, ci_low=mean - q * se, ci_high=mean + q * se)
    return row


def table5_lab_mix(lab_weeks: pd.DataFrame, alpha: float = 0.05) -> HazardEstimates:
    """Tabel 5: shares of resource-course person-weeks by LAB type, by group and period.

    The SE is the person-clustered (CR1-type, G/(G−1)) SE of a ratio of sums:
    Σ_i (y_i − m·n_i)² / (Σ_i n_i)², y_i a person's weeks of the type and n_i all their weeks.
    """
    require_columns(lab_weeks, LAB_WEEK_COLUMNS, "lab_weeks")
    rows = []
    for period in DESCRIPTIVE_WINDOWS:
        for group, jc, g in _groups(lab_weeks, period):
            per = g.groupby("person_id", sort=True)[["n_weeks", *WEEK_COLUMNS]].sum()
            n_i = per["n_weeks"].to_numpy(float)
            total = n_i.sum()
            if total <= 0:
                continue
            k = len(per)
            for t, col in zip(LAB_TYPES, WEEK_COLUMNS):
                y_i = per[col].to_numpy(float)
                m = float(y_i.sum() / total)
                row = dict(analysis=LAB_MIX_ANALYSIS, estimand=f"{t}:{group}", jobcentre_id=jc, period=period,
                           estimate=m, n_persons=int((y_i > 0).sum()), n_obs=int(total), inference="analytic",
                           cluster_level="person", n_clusters=k, n_replicates=0)
                if k > 1:
                    se = float(np.sqrt(k / (k - 1) * np.sum((y_i - m * n_i) ** 2)) / total)
                    q = stats.t.ppf(1 - alpha / 2, k - 1)
                    row.update(se=se, ci_low=m - q * se, ci_high=m + q * se)
                rows.append(row)
    return HazardEstimates(LAB_MIX_ANALYSIS, rows_frame(rows), pd.DataFrame({"replicate": []}))


def _moment_groups(moments: pd.DataFrame, period: str):
    """(group, jobcentre_id or None, summed moments or None) as :func:`_groups` yields them."""
    p = moments[moments["period"] == period]
    part = p[p["d"] == 1]
    numeric = [c for c in p.columns if c not in ("jobcentre_id", "d", "period")]
    yield "participating", None, part[numeric].sum() if len(part) else None
    yield "others", None, p.loc[p["d"] == 0, numeric].sum() if (p["d"] == 0).any() else None
    for jc, rows in part.groupby("jobcentre_id", sort=True):
        yield "participating", int(jc), rows[numeric].sum()


def _exact(x: float) -> int | None:
    return int(x) if np.isfinite(x) and float(x).is_integer() and abs(x) < 2**53 else None


def _mean_row_from_sums(analysis: str, estimand: str, jc: int | None, period: str, n: int, total: float,
                        squares: float, alpha: float) -> dict:
    """:func:`_mean_row` from n, Σx and Σx² (the variance's numerator n·Σx² − (Σx)² in exact
    integers when the sums are whole numbers, as they are for Tabel 2's variables)."""
    mean = float(total / n)
    row = dict(analysis=analysis, estimand=estimand, jobcentre_id=jc, period=period, estimate=mean, n_persons=n,
               n_obs=n, inference="analytic", cluster_level="person", n_clusters=n, n_replicates=0)
    if n > 1:
        s, q = _exact(total), _exact(squares)
        var = ((n * q - s * s) / (n * (n - 1)) if s is not None and q is not None
               else max(0.0, (squares - total * total / n) / (n - 1)))
        se = float(np.sqrt(var) / np.sqrt(n))
        qt = stats.t.ppf(1 - alpha / 2, n - 1)
        row.update(se=se, ci_low=mean - qt * se, ci_high=mean + qt * se)
    return row


def descriptives_from_moments(moments: pd.DataFrame, period_starts: Mapping[str, dt.date],
                              alpha: float = 0.05) -> list[HazardEstimates]:
    """Tables 1, 2 and 5 (:func:`table1_persons`, :func:`table2_background`, :func:`table5_lab_mix`)
    from the map units' :func:`bipdask.prepare.descriptives.descriptive_moments` (long), summed.

    The same rows when no person is in two units (distinct persons then add up; a job centre's
    person-hash parts are disjoint by construction): counts and means exactly, SEs with one
    rounding of an exact integer ratio (Table 5: Σ(y − m·n)² = (T²Σy² − 2TYΣyn + Y²Σn²)/T²).
    """
    keys = ["jobcentre_id", "d", "period"]
    moments = (moments.pivot_table(index=keys, columns="stat", values="value", aggfunc="sum", observed=True)
               .reset_index() if len(moments) else pd.DataFrame(columns=keys))
    t1, t2, t5 = [], [], []
    notes = {"persons_without_background": 0}
    for period in DESCRIPTIVE_WINDOWS:
        for group, jc, m in _moment_groups(moments, period):
            if m is None:
                continue
            k, total = int(m["n_persons"]), int(m["n_weeks"])
            t1.append(dict(analysis=PERSONS_ANALYSIS, estimand=f"persons_{group}", jobcentre_id=jc, period=period,
                           estimate=float(k), n_persons=k, n_obs=total, inference="none"))
            if period in period_starts and k:
                if jc is None:
                    notes["persons_without_background"] += int(m["no_background"])
                for var in BACKGROUND_VARIABLES:
                    n = int(m[f"{var}:n"])
                    if n:
                        t2.append(_mean_row_from_sums(BACKGROUND_ANALYSIS, f"{var}:{group}", jc, period, n,
                                                      float(m[f"{var}:sum"]), float(m[f"{var}:sq"]), alpha))
            if total <= 0:
                continue
            for t, col in zip(LAB_TYPES, WEEK_COLUMNS):
                y = int(m[col])
                mean = float(y / total)
                row = dict(analysis=LAB_MIX_ANALYSIS, estimand=f"{t}:{group}", jobcentre_id=jc, period=period,
                           estimate=mean, n_persons=int(m[f"{col}:persons"]), n_obs=total, inference="analytic",
                           cluster_level="person", n_clusters=k, n_replicates=0)
                if k > 1:
                    num = (total * total * int(m[f"{col}:yy"]) - 2 * total * y * int(m[f"{col}:yn"])
                           + y * y * int(m["nn"]))
                    se = float(np.sqrt(k / (k - 1) * (num / (total * total)))) / total
                    q = stats.t.ppf(1 - alpha / 2, k - 1)
                    row.update(se=se, ci_low=mean - q * se, ci_high=mean + q * se)
                t5.append(row)
    empty = pd.DataFrame({"replicate": []})
    return [HazardEstimates(PERSONS_ANALYSIS, rows_frame(t1), empty),
            HazardEstimates(BACKGROUND_ANALYSIS, rows_frame(t2), empty.copy(), notes),
            HazardEstimates(LAB_MIX_ANALYSIS, rows_frame(t5), empty.copy())]
