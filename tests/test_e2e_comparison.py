"""Several agents compared on one spec (`agents:`), by real `doit`: each agent's experiment completes in its
own root under the comparison's, the comparison's analysis stacks them keyed by agent, a second `doit`
runs nothing, and an agent added later runs only its own calls and the aggregates."""

from __future__ import annotations

import hashlib

import pytest

pytestmark = pytest.mark.e2e

# each scripted agent notes its name and run in the call log, then runs the hello agent
AGENT = {"adapter": "command", "command": 'echo "named $SCYLLA_MODEL $SCYLLA_RUN_ID" >> "$SCYLLA_CALL_LOG"; '
                                          '"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py"'}


def _comparison(spec: dict, *names: str) -> None:
    spec.pop("agent", None)
    spec.update(tiers={"T0": ["00", "01"]}, runs=1, compare=["alpha", "beta"],
                agents=[{"name": n, "model": f"scripted-{n}", **AGENT} for n in names])


def _digests(root) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and ".scylla" not in p.parts}


def _analysis(executed: list[str]) -> list[str]:
    return [t for t in executed if t.startswith("analysis:")]


def test_agents_are_compared_on_the_same_subtests_and_an_added_agent_runs_alone(fresh):
    fresh.edit_spec(lambda s: _comparison(s, "alpha", "beta"))
    first = fresh.doit()
    assert [t for t in first.executed if not t.startswith("analysis:")] == ["agents:alpha", "agents:beta"]
    assert "analysis:frames" in first.executed and "analysis:stats" in first.executed
    # each agent's own doit ran its whole experiment, in its own root
    assert "alpha: .  agent:T0/00/run_01" in first.stdout and "beta: .  judge:T0/01/run_01/judge_02" in first.stdout
    assert sorted(fresh.calls("named")) == ["scripted-alpha T0/00/run_01", "scripted-alpha T0/01/run_01",
                                            "scripted-beta T0/00/run_01", "scripted-beta T0/01/run_01"]
    root = fresh.root
    for name in ("alpha", "beta"):
        result = fresh.json(f"{name}/T0/00/run_01/run_result.json")
        assert result["judge_score"] is not None
        assert fresh.json(f"{name}/result.json")["experiment_id"] == name
    summary = fresh.json("analysis/summary.json")
    assert summary["experiments"] == ["alpha", "beta"] and summary["overall"]["runs"] == 4
    runs_csv = (root / "analysis/data/runs.csv").read_text().splitlines()
    assert runs_csv[0].split(",")[0] == "experiment"
    assert sorted({line.split(",")[0] for line in runs_csv[1:]}) == ["alpha", "beta"]
    assert "paired" in fresh.json("analysis/statistical_results.json")
    # each agent's own statistics over its runs, in the spec's order, and their table
    assert list(summary["by_experiment"]) == ["alpha", "beta"]
    assert summary["by_experiment"]["alpha"]["runs"] == 2 and summary["by_experiment"]["alpha"]["subtests"] == 2
    table = (root / "analysis/tables/experiments.md").read_text().splitlines()
    assert [line.split(" | ")[0] for line in table if line.startswith(("| alpha", "| beta"))] == \
        ["| alpha", "| beta"]

    fresh.reset_calls()
    second = fresh.doit()
    assert second.executed == [] and fresh.calls("named") == [] and fresh.calls("judge") == []
    status = fresh.doit("status").stdout
    assert status.startswith("comparison hello")
    assert "alpha        command scripted-alpha: runs complete 2/2; nothing to run" in status

    before = {n: _digests(root / n) for n in ("alpha", "beta")}
    fresh.edit_spec(lambda s: _comparison(s, "alpha", "beta", "gamma"))
    status = fresh.doit("status").stdout
    assert "gamma        command scripted-gamma: runs complete 0/2; next doit runs" in status
    third = fresh.doit()
    assert [t for t in third.executed if not t.startswith("analysis:")] == ["agents:gamma"], third.stdout
    assert sorted(fresh.calls("named")) == ["scripted-gamma T0/00/run_01", "scripted-gamma T0/01/run_01"]
    assert len(fresh.calls("judge")) == 2          # gamma's two runs, one paid judge each
    assert {n: _digests(root / n) for n in ("alpha", "beta")} == before
    assert fresh.json("analysis/summary.json")["experiments"] == ["alpha", "beta", "gamma"]
    # `doit verify` of the comparison verifies every agent's tree too
    assert fresh.doit("verify").stdout.count("derived files intact") == 4
    with (root / "beta/T0/00/run_01/run_result.json").open("a") as fh:
        fh.write(" ")
    forged = fresh.doit("verify", check=False)
    assert forged.returncode == 1
    assert "beta:   T0/00/run_01/run_result.json: changed since run:T0/00/run_01 wrote it" in forged.stdout


def test_a_comparison_spec_names_each_agent_once_and_compares_two_of_them(fresh):
    fresh.edit_spec(lambda s: _comparison(s, "alpha", "alpha"))
    bad = fresh.doit(check=False)
    assert bad.returncode != 0 and "key 'agents[1].name': two agents named 'alpha'" in bad.stderr
    fresh.edit_spec(lambda s: (_comparison(s, "alpha", "beta"), s.update(compare=["alpha", "delta"])))
    bad = fresh.doit(check=False)
    assert "key 'compare': expected two different names of the agents (baseline, candidate): alpha, beta" in bad.stderr
    fresh.edit_spec(lambda s: (_comparison(s, "alpha", "analysis")))
    bad = fresh.doit(check=False)
    assert "key 'agents[1].name'" in bad.stderr and "not analysis, config, results" in bad.stderr
