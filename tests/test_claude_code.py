"""The `claude-code` agent adapter: the real `claude` CLI against a loopback Messages API mock.

The CLI is installed by .ci/run (npm, pinned); elsewhere these tests skip when it is missing, but
with SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run) a missing CLI fails them."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from conftest import REPO
from mock_anthropic import AnthropicMock, error, text, tool

KEY = "sk-ant-mock-key-0123456789abcdef"
TEXTKIT = '''"""textkit, implemented."""


def word_count(text: str) -> int:
    return len(text.split())


def is_palindrome(text: str) -> bool:
    chars = [c.lower() for c in text if c.isalnum()]
    return chars == chars[::-1]


def char_histogram(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in text.lower():
        if c.isalpha():
            counts[c] = counts.get(c, 0) + 1
    return counts


def title_case(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))


def compress_runs(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(text[i] + (str(j - i) if j - i > 1 else ""))
        i = j
    return "".join(out)
'''


def claude_cli() -> str:
    found = shutil.which("claude") or next(
        (str(p) for p in [REPO / ".ci/node/node_modules/.bin/claude"] if p.exists()), None)
    if found is None:
        if os.environ.get("SCYLLA_REQUIRE_CLAUDE") == "1":
            pytest.fail("the claude CLI is required here (SCYLLA_REQUIRE_CLAUDE=1) but is not installed")
        pytest.skip("the claude CLI is not installed (npm install @anthropic-ai/claude-code)")
    return found


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
    # tokens are what the mock reported, summed over every request the CLI made (modelUsage)
    n = len([r for r in mock.requests if "count_tokens" not in r["path"]])
    assert result["token_stats"] == {"input_tokens": 33 * n, "output_tokens": 12 * n,
                                     "cache_creation_tokens": 100 * n, "cache_read_tokens": 2000 * n}
    assert result["cost_usd"] > 0
    assert (run / "agent/output.txt").read_text() == "Done: implemented every function in textkit.py."
    assert "**CLI**: 2.1." in (run / "agent/MODEL.md").read_text()
    assert fresh.json("T0/00/run_01/run_result.json")["judge_score"] > 0.9
    for path in fresh.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path


def _claude_spec(fresh, cli, max_turns=5, **options):
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=max_turns,
                                       rate_limit={"retries": 2, "backoff_seconds": 1}, agent={
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
    mock.plain.extend([[text("Hmm, hard to say.")], [text(f"Sure.\n```json\n{VERDICT}\n```")]])
    mock.plain_default = [text("I refuse to answer in JSON.")]
    hello.doit(env={"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})
    judgments = sorted(hello.root.glob("T0/*/run_*/judge/judge_03/judgment.json"))
    assert len(judgments) == 4
    verdicts = [hello.json(str(j)) for j in judgments]
    valid = [v for v in verdicts if v["is_valid"]]
    assert len(valid) == 1 and valid[0]["score"] == 0.8 and valid[0]["grade"] == "A"
    assert all(v["cost_usd"] > 0 for v in verdicts)                   # the CLI's own cost, recorded
    requests = [r["body"] for r in mock.requests]
    assert requests and all(not body.get("tools") for body in requests)          # no tools offered
    system = json.dumps(requests[0].get("system"))
    assert "Scylla judge instructions" in system
    assert "did not contain the JSON verdict" in json.dumps(requests[1]["messages"])   # the retry reminder
    assert len(requests) == 2 + 3 * 2                                 # one retry per unparseable reply
    for path in hello.root.rglob("*"):
        assert not path.is_file() or KEY.encode() not in path.read_bytes(), path
