"""Weekly outcome flags and the per-job-centre sufficient statistics of HIR Table 6.

HIR quantitative report (Metrica 2019, seed 001), eq. (2) and Table 6: the share of
resource-course person-weeks (*ressourceforløbs-uger*) in a company internship
(*virksomhedspraktik*) or with ordinary paid hours (*ordinære løntimer*), participating job
centres (D=1) against all others (D=0), the year before (E=0) against the intervention period
or its last three months (E=1).

Everything here is a pure function over one job centre's weeks; the reduce over job centres
is :func:`bipdask.linear.share_did_table`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from bipdask.errors import InputError, Problem
from bipdask.spec import EvaluationSpec, Period

SHARE_OUTCOME = "in_internship_or_hours"
RESOURCE_COURSE = "resource_course"
CELL_COLUMNS = ("jobcentre_id", "person_id", "period", "d", "n_weeks", "n_yes")


def in_internship_or_hours(lab_type: pd.Series, ordinary_hours: pd.Series) -> pd.Series:
    """The Table 6 outcome per person-week: company internship that week, or ordinary hours > 0.

    Parameters
    ----------
    lab_type : the LAB intervention of the week (``weeks.lab_type``).
    ordinary_hours : paid ordinary hours that week (``weeks.ordinary_hours``, hours/week);
        missing hours count as none.
    """
    hours = pd.to_numeric(ordinary_hours, errors="coerce").fillna(0.0)
    return ((lab_type == "company_internship").fillna(False) | (hours > 0)).astype(bool)


def _monday(week) -> pd.Series:
    return pd.to_datetime(pd.Series(week)).dt.normalize()


def in_resource_course(week: pd.Series, dream_code: pd.Series, dream_codes: pd.DataFrame) -> np.ndarray:
    """Whether each person-week is a resource-course week (*i ressourceforløb*).

    A week counts when its DREAM code has a version in the versioned code list
    (``dream_codes``) with status ``resource_course`` in force on the week's Monday:
    ``valid_from <= week <= valid_to`` (a null ``valid_to`` is open-ended). Weeks without a
    benefit code (null) are not resource-course weeks.
    """
    week = _monday(week).reset_index(drop=True)
    code = pd.Series(dream_code).reset_index(drop=True)
    out = np.zeros(len(week), dtype=bool)
    versions = dream_codes.loc[dream_codes["status"] == RESOURCE_COURSE,
                               ["dream_code", "valid_from", "valid_to"]]
    if versions.empty or len(week) == 0:
        return out
    rows = pd.DataFrame({"row": np.arange(len(week)), "dream_code": code, "week": week}).dropna(subset=["dream_code"])
    rows = rows.assign(dream_code=rows["dream_code"].astype("int64"))
    versions = versions.assign(
        dream_code=versions["dream_code"].astype("int64"),
        valid_from=pd.to_datetime(versions["valid_from"]),
        valid_to=pd.to_datetime(versions["valid_to"]),
    )
    both = rows.merge(versions, on="dream_code", how="inner")
    hit = (both["valid_from"] <= both["week"]) & (both["valid_to"].isna() | (both["week"] <= both["valid_to"]))
    out[both.loc[hit, "row"].to_numpy()] = True
    return out


def in_period(week: pd.Series, period: Period) -> np.ndarray:
    """Whether each week (its Monday) lies in the closed period [start, end]."""
    monday = _monday(week)
    return ((monday >= pd.Timestamp(period.start)) & (monday <= pd.Timestamp(period.end))).to_numpy()


def comparison_windows(spec: EvaluationSpec) -> dict[str, Period]:
    """The periods Table 6 compares: before (E=0), intervention and its last months (E=1)."""
    return {
        "before": spec.before,
        "intervention": spec.intervention,
        last_months_label(spec): spec.last_months_period,
    }


def last_months_label(spec: EvaluationSpec) -> str:
    return f"last_{spec.last_months}_months"


def treated_jobcentre_ids(jobcentres: pd.DataFrame, names: Iterable[str]) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Job centre ids whose name is one of the spec's treated names (D=1), and names not found.

    Names match case- and whitespace-insensitively (``"Vallensbæk-Ishøj"`` names one job
    centre that serves two municipalities). Raises :class:`InputError` if no name matches.
    """
    wanted = {_norm(n): n for n in names}
    table = jobcentres[["jobcentre_id", "name"]].dropna().drop_duplicates()
    keys = table["name"].map(_norm)
    ids = tuple(sorted({int(i) for i in table.loc[keys.isin(wanted), "jobcentre_id"]}))
    missing = tuple(sorted(n for k, n in wanted.items() if k not in set(keys)))
    if not ids:
        raise InputError([Problem("jobcentres", "name", "no job centre matches the spec's treated names",
                                  0, f"{len(wanted)} names expected")])
    return ids, missing


def _norm(name: str) -> str:
    return " ".join(str(name).split()).casefold()


def share_cell_sums(
    weeks: pd.DataFrame,
    dream_codes: pd.DataFrame,
    treated_ids: Iterable[int],
    windows: Mapping[str, Period],
) -> pd.DataFrame:
    """Per job centre × person × period: resource-course weeks and weeks with the outcome.

    The sufficient statistics of eq. (2): for each (jobcentre_id, person_id, period) the
    number of resource-course person-weeks ``n_weeks`` and how many of them had a company
    internship or ordinary hours ``n_yes``; ``d`` = 1 for a participating job centre. A week
    belongs to every window containing its Monday (the intervention period and its last
    months overlap). The frame is tiny next to the weeks (persons × windows).

    Parameters
    ----------
    weeks : person-weeks with the contract columns person_id, week, jobcentre_id, dream_code,
        lab_type, ordinary_hours (one job centre or several).
    dream_codes : the versioned DREAM code list.
    treated_ids : participating job centre ids (D=1).
    windows : period label → period, e.g. :func:`comparison_windows`.
    """
    rc = in_resource_course(weeks["week"], weeks["dream_code"], dream_codes)
    base = pd.DataFrame({
        "jobcentre_id": weeks["jobcentre_id"].to_numpy().astype("int32"),
        "person_id": weeks["person_id"].to_numpy().astype("int64"),
        "yes": in_internship_or_hours(weeks["lab_type"], weeks["ordinary_hours"]).to_numpy().astype("int64"),
    })
    weeks_monday = weeks["week"].reset_index(drop=True)
    treated = np.isin(base["jobcentre_id"].to_numpy(), np.asarray(list(treated_ids), dtype="int64"))
    parts = []
    for label, period in windows.items():
        keep = rc & in_period(weeks_monday, period)
        if not keep.any():
            continue
        part = base.loc[keep].assign(period=label, d=treated[keep].astype("int8"))
        parts.append(part)
    if not parts:
        return empty_cell_sums()
    cells = (
        pd.concat(parts, ignore_index=True)
        .groupby(["jobcentre_id", "person_id", "period", "d"], sort=True, observed=True)["yes"]
        .agg(n_weeks="size", n_yes="sum")
        .reset_index()
    )
    return _typed(cells)


def empty_cell_sums() -> pd.DataFrame:
    return _typed(pd.DataFrame({c: [] for c in CELL_COLUMNS}))


def _typed(cells: pd.DataFrame) -> pd.DataFrame:
    return cells.astype({"jobcentre_id": "int32", "person_id": "int64", "period": "string",
                         "d": "int8", "n_weeks": "int64", "n_yes": "int64"})[list(CELL_COLUMNS)]
