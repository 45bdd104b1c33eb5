"""run_pipeline on small real workspaces: statuses, test counts, determinism, and a clean workspace."""

from __future__ import annotations

import importlib.metadata
import os
import platform
import shutil
import subprocess
import time
from pathlib import Path

import pytest

from scylla import pipeline
from scylla.durable import dumps
from scylla.pipeline import STEPS, run_pipeline

pytestmark = pytest.mark.e2e          # real pipelines: git, pytest and ruff in subprocesses

MODULE = "def add(a, b):\n    return a + b\n"
PASSING_TESTS = (
    "from mod import add\n\n\ndef test_one():\n    assert add(1, 2) == 3\n\n\ndef test_two():\n    assert add(2, 2) == 4\n"
)
FAILING_TESTS = PASSING_TESTS + "\n\ndef test_wrong():\n    assert add(1, 1) == 3\n"
LEFTOVERS = ("__pycache__", ".pytest_cache", ".ruff_cache", ".benchmarks", ".hypothesis")


@pytest.fixture(autouse=True)
def hidden(monkeypatch) -> set[str]:
    """ruff and pre-commit absent unless a test installs a fake one: results must not depend on the host."""
    hidden, real = {"ruff", "pre-commit"}, pipeline.dist_version
    monkeypatch.setattr(pipeline, "dist_version", lambda name: None if name in hidden else real(name))
    return hidden


def make_workspace(root: Path, files: dict[str, str]) -> Path:
    """A git repository holding `files`, plus a broken .py inside .git that the build must ignore."""
    ws = root / "ws"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    (ws / ".git" / "hooks" / "broken.py").write_text("def (:\n")
    for name, text in files.items():
        (ws / name).parent.mkdir(parents=True, exist_ok=True)
        (ws / name).write_text(text)
    return ws


def fake_tool(root: Path, monkeypatch, name: str, body: str) -> None:
    """Put an executable `name` on PATH (found by shutil.which and by the step scripts)."""
    bin_dir = root / "bin"
    bin_dir.mkdir(exist_ok=True)
    (bin_dir / name).write_text(f"#!/usr/bin/env bash\n{body}\n")
    (bin_dir / name).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def fake_distribution(root: Path, monkeypatch, hidden: set[str], dist: str, module: str, main: str,
                      version: str = "9.9.9") -> None:
    """Install a fake Python distribution `dist` (its metadata, and a `module` whose `python -m` runs
    `main`) on this process's path and the steps' PYTHONPATH, in front of any real one."""
    site = root / "site"
    (site / module).mkdir(parents=True)
    (site / module / "__init__.py").write_text("")
    (site / module / "__main__.py").write_text(main)
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(site), os.environ.get("PYTHONPATH")])))
    monkeypatch.syspath_prepend(str(site))
    hidden.discard(dist)


def workspace_files(ws: Path) -> list[str]:
    return sorted(str(p.relative_to(ws)) for p in ws.rglob("*") if ".git" not in p.relative_to(ws).parts)


def test_passing_workspace(tmp_path):
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "tests/test_mod.py": PASSING_TESTS})
    before = workspace_files(ws)
    result = run_pipeline(ws, "python", tmp_path / "commands")

    assert result["language"] == "python"
    # the versions of the tools that ran (those not installed: null)
    assert result["toolchain"] == {"python": platform.python_version(), "pytest": importlib.metadata.version("pytest"),
                                   "ruff": None, "pre-commit": None}
    assert result["steps"]["build"] == {
        "status": "pass", "exit_code": 0, "reason": "exit code 0", "command": result["steps"]["build"]["command"],
    }
    assert result["steps"]["test"]["status"] == "pass"
    assert result["steps"]["test"]["reason"] == "2 of 2 tests passed (exit code 0)"
    assert result["tests"] == {"total": 2, "passed": 2, "failed": 0, "errors": 0, "skipped": 0}
    assert result["steps"]["format"] == {
        "status": "na", "exit_code": None, "reason": "ruff not installed",
        "command": "ruff format --check --no-cache .",
    }
    assert result["steps"]["lint"]["reason"] == "ruff not installed"
    assert result["steps"]["precommit"]["reason"] == "no .pre-commit-config.yaml"
    assert result["all_passed"] is True
    # Nothing left behind: no bytecode, no caches, no pytest-benchmark storage.
    assert workspace_files(ws) == before
    assert not any(name in LEFTOVERS for p in ws.rglob("*") for name in p.parts)


def test_result_is_deterministic_and_free_of_paths(tmp_path):
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "test_mod.py": FAILING_TESTS})
    first = run_pipeline(ws, "python", tmp_path / "commands1")
    second = run_pipeline(ws, "python", tmp_path / "commands2", timeout=300)
    assert first == second
    assert dumps(first) == dumps(second)
    assert str(tmp_path) not in dumps(first).decode()
    # The scripts are identical too, and never name the workspace.
    for step in STEPS:
        script = (tmp_path / "commands1" / f"{step}.sh").read_text()
        assert script == (tmp_path / "commands2" / f"{step}.sh").read_text()
        assert str(ws) not in script


def test_logs_and_scripts_exist_and_scripts_reproduce_the_step(tmp_path):
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "test_mod.py": PASSING_TESTS})
    commands = tmp_path / "commands"
    run_pipeline(ws, "python", commands)
    for step in STEPS:
        assert (commands / f"{step}.sh").read_text().startswith("#!/usr/bin/env bash\n")
        assert (commands / f"{step}.log").is_file()
    assert "2 passed" in (commands / "test.log").read_text()
    assert "not run: ruff not installed" in (commands / "format.log").read_text()
    # Run by hand from the workspace root, the test script does what the step did.
    (tmp_path / "scratch").mkdir()
    env = {**os.environ, "SCYLLA_SCRATCH": str(tmp_path / "scratch")}
    replay = subprocess.run(["bash", str(commands / "test.sh")], cwd=ws, env=env, check=False, capture_output=True,
                            text=True)
    assert replay.returncode == 0, replay.stdout + replay.stderr
    assert "2 passed" in replay.stdout
    shutil.rmtree(ws / ".benchmarks", ignore_errors=True)  # pytest-benchmark, when installed


def test_failing_test_counts(tmp_path):
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "test_mod.py": FAILING_TESTS})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["steps"]["build"]["status"] == "pass"
    assert result["steps"]["test"] | {"command": None} == {
        "status": "fail", "exit_code": 1, "reason": "2 of 3 tests passed (exit code 1)", "command": None,
    }
    assert result["tests"] == {"total": 3, "passed": 2, "failed": 1, "errors": 0, "skipped": 0}
    assert result["all_passed"] is False


def test_conftest_above_the_workspace_is_not_loaded(tmp_path):
    (tmp_path / "conftest.py").write_text('raise RuntimeError("conftest outside the workspace")\n')
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "test_mod.py": PASSING_TESTS})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["steps"]["test"]["status"] == "pass"


def test_skipped_tests_are_counted(tmp_path):
    tests = PASSING_TESTS + "\n\nimport pytest\n\n\n@pytest.mark.skip\ndef test_later():\n    pass\n"
    ws = make_workspace(tmp_path, {"mod.py": MODULE, "test_mod.py": tests})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["tests"] == {"total": 3, "passed": 2, "failed": 0, "errors": 0, "skipped": 1}
    assert result["steps"]["test"]["status"] == "pass"


def test_syntax_error(tmp_path):
    ws = make_workspace(tmp_path, {"mod.py": "def add(a, b)\n    return a + b\n", "test_mod.py": PASSING_TESTS})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["steps"]["build"]["status"] == "fail"
    assert result["steps"]["build"]["exit_code"] == 1
    assert "mod.py" in (tmp_path / "commands" / "build.log").read_text()
    # The test module cannot import it: a collection error.
    assert result["steps"]["test"]["status"] == "fail"
    assert result["tests"]["errors"] == 1
    assert result["all_passed"] is False
    assert not list(ws.rglob("__pycache__"))


def test_no_tests(tmp_path):
    ws = make_workspace(tmp_path, {"hello.py": 'print("Hello, World!")\n'})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["steps"]["build"]["status"] == "pass"
    assert result["steps"]["test"] | {"command": None} == {
        "status": "na", "exit_code": 5, "reason": "no tests collected", "command": None,
    }
    assert result["tests"] is None
    assert result["all_passed"] is True
    assert workspace_files(ws) == ["hello.py"]


def test_mojo_without_its_toolchain_is_not_applicable(tmp_path, monkeypatch):
    ws = make_workspace(tmp_path, {"hello.mojo": 'fn main():\n    print("Hello, world")\n'})
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))       # no mojo, whatever the host has
    result = run_pipeline(ws, "mojo", tmp_path / "commands")
    reason = "mojo toolchain not installed (mojo not on PATH)"
    na = {"status": "na", "exit_code": None, "reason": reason, "command": ""}
    assert result == {"language": "mojo", "toolchain": {}, "steps": {step: na for step in STEPS}, "tests": None,
                      "all_passed": True}
    for step in STEPS:
        assert (tmp_path / "commands" / f"{step}.log").read_text() == f"not run: {reason}\n"
    assert workspace_files(ws) == ["hello.mojo"]


def test_mojo_on_path_is_still_not_applicable(tmp_path, monkeypatch):
    fake_tool(tmp_path, monkeypatch, "mojo", "exit 0")
    ws = make_workspace(tmp_path, {"hello.mojo": "fn main():\n    pass\n"})
    steps = run_pipeline(ws, "mojo", tmp_path / "commands")["steps"]
    assert {s["status"] for s in steps.values()} == {"na"}
    assert steps["build"]["reason"] == "mojo pipeline not implemented in Scylla (mojo is on PATH)"


def test_unknown_language(tmp_path):
    ws = make_workspace(tmp_path, {"main.zig": "pub fn main() void {}\n"})
    steps = run_pipeline(ws, "zig", tmp_path / "commands")["steps"]
    na = {"status": "na", "exit_code": None, "reason": "no pipeline for language 'zig'", "command": ""}
    assert steps == {step: na for step in STEPS}


def test_ruff_steps_run_the_installed_ruff_and_record_its_version(tmp_path, monkeypatch, hidden):
    # A fake ruff 9.9.9 installed for this interpreter: format passes, check fails; it echoes its arguments.
    # A ruff on PATH is never run: the version recorded is that of the ruff that ran.
    fake_tool(tmp_path, monkeypatch, "ruff", "exit 3")
    fake_distribution(tmp_path, monkeypatch, hidden, "ruff", "ruff",
                      'import sys\nprint("fake ruff", *sys.argv[1:])\nsys.exit(0 if sys.argv[1] == "format" else 1)\n')
    ws = make_workspace(tmp_path, {"mod.py": MODULE})
    result = run_pipeline(ws, "python", tmp_path / "commands")
    assert result["toolchain"]["ruff"] == "9.9.9"
    assert result["steps"]["format"] == {
        "status": "pass", "exit_code": 0, "reason": "exit code 0",
        "command": "ruff format --check --no-cache .",
    }
    assert result["steps"]["lint"] == {
        "status": "fail", "exit_code": 1, "reason": "exit code 1", "command": "ruff check --no-cache .",
    }
    assert "fake ruff check --no-cache ." in (tmp_path / "commands" / "lint.log").read_text()
    assert result["all_passed"] is False
    # the script, run by hand, runs the same ruff (not the one on PATH)
    replay = subprocess.run(["bash", str(tmp_path / "commands" / "lint.sh")], cwd=ws, check=False,
                            capture_output=True, text=True)
    assert (replay.returncode, replay.stdout) == (1, "fake ruff check --no-cache .\n")


def test_precommit_runs_only_with_a_config(tmp_path, monkeypatch, hidden):
    fake_distribution(tmp_path, monkeypatch, hidden, "pre-commit", "pre_commit",
                      'import sys\nprint("fake pre-commit", *sys.argv[1:])\n', version="4.7.0")
    ws = make_workspace(tmp_path, {"mod.py": MODULE})
    result = run_pipeline(ws, "python", tmp_path / "c1")
    assert result["toolchain"]["pre-commit"] == "4.7.0"
    assert result["steps"]["precommit"]["reason"] == "no .pre-commit-config.yaml"
    (ws / ".pre-commit-config.yaml").write_text("repos: []\n")
    step = run_pipeline(ws, "python", tmp_path / "c2")["steps"]["precommit"]
    assert step == {
        "status": "pass", "exit_code": 0, "reason": "exit code 0",
        "command": "pre-commit run --all-files",
    }
    assert "fake pre-commit run --all-files" in (tmp_path / "c2" / "precommit.log").read_text()


def test_precommit_config_without_the_tool(tmp_path, monkeypatch):
    fake_tool(tmp_path, monkeypatch, "pre-commit", "exit 0")       # on PATH, but not installed beside Scylla
    ws = make_workspace(tmp_path, {"mod.py": MODULE, ".pre-commit-config.yaml": "repos: []\n"})
    assert run_pipeline(ws, "python", tmp_path / "c")["steps"]["precommit"]["reason"] == "pre-commit not installed"


def test_timeout_kills_the_step(tmp_path):
    hanging = "import time\n\n\ndef test_hangs():\n    time.sleep(120)\n"
    ws = make_workspace(tmp_path, {"test_hang.py": hanging})
    started = time.monotonic()
    result = run_pipeline(ws, "python", tmp_path / "commands", timeout=5)
    assert time.monotonic() - started < 60
    assert result["steps"]["build"]["status"] == "pass"
    assert result["steps"]["test"] | {"command": None} == {
        "status": "fail", "exit_code": None, "reason": "timeout after 5 s", "command": None,
    }
    assert result["tests"] is None
    assert result["all_passed"] is False
    assert "timeout after 5 s" in (tmp_path / "commands" / "test.log").read_text()
    assert workspace_files(ws) == ["test_hang.py"]
