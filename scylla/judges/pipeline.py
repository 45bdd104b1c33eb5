"""The pipeline judge: scores rubric items from build/test results, deterministically and offline.

It is not a language model and assesses only what the pipeline measured. Rules:

* Each rubric item is matched to a pipeline step by keywords in its `check` text (case-insensitive
  substrings; the first rule that matches wins, in this order): "pre-commit"/"precommit" -> precommit;
  "test" -> test; "format" -> format; "lint"/"ruff"/"pep8"/"unused" -> lint; "syntax"/"compile"/"build"
  -> build. An item matching no rule is N/A: it needs a language-model judge.
* If the step's status is "na" (tool missing, no tests, ...), the item is N/A with the step's reason.
* If the item's `check` or `na_condition` mentions "baseline" and that step failed in the baseline, the
  item is N/A (already failing in baseline). A step that did not run in the baseline ("na", e.g. no tests
  yet) is not "failing": the agent's result is scored.
* The test step earns points x passed/total (partial credit); other steps earn full points on "pass",
  0 on "fail".
* Category score = achieved / applicable points; a category with no applicable points is excluded.
  Overall score = sum(weight x category score) / sum(weights of included categories); 0.0 when no
  category is included (nothing was assessable).
* passed = score >= grading.pass_threshold (default 0.6).

Item `score` is the points achieved (None when N/A). A rubric in ProjectScylla's requirements format
(`requirements: [{id, description, weight}]`) is read as one category "requirements" of weight 1 whose
items are the requirements (check = description, points = weight).
"""

from __future__ import annotations

import time
from pathlib import Path

from .. import durable, tree
from ..adapters import JudgeAdapter
from ..spec import load_yaml

STEP_KEYWORDS = (
    ("precommit", ("pre-commit", "precommit")),
    ("test", ("test",)),
    ("format", ("format",)),
    ("lint", ("lint", "ruff", "pep8", "unused")),
    ("build", ("syntax", "compile", "build")),
)
NEEDS_LLM = "not assessable by the pipeline judge; needs a language-model judge"
PREAMBLE = "Deterministic pipeline judge (not a language model):"


def judge(rubric: dict, pipeline: dict, baseline: dict) -> dict:
    """Score `pipeline` (a run_pipeline result) against `rubric`; `baseline` is the untouched repository's."""
    rubric_categories = _categories(rubric)
    names = sorted(rubric_categories)  # sorted: the same result whatever the key order of the rubric
    categories = {name: _score_category(rubric_categories[name], pipeline, baseline) for name in names}
    weights = {name: float(rubric_categories[name].get("weight", 0)) for name in names}
    included = [name for name in names if categories[name]["score"] is not None]
    total_weight = sum(weights[name] for name in included)
    assessable = total_weight > 0
    weighted = sum(weights[name] * categories[name]["score"] for name in included)
    score = weighted / total_weight if assessable else 0.0
    threshold = float((rubric.get("grading") or {}).get("pass_threshold", 0.6))
    return {
        "score": score,
        "passed": score >= threshold,
        "reasoning": _reasoning(score, threshold, categories, weights, assessable),
        "criteria_scores": categories,
        "is_valid": True,
        "judge_kind": "pipeline",
    }


def _categories(rubric: dict) -> dict:
    """The rubric's categories; a requirements-format rubric becomes one category (see module docstring)."""
    if "categories" in rubric:
        return rubric["categories"] or {}
    items = [
        {"id": req["id"], "check": req.get("description", ""), "points": req.get("weight", 0)}
        for req in rubric.get("requirements") or []
    ]
    return {"requirements": {"weight": 1.0, "scoring_type": "checklist", "items": items}} if items else {}


def _score_category(category: dict, pipeline: dict, baseline: dict) -> dict:
    items = {str(item["id"]): _score_item(item, pipeline, baseline) for item in category.get("items") or []}
    applicable = sum((item["points"] for item in items.values() if item["status"] != "na"), 0.0)
    achieved = sum((item["score"] for item in items.values() if item["status"] != "na"), 0.0)
    return {
        "score": achieved / applicable if applicable > 0 else None,
        "achieved": achieved,
        "applicable": applicable,
        "items": items,
    }


def _score_item(item: dict, pipeline: dict, baseline: dict) -> dict:
    points = float(item.get("points", 0))
    check = str(item.get("check", ""))
    step_name = match_step(check)
    if step_name is None:
        return _item("na", None, points, NEEDS_LLM)
    step = _step(pipeline, step_name)
    if step.get("status") not in ("pass", "fail"):
        return _item("na", None, points, f"{step_name}: {step.get('reason') or 'not run'}")
    base = _step(baseline, step_name)
    if base.get("status") == "fail" and "baseline" in f"{check} {item.get('na_condition') or ''}".lower():
        return _item("na", None, points, f"{step_name}: already failing in baseline ({_describe(base)})")
    fraction = _test_fraction(pipeline) if step_name == "test" else None
    if fraction is None:  # non-test steps, or a test step without counts: all or nothing
        fraction = 1.0 if step["status"] == "pass" else 0.0
    status = "met" if fraction == 1.0 else "unmet" if fraction == 0.0 else "partial"
    return _item(status, points * fraction, points, f"{step_name}: {_describe(step)}")


def match_step(check: str) -> str | None:
    """The pipeline step a rubric check refers to, by the first matching keyword rule; None if none."""
    text = check.lower()
    for step_name, keywords in STEP_KEYWORDS:
        if any(keyword in text for keyword in keywords):
            return step_name
    return None


def _test_fraction(pipeline: dict) -> float | None:
    tests = pipeline.get("tests") or {}
    total = tests.get("total") or 0
    return tests.get("passed", 0) / total if total > 0 else None


def _step(result: dict | None, name: str) -> dict:
    return ((result or {}).get("steps") or {}).get(name) or {}


def _describe(step: dict) -> str:
    return f"{step.get('status', 'missing')}, {step.get('reason') or 'no reason given'}"


def _item(status: str, score: float | None, points: float, evidence: str) -> dict:
    return {"status": status, "score": score, "points": points, "evidence": evidence}


def _reasoning(score: float, threshold: float, categories: dict, weights: dict, assessable: bool) -> str:
    if not assessable:
        return f"{PREAMBLE} nothing was assessable from the build/test pipeline; score 0.0."
    verdict = "pass" if score >= threshold else "fail"
    lines = [f"{PREAMBLE} score {score:.3f} ({verdict} at threshold {threshold:g})."]
    for name, result in categories.items():
        n_items = len(result["items"])
        n_na = sum(item["status"] == "na" for item in result["items"].values())
        if result["score"] is None:
            lines.append(f"- {name}: not assessed ({n_items} item(s) N/A)")
        else:
            lines.append(
                f"- {name} (weight {weights[name]:g}): {result['achieved']:g}/{result['applicable']:g} points"
                f" = {result['score']:.3f}; {n_na} of {n_items} item(s) N/A"
            )
    return "\n".join(lines)


class PipelineJudge(JudgeAdapter):
    """This module's judge as a judge slot: free, no model, no call to wait for."""
    name = "pipeline"
    paid = False
    description = "deterministic pipeline judge"
    default_model = "scylla-pipeline-judge"
    role = "Judge (deterministic pipeline judge, not a language model)"

    def inputs(self, run_paths) -> list[str]:
        return [tree.RUBRIC, run_paths.pipeline, tree.BASELINE]

    def run(self, exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
        t0 = time.monotonic()
        rubric = load_yaml(Path(tree.RUBRIC).read_text(encoding="utf-8"))      # libyaml: shorter GIL holds
        verdict = judge(rubric, durable.read_json_object(run_paths.pipeline), durable.read_json_object(tree.BASELINE))
        call, seconds = {"cost_usd": 0.0, "attempts": 1, "parsed": True}, time.monotonic() - t0
        durable.write_text(out_dir / "response.txt", durable.dumps(verdict).decode())
        durable.write_text(out_dir / "stdout.log", "")
        durable.write_text(out_dir / "replay.sh", f"#!/usr/bin/env bash\n# deterministic pipeline judge (no model)\n"
                                                  f"doit -s -a 'judge:{run_paths.id}/{slot.name}'\n")
        return call, seconds


JUDGE = PipelineJudge()
