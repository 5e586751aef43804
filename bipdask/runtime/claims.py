"""One writer per run: the ``runs/<run_id>/_claim`` object a process holds while it computes a run.

Two processes asked for the same run key at once (two schedulers, a retry racing the original)
must not both commit. The first to create ``_claim`` computes; the other waits for the commit
and reports it. The holder refreshes a heartbeat in the claim; a claim without a heartbeat for
``BIPDASK_CLAIM_STALE_S`` seconds (default 900) is stale — its holder died — and is broken.
A claim records its owner (host, pid, the process's start time, the pid namespace): a claim
whose owner ran on this machine and whose process is gone (killed with SIGKILL, say) is
broken at once instead of after the stale timeout. :func:`describe_claim` says whose a live
claim is and when it goes stale. Works on a local folder (atomic create) and on S3
(conditional PUT); see :func:`claim_run`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import psutil

from bipdask.runtime.storage import (
    RunLayout,
    create_exclusive,
    read_json,
    remove,
    write_bytes,
)

DEFAULT_CLAIM_STALE_S = 900.0
START_TIME_TOLERANCE_S = 1.0  # a process's start time as two reads of /proc may round it


@dataclass(frozen=True)
class Claim:
    """This process's hold on ``runs/<run_id>/_claim``: the claim URL and its unique token."""

    url: str
    token: str


def claim_stale_after() -> float:
    """Seconds without a heartbeat after which a claim is stale (``BIPDASK_CLAIM_STALE_S``, 900)."""
    try:
        return max(1.0, float(os.environ.get("BIPDASK_CLAIM_STALE_S", DEFAULT_CLAIM_STALE_S)))
    except ValueError:
        return DEFAULT_CLAIM_STALE_S


def pid_namespace() -> str | None:
    """This machine's boot and pid namespace (``<boot id>/<namespace inode>``; None off Linux).

    Two containers can share a host name, and a pid means nothing across pid namespaces or
    reboots: a claim's pid is checked only where this matches the claim's.
    """
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as fh:
            boot = fh.read().strip()
        return f"{boot}/{os.stat('/proc/self/ns/pid').st_ino}"
    except OSError:
        return None


def _process_started_at(pid: int) -> float | None:
    try:
        return psutil.Process(pid).create_time()
    except (psutil.Error, OSError):
        return None


def _claim_body(token: str) -> bytes:
    now = time.time()
    return json.dumps({"token": token, "claimed_at": now, "heartbeat_at": now, "host": socket.gethostname(),
                       "pid": os.getpid(), "pid_started_at": _process_started_at(os.getpid()),
                       "pid_namespace": pid_namespace()}, sort_keys=True).encode("utf-8")


def owner_gone(body: dict) -> bool:
    """Whether a claim's owner process is known to be gone: it ran on this machine (same host
    name and pid namespace) and its pid is not alive, or is alive as another process (a pid
    reused since: another start time). False when it cannot be told (another machine, an old
    claim without these fields)."""
    pid = body.get("pid")
    if (not isinstance(pid, int) or body.get("host") != socket.gethostname() or body.get("pid_namespace") is None
            or body.get("pid_namespace") != pid_namespace()):
        return False
    started = _process_started_at(pid)
    if started is None:
        return True
    recorded = body.get("pid_started_at")
    return isinstance(recorded, (int, float)) and abs(started - recorded) > START_TIME_TOLERANCE_S


def is_dead(body: dict, stale_after: float, now: float | None = None) -> bool:
    """A claim that may be broken: no heartbeat for ``stale_after`` seconds, or its owner gone."""
    now = time.time() if now is None else now
    return now - float(body.get("heartbeat_at") or 0.0) > stale_after or owner_gone(body)


def describe_claim(body: dict, stale_after: float | None = None, now: float | None = None) -> str:
    """One line on a live claim: whose it is (host, pid, since when) and how long until it is
    stale if its heartbeat stops. Names a process, never any data."""
    stale_after = claim_stale_after() if stale_after is None else float(stale_after)
    now = time.time() if now is None else now
    claimed = body.get("claimed_at")
    since = (datetime.fromtimestamp(float(claimed), UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
             if isinstance(claimed, (int, float)) else "an unknown time")
    heartbeat = float(body.get("heartbeat_at") or 0.0)
    left = max(0.0, heartbeat + stale_after - now)
    return (f"held by pid {body.get('pid', '?')} on host {body.get('host', '?')} since {since}; "
            f"last heartbeat {_duration(now - heartbeat)} ago, stale in {_duration(left)} "
            f"unless it beats again (BIPDASK_CLAIM_STALE_S={stale_after:g})")


def _duration(seconds: float) -> str:
    seconds = round(max(0.0, seconds))
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def read_claim(run: RunLayout) -> dict | None:
    """The current claim's body, or None when the run is not claimed (or the claim is unreadable)."""
    try:
        body = read_json(run.claim)
    except FileNotFoundError:
        return None
    except ValueError:  # a torn or foreign object: treat as a claim with no heartbeat
        return {"token": None, "heartbeat_at": 0.0}
    return body if isinstance(body, dict) else {"token": None, "heartbeat_at": 0.0}


def claim_run(run: RunLayout, stale_after: float | None = None) -> Claim | None:
    """Claim a run for computing it: create ``runs/<run_id>/_claim`` if absent.

    Returns the :class:`Claim` when this call holds the run, ``None`` when another live
    claim does (its heartbeat is younger than ``stale_after`` seconds and its owner is not
    known to be gone). A dead claim (:func:`is_dead`: stale, or its owner process on this
    machine is gone) is broken and claimed afresh.

    Create-if-absent is atomic locally (``link`` of a written temporary file, which fails if
    the name exists) and on S3 (conditional PUT, ``If-None-Match: *``). Breakers of a stale
    claim serialize on a second exclusive object, ``_claim.break``. On an object store
    without conditional writes two processes could both believe they hold a claim; the
    commit re-checks the claim's token, which narrows (but cannot close) that window.
    """
    stale_after = claim_stale_after() if stale_after is None else float(stale_after)
    token = uuid.uuid4().hex
    for _ in range(3):
        if create_exclusive(_claim_body(token), run.claim):
            return Claim(run.claim, token)
        current = read_claim(run)
        if current is None:  # released between our create and our read: try again
            continue
        if not is_dead(current, stale_after):
            return None
        if not _break_claim(run, current.get("token"), stale_after):
            return None
    return None


def _break_claim(run: RunLayout, stale_token: str | None, stale_after: float) -> bool:
    """Remove a dead claim (still ``stale_token``, still dead); True when the caller may now try
    to create the claim.

    Breakers serialize on ``_claim.break`` (created exclusively, like the claim), so a claim
    taken afresh by another breaker is never removed by a late one.
    """
    lock = f"{run.claim}.break"
    if not create_exclusive(json.dumps({"at": time.time()}).encode("utf-8"), lock):
        try:  # a breaker that died inside this short section leaves an old lock: clear it
            if time.time() - float(read_json(lock).get("at", 0.0)) > stale_after:
                remove(lock)
        except (FileNotFoundError, ValueError, AttributeError):
            pass
        return False
    try:
        current = read_claim(run)
        if current is None:
            return True
        if current.get("token") != stale_token:
            return False
        if not is_dead(current, stale_after):
            return False  # its holder came back to life
        remove(run.claim)
        return True
    finally:
        remove(lock)


def holds_claim(claim: Claim) -> bool:
    """Whether ``claim`` is still the run's claim (not broken as stale by someone else)."""
    try:
        body = read_json(claim.url)
    except (FileNotFoundError, ValueError):
        return False
    return isinstance(body, dict) and body.get("token") == claim.token


def refresh_claim(claim: Claim) -> bool:
    """Heartbeat: rewrite the claim with the current time; False if it is no longer ours."""
    try:
        body = read_json(claim.url)
    except (FileNotFoundError, ValueError):
        return False
    if not isinstance(body, dict) or body.get("token") != claim.token:
        return False
    body["heartbeat_at"] = time.time()
    write_bytes(json.dumps(body, sort_keys=True).encode("utf-8"), claim.url)
    return True


def release_claim(claim: Claim) -> None:
    """Remove the claim if it is still ours (after the commit, or after a failed attempt)."""
    if holds_claim(claim):
        remove(claim.url)
