"""Tamper evidence with no sandbox to stop a forger: a forged file is named by `doit status` and `scylla verify`,
and no aggregate ever takes in the forged value (issue 16, part 3)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scylla import spec

pytestmark = pytest.mark.e2e          # doit in subprocesses

OTHER_JUDGMENT = "T0/00/run_01/judge/judge_02/judgment.json"       # another run's judgment (derived)
OTHER_RESULT = "T0/00/run_02/run_result.json"                       # another run's result (derived)
OWN_REPLY = "T1/01/run_01/judge/judge_02/response.txt"              # a judgment rewritten after its seal (raw)
PATCH = "T1/02/run_02/agent/patch.diff"                             # a patch edited after its seal (raw)


def _aggregates(root: Path) -> dict[str, bytes]:
    """Every file that aggregates runs: subtest, tier and experiment results, the analysis' runs frame."""
    files = [*root.glob("T*/*/result.json"), *root.glob("T*/result.json"), root / "result.json",
             root / "analysis/data/runs.csv"]
    return {str(p.relative_to(root)): p.read_bytes() for p in files}


def _edit_json(path: Path, **changes) -> None:
    path.write_text(json.dumps({**json.loads(path.read_bytes()), **changes}, indent=2))


def _verify(checkout) -> subprocess.CompletedProcess:
    """`scylla verify SPEC`, from another directory."""
    return subprocess.run([sys.executable, "-m", "scylla.cli", "verify", str(checkout.spec)], cwd="/", text=True,
                          capture_output=True, check=False, env={**os.environ, "SCYLLA_CALL_LOG": str(checkout.call_log)})


def _problems(verify: subprocess.CompletedProcess) -> list[str]:
    return [ln.strip().split(": ", 1)[0] for ln in verify.stdout.splitlines()[1:]]


def test_each_forgery_is_named_and_no_aggregate_takes_it_in(fresh):
    if "sandbox" in spec.SPEC_KEYS:           # (the sandbox's setting, once it exists: explicitly off)
        fresh.edit_spec(lambda data: data.update(sandbox="none"))
    fresh.doit()
    root, before = fresh.root, _aggregates(fresh.root)
    clean = _verify(fresh)
    assert clean.returncode == 0 and re.fullmatch(r"verify: \d+ seals, \d+ derived files intact\n", clean.stdout), \
        clean.stdout + clean.stderr
    fresh.reset_calls()

    _edit_json(root / OTHER_JUDGMENT, score=0.99, passed=True, grade="A")
    _edit_json(root / OTHER_RESULT, judge_score=0.99, judge_passed=True)
    reply = root / OWN_REPLY
    reply.write_text(reply.read_text().replace('"score": 0.', '"score": 0.9'))
    assert '"score": 0.9' in reply.read_text()
    with open(root / PATCH, "a") as fh:
        fh.write("+# edited after the seal\n")

    st = json.loads(fresh.doit("status", "--json").stdout)
    assert st["changed"] == [{"file": OTHER_JUDGMENT, "task": "judgment:T0/00/run_01/judge_02"},
                             {"file": OTHER_RESULT, "task": "run:T0/00/run_02"}]
    assert [(x["file"], x["damage"]) for x in st["lost"]] == [(OWN_REPLY, "differs from its seal"),
                                                              (PATCH, "differs from its seal")]
    text = fresh.doit("status").stdout
    assert "Changed since written (2): not the bytes their task wrote (possible tampering)" in text
    assert f"  {OTHER_JUDGMENT} (written by judgment:T0/00/run_01/judge_02)" in text
    assert f"  {OTHER_RESULT} (written by run:T0/00/run_02)" in text
    for raw in (OWN_REPLY, PATCH):
        assert f"  {raw}, differs from its seal (possible tampering: kept as evidence, nothing is derived from it;" \
            in text
    verify = _verify(fresh)
    assert verify.returncode == 1 and verify.stdout.startswith("verify: 4 files not as written"), verify.stdout
    assert _problems(verify) == [OTHER_JUDGMENT, OTHER_RESULT, OWN_REPLY, PATCH]
    assert f"{OTHER_RESULT}: changed since run:T0/00/run_02 wrote it (possible tampering); the next `doit` " \
           f"writes it again" in verify.stdout
    assert f"{PATCH}: changed since agent:T1/02/run_02 sealed it (possible tampering); kept as evidence, nothing " \
           f"is derived from it; to buy the call again: rm {root / 'T1/02/run_02/agent/.seal.json'} && doit " \
           f"agent:T1/02/run_02" in verify.stdout

    run = fresh.doit()
    assert sorted(run.executed) == ["judgment:T0/00/run_01/judge_02", "run:T0/00/run_02"]
    assert fresh.calls("agent") == fresh.calls("judge") == []
    assert _aggregates(root) == before                   # the true values, byte for byte
    assert json.loads((root / OTHER_JUDGMENT).read_bytes())["score"] != 0.99
    after = _verify(fresh)
    assert after.returncode == 1 and _problems(after) == [OWN_REPLY, PATCH]        # kept as evidence

    # the pipeline asked to run again on the edited patch (its seal deleted: it is free) refuses it
    (root / "T1/02/run_02/commands/.seal.json").unlink()
    refused = fresh.doit(check=False)
    assert refused.returncode != 0 and refused.executed == ["pipeline:T1/02/run_02"]
    assert f"pipeline:T1/02/run_02: input changed since it was sealed: {PATCH} (possible tampering); nothing was " \
           f"archived, called or sealed" in refused.stdout + refused.stderr, str(refused)
    assert fresh.calls("agent") == fresh.calls("judge") == [] and _aggregates(root) == before


def test_a_forgery_that_sets_the_timestamp_back_is_found_by_verify_and_read_by_nothing(hello):
    """Same size, timestamp set back: doit's checks (size and timestamp, as doit's own) cannot tell, so
    `doit status` cannot either; `scylla verify` hashes every file, and so does a task about to read one."""
    root, before = hello.root, _aggregates(hello.root)
    judgment = root / "T0/01/run_02/judge/judge_02/judgment.json"
    consensus = root / "T0/01/run_02/judge/result.json"
    true, st = judgment.read_bytes(), judgment.stat()
    at = true.rindex(b'"score": 0.') + len(b'"score": 0.')              # the overall score's first decimal
    forged = true[:at] + (b"9" if true[at:at + 1] != b"9" else b"8") + true[at + 1:]
    assert json.loads(forged)["score"] != json.loads(true)["score"] and len(forged) == len(true)
    judgment.write_bytes(forged)
    os.utime(judgment, ns=(st.st_atime_ns, st.st_mtime_ns))

    verify = _verify(hello)
    rel = "T0/01/run_02/judge/judge_02/judgment.json"
    assert verify.returncode == 1 and _problems(verify) == [rel]
    assert f"{rel}: changed since judgment:T0/01/run_02/judge_02 wrote it (possible tampering); its timestamp was " \
           f"set back, so doit cannot tell: delete it and the next `doit` writes it again" in verify.stdout

    consensus.unlink()                       # the consensus must be made again: it would read the forgery
    run = hello.doit(check=False)
    assert run.executed == ["consensus:T0/01/run_02"] and not consensus.exists(), str(run)
    assert f"input changed after it was written: {rel} (written by judgment:T0/01/run_02/judge_02; its timestamp " \
           f"was set back" in run.stdout + run.stderr, str(run)
    assert _aggregates(root) == before

    judgment.unlink()                        # as verify says
    hello.doit()
    assert judgment.read_bytes() == true and _aggregates(root) == before
    assert hello.calls("agent") == hello.calls("judge") == []
    assert _verify(hello).returncode == 0


def test_a_corrupt_seal_is_named_by_verify_with_what_deleting_it_costs(hello):
    seal = hello.root / "T5/01/run_01/judge/judge_02/.seal.json"
    seal.write_text('{"task": "judge:T5/01/run_01/judge_02", "inputs": ')
    verify = _verify(hello)
    rel = "T5/01/run_01/judge/judge_02/.seal.json"
    assert verify.returncode == 1 and _problems(verify) == [rel], verify.stdout
    assert f"{rel}: corrupt JSON" in verify.stdout and "; possible tampering: inspect it; deleting it runs " \
        "judge:T5/01/run_01/judge_02 again (a paid call)" in verify.stdout
