"""One base for the fitted models' results: estimates, covariance, intervals, tables, display.

The Weibull, Cox and linear models and the cell DiD return frozen dataclasses that derive from
:class:`Results` (the layout of linearmodels' ``shared/base.py`` and ``iv/results.py``): the
subclass stores ``params``, ``cov``, ``nobs``, ``n_clusters``, ``cov_type`` and optionally a
``bootstrap`` summary; the base derives the standard errors, Wald statistics, p-values,
analytic or bootstrap-percentile intervals (:func:`confidence_interval`), the tidy table every
analysis consumes (:func:`wald_table`), and a :class:`Summary` that drives ``str``, ``repr`` and
the notebook HTML. Inference is normal-theory unless the subclass names t degrees of freedom
(the linear model and the cell DiD); the methods are described in ``docs/methods.md``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from html import escape
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats

from bipdask.inference.pairs import BootstrapSummary
from bipdask.inference.wild import WILD_COLUMNS, WildTest

IntervalKind = Literal["analytic", "bootstrap"]


def _two_sided_p(z: np.ndarray, df: float | None) -> np.ndarray:
    """Two-sided p-values of Wald statistics ``z``: N(0, 1), or Student's t with ``df``."""
    return 2 * (stats.norm.sf(np.abs(z)) if df is None else stats.t.sf(np.abs(z), df))


def confidence_interval(params: pd.Series, se: pd.Series, summary: BootstrapSummary | None,
                        alpha: float = 0.05, kind: str = "analytic", df: float | None = None) -> pd.DataFrame:
    """Wald CIs (``kind="analytic"``: normal, or t with ``df``) or bootstrap percentile CIs
    (``kind="bootstrap"``), as a DataFrame with columns ``lower``, ``upper`` indexed by term."""
    if kind == "bootstrap":
        if summary is None:
            raise ValueError("no bootstrap replicates: fit with bootstrap=B")
        with warnings.catch_warnings():  # omitted covariates: all-NaN replicate columns
            warnings.simplefilter("ignore", RuntimeWarning)
            return summary.conf_int(alpha)
    if kind != "analytic":
        raise ValueError(f"kind must be 'analytic' or 'bootstrap', not {kind!r}")
    q = stats.norm.ppf(1 - alpha / 2) if df is None else stats.t.ppf(1 - alpha / 2, df)
    return pd.DataFrame({"lower": params - q * se, "upper": params + q * se})


def wald_table(params: pd.Series, se: pd.Series, ci: pd.DataFrame, summary: BootstrapSummary | None,
               *, df: float | None = None, statistic: str = "z", bootstrap_ci: pd.DataFrame | None = None,
               **extra: np.ndarray) -> pd.DataFrame:
    """The tidy table every estimator returns: term, estimate, [extra columns], se, the Wald
    statistic (column ``statistic``: ``z``, or ``t`` with ``df``), p_value, ci_low, ci_high, and
    with bootstrap replicates se_boot, ci_low_boot, ci_high_boot (``bootstrap_ci``, by default
    the 95 % percentile interval), p_value_boot."""
    z = (params / se).to_numpy()
    p = _two_sided_p(z, df)
    out = pd.DataFrame({"term": params.index, "estimate": params.to_numpy(), **extra, "se": se.to_numpy(),
                        statistic: z, "p_value": p,
                        "ci_low": ci["lower"].to_numpy(), "ci_high": ci["upper"].to_numpy()})
    if summary is not None:
        bci = summary.conf_int() if bootstrap_ci is None else bootstrap_ci
        out["se_boot"] = summary.se.to_numpy()
        out["ci_low_boot"] = bci["lower"].to_numpy()
        out["ci_high_boot"] = bci["upper"].to_numpy()
        out["p_value_boot"] = summary.p_value.to_numpy()
    return out


@dataclass(frozen=True)
class Summary:
    """A result's summary: a title, model facts (label → text) and the tidy coefficient table."""

    title: str
    info: dict[str, str]
    table: pd.DataFrame

    def as_text(self) -> str:
        width = max(len(self.title), 40)
        label = max((len(k) for k in self.info), default=0) + 2
        facts = [f"{k + ':':<{label}s}{v}" for k, v in self.info.items()]
        coef = self.table.set_index("term").to_string(float_format=lambda v: f"{v:.4g}")
        return "\n".join([self.title, "=" * width, *facts, "-" * width, coef])

    def as_html(self) -> str:
        facts = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in self.info.items())
        coef = self.table.set_index("term").to_html(float_format=lambda v: f"{v:.4g}", border=0)
        return f"<div><h4>{escape(self.title)}</h4><table>{facts}</table>{coef}</div>"

    def __str__(self) -> str:
        return self.as_text()


class Results:
    """Base of the estimators' results; subclasses are frozen dataclasses (``repr=False``, so
    that :meth:`__repr__` here is used).

    A subclass provides ``params`` (Series), ``cov`` (DataFrame), ``nobs``, ``n_clusters``,
    ``cov_type`` and, when it has replicates, ``bootstrap`` (a :class:`BootstrapSummary`).
    It may set ``_title`` and ``_statistic`` (``"z"`` or ``"t"``), override :attr:`_t_df` (the
    degrees of freedom of a t reference distribution; ``None`` = normal), add columns to
    :meth:`tidy` via :meth:`_tidy_extra` and facts to :meth:`summary` via :meth:`_summary_info`.
    """

    _title = "Estimates"
    _statistic = "z"
    _se_name: str | None = None
    bootstrap: BootstrapSummary | None = None
    wild: WildTest | None = None

    params: pd.Series
    cov: pd.DataFrame
    nobs: int
    n_clusters: int
    cov_type: str

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable; use dataclasses.replace")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__} is immutable")

    @property
    def inference(self) -> str:
        """How the published se/CI/p of :meth:`tidy` were computed: ``"wild"`` (a wild cluster
        bootstrap test, :attr:`wild`), ``"pairs"`` (replicates in :attr:`bootstrap`) or
        ``"analytic"`` (the covariance alone)."""
        if self.wild is not None:
            return "wild"
        return "pairs" if self.bootstrap is not None else "analytic"

    @property
    def n_replicates(self) -> int:
        """Usable replicates behind the published inference (0 when analytic)."""
        if self.wild is not None:
            return int(self.wild.n_replicates)
        if self.bootstrap is not None:
            return int(len(self.bootstrap.replicates) - self.bootstrap.n_failed)
        return 0

    @property
    def _t_df(self) -> float | None:
        """Degrees of freedom of the t reference distribution; ``None`` for the normal."""
        return None

    @property
    def std_errors(self) -> pd.Series:
        """Standard errors: the square roots of the covariance diagonal, indexed by term."""
        return pd.Series(np.sqrt(np.diag(self.cov.to_numpy())), index=self.params.index, name=self._se_name)

    @property
    def se(self) -> pd.Series:
        return self.std_errors

    @property
    def se_boot(self) -> pd.Series | None:
        """Bootstrap standard errors (``None`` without replicates)."""
        return None if self.bootstrap is None else self.bootstrap.se

    @property
    def statistics(self) -> pd.Series:
        """Wald statistics estimate / se (z, or t when :attr:`_t_df` is set)."""
        return self.params / self.std_errors

    @property
    def p_values(self) -> pd.Series:
        """Two-sided p-values of the Wald statistics (normal, or t with :attr:`_t_df`)."""
        return pd.Series(_two_sided_p(self.statistics.to_numpy(), self._t_df), index=self.params.index)

    def conf_int(self, alpha: float = 0.05, kind: IntervalKind = "analytic") -> pd.DataFrame:
        """Wald CIs (``kind="analytic"``) or bootstrap percentile CIs (``kind="bootstrap"``):
        a DataFrame with columns ``lower``, ``upper`` indexed by term."""
        return confidence_interval(self.params, self.std_errors, self.bootstrap, alpha, kind, self._t_df)

    def _tidy_extra(self) -> dict[str, np.ndarray]:
        return {}

    def tidy(self, alpha: float = 0.05) -> pd.DataFrame:
        """One row per term: term, estimate, [model columns], se, z or t, p_value, ci_low,
        ci_high, and with replicates se_boot, ci_low_boot, ci_high_boot, p_value_boot."""
        bci = None if self.bootstrap is None else self.conf_int(alpha, kind="bootstrap")
        table = wald_table(self.params, self.std_errors, self.conf_int(alpha), self.bootstrap,
                           df=self._t_df, statistic=self._statistic, bootstrap_ci=bci, **self._tidy_extra())
        if self.wild is None:
            return table
        # wild inference replaces the published se/CI/p; the analytic ones stay as *_analytic
        wild = self.wild.table.reindex(self.params.index)
        for col in WILD_COLUMNS:
            table[f"{col}_analytic"] = table[col].to_numpy()
            table[col] = wild[col].to_numpy()
        table["inference"] = "wild"
        table["n_clusters"] = int(self.wild.n_clusters)
        table["n_replicates"] = int(self.wild.n_replicates)
        return table

    def _summary_info(self) -> dict[str, str]:
        return {}

    def summary(self, alpha: float = 0.05) -> Summary:
        """Title, model facts (observations, clusters, covariance type, …) and the tidy table."""
        info = {"Observations": f"{self.nobs:,}", "Clusters": f"{self.n_clusters:,}", "Covariance": self.cov_type}
        if self.bootstrap is not None:
            info["Bootstrap"] = (f"{len(self.bootstrap.replicates):,} {self.bootstrap.scheme} replicates, "
                                 f"seed {self.bootstrap.seed}, {self.bootstrap.n_failed} failed")
        info.update(self._summary_info())
        return Summary(self._title, info, self.tidy(alpha))

    def __str__(self) -> str:
        return self.summary().as_text()

    def __repr__(self) -> str:
        return f"{self.summary().as_text()}\n{type(self).__name__}, id: {hex(id(self))}"

    def _repr_html_(self) -> str:
        return self.summary().as_html()
