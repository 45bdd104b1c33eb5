"""The analysis frames' pure parts (scylla/analysis/frames.py) with worked numbers: impl rate, outcome
classes, split decisions, rubric weights, the CSV cells; and the concatenation's header check."""

from __future__ import annotations

import math
from typing import Any, cast

import pytest

from scylla import durable, results
from scylla.analysis import frames

KEY = {"experiment": "e", "agent_model": "m", "tier": "T0", "subtest": "00", "run": 1}


def test_impl_rate_is_achieved_over_maximum_points_and_unknown_without_points():
    # ProjectScylla's criteria: achieved and max; (3 + 5.5) / (4 + 6)
    assert frames.judge_impl_rate({"a": {"achieved": 3, "max": 4, "score": 0.75},
                                   "b": {"achieved": 5.5, "max": 6}}) == 0.85
    # Scylla's pipeline judge: the applicable points (N/A items left out); a category with none adds 0 / 0
    assert frames.judge_impl_rate({"a": {"achieved": 2.0, "applicable": 5.0}, "b": {"achieved": 0.0,
                                                                               "applicable": 0.0}}) == 0.4
    assert frames.judge_impl_rate({"a": {"score": 0.9}, "b": 0.5}) is None          # scores only: unknown
    assert frames.judge_impl_rate({"a": {"achieved": 0, "max": 0}}) is None          # nothing to achieve
    assert frames.judge_impl_rate(None) is None and frames.judge_impl_rate({}) is None
    assert frames.judge_impl_rate({"a": {"achieved": math.nan, "max": 1}}) is None


def test_a_runs_impl_rate_is_the_median_over_valid_judges_that_record_points():
    def j(rate, valid=True):
        return {"score": 0.5, "is_valid": valid, "criteria_scores": {"c": {"achieved": rate, "max": 1.0}}}
    assert frames.run_impl_rate([j(0.2), j(0.9), j(0.4)]) == 0.4
    assert frames.run_impl_rate([j(0.2), j(0.6)]) == pytest.approx(0.4)            # even count: the mean of two
    assert frames.run_impl_rate([j(0.2), j(1.0, valid=False)]) == 0.2              # invalid judges do not count
    assert frames.run_impl_rate([{"score": 0.5, "criteria_scores": {}}]) is None


@pytest.mark.parametrize(("run", "empty", "expected"), [
    ({"agent_outcome": "error_api_error", "judge_valid": True, "judge_passed": True, "exit_code": 1}, False,
     "infrastructure"),
    ({"judge_valid": False, "judge_passed": False, "exit_code": 0}, True, "judge invalid"),
    ({"judge_valid": True, "judge_passed": True, "exit_code": 1, "agent_outcome": "max_turns"}, True, "passed"),
    ({"judge_valid": True, "judge_passed": False, "exit_code": 0, "agent_outcome": "max_turns"}, True, "agent error"),
    ({"judge_valid": True, "judge_passed": False, "exit_code": 2, "agent_outcome": "exit_2"}, False, "agent error"),
    ({"judge_valid": True, "judge_passed": False, "exit_code": 0, "agent_outcome": "completed"}, True, "empty diff"),
    ({"judge_valid": True, "judge_passed": False, "exit_code": 0}, None, "failed"),     # patch unknown (adopted)
    ({"judge_valid": True, "judge_passed": False, "exit_code": 0}, False, "failed"),
])
def test_outcome_classes_the_first_that_applies(run, empty, expected):
    assert frames.outcome(run, empty) == expected


def _run(**over) -> Any:
    base: dict[str, Any] = {"run_number": 1, "exit_code": 0, "judge_score": 0.5, "judge_passed": True, "judge_grade": "C",
            "judge_valid": True, "cost_usd": 0.25, "judge_cost_usd": 0.125, "duration_seconds": 3.0,
            "token_stats": {"input_tokens": 1, "output_tokens": 2, "cache_creation_tokens": 3, "cache_read_tokens": 4}}
    return results.normalized_run(cast(Any, {**base, **over}))


def test_run_row_votes_split_decisions_pipeline_verdict_and_total_cost():
    judgments = [{"judge_number": 1, "score": 0.9, "passed": True, "judge_kind": "pipeline"},
                 {"judge_number": 2, "score": 0.3, "passed": False},
                 {"judge_number": 3, "score": 0.0, "passed": False, "is_valid": False}]
    row = frames.run_row(KEY, _run(), {"api_calls": 4}, False, judgments)
    assert (row["judges"], row["valid_judges"], row["pass_votes"], row["split_decision"]) == (3, 2, 1, True)
    assert (row["pipeline_score"], row["pipeline_passed"]) == (0.9, True)
    assert row["total_cost_usd"] == 0.375 and row["total_tokens"] == 10 and row["api_calls"] == 4
    assert row["num_turns"] is None and row["outcome"] == "passed"
    unanimous = frames.run_row(KEY, _run(judge_cost_usd=None), {}, False, judgments[1:])
    assert (unanimous["split_decision"], unanimous["pipeline_score"], unanimous["total_cost_usd"]) == \
        (False, None, None)                 # one valid judge cannot split; an unknown judge cost: total unknown
    assert set(row) == set(frames.RUN_COLUMNS)


def test_rubric_weights_from_categories_or_requirements():
    assert frames.rubric_weights({"categories": {"functional": {"weight": 0.6}, "style": {}}}) == {"functional": 0.6}
    assert frames.rubric_weights({"requirements": [{"id": "R1", "weight": 2}, {"id": "R2"}]}) == {"R1": 2.0}
    assert frames.rubric_weights(None) == {}
    rows = frames.criterion_rows(KEY, "judge_01", {"score": 1.0, "criteria_scores": {
        "style": 0.5, "functional": {"score": 0.25, "achieved": 1, "max": 4}}}, {"functional": 0.6})
    assert [(r["criterion"], r["score"], r["achieved"], r["max_points"], r["weight"]) for r in rows] == \
        [("functional", 0.25, 1.0, 4.0, 0.6), ("style", 0.5, None, None, None)]


def test_csv_cells_repr_floats_empty_unknowns_and_refuse_nan():
    text = frames.to_csv(("a", "b", "c", "d"), [{"a": 0.1 + 0.2, "b": None, "c": True, "d": "x, y"}, {"a": 3}])
    assert text == 'a,b,c,d\n0.30000000000000004,,true,"x, y"\n3,,,\n'
    with pytest.raises(ValueError, match="finite"):
        frames.to_csv(("a",), [{"a": math.inf}])


def test_concatenation_refuses_a_part_with_another_header(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, columns in frames.FRAMES.items():
        durable.write_text(f"p/{name}.csv", frames.to_csv(columns, []))
    durable.write_text("p/runs.csv", "experiment,other\n")
    with pytest.raises(durable.ArtifactError, match="p/runs.csv: its header"):
        frames.concatenate(["p"], "out")


def test_subtest_sd_and_consistency_are_unknown_with_one_run_not_0_and_1():
    # result.json keeps ProjectScylla's std 0 and consistency 1 for one run (ProjectScylla's dry run published
    # consistency 1.000 for each of its single-run subtests); the frame leaves them empty instead
    key = {k: KEY[k] for k in ("experiment", "agent_model", "tier", "subtest")}
    one = {"runs": 1, "passed": 1, "mean_score": 0.97, "std_score": 0.0, "consistency": 1.0}
    row = frames.subtest_row(key, one)
    assert (row["std_score"], row["consistency"], row["mean_score"]) == (None, None, 0.97)
    two = {"runs": 2, "passed": 2, "mean_score": 0.9, "std_score": 0.1, "consistency": 0.8888888888888888}
    row = frames.subtest_row(key, two)
    assert (row["std_score"], row["consistency"]) == (0.1, 0.8888888888888888)
    cells = dict(zip(frames.SUBTEST_COLUMNS, frames.to_csv(
        frames.SUBTEST_COLUMNS, [frames.subtest_row(key, one)]).splitlines()[1].split(","), strict=True))
    assert (cells["std_score"], cells["consistency"], cells["mean_score"]) == ("", "", "0.97")
