"""Prefect flows over :mod:`bipdask` (orchestration only: the math lives in bipdask/).

Modules: :mod:`.evaluate` (the flow, wiring only), :mod:`.tasks` (thin tasks), :mod:`.outputs`
(what the reduce tasks return), :mod:`.manifest` (the run manifest), :mod:`.run` (one run per
run key: plan, claim, execute, read back), :mod:`.cluster` (the Dask task runner),
:mod:`.version` (the code version in the run key), :mod:`.demo` (``bipdask demo``),
:mod:`.deploy` (the monthly deployment), :mod:`.credentials` (S3 credentials from a Prefect
block). See ``docs/architecture.md``.

Importing this package sets quiet defaults for Prefect and Dask *before* Prefect is imported
(Prefect reads its settings once, at import, and hands them to its temporary server and to
Dask workers): Prefect's own loggers at WARNING, distributed at ERROR. The flow-run and task-run
loggers stay at INFO: their records (stage messages, counts, timings, task states, sanitised
failure reasons; never a data value or a person id) go to the Prefect API, the run's log in the
UI, but not to the terminal (:func:`quiet_console`), where the CLI shows its own progress and a
one-line error. Telemetry is off in any case (``OFFLINE_ENV``). Values the user exported win;
``BIPDASK_DEBUG=1`` keeps Prefect's own defaults.
"""

import logging
import os

QUIET_ENV = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    # the run's log in the Prefect UI (the API handler); kept off the terminal by quiet_console
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "INFO",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "INFO",
    "DASK_LOGGING__DISTRIBUTED": "error",
}

# The agency runs offline: no usage telemetry, with or without BIPDASK_DEBUG (DO_NOT_TRACK turns
# off Prefect's client-side SDK analytics; the temporary server's analytics have their own switch).
OFFLINE_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}
for _name, _value in OFFLINE_ENV.items():
    os.environ.setdefault(_name, _value)

if not os.environ.get("BIPDASK_DEBUG"):
    for _name, _value in QUIET_ENV.items():
        os.environ.setdefault(_name, _value)

QUIET_LOGGERS = {"prefect": logging.WARNING, "distributed": logging.ERROR, "prefect_dask": logging.WARNING,
                 "httpx": logging.WARNING, "uvicorn": logging.WARNING, "asyncio": logging.WARNING}
# Failures are reported once by the CLI as a one-line error; the engines' own tracebacks only
# with --debug.
SILENT_LOGGERS = ("prefect.flow_engine", "prefect.task_engine")
# Their records go to the Prefect API (the run's log in the UI); quiet_console keeps them off the
# terminal.
RUN_LOGGERS = ("prefect.flow_runs", "prefect.task_runs")


class RunLogsOffConsole(logging.Filter):
    """Drops the run loggers' records: set on Prefect's console handler, so the run's log goes to
    the Prefect API only."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith(RUN_LOGGERS)


def quiet_console(quiet: bool = True) -> None:
    """Keep (``quiet``) or let the flow-run and task-run records off Prefect's console handler in
    this process. Called by :func:`configure_logging` and when :mod:`flows.tasks` is imported
    (on the Dask workers, whose terminal is the caller's), after Prefect set up its logging."""
    try:
        from prefect.logging.handlers import PrefectConsoleHandler
    except ImportError:  # pragma: no cover - Prefect is a dependency
        return
    for handler in logging.getLogger().handlers:
        if not isinstance(handler, PrefectConsoleHandler):
            continue
        ours = [f for f in handler.filters if isinstance(f, RunLogsOffConsole)]
        if quiet and not ours:
            handler.addFilter(RunLogsOffConsole())
        for f in ours if not quiet else ():
            handler.removeFilter(f)


def configure_logging(debug: bool = False) -> None:
    """Prefect at WARNING, distributed at ERROR on the terminal of this process unless ``debug``;
    the flow-run and task-run loggers at INFO, to the Prefect API only (:func:`quiet_console`).

    The environment defaults for the temporary server and the Dask workers are set when this
    package is imported (see above). The levels stay for the rest of the process, since Prefect
    logs the temporary server's shutdown at exit.
    """
    if debug:
        for name in ("prefect", *SILENT_LOGGERS, *RUN_LOGGERS):
            logging.getLogger(name).setLevel(logging.DEBUG)
        quiet_console(False)
    else:
        for k, v in QUIET_ENV.items():
            os.environ.setdefault(k, v)
        for name, level in [*QUIET_LOGGERS.items(), *((n, logging.CRITICAL + 1) for n in SILENT_LOGGERS),
                            *((n, logging.INFO) for n in RUN_LOGGERS)]:
            logging.getLogger(name).setLevel(level)
        quiet_console(True)
