"""Caseworkers of the participating job centres: caseload, true assignments and messy records.

Per job centre (HIR participants only, Jan 2018 – Mar 2019):

* coordinating caseworkers with weekly hours, a persistent deviation from the job centre's mean
  and weekly noise; the FTE caseload n_cases·37/weekly_hours has the job-centre sub-period means
  of the HIR main report's Tabel 1 (Discus 2019); recorded values carry typo outliers
  (values like 1 and 140, HIR quantitative report, Boks 1) and a few unreported weeks;
* the TRUE caseworker of every person-week (changes, temporary covers, leavers, a first stretch
  without a caseworker);
* assignment records written so that reading them under Boks 1's four rules gives back the true
  caseworker exactly — with open ends (rule 1), mid-week starts (rule 2), nested covers (rule 3),
  partial overlaps and start-date ties (rule 4). :func:`decode_assignments_reference` is the
  reading used to check this.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from bipdask.data.contract import FTE_HOURS_PER_WEEK
from bipdask.synth.hir import params as P

MONDAY0 = pd.Timestamp(P.PANEL_FIRST)


def week_date(w: int, day: int = 0) -> pd.Timestamp:
    """The date ``day`` days after the Monday of panel week ``w``."""
    return MONDAY0 + pd.Timedelta(days=7 * int(w) + int(day))


@dataclass
class CaseworkerPanel:
    """One job centre's caseworkers (K) over the panel weeks."""

    ids: np.ndarray  # int64 (K,)
    active: np.ndarray  # bool (K, N_PANEL)
    hours: np.ndarray  # float (K,)
    n_cases: np.ndarray  # int (K, N_PANEL), 0 where inactive
    fte_true: np.ndarray  # float (K, N_PANEL), nan where inactive
    period_mean: np.ndarray  # (2,) mean true FTE caseload over caseworker-weeks, E0 part / E1


def subperiod_of_week(w: np.ndarray) -> np.ndarray:
    """Index 0..5 of the Tabel 1 (HIR main report) caseload sub-period of each panel week."""
    return np.searchsorted(np.asarray(P.CASELOAD_SUBPERIOD_STARTS), w, side="right") - 1


def draw_caseworkers(n_caseworkers: int, caseworker_id_start: int, targets: tuple[float, ...],
                     rng: np.random.Generator) -> CaseworkerPanel:
    """Caseworkers, their activity (with leavers replaced) and true FTE caseloads."""
    k0 = n_caseworkers
    leave = np.where(rng.random(k0) < P.CASEWORKER_LEAVE_PROB, rng.integers(62, 111, k0), P.N_PANEL)
    n_new = int((leave < P.N_PANEL).sum())
    k = k0 + n_new
    first = np.concatenate([np.full(k0, P.CW_FIRST), leave[leave < P.N_PANEL]])
    last = np.concatenate([leave - 1, np.full(n_new, P.E1_LAST)])
    w = np.arange(P.N_PANEL)
    active = (w >= first[:, None]) & (w <= last[:, None])
    hours = rng.choice(P.WEEKLY_HOURS, k, p=P.WEEKLY_HOURS_P)
    dev = rng.normal(0.0, P.CASEWORKER_SD, k)
    if k > 1:
        dev -= dev.mean()
    target = np.full(P.N_PANEL, np.nan)
    sp = subperiod_of_week(w)
    target[w >= P.CW_FIRST] = np.asarray(targets)[sp[w >= P.CW_FIRST]]
    fte = target[None, :] + dev[:, None] + rng.normal(0.0, P.CASELOAD_WEEKLY_SD, (k, P.N_PANEL))
    n_cases = np.maximum(1, np.round(np.maximum(fte, 5.0) * hours[:, None] / FTE_HOURS_PER_WEEK))
    n_cases = np.where(active, n_cases, 0).astype(np.int64)
    fte_true = np.where(active, n_cases * FTE_HOURS_PER_WEEK / hours[:, None], np.nan)
    e0 = fte_true[:, P.CW_FIRST:P.E1_FIRST]
    e1 = fte_true[:, P.E1_FIRST:]
    means = np.array([np.nanmean(e0), np.nanmean(e1)])
    ids = np.arange(caseworker_id_start, caseworker_id_start + k, dtype=np.int64)
    return CaseworkerPanel(ids, active, hours, n_cases, fte_true, means)


def caseload_records(cw: CaseworkerPanel, jobcentre_id: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Contract ``caseload`` rows: active caseworker-weeks minus unreported ones, with typos."""
    ki, wi = np.nonzero(cw.active)
    keep = rng.random(len(ki)) >= P.MISSING_CASELOAD_SHARE
    ki, wi = ki[keep], wi[keep]
    n_cases = cw.n_cases[ki, wi].copy()
    hours = cw.hours[ki]
    u = rng.random(len(ki))
    low = u < P.TYPO_LOW_SHARE
    high = (u >= P.TYPO_LOW_SHARE) & (u < P.TYPO_LOW_SHARE + P.TYPO_HIGH_SHARE)
    n_cases[low] = 1
    n_cases[high] = np.round(rng.uniform(100, 140, high.sum()) * hours[high] / FTE_HOURS_PER_WEEK)
    df = pd.DataFrame({
        "caseworker_id": cw.ids[ki],
        "jobcentre_id": np.full(len(ki), jobcentre_id, np.int32),
        "week": MONDAY0 + pd.to_timedelta(wi * 7, unit="D"),
        "n_cases": n_cases.astype(np.int32),
        "weekly_hours": hours.astype(np.float64),
    })
    return df, {"caseworker_weeks": int(cw.active.sum()), "unreported": int((~keep).sum()),
                "typo_low": int(low.sum()), "typo_high": int(high.sum())}


@dataclass
class Segment:
    caseworker: int  # local index
    first: int
    last: int
    cover: int = 0  # 1 = first A of an A-B-A temporary cover, 2 = the cover B, 3 = A resumed


def _pick(cw: CaseworkerPanel, w: int, exclude: int, rng: np.random.Generator) -> int:
    cand = np.flatnonzero(cw.active[:, w])
    cand = cand[cand != exclude]
    if len(cand) == 0:
        return exclude
    return int(cand[rng.integers(len(cand))])


def draw_true_paths(start: np.ndarray, end: np.ndarray, cw: CaseworkerPanel,
                    rng: np.random.Generator) -> tuple[list[list[Segment]], np.ndarray]:
    """The true caseworker segments per person and the person × week caseworker index (-1 none).

    From Jan 2018 (or the course start) to the course end or the period end; a new course goes
    without a caseworker for its first 1–9 weeks with probability NO_CASEWORKER_NEW_COURSE, an
    ongoing one for ~8 weeks into the intervention period with probability NO_CASEWORKER_ONGOING.
    """
    n = len(start)
    cw_week = np.full((n, P.N_PANEL), -1, np.int32)
    paths: list[list[Segment]] = []
    last_active = np.where(cw.active.any(axis=1), P.N_PANEL - 1 - np.argmax(cw.active[:, ::-1], axis=1), -1)
    for i in range(n):
        a0, z = max(P.CW_FIRST, int(start[i])), min(P.E1_LAST, int(end[i]))
        segs: list[Segment] = []
        if a0 <= z:
            if start[i] >= P.CW_FIRST:
                first = a0 + (int(rng.integers(1, 10)) if rng.random() < P.NO_CASEWORKER_NEW_COURSE else 0)
            else:
                first = P.E1_FIRST + int(rng.integers(5, 12)) if rng.random() < P.NO_CASEWORKER_ONGOING else a0
            cur, k = first, (_pick(cw, first, -1, rng) if first <= z else -1)
            min_len = 1
            while k >= 0 and cur <= z:
                switch = cur + max(min_len, int(rng.geometric(P.CASEWORKER_SWITCH_WEEKLY)))
                change = min(switch, int(last_active[k]) + 1)
                if change > z:
                    segs.append(Segment(k, cur, z, 3 if min_len == 2 else 0))
                    break
                length = int(rng.integers(2, 7))
                back = change + length
                cover_ok = (change == switch and rng.random() < P.TEMPORARY_COVER_SHARE and min_len == 1
                            and back + 1 <= min(z, int(last_active[k])))
                if cover_ok:
                    b = _pick(cw, change, k, rng)
                    cover_ok = b != k and bool(cw.active[b, change:back].all())
                if cover_ok:
                    segs.append(Segment(k, cur, change - 1, 1))
                    segs.append(Segment(b, change, back - 1, 2))
                    cur, min_len = back, 2
                    continue
                segs.append(Segment(k, cur, change - 1, 3 if min_len == 2 else 0))
                nk = _pick(cw, change, k, rng)
                if nk == k and not cw.active[k, change]:
                    break
                k, cur, min_len = nk, change, 1
        for s in segs:
            cw_week[i, s.first:s.last + 1] = s.caseworker
        paths.append(segs)
    return paths, cw_week


def encode_assignments(paths: list[list[Segment]], person_ids: np.ndarray, start: np.ndarray,
                       cw: CaseworkerPanel, jobcentre_id: int, rng: np.random.Generator) -> tuple[pd.DataFrame, dict]:
    """Messy assignment records whose Boks 1 reading is exactly the true path (see module doc)."""
    rows: list[tuple[int, int, pd.Timestamp, pd.Timestamp | None]] = []
    counts = dict(open_next=0, open_last=0, mid_week=0, nested=0, overlap=0, tie=0)

    def start_date(w: int) -> pd.Timestamp:
        if rng.random() < 0.3:
            counts["mid_week"] += 1
            return week_date(w, int(rng.integers(1, 5)))
        return week_date(w)

    for pid, segs, s0 in zip(person_ids, paths, start):
        m = len(segs)
        j = 0
        prev_overlaps = False
        while j < m:
            s = segs[j]
            first_w = s.first
            if j == 0 and s.first == P.CW_FIRST and s0 < P.CW_FIRST:  # assigned before 2018
                first_w = max(int(s0), P.CW_FIRST - int(rng.integers(0, 41)))
            if s.cover == 1 and j + 2 < m and rng.random() < 0.7:
                a2, b, a3 = segs[j], segs[j + 1], segs[j + 2]
                outer_end = week_date(a3.last, int(rng.integers(0, 7)))
                rows.append((pid, cw.ids[a2.caseworker], start_date(first_w), outer_end))
                rows.append((pid, cw.ids[b.caseworker], start_date(b.first),
                             week_date(b.last + 1, int(rng.integers(0, 7)))))
                counts["nested"] += 1
                j += 3
                prev_overlaps = False
                continue
            nxt = segs[j + 1] if j + 1 < m else None
            sd = start_date(first_w)
            u = rng.random()
            if nxt is None:
                if s.last == P.E1_LAST and u < 0.5:
                    ed, counts["open_last"] = None, counts["open_last"] + 1
                else:
                    ed = week_date(s.last, int(rng.integers(0, 7)))
                overlaps = False
            elif u < 0.2:
                ed, counts["open_next"] = None, counts["open_next"] + 1
                overlaps = False
            elif u < 0.35 and nxt.cover != 1 and nxt.last - nxt.first >= 1:
                o = int(rng.integers(1, nxt.last - nxt.first + 1))
                ed = week_date(s.last + o, int(rng.integers(0, 7)))
                counts["overlap"] += 1
                overlaps = True
            else:
                ed = week_date(s.last, int(rng.integers(0, 7)))
                overlaps = False
            rows.append((pid, cw.ids[s.caseworker], sd, ed))
            smaller = cw.ids[cw.ids < cw.ids[s.caseworker]]
            if (not prev_overlaps and s.last - s.first >= 1 and len(smaller) and rng.random() < 0.02):
                e2 = week_date(s.first + int(rng.integers(0, s.last - s.first)), int(rng.integers(0, 7)))
                rows.append((pid, int(smaller[rng.integers(len(smaller))]), sd, e2))
                counts["tie"] += 1
            prev_overlaps = overlaps
            j += 1
    df = pd.DataFrame(rows, columns=["person_id", "caseworker_id", "start_date", "end_date"])
    df.insert(2, "jobcentre_id", np.int32(jobcentre_id))
    df["person_id"] = df["person_id"].astype("int64")
    df["caseworker_id"] = df["caseworker_id"].astype("int64")
    df["start_date"] = pd.to_datetime(df["start_date"])
    df["end_date"] = pd.to_datetime(df["end_date"])
    # A mid-week start can fall after a random end day of the same week; the week-level
    # reading is unchanged by moving such an end day up to the start day.
    df["end_date"] = df["end_date"].where(df["end_date"].isna() | (df["end_date"] >= df["start_date"]),
                                          df["start_date"])
    df["jobcentre_id"] = df["jobcentre_id"].astype("int32")
    return df, counts


def decode_assignments_reference(assignments: pd.DataFrame, period_end: pd.Timestamp) -> pd.DataFrame:
    """Read assignment records under the HIR quantitative report's Boks 1 → (person_id, week, caseworker_id).

    A plain per-person reading kept as the reference for the synthetic encoding (the production
    linkage lives in :mod:`bipdask.prepare.linkage`): (1) a missing end runs to the week before the
    person's next later-starting assignment, else to the week of ``period_end``; (2) a record
    counts from the week of its start date; (3) a record nested strictly inside another (later
    start week, earlier end week) ends the week before its end week; (4) otherwise the
    later-starting record wins (ties: the larger caseworker_id). End weeks are inclusive.
    """
    a = assignments.copy()
    a["sw"] = (a["start_date"] - pd.to_timedelta(a["start_date"].dt.weekday, unit="D")).dt.normalize()
    ed = a["end_date"]
    a["ew"] = (ed - pd.to_timedelta(ed.dt.weekday, unit="D")).dt.normalize()
    pe = (period_end - pd.Timedelta(days=period_end.weekday())).normalize()
    out = []
    for pid, g in a.sort_values(["person_id", "sw", "caseworker_id"]).groupby("person_id", sort=True):
        sw = g["sw"].to_numpy()
        ew = g["ew"].to_numpy().copy()
        cw = g["caseworker_id"].to_numpy()
        for i in np.flatnonzero(pd.isna(ew)):
            later = sw[sw > sw[i]]
            ew[i] = (later.min() - np.timedelta64(7, "D")) if len(later) else np.datetime64(pe)
        eff = ew.copy()
        for i in range(len(sw)):
            if np.any((sw < sw[i]) & (ew > ew[i])):
                eff[i] = ew[i] - np.timedelta64(7, "D")
        paint: dict = {}
        for i in range(len(sw)):
            for wk in pd.date_range(sw[i], eff[i], freq="7D"):
                paint[wk] = cw[i]
        out.append(pd.DataFrame({"person_id": pid, "week": list(paint), "caseworker_id": list(paint.values())}))
    if not out:
        return pd.DataFrame({"person_id": pd.Series(dtype="int64"), "week": pd.Series(dtype="datetime64[ns]"),
                             "caseworker_id": pd.Series(dtype="int64")})
    return pd.concat(out, ignore_index=True)


def belief_survey(caseworkers: pd.DataFrame, scale: float, rng: np.random.Generator) -> pd.DataFrame:
    """Contract ``belief_survey``: pre (Jan 2018) and post (Mar 2019) waves, HIR quantitative report, Tabel 3.

    ``caseworkers`` has caseworker_id, jobcentre_id, n_cases_pre, n_cases_post (0 = not active
    at that survey). Respondent counts are Tabel 3's (112 pre, 109 post, 81 both) × scale, as far
    as caseworkers exist; each answer is a binomial draw from the caseworker's own caseload.
    """
    pre_ok = caseworkers["n_cases_pre"].to_numpy() > 0
    post_ok = caseworkers["n_cases_post"].to_numpy() > 0
    both_pool = np.flatnonzero(pre_ok & post_ok)
    nb = min(len(both_pool), max(1, round(P.BELIEF_N["both"] * scale)))
    both = rng.permutation(both_pool)[:nb]
    rest_pre = np.setdiff1d(np.flatnonzero(pre_ok), both)
    rest_post = np.setdiff1d(np.flatnonzero(post_ok), both)
    n_pre = min(len(rest_pre), max(0, round(P.BELIEF_N["pre"] * scale) - nb))
    pre_only = rng.permutation(rest_pre)[:n_pre]
    rest_post = np.setdiff1d(rest_post, pre_only)
    n_post = min(len(rest_post), max(0, round(P.BELIEF_N["post"] * scale) - nb))
    post_only = rng.permutation(rest_post)[:n_post]
    k = len(caseworkers)
    base = {q: np.clip(rng.normal(pre / 100.0, 0.15, k), 0.0, 1.0) for q, (pre, _) in P.BELIEF_PCT.items()}
    frames = []
    for wave, idx in (("pre", np.sort(np.concatenate([both, pre_only]))),
                      ("post", np.sort(np.concatenate([both, post_only])))):
        n_case = caseworkers[f"n_cases_{wave}"].to_numpy()[idx]
        df = pd.DataFrame({"caseworker_id": caseworkers["caseworker_id"].to_numpy()[idx].astype("int64"),
                           "jobcentre_id": caseworkers["jobcentre_id"].to_numpy()[idx].astype("int32"),
                           "wave": wave, "n_caseload": n_case.astype("int32")})
        for q, (pre, post) in P.BELIEF_PCT.items():
            p = base[q][idx]
            if wave == "post":
                p = np.clip(p + (post - pre) / 100.0 + rng.normal(0.0, 0.05, len(idx)), 0.0, 1.0)
            df[q] = rng.binomial(n_case, p).astype("int32")
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
