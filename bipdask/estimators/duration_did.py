"""Expected durations by group and their difference-in-differences (HIR Tables A, 4 and 7).

The HIR quantitative report (Metrica 2019, eq. 1) fits a Weibull PH model on D (participating job
centre), E (intervention period) and D×E, converts it to the expected weeks between LAB
interventions for the four groups, and reports the DiD in weeks and in percent of the
participating job centres' before-period value (Table A: 43 → 41 vs 38 → 40, −4 weeks,
−9.3 %). Table 4 repeats this for each participating job centre against all non-participating
job centres; expected durations above 52 weeks are printed as ">52" and a difference involving
one as ">0"/"<0". Table 7 applies the same machinery to the time to the first LAB of new courses.
Every number carries a cluster-bootstrap SE and percentile CI from the same replicates.

**Units.** E[T] = Γ(1 + 1/p)·e^{−x'b/p} is the mean of the latent continuous time T of the
grouped-week likelihood (an event in week d means T ∈ (d−1, d]). It does *not* count whole
weeks: a spell lasts ⌈T⌉ whole weeks, and E[⌈T⌉] = Σ_{k≥0} S(k) ≈ E[T] + ½ (for the shapes of the
HIR data, p ≈ 0.6–0.9, within a few hundredths of a week). A Weibull fitted to whole-week
durations as exact times (Stata ``streg`` on the register's weeks, as the report did) estimates
roughly the whole-week mean, so the report's Tables A/4/7 values are about ½ week above E[T].
E[T] also extrapolates the Weibull tail far beyond the 56 weeks the data observe (about 45 % of
gaps see no new LAB within them). Two estimands the window identifies are therefore added:

- ``rmst52_<group>``: the restricted mean over the first 52 weeks, in whole weeks,
  E[min(⌈T⌉, 52)] = Σ_{k=0}^{51} S(k) (the expected number of the first 52 weeks without a new
  LAB), and ``rmst52_did_weeks``, its DiD;
- ``hazard_ratio``: exp(δ), the D×E hazard ratio of eq. (1) (no effect = 1).

**Wild inference** (``inference="wild"``, clustered by job centre, where HIR assigned
treatment): the wild score bootstrap of Kline and Santos (2012), :mod:`bipdask.inference.score`.
The fit's ``wild`` tests H0: DE = 0 (with D and E), but the weeks DiD is *not* zero iff DE = 0.
With q = 1/p, a = e^{−λq}, b = e^{−γq}, d = e^{−δq} and B0 = Γ(1+q)·e^{−c·q} (other job
centres, year before), the expected weeks are B0 (others, before), B0·b (others, intervention),
B0·a (participating, before), B0·abd (participating, intervention), and

    did_weeks = B0·(abd − a − b + 1) = B0·[(a − 1)(b − 1) + ab(d − 1)],

so δ = 0 gives did_weeks = B0·(a − 1)(b − 1), zero only when λ = 0 or γ = 0. (DE = 0 is the
hypothesis of no DiD in *log* expected weeks, −δ/p.) So the weeks DiD gets its own test, of
the nonlinear restriction h(θ) = did_weeks(θ) = w: the model is refitted under h(θ) = w —
δ solved from the other parameters, d = (w/B0 + a + b − 1)/(ab), δ = −p·ln d, and the
log-likelihood maximised over (λ, γ, c, ln p) — and the score statistic uses R = ∂h/∂θ at the
restricted estimate (the LM form of a nonlinear restriction). The p-value is that of
H0: did_weeks = 0, the CI the set of w not rejected (test inversion with the same weights).
``did_pct`` = 100·did_weeks/(B0·a) is zero exactly when did_weeks is, so it has the same
p-value; its CI inverts H0: did_pct = w (d = (w·a/100 + a + b − 1)/(ab)). Both rows report as ``se_boot``
the SE the interval implies, (ci_high − ci_low)/(2·z_{1−α/2}). The four group rows are levels,
not contrasts, so there is no null to impose: they get delta-method Wald intervals from the
job-centre-clustered covariance of the fit (no p-value).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from bipdask.errors import FitError
from bipdask.estimators.newton import NewtonMessages, newton
from bipdask.estimators.weibull import (
    WeibullResult,
    _grad_hess,
    _loglik,
    _scores,
    expected_from_params,
    restricted_mean_from_params,
    weibull_ph,
)
from bipdask.inference import score
from bipdask.inference.pairs import conservative_p_value, replicate_summary
from bipdask.inference.wild import WildWeights

GROUPS = pd.DataFrame({"D": [1, 1, 0, 0], "E": [0, 1, 0, 1]}).assign(DE=lambda g: g["D"] * g["E"])
GROUP_NAMES = ["participating_before", "participating_intervention", "other_before", "other_intervention"]
DISPLAY_CAP_WEEKS = 52.0
RMST_WEEKS = 52
RMST_NAMES = [f"rmst{RMST_WEEKS}_{g}" for g in GROUP_NAMES]
QUANTITIES = [*GROUP_NAMES, "did_weeks", "did_pct", *RMST_NAMES, f"rmst{RMST_WEEKS}_did_weeks", "hazard_ratio"]
EFFECTS = ("did_weeks", "did_pct", f"rmst{RMST_WEEKS}_did_weeks", "hazard_ratio")  # the rows with a p-value


@dataclass(frozen=True)
class DurationDiD:
    """Expected durations of the four D×E groups, the DiD in weeks and in percent."""

    label: str
    fit: WeibullResult
    table: pd.DataFrame  # quantity, estimate, se_boot, ci_low, ci_high, p_value, display, replicate_failure_share

    def tidy(self) -> pd.DataFrame:
        return self.table.assign(label=self.label)


def quantities(theta_draws: np.ndarray, names: pd.Index) -> np.ndarray:
    """(B × 12) the :data:`QUANTITIES` for parameter rows ``theta_draws`` (B × 5, eq. (1) order).

    The four expected durations E[T] (weeks, continuous time), the DiD in weeks and in percent;
    the four restricted means over the first :data:`RMST_WEEKS` weeks (whole weeks,
    :func:`bipdask.estimators.weibull.restricted_mean_from_params`) and their DiD in weeks; the
    hazard ratio exp(δ) of D×E. Each is a function of the parameters, so the bootstrap
    replicates of the parameters give its replicates.
    """
    e = expected_from_params(theta_draws, names, GROUPS)
    did = (e[:, 1] - e[:, 0]) - (e[:, 3] - e[:, 2])
    r = restricted_mean_from_params(theta_draws, names, GROUPS, RMST_WEEKS)
    r_did = (r[:, 1] - r[:, 0]) - (r[:, 3] - r[:, 2])
    hr = np.exp(theta_draws[:, names.get_loc("DE")])
    return np.column_stack([e, did, 100 * did / e[:, 0], r, r_did, hr])


def _quantities(theta_draws: np.ndarray, fit: WeibullResult) -> np.ndarray:
    return quantities(theta_draws, fit.params.index)


def _null_scale(values: np.ndarray) -> np.ndarray:
    """The quantities on the scale whose null is 0: log for the hazard ratio (H0: exp(δ) = 1)."""
    out = np.array(values, dtype=float, copy=True)
    hr = QUANTITIES.index("hazard_ratio")
    with np.errstate(divide="ignore", invalid="ignore"):
        out[..., hr] = np.log(out[..., hr])
    return out


def _display(estimate: float, quantity: str, values: np.ndarray) -> str:
    if quantity in GROUP_NAMES:
        return ">52" if estimate > DISPLAY_CAP_WEEKS else f"{estimate:.0f}"
    if quantity in RMST_NAMES:
        return f"{estimate:.0f}"
    if quantity == "hazard_ratio":
        return f"{estimate:.3f}"
    if quantity.startswith("rmst"):
        return f"{estimate:.1f}"
    if np.any(values[:4] > DISPLAY_CAP_WEEKS):
        return ">0" if estimate > 0 else "<0"
    return f"{estimate:.0f}" if quantity == "did_weeks" else f"{estimate:.1f}"


def duration_did(
    spells: pd.DataFrame,
    *,
    label: str = "all participating",
    duration: str = "duration",
    event: str = "event",
    cluster: str = "person_id",
    bootstrap: int = 999,
    seed: int = 0,
    scheme: str = "multinomial",
    alpha: float = 0.05,
    interval: bool = False,
    inference: str | None = None,
    wild_weights: WildWeights = "rademacher",
    weights: str | None = None,
) -> DurationDiD:
    """Weibull DiD (eq. 1) on ``spells`` with columns D, E, duration, event, cluster.

    ``weights``: a frequency-weights column — rows that are pattern counts (the ``n_spells`` of
    :func:`bipdask.prepare.spell_counts.spell_counts`) give the fit, replicates and wild tests of
    the spells they count.

    Returns expected weeks per group, the DiD in weeks and percent, each with a bootstrap SE,
    percentile CI and p-value (share of centred replicates at least as extreme as the estimate)
    and the share of replicates that failed. Failed replicates count as extreme in both tails,
    above 1 % of them SE, CI and p-value are NaN, and with none left the p-value is NaN, never
    1/(0 + 1) (:func:`bipdask.inference.pairs.replicate_summary`).
    ``interval=True`` reads durations as grouped weeks (see :func:`bipdask.estimators.weibull.weibull_ph`).

    ``inference="wild"`` (with ``cluster="jobcentre_id"``): the wild score bootstrap with
    B = ``bootstrap`` replicates. ``did_weeks`` gets the p-value of H0: did_weeks = 0 and the CI
    by inverting H0: did_weeks = w; ``did_pct`` the same p-value and the CI inverting
    H0: did_pct = w; ``fit.wild`` tests D, E and DE = 0. Why the DE test is not used for the
    weeks DiD: see the module docstring. The group rows then get delta-method intervals from
    the cluster-robust covariance.
    """
    data = spells.assign(DE=spells["D"] * spells["E"])
    if inference == "wild":
        return _wild_duration_did(data, label, duration, event, cluster, bootstrap, seed, alpha, interval,
                                  wild_weights, weights)
    fit = weibull_ph(data, duration=duration, event=event, covariates=["D", "E", "DE"], cluster=cluster,
                     bootstrap=bootstrap, seed=seed, scheme=scheme, interval=interval, inference=inference,
                     weights=weights)
    point = _quantities(fit.params.to_numpy()[None, :], fit)[0]
    names = QUANTITIES
    rows = []
    if bootstrap:  # failed replicates count as extreme; above 1 % the interval is withheld
        reps = _quantities(fit.bootstrap.replicates.to_numpy(), fit)
        summary = replicate_summary(reps, point, alpha)
        se, lo, hi, failed = (summary[c].to_numpy() for c in ("se", "ci_low", "ci_high", "failure_share"))
        # the p-value of H0 on the scale whose null is 0 (log for the hazard ratio), same rule
        p = np.where(summary["withheld"], np.nan, conservative_p_value(_null_scale(reps), _null_scale(point)))
    else:
        lo = hi = se = p = failed = np.full(point.size, np.nan)
    for i, q in enumerate(names):
        rows.append({"quantity": q, "estimate": point[i], "se_boot": se[i], "ci_low": lo[i], "ci_high": hi[i],
                     "p_value": p[i] if q in EFFECTS else np.nan, "display": _display(point[i], q, point),
                     "replicate_failure_share": failed[i]})
    return DurationDiD(label, fit, pd.DataFrame(rows))


_D, _E, _DE, _C, _LNP = range(5)  # parameter order of the eq. (1) fit: D, E, DE, _cons, ln_p
_FREE = [_D, _E, _C, _LNP]


_GROUP_X = np.column_stack([GROUPS[["D", "E", "DE"]].to_numpy(float), np.ones(4)])  # GROUPS' rows, then _cons
_GROUP_X.flags.writeable = False


def _group_weeks(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four groups' expected weeks at θ (GROUPS order) and their gradients in θ (4 × 5).

    The expected weeks are :func:`~bipdask.estimators.weibull.expected_from_params` on GROUPS,
    written out over the fixed design ``_GROUP_X``: this runs thousands of times in a test
    inversion, and building the design from a DataFrame each time was a third of its cost."""
    rows = theta[None, :]
    p = np.exp(rows[:, -1:])
    e = (special.gamma(1 + 1 / p) * np.exp(-(rows[:, :-1] @ _GROUP_X.T) / p))[0]
    q = math.exp(-theta[_LNP])
    X = _GROUP_X
    xb = X @ theta[:4]
    return e, np.column_stack([-X * (e * q)[:, None], e * q * (xb - special.digamma(1 + q))])


def _group_rmst(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The four groups' restricted means over :data:`RMST_WEEKS` weeks at θ and their gradients (4 × 5).

    R = Σ_k S(k), S(k) = exp(−e^η k^p): ∂R/∂η = −Σ_k S(k)·e^η k^p, ∂R/∂ln p = −Σ_k S(k)·e^η k^p·p·ln k.
    """
    X = _GROUP_X
    rate = np.exp(X @ theta[:4])
    p = math.exp(theta[_LNP])
    k = np.arange(1, RMST_WEEKS, dtype=float)  # k = 0 adds S(0) = 1 and nothing to the gradient
    cum = rate[:, None] * k[None, :] ** p  # (4 × K)
    surv = np.exp(-cum)
    r = 1.0 + surv.sum(axis=1)
    d_eta = -(surv * cum).sum(axis=1)
    d_lnp = -(surv * cum * p * np.log(k)[None, :]).sum(axis=1)
    return r, np.column_stack([X * d_eta[:, None], d_lnp])


def _contrast(theta: np.ndarray, kind: str) -> tuple[float, np.ndarray]:
    """did_weeks (``kind="weeks"``), did_pct (``"pct"``) or the restricted-mean DiD (``"rmst"``)
    at θ, and its gradient in θ (5,)."""
    sign = np.array([-1.0, 1.0, 1.0, -1.0])  # (e11 − e10) − (e01 − e00), GROUPS order 10, 11, 00, 01
    if kind == "rmst":
        r, grad_r = _group_rmst(theta)
        return float(sign @ r), sign @ grad_r
    e, grad_e = _group_weeks(theta)
    did, grad = float(sign @ e), sign @ grad_e
    if kind == "weeks":
        return did, grad
    return 100 * did / e[0], 100 * (grad / e[0] - did * grad_e[0] / e[0] ** 2)


def _delta(phi: np.ndarray, kind: str, w: float) -> float:
    """δ (the DE coefficient) that makes the contrast equal ``w``, given φ = (λ, γ, c, ln p)."""
    lam, gam, c, lnp = phi
    if kind == "rmst":
        return _delta_rmst(phi, w)
    q = math.exp(-lnp)
    a, b = math.exp(-lam * q), math.exp(-gam * q)
    scale = w * a / 100 if kind == "pct" else w / (special.gamma(1 + q) * math.exp(-c * q))
    d = (scale + a + b - 1) / (a * b)
    if not d > 0:
        raise FitError(f"duration_did: no Weibull fit has a {kind} DiD of {w:g}")
    return -math.log(d) / q


def _delta_rmst(phi: np.ndarray, w: float) -> float:
    """δ that makes the restricted-mean DiD equal ``w``: R11 is strictly decreasing in the
    participating-intervention group's linear predictor η11 = λ + γ + δ + c, so η11 is the root
    of R(η) = w + R10 + R01 − R00 (which must lie in (1, RMST_WEEKS): S(0) = 1, S(k) < 1)."""
    lam, gam, c, lnp = phi
    p = math.exp(lnp)
    k = np.arange(1, RMST_WEEKS, dtype=float) ** p

    def rmst(eta: float) -> float:
        return 1.0 + float(np.exp(-math.exp(eta) * k).sum())

    target = w + rmst(lam + c) + rmst(gam + c) - rmst(c)
    if not 1.0 < target < RMST_WEEKS:
        raise FitError(f"duration_did: no Weibull fit has a restricted-mean DiD of {w:g}")
    lo, hi = -60.0, 30.0
    if not (rmst(lo) - target) > 0 > (rmst(hi) - target):
        raise FitError(f"duration_did: no Weibull fit has a restricted-mean DiD of {w:g}")
    eta = optimize.brentq(lambda x: rmst(x) - target, lo, hi, xtol=1e-13, rtol=1e-13)
    return eta - lam - gam - c


def _full(phi: np.ndarray, kind: str, w: float) -> np.ndarray:
    theta = np.empty(5)
    theta[_FREE] = phi
    theta[_DE] = _delta(phi, kind, w)
    return theta


def _delta_derivatives(phi: np.ndarray, kind: str, w: float) -> tuple[np.ndarray, np.ndarray]:
    """∂δ/∂φ (implicit function: −h_φ/h_δ, analytic) and ∂²δ/∂φ² (central differences of it)."""

    def grad(ph: np.ndarray) -> np.ndarray:
        g = _contrast(_full(ph, kind, w), kind)[1]
        return -g[_FREE] / g[_DE]

    first = grad(phi)
    second = np.empty((4, 4))
    for m in range(4):
        h = 1e-5 * max(1.0, abs(phi[m]))
        up, down = phi.copy(), phi.copy()
        up[m] += h
        down[m] -= h
        second[m] = (grad(up) - grad(down)) / (2 * h)
    return first, (second + second.T) / 2


_CONTRAST_MESSAGES = NewtonMessages(
    singular="duration_did: the Hessian of the restricted Weibull fit is singular",
    no_ascent="duration_did: no ascent direction in the restricted Weibull fit",
    no_convergence="duration_did: the restricted Weibull fit did not converge",
)


def _restricted_contrast(fit: WeibullResult, kind: str) -> score.Restricted:
    """w ↦ (cluster scores, information, ∂h/∂θ) at the fit under H0: contrast = w."""
    pat = fit._patterns
    first = fit.params.to_numpy()[_FREE]
    warm = [first]

    def maximise(w: float, start: np.ndarray) -> np.ndarray:
        _delta(start, kind, w)  # the start must be feasible

        def objective(phi: np.ndarray) -> float:
            try:
                return _loglik(_full(phi, kind, w), pat)
            except FitError:
                return -math.inf

        def gradient_hessian(phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            g, h = _grad_hess(_full(phi, kind, w)[None, :], pat, pat.count[None, :])
            d1, d2 = _delta_derivatives(phi, kind, w)
            J = np.zeros((5, 4))
            J[_FREE, range(4)] = 1.0
            J[_DE] = d1
            return J.T @ g[0], J.T @ h[0] @ J + g[0][_DE] * d2

        return newton(objective, gradient_hessian, start, messages=_CONTRAST_MESSAGES, max_iter=100,
                      step_tol=1e-10, ascent_tol=1e-12).params

    def at(w: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # far-out trial steps
            try:
                phi = maximise(w, warm[0])
            except FitError:
                phi = maximise(w, first)
        warm[0] = phi
        theta = _full(phi, kind, w)
        _, h = _grad_hess(theta[None, :], pat, pat.count[None, :])
        return pat.cluster_patterns @ _scores(theta, pat), -h[0], _contrast(theta, kind)[1]

    return at


def _wild_duration_did(data: pd.DataFrame, label: str, duration: str, event: str, cluster: str, bootstrap: int,
                       seed: int, alpha: float, interval: bool, wild_weights: WildWeights,
                       weights: str | None = None) -> DurationDiD:
    """The eq. (1) fit with wild score inference, and the wild tests of the DiD contrasts."""
    fit = weibull_ph(data, duration=duration, event=event, covariates=["D", "E", "DE"], cluster=cluster,
                     bootstrap=bootstrap, seed=seed, interval=interval, inference="wild", wild_weights=wild_weights,
                     alpha=alpha, weights=weights)
    theta = fit.params.to_numpy()
    pat = fit._patterns
    weights, _ = score.wild_weights(pat.cluster_ids, bootstrap, seed, wild_weights)
    shares = score.cluster_shares(np.asarray(pat.cluster_patterns.sum(axis=1)))
    point = _quantities(theta[None, :], fit)[0]
    names = QUANTITIES
    tests = {}
    for kind in ("weeks", "pct", "rmst"):
        value, grad = _contrast(theta, kind)
        se = float(np.sqrt(grad @ fit.cov.to_numpy() @ grad))
        problem = score.TermProblem(_restricted_contrast(fit, kind), value, se)
        tests[kind] = score.term_inference(problem, weights, shares, alpha)
    tests["pct"]["p_value"] = tests["weeks"]["p_value"]  # the same hypothesis: did_pct = 0 ⟺ did_weeks = 0
    # The groups' levels are not effects and have no null to impose: delta-method intervals from
    # the job-centre-clustered covariance (97 clusters), no p-value.
    _, grad_e = _group_weeks(theta)
    _, grad_r = _group_rmst(theta)
    z = stats.norm.ppf(1 - alpha / 2)
    for i, q in enumerate(GROUP_NAMES):
        for name, grad, value in ((q, grad_e[i], point[i]),
                                  (RMST_NAMES[i], grad_r[i], point[names.index(RMST_NAMES[i])])):
            se = float(np.sqrt(grad @ fit.cov.to_numpy() @ grad))
            tests[name] = {"se": se, "ci_low": value - z * se, "ci_high": value + z * se, "p_value": np.nan}
    tests[f"rmst{RMST_WEEKS}_did_weeks"] = tests.pop("rmst")
    # exp(δ): the wild test of DE = 0 (H0: hazard ratio 1) and its inverted CI, exponentiated
    de = fit.wild.table.loc["DE"]
    lo, hi = math.exp(de["ci_low"]), math.exp(de["ci_high"])
    tests["hazard_ratio"] = {"se": (hi - lo) / (2 * z), "ci_low": lo, "ci_high": hi, "p_value": de["p_value"]}
    rows = []
    for i, q in enumerate(names):
        test = tests.get(q.removeprefix("did_") if q.startswith("did_") else q,
                         dict.fromkeys(["se", "ci_low", "ci_high", "p_value"], np.nan))
        rows.append({"quantity": q, "estimate": point[i], "se_boot": test["se"], "ci_low": test["ci_low"],
                     "ci_high": test["ci_high"], "p_value": test["p_value"], "display": _display(point[i], q, point)})
    return DurationDiD(label, fit, pd.DataFrame(rows))


def duration_did_by_jobcentre(
    spells: pd.DataFrame,
    *,
    jobcentre: str = "jobcentre_id",
    bootstrap: int = 999,
    seed: int = 0,
    **kwargs,
) -> pd.DataFrame:
    """Table 4: the national model, then each participating job centre against all others (D=0)."""
    frames = [duration_did(spells, bootstrap=bootstrap, seed=seed, **kwargs).tidy().assign(jobcentre_id=pd.NA)]
    others = spells[spells["D"] == 0]
    for jc in sorted(spells.loc[spells["D"] == 1, jobcentre].unique()):
        sub = pd.concat([spells[(spells["D"] == 1) & (spells[jobcentre] == jc)], others], ignore_index=True)
        res = duration_did(sub, label=str(jc), bootstrap=bootstrap, seed=seed, **kwargs)
        frames.append(res.tidy().assign(jobcentre_id=jc))
    return pd.concat(frames, ignore_index=True)
