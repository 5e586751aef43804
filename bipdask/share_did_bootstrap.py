"""Person-cluster bootstrap of HIR Table 6 (share in company internship or with ordinary hours,
eq. 2) from the per-person cell sums, all replicates at once.

Every Table 6 number is a ratio of cell sums: a cell mean is Σ_g y_gc / Σ_g n_gc over persons g
(weeks with the outcome / resource-course weeks), and the DiD φ is a signed sum of four cell
means. Under replicate b person g counts w_bg times, so the replicate cell sums are one
product W (B × G) · S (G × cells), where S holds each person's (n, y) in each cell: "others"
(D=0) before/after and each participating job centre before/after. The pooled participating
cells are sums of the job-centre cells, so one product (all windows side by side) gives the pooled
DiD, every job centre's DiD and all the cell means. Each replicate equals :func:`cell_did` on
the resampled persons (a person drawn k times is k copies), exactly.

Replicate weights come from :func:`bipdask.bootstrap.replicate_blocks` over the sorted person
ids of the whole cell table (the engine every estimator shares), so they are the same for every
window and every job centre, and do not depend on how the cells were partitioned or ordered.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd
from scipy import sparse

from bipdask import bootstrap as bs
from bipdask.results import MIN_REPLICATE_SHARE, Estimate, replicate_key

def share_did_replicates(
    cells: pd.DataFrame,
    *,
    treated_ids: Iterable[int],
    before: str,
    after: Sequence[str],
    bootstrap: int,
    seed: int,
    scheme: bs.Scheme = "multinomial",
) -> pd.DataFrame:
    """B replicates of every Table 6 estimate: columns ``"<estimand>|<jobcentre or all>|<period>"``.

    Estimands as :func:`bipdask.linear.share_did_table` names them: ``did`` (pooled and per
    participating job centre, per E=1 window), ``mean_participating`` (pooled and per job
    centre) and ``mean_others`` (pooled) for the before period and each window. A replicate in
    which a cell drew no person-weeks is NaN for the estimates using that cell.

    Parameters
    ----------
    cells : rows of :func:`bipdask.outcomes.share_cell_sums` (jobcentre_id, person_id, period,
        d, n_weeks, n_yes) from every job centre.
    treated_ids : participating job centre ids (D=1).
    before, after : the E=0 period label and the E=1 window labels.
    """
    treated = np.array(sorted(int(j) for j in treated_ids), dtype=np.int64)
    k = treated.size
    persons = np.unique(cells["person_id"].to_numpy(np.int64))
    n_b = int(bootstrap)
    n_cols = 2 * (k + 1)  # (others, each participating job centre) × (before, window)
    blocks = []
    for window in after:
        sample = cells[cells["period"].isin([before, window])]
        e = (sample["period"] == window).to_numpy(np.int64)
        jc = sample["jobcentre_id"].to_numpy(np.int64)
        pos = np.searchsorted(treated, jc)
        in_treated = (sample["d"].to_numpy() == 1) & (pos < k) & (treated[np.minimum(pos, max(k - 1, 0))] == jc)
        column = 2 * np.where(in_treated, pos + 1, 0) + e  # group 0 = others, 1 + i = job centre i
        rows = np.searchsorted(persons, sample["person_id"].to_numpy(np.int64))
        values = np.concatenate([sample["n_weeks"].to_numpy(np.float64), sample["n_yes"].to_numpy(np.float64)])
        blocks.append(sparse.csr_matrix(
            (values, (np.concatenate([rows, rows]), np.concatenate([column, column + n_cols]))),
            shape=(persons.size, 2 * n_cols)))
    # One product for every window: the weights of each replicate block are drawn once.
    R_all = bs.replicate_sums(persons, n_b, seed, sparse.hstack(blocks).tocsr(), scheme) if blocks else None
    out: dict[str, np.ndarray] = {}
    for w, window in enumerate(after):
        R = R_all[:, 2 * n_cols * w: 2 * n_cols * (w + 1)]
        N = R[:, :n_cols].reshape(n_b, k + 1, 2)
        Y = R[:, n_cols:].reshape(n_b, k + 1, 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            others = Y[:, 0] / N[:, 0]
            pooled = Y[:, 1:].sum(axis=1) / N[:, 1:].sum(axis=1)
            each = Y[:, 1:] / N[:, 1:]
        out[replicate_key("did", None, window)] = (pooled[:, 1] - pooled[:, 0]) - (others[:, 1] - others[:, 0])
        out[replicate_key("mean_participating", None, window)] = pooled[:, 1]
        out[replicate_key("mean_others", None, window)] = others[:, 1]
        if w == 0:
            out[replicate_key("mean_participating", None, before)] = pooled[:, 0]
            out[replicate_key("mean_others", None, before)] = others[:, 0]
        for i, j in enumerate(treated):
            out[replicate_key("did", int(j), window)] = (each[:, i, 1] - each[:, i, 0]) - (others[:, 1] - others[:, 0])
            out[replicate_key("mean_participating", int(j), window)] = each[:, i, 1]
            if w == 0:
                out[replicate_key("mean_participating", int(j), before)] = each[:, i, 0]
    frame = pd.DataFrame({"replicate": np.arange(n_b, dtype=np.int32)})
    return pd.concat([frame, pd.DataFrame(out)], axis=1)


def with_bootstrap(rows: Sequence[Estimate], replicates: pd.DataFrame, alpha: float = 0.05) -> list[Estimate]:
    """Table 6 rows with the bootstrap SE, percentile CI and (DiD rows) bootstrap p-value.

    The p-value is :class:`bipdask.bootstrap.BootstrapSummary`'s (centred replicates at least as
    far from zero as the estimate); mean rows keep no p-value. Rows without a replicate column
    are returned unchanged; rows whose replicates are mostly NaN (a cell that resamples empty)
    lose their SE and CI (:data:`bipdask.results.MIN_REPLICATE_SHARE`).
    """
    out = []
    for row in rows:
        key = replicate_key(row.estimand, row.jobcentre_id, row.period)
        if key not in replicates:
            out.append(row)
            continue
        if replicates[key].notna().mean() < MIN_REPLICATE_SHARE:  # mostly empty resampled cells
            out.append(dataclasses.replace(row, se=None, ci_low=None, ci_high=None, p_value=None))
            continue
        summary = bs.summarise(replicates[[key]].to_numpy(), pd.Series({key: row.estimate}), "", 0)
        ci = summary.conf_int(alpha)
        p = float(summary.p_value[key]) if row.estimand == "did" else None
        out.append(dataclasses.replace(row, se=float(summary.se[key]), ci_low=float(ci.loc[key, "lower"]),
                                       ci_high=float(ci.loc[key, "upper"]), p_value=p))
    return out
