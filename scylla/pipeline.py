"""The build/test pipeline run on an agent's workspace (and on the untouched repository: the baseline).

Every step runs as a bash script written to `commands_dir/<step>.sh`, so the script on disk is exactly what
ran; run it from the workspace root to reproduce the step. Its combined output goes to `<step>.log`.

The returned dict depends only on the workspace content (no timings, absolute paths or temp names): it is
sealed, compared with the baseline and scored by the pipeline judge. Nothing is written into the workspace:
bytecode and the junit report go to a scratch directory outside it, tool caches are disabled, and whatever
a step still creates (e.g. pytest-benchmark's `.benchmarks/`, files written by the tests) is removed after it.

The toolchain is part of a result's identity: every tool runs with this interpreter (`python -m ...`), so
the versions `toolchain()` reads from the installed distributions are those of the tools that ran. They
are recorded in the result, and graph.py makes them part of the pipeline's and baseline's configuration:
another toolchain makes their results stale (one subtest's runs are never scored by two pipelines).
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import platform
import shlex
import shutil
import site
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from scylla import reaper, records, sandbox, secrets
from scylla.durable import InfraFailure, write_text
from scylla.process import run_shell
from scylla.workspace import borrowed_objects

STEPS = ("build", "format", "lint", "test", "precommit")
PYTEST_NO_TESTS = 5  # pytest's exit code when no test was collected

# Step commands as they appear in the scripts. $PYTHON is this interpreter, $SCRATCH a directory outside
# the workspace (the scripts define both), so the text never holds the workspace path or a temp name.
BUILD = 'PYTHONPYCACHEPREFIX="$SCRATCH/pycache" "$PYTHON" -m compileall -q -x \'(^|/)\\.git(/|$)\' .'
FORMAT = "ruff format --check --no-cache ."
LINT = "ruff check --no-cache ."
# --confcutdir=.: a conftest.py above the workspace (it may sit inside another project) must not load.
TEST = (
    'PYTHONDONTWRITEBYTECODE=1 "$PYTHON" -m pytest -q -p no:cacheprovider --confcutdir=. '
    '--junitxml="$SCRATCH/junit.xml"'
)
PRECOMMIT = "pre-commit run --all-files"
# Tools the scripts run as `"$PYTHON" -m MODULE` (a shell function of the tool's name: the command reads as
# one types it), never a same-named program elsewhere on PATH: the version recorded is the one that ran.
MODULE_TOOLS = {"ruff": "ruff", "pre-commit": "pre_commit"}
# The distributions whose tools the python steps run. ruff and pytest are pinned dependencies of Scylla
# (pyproject.toml); pre-commit is optional: only a workspace with a .pre-commit-config.yaml uses it, and
# its hooks pin their own versions (it is N/A without pre-commit installed beside Scylla).
PYTHON_TOOLS = ("pytest", "ruff", "pre-commit")
# The command that tells whether a language's toolchain is installed (ProjectScylla also runs mojo fixtures).
TOOLCHAINS = {"mojo": "mojo"}


def runs_steps(language: str) -> bool:
    """Whether `language` has pipeline steps (otherwise every step is N/A and no workspace is needed)."""
    return language.lower() == "python"


def dist_version(name: str) -> str | None:
    """The installed version of distribution `name` (None: not installed); reads metadata, starts nothing."""
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None


def toolchain(language: str) -> dict[str, str | None]:
    """The versions of what the pipeline runs for `language` (a tool not installed: null). Cheap: the
    graph computes it on every `doit` and `doit list`."""
    if not runs_steps(language):
        return {}
    return {"python": platform.python_version(), **{name: dist_version(name) for name in PYTHON_TOOLS}}


def identity(fixture) -> dict:
    """What a pipeline's result depends on besides the workspace and the toolchain (the configuration
    of adopted pipelines, which another tool ran with a toolchain nobody recorded)."""
    return {"repo": fixture.repo_url, "hash": fixture.source_hash, "language": fixture.language}


def adopted_placeholder(source: str) -> records.PipelineResult:
    """pipeline.json of a pipeline another tool ran (`source`), which kept only its scripts and logs."""
    return {"adopted_from": source, "all_passed": None, "steps": {}, "tests": None,
            "note": "ProjectScylla kept only the step scripts and logs in this directory"}


def not_applicable(language: str, commands_dir: Path) -> records.PipelineResult:
    reason = _unsupported_reason(language)
    return _result(language, {name: _skip(Path(commands_dir), name, "", reason) for name in STEPS}, None)


def run_pipeline(workspace: Path, language: str, commands_dir: Path, timeout: float = 600,
                 keys: Iterable[str] = (), confinement: sandbox.Confinement | None = None) -> records.PipelineResult:
    """Run the pipeline for `language` in `workspace`, inside `confinement`'s sandbox (the agent's code runs
    here too); see the module docstring for what is written. The result is pipeline.json
    (records.PipelineResult). `keys`: the variables the experiment holds keys in (adapters.key_variables):
    their values, and those of the caller's secret-looking variables, are redacted from the step logs (the
    steps run the agent's code, which may print what it found)."""
    workspace, commands_dir = Path(workspace).resolve(), Path(commands_dir).resolve()
    if not runs_steps(language):
        return not_applicable(language, commands_dir)
    tools = toolchain(language)
    with tempfile.TemporaryDirectory(prefix=reaper.scratch_prefix("pipeline"), ignore_cleanup_errors=True) as scratch:
        box = confinement.policy(workspace, (workspace, Path(scratch)), (commands_dir, *borrowed_objects(workspace))) \
            if confinement else None
        runner = _Runner(workspace, commands_dir, Path(scratch), timeout, secrets.secret_values(names=keys), box)
        steps, tests = _python_steps(runner, tools)
    return _result(language, steps, tests, tools)


def _unsupported_reason(language: str) -> str:
    """Why a non-python pipeline is N/A: its toolchain is absent, or Scylla has no steps for it."""
    toolchain = TOOLCHAINS.get(language.lower())
    if toolchain is None:
        return f"no pipeline for language '{language}'"
    if shutil.which(toolchain) is None:
        return f"{language} toolchain not installed ({toolchain} not on PATH)"
    return f"{language} pipeline not implemented in Scylla ({toolchain} is on PATH)"


def _result(language: str, steps: dict[str, records.PipelineStep], tests: records.JunitCounts | None,
            tools: dict[str, str | None] | None = None) -> records.PipelineResult:
    return {
        "language": language,
        "toolchain": tools if tools is not None else toolchain(language),
        "steps": steps,
        "tests": tests,
        "all_passed": all(step["status"] != "fail" for step in steps.values()),
    }


def _step(status: Literal["pass", "fail", "na"], exit_code: int | None, reason: str,
          command: str) -> records.PipelineStep:
    return {"status": status, "exit_code": exit_code, "reason": reason, "command": command}


def _skip(commands_dir: Path, name: str, command: str, reason: str) -> records.PipelineStep:
    """A step that does not run still leaves a script and a log, so every run has the same files."""
    script = f"#!/usr/bin/env bash\n# Scylla pipeline step '{name}': not run: {reason}\n"
    write_text(commands_dir / f"{name}.sh", script)
    write_text(commands_dir / f"{name}.log", f"not run: {reason}\n")
    return _step("na", None, reason, command)


# ---------------------------------------------------------------- python

def _python_steps(run: _Runner, tools: dict[str, str | None]) -> tuple[dict[str, records.PipelineStep],
                                                                     records.JunitCounts | None]:
    steps = {"build": run.step("build", BUILD)[0]}
    for name, command in (("format", FORMAT), ("lint", LINT)):
        steps[name] = run.step(name, command)[0] if tools["ruff"] else run.skip(name, command, "ruff not installed")
    steps["test"], tests = _pytest(run)
    steps["precommit"] = _precommit(run, tools)
    return steps, tests


def _pytest(run: _Runner) -> tuple[records.PipelineStep, records.JunitCounts | None]:
    """The test step: pass iff pytest exits 0; counts come from its junit report."""
    step, code = run.step("test", TEST)
    if code == PYTEST_NO_TESTS:
        return _step("na", code, "no tests collected", TEST), None
    tests = _junit_counts(run.scratch / "junit.xml") if code is not None else None
    if tests is not None:
        step["reason"] = f"{tests['passed']} of {tests['total']} tests passed (exit code {code})"
    return step, tests


def _precommit(run: _Runner, tools: dict[str, str | None]) -> records.PipelineStep:
    if not (run.workspace / ".pre-commit-config.yaml").is_file():
        return run.skip("precommit", PRECOMMIT, "no .pre-commit-config.yaml")
    if not tools["pre-commit"]:
        return run.skip("precommit", PRECOMMIT, "pre-commit not installed")
    return run.step("precommit", PRECOMMIT)[0]


def _junit_counts(path: Path) -> records.JunitCounts | None:
    """Sum the testsuite counters of a junit report; None when pytest wrote none (e.g. usage error)."""
    try:
        root = ET.parse(path).getroot()
    except (OSError, ET.ParseError):
        return None
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    total, failed, errors, skipped = (
        sum(int(suite.get(key, 0)) for suite in suites) for key in ("tests", "failures", "errors", "skipped")
    )
    passed = max(0, total - failed - errors - skipped)
    return {"total": total, "passed": passed, "failed": failed, "errors": errors, "skipped": skipped}


# ---------------------------------------------------------------- running a step

class _Runner:
    """Writes a step's script, runs it in the workspace with a time limit, and records its log."""

    def __init__(self, workspace: Path, commands_dir: Path, scratch: Path, timeout: float, hidden: list[str],
                 box: sandbox.Policy | None = None):
        self.workspace, self.commands_dir, self.scratch, self.timeout = workspace, commands_dir, scratch, timeout
        self.hidden = hidden        # values redacted from the logs
        self.box = box              # the sandbox its steps run in (None: unconfined)

    def skip(self, name: str, command: str, reason: str) -> records.PipelineStep:
        return _skip(self.commands_dir, name, command, reason)

    def step(self, name: str, command: str) -> tuple[records.PipelineStep, int | None]:
        """Run one step; returns its result (pass iff exit code 0) and the exit code (None on timeout)."""
        script = self.commands_dir / f"{name}.sh"
        write_text(script, _script(name, command))
        before, started = _tree(self.workspace), time.monotonic()
        code, output = self._execute(script, self.scratch / f"{name}.out")
        elapsed = time.monotonic() - started
        removed = _remove_new(self.workspace, before)
        trailer = f"exit code {code}" if code is not None else f"killed: timeout after {self.timeout:g} s"
        trailer += f" ({elapsed:.2f} s)"
        if removed:
            trailer += f"; removed from the workspace: {', '.join(removed)}"
        write_text(self.commands_dir / f"{name}.log", secrets.redact(f"{output}\n[scylla] {trailer}\n", self.hidden))
        if code is None:
            return _step("fail", None, f"timeout after {self.timeout:g} s", command), None
        return _step("pass" if code == 0 else "fail", code, f"exit code {code}", command), code

    def _environment(self) -> dict[str, str]:
        """The agent's code runs here: no key, none of the caller's settings (e.g. a test run's
        PYTEST_ADDOPTS=-n 2), a HOME and a tmp of its own in the scratch directory. The interpreter's
        variables stay: the tools must import what toolchain() recorded (the caller's user site too)."""
        home, tmp = self.scratch / "home", self.scratch / "tmp"
        home.mkdir(exist_ok=True)
        tmp.mkdir(exist_ok=True)
        return {**secrets.base_env(), "PYTHONUSERBASE": site.getuserbase(), **secrets.passed(secrets.PYTHON),
                "HOME": str(home), "TMPDIR": str(tmp), "SCYLLA_SCRATCH": str(self.scratch)}

    def _execute(self, script: Path, out_path: Path) -> tuple[int | None, str]:
        env = self._environment()
        with sandbox.session(self.box) if self.box else contextlib.nullcontext() as session:
            done = run_shell(f"bash {shlex.quote(str(script))}", self.workspace, env, out_path, None, self.timeout,
                             argv=session.argv if session else None)
        if done.capture_error:          # a step's log cut short must not pass for what the step printed
            raise InfraFailure(f"pipeline step {script.stem}: output not captured whole ({done.capture_error})")
        return done.exit_code, out_path.read_text(encoding="utf-8", errors="replace")


def _script(name: str, command: str) -> str:
    """The bash script of a step: defines only the variables its command uses, then runs it."""
    lines = ["#!/usr/bin/env bash", f"# Scylla pipeline step '{name}': run from the workspace root."]
    tool = command.split(" ", 1)[0]
    if "$PYTHON" in command or tool in MODULE_TOOLS:
        lines.append(f"PYTHON={shlex.quote(sys.executable)}")
    if tool in MODULE_TOOLS:
        lines.append(f'{tool}() {{ "$PYTHON" -m {MODULE_TOOLS[tool]} "$@"; }}  # the {tool} installed for this Python')
    if "$SCRATCH" in command:
        lines.append('SCRATCH="${SCYLLA_SCRATCH:-$(mktemp -d)}"  # scratch space outside the workspace')
    lines.append(command)
    return "\n".join(lines) + "\n"


def _tree(root: Path) -> set[str]:
    """Relative paths of everything under `root` except `.git` (git's own business)."""
    paths: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d != ".git"]
        rel = os.path.relpath(dirpath, root)
        paths.update(os.path.normpath(os.path.join(rel, name)) for name in dirnames + filenames)
    return paths


def _remove_new(root: Path, before: set[str]) -> list[str]:
    """Delete what appeared under `root` since `before` (topmost new paths only); returns them, sorted."""
    new = _tree(root) - before
    topmost = sorted(p for p in new if os.path.dirname(p) not in new)
    for rel in topmost:
        path = root / rel
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    return topmost
