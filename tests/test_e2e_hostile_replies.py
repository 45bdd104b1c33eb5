"""Hostile judge replies (issue 13): whatever a judge prints, reading it costs bounded memory, the judgment
ends invalid with the reason, sealed, and the next `doit` calls no judge.

Each case re-buys one judgment of a finished hello tree (its seal deleted, as the README says) with the
scripted judge printing the hostile bytes ($SCYLLA_EXAMPLE_JUDGE_REPLY_FILE), in a real `doit -n 1`
whose peak RSS is read from wait4 (the doit process and the commands it waited for), building the run's
tasks (the analysis above them, which loads numpy and vl-convert, runs after, in another `doit`).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import harness_env

from scylla.judges import reply

RUN = "T0/00/run_01"
JUDGE = f"judge:{RUN}/judge_02"
MiB = 1 << 20
PEAK_RSS_LIMIT = 400 * MiB      # README (Failures: judge-parse) states this bound
FIRST = "Invalid judgment: no usable JSON verdict after 2 attempt(s): "

PROSE_10MIB = b"x" * (10 * MiB) + b'\n```json\n{"score": 0.9, "passed": true}\n```\n'    # verdict past the cap
HOSTILE = {
    "braces_1mib": (b"{" * MiB, "no JSON object with a 'score' in the reply"),
    "prose_10mib": (PROSE_10MIB, ("no JSON object with a 'score' in the reply (the reply was "
                                  f"{len(PROSE_10MIB)} bytes: only its first {reply.REPLY_LIMIT} were kept and read)")),
    "nested_1000": (b'```json\n{"score": 0.5, "criteria_scores": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001 + b"\n```",
                    "an object with a 'score' is not readable JSON (RecursionError: maximum recursion depth"),
    "score_400_digits": (b'```json\n{"score": ' + b"9" * 400 + b', "passed": true}\n```',
                         "'score' (an integer of 400 digits) is outside [0, 1]"),
    "random_bytes": (random.Random(13).randbytes(MiB), "no JSON object with a 'score' in the reply"),
}


def _doit_peak_rss(checkout, output: Path, env: dict, *args: str) -> tuple[int, int]:
    """(exit code, peak RSS in bytes) of a real `doit` (wait4: the largest of it and its waited children)."""
    with open(output, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "doit", *args], cwd=checkout.path, stdout=out,
                                stderr=subprocess.STDOUT,
                                env={**os.environ, **harness_env(checkout.call_log), **env})
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, usage.ru_maxrss * 1024


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_reply_is_an_invalid_judgment_in_bounded_memory_and_never_paid_again(hello, tmp_path, case):
    data, reason = HOSTILE[case]
    (tmp_path / "reply").write_bytes(data)
    env = {"SCYLLA_EXAMPLE_JUDGE_REPLY_FILE": str(tmp_path / "reply")}
    judge_dir = hello.root / RUN / "judge/judge_02"
    (judge_dir / ".seal.json").unlink()                     # re-buy this one judgment

    # the run's tasks only: the analysis that a full `doit` then builds (numpy, vl-convert) is not the judge's
    code, peak = _doit_peak_rss(hello, tmp_path / "doit.out", env, "-n", "1", f"run:{RUN}")
    assert code == 0, (tmp_path / "doit.out").read_text(errors="replace")[-3000:]
    print(f"{case}: peak RSS of doit -n 1 {peak / MiB:.0f} MiB")
    assert peak < PEAK_RSS_LIMIT
    assert hello.calls("judge") == [f"{RUN} 2", f"{RUN} 2"]       # the reply, then the retry with a reminder
    judgment = hello.json(f"{RUN}/judge/judge_02/judgment.json")
    assert judgment["is_valid"] is False and judgment["score"] == 0.0 and judgment["grade"] == "F"
    assert judgment["reasoning"].startswith(FIRST + reason), judgment["reasoning"]
    assert (judge_dir / ".seal.json").exists()
    assert (judge_dir / "response.txt").stat().st_size <= reply.REPLY_LIMIT
    assert (judge_dir / "stdout.log").stat().st_size <= 2 * reply.REPLY_LIMIT + 4096
    call = hello.json(f"{RUN}/judge/judge_02/call.json")
    assert call["retries_exhausted"] is True and call["attempts"] == 2
    assert ("reply_bytes" in call) == (case in ("prose_10mib", "random_bytes"))    # random bytes: U+FFFD each

    assert json.loads(hello.doit("status", "--json", env=env, check=False).stdout)["invalid"] == [JUDGE]
    hello.reset_calls()
    rest = hello.doit(env=env)                # the aggregates and the analysis above the run, nothing paid
    assert not any(t.startswith(("agent:", "judge:", "pipeline:")) for t in rest.executed)
    assert hello.doit(env=env).executed == [] and hello.calls("judge") == []
