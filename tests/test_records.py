"""The records of scylla/records.py hold exactly the keys their builders write, so neither can drift:
each builder is run on a small example and its keys compared with its record's (required ones always
there, the others only where the record says a key may be left out)."""

from __future__ import annotations

from types import SimpleNamespace
from typing import cast

import orjson
import pytest
from conftest import PROJECTSCYLLA

from scylla import adapters, durable, forecast, pipeline, records, resources, results
from scylla.agents import command
from scylla.judges import reply
from scylla.kinds import TaskId
from scylla.spec import load_tier


def keys(record) -> set[str]:
    return set(record.__required_keys__ | record.__optional_keys__)


def assert_fits(made: dict, record, exactly: bool = True) -> None:
    """`made` has every required key of `record` and no key it does not declare (`exactly`: every key)."""
    assert set(record.__required_keys__) <= set(made), sorted(set(record.__required_keys__) - set(made))
    assert set(made) <= keys(record), sorted(set(made) - keys(record))
    if exactly:
        assert set(made) == keys(record), sorted(keys(record) - set(made))


def judgment(n: int, score: float) -> records.SlotJudgment:
    made = reply.judgment_file(orjson.dumps({"score": score, "reasoning": f"judge {n}"}).decode(),
                               reply.call_record("command", f"m{n}", n, 0.01, 1, True), 0.5)
    return cast(records.SlotJudgment, {**made, "judge_duration_seconds": 2.0, "measured_at": "2026-01-01T00:00:01+00:00"})


AGENT: records.AgentResult = {"exit_code": 0, "stdout": "", "stderr": "", "cost_usd": 0.5, "api_calls": 3, "outcome": "completed",
         "token_stats": {"input_tokens": 10, "output_tokens": 20, "cache_creation_tokens": 30, "cache_read_tokens": 40},
         "model_usage": {}, "permission_denials": [{"tool_name": "Bash"}],
         "sandbox": {"kind": "bubblewrap", "note": None, "network": [], "violations": [{"kind": "connect"}]}}
TIMING: records.AgentTiming = {"agent_duration_seconds": 10.0, "measured_at": "2026-01-01T00:00:00+00:00"}
PATHS = {"workspace_path": "w", "logs_path": "l", "command_log_path": "c"}


def run(number: int, agent: records.AgentResult = AGENT) -> records.RunResult:
    judges = [judgment(1, 0.9), judgment(2, 0.4)]
    return results.run_result(number, agent, TIMING, results.consensus(judges), judges, PATHS)


def test_judge_records_match_reply_and_consensus():
    assert_fits(reply.judgment({"score": 0.7}, 0.5), records.Judgment)
    assert_fits(reply.invalid_judgment("no verdict"), records.Judgment)
    made = judgment(1, 0.9)
    assert_fits({k: v for k, v in made.items() if k not in records.JudgeTiming.__annotations__},
                records.JudgmentFile, exactly=False)
    assert_fits(reply.call_record("command", "m", 1, None, 2, False), records.CallRecord, exactly=False)
    assert_fits(reply.call_record("openai", "m", 1, 0.1, 1, True, cost_known=True, reply_bytes=9),
                records.CallRecord)
    assert_fits(results.consensus([made, judgment(2, 0.4)]), records.Consensus)
    assert_fits(results.consensus([]), records.Consensus)


def test_run_result_matches_its_record_and_leaves_out_unknown_schema_numbers():
    full = run(1)
    assert_fits(full, records.RunResult)
    for j in full["judges"]:
        assert_fits(j, records.RunJudge)
    assert_fits(full["token_stats"], records.TokenStats)
    unknown = run(2, {**AGENT, "cost_usd": None, "token_stats": {}})
    assert_fits(unknown, records.RunResult, exactly=False)
    assert keys(records.RunResult) - set(unknown) == set(results.SCHEMA_NUMBERS)
    assert_fits(results.normalized_run(full), records.NormalizedRun)
    older = {"run_number": 1, "exit_code": 0, "judge_score": 0.5, "judge_passed": True}   # ProjectScylla's, minimal
    assert_fits(results.normalized_run(older), records.NormalizedRun, exactly=False)


def test_aggregates_match_their_records():
    runs = [results.normalized_run(run(n)) for n in (1, 2)]
    subtest = results.subtest_summary("T0", "00", runs)
    assert_fits(subtest, records.SubtestSummary)
    assert_fits(subtest["token_stats"], records.TokenStats)
    tier = results.tier_summary("T0", [subtest])
    assert_fits(tier, records.TierSummary)
    assert_fits(tier["subtests"]["00"], records.SubtestTotals)
    assert_fits(results.best_identity("T0", tier), records.BestSubtest)
    assert_fits(results.wall_clock(runs), records.WallClock)
    experiment = results.experiment_summary("hello", [tier])
    assert_fits(experiment, records.ExperimentSummary)
    for row in results.tier_comparison([tier]):
        assert_fits(row, records.TierComparisonRow)


def test_agent_result_matches_its_record(tmp_path):
    line = {"type": "result", "subtype": "success", "num_turns": 2, "total_cost_usd": 0.25,
            "permission_denials": [], "usage": {"input_tokens": 1, "output_tokens": 2},
            "modelUsage": {"m": {"inputTokens": 1, "outputTokens": 2, "costUSD": 0.25}}}
    (tmp_path / "stdout.log").write_bytes(orjson.dumps(line))
    (tmp_path / "stderr.log").write_text("")
    durable.write_json(tmp_path / "command_log.json", {"commands": [{"exit_code": 0}]})
    made = adapters.derive_agent_result(tmp_path)
    assert_fits(made, records.AgentResult, exactly=False)
    assert_fits(made["sandbox"], records.SandboxRecord)
    assert made["sandbox"]["kind"] == "unknown"           # (this command_log.json records none)
    # (not in this line, or only for other agents' CLIs and subtests with resources they cannot receive)
    assert set(records.AgentResult.__optional_keys__) - set(made) == {"terminal_reason", "cost_source",
                                                                      "unsupported_resources"}
    for usage in made["model_usage"].values():
        assert_fits(usage, records.ModelUsage)
    (tmp_path / "stdout.log").write_text("no result line")
    assert_fits(command.derive_result(tmp_path), records.AgentResult, exactly=False)


def test_pipeline_results_match_their_record(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text('<testsuites><testsuite tests="3" failures="1" errors="0" skipped="1"/></testsuites>')
    counts = pipeline._junit_counts(junit)
    assert counts is not None
    assert_fits(counts, records.JunitCounts)
    step = pipeline._step("pass", 0, "exit code 0", "true")
    assert_fits(step, records.PipelineStep)
    made = pipeline._result("python", {"build": step}, counts, {"python": "3.11", "ruff": None})
    assert set(made) == keys(records.PipelineResult) - {"adopted_from", "note"}
    assert_fits(made, records.PipelineResult, exactly=False)
    placeholder = pipeline.adopted_placeholder("ProjectScylla")
    assert set(placeholder) == keys(records.PipelineResult) - {"language", "toolchain"}
    assert_fits(placeholder, records.PipelineResult, exactly=False)


def test_config_manifest_matches_its_record(tmp_path):
    tiers = PROJECTSCYLLA / "tiers"
    subtest = next(s for s in load_tier(tiers, "T4") if s.id == "08")
    composed = resources.compose(tiers, subtest, [])
    assert_fits(composed, records.ConfigManifest, exactly=False)
    assert_fits(composed["resources"], records.Resources)
    files = adapters.agent("claude-code").config_files(tiers, composed)     # (as the agent's adapter renders it)
    assert_fits(resources.materialize(composed, files, tmp_path), records.ConfigManifest)


JUDGE = "judge:T0/00/run_01/judge_01"


class _Plan:
    """The little of a Plan the forecast reads: one judge call of the pipeline judge to run."""

    def __init__(self) -> None:
        self.verdicts = {JUDGE: SimpleNamespace(state="to_run")}
        self.tasks = {JUDGE: SimpleNamespace(meta={"config": {"adapter": "pipeline"}})}

    def id(self, name: str) -> TaskId:
        return TaskId(name, "judge", "T0", "T0/00", 1, "judge_01")


def test_forecast_matches_its_record():
    made = forecast.forecast(_Plan(), None, [JUDGE])
    assert_fits(made, records.Forecast)
    assert_fits(made["rows"]["judge_01"], records.ForecastRow)


def test_read_and_write(tmp_path):
    path = tmp_path / "run_result.json"
    made = run(1)
    assert records.write(path, made)
    assert path.read_bytes() == durable.dumps(made)         # the bytes durable writes, key order kept
    assert records.read(path, records.RunResult) == made
    path.write_text("[1]")
    with pytest.raises(durable.ArtifactError, match=rf"{path}: expected a JSON object, got list"):
        records.read(path, records.RunResult)
