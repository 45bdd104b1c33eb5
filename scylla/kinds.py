"""The task-kind vocabulary: what kinds of task an experiment is made of, which of them are paid and
sealed, and the two ways a task is built and checked.

Cheap, deterministic tasks use ordinary `file_dep`/`targets` (doit's md5 check stops cascades at
byte-identical outputs). Expensive tasks (agent, judge, pipeline, baseline) are *sealed*: their
up-to-date check is the `Sealed` object below, which reads the seal written beside their outputs
instead of doit's DB, and their order comes from `task_dep`. So a lost or stale DB never makes
Scylla pay for a finished run or judgment again. Every task's kind, tier, subtest, run and judge slot
travel in its metadata (`TaskId`): nothing parses task names.
"""

from __future__ import annotations

import contextlib
import inspect
from functools import cache
from typing import NamedTuple

import orjson
from doit.dependency import UptodateCalculator
from doit.exceptions import TaskFailed

from . import context, doit_plugins, durable, records, tree

# the kinds of paid call (a judge slot may be free: the pipeline judge; its task's Sealed says so)
PAID_KINDS = ("agent", "judge")
# the kinds that run tools or models on a workspace (progress shows them, with their ETA)
HEAVY_KINDS = ("agent", "pipeline", "judge")
# every kind, in the order doit meets them (status's table rows, progress's totals)
KIND_ORDER = ("preflight", "setup", "baseline", "subtest_config", "agent", "agent_result", "pipeline", "judge_prompt",
              "judge", "judgment", "consensus", "run", "subtest", "tier", "experiment", "agents", "analysis")


class TaskId(NamedTuple):
    """What a task is about, carried in its metadata (task names mirror paths,
    `judge:T0/00/run_01/judge_02`, but nothing parses them)."""
    name: str
    kind: str
    tier: str | None = None
    subtest: str | None = None      # "T0/00"
    run: int | None = None
    slot: str | None = None         # "judge_02"

    @property
    def row(self) -> str:
        """The status table's row: the kind, or the judge slot for judges."""
        return self.slot or self.kind


def task_id(task) -> TaskId:
    """A doit Task's TaskId (a group task, which has none, is named after its kind)."""
    meta = task.meta
    return meta["id"] if meta and "id" in meta else TaskId(task.name, task.name)


def _name(basename: str, name: str | None) -> str:
    return f"{basename}:{name}" if name else basename


def _where(run=None, tier: str | None = None, subtest: str | None = None, slot: str | None = None) -> tuple:
    """(tier, subtest, run, slot) of a task about `run` (a tree.RunPaths) or a tier or subtest."""
    if run is not None:
        return run.tier, f"{run.tier}/{run.subtest}", run.number, slot
    return tier, subtest, None, slot


KIND_DOCS = {
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
    "analysis": "the analysis: data frames (analysis/data/), built per subtest, then per tier, then for the experiment; "
                "figures (analysis/figures/), the HTML report (analysis/report/)",
}


# doit inspects every uptodate callable's signature; a fixed one saves ~0.1 ms per task
_TASK_VALUES = inspect.Signature([inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD)
                                  for n in ("task", "values")])


class _SeesTasks(UptodateCalculator):
    """An uptodate item doit hands its task dict (setup), to look up the producers of the task's inputs
    (expect_written). It keeps no reference to doit's DB: tasks stay picklable for -P process workers."""

    def setup(self, dep_manager, tasks_dict) -> None:
        self.tasks_dict = tasks_dict


class Sealed(_SeesTasks):
    """doit `uptodate` item of an expensive task: true while its seal covers the current inputs
    and configuration. Its text (shown by `doit info`) says why the task would run."""

    __signature__ = _TASK_VALUES

    def __init__(self, task: str, out_dir: str, inputs: list[str], config: str, retry_invalid: bool = False,
                 paid: bool = False, adopted_config: str | None = None):
        self.task, self.out_dir, self.inputs, self.config = task, out_dir, inputs, config
        self.retry_invalid, self.paid = retry_invalid, paid
        self.adopted_config = adopted_config or config
        self.reason: str | None = "not checked yet"     # None: the seal covers the task
        super().__init__()

    def config_for(self, seal: dict | None) -> str:
        """The configuration digest `seal` must record. Adopted work is compared without the toolchain:
        another tool ran it with its own, unrecorded, and it cannot run again (its workspace is gone)."""
        return self.adopted_config if seal and seal.get("adopted_from") else self.config

    def __call__(self, task=None, values=None) -> bool:
        if task is not None:
            expect_written(task, self.inputs, self.tasks_dict)
        try:
            seal = durable.read_seal(self.out_dir)
        except durable.ArtifactError as exc:
            self.reason = str(exc)
            return False
        self.reason = durable.seal_mismatch(seal, self.task, self.config_for(seal), self.inputs,
                                            durable.input_stat)
        if self.reason is None and not self.paid and seal is not None and \
                (damaged := durable.damaged_outputs(self.out_dir, seal)):      # (no reason: there is a seal)
            # a free sealed task (pipeline, baseline) rebuilds a damaged output; a paid one never does
            self.reason = f"output changed since it was sealed: {', '.join(damaged)}"
        if seal is not None and self.reason and _lost_input(self.reason):
            # a lost input (a raw capture of finished paid work, missing or damaged): nothing runs over
            # it, and its outputs stay as they are (plan.py lists it as lost)
            self.reason = f"{self.reason} (kept: nothing runs over a lost input)"
            return True
        if self.reason is None and self.retry_invalid and invalid_judgment(self.out_dir):
            self.reason = "invalid judgment, re-judging on request (rejudge=invalid)"
        if self.reason is not None and self.paid and (paid_due := context.CURRENT.paid_due):
            paid_due(self.task)     # (the budget gate and the progress totals start there, runplan.py)
        return self.reason is None

    def __str__(self) -> str:
        return f"sealed {self.out_dir}: {self.reason}"

    __repr__ = __str__


INTACT = "intact"      # the task's saved doit value: target -> "size:mtime_ns:md5" as the task wrote it


class Intact(_SeesTasks):
    """doit `uptodate` item of a derived file that must be rebuilt, not passed on, when its bytes are
    damaged (doit itself only checks that a target exists): false when a target is no longer the bytes
    its task wrote (truncated, overwritten, forged). cheap_action records them."""

    __signature__ = _TASK_VALUES

    def __init__(self) -> None:
        super().__init__()
        self.reason = "not checked yet"
        self.damaged: list[str] = []

    def __call__(self, task, values) -> bool | None:
        expect_written(task, task.file_dep, self.tasks_dict)
        recorded = values.get(INTACT)
        if not recorded:
            return None             # written before this record existed, or adopted: doit's checks decide
        self.damaged = [p for p, record in recorded.items()
                        if durable.stat(p) is not None and not durable.output_intact(p, record)]
        if self.damaged:
            self.reason = f"damaged target: {', '.join(self.damaged)} (not the bytes its task wrote; rebuilt from its inputs)"
            return False
        return True                 # (a missing target: doit's own check)

    def __str__(self) -> str:
        return f"intact targets: {self.reason}"

    __repr__ = __str__


# ---------------------------------------------------------------- inputs as their tasks wrote them
#
# doit checks a task's inputs when it reaches the task, and the task reads them later, maybe in another
# process (-n N). A derived file changed in between (e.g. by an agent's leftover process) would flow into
# what the task writes. So each task's up-to-date check (in doit's main process, once every producer has
# run or been found intact) notes in its metadata what each derived input's producer wrote or found, from
# the producer's doit values (its INTACT record, this doit's); the metadata travels with the task to a
# -P process worker, and the action refuses an input that no longer matches.

WRITTEN = "written"     # task.meta key: input -> [its producer, its output record]
TAMPERED = "changed after it was written"


_producers: list = [None, {}]        # [doit's task dict, target -> the task that writes it] (one per invocation)


def expect_written(task, inputs, tasks: dict | None) -> None:
    """Note on `task` what its derived inputs' producers wrote (or found intact) in this doit."""
    if not tasks or task.meta is None:
        return
    if _producers[0] is not tasks:
        _producers[:] = [tasks, {t: name for name, other in tasks.items() for t in other.targets}]
    producers, written = _producers[1], {}
    for path in inputs:
        producer = producers.get(path)
        if producer and (record := (tasks[producer].values.get(INTACT) or {}).get(path)):
            written[path] = [producer, record]
    if written:
        task.meta[WRITTEN] = written
    else:                                   # (nothing to compare with: `doit info`, status, a fresh tree)
        task.meta.pop(WRITTEN, None)


def tampered_inputs(task) -> list[str]:
    """Inputs of `task` that are no longer the bytes their producer wrote or found (expect_written), each
    with its producer and fix. Hashed whatever their timestamp: the task is about to read them anyway."""
    written = (getattr(task, "meta", None) or {}).get(WRITTEN) or {}
    return [f"{path} (written by {producer}; {rewrite_hint(path, record)})"
            for path, (producer, record) in written.items() if not durable.output_intact(path, record, strict=True)]


def rewrite_hint(path: str, record: str) -> str:
    """How a derived file that is not the bytes its task wrote gets written again."""
    if durable.output_intact(path, record):         # size and timestamp as written: doit cannot tell
        return "its timestamp was set back, so doit cannot tell: delete it and the next `doit` writes it again"
    return "the next `doit` writes it again"


def _tampered(task) -> doit_plugins.LostInput | None:
    if changed := tampered_inputs(task):
        return doit_plugins.LostInput(f"input {TAMPERED}: {'; '.join(changed)}: possible tampering; nothing "
                                      f"was built from it")
    return None


def invalid_judgment(judge_dir: str) -> bool:
    """Whether a judge slot's judgment is invalid: as judgment.json records it, else (judgment.json lost
    or damaged, to be rebuilt from the reply) as the call recorded it."""
    with contextlib.suppress(durable.ArtifactError):
        return records.read(f"{judge_dir}/judgment.json", records.JudgmentFile).get("is_valid", True) is False
    with contextlib.suppress(durable.ArtifactError):
        return records.read(f"{judge_dir}/{tree.JUDGE_CALL}", records.CallRecord).get("retries_exhausted") is True
    return False


def _lost_input(reason: str) -> bool:
    if reason.startswith(durable.INPUT_MISSING):
        return True
    return reason.startswith(durable.INPUT_CHANGED) and \
        durable.damaged_capture(reason.removeprefix(durable.INPUT_CHANGED).strip())


@cache
def _digest(config_json: bytes) -> str:
    return durable.config_digest(orjson.loads(config_json))


def sealed_task(basename: str, name: str | None, action, args: tuple, out_dir: str, inputs: list[str],
                config: dict, targets: list[str], task_dep: list[str], retry_invalid: bool = False,
                paid: bool = False, toolchain: dict | None = None, where: tuple = (), **extra) -> dict:
    """A sealed task's targets are its seal plus `targets`. Paid tasks (agent, judge) declare only the
    seal: doit re-runs a task whose target is missing, and a deleted log must never buy a second agent
    run (tasks that need it fail naming the file; delete the seal to pay for a new run on purpose).
    `toolchain`: the versions of the tools it runs, part of its configuration (not of adopted work's).
    `where`: what it is about (_where)."""
    task = _name(basename, name)
    # thousands of tasks share a handful of configurations (the agent, each judge slot): digest each once
    adopted = _digest(orjson.dumps(config, option=orjson.OPT_SORT_KEYS, default=str))
    if toolchain is not None:
        config = {**config, "toolchain": toolchain}
    digest = _digest(orjson.dumps(config, option=orjson.OPT_SORT_KEYS, default=str))
    return {
        "basename": basename, **({"name": name} if name else {}),
        "actions": [(sealed_action, (action, *args, task, inputs, digest))],
        "targets": targets + [f"{out_dir}/{durable.SEAL_NAME}"],
        "task_dep": task_dep,
        "uptodate": [Sealed(task, out_dir, inputs, digest, retry_invalid, paid, adopted)],
        "meta": {"sealed": out_dir, "config": config, "id": TaskId(task, basename, *where)},
        "verbosity": 1, **extra,
    }


def cheap_action(action, inputs, *args, task, intact: tuple[str, ...] = ()):
    """The action of every cheap task (and only of those: plan.py dry-runs these, with no `task`, never a
    paid one). One whose input is a lost raw capture, or a derived file changed after its task wrote it
    (tampered_inputs), fails as LostInput: it did not run, so `doit` goes on. With `intact`, it records
    those targets' fingerprints for the task's Intact check. (`task`: doit's Task, passed by doit.)"""
    if lost := [p for p in inputs if durable.unusable_capture(p, strict=True)]:
        return doit_plugins.LostInput(f"input lost: {', '.join(lost)} (a raw capture of finished paid work, "
                                      f"missing or changed since it was sealed; `doit status` says how to re-buy it)")
    if tampered := _tampered(task):
        return tampered
    with durable.rebuildable():
        result = space_checked(action, *args)
    return intact_values(intact) if intact and result is None else result


def sealed_action(action, *args, task):
    """The action of every sealed task: refused (before its lock, archive or call) when a derived input
    changed after its task wrote it in this doit (tampered_inputs); then space_checked."""
    return _tampered(task) or space_checked(action, *args)


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


def cheap_task(basename: str, name: str | None, action, args: tuple, file_dep: list[str], targets: list[str],
               where: tuple = (), **extra) -> dict:
    """A derived-file task: ordinary doit file_dep/targets; its writes skip fsync (doit rebuilds them),
    and a damaged target is rebuilt too (Intact), not only a missing one. `where`: as for sealed_task."""
    extra["uptodate"] = [*extra.get("uptodate", ()), Intact()]
    extra["meta"] = {**extra.get("meta", {}), "id": TaskId(_name(basename, name), basename, *where)}
    return {"basename": basename, **({"name": name} if name else {}),
            "actions": [(cheap_action, (action, file_dep, *args), {"intact": tuple(targets)})],
            "file_dep": file_dep, "targets": targets, "verbosity": 1, **extra}


def timed(result: str) -> dict:
    """`result` holds the summed durations of the agent and judge calls beneath it: a new call (a new
    measurement) changes its bytes, which plan.py counts on to predict the aggregates that will re-run."""
    return {"timed": result}
