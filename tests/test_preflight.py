"""Preflight: what would make paid work fail is found before the first agent or judge call. `doit status`
names it and exits non-zero while paid work is due; `doit` starts no agent, judge or pipeline, still
builds what needs no call, and goes ahead once the cause is fixed."""

from __future__ import annotations

import json
import shutil

import pytest


def _missing_skill(checkout, env):
    path = checkout.path / "examples/hello/tiers/t1/01-text-skills.yaml"
    path.write_text(path.read_text() + "    names: [no-such-skill]\n")
    return "resources.skills: name/no-such-skill", lambda: path.write_text(path.read_text().replace(
        "    names: [no-such-skill]\n", ""))


def _openai_judge_without_key(checkout, env):
    checkout.edit_spec(lambda s: s["judges"].append(
        {"adapter": "openai", "model": "gpt-4o", "api_key_env": "SCYLLA_TEST_UNSET_KEY"}))
    return "SCYLLA_TEST_UNSET_KEY is set", lambda: checkout.edit_spec(lambda s: s["judges"].pop())


def _repo_folder_missing(checkout, env):
    repo = checkout.path / "examples/hello/repo"
    repo.rename(repo.with_name("repo-moved"))
    return f"mapped to {repo}, which does not exist", lambda: repo.with_name("repo-moved").rename(repo)


def _repo_without_the_commit(checkout, env):
    textkit = checkout.path / "examples/hello/repo/textkit.py"
    original = textkit.read_bytes()
    textkit.write_bytes(original + b"# edited\n")
    return "755f832bdff5d50d234db98ccb70de41282f6bc3", lambda: textkit.write_bytes(original)


def _claude_cli_missing(checkout, env):
    agent = {}
    checkout.edit_spec(lambda s: (agent.update(s["agent"]), s.update(agent={
        "adapter": "claude-code", "model": "claude-sonnet-4-6", "options": {"cli": "/nonexistent/claude"}})))
    return "executable '/nonexistent/claude' not found", lambda: checkout.edit_spec(lambda s: s.update(agent=agent))


def _pytest_missing(checkout, env):
    """The pipeline's test runner is gone: pipelines and the baseline would be sealed with every test
    failing, so they refuse too."""
    blocker = checkout.path / "without-pytest"
    blocker.mkdir()
    (blocker / "sitecustomize.py").write_text('import sys\nsys.modules["pytest"] = None    # as if not installed\n')
    env["PYTHONPATH"] = str(blocker)
    return "pytest is not installed", lambda: env.pop("PYTHONPATH")


PAID = ("agent", "judge")
CAUSES = [_missing_skill, _openai_judge_without_key, _repo_folder_missing, _repo_without_the_commit,
          _claude_cli_missing, _pytest_missing]


@pytest.mark.parametrize("cause", CAUSES, ids=lambda c: c.__name__.strip("_"))
def test_preflight_finds_it_before_any_paid_call(fresh, cause):
    env = {"ANTHROPIC_API_KEY": "sk-ant-unused-0123456789"}     # the claude case is about the CLI alone
    words, fix = cause(fresh, env)
    status = fresh.doit("status", "--json", env=env, check=False)
    assert status.returncode == 1, str(status)
    report = json.loads(status.stdout)
    assert any(words in p for p in report["preflight"]), report["preflight"]
    assert not [n for n in report["to_run"] + report["may_run"] if n.split(":")[0] in PAID], report["to_run"]
    blocked = [n for n in report["blocked"] if n.startswith("agent:")]
    assert blocked and "refused by preflight" in report["tasks"][blocked[0]]["reasons"][0]
    text = fresh.doit("status", env=env, check=False)
    assert text.returncode == 1 and "Preflight: " in text.stdout and words in text.stdout

    run = fresh.doit("--continue", env=env, check=False)
    assert run.returncode != 0 and "refused by preflight" in run.stdout and words in run.stdout, str(run)
    assert fresh.calls("agent") == [] and fresh.calls("judge") == []
    assert not list(fresh.root.glob("T*/*/run_*/agent/.seal.json"))
    assert "setup" in run.executed and (fresh.root / "config/experiment.json").exists()   # free work still done
    if "pytest" in words:                             # the baseline is not sealed with every test failing
        assert "baseline" in run.executed and not (fresh.root / "baseline/.seal.json").exists()
    assert "refused by preflight" in run.stderr.strip().splitlines()[-1]                  # counted, not repeated
    assert run.stdout.count("refused by preflight") == 1

    fix()
    status = fresh.doit("status", "--json", env=env)
    assert json.loads(status.stdout)["preflight"] == []
    fresh.doit(env=env)
    assert len(fresh.calls("agent")) == 10
    assert fresh.doit(env=env).executed == []


def test_finished_work_is_not_held_up_by_a_finding(hello):
    """A CI job that only rebuilds results needs no repository and no key: preflight's findings hold
    back due paid work only."""
    repo = hello.path / "examples/hello/repo"
    shutil.move(repo, repo.with_name("repo-moved"))
    shutil.rmtree(hello.root / ".scylla/repos")
    (hello.root / "T0/00/run_01/run_result.json").unlink()
    status = hello.doit("status", "--json")                     # exit 0: nothing paid is due
    report = json.loads(status.stdout)
    assert any("does not exist" in p for p in report["preflight"]), report["preflight"]
    assert report["to_run"] == ["preflight", "run:T0/00/run_01"] and report["blocked"] == []
    run = hello.doit()
    assert sorted(run.executed) == report["to_run"] and hello.calls("agent") == hello.calls("judge") == []
