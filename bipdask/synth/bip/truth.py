"""The ``truth`` of the synthetic BIP part: planted parameters and population quantities.

Population quantities are exact expectations under the data-generating process, not estimates:
for a held response at week t the probability of a job/SU start within the follow-up window
(t, min(t + 52, last panel week)] is 1 − exp(−Σ_window exp(η_w)) (see :mod:`.outcome`).
Because every caseworker effect enters η additively, setting all of them to one value c gives
1 − exp(−e^c · Σ_window exp(η_w − c_k(w))) — the counterfactual of the BIP caseworker report's
Tabel 1 in closed form.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bipdask.analyses.bip.common import (
    quartile_of,  # the BIP report's quartile rule, shared with the estimator
)
from bipdask.synth.bip import params as P
from bipdask.synth.bip.answers import COMBINATIONS
from bipdask.synth.bip.outcome import COVARIATE_MOMENTS, HazardPath, window_sums
from bipdask.synth.bip.schedule import group_starts, report_sample_mask


def build_truth(*, seed: int, scale: float, n_weeks: int, weeks_index: pd.DatetimeIndex,
                path: HazardPath, r_cit: np.ndarray, r_week: np.ndarray, r_cw_local: np.ndarray,
                cw_effect: np.ndarray, cw_is_main: np.ndarray, caseworker_id_start: int,
                changed: np.ndarray, combination: np.ndarray, b: np.ndarray, s: np.ndarray,
                person_id: np.ndarray, jc_names: tuple[str, ...], jc_ids: list[int],
                jc_effect: np.ndarray) -> dict:
    """Assemble the truth dictionary (see the module docstring and its ``_about`` entry)."""
    from bipdask.synth.bip.delivery import (
        planted_combination_effects,
        population_progression,
    )

    win = window_sums(path, n_weeks, r_cit, r_week)
    p_actual = 1 - np.exp(-win["hazard"])
    end = np.minimum(r_week + P.FOLLOW_UP_WEEKS, n_weeks - 1)
    start = path.start_week[r_cit]
    outcome = (start > r_week) & (start <= end)
    sample = report_sample_mask(r_cit, r_cw_local, r_week)

    cw_in = np.unique(r_cw_local[sample])
    eff_in = cw_effect[cw_in]
    quart = quartile_of(eff_in) if cw_in.size >= 4 else np.ones(cw_in.size, dtype=np.int64)
    # fewer than 4 caseworkers in the sample (tiny test deliveries): no top quartile, no truth (NaN)
    top = eff_in[quart == 4]
    top_mean = float(top.mean()) if top.size else (float("nan") if cw_in.size else 0.0)
    a = win["no_caseworker"][sample]
    p_s = p_actual[sample]
    cf = 1 - np.exp(-np.exp(top_mean) * a)
    # Outcome rate on the sample if every response had caseworker k (levels are comparable
    # across caseworkers: the analogue of the report's fixed effects, in percentage points).
    rate_if_k = {int(caseworker_id_start + k): float((1 - np.exp(-np.exp(e) * a)).mean())
                 for k, e in zip(cw_in, eff_in)} if a.size else {}
    q_of = dict(zip(cw_in.tolist(), quart.tolist()))
    resp_q = np.array([q_of[k] for k in r_cw_local[sample]]) if sample.any() else np.array([])
    out_s = outcome[sample]

    chg_s = changed[sample]
    p_no_change = 1 - np.exp(-win["no_change"][sample])

    multi = np.bincount(r_cit, minlength=person_id.size) > 1
    ever_changed = np.zeros(person_id.size, dtype=bool)
    ever_changed[r_cit[changed]] = True
    first = group_starts(r_cit)
    gaps = np.diff(r_week)[~first[1:]]
    pop = population_progression()

    def rate(mask: np.ndarray, values: np.ndarray) -> float:
        return float(values[mask].mean()) if mask.any() else float("nan")

    return {
        "_about": (
            "Synthetic BIP truth. Hazard: weekly cloglog, eta = intercept + coef'x_std + "
            "citizen_answers coef * std mean(B1-B9 of the latest response) + frailty + "
            "jobcentre effect + caseworker effect (latest response) + change_log_hazard * "
            "[latest response came with a new caseworker]. Outcome: job/SU start within "
            "(t, min(t+52, last week)] of a response. 'expected_*' are exact expectations "
            "given the drawn covariates and answers; 'realized_*' are the drawn data. The "
            "sample is the report's rules (caseworkers with >=10 distinct citizens over all responses, "
            "citizens >1 response, first response dropped). Caseworker quartiles are by true "
            "effect among the sample's caseworkers; the counterfactual moves every caseworker "
            "effect (log hazard) to the true top quartile's mean over the whole follow-up "
            "window. Ranking noisy fixed effects inflates the top quartile's mean (winner's "
            "curse); a fixed-effects LPM also measures each caseworker's effect on the "
            "probability scale among their own citizens (negatively sorted on the register "
            "index, and those of effective caseworkers thinned by earlier starts) and over the "
            "part of the window before a change, so its estimand is below this one "
            "(docs/methods.md#bip-tabel-1--caseworker-effectiveness)."
        ),
        "seed": seed, "scale": scale,
        "counts": {
            "citizens": int(person_id.size), "responses": int(r_cit.size),
            "caseworkers": int(cw_effect.size), "main_caseworkers": int(cw_is_main.sum()),
            "sample_responses": int(sample.sum()), "sample_caseworkers": int(cw_in.size),
            "sample_citizens": int(np.unique(r_cit[sample]).size),
            "quartile_sizes": np.bincount(quart, minlength=5)[1:].tolist(),
            "mean_weeks_between_responses": float(gaps.mean()) if gaps.size else float("nan"),
            "share_full_follow_up": float(win["full_window"].mean()),
            "share_citizens_with_change": float(ever_changed[multi].mean()) if multi.any() else 0.0,
            "first_response": str(weeks_index[r_week.min()].date()),
            "last_response": str(weeks_index[r_week.max()].date()),
        },
        "outcome_model": {
            "form": "P(start in week) = 1 - exp(-exp(eta)); eta per bip_params",
            "intercept": P.HAZARD_INTERCEPT, "coef": dict(P.HAZARD_COEF),
            "covariate_moments": {k: list(v) for k, v in COVARIATE_MOMENTS.items()},
            "frailty_sd": P.FRAILTY_SD,
            "jobcentre_effect": {n: float(e) for n, e in zip(jc_names, jc_effect)},
            "jobcentre_id": dict(zip(jc_names, jc_ids)),
            "su_share": {"age_lt_35": P.SU_SHARE_YOUNG, "age_ge_35": P.SU_SHARE_OLD},
            "spell_mean_weeks": {"job": P.JOB_SPELL_MEAN_WEEKS, "su": P.SU_SPELL_MEAN_WEEKS},
            "follow_up_weeks": P.FOLLOW_UP_WEEKS,
        },
        "caseworkers": {
            "effect_sd": P.CASEWORKER_EFFECT_SD, "negative_sorting": P.NEGATIVE_SORTING,
            "effect": {int(caseworker_id_start + k): float(e) for k, e in enumerate(cw_effect)},
            "is_main": {int(caseworker_id_start + k): bool(m) for k, m in enumerate(cw_is_main)},
            "sample_quartile": {int(caseworker_id_start + k): int(q) for k, q in
                                zip(cw_in, quart)},
            "outcome_rate_if_all_had": rate_if_k,
        },
        "outcome": {
            "expected_rate": float(p_s.mean()) if p_s.size else float("nan"),
            "realized_rate": float(out_s.mean()) if out_s.size else float("nan"),
            "expected_counterfactual_top_quartile": float(cf.mean()) if cf.size else float("nan"),
            "expected_increase": float(cf.mean() - p_s.mean()) if cf.size else float("nan"),
            "top_quartile_mean_effect": top_mean,
            "realized_rate_by_true_quartile": [rate(resp_q == q, out_s.astype(float))
                                               for q in (1, 2, 3, 4)],
            "expected_rate_by_true_quartile": [rate(resp_q == q, p_s) for q in (1, 2, 3, 4)],
            "expected_rate_all_responses": float(p_actual.mean()),
        },
        "caseworker_change": {
            "log_hazard": P.CHANGE_LOG_HAZARD, "hazard_ratio": float(np.exp(P.CHANGE_LOG_HAZARD)),
            "expected_relative_effect_on_changed": (
                float(p_s[chg_s].mean() / p_no_change[chg_s].mean() - 1) if chg_s.any() else float("nan")),
            "expected_rate_changed": rate(chg_s, p_s), "expected_rate_unchanged": rate(~chg_s, p_s),
            "realized_rate_changed": rate(chg_s, out_s.astype(float)),
            "realized_rate_unchanged": rate(~chg_s, out_s.astype(float)),
            "share_sample_responses_changed": float(chg_s.mean()) if chg_s.size else float("nan"),
        },
        "progression": {
            "planted_standardized_effect": planted_combination_effects(),
            "planted_mean_change": dict(P.MEAN_CHANGE),
            "expected": {"_about": "population_progression(): 60,000 citizens x 5 responses, "
                                   "SeedSequence([0, 2, 7]), no nulls",
                         **pop},
            "combination_frequency": {c: P.COMBINATION_COUNTS[c] / sum(P.COMBINATION_COUNTS.values())
                                      for c in COMBINATIONS},
        },
    }
