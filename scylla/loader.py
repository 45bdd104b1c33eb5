"""What dodo.py calls: the experiment named by `doit exp=PATH` loaded, doit's working directory moved to
its root, and the task creator doit asks for the tasks (graph.tasks). Once doit names its command, the
run-time context of this invocation (context.py: stat caches, whether the DB is written) and, for a
command that writes, the experiment lock, the budget and the run plan (begin)."""

from __future__ import annotations

import gc
import os
import signal
import sys
from pathlib import Path

from doit import get_var
from doit import loader as doit_loader
from doit.exceptions import InvalidDodoFile

from . import (
    cluster,
    comparison,
    context,
    doit_plugins,
    durable,
    graph,
    progress,
    reaper,
    runplan,
    shards,
    tree,
)
from .analysis import frames
from .spec import (
    Experiment,
    SpecError,
    Study,
    is_comparison,
    is_study,
    load_comparison,
    load_experiment,
)
from .spec import load_study as read_study

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
    """load() as the command line's variables ask (`exp=`, `rejudge=`, `over_budget=`, `shard=`): what every
    dodo.py (through scylla/dodo.py) and the `scylla` command call."""
    return load(get_var("exp") or default_spec(), rejudge=get_var("rejudge"), over_budget=get_var("over_budget"),
                agent=get_var("agent"), executor=get_var("executor"), shard=get_var("shard"))


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in ("1", "true", "yes", "on")


def _enter_tree(root: Path) -> None:
    """Make doit's working directory the experiment root (before doit opens its DB there, relative to it).
    A root not made yet is made empty: status, list and info write nothing else (a read-only tree reads as
    it is), a command that writes makes the state directory once doit says which command runs (begin)."""
    try:
        Path(root).mkdir(parents=True, exist_ok=True)
        os.chdir(root)
    except OSError as exc:
        raise InvalidDodoFile(_unwritable(root, exc)) from None


def _unwritable(root: Path, exc: OSError) -> str:
    return durable.space_failure(exc) if durable.out_of_space(exc) else durable.unwritable_message(root, exc)


def begin(exp: Experiment, command, over_budget: bool, executor: str | None = None) -> context.RunContext:
    """Once doit names the command (doit_plugins: the namespace loader): this process's run-time context,
    and, for a command that writes, what writing needs (start_writing). Then doit's DB is opened as the
    context says."""
    ctx = context.install(context.for_command(command, Path(exp.root).resolve(), exp.runs_dir))
    try:
        ctx.executor = cluster.address(executor or exp.executor)
        if ctx.executor and command.execute_tasks:      # (said now, not by every task that would use it)
            cluster.client(ctx.executor)
    except cluster.ExecutorError as exc:
        raise InvalidDodoFile(f"invalid experiment input: {exc}") from None
    if ctx.writes:
        start_writing(exp, ctx, over_budget)
    backend = getattr(getattr(command, "dep_manager", None), "backend", None)
    if isinstance(backend, doit_plugins.DurableSqliteDB):
        backend.open()
    return ctx


def start_writing(exp: Experiment, ctx: context.RunContext, over_budget: bool) -> None:
    """The state directory, the experiment lock, the budget, the run plan (the gate of paid calls) and
    the reaper of whatever this process starts, for a process that may execute tasks."""
    try:
        Path(tree.STATE_DIR).mkdir(exist_ok=True)
        durable.hold_experiment_lock(tree.RUN_LOCK)
    except durable.ArtifactError as exc:
        raise InvalidDodoFile(str(exc)) from None
    except OSError as exc:          # (the first write of a `doit`)
        raise InvalidDodoFile(_unwritable(exp.root, exc)) from None
    ctx.budget_of, ctx.over_budget = exp, over_budget
    ctx.run_plan = runplan.RunPlan(exp)
    ctx.paid_due = ctx.run_plan.paid_task_due
    reaper.start()


def load_study(study: Study) -> dict:
    """What dodo.py exports for a study: its analysis tasks over the experiments' frames, which must be
    built first (each experiment's own `doit`): a study never runs an experiment's tasks. A comparison of
    agents does: a task per agent completes its experiment (scylla/comparison.py)."""
    missing = [e for e in study.experiments if not study.runs_experiments
               and not (e.root / frames.DATA_DIR / "runs.csv").is_file()]
    if missing:
        raise InvalidDodoFile(
            f"invalid study input: {study.spec_path}: " + "; ".join(
                f"experiment {e.id} has no analysis frames yet ({e.root / frames.DATA_DIR}/runs.csv): complete it "
                f"with `scylla run {e.spec_path}` (or `... 'analysis:*'` for what it has)" for e in missing))
    _enter_tree(study.root)

    def task_scylla():
        if study.runs_experiments:
            yield from doit_plugins.tasks_from_dicts(comparison.tasks(study, study.root))
        yield from doit_plugins.tasks_from_dicts(graph.study_tasks(study))
    task_scylla.__doc__ = f"{'comparison' if study.runs_experiments else 'study'} {study.id}"

    def begin_study(command) -> context.RunContext:
        ctx = context.install(context.for_command(command, Path(study.root).resolve(), "."))
        if ctx.writes:
            Path(tree.STATE_DIR).mkdir(exist_ok=True)
            durable.hold_experiment_lock(tree.RUN_LOCK)
        backend = getattr(getattr(command, "dep_manager", None), "backend", None)
        if isinstance(backend, doit_plugins.DurableSqliteDB):
            backend.open()
        return ctx

    return {"DOIT_CONFIG": _doit_config(), "SCYLLA_BEGIN": begin_study, "task_scylla": task_scylla, "STUDY": study}


def _doit_config() -> dict:
    # executed-only on stdout (10,000 "-- up to date" lines would bury what actually ran), plus progress
    # on stderr (scylla/progress.py)
    return {"dep_file": tree.DB_FILE, "backend": "scylla", "check_file_uptodate": doit_plugins.MD5Checker,
            "verbosity": 1, "reporter": progress.ProgressReporter}


def load(spec_arg: str | None, rejudge: str | None = None, over_budget: str | None = None,
         agent: str | None = None, executor: str | None = None, shard: str | None = None) -> dict:
    """Everything dodo.py exports: DOIT_CONFIG, the task creator, and SCYLLA_BEGIN (called by doit_plugins
    with doit's command before the tasks are made).

    doit's working directory becomes the experiment root, so every path doit stores is relative
    to it and the tree (with its .scylla/ DB) can move without going stale. `over_budget=1` lets
    paid work start although it exceeds the spec's budget_usd (budget.py). `agent=NAME`: of a spec naming
    several agents, that agent's experiment alone (else the comparison of them all). `executor=`: where
    the heavy work runs (`local`, or a Dask scheduler: remote.py). `shard=i/N`: only shard i's runs, as
    default tasks (shards.py)."""
    try:
        one = shards.parse(shard)
        path = _resolve_spec(spec_arg)
        if is_study(path) or (agent is None and is_comparison(path)):
            if one is not None:
                raise SpecError(f"{path}: shard= splits one experiment's runs, and a study or comparison runs "
                                f"none of its own: shard each experiment (agent=NAME for one agent of a spec)")
            return load_study(read_study(path) if is_study(path) else load_comparison(path))
        exp = load_experiment(path, agent)
    except SpecError as exc:          # a user error: doit prints it without a traceback
        raise InvalidDodoFile(f"invalid experiment input: {exc}") from None
    except shards.ShardError as exc:
        raise InvalidDodoFile(str(exc)) from None
    _enter_tree(exp.root)
    share = one and shards.plan(exp, one, Path.cwd())
    if share and (note := share.note()):
        print(note, file=sys.stderr, flush=True)
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
            made = graph.tasks(exp, rejudge)
            yield from doit_plugins.tasks_from_dicts(shards.guard(made, share) if share else made)
        finally:
            doit_plugins.collect_garbage_on_a_timer()
    task_scylla.__doc__ = f"experiment {exp.id}"

    return {
        "OVER_BUDGET": _flag(over_budget),
        "DOIT_CONFIG": {**_doit_config(), **({"default_tasks": share.default_tasks} if share else {})},
        "SCYLLA_BEGIN": lambda command: begin(exp, command, _flag(over_budget), executor),
        "task_scylla": task_scylla,
        "EXPERIMENT": exp,
    }
