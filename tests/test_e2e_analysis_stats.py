"""The statistics task (analysis:stats) on examples/hello, by real `doit`: the README's `doit` writes
summary.json and statistical_results.json holding the frames' own numbers; no JSON anywhere in the tree holds
NaN or Infinity; the same tree gives the same bytes; changing the spec's analysis settings re-runs only the
statistics, as `doit status` predicts."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from scylla.analysis import stats, tables

pytestmark = pytest.mark.e2e


def _strict(path: Path):
    def refuse(constant: str):
        raise AssertionError(f"{path}: {constant} is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _runs(root: Path) -> list[dict[str, str]]:
    with open(root / "analysis/data/runs.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_the_main_doit_writes_the_statistics_of_its_frames(completed):
    checkout, first, second = completed
    assert "analysis:stats" in first.executed and second.executed == []
    root = checkout.root
    summary, results = _strict(root / "analysis/summary.json"), _strict(root / "analysis/statistical_results.json")
    runs = _runs(root)
    passed = sum(r["passed"] == "true" for r in runs)
    assert summary["overall"]["pass_rate"] == stats.wilson(passed, len(runs)).to_json()
    assert summary["tier_order"] == ["T0", "T1", "T5"] and list(summary["tiers"]) == ["T0", "T1", "T5"]
    assert list(summary["subtests"]) == ["T0/00", "T0/01", "T1/01", "T1/02", "T5/01"]
    t0 = [float(r["score"]) for r in runs if r["tier"] == "T0"]
    assert summary["tiers"]["T0"]["mean_score"]["value"] == pytest.approx(sum(t0) / len(t0))
    assert summary["tiers"]["T0"]["runs"] == 4 and summary["subtests"]["T5/01"]["runs"] == 2
    costs = [float(r["cost_usd"]) for r in runs if r["tier"] == "T1"]
    wins = sum(r["passed"] == "true" for r in runs if r["tier"] == "T1")
    assert summary["tiers"]["T1"]["cost_of_pass"]["value"] == pytest.approx(sum(costs) / wins)
    # the scripted judge reports no cost: the agent + judge cost of pass is unknown, and says why
    assert summary["overall"]["cost_of_pass_total"]["value"] is None
    assert "judge cost is unknown" in summary["overall"]["cost_of_pass_total"]["reason"]
    assert summary["frontier"]["tier"] in summary["tier_order"]
    assert [p["name"] for p in results["tier_comparisons"]["pairs"]] == ["T0 vs T1", "T1 vs T5", "T0 vs T5"]
    assert [t["name"] for t in results["registry"]["tier pairs"]["tests"]] == ["T0 vs T1", "T1 vs T5", "T0 vs T5"]
    assert results["registry"]["tier pairs"]["correction"] == "holm"
    assert results["judges"]["slots"] == ["judge_01", "judge_02"]
    assert results["judges"]["pipeline"]["pipeline"] == "judge_01"
    assert len(results["correlations"]) == 10                  # 5 metrics, each pair once, no diagonal
    # the tables: every one in markdown, LaTeX and CSV, with the statistics' numbers
    for name in tables.of_experiment():
        for ext in tables.FORMATS:
            assert (root / f"analysis/tables/{name}.{ext}").stat().st_size > 0
    with open(root / "analysis/tables/tier_summary.csv", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [r["tier"] for r in rows] == ["T0", "T1", "T5"]
    for r in rows:
        rate = summary["tiers"][r["tier"]]["pass_rate"]
        assert [float(r[k]) for k in ("pass rate", "pass rate ci_low", "pass rate ci_high")] == \
            [rate["value"], rate["ci_low"], rate["ci_high"]]
    assert "| T0 vs T1 |" in (root / "analysis/tables/tier_comparison.md").read_text()


def test_no_json_in_the_tree_holds_nan_or_infinity(completed):
    checkout = completed[0]
    files = sorted(checkout.root.rglob("*.json"))
    assert len(files) > 100
    for path in files:
        _strict(path)


def _upstream(names: list[str]) -> list[str]:
    """The tasks named, but those that read the statistics (tables, figures, the report)."""
    return sorted(n for n in names if not n.startswith(("analysis:tables/", "analysis:figures/", "analysis:report")))


def test_the_same_tree_gives_the_same_statistics_and_new_settings_re_run_only_them(hello):
    root = hello.root
    names = ("analysis/summary.json", "analysis/statistical_results.json",
             *(f"analysis/tables/{t}.{ext}" for t in tables.of_experiment() for ext in tables.FORMATS))
    before = {n: (root / n).read_bytes() for n in names}
    shutil.rmtree(root / "analysis")
    hello.doit("analysis:*")
    assert {n: (root / n).read_bytes() for n in names} == before         # byte-identical
    hello.edit_spec(lambda spec: spec.update(analysis={"seed": 11, "correction": "bh"}))
    status = json.loads(hello.doit("status", "--json").stdout)
    # (nothing reads the analysis section but the statistics, and then what reads them)
    assert _upstream(status["to_run"]) == ["analysis:stats"]
    done = hello.doit()
    assert _upstream(done.executed) == ["analysis:stats"]
    assert {f"analysis:tables/{t}" for t in tables.of_experiment()} <= set(done.executed)
    assert "analysis:report" in done.executed
    assert set(status["to_run"]) <= set(done.executed) <= set(status["to_run"]) | set(status["may_run"])
    results = _strict(root / "analysis/statistical_results.json")
    assert results["settings"]["seed"] == 11 and results["registry"]["tier pairs"]["correction"] == "bh"
    assert hello.calls("agent") == [] and hello.calls("judge") == []
    assert hello.doit().executed == []


def test_a_damaged_frame_is_reported_by_name_and_rebuilt(hello):
    (hello.root / "analysis/data/judges.csv").write_text("tier,score\n")
    run = hello.doit(check=False)
    # the frame is a target of analysis:frames: doit rebuilds it, and the statistics read the rebuilt one
    assert "analysis:frames" in run.executed and run.returncode == 0
    _strict(hello.root / "analysis/statistical_results.json")
