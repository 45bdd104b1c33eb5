"""The fault matrix on the example tree: derived files and raw captures of every kind, each deleted,
truncated or replaced by invalid JSON (all at once, in different runs and tiers). `doit status --json`
predicts exactly what `doit` (or `doit -n 4 --continue`) then executes; the derived files come back
byte-identical with no agent or judge call; the raw captures are named as lost and nothing is derived
from them; every other file is untouched; a following `doit` executes nothing."""

from __future__ import annotations

import hashlib
import json

import pytest

from scylla import tree

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
}
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
    after = _files(hello.root)
    for rel, digest in before.items():              # derived files as they were, raw ones as damaged
        assert after.get(rel) == (damaged.get(rel) if rel in RAW else digest), rel
    assert hello.doit().executed == []
    assert {x["file"] for x in json.loads(hello.doit("status", "--json").stdout)["lost"]} == set(RAW)
