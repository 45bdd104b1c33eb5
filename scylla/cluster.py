"""The Dask cluster a doit sends its heavy work to (`doit executor=dask://HOST:PORT`, or the spec's
`executor:`), and what the cluster keeps for an experiment while it runs.

The scheduler holds that state as its metadata, under ["scylla", NAMESPACE, ...] (one namespace per
experiment tree): `tasks` (what each task sent is doing: sent, waiting for a slot, paused, running on
a worker; for the progress and `doit status`), `done`
(the captured outputs of a finished call until its seal is written: a retried task returns them rather
than call again), `pause` (the rate-limit pause every worker waits out) and `bundles` (the fixture
repository at its pinned commit, fetched once by each worker). Nothing of it is needed after a doit:
the tree holds every result.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

SCHEME = "dask://"
LOCAL = ("", "local")
CONNECT_SECONDS = 20

_clients: dict[tuple[int, str], Any] = {}
_lock = threading.Lock()


class ExecutorError(ValueError):
    """An executor setting that names no cluster Scylla can use."""


def address(setting: str | None) -> str | None:
    """The scheduler address of an executor setting (`dask://host:port`, `tcp://host:port`); None for the
    local executor (`local`, or nothing set)."""
    value = (setting or "").strip()
    if value.lower() in LOCAL:
        return None
    if value.startswith(SCHEME):
        value = "tcp://" + value[len(SCHEME):]
    host, _, port = value.removeprefix("tcp://").rpartition(":")
    if not value.startswith(("tcp://", "tls://")) or not host or not port.isdigit():
        raise ExecutorError(f"executor={setting!r}: expected `local` or `dask://HOST:PORT` (the address of a "
                            f"running `dask scheduler`, e.g. dask://127.0.0.1:8786)")
    return value


def client(scheduler: str, timeout: float = CONNECT_SECONDS):
    """This process's connection to the scheduler (one, shared by doit's worker threads; a forked worker
    process makes its own: a connection does not survive a fork)."""
    from distributed import Client
    with _lock:
        found = _clients.get((os.getpid(), scheduler))
        if found is None or found.status in ("closed", "closing"):
            try:
                found = Client(scheduler, timeout=timeout, set_as_default=False)
            except OSError as exc:
                raise ExecutorError(f"executor {scheduler}: no Dask scheduler answers there ({exc}); start one "
                                    f"(`dask scheduler`) and its workers, or run with executor=local") from None
            _clients[(os.getpid(), scheduler)] = found
        return found


def close_all() -> None:
    """Close this process's connections: the scheduler then cancels every task only this doit wanted."""
    with _lock:
        for (pid, _), found in _clients.items():
            if pid != os.getpid():
                continue
            with contextlib.suppress(Exception):     # (closing on the way out: nothing left to tell)
                found.close(timeout=5)
        _clients.clear()


def namespace(root: Path) -> str:
    """The cluster state of the experiment tree at `root` (absolute): one per tree."""
    return f"{root.name}-{hashlib.sha256(str(root).encode()).hexdigest()[:12]}"


def key(ns: str, *parts: str) -> list[str]:
    return ["scylla", ns, *parts]


def get(found, ns: str, *parts: str) -> Any:
    """A value of the experiment's cluster state, None when there is none (a cleared one is None too)."""
    return found.get_metadata(key(ns, *parts), None)


def put(found, ns: str, *parts_and_value: Any) -> None:
    *parts, value = parts_and_value
    found.set_metadata(key(ns, *parts), value)


def describe(scheduler: str, root: Path) -> dict:
    """The cluster as `doit status` shows it: its workers and the experiment's tasks there now ({task,
    state, worker, seconds in that state}, by task name); `error` when no scheduler answers."""
    try:
        found = client(scheduler, timeout=5)
        workers = found.scheduler_info(n_workers=-1)["workers"]
        records = get(found, namespace(root), "tasks") or {}
    except (ExecutorError, OSError) as exc:
        return {"scheduler": scheduler, "error": str(exc)}
    now = time.time()
    tasks = [{"task": r["task"], "state": r["state"], "worker": r["worker"], "seconds": round(now - r["since"], 1)}
             for r in records.values() if r]
    return {"scheduler": scheduler, "workers": len(workers),
            "threads": sum(w.get("nthreads", 0) for w in workers.values()),
            "tasks": sorted(tasks, key=lambda r: r["task"])}


def render(state: dict) -> list[str]:
    if "error" in state:
        return [f"Cluster {state['scheduler']}: ✗ {state['error']}", ""]
    running = sum(r["state"] == "running" for r in state["tasks"])
    workers = f"{state['workers']} worker{'s' * (state['workers'] != 1)}"
    lines = [(f"Cluster {state['scheduler']}: {workers}, {state['threads']} threads; this experiment's tasks "
              f"there: {running} running, {len(state['tasks']) - running} sent or waiting")]
    for r in state["tasks"]:
        mark, where = ("⟳", f" on {r['worker']}") if r["state"] == "running" else ("…", f" ({r['worker']})" if r["worker"] else "")
        lines.append(f"  {mark} {r['task']}{where}: {r['state']} for {r['seconds']:.0f} s")
    return [*lines, ""]
