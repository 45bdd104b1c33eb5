"""The plan of the `doit` in progress: computed once, only when needed, in a forked child.

Two users: the progress reporter (totals and ETA) and the budget gate (spent + forecast against
`budget_usd` before the first agent or judge call). A `doit` with nothing to do never computes it: it
starts when the first agent or judge task is due (its up-to-date check in kinds.Sealed failed) or when
cheap tasks have been running for LONG_RUN seconds under a progress bar (a terminal). It runs in a
forked child so that the run does not wait for it (except the budget gate, which must) and so that
its dry runs (plan.py, which change the working directory) never disturb doit's worker threads. The
child writes nothing but its scratch directory, made only if a dry run needs it and removed by the
child when done (or by the parent when it stops the child early).
"""

from __future__ import annotations

import dataclasses
import gc
import json
import os
import secrets
import select
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter, defaultdict

from . import budget, context, reaper, records

LONG_RUN = 5.0
NICE = 10               # the child's priority below the run's when it computes progress totals only
GATE_WAIT = 300.0       # the budget gate gives up on the plan after this long (then: spent only, no forecast)


def summary(tasks: dict, selected: list[str], exp, executed: set[str], scratch: str) -> records.RunPlanSummary:
    """What the run will execute per kind (counting tasks it already executed), the forecast of its paid
    calls, seconds per call, and what the experiment's results cost so far."""
    # (imported here, in the forked child only: a doit that never needs its plan never loads the planner)
    from doit.globals import Globals

    from .forecast import forecast
    from .plan import Plan
    context.install(dataclasses.replace(context.CURRENT, writes=False))   # (a copy: nothing of it reaches the DB)
    plan = Plan(tasks, Globals.dep_manager, selected, scratch=scratch)
    fc = forecast(plan, exp, list(plan.verdicts))
    to_run = set(plan.names("to_run"))
    seconds: defaultdict[str, float] = defaultdict(float)
    calls: Counter[str] = Counter()
    for row, r in fc["rows"].items():
        kind = "agent" if row == "agent" else "judge"
        seconds[kind] += r["seconds"] + r["may_seconds"]
        calls[kind] += (r["to_run"] + r["may_run"]) if not r["untimed"] else 0
    return {"to_run": Counter(plan.id(n).kind for n in to_run | (executed & set(plan.verdicts))),
            "may_run": Counter(plan.id(n).kind for n in plan.names("may_run")),
            "forecast": {"cost_usd": fc["cost_usd"], "rows": fc["rows"]},
            "call_seconds": {k: seconds[k] / calls[k] for k in calls if calls[k]},
            "spent_usd": budget.spent(exp)}


class _Child:
    """summary() computed in a forked child; poll() returns it once it has arrived ({} if it failed)."""

    def __init__(self, tasks: dict, selected: list[str], exp, executed: set[str], urgent: bool = False):
        self.scratch = os.path.join(tempfile.gettempdir(), reaper.scratch_prefix("runplan") + secrets.token_hex(4))
        self.fd: int | None
        self.fd, write = os.pipe()
        leader = os.getpid()
        self.pid = os.fork()
        if self.pid == 0:                       # the child: compute (the plan removes its scratch), send, leave
            code = 1
            try:
                reaper.die_with(leader)
                os.close(self.fd)
                gc.disable()                    # it makes one summary and exits: collections would only slow it
                if not urgent:                  # nobody waits for it: the run's workers and agents come first
                    os.nice(NICE)
                data = json.dumps(summary(tasks, selected, exp, executed, self.scratch)).encode()
                while data:
                    data = data[os.write(write, data):]
                code = 0
            except Exception as exc:  # noqa: BLE001  (a forked child: the run goes on without totals or a forecast)
                print(f"scylla: the run plan failed ({exc!r}); no totals, no forecast", file=sys.stderr, flush=True)
            finally:
                os._exit(code)
        os.close(write)
        self.buf = b""
        self.result: records.RunPlanSummary | None = None

    def poll(self, timeout: float = 0) -> records.RunPlanSummary | None:
        while self.fd is not None and select.select([self.fd], [], [], timeout)[0]:
            chunk = os.read(self.fd, 1 << 16)
            if chunk:
                self.buf += chunk
                continue
            self._reap()
            try:
                self.result = json.loads(self.buf) if self.buf else {}
            except ValueError:
                self.result = {}
        return self.result

    def wait(self, limit: float) -> records.RunPlanSummary | None:
        deadline = time.monotonic() + limit
        while self.poll(timeout=1.0) is None and time.monotonic() < deadline:
            pass
        return self.result

    def stop(self) -> None:
        if self.fd is not None:
            try:
                os.kill(self.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self._reap()
        shutil.rmtree(self.scratch, ignore_errors=True)

    def _reap(self) -> None:
        assert self.fd is not None                  # (once: poll and stop reap an open pipe only)
        os.close(self.fd)
        self.fd = None
        try:
            os.waitpid(self.pid, 0)
        except ChildProcessError:
            pass


class RunPlan:
    """The plan of this doit (one per process that runs doit: see begin())."""

    def __init__(self, exp) -> None:
        self.exp = exp
        self.tasks: dict | None = None          # known once the reporter attaches
        self.selected: list[str] = []
        self.executed: dict = {}
        self.child: _Child | None = None
        self.decided = False

    def attach(self, tasks: dict, selected: list[str], executed: dict) -> None:
        """The reporter, as doit starts running: the tasks, the selection, the tasks it saw start."""
        self.stop()
        self.tasks, self.selected, self.executed = tasks, selected, executed
        self.child, self.decided = None, False

    def start(self, urgent: bool = False) -> None:
        """Fork the child that computes the plan; `urgent` when the budget gate is about to wait for it."""
        if self.child is None and self.tasks is not None:
            try:
                self.child = _Child(self.tasks, list(self.selected), self.exp, set(self.executed), urgent=urgent)
            except OSError as exc:
                print(f"scylla: no run plan (progress totals, budget forecast): {exc}", file=sys.stderr)

    def result(self) -> records.RunPlanSummary | None:
        return self.child.poll() if self.child else None

    def stop(self) -> None:
        """The run ended. Also lets go of doit's tasks: a task graph still reachable from a module when
        Python exits is torn down object by object (~0.5 s for 10,000 tasks)."""
        if self.child:
            self.child.stop()
        self.tasks, self.executed = None, {}

    def paid_task_due(self, task: str) -> None:
        """kinds.Sealed: a paid task is out of date. The first time, start the plan and, under a
        budget, decide whether paid work may start in this doit (the ledger tells the workers)."""
        self.start(urgent=budget.active() and not self.decided)
        if self.decided or not budget.active():
            return
        self.decided = True
        plan = self.child.wait(GATE_WAIT) if self.child else None
        if not plan:
            print("scylla: budget gate without a forecast (no run plan): only what was spent counts",
                  file=sys.stderr, flush=True)
            plan = {}
        forecast = plan.get("forecast") or {"cost_usd": 0.0, "rows": {}}
        spent = plan["spent_usd"] if "spent_usd" in plan else budget.spent(self.exp)
        decision = budget.decide(self.exp, spent, forecast, override=False)
        budget.open_ledger(decision, sum(row["to_run"] for row in forecast["rows"].values()))
        if reason := decision.refusal():
            print(f"scylla: {reason}. No agent or judge call starts in this doit.", file=sys.stderr, flush=True)

