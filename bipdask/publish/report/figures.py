"""The report's figures as PNG bytes (matplotlib, Agg canvas, no pyplot global state).

- Figures 1–2 of the HIR quantitative report (Metrica 2019): the raw weekly hazard of starting a
  new LAB intervention and the Kaplan–Meier share not yet in a new one, by D×E group, with
  their 95 % bands; the data are cut where fewer than N persons are at risk beforehand
  (:func:`bipdask.publish.disclosure.protect_curve`).
- Forest plots of the per-job-centre effects (Tables 4 and 6), coefficient plots of Tables
  9–10, and the BIP quartile figures (the BIP caseworker report, Figurer 1, 2, 4–8).

Every plotting function takes protected frames only, returns ``bytes`` (or ``None`` when
there is nothing to draw) and is readable in black and white: groups differ by line style
and marker as well as colour. PNG metadata carries no software string or timestamp.
"""

from __future__ import annotations

import io
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bipdask.publish.disclosure import SUPPRESSED
from bipdask.publish.report.i18n import label, number

GROUPS = ("participating_before", "participating_intervention", "other_before", "other_intervention")
STYLE = {  # colour-blind safe (Okabe–Ito) + line style + marker: readable in print
    "participating_before": dict(color="#0072B2", linestyle="--", marker="o"),
    "participating_intervention": dict(color="#0072B2", linestyle="-", marker="s"),
    "other_before": dict(color="#D55E00", linestyle="--", marker="^"),
    "other_intervention": dict(color="#D55E00", linestyle="-", marker="D"),
}
DPI = 130
PNG_METADATA = {"Software": None}


def _new(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata=PNG_METADATA, facecolor="white")
    return buf.getvalue()


def _shown(frame: pd.DataFrame) -> pd.DataFrame:
    if SUPPRESSED in frame.columns:
        frame = frame[frame[SUPPRESSED].fillna("") == ""]
    return frame[frame["estimate"].notna()]


AT_RISK_EVERY = 10  # weeks between the columns of Figure 2's number-at-risk row


def at_risk_table(frame: pd.DataFrame, every: int = AT_RISK_EVERY) -> pd.DataFrame:
    """Figure 2's number-at-risk row: per group, the spells at risk at weeks 0, 10, 20, ….

    At risk at week x = ``n_risk`` of the group's first Kaplan–Meier row at or after x (the risk
    set changes only at observed times). Blank (NaN) where the protected curve has been cut
    before x, so no count below the disclosure threshold is shown. Rows: groups in
    :data:`GROUPS` order that have a curve; columns: the weeks.
    """
    top = float(frame["time"].max()) if len(frame) else 0.0
    weeks = np.arange(0, top + 1, every)
    out = {}
    for g in GROUPS:
        sub = frame[frame["group"] == g].sort_values("time")
        if sub.empty:
            continue
        t, n = sub["time"].to_numpy(float), sub["n_risk"].to_numpy(float)
        i = np.searchsorted(t, weeks, side="left")
        out[g] = np.where(i < len(t), n[np.minimum(i, len(t) - 1)], np.nan)
    return pd.DataFrame(out, index=weeks.astype(int)).T


def curves(frame: pd.DataFrame, kind: str, lang: str = "en") -> bytes | None:
    """Figure 1 (``kind="hazard"``) or Figure 2 (``kind="km"``) by D×E group with 95 % bands;
    Figure 2 carries a number-at-risk row under the plot (:func:`at_risk_table`)."""
    if frame is None or frame.empty:
        return None
    x, y = ("week", "hazard") if kind == "hazard" else ("time", "surv")
    if kind == "km":
        risk = at_risk_table(frame)
        fig = _new(7.0, 4.2 + 0.22 * (len(risk) + 1))
        grid = fig.add_gridspec(2, 1, height_ratios=[4.2, 0.22 * (len(risk) + 1)])
        ax = fig.add_subplot(grid[0])
    else:
        fig = _new(7.0, 4.2)
        ax = fig.add_subplot()
    for g in GROUPS:
        sub = frame[frame["group"] == g].sort_values(x)
        if sub.empty:
            continue
        st = STYLE[g]
        step = "post" if kind == "km" else None
        if step:
            ax.step(sub[x], sub[y], where="post", color=st["color"], linestyle=st["linestyle"], label=label(g, lang))
            ax.fill_between(sub[x], sub["lower"], sub["upper"], step="post", color=st["color"], alpha=0.12,
                            linewidth=0)
        else:
            ax.plot(sub[x], sub[y], label=label(g, lang), markersize=3, markevery=4, **st)
            ax.fill_between(sub[x], sub["lower"], sub["upper"], color=st["color"], alpha=0.12, linewidth=0)
    ax.set_xlabel(label("weeks_since_lab", lang))
    ax.set_ylabel(label("weekly_probability" if kind == "hazard" else "share_no_new_lab", lang))
    if kind == "km":
        ax.set_ylim(0, 1)
        ax.set_xlim(left=-1)
        _risk_row(fig.add_subplot(grid[1], sharex=ax), risk, lang)
    elif frame[y].notna().any():
        ax.set_ylim(0, max(float(np.nanquantile(frame[y], 0.95)) * 1.8, 1e-3))
    ax.yaxis.set_major_formatter(lambda v, _: f"{100 * v:.0f}%" if kind == "km" else f"{100 * v:.1f}%")
    ax.grid(alpha=0.3)
    ax.legend(frameon=False, fontsize=8)
    return png_bytes(fig)


def _risk_row(ax, risk: pd.DataFrame, lang: str) -> None:
    """The number-at-risk table drawn in its own axes, aligned with the curve's weeks."""
    ax.set_ylim(len(risk) - 0.5, -1.5)
    ax.text(0, -1, label("number_at_risk", lang), fontsize=7, fontweight="bold", va="center", ha="left")
    for r, (g, counts) in enumerate(risk.iterrows()):
        for week, n in counts.items():
            if np.isfinite(n):
                ax.text(week, r, number(n, 0, lang), fontsize=7, va="center", ha="center", color=STYLE[g]["color"])
    ax.set_yticks(range(len(risk)), [label(g, lang) for g in risk.index], fontsize=7)
    for tick, g in zip(ax.get_yticklabels(), risk.index):
        tick.set_color(STYLE[g]["color"])
    ax.tick_params(axis="x", labelbottom=False, length=0)
    ax.tick_params(axis="y", length=0, pad=18)
    for side in ax.spines.values():
        side.set_visible(False)


def forest(protected: pd.DataFrame, analysis: str, estimand: str, periods: tuple[str, ...],
           names: Mapping[int, str], lang: str = "en", scale: float = 1.0, xlabel: str = "",
           period_labels: Mapping[str, str] | None = None) -> bytes | None:
    """Per-job-centre effects with 95 % CIs, the pooled effect last (a diamond)."""
    rows = _shown(protected[(protected["analysis"] == analysis) & (protected["estimand"] == estimand)
                            & protected["period"].isin(periods)])
    if rows.empty:
        return None
    jcs = sorted({int(j) for j in rows["jobcentre_id"].dropna()}, key=lambda j: (names.get(j, str(j)), j))
    order = [None, *reversed(jcs)]
    ylabels = [label("total_participating", lang) if j is None else names.get(j, str(j)) for j in order]
    fig = _new(7.0, 1.2 + 0.28 * len(order) * max(1, len(periods)) ** 0.5)
    ax = fig.add_subplot()
    offsets = np.linspace(-0.15, 0.15, len(periods)) if len(periods) > 1 else [0.0]
    markers = ("o", "s", "^")
    for k, (period, off) in enumerate(zip(periods, offsets)):
        sub = rows[rows["period"] == period]
        for pos, j in enumerate(order):
            hit = sub[sub["jobcentre_id"].isna()] if j is None else sub[sub["jobcentre_id"] == j]
            if hit.empty:
                continue
            r = hit.iloc[0]
            est, lo, hi = (scale * float(r[c]) for c in ("estimate", "ci_low", "ci_high"))
            ax.errorbar(est, pos + off, xerr=[[max(est - lo, 0)], [max(hi - est, 0)]] if np.isfinite([lo, hi]).all()
                        else None, fmt="D" if j is None else markers[k % 3], color="black" if k == 0 else "#777777",
                        markersize=6 if j is None else 4, capsize=2, linewidth=1,
                        label=(period_labels or {}).get(period, period) if pos == 0 else None)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_yticks(range(len(order)), ylabels, fontsize=8)
    ax.set_xlabel(xlabel)
    ax.grid(axis="x", alpha=0.3)
    if len(periods) > 1:
        fig.legend(frameon=False, fontsize=8, loc="outside upper center", ncols=len(periods))
    return png_bytes(fig)


def coefficients(protected: pd.DataFrame, lang: str = "en") -> bytes | None:
    """Tables 9–10: hazard ratios (log axis, reference 1) and share coefficients, with 95 % CIs."""
    hr = _shown(protected[protected["analysis"].isin(["hir_table9", "hir_table10"])
                          & protected["estimand"].str.startswith("hr_")
                          & ~protected["estimand"].str.endswith("miss")])
    lin = _shown(protected[protected["analysis"].isin(["hir_table9", "hir_table10"])
                           & ~protected["estimand"].str.startswith("hr_")])
    if hr.empty and lin.empty:
        return None
    fig = _new(7.0, 1.5 + 0.3 * max(len(hr), len(lin)))
    axes = fig.subplots(1, 2)
    for ax, rows, ref, xl in ((axes[0], hr, 1.0, label("hazard_ratio", lang)),
                              (axes[1], lin, 0.0, label("coefficient", lang))):
        rows = rows.reset_index(drop=True)
        for pos, r in rows.iterrows():
            lo, hi = r["ci_low"], r["ci_high"]
            err = None if pd.isna(lo) or pd.isna(hi) else [[max(r["estimate"] - lo, 0)], [max(hi - r["estimate"], 0)]]
            ax.errorbar(r["estimate"], pos, xerr=err, fmt="o", color="black", markersize=4, capsize=2)
        ax.axvline(ref, color="black", linewidth=0.8, linestyle=":")
        ax.set_yticks(range(len(rows)), [f"{r.analysis.replace('hir_table', 'Tab. ')}: "
                                         f"{r.estimand.removeprefix('hr_').replace('_', ' ')}"
                                         for r in rows.itertuples()], fontsize=7)
        ax.set_xlabel(xl)
        ax.grid(axis="x", alpha=0.3)
        ax.invert_yaxis()
    return png_bytes(fig)


def bip_quartiles(protected: pd.DataFrame, lang: str = "en") -> bytes | None:
    """BIP quartile figures: employment share (Figur 1), mean caseworker effect (Figur 2) and use of
    the activity groups J/O/S/H/none (Figurer 4–8), by caseworker effectiveness quartile."""
    a = protected[protected["analysis"] == "bip_caseworker_effectiveness"]
    if a.empty:
        return None
    fig = _new(9.0, 3.4)
    axes = fig.subplots(1, 3)
    q = ["q1", "q2", "q3", "q4"]
    for ax, what, title in ((axes[0], "outcome_rate", "bip_fig1"), (axes[1], "mean_effect", "bip_fig2")):
        rows = [a[a["estimand"] == f"{what}/{k}"] for k in q]
        est = [float(r["estimate"].iloc[0]) if len(r) and not r[SUPPRESSED].iloc[0] else np.nan for r in rows]
        lo = [float(r["ci_low"].iloc[0]) if len(r) and not r[SUPPRESSED].iloc[0] else np.nan for r in rows]
        hi = [float(r["ci_high"].iloc[0]) if len(r) and not r[SUPPRESSED].iloc[0] else np.nan for r in rows]
        e = np.array(est) * 100
        ax.bar(range(1, 5), np.nan_to_num(e), color="#BBBBBB", edgecolor="black",
               hatch="//" if what == "mean_effect" else "")
        ax.errorbar(range(1, 5), e, yerr=[np.maximum(e - np.array(lo) * 100, 0), np.maximum(np.array(hi) * 100 - e, 0)],
                    fmt="none", color="black", capsize=3)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set_title(label(title, lang), fontsize=9)
        ax.set_xlabel(label("quartile", lang), fontsize=8)
        ax.set_xticks(range(1, 5))
        ax.set_ylabel("%" if what == "outcome_rate" else "pp", fontsize=8)
    ax = axes[2]
    groups = ["J", "O", "S", "H", "none"]
    width = 0.16
    hatches = ["", "//", "..", "xx", "--"]
    for k, g in enumerate(groups):
        vals, errs = [], [[], []]
        for qq in q:
            r = a[a["estimand"] == f"profile/{g}/{qq}"]
            ok = len(r) and not r[SUPPRESSED].iloc[0]
            v = float(r["estimate"].iloc[0]) * 100 if ok else np.nan
            vals.append(v)
            errs[0].append(max(v - float(r["ci_low"].iloc[0]) * 100, 0) if ok else 0)
            errs[1].append(max(float(r["ci_high"].iloc[0]) * 100 - v, 0) if ok else 0)
        x = np.arange(1, 5) + (k - 2) * width
        ax.bar(x, np.nan_to_num(vals), width, label=g, color="white", edgecolor="black", hatch=hatches[k])
        ax.errorbar(x, vals, yerr=errs, fmt="none", color="black", capsize=1, linewidth=0.7)
    ax.set_title(label("bip_fig4", lang), fontsize=9)
    ax.set_xlabel(label("quartile", lang), fontsize=8)
    ax.set_xticks(range(1, 5))
    ax.set_ylabel("%", fontsize=8)
    ax.legend(frameon=False, fontsize=7, ncols=5, loc="upper center", bbox_to_anchor=(0.5, -0.2))
    return png_bytes(fig)


def effect_sizes(protected: pd.DataFrame, lang: str = "en") -> bytes | None:
    """BIP progression: standardized change on the citizen / caseworker averages by J/O/S/H
    activity combination, with 95 % CIs (the BIP progression report, Figurer 3–24 condensed)."""
    a = protected[(protected["analysis"] == "bip_progression") & protected["estimand"].str.startswith("effect_size/")]
    if a.empty:
        return None
    indicators = [i for i in ("citizen_avg", "caseworker_avg")
                  if a["estimand"].str.startswith(f"effect_size/{i}/").any()]
    if not indicators:
        indicators = [sorted({e.split("/")[1] for e in a["estimand"]})[0]]
    fig = _new(7.0, 4.0)
    ax = fig.add_subplot()
    for k, ind in enumerate(indicators):
        sub = _shown(a[a["estimand"].str.startswith(f"effect_size/{ind}/")])
        combos = [e.split("/")[2] for e in sub["estimand"]]
        x = np.array([int(c, 2) for c in combos]) + (k - 0.5 * (len(indicators) - 1)) * 0.25
        est = sub["estimate"].to_numpy(dtype=float)
        err = [np.maximum(est - sub["ci_low"].to_numpy(dtype=float), 0),
               np.maximum(sub["ci_high"].to_numpy(dtype=float) - est, 0)]
        ax.errorbar(x, est, yerr=err, fmt="os"[k % 2], color=["black", "#777777"][k % 2], capsize=2,
                    markersize=4, label=label(ind, lang))
    ax.axhline(0, color="black", linewidth=0.8)
    ax.set_xticks(range(16), [f"{c:04b}" for c in range(16)], rotation=90, fontsize=7)
    ax.set_xlabel("J O S H")
    ax.legend(frameon=False, fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return png_bytes(fig)
