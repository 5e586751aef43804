"""Planted parameters and published targets of the synthetic BIP part.

Every number the BIP generator plants lives here, next to the published figure it is meant to
reproduce. Sources (``docs/methods.md#source-reports``): the BIP caseworker report (Tabel 1,
Tabel A1, Figures 1–3), the BIP progression report *Aktiv beskæftigelsesindsats og progression*
(Tables 1–3, Figures 3–24) and the BIP slides. Below, "caseworker report", "progression report"
and "slides" are these three. Counts are at scale 1 and
scale linearly. Parameters marked *tuned* were set by simulation so that the report's estimators,
run on the synthetic data, land near the published values (see the module docstring of
:mod:`bipdask.synth.bip.delivery`).
"""

from __future__ import annotations

# --- population and survey design (caseworker report "Indledning"; progression report Tabel 1) --

BIP_JOBCENTRES: tuple[str, ...] = (
    "Faxe", "Horsens", "Rebild", "Silkeborg", "Sønderborg",
    "Thisted", "Vejen", "Viborg", "Vordingborg", "Aarhus",
)
#: Share of BIP citizens per job centre (progression report Tabel 4 gives anonymised shares A–J of 3–24 %;
#: here assigned to the named centres roughly by municipality size).
JOBCENTRE_SHARE: tuple[float, ...] = (0.05, 0.10, 0.04, 0.09, 0.09, 0.06, 0.06, 0.10, 0.07, 0.24)

CITIZENS = 3707                 # borgere with a response (caseworker report)
CITIZEN_RESPONSES = 13688       # borgerbesvarelser (caseworker report)
CASEWORKER_RESPONSE_SHARE = 13561 / 13688   # sagsbehandlerbesvarelser / borgerbesvarelser
MAIN_CASEWORKERS = 121          # main BIP caseworkers; *tuned*: ≈115 pass the ≥10-citizens rule (caseworker report)

# Scheduled responses per citizen: 1 with prob SINGLE_SHARE, else 2 + Poisson(EXTRA_MEAN).
# Responses after a job/SU start are not held (the citizen leaves BIP), so the schedule is a
# little longer than the realised 13,688 / 3,707 = 3.69 responses per citizen. *tuned*
SINGLE_SHARE = 0.05
EXTRA_MEAN = 3.9
GAP_MEAN_WEEKS = 22.0           # "knap 22 uger" between consecutive responses (progression report p. 7)
GAP_SHAPE = 4.0                 # gamma shape of the gaps
GAP_MIN_WEEKS = 6
FOLLOW_UP_WEEKS = 52            # outcome window after a response (caseworker report "Data og metode")
MIN_FOLLOW_UP_WEEKS = 26        # no response is scheduled with less follow-up than this

# --- caseworkers (caseworker report Tabel 1, Figures 1–3; slides "Sagsbehandlerskift") ------

#: Probability that a citizen's first caseworker is one of the job centre's main BIP caseworkers;
#: the others are served by caseworkers with only one or two BIP citizens, who fail the
#: report's ≥10-responses rule. *tuned* to 6,164 responses / 2,701 citizens after the rules.
MAIN_FIRST_SHARE = 0.85
#: Probability of a caseworker change between two consecutive responses, and that the new
#: caseworker is a main one. *tuned* to "40 pct. oplever sagsbehandlerskift".
CHANGE_PROB = 0.17
MAIN_AFTER_CHANGE_SHARE = 0.32
SMALL_NEW_CASEWORKER_PROB = 0.85  # per small spell: starts a new small caseworker (else shares)
MAIN_SIZE_SHAPE = 4.0             # gamma shape of the main caseworkers' caseload weights
#: Caseworker effect on the log weekly job/SU-start hazard, N(0, sd). *tuned* to Tabel 1.
CASEWORKER_EFFECT_SD = 0.62
#: Correlation between a caseworker's effect and the *weakness* of the citizens assigned to
#: them ("de mest effektive sagsbehandlere ikke har haft de mest ressourcestærke borgere").
NEGATIVE_SORTING = 0.25
#: Weight of the unobserved frailty in the index the caseworkers are sorted on: the index is
#: x'β + SORTING_FRAILTY_WEIGHT · frailty, standardised. 0: sorting on the register index only.
#: The report sees its sorting by comparing the raw outcome gap of the quartiles (Figur 1) with
#: the gap of the fixed effects (Figur 2), i.e. on the covariates its regression controls, and
#: its counterfactual presumes no sorting on what it does not observe (docs/methods.md, BIP
#: Tabel 1); sorting on the frailty would plant a confounder outside the report's estimand.
SORTING_FRAILTY_WEIGHT = 0.0
#: Log hazard ratio while the latest response came after a change of caseworker
#: (slides: "Et sagsbehandlerskift reducerer borgerens jobchance med 22 pct."). *tuned*
CHANGE_LOG_HAZARD = -0.60

# --- outcome: weekly complementary-log-log hazard of starting a job or SU education ---------

#: Intercept of the log weekly hazard. *tuned* to the 14.76 % outcome rate.
HAZARD_INTERCEPT = -5.97
#: Coefficients on standardised covariates (mean 0, sd 1 in the BIP population).
HAZARD_COEF: dict[str, float] = {
    "emp_weeks_3y": 0.55,
    "emp_weeks_6y": 0.30,
    "cash_weeks_3y": -0.35,
    "sick_weeks_3y": -0.25,
    "su_weeks_6y": 0.15,
    "age": -0.45,
    "female": -0.05,
    "non_western": -0.20,
    "married": 0.05,
    "skilled": 0.15,
    "higher": 0.30,
    "citizen_answers": 0.70,    # standardised mean of the latest B1–B9 answers
}
FRAILTY_SD = 0.45               # unobserved citizen heterogeneity (health, motivation)
JOBCENTRE_EFFECT_SD = 0.10
SU_SHARE_YOUNG = 0.30           # share of starts that are SU education, age < 35
SU_SHARE_OLD = 0.08
JOB_SPELL_MEAN_WEEKS = 40.0
SU_SPELL_MEAN_WEEKS = 90.0

# --- answers (progression report Table 1, Tables 2–3, Figures 1–24) ---------------------------

#: Mean change between consecutive responses (progression report Tabel 1); B10, B11 are not reported.
MEAN_CHANGE: dict[str, float] = {
    "b1": 0.020, "b2": 0.046, "b3": -0.015, "b4": -0.013, "b5": 0.050, "b6": 0.046,
    "b7": -0.022, "b8": 0.024, "b9": 0.032, "b10": 0.020, "b11": 0.000,
    "s2": 0.035, "s3": 0.064, "s4": 0.068, "s5": 0.037, "s6": 0.014, "s7": 0.006,
    "s8": 0.015, "s9": 0.018, "s10": 0.045, "s11": 0.046, "s12": 0.034,
}
#: Latent drift per response is MEAN_CHANGE × this, offsetting the attenuation by clipping. *tuned*
DRIFT_INFLATION = 1.15
ANSWER_LEVEL_SD = 0.75          # sd of a citizen's latent level at the first response
ANSWER_ITEM_SD = 0.45           # persistent citizen × question deviation
ANSWER_NOISE_SD = 0.45          # response-to-response measurement noise
LATENT_STEP_SD = 0.30           # sd of the latent change between responses
CASEWORKER_OPTIMISM = 0.25      # effective caseworkers rate S2, S4, S8, S12 higher (caseworker report Figs 9–19)
OPTIMISTIC_QUESTIONS = ("s2", "s4", "s8", "s12")
ITEM_NULL_SHARE = 0.005         # item non-response B1–B9, S2–S12
ITEM_NULL_SHARE_B10_B11 = 0.02

#: Frequencies of the 16 J/O/S/H activity combinations (progression report Tabel 3; n = 6,946).
COMBINATION_COUNTS: dict[str, int] = {
    "0000": 1598, "0001": 964, "0010": 416, "0011": 366, "0100": 447, "0101": 58,
    "0110": 59, "0111": 26, "1000": 1681, "1001": 380, "1010": 308, "1011": 286,
    "1100": 234, "1101": 24, "1110": 55, "1111": 44,
}
#: Planted standardised effect of each combination on the change in the citizen average
#: B1–B9 (progression report Figure 3: 0000 ≈ −0.15, 1101 ≈ +0.45, job-oriented combinations positive)
#: and on the caseworker average S2–S12 (Figure 13: 0000 ≈ −0.20, 1010 significant).
#: Both are centred to a weighted mean of zero before use, as the standardisation implies.
COMBINATION_EFFECT_CITIZEN: dict[str, float] = {
    "0000": -0.15, "0001": 0.02, "0010": -0.02, "0011": 0.03, "0100": 0.05, "0101": 0.20,
    "0110": 0.05, "0111": 0.10, "1000": 0.08, "1001": 0.10, "1010": 0.10, "1011": 0.10,
    "1100": 0.12, "1101": 0.45, "1110": 0.15, "1111": 0.20,
}
COMBINATION_EFFECT_CASEWORKER: dict[str, float] = {
    "0000": -0.20, "0001": 0.00, "0010": -0.05, "0011": 0.02, "0100": 0.00, "0101": 0.10,
    "0110": 0.05, "0111": 0.05, "1000": 0.10, "1001": 0.12, "1010": 0.20, "1011": 0.12,
    "1100": 0.12, "1101": 0.25, "1110": 0.15, "1111": 0.15,
}
#: In a 0000 response the caseworker ticks "ingen aktiviteter" (box 22), else "ved ikke" (23).
NONE_BOX_SHARE = 0.85
#: Per ticked group: probability of each further box of the group beyond the first.
EXTRA_BOX_PROB = 0.25

# --- persons (progression report Tables 4–5; slides: activity-ready cash-benefit recipients over 30)

FEMALE_SHARE = 0.48
AGE_MEAN, AGE_SD, AGE_MIN, AGE_MAX = 39.0, 8.5, 30, 64
ORIGIN_SHARE = {"danish": 0.80, "western": 0.03, "non_western": 0.17}
MARRIED_SHARE = 0.20
EDUCATION_SHARE = {"none": 0.70, "skilled": 0.22, "higher": 0.05, None: 0.03}
#: Mean share of the last 3 years and of the 3 years before in each state (progression report Tabel 5;
#: its 5-year shares stand in for the 6-year window). Order: emp, cash, selfsupp, su, sick, rf.
HISTORY_SHARE_3Y = (0.045, 0.70, 0.07, 0.035, 0.07, 0.02)
HISTORY_SHARE_PRIOR_3Y = (0.15, 0.48, 0.11, 0.05, 0.09, 0.01)
HISTORY_CONCENTRATION = 2.5

# --- weekly register codes ----------------------------------------------------------------

#: DREAM codes used in the BIP citizens' weeks: cash benefit (kontanthjælp) and SU; both are in
#: the synthetic ``dream_codes`` list (bipdask.synth.hir.params.CASH_CODES / SU_CODE) for all weeks.
CASH_BENEFIT_CODES: tuple[int, ...] = (703, 740)
SU_CODE = 651
LAB_WINDOW_WEEKS = 13           # S1 asks about "de sidste tre måneder"

# --- seed streams (np.random.SeedSequence([seed, BIP_STREAM, sub])) ---------------------------
BIP_STREAM = 2
STREAM_PERSONS, STREAM_SCHEDULE, STREAM_CASEWORKERS = 1, 2, 3
STREAM_ANSWERS, STREAM_OUTCOME, STREAM_WEEKS, STREAM_POPULATION = 4, 5, 6, 7
