"""An agent adapter defined only in the tests (tests/adapters_for_tests/echo_agent.py), named in the spec as
`module:Attribute`, runs an experiment end to end with real `doit`; a second `doit` executes nothing."""

from __future__ import annotations

import json
import os
from pathlib import Path

from adapters_for_tests.echo_agent import COST_USD

TESTS = Path(__file__).resolve().parent
ECHO = "adapters_for_tests.echo_agent:EchoAgent"


def test_a_third_party_agent_adapter_runs_an_experiment_end_to_end(fresh):
    def spec(s):
        s["tiers"] = {"T0": ["00"], "T1": ["02"]}           # no resources; one skill
        s["runs"] = 1
        s["agent"] = {"adapter": ECHO, "model": "echo-1"}
    fresh.edit_spec(spec)
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}

    first = fresh.doit(env=env)
    assert {"agent:T0/00/run_01", "agent:T1/02/run_01", "experiment"} <= set(first.executed), str(first)
    assert sorted(fresh.calls("agent")) == ["T0/00/run_01", "T1/02/run_01"]
    agent = fresh.root / "T1/02/run_01/agent"
    assert fresh.json("T1/02/run_01/agent/command_log.json")["adapter"] == ECHO
    # agent/result.json is the echo adapter's own parser's (no Claude-style result line exists)
    result = fresh.json("T1/02/run_01/agent/result.json")
    assert result["cost_usd"] == COST_USD and result["token_stats"]["input_tokens"] > 0
    assert fresh.json("T1/02/run_01/run_result.json")["cost_usd"] == COST_USD
    assert fresh.json("result.json")["total_agent_cost_usd"] == 2 * COST_USD
    # tier resources rendered the adapter's way, and only its paths: no CLAUDE.md, no .claude/
    config = fresh.root / "T1/02/config"
    assert sorted(p.relative_to(config).as_posix() for p in config.rglob("*")) == ["AGENTS.md"]
    assert (config / "AGENTS.md").read_text() == "- encoding/run-length-encoding\n"
    assert (agent / "output.txt").read_text().endswith("AGENTS.md had 1 lines\n")
    assert "ECHO.md" in (agent / "patch.diff").read_text()
    assert not (fresh.root / "T0/00/config/AGENTS.md").exists()
    for run in ("T0/00/run_01", "T1/02/run_01"):             # judged like any run
        assert len(fresh.json(f"{run}/run_result.json")["judges"]) == 2

    fresh.reset_calls()
    second = fresh.doit(env=env)
    assert second.executed == [] and fresh.calls("agent") == [] and fresh.calls("judge") == [], str(second)


def test_another_agent_adapter_renders_the_tier_resources_its_own_way(hello):
    """Switching a finished experiment to an adapter that renders tier resources differently re-renders
    every subtest's config/ (status says so first) and re-runs the agents, whose identity changed."""
    env = {"PYTHONPATH": os.pathsep.join([str(TESTS), os.environ.get("PYTHONPATH", "")])}
    config = hello.root / "T1/02/config"
    assert (config / "CLAUDE.md").exists() and not (config / "AGENTS.md").exists()
    hello.edit_spec(lambda s: s.update(agent={"adapter": ECHO, "model": "echo-1"}))
    status = json.loads(hello.doit("status", "--json", env=env, check=False).stdout)
    configs = sorted(n for n in status["to_run"] if n.startswith("subtest_config:"))
    assert len(configs) == 5 and len([n for n in status["to_run"] if n.startswith("agent:")]) == 10

    run = hello.doit(env=env)
    assert sorted(n for n in run.executed if n.startswith("subtest_config:")) == configs, str(run)
    assert sorted(p.relative_to(config).as_posix() for p in config.rglob("*")) == ["AGENTS.md"]
    assert len(hello.calls("agent")) == 10
    assert (hello.root / "T1/02/run_01/agent/output.txt").read_text().endswith("AGENTS.md had 1 lines\n")
