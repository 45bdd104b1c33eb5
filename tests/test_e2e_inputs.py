"""Bad input gets a clear error naming file and field, and nothing in the tree is lost;
task selection by glob and `doit info`; the ProjectScylla data as a graph."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml
from conftest import PROJECTSCYLLA, REPO

pytestmark = pytest.mark.e2e          # doit in subprocesses


def _snapshot(root):
    return {p: (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*")
            if p.is_file() and ".scylla" not in p.parts}


def test_malformed_spec_is_refused_and_the_tree_is_untouched(hello):
    before = _snapshot(hello.root)
    hello.spec.write_text(hello.spec.read_text().replace("runs: 2", "runs: two"))
    run = hello.doit(check=False)
    assert run.returncode == 3
    assert f"{hello.spec}: key 'runs': expected a whole number of runs per subtest (>= 1), got str 'two'" in run.stderr
    assert "Traceback" not in run.stderr
    assert _snapshot(hello.root) == before and hello.calls("agent") == []


def test_unknown_tier_missing_fixture_file_and_bad_subtest(hello):
    original = hello.spec.read_text()
    hello.spec.write_text(original.replace("tiers: [T0, T1, T5]", "tiers: [T0, T1, T5, T7]"))
    run = hello.doit("list", check=False)
    assert run.returncode == 3 and "key 'tiers': unknown tier 'T7'" in run.stderr
    hello.spec.write_text(original)
    (hello.path / "examples/hello/fixture/prompt.md").rename(hello.path / "examples/hello/fixture/prompt.bak")
    run = hello.doit(check=False)
    assert run.returncode == 3 and "test.yaml: key 'task.prompt_file': file" in run.stderr
    (hello.path / "examples/hello/fixture/prompt.bak").rename(hello.path / "examples/hello/fixture/prompt.md")
    subtest = hello.path / "examples/hello/tiers/t0/01-text-conventions.yaml"
    subtest.write_text("name: [broken\n")
    run = hello.doit(check=False)
    assert run.returncode == 3 and "01-text-conventions.yaml: line" in run.stderr and "malformed YAML" in run.stderr


def test_a_corrupt_derived_file_is_named_and_rebuilt_from_its_inputs(hello):
    corrupt = hello.root / "T0/00/run_01/agent/result.json"
    original = corrupt.read_bytes()
    corrupt.write_text('{"exit_code": 0, "tok')
    why = hello.doit("status", "--why").stdout
    assert "agent_result:T0/00/run_01: damaged target: T0/00/run_01/agent/result.json" in why
    assert hello.doit().executed == ["agent_result:T0/00/run_01"]    # nothing after it: same bytes again
    assert corrupt.read_bytes() == original
    assert hello.calls("agent") == [] and hello.calls("judge") == []


def test_corrupt_seal_refuses_to_pay_again(hello):
    seal = hello.root / "T1/02/run_01/judge/judge_02/.seal.json"
    seal.write_text("{not json")
    run = hello.doit(check=False)
    assert run.returncode != 0 and "corrupt JSON" in run.stdout and "Refusing to pay again" in run.stdout
    assert hello.calls("judge") == [] and seal.read_text() == "{not json"


def test_glob_selection_and_info(hello):
    hello.edit_spec(lambda s: s["judges"][1].__setitem__("model", "scripted-hello-judge-v2"))
    info = hello.doit("info", "judge:T1/01/run_01/judge_02", check=False)
    assert info.returncode == 1 and "sealed T1/01/run_01/judge/judge_02: configuration changed" in info.stdout
    run = hello.doit("judge:T0/*")
    judges = [t for t in run.executed if t.startswith("judge:")]
    assert sorted(judges) == sorted(f"judge:T0/{s}/run_{n:02d}/judge_02" for s in ("00", "01") for n in (1, 2))
    assert sorted(c.split()[0] for c in hello.calls("judge")) == [
        "T0/00/run_01", "T0/00/run_02", "T0/01/run_01", "T0/01/run_02"]
    up = hello.doit("info", "judge:T0/00/run_01/judge_02")
    assert "up-to-date" in up.stdout


def test_projectscylla_test_001_graph_lists_without_executing(tmp_path):
    spec = tmp_path / "experiment.yaml"
    spec.write_text(yaml.safe_dump({
        "id": "ps-test-001", "fixture": str(PROJECTSCYLLA / "fixtures/test-001"),
        "tiers_dir": str(PROJECTSCYLLA / "tiers"), "tiers": [f"T{i}" for i in range(7)], "runs": 1,
        "agent": {"adapter": "command", "model": "claude-sonnet-4-6", "command": "true"},
        "judges": [{"adapter": "pipeline"}, {"adapter": "command", "model": "judge-a", "command": "true"},
                   {"adapter": "command", "model": "judge-b", "command": "true"}],
        "repos": {"https://github.com/mvillmow/Hello-World": str(tmp_path / "hello-world")},
    }))
    proc = subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "list", "--all", "-q",
                           f"exp={spec}"], check=False, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    names = proc.stdout.split()
    assert len([n for n in names if n.startswith("agent:")]) == 120
    assert len([n for n in names if n.startswith("judge:")]) == 360
    assert "judge:T6/01/run_01/judge_03" in names and "tier:T6" in names and "experiment" in names
    root = tmp_path / "results/ps-test-001"
    assert list(root.iterdir()) == []          # nothing executed, nothing written (not even .scylla/)
