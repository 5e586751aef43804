"""The HIR part of the synthetic delivery: one job centre's persons, courses and weekly panel.

The unit of work is :func:`bipdask.synth.hir.plan.run_jobcentre` (module level, picklable, seeded
only by ``SeedSequence([seed, jobcentre_id, stream])`` through :class:`JobcentrePlan`), so the
result is the same whatever the number of worker processes; this module holds its steps. They
reproduce, per job centre and period, the number of persons in resource courses of the HIR
quantitative report's (Metrica 2019) Tabel 1 exactly, and simulates week by week, vectorised over
persons:

* the gap between LAB interventions as a discrete-time Weibull proportional-hazards process
  h(t) = p t^(p-1) exp(x'b), t = weeks since the previous LAB ended, x'b set per job centre and
  period from Tabel 4 (expected durations), first gaps of new courses from Tabel 7, plus a planted
  caseload term log(HR)·(caseload − job-centre period mean) (Tabel 9), plus (when the plan's
  ``shock_scale`` > 0) a job-centre × period frailty on x'b;
* the LAB type at start (Tabel 5 mix; company internship tuned to reach Tabel 6's share, shifted
  by a job-centre × period shock when ``shock_scale`` > 0), LAB spell lengths, and spells of
  ordinary hours;
* exits from the course to the destinations of Tabel 8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from bipdask.data.contract import LAB_TYPES, PERSONS, WEEKS
from bipdask.synth.hir import params as P

LAB_INDEX = {name: i for i, name in enumerate(LAB_TYPES)}
INTERNSHIP = LAB_INDEX["company_internship"]
OTHER_LABS = tuple(LAB_INDEX[k] for k in P.OTHER_LAB_SPLIT)
OTHER_LAB_P = np.array(list(P.OTHER_LAB_SPLIT.values()))
LAB_MEAN = np.array([0.0] + [P.LAB_MEAN_WEEKS[t] for t in LAB_TYPES[1:]])
L_OTHER = float(sum(P.OTHER_LAB_SPLIT[k] * P.LAB_MEAN_WEEKS[k] for k in P.OTHER_LAB_SPLIT))

# exit destination codes (index into P.EXIT_DESTINATIONS, then 4 = other exit, 5 = no exit)
OTHER_EXIT = len(P.EXIT_DESTINATIONS)
NO_EXIT = OTHER_EXIT + 1

STREAM_COURSES, STREAM_CASEWORKERS, STREAM_LAB, STREAM_ASSIGNMENTS, STREAM_BELIEF, STREAM_SHOCKS = range(6)


@dataclass(frozen=True)
class JobcentrePlan:
    """Everything one job centre's simulation needs (small, picklable)."""

    jobcentre_id: int
    name: str
    municipality_codes: tuple[int, ...]
    municipality_weights: tuple[float, ...]
    participating: bool
    n_before: int
    n_intervention: int
    person_id_start: int
    caseworker_id_start: int
    exit_probs: tuple[tuple[float, ...], tuple[float, ...]]  # per E: the four destinations
    gap_weeks: tuple[float, float]  # planted expected gap per E (Tabel 4)
    share_pct: tuple[float, float, float, float]  # before, intervention, effect, effect last 3m
    caseload_fte: tuple[float, ...] = ()  # main report Tabel 1 row (participating only)
    scale: float = 1.0
    seed: int = 42
    stream_offset: int = 0  # 0 = the delivery; population truth uses an independent offset
    share_calibration: float | None = None  # None = P.SHARE_CALIBRATION[participating]
    shock_scale: float = 0.0  # multiplier on the planted job-centre × period shock SDs (0 = off)

    @property
    def n_both(self) -> int:
        return both_periods_count(self.n_before, self.n_intervention)

    @property
    def n_persons(self) -> int:
        return self.n_before + self.n_intervention - self.n_both

    def rng(self, stream: int) -> np.random.Generator:
        ss = np.random.SeedSequence([self.seed, self.jobcentre_id, self.stream_offset + stream])
        return np.random.default_rng(ss)

    def shocks(self) -> dict[str, tuple[float, float]]:
        """The job centre's realised shocks per period (before, intervention): ``share_pp`` on the
        target weekly probability of the Tabel 6 outcome (pp) and ``log_hazard`` on the gap hazard's
        x'b. Drawn from their own stream, SeedSequence([seed, jobcentre_id, STREAM_SHOCKS]); all
        zero when ``shock_scale`` is 0."""
        z = self.rng(STREAM_SHOCKS).standard_normal(4)
        a = self.shock_scale * P.JOBCENTRE_SHARE_SHOCK_SD_PP
        b = self.shock_scale * P.JOBCENTRE_FRAILTY_SD
        return {"share_pp": (float(a * z[0]), float(a * z[1])), "log_hazard": (float(b * z[2]), float(b * z[3]))}


def both_periods_count(n_before: int, n_intervention: int) -> int:
    """Persons in a course in both periods (courses last 1–5 years, so most are)."""
    return min(n_before, n_intervention, int(round(P.BOTH_PERIODS_SHARE * min(n_before, n_intervention))))


def exits_in_period(n_before: int, n_intervention: int) -> tuple[int, int]:
    """Persons whose course ends within the before / intervention period (deterministic counts)."""
    nb = both_periods_count(n_before, n_intervention)
    return n_before - nb, int(round(P.EXIT_IN_INTERVENTION_SHARE * nb))


@dataclass
class Courses:
    """Course spans and person-level draws of one job centre (week indices into the panel)."""

    start: np.ndarray
    end: np.ndarray  # > E1_LAST: still in the course at the panel end
    first_row: np.ndarray
    last_row: np.ndarray
    destination: np.ndarray  # 0..3 Tabel 8 destinations, 4 other exit, 5 no exit
    group: np.ndarray  # 0 before only, 1 intervention only, 2 both
    municipality_code: np.ndarray
    extra: dict = field(default_factory=dict)


def draw_courses(plan: JobcentrePlan, rng: np.random.Generator) -> Courses:
    """Course spans reproducing Tabel 1's persons per period exactly, with Tabel 8 exits."""
    nb = plan.n_both
    n0, n1 = plan.n_before - nb, plan.n_intervention - nb
    n = n0 + n1 + nb
    group = np.concatenate([np.zeros(n0, np.int8), np.ones(n1, np.int8), np.full(nb, 2, np.int8)])
    start = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    beyond = lambda k: P.E1_LAST + 1 + rng.integers(1, 200, k)  # noqa: E731
    # before only: the course ends within the before period
    e0 = rng.integers(P.E0_FIRST, P.E0_LAST + 1, n0)
    end[:n0] = e0
    start[:n0] = e0 - 8 - np.floor(rng.gamma(1.5, 50.0, n0)).astype(np.int64)
    # intervention only: a course granted in the intervention period
    s1 = rng.integers(P.E1_FIRST, P.E1_LAST + 1, n1)
    start[n0:n0 + n1] = s1
    end[n0:n0 + n1] = beyond(n1)
    # both periods: begun before the intervention period, a fixed number end within it
    elapsed = np.floor(rng.gamma(1.5, 50.0, nb)).astype(np.int64)
    start[n0 + n1:] = np.minimum(P.E1_FIRST - 1 - elapsed, P.E0_LAST)
    _, k_exit = exits_in_period(plan.n_before, plan.n_intervention)
    ends = beyond(nb)
    who = rng.permutation(nb)[:k_exit]
    ends[who] = rng.integers(P.E1_FIRST, P.E1_LAST + 1, k_exit)
    end[n0 + n1:] = ends

    # exit destinations (Tabel 8): probabilities per period of the exit, set by the planner
    destination = np.full(n, NO_EXIT, np.int8)
    exits = end <= P.E1_LAST
    u = rng.random(n)
    for e in (0, 1):
        idx = exits & ((end >= P.E1_FIRST) == bool(e))
        cum = np.cumsum(plan.exit_probs[e])
        d = np.searchsorted(cum, u[idx], side="right").astype(np.int8)
        destination[idx] = np.minimum(d, OTHER_EXIT)
    pre = rng.integers(4, 41, n)
    post = rng.integers(4, 53, n)
    first_row = np.maximum(0, start - pre)
    absorbing = destination < OTHER_EXIT
    last_row = np.where(exits & ~absorbing, np.minimum(P.E1_LAST, end + post), P.E1_LAST)
    w = np.asarray(plan.municipality_weights, dtype=float)
    muni = np.asarray(plan.municipality_codes)[rng.choice(len(w), n, p=w / w.sum())]
    return Courses(start, end, first_row, last_row, destination, group, muni.astype(np.int32))


def draw_persons(plan: JobcentrePlan, courses: Courses, rng: np.random.Generator) -> pd.DataFrame:
    """Person background (contract ``persons``) per the HIR quantitative report's Tabel 2, by D."""
    b = P.BACKGROUND[plan.participating]
    n = len(courses.start)
    age = np.clip(rng.normal(b["age"], 11.0, n), 18, 64)
    origin_u = rng.random(n)
    origin = np.where(origin_u < b["non_western"], "non_western",
                      np.where(origin_u < b["non_western"] + b["western"], "western", "danish"))
    edu = rng.choice(np.array(["none", "skilled", "higher", ""], dtype=object), n, p=[0.47, 0.38, 0.10, 0.05])
    df = pd.DataFrame({
        "person_id": np.arange(plan.person_id_start, plan.person_id_start + n, dtype=np.int64),
        "sex": np.where(rng.random(n) < b["male"], "M", "F"),
        "birth_year": (2018 - np.floor(age)).astype(np.int16),
        "origin": origin,
        "married": rng.random(n) < b["married"],
        "education": pd.Series(edu).replace("", None),
    })
    for kind in ("emp", "cash", "selfsupp", "su", "sick"):
        m3, m6 = b[f"{kind}_3y"], b[f"{kind}_6y"]
        w3 = np.minimum(156, rng.gamma(0.6, m3 / 0.6, n))
        w6 = np.minimum(312, w3 + rng.gamma(0.6, max(m6 - m3, 0.5) / 0.6, n))
        df[f"{kind}_weeks_3y"] = np.round(w3).astype(np.int16)
        df[f"{kind}_weeks_6y"] = np.round(w6).astype(np.int16)
    ref = np.where(courses.group == 0, P.E0_FIRST, P.E1_FIRST)
    in_rf = np.clip(np.minimum(ref, courses.end) - courses.start, 0, None)
    df["rf_weeks_3y"] = np.minimum(156, in_rf).astype(np.int16)
    df["rf_weeks_6y"] = np.minimum(312, in_rf).astype(np.int16)
    return df[list(PERSONS.column_names)]


def internship_probability(share: np.ndarray, gap_weeks: float, hours_share: float,
                           calibration: float) -> np.ndarray:
    """P(a starting LAB is a company internship) so that the stationary share of weeks in an
    internship or with ordinary hours is ``share`` (fraction), given the expected gap."""
    s = np.clip((np.asarray(share) - hours_share) / (1.0 - hours_share), 0.0, 0.95)
    li = P.LAB_MEAN_WEEKS["company_internship"]
    pi = s * (gap_weeks + L_OTHER) / (li - s * li + s * L_OTHER)
    return np.clip(calibration * pi, 0.01, 0.99)


def share_target_path(plan: JobcentrePlan) -> np.ndarray:
    """Target share (fraction) of the job centre by panel week (index 0..N_PANEL-1 + lead)."""
    before, during, effect, effect3 = plan.share_pct
    n_ext = P.N_PANEL + P.SHARE_LEAD_WEEKS
    w = np.arange(n_ext)
    out = np.full(n_ext, before, dtype=float)
    if plan.participating:
        trend = P.TABLE6_OTHER[1] - P.TABLE6_OTHER[0]
        ramp = P.share_ramp(np.clip(w - P.E1_FIRST, 0, P.E1_LAST - P.E1_FIRST), effect, effect3)
        out = np.where(w >= P.E1_FIRST, before + trend + P.SHARE_RAMP_GAIN * ramp, before)
    else:
        out = np.where(w >= P.E1_FIRST, during, before)
    if plan.shock_scale:
        u0, u1 = plan.shocks()["share_pp"]
        out = out + np.where(w >= P.E1_FIRST, u1, u0)
    return np.clip(out, 1.0, 90.0) / 100.0


@dataclass
class LabPanel:
    """Weekly LAB outcome arrays (persons × panel weeks) and planted-truth bookkeeping."""

    lab: np.ndarray  # int8 index into LAB_TYPES
    hours: np.ndarray  # float32 ordinary hours


def simulate_lab(plan: JobcentrePlan, courses: Courses, caseload_dev: np.ndarray | None,
                 rng: np.random.Generator) -> LabPanel:
    """Week-by-week LAB dynamics, vectorised over the job centre's persons.

    ``caseload_dev`` (persons × panel weeks) is the person's caseworker's true FTE caseload minus
    the job centre's period mean (0 where no caseworker); it shifts the Weibull index by
    log(HR) per unit (HIR quantitative report, Tabel 9).
    """
    n = len(courses.start)
    D = plan.participating
    p = P.WEIBULL_SHAPE
    gap_xb = np.array([P.weibull_xb(g) for g in plan.gap_weeks])
    first_xb = np.array([P.weibull_xb(g) for g in P.TABLE7_FIRST_LAB_WEEKS[D]])
    if plan.shock_scale:  # the job centre × period frailty on the gap hazard
        frailty = np.asarray(plan.shocks()["log_hazard"])
        gap_xb, first_xb = gap_xb + frailty, first_xb + frailty
    beta_c = math.log(P.CASELOAD_HR)
    hours_q = P.HOURS_SHARE[D]
    share = share_target_path(plan)
    lead = P.SHARE_LEAD_WEEKS
    weeks = np.arange(-P.BURN_IN_WEEKS, P.N_PANEL)
    e_of = (weeks >= P.E1_FIRST).astype(int)
    pi_int = internship_probability(share[np.maximum(weeks, 0) + lead], np.asarray(plan.gap_weeks)[e_of],
                                    np.asarray(hours_q)[e_of], plan.share_calibration or P.SHARE_CALIBRATION[D])

    lab_out = np.zeros((n, P.N_PANEL), np.int8)
    hours_out = np.zeros((n, P.N_PANEL), np.float32)
    state = np.zeros(n, np.int8)  # 0 out of course, 1 gap, 2 in LAB
    last_end = np.zeros(n, np.int64)
    xb = np.zeros(n)
    lab = np.zeros(n, np.int8)
    remaining = np.zeros(n, np.int64)
    hours_left = np.zeros(n, np.int64)
    hours_val = np.zeros(n, np.float32)

    def draw_lab(idx: np.ndarray, w: int) -> None:
        k = len(idx)
        if k == 0:
            return
        is_int = rng.random(k) < pi_int[min(w, P.N_PANEL - 1) + P.BURN_IN_WEEKS]
        other = np.asarray(OTHER_LABS)[rng.choice(len(OTHER_LABS), k, p=OTHER_LAB_P)]
        t = np.where(is_int, INTERNSHIP, other).astype(np.int8)
        lab[idx] = t
        remaining[idx] = rng.geometric(1.0 / LAB_MEAN[t])
        state[idx] = 2

    w0 = -P.BURN_IN_WEEKS
    running = (courses.start <= w0) & (courses.end >= w0)
    idx = np.flatnonzero(running)
    in_lab = rng.random(len(idx)) < 0.35
    state[idx] = 1
    last_end[idx] = w0 - rng.integers(1, 61, len(idx))
    xb[idx] = gap_xb[0]
    draw_lab(idx[in_lab], w0)
    remaining[idx[in_lab]] = rng.integers(1, 40, in_lab.sum())

    order = np.argsort(courses.start, kind="stable")
    bounds = np.searchsorted(courses.start[order], np.arange(w0, P.N_PANEL + 1))
    for w in range(w0, P.N_PANEL):
        e = int(w >= P.E1_FIRST)
        new = order[bounds[w - w0]:bounds[w - w0 + 1]] if w > w0 else order[:0]
        state[new] = 1
        last_end[new] = w - 1
        xb[new] = first_xb[e]
        state[courses.end < w] = 0
        active = state > 0
        # ordinary hours spells (eIndkomst), in course weeks only
        h_new = np.flatnonzero(active & (hours_left == 0) & (rng.random(n) < hours_q[e] / P.HOURS_SPELL_WEEKS))
        hours_left[h_new] = rng.geometric(1.0 / P.HOURS_SPELL_WEEKS, len(h_new))
        hours_val[h_new] = np.round(rng.uniform(4, 20, len(h_new)) * 2) / 2
        has_hours = active & (hours_left > 0)
        if w >= 0:
            inlab = state == 2
            lab_out[inlab, w] = lab[inlab]
            hours_out[has_hours, w] = hours_val[has_hours]
        hours_left[has_hours] -= 1
        # gap week t = w - last_end (this week had no LAB): a start during it shows from next week
        gap = np.flatnonzero(state == 1)
        if len(gap):
            t = (w - last_end[gap]).astype(float)
            lin = xb[gap]
            if caseload_dev is not None and w >= 0:
                lin = lin + beta_c * caseload_dev[gap, w]
            cum = np.exp(lin) * (t ** p - (t - 1.0) ** p)
            starts = gap[rng.random(len(gap)) < -np.expm1(-cum)]
        else:
            starts = gap
        inlab = np.flatnonzero(state == 2)
        remaining[inlab] -= 1
        done = inlab[remaining[inlab] <= 0]
        state[done] = 1
        last_end[done] = w
        xb[done] = gap_xb[int(w + 1 >= P.E1_FIRST)]
        draw_lab(starts, w + 1)
    return LabPanel(lab_out, hours_out)


def weekly_codes(plan: JobcentrePlan, courses: Courses, rng: np.random.Generator) -> np.ndarray:
    """DREAM code per person × panel week (-1 = no benefit), before, in and after the course."""
    n = len(courses.start)
    w = np.arange(P.N_PANEL)
    codes = np.full((n, P.N_PANEL), -1, np.int16)
    # before the course: cash benefit, sickness, SU, 'other' or nothing
    pre_kind = rng.choice(5, n, p=[0.58, 0.33, 0.02, 0.04, 0.03])
    pre_code = np.select(
        [pre_kind == 0, pre_kind == 1, pre_kind == 2, pre_kind == 3],
        [rng.choice(P.CASH_CODES, n), rng.choice(P.SICK_CODES, n), P.SU_CODE, P.RC_CODE_2018], -1)
    # after an 'other' exit: cash benefit, sickness or nothing
    post_kind = rng.choice(3, n, p=[0.5, 0.35, 0.15])
    post_code = np.select([post_kind == 0, post_kind == 1],
                          [rng.choice(P.CASH_CODES, n), rng.choice(P.SICK_CODES, n)], -1)
    dest_code = np.array([-1, P.DESTINATION_CODES["flex_job"], P.DESTINATION_CODES["ledighedsydelse"],
                          P.DESTINATION_CODES["disability_pension"]])
    post_code = np.where(courses.destination < OTHER_EXIT,
                         dest_code[np.minimum(courses.destination, 3)], post_code)
    rc_code = np.where(rng.random(n) < 0.2, P.RC_CODE_2018, P.RC_CODE)
    s, e = courses.start[:, None], courses.end[:, None]
    in_rc = (w >= s) & (w <= e)
    before = w < s
    codes = np.where(before, pre_code[:, None], codes)
    codes = np.where(w > e, post_code[:, None], codes)
    rc = np.where(w >= P.CW_FIRST, rc_code[:, None], P.RC_CODE)
    codes = np.where(in_rc, rc, codes)
    # code 785 means 'other' before 2018 only; 768 is valid until 2018-06-30 only
    codes = np.where(~in_rc & (codes == P.RC_CODE_2018) & (w >= P.CW_FIRST), P.OTHER_CODE, codes)
    cut768 = (pd.Timestamp("2018-06-30") - pd.Timestamp(P.PANEL_FIRST)).days // 7
    codes = np.where((codes == 768) & (w > cut768), 740, codes)
    return codes.astype(np.int16)


def assemble_weeks(plan: JobcentrePlan, courses: Courses, panel: LabPanel, codes: np.ndarray,
                   rng: np.random.Generator, person_ids: np.ndarray) -> pd.DataFrame:
    """The contract ``weeks`` rows of the job centre (person-major, week ascending)."""
    n = len(courses.start)
    w = np.arange(P.N_PANEL)
    keep = (w >= courses.first_row[:, None]) & (w <= courses.last_row[:, None])
    after = w > courses.end[:, None]
    employed_after = after & np.isin(courses.destination, [0, 1])[:, None]
    post_hours = np.where(courses.destination == 0, rng.uniform(28, 37, n), rng.uniform(12, 25, n))
    hours = np.where(employed_after, np.round(post_hours * 2)[:, None] / 2, panel.hours)
    pi, wi = np.nonzero(keep)
    weeks = pd.Timestamp(P.PANEL_FIRST) + pd.to_timedelta(wi * 7, unit="D")
    code = codes[pi, wi]
    h = hours[pi, wi].astype(np.float64)
    df = pd.DataFrame({
        "person_id": person_ids[pi],
        "week": weeks,
        "jobcentre_id": np.full(len(pi), plan.jobcentre_id, np.int32),
        "municipality_code": courses.municipality_code[pi],
        "dream_code": pd.array(np.where(code < 0, 0, code), dtype="Int16"),
        "lab_type": np.asarray(LAB_TYPES, dtype=object)[panel.lab[pi, wi]],
        "ordinary_hours": h,
        "employed": h > 0,
        "su": code == P.SU_CODE,
    })
    df.loc[code < 0, "dream_code"] = pd.NA
    return df[list(WEEKS.column_names)]


def share_statistics(plan: JobcentrePlan, courses: Courses, panel: LabPanel) -> dict:
    """Resource-course person-weeks and those in an internship or with hours, per period,
    plus the last 3 months (Jan–Mar 2019) — the ingredients of Tabel 6's cell shares."""
    w = np.arange(P.N_PANEL)
    in_rc = (w >= courses.start[:, None]) & (w <= courses.end[:, None])
    hit = in_rc & ((panel.lab == INTERNSHIP) | (panel.hours > 0))
    inlab = in_rc & (panel.lab > 0)
    out = {}
    for key, lo, hi in (("before", P.E0_FIRST, P.E0_LAST), ("intervention", P.E1_FIRST, P.E1_LAST),
                        ("last3m", P.LAST3M_FIRSTW, P.E1_LAST)):
        sl = slice(lo, hi + 1)
        out[key] = {
            "rc_weeks": int(in_rc[:, sl].sum()),
            "share_weeks": int(hit[:, sl].sum()),
            "lab_weeks": int(inlab[:, sl].sum()),
            "internship_weeks": int((in_rc[:, sl] & (panel.lab[:, sl] == INTERNSHIP)).sum()),
            "persons": int(in_rc[:, sl].any(axis=1).sum()),
        }
    return out


def exit_statistics(courses: Courses) -> dict:
    """The cell sums of the weekly exit LPM (HIR quantitative report, eq. 3, Tabel 8), per period and week τ.

    Mirrors :func:`bipdask.prepare.spells.course_exits` on this job centre's weeks with the rows whose
    next week is not in the panel dropped (the panel's last week, 2019-03-25): for each period
    (weeks by their Monday, as :data:`~bipdask.synth.hir.params.E0_FIRST` … E1_LAST) and each week
    τ = week − the period's first week, ``person_weeks[τ]`` = persons in a resource course that
    week, ``exits[destination][τ]`` = those whose course ends that week to the destination
    (the week after shows it) and ``ends[τ]`` = all courses ending that week (any destination,
    'other' included: the destination draw's denominator). Counted from the course spans and
    destinations only, so it draws no random numbers.
    """
    w_max = P.N_PANEL - 2  # the last week whose next week is in the panel
    started = np.bincount(np.clip(courses.start, 0, None), minlength=P.N_PANEL + 1)[:P.N_PANEL]
    ended = np.bincount(np.clip(courses.end + 1, 0, P.N_PANEL), minlength=P.N_PANEL + 1)[:P.N_PANEL]
    in_course = np.cumsum(started) - np.cumsum(ended)  # start ≤ w ≤ end
    out = {}
    for key, lo, hi in (("before", P.E0_FIRST, P.E0_LAST), ("intervention", P.E1_FIRST, min(P.E1_LAST, w_max))):
        sl = slice(lo, hi + 1)
        exits = {}
        for i, name in enumerate(P.EXIT_DESTINATIONS):
            sel = (courses.destination == i) & (courses.end >= lo) & (courses.end <= hi)
            exits[name] = np.bincount(courses.end[sel] - lo, minlength=hi - lo + 1).astype(int).tolist()
        ending = (courses.end >= lo) & (courses.end <= hi) & (courses.destination != NO_EXIT)
        out[key] = {"person_weeks": in_course[sl].astype(int).tolist(), "exits": exits,
                    "ends": np.bincount(courses.end[ending] - lo, minlength=hi - lo + 1).astype(int).tolist()}
    return out
