"""TODO docstring (bipdask/estimators/newton.py)."""

from __future__ import annotations

from typing import Callable
import numpy as np


def vectorised_newton(
    grad_hess: Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    *,
    tol: float = 1e-9,
    max_iter: int = 50,
    max_step: float = 2.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Solve B maximisation problems at once by Newton–Raphson.

    ``grad_hess(theta, rows)`` gets the parameters of the still-active replicates (n × k) and
    their row numbers, and returns gradients (n × k) and Hessians (n × k × k) of concave
    objectives. Starting from the full-sample estimate, replicates converge in a few steps.
    Returns the solutions (non-converged rows NaN) and a convergence flag per replicate.
    """
    theta = np.array(start, dtype=np.float64, copy=True)
    active = np.ones(theta.shape[0], dtype=bool)
    converged = np.zeros(theta.shape[0], dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        g, h = grad_hess(theta[idx], idx)
        try:
            step = np.linalg.solve(h, -g[..., None])[..., 0]
        except np.linalg.LinAlgError:
            step = np.full_like(g, np.nan)
        step = np.clip(step, -max_step, max_step)
        theta[idx] += step
        bad = ~np.all(np.isfinite(theta[idx]), axis=1)
        done = np.max(np.abs(step), axis=1) < tol
        converged[idx[done & ~bad]] = True
        active[idx[done | bad]] = False
    theta[~converged] = np.nan
    return theta, converged
