"""Preflight: what would make paid work fail, found before any agent or judge is paid for.

Checked: the adapters' executables (on PATH or as configured, with their version), the variables
holding their keys, the fixture repository (mapped, present, holding `source.hash`), every subtest's
resources, the pipeline's tools, and the sandbox the spec names (it must work here; `auto` falls back
to none with a warning instead).

The `preflight` task, which every sealed task waits for, writes its findings to `.scylla/preflight.json`;
an agent or judge call that is due refuses to start while there are any (`refusal`); the free sealed
tasks (baseline, pipeline, the pipeline judge) go ahead unless the pipeline's own tools are missing. The task itself never fails:
a failed dependency would stop doit from even checking whether the sealed tasks are up to date, and a
tree whose paid work is all done (say, a CI job rebuilding results without keys) must not be held up.
`facts()` is the cheap part (stats and environment lookups, no process): the task is up to date while
they are unchanged and nothing was found, so a no-op `doit` pays nothing for it.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

from . import (
    adapters,
    cluster,
    context,
    durable,
    pipeline,
    resources,
    sandbox,
    tree,
    workspace,
)
from .adapters import Executable
from .pipeline import runs_steps
from .spec import Experiment

TASK = "preflight"
REFUSED = "refused by preflight"


def repo_cache(exp: Experiment) -> Path:
    return workspace.cache_path(exp.root, exp.fixture.repo_url)


def _users(exp: Experiment):
    """(who, adapter, its configuration) for the agent and each judge slot."""
    yield "agent", adapters.agent(exp.agent.adapter), exp.agent
    for slot in exp.judges:
        yield f"judges[{slot.number - 1}]", adapters.judge(slot.adapter), slot


def _executables(exp: Experiment) -> dict[str, tuple[str, Executable]]:
    """Executable -> (who needs it, what the adapter says about it), as the adapters declare them."""
    needed: dict[str, tuple[str, Executable]] = {}
    for who, adapter, config in _users(exp):
        for x in adapter.executables(config):
            needed.setdefault(x.name, (f"{who} (adapter {config.adapter}; {x.where})", x))
    return needed


def _keys(exp: Experiment) -> dict[str, tuple[str, ...]]:
    """Who needs a key -> the variables, any one of which will do."""
    keys = {}
    for who, adapter, config in _users(exp):
        if (credentials := adapter.credentials(config)) is not None:
            keys[f"{who} (adapter {config.adapter}{credentials.note})"] = credentials.variables
    return keys


def _repo(exp: Experiment) -> Path | None:
    local = exp.repos.get(exp.fixture.repo_url)
    if local is None and Path(exp.fixture.repo_url).expanduser().is_absolute():
        local = Path(exp.fixture.repo_url).expanduser()
    return local


def _stat(path: str | os.PathLike | None) -> list | None:
    try:
        st = os.stat(path) if path else None
    except OSError:
        return None
    return st and [st.st_size, st.st_mtime_ns]


def facts(exp: Experiment) -> dict:
    """What preflight's verdict depends on, gathered without starting a process (names, stats, and
    whether key variables are set: never their values)."""
    repo = _repo(exp)
    return {
        "source": [exp.fixture.repo_url, exp.fixture.source_hash],
        "executables": {name: [shutil.which(name), _stat(shutil.which(name))] for name in _executables(exp)},
        "keys": {who: [v for v in names if os.environ.get(v)] for who, names in _keys(exp).items()},
        # relative to the spec (a tree moved with its spec stays up to date), and no timestamps: git and
        # tools touch a repository's directories; a repository that loses the commit later fails the
        # agent's checkout as an infrastructure failure, before any call
        "repo": [os.path.relpath(repo, exp.spec_path.parent) if repo else None,
                 bool(repo and repo.is_dir()), bool(repo and workspace.is_git_repo(repo))],
        "resources": {s.tier + "/" + s.id: resources.own_resources(exp.tiers_dir, s)[1] for s in exp.all_subtests()},
        "toolchain": toolchain_findings(exp),
        "sandbox": [exp.sandbox.kind, *(shutil.which(t) for t in ("bwrap", "socat", "docker"))],
        # (with a cluster, the workers are checked: a doit that moves to another cluster checks again)
        "executor": context.CURRENT.executor,
    }


def findings(exp: Experiment, cache: Path | None = None) -> list[str]:
    """Everything that would make paid work fail, each with its fix. `cache`: the experiment's
    repository cache, which may already hold the commit (then the mapped repository is not needed).
    With a Dask cluster (`executor=`), the agents' and judges' executables and keys are checked on every
    worker, where they run (the repository and resources are sent from here)."""
    found = _on_workers(exp) if context.CURRENT.executor else machine_findings(exp)
    found += _repo_findings(exp, cache)
    for s in exp.all_subtests():
        found += [f"{s.path}: {m}" for m in resources.own_resources(exp.tiers_dir, s)[1]]
    return found + toolchain_findings(exp)


def machine_findings(exp: Experiment, where: str = "before `doit`") -> list[str]:
    """What this machine lacks to run the experiment's agents and judges: executables, keys."""
    found = []
    for name, (who, x) in _executables(exp).items():
        if _version(name):
            continue
        found.append(f"{who}: executable {name!r} not found or not runnable "
                     f"(install it, e.g. {x.install}, or fix the path)")
    for who, names in _keys(exp).items():
        if not any(os.environ.get(v) for v in names):
            found.append(f"{who}: none of {', '.join(names)} is set: export the key {where}")
    return found


def _on_worker(exp: Experiment, toolchain: dict) -> list[str]:
    """machine_findings() on a Dask worker, with its pipeline tools (they must be the doit's: a pipeline's
    seal names the doit's) and its sandbox."""
    found = machine_findings(exp, where="in the worker's environment")
    if (here := pipeline.toolchain(exp.fixture.language)) != toolchain:
        found.append(f"pipeline tools {here} differ from the doit's {toolchain}: install the doit's Scylla version")
    return found + toolchain_findings(exp)


def _on_workers(exp: Experiment) -> list[str]:
    scheduler = context.CURRENT.executor
    assert scheduler is not None
    try:
        found = cluster.client(scheduler).run(_on_worker, exp, pipeline.toolchain(exp.fixture.language))
    except (cluster.ExecutorError, OSError) as exc:
        return [f"executor {scheduler}: {exc}"]
    if not found:
        return [f"executor {scheduler}: no Dask worker is connected: start one (`dask worker {scheduler}`)"]
    return [f"worker {address}: {problem}" for address, problems in sorted(found.items()) for problem in problems]


def toolchain_findings(exp: Experiment) -> list[str]:
    """What the pipeline needs and lacks: its results would be sealed wrong, so the pipeline and
    baseline refuse too (not only the paid tasks). The sandbox it runs in, configured but not working
    here, is one of them."""
    if (reason := sandbox.problem(exp.sandbox)) is not None:
        return [f"{exp.spec_path}: {reason}"]
    if not runs_steps(exp.fixture.language):
        return []
    # (pre-commit is optional: a step of its own that is N/A without it)
    return [f"pipeline ({exp.fixture.language}): {tool} is not installed for {sys.executable}: reinstall "
            f"Scylla (pip install -e .), which pins it" for tool in ("pytest", "ruff")
            if importlib.util.find_spec(tool) is None]


def _version(name: str) -> str | None:
    path = shutil.which(name)
    if path is None:
        return None
    try:
        done = subprocess.run([path, "--version"], check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.strip() or done.stderr.strip() or "unknown version"


def versions(exp: Experiment) -> dict[str, str | None]:
    return {name: _version(name) for name in _executables(exp)}


def _repo_findings(exp: Experiment, cache: Path | None) -> list[str]:
    fx, repo = exp.fixture, _repo(exp)
    if cache is not None and cache.exists() and workspace.has_commit(cache, fx.source_hash):
        return []
    where = f"{exp.spec_path}: repos"
    if repo is None:
        return [(f"{where}: {fx.repo_url!r} is not mapped to a local repository: add "
                f"`\"{fx.repo_url}\": PATH/TO/CLONE` under repos:")]
    if not repo.is_dir():
        return [f"{where}: {fx.repo_url!r} is mapped to {repo}, which does not exist: clone it there or fix the path"]
    if workspace.is_git_repo(repo):
        if not workspace.has_commit(repo, fx.source_hash):
            return [(f"{where}: {repo} does not hold commit {fx.source_hash} ({fx.test_yaml}: source.hash): "
                    f"fetch it (git -C {repo} fetch origin {fx.source_hash}) or map a clone that has it")]
    elif (commit := workspace.source_commit(repo)) != fx.source_hash:
        return [(f"{where}: the directory {repo} commits as {commit}, not {fx.source_hash} ({fx.test_yaml}: "
                f"source.hash): restore its files, or pin source.hash to {commit} if the change is intended")]
    return []


def record(exp: Experiment) -> list[str]:
    """Run every check and write `.scylla/preflight.json` (what the sealed tasks read); the findings."""
    problems = findings(exp, repo_cache(exp))
    kind, note = sandbox.resolve(exp.sandbox)
    durable.write_json(tree.PREFLIGHT, {"problems": problems, "toolchain": toolchain_findings(exp),
                                        "versions": versions(exp), "sandbox": {"kind": kind, "note": note or None}})
    return problems


def clean() -> bool:
    """Whether the last preflight found nothing (its task re-runs every `doit` until then)."""
    try:
        return not durable.read_json_object(tree.PREFLIGHT).get("problems")
    except durable.ArtifactError:
        return False


def refusal(paid: bool = True) -> str | None:
    """Why a sealed task that is due must not start: the last preflight's findings, if any (for a
    free one, a pipeline or the baseline: those about the pipeline's tools)."""
    try:
        recorded = durable.read_json_object(tree.PREFLIGHT)
    except durable.ArtifactError:
        return None             # no preflight ran in this tree (a task selected without its dependencies)
    problems = recorded.get("problems" if paid else "toolchain") or []
    if not problems:
        return None
    return (f"{len(problems)} problem(s) would make {'paid work' if paid else 'the pipeline'} fail "
            f"(`doit status` lists them):\n" + "\n".join(f"  - {p}" for p in problems))
