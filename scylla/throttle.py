"""Per-class concurrency and the shared rate-limit pause, across every doit worker.

doit has one global `-n`; a researcher also needs "at most 4 agents and 8 judge calls at once". Slots
are `flock`ed files under `.scylla/locks/`, so the limit holds across worker processes and threads.
A detected rate limit writes one pause record (`.scylla/pause.json`); every agent and judge call
waits for it to pass before it starts, with a visible countdown.
"""

from __future__ import annotations

import contextlib
import fcntl
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from . import durable, tree
from .errors import RateLimited  # noqa: F401 (throttle.RateLimited, where callers meet it)

PAUSE = f"{tree.STATE_DIR}/pause.json"
COUNTDOWN_EVERY = 10.0


@contextlib.contextmanager
def slot(kind: str, limit: int | None, poll: float = 0.2):
    """Hold one of `limit` slots of `kind` (no limit: nothing to hold)."""
    if not limit:
        yield
        return
    Path(tree.LOCKS_DIR).mkdir(parents=True, exist_ok=True)
    while True:
        for i in range(limit):
            fh = open(Path(tree.LOCKS_DIR) / f"{kind}-slot-{i}.lock", "a")  # noqa: SIM115 (held while the call runs)
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                fh.close()
                continue
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
                fh.close()
            return
        time.sleep(poll)


def pause(seconds: float, reason: str) -> float:
    """Pause every worker for `seconds` from now (an existing longer pause wins); returns the end."""
    until = time.time() + max(0.0, seconds)
    with durable.file_lock(Path(tree.LOCKS_DIR) / "pause.lock"):
        current = _read_pause()
        if current and current["until"] >= until:
            return current["until"]
        durable.write_json(PAUSE, {"until": until, "reason": reason,
                                   "until_utc": datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")})
    return until


def _read_pause() -> dict | None:
    try:
        record = durable.read_json_object(PAUSE)
    except durable.ArtifactError:
        return None
    return record if isinstance(record.get("until"), (int, float)) else None


def wait_if_paused(who: str) -> float:
    """Block while a pause is in force, printing a countdown to stderr; returns seconds waited."""
    waited = 0.0
    while (record := _read_pause()) and (left := record["until"] - time.time()) > 0:
        print(f"scylla: {who} waits {left:.0f} s: all paid calls paused until {record['until_utc']} "
              f"({record['reason']})", file=sys.stderr, flush=True)
        step = min(left, COUNTDOWN_EVERY)
        time.sleep(step)
        waited += step
    return waited
