"""The pipeline judge on worked examples whose scores are computed by hand."""

from __future__ import annotations

import pytest
import yaml
from conftest import PROJECTSCYLLA

from scylla.durable import dumps
from scylla.judges.pipeline import NEEDS_LLM, judge, match_step

FIXTURES = PROJECTSCYLLA / "fixtures"
PREAMBLE = "Deterministic pipeline judge (not a language model):"


def step(status: str, reason: str = "", exit_code: int | None = None) -> dict:
    exit_code = exit_code if exit_code is not None else {"pass": 0, "fail": 1}.get(status)
    return {"status": status, "exit_code": exit_code, "reason": reason or f"exit code {exit_code}", "command": "x"}


def pipeline(tests: tuple[int, int] | None = None, **statuses: str) -> dict:
    """A run_pipeline-shaped result: every step passes unless named; `tests` = (passed, total)."""
    steps = {name: step("pass") for name in ("build", "format", "lint", "test")}
    steps["precommit"] = step("na", "no .pre-commit-config.yaml")
    for name, status in statuses.items():
        steps[name] = step(status, "ruff not installed" if status == "na" else "")
    counts = None
    if tests is not None:
        passed, total = tests
        counts = {"total": total, "passed": passed, "failed": total - passed, "errors": 0, "skipped": 0}
        steps["test"] = step("pass" if passed == total else "fail")
    return {"language": "python", "steps": steps, "tests": counts,
            "all_passed": all(s["status"] != "fail" for s in steps.values())}


def item(id_: str, check: str, points: float = 1.0, na_condition: str | None = None) -> dict:
    return {"id": id_, "check": check, "points": points} | ({"na_condition": na_condition} if na_condition else {})


RUBRIC = {
    "categories": {
        "build_pipeline": {"weight": 0.6, "scoring_type": "checklist", "items": [
            item("T1", "Tests pass", 2.0),
            item("B1", "Build succeeds"),
        ]},
        "code_quality": {"weight": 0.4, "scoring_type": "checklist", "items": [
            item("L1", "No unused imports"),
            item("F1", "Code is formatted"),
            item("S1", "Names are clear and readable"),
        ]},
    },
    "grading": {"pass_threshold": 0.6},
}


@pytest.mark.parametrize(("check", "expected"), [
    ("Pre-commit hooks pass (or were already failing in baseline)", "precommit"),
    ("precommit is clean", "precommit"),
    ("Tests pass", "test"),
    ("No unnecessary test files created for this trivial task", "test"),  # keyword match, not meaning
    ("Python format check passes", "format"),
    ("Code follows PEP8 formatting standards (ruff check passes)", "format"),  # "format" rule comes first
    ("No unused imports or variables", "lint"),
    ("LINT clean", "lint"),
    ("Python syntax is valid (python -m compileall passes)", "build"),
    ("No build artifacts remaining", "build"),
    ("Code is idiomatic Python (not overly complex)", None),
])
def test_keyword_matching(check, expected):
    assert match_step(check) == expected


def test_three_of_four_tests_with_weights():
    # build_pipeline: T1 2 x 3/4 = 1.5, B1 1 -> 2.5/3; code_quality: L1 0 + F1 1 -> 1/2 (S1 N/A)
    # score = 0.6 x 2.5/3 + 0.4 x 1/2 = 0.5 + 0.2 = 0.7
    result = judge(RUBRIC, pipeline(tests=(3, 4), lint="fail"), pipeline())
    assert result["score"] == pytest.approx(0.7)
    assert result["passed"] is True
    assert result["is_valid"] is True and result["judge_kind"] == "pipeline"
    build = result["criteria_scores"]["build_pipeline"]
    assert build["score"] == pytest.approx(2.5 / 3)
    assert (build["achieved"], build["applicable"]) == (2.5, 3.0)
    assert build["items"]["T1"] == {
        "status": "partial", "score": 1.5, "points": 2.0, "evidence": "test: fail, exit code 1",
    }
    assert build["items"]["B1"]["status"] == "met"
    quality = result["criteria_scores"]["code_quality"]
    assert (quality["score"], quality["achieved"], quality["applicable"]) == (0.5, 1.0, 2.0)
    assert quality["items"]["L1"]["status"] == "unmet" and quality["items"]["L1"]["score"] == 0.0
    assert quality["items"]["S1"] == {"status": "na", "score": None, "points": 1.0, "evidence": NEEDS_LLM}
    assert list(quality["items"]) == ["L1", "F1", "S1"]  # rubric order
    assert result["reasoning"].startswith(PREAMBLE)
    assert "build_pipeline (weight 0.6): 2.5/3 points = 0.833" in result["reasoning"]


def test_below_threshold_fails():
    # build_pipeline: T1 2 x 1/4 = 0.5, B1 0 -> 0.5/3; code_quality 1/2 -> 0.6 x 0.5/3 + 0.4 x 0.5 = 0.3
    result = judge(RUBRIC, pipeline(tests=(1, 4), build="fail", lint="fail"), pipeline())
    assert result["score"] == pytest.approx(0.6 * 0.5 / 3 + 0.4 * 0.5)
    assert result["passed"] is False


def test_ruff_missing_excludes_the_category_and_reweights():
    # format and lint are na: code_quality has no applicable item left, so only build_pipeline counts.
    result = judge(RUBRIC, pipeline(tests=(3, 4), format="na", lint="na"), pipeline())
    assert result["criteria_scores"]["code_quality"]["score"] is None
    assert result["criteria_scores"]["code_quality"]["applicable"] == 0
    assert result["criteria_scores"]["code_quality"]["items"]["L1"] == {
        "status": "na", "score": None, "points": 1.0, "evidence": "lint: ruff not installed",
    }
    assert result["score"] == pytest.approx(2.5 / 3)
    assert "code_quality: not assessed (3 item(s) N/A)" in result["reasoning"]


def test_baseline_failing_step_with_baseline_wording_is_na():
    rubric = {"categories": {"tests": {"weight": 1.0, "scoring_type": "checklist", "items": [
        item("B3", "Tests pass (or were already failing in baseline)"),
        item("T2", "Tests pass"),
        item("B1", "Build passes", na_condition="Build already failed in baseline"),
    ]}}}
    baseline = pipeline(tests=(0, 2), build="fail")
    result = judge(rubric, pipeline(tests=(1, 2), build="fail"), baseline)
    items = result["criteria_scores"]["tests"]["items"]
    assert items["B3"]["status"] == "na"
    assert items["B3"]["evidence"] == "test: already failing in baseline (fail, exit code 1)"
    assert items["B1"]["status"] == "na"  # "baseline" in na_condition counts too
    assert items["T2"] == {"status": "partial", "score": 0.5, "points": 1.0, "evidence": "test: fail, exit code 1"}
    assert result["score"] == pytest.approx(0.5)
    assert result["passed"] is False  # default threshold 0.6


def test_baseline_that_passed_or_did_not_run_keeps_the_item():
    rubric = {"categories": {"c": {"weight": 1.0, "scoring_type": "checklist", "items": [
        item("B3", "Tests pass (or were already failing in baseline)"),
        item("B1", "Build passes (or was already failing in baseline)"),
    ]}}}
    baseline = pipeline(build="fail")
    baseline["steps"]["test"] = step("na", "no tests collected", exit_code=5)  # no tests before the agent
    result = judge(rubric, pipeline(tests=(4, 4), build="fail"), baseline)
    items = result["criteria_scores"]["c"]["items"]
    assert items["B3"]["status"] == "met" and items["B3"]["score"] == 1.0
    assert items["B1"]["status"] == "na"
    assert result["score"] == 1.0


def test_nothing_assessable():
    rubric = {"categories": {"overall": {"weight": 1.0, "scoring_type": "subjective", "items": [
        item("OQ1", "Overall engineering judgment", 2.0),
    ]}}, "grading": {"pass_threshold": 0.6}}
    result = judge(rubric, pipeline(), pipeline())
    assert result["score"] == 0.0
    assert result["passed"] is False
    assert result["reasoning"].startswith(PREAMBLE)
    assert "nothing was assessable" in result["reasoning"]
    assert result["criteria_scores"]["overall"] == {
        "score": None, "achieved": 0.0, "applicable": 0.0,
        "items": {"OQ1": {"status": "na", "score": None, "points": 2.0, "evidence": NEEDS_LLM}},
    }


def test_same_inputs_same_output_whatever_the_key_order():
    reordered = {"grading": RUBRIC["grading"], "categories": dict(reversed(RUBRIC["categories"].items()))}
    run = pipeline(tests=(3, 4), lint="fail")
    assert dumps(judge(RUBRIC, run, pipeline())) == dumps(judge(reordered, run, pipeline()))
    assert judge(RUBRIC, run, pipeline())["reasoning"] == judge(reordered, run, pipeline())["reasoning"]


def test_real_projectscylla_rubric():
    rubric = yaml.safe_load((FIXTURES / "test-001/expected/rubric.yaml").read_text())
    # After the agent: lint fails, 3 of 4 tests pass. Baseline: tests were already failing.
    result = judge(rubric, pipeline(tests=(3, 4), lint="fail"), pipeline(tests=(0, 1)))
    scores = result["criteria_scores"]
    # functional (F1-F4) and overall_quality (OQ1) need a language model.
    assert scores["functional"]["score"] is None and scores["overall_quality"]["score"] is None
    # code_quality: Q1 build 1, Q2 N/A, Q3 lint 0, Q4 format 1 -> 2/3
    assert [i["status"] for i in scores["code_quality"]["items"].values()] == ["met", "na", "unmet", "met"]
    assert scores["code_quality"]["score"] == pytest.approx(2 / 3)
    # proportionality: P1, P2 N/A; P3 ("test files") 3/4 of 1; P4 ("build artifacts") 0.5 -> 1.25/1.5
    assert scores["proportionality"]["achieved"] == 1.25 and scores["proportionality"]["applicable"] == 1.5
    # build_pipeline: B1 1, B2 1, B3 N/A (tests failing in baseline), B4 N/A (no pre-commit config) -> 1
    assert scores["build_pipeline"]["items"]["B3"]["evidence"].startswith("test: already failing in baseline")
    assert scores["build_pipeline"]["items"]["B4"]["evidence"] == "precommit: no .pre-commit-config.yaml"
    assert scores["build_pipeline"]["score"] == 1.0
    # (0.2 x 2/3 + 0.15 x 5/6 + 0.1 x 1) / (0.2 + 0.15 + 0.1) = (43/120) / 0.45 = 43/54
    assert result["score"] == pytest.approx(43 / 54)
    assert result["passed"] is True
    assert result["reasoning"].startswith(PREAMBLE)
    assert "functional: not assessed (4 item(s) N/A)" in result["reasoning"]


def test_requirements_format_rubric():
    # Most ProjectScylla fixtures use `requirements:` instead of `categories:`; they become one category.
    rubric = yaml.safe_load((FIXTURES / "test-002/expected/rubric.yaml").read_text())
    mojo = {"language": "mojo", "steps": {s: step("na", "no pipeline for language 'mojo'") for s in
            ("build", "format", "lint", "test", "precommit")}, "tests": None, "all_passed": True}
    result = judge(rubric, mojo, mojo)
    assert list(result["criteria_scores"]) == ["requirements"]
    assert result["criteria_scores"]["requirements"]["score"] is None
    assert result["score"] == 0.0 and "nothing was assessable" in result["reasoning"]

    synthetic = {"requirements": [{"id": "R001", "description": "All tests pass", "weight": 2.0},
                                  {"id": "R002", "description": "Idiomatic code", "weight": 1.0}]}
    result = judge(synthetic, pipeline(tests=(1, 4)), pipeline())
    assert result["criteria_scores"]["requirements"]["items"]["R001"]["score"] == 0.5
    assert result["score"] == pytest.approx(0.25)
