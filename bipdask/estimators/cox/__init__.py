"""Cox proportional hazards: the partial-likelihood fit (:mod:`.model`) and its cluster
bootstrap by weighted vectorised Newton (:mod:`.replicates`)."""

from bipdask.estimators.cox.model import CoxResult, cox_ph

__all__ = ["CoxResult", "cox_ph"]
