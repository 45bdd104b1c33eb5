"""A judge call and its judgment are two tasks (`judge:` paid and sealed, `judgment:` cheap): a lost or
damaged judgment.json is rebuilt from the judge's raw reply with no call, and nothing else changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

RUN = "T0/01/run_02"
DAMAGE = {
    "deleted": Path.unlink,
    "truncated": lambda p: p.write_bytes(p.read_bytes()[: p.stat().st_size // 2]),
    "invalid_json": lambda p: p.write_bytes(b'{"score": 0.9, "passed": tru'),
}


def _files(root: Path) -> dict[str, bytes]:
    """Every file of the tree but doit's and Scylla's state (.scylla/: the DB, locks, the budget ledger)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*")
            if p.is_file() and ".scylla" not in p.relative_to(root).parts}


CASES = [(slot, damage, how) for damage in sorted(DAMAGE) for slot, how in
         (("judge_02", ()), ("judge_02", ("-n", "4", "--continue")), ("judge_01", ()))]


@pytest.mark.parametrize("slot, damage, how", CASES,
                         ids=[f"{'pipeline' if s == 'judge_01' else 'command'}_judge-{d}-{'_'.join(h) or 'doit'}"
                              for s, d, h in CASES])
def test_a_lost_or_damaged_judgment_is_rebuilt_from_the_reply_with_no_call(hello, slot, damage, how):
    before = _files(hello.root)
    judgment = hello.root / RUN / "judge" / slot / "judgment.json"
    DAMAGE[damage](judgment)
    task = f"judgment:{RUN}/{slot}"

    st = json.loads(hello.doit("status", "--json").stdout)
    assert (st["to_run"], st["may_run"], st["blocked"]) == ([task], [], [])
    assert st["forecast"]["rows"] == {} and st["forecast"]["cost_usd"] == 0
    rel = f"{RUN}/judge/{slot}/judgment.json"
    assert st["tasks"][task]["reasons"] == [f"missing target: {rel}"] if damage == "deleted" else \
        [f"damaged target: {rel} (not the bytes its task wrote; rebuilt from its inputs)"]

    run = hello.doit(*how)
    assert run.executed == [task]
    assert hello.calls("judge") == [] and hello.calls("agent") == []
    assert _files(hello.root) == before                  # the same bytes, and nothing else touched
    assert hello.doit().executed == []


def test_the_judge_task_keeps_the_raw_reply_and_the_call_record(hello):
    judge = hello.root / RUN / "judge/judge_02"
    call = json.loads((judge / "call.json").read_bytes())
    # the scripted judge prints its verdict without a result line: its cost was never recorded (null, shown
    # as unknown), where it was $0.0 before issue 13
    assert call == {"adapter": "command", "model": "scripted-hello-judge", "judge_number": 2, "cost_usd": None,
                    "attempts": 1, "retries_exhausted": False}
    judgment = json.loads((judge / "judgment.json").read_bytes())
    assert "```json" in (judge / "response.txt").read_text()              # the reply as the judge wrote it
    assert judgment["is_valid"] is True and judgment["judge_number"] == 2 and judgment["cost_usd"] is None
    assert "- Judges: unknown," in (hello.root / RUN / "report.md").read_text()
    pipeline = json.loads((hello.root / RUN / "judge/judge_01/call.json").read_bytes())
    assert pipeline["adapter"] == "pipeline" and pipeline["retries_exhausted"] is False
    assert pipeline["cost_usd"] == 0.0                                   # free, and known to be
    assert json.loads((hello.root / RUN / "judge/judge_01/judgment.json").read_bytes())["judge_kind"] == "pipeline"


def test_a_score_out_of_range_is_retried_then_an_invalid_judgment_with_the_reason(hello):
    """A reply scoring 7 is not a grade: the judge is asked again (retries: 1), then the judgment is
    recorded invalid, saying why; rebuilding it from the reply says the same, with no call."""
    (hello.root / RUN / "judge/judge_02/.seal.json").unlink()        # re-judge this one slot on purpose
    run = hello.doit(env={"SCYLLA_EXAMPLE_JUDGE_SCORE_7": RUN})
    assert hello.calls("judge") == [f"{RUN} 2", f"{RUN} 2"]          # the first reply and one retry
    judge = hello.root / RUN / "judge/judge_02"
    judgment = json.loads((judge / "judgment.json").read_bytes())
    assert judgment["is_valid"] is False and judgment["score"] == 0.0 and judgment["grade"] == "F"
    assert judgment["reasoning"] == \
        "Invalid judgment: no usable JSON verdict after 2 attempt(s): 'score' 7 is outside [0, 1]"
    assert json.loads((judge / "call.json").read_bytes())["retries_exhausted"] is True
    assert f"judgment:{RUN}/judge_02" in run.executed
    st = json.loads(hello.doit("status", "--json").stdout)
    assert st["invalid"] == [f"judge:{RUN}/judge_02"] and st["to_run"] == []

    hello.reset_calls()
    before = (judge / "judgment.json").read_bytes()
    (judge / "judgment.json").unlink()
    assert hello.doit().executed == [f"judgment:{RUN}/judge_02"] and hello.calls("judge") == []
    assert (judge / "judgment.json").read_bytes() == before


def test_a_lost_reply_is_named_once_with_its_price_and_nothing_is_called(hello):
    """The reply is the judge's raw capture: gone, only paying the judge again brings it back. doit status
    names it once (lost), with the command that re-buys exactly that judge call; the judgment.json made
    from it stands (a loss never spreads), and no doit calls a judge over it."""
    hello.doit()                                       # (whatever a copied tree makes due runs first)
    reply = hello.root / RUN / "judge/judge_02/response.txt"
    judgment = (reply.parent / "judgment.json").read_bytes()
    reply.unlink()
    st = json.loads(hello.doit("status", "--json", check=False).stdout)
    assert [(x["file"], x["paid_task"]) for x in st["lost"]] == [(f"{RUN}/judge/judge_02/response.txt",
                                                                  f"judge:{RUN}/judge_02")]
    assert st["lost"][0]["rebuy"].endswith(f"judge_02/.seal.json && doit judge:{RUN}/judge_02")
    assert (st["to_run"], st["may_run"], st["blocked"]) == ([], [], [])
    run = hello.doit("--continue", check=False)
    assert run.executed == [] and hello.calls("judge") == []
    assert (reply.parent / "judgment.json").read_bytes() == judgment
