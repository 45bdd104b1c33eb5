"""Adopting a ProjectScylla experiment directory: finished work is kept, never paid for again.

`scylla adopt <dir>` turns a ProjectScylla experiment (legacy flat `<dir>/T0/00/run_01/...` or current
`<dir>/completed/T0/00/run_01/...`) into a Scylla experiment, adding files only, all or nothing: `check`
validates everything that can fail before the first write, and `all_or_nothing` removes whatever was
added if anything fails after it.

* `<dir>/scylla.yaml`, a spec made from `config/experiment.json`; Scylla's own experiment-level files
  and aggregates go to `<dir>/scylla/` (ProjectScylla's files of the same names keep their formats), and
  its runs are ProjectScylla's run directories (`runs_dir`).
* an *adopted seal* beside each finished agent run, pipeline and judgment (ProjectScylla's own rules:
  an agent result with tokens or a parseable result line and no rate limit; a judgment with a score,
  grade and MODEL.md) that fingerprints the task's inputs that are ProjectScylla's files (a judge's
  judge_prompt.md), plus the raw files Scylla expects and ProjectScylla never wrote (the agent's
  patch is recovered from the run's kept `workspace/`, else marked unavailable);
* doit records for the derived files ProjectScylla already wrote (agent/result.json, judge_prompt.md,
  judge/result.json, run_result.json), so they are neither rebuilt nor rewritten.

Then `doit` runs, with paid work refused, to build Scylla's aggregates where everything is finished.
What remains (`doit list --status`) is exactly the unfinished work; `in_progress/` runs are unfinished.
"""

from __future__ import annotations

import contextlib
import functools
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import orjson
import yaml
from doit.cmd_base import ModuleTaskLoader
from doit.dependency import Dependency, MD5Checker
from doit.doit_cmd import DoitMain
from doit.task import Task

from . import (
    adapters,
    context,
    durable,
    graph,
    loader,
    pipeline,
    records,
    tree,
    workspace,
)
from .actions import _repo
from .agents import usage
from .doit_plugins import DurableSqliteDB
from .errors import AdoptError, SpecError
from .kinds import Intact, intact_values
from .resources import own_resources
from .spec import load_experiment, load_fixture, load_tier
from .status import _render_forecast, _render_next
from .tree import SubtestPaths

SOURCE = "projectscylla"
SPEC_NAME = "scylla.yaml"
SCYLLA_ROOT = "scylla"
PS_PROMPT = "prompt.md"          # ProjectScylla's copy of the task prompt, beside config/
THINKING = {"none": "none", "low": "low", "high": "high", "ultrathink": "max"}
DERIVED_KINDS = ("agent_result", "judge_prompt", "judgment", "consensus", "run")
R = TypeVar("R")


# ---------------------------------------------------------------- the spec

def _read_config(ps_dir: Path) -> dict:
    path = ps_dir / "config/experiment.json"
    try:
        config = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        raise AdoptError(f"{path}: not found (is {ps_dir} a ProjectScylla experiment directory?)") from None
    except orjson.JSONDecodeError as exc:
        raise AdoptError(f"{path}: malformed JSON ({exc})") from None
    for key in ("experiment_id", "task_repo", "task_commit", "language"):
        if key not in config:
            raise AdoptError(f"{path}: missing key '{key}'")
    return config


def spec_for(ps_dir: Path, tiers_dir: Path, fixture_dir: Path, repos: dict[str, Path]) -> dict:
    """The Scylla spec equivalent to a ProjectScylla experiment's config/experiment.json."""
    config = _read_config(ps_dir)
    fixture = yaml.safe_load((fixture_dir / "test.yaml").read_text(encoding="utf-8")) or {}
    pinned = str((fixture.get("source") or {}).get("hash", ""))
    if pinned != config["task_commit"]:
        raise AdoptError(f"{fixture_dir / 'test.yaml'}: source.hash {pinned!r} differs from task_commit "
                         f"{config['task_commit']!r} in {ps_dir / 'config/experiment.json'}")
    models = config.get("models") or ["claude-sonnet-4-6"]
    judges = config.get("judge_models") or ([config["judge_model"]] if config.get("judge_model") else [])
    if not judges:
        raise AdoptError(f"{ps_dir / 'config/experiment.json'}: no judge_models")
    rel = lambda p: os.path.relpath(Path(p).resolve(), ps_dir.resolve())
    spec = {
        "id": config["experiment_id"],
        "description": f"adopted from the ProjectScylla experiment {ps_dir.name}",
        "fixture": rel(fixture_dir), "tiers_dir": rel(tiers_dir),
        "tiers": _tiers(tiers_dir, config),
        "runs": int(config.get("runs_per_subtest") or 1),
        "agent": {"adapter": "claude-code", "model": models[0]},
        "judges": [{"adapter": "claude-code", "model": m} for m in judges],
        "thinking": THINKING.get(str(config.get("thinking_mode") or "None").lower(), "none"),
        "root": SCYLLA_ROOT,
        "runs_dir": "../completed" if (ps_dir / "completed").is_dir() else "..",
    }
    if config.get("max_turns"):
        spec["max_turns"] = int(config["max_turns"])
    if config.get("timeout_seconds"):
        spec["timeout_seconds"] = config["timeout_seconds"]
    if repos:
        spec["repos"] = {url: rel(path) for url, path in repos.items()}
    return spec


def _tiers(tiers_dir: Path, config: dict) -> list[str] | dict[str, list[str]]:
    """The subtests ProjectScylla ran: all of each tier, minus agent-team subtests when it skipped
    them, at most `max_subtests` per tier (never more: those runs would be paid for)."""
    tiers = list(config.get("tiers_to_run") or ["T0"])
    limit, skip_teams = config.get("max_subtests"), config.get("skip_agent_teams")
    if not limit and not skip_teams:
        return tiers
    chosen = {}
    for tier in tiers:
        ids = [s.id for s in load_tier(tiers_dir, tier) if not (skip_teams and s.agent_teams)]
        chosen[tier] = ids[:limit] if limit else ids
    return chosen


def _spec_text(spec: dict) -> str:
    return "# Written by `scylla adopt`: this ProjectScylla experiment, as a Scylla experiment.\n" + \
        yaml.safe_dump(spec, sort_keys=False)


def write_spec(ps_dir: Path, spec: dict) -> Path:
    path = ps_dir / SPEC_NAME
    text = _spec_text(spec)
    if path.exists() and path.read_text(encoding="utf-8") != text:
        raise AdoptError(f"{path} exists with other content; remove it to adopt again")
    durable.write_text(path, text)
    return path


# ---------------------------------------------------------------- originals

ORIGINALS = tree.ORIGINALS


def keep_originals(ps_dir: Path, store: Path) -> int:
    """Hard-link every file of the ProjectScylla tree into `store` (a copy where links fail). Scylla
    replaces files by rename, so a linked original keeps its bytes even where Scylla later rebuilds
    a result (e.g. a run_result.json once its missing judgment exists). Nothing is lost."""
    own = {(ps_dir / SCYLLA_ROOT).resolve(), (ps_dir / SPEC_NAME).resolve()}
    kept = 0
    for dirpath, dirnames, filenames in os.walk(ps_dir):
        here = Path(dirpath)
        dirnames[:] = [d for d in dirnames if (here / d).resolve() not in own]
        for name in filenames:
            src = here / name
            if src.resolve() in own or src.is_symlink():
                continue
            dest = store / src.relative_to(ps_dir)
            if dest.exists():
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dest)
            except OSError:
                shutil.copy2(src, dest)
            kept += 1
    return kept


def _unlink_copy(kept: Path) -> None:
    """Make the kept original of a derived file a copy of its own: a hard link shares the bytes a
    truncation or an editor writing in place damages, and restoring the file needs them intact."""
    if kept.is_file() and kept.stat().st_nlink > 1:
        shutil.copy2(kept, f"{kept}.copy")
        os.replace(f"{kept}.copy", kept)


# ---------------------------------------------------------------- what ProjectScylla finished

def _read(path: Path, record: type[R]) -> R | None:
    """The record at `path`; None when it is missing, unreadable, corrupt or not an object."""
    try:
        return records.read(path, record)
    except durable.ArtifactError:
        return None


def agent_finished(agent_dir: Path) -> bool:
    """ProjectScylla's rule: a result with exit_code/token_stats/cost_usd that is not an empty crash
    (exit -1, no tokens), else a parseable result line in stdout.log; never a rate-limited run."""
    result = _read(agent_dir / "result.json", records.AgentResult)
    stdout = agent_dir / "stdout.log"
    raw = usage.parse_result_json(stdout.read_text(encoding="utf-8", errors="replace")) if stdout.exists() else None
    if result is not None and all(k in result for k in ("exit_code", "token_stats", "cost_usd")):
        tokens = result.get("token_stats") or {}
        if result["exit_code"] == -1 and not any(tokens.values()):
            return False
        if result["exit_code"] != 0 and not result["cost_usd"] and not any(tokens.values()):
            return False                    # refused before any work (rate limit, auth): nothing to judge
        raw = raw or usage.parse_result_json(str(result.get("stdout") or ""))
    elif raw is None:
        return False
    return not usage.rate_limit(raw)[0]


def judge_finished(judge_dir: Path) -> bool:
    judgment = _read(judge_dir / "judgment.json", records.JudgmentFile)
    if not judgment:
        return False
    return all(k in judgment for k in ("score", "passed", "grade")) and (judge_dir / "MODEL.md").is_file()


def pipeline_finished(run_dir: Path) -> bool:
    """ProjectScylla builds the judge prompt after the pipeline, and judges after that."""
    return (run_dir / "judge_prompt.md").is_file() or (run_dir / "run_result.json").is_file() \
        or any((run_dir / "judge").glob("judge_*/judgment.json"))


# ---------------------------------------------------------------- filling in what Scylla expects

def _fill(paths: list[str]) -> list[str]:
    """Create the missing raw files a sealed task declares (empty); returns the ones created."""
    created = []
    for p in map(Path, paths):
        if not p.exists() and p.name != durable.SEAL_NAME:
            durable.write_bytes(p, b"")
            created.append(p.name)
    return created


def _recover_patch(exp, run_dir: Path, agent_dir: Path) -> None:
    """patch.diff and workspace_state.json from the run's kept workspace/, if ProjectScylla kept one
    (ProjectScylla's own, where it wrote them, are kept: an original is never replaced)."""
    if (agent_dir / "workspace_state.json").exists():
        return
    if (agent_dir / "patch.diff").exists():
        durable.write_json(agent_dir / "workspace_state.json", {
            "base_commit": exp.fixture.source_hash, "adopted_from": SOURCE,
            "patch_source": "ProjectScylla's agent/patch.diff"})
        return
    kept = run_dir / "workspace"
    if not kept.is_dir():
        durable.write_bytes(agent_dir / "patch.diff", b"")
        durable.write_json(agent_dir / "workspace_state.json", {
            "base_commit": exp.fixture.source_hash, "adopted_from": SOURCE,
            "patch_unavailable": "ProjectScylla removed this run's workspace; its changes were not kept"})
        return
    cache = _repo(exp)
    config_commit = workspace.config_commit(cache, exp.fixture.source_hash, Path("/nonexistent"),
                                            adapters.agent(exp.agent.adapter).config_paths)
    # (below the root, the working directory: no link on the way, safepath)
    with workspace.checkout(cache, Path(tree.WORKSPACES_DIR, f"adopt-{run_dir.name}-{os.getpid()}"), config_commit,
                            ".") as ws:
        for item in ws.iterdir():                  # the kept workspace replaces the base content
            if item.name != ".git":
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        shutil.copytree(kept, ws, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", "CLAUDE.md", ".claude"))
        patch, state = workspace.capture(ws, config_commit)
    durable.write_bytes(agent_dir / "patch.diff", patch)
    durable.write_json(agent_dir / "workspace_state.json", {
        "base_commit": exp.fixture.source_hash, "adopted_from": SOURCE,
        "patch_source": "the run's workspace/ kept by ProjectScylla (CLAUDE.md and .claude/ excluded)", **state})


def _finished(exp, task: dict) -> bool:
    kind, out = task["basename"], Path(task["meta"]["sealed"])
    if kind == "agent":
        return agent_finished(out)
    if kind == "pipeline":
        return pipeline_finished(out.parent)
    if kind == "judge":
        return judge_finished(out)
    return False                                   # baseline: Scylla builds its own


def seal_finished(exp, tasks: list[dict], originals: set[str], same: frozenset[str] = frozenset()) -> dict[str, int]:
    """Write adopted seals for ProjectScylla's finished agent runs, pipelines and judgments. Each seal
    fingerprints the task's inputs that are ProjectScylla's own files (`originals`, absolute paths: a
    judge's judge_prompt.md, the patch.diff ProjectScylla wrote) or Scylla's copies of what it ran with
    (`same`: the task prompt, checked equal); a change to one makes the adopted work stale."""
    counts = {"agent": 0, "pipeline": 0, "judge": 0}
    for task in tasks:
        meta = task.get("meta") or {}
        if "sealed" not in meta or task["basename"] not in counts or not _finished(exp, task):
            continue
        out = Path(meta["sealed"])
        if durable.read_seal(out) is not None:
            continue                               # already Scylla's (adopted earlier, or run since)
        if task["basename"] == "agent":
            _recover_patch(exp, out.parent, out)
        if task["basename"] == "pipeline" and not Path(out, "pipeline.json").exists():
            durable.write_json(out / "pipeline.json", pipeline.adopted_placeholder(SOURCE))
        raw = {"agent": tree.AGENT_RAW, "judge": tree.JUDGE_RAW, "pipeline": ("pipeline.json",)}[task["basename"]]
        _fill([*task["targets"], *(str(out / f) for f in raw)])
        name = f"{task['basename']}:{task['name']}"
        seen = [p for p in task["uptodate"][0].inputs if os.path.abspath(p) in originals or p in same]
        # the configuration without Scylla's toolchain: ProjectScylla's was not recorded (kinds.Sealed)
        durable.write_adopted_seal(out, name, task["uptodate"][0].adopted_config, SOURCE, seen, raw)
        counts[task["basename"]] += 1
    return counts


def record_derived(tasks: list[dict], ps_dir: Path | None = None) -> int:
    """doit records for the derived files ProjectScylla already wrote, once their inputs are final.
    With `ps_dir` (the last call), also tree.ADOPTED_DERIVED: each kept task's inputs (md5) and where
    its outputs' original bytes are kept, so a lost one is restored, not rebuilt (actions.restored)."""

    by_name = {f"{t['basename']}:{t['name']}" if t.get("name") else t["basename"]: t
               for t in tasks if "actions" in t}                       # not the group tasks
    sealed_ok = {n for n, t in by_name.items() if "sealed" in (t.get("meta") or {}) and t["uptodate"][0]()}
    dep = Dependency(DurableSqliteDB, tree.DB_FILE, checker_cls=MD5Checker)
    recorded, kept = 0, {}
    md5 = functools.lru_cache(maxsize=None)(durable.file_md5)      # config/ files are inputs of every run
    try:
        for name, task in by_name.items():
            if task["basename"] not in DERIVED_KINDS:
                continue
            upstream_sealed = [d for d in task.get("task_dep", []) if "sealed" in (by_name.get(d, {}).get("meta") or {})]
            files = list(task["targets"]) + list(task["file_dep"])
            if all(d in sealed_ok for d in upstream_sealed) and all(Path(f).exists() for f in files):
                done = Task(name, None, file_dep=task["file_dep"])
                if any(isinstance(u, Intact) for u in task.get("uptodate", ())):
                    done.values = intact_values(task["targets"])    # a damaged original is then rebuilt
                dep.save_success(done)
                recorded += 1
                kept[name] = _kept(task, ps_dir, md5) if ps_dir else None
    finally:
        dep.close()
    if ps_dir and not Path(tree.ADOPTED_DERIVED).exists():     # as at the first adoption: files Scylla
        durable.write_json(tree.ADOPTED_DERIVED, {n: e for n, e in kept.items() if e})   # built since rebuild
    return recorded


def _kept(task: dict, ps_dir: Path, md5) -> dict | None:
    """A kept derived task's inputs as at adoption, and each output's original (path in the store)."""
    targets = {}
    for t in task["targets"]:
        original = os.path.relpath(os.path.abspath(t), ps_dir)
        if original.startswith(".."):
            return None                                # not ProjectScylla's file
        targets[t] = {"original": original, "md5": durable.file_md5(t)}
        _unlink_copy(Path(ORIGINALS) / original)
    return {"inputs": {f: md5(f) for f in task["file_dep"]}, "targets": targets}


# ---------------------------------------------------------------- checks before anything is written

@dataclass
class _Checked:
    """Everything adoption needs, checked before its first write."""
    spec: dict
    exp: object                   # the Experiment the spec describes (loaded from a scratch copy)
    scratch: Path                 # a directory outside the tree: the filled repository cache


def check(ps_dir: Path, tiers_dir: Path, fixture_dir: Path | None, repos: dict[str, Path]) -> _Checked:
    """Validate everything that can make adoption fail, writing nothing into `ps_dir`: the config,
    fixture, tiers directory (every subtest ProjectScylla ran, every resource they name) and the
    repository holding `source.hash`. Raises AdoptError naming the cause and the fix."""
    config = _read_config(ps_dir)
    fixture_dir = Path(fixture_dir) if fixture_dir else Path(str(config.get("task_prompt_file", ""))).parent
    if not (fixture_dir / "test.yaml").is_file():
        raise AdoptError(f"no fixture found at {fixture_dir} (from task_prompt_file); pass --fixture DIR")
    if not Path(tiers_dir).is_dir():
        raise AdoptError(f"tiers directory {tiers_dir} does not exist\nfix: pass --tiers the tiers directory "
                         f"ProjectScylla ran with (the one holding subtests/t0/...)")
    try:
        fixture = load_fixture(fixture_dir)
        spec = spec_for(ps_dir, Path(tiers_dir), fixture_dir, repos)
    except (SpecError, OSError) as exc:
        raise AdoptError(f"{exc}\nfix: pass --tiers and --fixture as ProjectScylla ran them") from None
    _check_ran_with(ps_dir, fixture)
    path = ps_dir / SPEC_NAME
    if path.exists() and path.read_text(encoding="utf-8") != _spec_text(spec):
        raise AdoptError(f"{path} exists with other content; remove it to adopt again")
    scratch = Path(tempfile.mkdtemp(prefix="scylla-adopt-"))
    try:
        exp = _scratch_experiment(ps_dir, spec, scratch)
        _check_subtests(ps_dir, exp)
        _check_repo(exp, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    return _Checked(spec, exp, scratch)


def _check_ran_with(ps_dir: Path, fixture) -> None:
    """The fixture's prompt, rubric and criteria are the copies ProjectScylla kept beside config/ (what its
    agents and judges read): adopted with another rubric, the experiment's later runs would be judged by
    one its adopted runs never were (ProjectScylla's fixtures change: test-001's rubric did)."""
    for name, ours, what in ((PS_PROMPT, fixture.prompt, "task prompt"), (tree.RUBRIC, fixture.rubric_path, "rubric"),
                             (tree.CRITERIA, fixture.criteria, "criteria")):
        ran_with = ps_dir / name
        if ran_with.is_file() and (not ours.is_file() or ran_with.read_bytes() != ours.read_bytes()):
            raise AdoptError(f"{ours} differs from {ran_with}, the {what} ProjectScylla ran with\n"
                             f"fix: pass --fixture the fixture ProjectScylla ran (a copy of it with {ran_with.name} "
                             f"from {ps_dir} in place of {ours.name})")


def _scratch_experiment(ps_dir: Path, spec: dict, scratch: Path):
    """The spec loaded from a copy in `scratch` with absolute paths: Scylla's own checks of it."""
    absolute = {**spec, "fixture": str((ps_dir / spec["fixture"]).resolve()),
                "tiers_dir": str((ps_dir / spec["tiers_dir"]).resolve()), "root": str(ps_dir / SCYLLA_ROOT),
                "repos": {u: str((ps_dir / p).resolve()) for u, p in (spec.get("repos") or {}).items()}}
    copy = scratch / SPEC_NAME
    copy.write_text(_spec_text(absolute), encoding="utf-8")
    try:
        return load_experiment(copy)
    except SpecError as exc:
        raise AdoptError(f"{str(exc).replace(str(copy), str(ps_dir / SPEC_NAME))}\n"
                         f"fix: pass --tiers the tiers directory ProjectScylla ran with") from None


SUBTEST_DIR = re.compile(r"^\d+$")


def ran_subtests(ps_dir: Path) -> set[tuple[str, str]]:
    """(tier, subtest id) of every subtest directory holding ProjectScylla runs, in either layout."""
    bases = [ps_dir / "completed", ps_dir / "in_progress"] if (ps_dir / "completed").is_dir() else [ps_dir]
    found = set()
    for base in bases:
        for sub in base.glob("T*/*"):
            if re.fullmatch(r"T\d+", sub.parent.name) and SUBTEST_DIR.match(sub.name) and sub.is_dir() \
                    and any(sub.glob("run_*")):
                found.add((sub.parent.name, f"{int(sub.name):02d}"))
    return found


def _check_subtests(ps_dir: Path, exp) -> None:
    known = {(s.tier, s.id) for s in exp.all_subtests()}
    unknown = sorted(ran_subtests(ps_dir) - known)
    if unknown:
        names = ", ".join(f"{t}/{s}" for t, s in unknown[:5]) + (" ..." if len(unknown) > 5 else "")
        raise AdoptError(f"ProjectScylla ran subtests that {exp.tiers_dir} does not define or that "
                         f"config/experiment.json excludes: {names}\nfix: pass --tiers the tiers directory "
                         f"ProjectScylla ran with")
    for s in exp.all_subtests():
        _, missing = own_resources(exp.tiers_dir, s)
        if missing:
            raise AdoptError(f"{s.path}: {missing[0]} does not resolve in {exp.tiers_dir}\n"
                             f"fix: pass --tiers the tiers directory ProjectScylla ran with")


def _check_repo(exp, scratch: Path) -> None:
    """Fill a repository cache with `source.hash` in `scratch`; adoption moves it into the tree."""
    fx = exp.fixture
    local = exp.repos.get(fx.repo_url)
    if local is None and Path(fx.repo_url).expanduser().is_absolute():
        local = Path(fx.repo_url).expanduser()
    if local is not None and not local.exists():
        raise AdoptError(f"the repository mapped for {fx.repo_url}, {local}, does not exist\n"
                         f"fix: --repo {fx.repo_url}=PATH of a clone holding commit {fx.source_hash}")
    try:
        workspace.ensure_repo(scratch, fx.repo_url, local, fx.source_hash)
    except workspace.WorkspaceError as exc:
        where = f"the mapped repository {local}" if local else f"{fx.repo_url} (no --repo mapping; fetching it failed)"
        raise AdoptError(f"commit {fx.source_hash} of {fx.repo_url} is not in {where} "
                         f"({str(exc).strip().splitlines()[-1]})\n"
                         f"fix: fetch it there, or map --repo {fx.repo_url}=PATH to a clone that has it") from None


# ---------------------------------------------------------------- all or nothing

def _snapshot(ps_dir: Path) -> dict[str, int | None]:
    """Every path under `ps_dir` (relative): a directory's mtime, None for anything else."""
    seen: dict[str, int | None] = {".": ps_dir.stat().st_mtime_ns}
    for dirpath, dirnames, filenames in os.walk(ps_dir):
        here = os.path.relpath(dirpath, ps_dir)
        for name in dirnames:
            p = os.path.join(dirpath, name)
            seen[os.path.normpath(os.path.join(here, name))] = None if os.path.islink(p) else os.stat(p).st_mtime_ns
        for name in filenames:
            seen[os.path.normpath(os.path.join(here, name))] = None
    return seen


def _restore(ps_dir: Path, before: dict[str, int | None]) -> None:
    """Remove every path that is not in `before`, and put the directories' mtimes back."""
    for dirpath, dirnames, filenames in os.walk(ps_dir):
        here = os.path.relpath(dirpath, ps_dir)
        for name in list(dirnames):
            if os.path.normpath(os.path.join(here, name)) not in before:
                p = os.path.join(dirpath, name)
                os.unlink(p) if os.path.islink(p) else shutil.rmtree(p)
                dirnames.remove(name)
        for name in filenames:
            if os.path.normpath(os.path.join(here, name)) not in before:
                os.unlink(os.path.join(dirpath, name))
    for rel, mtime in sorted(before.items(), key=lambda kv: -kv[0].count("/")):
        if mtime is not None:
            os.utime(ps_dir / rel, ns=(mtime, mtime), follow_symlinks=False)


@contextlib.contextmanager
def all_or_nothing(ps_dir: Path):
    """Whatever happens inside (an error, an interrupt), `ps_dir` is left as it was unless it completes."""
    before, cwd = _snapshot(ps_dir), os.getcwd()
    try:
        yield {p for p, mtime in before.items() if mtime is None}
    except BaseException:
        os.chdir(cwd)
        _restore(ps_dir, before)
        raise
    finally:
        os.chdir(cwd)


# ---------------------------------------------------------------- the command

def adopt(ps_dir: Path, tiers_dir: Path, fixture_dir: Path | None = None,
          repos: dict[str, Path] | None = None, log=print) -> Path:
    """Adopt `ps_dir` (see the module docstring); returns the spec path to pass to `doit exp=`. Either
    it completes, or `ps_dir` is left exactly as it was and AdoptError (or the unexpected error) is raised."""
    ps_dir = Path(ps_dir).resolve()
    checked = check(ps_dir, Path(tiers_dir), fixture_dir, repos or {})
    try:
        with all_or_nothing(ps_dir) as originals:
            spec, counts = _adopt(ps_dir, checked, {str(ps_dir / p) for p in originals})
    finally:
        shutil.rmtree(checked.scratch, ignore_errors=True)
    for line in _summary(ps_dir, spec, counts):
        log(line)
    return spec


def _adopt(ps_dir: Path, checked: _Checked, originals: set[str]) -> tuple[Path, dict]:

    spec = write_spec(ps_dir, checked.spec)
    loaded = loader.load(str(spec))                  # from here on, cwd is Scylla's root in ps_dir
    exp = loaded["EXPERIMENT"]
    # one context for every doit below (not one per doit: SCYLLA_BEGIN is left out), nothing cached
    # between them (each changes the tree)
    del loaded["SCYLLA_BEGIN"]
    ctx = context.install(context.RunContext(command="adopt", root=Path(exp.root).resolve(), runs_dir=exp.runs_dir))
    loader.start_writing(exp, ctx, over_budget=False)
    for cache in (checked.scratch / tree.REPOS_DIR).iterdir():           # the repository checked above
        if not Path(tree.REPOS_DIR, cache.name).exists():                  # (adopted before: it has one)
            Path(tree.REPOS_DIR).mkdir(parents=True, exist_ok=True)
            shutil.move(str(cache), tree.REPOS_DIR)
    kept = keep_originals(ps_dir, Path(ORIGINALS).resolve())

    def doit(log: str, *args: str) -> int:
        """doit's per-task report goes to a log file (-o: its default stream is bound at import), not the user."""
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            return DoitMain(ModuleTaskLoader(loaded)).run(["-o", f"{tree.STATE_DIR}/{log}", *args])
    if doit("adopt-setup.log", "setup", "baseline") != 0:
        raise AdoptError(f"Scylla's setup/baseline failed:\n{_tail('adopt-setup.log')}")
    tasks = list(graph.tasks(exp))
    # the task prompt the agents ran with: ProjectScylla's copy of it equals the fixture's (checked)
    same = frozenset([tree.PROMPT] if (ps_dir / PS_PROMPT).is_file() else [])
    counts = seal_finished(exp, tasks, originals, same)
    record_derived(tasks)
    with context.scoped(adopting=True):              # Scylla's configs and aggregates; nothing paid
        doit("adopt.log", "--continue")
    _check_configs(exp)
    # doit drops the record of every task downstream of a failure (here: of unfinished work); restore them
    counts["derived"] = record_derived(tasks, ps_dir)
    counts["originals"] = kept
    return spec, counts


def _check_configs(exp) -> None:
    """The subtest configurations that inherit nothing were built: anything else is a real failure
    (the doit log, not shown, is in .scylla/adopt.log until the rollback removes it)."""
    for s in exp.all_subtests():
        if not exp.parent_tiers(s) and not Path(SubtestPaths(s.tier, s.id).manifest).is_file():
            raise AdoptError(f"Scylla could not compose the configuration of subtest {s.tier}/{s.id} "
                             f"({s.path}); doit said:\n{_tail('adopt.log')}")


def _tail(log: str) -> str:
    try:
        return Path(tree.STATE_DIR, log).read_text(encoding="utf-8", errors="replace")[-3000:]
    except OSError:
        return "(no log)"


def _summary(ps_dir: Path, spec: Path, counts: dict) -> list[str]:
    """A few lines: what was adopted, and what the next `doit` will do (from `doit status --json`)."""
    lines = [(f"adopted {ps_dir}: {counts['agent']} finished agent runs, {counts['judge']} judgments, "
              f"{counts['pipeline']} pipelines and {counts['derived']} derived files kept as they are; "
              f"{counts['originals']} original files linked into {ps_dir / SCYLLA_ROOT / ORIGINALS}")]
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "status", "--json", f"exp={spec}"],
                          check=False, capture_output=True, text=True)
    try:
        rep = json.loads(done.stdout)
    except ValueError:
        rep = None
    if rep is not None:
        runs = rep.get("runs", {})
        finished = runs.get("complete", 0)
        lines.append(f"runs: {finished} finished, {runs.get('expected', 0) - finished} unfinished")
        lines += _render_next(rep) + _render_forecast(rep["forecast"])[:1]
        if problems := rep.get("preflight"):
            lines.append(f"preflight: {len(problems)} problem(s) hold back agent and judge calls, e.g. "
                         f"{problems[0]} (`scylla status` lists them)")
    else:
        lines.append(f"(`doit status` failed: {(done.stderr or done.stdout).strip()[-500:]})")
    lines.append(f"preview: scylla status exp={spec}    continue with: doit exp={spec}")
    return lines
