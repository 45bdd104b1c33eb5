"""The analysis data frames (analysis/data/*.csv) on examples/hello, by real `doit`: what the README's
`doit` writes, that they hold the results' own numbers, that `doit 'analysis:*'` builds them (and what reads them), the
same bytes each time, and that a new judgment re-runs exactly its subtest's, tier's and experiment's
frames, as `doit status` predicted."""

from __future__ import annotations

import csv
import io
import json
import shutil

import pytest
import yaml

from scylla.analysis import frames, tables

pytestmark = pytest.mark.e2e

SUBTESTS = ("T0/00", "T0/01", "T1/01", "T1/02", "T5/01")
ANALYSIS = {*(f"analysis:frames/{s}" for s in SUBTESTS), "analysis:frames/T0", "analysis:frames/T1",
            "analysis:frames/T5", "analysis:frames", "analysis:stats", *(f"analysis:tables/{t}" for t in tables.of_experiment()),
            *(f"analysis:report/{s}" for s in SUBTESTS), "analysis:report"}


def _frame(root, name: str) -> list[dict[str, str]]:
    text = (root / f"analysis/data/{name}.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0].split(",") == list(frames.FRAMES[name])        # the declared column order
    return list(csv.DictReader(io.StringIO(text)))


def _cell(value) -> str:
    """A value as a frame writes it (Python's repr for floats, true/false, empty for unknown)."""
    return "" if value is None else ("true" if value else "false") if isinstance(value, bool) else repr(value) \
        if isinstance(value, float) else str(value)


def _bytes(root) -> dict[str, bytes]:
    """The frames: the experiment's and the parts they are built from."""
    files = [*(root / "analysis/data").glob("*.csv"), *(root / "analysis/parts").rglob("*.csv")]
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(files)}


def test_the_main_doit_writes_the_frames_with_the_results_numbers(completed):
    checkout, first, second = completed
    assert ANALYSIS <= set(first.executed) and second.executed == []
    root = checkout.root
    runs, judges, criteria = _frame(root, "runs"), _frame(root, "judges"), _frame(root, "criteria")
    assert len(runs) == 10 and len(judges) == 20
    assert [(r["tier"], r["subtest"], r["run"]) for r in runs] == \
        [(s.split("/")[0], s.split("/")[1], str(n)) for s in SUBTESTS for n in (1, 2)]
    weights = {k: c["weight"] for k, c in yaml.safe_load((root / "rubric.yaml").read_text())["categories"].items()}
    for row in runs:
        run_dir = root / row["tier"] / row["subtest"] / f"run_{int(row['run']):02d}"
        result = json.loads((run_dir / "run_result.json").read_text())
        assert (row["experiment"], row["agent_model"]) == ("hello", "scripted-hello-agent")
        for column, key in (("score", "judge_score"), ("passed", "judge_passed"), ("grade", "judge_grade"),
                            ("cost_usd", "cost_usd"), ("judge_cost_usd", "judge_cost_usd"),
                            ("total_tokens", "total_tokens"), ("duration_seconds", "duration_seconds"),
                            ("agent_duration_seconds", "agent_duration_seconds"), ("exit_code", "exit_code"),
                            ("agent_outcome", "agent_outcome"), ("measured_at", "measured_at")):
            assert row[column] == _cell(result[key]), (row, column)
        for key, count in result["token_stats"].items():
            assert row[key] == str(count)
        # the scripted judge records no cost: agent + judge cost is unknown, not the agent's alone
        assert result["judge_cost_usd"] is None and row["total_cost_usd"] == ""
        slots = [json.loads((run_dir / f"judge/judge_0{n}/judgment.json").read_text()) for n in (1, 2)]
        votes = sum(j["passed"] for j in slots)
        assert (row["valid_judges"], row["pass_votes"], row["split_decision"]) == ("2", str(votes), _cell(votes == 1))
        assert (row["pipeline_score"], row["pipeline_passed"]) == (_cell(slots[0]["score"]), _cell(slots[0]["passed"]))
        # impl rate: only the pipeline judge records points (achieved of applicable)
        c = slots[0]["criteria_scores"].values()
        assert float(row["impl_rate"]) == sum(x["achieved"] for x in c) / sum(x["applicable"] for x in c)
        assert row["outcome"] == ("passed" if result["judge_passed"] else "failed")
        assert row["empty_diff"] == "false"
        for n, j in enumerate(slots, 1):
            jrow = next(r for r in judges if (r["tier"], r["subtest"], r["run"], r["slot"]) ==
                        (row["tier"], row["subtest"], row["run"], f"judge_0{n}"))
            timing = json.loads((run_dir / f"judge/judge_0{n}/timing.json").read_text())
            assert (jrow["adapter"], jrow["model"], jrow["score"], jrow["grade"], jrow["passed"], jrow["is_valid"],
                    jrow["cost_usd"], jrow["duration_seconds"]) == \
                (j["adapter"], j["model"], repr(j["score"]), j["grade"], _cell(j["passed"]), "true",
                 _cell(j["cost_usd"]), repr(timing["judge_duration_seconds"]))
            crows = [r for r in criteria if (r["tier"], r["subtest"], r["run"], r["slot"]) ==
                     (row["tier"], row["subtest"], row["run"], f"judge_0{n}")]
            assert [r["criterion"] for r in crows] == sorted(j["criteria_scores"])
            assert all(r["score"] == _cell(j["criteria_scores"][r["criterion"]]["score"]) and
                       r["weight"] == repr(weights[r["criterion"]]) for r in crows)
    subtests = _frame(root, "subtests")
    assert [f"{r['tier']}/{r['subtest']}" for r in subtests] == list(SUBTESTS)
    for row in subtests:
        summary = json.loads((root / row["tier"] / row["subtest"] / "result.json").read_text())
        for key in ("runs", "passed", "pass_rate", "mean_score", "std_score", "consistency", "mean_cost_usd",
                    "total_cost_usd", "total_tokens", "total_duration_seconds", "invalid_judgments"):
            assert row[key] == _cell(summary[key]), (row, key)
        assert row["grade_C"] == str(summary["grade_distribution"]["C"])


def test_analysis_glob_rebuilds_just_the_frames_with_the_same_bytes(hello):
    before = _bytes(hello.root)
    assert len(before) == 4 * (1 + 3 + 5)           # the experiment's frames, its tiers' and subtests' parts
    shutil.rmtree(hello.root / "analysis")
    run = hello.doit("analysis:*")
    built = [n for n in run.executed if not n.startswith("analysis:figures/")]     # (the figures: test_e2e_figures.py)
    assert set(built) == ANALYSIS and len(built) == len(ANALYSIS)
    assert _bytes(hello.root) == before             # deterministic: the same tree, the same bytes
    assert hello.doit().executed == []
    (hello.root / "analysis/data/runs.csv").write_text("damaged\n")
    assert hello.doit("analysis:*").executed == ["analysis:frames"] and _bytes(hello.root) == before


def test_a_new_judgment_re_runs_its_subtests_tiers_and_experiments_frames_as_predicted(hello):
    run = "T0/00/run_01"
    (hello.root / run / "judge/judge_02/.seal.json").unlink()           # re-judge this one slot on purpose
    status = json.loads(hello.doit("status", "--json").stdout)
    expected = {"analysis:frames/T0/00", "analysis:frames/T0", "analysis:frames", "analysis:stats",
                "analysis:report/T0/00", "analysis:report"}        # (the run's page shows the new measurement)
    readers = {n for n in ANALYSIS if n.startswith("analysis:tables/")}    # (run if the statistics change)
    assert {n for n in status["to_run"] if n in ANALYSIS} == expected          # (the figures: test_e2e_figures.py)
    # (T1 and T5 inherit T0's best subtest: their work, and so their frames, may run should it change)
    assert readers <= {n for n in status["may_run"] if n in ANALYSIS} <= ANALYSIS - expected
    others = {p: b for p, b in _bytes(hello.root).items() if "/T0" not in p and "data/" not in p}
    done = hello.doit(env={"SCYLLA_EXAMPLE_JUDGE_SCORE_7": run})
    assert {n for n in done.executed if n in ANALYSIS} == expected | readers
    # as `doit status` said: what it was sure of ran, and the rest was among what may run (the consensus,
    # which the new verdict decides; T0's best subtest stayed, so nothing of T1's and T5's)
    assert set(status["to_run"]) <= set(done.executed) <= set(status["to_run"]) | set(status["may_run"])
    assert set(hello.calls("judge")) == {f"{run} 2"}                    # (its retries: the same slot)
    assert {p: b for p, b in _bytes(hello.root).items() if p in others} == others
    result = json.loads((hello.root / run / "run_result.json").read_text())
    row = next(r for r in _frame(hello.root, "runs") if (r["tier"], r["subtest"], r["run"]) == ("T0", "00", "1"))
    judge = next(r for r in _frame(hello.root, "judges")
                 if (r["tier"], r["subtest"], r["run"], r["slot"]) == ("T0", "00", "1", "judge_02"))
    # a score of 7 is out of range: the new judgment is invalid, the run's consensus is the pipeline judge's
    assert result["judges"][1]["is_valid"] is False and result["judge_valid"] is True
    assert (judge["is_valid"], row["valid_judges"], row["judges"]) == ("false", "1", "2")
    assert row["score"] == repr(result["judge_score"]) == row["pipeline_score"]
    assert row["measured_at"] == result["measured_at"]
