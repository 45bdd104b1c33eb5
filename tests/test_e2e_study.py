"""A study (several experiments analysed together) by real `doit`: hello and hello-v2 (the same agent, its
second judge scoring 0.8 of what hello's does) compared cell by cell. The study stacks the experiments'
frames, computes the same statistics over both with the per-task views and the paired comparison, never
runs an experiment's tasks, and re-runs only its analysis when an experiment changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from conftest import harness_env

from scylla.analysis import figures, stats, tables

STUDY_FIGURES = {**figures.FIGURES, **figures.STUDY_FIGURES}

pytestmark = pytest.mark.e2e

STUDY = {"id": "hello-study", "experiments": ["examples/hello/experiment.yaml", "examples/hello-v2/experiment.yaml"],
         "compare": ["hello", "hello-v2"]}


def _doit(checkout, *args: str, check: bool = True):
    proc = subprocess.run([sys.executable, "-m", "doit", *args], cwd=checkout.path, capture_output=True, text=True,
                          timeout=600, env={**os.environ, **harness_env(checkout.call_log)}, check=False)
    assert proc.returncode == 0 or not check, proc.stdout + proc.stderr
    return proc


def _executed(proc) -> list[str]:
    return [ln[3:] for ln in proc.stdout.splitlines() if ln.startswith(".  ")]


@pytest.fixture
def study(hello):
    v2 = hello.path / "examples/hello-v2"
    shutil.copytree(hello.path / "examples/hello", v2, ignore=shutil.ignore_patterns("results"))
    spec = yaml.safe_load((v2 / "experiment.yaml").read_text())
    spec["id"] = "hello-v2"
    spec["judges"][1]["options"] = {"score_scale": 0.8}
    (v2 / "experiment.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    (hello.path / "study.yaml").write_text(yaml.safe_dump(STUDY, sort_keys=False))
    return hello


def _runs(root) -> dict[tuple, dict]:
    return {(p.parts[-4], p.parts[-3], int(p.parts[-2][4:])): json.loads(p.read_text())
            for p in root.glob("T*/*/run_*/run_result.json")}


def test_a_study_compares_two_experiments_and_never_runs_their_tasks(study):
    missing = _doit(study, "exp=study.yaml", check=False)
    assert missing.returncode != 0
    assert "experiment hello-v2 has no analysis frames yet" in missing.stderr
    assert "complete it with `scylla run" in missing.stderr and "experiment hello has" not in missing.stderr
    _doit(study, "exp=examples/hello-v2/experiment.yaml")
    study.reset_calls()
    status = _doit(study, "status", "exp=study.yaml").stdout
    assert status.startswith("study hello-study") and f"analysis  ▶{15 + len(STUDY_FIGURES)}" in status
    first = _doit(study, "exp=study.yaml")
    expected = {"analysis:frames", "analysis:stats", *(f"analysis:tables/{t}" for t in tables.of_study(True)),
                *(f"analysis:figures/{name}" for name in STUDY_FIGURES)}
    assert set(_executed(first)) == expected
    assert _executed(_doit(study, "exp=study.yaml")) == []
    assert study.calls("agent") == [] and study.calls("judge") == []
    root = study.path / "results/hello-study"
    summary = json.loads((root / "analysis/summary.json").read_text())
    results = json.loads((root / "analysis/statistical_results.json").read_text())
    assert summary["study"] == "hello-study" and summary["experiments"] == ["hello", "hello-v2"]
    assert summary["overall"]["runs"] == 20 and summary["tiers"]["T0"]["subtests"] == 4
    assert "hello-v2/T0/00" in summary["subtests"] and "T0/00" not in summary["subtests"]
    # the paired comparison from the two experiments' own run results
    a, b = _runs(study.root), _runs(study.path / "examples/hello-v2/results/hello-v2")
    assert set(a) == set(b) and len(a) == 10
    paired = results["paired"]
    cells = {(c["tier"], c["subtest"]): c for c in paired["cells"]}
    for (tier, sub), cell in cells.items():
        rate = [sum(r[(tier, sub, n)]["judge_passed"] for n in (1, 2)) / 2 for r in (a, b)]
        assert cell["pass_rate"] == rate
        assert cell["change"] == ("improved" if rate[1] > rate[0] else "regressed" if rate[1] < rate[0]
                                  else "unchanged")
    only_b = sum(1 for k in a if b[k]["judge_passed"] and not a[k]["judge_passed"])
    only_a = sum(1 for k in a if a[k]["judge_passed"] and not b[k]["judge_passed"])
    assert paired["mcnemar"] == {"family": "paired", "pairs": 10, **stats.mcnemar(
        [b[k]["judge_passed"] for k in sorted(a)], [a[k]["judge_passed"] for k in sorted(a)]).to_json()}
    assert paired["regressed"] >= 1 and only_a >= 1 and only_b == 0     # the lower scale only takes passes away
    diffs = [cells[c]["score_difference"] for c in cells]
    assert all(d < 0 for d in diffs)
    assert paired["score_difference"]["value"] == pytest.approx(sum(diffs) / len(diffs))
    tasks = results["tasks"]
    assert tasks["tasks"] == ["hello", "hello-v2"] and tasks["complete_tasks"] == ["hello", "hello-v2"]
    assert tasks["wins"]["T5"] == 2 and tasks["ranks"]["hello"]["T5"] == 1.0
    assert set(results["registry"]) == {"omnibus", "tier pairs", "correlations", "tasks", "paired"}
    assert "| T0/01 |" in (root / "analysis/tables/paired.md").read_text()
    heatmap = (root / "analysis/figures/tier_task_heatmap.csv").read_text().splitlines()
    assert heatmap[0] == "task,tier,value,ci_low,ci_high,n,reason,rank" and len(heatmap) == 1 + 2 * 3
    assert (root / "analysis/figures/tier_task_heatmap.png").read_bytes().startswith(b"\x89PNG")


def test_a_changed_experiment_re_runs_only_the_studys_analysis(study):
    _doit(study, "exp=examples/hello-v2/experiment.yaml")
    _doit(study, "exp=study.yaml")
    run = "T0/00/run_01"
    v2 = study.path / "examples/hello-v2/results/hello-v2"
    (v2 / run / "judge/judge_02/.seal.json").unlink()
    study.reset_calls()
    _doit(study, "exp=examples/hello-v2/experiment.yaml")
    assert study.calls("judge") == [f"{run} 2"]
    study.reset_calls()
    again = _executed(_doit(study, "exp=study.yaml"))
    assert "analysis:frames" in again and set(again) <= {"analysis:frames", "analysis:stats",
                                                          *(f"analysis:tables/{t}" for t in tables.TABLES),
                                                          *(f"analysis:figures/{name}" for name in STUDY_FIGURES)}
    assert study.calls("agent") == [] and study.calls("judge") == []


def test_a_study_spec_names_the_wrong_key(study):
    (study.path / "study.yaml").write_text(yaml.safe_dump({**STUDY, "compare": ["hello", "hello-v3"]}))
    bad = _doit(study, "exp=study.yaml", check=False)
    assert bad.returncode != 0 and "key 'compare': expected two different ids of the experiments" in bad.stderr
    (study.path / "study.yaml").write_text(yaml.safe_dump({**STUDY, "experiments": ["examples/hello/experiment.yaml"] * 2,
                                                          "compare": None}))
    bad = _doit(study, "exp=study.yaml", check=False)
    assert "experiment ids must differ" in bad.stderr
