"""What dodo.py calls: the experiment named by `doit exp=PATH` loaded, doit's working directory moved to
its root, the run-time state of this invocation set (stat caches, the experiment lock, the budget, the
run plan), and the task creator doit asks for the tasks (graph.tasks)."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path

from doit import get_var
from doit import loader as doit_loader
from doit.exceptions import InvalidDodoFile

from . import actions, budget, doit_plugins, durable, graph, progress, reaper, runplan, tree
from .spec import SpecError, load_experiment

DEFAULT_SPEC = "examples/hello/experiment.yaml"


def _resolve_spec(arg: str | None) -> Path:
    """`exp=` is read relative to where doit was started, then to the dodo's directory."""
    from doit import loader
    spec = Path(arg or DEFAULT_SPEC).expanduser()
    if spec.is_absolute():
        return spec
    started = Path(getattr(loader, "initial_workdir", None) or os.getcwd())
    return started / spec if (started / spec).exists() else Path.cwd() / spec


def default_spec() -> str:
    """The experiment a dodo runs without `exp=`: experiment.yaml in the dodo's directory (doit's working
    directory while it imports the dodo), else in the directory doit started from, else examples/hello."""
    for here in (os.getcwd(), doit_loader.initial_workdir):
        if here and Path(here, "experiment.yaml").is_file():
            return str(Path(here, "experiment.yaml"))
    return DEFAULT_SPEC


def load_from_command_line() -> dict:
    """load() as the command line's variables ask (`exp=`, `rejudge=`, `over_budget=`): what every dodo.py
    (through scylla/dodo.py) and the `scylla` command call."""
    return load(get_var("exp") or default_spec(), rejudge=get_var("rejudge"), over_budget=get_var("over_budget"))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


READ_ONLY_COMMANDS = {"list", "info", "help", "dumpdb", "tabcompletion", "status"}


def _command_executes_tasks(argv: list[str]) -> bool:
    """Whether this doit invocation may execute tasks or write the DB (anything but list/info/help)."""
    args = iter(argv)
    for arg in args:
        if arg in ("-f", "--file", "-d", "--dir"):
            next(args, None)
        elif not arg.startswith("-") and "=" not in arg:
            return arg not in READ_ONLY_COMMANDS
    return True


def _enter_tree(root: Path, executes: bool) -> None:
    """Make doit's working directory the experiment root. Only a command that executes tasks makes the
    tree's state directory: status, list and info write nothing (a read-only tree reads as it is)."""
    try:
        if executes:
            Path(root, tree.STATE_DIR).mkdir(parents=True, exist_ok=True)
        elif not Path(root).is_dir():
            try:
                Path(root).mkdir(parents=True)
            except OSError as exc:
                raise InvalidDodoFile(f"{root}: the experiment has no results yet, and its directory cannot be "
                                      f"made ({exc.strerror}): nothing to show") from None
        os.chdir(root)
    except OSError as exc:
        raise InvalidDodoFile(_unwritable(root, exc)) from None


def _unwritable(root: Path, exc: OSError) -> str:
    return durable.space_failure(exc) if durable.out_of_space(exc) else durable.unwritable_message(root, exc)


def load(spec_arg: str | None, rejudge: str | None = None, over_budget: str | None = None) -> dict:
    """Everything dodo.py exports: DOIT_CONFIG and the task creator.

    doit's working directory becomes the experiment root, so every path doit stores is relative
    to it and the tree (with its .scylla/ DB) can move without going stale. `over_budget=1` lets
    paid work start although it exceeds the spec's budget_usd (budget.py)."""
    try:
        exp = load_experiment(_resolve_spec(spec_arg))
    except SpecError as exc:          # a user error: doit prints it without a traceback
        raise InvalidDodoFile(f"invalid experiment input: {exc}") from None
    executes = _command_executes_tasks(sys.argv[1:])
    _enter_tree(exp.root, executes)
    actions.ROOT = Path(exp.root).resolve()
    tree.set_runs_dir(exp.runs_dir)
    if not executes:
        durable.STAT_CACHE = {}          # nothing writes during list/info: stat each file once
        doit_plugins.READ_ONLY = True
    if executes:
        durable.INPUT_STATS = {}
        try:
            durable.hold_experiment_lock(tree.RUN_LOCK)
        except durable.ArtifactError as exc:
            raise InvalidDodoFile(str(exc)) from None
        except OSError as exc:          # (the first write of a `doit`)
            raise InvalidDodoFile(_unwritable(exp.root, exc)) from None
        budget.configure(exp, override=_flag(over_budget))
        graph.Sealed.paid_due = runplan.begin(exp).paid_task_due
        reaper.start()
    # doit saves its DB on SystemExit but not when a signal kills it outright (CI timeouts), and
    # prints a traceback for a KeyboardInterrupt: both end doit as an exit that says it was interrupted
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, progress.interrupted)

    def task_scylla():
        # every task object lives until doit exits: the cyclic GC, which would walk them again and
        # again while they are made (a third of loading 10,000 tasks), is off meanwhile and then
        # collects on a timer only
        gc.disable()
        try:
            yield from doit_plugins.tasks_from_dicts(graph.tasks(exp, rejudge))
        finally:
            doit_plugins.collect_garbage_on_a_timer()
    task_scylla.__doc__ = f"experiment {exp.id}"

    return {
        "OVER_BUDGET": _flag(over_budget),
        # executed-only on stdout (10,000 "-- up to date" lines would bury what actually ran), plus
        # progress on stderr (scylla/progress.py)
        "DOIT_CONFIG": {"dep_file": tree.DB_FILE, "backend": "scylla",
                        "check_file_uptodate": doit_plugins.MD5Checker,
                        "verbosity": 1, "reporter": progress.ProgressReporter},
        "task_scylla": task_scylla,
        "EXPERIMENT": exp,
    }
