"""bipdask.estimators.cox.replicates: replicate windows. Any cut of the B pairs replicates into
windows gives the replicates of one run of all B, bit for bit (the flow computes windows as tasks)."""

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bipdask.estimators.cox import cox_ph
from bipdask.estimators.cox.replicates import cox_replicates
from bipdask.estimators.cox.source import local_source, partition_strata

B, BLOCK, SEED = 23, 5, 7


def _person_weeks(n_persons=150, seed=0):
    rng = np.random.default_rng(seed)
    rows = []
    for pid in range(n_persons):
        for k in range(20):
            cl = rng.normal(0, 6)
            ev = rng.random() < np.exp(-2.3 - 0.05 * cl + 0.2 * (pid % 3))
            rows.append((pid, pid % 3, k, k + 1, cl, int(ev)))
            if ev:
                break
    return pd.DataFrame(rows, columns=["pid", "jc", "start", "stop", "cl", "ev"])


DF = _person_weeks()
KW = {"start": "start", "duration": "stop", "event": "ev", "covariates": ["cl"], "strata": "jc", "cluster": "pid"}
FIT = cox_ph(DF, **KW, bootstrap=B, seed=SEED, block=BLOCK)
SOURCE = local_source([partition_strata(DF, ties="efron", **KW)])


def test_all_replicates_equal_the_fits_bootstrap():
    got = cox_replicates(SOURCE, FIT.params, B, SEED, block=BLOCK)
    np.testing.assert_array_equal(got, FIT.bootstrap.replicates.to_numpy())


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, B - 1), max_size=5, unique=True))
def test_any_cut_into_windows_gives_the_run_of_all_replicates_bit_for_bit(cuts):
    edges = [0, *sorted(cuts), B]
    parts = [cox_replicates(SOURCE, FIT.params, B, SEED, block=BLOCK, window=range(a, b))
             for a, b in zip(edges[:-1], edges[1:])]
    assert [len(p) for p in parts] == list(np.diff(edges))
    np.testing.assert_array_equal(np.concatenate(parts), FIT.bootstrap.replicates.to_numpy())
