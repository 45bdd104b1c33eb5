"""Run an adapter's shell command: captured to files, bounded by a timeout, killed with its children.

The child starts a session of its own: a Ctrl-C or signal meant for doit's process group is doit's to
handle; whatever ends doit, its reaper (reaper.py) then kills the command and all it started, found
by the token in their environment. A timeout kills the command's process tree here.

The child writes into pipes that Scylla copies to the capture files, counting bytes: a capture that
could not be written whole (a full disk, an I/O error) is known, and reported as `capture_error`,
instead of passing for an agent that printed nothing.
"""

from __future__ import annotations

import contextvars
import math
import os
import select
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import durable, reaper


@dataclass(frozen=True)
class Completed:
    exit_code: int | None      # None when killed on timeout
    duration_seconds: float
    timed_out: bool
    capture_error: str | None = None    # why a capture file is shorter than what the command wrote


# how long the captures are still read after the command ended, for output its children still flush
# (a background process it left running must not hold the task forever)
DRAIN_SECONDS = 2.0


class _Copier(threading.Thread):
    """Copies one pipe into its capture file as the child writes. A failed write (ENOSPC, EIO) is
    remembered and the pipe is still drained, so the child never blocks on a full pipe."""

    def __init__(self, pipe, sink, name: str):
        super().__init__(daemon=True, name=f"capture-{name}")
        self.pipe, self.sink, self.label = pipe, sink, name
        self.read = self.written = 0
        self.error: str | None = None
        self.stop = threading.Event()
        self.context = contextvars.copy_context()     # durable.rebuildable() holds in this thread too

    def run(self) -> None:
        self.context.run(self._copy)

    def _copy(self) -> None:
        fd, poller = self.pipe.fileno(), select.poll()
        poller.register(fd, select.POLLIN | select.POLLHUP)
        while not self.stop.is_set():
            if not poller.poll(100):
                continue
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                break
            self.read += len(chunk)
            if self.error is None:
                self._write(chunk)
        if self.error is None:
            self._sync()

    def _write(self, chunk: bytes) -> None:
        view = memoryview(chunk)
        try:
            while view:
                n = os.write(self.sink.fileno(), view)
                self.written += n
                view = view[n:]
        except OSError as exc:
            self.error = f"{self.label}: {exc.strerror} (errno {exc.errno}) after {self.written} bytes"

    def _sync(self) -> None:
        try:
            durable.sync(self.sink)
        except OSError as exc:
            self.error = f"{self.label}: {exc.strerror} (errno {exc.errno}) when syncing"

    def finish(self, deadline: float) -> str | None:
        self.join(max(deadline - time.monotonic(), 0))
        if self.is_alive():           # a left-behind child still holds the pipe: stop reading it
            self.stop.set()
            self.join()
        if self.error is None and self.written != self.read:
            self.error = f"{self.label}: captured {self.written} of {self.read} bytes"
        return self.error


def _children(pid: int) -> list[int]:
    kids = []
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                with open(f"/proc/{entry.name}/stat", "rb") as fh:
                    fields = fh.read().rsplit(b")", 1)[1].split()
                if int(fields[1]) == pid:
                    kids.append(int(entry.name))
            except (OSError, IndexError, ValueError):
                continue
    return kids


def kill_tree(pid: int) -> None:
    """SIGKILL a process and all its descendants (found through /proc)."""
    todo, seen = [pid], []
    while todo:
        p = todo.pop()
        seen.append(p)
        todo += _children(p)
    for p in reversed(seen):
        try:
            os.kill(p, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait(proc: subprocess.Popen, timeout: float | None) -> int:
    """proc.wait(timeout), woken by the child's exit. Popen.wait with a timeout polls, sleeping up to
    50 ms between looks: every agent's end would be noticed ~25 ms late on average (on the critical
    path of each run). A pidfd (Linux 5.3+) becomes readable when the child exits; elsewhere, poll."""
    try:
        fd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):
        return proc.wait(timeout=timeout)
    try:
        poller = select.poll()
        poller.register(fd, select.POLLIN)
        deadline = None if timeout is None else time.monotonic() + timeout
        while not poller.poll(_milliseconds_left(deadline)):
            assert deadline is not None and timeout is not None     # (poll(None) waits for the exit)
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(proc.args, timeout)
    finally:
        os.close(fd)
    return proc.wait()


def _milliseconds_left(deadline: float | None) -> int | None:
    if deadline is None:
        return None
    return math.ceil(min(max(deadline - time.monotonic(), 0) * 1000, 2**31 - 1))    # poll() takes a C int


def run_shell(command: str, cwd: Path, env: dict, stdout: Path, stderr: Path | None, timeout: float,
              stdin: Path | None = None, argv: Callable[[str, dict], list[str]] | None = None) -> Completed:
    """Run `command` with bash (or as `argv(command, env)` says: inside a sandbox); stdout (and stderr, or
    merged into stdout when None) are copied to files as they come (see _Copier), and synced before this
    returns: the captures are evidence the task's seal will vouch for. Whatever the command left running
    (found by its tag in their environment) is killed when it ends: nothing writes after its captures
    are sealed."""
    started = time.monotonic()
    with open(stdout, "wb") as out, open(stderr if stderr else os.devnull, "wb") as err, \
            open(stdin if stdin else os.devnull, "rb") as inp:
        tag = f"{os.getpid()}-{time.time_ns()}"
        env = {**env, reaper.COMMAND_VAR: tag, **({reaper.TOKEN_VAR: reaper.TOKEN} if reaper.TOKEN else {})}
        proc = subprocess.Popen(argv(command, env) if argv else ["bash", "-c", command], cwd=cwd, env=env, stdin=inp, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE if stderr else subprocess.STDOUT, start_new_session=True)
        copiers = [_Copier(proc.stdout, out, Path(stdout).name)]
        if stderr:
            copiers.append(_Copier(proc.stderr, err, Path(stderr).name))
        for copier in copiers:
            copier.start()
        try:
            code = _wait(proc, timeout)
            done = Completed(code, time.monotonic() - started, False)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            proc.wait()
            done = Completed(None, time.monotonic() - started, True)
        finally:
            if proc.poll() is None:     # interrupted (SIGTERM/Ctrl-C): take the children down too
                kill_tree(proc.pid)
                proc.wait()
            reaper.kill_tagged(tag, reaper.COMMAND_VAR)     # what it left running, in any session
            drained = time.monotonic() + DRAIN_SECONDS
            errors = [e for c in copiers if (e := c.finish(drained))]
            for pipe in (proc.stdout, proc.stderr):
                if pipe:
                    pipe.close()
        return Completed(done.exit_code, done.duration_seconds, done.timed_out, "; ".join(errors) or None)
