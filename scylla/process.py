"""Run an adapter's shell command: captured to files, bounded by a timeout, killed with its children.

The child stays in doit's process group on purpose: if doit is killed as a group, the agent dies
with it instead of running on (and paying) unobserved.
"""

from __future__ import annotations

import math
import os
import select
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from . import durable


@dataclass(frozen=True)
class Completed:
    exit_code: int | None      # None when killed on timeout
    duration_seconds: float
    timed_out: bool


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
              stdin: Path | None = None) -> Completed:
    """Run `command` with bash; stdout (and stderr, or merged into stdout when None) go to files,
    not pipes, so a straggling grandchild cannot block us."""
    started = time.monotonic()
    with open(stdout, "wb") as out, open(stderr if stderr else os.devnull, "wb") as err, \
            open(stdin if stdin else os.devnull, "rb") as inp:
        proc = subprocess.Popen(["bash", "-c", command], cwd=cwd, env=env, stdin=inp, stdout=out,
                                stderr=err if stderr else subprocess.STDOUT)
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
        # the captures are evidence the task's seal will vouch for: on disk before it is (redaction
        # rewrites, durably, only the files it changes)
        durable.sync(out)
        if stderr:
            durable.sync(err)
        return done
