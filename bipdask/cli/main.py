"""The ``bipdask`` command line: synth, validate, run, demo, report, runs, show, verify.

The CLI is the one room above both :mod:`bipdask` and :mod:`flows`: ``run`` and ``demo`` call
:func:`flows.run.run_evaluation` and :func:`flows.demo.run_demo`; nothing else in ``bipdask/``
depends on ``flows`` or Prefect (``docs/architecture.md``).

Exit codes: 0 ok, 2 bad input (the message names table, column, rule and row count),
3 infrastructure (storage, cluster, orchestration), 130 Ctrl-C, 143 SIGTERM. No traceback
unless ``--debug``. SIGTERM is handled like Ctrl-C: the command unwinds (a run releases its
claim and stops its cluster and its Prefect server) and exits with one line.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path
from typing import Any

from bipdask.errors import EXIT_INFRASTRUCTURE, EXIT_OK, BipdaskError

EPILOG = """examples:
  bipdask synth --out data/synth --scale 0.05 --seed 42
  bipdask validate data/synth
  bipdask run --input data/synth --output out/ --seed 1 --workers 2
  bipdask run --input data/synth --output s3://bucket/bipdask --dask-address tcp://sched:8786
  bipdask demo
  bipdask runs out/
  bipdask show out/ did --analysis share_internship_or_hours
  bipdask report out/runs/r0123456789abcdef --lang da
  bipdask verify out/runs/r0123456789abcdef
  bipdask gc out/ --older-than 2d --dry-run

exit codes: 0 ok, 2 bad input (or no such run / estimand), 3 infrastructure failure,
  130 interrupted (Ctrl-C), 143 terminated (SIGTERM)
"""
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 128 + signal.SIGTERM


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="bipdask",
        description="Evaluate employment programmes on register data (HIR, BIP).",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    p.add_argument("--no-progress", action="store_true",
                   help="no progress bar (it is drawn on stderr only when that is a terminal)")
    # The global flags are accepted after the subcommand too (``bipdask run … --debug``); SUPPRESS
    # keeps a subcommand that does not see them from resetting what was given before it.
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
    common.add_argument("--no-progress", action="store_true", default=argparse.SUPPRESS, help="no progress bar")
    sub = _Subparsers(p.add_subparsers(dest="command", required=True), common)

    s = sub.add_parser("synth", help="write a synthetic national delivery with planted truth",
                       epilog="example: bipdask synth --out data/synth --scale 1 --seed 42",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--out", required=True, help="folder to write the delivery to")
    s.add_argument("--scale", type=float, default=1.0, help="1.0 = the reports' population")
    s.add_argument("--seed", type=int, default=42)
    s.add_argument("--workers", type=int, default=1, help="processes writing job centres")
    s.add_argument("--no-jobcentre-shocks", action="store_true",
                   help="no job-centre × period shocks (the panel without common job-centre shocks)")

    v = sub.add_parser("validate", help="check a delivery against the data contract",
                       epilog="example: bipdask validate data/synth",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    v.add_argument("input", help="delivery folder")
    v.add_argument("--quarantine", help="folder to write quarantined rows to (with reasons)")

    r = sub.add_parser("run", help="run the evaluation flow (Prefect on Dask)",
                       epilog="example: bipdask run --input data/synth --output out/ --seed 1",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    r.add_argument("--input", required=True, help="delivery folder")
    r.add_argument("--output", required=True, help="root URL: local path or s3://bucket/prefix")
    r.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: the spec's)")
    r.add_argument("--spec", default="hir", help="built-in spec name or a .toml file")
    r.add_argument("--bootstrap", type=int, default=None, metavar="B",
                   help="bootstrap replicates, for a quick look (default: the spec's)")
    r.add_argument("--workers", type=int, default=None, help="LocalCluster worker processes")
    r.add_argument("--dask-address", default=None, help="an existing Dask scheduler (or DASK_ADDRESS)")
    r.add_argument("--s3-secret-block", default=None,
                   help="a Prefect Secret block with the S3 credentials (or BIPDASK_S3_SECRET_BLOCK; "
                        "default: AWS_* from the environment)")

    d = sub.add_parser("demo", help="synthetic scale-1 panel → run → headline table",
                       epilog="example: bipdask demo --folder bipdask-demo",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    d.add_argument("--folder", default="bipdask-demo", help="where input and output go")
    d.add_argument("--scale", type=float, default=1.0)
    d.add_argument("--seed", type=int, default=42)
    d.add_argument("--workers", type=int, default=2)
    rp = sub.add_parser("report", help="write the HTML report of a committed run",
                        epilog="examples:\n  bipdask report out/runs/r0123456789abcdef\n"
                               "  bipdask report out/ --lang da --out /tmp/report   # the latest run\n\n"
                               "exit codes: 0 ok, 2 no such run, 3 storage failure",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    rp.add_argument("run_url", metavar="RUN_URL", help="<root>/runs/<run_id>, or a root (its latest run)")
    rp.add_argument("--lang", choices=["en", "da"], default="en", help="labels: English (default) or Danish")
    rp.add_argument("--out", default=None, help="folder to write to (default: <run>/report/)")
    rp.add_argument("--previous", default=None, metavar="RUN_URL",
                    help="run to compare with (default: the run committed before it under the same root)")

    ls = sub.add_parser("runs", help="list the committed runs under a root",
                        epilog="example:\n  bipdask runs out/\n  bipdask runs s3://bucket/bipdask\n\n"
                               "exit codes: 0 ok (also when there are no runs), 3 storage failure",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ls.add_argument("root", metavar="ROOT", help="root URL: local path or s3://bucket/prefix")

    gc = sub.add_parser("gc", help="remove incomplete (never committed) runs and stale temporary files; "
                                   "repair the cross-run table published/",
                        epilog="examples:\n  bipdask gc out/ --dry-run\n"
                               "  bipdask gc s3://bucket/bipdask --older-than 12h\n\n"
                               "Committed runs are never touched; a run being computed (a live claim) is kept.\n"
                               "The cross-run table ROOT/published/ is made equal to the committed runs'\n"
                               "releases: a committed run missing from it is added, a run that is not\n"
                               "committed is removed from it.\n"
                               "exit codes: 0 ok, 2 bad arguments, 3 storage failure",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    gc.add_argument("root", metavar="ROOT", help="root URL: local path or s3://bucket/prefix")
    gc.add_argument("--older-than", default="1d", type=_age, metavar="AGE",
                    help="only what was last written longer ago than AGE, e.g. 2d, 12h, 30m, 0 (default 1d)")
    gc.add_argument("--dry-run", action="store_true", help="list what would be removed; remove nothing")

    sh = sub.add_parser("show", help="print one estimate with its CI (disclosure-protected)",
                        epilog="examples:\n  bipdask show out/ did --analysis share_internship_or_hours\n"
                               "  bipdask show out/runs/r0123456789abcdef did_weeks --analysis hir_table4 "
                               "--jobcentre 159\n\n"
                               "exit codes: 0 ok, 2 no such run or estimand, 3 storage failure",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    sh.add_argument("run_url", metavar="ROOT[/runs/ID]", help="a root (its latest run) or one run")
    sh.add_argument("estimand", metavar="ESTIMAND", help="e.g. did, did_weeks, hr_caseload, increase")
    sh.add_argument("--analysis", default=None, help="e.g. share_internship_or_hours, hir_table4")
    sh.add_argument("--jobcentre", type=int, default=None, help="one job centre (default: all participating)")
    sh.add_argument("--period", default=None, help="e.g. intervention, last_3_months, before")
    vf = sub.add_parser("verify", help="check every file of a committed run against its manifest's sha256",
                        epilog="examples:\n  bipdask verify out/                        # the latest run\n"
                               "  bipdask verify s3://bucket/bipdask/runs/r0123456789abcdef\n\n"
                               "exit codes: 0 every file matches, 2 no such run, 3 a file changed, missing or "
                               "added, or a storage failure",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    vf.add_argument("run_url", metavar="ROOT[/runs/ID]", help="a root (its latest run) or one run")
    return p


class _Subparsers:
    """``add_parser`` with the global flags (:func:`_parser`'s ``common``) as a parent."""

    def __init__(self, action: Any, common: argparse.ArgumentParser) -> None:
        self.action, self.common = action, common

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        return self.action.add_parser(name, parents=[self.common], **kwargs)


def _bar(args: argparse.Namespace):
    from bipdask.cli.progress import StageBar

    bar = StageBar()
    bar.enabled = bar.enabled and not args.no_progress
    return bar


# --------------------------------------------------------------------------- the commands
# Each imports what it needs when it runs: ``bipdask --help`` and the light commands do not
# pay for Prefect and Dask.


def _synth(args: argparse.Namespace) -> None:
    from bipdask.synth import generate

    summary = generate(Path(args.out), scale=args.scale, seed=args.seed, workers=args.workers,
                       jobcentre_shocks=not args.no_jobcentre_shocks)
    print(summary.describe() if hasattr(summary, "describe") else summary)


def _validate(args: argparse.Namespace) -> None:
    from bipdask.data.validate.stage import validate_delivery

    print(validate_delivery(Path(args.input), quarantine_dir=args.quarantine).describe())


def _run(args: argparse.Namespace) -> None:
    from bipdask.runtime.storage import check_root_url
    from bipdask.spec import load_spec, with_replicates

    # Before importing Prefect and Dask, hashing the delivery or starting anything: the spec
    # (every problem at once) and the output URL's scheme (exit 2).
    with_replicates(load_spec(args.spec), args.bootstrap)
    check_root_url(args.output)
    from flows.run import run_evaluation

    if args.s3_secret_block:
        os.environ["BIPDASK_S3_SECRET_BLOCK"] = args.s3_secret_block
    def waiting(line: str) -> None:
        print(f"bipdask run: {line}", file=sys.stderr, flush=True)

    with _bar(args) as progress:
        result = run_evaluation(input_dir=args.input, output_url=args.output, seed=args.seed, spec=args.spec,
                                bootstrap=args.bootstrap, workers=args.workers, dask_address=args.dask_address,
                                debug=args.debug, progress=progress, on_wait=waiting)
    print(result.describe())


def _demo(args: argparse.Namespace) -> None:
    from flows.demo import run_demo

    with _bar(args) as progress:
        result = run_demo(folder=Path(args.folder), scale=args.scale, seed=args.seed, workers=args.workers,
                          debug=args.debug, progress=progress)
    print(result.describe())


def _report(args: argparse.Namespace) -> None:
    from bipdask.publish.report import write_report

    path = write_report(args.run_url, out_dir=args.out, lang=args.lang, previous_run_url=args.previous)
    print(f"report: {path}")


def _runs(args: argparse.Namespace) -> None:
    from bipdask.publish.report.views import runs_text

    print(runs_text(args.root))


def _show(args: argparse.Namespace) -> None:
    from bipdask.publish.report.views import show_text

    print(show_text(args.run_url, args.estimand, analysis=args.analysis, jobcentre_id=args.jobcentre,
                    period=args.period))


def _verify(args: argparse.Namespace) -> None:
    from bipdask.publish.report.build import open_committed
    from bipdask.runtime.storage import IntegrityError, verify_run

    result = verify_run(open_committed(args.run_url))
    if result.problems:
        raise IntegrityError(result.describe())
    print(result.describe())


def _age(text: str) -> float:
    """``--older-than``: seconds; a bad age is argparse's usage error (exit 2)."""
    from bipdask.runtime.cleanup import parse_age

    try:
        return parse_age(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _gc(args: argparse.Namespace) -> None:
    from bipdask.publish.history import sync_history
    from bipdask.runtime.cleanup import describe, remove_leftovers

    removed, kept = remove_leftovers(args.root, args.older_than, dry_run=args.dry_run)
    print(describe(removed, kept, dry_run=args.dry_run))
    synced = sync_history(args.root, dry_run=args.dry_run)  # committed runs an append missed
    if synced.added or synced.removed or synced.problems:
        print(synced.describe(dry_run=args.dry_run))


COMMANDS = {"synth": _synth, "validate": _validate, "run": _run, "demo": _demo, "report": _report, "runs": _runs,
            "show": _show, "verify": _verify, "gc": _gc}


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like ``KeyboardInterrupt`` so that every ``finally``
    runs (claim released, cluster and Prefect server stopped) before the process exits."""


_TERMINATED = threading.Event()  # set by SIGTERM: the exit is 143 whatever the unwinding raises


def _raise_terminated(signum: int, frame: object) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a second SIGTERM must not cut the cleanup short
    _TERMINATED.set()
    raise Terminated


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.debug:
        os.environ["BIPDASK_DEBUG"] = "1"
    on_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if on_main_thread else None
    _TERMINATED.clear()
    try:
        COMMANDS[args.command](args)
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"bipdask {args.command}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated:
        return _terminated(args.command)
    except Exception as exc:  # noqa: BLE001 - the CLI promises no traceback without --debug
        # Unwinding after SIGTERM may fail in turn (a cluster torn down while it starts closes its
        # comms, and that error replaces Terminated): the process was terminated all the same.
        if _TERMINATED.is_set() and not args.debug:
            return _terminated(args.command)
        if args.debug:
            raise
        if isinstance(exc, BipdaskError):
            print(f"bipdask {args.command}: error", file=sys.stderr)
            for line in str(exc).splitlines():  # a file name may carry bytes that are not UTF-8
                print(f"  {line.encode('utf-8', 'surrogateescape').decode('utf-8', 'replace')}", file=sys.stderr)
            return exc.exit_code
        print(f"bipdask {args.command}: internal error ({type(exc).__name__}); "
              "rerun with --debug for details", file=sys.stderr)
        return EXIT_INFRASTRUCTURE
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _terminated(command: str) -> int:
    print(f"bipdask {command}: terminated (SIGTERM)", file=sys.stderr)
    return EXIT_TERMINATED


if __name__ == "__main__":
    sys.exit(main())
