"""Atomic writes, JSON I/O, input fingerprints and sealed records: the never-pay-twice rules.

An expensive task (agent, judge, pipeline, baseline) ends by writing a *seal* beside its outputs: the
task name, the digest of the configuration it ran with, and the md5 of every input file. The seal is
written last, by rename, so it exists only when every output is complete. Up-to-date checks of
expensive tasks read the seal (not doit's DB), so a finished task stays finished after SIGKILL, a
lost DB, or a copy of the tree to another path.
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import fcntl
import functools
import hashlib
import math
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from stat import S_ISREG
from typing import Any

import orjson

from . import context, safepath
from .errors import ArtifactError, DiskFull, InfraFailure  # noqa: F401 (durable.ArtifactError, ... for callers)

SEAL_NAME = ".seal.json"
INPUT_MISSING = "input missing:"
INPUT_CHANGED = "input changed:"
_UMASK = os.umask(0o022)
os.umask(_UMASK)


def disk_full(path: str | os.PathLike, needed: int | None = None) -> DiskFull:
    return DiskFull(errno.ENOSPC, space_message(path, needed))


NO_SPACE = (errno.ENOSPC, errno.EDQUOT)


def out_of_space(exc: BaseException) -> bool:
    return isinstance(exc, OSError) and exc.errno in NO_SPACE


def _size(n: int) -> str:
    return f"{n} bytes" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1 << 20 else f"{n / (1 << 20):.1f} MiB" \
        if n < 1 << 30 else f"{n / (1 << 30):.1f} GiB"


def space_message(path: str | os.PathLike, needed: int | None = None, at_least: bool = False) -> str:
    """One line for a write that found no space: the file, what it needed, what is left there."""
    where = os.path.abspath(path)
    while not os.path.isdir(where) and os.path.dirname(where) != where:
        where = os.path.dirname(where)
    try:
        usage = shutil.disk_usage(where)
        left = f"{_size(usage.free)} free of {_size(usage.total)} on its file system"
    except OSError:
        left = "free space unknown"
    need = f"needed {'at least ' * at_least}{_size(needed)}; " if needed is not None else ""
    return (f"{os.path.abspath(path)}: No space left on device ({need}{left}); free some space and run `doit` "
            f"again (every file is written whole or not at all, and finished work is kept)")


def space_failure(exc: OSError) -> str:
    """The message of an out-of-space error, whoever raised it."""
    return str(exc) if isinstance(exc, DiskFull) else space_message(exc.filename or os.getcwd())


def unwritable_message(path: str | os.PathLike, exc: OSError) -> str:
    """A tree `doit` cannot write to (a read-only mount, permissions)."""
    what = "read-only" if exc.errno == errno.EROFS else "not writable"
    return (f"{path}: the experiment tree is {what} ({exc.strerror}); `doit` records its work there: make it "
            f"writable, or run on a writable copy (`doit status` and `doit list` read it as it is)")


SEAL_RESERVE = 1 << 20       # bytes held, while paid work runs, for the seal written after it


@contextlib.contextmanager
def space_reserved(path: str | os.PathLike, size: int = SEAL_RESERVE):
    """Hold `size` bytes at `path` (allocated, not sparse) until the block ends, then free them. A paid
    task holds them while it calls, so that the disk filling meanwhile cannot keep its seal from being
    written afterwards (an unsealed finished call would be paid for again). No space for them: DiskFull
    before any call."""
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        try:
            os.posix_fallocate(fd, 0, size)
        except OSError as exc:
            if out_of_space(exc):
                raise disk_full(path, size) from None
            raise
        yield
    finally:
        os.close(fd)
        with _suppress():
            os.unlink(path)


# ---------------------------------------------------------------- atomic writes

# fsync makes a write survive a power loss. Paid outputs and seals need that; derived files do not
# (doit rebuilds them from their inputs), and 1,000 fsyncs cost ~1 s. Cheap tasks run inside
# `rebuildable()`; a context variable keeps that per thread in doit's thread mode.
_FSYNC = contextvars.ContextVar("scylla_fsync", default=True)


@contextlib.contextmanager
def rebuildable():
    token = _FSYNC.set(False)
    try:
        yield
    finally:
        _FSYNC.reset(token)


def sync(fh) -> None:
    """fsync an open file (unless inside `rebuildable()`): what a seal vouches for is on disk first."""
    if _FSYNC.get():
        os.fsync(fh.fileno())


def write_bytes(path: str | os.PathLike, data: bytes) -> bool:
    """Write `data` to `path` atomically (temp file + rename). Returns False if the file already
    held exactly these bytes (then it is left untouched so its mtime stays put).

    A symbolic link at `path` is replaced by the file, never written through (lstat, and rename replaces
    a link itself). The directories above are not checked per write (safepath.check costs ~5 % of a
    write, and a run makes thousands): agents, sandboxed, cannot plant links in the results tree, and the
    sites that delete or move (where a link would do the most harm) check their whole path."""
    path = Path(path)
    try:
        st = os.lstat(path)
        if S_ISREG(st.st_mode) and st.st_size == len(data) and path.read_bytes() == data:
            return False
    except OSError:
        pass
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        if out_of_space(exc):
            raise disk_full(path, len(data)) from None
        raise
    try:
        os.fchmod(fd, 0o666 & ~_UMASK)      # mkstemp makes 0600; artifacts are ordinary files
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            sync(fh)
        os.replace(tmp, path)
    except BaseException as exc:
        with _suppress():
            os.unlink(tmp)
        if out_of_space(exc) and not isinstance(exc, DiskFull):
            raise disk_full(path, len(data)) from None
        raise
    return True


def write_text(path: str | os.PathLike, text: str) -> bool:
    return write_bytes(path, text.encode("utf-8"))


def _clean(value: Any) -> Any:
    """Replace NaN/Infinity by None, recursively: JSON never carries them."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


def dumps(obj: Any) -> bytes:
    """Deterministic JSON: sorted keys, indent 2, trailing newline, no NaN. orjson itself writes
    NaN/Infinity as null and non-string keys as strings: the bytes equal those of `_clean(obj)`."""
    return orjson.dumps(obj, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS) + b"\n"


def write_json(path: str | os.PathLike, obj: Any) -> bool:
    return write_bytes(path, dumps(obj))


def read_json(path: str | os.PathLike) -> Any:
    """Read a JSON artifact; errors name the file and what is wrong with it."""
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        raise ArtifactError(f"{path}: file is missing") from None
    except OSError as exc:
        raise ArtifactError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise ArtifactError(f"{path}: corrupt JSON ({exc}); the file was left as it is") from None


def read_json_object(path: str | os.PathLike) -> dict:
    value = read_json(path)
    if not isinstance(value, dict):
        raise ArtifactError(f"{path}: expected a JSON object, got {type(value).__name__}")
    return value


# ---------------------------------------------------------------- fingerprints

def stat(path: str) -> os.stat_result | None:
    """os.stat, or None for a missing file; cached while a read-only command runs (context.stat_cache:
    nothing writes then, and a status check stats most files several times, as one task's output and
    other tasks' inputs)."""
    cache = context.CURRENT.stat_cache
    if cache is not None and path in cache:
        return cache[path]
    try:
        st = os.stat(path)
    except OSError:
        st = None
    if cache is not None:
        cache[path] = st
    return st


def input_stat(path: str) -> os.stat_result | None:
    """`stat` for a status check of a task's input, cached while doit executes tasks (context.input_stats).
    doit checks a task's inputs only once every task that writes them has finished, and no task writes them
    again in the same invocation, so the first consumer's stat holds for every later one (config/ files
    are inputs of thousands of tasks). Targets (checked before their task writes them) are not cached, nor
    are the checks a task makes under its lock before paying (actions.sealed): those stat afresh."""
    cache = context.CURRENT.input_stats
    if cache is None:
        return stat(path)
    if path not in cache:
        cache[path] = stat(path)
    return cache[path]


def file_md5(path: str | os.PathLike) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def config_digest(config: Any) -> str:
    """Stable digest of a configuration value (dicts compared by content, key order ignored)."""
    return hashlib.sha256(orjson.dumps(_clean(config), option=orjson.OPT_SORT_KEYS)).hexdigest()


# ---------------------------------------------------------------- seals

def seal_path(output_dir: str | os.PathLike) -> Path:
    return Path(output_dir) / SEAL_NAME


def write_seal(output_dir: str | os.PathLike, task: str, config: str, inputs: list[str]) -> None:
    """Record that `task` completed from these inputs and this configuration, and the md5 of each
    output it wrote (its raw captures: a damaged one is then told from a new one). Call it last."""
    record = {"task": task, "config": config, "inputs": {p: _fingerprint(p) for p in sorted(inputs)},
              "outputs": _output_records(output_dir)}
    write_json(seal_path(output_dir), record)


def _output_records(output_dir: str | os.PathLike[str], names: list[str] | None = None) -> dict[str, str]:
    """name -> output_record of the files in `output_dir` (those of `names`, or all but dot files)."""
    if not os.path.isdir(output_dir):
        return {}
    return {e.name: output_record(e.path) for e in sorted(os.scandir(output_dir), key=lambda e: e.name)
            if e.is_file(follow_symlinks=False) and (e.name in names if names is not None else not e.name.startswith("."))}


def output_record(path: str) -> str:
    st = os.stat(path)
    return f"{st.st_size}:{st.st_mtime_ns}:{file_md5(path)}"


def output_intact(path: str, record: str, strict: bool = False) -> bool:
    """Whether `path` holds what an output record (size:mtime_ns:md5) says (md5 only where the
    timestamp moved, e.g. in a copied tree; always when `strict`: a forger can set a timestamp back)."""
    if not isinstance(record, str) or record.count(":") != 2:
        return True                 # a record of another format: nothing to compare with
    size, mtime_ns, md5 = record.split(":")
    st = stat(path)
    return st is not None and st.st_size == int(size) and \
        (st.st_mtime_ns == int(mtime_ns) and not strict or file_md5(path) == md5)


def _fingerprint(path: str) -> dict:
    st = os.stat(path)
    return {"md5": file_md5(path), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def write_adopted_seal(output_dir: str | os.PathLike, task: str, config: str, source: str,
                       inputs: Sequence[str] = (), outputs: Sequence[str] = ()) -> None:
    """Seal work another tool finished (e.g. ProjectScylla): it stays done while the configuration
    and `inputs` are unchanged. `inputs` are those of the task's inputs the adopted work saw (the other
    tool's own files, e.g. the judge prompt its judges read); inputs Scylla made itself are not covered.
    `outputs`: the names of its raw captures, recorded so that a damaged one is told from the original."""
    write_json(seal_path(output_dir), {"task": task, "config": config, "adopted_from": source,
                                       "inputs": {p: _fingerprint(p) for p in sorted(inputs)},
                                       "outputs": _output_records(output_dir, list(outputs))})


def covered_inputs(seal: dict, inputs: list[str]) -> list[str]:
    """The task's inputs its seal must cover: all of them, or for adopted work those it recorded."""
    if seal.get("adopted_from"):
        return [p for p in inputs if p in seal["inputs"]]
    return inputs


def read_seal(output_dir: str | os.PathLike) -> dict | None:
    """The seal of an output directory, or None when there is none. A corrupt seal raises."""
    path = f"{os.fspath(output_dir)}/{SEAL_NAME}"
    try:
        seal = read_json(path)
    except ArtifactError:
        if stat(path) is None:          # (checked after the fact: one stat fewer per sealed task)
            return None
        raise
    if not isinstance(seal, dict) or not isinstance(seal.get("inputs"), dict):
        raise ArtifactError(f"{path}: corrupt seal (expected an object with 'inputs')")
    return seal


def seal_mismatch(seal: dict | None, task: str, config: str, inputs: list[str], stat_of=stat) -> str | None:
    """Why the sealed record does not cover this task as configured now; None when it does."""
    if seal is None:
        return "not done yet (no seal)"
    if seal.get("task") != task:
        return f"seal belongs to {seal.get('task')!r}"
    if seal.get("config") != config:
        return "configuration changed"
    recorded = seal["inputs"]
    inputs = covered_inputs(seal, inputs)
    if set(recorded) != set(inputs):
        added = sorted(set(inputs) - set(recorded))
        removed = sorted(set(recorded) - set(inputs))
        return f"inputs changed (added {added}, removed {removed})"
    for path in inputs:
        st = stat_of(path)
        if st is None:
            return f"{INPUT_MISSING} {path}"
        entry = recorded[path]
        if st.st_size != entry.get("size"):
            return f"{INPUT_CHANGED} {path}"
        # like doit's md5 checker: content is hashed only when the timestamp moved (e.g. a copied tree)
        if st.st_mtime_ns != entry.get("mtime_ns") and file_md5(path) != entry.get("md5"):
            return f"{INPUT_CHANGED} {path}"
    return None


def lost_capture(path: str, stat_of=stat) -> bool:
    """Whether `path` is missing from a directory a seal stands on: a raw capture of finished paid
    work, which only paying again brings back. What was derived from it stands (a loss never spreads)."""
    return stat_of(path) is None and stat(f"{os.path.dirname(path) or '.'}/{SEAL_NAME}") is not None


def damaged_capture(path: str, strict: bool = False) -> bool:
    """Whether `path` differs from what the seal of its directory recorded when it was written (a
    truncated or overwritten raw capture): as lost as a missing one, never a new measurement.
    `strict`: hashed whatever its timestamp (what is about to read it)."""
    seal = f"{os.path.dirname(path) or '.'}/{SEAL_NAME}"
    st = stat(seal)
    record = _recorded_outputs(seal, st.st_mtime_ns).get(os.path.basename(path)) if st else None
    return record is not None and stat(path) is not None and not output_intact(path, record, strict)


@functools.lru_cache(maxsize=4096)
def _recorded_outputs(seal: str, mtime_ns: int) -> dict:
    """The outputs a seal recorded (cached per version of the seal: every task reading a run's raw
    captures asks)."""
    try:
        return read_json_object(seal).get("outputs") or {}
    except ArtifactError:
        return {}


def damaged_outputs(output_dir: str, seal: dict, strict: bool = False) -> list[str]:
    """Outputs the seal recorded that are now missing or differ."""
    return [f"{output_dir}/{name}" for name, record in (seal.get("outputs") or {}).items()
            if not output_intact(f"{output_dir}/{name}", record, strict)]


def unusable_capture(path: str, strict: bool = False) -> bool:
    """A raw capture of finished paid work that is missing or damaged."""
    return lost_capture(path) or damaged_capture(path, strict)


def unseal(output_dir: str | os.PathLike) -> None:
    with _suppress():
        os.unlink(seal_path(output_dir))


# ---------------------------------------------------------------- locks

@contextlib.contextmanager
def file_lock(path: str | os.PathLike):
    """Exclusive lock across processes (doit -n workers, a second doit) on a lock file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


_HELD_LOCKS: dict = {}


def _close_in_child() -> None:
    # Forked workers must not keep the experiment lock alive if the main doit process dies: a worker
    # that is mid-task is covered by that task's own lock (see actions.sealed).
    for fh in _HELD_LOCKS.values():
        fh.close()
    _HELD_LOCKS.clear()


os.register_at_fork(after_in_child=_close_in_child)


def hold_experiment_lock(lock_file: str | os.PathLike) -> None:
    """Hold an exclusive lock for the life of this process, so two `doit` runs never execute (and pay
    for) the same tasks at once. Raises ArtifactError naming the holder if it is taken. Held once per
    process (several doit invocations in one process, e.g. `scylla adopt`, share it)."""
    key = os.path.abspath(lock_file)
    if key in _HELD_LOCKS:
        return
    fh = open(lock_file, "a+")  # noqa: SIM115  (held, locked, for the life of the process)
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        holder = fh.read().strip() or "another process"
        fh.close()
        raise ArtifactError(f"{lock_file}: another `doit` ({holder}) is running this experiment; "
                            f"wait for it to finish (two runs at once would pay twice)") from None
    fh.truncate(0)
    fh.write(f"pid {os.getpid()}\n")
    fh.flush()
    _HELD_LOCKS[key] = fh


# ---------------------------------------------------------------- archive of previous attempts

def archive(paths: list[Path], archive_root: Path, label: str, reason: str) -> Path | None:
    """Move existing `paths` into `archive_root/<label>_attempt_NN/` (NN = next free number).
    Nothing is deleted: previous attempts stay inspectable and are never read by aggregates."""
    for p in (archive_root, *paths):       # moved into or out of: no link (an agent's) on the way, or there
        safepath.check(p)
    existing = [p for p in paths if p.exists()]
    if not existing:
        return None
    archive_root.mkdir(parents=True, exist_ok=True)
    n = 1
    while (archive_root / f"{label}_attempt_{n:02d}").exists():
        n += 1
    dest = archive_root / f"{label}_attempt_{n:02d}"
    dest.mkdir()
    for p in existing:
        shutil.move(str(p), str(dest / p.name))
    write_json(dest / "archived.json", {"reason": reason, "moved": sorted(p.name for p in existing)})
    return dest


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)
