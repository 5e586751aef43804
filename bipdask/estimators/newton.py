"""Newton–Raphson maximisers shared by the likelihood models.

:func:`newton` fits one model: Newton steps with step halving so the objective never falls, the
model-specific tolerances and error messages passed in, and every failure (singular Hessian, no
ascent direction, no convergence) raised as :class:`bipdask.errors.FitError`. The Weibull and Cox
fits both use it instead of a loop of their own. :func:`vectorised_newton` solves the B bootstrap
replicates of a model at once from the full-sample estimate (no step halving: they start next to
their optimum).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bipdask.errors import FitError


@dataclass(frozen=True)
class NewtonMessages:
    """What :func:`newton` says when it fails: singular Hessian, no ascent, no convergence."""

    singular: str
    no_ascent: str
    no_convergence: str


class NewtonResult(NamedTuple):
    params: np.ndarray
    objective: float  # at ``params``
    iterations: int
    start_objective: float  # at the starting values (the Cox model's null log-likelihood)


def newton(
    objective: Callable[[np.ndarray], float],
    gradient_hessian: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
    start: np.ndarray,
    *,
    messages: NewtonMessages,
    max_iter: int,
    step_tol: float,
    ascent_tol: float,
    objective_tol: float | None = None,
    min_scale: float = 1e-8,
) -> NewtonResult:
    """Maximise a concave ``objective`` by Newton–Raphson with step halving.

    Each iteration solves H·step = −g at the current point (``gradient_hessian`` returns g and
    the Hessian H of the objective), then halves the step until the objective is finite and no
    lower than the current value less a slack of ``ascent_tol``·max(1, |value|). The slack is
    relative because a converged fit's last tiny step can lower the objective by one rounding
    unit, which is 1.8e-12 at |value| = 10⁴: an absolute slack of 1e-12 made large samples fail
    with "no ascent direction" at their optimum. A step halved below ``min_scale`` raises
    ``messages.no_ascent``.
    It stops when the largest accepted step is below ``step_tol`` or, with ``objective_tol``,
    from the second iteration on when the objective changed by less than
    ``objective_tol``·max(1, |value|); after ``max_iter`` iterations it raises
    ``messages.no_convergence``. ``gradient_hessian`` is called at the accepted points only
    (the start, then each accepted candidate), so a model that computes all three together can
    cache its last :func:`objective` evaluation.
    """
    theta = start.copy()
    value = objective(theta)
    start_value = previous = value
    for it in range(1, max_iter + 1):
        g, h = gradient_hessian(theta)
        try:
            step = np.linalg.solve(h, -g)
        except np.linalg.LinAlgError:
            raise FitError(messages.singular) from None
        scale = 1.0
        while True:  # step halving keeps the objective increasing
            cand = theta + scale * step
            new_value = objective(cand)
            slack = ascent_tol * max(1.0, abs(value))
            if np.isfinite(new_value) and new_value >= value - slack:
                break
            scale /= 2
            if scale < min_scale:
                raise FitError(messages.no_ascent)
        theta, value = cand, new_value
        if np.max(np.abs(scale * step)) < step_tol:
            return NewtonResult(theta, value, it, start_value)
        if objective_tol is not None and it > 1 and abs(value - previous) < objective_tol * max(1.0, abs(value)):
            return NewtonResult(theta, value, it, start_value)
        previous = value
    raise FitError(messages.no_convergence)


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

    Replicates fail one by one: a singular Hessian or a non-finite step stops only its own
    replicate (:func:`solve_many`), so each surviving replicate equals the solution of its
    problem alone. A replicate that cannot be fitted (a resample with an empty or event-free
    cell) is NaN and counted as failed by the summaries (:mod:`bipdask.inference.pairs`).
    """
    theta = np.array(start, dtype=np.float64, copy=True)
    active = np.ones(theta.shape[0], dtype=bool)
    converged = np.zeros(theta.shape[0], dtype=bool)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        g, h = grad_hess(theta[idx], idx)
        step = np.clip(solve_many(h, -g), -max_step, max_step)
        theta[idx] += step
        bad = ~np.all(np.isfinite(theta[idx]), axis=1)
        done = np.max(np.abs(step), axis=1) < tol
        converged[idx[done & ~bad]] = True
        active[idx[done | bad]] = False
    theta[~converged] = np.nan
    return theta, converged


def solve_many(A: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve a stack of linear systems A[i]·x[i] = rhs[i] (A: n × k × k, rhs: n × k), one at a
    time where the stacked solve fails: LAPACK refuses the whole stack when one matrix is
    singular, and that must cost only that system (its row is NaN), not the whole block of
    bootstrap replicates. Used by :func:`vectorised_newton` and the linear bootstrap."""
    try:
        return np.linalg.solve(A, rhs[..., None])[..., 0]
    except np.linalg.LinAlgError:
        out = np.full(rhs.shape, np.nan)
        for i in range(A.shape[0]):
            try:
                out[i] = np.linalg.solve(A[i], rhs[i])
            except np.linalg.LinAlgError:
                pass
        return out
