"""Linear (probability) models: the fit with absorbed fixed effects and its cluster bootstrap
from per-cluster moments (:mod:`.model`), the absorption itself (:mod:`.absorb`), and the
per-cluster sufficient statistics of the wild cluster restricted bootstrap (:mod:`.wild`)."""

from bipdask.estimators.lpm.model import CONS, LinearResult, lpm

__all__ = ["CONS", "LinearResult", "lpm"]
