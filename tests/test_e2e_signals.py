"""However a doit ends, nothing it started runs on: signals to its PID alone (SIGTERM, SIGINT, SIGKILL,
as a CI timeout or `kill PID` sends them) under `-P thread` and `-P process`, and Ctrl-C to its
group. No agent outlives it (checked by pid), no worker or other process stays in the tree, the
interrupted doit says so and exits non-zero, and the next `doit` runs again exactly the agents that
were stopped mid-way, each sealed patch the work of one agent process."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Checkout, harness_env

from scylla.reaper import alive, working_in


def _start(checkout: Checkout, *args: str, delay: str, pids: Path) -> subprocess.Popen:
    # agents report their pid, which the tests find and kill on the host: no PID namespace (sandbox: none;
    # the sandboxed agents' processes die with it, tests/test_e2e_sandbox.py)
    checkout.edit_spec(lambda s: s.update(sandbox="none"))
    env = {**os.environ, **harness_env(checkout.call_log, pids), "SCYLLA_EXAMPLE_AGENT_DELAY": delay,
           "SCYLLA_EXAMPLE_AGENT_PIDS": str(pids), "SCYLLA_PROGRESS": "lines"}
    return subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=checkout.path, env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)


def _wait_until(check, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()


def _sealed(checkout: Checkout) -> set[str]:
    return {str(p.parent.parent.relative_to(checkout.root)) for p in checkout.root.glob("T*/*/run_*/agent/.seal.json")}


@pytest.mark.parametrize("mode", ["thread", "process"])
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_a_signal_to_doit_alone_stops_every_agent_and_the_next_doit_reruns_only_those(fresh, completed, tmp_path,
                                                                                     mode, sig):
    pids = tmp_path / "agent-pids"
    proc = _start(fresh, "-n", "2", "-P", mode, delay="30", pids=pids)
    try:
        assert _wait_until(lambda: pids.exists() and len(pids.read_text().splitlines()) == 2, 120), \
            "no two agents started"
        running = {int(ln.split()[1]): ln.split()[0] for ln in pids.read_text().splitlines()}
        assert all(alive(p) for p in running)
        os.kill(proc.pid, sig)                                   # doit's PID only, not its group
        _, err = proc.communicate(timeout=30)                    # no hang
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode != 0
    if sig != signal.SIGKILL:
        assert proc.returncode == 128 + sig, err
        last = err.strip().splitlines()[-1]
        assert f"INTERRUPTED by {sig.name}: 2 task(s) stopped mid-way" in last, err
        assert "0 failed" not in last.split("·")[0]
    assert _wait_until(lambda: not any(alive(p) for p in running), 10), \
        f"agents outlived doit: {[p for p in running if alive(p)]}"
    assert _wait_until(lambda: not working_in(fresh.path), 10), f"left running: {working_in(fresh.path)}"
    assert not list(Path(os.environ.get("TMPDIR", "/tmp")).glob(f"scylla-pipeline-{proc.pid}-*"))

    stopped, finished = set(running.values()), _sealed(fresh)
    assert not stopped & finished
    fresh.reset_calls()
    fresh.doit("-n", "2", "-P", mode)
    calls = fresh.calls("agent")
    assert stopped <= set(calls) and not finished & set(calls) and len(calls) == len(set(calls))
    assert len(calls) + len(finished) == 10
    for rid in stopped:                                          # archived as interrupted, then run again
        tier, sub, run = rid.split("/")
        assert (fresh.root / tier / sub / ".failed" / f"{run}_attempt_01" / "archived.json").exists()
    patches = sorted(p.relative_to(fresh.root) for p in fresh.root.glob("T*/*/run_*/agent/patch.diff"))
    assert len(patches) == 10
    assert all((fresh.root / p).read_bytes() == (completed[0].root / p).read_bytes() for p in patches)
    assert not list((fresh.root / ".scylla/workspaces").iterdir())


def test_ctrl_c_never_hangs_a_parallel_doit(fresh, tmp_path):
    """20 fixed-seed Ctrl-C trials (SIGINT to doit's process group, as a terminal sends it) of
    `doit -n 4 -P process`, each at a random moment: every doit ends within seconds, leaving no process
    behind; then the tree completes."""
    rng = random.Random(13)
    pids, results = tmp_path / "agent-pids", fresh.root
    for trial in range(20):
        if trial % 5 == 0:
            shutil.rmtree(results, ignore_errors=True)           # start over now and then: agents to stop
        proc = _start(fresh, "-n", "4", "-P", "process", delay=f"{rng.uniform(0.2, 2):.2f}", pids=pids)
        time.sleep(rng.uniform(0.3, 4))
        os.killpg(proc.pid, signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            pytest.fail(f"trial {trial}: doit hung after Ctrl-C")
        assert proc.returncode in (0, 130), f"trial {trial}: exit {proc.returncode}\n{err[-3000:]}"
        assert _wait_until(lambda: not working_in(fresh.path), 10), f"trial {trial}: left {working_in(fresh.path)}"
    fresh.doit()
    assert fresh.doit().executed == []
