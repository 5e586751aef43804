"""One writer per run: the ``runs/<run_id>/_claim`` object a process holds while it computes a run.

Two processes asked for the same run key at once (two schedulers, a retry racing the original)
must not both commit. The first to create ``_claim`` computes; the other waits for the commit
and reports it. The holder refreshes a heartbeat in the claim; a claim without a heartbeat for
``BIPDASK_CLAIM_STALE_S`` seconds (default 900) is stale — its holder died — and is broken.
Works on a local folder (atomic create) and on S3 (conditional PUT); see :func:`claim_run`.
"""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from dataclasses import dataclass

from bipdask.runtime.storage import (
    RunLayout,
    create_exclusive,
    read_json,
    remove,
    write_bytes,
)

DEFAULT_CLAIM_STALE_S = 900.0



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


def _claim_body(token: str) -> bytes:
    now = time.time()
    return json.dumps({"token": token, "claimed_at": now, "heartbeat_at": now, "host": socket.gethostname(),
                       "pid": os.getpid()}, sort_keys=True).encode("utf-8")


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
    claim does (its heartbeat is younger than ``stale_after`` seconds). A stale claim (its
    holder died without releasing it) is broken and claimed afresh.

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
        if time.time() - float(current.get("heartbeat_at") or 0.0) <= stale_after:
            return None
        if not _break_claim(run, current.get("token"), stale_after):
            return None
    return None


def _break_claim(run: RunLayout, stale_token: str | None, stale_after: float) -> bool:
    """Remove a stale claim (still ``stale_token``, still without a heartbeat); True when the
    caller may now try to create the claim.

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
        if time.time() - float(current.get("heartbeat_at") or 0.0) <= stale_after:
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
