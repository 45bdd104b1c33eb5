"""Adopting a ProjectScylla experiment directory: finished work is kept, never paid for again.

`scylla adopt <dir>` turns a ProjectScylla experiment (legacy flat `<dir>/T0/00/run_01/...` or current
`<dir>/completed/T0/00/run_01/...`) into a Scylla experiment, adding files only:

* `<dir>/scylla.yaml`, a spec made from `config/experiment.json`; Scylla's own experiment-level files
  and aggregates go to `<dir>/scylla/` (ProjectScylla's files of the same names keep their formats), and
  its runs are ProjectScylla's run directories (`runs_dir`).
* an *adopted seal* beside each finished agent run, pipeline and judgment (ProjectScylla's own rules:
  an agent result with tokens or a parseable result line and no rate limit; a judgment with a score,
  grade and MODEL.md), plus the raw files Scylla expects and ProjectScylla never wrote (the agent's
  patch is recovered from the run's kept `workspace/`, else marked unavailable);
* doit records for the derived files ProjectScylla already wrote (agent/result.json, judge_prompt.md,
  judge/result.json, run_result.json), so they are neither rebuilt nor rewritten.

Then `doit` runs, with paid work refused, to build Scylla's aggregates where everything is finished.
What remains (`doit list --status`) is exactly the unfinished work; `in_progress/` runs are unfinished.
"""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from pathlib import Path

import orjson
import yaml

from . import durable, tree, workspace
from .agents import usage

SOURCE = "projectscylla"
SPEC_NAME = "scylla.yaml"
SCYLLA_ROOT = "scylla"
THINKING = {"none": "none", "low": "low", "high": "high", "ultrathink": "max"}
DERIVED_KINDS = ("agent_result", "judge_prompt", "judgment", "consensus", "run")


class AdoptError(Exception):
    pass


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
    rel = lambda p: os.path.relpath(Path(p).resolve(), ps_dir.resolve())      # noqa: E731
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
    from .spec import load_tier
    tiers = list(config.get("tiers_to_run") or ["T0"])
    limit, skip_teams = config.get("max_subtests"), config.get("skip_agent_teams")
    if not limit and not skip_teams:
        return tiers
    chosen = {}
    for tier in tiers:
        ids = [s.id for s in load_tier(tiers_dir, tier) if not (skip_teams and s.agent_teams)]
        chosen[tier] = ids[:limit] if limit else ids
    return chosen


def write_spec(ps_dir: Path, spec: dict) -> Path:
    path = ps_dir / SPEC_NAME
    text = "# Written by `scylla adopt`: this ProjectScylla experiment, as a Scylla experiment.\n" + \
        yaml.safe_dump(spec, sort_keys=False)
    if path.exists() and path.read_text(encoding="utf-8") != text:
        raise AdoptError(f"{path} exists with other content; remove it to adopt again")
    durable.write_text(path, text)
    return path


# ---------------------------------------------------------------- originals

ORIGINALS = f"{tree.STATE_DIR}/originals"


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


# ---------------------------------------------------------------- what ProjectScylla finished

def _json(path: Path) -> dict | None:
    try:
        value = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


def agent_finished(agent_dir: Path) -> bool:
    """ProjectScylla's rule: a result with exit_code/token_stats/cost_usd that is not an empty crash
    (exit -1, no tokens), else a parseable result line in stdout.log; never a rate-limited run."""
    result = _json(agent_dir / "result.json")
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
    judgment = _json(judge_dir / "judgment.json")
    return bool(judgment) and all(k in judgment for k in ("score", "passed", "grade")) \
        and (judge_dir / "MODEL.md").is_file()


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
    """patch.diff and workspace_state.json from the run's kept workspace/, if ProjectScylla kept one."""
    if (agent_dir / "patch.diff").exists() and (agent_dir / "workspace_state.json").exists():
        return
    kept = run_dir / "workspace"
    if not kept.is_dir():
        durable.write_bytes(agent_dir / "patch.diff", b"")
        durable.write_json(agent_dir / "workspace_state.json", {
            "base_commit": exp.fixture.source_hash, "adopted_from": SOURCE,
            "patch_unavailable": "ProjectScylla removed this run's workspace; its changes were not kept"})
        return
    from .actions import _repo
    ws = (Path(tree.WORKSPACES_DIR) / f"adopt-{run_dir.name}-{os.getpid()}").resolve()
    cache = _repo(exp)
    config_commit = workspace.config_commit(cache, exp.fixture.source_hash, Path("/nonexistent"))
    with workspace.checkout(cache, ws, config_commit):
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


def seal_finished(exp, tasks: list[dict]) -> dict[str, int]:
    """Write adopted seals for ProjectScylla's finished agent runs, pipelines and judgments."""
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
            durable.write_json(out / "pipeline.json", {
                "adopted_from": SOURCE, "all_passed": None, "steps": {}, "tests": None,
                "note": "ProjectScylla kept only the step scripts and logs in this directory"})
        raw = {"agent": tree.AGENT_RAW, "judge": tree.JUDGE_RAW}.get(task["basename"], ())
        _fill([*task["targets"], *(str(out / f) for f in raw)])
        name = f"{task['basename']}:{task['name']}"
        durable.write_adopted_seal(out, name, durable.config_digest(meta["config"]), SOURCE)
        counts[task["basename"]] += 1
    return counts


def record_derived(tasks: list[dict]) -> int:
    """doit records for the derived files ProjectScylla already wrote, once their inputs are final."""
    from doit.dependency import Dependency, MD5Checker
    from doit.task import Task

    from .doit_plugins import DurableSqliteDB
    from .graph import Intact, intact_values
    by_name = {f"{t['basename']}:{t['name']}" if t.get("name") else t["basename"]: t
               for t in tasks if "actions" in t}                       # not the group tasks
    sealed_ok = {n for n, t in by_name.items() if "sealed" in (t.get("meta") or {}) and t["uptodate"][0]()}
    dep = Dependency(DurableSqliteDB, tree.DB_FILE, checker_cls=MD5Checker)
    recorded = 0
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
    finally:
        dep.close()
    return recorded


# ---------------------------------------------------------------- the command

def adopt(ps_dir: Path, tiers_dir: Path, fixture_dir: Path | None = None,
          repos: dict[str, Path] | None = None, log=print) -> Path:
    """Adopt `ps_dir` (see the module docstring); returns the spec path to pass to `doit exp=`."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain

    from . import actions, graph
    ps_dir = Path(ps_dir).resolve()
    config = _read_config(ps_dir)
    fixture_dir = Path(fixture_dir) if fixture_dir else Path(str(config.get("task_prompt_file", ""))).parent
    if not (fixture_dir / "test.yaml").is_file():
        raise AdoptError(f"no fixture found at {fixture_dir} (from task_prompt_file); pass --fixture DIR")
    spec = write_spec(ps_dir, spec_for(ps_dir, Path(tiers_dir), fixture_dir, repos or {}))
    loaded = graph.load(str(spec))                  # from here on, cwd is Scylla's root in ps_dir
    exp = loaded["EXPERIMENT"]
    kept = keep_originals(ps_dir, Path(ORIGINALS).resolve())
    doit_log = io.StringIO()

    def doit(*args: str) -> int:
        with contextlib.redirect_stdout(doit_log), contextlib.redirect_stderr(doit_log):
            return DoitMain(ModuleTaskLoader(loaded)).run(list(args))
    if doit("setup", "baseline") != 0:
        raise AdoptError(f"Scylla's setup/baseline failed:\n{doit_log.getvalue()[-3000:]}")
    tasks = list(graph.tasks(exp))
    counts = seal_finished(exp, tasks)
    record_derived(tasks)
    actions.ADOPTING = True                          # Scylla's configs and aggregates; nothing paid
    try:
        doit("--continue")
    finally:
        actions.ADOPTING = False
    # doit drops the record of every task downstream of a failure (here: of unfinished work); restore them
    derived = record_derived(tasks)
    durable.write_text(Path(tree.STATE_DIR) / "adopt.log", doit_log.getvalue())
    log(f"adopted {ps_dir}: {counts['agent']} finished agent runs, {counts['judge']} judgments, "
        f"{counts['pipeline']} pipelines, {derived} derived files kept as they are; "
        f"{kept} original files linked into {exp.root / ORIGINALS}")
    log(f"continue with: doit exp={spec}    (preview: doit list --all --status exp={spec})")
    return spec
