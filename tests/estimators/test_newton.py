"""Newton–Raphson (one fit with step halving; B bootstrap replicates at once).

The rules: the step-halving slack is relative to |objective|, and in a block of replicates a
replicate that cannot be solved costs only itself.
"""

import numpy as np
import pandas as pd
import pytest

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.newton import (
    NewtonMessages,
    newton,
    solve_many,
    vectorised_newton,
)
from bipdask.estimators.weibull import weibull_ph
from bipdask.inference import bootstrap as bs

MESSAGES = NewtonMessages(singular="toy: singular", no_ascent="toy: no ascent", no_convergence="toy: no convergence")


# --------------------------------------------------------------------------- one fit: relative slack


def test_rounding_noise_at_a_large_objective_is_not_a_failed_ascent():
    """At |ℓ| = 10⁴ one rounding unit is 1.8e-12: a converged fit's last step may lower ℓ by a few
    of them. Here every point but the start is 1e-11 lower (5 units); an absolute slack of
    1e-12 rejected every halving and raised "no ascent"; relative, 1e-12·10⁴ = 1e-8 accepts it."""
    def objective(theta):
        noise = 0.0 if theta[0] == 0.0 else 1e-11
        return -1e4 - float(np.sum(theta ** 2)) - noise

    fit = newton(objective, lambda th: (-2 * th + 1e-9, -2 * np.eye(th.size)), np.zeros(2), messages=MESSAGES,
                 max_iter=10, step_tol=1e-6, ascent_tol=1e-12)
    assert np.allclose(fit.params, 5e-10)


def test_weibull_point_fit_at_large_loglik_converges():
    """30,000 grouped-week spells, ℓ ≈ −1.0e5: this draw stopped with "no ascent direction" at its
    optimum under an absolute 1e-12 slack."""
    rng = np.random.default_rng(42)
    n = 30_000
    D, E = rng.integers(0, 2, n), rng.integers(0, 2, n)
    t = np.ceil(rng.weibull(0.8, n) * 20 / np.exp(0.1 * D * E))
    df = pd.DataFrame({"t": t, "d": (rng.random(n) >= 0.2).astype(int), "D": D, "E": E, "DE": D * E})
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], interval=True)
    assert res.loglik < -5_000
    assert np.all(np.isfinite(res.cov.to_numpy())) and 0.7 < res.shape < 0.9


# --------------------------------------------------------------------------- replicates fail one by one


def test_solve_many_singular_system_costs_only_its_row():
    A = np.array([np.eye(2) * 2, np.zeros((2, 2)), [[2.0, 1.0], [1.0, 3.0]]])
    rhs = np.array([[2.0, 4.0], [1.0, 1.0], [3.0, 4.0]])
    out = solve_many(A, rhs)
    np.testing.assert_allclose(out[0], [1.0, 2.0])
    assert np.isnan(out[1]).all()
    np.testing.assert_allclose(out[2], np.linalg.solve(A[2], rhs[2]))


def test_vectorised_newton_singular_replicate_costs_only_itself():
    """Three concave problems −Σ a_j (θ_j − c_j)⁴/4 − (θ_j − c_j)²/2 ·a_j; the second has a_2 = 0:
    its Hessian is singular. The others must be solved exactly as alone."""
    c = np.array([[1.0, -2.0], [0.5, 3.0], [2.0, 0.5]])
    a = np.array([[1.0, 2.0], [1.0, 0.0], [0.5, 1.0]])

    def gh(theta, rows):
        u = theta - c[rows]
        g = -a[rows] * (u ** 3 + u)
        h = np.zeros((len(rows), 2, 2))
        h[:, [0, 1], [0, 1]] = -a[rows] * (3 * u ** 2 + 1)
        return g, h

    sol, ok = vectorised_newton(gh, np.zeros((3, 2)))
    assert ok.tolist() == [True, False, True]
    assert np.isnan(sol[1]).all()
    np.testing.assert_allclose(sol[[0, 2]], c[[0, 2]], atol=1e-12)


def _inject_block(monkeypatch, weights):
    """Make the estimators draw the hand-made (B × G) ``weights`` as their replicates, whether they
    take whole blocks (``replicate_blocks``, the Cox bootstrap) or draw rows of replicates
    (``replicate_weights``, the Weibull pattern weights)."""
    def blocks(cluster_ids, n_replicates, seed, scheme="multinomial", block=500, *, reuse=False, window=None):
        assert weights.shape == (n_replicates, len(cluster_ids)) and window in (None, range(n_replicates))
        yield range(n_replicates), weights

    def rows(cluster_ids, replicates, seed, scheme="multinomial", *, out=None):
        assert weights.shape[1] == len(cluster_ids)
        got = weights[np.asarray(replicates, dtype=np.intp)]
        if out is None:
            return got
        out[...] = got
        return out

    monkeypatch.setattr(bs, "replicate_blocks", blocks)
    monkeypatch.setattr(bs, "replicate_weights", rows)


def test_weibull_block_with_an_infeasible_replicate(monkeypatch):
    """Replicate 1 draws no spell of the D=1, E=1 cell (its DE column is empty: singular Hessian).
    Before, that one replicate turned the whole block into NaN."""
    rng = np.random.default_rng(3)
    n = 600
    D, E = rng.integers(0, 2, n), rng.integers(0, 2, n)
    t = np.ceil(rng.weibull(0.8, n) * 15 * np.exp(0.2 * D - 0.1 * E))
    df = pd.DataFrame({"t": t, "d": (rng.random(n) < 0.8).astype(int), "D": D, "E": E, "DE": D * E,
                       "rid": np.arange(n)})
    w = rng.poisson(1.0, (4, n)).astype(float)
    w[1, df["DE"].to_numpy() == 1] = 0.0
    _inject_block(monkeypatch, w)
    res = weibull_ph(df, duration="t", event="d", covariates=["D", "E", "DE"], cluster="rid", bootstrap=4, seed=1,
                     interval=True)
    reps = res.bootstrap.replicates.to_numpy()
    assert res.bootstrap.n_failed == 1 and np.isnan(reps[1]).all()
    for b in (0, 2, 3):
        keep = w[b] > 0
        alone = weibull_ph(df[keep].assign(w=w[b][keep]), duration="t", event="d", covariates=["D", "E", "DE"],
                           weights="w", interval=True)
        np.testing.assert_allclose(reps[b], alone.params.to_numpy(), atol=1e-7)


def test_cox_block_with_an_infeasible_replicate(monkeypatch):
    """Replicate 2 draws no person of group 1, so the group covariate is constant: singular."""
    rng = np.random.default_rng(4)
    rows = []
    for pid in range(120):
        grp = pid % 2
        for k in range(20):
            cl = rng.normal(0, 6)
            ev = rng.random() < np.exp(-2.5 - 0.05 * cl + 0.4 * grp)
            rows.append((pid, k, k + 1, cl, grp, int(ev)))
            if ev:
                break
    df = pd.DataFrame(rows, columns=["pid", "start", "stop", "cl", "grp", "ev"])
    ids = np.arange(120)
    w = rng.multinomial(120, np.full(120, 1 / 120), size=4).astype(float)
    w[2, ids % 2 == 1] = 0.0
    _inject_block(monkeypatch, w)
    res = cox_ph(df, start="start", duration="stop", event="ev", covariates=["cl", "grp"], cluster="pid",
                 bootstrap=4, seed=1, block=4)
    reps = res.bootstrap.replicates.to_numpy()
    assert res.bootstrap.n_failed == 1 and np.isnan(reps[2]).all()
    for b in (0, 1, 3):
        copies = w[b][df["pid"].to_numpy()].astype(int)
        alone = cox_ph(df.loc[df.index.repeat(copies)], start="start", duration="stop", event="ev",
                       covariates=["cl", "grp"])
        np.testing.assert_allclose(reps[b], alone.params.to_numpy(), atol=1e-8)


@pytest.mark.parametrize("bad", ["nan", "singular"])
def test_failed_replicate_leaves_convergence_flags_of_the_others(bad):
    def gh(theta, rows):
        g = -(theta - 1.0)
        h = np.repeat(-np.eye(2)[None], len(rows), axis=0)
        hit = rows == 0
        if bad == "nan":
            g[hit] = np.nan
        else:
            h[hit] = 0.0
        return g, h

    sol, ok = vectorised_newton(gh, np.zeros((3, 2)))
    assert ok.tolist() == [False, True, True]
    np.testing.assert_allclose(sol[1:], 1.0)
