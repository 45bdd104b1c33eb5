"""Task actions: read a task's inputs from the tree, call an adapter or a formula, write its outputs.

Every action runs with the experiment root as working directory (see loader.load) and takes the
paths of `scylla.tree`. Expensive actions go through `sealed()`: previous outputs are archived, the
work runs, and the seal is written last. Infrastructure failures archive the partial outputs under
`.failed/` and fail the task so the next `doit` retries it.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import posixpath
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from importlib import resources as package_files
from pathlib import Path
from typing import Any, cast

from doit.exceptions import TaskFailed

from . import (
    adapters,
    budget,
    context,
    durable,
    pipeline,
    preflight,
    records,
    remote,
    reports,
    resources,
    results,
    secrets,
    throttle,
    tree,
    workspace,
)
from .durable import read_json_object as read_obj
from .errors import ResourceError, UnsafePath
from .judges import prompt as judge_prompt_md
from .judges import reply as judge_reply
from .spec import DEFAULT_LIMITS, Experiment, Limits, Subtest, load_yaml, pass_threshold
from .tree import RunPaths, SubtestPaths, TierPaths


def _now() -> str:
    """A measurement's stamp: to the microsecond, so no two measurements share one (results.latest)."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


# the experiment root (every action's working directory): workspace paths below it pass no link (safepath)
ROOT = "."


# ---------------------------------------------------------------- sealed execution

def _left_for_doit(kind: str, slot: bool = False):
    """The action of a run-level derived task (`kind`:RUN, or `kind`:RUN/judge_NN with `slot`, the last
    argument being the slot number): refused while adopting; in an adopted tree, the files ProjectScylla
    wrote are restored rather than rebuilt while their inputs are unchanged."""
    def decorate(action):
        @functools.wraps(action)
        def wrapper(*args, **kwargs):
            if context.CURRENT.adopting:      # (`scylla adopt` leaves every run-level file to the next `doit`)
                return TaskFailed("not finished in the adopted experiment; the next `doit` builds it")
            run = next(a for a in args if isinstance(a, RunPaths))
            if restored(f"{kind}:{run.id}" + (f"/judge_{args[-1]:02d}" if slot else "")):
                return None
            return action(*args, **kwargs)
        return wrapper
    return decorate


@functools.lru_cache(maxsize=1)
def _adopted_derived(root: Path | None) -> dict:
    try:
        return read_obj(root / tree.ADOPTED_DERIVED) if root else {}
    except durable.ArtifactError:
        return {}


def restored(task: str) -> bool:
    """A derived file ProjectScylla wrote and `scylla adopt` kept is rebuilt while the task's inputs are
    as they were at adoption: its original bytes (kept under .scylla/originals/) are then the exact
    answer. A rebuild in Scylla's format would differ, and a different judge_prompt.md would re-buy the
    adopted judgments that read the original. Returns False (build it) when anything does not match."""
    root = context.CURRENT.root     # (absolute: plan.py dry-runs these actions in a scratch directory)
    entry = _adopted_derived(root).get(task)
    if root is None or entry is None:           # (no root: nothing was adopted)
        return False
    for path, digest in entry["inputs"].items():
        if path == tree.BASELINE:
            continue        # Scylla's own baseline (e.g. re-run with a new toolchain), not what ProjectScylla's judges read
        try:
            if durable.file_md5(path) != digest:      # (relative to the working directory: no stat cache)
                return False
        except OSError:
            return False
    originals = {}
    for target, kept in entry["targets"].items():
        for source in (target, root / tree.ORIGINALS / kept["original"]):    # as it is, or the kept copy
            try:
                data = Path(source).read_bytes()
            except OSError:
                continue
            if hashlib.md5(data).hexdigest() == kept["md5"]:
                originals[target] = data
                break
        else:
            return False
    for target, data in originals.items():
        durable.write_bytes(target, data)          # (unchanged bytes are not rewritten)
    return True


def sealed(task: str, out_dir: str, inputs: list[str], config: str, archive_root: str, label: str,
           work: Callable[[Path], None], extra_outputs: tuple[str, ...] = (), limits: Limits = DEFAULT_LIMITS,
           paid: str | None = None, keys: Iterable[str] = (), shipping: remote.Shipping | None = None):
    """Run an expensive task so that it is either complete and sealed, or archived and failed.
    A paid task (`paid`: its kind, agent or judge) starts only within the budget and records its cost.
    `keys`: the variables holding the experiment's keys, redacted from a failure's message. `shipping`:
    what the work needs on a Dask worker, for a doit with a cluster (remote.py; None: it always runs here)."""
    if context.CURRENT.adopting:
        return TaskFailed(f"{task}: not finished in the adopted experiment; the next `doit` runs it")
    keys = tuple(keys)
    out, lock = Path(out_dir), Path(tree.LOCKS_DIR) / task.replace("/", "_").replace(":", "-")
    with durable.file_lock(f"{lock}.lock"):
        if _done_by_another_doit(out, task, config, inputs):
            return None
        if missing := [p for p in inputs if durable.stat(p) is None]:
            # a lost input (a raw capture of finished paid work): leave every output where it is
            return TaskFailed(f"{task}: input missing: {', '.join(missing)}; nothing was archived, called or "
                              f"sealed (`doit status` names what is lost and how to re-buy it)")
        if damaged := [p for p in inputs if durable.damaged_capture(p, strict=True)]:
            # a raw capture changed after its seal (possible tampering): never work from it
            return TaskFailed(f"{task}: input changed since it was sealed: {', '.join(damaged)} (possible tampering); "
                              f"nothing was archived, called or sealed (`doit status` says how to re-buy it)")
        if reason := preflight.refusal(paid is not None):     # before anything is archived, called or sealed
            return TaskFailed(f"{task}: {preflight.REFUSED}: {reason}")
        if paid and (reason := budget.refusal(task)):       # before anything is archived, called or sealed
            return TaskFailed(f"{task}: {budget.REFUSED}: {reason}")
        if shipping is not None and remote.enabled():
            work = remote.Shipment(task, work, inputs, extra_outputs, config, shipping, keys)
        # a paid call holds room for its seal meanwhile: a disk that fills up during the call must not
        # leave it finished but unsealed (the next doit would buy it again)
        failed, done = None, False
        try:
            with durable.space_reserved(f"{lock}.space") if paid else contextlib.nullcontext():
                failed = _sealed_locked(task, out, inputs, config, archive_root, label, work, extra_outputs, limits, keys)
            if failed is None:
                durable.write_seal(out, task, config, inputs)
                done = True
                if isinstance(work, remote.Shipment):
                    work.release()
        except UnsafePath as exc:       # (archiving: a link planted at an output or archive directory)
            failed = TaskFailed(f"{task}: refused: {exc}")
        finally:
            if paid:            # (no longer in flight; its cost counts once sealed)
                budget.record(paid, out_dir, task, sealed=done)
        return failed


def _done_by_another_doit(out: Path, task: str, config: str, inputs: list[str]) -> bool:
    """A seal that covers this task and appeared after this doit started was written by a worker of an
    earlier doit (left running when its parent was killed) while we waited for the task's lock."""
    try:
        if durable.seal_path(out).stat().st_mtime < context.CURRENT.started:
            return False
        return durable.seal_mismatch(durable.read_seal(out), task, config, inputs) is None
    except (OSError, durable.ArtifactError):
        return False


def _sealed_locked(task, out: Path, inputs, config, archive_root, label, work, extra_outputs, limits, keys=()):
    try:
        seal = durable.read_seal(out)
    except durable.ArtifactError as exc:
        return TaskFailed(f"{exc}. Refusing to pay again over it: inspect {out}, delete the seal to re-run.")
    leftovers = [out, *map(Path, extra_outputs)]
    if seal is not None:
        root, reason = Path(archive_root).parent / ".superseded", "superseded: inputs or configuration changed"
    else:
        root, reason = Path(archive_root), "interrupted: an earlier attempt did not finish"
    durable.archive(leftovers, root, label, reason)
    hidden = secrets.secret_values(names=keys)
    for attempt in range(limits.retries + 1):
        out.mkdir(parents=True, exist_ok=True)
        try:
            work(out)
            break
        except throttle.RateLimited as exc:
            # the refused attempt is kept; every worker pauses, then this task tries again
            # (also after the last try: no worker, in this doit or the next, should call before the reset)
            said = secrets.redact(str(exc), hidden)
            dest = durable.archive(leftovers, Path(archive_root), label, f"rate limited: {said}")
            until = throttle.pause(exc.retry_after or limits.backoff_seconds * 2 ** attempt, f"{task}: {said}")
            remote.publish_pause(until, f"{task}: {said}")
            if attempt == limits.retries:
                return TaskFailed(f"{task}: still rate limited after {limits.retries} retries: {said}\n"
                                  f"last attempt moved to {dest}; the next `doit` retries this task")
        except (durable.InfraFailure, workspace.WorkspaceError, OSError) as exc:
            # an OSError here is the machine's (a full disk, an I/O error), never the agent's outcome
            reason = secrets.redact(str(exc), hidden)
            try:
                dest = durable.archive(leftovers, Path(archive_root), label, f"infra failure: {reason}")
                where = f"partial outputs moved to {dest}"
            except OSError as archiving:
                where = f"partial outputs left in place ({archiving}); the next `doit` archives them"
            what = "refused" if isinstance(exc, UnsafePath) else "infrastructure failure"
            return TaskFailed(f"{task}: {what}: {reason}\n{where}; the next `doit` retries this task")
    return None


def check_preflight(exp: Experiment):
    """The `preflight` task: record what would make paid work fail (sealed tasks refuse while it does)."""
    if context.CURRENT.adopting:
        return TaskFailed("preflight: left to the next `doit`")
    preflight.record(exp)          # (its findings reach the user through the calls they refuse, and status)
    return None


def _repo(exp: Experiment) -> Path:
    if context.CURRENT.repo_mirror is not None:        # on a Dask worker: the copy it was sent (remote.py)
        return context.CURRENT.repo_mirror
    fx = exp.fixture
    local = exp.repos.get(fx.repo_url)
    if local is None and Path(fx.repo_url).expanduser().is_absolute():
        local = Path(fx.repo_url).expanduser()
    return workspace.ensure_repo(exp.root, fx.repo_url, local, fx.source_hash)


# ---------------------------------------------------------------- setup and baseline

def describe(exp: Experiment) -> dict:
    """config/experiment.json: the experiment as configured, free of machine-specific paths."""
    fx = exp.fixture
    return {
        "experiment_id": exp.id, "description": exp.description,
        # ProjectScylla's keys, so its loader and tools read this file too
        "task_repo": fx.repo_url, "task_commit": fx.source_hash, "task_prompt_file": tree.PROMPT,
        "language": fx.language, "models": [exp.agent.model], "judge_models": [j.model for j in exp.judges],
        "task": {"id": fx.id, "language": fx.language, "repo": fx.repo_url, "hash": fx.source_hash},
        "tiers_to_run": list(exp.tiers),
        "subtests": {t: [s.id for s in exp.subtests[t]] for t in exp.tiers},
        "runs_per_subtest": exp.runs,
        "agent": {"adapter": exp.agent.adapter, "model": exp.agent.model, "command": exp.agent.command,
                  "options": exp.agent.options},
        "judges": [{"judge_number": j.number, "adapter": j.adapter, "model": j.model, "base_url": j.base_url}
                   for j in exp.judges],
        "thinking": exp.agent.thinking, "max_turns": exp.agent.max_turns,
        "timeout_seconds": exp.agent.timeout_seconds, "budget_usd": exp.budget_usd,
    }


def system_prompt_source() -> bytes:
    return package_files.files("scylla.judges").joinpath("system_prompt.md").read_bytes()


def setup(exp: Experiment) -> None:
    fx = exp.fixture
    durable.write_bytes(tree.PROMPT, fx.prompt.read_bytes())
    durable.write_bytes(tree.RUBRIC, fx.rubric_path.read_bytes())
    durable.write_bytes(tree.CRITERIA, fx.criteria.read_bytes())
    durable.write_bytes(tree.JUDGE_SYSTEM_PROMPT, system_prompt_source())
    durable.write_json(tree.EXPERIMENT_JSON, describe(exp))


def baseline(exp: Experiment, task_name: str, inputs: list[str], config: str):
    def work(out: Path) -> None:
        if not pipeline.runs_steps(exp.fixture.language):      # nothing to run: no workspace to re-create
            _warm_repo_cache(exp)
            durable.write_json(tree.BASELINE, pipeline.not_applicable(exp.fixture.language, out))
            return
        ws = Path(tree.WORKSPACES_DIR, "baseline")
        with workspace.recreated(_repo(exp), ws, exp.fixture.source_hash, None, None, within=ROOT) as ws:
            result = pipeline.run_pipeline(ws, exp.fixture.language, out, keys=adapters.key_variables(exp),
                                           confinement=exp.confinement.on_host())
        durable.write_json(tree.BASELINE, result)
    return sealed(task_name, tree.BASELINE_DIR, inputs, config, ".failed", "baseline", work, (tree.BASELINE,),
                  keys=adapters.key_variables(exp))


def _warm_repo_cache(exp: Experiment) -> None:
    """Fill the repository cache now: under `doit -n N` the baseline runs while the budget gate holds
    back the first agents, which would otherwise wait on the cache lock for it. Only a warm-up: an
    unreachable repository is reported by the agent tasks that need it, as before."""
    with contextlib.suppress(workspace.WorkspaceError):
        _repo(exp)


# ---------------------------------------------------------------- subtest configuration

def subtest_config(exp: Experiment, subtest: Subtest):
    parents = []
    for tier in exp.parent_tiers(subtest):
        best = records.read(TierPaths(tier).best, records.BestSubtest).get("subtest")
        if best is None:
            raise durable.ArtifactError(f"{TierPaths(tier).best}: tier {tier} has no best subtest")
        parents.append(records.read(SubtestPaths(tier, best).manifest, records.ConfigManifest))
    sp = SubtestPaths(subtest.tier, subtest.id)
    try:
        manifest = resources.compose(exp.tiers_dir, subtest, parents)
        files = adapters.agent(exp.agent.adapter).config_files(exp.tiers_dir, manifest)
    except ResourceError as exc:        # (the user's to fix: said in one line, not a traceback)
        return TaskFailed(str(exc))
    manifest = resources.materialize(manifest, files, Path(sp.config_dir))
    durable.write_json(sp.manifest, manifest)
    return None


# ---------------------------------------------------------------- agent and its derived result

def agent(exp: Experiment, run: RunPaths, task_name: str, inputs: list[str], config: str):
    sp = run.subtest_paths
    manifest = records.read(sp.manifest, records.ConfigManifest)
    adapter = adapters.agent(exp.agent.adapter)

    def work(out: Path) -> None:
        config_dir = Path(sp.config_dir)
        resources.verify(config_dir, manifest)
        cache = _repo(exp)
        config_commit = workspace.config_commit(cache, exp.fixture.source_hash, config_dir, adapter.config_paths)
        with workspace.checkout(cache, workspace.attempt_path(run.workspace, ROOT), config_commit, ROOT) as ws:
            with throttle.slot("agents", exp.limits.agents):
                throttle.wait_if_paused(task_name)
                outcome = adapter.run(exp, run, ws, manifest, out)
            _record_adapter(out, exp.agent.adapter)
            patch, state = workspace.capture(ws, config_commit)
        hidden = secrets.secret_values(names=adapters.key_variables(exp))
        durable.write_bytes(out / "patch.diff", secrets.redact_bytes(patch, hidden))
        durable.write_json(out / "workspace_state.json", {"base_commit": exp.fixture.source_hash, **state})
        if outcome.rate_limited:
            raise throttle.RateLimited(outcome.infra_reason or "rate limited", outcome.retry_after)
        if outcome.infra_reason:
            raise durable.InfraFailure(outcome.infra_reason)
    return sealed(task_name, run.agent_dir, inputs, config, sp.failed_dir, tree.run_name(run.number), work,
                  limits=exp.limits, paid="agent" if adapter.paid else None, keys=adapters.key_variables(exp),
                  shipping=_shipping(exp, sp, ("agents", exp.limits.agents)))


def _shipping(exp: Experiment, sp: SubtestPaths, slot: tuple[str, int | None] | None = None) -> remote.Shipping:
    """An agent's or pipeline's needs on a worker: the subtest's configuration and the repository."""
    return remote.Shipping(files=(sp.config_dir,), slot=slot, repo=lambda: (_repo(exp), exp.fixture.source_hash),
                           backoff_seconds=exp.limits.backoff_seconds)


def _record_adapter(agent_dir: Path, name: str) -> None:
    """command_log.json names the adapter that ran, whose parser derives agent/result.json from these
    captures (the built-ins write it themselves)."""
    log_file = agent_dir / adapters.COMMAND_LOG
    log = read_obj(log_file)
    if log.get("adapter") != name:
        durable.write_json(log_file, {"adapter": name, **log})


@_left_for_doit("agent_result")
def agent_result(run: RunPaths) -> None:
    durable.write_json(run.agent_result, adapters.derive_agent_result(Path(run.agent_dir)))


# ---------------------------------------------------------------- pipeline and judges

def _patch_unavailable(run: RunPaths) -> str | None:
    """Why this (adopted) run cannot be re-created from base + config + patch, if it cannot."""
    state = Path(run.agent("workspace_state.json"))
    reason = read_obj(state).get("patch_unavailable") if state.exists() and state.stat().st_size else None
    return f"{run.id}: {reason}, so it cannot be rebuilt from its patch (run again: delete {state.parent}/.seal.json)" \
        if reason else None


def run_pipeline(exp: Experiment, run: RunPaths, task_name: str, inputs: list[str], config: str):
    sp = run.subtest_paths
    if _restored_adopted_pipeline(exp, run, task_name, inputs):
        return None
    if reason := _patch_unavailable(run):
        return TaskFailed(reason)

    def work(out: Path) -> None:
        if not pipeline.runs_steps(exp.fixture.language):      # nothing to run: no workspace to re-create
            durable.write_json(run.pipeline, pipeline.not_applicable(exp.fixture.language, out))
            return
        ws = Path(run.workspace + "-pipeline")
        with workspace.recreated(_repo(exp), ws, exp.fixture.source_hash, Path(sp.config_dir),
                                 Path(run.agent("patch.diff")), adapters.agent(exp.agent.adapter).config_paths,
                                 within=ROOT) as ws:
            result = pipeline.run_pipeline(ws, exp.fixture.language, out, keys=adapters.key_variables(exp),
                                           confinement=exp.confinement.on_host())
        durable.write_json(run.pipeline, result)
    return sealed(task_name, run.commands_dir, inputs, config, sp.failed_dir,
                  f"{tree.run_name(run.number)}_pipeline", work, keys=adapters.key_variables(exp),
                  shipping=_shipping(exp, sp))


def _restored_adopted_pipeline(exp: Experiment, run: RunPaths, task_name: str, inputs: list[str]) -> bool:
    """An adopted pipeline (ProjectScylla kept its scripts and logs) whose pipeline.json is lost or
    damaged while its seal still covers it: the placeholder adoption wrote comes back, byte for byte
    (its workspace is often gone, and its judges read the prompt built from the placeholder). Its seal
    records the configuration without a toolchain (kinds.Sealed.config_for)."""
    try:
        seal = durable.read_seal(run.commands_dir)
    except durable.ArtifactError:
        return False
    config = durable.config_digest(pipeline.identity(exp.fixture))
    if not seal or not seal.get("adopted_from") or durable.seal_mismatch(seal, task_name, config, inputs):
        return False
    durable.write_json(run.pipeline, pipeline.adopted_placeholder(seal["adopted_from"]))
    return True


@_left_for_doit("judge_prompt")
def judge_prompt(run: RunPaths):
    if reason := _patch_unavailable(run):
        return TaskFailed(reason)
    text = judge_prompt_md.build(
        prompt=Path(tree.PROMPT).read_text(encoding="utf-8"),
        rubric_yaml=Path(tree.RUBRIC).read_text(encoding="utf-8"),
        criteria=Path(tree.CRITERIA).read_text(encoding="utf-8"),
        output=Path(run.agent("output.txt")).read_text(encoding="utf-8", errors="replace"),
        patch=Path(run.agent("patch.diff")).read_text(encoding="utf-8", errors="replace"),
        state=read_obj(run.agent("workspace_state.json")),
        pipeline=records.read(run.pipeline, records.PipelineResult),
        baseline=records.read(tree.BASELINE, records.PipelineResult))
    _archive_adopted_original(run, text)
    durable.write_text(run.judge_prompt, text)


def _archive_adopted_original(run: RunPaths, text: str) -> None:
    """An adopted judgment's seal stands on ProjectScylla's judge_prompt.md: a new prompt never replaces
    it in place. The original moves to .superseded/ first (its bytes also stay under .scylla/originals/);
    the judgment, its input gone, is stale and runs again on the new prompt."""
    old = Path(run.judge_prompt)
    if not old.is_file() or old.read_bytes() == text.encode("utf-8"):
        return
    for seal_file in Path(run.judge_root).glob(f"judge_*/{durable.SEAL_NAME}"):
        try:
            seal = durable.read_seal(seal_file.parent)
        except durable.ArtifactError:
            continue
        if seal and seal.get("adopted_from") and run.judge_prompt in seal["inputs"]:
            durable.archive([old], Path(run.subtest_paths.superseded_dir), f"{tree.run_name(run.number)}_judge_prompt",
                            f"rebuilt from changed inputs; adopted judgments ({seal['adopted_from']}) read this one")
            return


def judge(exp: Experiment, run: RunPaths, slot_number: int, task_name: str, inputs: list[str], config: str):
    """The paid call: its raw reply (response.txt) and what only the call knows (call.json), sealed.
    judgment.json is derived from them by the cheap `judgment` task."""
    slot = exp.judges[slot_number - 1]
    adapter = adapters.judge(slot.adapter)

    def work(out: Path) -> None:
        started = _now()
        # a paid judge takes a judge slot and waits out a rate-limit pause first
        with throttle.slot("judges", exp.limits.judges) if adapter.paid else contextlib.nullcontext():
            if adapter.paid:
                throttle.wait_if_paused(task_name)
            call, seconds = adapter.run(exp, slot, run, Path(run.judge_prompt), Path(tree.JUDGE_SYSTEM_PROMPT), out)
        record = judge_reply.call_record(slot.adapter, slot.model, slot.number, **call)
        durable.write_json(out / tree.JUDGE_CALL, record)
        durable.write_json(out / "timing.json", {"judge_duration_seconds": round(seconds, 3), "measured_at": started})
        durable.write_text(out / "MODEL.md", adapters.model_md(adapter.role, slot.model, slot.adapter, slot.command))
    return sealed(task_name, run.judge_dir(slot.number), inputs, config, run.subtest_paths.failed_dir,
                  f"{tree.run_name(run.number)}_judge_{slot.number:02d}", work, limits=exp.limits,
                  paid="judge" if slot.paid else None, keys=adapters.key_variables(exp),
                  # (a judge that calls nothing, e.g. the pipeline judge's scoring, stays here: no work to send)
                  shipping=remote.Shipping(slot=("judges", exp.limits.judges), backoff_seconds=exp.limits.backoff_seconds)
                  if adapter.paid else None)


@_left_for_doit("judgment", slot=True)
def judgment(exp: Experiment, run: RunPaths, slot_number: int) -> None:
    """judgment.json from the judge's raw reply and call record: no call, the same bytes every time."""
    slot = exp.judges[slot_number - 1]
    target = run.judge(slot_number, "judgment.json")
    recorded = _call_record(run.judge(slot_number, tree.JUDGE_CALL))
    call = {"adapter": slot.adapter, "model": slot.model, "judge_number": slot.number, **recorded}
    text = judge_reply.read_reply(run.judge(slot_number, "response.txt"))     # its first REPLY_LIMIT bytes
    threshold = pass_threshold(load_yaml(Path(tree.RUBRIC).read_text(encoding="utf-8")))
    made = judge_reply.judgment_file(text, call, threshold)
    if not recorded and not made["is_valid"]:
        # adopted, and not restorable as ProjectScylla wrote it (the decorator's restore): never make an
        # invalid judgment up from a reply whose format may not be Scylla's
        raise durable.ArtifactError(
            f"{target}: an adopted judgment (no call record of Scylla's) that cannot be restored as "
            f"ProjectScylla wrote it, and its reply {Path(target).with_name('response.txt')} holds no verdict "
            f"to rebuild it from. Restore judgment.json, or delete {Path(target).with_name(durable.SEAL_NAME)} "
            f"to judge again")
    durable.write_json(target, made)


def _call_record(path: str) -> records.CallRecord | dict[str, Any]:
    """call.json; empty for an adopted judgment (ProjectScylla recorded no call: `scylla adopt` leaves
    an empty placeholder)."""
    return records.read(path, records.CallRecord) if os.path.getsize(path) else {}


# ---------------------------------------------------------------- derived results

def _judgments(exp: Experiment, run: RunPaths, with_timing: bool = False) -> list[records.SlotJudgment]:
    """Each slot's judgment (+ timing); model and slot number come from the spec when a judgment
    does not name them (ProjectScylla's keep the model in MODEL.md)."""
    return [cast(records.SlotJudgment, {
        "model": j.model, "judge_number": j.number, **records.read(run.judge(j.number, "judgment.json"), records.JudgmentFile),
        **(records.read(run.judge(j.number, "timing.json"), records.JudgeTiming) if with_timing else {})})
        for j in exp.judges]


@_left_for_doit("consensus")
def consensus(exp: Experiment, run: RunPaths) -> None:
    durable.write_json(run.consensus, results.consensus(_judgments(exp, run)))


@_left_for_doit("run")
def run_result(exp: Experiment, run: RunPaths) -> None:
    judges = _judgments(exp, run, with_timing=True)
    result = results.run_result(
        run.number, records.read(run.agent_result, records.AgentResult),
        records.read(run.agent("timing.json"), records.AgentTiming), records.read(run.consensus, records.Consensus),
        judges, {"workspace_path": run.workspace, "logs_path": run.agent_dir,
                 "command_log_path": run.agent("command_log.json")})
    durable.write_json(run.run_result, result)
    _write_reports(run.dir, reports.run_report(run.id, result, posixpath.relpath(run.html_page, run.dir)))


def subtest(exp: Experiment, sp: SubtestPaths) -> None:
    runs = [results.normalized_run(records.read(sp.run(n).run_result, records.RunResult)) for n in range(1, exp.runs + 1)]
    summary = results.subtest_summary(sp.tier, sp.subtest, runs)
    durable.write_json(sp.result, summary)
    _write_reports(sp.dir, reports.subtest_report(summary, runs))


def tier(exp: Experiment, tier_id: str) -> None:
    tp = TierPaths(tier_id)
    subtests = [records.read(SubtestPaths(tier_id, s.id).result, records.SubtestSummary) for s in exp.subtests[tier_id]]
    summary = results.tier_summary(tier_id, subtests)
    durable.write_json(tp.result, summary)
    durable.write_json(tp.best, results.best_identity(tier_id, summary))
    _write_reports(tier_id, reports.tier_report(summary))
    durable.write_text(f"{tier_id}/summary.md", reports.tier_summary(summary))


def experiment(exp: Experiment) -> None:
    tiers = [records.read(TierPaths(t).result, records.TierSummary) for t in exp.tiers]
    summary = results.experiment_summary(exp.id, tiers)
    durable.write_json(tree.EXPERIMENT_RESULT, summary)
    durable.write_json("tier_comparison.json", results.tier_comparison(tiers))
    _write_reports(".", reports.experiment_report(summary, tiers))
    durable.write_text("summary.md", reports.experiment_summary(summary, tiers))
    durable.write_text("report.html", reports.redirect_html(f"Scylla experiment {exp.id}", tree.HTML_REPORT))


def _write_reports(directory: str, report: tuple[str, Mapping[str, Any]]) -> None:
    md, js = report
    durable.write_text(f"{directory}/report.md", md)
    durable.write_json(f"{directory}/report.json", js)
