"""Wild cluster bootstrap tests at the level where treatment is assigned.

A :class:`WildTest` is what a wild bootstrap leaves on a fitted result: per term, the
null-imposed (restricted) bootstrap p-value of H0: coefficient = 0, the confidence interval
found by inverting that test, and a standard error implied by the interval. The linear models
get the wild cluster restricted bootstrap (WCR, :func:`wcr_linear`); the Weibull and Cox models
the wild score bootstrap of Kline and Santos (2012) (:mod:`bipdask.inference.score`). Methods:
``docs/methods.md#inference``.

Why: the HIR caseload experiment (the HIR quantitative report, Metrica 2019) assigned the
caseload cap to 15 of 97 job centres, so the DiD coefficients of Tables 6–9 (eqs. 2–3) must be
judged at job-centre level; person-clustered intervals over-reject when job centres share period
shocks, and CR1 with G = 97 clusters of which 15 treated is itself unreliable. The WCR bootstrap
(Cameron, Gelbach and Miller 2008; MacKinnon and Webb 2017; Roodman, MacKinnon, Nielsen and
Webb 2019, "Fast and wild") is the standard remedy.

The algorithm (WCR11 in the notation of ``wildboottest``/``fwildclusterboot``) for the linear
hypothesis H0: R'β = r of y = Xβ + e with clusters g = 1..G:

1. restricted fit β̃ = β̂ − A R (R'AR)⁻¹ (R'β̂ − r), A = (X'X)⁻¹, residuals ũ = y − Xβ̃;
2. replicate b draws one weight v_bg per cluster and refits y* = Xβ̃ + v_bg·ũ_g;
3. t*_b = (R'β*_b − r) / se*_b with the CR1 standard error of the replicate, and
   p = #{b : |t*_b| ≥ |t|} / B with t the CR1 t statistic of the original fit.

Nothing in step 2 touches rows. With s_g = X_g'ũ_g, a = A R, K_g = A X_g'X_g a, the replicate's
numerator is Σ_g v_bg a's_g and its cluster scores are
d_bg = v_bg·a's_g − K_g'·Σ_h v_bh s_h (− the absorbed-factor term, below), so a replicate costs
O(G·k) once the per-cluster X_g'X_g and X_g'y_g (:class:`ClusterMoments`) are summed: y_g'y_g is
never needed. Everything is linear in r, so each replicate keeps five numbers
(N0, N1, P0, P1, P2) with t*_b(r) = (N0 − ρN1) / √(c·(P0 − 2ρP1 + ρ²P2)), ρ = r − r0; the p-value
at any r then costs O(B) with the *same* weights, which is what test inversion needs
(:meth:`WCRDraws.conf_int`).

Absorbed fixed effects (:mod:`bipdask.estimators.lpm` works on the FWL-partialled design x̃,
ỹ). Partialling is exact for the restricted fit whenever the factors are in both the restricted
and the unrestricted model (Frisch–Waugh–Lovell), and for the replicates' coefficients. The
replicates' *residuals* are another matter: refitting y* with the factors re-absorbs v∘ũ, and
v∘ũ is orthogonal to a factor's dummies only when every level lies inside one cluster (v is then
constant on the level). So:

* factors nested in the clusters (person effects with person clusters, job-centre effects with
  job-centre clusters): the partialled design is exact, no correction;
* one factor F not nested (week effects with job-centre clusters; the intercept of a model
  without fixed effects counts as a one-level factor), possibly beside one nested factor: the
  replicate's scores lose E_g·C⁺·Σ_h v_h t_h, with E_gl = Σ_{i∈g,l} w·x̃_i'a and
  t_hl = Σ_{i∈h,l} w·ũ_i the per-(cluster, level) sums (:class:`AbsorbedCells`) and C the Gram
  matrix of F's dummies after the nested factor (diag(n_l) without one). Exact.

Weights: Rademacher (±1) or Webb's six points ±√(1/2), ±1, ±√(3/2), each with probability 1/6,
as a pure function of (seed, replicate, cluster id) through the counter-based hash of
:mod:`bipdask.inference.bootstrap` — identical on any partitioning. When 2^G ≤ B and the weights
are Rademacher, all 2^G sign vectors are enumerated instead (exact and seed-free; Webb's
weights are not enumerable).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterator, Literal, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import sparse, stats

from bipdask.inference.bootstrap import _uniform

WildWeights = Literal["rademacher", "webb"]
WILD_COLUMNS = ("se", "ci_low", "ci_high", "p_value")
WEIGHTS: tuple[str, ...] = ("rademacher", "webb")
# Webb (2014)'s six points, in the order u ∈ [0, 1/6), [1/6, 2/6), ... is mapped to.
WEBB_POINTS = np.array([-math.sqrt(1.5), -1.0, -math.sqrt(0.5), math.sqrt(0.5), 1.0, math.sqrt(1.5)])
# |t*| ≥ |t| is counted with this relative slack: exact ties (the sign vectors ±1 reproduce |t|
# exactly under the null-imposed DGP) then count whatever the rounding of the two computations.
TIE_RTOL = 1e-9
_BLOCK_ENTRIES = 1 << 21  # replicates × clusters per block of weights (16 MiB)
_MAX_ENUMERATED = 30  # 2^30 sign vectors: beyond any sensible B


@dataclass(frozen=True)
class WildTest:
    """Per-term wild bootstrap inference.

    ``table`` is indexed by term with columns ``se``, ``ci_low``, ``ci_high``, ``p_value``
    (the WCR or score-bootstrap test of the term = 0, its inverted CI at ``alpha``, and the SE
    that CI implies, (ci_high − ci_low) / (2·z_{1−α/2})). Terms that were not tested are NaN.
    ``enumerated``: all 2^G sign vectors were used (exact, seed-free p-values).
    """

    table: pd.DataFrame
    method: str  # "wcr" (linear) or "score" (likelihood models)
    weights: WildWeights
    n_clusters: int
    n_replicates: int
    enumerated: bool
    alpha: float = 0.05
    seed: int | None = None


# --------------------------------------------------------------------------- weights


def wild_weights(cluster_ids: np.ndarray, replicates: np.ndarray | range, seed: int,
                 weights: WildWeights = "rademacher") -> np.ndarray:
    """(len(replicates) × G) wild weights v[b, g], a pure function of (seed, b, cluster id).

    The uniforms are :func:`bipdask.inference.bootstrap._uniform`'s SplitMix64 hash of
    (seed, b, id) — the hash of the ``poisson`` scheme — so a cluster's weight does not depend on
    which other clusters exist or how the data were partitioned. Rademacher: −1 when u < 1/2,
    else +1. Webb: :data:`WEBB_POINTS`[⌊6u⌋].
    """
    u = _uniform(int(seed), np.asarray(replicates, dtype=np.int64), np.asarray(cluster_ids))
    if weights == "rademacher":
        return np.where(u < 0.5, -1.0, 1.0)
    if weights == "webb":
        return WEBB_POINTS[np.minimum((u * 6.0).astype(np.intp), 5)]
    raise ValueError(f"wild weights must be one of {WEIGHTS}, not {weights!r}")


def sign_vectors(n_clusters: int, rows: range | None = None) -> np.ndarray:
    """Rows ``rows`` (default all) of the 2^G Rademacher sign vectors: row i gives cluster g
    (in sorted id order) +1 when bit g of i is set, −1 otherwise."""
    rows = range(2 ** n_clusters) if rows is None else rows
    i = np.arange(rows.start, rows.stop, dtype=np.int64)[:, None]
    bits = (i >> np.arange(n_clusters, dtype=np.int64)[None, :]) & 1
    return 2.0 * bits - 1.0


def enumerates(n_clusters: int, bootstrap: int, weights: WildWeights = "rademacher") -> bool:
    """Whether the 2^G sign vectors replace B random draws: Rademacher weights and 2^G ≤ B.

    (``wildboottest`` enumerates when 2^G < B; the two differ only at B = 2^G.)
    """
    return weights == "rademacher" and n_clusters <= _MAX_ENUMERATED and 2 ** n_clusters <= bootstrap


def _weight_blocks(cluster_ids: np.ndarray, n_rep: int, seed: int | None, weights: WildWeights,
                   enumerated: bool, block: int | None) -> Iterator[tuple[range, np.ndarray]]:
    g = cluster_ids.size
    step = block or max(64, _BLOCK_ENTRIES // max(g, 1))
    for start in range(0, n_rep, step):
        rows = range(start, min(start + step, n_rep))
        yield rows, (sign_vectors(g, rows) if enumerated else wild_weights(cluster_ids, rows, seed, weights))


# --------------------------------------------------------------------------- sufficient statistics


Matrix = np.ndarray | sparse.csr_matrix


@dataclass(frozen=True)
class AbsorbedCells:
    """The one absorbed factor F not nested in the clusters, by (cluster, level of F).

    ``x`` holds one (G × L) matrix per column of the design: Σ_{i∈g,l} w·x̃_i,c; ``y`` the same
    for ỹ (dense arrays, or CSR matrices when G·L is large). ``inverse`` is the (pseudo-)inverse
    of the Gram matrix of F's dummies after partialling any factor nested in the clusters: a
    vector 1/n_l when F is alone (diagonal), else an L × L matrix. A model without fixed effects
    has the intercept as F (L = 1, ``inverse`` = 1/N).
    """

    x: tuple[Matrix, ...]
    y: Matrix
    inverse: np.ndarray


@dataclass(frozen=True)
class ClusterMoments:
    """Per-cluster sufficient statistics of a linear model: all a WCR replicate needs.

    ``xx`` (G × k(k+1)/2) is the upper triangle of X_g'W_gX_g in ``np.triu_indices(k)`` order,
    ``xy`` (G × k) is X_g'W_gy_g, rows in the order of ``cluster_ids`` (sorted, int64: the keys
    of the replicate weights). ``names`` name the k columns. ``nobs`` = N (sum of the frequency
    weights) and ``k_dof`` = K of the CR1 factor G/(G−1)·(N−1)/(N−K) (``small_sample="stata"``;
    ``"none"`` gives CR0). ``cells`` carries an absorbed factor that is not nested in the
    clusters (see the module docstring); ``None`` when X is the full design or every absorbed
    factor is nested in the clusters.
    """

    xx: np.ndarray
    xy: np.ndarray
    cluster_ids: np.ndarray
    names: tuple[str, ...]
    nobs: float
    k_dof: int
    small_sample: str = "stata"
    cells: AbsorbedCells | None = None

    @property
    def n_clusters(self) -> int:
        return int(self.cluster_ids.size)

    @property
    def k(self) -> int:
        return len(self.names)

    @property
    def factor(self) -> float:
        """CR1 small-sample factor G/(G−1)·(N−1)/(N−K) (1 for ``small_sample="none"``)."""
        if self.small_sample == "none":
            return 1.0
        g, n = self.n_clusters, self.nobs
        return g / (g - 1) * (n - 1) / (n - self.k_dof)


def cluster_moments(X: np.ndarray | pd.DataFrame, y: np.ndarray | pd.Series, clusters: np.ndarray | pd.Series,
                    *, weights: np.ndarray | None = None, names: Sequence[str] | None = None,
                    k_dof: int | None = None, small_sample: str = "stata") -> ClusterMoments:
    """:class:`ClusterMoments` of the design ``X`` (include the intercept column yourself) from
    rows. Integer cluster labels are the weights' keys; other labels are keyed by their rank."""
    names = list(X.columns) if names is None and isinstance(X, pd.DataFrame) else names
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, k = X.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
    codes, levels = pd.factorize(pd.Series(np.asarray(clusters)), sort=True)
    ids = (np.asarray(levels, dtype=np.int64) if pd.api.types.is_integer_dtype(levels)
           else np.arange(len(levels), dtype=np.int64))
    S = sparse.csr_matrix((w, (codes, np.arange(n))), shape=(ids.size, n))
    iu0, iu1 = np.triu_indices(k)
    xx = np.asarray(S @ (X[:, iu0] * X[:, iu1]))
    xy = np.asarray(S @ (X * y[:, None]))
    return ClusterMoments(xx, xy, ids, tuple(names or [f"x{j}" for j in range(k)]), float(w.sum()),
                          k if k_dof is None else int(k_dof), small_sample)


def _packed_times(packed: np.ndarray, vec: np.ndarray, k: int) -> np.ndarray:
    """(G × k): X_g'X_g·vec for every cluster, from the packed upper triangles."""
    iu0, iu1 = np.triu_indices(k)
    P = np.zeros((iu0.size, k))
    P[np.arange(iu0.size), iu0] += vec[iu1]
    off = iu0 != iu1
    P[np.flatnonzero(off), iu1[off]] += vec[iu0[off]]
    return packed @ P


def _unpack(total: np.ndarray, k: int) -> np.ndarray:
    M = np.zeros((k, k))
    iu0, iu1 = np.triu_indices(k)
    M[iu0, iu1] = total
    M[iu1, iu0] = total
    return M


def _combine(mats: Sequence[Matrix], coef: np.ndarray) -> Matrix:
    out = mats[0] * coef[0]
    for m, c in zip(mats[1:], coef[1:]):
        out = out + m * c
    return out


def _left(V: np.ndarray, M: Matrix) -> np.ndarray:
    """V @ M for a dense or sparse M (sparse: as (M'V')' so that scipy does the work)."""
    return np.asarray((M.T @ V.T).T) if sparse.issparse(M) else V @ M


# --------------------------------------------------------------------------- the test


@dataclass(frozen=True)
class WCRDraws:
    """The B replicates of one WCR test, reduced to what any null value r needs.

    ``estimate`` = R'β̂, ``se`` its CR1 standard error, ``null`` the r0 the replicates were drawn
    under; per replicate ``n0, n1, p0, p1, p2`` (see the module docstring) with
    t*_b(r) = (n0 − ρ·n1) / √(factor·(p0 − 2ρ·p1 + ρ²·p2)), ρ = r − r0: the studentised
    replicate of the bootstrap whose DGP imposes R'β = r. ``t_boot`` = t*_b(r0).
    """

    term: str
    estimate: float
    se: float
    null: float
    n0: np.ndarray
    n1: np.ndarray
    p0: np.ndarray
    p1: np.ndarray
    p2: np.ndarray
    factor: float
    n_clusters: int
    weights: str
    enumerated: bool
    seed: int | None

    @property
    def n_replicates(self) -> int:
        return int(self.n0.size)

    @property
    def t_stat(self) -> float:
        """CR1 t statistic of H0: R'β = ``null``."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.float64(self.estimate - self.null) / self.se)

    @property
    def t_boot(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.n0 / np.sqrt(self.factor * self.p0)

    def _exceed(self, r: float) -> np.ndarray:
        rho = r - self.null
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            q = self.p0 - 2.0 * rho * self.p1 + rho * rho * self.p2
            t_star = np.abs(self.n0 - rho * self.n1) / np.sqrt(self.factor * np.maximum(q, 0.0))
            t = np.abs(np.float64(self.estimate) - r) / np.float64(self.se)
        # a draw whose statistic is undefined (0/0) counts as extreme, as a failed pairs
        # replicate does (docs/methods.md#failed-bootstrap-replicates)
        return np.isnan(t_star) | (t_star >= t * (1.0 - TIE_RTOL))

    def p_value(self, r: float | None = None) -> float:
        """Two-sided symmetric p-value of H0: R'β = r (default the drawn ``null``): the share of
        replicates with |t*_b(r)| ≥ |t(r)| or an undefined t*_b(r), same weights for every r."""
        return float(np.mean(self._exceed(self.null if r is None else float(r))))

    def conf_int(self, alpha: float = 0.05) -> tuple[float, float]:
        """The WCR confidence interval {r : p(r) ≥ α} by test inversion, as boottest and
        fwildclusterboot do: bracket from the CR1 interval (widened 1, 2, 3, 5, 10, … times until
        p < α), a grid of 40 steps for the outermost r with p(r) ≥ α, then bisection of that step
        of the (piecewise constant) p(r) to machine precision. ±inf when p never falls below α
        (G ≤ 5 with Rademacher weights: the ±1 vectors alone give p ≥ 2/2^G)."""
        if not (np.isfinite(self.se) and self.se > 0):
            return (np.nan, np.nan)
        half = stats.t.ppf(1 - alpha / 2, max(self.n_clusters - 1, 1)) * self.se
        return (self._endpoint(-1.0, half, alpha), self._endpoint(1.0, half, alpha))

    def _endpoint(self, side: float, half: float, alpha: float) -> float:
        est = self.estimate

        def accept(r: float) -> bool:
            return self.p_value(r) >= alpha

        inner = est
        for mult in (1, 2, 3, 5, 10, 15, 25, 50, 100, 1e3, 1e4, 1e6):
            outer = est + side * mult * half
            if not accept(outer):
                break
            inner = outer
        else:
            return side * np.inf
        grid = np.linspace(inner, outer, 41)
        ok = np.array([accept(r) for r in grid[1:-1]])
        last = int(np.flatnonzero(np.concatenate(([True], ok)))[-1])
        lo, hi = grid[last], grid[last + 1]  # accept(lo), not accept(hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid == lo or mid == hi:
                break
            if accept(mid):
                lo = mid
            else:
                hi = mid
        return 0.5 * (lo + hi)


def _inverse_gram(moments: ClusterMoments) -> np.ndarray:
    M = _unpack(moments.xx.sum(axis=0), moments.k)
    return np.linalg.inv(M)


def wcr_draws(moments: ClusterMoments, contrasts: Mapping[str, Sequence[float]], *, null: float = 0.0,
              bootstrap: int = 9999, seed: int | None = None, weights: WildWeights = "rademacher",
              block: int | None = None) -> dict[str, WCRDraws]:
    """The WCR replicates of H0: R'β = ``null`` for each named contrast R (a k-vector over
    ``moments.names``; e_j tests coefficient j). All contrasts share the same weights.

    B = ``bootstrap`` draws of ``weights`` from ``seed``, or the 2^G sign vectors when
    :func:`enumerates` (then ``seed`` is not needed).
    """
    if weights not in WEIGHTS:
        raise ValueError(f"wild weights must be one of {WEIGHTS}, not {weights!r}")
    g, k = moments.n_clusters, moments.k
    if g < 2:
        raise ValueError("the wild cluster bootstrap needs at least 2 clusters")
    enumerated = enumerates(g, bootstrap, weights)
    n_rep = 2 ** g if enumerated else int(bootstrap)
    if n_rep < 1:
        raise ValueError("the wild cluster bootstrap needs bootstrap=B > 0 replicates")
    if not enumerated and seed is None:
        raise ValueError("the wild cluster bootstrap needs a seed (or 2^G ≤ B for full enumeration)")
    A = _inverse_gram(moments)
    beta = A @ moments.xy.sum(axis=0)
    Mb = _packed_times(moments.xx, beta, k)
    s_hat = moments.xy - Mb
    cells = moments.cells
    if cells is not None:
        t_hat = cells.y - _combine(cells.x, beta)
    setups = {}
    for name, R in contrasts.items():
        R = np.asarray(R, dtype=np.float64)
        a = A @ R
        arr = float(R @ a)
        Ma = _packed_times(moments.xx, a, k)
        m1 = Ma / arr
        c_hat = s_hat @ a
        estimate = float(R @ beta)
        delta0 = estimate - null
        st = {"estimate": estimate, "se": math.sqrt(moments.factor * float(c_hat @ c_hat)),
              "c0": c_hat + delta0 * (m1 @ a), "c1": m1 @ a, "s0": s_hat + delta0 * m1, "m1": m1, "K": Ma @ A}
        if cells is not None:
            E = _combine(cells.x, a)
            st.update(E=E, T1=E / arr, T0=t_hat + E * (delta0 / arr))
        setups[name] = st
    out = {name: {key: np.empty(n_rep) for key in ("n0", "n1", "p0", "p1", "p2")} for name in contrasts}
    for rows, V in _weight_blocks(moments.cluster_ids, n_rep, seed, weights, enumerated, block):
        for name, st in setups.items():
            D0 = V * st["c0"] - (V @ st["s0"]) @ st["K"].T
            D1 = V * st["c1"] - (V @ st["m1"]) @ st["K"].T
            if cells is not None:
                inv = cells.inverse
                R0, R1 = _left(V, st["T0"]), _left(V, st["T1"])
                R0, R1 = (R0 * inv, R1 * inv) if inv.ndim == 1 else (R0 @ inv, R1 @ inv)
                D0 -= _left(R0, st["E"].T)
                D1 -= _left(R1, st["E"].T)
            res = out[name]
            res["n0"][rows.start:rows.stop] = V @ st["c0"]
            res["n1"][rows.start:rows.stop] = V @ st["c1"]
            res["p0"][rows.start:rows.stop] = np.einsum("bg,bg->b", D0, D0)
            res["p1"][rows.start:rows.stop] = np.einsum("bg,bg->b", D0, D1)
            res["p2"][rows.start:rows.stop] = np.einsum("bg,bg->b", D1, D1)
    return {name: WCRDraws(term=name, estimate=setups[name]["estimate"], se=setups[name]["se"], null=float(null),
                           factor=moments.factor, n_clusters=g, weights=weights, enumerated=enumerated,
                           seed=None if enumerated else seed, **out[name])
            for name in contrasts}


def wcr_pvalue(moments: ClusterMoments, term: str, r: float = 0.0, **kwargs) -> float:
    """The WCR p-value of H0: β_term = r, drawn under that r (the direct computation; the
    inverted intervals evaluate the same p(r) from draws made under another null)."""
    e = np.zeros(moments.k)
    e[moments.names.index(term)] = 1.0
    return wcr_draws(moments, {term: e}, null=r, **kwargs)[term].p_value()


def wcr_linear(moments: ClusterMoments, *, terms: Sequence[str] | None = None,
               contrasts: Mapping[str, Sequence[float]] | None = None, null: float = 0.0,
               bootstrap: int = 9999, seed: int | None = None, weights: WildWeights = "rademacher",
               alpha: float = 0.05, block: int | None = None) -> WildTest:
    """The wild cluster restricted bootstrap of every requested coefficient, as a :class:`WildTest`.

    Parameters
    ----------
    moments : per-cluster sufficient statistics (:func:`cluster_moments`, or the lpm fit's).
    terms : coefficients to test (default: every column except ``_cons``).
    contrasts : further named linear combinations R'β to test (e.g. the DiD φ of the cell
        parametrisation, HIR eq. 2); tested after ``terms``.
    null : r of H0: R'β = r (0: the p-value of "no effect").
    bootstrap, seed, weights : B draws of Rademacher or Webb weights; all 2^G Rademacher sign
        vectors when 2^G ≤ B (exact, seed-free).
    alpha : the inverted interval's level is 1 − α.

    Returns
    -------
    WildTest with ``table`` columns se (implied by the interval: width / (2·z_{1−α/2})),
    ci_low, ci_high, p_value, indexed by term.
    """
    if terms is None:
        terms = [nm for nm in moments.names if nm != "_cons"] if contrasts is None else []
    R = {}
    for term in terms:
        e = np.zeros(moments.k)
        e[moments.names.index(term)] = 1.0
        R[term] = e
    R.update({name: np.asarray(c, dtype=np.float64) for name, c in (contrasts or {}).items()})
    draws = wcr_draws(moments, R, null=null, bootstrap=bootstrap, seed=seed, weights=weights, block=block) if R else {}
    z = stats.norm.ppf(1 - alpha / 2)
    rows = {}
    for name, d in draws.items():
        lo, hi = d.conf_int(alpha)
        rows[name] = {"se": (hi - lo) / (2 * z), "ci_low": lo, "ci_high": hi, "p_value": d.p_value()}
    table = pd.DataFrame.from_dict(rows, orient="index", columns=list(WILD_COLUMNS))
    table.index.name = "term"
    enumerated = enumerates(moments.n_clusters, bootstrap, weights)
    return WildTest(table=table, method="wcr", weights=weights, n_clusters=moments.n_clusters,
                    n_replicates=2 ** moments.n_clusters if enumerated else int(bootstrap), enumerated=enumerated,
                    alpha=alpha, seed=None if enumerated else seed)
