"""What the agents' sandbox costs per run, beside the agent's own time, in one process run.

    python benchmarks/sandbox_overhead.py [--repeat 20]

1. Start-up: the same trivial command (`true`) run by scylla.process.run_shell as an agent's would be,
   unconfined, inside bubblewrap with an agent's policy (the experiment tree, the fixture's expected/ and
   the home directory hidden; the tools shown again), and inside bubblewrap with one endpoint bridged (one
   socat started and waited for): median milliseconds per command over --repeat runs.
2. In context: examples/hello end to end (`doit`, 10 scripted agent runs and their pipelines) with
   `sandbox: none` and `sandbox: bubblewrap`: wall time, and the agents' own median time
   (agent_duration_seconds of the runs) beside the start-up overhead.

Nothing is asserted; the table is the result.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import orjson
from common import checkout, doit, experiment_root, machine

from scylla import sandbox
from scylla.process import run_shell
from scylla.spec import load_experiment


def _start_up(spec: Path, endpoints: tuple[str, ...], kind: str, repeat: int, tmp: Path) -> float:
    """Median ms of `true` under `kind` with an agent's policy (`endpoints` bridged)."""
    exp = load_experiment(spec)
    ws, home = tmp / "ws", tmp / "home"
    ws.mkdir(exist_ok=True)
    home.mkdir(exist_ok=True)
    confinement = sandbox.Confinement(sandbox.Setting(kind, explicit=True), exp.confinement.hidden)
    times = []
    for _ in range(repeat):
        policy = confinement.policy(ws, (ws, home), (exp.spec_path.parent,), endpoints)
        started = time.perf_counter()
        with sandbox.session(policy) as box:
            done = run_shell("true", ws, {"PATH": "/usr/bin:/bin"}, tmp / "out", tmp / "err", 60, argv=box.argv)
        times.append(time.perf_counter() - started)
        assert done.exit_code == 0, (tmp / "err").read_text()
    return statistics.median(times) * 1000


def _hello(dest: Path, kind: str) -> tuple[float, float]:
    """(wall seconds of a complete hello `doit`, median agent_duration_seconds of its runs)."""
    spec = checkout(dest, sandbox=kind)
    seconds = doit(spec).seconds
    root = experiment_root(spec)
    agents = [orjson.loads(p.read_bytes())["agent_duration_seconds"] for p in root.glob("T*/*/run_*/agent/timing.json")]
    return seconds, statistics.median(agents)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20)
    repeat = parser.parse_args().repeat
    if reason := sandbox.probe("bubblewrap"):
        sys.exit(f"bubblewrap does not work here: {reason}")
    with tempfile.TemporaryDirectory() as tmp:
        spec = checkout(Path(tmp) / "spec")
        none = _start_up(spec, (), "none", repeat, Path(tmp))
        bwrap = _start_up(spec, (), "bubblewrap", repeat, Path(tmp))
        bridged = _start_up(spec, ("http://127.0.0.1:9/v1",), "bubblewrap", repeat, Path(tmp))
        wall_none, agent_none = _hello(Path(tmp) / "none", "none")
        wall_box, agent_box = _hello(Path(tmp) / "box", "bubblewrap")
    print(f"machine: {machine()}\n")
    print("| measurement | unconfined | bubblewrap | ratio |")
    print("|---|---|---|---|")
    print(f"| `true`, start-up to exit (median of {repeat}) | {none:.1f} ms | {bwrap:.1f} ms | {bwrap / none:.1f}× |")
    print(f"| `true` with one endpoint bridged (socat) | {none:.1f} ms | {bridged:.1f} ms | {bridged / none:.1f}× |")
    print(f"| hello agent's own time, median of 10 runs | {agent_none * 1000:.0f} ms | {agent_box * 1000:.0f} ms | "
          f"{agent_box / agent_none:.2f}× |")
    print(f"| hello `doit` end to end (10 agents, 10 pipelines of 5 sandboxed steps) | {wall_none:.1f} s | "
          f"{wall_box:.1f} s | {wall_box / wall_none:.2f}× |")
    print(f"\nstart-up overhead per sandboxed command: {bwrap - none:.1f} ms ({bridged - none:.1f} ms with an endpoint)")


if __name__ == "__main__":
    main()
