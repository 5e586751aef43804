"""BIP data preparation: the 52-week outcome, the caseworker-report sample and the model covariates.

Sources (``docs/methods.md``, the BIP sections):

* the BIP caseworker report — Rosholm, Sørensen, Skipper & Nielsen, *Sagsbehandlereffektivitet*:
  "Data og metode" (outcome, covariates, sample rules), Tabel 1 (the counterfactual), Figures
  1–2 (quartiles), Figures 4–19 and Tabel A1 (quartile profiles);
* the BIP progression report — *Aktiv beskæftigelsesindsats og progression* (2018): Tables 1–3,
  Figures 3–24;
* the BIP slides: a change of caseworker lowers the job chance by 22 %.

This module holds the data preparation every BIP analysis shares; the estimators live in
:mod:`bipdask.analyses.bip.effectiveness` (the caseworker report), :mod:`bipdask.analyses.bip.change`
(the slides) and :mod:`bipdask.analyses.bip.progression` (the progression report);
:mod:`bipdask.analyses.bip.estimates` is the public entry point. Everything is a pure function over
contract frames (``bip_responses``, ``persons``, ``weeks``; see ``docs/data-contract.md``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from bipdask.data.contract import (
    BIP_CASEWORKER_QUESTIONS,
    BIP_CITIZEN_QUESTIONS,
    BIP_S1_BOXES,
    HISTORY_COLUMNS,
    S1_GROUPS,
)
from bipdask.errors import InputError, Problem, require_columns

FOLLOW_UP_WEEKS = 52
GROUP_ORDER = ("J", "O", "S", "H")
#: The 16 J/O/S/H combinations as the reports write them ("1010" = job-oriented + social).
COMBINATIONS = tuple(f"{c:04b}" for c in range(16))
REGISTER_COVARIATES = ("female", "age", "western", "non_western", "married", "skilled", "higher",
                       "education_missing", *HISTORY_COLUMNS)
ANALYSIS_PERIOD = "all"


def _arrow(values) -> pa.ChunkedArray | None:
    """The Arrow data behind an Arrow-backed Series (None otherwise): converting it with
    pyarrow.compute avoids pandas' element-by-element path for Arrow dates and booleans."""
    s = values.array if isinstance(values, pd.Series) else values
    return s.__arrow_array__() if isinstance(getattr(s, "dtype", None), pd.ArrowDtype) else None


def _datetime(values) -> pd.Series:
    """Dates of any contract flavour (Arrow date32, datetime64, python dates) as datetime64[ns]."""
    arrow = _arrow(values)
    if arrow is not None and (pa.types.is_date(arrow.type) or pa.types.is_timestamp(arrow.type)):
        ts = pc.cast(arrow, pa.timestamp("ns")) if pa.types.is_date(arrow.type) else arrow
        return pd.Series(ts.to_numpy(), dtype="datetime64[ns]")
    s = pd.Series(values)
    try:
        return s.astype("datetime64[ns]")
    except (TypeError, ValueError):
        return pd.to_datetime(s)


def _monday(values) -> pd.Series:
    d = _datetime(values).dt.normalize()
    return d - pd.to_timedelta(d.dt.weekday, unit="D")



def _flag(values: pd.Series) -> np.ndarray:
    arrow = _arrow(values)
    if arrow is not None and pa.types.is_boolean(arrow.type):
        return pc.fill_null(arrow, False).to_numpy().astype(bool)
    return pd.Series(values).astype("boolean").fillna(False).to_numpy(dtype=bool)


# --- the outcome -----------------------------------------------------------------------------

FIRST_HIT_COLUMNS = ("response_id", "first_start_week")


def _response_weeks(bip_responses: pd.DataFrame) -> pd.DataFrame:
    """``row``, ``response_id``, ``person_id`` and ``response_week`` (the Monday of the ISO week of
    ``response_date``) per response, in the input order; a missing date is an input error."""
    require_columns(bip_responses, ("response_id", "person_id", "response_date"), "bip_responses")
    resp = pd.DataFrame({
        "row": np.arange(len(bip_responses)),
        "response_id": bip_responses["response_id"].to_numpy().astype("int64"),
        "person_id": bip_responses["person_id"].to_numpy().astype("int64"),
        "response_week": _monday(bip_responses["response_date"]).to_numpy(),
    })
    if resp["response_week"].isna().any():
        raise InputError([Problem("bip_responses", "response_date", "missing date",
                                  int(resp["response_week"].isna().sum()))])
    return resp


def _empty_first_hits() -> pd.DataFrame:
    return pd.DataFrame({"response_id": pd.Series([], dtype="int64"),
                         "first_start_week": pd.Series([], dtype="datetime64[ns]")})


def first_hits(bip_responses: pd.DataFrame, weeks: pd.DataFrame) -> pd.DataFrame:
    """The map part of :func:`outcome_52w`: per response, the first qualifying week in ``weeks``
    strictly after the response week (a forward as-of search by citizen).

    A qualifying week is one in which the citizen is employed, has ordinary hours > 0 or receives
    SU. ``weeks`` may be any part of the panel (one job centre, or one person-hash part of it):
    the first hit over all rows is the earliest of the parts' first hits
    (:func:`outcome_from_first_hits` takes that minimum), so each work unit computes this on
    its own rows and only these small frames travel.

    Returns
    -------
    DataFrame ``response_id`` (int64), ``first_start_week`` (datetime64[ns]): one row per response
    whose citizen has a qualifying week after it in ``weeks`` (no window applied), sorted by
    ``response_id``. Its size is bounded by the responses, not by the weeks.
    """
    require_columns(weeks, ("person_id", "week", "employed", "ordinary_hours", "su"), "weeks")
    resp = _response_weeks(bip_responses)
    if not len(weeks) or not len(resp):
        return _empty_first_hits()
    hours = pd.to_numeric(pd.Series(weeks["ordinary_hours"]), errors="coerce").fillna(0.0).to_numpy()
    hit = _flag(weeks["employed"]) | (hours > 0) | _flag(weeks["su"])
    hits = pd.DataFrame({"person_id": weeks["person_id"].to_numpy()[hit].astype("int64"),
                         "first_start_week": _monday(weeks["week"]).to_numpy()[hit]})
    hits = hits[hits["person_id"].isin(resp["person_id"]).to_numpy()]
    resp = resp[resp["person_id"].isin(hits["person_id"]).to_numpy()]
    if not len(resp):
        return _empty_first_hits()
    hits = hits.drop_duplicates().sort_values("first_start_week", kind="stable")
    left = resp.sort_values("response_week", kind="stable")
    merged = pd.merge_asof(left, hits, left_on="response_week", right_on="first_start_week",
                           by="person_id", direction="forward", allow_exact_matches=False)
    found = merged[merged["first_start_week"].notna()]
    out = pd.DataFrame({"response_id": found["response_id"].to_numpy().astype("int64"),
                        "first_start_week": found["first_start_week"].to_numpy().astype("datetime64[ns]")})
    return out.sort_values(["response_id", "first_start_week"], kind="stable").reset_index(drop=True)


def combine_first_hits(parts) -> pd.DataFrame:
    """The reduce of :func:`first_hits` over parts of the panel: the earliest ``first_start_week``
    per response (a frame, or a sequence of the parts' frames; disjoint or not), sorted by
    ``response_id``. The minimum of the parts' forward as-of hits is the forward as-of hit over
    all their rows."""
    frames = [parts] if isinstance(parts, pd.DataFrame) else list(parts)
    frames = [f for f in frames if len(f)]
    if not frames:
        return _empty_first_hits()
    for f in frames:
        require_columns(f, FIRST_HIT_COLUMNS, "first_hits")
    hits = pd.concat([f[list(FIRST_HIT_COLUMNS)] for f in frames], ignore_index=True)
    hits = pd.DataFrame({"response_id": hits["response_id"].to_numpy().astype("int64"),
                         "first_start_week": _datetime(hits["first_start_week"]).to_numpy()})
    out = hits.groupby("response_id", sort=True)["first_start_week"].min()
    return pd.DataFrame({"response_id": out.index.to_numpy().astype("int64"),
                         "first_start_week": out.to_numpy().astype("datetime64[ns]")})


def outcome_from_first_hits(bip_responses: pd.DataFrame, hits, *, panel_end,
                            follow_up_weeks: int = FOLLOW_UP_WEEKS) -> pd.DataFrame:
    """The reduce part of :func:`outcome_52w`: its frame from the parts' :func:`first_hits`.

    ``hits`` is one :func:`first_hits` frame or a sequence of them (one per part of the panel);
    the earliest hit per response (:func:`combine_first_hits`) is kept when it lies inside the
    52-week window and not after ``panel_end`` (the last week of the register panel: required
    here, since the hits do not tell it). Same rules and columns as :func:`outcome_52w`.
    """
    if panel_end is None:
        raise ValueError("outcome_from_first_hits needs panel_end (the last week of the register panel)")
    resp = _response_weeks(bip_responses)
    panel_end = pd.Timestamp(panel_end)
    best = combine_first_hits(hits)
    merged = resp.merge(best, on="response_id", how="left", validate="many_to_one")
    merged = merged.sort_values("row").reset_index(drop=True)
    start = merged["first_start_week"].astype("datetime64[ns]")
    window_end = merged["response_week"] + pd.Timedelta(weeks=follow_up_weeks)
    inside = start.notna() & (start <= window_end) & (start <= panel_end)
    available = ((panel_end - merged["response_week"]).dt.days // 7).clip(lower=0, upper=follow_up_weeks)
    return pd.DataFrame({
        "response_id": merged["response_id"],
        "person_id": merged["person_id"],
        "response_week": merged["response_week"],
        "outcome": inside.astype("int8"),
        "first_start_week": start.where(inside),
        "follow_up_weeks": available.astype("int64"),
        "full_follow_up": (available >= follow_up_weeks).to_numpy(),
    })


def outcome_52w(bip_responses: pd.DataFrame, weeks: pd.DataFrame, *, panel_end=None,
                follow_up_weeks: int = FOLLOW_UP_WEEKS) -> pd.DataFrame:
    """Job or SU education within 52 weeks after each response (the BIP caseworker report, "Data og metode").

    The response week ``t`` is the Monday of the ISO week of ``response_date``. The outcome is 1
    when the citizen has a week ``w`` with ``t < w <= t + 52 weeks`` (strictly after the
    response week, up to and including the 52nd week after it) in which they are employed or
    have ordinary hours > 0 (the report's wide employment concept: any eIndkomst pay, so flex
    jobs and wage subsidy count) or receive SU; else 0. Weeks missing from ``weeks`` count as
    neither.

    Responses whose window passes the panel end (``t + 52 weeks > panel_end``) are *flagged*
    (``full_follow_up`` False, ``follow_up_weeks`` < 52) and keep the outcome observed on the
    weeks available, as the synthetic truth defines it; :func:`caseworker_sample` can drop them.

    This is :func:`first_hits` on ``weeks`` as one part and :func:`outcome_from_first_hits`; the
    flow runs the first on each work unit and the second once (``docs/methods.md``, the BIP outcome).

    Parameters
    ----------
    bip_responses : contract table (``response_id``, ``person_id``, ``response_date``).
    weeks : contract table (``person_id``, ``week``, ``employed``, ``ordinary_hours``, ``su``).
    panel_end : last week of the register panel; default the latest ``week`` in ``weeks``
        (pass it when ``weeks`` is one job centre's partition of a longer panel).

    Returns
    -------
    DataFrame, one row per response in the input order: ``response_id``, ``person_id``,
    ``response_week`` (datetime64), ``outcome`` (int8 0/1), ``first_start_week`` (first
    qualifying week after the response, NaT if none in the window), ``follow_up_weeks`` (int,
    weeks of the window inside the panel) and ``full_follow_up`` (bool).
    """
    require_columns(bip_responses, ("response_id", "person_id", "response_date"), "bip_responses")
    require_columns(weeks, ("person_id", "week", "employed", "ordinary_hours", "su"), "weeks")
    hits = first_hits(bip_responses, weeks)
    if panel_end is None:
        panel_end = (_monday(weeks["week"]).max() if len(weeks)
                     else _response_weeks(bip_responses)["response_week"].max())
    return outcome_from_first_hits(bip_responses, hits, panel_end=panel_end, follow_up_weeks=follow_up_weeks)


def outcome_of(bip_responses: pd.DataFrame, weeks: pd.DataFrame | None = None, *,
               first_hits: pd.DataFrame | None = None, panel_end=None) -> pd.DataFrame:
    """The :func:`outcome_52w` frame from exactly one of ``weeks`` (the panel rows) or
    ``first_hits`` (the parts' :func:`first_hits`, with ``panel_end``)."""
    if (weeks is None) == (first_hits is None):
        raise ValueError("pass exactly one of weeks and first_hits")
    if first_hits is not None:
        return outcome_from_first_hits(bip_responses, first_hits, panel_end=panel_end)
    return outcome_52w(bip_responses, weeks, panel_end=panel_end)


# --- consecutive responses and activity combinations ------------------------------------------

def with_previous(bip_responses: pd.DataFrame) -> pd.DataFrame:
    """Responses sorted by citizen and date, each with its citizen's previous response.

    Order within a citizen is ``response_date`` then ``response_id`` (two responses on one day
    follow their ids). Adds ``response_week``, ``seq`` (0 = the citizen's first response),
    ``n_citizen_responses``, ``prev_caseworker_id`` (NaN for a first response),
    ``prev_response_week``, ``weeks_since_previous``, ``caseworker_changed`` (bool; False for a
    first response), ``combination`` (J/O/S/H string of this response's S1 boxes, ``<NA>`` when
    no box is ticked: the caseworker part is missing) and ``<q>_prev`` for every answer
    B1–B11 and S2–S12 (float, NaN = not answered).
    """
    require_columns(bip_responses, ("response_id", "person_id", "caseworker_id", "jobcentre_id", "response_date",
              *BIP_CITIZEN_QUESTIONS, *BIP_S1_BOXES, *BIP_CASEWORKER_QUESTIONS), "bip_responses")
    r = pd.DataFrame({
        "response_id": bip_responses["response_id"].to_numpy().astype("int64"),
        "person_id": bip_responses["person_id"].to_numpy().astype("int64"),
        "caseworker_id": bip_responses["caseworker_id"].to_numpy().astype("int64"),
        "jobcentre_id": bip_responses["jobcentre_id"].to_numpy().astype("int64"),
        "response_date": _datetime(bip_responses["response_date"]).to_numpy(),
    })
    r["response_week"] = _monday(r["response_date"]).to_numpy()
    for q in (*BIP_CITIZEN_QUESTIONS, *BIP_CASEWORKER_QUESTIONS):
        r[q] = pd.to_numeric(pd.Series(bip_responses[q]), errors="coerce").astype("float64").to_numpy()
    boxes = np.column_stack([_flag(bip_responses[b]) for b in BIP_S1_BOXES]) if len(r) else \
        np.zeros((0, len(BIP_S1_BOXES)), dtype=bool)
    for i, b in enumerate(BIP_S1_BOXES):
        r[b] = boxes[:, i]
    r["combination"] = combination_of_boxes(boxes)
    r = r.sort_values(["person_id", "response_date", "response_id"], kind="stable").reset_index(drop=True)
    first = np.ones(len(r), dtype=bool)
    pid = r["person_id"].to_numpy()
    first[1:] = pid[1:] != pid[:-1]
    r["seq"] = r.groupby("person_id", sort=False).cumcount().astype("int64")
    r["n_citizen_responses"] = r.groupby("person_id", sort=False)["response_id"].transform("size").astype("int64")
    prev = r.shift(1)
    r["prev_caseworker_id"] = prev["caseworker_id"].where(~first).astype("float64")
    r["prev_response_week"] = prev["response_week"].where(~first)
    r["weeks_since_previous"] = ((r["response_week"] - r["prev_response_week"]).dt.days / 7.0).astype("float64")
    r["caseworker_changed"] = ~first & (r["caseworker_id"].to_numpy() != prev["caseworker_id"].to_numpy())
    for q in (*BIP_CITIZEN_QUESTIONS, *BIP_CASEWORKER_QUESTIONS):
        r[f"{q}_prev"] = prev[q].where(~first).astype("float64")
    return r


def combination_of_boxes(boxes: np.ndarray) -> pd.Series:
    """J/O/S/H combination ("0000" … "1111") of S1 box rows (the BIP progression report's
    Tabel 2–3, the BIP caseworker report's Tabel A1).

    A group is 1 when any of its boxes (:data:`bipdask.data.contract.S1_GROUPS`) is ticked. A row
    with boxes ticked but none of a group ("ingen aktiviteter", "ved ikke") is "0000"; a row
    with no box ticked at all has no caseworker answer and gets ``<NA>``.
    """
    boxes = np.asarray(boxes, dtype=bool)
    bits = [boxes[:, np.array(S1_GROUPS[g]) - 1].any(axis=1) for g in GROUP_ORDER]
    code = np.zeros(boxes.shape[0], dtype=np.int64)
    for b in bits:
        code = code * 2 + b
    labels = np.array(COMBINATIONS, dtype=object)[code]
    answered = boxes.any(axis=1)
    return pd.Series(np.where(answered, labels, None), dtype="string")


def group_use(frame: pd.DataFrame) -> pd.DataFrame:
    """Per response: 1/0 use of each S1 activity group J, O, S, H and of none (NaN if S1 unanswered).

    "none" is a response whose caseworker ticked boxes but none of the four groups (box 22
    "ingen aktiviteter" or box 23 "ved ikke"; the BIP caseworker report's Figur 8).
    """
    combo = frame["combination"]
    answered = combo.notna().to_numpy()
    out = {}
    for i, g in enumerate(GROUP_ORDER):
        on = combo.str[i].eq("1").fillna(False).to_numpy()
        out[g] = np.where(answered, on.astype(float), np.nan)
    out["none"] = np.where(answered, combo.eq("0000").fillna(False).to_numpy().astype(float), np.nan)
    return pd.DataFrame(out, index=frame.index)


# --- the caseworker-report sample --------------------------------------------------------------

@dataclass(frozen=True)
class CaseworkerSample:
    """The analysis sample of the caseworker report and the counts after each rule.

    ``frame``: one row per kept response (columns of :func:`with_previous` plus those of
    :func:`outcome_52w`). ``steps``: ``step``, ``rule``, ``responses``, ``caseworkers``,
    ``citizens`` — targets at scale 1 (the BIP caseworker report): 13,688 → … → 6,164 responses, 115
    caseworkers, 2,701 citizens.
    """

    frame: pd.DataFrame
    steps: pd.DataFrame


def caseworker_sample(
    bip_responses: pd.DataFrame,
    weeks: pd.DataFrame | None = None,
    *,
    first_hits: pd.DataFrame | None = None,
    min_caseworker_responses: int = 10,
    count_caseworker: Literal["responses", "citizens"] = "citizens",
    drop_incomplete_follow_up: bool = False,
    panel_end=None,
) -> CaseworkerSample:
    """Apply the sample rules of the BIP caseworker report ("Data og metode").

    1. responses of caseworkers who answered for at least ``min_caseworker_responses`` distinct
       citizens (the report: "besvaret BIP spørgeskemaet for mindst 10 borgere"; the synthetic
       truth applies the same rule); ``count_caseworker="responses"`` counts responses instead
       (an earlier reading of the rule, kept as an option);
    2. citizens with more than one response;
    3. each citizen's first response dropped (its answers are the "previous response" the
       changes are measured from);
    4. optionally, responses without a full 52-week follow-up dropped (default kept, flagged).

    Every count in rules 1–3 is taken over *all* responses (as the report and the synthetic
    truth do), so the order of the rules does not change the final sample; ``steps`` shows
    the rules applied cumulatively in the order above.

    The outcome comes from ``weeks`` (:func:`outcome_52w`) or, instead, from ``first_hits``: the
    :func:`first_hits` of the panel's parts, one frame or their concatenation
    (:func:`outcome_from_first_hits`; ``panel_end`` then required). Both give the same sample.
    """
    prev = with_previous(bip_responses)
    out = outcome_of(bip_responses, weeks, first_hits=first_hits, panel_end=panel_end)
    frame = prev.merge(out.drop(columns=["person_id", "response_week"]), on="response_id",
                       how="left", validate="one_to_one")
    if count_caseworker == "responses":
        cw_n = frame.groupby("caseworker_id")["response_id"].transform("size")
    elif count_caseworker == "citizens":
        cw_n = frame.groupby("caseworker_id")["person_id"].transform("nunique")
    else:
        raise ValueError("count_caseworker must be 'responses' or 'citizens'")
    rules = [
        ("all responses", np.ones(len(frame), dtype=bool)),
        (f"caseworkers with >= {min_caseworker_responses} {count_caseworker}",
         (cw_n >= min_caseworker_responses).to_numpy()),
        ("citizens with > 1 response", (frame["n_citizen_responses"] > 1).to_numpy()),
        ("first response of each citizen dropped", (frame["seq"] > 0).to_numpy()),
    ]
    if drop_incomplete_follow_up:
        rules.append(("full 52-week follow-up", frame["full_follow_up"].to_numpy(dtype=bool)))
    keep = np.ones(len(frame), dtype=bool)
    steps = []
    for i, (rule, mask) in enumerate(rules):
        keep &= mask
        kept = frame.loc[keep]
        steps.append({"step": i, "rule": rule, "responses": int(keep.sum()),
                      "caseworkers": int(kept["caseworker_id"].nunique()),
                      "citizens": int(kept["person_id"].nunique())})
    return CaseworkerSample(frame.loc[keep].reset_index(drop=True), pd.DataFrame(steps))


# --- covariates ---------------------------------------------------------------------------------

def register_covariates(frame: pd.DataFrame, persons: pd.DataFrame) -> pd.DataFrame:
    """Register covariates per response from ``persons`` (the BIP caseworker report: "Data fra
    DREAM …").

    female, age (response year − birth year), western / non-western origin (reference Danish),
    married, skilled / higher / missing education (reference none) and the 12 history-week
    columns (weeks over the last 3 and 6 years). Rows align with ``frame``.
    """
    require_columns(persons, ("person_id", "sex", "birth_year", "origin", "married", "education",
                                  *HISTORY_COLUMNS), "persons")
    p = persons.drop_duplicates("person_id").set_index(
        persons.drop_duplicates("person_id")["person_id"].to_numpy().astype("int64"))
    pid = frame["person_id"].to_numpy().astype("int64")
    missing = ~np.isin(pid, p.index.to_numpy())
    if missing.any():
        raise InputError([Problem("bip_responses", "person_id", "person not in persons", int(missing.sum()))])
    p = p.loc[pid]
    year = _datetime(frame["response_date"]).dt.year.to_numpy()
    def is_(column: str, value: str) -> np.ndarray:
        return p[column].astype("string").eq(value).fillna(False).to_numpy(dtype=float)

    out = {
        "female": is_("sex", "F"),
        "age": year - pd.to_numeric(p["birth_year"]).to_numpy().astype(float),
        "western": is_("origin", "western"),
        "non_western": is_("origin", "non_western"),
        "married": _flag(p["married"]).astype(float),
        "skilled": is_("education", "skilled"),
        "higher": is_("education", "higher"),
        "education_missing": p["education"].isna().to_numpy().astype(float),
    }
    for c in HISTORY_COLUMNS:
        out[c] = pd.to_numeric(p[c]).to_numpy().astype(float)
    return pd.DataFrame(out, index=frame.index)


def answer_covariates(frame: pd.DataFrame, questions=BIP_CITIZEN_QUESTIONS) -> pd.DataFrame:
    """The citizen's answers and their change since the previous response (the BIP caseworker
    report).

    For each question ``q``: ``answer_q`` (the answer, a missing answer set to the sample mean)
    with ``answer_q_missing``, and ``change_q`` (answer − previous answer, 0 when either is
    missing) with ``change_q_missing``. The caseworker's own answers S2–S12 are deliberately left out, as in the
    report ("Vi kontrollerer bevidst ikke for sagsbehandlerens egne BIP besvarelser").
    """
    out = {}
    for q in questions:
        v = frame[q].to_numpy(dtype=float)
        miss = np.isnan(v)
        fill = float(np.nanmean(v)) if (~miss).any() else 0.0
        out[f"answer_{q}"] = np.where(miss, fill, v)
        out[f"answer_{q}_missing"] = miss.astype(float)
        d = v - frame[f"{q}_prev"].to_numpy(dtype=float)
        dmiss = np.isnan(d)
        out[f"change_{q}"] = np.where(dmiss, 0.0, d)
        out[f"change_{q}_missing"] = dmiss.astype(float)
    return pd.DataFrame(out, index=frame.index)


def full_rank_columns(x: pd.DataFrame, groups: np.ndarray | None = None, tol: float = 1e-9) -> list[str]:
    """Columns of ``x`` that are linearly independent of each other (and of group dummies).

    Constant columns are dropped; with ``groups`` the columns are demeaned within groups first
    (what an absorbed fixed effect does), so a covariate constant within every group is
    dropped too. Order is kept; among collinear columns the earlier one stays.
    """
    a = x.to_numpy(dtype=float, copy=True)
    if a.shape[0] == 0:
        return []
    if groups is None:
        a -= a.mean(axis=0)
    else:
        codes, _ = pd.factorize(pd.Series(groups), sort=True)
        sums = np.zeros((codes.max() + 1, a.shape[1]))
        np.add.at(sums, codes, a)
        a -= (sums / np.bincount(codes)[:, None])[codes]
    scale = np.sqrt((a**2).sum(axis=0))
    nonconst = scale > tol * max(1.0, float(np.abs(x.to_numpy(dtype=float)).max()))
    cols = [c for c, keep in zip(x.columns, nonconst) if keep]
    a = a[:, nonconst] / scale[nonconst]
    if not cols:
        return []
    kept: list[int] = []
    basis = np.zeros((a.shape[0], 0))
    for j in range(a.shape[1]):
        v = a[:, j]
        resid = v - basis @ (basis.T @ v) if basis.shape[1] else v
        norm = float(np.sqrt(resid @ resid))
        if norm > 1e-7:
            kept.append(j)
            basis = np.column_stack([basis, resid / norm])
    return [cols[j] for j in kept]


def model_frame(frame: pd.DataFrame, persons: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Register and answer covariates joined to ``frame`` and the names of the usable ones."""
    x = pd.concat([register_covariates(frame, persons), answer_covariates(frame)], axis=1)
    clash = [c for c in x.columns if c in frame.columns]
    if clash:
        raise ValueError(f"covariate names clash with sample columns: {clash}")
    data = pd.concat([frame.reset_index(drop=True), x.reset_index(drop=True)], axis=1)
    return data, list(x.columns)


# --- shared inference helpers -------------------------------------------------------------------

def cluster_ids(frame: pd.DataFrame, cluster: str) -> tuple[np.ndarray, np.ndarray]:
    """Sorted unique cluster ids (int64) and each row's position among them."""
    if cluster not in frame.columns:
        raise InputError([Problem("bip_responses", cluster, "cluster column missing", len(frame))])
    values = frame[cluster].to_numpy().astype("int64")
    ids, codes = np.unique(values, return_inverse=True)
    return ids, codes


def cluster_mean(values: np.ndarray, codes: np.ndarray, n_clusters: int) -> tuple[float, float, int]:
    """Mean of ``values`` (NaN ignored) with its cluster-robust (CR1) standard error and n."""
    ok = ~np.isnan(values)
    n = int(ok.sum())
    if n == 0:
        return float("nan"), float("nan"), 0
    m = float(values[ok].mean())
    s = np.bincount(codes[ok], weights=values[ok] - m, minlength=n_clusters)
    g = int(np.count_nonzero(np.bincount(codes[ok], minlength=n_clusters)))
    if g < 2:
        return m, float("nan"), n
    return m, float(np.sqrt(g / (g - 1) * np.sum(s**2)) / n), n


BIP_WEEKS_COLUMNS = ("person_id", "week", "employed", "ordinary_hours", "su")


def bip_jobcentre_ids(bip_responses: pd.DataFrame) -> list[int]:
    """The job centres whose staged weeks the BIP analyses read (those in ``bip_responses``), sorted."""
    return sorted(int(j) for j in pd.unique(bip_responses["jobcentre_id"].dropna()))


def bip_weeks(weeks: pd.DataFrame, bip_responses: pd.DataFrame) -> pd.DataFrame:
    """The rows of ``weeks`` of citizens who answered the survey, :data:`BIP_WEEKS_COLUMNS` only."""
    keep = weeks["person_id"].isin(pd.unique(bip_responses["person_id"])).to_numpy()
    return weeks.loc[keep, [c for c in BIP_WEEKS_COLUMNS if c in weeks.columns]].reset_index(drop=True)
