"""The BIP part of the synthetic delivery: citizens, their weeks, their BIP responses, the truth.

Reproduces, at scale 1, the data behind the BIP reports (``docs/methods.md#source-reports``):

* the BIP caseworker report: 13,688 responses from 3,707 citizens in the 10 BIP job
  centres; after the sample rules (caseworkers with ≥10 responses, citizens with >1 response,
  first response dropped) ≈6,164 responses, ≈115 caseworkers, ≈2,701 citizens; the outcome
  "job or SU education within 52 weeks of a response" ≈14.8 %; caseworker effects whose spread
  gives Tabel 1 (counterfactual "all as effective as the top-quartile mean") and Figures 1–2;
* the BIP progression report: answers 1–5 whose mean change between consecutive responses follows
  Tabel 1, S1 activity combinations with the frequencies of Tabel 3, and planted standardised
  effects of the combinations on the change (Figures 3 and 13);
* the BIP slides: a change of caseworker lowers the job chance by ≈22 %; ≈40 % of citizens
  experience one.

How it is made: :mod:`.schedule` (persons, response weeks, caseworkers),
:mod:`.answers` (S1 boxes, answers), :mod:`.outcome` (weekly start hazard, weeks rows).
All parameters are in :mod:`.params`. ``truth`` documents every planted parameter and the
population quantities an estimator should recover; see :func:`generate_bip`.
"""

from __future__ import annotations

import functools
import unicodedata
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from bipdask.data.contract import (
    BIP_CASEWORKER_QUESTIONS,
    BIP_CITIZEN_QUESTIONS,
    BIP_RESPONSES,
    BIP_S1_BOXES,
    HISTORY_COLUMNS,
    PERSONS,
    WEEKS,
    Table,
)
from bipdask.errors import InputError, Problem
from bipdask.synth.bip import params as P
from bipdask.synth.bip.answers import (
    COMBINATIONS,
    N_CITIZEN_AVERAGED,
    centred_effects,
    citizen_average,
    draw_answers,
)
from bipdask.synth.bip.outcome import (
    answers_index,
    build_weeks,
    lab_type_of_boxes,
    register_index,
    simulate_hazard,
    window_sums,
)
from bipdask.synth.bip.schedule import (
    assign_caseworkers,
    draw_persons,
    group_starts,
    main_caseworker_counts,
    report_sample_mask,
    schedule_responses,
)

__all__ = ["BipPart", "generate_bip", "progression_effects", "report_sample_mask"]


@dataclass(frozen=True)
class BipPart:
    """The BIP citizens' rows of ``persons`` and ``weeks``, the ``bip_responses``, and the truth.

    Frames have exactly the contract columns, with Arrow-backed dtypes of the contract types.
    """

    persons: pd.DataFrame
    weeks: pd.DataFrame
    bip_responses: pd.DataFrame
    truth: dict
    #: P(job or SU start within the response's follow-up window) per row of ``bip_responses``:
    #: the exact expectation of the outcome given the drawn covariates, answers and caseworkers.
    #: Benchmarks fit estimators on it to get their noise-free (pseudo-true) value.
    expected_outcome: np.ndarray | None = None


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([seed, P.BIP_STREAM, stream]))


def _standardised(values: np.ndarray) -> np.ndarray:
    return (values - values.mean()) / max(values.std(), 1e-9)


def _norm(name: str) -> str:
    return unicodedata.normalize("NFC", str(name)).strip().casefold()


def _bip_jobcentre_rows(jobcentres: pd.DataFrame) -> list[np.ndarray]:
    """Row positions in ``jobcentres`` of each BIP job centre, looked up by name."""
    missing_cols = [c for c in ("jobcentre_id", "name", "municipality_code") if c not in jobcentres]
    if missing_cols:
        raise InputError([Problem("jobcentres", c, "column missing", 0) for c in missing_cols])
    names = np.array([_norm(n) for n in jobcentres["name"]], dtype=object)
    rows = [np.flatnonzero(names == _norm(jc)) for jc in P.BIP_JOBCENTRES]
    n_missing = sum(r.size == 0 for r in rows)
    if n_missing:
        raise InputError([Problem("jobcentres", "name", "BIP job centre not found", n_missing,
                                  "need all of " + ", ".join(P.BIP_JOBCENTRES))])
    return rows


def _frame(table: Table, columns: dict[str, np.ndarray | pa.Array]) -> pd.DataFrame:
    """A frame with exactly ``table``'s columns and Arrow types (NaN/None → null)."""
    arrays = []
    for col in table.columns:
        values = columns[col.name]
        if isinstance(values, pa.Array):
            arrays.append(values.cast(col.type))
            continue
        values = np.asarray(values)
        mask = None
        if values.dtype.kind == "f" and not pa.types.is_floating(col.type):
            mask = np.isnan(values)
            values = np.where(mask, 0, values)
        elif values.dtype == object:
            mask = pd.isna(values)
        arrays.append(pa.array(values, mask=mask if mask is not None and mask.any() else None,
                               from_pandas=True).cast(col.type))
    tbl = pa.Table.from_arrays(arrays, schema=table.schema())
    return tbl.to_pandas(types_mapper=pd.ArrowDtype)


def _dates(weeks_index: pd.DatetimeIndex, week: np.ndarray) -> pa.Array:
    days = (weeks_index.values.astype("datetime64[D]").astype(np.int64))[week]
    return pa.array(days.astype(np.int32), type=pa.int32()).view(pa.date32())


def generate_bip(
    jobcentres: pd.DataFrame,
    weeks_index: pd.DatetimeIndex,
    *,
    scale: float,
    seed: int,
    person_id_start: int,
    caseworker_id_start: int,
) -> BipPart:
    """Generate the BIP citizens, their weekly register rows and their BIP responses.

    Parameters
    ----------
    jobcentres
        The contract's ``jobcentres`` table; the 10 BIP job centres are looked up by ``name``.
    weeks_index
        The panel's ISO-week Mondays (consecutive). Responses fall inside it, with at least
        26 (mostly 52) weeks of follow-up left.
    scale
        1.0 = the reports' population (≈3,707 citizens, ≈13,700 responses); counts scale
        linearly, with at least one main caseworker per job centre.
    seed
        Randomness comes only from ``SeedSequence([seed, 2, stream])``.
    person_id_start, caseworker_id_start
        First person id and first caseworker id; ids are consecutive from there.

    Returns
    -------
    BipPart
        ``persons``, ``weeks``, ``bip_responses`` (contract columns and Arrow types) and
        ``truth`` (planted parameters and population quantities, documented in its ``_about``).
    """
    rows = _bip_jobcentre_rows(jobcentres)
    weeks_index = pd.DatetimeIndex(weeks_index)
    n_weeks = len(weeks_index)
    if n_weeks < P.FOLLOW_UP_WEEKS + P.MIN_FOLLOW_UP_WEEKS:
        raise InputError("weeks_index: panel shorter than 78 weeks, too short for BIP follow-up")
    n_cit = max(10, round(P.CITIZENS * scale))
    share = np.asarray(P.JOBCENTRE_SHARE) / sum(P.JOBCENTRE_SHARE)

    # Persons and their job centre / municipality.
    rng = _rng(seed, P.STREAM_PERSONS)
    persons = draw_persons(n_cit, int(weeks_index[0].year), rng)
    cit_jc = rng.choice(len(rows), n_cit, p=share)
    pick = rng.random(n_cit)
    row_of = np.array([rows[j][int(p * rows[j].size)] for j, p in zip(cit_jc, pick)], dtype=np.int64)
    jc_ids = jobcentres["jobcentre_id"].to_numpy()[row_of]
    muni = jobcentres["municipality_code"].to_numpy()[row_of]
    frailty = rng.normal(0.0, P.FRAILTY_SD, n_cit)
    jc_effect = rng.normal(0.0, P.JOBCENTRE_EFFECT_SD, len(rows))
    x_beta = register_index(persons)
    strength = _standardised(x_beta + frailty)
    sorting_index = _standardised(x_beta + P.SORTING_FRAILTY_WEIGHT * frailty)
    citizen_index = P.HAZARD_INTERCEPT + x_beta + frailty + jc_effect[cit_jc]

    # Scheduled responses and caseworkers.
    sched = schedule_responses(n_cit, n_weeks, _rng(seed, P.STREAM_SCHEDULE))
    n_main = main_caseworker_counts(scale)
    cws = assign_caseworkers(sched, cit_jc, sorting_index, n_main, _rng(seed, P.STREAM_CASEWORKERS))
    resp_cw = cws.of_response
    changed = np.zeros(resp_cw.size, dtype=bool)
    changed[1:] = (sched.seq[1:] > 0) & (resp_cw[1:] != resp_cw[:-1])

    # Answers, then the hazard along the scheduled responses.
    ans = draw_answers(sched.citizen, sched.seq, strength,
                       cws.effect[resp_cw] / P.CASEWORKER_EFFECT_SD, _rng(seed, P.STREAM_ANSWERS))
    b_avg = citizen_average(ans.citizen)
    rng = _rng(seed, P.STREAM_OUTCOME)
    path = simulate_hazard(n_weeks, sched.citizen, sched.week, answers_index(b_avg),
                           cws.effect[resp_cw], changed, citizen_index, rng)
    held = sched.week < path.start_week[sched.citizen]
    r_cit, r_week, r_cw = sched.citizen[held], sched.week[held], resp_cw[held]
    lab = lab_type_of_boxes(ans.s1[held])
    wk = build_weeks(n_weeks, path.first_week, path.start_week, persons["age"], r_cit, r_week,
                     lab, _rng(seed, P.STREAM_WEEKS))

    # Ids: persons consecutive; caseworkers consecutive over those who have responses.
    person_id = person_id_start + np.arange(n_cit, dtype=np.int64)
    used, cw_local = np.unique(r_cw, return_inverse=True)
    caseworker_id = caseworker_id_start + cw_local.astype(np.int64)
    n_resp = int(held.sum())
    b = ans.citizen[held]
    s = ans.caseworker[held]
    s1 = ans.s1[held]

    persons_df = _frame(PERSONS, {
        "person_id": person_id, "sex": persons["sex"], "birth_year": persons["birth_year"],
        "origin": persons["origin"], "married": persons["married"],
        "education": persons["education"], **{c: persons[c] for c in HISTORY_COLUMNS},
    })
    weeks_df = _frame(WEEKS, {
        "person_id": person_id[wk.citizen], "week": _dates(weeks_index, wk.week),
        "jobcentre_id": jc_ids[wk.citizen], "municipality_code": muni[wk.citizen],
        "dream_code": wk.dream_code, "lab_type": wk.lab_type,
        "ordinary_hours": wk.ordinary_hours, "employed": wk.employed, "su": wk.su,
    })
    resp_cols: dict[str, np.ndarray | pa.Array] = {
        "response_id": np.arange(1, n_resp + 1, dtype=np.int64),
        "person_id": person_id[r_cit], "caseworker_id": caseworker_id,
        "jobcentre_id": jc_ids[r_cit], "response_date": _dates(weeks_index, r_week),
    }
    resp_cols.update({q: b[:, i] for i, q in enumerate(BIP_CITIZEN_QUESTIONS)})
    resp_cols.update({box: s1[:, i] for i, box in enumerate(BIP_S1_BOXES)})
    resp_cols.update({q: s[:, i] for i, q in enumerate(BIP_CASEWORKER_QUESTIONS)})
    responses_df = _frame(BIP_RESPONSES, resp_cols)

    from bipdask.synth.bip.truth import (
        build_truth,  # local: keeps the import graph flat
    )

    truth = build_truth(
        seed=seed, scale=scale, n_weeks=n_weeks, weeks_index=weeks_index, path=path,
        r_cit=r_cit, r_week=r_week, r_cw_local=cw_local, cw_effect=cws.effect[used],
        cw_is_main=cws.is_main[used], caseworker_id_start=caseworker_id_start,
        changed=changed[held], combination=ans.combination[held], b=b, s=s,
        person_id=person_id, jc_names=P.BIP_JOBCENTRES,
        jc_ids=[int(jobcentres["jobcentre_id"].iloc[r[0]]) for r in rows], jc_effect=jc_effect,
    )
    expected = 1 - np.exp(-window_sums(path, n_weeks, r_cit, r_week)["hazard"])
    return BipPart(persons=persons_df, weeks=weeks_df, bip_responses=responses_df, truth=truth,
                   expected_outcome=expected)


def progression_effects(person: np.ndarray, date: np.ndarray, values: np.ndarray,
                        combination: np.ndarray) -> dict[str, object]:
    """Progression between consecutive responses (the BIP progression report's Tabel 1, Figures 3/13).

    ``values`` (n, q) are answers with NaN for missing; the change of each response is its
    value minus the citizen's previous response's. Returns per-question mean change and n, the
    change of the row average (only rows complete in both responses), its share with no
    change, and the standardised change's mean per combination (= the coefficients of a
    regression on the 16 combination dummies) with n.
    """
    order = np.lexsort((date, person))
    v = np.asarray(values, dtype=float)[order]
    first = group_starts(np.asarray(person)[order])
    d = v[1:] - v[:-1]
    d = d[~first[1:]]
    combo = np.asarray(combination)[order][1:][~first[1:]]
    ok = ~np.isnan(d)
    mean_change = np.where(ok.any(0), np.nansum(d, 0) / np.maximum(ok.sum(0), 1), np.nan)
    complete = ok.all(axis=1)
    avg = d[complete].mean(axis=1)
    z = (avg - avg.mean()) / avg.std() if avg.size > 1 else avg * 0
    combos = combo[complete]
    effects = {c: float(z[combos == i].mean()) if (combos == i).any() else float("nan")
               for i, c in enumerate(COMBINATIONS)}
    return {
        "mean_change": mean_change.tolist(), "n": ok.sum(0).tolist(),
        "mean_change_average": float(avg.mean()) if avg.size else float("nan"),
        "n_average": int(avg.size), "share_no_change": float(np.mean(avg == 0)) if avg.size else 0.0,
        "standardized_effect": effects,
        "n_by_combination": {c: int((combos == i).sum()) for i, c in enumerate(COMBINATIONS)},
    }


@functools.lru_cache(maxsize=4)
def population_progression(n_citizens: int = 60000, seed: int = 0) -> dict[str, dict[str, object]]:
    """Expected progression statistics of the answer process, from a large independent draw.

    Draws ``n_citizens`` citizens with 5 responses each from the stream
    ``SeedSequence([seed, 2, 7])`` (no nulls) and returns :func:`progression_effects` for the
    citizen questions B1–B9 and the caseworker questions S2–S12. The answer process does not
    depend on the delivery's seed, so one fixed large draw serves every delivery (cached).
    """
    rng = _rng(seed, P.STREAM_POPULATION)
    k = 5
    citizen = np.repeat(np.arange(n_citizens), k)
    seq = np.tile(np.arange(k), n_citizens)
    ans = draw_answers(citizen, seq, rng.standard_normal(n_citizens),
                       rng.standard_normal(citizen.size), rng, with_nulls=False)
    return {
        "citizen": progression_effects(citizen, seq, ans.citizen[:, :N_CITIZEN_AVERAGED],
                                       ans.combination),
        "caseworker": progression_effects(citizen, seq, ans.caseworker, ans.combination),
    }


def planted_combination_effects() -> dict[str, dict[str, float]]:
    """The planted (centred) standardised effects per J/O/S/H combination."""
    return {
        "citizen": dict(zip(COMBINATIONS, centred_effects(P.COMBINATION_EFFECT_CITIZEN).round(4).tolist())),
        "caseworker": dict(zip(COMBINATIONS,
                               centred_effects(P.COMBINATION_EFFECT_CASEWORKER).round(4).tolist())),
    }
