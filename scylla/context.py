"""The run-time context of one process: which doit command runs and the state that follows from it.

The loader builds it once from what doit says (the command object doit hands the task loader, its
`execute_tasks`), `scylla adopt` builds its own, and `install()` makes it the process's. Everything
else reads it (`context.CURRENT`) and never sets it: the modules hold no start-up state of their own.
The default (nothing installed) caches nothing and may write doit's DB: what unit tests, helper
scripts and `scylla adopt`'s own doit calls get.
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any


@dataclass
class RunContext:
    command: str = "none"          # the doit command (run, list, info, status, ...), or "adopt"
    writes: bool = True            # whether it executes tasks or writes doit's DB (run, forget, ...)
    root: Path | None = None       # the experiment root, absolute (doit's working directory)
    runs_dir: str = "."            # where run directories live, relative to the root (`..` when adopted)
    started: float = field(default_factory=time.time)   # when it loaded the experiment (workers inherit it)
    adopting: bool = False         # `scylla adopt` builds Scylla's files around adopted work: nothing paid
    # a read-only command (list, info, status) stats each file once: nothing writes meanwhile
    stat_cache: dict[str, os.stat_result | None] | None = None
    # while doit executes tasks: the stats its status checks take of task *inputs* (durable.input_stat)
    input_stats: dict[str, os.stat_result | None] | None = None
    # called with a paid task's name when its up-to-date check finds it due (runplan.RunPlan.paid_task_due)
    paid_due: Callable[[str], None] | None = None
    # for a process that may execute paid work (loader.start_writing): the experiment whose budget_usd
    # it enforces unless `over_budget=1`, and the plan of the run (progress totals, the budget's forecast)
    budget_of: Any = None
    over_budget: bool = False
    run_plan: Any = None
    leader: int = field(default_factory=os.getpid)      # doit's own process (its workers are forks of it)
    # the Dask scheduler this doit sends its heavy work to (`executor=`; None: it runs here) (remote.py)
    executor: str | None = None
    # in a Dask worker's child running a task (remote.py): the worker's copy of the fixture repository
    repo_mirror: Path | None = None

    @property
    def invocation(self) -> str:
        """This doit among all that ran the experiment (the budget ledger is one invocation's)."""
        return f"{self.leader}@{self.started}"

    @property
    def read_only(self) -> bool:
        """Nothing of this process reaches doit's DB (list, info, status, a forked planning child)."""
        return not self.writes

    @property
    def runs_prefix(self) -> str:
        return "" if self.runs_dir in ("", ".") else self.runs_dir.rstrip("/") + "/"

    @property
    def runs_depth(self) -> int:
        """How many levels above the root the runs directory starts (0, or 1 for `..` and `../completed`)."""
        ups = re.match(r"(\.\./)*", self.runs_prefix)
        assert ups is not None          # (the pattern matches the empty string too)
        return len(ups.group(0)) // 3


# doit's commands that neither execute tasks nor write its DB (`forget`, `ignore`, `clean` write it)
READ_ONLY_COMMANDS = frozenset({"list", "info", "help", "dumpdb", "tabcompletion", "status", "verify"})


def for_command(command, root: Path, runs_dir: str) -> RunContext:
    """The context of a doit command (the object doit hands its task loader) on the experiment at `root`."""
    writes = bool(command.execute_tasks) or command.name not in READ_ONLY_COMMANDS
    return RunContext(command=command.name, writes=writes, root=root, runs_dir=runs_dir,
                      stat_cache=None if writes else {}, input_stats={} if writes else None)


CURRENT = RunContext()


def install(ctx: RunContext) -> RunContext:
    global CURRENT
    CURRENT = ctx
    return ctx


@contextlib.contextmanager
def scoped(**changes) -> Iterator[RunContext]:
    """The current context with `changes` while the block runs (a dry run in a scratch directory, an
    adoption): restored afterwards."""
    before = CURRENT
    try:
        yield install(replace(before, **changes))
    finally:
        install(before)
