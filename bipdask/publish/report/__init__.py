"""The analyst's report of a committed run: self-contained HTML with embedded PNG figures.

``write_report(run_url)`` reads ``<root>/runs/<run_id>/results``, applies disclosure control
(:mod:`bipdask.publish.disclosure`) before anything else, and writes ``<run>/report/report.html``
(HIR Tables A, 3, 4, 6, 7, 8, 9, 10 and Figures 1–2; BIP Table 1, the quartile figures, the
caseworker change and progression), with the run's spec, seed, B and input hashes, and a
month-over-month section when an earlier committed run exists under the same root (whose
release the estimates are also protected against).
``bipdask report RUN_URL [--lang da]`` calls it.
"""

from bipdask.publish.report.build import (
                                          Published,
                                          build_report,
                                          committed_runs,
                                          describe_run,
                                          format_estimate,
                                          load_published,
                                          load_release,
                                          open_committed,
                                          previous_run,
                                          release_of,
                                          split_run_url,
                                          write_report,
)

__all__ = ["Published", "build_report", "committed_runs", "describe_run", "format_estimate", "load_published",
           "load_release", "open_committed", "previous_run", "release_of", "split_run_url", "write_report"]
