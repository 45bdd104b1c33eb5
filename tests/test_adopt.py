"""Adopting ProjectScylla experiment directories (legacy flat and completed/ + in_progress/ layouts):
after `scylla adopt`, `doit list --status` shows exactly the unfinished work, `doit` pays for nothing
ProjectScylla finished, and every original file keeps its bytes. Judges are the real `claude` CLI
against the loopback Messages API mock (an agent call would show up there too)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from conftest import claude_cli, make_checkout
from mock_anthropic import KEY, AnthropicMock, implement_textkit, text
from projectscylla_tree import JUDGE_MODELS as JUDGES
from projectscylla_tree import Run, build
from scylla.adopt import AdoptError

VERDICT = {"score": 0.75, "passed": True, "reasoning": "Mock judge.", "criteria_scores": {}}
FINISHED = [Run("T0", "00", 1), Run("T0", "00", 2, stage="judged"),            # run_result.json missing
            Run("T0", "01", 1, failed_judges=(2,)), Run("T0", "01", 2),        # judge_02 failed
            Run("T1", "01", 1), Run("T1", "01", 2),
            Run("T1", "02", 1, stage="agent"),                                  # agent output only
            Run("T1", "02", 2, rate_limited=True)]                              # refused with a 429
UNFINISHED = {
    "run:T0/00/run_02",
    "judge:T0/01/run_01/judge_02", "judgment:T0/01/run_01/judge_02", "consensus:T0/01/run_01", "run:T0/01/run_01",
    "pipeline:T1/02/run_01", "judge_prompt:T1/02/run_01", "consensus:T1/02/run_01", "run:T1/02/run_01",
    *(f"{kind}:T1/02/run_01/judge_0{n}" for n in (1, 2, 3) for kind in ("judge", "judgment")),
    # their aggregates; T1/01's configuration extends T0's best subtest, not known yet, and Scylla
    # aggregates T1/01 once its configuration is confirmed (its runs stay adopted: nothing re-runs)
    "subtest:T0/00", "subtest:T0/01", "subtest:T1/02", "tier:T0", "tier:T1", "experiment",
    "subtest_config:T1/01", "subtest:T1/01",
    # the rate-limited run, from its agent on
    "agent:T1/02/run_02", "agent_result:T1/02/run_02", "pipeline:T1/02/run_02", "judge_prompt:T1/02/run_02",
    *(f"{kind}:T1/02/run_02/judge_0{n}" for n in (1, 2, 3) for kind in ("judge", "judgment")),
    "consensus:T1/02/run_02", "run:T1/02/run_02",
}
STANDALONE = {"setup", "baseline", "experiment"}      # the other names without ':' are doit group tasks


@pytest.fixture
def mock():
    server = AnthropicMock()
    server.responder = implement_textkit
    server.plain_default = [text(f"```json\n{json.dumps(VERDICT)}\n```")]
    yield server
    server.close()


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in root.rglob("*") if p.is_file() and not p.is_symlink()}


def _setup(tmp_path, layout: str, runs: list[Run]):
    checkout = make_checkout(tmp_path / "scylla")
    hello = checkout.path / "examples/hello"
    ps = build(tmp_path / "results/2026-03-30T04-09-50-hello-ps", layout, runs, hello / "fixture", hello / "repo",
               runs_per_subtest=2, tiers=["T0", "T1"])
    return checkout, hello, ps


def _adopt(checkout, hello, ps) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "scylla.cli", "adopt", str(ps.dir), "--tiers", str(hello / "tiers"),
         "--fixture", str(hello / "fixture"), "--repo", f"https://example.invalid/scylla/hello-textkit.git={hello / 'repo'}"],
        cwd=checkout.path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _doit(checkout, ps, *args, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "doit", *args, f"exp={ps.dir / 'scylla.yaml'}"], cwd=checkout.path,
                          capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def _to_run(checkout, ps) -> set[str]:
    out = _doit(checkout, ps, "list", "--all", "--status", "-q").stdout
    return {name for ln in out.splitlines() if ln[:2] in ("R ", "E ")
            for name in [ln[2:].strip()] if ":" in name or name in STANDALONE}


def _env(mock) -> dict:
    cli = claude_cli()
    return {"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY,
            "PATH": f"{Path(cli).parent}{os.pathsep}{os.environ['PATH']}"}


def _check_originals(ps, before: dict[str, str], unfinished_dirs: list[Path]) -> None:
    store = ps.dir / "scylla/.scylla/originals"
    after = _files(ps.dir)
    for rel, digest in before.items():
        assert _files_one(store / rel) == digest, rel                     # every original, kept byte for byte
        in_unfinished = any((ps.dir / rel).is_relative_to(d) for d in unfinished_dirs)
        if not in_unfinished:
            assert after.get(rel) == digest, rel                          # and untouched in place


def _files_one(path: Path) -> str | None:
    return hashlib.md5(path.read_bytes()).hexdigest() if path.is_file() else None


def test_adopting_a_legacy_flat_tree(tmp_path, mock):
    env = _env(mock)
    checkout, hello, ps = _setup(tmp_path, "flat", FINISHED)
    before = _files(ps.dir)
    _adopt(checkout, hello, ps)
    assert _to_run(checkout, ps) == UNFINISHED
    assert not [r for r in mock.requests]                                  # adoption itself calls nothing
    run = _doit(checkout, ps, env=env)
    assert len([r for r in mock.requests if r["main_loop"]]) == 2          # only the rate-limited run's agent
    assert len([r for r in mock.requests if not r["main_loop"]]) == 1 + 3 + 3   # judge_02, two runs' 3
    assert [t for t in run.stdout.split() if t.startswith("agent:")] == ["agent:T1/02/run_02"]
    assert _to_run(checkout, ps) == set()
    _check_originals(ps, before, [ps.run_dir(r) for r in FINISHED if r.stage != "complete" or r.failed_judges or r.rate_limited])
    # the adopted run's recovered patch reached the pipeline and the judges
    agent_only = ps.run_dir(FINISHED[6])
    assert "+    return len(text.split())" in (agent_only / "agent/patch.diff").read_text()
    assert json.loads((agent_only / "commands/pipeline.json").read_text())["tests"]["passed"] == 3
    result = json.loads((agent_only / "run_result.json").read_text())
    assert result["judge_score"] == pytest.approx(0.75) and [j["model"] for j in result["judges"]] == [
        "claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001"]
    # ProjectScylla's loader reads Scylla's runs: a MODEL.md beside every judgment, digit-only subtests
    for judgment in ps.dir.glob("T*/*/run_*/judge/judge_*/judgment.json"):
        assert (judgment.parent / "MODEL.md").read_text().count("**Model**:") == 1
    tier = json.loads((ps.dir / "scylla/T0/result.json").read_text())
    assert tier["runs"] == 4 and tier["best_subtest"] in ("00", "01")


def test_adopting_a_completed_and_in_progress_tree(tmp_path, mock):
    env = _env(mock)
    runs = [*FINISHED[:7], Run("T1", "02", 2, stage="agent", where="in_progress")]
    unfinished_run_02 = {t for t in UNFINISHED if "T1/02/run_02" in t}
    checkout, hello, ps = _setup(tmp_path, "current", runs)
    before = _files(ps.dir)
    _adopt(checkout, hello, ps)
    # the in_progress run is unfinished: its agent runs again, and everything after it
    assert unfinished_run_02 and _to_run(checkout, ps) == UNFINISHED
    _doit(checkout, ps, env=env)
    assert len([r for r in mock.requests if r["main_loop"]]) == 2          # one agent (write, then finish)
    assert len([r for r in mock.requests if not r["main_loop"]]) == 1 + 3 + 3
    assert (ps.dir / "completed/T1/02/run_02/run_result.json").is_file()
    assert not (ps.dir / "T1").exists()                                    # runs stay in completed/
    assert _to_run(checkout, ps) == set()
    _check_originals(ps, before, [ps.run_dir(r) for r in runs if r.stage != "complete" or r.failed_judges or r.rate_limited])
    assert _files(ps.dir / "in_progress") == {k[len("in_progress/"):]: v for k, v in before.items()
                                              if k.startswith("in_progress/")}


def test_adopt_names_the_missing_file(tmp_path):
    checkout = make_checkout(tmp_path / "scylla")
    (tmp_path / "not-an-experiment").mkdir()
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "adopt", str(tmp_path / "not-an-experiment"),
                           "--tiers", "x"], cwd=checkout.path, capture_output=True, text=True)
    assert done.returncode == 2 and "not-an-experiment/config/experiment.json: not found" in done.stderr


def test_the_spec_keeps_to_the_subtests_projectscylla_ran(tmp_path):
    from conftest import PROJECTSCYLLA
    from scylla.adopt import spec_for
    fixture = PROJECTSCYLLA / "fixtures/test-001"
    test = yaml.safe_load((fixture / "test.yaml").read_text())
    (tmp_path / "config").mkdir()
    config = {"experiment_id": "test-001", "task_repo": test["source"]["repo"], "task_commit": test["source"]["hash"],
              "task_prompt_file": str(fixture / "prompt.md"), "language": "python", "models": ["claude-sonnet-4-6"],
              "runs_per_subtest": 10, "tiers_to_run": ["T3", "T4"], "judge_models": JUDGES, "max_turns": None,
              "max_subtests": None, "skip_agent_teams": True, "thinking_mode": "UltraThink"}
    (tmp_path / "config/experiment.json").write_text(json.dumps(config))
    spec = spec_for(tmp_path, PROJECTSCYLLA / "tiers", fixture, {})
    assert spec["tiers"]["T4"] == ["01", "02", "03", "04", "05", "06", "07"]      # 08-14 are agent teams
    assert len(spec["tiers"]["T3"]) == 41 and spec["thinking"] == "max" and spec["runs"] == 10
    assert [j["model"] for j in spec["judges"]] == JUDGES and spec["runs_dir"] == ".."
    (tmp_path / "config/experiment.json").write_text(json.dumps({**config, "max_subtests": 2,
                                                                  "task_commit": "0" * 40}))
    with pytest.raises(AdoptError, match="source.hash .* differs from task_commit"):
        spec_for(tmp_path, PROJECTSCYLLA / "tiers", fixture, {})
    (tmp_path / "config/experiment.json").write_text(json.dumps({**config, "max_subtests": 2}))
    assert spec_for(tmp_path, PROJECTSCYLLA / "tiers", fixture, {})["tiers"] == {"T3": ["01", "02"],
                                                                                "T4": ["01", "02"]}


@pytest.mark.parametrize("layout", ["flat", "current"])
def test_a_lost_or_damaged_adopted_judgment_is_restored_with_no_call(tmp_path, layout):
    """ProjectScylla's judgment.json is an adopted judge's record: deleted, or replaced by invalid JSON, it
    comes back byte for byte from the original `scylla adopt` kept, rebuilding nothing else, calling nothing."""
    runs = [Run(t, s, n) for t, s in (("T0", "00"), ("T0", "01"), ("T1", "01"), ("T1", "02")) for n in (1, 2)]
    checkout, hello, ps = _setup(tmp_path, layout, runs)
    _adopt(checkout, hello, ps)
    _doit(checkout, ps)                                                    # Scylla's aggregates; nothing paid
    assert _to_run(checkout, ps) == set()
    tree = lambda: {k: v for k, v in _files(ps.dir).items()                  # noqa: E731  (not doit's state)
                    if not k.startswith("scylla/.scylla/") or k.startswith("scylla/.scylla/originals/")}
    before = tree()
    lost = ps.run_dir(runs[1]) / "judge/judge_02/judgment.json"
    lost.unlink()
    damaged = ps.run_dir(runs[7]) / "judge/judge_03/judgment.json"
    replacement = damaged.with_name("judgment.json.new")                 # a new file (an editor's save), so the
    replacement.write_bytes(b'{"score": 0.9, "passed": tru')               # original's hard link keeps its bytes
    replacement.replace(damaged)
    expected = {"judgment:T0/00/run_02/judge_02", "judgment:T1/02/run_02/judge_03"}

    st = json.loads(_doit(checkout, ps, "status", "--json").stdout)
    assert (set(st["to_run"]), st["may_run"], st["blocked"]) == (expected, [], [])
    run = _doit(checkout, ps, "-n", "2", "--continue")
    assert {ln[3:] for ln in run.stdout.splitlines() if ln.startswith(".  ")} == expected
    assert tree() == before
    assert _to_run(checkout, ps) == set() and _doit(checkout, ps).stdout.strip() == ""
