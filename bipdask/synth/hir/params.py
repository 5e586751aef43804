"""Calibration targets and planted parameters of the synthetic HIR panel (the DGP).

Targets are the published figures of the HIR quantitative report (Metrica 2019, *Kvantitativ
slutevaluering af Håndholdt indsats i Ressourceforløb*), Tabel 1–8 and Boks 1, and of the HIR main
report (Discus 2019), Tabel 1, as transcribed in
``shared/calibration/seed_tables.json``. They are copied here so the package is self-contained.
Changing anything that alters the simulated panel must bump :data:`DGP_VERSION` (the cached
population truth is keyed by it).
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd

DGP_VERSION = "hir-dgp-1"

# --- calendar (weeks are ISO-week Mondays; a week belongs to a period by its Monday) -------------
PANEL_FIRST = dt.date(2017, 1, 2)
PANEL_LAST = dt.date(2019, 3, 25)
BEFORE = (dt.date(2017, 3, 1), dt.date(2018, 2, 28))
INTERVENTION = (dt.date(2018, 3, 1), dt.date(2019, 3, 31))
CASELOAD_FIRST = dt.date(2018, 1, 1)
LAST3M_FIRST = dt.date(2019, 1, 1)
BURN_IN_WEEKS = 52


def panel_weeks() -> pd.DatetimeIndex:
    """The 117 ISO-week Mondays 2017-01-02 … 2019-03-25 of the synthetic panel."""
    return pd.date_range(pd.Timestamp(PANEL_FIRST), pd.Timestamp(PANEL_LAST), freq="7D")


def _first_monday_on_or_after(d: dt.date) -> int:
    return math.ceil((d - PANEL_FIRST).days / 7)


def _last_monday_on_or_before(d: dt.date) -> int:
    return (d - PANEL_FIRST).days // 7


E0_FIRST = _first_monday_on_or_after(BEFORE[0])  # 9  (2017-03-06)
E0_LAST = _last_monday_on_or_before(BEFORE[1])  # 60 (2018-02-26)
E1_FIRST = _first_monday_on_or_after(INTERVENTION[0])  # 61 (2018-03-05)
E1_LAST = _last_monday_on_or_before(INTERVENTION[1])  # 116 (2019-03-25)
CW_FIRST = _first_monday_on_or_after(CASELOAD_FIRST)  # 52 (2018-01-01)
LAST3M_FIRSTW = _first_monday_on_or_after(LAST3M_FIRST)  # 105 (2019-01-07)
N_PANEL = E1_LAST + 1

# Tabel 1 caseload sub-periods (HIR main report): first Monday index of each, by Monday.
CASELOAD_SUBPERIOD_STARTS = tuple(
    _first_monday_on_or_after(d)
    for d in (dt.date(2018, 1, 1), dt.date(2018, 3, 1), dt.date(2018, 6, 1), dt.date(2018, 9, 1),
              dt.date(2018, 11, 1), dt.date(2019, 1, 1))
)

# --- Tabel 1 (HIR quantitative report): persons in resource courses per job centre and period ----
TABLE1_PERSONS: dict[str, tuple[int, int]] = {
    "Favrskov": (176, 172), "Faxe": (200, 224), "Faaborg-Midtfyn": (413, 404),
    "Gladsaxe": (296, 251), "Greve": (243, 269), "Haderslev": (230, 295),
    "Hedensted": (249, 236), "Herning": (383, 394), "Horsens": (258, 332),
    "Kolding": (411, 504), "Lyngby-Taarbæk": (107, 121), "Slagelse": (663, 606),
    "Syddjurs": (131, 143), "Vallensbæk-Ishøj": (140, 122), "Varde": (269, 281),
}
TABLE1_OTHER_TOTAL = (22_151, 24_207)

# --- Tabel 2: background (participating, other) averaged over the two periods ------------------
BACKGROUND = {
    True: dict(male=0.355, age=41.0, non_western=0.175, western=0.02, married=0.29,
               emp_6y=30, emp_3y=5, cash_6y=120, cash_3y=47, selfsupp_6y=18, selfsupp_3y=4.5,
               su_6y=8, su_3y=1.5, sick_6y=51, sick_3y=27),
    False: dict(male=0.375, age=41.0, non_western=0.205, western=0.02, married=0.25,
                emp_6y=21, emp_3y=3.5, cash_6y=148, cash_3y=63, selfsupp_6y=20, selfsupp_3y=4.5,
                su_6y=7, su_3y=1, sick_6y=42, sick_3y=20.5),
}

# --- course spans ----------------------------------------------------------------------------
BOTH_PERIODS_SHARE = 0.78  # of min(N_before, N_intervention): persons in a course in both periods
EXIT_IN_INTERVENTION_SHARE = 0.30  # of those: course ends within the intervention period

# --- Tabel 8: % of persons in the period exiting to each destination (D, E) ----------------------
EXIT_DESTINATIONS = ("ordinary_employment", "flex_job", "ledighedsydelse", "disability_pension")
TABLE8_EXIT_PCT: dict[str, dict[bool, tuple[float, float]]] = {
    "ordinary_employment": {True: (0.9, 0.8), False: (0.7, 0.8)},
    "flex_job": {True: (1.5, 1.9), False: (1.2, 1.3)},
    "ledighedsydelse": {True: (4.3, 4.7), False: (4.1, 3.9)},
    "disability_pension": {True: (10.0, 12.8), False: (8.5, 11.3)},
}

# --- Tabel 4: expected weeks between LAB interventions; '>52' is planted as 65 ------------------
OVER_52 = 65.0
TABLE4_GAP_WEEKS: dict[str, tuple[float, float]] = {
    "Favrskov": (29, 22), "Faxe": (25, 23), "Faaborg-Midtfyn": (27, 34), "Gladsaxe": (45, 34),
    "Greve": (20, 18), "Haderslev": (OVER_52, OVER_52), "Hedensted": (43, 29),
    "Herning": (45, 52), "Horsens": (38, 33), "Kolding": (49, 45),
    "Lyngby-Taarbæk": (31, OVER_52), "Slagelse": (OVER_52, 48), "Syddjurs": (23, 25),
    "Vallensbæk-Ishøj": (44, 33), "Varde": (OVER_52, OVER_52),
}
TABLE4_NATIONAL = {True: (43.0, 41.0), False: (38.0, 40.0)}
# Tabel 7: time to first LAB of a course granted in the period (D → before, intervention)
TABLE7_FIRST_LAB_WEEKS = {True: (43.0, 45.0), False: (33.0, 35.0)}

WEIBULL_SHAPE = 0.75  # p < 1: falling hazard, HIR quantitative report Fig. 1 (2.5–3 %/week → ~1.5 % after 10 weeks)
CASELOAD_HR = 0.955  # per FTE-caseload unit above the job centre's period mean (HIR quantitative report, Tabel 9)


def weibull_xb(expected_weeks: float, shape: float = WEIBULL_SHAPE) -> float:
    """The linear index x'b of a Weibull PH model whose expected duration is ``expected_weeks``.

    With h(t) = p t^(p-1) exp(x'b), E[T] = Γ(1 + 1/p) exp(-x'b / p).
    """
    return -shape * math.log(expected_weeks / math.gamma(1.0 + 1.0 / shape))


# --- Tabel 5 / Tabel 6: LAB mix and the share in company internship or with ordinary hours ------
LAB_MEAN_WEEKS = {"guidance_upskilling": 26.0, "ordinary_education": 36.0,
                  "wage_subsidy": 26.0, "company_internship": 24.0}
OTHER_LAB_SPLIT = {"guidance_upskilling": 0.94, "ordinary_education": 0.04, "wage_subsidy": 0.02}
HOURS_SPELL_WEEKS = 6.0
HOURS_SHARE = {True: (0.012, 0.010), False: (0.010, 0.009)}  # weekly share with ordinary hours
TABLE6_SHARE_PCT: dict[str, tuple[float, float, float, float]] = {
    # before, intervention, effect, effect last 3 months
    "Favrskov": (19.7, 32.7, 11.1, 11.9), "Faxe": (24.4, 24.1, -2.1, 0.4),
    "Faaborg-Midtfyn": (17.3, 26.2, 6.9, 10.0), "Gladsaxe": (16.4, 24.8, 6.5, 10.7),
    "Greve": (14.6, 22.1, 5.7, 6.9), "Haderslev": (25.9, 18.2, -9.7, -9.5),
    "Hedensted": (26.9, 28.7, -0.1, -1.1), "Herning": (14.2, 17.7, 1.5, 3.2),
    "Horsens": (22.4, 22.1, -2.2, -3.0), "Kolding": (11.6, 13.3, -0.1, 3.6),
    "Lyngby-Taarbæk": (26.5, 23.0, -5.5, -13.4), "Slagelse": (11.7, 19.1, 5.5, 8.8),
    "Syddjurs": (22.3, 22.7, -1.6, 0.9), "Vallensbæk-Ishøj": (13.4, 16.5, 1.1, -3.4),
    "Varde": (12.9, 14.8, -0.1, 0.0),
}
TABLE6_OTHER = (14.9, 16.8)
SHARE_EFFECT_DELAY_WEEKS = 26  # "no effect in the first half year" of the intervention period
SHARE_LEAD_WEEKS = 8  # internship starts lead the share by about half a spell
SHARE_RAMP_GAIN = 1.65  # the share lags internship starts; gain set from the population run
SHARE_CALIBRATION = {True: 1.04, False: 1.02}  # multiplier on P(internship) by D, set from a scale-1 run

# --- job-centre × period shocks (common to all persons of a job centre in a period) -------------
# u[j, E] ~ N(0, SD²) shifts job centre j's target weekly probability of the Tabel 6 outcome
# (company internship or ordinary hours, pp) in period E; v[j, E] ~ N(0, SD²) shifts the gap
# hazard's log index x'b (a frailty) for gaps begun in period E. Drawn from
# SeedSequence([seed, jobcentre_id, STREAM_SHOCKS]) only, so no other draw changes; scaled by
# generate(jobcentre_shocks=…) (0 = off = the panel of DGP hir-dgp-1 byte for byte). Mean zero:
# the population truth is the DGP at zero shocks (see docs/methods.md, Inference).
JOBCENTRE_SHARE_SHOCK_SD_PP = 1.5
JOBCENTRE_FRAILTY_SD = 0.10

# --- caseworkers and caseload (participating job centres, Jan 2018 – Mar 2019) ------------------
TABLE1_CASELOAD_FTE: dict[str, tuple[float, ...]] = {
    "Favrskov": (29.4, 25.9, 25.4, 27.4, 33.2, 29.8), "Faxe": (52.5, 31.6, 31.7, 31.8, 31.7, 30.4),
    "Faaborg-Midtfyn": (46.9, 35.5, 32.9, 32.6, 33.1, 36.5),
    "Gladsaxe": (34.1, 27.8, 24.6, 23.2, 21.8, 23.4), "Greve": (39.6, 33.1, 32.3, 31.8, 31.8, 32.0),
    "Haderslev": (19.8, 24.1, 29.2, 32.0, 32.2, 34.1),
    "Hedensted": (45.9, 35.6, 31.0, 33.2, 34.4, 29.6),
    "Herning": (33.8, 32.0, 32.1, 32.3, 31.4, 30.4), "Horsens": (33.9, 25.5, 25.8, 28.9, 32.2, 35.0),
    "Kolding": (42.3, 35.2, 33.9, 34.1, 34.2, 34.6),
    "Lyngby-Taarbæk": (18.4, 17.1, 17.7, 17.5, 18.0, 19.2),
    "Slagelse": (57.2, 30.5, 31.0, 31.6, 32.8, 33.5),
    "Syddjurs": (41.3, 32.0, 31.1, 30.7, 32.5, 31.3),
    "Vallensbæk-Ishøj": (32.1, 31.9, 30.1, 29.5, 28.8, 27.4),
    "Varde": (56.3, 40.0, 33.2, 34.1, 35.1, 31.9),
}
RC_PERSONS_PER_CASEWORKER = 27.0  # resource-course persons per coordinating caseworker
CASEWORKER_SD = 3.5  # persistent caseworker deviation from the job-centre mean (FTE)
CASELOAD_WEEKLY_SD = 1.2
CASEWORKER_LEAVE_PROB = 0.10
WEEKLY_HOURS = (37.0, 32.0, 30.0, 25.0, 18.5)
WEEKLY_HOURS_P = (0.70, 0.10, 0.10, 0.06, 0.04)
TYPO_LOW_SHARE = 0.01
TYPO_HIGH_SHARE = 0.01
MISSING_CASELOAD_SHARE = 0.008
CASEWORKER_SWITCH_WEEKLY = 0.01
TEMPORARY_COVER_SHARE = 0.25
NO_CASEWORKER_NEW_COURSE = 0.45  # new course: first 1–9 weeks without a caseworker
NO_CASEWORKER_ONGOING = 0.05  # ongoing course: first ~8 weeks of the period without one

# --- Tabel 3: caseworker belief (% of own caseload) ---------------------------------------------
BELIEF_N = {"pre": 112, "post": 109, "both": 81}
BELIEF_PCT = {
    "n_internship_3m": (43.4, 43.8),
    "n_ordinary_hours_1y": (18.3, 17.0),
    "n_job_2y": (34.5, 35.6),
}

# --- DREAM code list ----------------------------------------------------------------------------
RC_CODE = 783
RC_CODE_2018 = 785  # 'other' until 2017-12-31, resource course from 2018-01-01 (versioning)
CODE_SWITCH_DATE = dt.date(2018, 1, 1)
CASH_CODES = (703, 740, 768)
SICK_CODES = (881, 890, 899)
DESTINATION_CODES = {"flex_job": 660, "ledighedsydelse": 625, "disability_pension": 781}
SU_CODE = 651
OTHER_CODE = 130


def dream_code_list() -> pd.DataFrame:
    """The versioned DREAM code list (contract table ``dream_codes``).

    Cash benefit codes lie in 700–768 and sickness codes in 870–899 as the HIR quantitative report's Tabel 2 note
    says. Code 785 changes status on 2018-01-01 ('other' → 'resource_course') and code 768 ends
    on 2018-06-30, so a reader must use the version valid in each week.
    """
    far = dt.date(1990, 1, 1)
    rows = [(c, far, None, "cash_benefit") for c in CASH_CODES if c != 768]
    rows += [(768, far, dt.date(2018, 6, 30), "cash_benefit")]
    rows += [(c, far, None, "sickness") for c in SICK_CODES]
    rows += [(RC_CODE, dt.date(2013, 1, 1), None, "resource_course"),
             (RC_CODE_2018, far, CODE_SWITCH_DATE - dt.timedelta(days=1), "other"),
             (RC_CODE_2018, CODE_SWITCH_DATE, None, "resource_course"),
             (DESTINATION_CODES["flex_job"], far, None, "flex_job"),
             (DESTINATION_CODES["ledighedsydelse"], far, None, "ledighedsydelse"),
             (DESTINATION_CODES["disability_pension"], far, None, "disability_pension"),
             (SU_CODE, far, None, "su"), (OTHER_CODE, far, None, "other")]
    df = pd.DataFrame(rows, columns=["dream_code", "valid_from", "valid_to", "status"])
    df["valid_from"] = pd.to_datetime(df["valid_from"])
    df["valid_to"] = pd.to_datetime(df["valid_to"])
    return df.sort_values(["dream_code", "valid_from"]).reset_index(drop=True)


def share_ramp(weeks_into_period: np.ndarray, effect: float, effect_last3m: float) -> np.ndarray:
    """Planted DiD of the share (pp) by week of the intervention period (0 = 2018-03-05).

    Zero for the first half year; then linear so that the mean over all 56 weeks is ``effect``
    and the mean over the last 12 weeks (Jan–Mar 2019) is ``effect_last3m`` (HIR quantitative report, Tabel 6).
    """
    n = E1_LAST - E1_FIRST + 1
    d = SHARE_EFFECT_DELAY_WEEKS
    u = np.arange(n - d, dtype=float)
    m_all = effect * n / (n - d)
    last = u[-(E1_LAST - LAST3M_FIRSTW + 1):]
    b = (effect_last3m - m_all) / (last.mean() - u.mean())
    a = m_all - b * u.mean()
    w = np.asarray(weeks_into_period)
    return np.where(w < d, 0.0, a + b * (w - d))
