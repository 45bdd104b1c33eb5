"""`doit executor=dask://...`: the heavy work runs on a real Dask cluster (a `dask scheduler` and two
`dask worker` processes on 127.0.0.1), the doit writes and seals locally.

- the example's results equal a local run's (apart from timings and where the work ran), while the
  workers cannot write into the experiment tree (it is read-only in their mount namespace);
- a worker killed while it runs agents: the experiment completes, no finished call runs twice;
- a finished call's captures are kept on the scheduler until sealed: a task run again returns them;
- a 429 on one worker pauses every worker's agent calls;
- an interrupted or killed doit stops its agents on the workers.
"""

from __future__ import annotations

import csv
import io
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from conftest import claude_cli, harness_env
from dask_cluster import Cluster
from test_e2e_throttle import _env as timeline_env
from test_e2e_throttle import _setup as setup
from test_e2e_throttle import timeline

pytestmark = pytest.mark.e2e

# keys and columns that hold a measurement's time, and statistics over them: they differ between any two runs
TIMING = re.compile(r"duration|seconds|_at$|^measured|wall_clock|^started|^ended|elapsed", re.IGNORECASE)
# where a run's work happened: the worker's scratch tree, or this tree; an attempt's private token
WHERE = [(re.compile(r"/[^\s\"']*/scylla-task-[^/\s\"']+/tree"), "<root>"), (re.compile(r"@\d+-\d+"), "@<token>")]
# the worker's interpreter differs only in its name (python vs python3.11)
PYTHON = re.compile(r"/python3?(\.\d+)?\b")


def _normal(value, root: str):
    if isinstance(value, dict):
        return {k: _normal(v, root) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [_normal(v, root) for v in value if not _about_timing(v)]
    if isinstance(value, str):
        value = value.replace(root, "<root>").replace(str(Path(root).parents[3]), "<checkout>")
        for pattern, placeholder in WHERE:
            value = pattern.sub(placeholder, value)
        return PYTHON.sub("/python", value)
    return value


def _about_timing(value) -> bool:
    """A row of statistics about durations (a correlation with duration_seconds)."""
    return isinstance(value, dict) and any(isinstance(v, str) and TIMING.search(v) for v in value.values())


def _results(root: Path) -> dict[str, object]:
    """Every result of a tree, comparable across runs: JSON and CSV with timings left out, other captures as
    bytes; logs, reports and figures (timings in their text) are compared as a set of names only."""
    out: dict[str, object] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and ".scylla" not in p.parts):
        rel = path.relative_to(root).as_posix()
        if rel.startswith("analysis/figures/") or path.suffix in (".log", ".md", ".html", ".png", ".svg", ".tex", ".sh"):
            out[rel] = "present"
        elif path.name == ".seal.json":
            seal = orjson.loads(path.read_bytes())
            out[rel] = (seal["task"], seal["config"], {p: i["md5"] for p, i in seal["inputs"].items()})
        elif path.suffix == ".json":
            out[rel] = _normal(orjson.loads(path.read_bytes()), str(root))
        elif path.suffix == ".csv":
            out[rel] = _normal(list(csv.DictReader(io.StringIO(path.read_text()))), str(root))
        else:
            out[rel] = path.read_bytes()
    return out


@pytest.fixture
def cluster_for(tmp_path):
    started: list[Cluster] = []

    def start(**kwargs) -> Cluster:
        started.append(Cluster.start(tmp_path / f"cluster{len(started)}", **kwargs))
        return started[-1]
    yield start
    for c in started:
        c.close()


def test_example_on_the_cluster_matches_a_local_run_and_workers_never_write_the_tree(completed, fresh, cluster_for):
    local = completed[0]
    results = fresh.path / "examples/hello/results"
    results.mkdir()
    cluster = cluster_for(read_only=(results,))       # a worker's write into the tree fails (read-only file system)
    run = fresh.doit("-n", "4", f"executor={cluster.url}")
    assert "runs on worker tcp://127.0.0.1:" in run.stderr       # progress names the worker
    assert len(run.executed) == len(completed[1].executed)
    assert sorted(fresh.calls("agent")) == sorted(local_calls := [
        f"{t}/{s}/run_{n:02d}" for t, s in (("T0", "00"), ("T0", "01"), ("T1", "01"), ("T1", "02"), ("T5", "01"))
        for n in (1, 2)])
    assert len(fresh.calls("judge")) == len(local_calls)
    theirs, ours = _results(local.root), _results(fresh.root)
    assert theirs.keys() == ours.keys()
    assert [k for k in theirs if theirs[k] != ours[k]] == []
    # where each run's work happened is on record: the worker's scratch tree, never this tree
    log = orjson.loads((fresh.root / "T0/01/run_01/agent/command_log.json").read_bytes())
    assert "/scylla-task-" in log["commands"][0]["env"]["SCYLLA_WORKSPACE"]
    assert str(fresh.root) not in log["commands"][0]["env"]["SCYLLA_WORKSPACE"]
    # the next doit, on the cluster or not, has nothing to do (here: it checks this machine for the agents)
    assert fresh.doit(f"executor={cluster.url}").executed == []
    assert fresh.doit().executed == ["preflight"]
    assert len(fresh.calls("agent")) == len(local_calls)


# ---------------------------------------------------------------- agents logging start and end, with their worker
# (tests/test_e2e_throttle.py's: each line names the Dask worker, w0 or w1)

def test_a_rate_limit_on_one_worker_pauses_agent_calls_on_all_workers(fresh, cluster_for):
    cluster = cluster_for(threads=3)
    setup(fresh, runs=4, rate_limit={"retries": 3, "backoff_seconds": 4})
    fresh.doit("-n", "6", f"executor={cluster.url}",
               env=timeline_env(fresh, SCYLLA_LIMIT_FIRST="1", SCYLLA_EXAMPLE_AGENT_DELAY="1"))
    events = timeline(fresh)
    limited = [(t, w) for k, e, _, t, w in events if e == "limited"]
    assert len(limited) == 1
    refused_at, refused_on = limited[0]
    starts = [(t, w) for k, e, _, t, w in events if k == "agent" and e == "start"]
    assert {w for _, w in starts} == {"w0", "w1"}         # both workers ran agents
    # no agent call starts on any worker while the pause is in force (4 s; up to 1 s to publish it)
    assert [s for s in starts if refused_at + 1.0 < s[0] < refused_at + 4 - 0.2] == []
    # the other worker did start calls after the pause: the pause held it, it was not idle
    other = "w1" if refused_on == "w0" else "w0"
    assert any(t >= refused_at + 4 - 0.2 for t, w in starts if w == other)
    ends = [r for k, e, r, _, _ in events if k == "agent" and e == "end"]
    assert len(ends) == len(set(ends)) == 12                     # each run's agent finished once
    judged = [r for k, e, r, _, _ in events if k == "judge" and e == "start"]
    assert sorted(judged) == sorted(ends)
    archived = [orjson.loads(p.read_bytes())["reason"] for p in fresh.root.glob("T*/*/.failed/*/archived.json")]
    assert len(archived) == 1 and archived[0].startswith("rate limited")
    assert fresh.doit(f"executor={cluster.url}", env=timeline_env(fresh)).executed == []


def test_a_killed_worker_loses_no_finished_call_and_the_experiment_completes(fresh, cluster_for):
    cluster = cluster_for(threads=2)
    setup(fresh, runs=4)
    env = {**os.environ, **timeline_env(fresh, SCYLLA_EXAMPLE_AGENT_DELAY="2.5")}
    doit = subprocess.Popen([sys.executable, "-m", "doit", "-n", "6", f"executor={cluster.url}"], cwd=fresh.path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    def sealed(rid: str, out: str) -> bool:
        return (fresh.root / rid / out / ".seal.json").exists()
    # kill worker 0 while it runs agents, once one of its agent runs is sealed in the tree
    deadline = time.time() + 120
    while time.time() < deadline:
        events = timeline(fresh)
        ended = {r for k, e, r, _, w in events if (k, e, w) == ("agent", "end", "w0")}
        running = {r for k, e, r, _, w in events if (k, e, w) == ("agent", "start", "w0")} - ended
        if running and any(sealed(r, "agent") for r in ended):
            break
        time.sleep(0.1)
    else:
        doit.kill()
        pytest.fail(f"worker 0 never ran agents: {timeline(fresh)}")
    status = fresh.doit("status", f"executor={cluster.url}", check=False).stdout     # shows the remote work
    assert "2 workers, 4 threads" in status and re.search(r"⟳ agent:T\S+ on tcp://127\.0\.0\.1:\d+: running", status), status
    runs = {r for _, _, r, _, _ in timeline(fresh)} | {f"T0/00/run_0{n}" for n in range(1, 5)}
    sealed_agents = {r for r in runs if sealed(r, "agent")}
    sealed_judges = {r for r in runs if sealed(r, "judge/judge_02")}
    cluster.kill_worker(0)
    stdout, stderr = doit.communicate(timeout=300)
    assert doit.returncode == 0, stdout[-3000:] + stderr[-3000:]
    events = timeline(fresh)
    starts = [r for k, e, r, _, _ in events if (k, e) == ("agent", "start")]
    ends = [r for k, e, r, _, _ in events if (k, e) == ("agent", "end")]
    judges = [r for k, e, r, _, _ in events if (k, e) == ("judge", "start")]
    # what was sealed before the kill never ran again
    assert sealed_agents and [r for r in sealed_agents if starts.count(r) != 1] == []
    assert [r for r in sealed_judges if judges.count(r) != 1] == []
    # the calls the kill interrupted ran again on the other worker; every run finished and was judged
    interrupted = {r for k, e, r, _, w in events if (k, e, w) == ("agent", "start", "w0")} - \
        {r for k, e, r, _, w in events if (k, e, w) == ("agent", "end", "w0")}
    assert interrupted and all(starts.count(r) == 2 for r in interrupted)
    assert len(set(ends)) == 12 and {r for r in set(judges)} == set(ends)
    # nothing truncated: every seal and derived file intact, every result complete
    assert "intact" in fresh.doit("verify").stdout
    for path in fresh.root.glob("T*/*/run_*/run_result.json"):
        assert orjson.loads(path.read_bytes())["judge_score"] is not None
    assert fresh.doit(f"executor={cluster.url}", env=timeline_env(fresh)).executed == []


def test_a_finished_call_is_kept_until_sealed_so_a_rerun_task_never_calls_again(tmp_path, cluster_for):
    """What Dask does when a worker dies after the call finished but before doit got its result: the task
    runs again. It returns the kept captures; once released (sealed), the same task calls again."""
    import cloudpickle
    from distributed import Client

    from scylla import cluster as scylla_cluster
    from scylla import remote

    dask = cluster_for(workers=1, threads=2)
    calls = tmp_path / "calls.log"

    def work(out):            # (pickled by value: a closure of this test)
        with open(calls, "a") as log:
            log.write("called\n")
        (out / "response.txt").write_text("verdict")

    job = cloudpickle.dumps({"work": work, "out": "T0/00/run_01/judge/judge_01", "extra_outputs": (), "files": {},
                             "runs_dir": ".", "started": 0.0, "env": {}})
    ns = "kept-test"
    with Client(dask.address) as client:
        def submit():
            return client.submit(remote.on_worker, job, "key-1", ns, "judge:T0/00/run_01/judge_01", None, None, 1.0,
                                 pure=False).result(timeout=60)
        first, again = submit(), submit()
        assert calls.read_text() == "called\n"                 # once: the second returned the kept captures
        assert first == again and first["files"] == {"T0/00/run_01/judge/judge_01/response.txt": b"verdict"}
        assert scylla_cluster.get(client, ns, "running", "key-1") is None
        scylla_cluster.put(client, ns, "done", "key-1", None)   # what Shipment.release does once sealed
        submit()
        assert calls.read_text() == "called\ncalled\n"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=lambda s: s.name)
def test_an_interrupted_or_killed_doit_stops_its_agents_on_the_workers(fresh, cluster_for, tmp_path, sig):
    """Its cluster tasks are cancelled (SIGINT: by the doit; SIGKILL: by the scheduler, which sees the doit's
    connection close), each worker kills what it started, and the next doit runs only what was stopped."""
    from scylla.reaper import alive
    cluster = cluster_for(threads=2)
    pids = tmp_path / "agent-pids"
    fresh.edit_spec(lambda s: s.update(sandbox="none"))      # (the agents' pids, as the host sees them)
    env = {**os.environ, **harness_env(fresh.call_log, pids), "SCYLLA_EXAMPLE_AGENT_DELAY": "60",
           "SCYLLA_EXAMPLE_AGENT_PIDS": str(pids)}
    doit = subprocess.Popen([sys.executable, "-m", "doit", "-n", "4", "-P", "thread", f"executor={cluster.url}"],
                            cwd=fresh.path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while not (pids.exists() and len(pids.read_text().splitlines()) == 4) and time.time() < deadline:
        time.sleep(0.1)
    running = {int(ln.split()[1]): ln.split()[0] for ln in pids.read_text().splitlines()}
    assert len(running) == 4 and all(alive(p) for p in running)
    doit.send_signal(sig)
    doit.communicate(timeout=30)                                     # no hang
    assert doit.returncode != 0
    deadline = time.time() + 20
    while any(alive(p) for p in running) and time.time() < deadline:
        time.sleep(0.1)
    assert [p for p in running if alive(p)] == [], "agents outlived their doit on the workers"
    fresh.reset_calls()
    fresh.doit("-n", "4", "-P", "thread", f"executor={cluster.url}")
    calls = fresh.calls("agent")
    assert set(running.values()) <= set(calls) and len(calls) == len(set(calls)) == 10


def test_a_cli_agent_on_a_worker_uses_the_workers_key_which_never_travels(fresh, cluster_for):
    """The real `claude` CLI on the workers against the loopback Messages mock: its key is in the workers'
    environment only. Preflight checks the workers (a cluster whose workers lack it calls nothing)."""
    from mock_anthropic import KEY, TEXTKIT, AnthropicMock, text, tool
    mock = AnthropicMock()
    try:
        fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=5, agent={
            "adapter": "claude-code", "model": "claude-sonnet-4-6", "base_url": mock.url,
            "options": {"cli": claude_cli()}}))
        here = {k: v for k, v in os.environ.items() if k != "ANTHROPIC_API_KEY"}
        keyless = cluster_for(workers=1, threads=2, env=here)
        status = fresh.doit("status", f"executor={keyless.url}", env={"ANTHROPIC_API_KEY": ""}, check=False).stdout
        assert re.search(r"worker tcp://127\.0\.0\.1:\d+: agent \(adapter claude-code\): none of "
                         r"ANTHROPIC_API_KEY.* is set: export the key in the worker's environment", status), status
        refused = fresh.doit(f"executor={keyless.url}", env={"ANTHROPIC_API_KEY": ""}, check=False)
        assert refused.returncode != 0 and mock.requests == []
        keyless.close()

        keyed = cluster_for(workers=1, threads=2, env={**here, "ANTHROPIC_API_KEY": KEY})
        mock.script.extend([[text("Implementing."), tool("Write", file_path="textkit.py", content=TEXTKIT)],
                            [text("Done.")]])
        fresh.doit(f"executor={keyed.url}", env={"ANTHROPIC_API_KEY": ""})     # the doit has no key
        assert all(r["headers"].get("x-api-key") == KEY for r in mock.requests) and mock.requests
        assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
        assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
        for path in fresh.root.rglob("*"):
            assert not path.is_file() or KEY.encode() not in path.read_bytes(), path
    finally:
        mock.close()
