"""The `codex` agent adapter: the real `codex exec --json` CLI against a loopback Responses API mock,
inside Scylla's bubblewrap sandbox; its reader on recorded captures; its tier resources.

The CLI is installed by .ci/run (npm, pinned); elsewhere these tests skip when it is missing, but with
SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run) a missing CLI fails them."""

from __future__ import annotations

import shlex
import shutil
import sys
import tomllib
from pathlib import Path
from types import SimpleNamespace

import pytest
from conftest import agent_cli
from genai_prices import Usage, calc_price
from mock_anthropic import TEXTKIT
from mock_responses import KEY, USAGE, ResponsesMock, error, message, write_file

from scylla.agents import codex, usage

# the runs and what they depend on: the analysis (covered elsewhere) is no adapter's business
RUNS = "run:*"

MODEL = "gpt-5.1-codex"


@pytest.fixture
def mock():
    server = ResponsesMock()
    yield server
    server.close()


def _codex_spec(fresh, mock, retries=2, thinking="high", max_turns=5, **options):
    fresh.edit_spec(lambda s: s.update(
        tiers={"T0": ["00"]}, runs=1, max_turns=max_turns, thinking=thinking,
        rate_limit={"retries": retries, "backoff_seconds": 1},
        agent={"adapter": "codex", "model": MODEL, "base_url": mock.url,
               "options": {"cli": agent_cli("codex"), "max_retries": 0, **options}}))


def _implements_textkit(mock):
    mock.script.extend([[message("Implementing textkit."), write_file("textkit.py", TEXTKIT)],
                        [message("Done: implemented every function in textkit.py.")]])


def _list_price(requests: int) -> float:
    """genai-prices of what the mock reported over `requests` responses (codex's one turn sums them)."""
    u = {k: v * requests for k, v in USAGE.items()}
    return float(calc_price(Usage(input_tokens=u["input_tokens"], cache_read_tokens=u["cached_tokens"],
                                  cache_write_tokens=u["cache_write_tokens"], output_tokens=u["output_tokens"]),
                            model_ref=MODEL).total_price)


def test_codex_agent_edits_the_workspace_and_reports_usage(fresh, mock):
    _codex_spec(fresh, mock)
    _implements_textkit(mock)
    fresh.doit(RUNS, env={"OPENAI_API_KEY": KEY})
    run = fresh.root / "T0/00/run_01"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
    pipeline = fresh.json("T0/00/run_01/commands/pipeline.json")
    assert pipeline["tests"] == {"total": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0}
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    # the requests: the pinned model, the effort, the key from OPENAI_API_KEY, through the sandbox's bridge
    n = len(mock.requests)
    assert n == 2 and {r["path"] for r in mock.requests} == {"/v1/responses"}
    assert all(r["body"]["model"] == MODEL and r["body"]["reasoning"]["effort"] == "high" for r in mock.requests)
    assert mock.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    said = [c.get("text", "").strip() for i in mock.requests[0]["body"]["input"] if i.get("role") == "user"
            for c in i["content"]]
    assert (run / "agent/prompt.md").read_text().strip() in said                # the prompt, from stdin
    log = fresh.json("T0/00/run_01/agent/command_log.json")
    assert log["sandbox"]["kind"] == "bubblewrap" and sum(log["sandbox"]["connections"].values()) >= 1
    # tokens: what the mock reported over both requests, fresh input apart from cache reads and writes
    result = fresh.json("T0/00/run_01/agent/result.json")
    assert result["token_stats"] == {
        "input_tokens": n * (USAGE["input_tokens"] - USAGE["cached_tokens"] - USAGE["cache_write_tokens"]),
        "output_tokens": n * USAGE["output_tokens"], "cache_read_tokens": n * USAGE["cached_tokens"],
        "cache_creation_tokens": n * USAGE["cache_write_tokens"]}
    assert result["cost_usd"] == _list_price(n) > 0 and result["cost_source"] == "genai-prices"
    assert result["model_usage"][MODEL]["cost_usd"] == result["cost_usd"]
    assert result["api_calls"] is None and result["outcome"] == "completed"     # (codex counts no requests)
    assert (run / "agent/output.txt").read_text() == "Done: implemented every function in textkit.py."
    model_md = (run / "agent/MODEL.md").read_text()
    assert "**CLI**: codex-cli 0.171.0" in model_md and "**max_turns**: 5 not applied" in model_md
    # T0/00 runs without a system prompt: codex cannot, and the run says so
    assert result["unsupported_resources"] == [
        "system_prompt_mode none: not supported by codex (its built-in instructions stay)"]
    replay = (run / "agent/replay.sh").read_text()
    assert "exec --json" in replay and "model_reasoning_effort=" in replay and mock.url in replay
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def test_a_429_pauses_then_the_run_is_retried_and_judged_once(fresh, mock):
    _codex_spec(fresh, mock)
    mock.script.append(error(429, "Rate limit reached for requests", retry_after=1))
    _implements_textkit(mock)
    fresh.doit(RUNS, env={"OPENAI_API_KEY": KEY})
    archived = fresh.root / "T0/00/.failed/run_01_attempt_01"
    assert "last status: 429" in (archived / "agent/stdout.log").read_text()
    assert fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")["reason"].startswith("rate limited")
    assert "429" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    assert fresh.calls("judge") == ["T0/00/run_01 2"]                     # judged once, after the retry
    assert len(mock.requests) == 3                                        # max_retries 0: one refused request


def test_an_auth_failure_is_an_infrastructure_failure_retried_by_the_next_doit(fresh, mock):
    _codex_spec(fresh, mock)
    mock.script.append(error(401, "Incorrect API key provided", code="invalid_api_key", kind="invalid_request_error"))
    run = fresh.doit(RUNS, env={"OPENAI_API_KEY": KEY}, check=False)
    assert run.returncode != 0 and "authentication failed (API error 401" in run.stdout
    assert not (fresh.root / "T0/00/run_01/agent").exists() and fresh.calls("judge") == []
    archived = fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")["reason"]
    assert "unexpected status 401 Unauthorized" in archived and not archived.startswith("rate limited")
    assert not (fresh.root / ".scylla/pause.json").exists()               # not a rate limit: no pause
    _implements_textkit(mock)
    fresh.doit(RUNS, env={"OPENAI_API_KEY": KEY})
    assert fresh.json("T0/00/run_01/agent/result.json")["outcome"] == "completed"
    assert fresh.calls("judge") == ["T0/00/run_01 2"]


def test_the_key_variable_and_own_sandbox_are_configurable(fresh, mock):
    _codex_spec(fresh, mock, thinking="none", sandbox="read-only")
    fresh.edit_spec(lambda s: s["agent"].update(api_key_env="MY_CODEX_KEY"))
    mock.script.extend([[write_file("textkit.py", TEXTKIT)], [message("Could not write.")]])
    fresh.doit(RUNS, env={"MY_CODEX_KEY": KEY, "OPENAI_API_KEY": ""})
    assert mock.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"
    assert mock.requests[0]["body"]["reasoning"]["effort"] == "none"     # thinking: none
    # codex's own sandbox ran the model's command and refused the write: read-only, or (its HOME under
    # /tmp, as pytest's trees are) unable to start any command at all, which is why the adapter bypasses
    # it by default; the run is the agent's outcome
    assert "-s read-only" in (fresh.root / "T0/00/run_01/agent/MODEL.md").read_text()
    outputs = [i["output"] for i in mock.requests[1]["body"]["input"] if i.get("type") == "function_call_output"]
    assert len(outputs) == 1 and "Process exited with code 1" in outputs[0]
    assert "execvp codex-linux-sandbox: No such file or directory" in outputs[0] or "Read-only" in outputs[0]
    assert fresh.json("T0/00/run_01/agent/result.json")["outcome"] == "completed"
    assert (fresh.root / "T0/00/run_01/agent/patch.diff").read_text().strip() == ""
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def _exp(**agent):
    config = {"model": MODEL, "base_url": None, "api_key_env": None, "thinking": "default", "options": {}, **agent}
    return SimpleNamespace(agent=SimpleNamespace(**config))


def test_command_line_confinement_effort_and_provider():
    default = shlex.split(codex.command_line(_exp(options={"cli": "codex"})))
    assert default[:8] == ["codex", "exec", "--json", "--ephemeral", "--skip-git-repo-check", "-m", MODEL,
                           "--dangerously-bypass-approvals-and-sandbox"] and default[-1] == "-"
    assert 'model_providers.scylla.base_url="https://api.openai.com/v1"' in default
    assert 'model_providers.scylla.env_key="OPENAI_API_KEY"' in default
    assert not any("reasoning_effort" in a or "max_retries" in a for a in default)     # the CLI's defaults
    own = shlex.split(codex.command_line(_exp(thinking="max", api_key_env="K", options={"sandbox": "workspace-write",
                                                                                        "max_retries": 1})))
    assert "--dangerously-bypass-approvals-and-sandbox" not in own and own[own.index("-s") + 1] == "workspace-write"
    assert {'approval_policy="never"', 'model_reasoning_effort="xhigh"', 'model_providers.scylla.env_key="K"',
            "model_providers.scylla.request_max_retries=1", "model_providers.scylla.stream_max_retries=1"} <= set(own)
    with pytest.raises(ValueError, match="agent.options.sandbox: 'off' is not one of read-only"):
        codex.command_line(_exp(options={"sandbox": "off"}))


# ---------------------------------------------------------------- the reader on recorded captures

STARTED = ('{"type":"thread.started","thread_id":"01a244d6-7d33-7d91-80ad-f52121449b00"}\n'
           '{"type":"item.completed","item":{"id":"item_0","type":"error","message":"Model metadata for `gpt-5` '
           'not found. Defaulting to fallback metadata; this can degrade performance and cause issues."}}\n'
           '{"type":"turn.started"}\n')
SUCCESS = STARTED + (
    '{"type":"item.completed","item":{"id":"item_1","type":"agent_message","text":"Writing."}}\n'
    '{"type":"item.started","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc \\"cat > '
    'hello.py\\"","aggregated_output":"","exit_code":null,"status":"in_progress"}}\n'
    '{"type":"item.completed","item":{"id":"item_2","type":"command_execution","command":"/bin/bash -lc \\"cat > '
    'hello.py\\"","aggregated_output":"","exit_code":0,"status":"completed"}}\n'
    '{"type":"item.completed","item":{"id":"item_3","type":"agent_message","text":"Done: wrote hello.py."}}\n'
    '{"type":"turn.completed","usage":{"input_tokens":2400,"cached_input_tokens":1600,'
    '"cache_write_input_tokens":200,"output_tokens":80,"reasoning_output_tokens":32}}\n')


def _failed(message: str) -> str:
    return STARTED + (f'{{"type":"error","message":"{message}"}}\n'
                      f'{{"type":"turn.failed","error":{{"message":"{message}"}}}}\n')


def test_reader_turns_a_completed_turn_into_tokens_and_list_price():
    result = codex.read(SUCCESS, "WARNING: proceeding, even though we could not create PATH aliases", "gpt-5")
    assert result["usage"] == {"input_tokens": 600, "output_tokens": 80, "cache_read_input_tokens": 1600,
                               "cache_creation_input_tokens": 200}
    price = float(calc_price(Usage(input_tokens=2400, cache_read_tokens=1600, cache_write_tokens=200,
                                   output_tokens=80), model_ref="gpt-5").total_price)
    assert result["total_cost_usd"] == price == result["modelUsage"]["gpt-5"]["costUSD"]
    assert result["cost_source"] == "genai-prices"
    assert (result["subtype"], result["is_error"], result["result"]) == ("success", False, "Done: wrote hello.py.")
    assert codex.read(SUCCESS, "", "gpt-5") == result                    # a pure function of the captures


def test_reader_sums_turns_and_leaves_an_unpriced_model_without_cost():
    second = '{"type":"turn.completed","usage":{"input_tokens":100,"cached_input_tokens":0,"output_tokens":5}}\n'
    result = codex.read(SUCCESS + '{"type":"turn.started"}\n' + second, "", "local-llama-3")
    assert result["usage"]["input_tokens"] == 700 and result["usage"]["output_tokens"] == 85
    assert result["total_cost_usd"] is None and "cost_source" not in result


@pytest.mark.parametrize(("message", "status", "kind", "limited", "infra"), [
    ("exceeded retry limit, last status: 429 Too Many Requests, request id: req_mock", 429, "rate_limit_error",
     True, True),
    (("unexpected status 401 Unauthorized: Incorrect API key provided, url: http://127.0.0.1:35461/v1/responses, "
     "request id: req_mock"), 401, "authentication_error", False, True),
    ("You’ve hit your usage limit. Try again later.", 429, "rate_limit_error", True, True),
    ("We’re currently experiencing high demand, which may cause temporary errors.", 503, "overloaded_error", True,
     True),
    ("Missing environment variable: `OPENAI_API_KEY`.", 401, "authentication_error", False, True),
    ("Quota exceeded. Check your plan and billing details.", None, "insufficient_quota", False, True),
    (("Codex ran out of room in the model's context window. Start a new thread or clear earlier history before "
     "retrying."), None, None, False, False),
])
def test_reader_classifies_failed_turns(message, status, kind, limited, infra):
    result = codex.read(_failed(message), "", "gpt-5")
    assert result["is_error"] is True and "usage" not in result            # a failed turn reports no tokens
    assert result.get("api_error_status") == status and result.get("api_error_type") == kind
    assert result["result"] == (message if infra else "")              # output.txt: the error, or the agent's text
    assert usage.rate_limit(result)[0] is limited
    assert (usage.infra_reason(result) is not None) is infra
    assert usage.usage(result)["token_stats"] == dict.fromkeys(usage.USAGE_KEYS)   # unknown, never 0


def test_reader_on_truncated_and_garbage_output():
    assert codex.read("", "Error: CODEX_HOME points to a path that does not exist", "gpt-5") is None
    assert codex.read("not json\n{broken\n[1, 2]\n", "", "gpt-5") is None
    cut = SUCCESS[:SUCCESS.index('{"type":"turn.completed"') + 30]        # killed while printing the last line
    result = codex.read(cut, "", "gpt-5")
    assert result["is_error"] is True and result["subtype"] == "error_during_execution"
    assert "usage" not in result and result["result"] == "Done: wrote hello.py."
    assert usage.infra_reason(result).startswith("the agent got no model answer")


# ---------------------------------------------------------------- tier resources

def test_tier_resources_as_codex_reads_them(tmp_path):
    tiers = tmp_path / "tiers"
    (tiers / "blocks").mkdir(parents=True)
    (tiers / "blocks/B01-style.md").write_text("Write small functions.\n")
    (tiers / "skills/quality/lint/scripts").mkdir(parents=True)
    (tiers / "skills/quality/lint/SKILL.md").write_text("---\nname: lint\ndescription: Lint.\n---\nRun ruff.\n")
    (tiers / "skills/quality/lint/scripts/run.sh").write_text("ruff check .\n")
    (tiers / "agents/L2").mkdir(parents=True)
    (tiers / "agents/L2/reviewer.md").write_text("# reviewer\n")
    manifest = {"tier": "T6", "subtest": "01", "name": "x", "description": "", "system_prompt_mode": "default",
                "agent_teams": True, "inherited_from": [], "resources": {
                    "claude_md_blocks": ["B01"], "skills": ["quality/lint"], "agents": ["L2/reviewer"],
                    "tools": ["Read", "Bash"], "mcp_servers": [
                        {"name": "git", "command": "uvx", "args": ["mcp-server-git"], "env": {"GIT_DIR": ".git"}},
                        {"name": "docs", "type": "http", "url": "http://127.0.0.1:9/mcp", "headers": {"X-A": "1"},
                         "oauth": {"client": "x"}}, {"name": "memory"}]}}
    files = codex.AGENT.config_files(tiers, manifest)
    assert sorted(files) == [".agents/skills/lint/SKILL.md", ".agents/skills/lint/scripts/run.sh", ".codex/config.toml",
                             "AGENTS.md"]
    assert all(p.startswith(codex.AGENT.config_paths) for p in files)
    agents_md = files["AGENTS.md"].decode()
    assert agents_md.startswith("Write small functions.\n\n## Resources for this task")
    assert "- lint" in agents_md and "- git" in agents_md and "- docs" in agents_md
    assert "reviewer" not in agents_md and "Use these tools" not in agents_md    # what codex does not receive
    assert tomllib.loads(files[".codex/config.toml"].decode()) == {"mcp_servers": {
        "git": {"command": "uvx", "args": ["mcp-server-git"], "env": {"GIT_DIR": ".git"}},
        "docs": {"url": "http://127.0.0.1:9/mcp", "http_headers": {"X-A": "1"}}}}
    assert codex.AGENT.unsupported(manifest) == (
        "sub-agent L2/reviewer: not supported by codex", "tool allow list Read, Bash: not supported by codex",
        "agent teams: not supported by codex (a Claude Code feature)",
        "MCP server memory: no command or url to start it (codex needs one)",
        "MCP server docs field oauth: not supported by codex")


SUBTEST = """name: Codex resources
description: the text skills and the level-3 sub-agents
extends_previous: false
resources:
  skills:
    categories: [text]
  agents:
    levels: [3]
"""


def test_tier_resources_reach_codex_and_unsupported_ones_are_recorded_with_the_run(fresh, mock):
    server = fresh.path / "examples/hello/mcp_ping.py"          # (the spec's directory: readable in the sandbox)
    shutil.copy(Path(__file__).parent / "mcp_ping.py", server)
    (fresh.path / "examples/hello/tiers/t0/02-codex-resources.yaml").write_text(
        SUBTEST + f"  mcp_servers:\n    - name: ping\n      command: {sys.executable}\n      args: [{server}]\n")
    _codex_spec(fresh, mock)
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["02"]}))
    _implements_textkit(mock)
    fresh.doit(RUNS, env={"OPENAI_API_KEY": KEY})
    sent = str(mock.requests[0]["body"])
    assert "## Resources for this task" in sent and "- ping" in sent            # AGENTS.md
    assert "Title-case words correctly" in sent                                 # .agents/skills: its description
    # .codex/config.toml was loaded (the private HOME trusts the workspace): codex started the server
    assert "mcp__ping" in [t.get("name") for t in mock.requests[0]["body"]["tools"]]
    unsupported = ["sub-agent L3/code-reviewer: not supported by codex",
                   "sub-agent L3/rle-specialist: not supported by codex"]
    assert fresh.json("T0/02/run_01/agent/command_log.json")["unsupported"] == unsupported
    assert fresh.json("T0/02/run_01/agent/result.json")["unsupported_resources"] == unsupported
    model_md = (fresh.root / "T0/02/run_01/agent/MODEL.md").read_text()
    assert all(f"**Not supported by this agent**: {u}" in model_md for u in unsupported)
