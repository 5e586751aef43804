"""Per job centre: each person's resource-course weeks by LAB type and period (the map side of
the HIR quantitative report's descriptive Tables 1, 2 and 5).

One row per (jobcentre_id, person_id, period) with at least one resource-course week in the
period: ``n_weeks`` resource-course weeks and ``weeks_<lab_type>`` of them with each LAB type of
:data:`bipdask.data.contract.LAB_TYPES` (a missing ``lab_type`` counts as ``none``). Table 1
counts these persons, Table 2 joins them to ``persons``, Table 5 sums the weeks. Periods: the
spec's before and intervention periods (a week belongs to a period by its Monday). The frame is
persons × periods, tiny next to the weeks. The reduce is :mod:`bipdask.analyses.hir.descriptives`;
definitions in ``docs/methods.md#hir-descriptive-tables-1-2-and-5``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from bipdask.data.contract import LAB_TYPES
from bipdask.errors import require_columns
from bipdask.prepare.outcomes import in_period, in_resource_course, person_period_sums
from bipdask.spec import Period

DESCRIPTIVE_WINDOWS = ("before", "intervention")  # the two periods Tables 1, 2 and 5 show
WEEK_COLUMNS = tuple(f"weeks_{t}" for t in LAB_TYPES)
LAB_WEEK_COLUMNS = ("jobcentre_id", "person_id", "period", "d", "n_weeks", *WEEK_COLUMNS)
HISTORY = tuple(f"{k}_weeks_{y}" for k in ("emp", "cash", "selfsupp", "su", "sick", "rf") for y in ("6y", "3y"))
BACKGROUND_VARIABLES = ("male", "age", "non_western", "western", "married", *HISTORY)  # Tabel 2's rows, in order
PERSON_COLUMNS = ("person_id", "sex", "birth_year", "origin", "married", *HISTORY)  # what Tabel 2 reads of persons


def lab_week_sums(weeks: pd.DataFrame, dream_codes: pd.DataFrame, treated_ids: Iterable[int],
                  windows: Mapping[str, Period]) -> pd.DataFrame:
    """Resource-course weeks per job centre × person × period, split by LAB type.

    Parameters
    ----------
    weeks : person-weeks with person_id, week, jobcentre_id, dream_code, lab_type.
    dream_codes : the versioned DREAM code list (what counts as a resource-course week).
    treated_ids : participating job centre ids (``d`` = 1).
    windows : period label → period; only :data:`DESCRIPTIVE_WINDOWS` present in it are used.
    """
    if not len(weeks):
        return empty_lab_week_sums()
    rc = in_resource_course(weeks["week"], weeks["dream_code"], dream_codes)
    monday = weeks["week"].reset_index(drop=True)
    # each week's LAB type as text, a missing one "none": decided once per distinct value
    codes, uniques = pd.factorize(pd.Series(weeks["lab_type"]).reset_index(drop=True))
    text = [*(str(u) for u in uniques), "none"]  # code -1 (missing) takes the last
    jc = weeks["jobcentre_id"].to_numpy().astype("int32")
    values = {"n_weeks": np.ones(len(codes), np.int64)}
    for t, col in zip(LAB_TYPES, WEEK_COLUMNS):
        values[col] = np.asarray([x == t for x in text], bool)[codes].astype("int64")
    treated = np.isin(jc, np.asarray(sorted(int(i) for i in treated_ids), dtype="int64")).astype("int8")
    keeps = {label: rc & in_period(monday, windows[label]) for label in DESCRIPTIVE_WINDOWS if label in windows}
    out = person_period_sums(jc, weeks["person_id"].to_numpy().astype("int64"), treated, keeps, values)
    return empty_lab_week_sums() if out is None else _typed(out)


def empty_lab_week_sums() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in LAB_WEEK_COLUMNS}))


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    types = {"jobcentre_id": "int32", "person_id": "int64", "period": "string", "d": "int8", "n_weeks": "int64",
             **{c: "int64" for c in WEEK_COLUMNS}}
    return frame.astype(types)[list(LAB_WEEK_COLUMNS)]


def background_values(persons: pd.DataFrame, period_start: dt.date) -> pd.DataFrame:
    """Tabel 2's variables per person (index person_id): 0/1 shares, age in years, history weeks."""
    require_columns(persons, ("person_id", "sex", "birth_year", "origin", "married", *HISTORY), "persons")
    out = pd.DataFrame(index=pd.Index(persons["person_id"].astype("int64"), name="person_id"))
    sex = persons["sex"].astype("string")
    out["male"] = np.where(sex.isna(), np.nan, (sex == "M").astype(float)).astype(float)
    out["age"] = (period_start.year - pd.to_numeric(persons["birth_year"], errors="coerce")).to_numpy(float)
    origin = persons["origin"].astype("string")
    for value in ("non_western", "western"):
        out[value] = np.where(origin.isna(), np.nan, (origin == value).astype(float)).astype(float)
    married = persons["married"].astype("boolean")
    out["married"] = np.where(married.isna(), np.nan, married.fillna(False).astype(float)).astype(float)
    for col in HISTORY:
        out[col] = pd.to_numeric(persons[col], errors="coerce").to_numpy(float)
    return out[~out.index.duplicated()]


def descriptive_moments(lab_weeks: pd.DataFrame, persons: pd.DataFrame,
                        period_starts: Mapping[str, dt.date]) -> pd.DataFrame:
    """The sums Tables 1, 2 and 5 need of one map unit, per (jobcentre_id, d, period): additive
    over disjoint sets of persons, so the reduce adds a few rows per unit instead of reading the
    persons' rows (:func:`bipdask.analyses.hir.descriptives.descriptives_from_moments`).

    Over the unit's persons with a resource-course week in the period (``lab_weeks`` rows,
    summed per person): ``n_persons``, ``n_weeks`` = Σ n and ``nn`` = Σ n²; per LAB type column
    c of :data:`WEEK_COLUMNS`: ``c`` = Σ y, ``c:persons`` (y > 0), ``c:yy`` = Σ y², ``c:yn`` = Σ y·n.
    For periods in ``period_starts``, per variable v of :data:`BACKGROUND_VARIABLES` over the
    persons with a value (``persons`` joined, :func:`background_values`): ``v:n``, ``v:sum``,
    ``v:sq`` (Σ x²), and ``no_background`` (persons with no value at all). Long: one row per
    (jobcentre_id, d, period, ``stat``) with a float64 ``value`` (whole numbers below 2⁵³ are
    exact), so a unit's file is a few kB whatever the number of statistics.
    """
    keys = ["jobcentre_id", "d", "period"]
    rows = []
    values: dict[str, pd.DataFrame] = {}
    if period_starts:  # once: only the age moves with the period's year (whole years, exact)
        first = next(iter(period_starts.values()))
        base = background_values(persons, first)
        for p, start in period_starts.items():
            values[p] = base if start.year == first.year else base.assign(age=base["age"] + (start.year - first.year))
    for (jc, d, period), g in lab_weeks.groupby(keys, sort=True, observed=True):
        per = g.groupby("person_id", sort=True)[["n_weeks", *WEEK_COLUMNS]].sum()
        n = per["n_weeks"].to_numpy(np.int64)
        row: dict = {"jobcentre_id": int(jc), "d": int(d), "period": str(period), "n_persons": len(per),
                     "n_weeks": int(n.sum()), "nn": int((n * n).sum())}
        for col in WEEK_COLUMNS:
            y = per[col].to_numpy(np.int64)
            row.update({col: int(y.sum()), f"{col}:persons": int((y > 0).sum()), f"{col}:yy": int((y * y).sum()),
                        f"{col}:yn": int((y * n).sum())})
        if period in values:
            v = values[period].reindex(per.index.to_numpy(np.int64))
            row["no_background"] = int(v.isna().all(axis=1).sum())
            for var in BACKGROUND_VARIABLES:
                x = v[var].to_numpy(float)
                x = x[np.isfinite(x)]
                row.update({f"{var}:n": len(x), f"{var}:sum": float(x.sum()), f"{var}:sq": float((x * x).sum())})
        rows.append(row)
    if not rows:
        return pd.DataFrame({"jobcentre_id": pd.Series(dtype="int32"), "d": pd.Series(dtype="int8"),
                             "period": pd.Series(dtype="string"), "stat": pd.Series(dtype="string"),
                             "value": pd.Series(dtype="float64")})
    wide = pd.DataFrame(rows)
    stats = [c for c in wide.columns if c not in keys]
    table = wide[stats].to_numpy(np.float64)
    row, col = np.nonzero(~np.isnan(table))  # row-major: each key's statistics together
    return pd.DataFrame({"jobcentre_id": wide["jobcentre_id"].to_numpy()[row].astype("int32"),
                         "d": wide["d"].to_numpy()[row].astype("int8"),
                         "period": pd.array(wide["period"].to_numpy()[row], dtype="string"),
                         "stat": pd.array(np.asarray(stats, dtype=object)[col], dtype="string"),
                         "value": table[row, col]})


MOMENT_KEYS = ("jobcentre_id", "d", "period", "stat")  # a long descriptive_moments row's key


def combine_descriptive_moments(parts: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Several units' :func:`descriptive_moments` as one frame of the same form: the ``value`` of
    equal (jobcentre_id, d, period, stat) summed (each is a sum over the persons, so for disjoint
    persons this is their union's). Counts, and the background sums of whole numbers (years, weeks,
    0/1) below 2⁵³, are exact whatever the grouping; a sum of fractions may differ in its last bit.
    Sorted by the keys."""
    frames = [f for f in parts if len(f)]
    if not frames:
        return descriptive_moments(empty_lab_week_sums(), pd.DataFrame(columns=list(PERSON_COLUMNS)), {})
    keys = list(MOMENT_KEYS)
    both = pd.concat([f[[*keys, "value"]] for f in frames], ignore_index=True)
    out = both.groupby(keys, sort=True, observed=True)["value"].sum().reset_index()
    return pd.DataFrame({"jobcentre_id": out["jobcentre_id"].to_numpy().astype("int32"),
                         "d": out["d"].to_numpy().astype("int8"),
                         "period": pd.array(out["period"].to_numpy(object), dtype="string"),
                         "stat": pd.array(out["stat"].to_numpy(object), dtype="string"),
                         "value": out["value"].to_numpy(np.float64)})
