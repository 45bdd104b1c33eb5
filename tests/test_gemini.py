"""The `gemini` agent adapter: the real Gemini CLI against a loopback mock of the Gemini API.

The CLI is installed by .ci/run (npm, pinned); elsewhere these tests skip when it is missing, but
with SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run) a missing CLI fails them."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import agent_cli
from genai_prices import Usage, calc_price
from mock_gemini import KEY, TEXTKIT, USAGE, GeminiMock, call, error, text

from scylla.agents import gemini
from scylla.errors import SpecError

# the runs and what they depend on: the analysis (covered elsewhere) is no adapter's business
RUNS = "run:*"


@pytest.fixture
def mock():
    server = GeminiMock()
    yield server
    server.close()


def _spec(fresh, cli, max_turns=5, retries=2, thinking="none", **agent):
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=max_turns, thinking=thinking,
                                       rate_limit={"retries": retries, "backoff_seconds": 1}, agent={
        "adapter": "gemini", "model": "gemini-2.5-flash", "options": {"cli": cli, "max_retries": 0}, **agent}))


def _expected(n: int) -> tuple[dict, float]:
    """token_stats and cost of `n` answered requests, from the mock's usageMetadata alone: fresh input =
    prompt - cached, output = candidates + thoughts; the list price of gemini-2.5-flash (genai-prices)."""
    prompt, cached = USAGE["promptTokenCount"] * n, USAGE["cachedContentTokenCount"] * n
    output = (USAGE["candidatesTokenCount"] + USAGE["thoughtsTokenCount"]) * n
    price = calc_price(Usage(input_tokens=prompt, cache_read_tokens=cached, output_tokens=output),
                       model_ref="gemini-2.5-flash")
    return ({"input_tokens": prompt - cached, "output_tokens": output, "cache_creation_tokens": 0,
             "cache_read_tokens": cached}, float(price.total_price))


def test_gemini_agent_edits_the_workspace_and_reports_usage(fresh, mock):
    _spec(fresh, agent_cli("gemini"), base_url=mock.url)
    mock.script.extend([[text("Implementing textkit."), call("write_file", file_path="textkit.py", content=TEXTKIT)],
                        [text("Done: implemented every function in textkit.py.")]])
    fresh.doit(RUNS, env={"GEMINI_API_KEY": KEY})
    run = fresh.root / "T0/00/run_01"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
    pipeline = fresh.json("T0/00/run_01/commands/pipeline.json")
    assert pipeline["tests"] == {"total": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0}
    answered = mock.agent_requests()
    assert len(answered) == 2 and all("gemini-2.5-flash:streamGenerateContent" in r["path"] for r in answered)
    assert all(r["headers"]["x-goog-api-key"] == KEY for r in answered)
    # thinking: none -> a zero thinking budget on every request; the function result went back to the model
    assert all(r["body"]["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 0 for r in answered)
    assert "functionResponse" in json.dumps(answered[1]["body"]["contents"])
    # T0/00 runs without a system prompt: the CLI's own is replaced by an empty one
    assert "non-interactive CLI agent" not in json.dumps(answered[0]["body"].get("systemInstruction"))
    result = fresh.json("T0/00/run_01/agent/result.json")
    tokens, cost = _expected(len(answered))
    assert result["token_stats"] == tokens and result["cost_usd"] == pytest.approx(cost, rel=1e-9)
    assert result["cost_source"] == "genai-prices" and result["api_calls"] == 2 and result["outcome"] == "completed"
    assert list(result["model_usage"]) == ["gemini-2.5-flash"]            # keyed by the answer's modelVersion
    assert (run / "agent/output.txt").read_text() == "Done: implemented every function in textkit.py."
    assert "**CLI**: gemini 0.61.0" in (run / "agent/MODEL.md").read_text()
    replay = (run / "agent/replay.sh").read_text()
    assert "--approval-mode yolo" in replay and "gemini-api-key" in replay
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_a_429_pauses_then_the_run_is_retried_and_judged_once(fresh, mock):
    _spec(fresh, agent_cli("gemini"), base_url=mock.url)
    mock.script.extend([error(429, "Resource has been exhausted (e.g. check quota).", retry_after=1),
                        [call("write_file", file_path="textkit.py", content=TEXTKIT)], [text("Done.")]])
    fresh.doit(RUNS, env={"GEMINI_API_KEY": KEY})
    assert [r["refused"] for r in mock.requests if r["agent_loop"]] == [True, False, False]   # no retry of its own
    archived = fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")
    assert archived["reason"].startswith("rate limited") and "429" in archived["reason"]
    assert '"code": 429' in (fresh.root / "T0/00/.failed/run_01_attempt_01/agent/stderr.log").read_text()
    assert "429" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    assert fresh.json("T0/00/run_01/agent/result.json")["token_stats"] == _expected(2)[0]
    assert fresh.calls("judge") == ["T0/00/run_01 2"]                     # judged once, after the retry


def test_an_auth_failure_is_an_infrastructure_failure_retried_by_the_next_doit(fresh, mock):
    _spec(fresh, agent_cli("gemini"), base_url=mock.url, api_key_env="MY_GEMINI_KEY")
    mock.script.append(error(401, "API key not valid. Please pass a valid API key."))
    failed = fresh.doit(RUNS, env={"MY_GEMINI_KEY": KEY}, check=False)
    assert failed.returncode != 0 and "authentication failed (API error 401 authentication_error)" in failed.stdout
    assert fresh.calls("judge") == [] and not (fresh.root / "T0/00/run_01/run_result.json").exists()
    assert mock.requests[0]["headers"]["x-goog-api-key"] == KEY       # the named variable reached the CLI
    mock.script.extend([[call("write_file", file_path="textkit.py", content=TEXTKIT)], [text("Done.")]])
    fresh.doit(RUNS, env={"MY_GEMINI_KEY": KEY})
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    assert fresh.calls("judge") == ["T0/00/run_01 2"]
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_max_turns_is_an_agent_outcome_that_is_judged(fresh, mock):
    _spec(fresh, agent_cli("gemini"), max_turns=1, thinking="high", base_url=mock.url)
    mock.default = [call("run_shell_command", command="echo thinking > NOTES.md", description="notes")]
    fresh.doit(RUNS, env={"GEMINI_API_KEY": KEY})
    assert "+thinking" in (fresh.root / "T0/00/run_01/agent/patch.diff").read_text()   # its shell ran, sandboxed
    result = fresh.json("T0/00/run_01/run_result.json")
    assert result["agent_outcome"] == "max_turns" and result["exit_code"] == 53
    assert len(mock.agent_requests()) == 1 and fresh.calls("judge") == ["T0/00/run_01 2"]
    assert mock.requests[0]["body"]["generationConfig"]["thinkingConfig"]["thinkingBudget"] == 24576
    # it prints no stats when it stops at the limit: the tokens are unknown, never 0
    agent = fresh.json("T0/00/run_01/agent/result.json")
    assert agent["cost_usd"] is None and set(agent["token_stats"].values()) == {None}


# ---------------------------------------------------------------- the reader on recorded captures (0.61.0)

OK_STDOUT = """{
  "session_id": "3de3cd94-3cd3-44c9-9267-2b37b7989655",
  "response": "Done: implemented.",
  "stats": {
    "models": {
      "gemini-2.5-flash": {
        "api": {"totalRequests": 2, "totalErrors": 0, "totalLatencyMs": 146, "errorsByType": {}},
        "tokens": {"input": 400, "prompt": 2400, "candidates": 80, "total": 2490, "cached": 2000,
                   "thoughts": 10, "tool": 0},
        "roles": {"main": {"totalRequests": 2, "totalErrors": 0, "totalLatencyMs": 146, "tokens": {
          "input": 400, "prompt": 2400, "candidates": 80, "total": 2490, "cached": 2000, "thoughts": 10, "tool": 0}}}
      }
    },
    "tools": {"totalCalls": 1, "totalSuccess": 1, "totalFail": 0, "byName": {}},
    "files": {"totalLinesAdded": 33, "totalLinesRemoved": 0}
  }
}
"""
BANNER = """Warning: 256-color support not detected. Using a terminal with at least 256-color support is recommended.
YOLO mode is enabled. All tool calls will be automatically approved.
"""
RATE_LIMITED_STDERR = BANNER + """Attempt 1 failed: Resource has been exhausted (e.g. check quota).. Max attempts reached
Error when talking to Gemini API Full report available at: /tmp/gemini-client-error.json RetryableQuotaError: Resource has been exhausted (e.g. check quota).
    at classifyGoogleError (file:///gemini-cli/bundle/chunk-JDPZ4CE3.js:307333:14) {
  cause: {
    code: 429,
    message: 'Resource has been exhausted (e.g. check quota).',
    details: []
  },
  retryDelayMs: undefined,
  status: 429
}
{
  "session_id": "8db21c2c-1803-4856-8a3c-c17c7832fc98",
  "error": {
    "type": "Error",
    "message": "Resource has been exhausted (e.g. check quota).",
    "code": 429
  }
}
"""
AUTH_STDERR = BANNER + """{
  "session_id": "1f7e6a29-c037-4059-bebd-26c58f289ce5",
  "error": {
    "type": "Error",
    "message": "{\\"error\\":{\\"code\\":401,\\"message\\":\\"API key not valid.\\",\\"status\\":\\"UNAUTHENTICATED\\"}}",
    "code": 401
  }
}
"""
TURN_LIMIT_STDERR = BANNER + """{
  "session_id": "6938d926",
  "error": {
    "type": "FatalTurnLimitedError",
    "message": "Reached max session turns for this session.",
    "code": 53
  }
}
[ERROR] {
  "session_id": "6938d926",
  "error": {
    "type": "FatalTurnLimitedError",
    "message": "Reached max session turns for this session.",
    "code": 53
  }
}
"""


def test_reader_normalises_tokens_and_prices_them():
    result = gemini.read_result(OK_STDOUT, BANNER, "gemini-2.5-flash")
    assert result is not None and result["subtype"] == "success" and not result["is_error"]
    assert result["result"] == "Done: implemented." and result["num_turns"] == 2
    # prompt 2400 includes 2000 cached; thoughts are output
    assert result["usage"] == {"input_tokens": 400, "output_tokens": 90, "cache_creation_input_tokens": 0,
                               "cache_read_input_tokens": 2000}
    # list price of gemini-2.5-flash: 0.30 / 0.03 (cached) / 2.50 per MTok
    expected = 400 * 0.30e-6 + 2000 * 0.03e-6 + 90 * 2.50e-6
    assert result["total_cost_usd"] == pytest.approx(expected, rel=1e-9) and result["cost_source"] == "genai-prices"
    assert result["modelUsage"]["gemini-2.5-flash"]["costUSD"] == result["total_cost_usd"]
    assert gemini.AGENT.reported_cost(OK_STDOUT) == result["total_cost_usd"]


def test_reader_unknown_model_has_tokens_but_no_cost():
    result = gemini.read_result(OK_STDOUT.replace("gemini-2.5-flash", "my-local-model"), "", None)
    assert result["usage"]["output_tokens"] == 90 and result["total_cost_usd"] is None


def test_reader_classifies_errors_from_the_stderr_json():
    limited = gemini.read_result("", RATE_LIMITED_STDERR, None)
    assert (limited["is_error"], limited["api_error_status"], limited["api_error_type"]) == (True, 429, "rate_limit_error")
    assert limited["result"] == "Resource has been exhausted (e.g. check quota)." and "usage" not in limited
    auth = gemini.read_result("", AUTH_STDERR, None)
    assert (auth["api_error_status"], auth["api_error_type"], auth["terminal_reason"]) == \
        (401, "authentication_error", "api_error")
    turns = gemini.read_result("", TURN_LIMIT_STDERR, None)
    assert turns["subtype"] == "error_max_turns" and "api_error_status" not in turns
    # Google's status decides where the code alone would not (a 503 is an overload, paused like a 429)
    overloaded = AUTH_STDERR.replace("401", "503").replace("UNAUTHENTICATED", "UNAVAILABLE")
    assert gemini.read_result("", overloaded, None)["api_error_type"] == "overloaded_error"


@pytest.mark.parametrize("stdout, stderr", [
    ("", ""), (OK_STDOUT[:300], BANNER), ("not json at all\n{ broken", "Segmentation fault\n"),
    ('{"session_id": "x", "stats": []}', ""), ("", RATE_LIMITED_STDERR[:-40])])
def test_reader_truncated_or_garbage_output_is_no_result(stdout, stderr):
    assert gemini.read_result(stdout, stderr, None) is None


# ---------------------------------------------------------------- tier resources

def _tiers(root: Path) -> Path:
    tiers = root / "tiers"
    (tiers / "blocks").mkdir(parents=True)
    (tiers / "blocks/B01-style.md").write_text("# Style\n\nWrite small functions.\n")
    (tiers / "skills/quality/lint-all").mkdir(parents=True)
    (tiers / "skills/quality/lint-all/SKILL.md").write_text(
        "---\nname: lint-all\ndescription: Lint every Python file of the repository\n---\nRun ruff.\n")
    (tiers / "agents/L2").mkdir(parents=True)
    (tiers / "agents/L2/reviewer.md").write_text("---\nname: reviewer\n---\nReview.\n")
    return tiers


def _manifest(**resources) -> dict:
    return {"tier": "T9", "subtest": "01", "name": "all", "description": "", "system_prompt_mode": "custom",
            "agent_teams": True, "inherited_from": [], "resources": {
                "claude_md_blocks": [], "tools": None, "skills": [], "agents": [], "mcp_servers": [], **resources}}


def test_tier_resources_as_gemini_reads_them_and_the_rest_recorded(tmp_path):
    tiers = _tiers(tmp_path)
    manifest = _manifest(claude_md_blocks=["B01"], skills=["quality/lint-all"], agents=["L2/reviewer"],
                         tools=["Read", "Bash"], mcp_servers=[{"name": "time", "command": "mcp-time", "args": ["-q"]}])
    files = gemini.AGENT.config_files(tiers, manifest)
    assert sorted(files) == [".gemini/settings.json", ".gemini/skills/lint-all/SKILL.md", "GEMINI.md"]
    assert all(any(p == c or p.startswith(c + "/") for c in gemini.AGENT.config_paths) for p in files)
    instructions = files["GEMINI.md"].decode()
    assert instructions.startswith("# Style\n\nWrite small functions.")
    assert "- lint-all" in instructions and "- time" in instructions and "reviewer" not in instructions
    assert json.loads(files[".gemini/settings.json"]) == {"mcpServers": {"time": {"command": "mcp-time", "args": ["-q"]}}}
    assert gemini.AGENT.unsupported(manifest) == (
        "sub-agent L2/reviewer: not supported by gemini", "tool allow list Read, Bash: not supported by gemini",
        "agent teams: not supported by gemini (a Claude Code feature)")


@pytest.mark.e2e
def test_the_cli_reads_the_rendered_gemini_md_and_skill(tmp_path, mock):
    """The real CLI, in a workspace holding the rendered files: the instructions and the skill reach the
    model's request, the MCP server is started."""
    tiers, ws, home = _tiers(tmp_path), tmp_path / "ws", tmp_path / "home"
    ws.mkdir()
    subprocess.run(["git", "init", "-q", str(ws)], check=True)
    started = tmp_path / "mcp-started"
    server = {"name": "probe", "command": "sh", "args": ["-c", f"touch {started}; sleep 1"]}
    manifest = _manifest(claude_md_blocks=["B01"], skills=["quality/lint-all"], mcp_servers=[server])
    for rel, data in gemini.config_files(tiers, manifest).items():
        (ws / rel).parent.mkdir(parents=True, exist_ok=True)
        (ws / rel).write_bytes(data)
    exp = SimpleNamespace(agent=SimpleNamespace(model="gemini-2.5-flash", options={"cli": agent_cli("gemini")},
                                                thinking="default", max_turns=None, base_url=mock.url,
                                                api_key_env=None))
    env, _ = gemini.private_home(home, exp, _manifest())
    done = subprocess.run(gemini.command_line(exp), check=False, shell=True, cwd=ws, input="Say hi.", capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "GEMINI_API_KEY": KEY, **env})
    assert done.returncode == 0, done.stderr
    body = mock.requests[0]["body"]
    context, system = json.dumps(body["contents"]), json.dumps(body["systemInstruction"])
    assert "GEMINI.md ---\\n# Style\\n\\nWrite small functions." in context            # the project context
    assert "<name>lint-all</name>" in system and "Lint every Python file" in system   # a skill it offers
    assert started.exists()                                     # the MCP server of .gemini/settings.json


# ---------------------------------------------------------------- settings and command line

def _exp(model="gemini-2.5-flash", thinking="none", max_turns=None, api_key_env=None, **options):
    return SimpleNamespace(agent=SimpleNamespace(model=model, thinking=thinking, max_turns=max_turns, options=options,
                                                 base_url=None, api_key_env=api_key_env))


@pytest.mark.parametrize("model, thinking, options, expected", [
    ("gemini-2.5-flash", "none", {}, {"thinkingBudget": 0}),
    ("gemini-2.5-pro", "none", {}, {"thinkingBudget": 128}),          # 2.5 Pro cannot turn thinking off
    ("gemini-2.5-flash", "low", {}, {"thinkingBudget": 1024}),
    ("gemini-2.5-pro", "max", {}, {"thinkingBudget": -1}),
    ("gemini-3-pro-preview", "none", {}, {"thinkingLevel": "LOW"}),
    ("gemini-3-pro-preview", "medium", {}, {"thinkingLevel": "HIGH"}),
    ("gemini-2.5-flash", "high", {"thinking_budget": 300}, {"thinkingBudget": 300}),
    ("gemini-2.5-flash", "default", {}, None)])
def test_thinking_maps_to_the_models_thinking_config(model, thinking, options, expected):
    assert gemini.thinking_config(model, thinking, options) == expected
    overrides = gemini.settings(_exp(model, thinking, **options)).get("modelConfigs", {}).get("customOverrides")
    assert overrides == (None if expected is None else [{"match": {"model": model}, "modelConfig": {
        "generateContentConfig": {"thinkingConfig": expected}}}])


def test_settings_bound_retries_and_turns_and_keep_the_cli_quiet():
    out = gemini.settings(_exp(max_turns=7, max_retries=2))
    assert out["general"]["maxAttempts"] == 3 and out["model"] == {"maxSessionTurns": 7}
    assert out["security"]["auth"]["selectedType"] == "gemini-api-key"
    assert out["privacy"]["usageStatisticsEnabled"] is False and out["telemetry"]["enabled"] is False
    assert out["general"]["enableAutoUpdate"] is False
    assert "maxAttempts" not in gemini.settings(_exp())["general"] and "model" not in gemini.settings(_exp())


def test_the_key_variable_and_endpoint_follow_the_spec(monkeypatch):
    monkeypatch.delenv("GOOGLE_GEMINI_BASE_URL", raising=False)
    named = _exp(api_key_env="TEAM_GEMINI_KEY").agent
    assert gemini.AGENT.credentials(named).variables == ("TEAM_GEMINI_KEY",)
    assert gemini.AGENT.passed_env(named) == ("TEAM_GEMINI_KEY", "GOOGLE_GEMINI_BASE_URL")
    assert gemini.command_line(_exp(api_key_env="TEAM_GEMINI_KEY", cli="gemini")).startswith(
        'GEMINI_API_KEY="${TEAM_GEMINI_KEY}" gemini -p')
    assert gemini.AGENT.credentials(_exp().agent).variables == ("GEMINI_API_KEY",)
    assert gemini.AGENT.endpoints(_exp().agent) == ("https://generativelanguage.googleapis.com",)
    named.base_url = "http://127.0.0.1:9/"
    assert gemini.AGENT.endpoints(named) == ("http://127.0.0.1:9/",)
    with pytest.raises(SpecError, match="agent.api_key_env"):
        gemini.AGENT.credentials(_exp(api_key_env="A KEY; rm -rf /").agent)
