"""The models behind the reports' tables, each a function of a data frame returning a result.

Weibull PH (:mod:`.weibull`) and its duration DiD (:mod:`.duration_did`), Cox PH (:mod:`.cox`),
linear probability models with absorbed fixed effects (:mod:`.lpm`), the cell DiD of a share
(:mod:`.cell_did`) and Kaplan–Meier curves (:mod:`.survival_curves`). They share one results base
(:mod:`.results`), one Newton routine (:mod:`.newton`), one set of covariance functions with one
small-sample vocabulary (:mod:`.covariance`) and one input check (:mod:`.inputs`); the methods are
described in ``docs/methods.md``.
"""
