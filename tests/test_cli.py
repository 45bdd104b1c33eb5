"""From anywhere: `scylla init DIR` writes an experiment directory in which plain `doit` runs the example, and
`scylla run|status|list PATH` runs doit's engine on an experiment from a directory holding no dodo.py.

Every command runs in a real subprocess whose working directory is outside the checkout (pytest's tmp_path),
with no dodo.py there or above it, so nothing can fall back on the repository's dodo.py or examples/."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import REPO, DoitRun, harness_env

pytestmark = pytest.mark.e2e

TASKS = 159          # examples/hello: 5 subtests x 2 runs, two judge slots, the aggregates, 9 analysis frames,
                     # the statistics, 11 tables, 15 figures and the HTML report (5 subtests' pages, the index)


def _outside(cwd: Path) -> Path:
    """`cwd`, checked to be outside the checkout with no dodo.py doit could find there or above."""
    cwd = cwd.resolve()
    assert REPO != cwd and REPO not in cwd.parents, f"{cwd} is inside the checkout"
    assert not any((d / "dodo.py").exists() for d in cwd.parents), f"a dodo.py above {cwd}"
    return cwd


def _run(argv: list[str], cwd: Path, calls: Path | None = None) -> DoitRun:
    # one hash seed: the task doit's status names as the one a blocked task waits for is picked in set order
    env = {**os.environ, **harness_env(calls or cwd / "calls.log")}
    proc = subprocess.run(argv, check=False, cwd=_outside(cwd), env=env, capture_output=True, text=True, timeout=600)
    return DoitRun(proc.returncode, proc.stdout, proc.stderr)


def scylla(*args: str, cwd: Path, calls: Path | None = None) -> DoitRun:
    return _run([sys.executable, "-m", "scylla.cli", *args], cwd, calls)


def doit(*args: str, cwd: Path, calls: Path | None = None) -> DoitRun:
    return _run([sys.executable, "-m", "doit", *args], cwd, calls)


def init(directory: Path) -> None:
    done = scylla("init", directory.name, cwd=directory.parent)
    assert done.returncode == 0, str(done)


def agent_calls(log: Path) -> list[str]:
    return [ln for ln in log.read_text().splitlines() if ln.startswith("agent ")] if log.exists() else []


def list_status(run: DoitRun) -> dict[str, str]:
    return {ln[2:].split()[0]: ln[0] for ln in run.stdout.splitlines() if ln[:2] in ("R ", "U ", "E ", "I ")}


@pytest.fixture(scope="module")
def by_doit(tmp_path_factory) -> tuple[Path, Path, DoitRun, DoitRun]:
    """`scylla init hello && cd hello && doit`, twice: (directory, call log, first, second)."""
    here = tmp_path_factory.mktemp("cli")
    directory, log = here / "hello", here / "calls.log"
    init(directory)
    first = doit(cwd=directory, calls=log)
    log.rename(here / "first-calls.log")
    second = doit(cwd=directory, calls=log)
    return directory, here / "first-calls.log", first, second


def test_doit_inside_an_init_directory_completes_the_example(by_doit):
    directory, log, first, second = by_doit
    assert (directory / "dodo.py").read_text().count("\n") == 1          # the one-line dodo.py
    assert first.returncode == 0, str(first)
    assert len(first.executed) == TASKS and "experiment" in first.executed
    assert len(agent_calls(log)) == 10                                    # 5 subtests x 2 runs, each once
    result = orjson.loads((directory / "results/hello/result.json").read_bytes())
    assert result                                                          # the tree is where the spec says
    assert second.returncode == 0, str(second)
    assert second.executed == [] and not agent_calls(log.parent / "calls.log")


def test_scylla_run_from_elsewhere_completes_the_same_experiment(by_doit, tmp_path):
    directory = tmp_path / "exp"
    init(directory)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    log = tmp_path / "calls.log"
    first = scylla("run", "../exp/experiment.yaml", cwd=elsewhere, calls=log)
    assert first.returncode == 0, str(first)
    assert sorted(first.executed) == sorted(by_doit[2].executed)          # the same tasks as `doit` there
    assert len(agent_calls(log)) == 10
    assert not (elsewhere / ".scylla").exists() and list(elsewhere.iterdir()) == []   # nothing written here

    def files(root: Path) -> set[str]:
        return {str(p.relative_to(root)) for p in root.rglob("*") if ".scylla" not in p.parts}
    assert files(directory / "results") == files(by_doit[0] / "results")

    log.unlink()
    again = scylla("run", str(directory), cwd=elsewhere, calls=log)      # the directory names it too
    assert again.returncode == 0 and again.executed == [] and not agent_calls(log), str(again)
    # and plain `doit` inside sees the same tree complete, also once the directory has moved
    moved = directory.rename(tmp_path / "moved")
    inside = doit("list", "--all", "--status", cwd=moved)
    assert inside.returncode == 0 and set(list_status(inside).values()) == {"U"}, str(inside)
    rerun = doit(cwd=moved, calls=log)
    assert rerun.returncode == 0 and rerun.executed == [] and not agent_calls(log), str(rerun)


def _same(a: DoitRun, b: DoitRun) -> None:
    assert (a.returncode, a.stdout) == (b.returncode, b.stdout), f"doit:\n{a}\n\nscylla:\n{b}"


def test_scylla_status_is_doit_status(by_doit, tmp_path):
    directory = by_doit[0]
    for args in [(), ("--json",), ("--why", "--tier", "T1"), ("judge:T0/*",), ("--json", "nosuch:task")]:
        by_dodo = doit("status", *args, cwd=directory)
        assert by_dodo.stdout or "nosuch:task" in args, str(by_dodo)
        _same(by_dodo, scylla("status", *args, str(directory), cwd=tmp_path))
        _same(by_dodo, scylla("status", *args, cwd=directory))           # ./experiment.yaml by default
    assert doit("status", "--json", "nosuch:task", cwd=directory).returncode == 3
    assert orjson.loads(doit("status", "--json", cwd=directory).stdout)["to_run"] == []

    # a fresh experiment whose repository is missing: preflight holds paid work, status exits 1
    fresh = tmp_path / "fresh"
    init(fresh)
    shutil.rmtree(fresh / "repo")
    by_dodo = doit("status", "--json", cwd=fresh)
    assert by_dodo.returncode == 1 and orjson.loads(by_dodo.stdout)["preflight"], str(by_dodo)
    _same(by_dodo, scylla("status", "--json", str(fresh / "experiment.yaml"), cwd=tmp_path))
    _same(doit("status", cwd=fresh), scylla("status", "fresh", cwd=tmp_path))


def test_scylla_list_and_info_from_elsewhere(by_doit, tmp_path):
    directory = by_doit[0]
    listed = scylla("list", "--all", "--status", str(directory), cwd=tmp_path)
    assert listed.returncode == 0, str(listed)
    status = list_status(listed)
    assert len(status) > TASKS and set(status.values()) == {"U"}          # tasks and their groups, all up to date
    assert status == list_status(doit("list", "--all", "--status", cwd=directory))
    info = scylla("info", str(directory / "experiment.yaml"), "experiment", cwd=tmp_path)
    assert info.returncode == 0 and "result.json" in info.stdout, str(info)


def test_init_refuses_to_overwrite(tmp_path):
    directory = tmp_path / "exp"
    init(directory)
    (directory / "experiment.yaml").write_text("id: mine\n")
    again = scylla("init", "exp", cwd=tmp_path)
    assert again.returncode == 2 and "already exists" in again.stderr, str(again)
    assert (directory / "experiment.yaml").read_text() == "id: mine\n"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "dodo.py").write_text("# my own\n")
    refused = scylla("init", "mine", cwd=tmp_path)
    assert refused.returncode == 2 and f"{Path('mine') / 'dodo.py'} already exists" in refused.stderr, str(refused)
    assert [p.name for p in mine.iterdir()] == ["dodo.py"]                # nothing written beside it
    assert (mine / "dodo.py").read_text() == "# my own\n"


def test_scylla_without_an_experiment_says_how_to_name_one(tmp_path):
    for argv in [[sys.executable, "-m", "scylla.cli", "status"], [sys.executable, "-m", "scylla", "list"]]:
        done = _run(argv, tmp_path)
        assert done.returncode == 3 and "scylla init" in done.stderr and done.stdout == "", str(done)
    assert list(tmp_path.iterdir()) == []
    typo = scylla("stauts", cwd=tmp_path)                                 # not a command: never a `doit run`
    assert typo.returncode == 2 and "invalid choice" in typo.stderr and list(tmp_path.iterdir()) == []
