"""A comparison of agents: a spec naming several `agents:` (spec.load_comparison).

Each agent's experiment is a whole Scylla experiment in its own root (<results>/<id>/<name>: its own doit
DB, lock, seals, budget and reports), completed by a `doit` of its own that the comparison's graph runs
as one task per agent (`agents:<name>`). That task is up to date when the agent's own `doit status` finds
nothing to run; its targets are the agent's analysis frames, which the comparison's analysis (a study's,
keyed by agent) stacks. So the comparison's `doit` completes every agent, a second one runs nothing, and an
agent added to the spec runs only its own tasks and the comparison's aggregates.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from doit import get_var
from doit.exceptions import TaskFailed

from . import kinds
from .analysis import frames
from .spec import Experiment, Study

KIND = "agents"
KIND_DOC = "one agent's whole experiment, completed by its own `doit` in <name>/ (paid calls happen there)"
# the command-line variables an agent's `doit` inherits from the comparison's
PASSED_VARS = ("rejudge", "over_budget", "executor")
STATUS_TIMEOUT = 1800

# the agents' own `doit status` reports, as this process last read them (the comparison's status shows them)
last_status: dict[str, dict] = {}


def doit_command(exp: Experiment, command: str, *args: str) -> list[str]:
    """`doit COMMAND ARGS` on one agent's experiment of the comparison (by the `scylla` command: doit's
    engine, no dodo.py), with the variables the comparison got."""
    passed = [f"{v}={value}" for v in PASSED_VARS if (value := get_var(v))]
    return [sys.executable, "-m", "scylla", command, *args, f"exp={exp.spec_path}", f"agent={exp.id}", *passed]


def agent_status(exp: Experiment) -> dict | None:
    """The agent's experiment's `doit status --json` (None when it could not say: then it runs)."""
    try:
        done = subprocess.run(doit_command(exp, "status", "--json"), capture_output=True, text=True,
                              timeout=STATUS_TIMEOUT, check=False)
        rep = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    if isinstance(rep, dict):
        last_status[exp.id] = rep
        return rep
    return None


def complete(exp: Experiment) -> bool:
    """Whether the agent's own `doit` would run nothing (doit's uptodate item of its task)."""
    rep = agent_status(exp)
    return rep is not None and not any(rep.get(k) for k in ("to_run", "may_run", "blocked", "refused"))


def run_agent(exp: Experiment, jobs: int):
    """Complete one agent's experiment with its own `doit -n jobs`: its progress on stderr, each task it
    ran on stdout as `<name>: .  <task>`. A failure of its `doit` fails this task (what failed is above)."""
    command = doit_command(exp, "run", "-n", str(jobs))
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1) as proc:
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                sys.stdout.write(f"{exp.id}: {line}")
                sys.stdout.flush()
            code = proc.wait()
        except BaseException:           # the comparison's doit is stopped: so is the agent's
            proc.terminate()
            proc.wait()
            raise
    if code != 0:
        return TaskFailed(f"agent {exp.id}: its `doit` ended with exit code {code} (its output above says why; "
                          f"`doit status exp={exp.spec_path} agent={exp.id}` shows its state)")
    return None


def tasks(study: Study, root: Path):
    """One task per agent of the comparison (`root`: the comparison's, doit's working directory)."""
    yield {"basename": KIND, "name": None, "doc": KIND_DOC, "uptodate": [True]}
    for exp in study.experiments:
        data_dir = str(Path(exp.root / frames.DATA_DIR).relative_to(root))
        yield {"basename": KIND, "name": exp.id, "actions": [(run_agent, (exp, exp.limits.agents or 1))],
               "targets": frames.paths(data_dir), "uptodate": [(complete, (exp,))], "verbosity": 2,
               "doc": f"agent {exp.id}: {exp.agent.adapter} {exp.agent.model}, its experiment in {exp.id}/",
               "meta": {"id": kinds.TaskId(f"{KIND}:{exp.id}", KIND)}}


def statuses(study: Study) -> dict[str, dict]:
    """Each agent of the comparison with its own `doit status` report as this process read it (None: not
    read, or it could not say)."""
    return {e.id: {"adapter": e.agent.adapter, "model": e.agent.model, "status": last_status.get(e.id)}
            for e in study.experiments}


def render(agents: dict[str, dict]) -> list[str]:
    """The status lines of each agent (`statuses`)."""
    lines = ["Agents (each its own experiment; `doit status exp=SPEC agent=NAME` shows one in full):"]
    for name, agent in agents.items():
        rep, head = agent["status"], f"  {name:<12} {agent['adapter']} {agent['model']}"
        if rep is None:
            lines.append(f"{head}: its status could not be read (its `doit` will say why)")
            continue
        runs, cost = rep.get("runs") or {}, (rep.get("forecast") or {}).get("cost_usd") or 0
        todo = ", ".join(f"{k} {n}" for k, n in sorted((rep.get("to_run_by_kind") or {}).items()))
        lines.append(f"{head}: runs complete {runs.get('complete', 0)}/{runs.get('expected', 0)}"
                     + (f"; next doit runs {todo} (forecast ${cost:.2f})" if todo else "; nothing to run")
                     + (f"; ✗ {len(rep['preflight'])} preflight problem(s)" if rep.get("preflight") else ""))
    return lines + [""]
