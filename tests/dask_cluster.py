"""A real Dask cluster on 127.0.0.1 for the tests: `dask scheduler` and `dask worker` processes.

`shared()`: the cluster .ci/run started (SCYLLA_DASK_SCHEDULER), else one started for the test session.
`Cluster.start()`: a private one, whose workers a test may kill, optionally seeing some directories
read-only (a private mount namespace): a worker that wrote into the experiment tree would fail.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

SCHEDULER_VAR = "SCYLLA_DASK_SCHEDULER"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _started(command: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True, env=env)


@dataclass
class Cluster:
    address: str
    scratch: Path
    scheduler: subprocess.Popen | None = None
    workers: list[subprocess.Popen] = field(default_factory=list)

    @property
    def url(self) -> str:
        return "dask://" + self.address.removeprefix("tcp://")

    @classmethod
    def start(cls, scratch: Path, workers: int = 2, threads: int = 4, read_only: tuple[Path, ...] = (),
              env: dict | None = None) -> Cluster:
        """`env`: the workers' environment (default: this process's)."""
        port = _free_port()
        scratch.mkdir(parents=True, exist_ok=True)
        cluster = cls(f"tcp://127.0.0.1:{port}", scratch)
        cluster.scheduler = _started([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                                      "--port", str(port), "--no-dashboard"], scratch / "scheduler.log")
        for i in range(workers):
            cluster.add_worker(threads, read_only, i, env)
        cluster.wait_for(workers)
        return cluster

    def add_worker(self, threads: int, read_only: tuple[Path, ...] = (), i: int | None = None,
                   env: dict | None = None) -> None:
        i = len(self.workers) if i is None else i
        command = [sys.executable, "-m", "distributed.cli.dask_worker", self.address, "--nthreads", str(threads),
                   "--host", "127.0.0.1", "--no-dashboard", "--no-nanny", "--name", f"w{i}",
                   "--local-directory", str(self.scratch / f"w{i}")]
        if read_only:       # a private mount namespace in which these directories cannot be written
            mounts = " && ".join(f"mount --bind {p} {p} && mount -o remount,bind,ro {p}" for p in read_only)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c", f'{mounts} && exec "$@"',
                       "sh", *command]
        self.workers.append(_started(command, self.scratch / f"w{i}.log", env))

    def wait_for(self, workers: int, timeout: float = 60) -> None:
        from distributed import Client
        with Client(self.address, timeout=timeout) as client:
            client.wait_for_workers(workers, timeout=timeout)

    def kill_worker(self, i: int) -> None:
        """SIGKILL worker `i` and everything in its process group (as a machine that dies)."""
        os.killpg(self.workers[i].pid, signal.SIGKILL)
        self.workers[i].wait()

    def close(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.time() + 10
        for proc in [*self.workers, self.scheduler]:
            if proc is not None:
                try:
                    proc.wait(max(0.1, deadline - time.time()))
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
