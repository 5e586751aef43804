"""The BIP analyses: caseworker effectiveness (:mod:`.effectiveness`), caseworker change
(:mod:`.change`), progression between responses (:mod:`.progression`), and all of them as one
tidy estimates frame (:mod:`.estimates`). Methods: ``docs/methods.md`` (BIP)."""

from bipdask.analyses.bip.change import CaseworkerChange, caseworker_change
from bipdask.analyses.bip.common import lpm_inference, quartile_of
from bipdask.analyses.bip.effectiveness import (
                                 CaseworkerEffectiveness,
                                 caseworker_effectiveness,
)
from bipdask.analyses.bip.estimates import BipResults, bip_estimates, bip_outputs
from bipdask.analyses.bip.progression import (
                                 INDICATORS,
                                 Progression,
                                 change_pairs,
                                 progression,
                                 standardize,
)
from bipdask.estimators.lpm import lpm
from bipdask.prepare.bip import (
                                 COMBINATIONS,
                                 FOLLOW_UP_WEEKS,
                                 REGISTER_COVARIATES,
                                 CaseworkerSample,
                                 answer_covariates,
                                 caseworker_sample,
                                 combination_of_boxes,
                                 first_hits,
                                 group_use,
                                 model_frame,
                                 outcome_52w,
                                 outcome_from_first_hits,
                                 register_covariates,
                                 with_previous,
)

__all__ = [
    "BipResults", "CaseworkerSample", "CaseworkerEffectiveness", "CaseworkerChange", "Progression",
    "outcome_52w", "first_hits", "outcome_from_first_hits", "with_previous", "combination_of_boxes", "group_use",
    "caseworker_sample",
    "register_covariates", "answer_covariates", "model_frame", "caseworker_effectiveness",
    "caseworker_change", "progression", "change_pairs", "standardize", "quartile_of",
    "lpm_inference", "bip_estimates", "bip_outputs", "lpm", "COMBINATIONS", "INDICATORS", "FOLLOW_UP_WEEKS",
    "REGISTER_COVARIATES",
]
