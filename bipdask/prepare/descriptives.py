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

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from bipdask.data.contract import LAB_TYPES
from bipdask.prepare.outcomes import in_period, in_resource_course, person_period_sums
from bipdask.spec import Period

DESCRIPTIVE_WINDOWS = ("before", "intervention")  # the two periods Tables 1, 2 and 5 show
WEEK_COLUMNS = tuple(f"weeks_{t}" for t in LAB_TYPES)
LAB_WEEK_COLUMNS = ("jobcentre_id", "person_id", "period", "d", "n_weeks", *WEEK_COLUMNS)


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
