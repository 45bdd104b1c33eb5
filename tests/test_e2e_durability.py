"""Never pay twice: SIGKILL, a lost doit DB, a moved tree, and classified infra failures."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import orjson
from conftest import Checkout, harness_env


def _sealed_agents(checkout: Checkout) -> set[str]:
    return {str(p.parent.parent.relative_to(checkout.root)) for p in checkout.root.glob("T*/*/run_*/agent/.seal.json")}


def test_a_sigkill_of_parallel_doit_never_repeats_a_finished_agent(fresh):
    env = {**os.environ, **harness_env(fresh.call_log), "SCYLLA_EXAMPLE_AGENT_DELAY": "1.5"}
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2"], cwd=fresh.path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 180
    while len(_sealed_agents(fresh)) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    finished = _sealed_agents(fresh)
    assert len(finished) >= 2 and len(finished) < 10
    started_before = fresh.calls("agent")
    fresh.reset_calls()

    run = fresh.doit()
    assert not finished & set(fresh.calls("agent")), "a sealed agent run was paid for twice"
    assert sorted(fresh.calls("agent") + [r for r in started_before if r in finished]) == sorted(
        f"{s}/run_{n:02d}" for s in ("T0/00", "T0/01", "T1/01", "T1/02", "T5/01") for n in (1, 2))
    assert "experiment" in run.executed
    for f in fresh.root.rglob("*.json"):
        orjson.loads(f.read_bytes())                     # nothing truncated
    # a write cut by SIGKILL may leave its `.name.XXXX.tmp` behind (never read); no real file is torn
    # a run that was mid-flight when killed is archived as interrupted, not lost
    interrupted = set(started_before) - finished
    for rid in interrupted:
        tier, sub, run_name = rid.split("/")
        assert (fresh.root / tier / sub / ".failed" / f"{run_name}_attempt_01" / "archived.json").exists()


def test_a_killed_run_s_workspaces_are_replaced_and_its_patches_are_right(fresh, completed):
    """Agents killed mid-run leave their workspaces behind; the next doit (other worker mode) checks
    out afresh over them and captures exactly what an uninterrupted run captures."""
    env = {**os.environ, **harness_env(fresh.call_log), "SCYLLA_EXAMPLE_AGENT_DELAY": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-n", "2", "-P", "thread"], cwd=fresh.path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while len(fresh.calls("agent")) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    workspaces = fresh.root / ".scylla/workspaces"
    left = sorted(p.name for p in workspaces.iterdir())
    assert len([n for n in left if not n.endswith("-home")]) == 2      # the two agents that were running
    assert all(n.endswith("-home") and n.removesuffix("-home") in left for n in left if n.endswith("-home"))
    fresh.doit("-n", "2", "-P", "process")
    assert list(workspaces.iterdir()) == []
    patches = sorted(p.relative_to(fresh.root) for p in fresh.root.glob("T*/*/run_*/agent/patch.diff"))
    assert len(patches) == 10
    assert all((fresh.root / p).read_bytes() == (completed[0].root / p).read_bytes() for p in patches)


def test_b_deleted_doit_db_costs_nothing(hello):
    for f in (hello.root / ".scylla").glob("doit.db*"):
        f.unlink()
    status = hello.status()
    stale_paid = [t for t, s in status.items() if s != "U" and t.startswith(("agent:", "judge:", "pipeline:"))]
    assert stale_paid == [] and status["baseline"] == "U"
    run = hello.doit()
    assert not any(t.startswith(("agent:", "judge:", "pipeline:", "baseline")) for t in run.executed)
    assert hello.calls("agent") == [] and hello.calls("judge") == []
    assert hello.doit().executed == []


def test_b_corrupt_doit_db_is_set_aside(hello):
    db = hello.root / ".scylla/doit.db"
    for f in (hello.root / ".scylla").glob("doit.db-*"):
        f.unlink()
    db.write_bytes(b"this is not a database" * 100)
    run = hello.doit()
    assert "was unreadable" in run.stderr
    assert list((hello.root / ".scylla").glob("doit.db.corrupt-*"))
    assert hello.calls("agent") == [] and hello.calls("judge") == []


def test_c_tree_copied_to_a_deeper_path_stays_up_to_date(hello, tmp_path):
    moved = tmp_path / "elsewhere" / "deeper" / "copy"
    shutil.copytree(hello.path, moved)
    copy = Checkout(moved)
    status = copy.status()
    assert [t for t, s in status.items() if s != "U" and ":" in t] == []
    assert copy.doit().executed == [] and copy.calls("agent") == []


def test_d_infra_failure_is_archived_and_retried(hello):
    """A scripted rate limit (429 result) with no in-task retries left: the task fails and is archived."""
    hello.edit_spec(lambda s: s.update(runs=3, rate_limit={"retries": 0, "backoff_seconds": 1}))
    first = hello.doit("--continue", env={"SCYLLA_EXAMPLE_AGENT_FAIL": "T0/00/run_03"}, check=False)
    assert first.returncode != 0
    assert "still rate limited after 0 retries" in first.stdout + first.stderr
    archived = hello.root / "T0/00/.failed/run_03_attempt_01"
    assert "429" in (archived / "agent/stdout.log").read_text()
    assert "rate limited" in orjson.loads((archived / "archived.json").read_bytes())["reason"]
    assert not (hello.root / "T0/00/run_03/agent/.seal.json").exists()
    assert "T0/00/run_03 2" not in hello.calls("judge")          # a rate-limited run is never judged
    first_agents = hello.calls("agent")
    hello.reset_calls()
    second = hello.doit()
    retried = hello.calls("agent")
    assert "T0/00/run_03" in retried and set(retried) & set(first_agents) == {"T0/00/run_03"}
    assert sorted(set(first_agents) | set(retried)) == [f"{s}/run_03" for s in
                                                        ("T0/00", "T0/01", "T1/01", "T1/02", "T5/01")]
    assert "experiment" in second.executed
    assert hello.json("T0/00/run_03/run_result.json")["exit_code"] == 0


def test_a_second_doit_on_the_same_experiment_is_refused(fresh):
    env = {**os.environ, **harness_env(fresh.call_log), "SCYLLA_EXAMPLE_AGENT_DELAY": "30"}
    proc = subprocess.Popen([sys.executable, "-m", "doit"], cwd=fresh.path, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not fresh.calls("agent") and time.monotonic() < deadline:
            time.sleep(0.05)
        second = fresh.doit(check=False)
        assert second.returncode == 3 and "is running this experiment" in second.stderr
        assert fresh.doit("list").returncode == 0                  # read-only commands still work
        assert len(fresh.calls("agent")) == 1
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_a_deleted_raw_capture_never_buys_a_second_run(hello):
    run = hello.root / "T0/00/run_01"
    (run / "agent/stdout.log").unlink()
    (run / "judge/judge_02/response.txt").unlink()
    status = hello.status()
    assert status["agent:T0/00/run_01"] == "U" and status["judge:T0/00/run_01/judge_02"] == "U"
    # what was derived from them stands: nothing runs, and `doit status` names them as lost
    assert hello.doit().executed == [] and hello.calls("agent") == [] and hello.calls("judge") == []
    lost = json.loads(hello.doit("status", "--json").stdout)["lost"]
    assert "T0/00/run_01/agent/stdout.log" in [x["file"] for x in lost]
    (run / "agent/result.json").unlink()                   # needed again: what derives it fails, naming it
    done = hello.doit(check=False)
    assert done.returncode != 0 and "T0/00/run_01/agent/stdout.log" in done.stdout + done.stderr
    assert hello.calls("agent") == [] and hello.calls("judge") == []
