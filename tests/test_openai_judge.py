"""The `openai` judge adapter: the real `openai` SDK against a loopback mock of /v1/chat/completions."""

from __future__ import annotations

import json

import pytest
from mock_openai import OpenAIMock, rate_limited, text_reply, verdict_reply

KEY = "sk-mock-openai-key-0123456789"


@pytest.fixture
def mock():
    server = OpenAIMock()
    yield server
    server.close()


def _add_openai_slot(hello, mock, model="gpt-4o"):
    hello.edit_spec(lambda s: s["judges"].append(
        {"adapter": "openai", "model": model, "base_url": mock.url, "api_key_env": "SCYLLA_TEST_OPENAI_KEY",
         "options": {"max_retries": 0}}))


# the scripted judge's reply inside a Claude-Code-style result line that records its cost ($0.001)
PRICED_JUDGE = ('"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/judge.py" | "$SCYLLA_PYTHON" -c "import json,sys; '
                'print(json.dumps({\'type\': \'result\', \'result\': sys.stdin.read(), \'total_cost_usd\': 0.001}))"')


def test_openai_judge_slot_judges_every_run_with_its_cost(hello, mock):
    """Every judge's cost is summed: $0 (pipeline) + $0.001 (scripted, as its result line says) + $0.0035.
    (The scripted judge of examples/hello records no cost on its own: that one would be unknown.)"""
    hello.edit_spec(lambda s: s["judges"][1].update(command=PRICED_JUDGE))
    hello.doit()                            # slot 2 judges again (without the key in its environment)
    _add_openai_slot(hello, mock)
    run = hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    assert len([t for t in run.executed if t.startswith("judge:") and t.endswith("/judge_03")]) == 10
    assert len(mock.requests) == 10
    request = mock.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["headers"]["authorization"] == f"Bearer {KEY}"
    system, user = request["body"]["messages"]
    assert system["role"] == "system" and system["content"].startswith("# Scylla judge instructions")
    run_dir = hello.root / "T0/00/run_01"
    assert user["role"] == "user"
    assert any(r["body"]["messages"][1]["content"] == (run_dir / "judge_prompt.md").read_text() for r in mock.requests)
    judgment = hello.json("T0/00/run_01/judge/judge_03/judgment.json")
    assert judgment["is_valid"] and judgment["score"] == 0.7 and judgment["grade"] == "B"
    # gpt-4o list price: 1000 prompt tokens x $2.50/M + 100 completion tokens x $10/M
    assert judgment["cost_usd"] == pytest.approx(0.0035) and judgment["cost_known"] is True
    result = hello.json("T0/00/run_01/run_result.json")
    assert result["judge_cost_usd"] == pytest.approx(0.0045) and len(result["judges"]) == 3
    assert hello.json("T0/result.json")["total_judge_cost_usd"] == pytest.approx(4 * 0.0045)
    assert "${SCYLLA_TEST_OPENAI_KEY}" in (run_dir / "judge/judge_03/replay.sh").read_text()
    for path in hello.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_spend_and_forecast_read_the_judge_cost_from_the_call_record(hello, mock):
    """A judge's cost is the call's own record (call.json): losing every judgment.json changes neither
    what was spent nor the forecast, and they are rebuilt from the replies with no request."""
    _add_openai_slot(hello, mock)
    hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    call = hello.json("T0/00/run_01/judge/judge_03/call.json")
    assert call["cost_usd"] == pytest.approx(0.0035) and call["cost_known"] is True and call["attempts"] == 1
    spent = json.loads(hello.doit("status", "--json").stdout)["budget"]["spent_usd"]
    for judgment in hello.root.glob("T*/*/run_*/judge/judge_03/judgment.json"):
        judgment.unlink()
    (hello.root / "T0/00/run_01/judge/judge_03/.seal.json").unlink()           # one to judge again
    st = json.loads(hello.doit("status", "--json").stdout)
    assert st["budget"]["spent_usd"] == pytest.approx(spent - 0.0035)          # the unsealed call no longer counts
    row = st["forecast"]["rows"]["judge_03"]
    assert row["to_run"] == 1 and row["cost_usd"] == pytest.approx(0.0035)
    assert row["basis"][0] == "mean of 3 finished in T0"                        # their call records, no judgment.json
    assert len([t for t in st["to_run"] if t.startswith("judgment:")]) == 10
    run = hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    assert len(mock.requests) == 10 + 1 and len([t for t in run.executed if t.startswith("judgment:")]) == 10


def test_unparseable_reply_is_retried_once_then_recorded_invalid(hello, mock):
    _add_openai_slot(hello, mock, model="local-llama")
    garbage = lambda: text_reply("I would rather not say.")
    mock.script.extend([garbage(), verdict_reply()])                 # first run: recovers on the retry
    mock.default = garbage                                           # every other run: stays garbage
    hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    first = [r for r in mock.requests[:2]]
    assert "did not contain the JSON verdict" in first[1]["body"]["messages"][-1]["content"]
    judgments = sorted(hello.root.glob("T*/*/run_*/judge/judge_03/judgment.json"))
    valid = [j for j in judgments if b'"is_valid": true' in j.read_bytes()]
    assert len(valid) == 1 and len(mock.requests) == 2 + 9 * 2
    invalid = next(j for j in judgments if j not in valid)
    judgment = hello.json(str(invalid.relative_to(hello.root)))
    assert judgment["is_valid"] is False and judgment["cost_known"] is False   # no list price for a local model
    consensus = hello.json(str(invalid.parent.parent / "result.json"))
    assert consensus["valid_count"] == 2 and consensus["judge_count"] == 3


def test_a_huge_reply_is_cut_to_the_limit_recorded_invalid_and_not_bought_again(hello, mock):
    """2 MiB of `{`: only the first 1 MiB is read, kept and sent back with the reminder; the judgment is
    invalid with the reason and call.json keeps the full size; the next doit sends no request."""
    from scylla.judges import reply
    _add_openai_slot(hello, mock, model="local-llama")
    mock.default = lambda: text_reply("{" * (2 << 20))
    hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    assert len(mock.requests) == 10 * 2
    assert len(mock.requests[1]["body"]["messages"][-2]["content"]) == reply.REPLY_LIMIT    # the reply, cut
    judge = hello.root / "T0/00/run_01/judge/judge_03"
    assert (judge / "response.txt").read_bytes() == b"{" * reply.REPLY_LIMIT
    assert hello.json("T0/00/run_01/judge/judge_03/call.json")["reply_bytes"] == 2 << 20
    judgment = hello.json("T0/00/run_01/judge/judge_03/judgment.json")
    assert judgment["is_valid"] is False and judgment["reasoning"] == (
        "Invalid judgment: no usable JSON verdict after 2 attempt(s): no JSON object with a 'score' in the "
        f"reply (the reply was {2 << 20} bytes: only its first {reply.REPLY_LIMIT} were kept and read)")
    mock.requests.clear()
    assert hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY}).executed == [] and mock.requests == []


def _small(hello, **extra):
    hello.edit_spec(lambda s: s.update(tiers={"T0": ["00"], "T1": ["02"]}, **extra))
    hello.doit()


def test_rate_limit_pauses_for_retry_after_and_retries_in_the_same_doit(hello, mock):
    _small(hello)
    _add_openai_slot(hello, mock)
    mock.script.append(rate_limited())                 # 429 with retry-after-ms: 10
    hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    assert len(mock.requests) == 5                     # 4 judgments + the refused call
    pause = hello.json(".scylla/pause.json")
    assert "429" in pause["reason"]
    archived = list(hello.root.glob("T*/*/.failed/run_*_judge_03_attempt_01/archived.json"))
    assert len(archived) == 1 and b"rate limited" in archived[0].read_bytes()
    assert len(list(hello.root.glob("T*/*/run_*/judge/judge_03/.seal.json"))) == 4


def test_rate_limit_with_no_retries_left_fails_and_the_next_doit_retries(hello, mock):
    _small(hello, rate_limit={"retries": 0, "backoff_seconds": 1})
    _add_openai_slot(hello, mock)
    mock.script.append(rate_limited())
    first = hello.doit("--continue", env={"SCYLLA_TEST_OPENAI_KEY": KEY}, check=False)
    assert first.returncode != 0 and "still rate limited after 0 retries" in first.stdout
    assert len(list(hello.root.glob("T*/*/.failed/run_*_judge_03_attempt_01"))) == 1
    hello.doit(env={"SCYLLA_TEST_OPENAI_KEY": KEY})
    assert len(list(hello.root.glob("T*/*/run_*/judge/judge_03/.seal.json"))) == 4
    assert len(mock.requests) == 5 and hello.calls("agent") == []


def test_missing_key_without_base_url_fails_clearly(hello, monkeypatch):
    hello.edit_spec(lambda s: s["judges"].append({"adapter": "openai", "model": "gpt-4o",
                                                  "api_key_env": "SCYLLA_TEST_NO_SUCH_KEY"}))
    run = hello.doit("judge:T0/00/run_01/judge_03", check=False)
    assert run.returncode != 0 and "refused by preflight" in run.stdout        # found before the call
    assert "none of SCYLLA_TEST_NO_SUCH_KEY is set: export the key" in run.stdout
