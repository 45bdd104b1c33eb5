"""doit reporter: executed tasks on stdout as `executed-only` prints them, progress on stderr.

stdout keeps doit's `.  <task>` line per executed task and its failure reports, nothing else. stderr
gets the progress: done/total per kind, failures, spend so far and an ETA, as a live bar on a
terminal or as plain `[scylla] ...` lines otherwise (CI logs): one when the plan is known, one per
tenth of the work, at least every SCYLLA_PROGRESS_SECONDS (default 30) while tasks finish, one per
failure, and the final totals. SCYLLA_PROGRESS=bar|lines|off overrides the choice.

The totals come from the same plan as `doit status` (runplan.py): computed in a forked child when the
first agent or judge task is due (or, for the bar on a terminal, when cheap tasks run for LONG_RUN s),
so a `doit` with nothing or only derived files to do never computes it (in CI, a regeneration of
10,000 runs would otherwise share its 2 cores with a plan), and never waits for it. Until it arrives,
lines show what finished so far.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from collections import Counter, defaultdict

from doit.reporter import ExecutedOnlyReporter

from . import budget, context, preflight, records, remote, runplan
from .kinds import HEAVY_KINDS, KIND_ORDER, PAID_KINDS, task_id

PREFIX = "[scylla]"
INTERRUPTED: str | None = None      # the signal that ended this doit, if one did


def interrupted(signum, frame) -> None:
    """Signal handler of a doit: stop it as an exit (doit still saves its DB and reports), remembered
    so that the last line says it was interrupted; the status is 128 + the signal, as a shell's."""
    global INTERRUPTED
    INTERRUPTED = signal.Signals(signum).name
    if remote.enabled():            # its tasks on the cluster are cancelled, not left running unobserved
        remote.cancel_all()
    raise SystemExit(128 + signum)


def _clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressReporter(ExecutedOnlyReporter):
    desc = "executed tasks on stdout (like executed-only); progress, spend and ETA on stderr"

    def __init__(self, outstream, options) -> None:
        super().__init__(outstream, options)
        self.err = sys.stderr
        mode = os.environ.get("SCYLLA_PROGRESS", "").lower()
        tty = getattr(self.err, "isatty", lambda: False)()
        self.mode = mode if mode in ("bar", "lines", "off") else "bar" if tty else "lines"
        try:
            self.every = float(os.environ.get("SCYLLA_PROGRESS_SECONDS", "30"))
        except ValueError:
            self.every = 30.0
        self.t0 = self.last_line = self.last_bar = time.monotonic()
        self.started: dict[str, float] = {}
        # running totals per kind: a status line must not walk every task so far (quadratic at 10,000)
        self.finished: Counter[str] = Counter()
        self.begun: Counter[str] = Counter()
        self.seconds: defaultdict[str, float] = defaultdict(float)
        self.failed: list[str] = []
        self.ended: set[str] = set()
        self.uptodate, self.not_run, self.spent, self.decile = 0, 0, 0.0, 0
        self.refused: Counter[str] = Counter()
        self.run = context.CURRENT.run_plan     # None when doit was not started through loader.load
        self.plan: records.RunPlanSummary | None = None
        self.bar_shown = False

    # ------------------------------------------------------------ doit's reporter interface

    def initialize(self, tasks, selected_tasks):
        if self.run:
            self.run.attach(tasks, list(selected_tasks), self.started)

    def write(self, text):
        self._clear_bar()
        self.outstream.write(text)
        self.outstream.flush()

    def execute_task(self, task):
        super().execute_task(task)
        if task.actions:                        # group tasks only gather their subtasks
            self.started[task.name] = time.monotonic()
            self.begun[task_id(task).kind] += 1
            # a long cheap-only run gets totals only on a terminal: the plan costs a CPU for a while
            # (measured: regenerating 10,000 results took 7x longer beside it on 2 cores)
            if self.run and self.mode == "bar" and self.started[task.name] - self.t0 >= runplan.LONG_RUN:
                self.run.start()
            self._update()

    def add_success(self, task):
        if task.name in self.started:
            self._finished(task)
            self._add_spend(task)
            self._update()

    def add_failure(self, task, fail):
        refused = next((m for m in (budget.REFUSED, preflight.REFUSED) if m in fail.get_msg()), None)
        if not refused or not self.refused[refused]:    # one refusal of a kind is reported; the rest counted
            super().add_failure(task, fail)
        if task.name not in self.started:
            self.not_run += 1                   # a dependency failed, or an input is missing
            return
        self._finished(task)
        if refused:
            self.refused[refused] += 1
        else:
            self.failed.append(task.name)
        self._update(force_line=True)

    def skip_uptodate(self, task):
        self.uptodate += bool(task.actions)     # (group tasks are up to date by definition)

    def complete_run(self):
        self._clear_bar()
        super().complete_run()
        if self.run:
            self.run.stop()
        if self.mode != "off":
            self._line(self._final())

    # ------------------------------------------------------------ bookkeeping

    def _finished(self, task) -> None:
        self.ended.add(task.name)
        kind = task_id(task).kind
        self.finished[kind] += 1
        self.seconds[kind] += time.monotonic() - self.started.get(task.name, time.monotonic())

    def _add_spend(self, task) -> None:
        kind = task_id(task).kind
        if kind in PAID_KINDS and task.meta and task.meta.get("sealed"):
            self.spent += budget.finished_cost(kind, task.meta["sealed"]) or 0.0

    def _totals(self) -> dict[str, int]:
        """Per kind: the tasks the plan says will run, or more if more did (an input came out different)."""
        planned = (self.plan or {}).get("to_run", {})
        totals = {k: max(planned.get(k, 0), self.begun[k]) for k in KIND_ORDER}
        return {k: n for k, n in totals.items() if n}

    def _eta(self, totals: dict) -> float | None:
        if not self.plan:
            return None
        per_call = self.plan.get("call_seconds", {})
        left = sum(max(0, n - self.finished[k]) * (self.seconds[k] / self.finished[k] if self.finished[k]
                                                     else per_call.get(k, 0.0)) for k, n in totals.items())
        work, elapsed = sum(self.seconds.values()), time.monotonic() - self.t0
        return left * elapsed / work if work > 0 and elapsed > 0 else left

    # ------------------------------------------------------------ output

    def _status(self) -> tuple[str, float | None]:
        totals = self._totals()
        done, total = sum(self.finished.values()), sum(totals.values())
        eta = self._eta(totals)
        parts = [f"{done}/{total} tasks" if self.plan else f"{done} tasks done",
                 f"{len(self.failed)} failed", f"${self.spent:.2f} spent",
                 f"{_clock(time.monotonic() - self.t0)} elapsed"]
        if eta is not None and done < total:
            parts.append(f"ETA {_clock(eta)}")
        parts += [f"{k} {self.finished[k]}/{n}" for k, n in totals.items()]
        return " · ".join(parts), (done / total if total and self.plan else None)

    def _update(self, force_line: bool = False) -> None:
        if self.mode == "off":
            return
        if self.run and self.plan is None and (plan := self.run.result()) is not None:
            self.plan = plan
            if self.mode == "lines" and plan:
                self._line(self._plan_line(plan))
        text, frac = self._status()
        now = time.monotonic()
        if self.mode == "bar":
            if force_line or now - self.last_bar >= 0.1:
                self._draw_bar(text, frac)
            return
        decile = int((frac or 0) * 10)
        if force_line or decile > self.decile or now - self.last_line >= self.every:
            self.decile = max(self.decile, decile)
            self._line(text)

    def _plan_line(self, plan: records.RunPlanSummary) -> str:
        to_run, may = sum(plan["to_run"].values()), sum(plan["may_run"].values())
        paid = ", ".join(f"{plan['to_run'].get(k, 0)} {k}" for k in HEAVY_KINDS)
        return (f"plan: {to_run} tasks to run ({paid})" + (f", {may} more may run" if may else "")
                + f"; forecast {budget.money(plan['forecast']['cost_usd'])} (`doit status` for details)")

    def _final(self) -> str:
        ran = ", ".join(f"{k} {self.finished[k]}" for k in KIND_ORDER if self.finished[k])
        text = (f"finished in {_clock(time.monotonic() - self.t0)}: {sum(self.finished.values())} tasks ran"
                + (f" ({ran})" if ran else "") + f", {len(self.failed)} failed"
                + "".join(f", {n} {marker}" for marker, n in sorted(self.refused.items()))
                + (f", {self.not_run} not run (a dependency failed)" if self.not_run else "")
                + f", {self.uptodate} up to date"
                + f" · ${self.spent:.2f} spent on agents and judges")
        if self.failed:
            text += " · failed: " + ", ".join(self.failed[:5]) + (" ..." if len(self.failed) > 5 else "")
        if INTERRUPTED:
            stopped = sorted(set(self.started) - self.ended)
            text = (f"INTERRUPTED by {INTERRUPTED}: {len(stopped)} task(s) stopped mid-way"
                    + (f" ({', '.join(stopped[:5])}{' ...' if len(stopped) > 5 else ''})" if stopped else "")
                    + "; the next `doit` runs them again (finished agent runs and judgments are kept) · "
                    + text.replace("finished in", "ran for", 1))
        return text

    def _line(self, text: str) -> None:
        self._clear_bar()
        self.err.write(f"{PREFIX} {text}\n")
        self.err.flush()
        self.last_line = time.monotonic()

    def _draw_bar(self, text: str, frac: float | None) -> None:
        filled = int(20 * (frac or 0))
        bar = f"{PREFIX} [{'#' * filled}{'.' * (20 - filled)}] {text}"
        width = shutil.get_terminal_size((120, 20)).columns - 1
        self.err.write("\r\x1b[K" + bar[:width])
        self.err.flush()
        self.bar_shown, self.last_bar = True, time.monotonic()

    def _clear_bar(self) -> None:
        if self.bar_shown:
            self.err.write("\r\x1b[K")
            self.err.flush()
            self.bar_shown = False
