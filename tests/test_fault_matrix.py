"""The fault matrix on the example tree: derived files, the pipeline's output and raw captures of every
kind, each deleted, truncated or replaced by invalid JSON (all at once, in different runs and tiers).
`doit status --json` predicts exactly what `doit` (or `doit -n 4 --continue`) then executes; the derived
files come back byte-identical with no agent or judge call; the raw captures are named as lost and
nothing is derived from them; every other file is untouched; a following `doit` executes nothing."""

from __future__ import annotations

import hashlib
import json
import os

import pytest

from scylla import tree

pytestmark = pytest.mark.e2e          # doit in subprocesses

# derived file -> the task that rebuilds it (free)
DERIVED = {
    "T0/00/run_01/agent/result.json": "agent_result:T0/00/run_01",
    "T0/00/run_02/judge_prompt.md": "judge_prompt:T0/00/run_02",
    "T0/01/run_01/judge/judge_02/judgment.json": "judgment:T0/01/run_01/judge_02",
    "T0/01/run_02/judge/result.json": "consensus:T0/01/run_02",
    "T1/01/run_01/run_result.json": "run:T1/01/run_01",
    "T1/02/result.json": "subtest:T1/02",
    "T1/best_subtest.json": "tier:T1",
    "T5/01/config_manifest.json": "subtest_config:T5/01",
    "T0/result.json": "tier:T0",
    # the pipeline re-runs (free, deterministic): the same pipeline.json, so nothing above it runs
    "T5/01/run_02/commands/pipeline.json": "pipeline:T5/01/run_02",
}
RERUN_DIR = "T5/01/run_02/commands/"       # its logs and seal are rewritten (a log may hold test timings)
# raw captures of finished paid work -> the paid task that made them (lost: only paying again brings them back)
RAW = {
    "T0/00/run_02/agent/stdout.log": "agent:T0/00/run_02",
    "T1/01/run_02/agent/patch.diff": "agent:T1/01/run_02",
    "T5/01/run_01/judge/judge_02/response.txt": "judge:T5/01/run_01/judge_02",
    "T1/02/run_01/judge/judge_02/call.json": "judge:T1/02/run_01/judge_02",
}
DAMAGE = {
    "deleted": lambda p: p.unlink(),
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: max(1, p.stat().st_size // 2)]),
    "invalid JSON": lambda p: p.write_text('{"score": '),
}


def _record(tree_kind: str, damage: str, step, files: dict[str, str], st: dict, run, calls: int) -> None:
    """With $SCYLLA_FAULT_TABLE set, one JSON line per damaged file: what status predicted for it,
    what doit executed, and the agent and judge calls (the fault matrix table of the issue's note)."""
    if not (out := os.environ.get("SCYLLA_FAULT_TABLE")):
        return
    lost = {x["paid_task"] for x in st["lost"]}
    with open(out, "a", encoding="utf-8") as fh:
        for rel, task in files.items():
            predicted = task if task in st["to_run"] else f"lost (re-buy: {task})" if task in lost else "nothing"
            fh.write(json.dumps({"tree": tree_kind, "file": rel, "damage": damage, "step": " ".join(step) or "doit",
                                 "predicted": predicted, "executed": task in run.executed, "calls": calls}) + "\n")


def _files(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.md5(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != tree.STATE_DIR}


@pytest.mark.parametrize("step", [(), ("-n", "4", "--continue")], ids=["doit", "n4-continue"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_every_damage_is_predicted_repaired_or_named_and_never_paid_for(hello, damage, step):
    hello.doit()                                   # settled: whatever a copied tree makes due
    hello.reset_calls()
    before = _files(hello.root)
    for rel in [*DERIVED, *RAW]:
        DAMAGE[damage](hello.root / rel)
    damaged = _files(hello.root)

    st = json.loads(hello.doit("status", "--json").stdout)
    assert set(st["to_run"]) == set(DERIVED.values()), {n: st["tasks"][n]["reasons"] for n in st["blocked"] if "upstream blocked" not in st["tasks"][n]["reasons"][0]}
    assert st["may_run"] == [] and st["blocked"] == []
    assert {x["file"]: x["paid_task"] for x in st["lost"]} == RAW
    assert st["forecast"]["cost_usd"] == 0

    run = hello.doit(*step)
    assert sorted(run.executed) == sorted(st["to_run"]), str(run)
    assert hello.calls("agent") == [] and hello.calls("judge") == []
    _record("example", damage, step, {**DERIVED, **RAW}, st, run, 0)
    after = _files(hello.root)
    for rel, digest in before.items():              # derived files as they were, raw ones as damaged
        if not rel.startswith(RERUN_DIR) or rel in DERIVED:
            assert after.get(rel) == (damaged.get(rel) if rel in RAW else digest), rel
    assert hello.doit().executed == []
    assert {x["file"] for x in json.loads(hello.doit("status", "--json").stdout)["lost"]} == set(RAW)


# ---------------------------------------------------------------- an adopted ProjectScylla tree

# T0 and T1 (T1/01 extends T0's best subtest), two runs each, three claude-code judges; ProjectScylla's
# derived files come back as ProjectScylla wrote them (kept originals), Scylla's aggregates are rebuilt
ADOPTED_DERIVED = {
    "T0/00/run_01/agent/result.json": "agent_result:T0/00/run_01",
    "T0/00/run_02/judge_prompt.md": "judge_prompt:T0/00/run_02",
    "T0/01/run_01/judge/judge_03/judgment.json": "judgment:T0/01/run_01/judge_03",
    "T0/01/run_02/judge/result.json": "consensus:T0/01/run_02",
    "T1/01/run_01/run_result.json": "run:T1/01/run_01",
    "scylla/T1/01/config_manifest.json": "subtest_config:T1/01",     # (Scylla's aggregates sit in scylla/)
    "scylla/T1/02/result.json": "subtest:T1/02",
    "scylla/T0/result.json": "tier:T0",
    "scylla/T1/best_subtest.json": "tier:T1",
    "T1/02/run_02/commands/pipeline.json": "pipeline:T1/02/run_02",
}
ADOPTED_RAW = {
    "T0/00/run_02/agent/stdout.log": "agent:T0/00/run_02",
    "T1/01/run_02/agent/patch.diff": "agent:T1/01/run_02",
    "T1/02/run_01/judge/judge_02/response.txt": "judge:T1/02/run_01/judge_02",
}


@pytest.mark.parametrize("step", [(), ("-n", "4", "--continue")], ids=["doit", "n4-continue"])
@pytest.mark.parametrize("damage", DAMAGE)
def test_every_damage_to_an_adopted_tree_is_predicted_repaired_or_named_and_never_paid_for(
        tmp_path, damage, step, monkeypatch):
    from conftest import claude_cli
    from mock_anthropic import KEY, AnthropicMock
    from projectscylla_tree import Run
    from test_adopt import _adopt, _setup
    server = AnthropicMock()                 # every agent or judge call would reach it
    monkeypatch.setenv("PATH", f"{os.path.dirname(claude_cli())}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    try:
        runs = [Run(t, s, n, keep_workspace=(t, s, n) == ("T1", "01", 2))     # (its patch is not empty)
                for t, s in (("T0", "00"), ("T0", "01"), ("T1", "01"), ("T1", "02")) for n in (1, 2)]
        checkout, hello, ps = _setup(tmp_path, "flat", runs)
        _adopt(checkout, hello, ps)
        spec = f"exp={ps.dir / 'scylla.yaml'}"
        checkout.doit(spec)                                  # Scylla's aggregates of the adopted runs
        assert checkout.doit(spec).executed == [] and not server.requests
        before = _files(ps.dir)
        for rel in [*ADOPTED_DERIVED, *ADOPTED_RAW]:
            DAMAGE[damage](ps.dir / rel)
        damaged = _files(ps.dir)

        st = json.loads(checkout.doit("status", "--json", spec).stdout)
        assert set(st["to_run"]) == set(ADOPTED_DERIVED.values()), st["to_run"]
        assert st["may_run"] == [] and st["blocked"] == []
        assert {os.path.normpath(f"scylla/{x['file']}"): x["paid_task"] for x in st["lost"]} == ADOPTED_RAW
        assert st["forecast"]["cost_usd"] == 0

        run = checkout.doit(*step, spec)
        assert sorted(run.executed) == sorted(st["to_run"]), str(run)
        assert not server.requests
        _record("adopted", damage, step, {**ADOPTED_DERIVED, **ADOPTED_RAW}, st, run, len(server.requests))
        after = _files(ps.dir)
        rerun = os.path.dirname(next(p for p, t in ADOPTED_DERIVED.items() if t.startswith("pipeline:"))) + "/"
        # the kept originals of raw captures are hard links (no second copy of every log): a damage
        # in place reaches them too; those of derived files are copies, which restore them
        raw = {*ADOPTED_RAW, *(f"scylla/.scylla/originals/{p}" for p in ADOPTED_RAW)}
        for rel, digest in before.items():
            if rel.startswith("scylla/.scylla/") and not rel.startswith("scylla/.scylla/originals/"):
                continue                                     # doit's and Scylla's state
            if not rel.startswith(rerun) or rel in ADOPTED_DERIVED:
                assert after.get(rel) == (damaged.get(rel) if rel in raw else digest), rel
        assert checkout.doit(spec).executed == []
        lost = json.loads(checkout.doit("status", "--json", spec).stdout)["lost"]
        assert {os.path.normpath(f"scylla/{x['file']}") for x in lost} == set(ADOPTED_RAW)
    finally:
        server.close()
