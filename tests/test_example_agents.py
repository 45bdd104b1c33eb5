"""examples/agents by real `doit`: the five real agent CLIs (Claude Code, Codex, Gemini CLI, OpenCode, Aider)
do the hello task against loopback mocks of their vendors' wire formats (examples/agents/mock_models.py:
Anthropic Messages, OpenAI Responses, Gemini streamGenerateContent, OpenAI Chat Completions), compared on
the same subtests and judges. A second `doit` calls no model; a sixth agent added to the spec runs only its
own calls and the comparison's aggregates.

The CLIs are installed by .ci/run (pinned); elsewhere this test skips when one is missing, but with
SCYLLA_REQUIRE_CLAUDE=1 (set by .ci/run) a missing CLI fails it."""

from __future__ import annotations

import hashlib
import importlib.util

import pytest
from conftest import REPO, agent_cli, make_checkout

pytestmark = pytest.mark.e2e

CLIS = {"claude-code": "claude", "codex": "codex", "gemini": "gemini", "opencode": "opencode", "aider": "aider"}
SERVER = {"claude-code": "anthropic", "codex": "responses", "gemini": "gemini", "opencode": "chat", "aider": "chat"}
KEYS = {"ANTHROPIC_API_KEY": "sk-ant-example-0123456789abcdef", "OPENAI_API_KEY": "sk-example-0123456789abcdef",
        "GEMINI_API_KEY": "AIza-example-0123456789abcdef"}
RUNS = ("T0/01/run_01", "T1/01/run_01", "T5/01/run_01")


def _mock_models():
    spec = importlib.util.spec_from_file_location("mock_models", REPO / "examples/agents/mock_models.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def models():
    servers = _mock_models().start(dict.fromkeys(("anthropic", "responses", "gemini", "chat"), 0))
    yield servers
    for server in servers.values():
        server.close()


def _point_at(spec: dict, servers: dict, clis: dict) -> None:
    for agent in spec["agents"]:
        agent["base_url"] = servers[SERVER[agent["adapter"]]].url
        agent["options"] = {"cli": clis[agent["adapter"]]}


def _digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".scylla" not in p.parts}


def _counts(servers: dict) -> dict[str, int]:
    return {name: len(server.requests) for name, server in servers.items()}


def test_five_agents_do_the_hello_task_and_a_sixth_runs_alone(tmp_path, models):
    clis = {adapter: agent_cli(cli) for adapter, cli in CLIS.items()}
    checkout = make_checkout(tmp_path / "scylla", "agents")
    checkout.edit_spec(lambda s: _point_at(s, models, clis))
    first = checkout.doit("-n", "2", env=KEYS, timeout=1500)
    assert [t for t in first.executed if t.startswith("agents:")] == [f"agents:{n}" for n in CLIS]
    root = checkout.root
    for name in CLIS:
        for run in RUNS:
            agent = f"{name}/{run}/agent"
            # the scripted tool call (aider: its edit block) wrote textkit.py; the pipeline's tests pass
            assert "+    return len(text.split())" in (root / agent / "patch.diff").read_text(), agent
            assert checkout.json(f"{name}/{run}/commands/pipeline.json")["tests"]["passed"] == 12, agent
            result = checkout.json(f"{agent}/result.json")
            assert result["outcome"] == "completed" and result["cost_usd"] > 0, (agent, result["cost_usd"])
            assert result["token_stats"]["output_tokens"] > 0 and result["sandbox"]["kind"] == "bubblewrap"
            assert result["token_stats"] == checkout.json(f"{name}/{RUNS[0]}/agent/result.json")["token_stats"]
            assert checkout.json(f"{name}/{run}/run_result.json")["judge_score"] > 0.9
        # T5 adds sub-agents: recorded as not supported by the agents that cannot take them
        unsupported = checkout.json(f"{name}/T5/01/run_01/agent/result.json").get("unsupported_resources", [])
        assert ("sub-agent L3/code-reviewer: not supported by " + name in unsupported) == \
            (name in ("codex", "gemini", "aider"))
    summary = checkout.json("analysis/summary.json")
    assert summary["experiments"] == list(CLIS) and summary["overall"]["runs"] == 15
    assert "paired" in checkout.json("analysis/statistical_results.json")
    for path in root.rglob("*"):
        assert not path.is_file() or not any(k.encode() in path.read_bytes() for k in KEYS.values()), path

    before = _counts(models)
    second = checkout.doit("-n", "2", env=KEYS, timeout=600)
    assert second.executed == [] and _counts(models) == before

    trees = {n: _digests(root / n) for n in CLIS}
    checkout.edit_spec(lambda s: s["agents"].append({
        "name": "claude-haiku", "adapter": "claude-code", "model": "claude-haiku-4-5",
        "base_url": models["anthropic"].url, "options": {"cli": clis["claude-code"]}}))
    third = checkout.doit("-n", "2", env=KEYS, timeout=900)
    assert [t for t in third.executed if not t.startswith("analysis:")] == ["agents:claude-haiku"]
    after = _counts(models)
    assert {n: after[n] - before[n] for n in after if after[n] != before[n]}.keys() == {"anthropic"}
    new = models["anthropic"].requests[before["anthropic"]:]
    assert {r["body"]["model"] for r in new if r["main_loop"]} == {"claude-haiku-4-5"}
    assert {n: _digests(root / n) for n in CLIS} == trees
    assert checkout.json("analysis/summary.json")["experiments"] == [*CLIS, "claude-haiku"]
