"""The `claude-code` agent adapter: the real `claude` CLI against a loopback Messages API mock.

The CLI is installed by .ci/run (npm, pinned); elsewhere these tests skip when it is missing, but
with SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run) a missing CLI fails them."""

from __future__ import annotations

import json

import pytest
from conftest import claude_cli
from mock_anthropic import KEY, TEXTKIT, AnthropicMock, error, text, tool


@pytest.fixture
def mock():
    server = AnthropicMock()
    yield server
    server.close()


def test_claude_code_agent_edits_the_workspace_and_reports_usage(fresh, mock):
    cli = claude_cli()
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=5, agent={
        "adapter": "claude-code", "model": "claude-sonnet-4-6", "options": {"cli": cli}}))
    mock.script.extend([[text("Implementing textkit."), tool("Write", file_path="textkit.py", content=TEXTKIT)],
                        [text("Done: implemented every function in textkit.py.")]])
    fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    run = fresh.root / "T0/00/run_01"
    assert "+    return len(text.split())" in (run / "agent/patch.diff").read_text()
    pipeline = fresh.json("T0/00/run_01/commands/pipeline.json")
    assert pipeline["tests"] == {"total": 12, "passed": 12, "failed": 0, "errors": 0, "skipped": 0}
    result = fresh.json("T0/00/run_01/agent/result.json")
    main_loop = [r for r in mock.requests if r["body"].get("tools")]
    assert len(main_loop) >= 2 and result["outcome"] == "completed" and result["permission_denials"] == []
    assert all(r["body"]["thinking"] == {"type": "disabled"} for r in main_loop)      # thinking: none
    # tokens are what the mock reported, summed over every request the CLI made (its top-level `usage`)
    n = len([r for r in mock.requests if "count_tokens" not in r["path"]])
    assert result["token_stats"] == {"input_tokens": 33 * n, "output_tokens": 12 * n,
                                     "cache_creation_tokens": 100 * n, "cache_read_tokens": 2000 * n}
    assert result["cost_usd"] > 0
    assert (run / "agent/output.txt").read_text() == "Done: implemented every function in textkit.py."
    assert "**CLI**: 2.1." in (run / "agent/MODEL.md").read_text()
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def _claude_spec(fresh, cli, max_turns=5, retries=2, thinking="none", **options):
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=max_turns, thinking=thinking,
                                       rate_limit={"retries": retries, "backoff_seconds": 1}, agent={
        "adapter": "claude-code", "model": "claude-sonnet-4-6", "options": {"cli": cli, **options}}))


def test_a_429_pauses_then_the_run_is_retried_and_judged_once(fresh, mock):
    _claude_spec(fresh, claude_cli(), max_retries=0)
    mock.script.extend([error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit"),
                        [tool("Write", file_path="textkit.py", content=TEXTKIT)], [text("Done.")]])
    fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    archived = list(fresh.root.glob("T0/00/.failed/run_01_attempt_01/agent/stdout.log"))
    assert archived and '"api_error_status":429' in archived[0].read_text().replace(" ", "")
    assert "429" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/commands/pipeline.json")["tests"]["passed"] == 12
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    assert fresh.calls("judge") == ["T0/00/run_01 2"]                     # judged once, after the retry


def test_a_529_overload_pauses_then_the_run_is_retried(fresh, mock):
    _claude_spec(fresh, claude_cli(), max_retries=0)
    mock.script.extend([error(529, "overloaded_error", "Overloaded"),
                        [tool("Write", file_path="textkit.py", content=TEXTKIT)], [text("Done.")]])
    fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    archived = fresh.json("T0/00/.failed/run_01_attempt_01/archived.json")
    assert archived["reason"].startswith("rate limited") and "529" in archived["reason"]
    assert "529" in fresh.json(".scylla/pause.json")["reason"]
    assert fresh.json("T0/00/run_01/agent/result.json")["outcome"] == "completed"
    assert fresh.calls("judge") == ["T0/00/run_01 2"]


def test_a_usage_cap_pauses_until_its_stated_reset_time(fresh, mock):
    _claude_spec(fresh, claude_cli(), retries=0, max_retries=0)
    mock.script.append(error(429, "rate_limit_error", "You've hit your limit · resets 4pm (UTC)"))
    run = fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY}, check=False)
    assert run.returncode == 1 and "still rate limited after 0 retries" in run.stdout
    # every worker of this doit and the next waits for the reset, not for a guessed backoff
    assert fresh.json(".scylla/pause.json")["until_utc"].endswith("T16:00:00+00:00")
    assert not (fresh.root / "T0/00/run_01/agent").exists() and fresh.calls("judge") == []


def test_a_denied_tool_is_recorded_and_effort_is_passed(fresh, mock):
    _claude_spec(fresh, claude_cli(), thinking="low", allowed_tools=["Read", "Write", "Edit"])
    mock.script.extend([[tool("Bash", command="curl http://example.com > out.txt")], [text("Could not fetch.")]])
    fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    denied = fresh.json("T0/00/run_01/agent/result.json")["permission_denials"]
    assert [(d["tool_name"], d["tool_input"]["command"]) for d in denied] == [
        ("Bash", "curl http://example.com > out.txt")]
    assert fresh.json("T0/00/run_01/run_result.json")["permission_denials"] == ["Bash"]
    assert "Permission denials: Bash" in (fresh.root / "T0/00/run_01/report.md").read_text()
    main_loop = [r["body"] for r in mock.requests if r["main_loop"]]
    assert main_loop and all(b["output_config"]["effort"] == "low" and b["thinking"]["type"] != "disabled"
                             for b in main_loop)
    assert "--effort low" in (fresh.root / "T0/00/run_01/agent/replay.sh").read_text()


def test_max_turns_is_an_agent_outcome_that_is_judged(fresh, mock):
    _claude_spec(fresh, claude_cli(), max_turns=1)
    mock.default = [tool("Write", file_path="NOTES.md", content="thinking\n")]
    fresh.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    result = fresh.json("T0/00/run_01/run_result.json")
    assert result["agent_outcome"] == "max_turns" and result["exit_code"] == 1
    assert len(result["judges"]) == 2 and fresh.calls("judge") == ["T0/00/run_01 2"]


VERDICT = '{"score": 0.8, "passed": true, "reasoning": "Mock Claude judge.", "criteria_scores": {}}'


def test_claude_code_judge_without_tools_and_with_reply_retries(hello, mock):
    cli = claude_cli()
    hello.edit_spec(lambda s: s["judges"].append({"adapter": "claude-code", "model": "claude-opus-4-6",
                                                  "options": {"cli": cli}}))
    hello.edit_spec(lambda s: s.update(tiers={"T0": ["00", "01"]}))
    mock.plain.extend([[text("Hmm, hard to say.")], [text(f"Sure.\n```json\n{VERDICT}\n```")],
                       [text(f"Having read the diff, my verdict is {VERDICT} and that is final.")]])
    mock.plain_default = [text("I refuse to answer in JSON.")]
    hello.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    judgments = sorted(hello.root.glob("T0/*/run_*/judge/judge_03/judgment.json"))
    assert len(judgments) == 4
    verdicts = [hello.json(str(j)) for j in judgments]
    valid = [v for v in verdicts if v["is_valid"]]
    assert len(valid) == 2 and all(v["score"] == 0.8 and v["grade"] == "A" for v in valid)
    assert all(v["cost_usd"] > 0 for v in verdicts)                   # the CLI's own cost, recorded
    requests = [r["body"] for r in mock.requests]
    assert requests and all(not body.get("tools") for body in requests)          # no tools offered
    system = json.dumps(requests[0].get("system"))
    assert "Scylla judge instructions" in system
    assert "did not contain the JSON verdict" in json.dumps(requests[1]["messages"])   # the retry reminder
    assert len(requests) == 2 + 1 + 2 * 2                             # one retry per unparseable reply
    for path in hello.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path
