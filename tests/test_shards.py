"""scylla/shards.py without doit: the `shard=` value, which shard owns a run, the guard of other shards' heavy
tasks, and merge's decisions and atomic copy (its end-to-end use: test_e2e_shards.py)."""

from __future__ import annotations

import os
import shutil
from collections import Counter
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from doit.exceptions import TaskFailed

from scylla import durable, shards
from scylla.kinds import TaskId
from scylla.spec import load_experiment


@pytest.mark.parametrize("value", ["0/2", "3/2", "1/0", "0/0", "x", "1", "1/2/3", "-1/2", "1.5/2", "", "i/N"])
def test_a_bad_shard_value_names_shard_and_the_form(value):
    with pytest.raises(shards.ShardError, match=r"invalid shard=.*: expected shard=i/N with whole numbers 1 <= i <= N"):
        shards.parse(value)


def test_a_good_shard_value():
    assert shards.parse(None) is None
    assert shards.parse("2/5") == shards.Shard(2, 5) and shards.parse(" 1 / 1 ") == shards.Shard(1, 1)
    assert str(shards.Shard(3, 4)) == "3/4"


def test_each_run_has_one_shard_each_subtest_spread_evenly_and_adding_runs_moves_none():
    subtests = [f"T{t}/{s:02d}" for t in range(7) for s in range(20)]
    for count in (2, 3, 7):
        owners = {(s, n): shards.Shard(1, count).owner(s, n) for s in subtests for n in range(1, 11)}
        assert all(sum(shards.Shard(i, count).owns(s, n) for i in range(1, count + 1)) == 1 for s, n in owners)
        for s in subtests:          # consecutive runs of a subtest go round the shards
            per_shard = Counter(owners[s, n] for n in range(1, 11))
            assert max(per_shard.values()) - min(per_shard.values()) <= 1
        more = {(s, n): shards.Shard(1, count).owner(s, n) for s in subtests + ["T7/00"] for n in range(1, 21)}
        assert all(more[k] == v for k, v in owners.items())


def _task(kind: str, subtest: str | None, run: int | None) -> dict:
    name = f"{kind}:{subtest}/run_{run:02d}" if run else kind
    return {"basename": kind, "actions": ["original"], "meta": {"id": TaskId(name, kind, subtest and subtest[:2],
                                                                           subtest, run)}}


def test_the_guard_refuses_only_other_runs_heavy_tasks():
    plan = shards.ShardPlan(shards.Shard(1, 2), runs=[("T0/00", 1)], waiting={"T5/01": ("T0",)})
    mine, theirs = _task("agent", "T0/00", 1), _task("judge", "T0/00", 2)
    waits = _task("agent", "T5/01", next(n for n in range(1, 9) if shards.Shard(1, 2).owns("T5/01", n)))
    cheap, setup = _task("agent_result", "T0/00", 2), _task("setup", None, None)
    out = list(shards.guard([mine, theirs, waits, cheap, setup], plan))
    assert out[0] is mine and out[3] is cheap and out[4] is setup
    (action, (message,)), = out[1]["actions"]
    assert action is shards.refused and "judge:T0/00/run_02: not run by shard 1/2: it is shard 2/2's" in message
    assert "waits for every run of T0 (next round)" in out[2]["actions"][0][1][0]
    assert isinstance(shards.refused(message), TaskFailed) and message in str(shards.refused(message))
    assert plan.default_tasks == ["run:T0/00/run_01"]


A, J = f"agent/{durable.SEAL_NAME}", f"judge/judge_02/{durable.SEAL_NAME}"


@pytest.mark.parametrize("have, exists, new, decision", [
    ({}, False, {A: b"1"}, "copy"),
    ({A: b"1"}, True, {A: b"1"}, "skip"),
    ({A: b"1", J: b"j"}, True, {A: b"1"}, "skip"),           # the tree has more of the same run
    ({A: b"1"}, True, {A: b"1", J: b"j"}, "replace"),        # the shard has more of it
    ({}, True, {A: b"1"}, "replace"),                        # an unfinished attempt (moved to .superseded/)
    ({A: b"2"}, True, {A: b"1"}, "conflict"),                # another execution of the run
    ({A: b"1", J: b"k"}, True, {A: b"1", J: b"j"}, "conflict"),
])
def test_merge_decisions(have, exists, new, decision):
    assert shards._decide(have, exists, new) == decision


def _experiment(tmp_path: Path, name: str):
    shutil.copytree(REPO / "examples/hello", tmp_path / name, ignore=shutil.ignore_patterns("results"))
    spec = tmp_path / name / "experiment.yaml"
    spec.write_text(yaml.safe_dump({**yaml.safe_load(spec.read_text()), "tiers": {"T0": ["00"]}, "runs": 2}))
    exp = load_experiment(spec)
    (exp.root / "config").mkdir(parents=True)
    (exp.root / "config/experiment.json").write_text("{}")
    return exp


def _sealed_run(root: Path, rel: str, stamp: str) -> None:
    for d in ("agent", "judge/judge_01", "judge/judge_02"):
        (root / rel / d).mkdir(parents=True, exist_ok=True)
        (root / rel / d / "out.txt").write_text(f"{d} {stamp}")
        (root / rel / d / durable.SEAL_NAME).write_text(f'{{"stamp": "{stamp}"}}')


def test_an_interrupted_merge_leaves_no_run_that_looks_sealed_and_the_next_completes_it(tmp_path, monkeypatch):
    target, shard = _experiment(tmp_path, "target"), _experiment(tmp_path, "shard")
    _sealed_run(shard.root, "T0/00/run_01", "s")
    (shard.root / "T0/00/run_02/agent").mkdir(parents=True)             # unsealed: not merged
    real_rename = os.rename

    def crash(src, dst):
        raise OSError(28, "No space left on device")
    monkeypatch.setattr(shards.os, "rename", crash)
    with pytest.raises(OSError):
        shards.merge(target, [shard.root], log=lambda _: None)
    assert not (target.root / "T0/00/run_01").exists()
    assert [p.name.startswith(shards.MERGING) for p in (target.root / "T0/00").iterdir()] == [True]
    monkeypatch.setattr(shards.os, "rename", real_rename)

    assert shards.merge(target, [shard.root], log=lambda _: None) == {"copy": 1, "replace": 0, "skip": 0}
    assert sorted(p.name for p in (target.root / "T0/00").iterdir()) == ["run_01"]
    assert (target.root / "T0/00/run_01/judge/judge_02/out.txt").read_text() == "judge/judge_02 s"
    assert shards.run_sealed(target, target.root, "T0/00", 1) and not shards.run_sealed(target, target.root, "T0/00", 2)


def test_a_merge_with_a_conflict_copies_nothing_and_another_experiment_is_refused(tmp_path):
    target, shard = _experiment(tmp_path, "target"), _experiment(tmp_path, "shard")
    _sealed_run(shard.root, "T0/00/run_01", "s")
    _sealed_run(shard.root, "T0/00/run_02", "s")
    _sealed_run(target.root, "T0/00/run_02", "t")
    with pytest.raises(shards.ShardError, match="refusing to merge: .*run_02 and .*run_02 are different executions"):
        shards.merge(target, [shard.root], log=lambda _: None)
    assert not (target.root / "T0/00/run_01").exists()
    (shard.root / "config/experiment.json").write_text('{"other": 1}')
    with pytest.raises(shards.ShardError, match="differs from .*: not the same experiment"):
        shards.merge(target, [shard.root], log=lambda _: None)
    with pytest.raises(shards.ShardError, match="not an experiment tree"):
        shards.merge(target, [tmp_path / "nowhere"], log=lambda _: None)


def test_a_tree_without_a_baseline_takes_the_first_shards_and_a_different_one_is_named(tmp_path):
    target, one, two = (_experiment(tmp_path, n) for n in ("target", "one", "two"))
    for shard, result in ((one, "same"), (two, "flaky")):
        (shard.root / "baseline").mkdir()
        (shard.root / "baseline" / durable.SEAL_NAME).write_text(f'{{"stamp": "{result}"}}')
        (shard.root / "pipeline_baseline.json").write_text(f'{{"result": "{result}"}}')
    said: list[str] = []
    shards.merge(target, [one.root, two.root], log=said.append)
    assert (target.root / "pipeline_baseline.json").read_text() == '{"result": "same"}'
    assert (target.root / "baseline" / durable.SEAL_NAME).read_text() == '{"stamp": "same"}'
    warnings = [ln for ln in said if "warning" in ln]
    assert len(warnings) == 1 and f"{two.root / 'pipeline_baseline.json'} differs from" in warnings[0]
    assert "pay for their judgments again" in warnings[0]
