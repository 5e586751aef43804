"""Kaplan–Meier curves and raw weekly hazards by group, as tidy tables with confidence bands.

Reproduces the HIR quantitative report's Figure 1 (*ugentlig sandsynlighed for påbegyndelse af
nyt LAB-forløb*: the raw weekly hazard of a new LAB intervention, 2.5–3 %/week at first, about
1.5 % after 10 weeks) and Figure 2 (*andel som stadig ikke har påbegyndt nyt LAB-forløb*: the
share not yet in a new LAB, ~45 % never within the 56 weeks). Conventions follow R
``survival::survfit``: Greenwood variance, ``std_err`` is the SE of −log S(t), and the band is
``"log"`` (R's default) or ``"log-log"``.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats


def _one_curve(t: np.ndarray, d: np.ndarray, w: np.ndarray, z: float, conf_type: str) -> pd.DataFrame:
    times = np.unique(t)
    idx = np.searchsorted(times, t)
    n_event = np.bincount(idx, weights=w * d, minlength=times.size)
    n_exit = np.bincount(idx, weights=w, minlength=times.size)
    n_risk = np.cumsum(n_exit[::-1])[::-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        surv = np.cumprod(1.0 - n_event / n_risk)
        green = np.cumsum(np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0))
        se = np.sqrt(green)
        if conf_type == "log":
            lower, upper = surv * np.exp(-z * se), np.minimum(surv * np.exp(z * se), 1.0)
        elif conf_type == "log-log":
            lls = np.log(-np.log(surv))
            half = z * se / np.log(surv)
            lower, upper = np.exp(-np.exp(lls - half)), np.exp(-np.exp(lls + half))
        else:
            raise ValueError("conf_type must be 'log' or 'log-log'")
    return pd.DataFrame({
        "time": times, "n_risk": n_risk, "n_event": n_event, "surv": surv,
        "std_err": se, "lower": lower, "upper": upper,
    })


def kaplan_meier(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    groups: Sequence[str] = (),
    weights: str | None = None,
    alpha: float = 0.05,
    conf_type: str = "log",
    origin: bool = False,
) -> pd.DataFrame:
    """Kaplan–Meier survival per group: one row per group and distinct time.

    Columns: the group columns, time (weeks), n_risk, n_event, surv, std_err, lower, upper.
    ``surv`` is the share still without the event (for Figure 2: not yet started a new LAB).

    The rows are R ``survfit``'s: one per distinct observed time, so a curve whose first time is
    1 starts at S(1), below 100 % by the first week's hazard. ``origin=True`` adds, per group
    without observations at time 0, the row time 0: everyone at risk, no event, S(0) = 1 with a
    zero-width band — where a plotted curve must start (Figure 2 of the HIR report starts at
    100 %).
    """
    z = stats.norm.ppf(1 - alpha / 2)
    frames = []
    keys = list(groups)
    grouped = [((), data)] if not keys else data.groupby(keys, sort=True, observed=True)
    for key, g in grouped:
        w = np.ones(len(g)) if weights is None else g[weights].to_numpy(dtype=float)
        t = g[duration].to_numpy(dtype=float)
        curve = _one_curve(t, g[event].to_numpy(dtype=float), w, z, conf_type)
        if origin and not np.any(t <= 0):
            start = pd.DataFrame({"time": [0.0], "n_risk": [float(w.sum())], "n_event": [0.0], "surv": [1.0],
                                  "std_err": [0.0], "lower": [1.0], "upper": [1.0]})
            curve = pd.concat([start, curve], ignore_index=True)
        key = key if isinstance(key, tuple) else (key,)
        frames.append(curve.assign(**dict(zip(keys, key))))
    out = pd.concat(frames, ignore_index=True)
    return out[[*keys, *[c for c in out.columns if c not in keys]]]


def raw_weekly_hazard(
    data: pd.DataFrame,
    *,
    duration: str,
    event: str,
    groups: Sequence[str] = (),
    max_week: int | None = None,
    alpha: float = 0.05,
    weights: str | None = None,
) -> pd.DataFrame:
    """Life-table hazard per week: events in week t / spells still at risk at the start of t.

    Durations are whole weeks ≥ 1 (a spell of duration t ended, or was censored, in week t).
    ``weights``: a frequency-weights column (spells per pattern-count row).
    Returns group columns, week, n_risk, n_event, hazard and a Wilson score interval.
    """
    z = stats.norm.ppf(1 - alpha / 2)
    keys = list(groups)
    grouped = [((), data)] if not keys else data.groupby(keys, sort=True, observed=True)
    frames = []
    for key, g in grouped:
        t = g[duration].to_numpy(dtype=np.int64)
        d = g[event].to_numpy(dtype=float)
        w = None if weights is None else g[weights].to_numpy(dtype=float)
        top = int(t.max()) if max_week is None else max_week
        weeks = np.arange(1, top + 1)
        exits = np.bincount(np.clip(t, 0, top + 1), weights=w, minlength=top + 2)
        events = np.bincount(np.clip(t, 0, top + 1), weights=d if w is None else d * w, minlength=top + 2)
        at_risk = np.cumsum(exits[::-1])[::-1][1:top + 1]
        n_event = events[1:top + 1]
        with np.errstate(divide="ignore", invalid="ignore"):
            h = n_event / at_risk
            denom = 1 + z**2 / at_risk
            centre = (h + z**2 / (2 * at_risk)) / denom
            half = z * np.sqrt(h * (1 - h) / at_risk + z**2 / (4 * at_risk**2)) / denom
        key = key if isinstance(key, tuple) else (key,)
        frames.append(pd.DataFrame({
            **dict(zip(keys, key)), "week": weeks, "n_risk": at_risk, "n_event": n_event,
            "hazard": h, "lower": centre - half, "upper": centre + half,
        }))
    return pd.concat(frames, ignore_index=True)
