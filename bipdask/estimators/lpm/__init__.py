"""Linear (probability) models: the fit with absorbed fixed effects and its cluster bootstrap
from per-cluster moments (:mod:`.model`), and the absorption itself (:mod:`.absorb`)."""

from bipdask.estimators.lpm.model import CONS, LinearResult, lpm, refit_replicate

__all__ = ["CONS", "LinearResult", "lpm", "refit_replicate"]
