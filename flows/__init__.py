"""Prefect flows over :mod:`bipdask` (orchestration only: the math lives in bipdask/).

Modules: :mod:`.evaluate` (the flow, wiring only), :mod:`.tasks` (thin tasks), :mod:`.outputs`
(what the reduce tasks return), :mod:`.manifest` (the run manifest), :mod:`.run` (one run per
run key: plan, claim, execute, read back), :mod:`.cluster` (the Dask task runner),
:mod:`.version` (the code version in the run key), :mod:`.demo` (``bipdask demo``),
:mod:`.deploy` (the monthly deployment), :mod:`.credentials` (S3 credentials from a Prefect
block). See ``docs/architecture.md``.

Importing this package sets quiet defaults for Prefect and Dask *before* Prefect is imported
(Prefect reads its settings once, at import, and hands them to its temporary server and to
Dask workers): Prefect logs at WARNING, task/flow failure tracebacks are left to the CLI's
one-line error, distributed logs at ERROR. Telemetry is off in any case (``OFFLINE_ENV``). Values
the user exported win; ``BIPDASK_DEBUG=1`` keeps Prefect's own defaults.
"""

import logging
import os

QUIET_ENV = {
    "PREFECT_LOGGING_LEVEL": "WARNING",
    "PREFECT_SERVER_LOGGING_LEVEL": "WARNING",
    "PREFECT_LOGGING_LOGGERS_PREFECT_TASK_RUNS_LEVEL": "CRITICAL",
    "PREFECT_LOGGING_LOGGERS_PREFECT_FLOW_RUNS_LEVEL": "CRITICAL",
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
SILENT_LOGGERS = ("prefect.flow_runs", "prefect.task_runs", "prefect.flow_engine", "prefect.task_engine")


def configure_logging(debug: bool = False) -> None:
    """Prefect at WARNING, distributed at ERROR in this process unless ``debug``.

    The environment defaults for the temporary server and the Dask workers are set when this
    package is imported (see above). The levels stay for the rest of the process, since Prefect
    logs the temporary server's shutdown at exit.
    """
    if debug:
        for name in ("prefect", *SILENT_LOGGERS):
            logging.getLogger(name).setLevel(logging.DEBUG)
    else:
        for k, v in QUIET_ENV.items():
            os.environ.setdefault(k, v)
        for name, level in [*QUIET_LOGGERS.items(), *((n, logging.CRITICAL + 1) for n in SILENT_LOGGERS)]:
            logging.getLogger(name).setLevel(level)
