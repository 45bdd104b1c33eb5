"""Adopting ProjectScylla experiment directories (legacy flat and completed/ + in_progress/ layouts):
after `scylla adopt`, `doit list --status` shows exactly the unfinished work, `doit` pays for nothing
ProjectScylla finished, and every original file keeps its bytes. Judges are the real `claude` CLI
against the loopback Messages API mock (an agent call would show up there too)."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import EXECUTED, claude_cli, make_checkout, other_ruff_env
from mock_anthropic import KEY, AnthropicMock, implement_textkit, text
from projectscylla_tree import HAIKU, TOKEN_STATS, Run, build
from projectscylla_tree import JUDGE_MODELS as JUDGES

from scylla.adopt import AdoptError
from scylla.analysis import figures, tables
from scylla.tree import ADOPTED_DERIVED, ORIGINALS

pytestmark = pytest.mark.e2e          # `scylla adopt` and `doit` in subprocesses

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
    # the analysis frames and figures: new to the adopted tree, and built on the runs above
    *(f"analysis:frames/{s}" for s in ("T0/00", "T0/01", "T1/01", "T1/02", "T0", "T1")), "analysis:frames",
    "analysis:stats", *(f"analysis:tables/{t}" for t in tables.of_experiment()),
    *(f"analysis:figures/{name}" for name in figures.FIGURES),
    # the HTML report: each subtest's pages, the index
    *(f"analysis:report/{s}" for s in ("T0/00", "T0/01", "T1/01", "T1/02")), "analysis:report",
}
STANDALONE = {"setup", "baseline", "experiment"}      # the other names without ':' are doit group tasks


@pytest.fixture(autouse=True)
def claude_ready(monkeypatch):
    """Adopted trees use the claude-code adapters: preflight holds back their calls unless the CLI and a
    key are there. A key for nobody, and an endpoint nobody listens on, unless a test's mock says otherwise."""
    monkeypatch.setenv("PATH", f"{Path(claude_cli()).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-nobody-0123456789")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")


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


URL = "https://example.invalid/scylla/hello-textkit.git"


def _setup(tmp_path, layout: str, runs: list[Run], tiers: tuple[str, ...] = ("T0", "T1"), per_subtest: int = 2):
    checkout = make_checkout(tmp_path / "scylla")
    hello = checkout.path / "examples/hello"
    ps = build(tmp_path / "results/2026-03-30T04-09-50-hello-ps", layout, runs, hello / "fixture", hello / "repo",
               runs_per_subtest=per_subtest, tiers=list(tiers))
    return checkout, hello, ps


def _adopt(checkout, hello, ps, tiers: Path | None = None, repo: Path | None = None, check: bool = True,
           inject: str = "") -> subprocess.CompletedProcess:
    """`scylla adopt` in a subprocess; `inject`: Python run first in that process (a fault to recover from)."""
    main = "import sys\n" + inject + "\nfrom scylla.cli import main\nsys.exit(main(sys.argv[1:]))"
    done = subprocess.run(
        [sys.executable, "-c", main, "adopt", str(ps.dir), "--tiers", str(tiers or hello / "tiers"),
         "--fixture", str(hello / "fixture"), "--repo", f"{URL}={repo or hello / 'repo'}"],
        cwd=checkout.path, check=False, capture_output=True, text=True, timeout=600)
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def _exact(root: Path) -> dict:
    """Every path under `root`: a file's bytes, mode and mtime, a link's target, a directory's mtime."""
    out: dict[str, tuple] = {".": ("dir", root.stat().st_mtime_ns)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = p.lstat()
            out[str(p.relative_to(root))] = ("link", os.readlink(p)) if p.is_symlink() else \
                ("dir", st.st_mtime_ns) if p.is_dir() else \
                ("file", hashlib.md5(p.read_bytes()).hexdigest(), st.st_mode, st.st_mtime_ns)
    return out


def _status(checkout, ps) -> dict:
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "status", "--json", f"exp={ps.dir / 'scylla.yaml'}"],
                          cwd=checkout.path, check=False, capture_output=True, text=True, timeout=600)
    return json.loads(done.stdout)


def _doit(checkout, ps, *args, env=None) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "doit", *args, f"exp={ps.dir / 'scylla.yaml'}"], cwd=checkout.path,
                          check=False, capture_output=True, text=True, timeout=600, env={**os.environ, **(env or {})})
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
    done = _adopt(checkout, hello, ps)
    # a summary, not doit's per-task report (that is in scylla/.scylla/adopt.log)
    assert len(done.stdout.splitlines()) <= 6 and not done.stderr and "TaskFailed" not in done.stdout
    assert "runs: 4 finished, 4 unfinished" in done.stdout and "7 judgments" in done.stdout.splitlines()[2]
    assert "UnmetDependency" in (ps.dir / "scylla/.scylla/adopt.log").read_text()
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
    finished = _files(ps.dir)
    again = _adopt(checkout, hello, ps)                  # adopting again: nothing changes, nothing to run
    assert "runs: 8 finished, 0 unfinished" in again.stdout and _to_run(checkout, ps) == set()
    assert {r: d for r, d in _files(ps.dir).items() if r in finished and not r.startswith("scylla/.scylla/")} == \
        {r: d for r, d in finished.items() if not r.startswith("scylla/.scylla/")}


def test_adopt_names_the_missing_file(tmp_path):
    checkout = make_checkout(tmp_path / "scylla")
    (tmp_path / "not-an-experiment").mkdir()
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "adopt", str(tmp_path / "not-an-experiment"),
                           "--tiers", "x"], cwd=checkout.path, check=False, capture_output=True, text=True)
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
    tree = lambda: {k: v for k, v in _files(ps.dir).items()
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


def test_a_new_toolchain_re_runs_scylla_s_baseline_and_no_adopted_pipeline_or_judgment(tmp_path, mock):
    """ProjectScylla's pipelines ran with a toolchain nobody recorded, and their workspaces are gone: another
    ruff makes only Scylla's own baseline stale (free). The judge prompts ProjectScylla's judges read are
    kept (the baseline is not what they saw), so no adopted pipeline or judgment runs and nothing is called."""
    env = _env(mock)
    runs = [Run("T0", s, n) for s in ("00", "01") for n in (1, 2)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, tiers=("T0",))
    _adopt(checkout, hello, ps)
    _doit(checkout, ps, env=env)
    assert not mock.requests and _to_run(checkout, ps) == set()
    runs_now = lambda: {k: v for k, v in _files(ps.dir).items() if k.startswith("T0/")}
    before = runs_now()
    other = {**env, **other_ruff_env(tmp_path)}
    st = json.loads(_doit(checkout, ps, "status", "--json", env=other).stdout)
    assert st["to_run"] == ["baseline"] and st["blocked"] == []
    assert not [t for t in st["may_run"] if t.startswith(("pipeline:", "agent:"))]
    assert "toolchain ruff" in st["tasks"]["baseline"]["reasons"][0]
    done = _doit(checkout, ps, env=other)
    assert "baseline" in done.stdout.split() and "pipeline:" not in done.stdout
    assert not mock.requests
    assert runs_now() == before
    assert json.loads((ps.dir / "scylla/pipeline_baseline.json").read_text())["toolchain"]["ruff"] == "0.0.1"
    assert _to_run(checkout, ps) == {"baseline"}              # (the installed ruff: stale again, free)


# ---------------------------------------------------------------- all or nothing

def _refused(ps, before: dict, done: subprocess.CompletedProcess, code: int, *expected: str) -> None:
    assert done.returncode == code, done.stdout + done.stderr
    for message in expected:
        assert message in done.stderr, done.stderr
    assert f"{ps.dir} is as it was" in done.stderr
    assert not (ps.dir / "scylla.yaml").exists() and not (ps.dir / "scylla").exists()
    assert _exact(ps.dir) == before                         # every path, byte, mode and mtime


def test_adopting_100_runs_prints_a_summary_and_the_next_doit_does_what_it_says(tmp_path, mock):
    runs = [Run(t, s, n, stage="judged" if n == 4 else "complete")
            for t, s in (("T0", "00"), ("T0", "01"), ("T1", "01"), ("T1", "02")) for n in range(1, 26)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, per_subtest=25)
    done = _adopt(checkout, hello, ps)
    lines = done.stdout.splitlines()
    assert len(lines) == 5 and not done.stderr and "100 finished agent runs, 300 judgments" in lines[0]
    assert lines[1] == "runs: 96 finished, 4 unfinished" and "(0 agent runs, 0 judgments, 0 pipelines)" in lines[2]
    predicted = set(_status(checkout, ps)["to_run"])
    run = _doit(checkout, ps, env=_env(mock))
    assert set(EXECUTED.findall(run.stdout)) == predicted and not mock.requests
    assert {f"run:{t}/run_04" for t in ("T0/00", "T0/01", "T1/01", "T1/02")} <= predicted
    assert _to_run(checkout, ps) == set()


def test_a_commit_missing_from_the_mapped_repository_leaves_the_directory_as_it_was(tmp_path):
    checkout, hello, ps = _setup(tmp_path, "flat", FINISHED)
    clone = tmp_path / "other-clone"                        # a clone without the fixture's source.hash
    clone.mkdir()
    (clone / "README.md").write_text("another project\n")
    for args in (["init", "-q"], ["add", "."], ["-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"]):
        subprocess.run(["git", *args], cwd=clone, check=True)
    commit = yaml.safe_load((hello / "fixture/test.yaml").read_text())["source"]["hash"]
    before = _exact(ps.dir)
    done = _adopt(checkout, hello, ps, repo=clone, check=False)
    _refused(ps, before, done, 2, f"commit {commit} of {URL} is not in the mapped repository {clone}",
             f"fix: fetch it there, or map --repo {URL}=PATH to a clone that has it")


def _tiers_without(hello, tmp_path, *removed: str) -> Path:
    copy = tmp_path / "tiers-copy"
    shutil.copytree(hello / "tiers", copy)
    for rel in removed:
        (copy / rel).unlink()
    return copy


@pytest.mark.parametrize(("rel", "what"), [("prompt.md", "task prompt"), ("expected/rubric.yaml", "rubric"),
                                         ("expected/criteria.md", "criteria")])
def test_a_fixture_whose_prompt_rubric_or_criteria_differ_from_projectscylla_s_leaves_the_directory_as_it_was(
        tmp_path, rel, what):
    """ProjectScylla keeps copies of what its agents and judges read beside config/: a fixture that has changed
    since (ProjectScylla's test-001 rubric has, since its arXiv dry run) is refused, not silently mixed in."""
    checkout, hello, ps = _setup(tmp_path, "flat", FINISHED[:2])
    kept = ps.dir / Path(rel).name
    kept.unlink()                                        # ProjectScylla's copy as it was, not a link to the fixture
    shutil.copy(hello / "fixture" / rel, kept)
    (hello / "fixture" / rel).write_text((hello / "fixture" / rel).read_text() + "\n# changed since\n")
    before = _exact(ps.dir)
    done = _adopt(checkout, hello, ps, check=False)
    _refused(ps, before, done, 2, f"{hello / 'fixture' / rel} differs from {kept}, the {what} ProjectScylla ran with",
             "fix: pass --fixture the fixture ProjectScylla ran")


@pytest.mark.parametrize("bad", ["missing", "without a subtest ProjectScylla ran", "without a block"])
def test_a_bad_tiers_directory_leaves_the_directory_as_it_was(tmp_path, bad):
    checkout, hello, ps = _setup(tmp_path, "current", FINISHED[:7])
    tiers, expected = {
        "missing": lambda: (tmp_path / "no-such-tiers", f"tiers directory {tmp_path / 'no-such-tiers'} does not exist"),
        "without a subtest ProjectScylla ran": lambda: (_tiers_without(hello, tmp_path, "t1/02-rle-skill.yaml"),
                                                        "ProjectScylla ran subtests that"),
        "without a block": lambda: (_tiers_without(hello, tmp_path, "blocks/B02-text-conventions.md"),
                                    "resources.claude_md.blocks: B02"),
    }[bad]()
    before = _exact(ps.dir)
    done = _adopt(checkout, hello, ps, tiers=tiers, check=False)
    _refused(ps, before, done, 2, expected, "fix: pass --tiers the tiers directory ProjectScylla ran with")
    if "subtest" in bad:
        assert "T1/02" in done.stderr


def test_an_unexpected_failure_midway_is_rolled_back(tmp_path):
    """After the spec, seals, patches, hard links, repository cache and doit DB are written, an error:
    every one of them is removed again."""
    checkout, hello, ps = _setup(tmp_path, "flat", FINISHED)
    before = _exact(ps.dir)
    inject = ("import scylla.adopt as a\n"
              "def boom(*args):\n    raise RuntimeError('injected failure')\n"
              "a.record_derived = boom")
    done = _adopt(checkout, hello, ps, check=False, inject=inject)
    _refused(ps, before, done, 1, "RuntimeError: injected failure", "failed unexpectedly")
    assert not list(ps.dir.rglob(".seal.json"))


# ---------------------------------------------------------------- after adoption

COMPLETE = [Run("T0", "00", 1, legacy_keys=True),
            Run("T0", "00", 2, stage="judged", legacy_keys=True, scores=(1.0, 0.4, 0.7)),    # no run_result.json
            Run("T0", "01", 1, stage="judged", legacy_keys=True, scores=(0.3, 0.5, 0.4)),    # nor judge/result.json
            Run("T0", "01", 2), Run("T1", "01", 1), Run("T1", "01", 2), Run("T1", "02", 1), Run("T1", "02", 2)]


def _check_run_result(run_dir: Path, scores: tuple[float, ...], passed: bool) -> None:
    result = json.loads((run_dir / "run_result.json").read_text())
    assert result["judge_score"] == pytest.approx(sum(scores) / 3) and result["judge_valid"] is True
    assert result["judge_passed"] is passed and [j["is_valid"] for j in result["judges"]] == [True] * 3
    assert result["tokens_input"] == 29 + 112686 and result["tokens_output"] == 656
    assert result["cost_usd"] == 0.135 and result["exit_code"] == 0


def test_projectscylla_formats_are_read_and_lost_derived_files_come_back_as_they_were(tmp_path, mock):
    """Older judgments and judge/result.json without is_valid: the run results and consensus Scylla builds
    from them have the right numbers. Derived files ProjectScylla wrote, deleted after adoption, come back
    byte for byte from the originals (status predicts exactly that), with no call: no original changes."""
    env = _env(mock)
    checkout, hello, ps = _setup(tmp_path, "flat", COMPLETE)
    (ps.run_dir(COMPLETE[2]) / "judge/result.json").unlink()
    before = _files(ps.dir)
    _adopt(checkout, hello, ps)
    _doit(checkout, ps, env=env)
    assert not mock.requests
    first = _files(ps.dir)
    assert {r: first.get(r) for r in before} == before                        # Scylla added files, changed none
    judged, no_consensus = ps.run_dir(COMPLETE[1]), ps.run_dir(COMPLETE[2])
    _check_run_result(judged, COMPLETE[1].scores, passed=True)               # 2 of 3 judges passed: 1.0, 0.7
    _check_run_result(no_consensus, COMPLETE[2].scores, passed=False)
    consensus = json.loads((no_consensus / "judge/result.json").read_text())
    assert consensus["valid_count"] == 3 and consensus["grade"] == "C" and consensus["score"] == pytest.approx(0.4)

    legacy, plain = ps.run_dir(COMPLETE[0]), ps.run_dir(COMPLETE[4])
    deleted = [legacy / "judge_prompt.md", legacy / "agent/result.json", legacy / "run_result.json",
               plain / "judge/result.json", plain / "report.md", judged / "run_result.json"]
    for path in deleted:
        path.unlink()
    predicted = set(_status(checkout, ps)["to_run"])
    run = _doit(checkout, ps, env=env)
    executed = set(EXECUTED.findall(run.stdout))
    assert not mock.requests and predicted == executed and not [t for t in executed if t.startswith("judge:")]
    assert {"judge_prompt:T0/00/run_01", "agent_result:T0/00/run_01", "run:T0/00/run_01", "consensus:T1/01/run_01",
            "run:T1/01/run_01", "run:T0/00/run_02"} <= executed
    after = {r: d for r, d in _files(ps.dir).items() if not r.startswith("scylla/.scylla/")}
    assert after == {r: d for r, d in first.items() if not r.startswith("scylla/.scylla/")}    # as they were
    assert _to_run(checkout, ps) == set()
    # doit's DB and the originals lost with all of .scylla/: every derived task runs, and keeps its file
    shutil.rmtree(ps.dir / "scylla/.scylla")
    _doit(checkout, ps, env=env)
    assert not mock.requests
    assert {r: d for r, d in _files(ps.dir).items() if not r.startswith("scylla/.scylla/")} == after


def test_a_changed_task_prompt_makes_the_adopted_agent_runs_stale(tmp_path):
    """The agents ran with the fixture's prompt (ProjectScylla's copy of it is checked equal): a new
    prompt makes every adopted agent run to run again, priced, as it would Scylla's own."""
    runs = [Run("T0", s, n) for s in ("00", "01") for n in (1, 2)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, tiers=("T0",))
    _adopt(checkout, hello, ps)
    assert not [t for t in _status(checkout, ps)["to_run"] if t.startswith(("agent:", "judge:"))]
    (hello / "fixture/prompt.md").write_text((hello / "fixture/prompt.md").read_text() + "\nAlso add docstrings.\n")
    status = _status(checkout, ps)
    assert {t for t in status["to_run"] if t.startswith("agent:")} == {
        f"agent:T0/{s}/run_0{n}" for s in ("00", "01") for n in (1, 2)}
    assert status["forecast"]["rows"]["agent"]["to_run"] == 4 and status["forecast"]["cost_usd"] > 0


def test_a_changed_rubric_makes_the_adopted_judgments_stale(tmp_path, mock):
    """Adopted seals fingerprint the judge_prompt.md the judges read: a new rubric rebuilds it, the
    judgments are listed to run (priced) and re-judged; ProjectScylla's prompt is archived, never replaced."""
    env = _env(mock)
    runs = [Run("T0", s, n, keep_workspace=True) for s in ("00", "01") for n in (1, 2)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, tiers=("T0",))
    _adopt(checkout, hello, ps)
    _doit(checkout, ps, env=env)
    assert not mock.requests and _to_run(checkout, ps) == set()
    prompt = ps.run_dir(runs[0]) / "judge_prompt.md"
    original = prompt.read_bytes()
    rubric = hello / "fixture/expected/rubric.yaml"
    rubric.write_text(rubric.read_text().replace("All tests in tests/test_textkit.py pass", "Every test passes"))
    status = _status(checkout, ps)
    judges = {f"judge:{r.tier}/{r.subtest}/run_{r.number:02d}/judge_0{n}" for r in runs for n in (1, 2, 3)}
    assert judges <= set(status["to_run"]) and not [t for t in status["to_run"] if t.startswith("agent:")]
    rows = status["forecast"]["rows"]
    assert sorted(rows) == ["judge_01", "judge_02", "judge_03"] and status["forecast"]["cost_usd"] > 0
    assert all(row["to_run"] == 4 and not row["unpriced"] for row in rows.values())             # priced
    assert status["tasks"]["judge:T0/00/run_01/judge_01"]["reasons"]
    _doit(checkout, ps, env=env)
    assert len([r for r in mock.requests if not r["main_loop"]]) == 12                # the 12 judgments
    assert not [r for r in mock.requests if r["main_loop"]]                          # and no agent
    assert "Every test passes" in prompt.read_text()
    archived = ps.dir / "T0/00/.superseded/run_01_judge_prompt_attempt_01/judge_prompt.md"
    assert archived.read_bytes() == original
    assert (ps.dir / "scylla/.scylla/originals/T0/00/run_01/judge_prompt.md").read_bytes() == original
    assert _to_run(checkout, ps) == set()


def test_five_lost_judgments_and_ten_run_results_of_an_adopted_tree_come_back_with_no_call(tmp_path, mock):
    """The case of issue 12 on an adopted tree of 100 runs: status names all 15, and `doit --continue`
    brings back the 10 run results and the 5 judgments (ProjectScylla's bytes) with no call."""
    runs = [Run(t, s, n) for t, s in (("T0", "00"), ("T0", "01"), ("T1", "01"), ("T1", "02")) for n in range(1, 26)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, per_subtest=25)
    _adopt(checkout, hello, ps)
    _doit(checkout, ps, env=_env(mock))                       # Scylla's aggregates of the adopted runs
    before = _files(ps.dir)
    judgments = [ps.run_dir(r) / "judge/judge_02/judgment.json" for r in runs[3:80:16]]
    results = [ps.run_dir(r) / "run_result.json" for r in runs[5:100:10]]
    for path in judgments + results:
        path.unlink()
    st = _status(checkout, ps)
    run_id = lambda path: str(path.relative_to(ps.dir)).split("/judge/")[0].removesuffix("/run_result.json")
    expected = {f"judgment:{run_id(p)}/judge_02" for p in judgments} | {f"run:{run_id(p)}" for p in results}
    assert len(expected) == 15 and expected <= set(st["to_run"]), sorted(expected - set(st["to_run"]))
    assert st["blocked"] == [] and st["lost"] == [] and st["forecast"]["cost_usd"] == 0
    run = _doit(checkout, ps, "--continue", env=_env(mock))
    assert set(EXECUTED.findall(run.stdout)) == set(st["to_run"]) and not mock.requests
    state = lambda files: {k: v for k, v in files.items() if not k.startswith("scylla/.scylla/")}
    assert state(_files(ps.dir)) == state(before)            # every file as it was, ProjectScylla's bytes
    assert EXECUTED.findall(_doit(checkout, ps, env=_env(mock)).stdout) == []


# ---------------------------------------------------------------- numbers (issue 13)

def _numbers(ps, runs: list[Run]) -> None:
    """Tokens and totals at every level are ProjectScylla's: each run's token_stats as it recorded them,
    totals by its TokenStats.total_tokens (input + output + cache creation + cache read); the judge cost,
    which ProjectScylla never recorded, is unknown (null), never $0."""
    per_run = sum(TOKEN_STATS.values())
    assert per_run == 29 + 656 + 23106 + 112686 == 136477
    for r in runs:
        result = json.loads((ps.run_dir(r) / "run_result.json").read_text())
        assert result["token_stats"] == TOKEN_STATS, r
        assert (result["tokens_input"], result["tokens_output"], result["cost_usd"]) == (29 + 112686, 656, 0.135)
    scylla = ps.dir / "scylla"
    for sid in ("00", "01"):
        s = json.loads((scylla / f"T0/{sid}/result.json").read_text())
        assert s["token_stats"] == {k: 2 * v for k, v in TOKEN_STATS.items()} and s["total_tokens"] == 2 * per_run
        assert s["total_cost_usd"] == pytest.approx(0.27) and s["cost_unknown_runs"] == 0
        assert s["total_judge_cost_usd"] is None and s["judge_cost_unknown_runs"] == 2
    tier, exp = (json.loads((scylla / f).read_text()) for f in ("T0/result.json", "result.json"))
    assert tier["total_tokens"] == exp["total_tokens"] == 4 * per_run
    assert tier["token_stats"]["cache_creation_tokens"] == 4 * 23106
    assert exp["total_agent_cost_usd"] == pytest.approx(0.54) and exp["total_judge_cost_usd"] is None
    assert exp["total_cost_usd"] is None and exp["judge_cost_unknown_runs"] == 4
    report = (scylla / "report.md").read_text()
    assert "agent cost $0.5400; judge cost unknown (4 of 4 runs not recorded); total unknown" in report
    assert f"- Tokens: {4 * per_run} total (116 input, 2624 output, 92424 cache creation, 450744 cache read)" \
        in report
    assert "(judges unknown (2 of 2 runs not recorded))" in (scylla / "T0/00/report.md").read_text()
    for md in scylla.rglob("report.md"):
        assert "$0.0000" not in md.read_text(), md


def test_tokens_and_totals_of_an_adopted_tree_are_projectscylla_s_also_after_agent_result_json_is_regenerated(
        tmp_path, mock):
    """ProjectScylla took an agent's tokens from the CLI result's top-level `usage`; its `modelUsage` also
    counts a second model. Scylla's numbers equal ProjectScylla's for the same runs, and stay equal when an
    agent/result.json (and the original adoption kept) is lost and rebuilt from the raw captures: the
    rebuilt file keeps every model's usage beside the tokens (model_usage), shown in the run report."""
    runs = [Run("T0", "00", 1), Run("T0", "00", 2, stage="judged"), Run("T0", "01", 1), Run("T0", "01", 2)]
    checkout, hello, ps = _setup(tmp_path, "flat", runs, tiers=("T0",))
    _adopt(checkout, hello, ps)
    _doit(checkout, ps, env=_env(mock))
    assert not mock.requests
    _numbers(ps, runs)

    rebuilt = ps.run_dir(runs[0]) / "agent/result.json"
    kept = json.loads((ps.dir / "scylla" / ADOPTED_DERIVED).read_text())["agent_result:T0/00/run_01"]
    original = ps.dir / "scylla" / ORIGINALS / kept["targets"]["../T0/00/run_01/agent/result.json"]["original"]
    rebuilt.unlink()
    original.unlink()
    run = _doit(checkout, ps, env=_env(mock))
    assert {"agent_result:T0/00/run_01", "run:T0/00/run_01"} <= set(EXECUTED.findall(run.stdout))
    assert not mock.requests
    result = json.loads(rebuilt.read_text())
    assert result["token_stats"] == TOKEN_STATS and result["cost_usd"] == 0.135
    assert result["model_usage"][HAIKU] == {"input_tokens": 1830, "output_tokens": 92, "cache_creation_tokens": 0,
                                            "cache_read_tokens": 0, "cost_usd": 0.004}
    assert set(result["model_usage"]) == {"claude-sonnet-4-6", HAIKU}
    _numbers(ps, runs)
    report = (ps.run_dir(runs[0]) / "report.md").read_text()
    assert "## Agent usage by model" in report and f"| {HAIKU} | 1830 | 92 | 0 | 0 | $0.0040 |" in report
    assert "- Judges: unknown," in report


def test_an_adopted_tree_s_unfinished_run_completes_on_a_dask_cluster(tmp_path, mock):
    """Runs in ProjectScylla's `../completed` beside Scylla's root: a worker lays out its scratch tree deep
    enough for them, and the doit writes the captures back there. The key is the worker's only."""
    from dask_cluster import Cluster
    runs = [*FINISHED[:7], Run("T1", "02", 2, stage="agent", where="in_progress")]
    checkout, hello, ps = _setup(tmp_path, "current", runs)
    _adopt(checkout, hello, ps)
    cluster = Cluster.start(tmp_path / "cluster", workers=2, threads=2, env={**os.environ, **_env(mock)})
    try:
        _doit(checkout, ps, "-n", "4", f"executor={cluster.url}", env={**_env(mock), "ANTHROPIC_API_KEY": ""})
    finally:
        cluster.close()
    assert len([r for r in mock.requests if r["main_loop"]]) == 2          # one agent (write, then finish)
    assert len([r for r in mock.requests if not r["main_loop"]]) == 1 + 3 + 3
    result = json.loads((ps.dir / "completed/T1/02/run_02/run_result.json").read_bytes())
    assert result["judge_score"] is not None and not (ps.dir / "T1").exists()
    assert _to_run(checkout, ps) == set()
