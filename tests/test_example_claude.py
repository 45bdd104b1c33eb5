"""examples/claude end to end: the real `claude` CLI (agent and two judges) and the real `openai` SDK
(third judge) against loopback mocks, under `doit -n 3`, with the first agent calls rate limited."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import orjson
import pytest
from conftest import claude_cli, make_checkout
from mock_anthropic import KEY, AnthropicMock, implement_textkit, text
from mock_openai import OpenAIMock

from scylla import sandbox

pytestmark = pytest.mark.e2e          # the claude CLI and doit in subprocesses

OPENAI_KEY = "sk-openai-mock-key-fedcba9876543210"
VERDICT = {"score": 0.9, "passed": True, "reasoning": "Mock Claude judge: all tests pass.", "criteria_scores": {}}
REFUSED = 3                     # the first agent-loop requests answered with a 429
BACKOFF = 6.5
SLACK = 3.0                     # a call already starting when the pause is recorded may still arrive
PER_REQUEST_USD = (33 * 3 + 12 * 15 + 100 * 3.75 + 2000 * 0.30) / 1e6   # the mock's usage at Sonnet 4.6 list prices


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    cli = claude_cli()
    checkout = make_checkout(tmp_path_factory.mktemp("claude") / "scylla", "claude")
    checkout.edit_spec(lambda s: (s["rate_limit"].update(backoff_seconds=BACKOFF),
                                  s["agent"].update(options={"max_retries": 0})))   # each 429 reaches Scylla
    anthropic, openai = AnthropicMock(), OpenAIMock()
    anthropic.responder = implement_textkit
    anthropic.refuse_first = REFUSED
    anthropic.plain_default = [text(f"My verdict:\n```json\n{json.dumps(VERDICT)}\n```")]
    env = {"ANTHROPIC_BASE_URL": anthropic.url, "ANTHROPIC_API_KEY": KEY, "OPENAI_BASE_URL": openai.url,
           "OPENAI_API_KEY": OPENAI_KEY, "PATH": f"{Path(cli).parent}{os.pathsep}{os.environ['PATH']}"}
    run = checkout.doit("-n", "3", env=env)
    yield checkout, run, anthropic, openai, env
    anthropic.close()
    openai.close()


def _runs(checkout) -> list[Path]:
    return sorted(checkout.root.glob("T*/*/run_*/run_result.json"))


def test_every_run_is_done_by_claude_code_and_judged_by_three_models(finished):
    checkout, _, _, openai, _ = finished
    results = _runs(checkout)
    assert len(results) == 10                                    # 5 subtests x 2 runs
    for path in results:
        run, result = path.parent, orjson.loads(path.read_bytes())
        assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
        assert orjson.loads((run / "commands/pipeline.json").read_bytes())["tests"]["passed"] == 12
        assert result["agent_outcome"] == "completed" and result["judge_score"] == pytest.approx(
            (0.9 + 0.9 + 0.7) / 3)                               # two Claude verdicts and the openai mock's 0.7
        assert [j["model"] for j in result["judges"]] == ["claude-opus-4-6", "claude-sonnet-4-6", "gpt-5.1"]
        assert all(j["is_valid"] for j in result["judges"]) and result["judge_cost_usd"] > 0
        assert "**CLI**: 2.1." in (run / "agent/MODEL.md").read_text()
    assert len(openai.requests) == 10
    assert all(r["headers"]["authorization"] == f"Bearer {OPENAI_KEY}" for r in openai.requests)
    tier = orjson.loads((checkout.root / "T0/result.json").read_bytes())
    assert tier["total_judge_cost_usd"] > 0 and tier["total_cost_usd"] > 0


def test_claude_code_ran_inside_the_sandbox_reaching_only_its_endpoint(finished):
    checkout, _, anthropic, _, _ = finished
    if sandbox.probe("bubblewrap") is not None and os.environ.get("SCYLLA_REQUIRE_SANDBOX") != "1":
        pytest.skip(f"bubblewrap does not work here: {sandbox.probe('bubblewrap')}")
    endpoint = sandbox.endpoint(anthropic.url).label
    for path in _runs(checkout):
        record = orjson.loads((path.parent / "agent/command_log.json").read_bytes())["sandbox"]
        assert record["kind"] == "bubblewrap" and record["network"] == [endpoint]
        assert record["connections"][endpoint] >= 1 and record["violations"] == []     # (keep-alive: one may do)
        assert str(checkout.root) in record["hidden"]
        assert orjson.loads(path.read_bytes())["sandbox"] == {"kind": "bubblewrap", "note": None, "denied": 0}


def test_agent_tokens_and_cost_are_what_the_mock_reported(finished):
    checkout, _, anthropic, _, _ = finished
    answered = [r for r in anthropic.requests if r["main_loop"] and not r["refused"]]
    assert len(answered) == 2 * 10                               # write, then finish: once per run
    for path in _runs(checkout):
        agent = orjson.loads((path.parent / "agent/result.json").read_bytes())
        calls = agent["token_stats"]["input_tokens"] // 33
        assert calls >= 2 and agent["token_stats"] == {"input_tokens": 33 * calls, "output_tokens": 12 * calls,
                                                       "cache_creation_tokens": 100 * calls,
                                                       "cache_read_tokens": 2000 * calls}
        assert agent["cost_usd"] == pytest.approx(calls * PER_REQUEST_USD)
        assert orjson.loads(path.read_bytes())["cost_usd"] == pytest.approx(agent["cost_usd"])


def test_a_rate_limit_pauses_every_worker_and_no_limited_run_is_judged_or_repeated(finished):
    checkout, _, anthropic, openai, _ = finished
    refused = [r["at"] for r in anthropic.requests if r["refused"]]
    assert len(refused) == REFUSED
    pause = orjson.loads((checkout.root / ".scylla/pause.json").read_bytes())
    assert "429" in pause["reason"]
    # no call of any kind (agent or judge, either API) while a pause is in force: BACKOFF s from each
    # refusal, allowing SLACK s for the refused CLI to exit and Scylla to record the pause (and for a
    # CLI that had already started to send its first request)
    calls = [r["at"] for r in anthropic.requests + openai.requests if not r.get("refused")]
    assert [t for t in calls for lim in refused if lim + SLACK < t < lim + BACKOFF - 0.1] == []
    archived = [orjson.loads(p.read_bytes())["reason"] for p in checkout.root.glob("T*/*/.failed/*/archived.json")]
    assert len(archived) == REFUSED and all(r.startswith("rate limited") for r in archived)
    # each run was judged exactly once per slot: 2 Claude judge requests and 1 openai request per run
    judge_requests = [r for r in anthropic.requests if not r["main_loop"] and "count_tokens" not in r["path"]]
    assert len(judge_requests) == 2 * 10 and len(openai.requests) == 10
    assert checkout.doit(env=finished[4]).executed == []


def test_no_key_reaches_any_file(finished):
    checkout = finished[0]
    for path in checkout.path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert KEY.encode() not in data and OPENAI_KEY.encode() not in data, path


def test_replay_script_repeats_the_agent_call(finished, tmp_path):
    checkout, _, anthropic, _, env = finished
    agent = checkout.root / "T0/01/run_02/agent"
    before = len(anthropic.requests)
    workdir = tmp_path / "ws"
    shutil.copytree(checkout.path / "examples/hello/repo", workdir)
    done = subprocess.run(["bash", str(agent / "replay.sh")], cwd=workdir, check=False, capture_output=True, text=True,
                          env={**os.environ, **env}, timeout=120)
    assert done.returncode == 0, done.stderr
    again = [r["body"] for r in anthropic.requests[before:] if r["main_loop"]]
    original = json.dumps(again[0]["messages"][0])
    assert len(again) == 2 and again[0]["model"] == "claude-sonnet-4-6"
    assert (agent / "prompt.md").read_text().strip().splitlines()[0] in original
    assert "return len(text.split())" in (workdir / "textkit.py").read_text()   # the Write tool ran again
