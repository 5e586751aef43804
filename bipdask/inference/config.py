"""The one inference record every analysis takes: how its uncertainty is computed.

An analysis (a HIR table, a BIP estimate) is called with one frozen :class:`Inference` instead
of repeating ``bootstrap=, seed=, scheme=, cluster=, alpha=`` with defaults of its own; the run
builds it once from the evaluation spec (:meth:`bipdask.spec.EvaluationSpec.inference`), so every
table of a run uses the same replicates, seed and clustering. The estimators in
:mod:`bipdask.estimators` keep plain keyword arguments for notebook use;
:meth:`Inference.estimator_kwargs` turns the record into them.

``method``:

* ``"pairs"`` — the pairs cluster bootstrap by re-weighting clusters (:mod:`bipdask.inference.bootstrap`):
  ``replicates`` B > 0 replicates, the standard error of the replicates, percentile intervals and
  the share of centred replicates at least as extreme as the estimate as p-value.
* ``"wild"`` — a wild cluster bootstrap test at the ``cluster`` level (the restricted WCR for
  linear models, the score bootstrap for Weibull and Cox): the null is imposed, ``replicates``
  sign draws (all 2^G when that is fewer), CIs by test inversion. The design-based default when
  treatment is assigned to groups (job centres), which a pairs bootstrap of persons ignores.
* ``"analytic"`` — no replicates: the cluster-robust (sandwich) variance, Wald intervals.

The methods are described in ``docs/methods.md`` (section "Inference").
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Literal

from bipdask.inference.bootstrap import Scheme

InferenceMethod = Literal["wild", "pairs", "analytic"]
METHODS: tuple[str, ...] = ("wild", "pairs", "analytic")
WILD_WEIGHTS: tuple[str, ...] = ("rademacher", "webb")
SCHEMES: tuple[str, ...] = ("multinomial", "poisson")


@dataclass(frozen=True)
class Inference:
    """How an analysis computes standard errors, intervals and p-values.

    Attributes
    ----------
    replicates : bootstrap replicates B (0 = analytic only; must be 0 with ``method="analytic"``).
    seed : the run seed; replicate weights are a pure function of (seed, replicate, cluster id).
    scheme : ``"multinomial"`` (classic pairs cluster bootstrap) or ``"poisson"`` weights.
    cluster : the cluster column (``"person_id"``; ``"jobcentre_id"`` when the spec says
        ``cluster = "jobcentre"``). Analyses whose unit is fixed by design (HIR Table 3 clusters
        by caseworker) ignore it.
    alpha : 1 − the confidence level of the intervals (0.05 → 95 %).
    method : ``"pairs"`` or ``"analytic"``.
    window : ``(b0, b1)`` with 0 ≤ b0 < b1 ≤ ``replicates``, or None (default: all B): an
        analysis called with a window returns the replicates b0 … b1 − 1 of the run of B, bit for
        bit (the weights are a pure function of the replicate number, and products are formed
        over the run's own blocks of replicates), so a large B can be computed in blocks on any
        worker and concatenated (``docs/methods.md#replicate-blocks``).
    """

    replicates: int = 0
    seed: int = 0
    scheme: Scheme = "multinomial"
    cluster: str = "person_id"
    alpha: float = 0.05
    method: InferenceMethod = "pairs"
    wild_weights: str = "rademacher"
    window: tuple[int, int] | None = None

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"inference method must be one of {METHODS}, not {self.method!r}")
        if self.scheme not in SCHEMES:
            raise ValueError(f"bootstrap scheme must be one of {SCHEMES}, not {self.scheme!r}")
        if int(self.replicates) != self.replicates or self.replicates < 0:
            raise ValueError(f"replicates must be a whole number ≥ 0, not {self.replicates!r}")
        if self.window is not None:
            b0, b1 = self.window
            if int(b0) != b0 or int(b1) != b1 or not 0 <= b0 < b1 <= self.replicates:
                raise ValueError(f"replicate window {self.window!r} must satisfy 0 ≤ b0 < b1 ≤ replicates "
                                 f"({self.replicates})")
            if self.method != "pairs":
                raise ValueError("a replicate window needs the pairs bootstrap (method='pairs')")
        if self.method == "analytic" and self.replicates:
            raise ValueError("method='analytic' draws no replicates; set replicates=0")
        if self.wild_weights not in WILD_WEIGHTS:
            raise ValueError(f"wild weights must be one of {WILD_WEIGHTS}, not {self.wild_weights!r}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must lie in (0, 1), not {self.alpha!r}")

    @property
    def bootstrap(self) -> bool:
        """True when the analysis draws bootstrap replicates."""
        return self.replicates > 0

    @property
    def person_bootstrap(self) -> bool:
        """True when the replicates resample clusters below the job centre (persons): then no
        per-unit sum stands in for the persons' own rows."""
        return self.bootstrap and self.cluster != "jobcentre_id"

    @property
    def replicate_window(self) -> range | None:
        """The window's replicate numbers b0 … b1 − 1, or None (all ``replicates``)."""
        return None if self.window is None else range(int(self.window[0]), int(self.window[1]))

    @property
    def replicate_numbers(self) -> range:
        """The replicate numbers an analysis under this record returns."""
        return range(self.replicates) if self.window is None else self.replicate_window

    def estimator_kwargs(self) -> dict:
        """The keyword arguments of the estimators' bootstrap: ``bootstrap``, ``seed``, ``scheme``
        (and ``inference``, ``wild_weights`` for a wild bootstrap; ``replicate_window`` with a
        window, which only estimators that take one accept)."""
        kw = {"bootstrap": int(self.replicates), "seed": self.seed, "scheme": self.scheme}
        if self.window is not None:
            kw["replicate_window"] = self.replicate_window
        if self.method == "wild":
            kw.update(inference="wild", wild_weights=self.wild_weights)
        return kw

    def at_unit(self, cluster: str) -> "Inference":
        """The record for an analysis whose resampling unit is fixed by its design rather than by a
        group-level assignment (BIP: citizens; HIR Table 3: caseworkers; ``docs/methods.md``): a
        pairs bootstrap of ``cluster`` (or analytic), whatever the run's cluster level."""
        return dataclasses.replace(self, method="pairs" if self.method == "wild" else self.method, cluster=cluster)

    def replace(self, **changes) -> "Inference":
        """A copy with some fields changed (the record itself is immutable)."""
        return dataclasses.replace(self, **changes)


ANALYTIC = Inference(method="analytic")
