"""Heavy work (agent runs, pipelines, judge calls) done on a Dask cluster while doit plans and writes locally.

The local side (`Shipment`, called by actions.sealed in place of the work itself) sends a worker the work
(the action's own function, pickled), the files it reads (the task's inputs and its subtest's
configuration) and, once per worker, the fixture repository at its pinned commit as a git bundle. The
worker (`on_worker`) runs it in a scratch directory of its own, in a child process (`python -m
scylla.remote`: its own working directory, and killed with whatever started it), and returns the captured
outputs; the local side writes them into the tree atomically, and actions.sealed seals them last. A worker
never writes into the tree: a tree on one machine needs no shared file system.

Never paying twice: a worker keeps a finished call's captures on the scheduler (cluster.py, `done`) under
an idempotency key (the task, its configuration and its inputs' digests) until the local side has sealed
them, so a task Dask runs again (its worker died before the result reached doit), or the next doit's
resubmission of it, returns them without calling again. Across the cluster, at most `limits.agents` agents
and `limits.judges` paid judges run at once (Dask semaphores), and a rate limit met on any worker pauses
every worker's next call (the cluster's `pause`). A cancelled or killed doit releases its tasks: the
scheduler cancels them and each worker kills its child, whose reaper kills the agent it started.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import cluster, context, durable, reaper, safepath, throttle, workspace
from .errors import InfraFailure, RateLimited, UnsafePath, WorkspaceError

POLL_SECONDS = 0.2
RESUBMITS = 2               # a task whose workers all died (Dask's KilledWorker) is sent again, this often
_in_flight: set = set()     # this doit's futures, cancelled when it is interrupted
_cancelled = threading.Event()
_bundled: set[tuple[str, str, str]] = set()
_bundle_lock = threading.Lock()


@dataclass(frozen=True)
class Shipping:
    """What a sealed task's work needs on a worker beyond its inputs: more files or directories of the
    tree (`files`), for a paid call its concurrency class and limit (`slot`; None: no paid call, which
    waits for no pause), the fixture repository (`repo`: returns the local cache and the commit), and the
    pause after a rate limit with no reset time."""
    files: tuple[str, ...] = ()
    slot: tuple[str, int | None] | None = None
    repo: Callable[[], tuple[Path, str]] | None = None
    backoff_seconds: float = 60.0


def enabled() -> bool:
    return context.CURRENT.executor is not None


# ---------------------------------------------------------------- the local side

class Shipment:
    """The stand-in for a sealed task's work: each call sends it to the cluster and writes what comes back."""

    def __init__(self, task: str, work: Callable[[Path], None], inputs: list[str], extra_outputs: tuple[str, ...],
                 config: str, shipping: Shipping, keys: Iterable[str] = ()):
        self.task, self.work, self.extra_outputs, self.shipping = task, work, extra_outputs, shipping
        self.env = _settings(keys)
        self.files = _tree_files([*inputs, *shipping.files])
        digests = sorted((p, hashlib.sha256(d).hexdigest()) for p, d in self.files.items())
        self.key = hashlib.sha256(repr((task, config, digests)).encode()).hexdigest()[:32]
        scheduler = context.CURRENT.executor
        assert scheduler is not None        # (made only when this doit has a cluster: enabled())
        self.scheduler: str = scheduler
        self.ns = cluster.namespace(context.CURRENT.root or Path.cwd())

    def __call__(self, out: Path) -> None:
        found = cluster.client(self.scheduler)
        commit = self._send_repository(found) if self.shipping.repo else None
        job = {"work": self.work, "out": str(out), "extra_outputs": self.extra_outputs, "files": self.files,
               "runs_dir": context.CURRENT.runs_dir, "started": context.CURRENT.started, "env": self.env}
        import cloudpickle
        payload = cloudpickle.dumps(job)
        result = self._result(found, payload, commit)
        _write_outputs(result["files"], out, self.extra_outputs)
        _raise(result["outcome"], self.task, result.get("worker"))

    def release(self) -> None:
        """Its seal is written: the cluster need not keep its captures any longer."""
        with contextlib.suppress(Exception):
            cluster.put(cluster.client(self.scheduler), self.ns, "done", self.key, None)

    def _result(self, found, payload: bytes, commit: str | None) -> dict:
        from distributed import KilledWorker
        for attempt in range(RESUBMITS + 1):
            _show(found, self.ns, self.key, self.task, "sent", None)
            future = found.submit(on_worker, payload, self.key, self.ns, self.task, commit, self.shipping.slot,
                                  self.shipping.backoff_seconds, key=f"{self.task}#{self.key[:8]}-{time.time_ns()}",
                                  pure=False)
            _in_flight.add(future)
            try:
                return self._wait(future)
            except KilledWorker as exc:
                if attempt == RESUBMITS:
                    raise InfraFailure(f"{self.task}: the Dask workers running it died {RESUBMITS + 1} times ({exc})")
                print(f"scylla: {self.task}: its worker died; sent again (no seal: nothing of it was finished)",
                      file=sys.stderr, flush=True)
            finally:
                # released now, not when the collector gets to it: a key still wanted is computed again when
                # its worker dies (here: a finished call made again, its captures already taken)
                _in_flight.discard(future)
                future.release()
                with contextlib.suppress(Exception):
                    cluster.put(found, self.ns, "tasks", self.key, None)
        raise AssertionError("unreachable")

    def _wait(self, future) -> dict:
        from distributed.client import FutureCancelledError
        shown = None
        while True:
            if _cancelled.is_set():
                future.cancel()
                raise InfraFailure(f"{self.task}: cancelled with its doit")
            try:
                return future.result(timeout=1.0)
            except TimeoutError:
                pass
            except FutureCancelledError:
                raise InfraFailure(f"{self.task}: its Dask task was cancelled") from None
            record = cluster.get(cluster.client(self.scheduler), self.ns, "tasks", self.key)
            if record and record["state"] == "running" and record["worker"] != shown:
                shown = record["worker"]
                print(f"scylla: {self.task} runs on worker {shown}", file=sys.stderr, flush=True)

    def _send_repository(self, found) -> str:
        """The fixture repository at its pinned commit, as a git bundle on the scheduler (once per doit)."""
        assert self.shipping.repo is not None
        cache, commit = self.shipping.repo()
        with _bundle_lock:
            if (self.scheduler, self.ns, commit) not in _bundled:
                if cluster.get(found, self.ns, "bundles", commit) is None:
                    cluster.put(found, self.ns, "bundles", commit, _bundle(cache, commit))
                _bundled.add((self.scheduler, self.ns, commit))
        return commit


def cancel_all() -> None:
    """An interrupted doit: its waiting tasks stop, its cluster tasks are cancelled (their workers kill
    what they started), and its connection closes."""
    _cancelled.set()
    for future in list(_in_flight):
        with contextlib.suppress(Exception):
            future.cancel()
    cluster.close_all()


def publish_pause(until: float, reason: str) -> None:
    """A rate limit this doit met: every worker's next call waits until `until` (an existing longer pause wins)."""
    if (scheduler := context.CURRENT.executor) is None:
        return
    found = cluster.client(scheduler)
    _pause(found, cluster.namespace(context.CURRENT.root or Path.cwd()), until, reason)


def _pause(found, ns: str, until: float, reason: str) -> None:
    current = cluster.get(found, ns, "pause")
    if current and current["until"] >= until:
        return
    cluster.put(found, ns, "pause", {"until": until, "reason": reason,
                                     "until_utc": datetime.fromtimestamp(until, UTC).isoformat(timespec="seconds")})


def _settings(keys: Iterable[str]) -> dict[str, str]:
    """This doit's own SCYLLA_* settings, which its work obeys on a worker too. Never a key: a worker's
    adapters read their keys from the worker's own environment."""
    own = {reaper.TOKEN_VAR, reaper.COMMAND_VAR, *keys}
    return {k: v for k, v in os.environ.items() if k.startswith("SCYLLA_") and k not in own}


def _tree_files(paths: list[str]) -> dict[str, bytes]:
    """The files at `paths` (relative to the experiment root; a directory: every file below it)."""
    files: dict[str, bytes] = {}
    for path in dict.fromkeys(paths):
        if os.path.isdir(path):
            for below in sorted(Path(path).rglob("*")):
                if below.is_file() and not below.is_symlink():
                    files[below.as_posix()] = below.read_bytes()
        elif os.path.isfile(path):
            files[path] = Path(path).read_bytes()
    return files


def _write_outputs(files: dict[str, bytes], out: Path, extra_outputs: tuple[str, ...]) -> None:
    """Write a worker's captures into the tree: only inside the task's output directory or at its extra
    outputs, never through a link."""
    allowed = os.path.normpath(out)
    for rel, data in sorted(files.items()):
        path = os.path.normpath(rel)
        if not (path.startswith(allowed + os.sep) or path in map(os.path.normpath, extra_outputs)):
            raise UnsafePath(f"{rel}: a worker returned a file outside the task's outputs ({out}); nothing of it "
                             f"is written")
        safepath.check(path)
        durable.write_bytes(path, data)


def _raise(outcome: dict, task: str, worker: str | None) -> None:
    """The work's failure on the worker, raised here as actions.sealed handles it when it runs locally."""
    kind, message = outcome["kind"], outcome.get("message", "")
    if kind == "ok":
        return
    if kind == "rate_limited":
        raise RateLimited(message, outcome.get("retry_after"))
    if kind == "unsafe":
        raise UnsafePath(message)
    if kind == "workspace":
        raise WorkspaceError(message)
    if kind == "infra":
        raise InfraFailure(message)
    if kind == "os":
        raise OSError(outcome.get("errno") or 0, message)
    raise RuntimeError(f"{task} failed on worker {worker}:\n{message}")


def _bundle(cache: Path, commit: str) -> bytes:
    ref = "refs/scylla/pinned"
    workspace.git(f"--git-dir={cache}", "update-ref", ref, commit)
    with tempfile.TemporaryDirectory(prefix="scylla-bundle-") as tmp:
        workspace.git(f"--git-dir={cache}", "bundle", "create", "-q", f"{tmp}/repo.bundle", ref)
        return Path(tmp, "repo.bundle").read_bytes()


# ---------------------------------------------------------------- on a worker

def on_worker(payload: bytes, idem: str, ns: str, task: str, commit: str | None,
              slot: tuple[str, int | None] | None, backoff: float) -> dict:
    """The Dask task: the captures of a finished call if the cluster holds them, else the work run in a child
    process in a scratch directory, within its concurrency class and after any pause."""
    from distributed import get_client, get_worker
    found, worker = get_client(), get_worker()
    done = cluster.get(found, ns, "done", idem)
    if done is not None:
        return done
    mirror = _mirror(found, ns, commit, Path(worker.local_directory)) if commit else None
    if slot and slot[1]:
        _show(found, ns, idem, task, f"waiting for one of {slot[1]} {slot[0]} slots", worker.address)
    try:
        with _slot(found, ns, slot, worker):
            if slot is not None:        # a paid call (a pipeline calls no one: it need not wait)
                _wait_pause(found, ns, idem, task, worker)
            _show(found, ns, idem, task, "running", worker.address)
            result = {**_run_child(payload, mirror, worker), "worker": worker.address}
    finally:
        cluster.put(found, ns, "tasks", idem, None)       # (the doit's may be gone: never left "running")
    if result["outcome"]["kind"] == "ok":
        cluster.put(found, ns, "done", idem, result)      # until sealed (Shipment.release)
    elif result["outcome"]["kind"] == "rate_limited":
        _pause(found, ns, time.time() + (result["outcome"].get("retry_after") or backoff),
               f"{task} on {worker.address}: {result['outcome']['message']}")
    return result


def _cancelled_here(worker) -> bool:
    state = worker.state.tasks.get(worker.get_current_task())
    return state is None or state.state in ("cancelled", "released", "forgotten")


@contextlib.contextmanager
def _slot(found, ns: str, slot: tuple[str, int | None] | None, worker):
    if not slot or not slot[1]:
        yield
        return
    from distributed import Semaphore
    kind, limit = slot
    semaphore = Semaphore(max_leases=limit, name=f"scylla-{ns}-{kind}")
    while not semaphore.acquire(timeout=1.0):
        if _cancelled_here(worker):
            raise InfraFailure("cancelled while waiting for a slot")
    try:
        yield
    finally:
        semaphore.release()


def _show(found, ns: str, idem: str, task: str, state: str, worker: str | None) -> None:
    """What a sent task is doing now, for the progress and `doit status` (cluster.describe)."""
    cluster.put(found, ns, "tasks", idem, {"task": task, "state": state, "worker": worker, "since": time.time()})


def _wait_pause(found, ns: str, idem: str, task: str, worker) -> None:
    while (record := cluster.get(found, ns, "pause")) and (left := record["until"] - time.time()) > 0:
        _show(found, ns, idem, task, f"paused until {record['until_utc']}", worker.address)
        print(f"scylla: {task} waits {left:.0f} s on {worker.address}: all paid calls paused until "
              f"{record['until_utc']} ({record['reason']})", file=sys.stderr, flush=True)
        end = time.time() + min(left, throttle.COUNTDOWN_EVERY)
        while time.time() < end:
            if _cancelled_here(worker):
                raise InfraFailure("cancelled while paused")
            time.sleep(POLL_SECONDS)


_mirror_lock = threading.Lock()


def _mirror(found, ns: str, commit: str, local_directory: Path) -> Path:
    """This worker's bare repository holding `commit`, filled once from the bundle the doit sent."""
    mirror = local_directory / "scylla-repos" / f"{commit}.git"
    mirror.parent.mkdir(parents=True, exist_ok=True)
    with _mirror_lock, durable.file_lock(f"{mirror}.lock"):
        if not workspace.has_commit(mirror, commit):
            data = cluster.get(found, ns, "bundles", commit)
            if data is None:
                raise InfraFailure(f"the repository at {commit} was not sent to the cluster")
            if not mirror.exists():
                workspace.git("init", "--bare", "-q", str(mirror))
            with tempfile.NamedTemporaryFile(suffix=".bundle") as bundle:
                bundle.write(data)
                bundle.flush()
                workspace.git(f"--git-dir={mirror}", "fetch", "-q", bundle.name, "+refs/scylla/*:refs/scylla/*")
    return mirror


def _run_child(payload: bytes, mirror: Path | None, worker) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="scylla-task-", dir=worker.local_directory))
    try:
        durable.write_bytes(scratch / "job.pkl", payload)
        with open(scratch / "child.log", "wb") as log:
            child = subprocess.Popen([sys.executable, "-m", "scylla.remote", str(scratch), str(mirror or ""),
                                      str(os.getpid())], cwd=scratch, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        while child.poll() is None:
            if _cancelled_here(worker):
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, signal.SIGKILL)        # its reaper then kills what it started
                child.wait()
                return {"outcome": {"kind": "infra", "message": "cancelled with its doit"}, "files": {}}
            time.sleep(POLL_SECONDS)
        try:
            return pickle.loads((scratch / "result.pkl").read_bytes())
        except (OSError, pickle.UnpicklingError, EOFError):
            said = (scratch / "child.log").read_text(errors="replace")[-2000:]
            return {"outcome": {"kind": "infra", "message": f"the worker's child process ended with status "
                                f"{child.returncode} before returning the captures: {said}"}, "files": {}}
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# ---------------------------------------------------------------- the child process

def _root(scratch: Path, runs_dir: str) -> Path:
    """The experiment root inside the scratch directory, deep enough for run directories above it (`..`)."""
    depth = context.RunContext(runs_dir=runs_dir).runs_depth
    return scratch.joinpath("tree", *["up"] * depth)


def child_main(scratch: Path, mirror: str, worker_pid: int) -> int:
    reaper.die_with(worker_pid)         # the kernel kills it when its worker dies (its reaper then the agent)
    import cloudpickle  # noqa: F401 (the job's functions were pickled by value with it)
    job = pickle.loads((scratch / "job.pkl").read_bytes())
    root = _root(scratch, job["runs_dir"])
    for rel, data in job["files"].items():
        target = Path(os.path.normpath(root / rel))
        if scratch not in target.parents:
            raise UnsafePath(f"{rel}: outside the task's scratch directory")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    root.mkdir(parents=True, exist_ok=True)
    os.chdir(root)
    os.environ.update(job["env"])
    context.install(context.RunContext(command="remote", root=root, runs_dir=job["runs_dir"],
                                       started=job["started"], repo_mirror=Path(mirror) if mirror else None))
    reaper.start()
    out = Path(job["out"])
    out.mkdir(parents=True, exist_ok=True)
    outcome = _outcome(job["work"], out)
    files = _tree_files([str(out), *job["extra_outputs"]])
    durable.write_bytes(scratch / "result.pkl", pickle.dumps({"outcome": outcome, "files": files}))
    return 0


def _outcome(work: Callable[[Path], None], out: Path) -> dict[str, Any]:
    try:
        work(out)
        return {"kind": "ok"}
    except RateLimited as exc:
        return {"kind": "rate_limited", "message": str(exc), "retry_after": exc.retry_after}
    except UnsafePath as exc:
        return {"kind": "unsafe", "message": str(exc)}
    except WorkspaceError as exc:
        return {"kind": "workspace", "message": str(exc)}
    except InfraFailure as exc:
        return {"kind": "infra", "message": str(exc)}
    except OSError as exc:
        return {"kind": "os", "message": str(exc), "errno": exc.errno}
    except Exception:  # noqa: BLE001 (a bug: reported with its traceback, as a local run would)
        return {"kind": "error", "message": traceback.format_exc()}


if __name__ == "__main__":
    sys.exit(child_main(Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])))
