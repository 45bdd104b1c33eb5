"""Shared helpers: real `doit` in a subprocess over real temporary experiment trees.

One complete run of examples/hello is built per test session the way the README says (`doit` in a
fresh copy of the repository); each end-to-end test then works on its own copy of that tree.
The scripted agent and judge append a line per real invocation to $SCYLLA_CALL_LOG.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROJECTSCYLLA = REPO / "tests/data/projectscylla"       # ProjectScylla's own files (BSD-3), see its README
EXECUTED = re.compile(r"^\.  (\S+)$", re.MULTILINE)
# ProjectScylla's files (its dry run keeps a skill template named integration_test.py): data, not tests
collect_ignore = ["data"]


# the agent CLIs .ci/run installs (pinned) where the tests find them, and how to install one elsewhere
AGENT_CLIS = {"claude": "npm install @anthropic-ai/claude-code", "codex": "npm install @openai/codex",
              "gemini": "npm install @google/gemini-cli", "opencode": "npm install opencode-ai",
              "aider": "python -m venv .ci/aider && .ci/aider/bin/pip install aider-chat"}


def agent_cli(name: str) -> str:
    """The path of an agent CLI: on PATH, else where .ci/run installs it. Missing: the test skips, or
    fails where SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run: every agent CLI is required there)."""
    found = shutil.which(name) or next(
        (str(p) for p in [REPO / f".ci/node/node_modules/.bin/{name}", REPO / f".ci/{name}/bin/{name}"]
         if p.exists()), None)
    if found is None:
        if os.environ.get("SCYLLA_REQUIRE_CLAUDE") == "1":
            pytest.fail(f"the {name} CLI is required here (SCYLLA_REQUIRE_CLAUDE=1) but is not installed")
        pytest.skip(f"the {name} CLI is not installed ({AGENT_CLIS[name]})")
    return found


def claude_cli() -> str:
    return agent_cli("claude")


@dataclass
class DoitRun:
    returncode: int
    stdout: str
    stderr: str

    @property
    def executed(self) -> list[str]:
        return EXECUTED.findall(self.stdout)

    def __str__(self) -> str:
        return f"exit {self.returncode}\n--- stdout\n{self.stdout[-4000:]}\n--- stderr\n{self.stderr[-4000:]}"


def harness_env(call_log: Path, *more: Path) -> dict:
    """The scripted agents' and judges' call log (and `more` files they write for the test): the harness's
    records, outside the tree, which the agents' sandbox leaves writable (SCYLLA_SANDBOX_WRITABLE)."""
    return {"SCYLLA_CALL_LOG": str(call_log), "SCYLLA_SANDBOX_WRITABLE": os.pathsep.join(map(str, (call_log, *more)))}


class Checkout:
    """A copy of the repository's runnable parts (dodo.py, pyproject.toml, examples) in a temp dir, working on one
    example's experiment (`examples/<example>/experiment.yaml`, id = the example's name)."""

    def __init__(self, path: Path, example: str = "hello"):
        self.path = path
        self.example = example
        self.call_log = path / "calls.log"

    @property
    def spec(self) -> Path:
        return self.path / f"examples/{self.example}/experiment.yaml"

    @property
    def root(self) -> Path:
        return self.path / f"examples/{self.example}/results/{self.example}"

    def doit(self, *args: str, env: dict | None = None, check: bool = True, timeout: float = 600) -> DoitRun:
        full_env = {**os.environ, **harness_env(self.call_log), **(env or {})}
        exp = [] if self.example == "hello" else [f"exp=examples/{self.example}/experiment.yaml"]
        proc = subprocess.run([sys.executable, "-m", "doit", *args, *exp], cwd=self.path, env=full_env,
                              check=False, capture_output=True, text=True, timeout=timeout)
        run = DoitRun(proc.returncode, proc.stdout, proc.stderr)
        if check:
            assert run.returncode == 0, str(run)
        return run

    def calls(self, kind: str) -> list[str]:
        """Real adapter invocations of `kind` ('agent' or 'judge') since the last reset."""
        if not self.call_log.exists():
            return []
        return [ln.split(" ", 1)[1] for ln in self.call_log.read_text().splitlines() if ln.startswith(kind + " ")]

    def reset_calls(self) -> None:
        self.call_log.unlink(missing_ok=True)

    def edit_spec(self, change) -> None:
        data = yaml.safe_load(self.spec.read_text())
        change(data)
        self.spec.write_text(yaml.safe_dump(data, sort_keys=False))

    def json(self, rel: str) -> dict:
        return orjson.loads((self.root / rel).read_bytes())

    def status(self) -> dict[str, str]:
        """`doit list --all --status`: task name -> R/U/E/I (group tasks included)."""
        out = self.doit("list", "--all", "--status", "-q").stdout
        return {ln[2:].strip(): ln[0] for ln in out.splitlines() if ln[:2] in ("R ", "U ", "E ", "I ")}


def make_checkout(dest: Path, example: str = "hello") -> Checkout:
    dest.mkdir(parents=True)
    for name in ("dodo.py", "pyproject.toml"):     # pyproject.toml registers `doit status` ([tool.doit])
        shutil.copy2(REPO / name, dest / name)
    for name in {"hello", example}:           # other examples reuse hello's fixture, tiers and repo
        shutil.copytree(REPO / "examples" / name, dest / "examples" / name,
                        ignore=shutil.ignore_patterns("results", "__pycache__"))
    return Checkout(dest, example)


# ---------------------------------------------------------------- markers: unit and e2e

# Fixtures that build or copy example trees and drive real doit over them (or mount a file system).
E2E_FIXTURES = {"completed", "hello", "fresh", "small_disk"}


def pytest_collection_modifyitems(items) -> None:
    """Every test is `e2e` (marked so itself or in its module's `pytestmark`, or using a fixture above)
    or else `unit`: `pytest -m unit` and `pytest -m e2e` split the suite."""
    for item in items:
        e2e = item.get_closest_marker("e2e") is not None or not E2E_FIXTURES.isdisjoint(item.fixturenames)
        item.add_marker(pytest.mark.e2e if e2e else pytest.mark.unit)


@pytest.fixture(autouse=True)
def _unit_tests_start_no_process(request, monkeypatch):
    """Keeps the split honest: a unit test starts no process but git (fast, and the unit under test in
    workspace and resources); one that does fails here, saying how to mark it."""
    if request.node.get_closest_marker("unit") is None:
        return
    execute = subprocess.Popen._execute_child       # where every Popen starts a process

    def guarded(self, args, *rest):
        program = args if isinstance(args, str | bytes | os.PathLike) else args[0]
        if Path(os.fsdecode(program)).name != "git":
            raise AssertionError(f"a unit test started {os.fsdecode(program)!r}: mark the test (or its module's "
                                 "pytestmark) pytest.mark.e2e")
        return execute(self, args, *rest)

    monkeypatch.setattr(subprocess.Popen, "_execute_child", guarded)


@pytest.fixture(scope="session")
def completed(tmp_path_factory) -> tuple[Checkout, DoitRun, DoitRun]:
    """examples/hello run to completion by the README's command, then a second, no-op `doit`."""
    checkout = make_checkout(tmp_path_factory.mktemp("fresh") / "scylla")
    first = checkout.doit()
    second = checkout.doit()
    return checkout, first, second


@pytest.fixture
def hello(completed, tmp_path) -> Checkout:
    """A private copy of the completed experiment (spec, scripts and results together)."""
    source = completed[0]
    shutil.copytree(source.path, tmp_path / "scylla", symlinks=True)
    checkout = Checkout(tmp_path / "scylla")
    checkout.reset_calls()
    return checkout


@pytest.fixture
def fresh(tmp_path) -> Checkout:
    """A fresh copy with no results yet."""
    return make_checkout(tmp_path / "scylla")


@pytest.fixture
def small_disk(tmp_path):
    """A 24 MiB tmpfs (the tests run as root, as CI does)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mount)], check=True)
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path, leave: int = 0) -> Path:
    """Fill a (small) file system up to `leave` bytes free, with one file (delete it to free the space)."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while fh.write(b"\0" * (1 << 20)):
                pass
        except OSError:
            pass
        fh.truncate(max(0, os.path.getsize(filler) // 4096 * 4096 - leave))
    return filler


def all_tasks_of(status: dict[str, str], prefix: str) -> list[str]:
    return [t for t in status if t.startswith(prefix + ":")]


def hello_graph(tmp_path: Path, runs: int = 3) -> list[dict]:
    """The task dicts of examples/hello (copied under tmp_path, with `runs` runs per subtest), made with the
    experiment root as working directory, as doit makes them; group tasks left out."""
    from scylla import graph, spec
    example = tmp_path / "hello"
    shutil.copytree(REPO / "examples/hello", example, ignore=shutil.ignore_patterns("results"))
    spec_path = example / "experiment.yaml"
    spec_path.write_text(yaml.safe_dump({**yaml.safe_load(spec_path.read_text()), "runs": runs}))
    exp = spec.load_experiment(spec_path)
    Path(exp.root).mkdir(parents=True, exist_ok=True)
    here = os.getcwd()
    os.chdir(exp.root)
    try:
        return [d for d in graph.tasks(exp) if d.get("name", "") is not None]
    finally:
        os.chdir(here)


def dependants(checkout: Checkout) -> dict[str, set[str]]:
    """The experiment's task graph, reversed: task -> tasks that directly depend on it
    (through file_dep on its targets or through task_dep), built from Scylla's own task dicts."""
    from scylla import graph, spec
    exp = spec.load_experiment(checkout.spec)
    here = os.getcwd()
    os.chdir(exp.root)
    try:
        dicts = [d for d in graph.tasks(exp) if d.get("name", "") is not None]
    finally:
        os.chdir(here)
    name = {id(d): f"{d['basename']}:{d['name']}" if "name" in d else d["basename"] for d in dicts}
    producer = {t: name[id(d)] for d in dicts for t in d.get("targets", [])}
    reverse: dict[str, set[str]] = {}
    for d in dicts:
        for dep in list(d.get("task_dep", [])) + [producer[f] for f in d.get("file_dep", []) if f in producer]:
            reverse.setdefault(dep, set()).add(name[id(d)])
    return reverse


def downstream(checkout: Checkout, roots: set[str]) -> set[str]:
    """`roots` and every task that transitively depends on them."""
    reverse = dependants(checkout)
    seen, todo = set(roots), list(roots)
    while todo:
        for nxt in reverse.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def claude_ready_env(tmp_path: Path) -> dict:
    """An environment in which preflight finds a `claude` CLI and a key, for trees whose adapters are
    claude-code but whose test calls none (e.g. adopted ProjectScylla trees): a stand-in that only
    answers --version, and a dummy key."""
    bin_dir = tmp_path / "fake-bin"
    bin_dir.mkdir(exist_ok=True)
    fake = bin_dir / "claude"
    fake.write_text("#!/bin/sh\necho '2.1.332 (Claude Code, stand-in)'\n")
    fake.chmod(0o755)
    return {"PATH": f"{bin_dir}:{os.environ.get('PATH', '')}", "ANTHROPIC_API_KEY": "sk-ant-dummy-0123456789"}


def other_ruff_env(tmp_path: Path, version: str = "0.0.1") -> dict:
    """An environment whose `ruff` distribution reports `version`: its metadata (a dist-info directory)
    on PYTHONPATH, in front of the installed one, as `pip install ruff==VERSION --target` would put it.
    The pipeline still runs the installed ruff: what changes is the toolchain Scylla reads and records."""
    site = tmp_path / f"ruff-{version}-site"
    info = site / f"ruff-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: ruff\nVersion: {version}\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")]))}
