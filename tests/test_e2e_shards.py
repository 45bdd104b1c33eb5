"""Shard and merge (scylla/shards.py): `doit shard=i/N` on separate copies of one experiment runs each run
exactly once across the shards; `scylla merge` puts their runs into one tree on which `doit` pays for nothing,
with the results of an unsharded run. Subtests built on lower tiers' best wait for the next round."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import zlib
from pathlib import Path

import orjson
import pytest
from conftest import Checkout, make_checkout

pytestmark = pytest.mark.e2e

FLAT = {"T0": ["00", "01"], "T1": ["02"]}          # no subtest builds on another tier's best
TIMING = re.compile(r"(_at|seconds)$")              # timestamps and durations: measured, never equal twice


def share(subtests: list[str], runs: int, i: int, n: int) -> set[str]:
    """The runs of shard i/n, as the README defines them."""
    return {f"{s}/run_{r:02d}" for s in subtests for r in range(1, runs + 1)
            if (zlib.crc32(s.encode()) + r) % n == i - 1}


def checkout(path: Path, tiers: dict | None = None, runs: int | None = None) -> Checkout:
    c = make_checkout(path)
    c.edit_spec(lambda s: s.update({k: v for k, v in (("tiers", tiers), ("runs", runs)) if v is not None}))
    return c


def runner_copy(merged: Checkout, path: Path) -> Checkout:
    """A CI runner's copy of the merged tree (checkout, spec and results together)."""
    shutil.copytree(merged.path, path, symlinks=True)
    c = Checkout(path)
    c.reset_calls()
    return c


def merge(into: Checkout, *shards: Checkout, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "scylla", "merge", *(str(s.root) for s in shards),
                           "--into", str(into.spec)], cwd=into.path, capture_output=True, text=True, timeout=120,
                          check=False)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def paid(run) -> list[str]:
    return [t for t in run.executed if t.split(":")[0] in ("agent", "judge")]


def untimed(value):
    if isinstance(value, dict):
        return {k: untimed(v) for k, v in value.items() if not TIMING.search(k)}
    if isinstance(value, list):
        return [untimed(v) for v in value]
    return value


def results(c: Checkout) -> dict[str, object]:
    files = [c.root / "result.json", *c.root.glob("T*/result.json"), *c.root.glob("T*/*/result.json"),
             *c.root.glob("T*/*/run_*/run_result.json")]
    return {f.relative_to(c.root).as_posix(): untimed(orjson.loads(f.read_bytes())) for f in files}


def test_two_shards_merged_equal_one_unsharded_run_and_pay_for_nothing_more(tmp_path):
    subtests = [f"{t}/{s}" for t, ss in FLAT.items() for s in ss]
    everything = share(subtests, 3, 1, 1)
    shards = [checkout(tmp_path / f"shard{i}", FLAT, 3) for i in (1, 2)]
    for i, c in enumerate(shards, 1):
        run = c.doit(f"shard={i}/2")
        assert sorted(c.calls("agent")) == sorted(share(subtests, 3, i, 2)), run
        assert {j.rsplit(" ", 1)[0] for j in c.calls("judge")} == share(subtests, 3, i, 2)
        assert not [t for t in run.executed if t.split(":")[0] in ("analysis", "subtest", "tier", "experiment")]
        assert "leaves out" not in run.stderr
    one, two = (set(c.calls("agent")) for c in shards)
    assert not one & two and one | two == everything and len(one) + len(two) == len(everything)
    # a task named on the command line wins over the shard's default tasks, yet another shard's run never runs
    theirs = min(two)
    named = shards[0].doit("shard=1/2", f"run:{theirs}", check=False)
    assert named.returncode == 1 and f"agent:{theirs}: not run by shard 1/2: it is shard 2/2's" in named.stdout + named.stderr
    assert set(shards[0].calls("agent")) == one and not (shards[0].root / theirs / "agent/.seal.json").exists()

    merged = checkout(tmp_path / "merged", FLAT, 3)             # the merge job's fresh checkout
    out = merge(merged, *shards).stdout
    assert "9 run(s) copied" in out and "warning" not in out       # (the shards' baselines are the same)
    status = json.loads(merged.doit("status", "--json").stdout)
    assert not {"agent", "judge", "pipeline"} & set(status["to_run_by_kind"]), status["to_run_by_kind"]
    assert status["forecast"]["cost_usd"] == 0
    final = merged.doit()
    assert paid(final) == [] and merged.calls("agent") == [] and merged.calls("judge") == []
    assert "experiment" in final.executed and "baseline" not in final.executed      # (merged: the first shard's)

    alone = checkout(tmp_path / "alone", FLAT, 3)
    alone.doit()
    assert sorted(alone.calls("agent")) == sorted(everything)
    assert results(merged) == results(alone)
    assert len(results(alone)) == 1 + 2 + 3 + 9

    # merging again changes nothing; a run executed twice (here: alone's) is refused, naming both copies
    assert "0 run(s) copied, 0 completed, 9 already there" in merge(merged, *shards).stdout
    before = (alone.root / "T0/00/run_01/agent/.seal.json").read_bytes()
    refused = merge(alone, shards[0], check=False)
    assert refused.returncode == 2 and "refusing to merge" in refused.stderr
    run = next(iter(share(subtests, 3, 1, 2)))
    assert f"{shards[0].root / run} and {alone.root / run}" in refused.stderr, refused.stderr
    assert (alone.root / "T0/00/run_01/agent/.seal.json").read_bytes() == before


def test_inherited_tiers_wait_for_the_next_round_and_the_last_merge_is_complete(tmp_path):
    """hello: T1/01 extends T0's best, T5/01 inherits T0's and T1's. Round 1 runs T0 and T1/02, round 2
    T1/01, round 3 T5/01; each shard its own share, every run once; the final `doit` pays for nothing."""
    merged = make_checkout(tmp_path / "merged")
    rounds = [["T0/00", "T0/01", "T1/02"], ["T1/01"], ["T5/01"]]
    waiting = [["T1/01 (waits for T0)", "T5/01 (waits for T0, T1)"], ["T5/01 (waits for T1)"], []]
    seen: list[str] = []
    for k, (subtests, waits) in enumerate(zip(rounds, waiting, strict=True), 1):
        shards = [runner_copy(merged, tmp_path / f"round{k}-shard{i}") for i in (1, 2)]
        for i, c in enumerate(shards, 1):
            run = c.doit(f"shard={i}/2")
            assert sorted(c.calls("agent")) == sorted(share(subtests, 2, i, 2)), (k, i, str(run))
            assert {j.rsplit(" ", 1)[0] for j in c.calls("judge")} == share(subtests, 2, i, 2)
            notes = [ln for ln in run.stderr.splitlines() if "leaves out" in ln]
            assert len(notes) == (1 if waits else 0), run.stderr
            if waits:
                assert f"shard {i}/2 leaves out {', '.join(waits)}:" in notes[0]
                assert "scylla merge" in notes[0] and "run the shards again" in notes[0]
            seen += c.calls("agent")
        merge(merged, *shards)
    assert sorted(seen) == sorted(share([s for r in rounds for s in r], 2, 1, 1))      # each run once

    final = merged.doit()
    assert paid(final) == [] and merged.calls("agent") == [] and merged.calls("judge") == [], str(final)
    assert (merged.root / "T5/01/run_02/run_result.json").is_file() and (merged.root / "analysis/summary.json").is_file()
    assert merged.doit().executed == []


@pytest.mark.parametrize("value", ["3/2", "1"])          # (every form: test_shards.py)
def test_a_bad_shard_value_is_one_line_naming_shard_and_the_fix(fresh, value):
    run = fresh.doit(f"shard={value}", check=False)
    assert run.returncode == 3 and run.executed == []
    assert f"invalid shard={value!r}: expected shard=i/N with whole numbers 1 <= i <= N" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr and not fresh.root.joinpath("T0").exists()


def test_scylla_passes_shard_through_and_status_shows_the_shards_share(fresh):
    """`scylla status SPEC shard=i/N`: what `doit shard=i/N` would run, this shard's runs only."""
    proc = subprocess.run([sys.executable, "-m", "scylla", "status", str(fresh.spec), "shard=2/2", "--json"],
                          cwd=fresh.path, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    status = json.loads(proc.stdout)
    mine = share(["T0/00", "T0/01", "T1/02"], 2, 2, 2)
    assert sorted(n.split(":")[1] for n in status["to_run"] if n.startswith("agent:")) == sorted(mine)
    assert not [n for n in status["to_run"] if n.startswith(("analysis", "experiment", "tier"))]
    assert "shard 2/2 leaves out T1/01 (waits for T0), T5/01 (waits for T0, T1)" in proc.stderr
