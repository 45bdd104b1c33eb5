"""The `aider` agent adapter: the real `aider` CLI against a loopback Chat Completions mock
(tests/mock_chat.py, non-streaming: aider runs with --no-stream), and its reader on recorded output."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import REPO, agent_cli
from mock_anthropic import TEXTKIT
from mock_chat import KEY, ChatMock, rate_limited, text_reply, unauthorized

from scylla.agents import aider, usage

# the runs and what they depend on: the analysis (covered elsewhere) is no adapter's business
RUNS = "run:*"

KEY_ENV = "SCYLLA_TEST_AIDER_KEY"
RATES = {"input": Decimal("2.5"), "output": Decimal(10)}      # gpt-4o in litellm's map, USD per million
STUB = (REPO / "examples/hello/repo/textkit.py").read_text()
# aider's "tool call": a SEARCH/REPLACE block of its diff edit format, rewriting textkit.py whole
EDIT = f"Implementing textkit.\n\ntextkit.py\n```python\n<<<<<<< SEARCH\n{STUB}=======\n{TEXTKIT}>>>>>>> REPLACE\n```\n"


@pytest.fixture
def mock():
    server = ChatMock(default=lambda: text_reply("Done.", 700, 30))
    yield server
    server.close()


def _spec(fresh, mock, retries=2, **agent):
    cli = agent_cli("aider")
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, thinking="none",
                                       rate_limit={"retries": retries, "backoff_seconds": 1}, agent={
        "adapter": "aider", "model": "gpt-4o", "base_url": mock.url, "api_key_env": KEY_ENV,
        "options": {"cli": cli}, **agent}))


def _list_price(usages: list[dict]) -> float:
    return float(sum(Decimal(u["prompt_tokens"]) * RATES["input"] + Decimal(u["completion_tokens"]) * RATES["output"]
                     for u in usages) / Decimal(1_000_000))


def test_aider_edits_the_workspace_and_reports_exact_usage(fresh, mock):
    _spec(fresh, mock)
    mock.script.append(text_reply(EDIT, 12345, 1234))       # aider would print these as "12k sent, 1.2k received"
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    run = fresh.root / "T0/00/run_01"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
    assert ".aider" not in (run / "agent/patch.diff").read_text()       # its history files stayed out
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"] == {
        "total": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0}
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    assert all(r["body"]["model"] == "gpt-4o" and not r["body"].get("stream") for r in mock.requests)
    assert all(r["headers"]["authorization"] == f"Bearer {KEY}" for r in mock.requests)
    usages = [reply["usage"] for reply in mock.answered()]
    result = fresh.json("T0/00/run_01/agent/result.json")
    assert result["token_stats"] == {"input_tokens": sum(u["prompt_tokens"] for u in usages),
                                     "output_tokens": sum(u["completion_tokens"] for u in usages),
                                     "cache_creation_tokens": 0, "cache_read_tokens": 0}
    assert result["token_stats"]["input_tokens"] >= 12345 and result["api_calls"] == len(usages)
    assert result["cost_usd"] == pytest.approx(_list_price(usages), rel=1e-9)     # aider's own (litellm's map)
    assert result["outcome"] == "completed" and "cost_source" not in result
    assert "Applied edit to textkit.py" in (run / "agent/output.txt").read_text()
    assert "**CLI**: aider 0.86." in (run / "agent/MODEL.md").read_text()
    replay = (run / "agent/replay.sh").read_text()
    assert "--message-file" in replay and '"$SCYLLA_PROMPT_FILE"' in replay and "LITELLM_LOCAL_MODEL_COST_MAP" in replay
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_a_429_pauses_then_the_aider_run_is_retried_and_judged_once(fresh, mock):
    _spec(fresh, mock)
    # aider retries a rate limit itself 8 times (0.25 s doubling, ~64 s), each call being the OpenAI SDK's
    # request and its 2 retries: refuse all 27 requests of the first attempt
    mock.script.extend([rate_limited()] * 27 + [text_reply(EDIT, 2000, 300)])
    fresh.doit(RUNS, env={KEY_ENV: KEY}, timeout=900)
    archived = fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")
    assert archived["reason"].startswith("rate limited") and "429" in archived["reason"]
    assert "litellm.RateLimitError" in (fresh.root / "T0/00/.failed/run_01_attempt_01/agent/stdout.log").read_text()
    assert "429" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
    assert fresh.calls("judge") == ["T0/00/run_01 2"]                     # judged once, after the retry
    assert fresh.json("T0/00/run_01/agent/result.json")["token_stats"]["input_tokens"] == 2000


def test_a_401_is_an_infrastructure_failure_retried_by_the_next_doit(fresh, mock):
    _spec(fresh, mock)
    mock.default = unauthorized
    first = fresh.doit(RUNS, env={KEY_ENV: KEY}, check=False)
    assert first.returncode != 0 and "authentication failed" in first.stdout + first.stderr
    assert len(mock.requests) == 1 and fresh.calls("judge") == []
    assert not (fresh.root / "T0/00/run_01/run_result.json").exists()
    mock.default = lambda: text_reply("Done.", 700, 30)
    mock.script.append(text_reply(EDIT, 2000, 300))
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12


# ---------------------------------------------------------------- the reader, on recorded output

EVENT = '{"event": "%s", "properties": %s, "user_id": "u", "time": 1796452135}'
SEND = ('{"main_model": "openai/REDACTED", "edit_format": "diff", "prompt_tokens": %d, "completion_tokens": %d, '
        '"total_tokens": 0, "cost": %s, "total_cost": 0}')
OUTPUT = "Aider v0.86.2\nMain model: openai/gpt-4o with diff edit format\n\nDone.\n\nTokens: 12k sent, 1.2k received.\n"


def _log(*events: str, output: str = OUTPUT) -> str:
    return f"{output}\n{aider.MARKER}\n" + "\n".join([EVENT % ("launched", "{}"), *events]) + "\n"


def _send(prompt: int, completion: int, cost: str) -> list[str]:
    return [EVENT % ("message_send_starting", "{}"), EVENT % ("message_send", SEND % (prompt, completion, cost))]


def test_reader_takes_exact_tokens_and_cost_from_the_analytics_log():
    log = _log(*_send(12345, 1234, "0.0432025"), *_send(700, 30, "0.00205"), EVENT % ("exit", "{}"))
    result = aider.read(log, "", "gpt-4o")
    assert result["usage"] == {"input_tokens": 13045, "output_tokens": 1264, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 0}
    assert result["total_cost_usd"] == 0.0432025 + 0.00205 and result["num_turns"] == 2
    assert result["is_error"] is False and result["result"] == OUTPUT.strip()
    assert aider.reported_cost(log) == 0.0432025 + 0.00205


def test_reader_classifies_the_litellm_exception_of_a_call_that_never_answered():
    limited = aider.read(_log(EVENT % ("message_send_starting", "{}"), EVENT % ("exit", "{}"), output=(
        "litellm.RateLimitError: RateLimitError: OpenAIException - Rate limit reached for\nrequests\n"
        "Retrying in 0.2 seconds...\n")), "", "gpt-4o")
    assert limited["api_error_status"] == 429 and usage.rate_limit(limited)[0] and limited["total_cost_usd"] == 0.0
    denied = aider.read(_log(EVENT % ("message_send_starting", "{}"), output=(
        "litellm.AuthenticationError: AuthenticationError: OpenAIException - Incorrect\n")), "", "gpt-4o")
    assert usage.infra_reason(denied).startswith("authentication failed (API error 401 authentication_error)")
    # the same words in an answered call's reply are the agent's text, not a failure
    said = aider.read(_log(*_send(100, 10, "0.00035"), output="litellm.RateLimitError: quoted by the model\n"),
                      "", "gpt-4o")
    assert said["is_error"] is False and "api_error_status" not in said


def test_reader_on_truncated_or_garbage_output():
    assert aider.read("Aider v0.86.2\nTokens: 1k sent", "", "gpt-4o") is None      # killed: no analytics
    cut = _log(*_send(100, 10, "0"))[:-1] + '\n{"event": "message_se'
    priced = aider.read(cut, "", "gpt-4o")                  # aider knew no price: genai-prices of the tokens
    assert priced["cost_source"] == "genai-prices"
    assert priced["total_cost_usd"] == pytest.approx((100 * 2.5 + 10 * 10) / 1e6, rel=1e-12)
    unknown = aider.read(_log(*_send(100, 10, "0")), "", "mock-model-not-priced")
    assert unknown["total_cost_usd"] is None
    silent = aider.read(f"usage: aider [-h]\n{aider.MARKER}\n", "error: unrecognized arguments", "gpt-4o")
    assert usage.infra_reason(silent).startswith("the CLI failed to start")


def test_config_files_are_the_conventions_file_and_the_rest_is_unsupported(tmp_path):
    tiers = tmp_path / "tiers"
    (tiers / "blocks").mkdir(parents=True)
    (tiers / "blocks/B01.md").write_text("Be careful.\n")
    manifest = {"system_prompt_mode": "default", "agent_teams": False, "resources": {
        "claude_md_blocks": ["B01"], "skills": ["L1/refactor"], "agents": ["L2/reviewer"], "tools": ["Read"],
        "mcp_servers": [{"name": "files", "command": "npx"}]}}
    files = aider.AGENT.config_files(tiers, manifest)
    assert list(files) == ["CONVENTIONS.md"] and files["CONVENTIONS.md"].decode().startswith("Be careful.")
    assert "reviewer" not in files["CONVENTIONS.md"].decode()             # not named: aider cannot use it
    assert aider.AGENT.unsupported(manifest) == (
        "skill L1/refactor: not supported by aider", "sub-agent L2/reviewer: not supported by aider",
        "MCP server files: not supported by aider", "tool allow list Read: not supported by aider")


def test_the_instructions_reach_aider_as_conventions_and_a_skill_is_recorded_unsupported(fresh, mock):
    _spec(fresh, mock)
    fresh.edit_spec(lambda s: s.update(tiers={"T1": ["02"]}))          # the run-length-encoding skill
    mock.script.append(text_reply(EDIT, 2000, 300))
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    config = fresh.root / "T1/02/config"
    assert sorted(p.relative_to(config).as_posix() for p in config.rglob("*") if p.is_file()) == ["CONVENTIONS.md"]
    conventions = (config / "CONVENTIONS.md").read_text()
    assert "run-length-encoding" not in conventions and "## Test environment" in conventions
    sent = json.dumps(mock.requests[0]["body"]["messages"])
    assert "## Test environment" in sent and "CONVENTIONS.md" in sent            # read-only, via --read
    why = "skill encoding/run-length-encoding: not supported by aider"
    assert fresh.json("T1/02/run_01/agent/command_log.json")["unsupported"] == [why]
    assert f"**Not supported by this agent**: {why}" in (fresh.root / "T1/02/run_01/agent/MODEL.md").read_text()
    assert fresh.json("T1/02/run_01/agent/result.json")["unsupported_resources"] == [why]
    assert fresh.json("T1/02/run_01/commands/pipeline.json")["tests"]["passed"] == 12
