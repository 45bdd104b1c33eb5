"""A fresh checkout runs examples/hello to completion; the tree is complete, valid and up to date."""

from __future__ import annotations

import json
import math

import jsonschema
import orjson
from conftest import PROJECTSCYLLA


def test_first_doit_completes_and_second_executes_nothing(completed):
    checkout, first, second = completed
    assert first.returncode == 0, str(first)
    assert "experiment" in first.executed
    assert len([t for t in first.executed if t.startswith("agent:")]) == 10   # 5 subtests x 2 runs
    assert len([t for t in first.executed if t.startswith("judge:")]) == 20   # x 2 slots
    assert len(checkout.calls("agent")) == 10 and len(checkout.calls("judge")) == 10
    assert second.returncode == 0 and second.executed == [], str(second)
    assert (checkout.root / "report.md").read_text().startswith("# Experiment hello")


def test_every_task_up_to_date_after_completion(hello):
    status = hello.status()
    groups = {"agent", "agent_result", "pipeline", "judge_prompt", "judge", "judgment", "consensus", "run",
              "subtest", "tier", "subtest_config"}
    not_done = {t: s for t, s in status.items() if s != "U" and t not in groups}
    assert not_done == {}
    assert {"setup", "baseline", "experiment", "judge:T5/01/run_02/judge_02"} <= set(status)


def test_copied_tree_still_up_to_date_and_nothing_runs(hello):
    """Every e2e test works on a copy of the completed tree at another path: nothing is stale there."""
    run = hello.doit()
    assert run.executed == [] and hello.calls("agent") == [] and hello.calls("judge") == []


def test_run_results_validate_against_projectscylla_schema(hello):
    schema = json.loads((PROJECTSCYLLA / "run_result.schema.json").read_text())
    validator = jsonschema.Draft202012Validator(schema)
    files = sorted(hello.root.glob("T*/*/run_*/run_result.json"))
    assert len(files) == 10
    for f in files:
        data = orjson.loads(f.read_bytes())
        errors = [e.message for e in validator.iter_errors(data)]
        assert errors == [], f"{f}: {errors}"
        assert data["tokens_input"] == data["token_stats"]["input_tokens"] + data["token_stats"]["cache_read_tokens"]
        assert len(data["judges"]) == 2


def test_no_nan_or_infinity_anywhere(hello):
    for f in hello.root.rglob("*.json"):
        text = f.read_text()
        assert "NaN" not in text and "Infinity" not in text, f
        json.loads(text, parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))


def test_results_reflect_the_scripted_quality(hello):
    """Scores, pass rates and the best subtest differ as the example's README promises."""
    t0, t1, t5 = (hello.json(f"{t}/result.json") for t in ("T0", "T1", "T5"))
    assert t0["best_subtest"] == "01" and t1["best_subtest"] == "01" and t5["best_subtest"] == "01"
    assert t0["subtests"]["00"]["pass_rate"] == 0.0 and t0["subtests"]["01"]["pass_rate"] == 1.0
    medians = [t0["subtests"]["00"]["median_score"], t1["subtests"]["02"]["median_score"],
               t0["subtests"]["01"]["median_score"], t1["subtests"]["01"]["median_score"],
               t5["subtests"]["01"]["median_score"]]
    assert medians == sorted(medians) and len(set(medians)) == 5
    flaky = hello.json("T1/02/result.json")
    assert flaky["std_score"] > 0 and flaky["consistency"] < 1.0
    assert hello.json("T1/best_subtest.json") == {"subtest": "01", "tier": "T1"}
    inherited = hello.json("T5/01/config_manifest.json")["inherited_from"]
    assert inherited == [{"subtest": "01", "tier": "T0"}, {"subtest": "01", "tier": "T1"}]
    exp = hello.json("result.json")
    assert exp["runs"] == 10 and exp["frontier_tier"] in ("T0", "T1", "T5")
    assert math.isclose(exp["total_agent_cost_usd"], sum(
        hello.json(f"{t}/result.json")["total_cost_usd"] for t in ("T0", "T1", "T5")))


def test_agent_raw_captures_and_patch(hello):
    run = hello.root / "T1/01/run_01"
    for name in ("prompt.md", "replay.sh", "stdout.log", "stderr.log", "output.txt", "command_log.json",
                 "timing.json", "MODEL.md", "patch.diff", "workspace_state.json", "result.json"):
        assert (run / "agent" / name).is_file(), name
    assert "**Model**: scripted-hello-agent" in (run / "agent/MODEL.md").read_text()
    patch = (run / "agent/patch.diff").read_text()
    assert "textkit.py" in patch and "NOTES.md" in patch         # tracked edit + untracked file
    state = orjson.loads((run / "agent/workspace_state.json").read_bytes())
    assert {"path": "NOTES.md", "status": "A"} in state["changed_files"]
    assert "NOTES.md" in state["untracked_files"]
    result = orjson.loads((run / "agent/result.json").read_bytes())
    assert result["token_stats"]["input_tokens"] > 0 and result["cost_usd"] > 0
    pipeline = orjson.loads((run / "commands/pipeline.json").read_bytes())
    assert pipeline["tests"]["passed"] == 10 and pipeline["tests"]["total"] == 12
    assert not (hello.root / ".scylla/workspaces").exists() or not any((hello.root / ".scylla/workspaces").iterdir())


def test_pipeline_judge_labels_itself(hello):
    judgment = hello.json("T0/01/run_01/judge/judge_01/judgment.json")
    assert judgment["adapter"] == "pipeline" and judgment["model"] == "scylla-pipeline-judge"
    assert judgment["reasoning"].startswith("Deterministic pipeline judge (not a language model)")
    assert "not a language model" in (hello.root / "T0/01/run_01/judge/judge_01/MODEL.md").read_text()


def test_projectscylla_analysis_loader_rules_hold(hello):
    """What ProjectScylla's loader requires: models[0] in config/experiment.json, tier dirs T*, digit-only
    subtest dirs holding run_* dirs with run_result.json, and a MODEL.md with one `**Model**:` line beside
    every judge_NN/judgment.json (without it the loader drops the whole run)."""
    import re
    config = hello.json("config/experiment.json")
    assert config["models"] == ["scripted-hello-agent"] and config["judge_models"][1] == "scripted-hello-judge"
    assert all(k in config for k in ("experiment_id", "task_repo", "task_commit", "task_prompt_file", "language"))
    runs = [r for t in hello.root.glob("T*") for s in t.iterdir() if s.name.isdigit() for r in s.glob("run_*")]
    assert len(runs) == 10
    for run in runs:
        assert (run / "run_result.json").is_file()
        judgments = sorted(run.glob("judge/judge_*/judgment.json"))
        assert len(judgments) == 2
        for judgment in judgments:
            models = re.findall(r"\*\*Model\*\*:\s*(.+)", (judgment.parent / "MODEL.md").read_text())
            assert len(models) == 1 and models[0].strip()
