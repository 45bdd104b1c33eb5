"""Experiment -> doit task dicts. The only module that speaks doit's task language.

Cheap, deterministic tasks use ordinary `file_dep`/`targets` (doit's md5 check stops cascades at
byte-identical outputs). Expensive tasks (agent, judge, pipeline, baseline) are *sealed*: their
up-to-date check is the `Sealed` object below, which reads the seal written beside their outputs
instead of doit's DB, and their order comes from `task_dep`. So a lost or stale DB never makes
Scylla pay for a finished run or judgment again.
"""

from __future__ import annotations

import contextlib
import inspect
import os
from functools import lru_cache
from pathlib import Path

import orjson
from doit.exceptions import TaskFailed
from doit.tools import config_changed

from . import actions, adapters, doit_plugins, durable, pipeline, preflight, resources, tree
from .spec import Experiment
from .tree import RunPaths, SubtestPaths, TierPaths

GROUP_DOCS = {
    "subtest_config": "compose a subtest's resources: config_manifest.json + config/ files",
    "agent": "run the agent in a fresh checkout and capture its raw outputs (paid, sealed)",
    "agent_result": "derive agent/result.json from the raw captures",
    "pipeline": "build/test pipeline on the re-created workspace (sealed)",
    "judge_prompt": "assemble judge_prompt.md from the run's evidence",
    "judge": "one judge slot's call on one run: its raw reply and call record (paid, sealed)",
    "judgment": "judgment.json from a judge's raw reply (no call: a lost judgment is rebuilt free)",
    "consensus": "combine the valid judgments of a run",
    "run": "run_result.json and the run report",
    "subtest": "aggregate a subtest's runs",
    "tier": "aggregate a tier; pick its best subtest",
}


class Sealed:
    """doit `uptodate` item of an expensive task: true while its seal covers the current inputs
    and configuration. Its text (shown by `doit info`) says why the task would run."""

    # doit inspects every uptodate callable's signature; a fixed one saves ~0.1 ms per sealed task
    __signature__ = inspect.Signature()
    # called with the task's name when a paid task turns out to be due (set by load() when doit runs
    # tasks: the budget gate and the progress totals start there, runplan.py)
    paid_due = None

    def __init__(self, task: str, out_dir: str, inputs: list[str], config: str, retry_invalid: bool = False,
                 paid: bool = False, adopted_config: str | None = None):
        self.task, self.out_dir, self.inputs, self.config = task, out_dir, inputs, config
        self.retry_invalid, self.paid = retry_invalid, paid
        self.adopted_config = adopted_config or config
        self.reason = "not checked yet"

    def config_for(self, seal: dict | None) -> str:
        """The configuration digest `seal` must record. Adopted work is compared without the toolchain:
        another tool ran it with its own, unrecorded, and it cannot run again (its workspace is gone)."""
        return self.adopted_config if seal and seal.get("adopted_from") else self.config

    def __call__(self) -> bool:
        try:
            seal = durable.read_seal(self.out_dir)
        except durable.ArtifactError as exc:
            self.reason = str(exc)
            return False
        self.reason = durable.seal_mismatch(seal, self.task, self.config_for(seal), self.inputs,
                                            durable.input_stat)
        if self.reason is None and not self.paid and (damaged := durable.damaged_outputs(self.out_dir, seal)):
            # a free sealed task (pipeline, baseline) rebuilds a damaged output; a paid one never does
            self.reason = f"output changed since it was sealed: {', '.join(damaged)}"
        if seal is not None and self.reason and _lost_input(self.reason):
            # a lost input (a raw capture of finished paid work, missing or damaged): nothing runs over
            # it, and its outputs stay as they are (plan.py lists it as lost)
            self.reason = f"{self.reason} (kept: nothing runs over a lost input)"
            return True
        if self.reason is None and self.retry_invalid and invalid_judgment(self.out_dir):
            self.reason = "invalid judgment, re-judging on request (rejudge=invalid)"
        if self.reason is not None and self.paid and Sealed.paid_due:
            Sealed.paid_due(self.task)
        return self.reason is None

    def __str__(self) -> str:
        return f"sealed {self.out_dir}: {self.reason}"

    __repr__ = __str__


INTACT = "intact"      # the task's saved doit value: target -> "size:mtime_ns:md5" as the task wrote it


class Intact:
    """doit `uptodate` item of a derived file that must be rebuilt, not passed on, when its bytes are
    damaged (doit itself only checks that a target exists): false when a target is no longer the bytes
    its task wrote (truncated, overwritten, replaced by invalid JSON). cheap_action records them."""

    __signature__ = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                       for n in ("task", "values")])

    def __init__(self):
        self.reason = "not checked yet"

    def __call__(self, task, values) -> bool | None:
        recorded = values.get(INTACT)
        if not recorded:
            return None             # written before this record existed, or adopted: doit's checks decide
        for path, record in recorded.items():
            if durable.stat(path) is not None and not durable.output_intact(path, record):
                self.reason = f"damaged target: {path} (not the bytes its task wrote; rebuilt from its inputs)"
                return False
        return True                 # (a missing target: doit's own check)

    def __str__(self) -> str:
        return f"intact targets: {self.reason}"

    __repr__ = __str__


def invalid_judgment(judge_dir: str) -> bool:
    """Whether a judge slot's judgment is invalid: as judgment.json records it, else (judgment.json lost
    or damaged, to be rebuilt from the reply) as the call recorded it."""
    for name, invalid in (("judgment.json", lambda j: j.get("is_valid", True) is False),
                          (tree.JUDGE_CALL, lambda c: c.get("retries_exhausted") is True)):
        with contextlib.suppress(durable.ArtifactError):
            return invalid(durable.read_json_object(f"{judge_dir}/{name}"))
    return False


def _lost_input(reason: str) -> bool:
    if reason.startswith(durable.INPUT_MISSING):
        return True
    return reason.startswith(durable.INPUT_CHANGED) and \
        durable.damaged_capture(reason.removeprefix(durable.INPUT_CHANGED).strip())


@lru_cache(maxsize=None)
def _digest(config_json: bytes) -> str:
    return durable.config_digest(orjson.loads(config_json))


def _sealed_task(basename: str, name: str, action, args: tuple, out_dir: str, inputs: list[str],
                 config: dict, targets: list[str], task_dep: list[str], retry_invalid: bool = False,
                 paid: bool = False, toolchain: dict | None = None, **extra) -> dict:
    """A sealed task's targets are its seal plus `targets`. Paid tasks (agent, judge) declare only the
    seal: doit re-runs a task whose target is missing, and a deleted log must never buy a second agent
    run (tasks that need it fail naming the file; delete the seal to pay for a new run on purpose).
    `toolchain`: the versions of the tools it runs, part of its configuration (not of adopted work's)."""
    task = f"{basename}:{name}" if name else basename
    # thousands of tasks share a handful of configurations (the agent, each judge slot): digest each once
    adopted = _digest(orjson.dumps(config, option=orjson.OPT_SORT_KEYS, default=str))
    if toolchain is not None:
        config = {**config, "toolchain": toolchain}
    digest = _digest(orjson.dumps(config, option=orjson.OPT_SORT_KEYS, default=str))
    return {
        "basename": basename, **({"name": name} if name else {}),
        "actions": [(space_checked, (action, *args, task, inputs, digest))],
        "targets": targets + [f"{out_dir}/{durable.SEAL_NAME}"],
        "task_dep": task_dep,
        "uptodate": [Sealed(task, out_dir, inputs, digest, retry_invalid, paid, adopted)],
        "meta": {"sealed": out_dir, "config": config},
        "verbosity": 1, **extra,
    }


def cheap_action(action, inputs, *args, intact: tuple[str, ...] = ()):
    """The action of every cheap task (and only of those: plan.py dry-runs these, never a paid one).
    One whose input is a lost raw capture fails as LostInput: it did not run, so `doit` goes on.
    With `intact`, it records those targets' fingerprints for the task's Intact check."""
    if lost := [p for p in inputs if durable.unusable_capture(p)]:
        return doit_plugins.LostInput(f"input lost: {', '.join(lost)} (a raw capture of finished paid work, "
                                      f"missing or damaged; `doit status` says how to re-buy it)")
    with durable.rebuildable():
        result = space_checked(action, *args)
    return intact_values(intact) if intact and result is None else result


def space_checked(action, *args):
    """Every task's action runs through this: a full disk fails the task in one line naming the file and
    the space (durable.space_failure), not a traceback."""
    try:
        return action(*args)
    except OSError as exc:
        if not durable.out_of_space(exc):
            raise
        return TaskFailed(durable.space_failure(exc))


def intact_values(targets) -> dict:
    """The doit values an Intact check compares a task's targets with (their bytes as written now)."""
    return {INTACT: {p: durable.output_record(p) for p in targets if durable.stat(p) is not None}}


def _cheap(basename: str, name: str | None, action, args: tuple, file_dep: list[str], targets: list[str],
           **extra) -> dict:
    """A derived-file task: ordinary doit file_dep/targets; its writes skip fsync (doit rebuilds them),
    and a damaged target is rebuilt too (Intact), not only a missing one."""
    extra["uptodate"] = [*extra.get("uptodate", ()), Intact()]
    return {"basename": basename, **({"name": name} if name else {}),
            "actions": [(cheap_action, (action, file_dep, *args), {"intact": tuple(targets)})],
            "file_dep": file_dep, "targets": targets, "verbosity": 1, **extra}


def _timed(result: str) -> dict:
    """`result` holds the summed durations of the agent and judge calls beneath it: a new call (a new
    measurement) changes its bytes, which plan.py counts on to predict the aggregates that will re-run."""
    return {"timed": result}


def _rel(path: Path) -> str:
    """Inputs outside the tree are named relative to the experiment root (relocatable DB keys)."""
    return os.path.relpath(path, Path.cwd()).replace(os.sep, "/")


# ---------------------------------------------------------------- tasks

def tasks(exp: Experiment, rejudge: str | None = None):
    retry_invalid = rejudge == "invalid"
    for basename, doc in GROUP_DOCS.items():
        # a group only gathers its subtasks (which doit checks on their own): never "R" in `doit list --status`
        yield {"basename": basename, "name": None, "doc": doc, "uptodate": [True]}
    fx = exp.fixture
    # not a cheap_action: plan.py never dry-runs it (it starts the CLIs to read their versions)
    yield {"basename": preflight.TASK, "actions": [(space_checked, (actions.check_preflight, exp))],
           "targets": [tree.PREFLIGHT], "verbosity": 1,
           "uptodate": [config_changed(preflight.facts(exp)), preflight.clean],
           "doc": "check what would make paid work fail (CLIs, keys, repository, resources, tools)"}
    yield _cheap("setup", None, actions.setup, (exp,),
                 [_rel(p) for p in (exp.spec_path, fx.test_yaml, fx.prompt, fx.rubric_path, fx.criteria)],
                 [tree.EXPERIMENT_JSON, tree.PROMPT, tree.RUBRIC, tree.CRITERIA, tree.JUDGE_SYSTEM_PROMPT],
                 doc="copy the spec, prompt, rubric and criteria into config/",
                 uptodate=[config_changed(actions.system_prompt_source().decode())])
    toolchain = pipeline.toolchain(fx.language)     # (once: it reads installed distributions' metadata)
    yield _sealed_task("baseline", None, actions.baseline, (exp,), tree.BASELINE_DIR, [], pipeline.identity(fx),
                       [tree.BASELINE], [preflight.TASK], toolchain=toolchain,
                       doc="build/test pipeline on the untouched repository (sealed)")
    for s in exp.all_subtests():
        yield _subtest_config(exp, s)
        for n in range(1, exp.runs + 1):
            yield from _run_tasks(exp, RunPaths(s.tier, s.id, n), retry_invalid, toolchain)
        sp = SubtestPaths(s.tier, s.id)
        yield _cheap("subtest", sp.dir, actions.subtest, (exp, sp),
                     [sp.run(n).run_result for n in range(1, exp.runs + 1)], [sp.result] + sp.reports(),
                     meta=_timed(sp.result))
    for t in exp.tiers:
        yield _cheap("tier", t, actions.tier, (exp, t),
                     [SubtestPaths(t, s.id).result for s in exp.subtests[t]], TierPaths(t).outputs(),
                     meta=_timed(TierPaths(t).result))
    yield _cheap("experiment", None, actions.experiment, (exp,),
                 [TierPaths(t).result for t in exp.tiers] + [tree.EXPERIMENT_JSON], list(tree.EXPERIMENT_OUTPUTS),
                 doc="experiment result, tier comparison and reports", meta=_timed(tree.EXPERIMENT_RESULT))


def _subtest_config(exp: Experiment, s) -> dict:
    sp = SubtestPaths(s.tier, s.id)
    deps = [_rel(p) for p in resources.source_files(exp.tiers_dir, s)]
    for parent in exp.parent_tiers(s):
        deps.append(TierPaths(parent).best)
        deps += [SubtestPaths(parent, p.id).manifest for p in exp.subtests[parent]]
    return _cheap("subtest_config", sp.dir, actions.subtest_config, (exp, s), deps, [sp.manifest])


def _run_tasks(exp: Experiment, run: RunPaths, retry_invalid: bool, toolchain: dict):
    sp, rid = run.subtest_paths, run.id
    yield _sealed_task("agent", rid, actions.agent, (exp, run), run.agent_dir, [tree.PROMPT, sp.manifest],
                       exp.agent.identity(exp.fixture), [], [preflight.TASK, "setup", f"subtest_config:{sp.dir}"],
                       paid=adapters.agent(exp.agent.adapter).paid)
    yield _cheap("agent_result", rid, actions.agent_result, (run,),
                 [run.agent(f) for f in ("stdout.log", "stderr.log", "command_log.json")], [run.agent_result],
                 task_dep=[f"agent:{rid}"])
    yield _sealed_task("pipeline", rid, actions.run_pipeline, (exp, run), run.commands_dir,
                       [run.agent("patch.diff"), sp.manifest], pipeline.identity(exp.fixture), [run.pipeline],
                       [f"agent:{rid}"], toolchain=toolchain)
    evidence = [tree.PROMPT, tree.RUBRIC, tree.CRITERIA, run.agent("output.txt"), run.agent("patch.diff"),
                run.agent("workspace_state.json"), run.pipeline, tree.BASELINE]
    yield _cheap("judge_prompt", rid, actions.judge_prompt, (run,), evidence, [run.judge_prompt],
                 task_dep=[f"agent:{rid}", f"pipeline:{rid}", "baseline"])
    for slot in exp.judges:
        inputs = [run.judge_prompt, tree.JUDGE_SYSTEM_PROMPT, *adapters.judge(slot.adapter).inputs(run)]
        judge = f"{rid}/{slot.name}"
        yield _sealed_task("judge", judge, actions.judge, (exp, run, slot.number),
                           run.judge_dir(slot.number), sorted(set(inputs)), slot.identity(),
                           [], [preflight.TASK, f"judge_prompt:{rid}"], retry_invalid,   # which waits for the rest
                           paid=slot.paid)
        # the rubric gives the pass threshold of a reply that states none
        yield _cheap("judgment", judge, actions.judgment, (exp, run, slot.number),
                     [run.judge(slot.number, f) for f in ("response.txt", tree.JUDGE_CALL)] + [tree.RUBRIC],
                     [run.judge(slot.number, "judgment.json")], task_dep=[f"judge:{judge}"])
    judgments = [run.judge(j.number, "judgment.json") for j in exp.judges]
    yield _cheap("consensus", rid, actions.consensus, (exp, run), judgments, [run.consensus])
    yield _cheap("run", rid, actions.run_result, (exp, run),
                 [run.agent_result, run.agent("timing.json"), run.consensus] + judgments
                 + [run.judge(j.number, "timing.json") for j in exp.judges],
                 [run.run_result] + run.reports(), meta=_timed(run.run_result))
