"""Tree reductions of the map units' additive statistics: each analysis's reduce reads one root.

The map step writes small per-unit statistics (:mod:`bipdask.prepare.sums`: spell counts, share and
descriptive moments, exit cells, linkage counts, …), a file per unit and kind — about 100 at
scale 1, 900 and more at 100×. Instead of one reduce task reading and summing them all, a kind's
files, in unit order, are combined in a tree: level 1 combines each run of :data:`FAN_IN`
consecutive unit files into one partial file, each further level :data:`FAN_IN` consecutive
partials, until one root, which the analysis's reduce reads. The shape is a function of the
number of units alone (:func:`tree_shape`), never of the cluster, and every combine is an exact
(integer) sum, so a run gives the same bytes on 1 worker or 16. Only URLs travel between the tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from bipdask.prepare.sums import combine
from bipdask.runtime import storage
from flows.tasks import bipdask_task

FAN_IN = 16  # files a combine task reads: ~100 units → 7 + 1 tasks a kind, ~900 → 57 + 4 + 1
TREE_FOLDER = "_tree"  # model_input/_tree/<kind>/level<l>-<i>.parquet: the partial sums


def tree_shape(n_inputs: int, fan_in: int = FAN_IN) -> list[list[range]]:
    """The combine tasks of a tree over ``n_inputs`` ordered inputs, level by level: level 1's nodes
    are the ranges of consecutive inputs they combine (``fan_in`` each, the last one fewer), each
    further level's the ranges of consecutive nodes of the level below, up to one root. No level
    for one input or none (the input is the root). A function of its arguments only."""
    if fan_in < 2:
        raise ValueError(f"a tree's fan-in must be at least 2, not {fan_in}")
    levels: list[list[range]] = []
    n = int(n_inputs)
    while n > 1:
        level = [range(i, min(i + fan_in, n)) for i in range(0, n, fan_in)]
        levels.append(level)
        n = len(level)
    return levels


def combine_statistics_impl(kind: str, urls: Sequence[str], out_url: str, level: int = 1) -> str:
    """Combine partial statistics of model-input ``kind`` (the files ``urls``) into one file of the
    same form at ``out_url`` (:func:`bipdask.prepare.sums.combine`); returns ``out_url``. ``level``
    (the tree's) only names the task run."""
    storage.write_parquet(combine(kind, [storage.read_parquet(list(urls))]), out_url)  # one read of the files
    return out_url


combine_statistics = bipdask_task(combine_statistics_impl, name="combine_statistics", idempotent=True,
                                  task_run_name="combine {kind} level {level}")


def tree_reduce(kind: str, urls: Sequence[str], out_url: str, fan_in: int | None = None,
                submit: Callable[..., Any] | None = None) -> list[Any]:
    """Submit the tree (:func:`tree_shape`) combining ``kind``'s files ``urls`` (in unit order) into
    one; returns ``[root]`` (a future of its URL, or the one input itself) or ``[]`` without inputs:
    a list, as the reduces take their units' URLs. Partials go to
    ``<out_url>/<kind>/level<l>-<i>.parquet``. A node of one input passes it up untouched (no task).
    ``fan_in`` defaults to :data:`FAN_IN`; ``submit`` (default: the Prefect task's) takes
    (kind, urls, out_url, level)."""
    submit = submit or combine_statistics.submit
    nodes: list[Any] = list(urls)
    for level, ranges in enumerate(tree_shape(len(nodes), fan_in or FAN_IN), start=1):
        nodes = [nodes[r[0]] if len(r) == 1 else
                 submit(kind, [nodes[i] for i in r], storage.join(out_url, kind, f"level{level}-{j:04d}.parquet"),
                        level)
                 for j, r in enumerate(ranges)]
    return nodes
