"""Shard and merge: an experiment's paid work split over machines that share nothing (CI runners).

`doit shard=i/N` runs the runs of shard i of N on its own copy of the experiment: a run (its agent,
pipeline and judges together) is in shard i iff (crc32("T/SS") + n) % N == i - 1, which stays put
when runs or subtests are added and spreads each subtest's runs over the shards. The loader makes
those runs' `run:` tasks doit's default tasks (plan), so doit pulls in exactly their agent, pipeline,
judges and derived files and nothing of the analysis; and it makes every other run's heavy task fail
instead of running (guard): a shard never pays for another shard's run.

A subtest built on the best subtest of lower tiers (inherit_best_from, extends_previous) can run only
once every run of those tiers is sealed in the tree: until the shards' runs are merged, it waits for
the next round. `scylla merge SHARD_ROOT...` copies every run directory sealed in a shard's tree into
this one (merge); a run another shard's tree holds differently is refused, never overwritten.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from doit.exceptions import TaskFailed

from . import durable, tree
from .errors import UserError
from .spec import Experiment

HEAVY = ("agent", "pipeline", "judge")          # a run's tasks that call an agent, a judge or the tools
USAGE = "shard=i/N with whole numbers 1 <= i <= N (e.g. shard=1/4 on one runner, ..., shard=4/4 on the fourth)"


class ShardError(UserError):
    """A bad `shard=` value, or shard trees that cannot be merged (the message names the paths)."""


@dataclass(frozen=True)
class Shard:
    index: int          # 1-based
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"

    def owner(self, subtest: str, n: int) -> int:
        """The shard (1-based) that runs run `n` of subtest `subtest` ("T0/00")."""
        return (zlib.crc32(subtest.encode()) + n) % self.count + 1

    def owns(self, subtest: str, n: int) -> bool:
        return self.owner(subtest, n) == self.index


def parse(value: str | None) -> Shard | None:
    """`shard=i/N` as typed (None: not sharded)."""
    if value is None:
        return None
    m = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", value)
    if not m or not 1 <= int(m.group(1)) <= int(m.group(2)):
        raise ShardError(f"invalid shard={value!r}: expected {USAGE}")
    return Shard(int(m.group(1)), int(m.group(2)))


# ---------------------------------------------------------------- which runs a shard runs

def run_rel(exp: Experiment, subtest: str, n: int) -> str:
    """A run directory relative to the experiment root (tree.RunPaths.dir, without the run-time context)."""
    return os.path.normpath(os.path.join(exp.runs_dir, subtest, tree.run_name(n)))


def seal_files(exp: Experiment, run_dir: Path) -> list[Path]:
    """The seals a finished run has: its agent's and each judge slot's."""
    return [durable.seal_path(run_dir / "agent")] + \
        [durable.seal_path(run_dir / "judge" / f"judge_{j.number:02d}") for j in exp.judges]


def run_sealed(exp: Experiment, root: Path, subtest: str, n: int) -> bool:
    return all(p.is_file() for p in seal_files(exp, root / run_rel(exp, subtest, n)))


@dataclass
class ShardPlan:
    shard: Shard
    runs: list[tuple[str, int]] = field(default_factory=list)             # (subtest "T0/00", n) it runs
    waiting: dict[str, tuple[str, ...]] = field(default_factory=dict)     # subtest -> the tiers it waits for

    @property
    def default_tasks(self) -> list[str]:
        return [f"run:{s}/{tree.run_name(n)}" for s, n in self.runs]

    def note(self) -> str | None:
        """The one line a shard prints when subtests wait for the next round."""
        if not self.waiting:
            return None
        waits = ", ".join(f"{s} (waits for {', '.join(t)})" for s, t in self.waiting.items())
        return (f"scylla: shard {self.shard} leaves out {waits}: they build on the best subtest of lower tiers, "
                f"whose runs are not all sealed in this tree yet. When every shard of this round has finished, "
                f"merge their trees (`scylla merge SHARD_ROOT...`), give each runner the merged tree and run the "
                f"shards again (next round): each runs its share of what the merge unblocked.")


def plan(exp: Experiment, shard: Shard, root: Path) -> ShardPlan:
    """The runs shard `shard` runs in the tree at `root`: its share of every subtest whose parent tiers
    have all their runs sealed there."""
    out = ShardPlan(shard)
    complete: dict[str, bool] = {}

    def tier_complete(t: str) -> bool:
        if t not in complete:
            complete[t] = all(run_sealed(exp, root, f"{t}/{s.id}", n)
                              for s in exp.subtests[t] for n in range(1, exp.runs + 1))
        return complete[t]

    for s in exp.all_subtests():
        subtest = f"{s.tier}/{s.id}"
        if waits := tuple(t for t in exp.parent_tiers(s) if not tier_complete(t)):
            out.waiting[subtest] = waits
        else:
            out.runs += [(subtest, n) for n in range(1, exp.runs + 1) if shard.owns(subtest, n)]
    return out


def guard(tasks: Iterable[dict], sp: ShardPlan) -> Iterator[dict]:
    """The task dicts, with the heavy tasks of every run this shard does not run made to fail: doit still
    sees them (a sealed one is up to date and feeds a later round's inherited tiers), but none executes."""
    runs = set(sp.runs)
    for task in tasks:
        tid = (task.get("meta") or {}).get("id")
        if tid is not None and tid.kind in HEAVY and tid.run is not None and (tid.subtest, tid.run) not in runs:
            task = {**task, "actions": [(refused, (_refusal(sp, tid),))]}
        yield task


def _refusal(sp: ShardPlan, tid) -> str:
    owner = sp.shard.owner(tid.subtest, tid.run)
    why = (f"its subtest waits for every run of {', '.join(sp.waiting[tid.subtest])} (next round)"
           if owner == sp.shard.index else f"it is shard {owner}/{sp.shard.count}'s")
    return (f"{tid.name}: not run by shard {sp.shard}: {why}. A shard never runs another shard's paid work; "
            f"`doit status` says why it is due here (its seal is missing or no longer covers it): merge the "
            f"shard that ran it (`scylla merge`), or run without shard= to run it here")


def refused(message: str):
    """The action of a heavy task another shard runs."""
    return TaskFailed(message)


# ---------------------------------------------------------------- merge

MERGING = ".merging-"     # a run directory being copied, beside its final place (renamed when complete)


def _seals(run_dir: Path) -> dict[str, bytes]:
    """Every seal under a run directory (agent, pipeline, judge slots): relative path -> bytes."""
    if not run_dir.is_dir():
        return {}
    return {p.relative_to(run_dir).as_posix(): p.read_bytes() for p in sorted(run_dir.rglob(durable.SEAL_NAME))}


def _decide(have: dict[str, bytes], exists: bool, new: dict[str, bytes]) -> str:
    """copy (nothing there), skip (the same run, or more of it, is there), replace (the same run with
    less of it finished, or an unfinished attempt) or conflict (another execution of the run)."""
    agent = f"agent/{durable.SEAL_NAME}"
    if not exists:
        return "copy"
    if have.items() >= new.items():
        return "skip"
    if agent in have and have[agent] != new[agent]:
        return "conflict"
    return "replace" if have.items() <= new.items() else "conflict"


def _experiment_json(root: Path) -> bytes | None:
    path = root / tree.EXPERIMENT_JSON
    return path.read_bytes() if path.is_file() else None


def _check_sources(target: Path, sources: list[Path]) -> None:
    """Every source is a shard's tree of the same experiment as the target's (config/experiment.json, the
    experiment as configured, free of paths: the same bytes wherever it ran)."""
    reference = target if _experiment_json(target) is not None else None
    for src in sources:
        mine = _experiment_json(src)
        if mine is None:
            raise ShardError(f"{src}: not an experiment tree (no {tree.EXPERIMENT_JSON}): name the experiment root "
                             f"a shard's `doit shard=i/N` wrote (<results>/<experiment id>)")
        if src.resolve() == target.resolve():
            raise ShardError(f"{src} is the target tree itself: name the other shards' trees")
        reference = reference or src
        if mine != _experiment_json(reference):
            raise ShardError(f"{src / tree.EXPERIMENT_JSON} differs from {reference / tree.EXPERIMENT_JSON}: not the "
                             f"same experiment (every shard must run the same spec); nothing was merged")


def merge(exp: Experiment, sources: list[Path], log=print) -> dict[str, int]:
    """Copy into `exp`'s tree every run directory whose agent is sealed in one of the `sources` (shard
    experiment roots). All or nothing: a run that a source holds differently from the tree (another
    execution of it) refuses the whole merge before anything is copied. Returns counts per decision."""
    root = Path(exp.root)
    _check_sources(root, sources)
    (root / tree.STATE_DIR).mkdir(parents=True, exist_ok=True)
    durable.hold_experiment_lock(root / tree.RUN_LOCK)      # (no `doit` writes the tree meanwhile)
    for stale in [*root.glob(f"{MERGING}*"), *(root / exp.runs_dir).glob(f"*/*/{MERGING}*")]:
        shutil.rmtree(stale)        # an interrupted merge's partial copies
    todo, counts = _merge_plan(exp, root, sources)
    _baseline(root, sources, log)
    for src_dir, dst in todo:
        _install(src_dir, dst)
        log(f"merged {src_dir} -> {dst}")
    return counts


def _merge_plan(exp: Experiment, root: Path, sources: list[Path]) -> tuple[list[tuple[Path, Path]], dict[str, int]]:
    """The run directories to copy (source, destination) and the count of each decision; ShardError naming
    every conflict. Each source is compared with the tree as the sources before it leave it."""
    state: dict[str, tuple[Path, dict[str, bytes], bool]] = {}      # run -> (where it comes from, seals, exists)
    todo, conflicts, counts = [], [], {"copy": 0, "replace": 0, "skip": 0}
    for src in sources:
        for s in exp.all_subtests():
            for n in range(1, exp.runs + 1):
                rel = run_rel(exp, f"{s.tier}/{s.id}", n)
                new = _seals(src / rel)
                if f"agent/{durable.SEAL_NAME}" not in new:
                    continue
                where, have, exists = state.setdefault(rel, (root / rel, _seals(root / rel), (root / rel).exists()))
                decision = _decide(have, exists, new)
                if decision == "conflict":
                    conflicts.append(f"{src / rel} and {where} are different executions of run {rel} (their seals "
                                     f"differ)")
                    continue
                counts[decision] += 1
                if decision != "skip":
                    todo.append((src / rel, root / rel))
                    state[rel] = (src / rel, new, True)
    if conflicts:
        raise ShardError("refusing to merge: " + "; ".join(conflicts) + ". Keep the one you mean (delete the other "
                         "run directory) and merge again; nothing was merged")
    return todo, counts


def _baseline(root: Path, sources: list[Path], log) -> None:
    """The judges read the pipeline's result on the untouched repository (pipeline_baseline.json, in every
    judge prompt): a tree without one takes the first shard's (a baseline of its own could come out
    different, flaky tests, and so change every judge prompt), and a shard whose baseline differs from the
    tree's is named: the judgments of its runs would be bought again there."""
    target = root / tree.BASELINE
    first = next((s for s in sources if durable.seal_path(s / tree.BASELINE_DIR).is_file()
                  and (s / tree.BASELINE).is_file()), None)
    if first and not target.exists() and not (root / tree.BASELINE_DIR).exists():
        _install(first / tree.BASELINE_DIR, root / tree.BASELINE_DIR)
        durable.write_bytes(target, (first / tree.BASELINE).read_bytes())
    for src in sources:
        if target.is_file() and (src / tree.BASELINE).is_file() and \
                (src / tree.BASELINE).read_bytes() != target.read_bytes():
            log(f"scylla merge: warning: {src / tree.BASELINE} differs from {target} (flaky tests in the repository?): "
                f"the judge prompts of the runs judged there change, so `doit` would pay for their judgments again; "
                f"`doit status --why --kind judge` lists them and their cost")


def _install(src: Path, dst: Path) -> None:
    """Copy a run directory into place atomically: into a hidden directory beside it, synced, then renamed.
    An unfinished run it replaces moves to the subtest's .superseded/ (nothing is deleted)."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f"{MERGING}{dst.name}-{secrets.token_hex(4)}"
    shutil.copytree(src, tmp, symlinks=True, copy_function=_copy_synced)
    if dst.exists():
        durable.archive([dst], dst.parent / ".superseded", dst.name, f"replaced by `scylla merge` from {src}")
    os.rename(tmp, dst)
    _sync_dir(dst.parent)


def _copy_synced(src: str, dst: str) -> None:
    shutil.copy2(src, dst)          # (timestamps kept: the seals' records match without hashing)
    with open(dst, "rb") as fh:
        os.fsync(fh.fileno())


def _sync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
