"""What the next `doit` will execute, from doit's own up-to-date evaluation of the graph.

`doit list --status` judges each task alone. The plan walks the graph in dependency order and asks,
for every task, what doit will see when it reaches it: doit's own status (`get_status`) and, for a
sealed task, its seal; then, for each input another task rewrites first, the input's *next* content:

* known: the producer is cheap and deterministic and its own inputs are known, so the plan dry-runs
  its action in a scratch directory (never in the tree) and compares the bytes with what the
  consumer recorded. Cascades stop at unchanged bytes exactly as doit's md5 check stops them.
* differs: a paid task that re-runs always writes a new `timing.json` (a fresh measurement), and a
  result built on timings (graph.py's `timed` meta: run, subtest, tier, experiment results) changes
  when it takes in a fresh one: each records the newest `measured_at` beneath it, a stamp to the
  microsecond (durations alone can add up the same; a clock set back between runs could fool it).
* unknown: anything else a re-run produces (an agent's patch, a judge's verdict, an aggregate of
  them): the consumer *may* run, if the bytes come out different.

A task is `to_run` when doit certainly executes it, `may_run` when it runs only if an input it waits
for comes out different, `blocked` when it cannot succeed (an input is missing and nothing rebuilds it,
or an upstream task is blocked; doit still starts one whose own target is missing, and it fails at
once), else `done`. `refused` is reserved for a budget gate.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from doit.exceptions import BaseFail

from . import context, durable, reaper, records, tree
from .kinds import Intact, Sealed, TaskId, cheap_action, invalid_judgment, task_id

STATES = ("done", "to_run", "may_run", "blocked", "refused")


@dataclass
class Verdict:
    state: str = "done"
    reasons: list[str] = field(default_factory=list)
    failed: str | None = None      # why the last attempt failed (paid tasks: their .failed/ archive)
    invalid: bool = False          # a judgment recorded as invalid
    outputs: str = ""              # if it runs, its outputs' next content: known | same | timing | restores | unknown
    differs: frozenset = frozenset()   # with "timing" ("restores"): the outputs a fresh measurement changes
                                       # (the others: unknown (the same bytes))


def dependency_order(tasks: dict, selected: list[str]) -> list[str]:
    """`selected` and everything they depend on, dependencies first (doit's execution order)."""
    order, seen = [], set()
    for root in selected:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(tasks[root].task_dep + tasks[root].setup_tasks))]
        while stack:
            name, deps = stack[-1]
            for dep in deps:
                if dep not in seen:
                    seen.add(dep)
                    stack.append((dep, iter(tasks[dep].task_dep + tasks[dep].setup_tasks)))
                    break
            else:
                stack.pop()
                order.append(name)
    return order


@dataclass
class _Reasons:
    """Why a task would run, collected while checking it."""
    missing_targets: list[str] = field(default_factory=list)
    damaged_targets: list[str] = field(default_factory=list)     # (Intact's reasons) rebuilt like missing ones
    certain: list[str] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)      # lost raw captures the task's outputs were built from
    changes: dict[str, list[str]] = field(default_factory=dict)      # producer -> inputs it changes
    may_change: dict[str, list[str]] = field(default_factory=dict)   # producer -> inputs it may change
    measured: bool = False          # an input changes because it carries a fresh measurement

    def all_certain(self) -> list[str]:
        return [f"missing target: {t}" for t in self.missing_targets] + self.damaged_targets + self.certain + \
            [f"upstream will run: {p} (changes {', '.join(paths)})" for p, paths in self.changes.items()]

    def only_targets_missing(self) -> bool:
        """Inputs and configuration as last time: a deterministic task rewrites the same bytes."""
        return not (self.certain or self.changes or self.may_change)

    def all_maybe(self, verdicts: dict) -> list[str]:
        return [f"upstream {'will' if verdicts[p].state == 'to_run' else 'may'} run: {p} "
                f"({', '.join(paths)} may change)" for p, paths in self.may_change.items()]


def _sealed(task) -> Sealed | None:
    return next((u for u, _, _ in task.uptodate if isinstance(u, Sealed)), None)


def _seal_of(task) -> Sealed:
    """The Sealed of a task known to be sealed (the owner of a sealed directory, the maker of a lost capture)."""
    sealed = _sealed(task)
    assert sealed is not None
    return sealed


def _outside(path: str) -> bool:
    """Sources outside the tree (the fixture, tiers...); an adopted tree's runs above its root are in it."""
    return (path.startswith("../") or os.path.isabs(path)) and not tree.in_outer_runs_dir(path)


class Plan:
    """Verdicts for `selected` and their dependencies (all tasks when None). `tasks`: name -> doit
    Task with implicit dependencies resolved (doit's TaskControl); `dep`: doit's Dependency; `scratch`:
    where to make the scratch directory of dry runs, if one is needed (default: a new temporary one)."""

    def __init__(self, tasks: dict, dep, selected: list[str] | None = None, scratch: str | None = None):
        self.tasks, self.dep, self._scratch_path = tasks, dep, scratch
        self.producers = {t: task.name for task in tasks.values() for t in task.targets}
        self.sealed_dirs = {s.out_dir: task.name for task in tasks.values() if (s := _sealed(task))}
        self.verdicts: dict[str, Verdict] = {}
        self._rerun_dirs: set[str] = set()     # out_dirs of the sealed tasks that will run
        # raw captures of finished paid tasks that are gone: file -> the paid task that made it (only
        # deleting its seal and paying again brings it back; what needs it is blocked)
        self.lost: dict[str, str] = {}
        # files that exist but are not the bytes their task wrote (possible tampering): file -> that task,
        # which the next doit runs to write them again (derived files, outputs of free sealed tasks)
        self.changed: dict[str, str] = {}
        self._box: str | None = None
        self._cwd: str | None = None        # the scratch directory's stand-in for the experiment root
        self._md5: dict[str, str] = {}
        self._failed_dirs: dict[str, list[str]] = {}
        try:
            for name in dependency_order(tasks, list(selected if selected is not None else tasks)):
                task = tasks[name]
                if task.actions:                    # group tasks only gather their subtasks
                    self.verdicts[name] = v = self._verdict(task)
                    if v.state == "to_run" and (sealed := _sealed(task)):
                        self._rerun_dirs.add(sealed.out_dir)
        finally:
            if self._box:
                shutil.rmtree(self._box, ignore_errors=True)

    def id(self, name: str) -> TaskId:
        return task_id(self.tasks[name])

    def names(self, state: str) -> list[str]:
        return [n for n, v in self.verdicts.items() if v.state == state]

    def refuse(self, names: set[str], reason: str, state: str = "refused", held_by: str = "the budget") -> None:
        """The budget (or preflight) holds these tasks back: they become `refused` (or `state`), what
        waits for them `blocked`."""
        held = set()
        for name, v in self.verdicts.items():              # dependency order
            task = self.tasks[name]
            if name in names:
                self.verdicts[name] = Verdict(state, [reason], v.failed, v.invalid)
            # (the first by name: doit orders implicit task_deps as its file_dep sets, by the hash seed)
            elif v.state in ("to_run", "may_run") and (up := min(
                    (u for u in task.task_dep + task.setup_tasks if u in held), default=None)):
                self.verdicts[name] = Verdict("blocked", [f"waits for a task {held_by} holds back: {up}"],
                                              v.failed, v.invalid)
            else:
                continue
            held.add(name)

    # ------------------------------------------------------------ one task

    def _verdict(self, task) -> Verdict:
        v = Verdict()
        if self.dep.status_is_ignore(task):
            return Verdict("blocked", ["ignored (doit ignore)"])
        for up in task.task_dep + task.setup_tasks:
            if self.verdicts.get(up, v).state == "blocked":
                return Verdict("blocked", [f"upstream blocked: {up}"])
        sealed = _sealed(task)
        if sealed:                  # its seal decides (doit would only call Sealed and check the targets)
            seal = str(durable.seal_path(sealed.out_dir))
            r = _Reasons([t for t in task.targets if t != seal and durable.stat(t) is None])
            self._seal_reasons(task, sealed, v, r)
        else:
            status = self.dep.get_status(task, self.tasks, get_log=True).reasons
            r = _Reasons(list(status.get("missing_target", [])))
            self._file_reasons(task, status, r)
            self._moved_aside(task, r)
        certain, maybe = r.all_certain(), r.all_maybe(self.verdicts)
        if r.lost and (certain or maybe):           # it would run, and fail reading what is lost
            r.broken += [f"input missing: {p} (lost, see `doit status`; no task rebuilds it)" for p in r.lost]
        v.reasons = r.broken or certain or maybe
        v.state = "blocked" if r.broken else "to_run" if certain else "may_run" if maybe else "done"
        if v.state in ("to_run", "may_run"):
            v.outputs = self._outputs(task, v, sealed, r)
        return v

    def _file_reasons(self, task, status: dict, r: _Reasons) -> None:
        certain = r.certain
        recorded = self.dep._get(task.name, "deps:") is not None
        for utd, _, _ in status.get("uptodate_false", ()):
            if isinstance(utd, Intact):
                r.damaged_targets.append(utd.reason)
                self.changed.update(dict.fromkeys(utd.damaged, task.name))
            else:
                certain.append("configuration changed")
        if "checker_changed" in status:
            certain.append("file checker changed")
        added, removed = status.get("added_file_dep"), status.get("removed_file_dep")
        if added or removed:
            certain.append(f"inputs changed (added {added or []}, removed {removed or []})")
        if not recorded:
            made = any(durable.stat(t) for t in task.targets)
            certain.append("no record of a successful run (failed or interrupted last time, or the DB was lost)"
                           if made else "new task")
        missing, changed = set(status.get("missing_file_dep", [])), set(status.get("changed_file_dep", []))
        for path in sorted(task.file_dep):
            lost = self._lost(path, self.dep._get(task.name, path))
            self._input(path, path in missing or lost, recorded and path in changed and not lost,
                        lambda p=path: self._db_md5(task.name, p), r, kept=lost)

    def _moved_aside(self, task, r: _Reasons) -> None:
        """A sealed task that runs first moves its whole directory aside (to .superseded/ or .failed/),
        with the derived files kept in it (agent/result.json, judgment.json): those are then missing."""
        if not self._rerun_dirs:
            return
        for target in task.targets:
            owner = self._sealed_owner(target)
            if owner and _seal_of(self.tasks[owner]).out_dir in self._rerun_dirs and target not in r.missing_targets:
                r.certain.append(f"upstream will run: {owner} (it moves {target} aside with its previous outputs)")

    def _seal_reasons(self, task, sealed: Sealed, v: Verdict, r: _Reasons) -> None:
        certain = r.certain
        try:
            seal = durable.read_seal(sealed.out_dir)
        except durable.ArtifactError as exc:
            certain.append(str(exc))
            return
        if seal is None:
            certain.append(self._not_done(task, sealed, v))
            return
        config = sealed.config_for(seal)           # (adopted work: without the toolchain)
        head = durable.seal_mismatch({**seal, "inputs": {}}, sealed.task, config, [])
        if head:                                    # another task's seal, or the configuration changed
            certain.append(head + (self._config_hint(task) if seal.get("config") != config else ""))
            return
        if not sealed.paid:         # a free sealed task (pipeline, baseline) rebuilds a damaged output
            damaged = [p for p in durable.damaged_outputs(sealed.out_dir, seal) if p not in r.missing_targets]
            r.damaged_targets += [f"output changed since it was sealed: {p}" for p in damaged]
            self.changed.update({p: task.name for p in damaged if durable.stat(p) is not None})
        recorded = seal["inputs"]
        inputs = durable.covered_inputs(seal, sealed.inputs)      # adopted work: what it saw
        if set(recorded) != set(inputs):
            mismatch = durable.seal_mismatch(seal, sealed.task, config, sealed.inputs)
            assert mismatch is not None             # (the inputs differ: it says how)
            certain.append(mismatch)
        else:
            for path in inputs:
                one = {**seal, "inputs": {path: recorded[path]}}
                changed = durable.seal_mismatch(one, sealed.task, config, [path]) is not None
                lost = durable.stat(path) is None or changed and durable.damaged_capture(path)
                self._input(path, lost, changed and not lost, lambda p=path: recorded[p].get("md5"), r,
                            kept=lost)          # (kinds.Sealed: nothing runs over a lost input)
        if task_id(task).kind == "judge" and invalid_judgment(sealed.out_dir):
            v.invalid = True
            if sealed.retry_invalid:
                certain.append("invalid judgment, re-judging on request (rejudge=invalid)")

    @staticmethod
    def _lost(path: str, state) -> bool:
        """A raw capture of finished paid work the task's outputs were built from (its DB `state`),
        now missing or damaged (looked into only when its timestamp moved)."""
        if state is None:
            return False
        st = durable.stat(path)
        if st is None:
            return durable.lost_capture(path)
        return st.st_mtime != state[0] and durable.damaged_capture(path)

    def _input(self, path: str, missing_now: bool, changed_now: bool, recorded_md5, r: _Reasons,
               kept: bool = False) -> None:
        """How one input looks to its consumer when doit reaches the consumer. `kept`: a lost raw
        capture the consumer's outputs were built from, which stand while nothing else changes."""
        nxt, producer = self._next(path)
        if nxt is None:
            if missing_now and producer and path not in self.producers \
                    and self.verdicts.get(producer, Verdict("?")).state == "done":
                self.lost[path] = producer
            if missing_now and kept:
                r.lost.append(path)
            elif missing_now:
                r.broken.append(f"input missing: {path} (no task rebuilds it)")
            elif changed_now:
                r.certain.append(f"changed input: {path}")
            return
        assert producer is not None                 # (a next content comes from a producer that runs)
        if nxt == "differs" or (nxt == "known" and self._box_md5(path) != recorded_md5()):
            r.changes.setdefault(producer, []).append(path)
            r.measured |= nxt == "differs"
        elif nxt == "unknown":
            r.may_change.setdefault(producer, []).append(path)

    # ------------------------------------------------------------ what a re-run produces

    def _producer(self, path: str) -> str | None:
        return self.producers.get(path) or self._sealed_owner(path)

    def _sealed_owner(self, path: str) -> str | None:
        """The sealed task whose directory holds `path` (raw captures: only its seal is a target)."""
        d = os.path.dirname(path)
        while d:
            if d in self.sealed_dirs:
                return self.sealed_dirs[d]
            d = os.path.dirname(d)
        return None

    def _next(self, path: str) -> tuple[str | None, str | None]:
        """(next content of `path`, its producer): None while its producer does not run."""
        producer = self._producer(path)
        v = self.verdicts.get(producer) if producer else None
        if v is None or v.state not in ("to_run", "may_run"):
            return None, producer
        if v.outputs == "known":
            return ("known" if os.path.lexists(self._in_box(path)) else "unknown"), producer
        if v.outputs in ("timing", "restores"):
            return ("differs" if path in v.differs else "unknown" if v.outputs == "timing" else "same"), producer
        return v.outputs, producer

    def _outputs(self, task, v: Verdict, sealed: Sealed | None, r: _Reasons) -> str:
        if v.state != "to_run":
            return "unknown"
        if sealed:                  # a new call: a new measurement, any other output may differ
            v.differs = frozenset([f"{sealed.out_dir}/timing.json"])
            # unless a free one (pipeline, pipeline judge) restores what it wrote: it is deterministic
            return "restores" if not sealed.paid and r.only_targets_missing() else "timing"
        if self._simulate(task, v):
            return "known"
        if r.only_targets_missing():
            return "same"           # the bytes it wrote last time (when its inputs cannot be laid out to dry-run it)
        if r.measured and task.meta and "timed" in task.meta:
            v.differs = frozenset([task.meta["timed"]])
            return "timing"
        return "unknown"

    def _simulate(self, task, v: Verdict) -> bool:
        """Dry-run a cheap task in the scratch directory when all its inputs' next content is known.

        Only cheap tasks (kinds.cheap_action) are dry-run: never an agent, judge, pipeline or worktree.
        Their actions read and write paths relative to the working directory, which is the scratch
        directory meanwhile; it holds copies of the inputs (no links into the tree to write through)."""
        if any(_outside(t) for t in task.targets) or \
                not all(getattr(a, "py_callable", None) is cheap_action for a in task.actions):
            return False
        box = self._scratch()
        for path in task.file_dep:
            if _outside(path):
                continue                    # sources outside the tree: actions read them by absolute path
            nxt, _ = self._next(path)
            if nxt == "known":
                continue
            if nxt is not None or durable.stat(path) is None:
                return False
            copy = os.path.join(box, path)
            if not os.path.lexists(copy):
                os.makedirs(os.path.dirname(copy), exist_ok=True)
                shutil.copyfile(path, copy)
        here = os.getcwd()
        try:
            # the stat caches hold the tree's files by relative path: the box's must not land in them
            with context.scoped(stat_cache=None, input_stats=None), contextlib.redirect_stdout(io.StringIO()):
                os.chdir(box)
                try:
                    for action in task.actions:
                        result = action.py_callable(*action.args, **action.kwargs, task=None)
                        if result is False or isinstance(result, BaseFail):
                            raise RuntimeError(getattr(result, "message", "") or "the action failed")
                finally:
                    os.chdir(here)
            return True
        except Exception as exc:  # noqa: BLE001  (whatever failed: the real run will tell; the plan cannot know the bytes)
            v.reasons.append(f"(a dry run of it failed: {str(exc).splitlines()[0][:200] if str(exc) else exc!r})")
            return False

    def _scratch(self) -> str:
        if self._box is None and self._scratch_path:
            os.mkdir(self._scratch_path, 0o700)
            self._box = self._scratch_path
        elif self._box is None:
            self._box = tempfile.mkdtemp(prefix=reaper.scratch_prefix("plan"))
        # the root's place in the scratch directory: deeper when an adopted tree's runs sit above it
        self._cwd = os.path.join(self._box, *["root"] * context.CURRENT.runs_depth)
        os.makedirs(self._cwd, exist_ok=True)
        return self._cwd

    def _in_box(self, path: str) -> str:
        """`path` in the scratch directory (a dry run made it before anything is looked up there)."""
        assert self._cwd is not None
        return os.path.join(self._cwd, path)

    def _box_md5(self, path: str) -> str:
        if path not in self._md5:
            self._md5[path] = durable.file_md5(self._in_box(path))
        return self._md5[path]

    def _db_md5(self, task_name: str, path: str) -> str | None:
        state = self.dep._get(task_name, path)          # doit's md5 checker: [mtime, size, md5]
        return state[2] if isinstance(state, (list, tuple)) and len(state) == 3 else None

    # ------------------------------------------------------------ failures, invalid judgments, hints

    def _not_done(self, task, sealed: Sealed, v: Verdict) -> str:
        if os.path.isdir(sealed.out_dir) and os.listdir(sealed.out_dir):
            return "outputs without a seal (interrupted last time, or the seal was deleted)"
        v.failed = self._last_failure(task)
        return f"failed last time ({v.failed})" if v.failed else "new task"

    def _last_failure(self, task) -> str | None:
        """The reason recorded with the task's newest archived failed attempt, if any."""
        t = task_id(task)
        if t.kind == "baseline":
            where, label = ".failed", "baseline"
        elif t.run is not None and t.kind in ("agent", "pipeline", "judge"):
            run = tree.run_name(t.run)
            label = {"agent": run, "pipeline": f"{run}_pipeline", "judge": f"{run}_{t.slot}"}[t.kind]
            assert t.tier is not None and t.subtest is not None     # (a run's task names both)
            where = tree.SubtestPaths(t.tier, t.subtest.split("/")[1]).failed_dir
        else:
            return None
        if where not in self._failed_dirs:
            self._failed_dirs[where] = sorted(os.listdir(where)) if os.path.isdir(where) else []
        attempts = [n for n in self._failed_dirs[where] if re.fullmatch(rf"{re.escape(label)}_attempt_\d+", n)]
        if not attempts:
            return None
        newest = max(attempts, key=lambda n: int(n.rsplit("_", 1)[1]))
        try:
            return str(durable.read_json_object(f"{where}/{newest}/archived.json").get("reason", "failed"))
        except durable.ArtifactError:
            return "failed"

    def _config_hint(self, task) -> str:
        """What changed, when config/experiment.json (written by the last setup) still shows the old value."""
        if task_id(task).kind in ("pipeline", "baseline"):
            return self._toolchain_hint(task)
        try:
            before = durable.read_json_object(tree.EXPERIMENT_JSON)
        except durable.ArtifactError:
            return ""
        now, t = task.meta.get("config", {}), task_id(task)
        if t.kind == "judge" and t.slot:
            number = int(t.slot.split("_")[1])
            old = next((j for j in before.get("judges", []) if j.get("judge_number") == number), None)
        elif t.kind == "agent":
            old = {**before.get("agent", {}), **{k: before.get(k) for k in ("thinking", "max_turns")}}
        else:
            return ""
        if old is None:
            return ""
        diff = [f"{k} {old[k]!r} -> {now[k]!r}" for k in sorted(set(old) & set(now)) if old[k] != now[k]]
        return f": {', '.join(diff)}" if diff else ""

    @staticmethod
    def _toolchain_hint(task) -> str:
        """A pipeline's or the baseline's tool versions: as its result recorded them -> as installed now."""
        try:
            # pipeline.json, pipeline_baseline.json
            result = records.read(task.targets[0], records.PipelineResult)
        except durable.ArtifactError:
            return ""
        if result.get("adopted_from"):
            return ""
        old, now = result.get("toolchain"), task.meta.get("config", {}).get("toolchain") or {}
        if old is None:
            return ": its result records no toolchain (sealed before Scylla recorded one)"
        diff = [f"{k} {old.get(k)!r} -> {now.get(k)!r}" for k in sorted(set(old) | set(now)) if old.get(k) != now.get(k)]
        return f": toolchain {', '.join(diff)}" if diff else ''
