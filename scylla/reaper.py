"""Nothing a doit started outlives it, however it ends (a SIGKILL of its PID included).

A `doit` that executes tasks starts one reaper (`start`): a small process in a session of its own,
which holds the read end of a pipe whose write end only doit and its forked workers hold. When
they are all gone, the pipe reads EOF and the reaper SIGKILLs every process whose environment
carries this doit's token (each agent, judge and pipeline command gets it, process.run_shell, and
hands it down to everything it starts), then removes the scratch directories named with the token.
An orphaned agent would otherwise run on unobserved, and the next `doit` would pay for it again.

This file runs as a script (`python -I -S reaper.py TOKEN TMPDIR`): standard library only.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

TOKEN_VAR = "SCYLLA_RUN_TOKEN"
TOKEN: str | None = None        # this doit's token, once start() ran (commands get it in their environment)


def start() -> None:
    """Start the reaper of this doit (the leader, before any worker or command exists)."""
    global TOKEN
    if TOKEN is not None:
        return
    token = f"{os.getpid()}-{time.time_ns()}"
    read, _write = os.pipe()
    try:
        subprocess.Popen([sys.executable, "-I", "-S", __file__, token, tempfile.gettempdir()], stdin=read,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
                         cwd="/")          # (it must not hold the tree's file system busy)
    finally:
        os.close(read)
    # `_write` stays open, unwritten, for the life of this process and of the workers it forks; no
    # command inherits it (descriptors are not inheritable, and subprocess closes the others)
    TOKEN = token


def die_with(parent: int) -> None:
    """In a process forked from doit (`parent`): the kernel SIGKILLs it when doit dies."""
    import ctypes
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)      # PR_SET_PDEATHSIG
    if os.getppid() != parent:           # doit died before the line above
        os._exit(1)


def scratch_prefix(kind: str) -> str:
    """mkdtemp prefix of a scratch directory the reaper removes if its doit dies before it can."""
    return f"scylla-{kind}-{TOKEN}-" if TOKEN else f"scylla-{kind}-"


COMMAND_VAR = "SCYLLA_COMMAND_TAG"      # one command's own tag (process.run_shell): what it left running


def kill_tagged(token: str, var: str = TOKEN_VAR) -> None:
    """SIGKILL every process whose environment holds var=token, again until none is left (a dying tree
    may still fork)."""
    for _ in range(100):
        pids = _tagged(token, var)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        time.sleep(0.02)


def reap(token: str, tmp: str) -> None:
    kill_tagged(token)
    for path in glob.glob(os.path.join(glob.escape(tmp), f"scylla-*-{glob.escape(token)}-*")):
        shutil.rmtree(path, ignore_errors=True)


def _tagged(token: str, var: str = TOKEN_VAR) -> list[int]:
    """Processes whose environment holds var=token (as its first entry or a later one)."""
    entry = f"{var}={token}\0".encode()
    me, found = os.getpid(), []
    for proc in os.scandir("/proc"):
        if not proc.name.isdigit() or int(proc.name) == me:
            continue
        try:
            with open(f"/proc/{proc.name}/environ", "rb") as fh:
                env = fh.read()
        except OSError:
            continue
        if env.startswith(entry) or b"\0" + entry in env:
            found.append(int(proc.name))
    return found


def alive(pid: int) -> bool:
    """Whether `pid` runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def working_in(root: str | os.PathLike) -> set[int]:
    """The running processes (other than this one) whose working directory is inside `root`: what a
    finished or killed doit must not leave behind (tests and benchmarks/faults.py check it)."""
    found, prefix = set(), f"{os.fspath(root)}/"
    for proc in os.scandir("/proc"):
        if proc.name.isdigit() and int(proc.name) != os.getpid():
            try:
                cwd = os.readlink(f"/proc/{proc.name}/cwd")
            except OSError:
                continue
            if f"{cwd}/".startswith(prefix) and alive(int(proc.name)):
                found.add(int(proc.name))
    return found


def main(token: str, tmp: str) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_IGN)       # a Ctrl-C to doit's group, or a kill of it, is not for us
    while os.read(0, 4096):
        pass                                     # EOF: doit and its workers are gone
    reap(token, tmp)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
