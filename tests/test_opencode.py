"""The `opencode` agent adapter: the real `opencode` CLI against a loopback Chat Completions mock
(tests/mock_chat.py, streaming), and its reader on recorded output."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from conftest import agent_cli
from mock_anthropic import TEXTKIT
from mock_chat import KEY, ChatMock, text_reply, tool_reply, unauthorized

from scylla.agents import opencode

# the runs and what they depend on: the analysis (covered elsewhere) is no adapter's business
RUNS = "run:*"

KEY_ENV = "SCYLLA_TEST_OPENCODE_KEY"
RATES = {"input": 2.5, "output": 10, "cache_read": 1.25}      # gpt-4o, USD per million tokens


@pytest.fixture
def mock():
    server = ChatMock(default=lambda: text_reply("Done: implemented textkit.", 700, 30))
    server.tool_less = lambda body: text_reply("textkit", 50, 5)
    yield server
    server.close()


def _spec(fresh, mock, retries=2, **agent):
    cli = agent_cli("opencode")
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=5, thinking="none",
                                       rate_limit={"retries": retries, "backoff_seconds": 1}, agent={
        "adapter": "opencode", "model": "gpt-4o", "base_url": mock.url, "api_key_env": KEY_ENV,
        "options": {"cli": cli}, **agent}))


def _write_then_finish(mock):
    mock.script.extend([tool_reply("write", {"filePath": "textkit.py", "content": TEXTKIT}, "Implementing textkit.",
                                   1200, 80, cached_tokens=200),
                        text_reply("Done: implemented textkit.", 1500, 20, cached_tokens=1000)])


def _step_cost(usage: dict) -> float:
    """OpenCode's price of one request from the configured table (fresh input, output, cache reads)."""
    cached = usage.get("prompt_tokens_details", {}).get("cached_tokens", 0)
    mtok = (Decimal(usage["prompt_tokens"] - cached) * Decimal(str(RATES["input"]))
            + Decimal(usage["completion_tokens"]) * Decimal(str(RATES["output"]))
            + Decimal(cached) * Decimal(str(RATES["cache_read"])))
    return float(mtok / Decimal(1_000_000))


def test_opencode_edits_the_workspace_and_reports_the_mocks_usage(fresh, mock):
    _spec(fresh, mock)
    _write_then_finish(mock)
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    run = fresh.root / "T0/00/run_01"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"] == {
        "total": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0}
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    # every request was the agent's loop (no title call), streamed with the usage chunk, with the key
    assert len(mock.requests) == 2 and all(r["body"]["tools"] and r["body"]["stream"] for r in mock.requests)
    assert all(r["body"]["stream_options"] == {"include_usage": True} for r in mock.requests)
    assert not any("reasoning_effort" in r["body"] for r in mock.requests)          # thinking: none
    assert all(r["headers"]["authorization"] == f"Bearer {KEY}" for r in mock.requests)
    usages = [reply["usage"] for reply in mock.answered()]
    cached = sum(u.get("prompt_tokens_details", {}).get("cached_tokens", 0) for u in usages)
    result = fresh.json("T0/00/run_01/agent/result.json")
    assert result["token_stats"] == {"input_tokens": sum(u["prompt_tokens"] for u in usages) - cached,
                                     "output_tokens": sum(u["completion_tokens"] for u in usages),
                                     "cache_creation_tokens": 0, "cache_read_tokens": cached}
    assert result["cost_usd"] == sum(_step_cost(u) for u in usages) > 0       # the gpt-4o list price table
    assert result["api_calls"] == 2 and result["outcome"] == "completed" and "cost_source" not in result
    assert (run / "agent/output.txt").read_text() == "Done: implemented textkit."
    assert "**CLI**: opencode 1.18." in (run / "agent/MODEL.md").read_text()
    replay = (run / "agent/replay.sh").read_text()
    assert "opencode run --format json -m scylla/gpt-4o" in replay and "{env:SCYLLA_TEST_OPENCODE_KEY}" in replay
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_a_429_pauses_then_the_opencode_run_is_retried_and_judged_once(fresh, mock):
    _spec(fresh, mock)
    first: list[str] = []            # every request of OpenCode's first session is refused (its retries too)

    def refuse(request):
        first[:] = first or [request["headers"]["x-session-id"]]
        return request["headers"]["x-session-id"] == first[0]
    mock.refuse = refuse
    _write_then_finish(mock)
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    archived = fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")
    assert archived["reason"].startswith("rate limited") and "429" in archived["reason"]
    assert '"statusCode":429' in (fresh.root / "T0/00/.failed/run_01_attempt_01/agent/stdout.log").read_text()
    assert "429" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
    assert fresh.calls("judge") == ["T0/00/run_01 2"]                     # judged once, after the retry


def test_a_401_is_an_infrastructure_failure_retried_by_the_next_doit(fresh, mock):
    _spec(fresh, mock)
    mock.default = unauthorized
    first = fresh.doit(RUNS, env={KEY_ENV: KEY}, check=False)
    assert first.returncode != 0 and "authentication failed" in first.stdout + first.stderr
    assert len(mock.requests) == 1 and fresh.calls("judge") == []        # not retried by the CLI, not judged
    assert not (fresh.root / "T0/00/run_01/run_result.json").exists()
    mock.default = lambda: text_reply("Done: implemented textkit.", 700, 30)
    _write_then_finish(mock)
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12


def test_a_model_without_a_known_price_has_an_unknown_cost_and_effort_is_passed(fresh, mock):
    _spec(fresh, mock, model="mock-model-not-priced")
    fresh.edit_spec(lambda s: s.update(thinking="low"))
    _write_then_finish(mock)
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    assert mock.requests and all(r["body"]["reasoning_effort"] == "low" for r in mock.requests)
    result = fresh.json("T0/00/run_01/agent/result.json")
    assert result["cost_usd"] is None and "cost_source" not in result     # unknown, never a guess
    assert result["token_stats"]["output_tokens"] == 100


# ---------------------------------------------------------------- the reader, on recorded output

STEP = ('{"type":"step_finish","timestamp":1,"sessionID":"s","part":{"id":"p%d","reason":"%s","messageID":"m%d",'
        '"type":"step-finish","tokens":{"total":0,"input":%d,"output":%d,"reasoning":%d,"cache":{"write":%d,"read":%d}},'
        '"cost":%s}}')
TEXT = '{"type":"text","timestamp":1,"sessionID":"s","part":{"id":"t%d","messageID":"m%d","type":"text","text":"%s"}}'
ERROR_429 = ('{"type":"error","timestamp":1,"sessionID":"s","error":{"name":"APIError","data":{"message":'
             '"Rate limit reached for requests","statusCode":429,"isRetryable":true,"responseHeaders":{}}}}')
ERROR_401 = ('{"type":"error","timestamp":1,"sessionID":"s","error":{"name":"APIError","data":{"message":'
             '"Incorrect API key provided","statusCode":401,"isRetryable":false}}}')
RUN = "\n".join([TEXT % (1, 1, "Implementing."), STEP % (1, "tool-calls", 1, 1000, 80, 0, 0, 200, "0.00355"),
                 TEXT % (2, 2, "Done."), STEP % (2, "stop", 2, 500, 20, 4, 0, 1000, "0.00295")]) + "\n"


def test_reader_sums_the_steps_tokens_and_costs():
    result = opencode.read(RUN, "", "gpt-4o")
    assert result["usage"] == {"input_tokens": 1500, "output_tokens": 104, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 1200}
    assert result["total_cost_usd"] == 0.00355 + 0.00295 and result["num_turns"] == 2
    assert result["result"] == "Done." and result["is_error"] is False and result["subtype"] == "success"
    assert result["modelUsage"]["gpt-4o"]["costUSD"] == result["total_cost_usd"]
    assert opencode.reported_cost(RUN) == 0.00355 + 0.00295


def test_reader_classifies_rate_limits_and_auth_failures():
    from scylla.agents import usage
    limited = opencode.read(ERROR_429 + "\n", "", "gpt-4o")
    assert limited["api_error_status"] == 429 and limited["api_error_type"] == "rate_limit_error"
    assert usage.rate_limit(limited)[0] and limited["total_cost_usd"] == 0.0
    denied = opencode.read(ERROR_401 + "\n", "", "gpt-4o")
    assert not usage.rate_limit(denied)[0]
    assert usage.infra_reason(denied).startswith("authentication failed (API error 401 authentication_error)")


def test_reader_prices_zero_cost_steps_by_genai_prices_and_skips_garbage():
    cut = RUN.replace("0.00355", "0").replace("0.00295", "0") + '{"type":"step_finish","part":{"tok'
    result = opencode.read("garbage\n" + cut, "", "gpt-4o")
    expected = (1500 * 2.5 + 104 * 10 + 1200 * 1.25) / 1e6
    assert result["cost_source"] == "genai-prices" and result["total_cost_usd"] == pytest.approx(expected, rel=1e-12)
    assert result["num_turns"] == 2
    assert opencode.read("not json\n{\"type\": \"step_st", "", "gpt-4o") is None
    assert opencode.read("", "boom", "gpt-4o") is None


# ---------------------------------------------------------------- tier resources

def test_config_files_render_agents_md_skills_agents_and_mcp(tmp_path):
    tiers = tmp_path / "tiers"
    (tiers / "skills/L1/refactor").mkdir(parents=True)
    (tiers / "skills/L1/refactor/SKILL.md").write_text("---\nname: refactor\ndescription: Refactor.\n---\nSteps.\n")
    (tiers / "agents/L2").mkdir(parents=True)
    (tiers / "agents/L2/reviewer.md").write_text(
        "---\nname: reviewer\ndescription: Reviews code.\ntools: Read,Grep\n---\n\n# Reviewer\n")
    (tiers / "blocks").mkdir()
    (tiers / "blocks/B01.md").write_text("Be careful.\n")
    manifest = {"system_prompt_mode": "default", "agent_teams": True, "resources": {
        "claude_md_blocks": ["B01"], "skills": ["L1/refactor"], "agents": ["L2/reviewer"], "tools": ["Read"],
        "mcp_servers": [{"name": "files", "command": "npx", "args": ["-y", "server-fs"], "env": {"A": "1"}},
                        {"name": "web", "type": "http", "url": "http://127.0.0.1:9/mcp"}]}}
    files = opencode.AGENT.config_files(tiers, manifest)
    assert sorted(files) == [".opencode/agents/reviewer.md", ".opencode/skills/refactor/SKILL.md", "AGENTS.md",
                             "opencode.json"]
    assert all(any(p == c or p.startswith(c + "/") for c in opencode.AGENT.config_paths) for p in files)
    agents_md = files["AGENTS.md"].decode()
    assert agents_md.startswith("Be careful.") and "- reviewer" in agents_md and "- refactor" in agents_md
    assert "Use these tools" not in agents_md                               # not given to OpenCode
    assert files[".opencode/agents/reviewer.md"].decode() == (
        "---\ndescription: Reviews code.\nmode: subagent\n---\n\n# Reviewer\n")
    assert json.loads(files["opencode.json"])["mcp"] == {
        "files": {"type": "local", "command": ["npx", "-y", "server-fs"], "environment": {"A": "1"}},
        "web": {"type": "remote", "url": "http://127.0.0.1:9/mcp"}}
    assert opencode.AGENT.unsupported(manifest) == (
        "tool allow list Read: not supported by opencode", "agent teams: not supported by opencode (a Claude Code feature)")


def test_a_skill_reaches_opencode_as_its_own_skill_and_agents_md(fresh, mock):
    _spec(fresh, mock)
    fresh.edit_spec(lambda s: s.update(tiers={"T1": ["02"]}))          # the run-length-encoding skill
    _write_then_finish(mock)
    fresh.doit(RUNS, env={KEY_ENV: KEY})
    config = fresh.root / "T1/02/config"
    assert sorted(p.relative_to(config).as_posix() for p in config.rglob("*") if p.is_file()) == [
        ".opencode/skills/run-length-encoding/SKILL.md", "AGENTS.md"]
    first = mock.requests[0]["body"]
    system = json.dumps([m for m in first["messages"] if m["role"] == "system"])
    assert "Apply these skills" in system and "- run-length-encoding" in system          # AGENTS.md
    # OpenCode loaded the skill from .opencode/skills/ (its list in the system prompt, for its `skill` tool)
    assert "Run-length encode strings (sketch; details left to the reader)" in system
    assert fresh.json("T1/02/run_01/agent/command_log.json")["unsupported"] == []
    assert "**Not supported" not in (fresh.root / "T1/02/run_01/agent/MODEL.md").read_text()


def test_the_run_config_names_the_key_variable_never_the_key_and_carries_prices_and_turns():
    from types import SimpleNamespace
    config = SimpleNamespace(model="gpt-4o", base_url="http://127.0.0.1:9/v1", api_key_env=KEY_ENV, options={},
                             max_turns=7, thinking="none")
    content = json.loads(opencode.config_content(config))
    provider = content["provider"]["scylla"]
    assert provider["options"] == {"baseURL": "http://127.0.0.1:9/v1", "apiKey": "{env:SCYLLA_TEST_OPENCODE_KEY}"}
    assert provider["models"]["gpt-4o"]["cost"] == RATES and content["agent"] == {"build": {"steps": 7}}
    given = SimpleNamespace(**{**vars(config), "options": {"cost": {"input": 1, "output": 2}}, "max_turns": None})
    assert json.loads(opencode.config_content(given))["provider"]["scylla"]["models"]["gpt-4o"]["cost"] == {
        "input": 1.0, "output": 2.0}
    unpriced = SimpleNamespace(**{**vars(config), "model": "mock-model-not-priced", "base_url": None})
    content = json.loads(opencode.config_content(unpriced))
    assert "cost" not in content["provider"]["scylla"]["models"]["mock-model-not-priced"]
    assert content["provider"]["scylla"]["options"]["baseURL"] == opencode.DEFAULT_ENDPOINT
