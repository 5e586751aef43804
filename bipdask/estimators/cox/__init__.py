"""Cox proportional hazards: the partial-likelihood fit (:mod:`.model`), its cluster
bootstrap by weighted vectorised Newton (:mod:`.replicates`) and the wild score bootstrap at
job-centre level (:mod:`.score`)."""

from bipdask.estimators.cox.model import CoxResult, cox_ph

__all__ = ["CoxResult", "cox_ph"]
