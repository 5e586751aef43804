"""The one description of the bipdask stack: image, roles, their commands and their environment.

Every way of running bipdask beyond one process starts the same roles with the same command
lines and the same environment variable names:

- ``infra/compose.yaml`` (Docker Compose, one host),
- ``infra/k8s/`` (Kubernetes: the Dask operator's ``DaskCluster`` and a Prefect worker),
- ``infra/local-stack`` (the same processes natively on loopback; what the tests run).

This module is that description in code. The local stack renders its command lines from
:data:`ROLES`; ``tests/test_infra.py`` checks that the compose and Kubernetes files use the same
image, commands and variable names, so an edit in one place that is not made in the others
fails a test. In command templates a ``{placeholder}`` token stands for one site-specific value
(a host, a port, a name); every other token must appear verbatim.

It is also a tiny CLI used by the compose stack's bucket-init service (and by the local stack)::

    python infra/stack.py create-bucket bipdask-results

No third-party import at module level: the test and the compose init import it cheaply.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

IMAGE = "bipdask:0.1.0"  # docker/Dockerfile's image; the tag is bipdask's version (pyproject)
WORK_POOL = "bipdask-process"  # a Prefect work pool of type "process" (= flows.deploy.WORK_POOL)
DEPLOYMENT = "monthly_refresh/bipdask-monthly"  # <flow name>/<deployment name> in prefect.yaml
BUCKET = "bipdask-results"  # the results bucket (prefect.yaml's output_url is s3://BUCKET/agency)
DELIVERY_MOUNT = "/data/bipdask/delivery"  # where containers see the agency's deliveries (read only)

PREFECT_API = ("PREFECT_API_URL",)
S3_ENV = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
# The agency runs offline: no usage telemetry from any process of the stack (DO_NOT_TRACK turns
# off Prefect's client-side SDK analytics; the server's own analytics have their own setting).
# The image sets both (docker/Dockerfile); compose and the local stack set them again.
OFFLINE_ENV = {"DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


@dataclass(frozen=True)
class Role:
    """One kind of process in the stack: its command template and the env names it needs."""

    command: tuple[str, ...]
    env: tuple[str, ...] = ()
    one_shot: bool = False  # runs to completion at start-up (an init job), not a service

    def render(self, **values: str) -> list[str]:
        """The command line with every ``{placeholder}`` filled from ``values``."""
        out = []
        for token in self.command:
            if is_placeholder(token):
                key = token[1:-1]
                if key not in values:
                    raise KeyError(f"no value for {token} in {' '.join(self.command)}")
                out.append(str(values[key]))
            else:
                out.append(token)
        return out

    def matches(self, argv: list[str] | tuple[str, ...]) -> bool:
        """Whether ``argv`` is this role's command: same length, every literal token equal.

        ``python``/``python3`` are the same program (the local stack runs ``sys.executable``).
        """
        argv = [str(a) for a in argv]
        if len(argv) != len(self.command):
            return False
        for want, got in zip(self.command, argv):
            if is_placeholder(want):
                if not got:
                    return False
            elif want == "python":
                if os.path.basename(got) not in ("python", "python3") and not got.startswith(sys.executable):
                    return False
            elif want != got:
                return False
        return True


def is_placeholder(token: str) -> bool:
    return len(token) > 2 and token.startswith("{") and token.endswith("}")


ROLES: dict[str, Role] = {
    # Prefect's API server; Postgres in compose/Kubernetes, SQLite in the local stack.
    "prefect-server": Role(("prefect", "server", "start", "--host", "{host}", "--port", "{port}"),
                           env=("PREFECT_API_DATABASE_CONNECTION_URL",)),
    # The results bucket, created once at start (idempotent).
    "create-bucket": Role(("python", "{stack_py}", "create-bucket", BUCKET), env=S3_ENV, one_shot=True),
    # The process work pool the deployment runs on (idempotent with --overwrite).
    "work-pool": Role(("prefect", "work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"),
                      env=PREFECT_API, one_shot=True),
    # The deployments of prefect.yaml (the monthly refresh); the entrypoint is the installed package.
    "deploy": Role(("prefect", "deploy", "--all", "--no-prompt", "--prefect-file", "{prefect_file}"),
                   env=PREFECT_API, one_shot=True),
    "dask-scheduler": Role(("dask", "scheduler", "--host", "{host}", "--port", "{port}",
                            "--dashboard-address", "{dashboard}")),
    # One single-threaded worker process per container/pod (bipdask's tasks are single-threaded
    # numpy; more processes, not threads, is what scales). Dask workers run the flow's tasks:
    # they report task state to Prefect and read/write the store, hence both sets of env.
    "dask-worker": Role(("dask", "worker", "{scheduler}", "--name", "{name}", "--nworkers", "1",
                         "--nthreads", "1", "--memory-limit", "{memory_limit}",
                         "--dashboard-address", "{dashboard}"),
                        env=(*PREFECT_API, *S3_ENV)),
    # Polls the work pool and runs each flow run as a subprocess; the flow submits its tasks
    # to the Dask scheduler at DASK_ADDRESS.
    "prefect-worker": Role(("prefect", "worker", "start", "--pool", WORK_POOL, "--type", "process",
                            "--name", "{name}", "--with-healthcheck"),
                           env=(*PREFECT_API, "DASK_ADDRESS", *S3_ENV)),
}

ENV_NAMES = tuple(sorted({name for role in ROLES.values() for name in role.env}))


# --------------------------------------------------------------------------- create-bucket


def create_bucket(bucket: str, attempts: int = 30, wait_s: float = 1.0) -> str:
    """Create ``bucket`` on the S3 endpoint of the environment (``AWS_ENDPOINT_URL`` and the
    key pair); an existing bucket is fine. Retries while the endpoint is still starting.
    Returns ``s3://bucket``."""
    from bipdask.runtime import storage

    last: Exception | None = None
    for _ in range(max(1, attempts)):
        try:
            fs, _ = storage.filesystem(f"s3://{bucket}")
            if not fs.exists(bucket):
                fs.mkdir(bucket)
            fs.invalidate_cache()
            if fs.exists(bucket):
                return f"s3://{bucket}"
        except Exception as exc:  # noqa: BLE001 - endpoint not up yet: retry, report the last
            last = exc
        time.sleep(wait_s)
    raise SystemExit(f"could not create bucket {bucket} ({type(last).__name__ if last else 'not visible'})")


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python infra/stack.py", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    make = sub.add_parser("create-bucket", help="create the results bucket on AWS_ENDPOINT_URL")
    make.add_argument("bucket")
    args = parser.parse_args(argv)
    if args.cmd == "create-bucket":
        print(create_bucket(args.bucket))
    return 0


if __name__ == "__main__":
    sys.exit(main())
