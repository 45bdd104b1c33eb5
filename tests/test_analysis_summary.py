"""The statistics task's pure parts (scylla/analysis/summary.py) over small frames with worked numbers:
what each cell, comparison and judge figure is computed from, and the degenerate designs (one run, one
judge, one tier, nothing passed, unknown costs) giving null with a reason, never NaN."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from scylla import durable
from scylla.analysis import frames, stats, summary
from scylla.spec import AnalysisSettings, SpecError, load_experiment

FAST = AnalysisSettings(resamples=200, seed=3)


def run(tier: str, subtest: str, n: int, score: float | None, passed: bool | None, cost: float | None = 0.1,
        **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {c: None for c in frames.RUN_COLUMNS}
    row |= {"experiment": "e", "agent_model": "m", "tier": tier, "subtest": subtest, "run": n, "score": score,
            "passed": passed, "grade": "A" if passed else "F", "impl_rate": score, "cost_usd": cost,
            "judge_cost_usd": 0.0 if cost is not None else None, "total_tokens": 100 * n, "duration_seconds": 10.0,
            "agent_duration_seconds": 8.0, "judge_duration_seconds": 2.0, "valid_judges": 2,
            "split_decision": False, "outcome": "passed" if passed else "failed",
            **{k: 1 for k in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")}}
    row["total_cost_usd"] = None if cost is None else cost
    return row | extra


def judge(r: dict, slot: str, score: float | None, passed: bool | None, grade: str = "A", valid: bool = True,
          adapter: str = "command") -> dict[str, Any]:
    return {**{k: r[k] for k in frames.KEY}, "slot": slot, "adapter": adapter, "model": "j", "score": score,
            "grade": grade, "passed": passed, "is_valid": valid, "impl_rate": None, "cost_usd": None,
            "duration_seconds": 1.0}


def analysis(tiers=("T0", "T1"), s: AnalysisSettings = FAST) -> summary.Analysis:
    return summary.Analysis(stats, s, list(tiers))


def test_a_subtest_cell_has_the_wilson_rate_bootstrap_mean_consistency_and_pass_at_k():
    rows = [run("T0", "00", 1, 0.9, True), run("T0", "00", 2, 0.5, False), run("T0", "00", 3, 0.7, True)]
    cell = analysis().cell(rows, None)
    assert (cell["runs"], cell["passed"]) == (3, 2)
    assert cell["pass_rate"] == stats.wilson(2, 3)
    assert cell["mean_score"].value == pytest.approx(0.7) and cell["mean_score"].ci_low <= 0.7 <= cell["mean_score"].ci_high
    assert cell["sd_score"].value == pytest.approx(0.2)
    assert cell["consistency"].value == pytest.approx(1 - 0.2 / 0.7)
    # pass@1 = 2/3, pass@2 = 1 − C(1,2)/C(3,2) = 1, pass^2 = C(2,2)/C(3,2) = 1/3
    assert [cell["pass_at_k"][k].value for k in "123"] == pytest.approx([2 / 3, 1.0, 1.0])
    assert [cell["pass_hat_k"][k].value for k in "123"] == pytest.approx([2 / 3, 1 / 3, 0.0])
    assert cell["cost_of_pass"].value == pytest.approx(0.3 / 2)
    assert cell["tokens"]["total_tokens"] == 600 and cell["total_cost_usd"] == pytest.approx(0.3)
    assert cell["grades"]["A"] == 2 and cell["outcomes"] == {**dict.fromkeys(frames.OUTCOMES, 0), "passed": 2,
                                                             "failed": 1}


def test_a_single_run_is_not_computable_where_a_spread_is_needed():
    cell = analysis().cell([run("T0", "00", 1, 0.9, True)], None)
    assert cell["pass_rate"].value == 1.0 and cell["pass_rate"].ci_low == pytest.approx(0.2065493143772374)
    for name in ("sd_score", "consistency"):
        assert cell[name].value is None and "at least 2" in cell[name].reason
    assert cell["mean_score"].value == 0.9 and cell["mean_score"].ci_low is None and "n = 1" in cell["mean_score"].reason


def test_nothing_passed_and_unknown_costs_are_null_with_a_reason():
    rows = [run("T0", "00", 1, 0.1, False), run("T0", "00", 2, 0.2, False)]
    cell = analysis().cell(rows, None)
    assert cell["cost_of_pass"].value is None and "no run passed" in cell["cost_of_pass"].reason
    assert cell["pass_rate"].value == 0.0 and cell["pass_rate"].ci_low == 0.0
    rows = [run("T0", "00", 1, 0.9, True), run("T0", "00", 2, 0.8, True, cost=None)]
    cell = analysis().cell(rows, None)
    assert cell["total_cost_usd"] is None and cell["cost_of_pass"].value is None
    assert cell["cost_of_pass"].reason == "1 of 2 runs' agent cost is unknown" and cell["mean_cost_usd"].value is None


def test_a_tier_cell_is_clustered_by_subtest():
    a = [run("T0", "00", n, s, True) for n, s in ((1, 0.9), (2, 0.8))]
    b = [run("T0", "01", n, s, False) for n, s in ((1, 0.2), (2, 0.3))]
    cell = analysis().cell(a + b, [a, b])
    assert cell["subtests"] == 2 and cell["mean_score"].value == pytest.approx(0.55)
    assert cell["mean_score_clustered"].value == pytest.approx(0.55)
    assert cell["icc"] == stats.icc([[0.9, 0.8], [0.2, 0.3]])
    assert cell["design_effect"] == stats.design_effect([[0.9, 0.8], [0.2, 0.3]])
    assert cell["cluster_se"] == stats.cluster_se([[0.9, 0.8], [0.2, 0.3]])
    assert "consistency" not in cell
    # each subtest's pass@2 averaged over subtests: (1 + 0) / 2
    assert cell["pass_at_k"]["2"].value == 0.5


def _two_tiers() -> list[dict]:
    return ([run("T0", "00", n, s, s > 0.5, cost=0.1) for n, s in enumerate((0.4, 0.6, 0.3, 0.7), 1)]
            + [run("T1", "00", n, s, s > 0.5, cost=0.3) for n, s in enumerate((0.9, 0.8, 0.95, 0.6), 1)])


def test_the_frontier_is_the_lowest_cost_of_pass_with_the_pareto_set_and_its_probability():
    runs = _two_tiers()
    a = analysis()
    tiers = {t: a.cell([r for r in runs if r["tier"] == t], [[r for r in runs if r["tier"] == t]]) for t in ("T0", "T1")}
    f = a.frontier({t: [r for r in runs if r["tier"] == t] for t in ("T0", "T1")}, tiers)
    # T0: 0.4 / 2 passed = 0.2; T1: 1.2 / 4 = 0.3
    assert f["tier"] == "T0" and f["cost_of_pass"].value == pytest.approx(0.2)
    # T0 is cheaper, T1 scores higher: neither dominates
    assert f["pareto"] == ["T0", "T1"] and f["probability"]["T0"].value == 1.0 == f["probability"]["T1"].value


def test_tier_comparisons_register_every_p_value_in_its_family():
    runs = _two_tiers()
    a = analysis()
    registry = stats.Registry()
    for family in ("omnibus", "tier pairs", "correlations"):
        registry.declare(family)
    out = a.tier_comparisons(runs, registry)
    (pair,) = out["pairs"]
    t0, t1 = [0.4, 0.6, 0.3, 0.7], [0.9, 0.8, 0.95, 0.6]
    assert pair["mann_whitney"] == stats.mann_whitney(t0, t1)
    assert pair["cliffs_delta"].value == stats.cliffs_delta(t1, t0).value > 0       # T1 scores higher
    assert pair["difference"].value == pytest.approx(sum(t1) / 4 - sum(t0) / 4)
    assert pair["pass_rate_difference"] == 1.0 - 0.5
    listed = registry.to_json()
    assert [t["name"] for t in listed["tier pairs"]["tests"]] == ["T0 vs T1"]
    assert listed["omnibus"]["tests"][0]["p"] == stats.kruskal([t0, t1]).p


def test_comparisons_are_consecutive_first_to_last_then_the_specs_each_once():
    a = analysis(("T0", "T1", "T2", "T3"), AnalysisSettings(resamples=200, comparisons=(("T1", "T3"), ("T0", "T3"))))
    assert a.pairs(["T0", "T1", "T2", "T3"]) == [("T0", "T1"), ("T1", "T2"), ("T2", "T3"), ("T0", "T3"), ("T1", "T3")]
    assert a.pairs(["T0", "T1"]) == [("T0", "T1")] and a.pairs(["T0"]) == []


class _Slot:
    def __init__(self, number: int, adapter: str):
        self.name, self.adapter = f"judge_{number:02d}", adapter


class _Exp:
    id, tiers = "e", ("T0",)

    class agent:
        model = "m"

    def __init__(self, *adapters: str):
        self.judges = [_Slot(n, a) for n, a in enumerate(adapters, 1)]


def test_judge_agreement_leave_one_out_and_the_pipeline_judge():
    runs = [run("T0", "00", n, None, None) for n in (1, 2, 3)]
    # judge_01 the pipeline; judge_02 and judge_03 LLM judges; run 3: judge_03 alone says pass
    verdicts = {1: [(0.9, True), (0.8, True), (0.85, True)], 2: [(0.2, False), (0.3, False), (0.4, False)],
                3: [(0.4, False), (0.5, False), (0.7, True)]}
    rows = []
    for r in runs:
        for slot, (score, passed) in enumerate(verdicts[r["run"]], 1):
            rows.append(judge(r, f"judge_{slot:02d}", score, passed, adapter="pipeline" if slot == 1 else "command"))
        r["passed"], r["split_decision"], r["valid_judges"] = r["run"] == 1, r["run"] == 3, 3
    out = analysis(("T0",)).judges(runs, rows)
    scores = [[s for s, _ in verdicts[n]] for n in (1, 2, 3)]
    assert out["alpha"]["interval"].value == stats.alpha(scores, "interval", resamples=200, seed=3).value
    assert [(p["a"], p["b"]) for p in out["pairs"]] == [("judge_01", "judge_02"), ("judge_01", "judge_03"),
                                                       ("judge_02", "judge_03")]
    assert out["split_decision_rate"] == stats.wilson(1, 3)
    # without judge_01 run 3 is 1 of 2 votes: still no strict majority; run 1 still passes; no flips —
    # without judge_02, run 3 is 1 of 2: no flip either; consensus needs a strict majority
    assert [(x["judge"], x["flips"], x["runs"]) for x in out["leave_one_out"]] == \
        [("judge_01", 0, 3), ("judge_02", 0, 3), ("judge_03", 0, 3)]
    pipeline = out["pipeline"]
    assert pipeline["pipeline"] == "judge_01"
    j3 = next(j for j in pipeline["judges"] if j["judge"] == "judge_03")
    assert j3["agreement"] == stats.wilson(2, 3) and j3["judge_passes_pipeline_fails"] == 1
    assert j3["mean_abs_difference"].value == pytest.approx((0.05 + 0.2 + 0.3) / 3)


def test_leave_one_out_counts_a_flip_when_a_judge_decides_the_verdict():
    r = run("T0", "00", 1, None, True)
    rows = [judge(r, "judge_01", 0.9, True), judge(r, "judge_02", 0.4, False)]
    r["passed"] = False                      # 1 of 2: no strict majority
    out = analysis(("T0",)).judges([r], rows)
    # without judge_02 the run passes (1 of 1): a flip; without judge_01 it fails (0 of 1): none
    assert [(x["judge"], x["flips"]) for x in out["leave_one_out"]] == [("judge_01", 0), ("judge_02", 1)]
    assert out["pipeline"] is None


def test_one_judge_gives_no_agreement_with_a_reason():
    r = run("T0", "00", 1, 0.9, True)
    out = analysis(("T0",)).judges([r], [judge(r, "judge_01", 0.9, True)])
    assert all(e.value is None and "2 judges" in e.reason for e in out["alpha"].values())
    assert out["pairs"] == [] and out["leave_one_out"] == [{"judge": "judge_01", "flips": 0, "runs": 0,
                                                             "rate": stats.wilson(0, 0)}]


def _write_frames(root: Path, runs: list[dict], judges: list[dict]) -> None:
    for name, rows in (("runs", runs), ("judges", judges), ("criteria", []), ("subtests", [])):
        durable.write_text(root / frames.DATA_DIR / f"{name}.csv", frames.to_csv(frames.FRAMES[name], rows))


def test_frames_read_back_typed_and_the_json_holds_no_nan(tmp_path, monkeypatch):
    runs = _two_tiers() + [run("T1", "01", 1, None, None, cost=None, outcome="judge invalid")]
    _write_frames(tmp_path, runs, [judge(r, "judge_01", r["score"], r["passed"]) for r in runs])
    monkeypatch.chdir(tmp_path)
    back = frames.read(frames.DATA_DIR, "runs")
    assert back == [{c: r.get(c) for c in frames.RUN_COLUMNS} for r in runs]
    assert back[0]["subtest"] == "00" and back[0]["run"] == 1 and back[0]["passed"] is False
    a = analysis()
    text = json.dumps(stats.json_safe(a.summary({"experiment": "e"}, back, [])), allow_nan=False)
    assert "NaN" not in text and "Infinity" not in text
    json.dumps(stats.json_safe(a.statistical_results(back, frames.read(frames.DATA_DIR, "judges"))),
               allow_nan=False)


def test_a_frame_with_another_header_is_refused_by_name(tmp_path):
    (tmp_path / "runs.csv").write_text("tier,score\nT0,1\n")
    with pytest.raises(durable.ArtifactError, match=r"runs\.csv: its header is not the runs frame"):
        frames.read(str(tmp_path), "runs")


def test_the_same_frames_give_the_same_numbers():
    runs = _two_tiers()
    one = stats.json_safe(analysis().cell(runs, [runs]))
    assert one == stats.json_safe(analysis().cell(runs, [runs]))
    other = stats.json_safe(analysis(s=AnalysisSettings(resamples=200, seed=4)).cell(runs, [runs]))
    assert other["mean_score"]["ci_low"] != one["mean_score"]["ci_low"]       # (the seed is used)
    assert all(math.isfinite(v) for v in (one["mean_score"]["ci_low"], one["mean_score"]["ci_high"]))


@pytest.mark.parametrize(("section", "message"), [
    ({"resamples": 10}, r"analysis\.resamples': expected a whole number of bootstrap resamples \(>= 100\), got int 10"),
    ({"correction": "bonferroni"}, r"analysis\.correction': expected holm or bh"),
    ({"comparisons": [["T0", "T9"]]}, r"analysis\.comparisons': expected a list of pairs of this experiment's tiers"),
    ({"families": {"tier pairs": "sidak"}}, r"analysis\.families\.tier pairs'"),
    ({"confidence": 95}, r"analysis\.confidence': expected a confidence level between 0 and 1"),
    ({"bootstrap": 5}, r"unknown key 'analysis\.bootstrap'"),
])
def test_the_analysis_section_names_the_key_and_the_fix(tmp_path, section, message):
    spec = _spec(tmp_path, section)
    with pytest.raises(SpecError, match=message):
        load_experiment(spec)


def test_the_analysis_section_has_defaults_and_is_read(tmp_path):
    assert load_experiment(_spec(tmp_path / "default", None)).analysis == AnalysisSettings()
    s = load_experiment(_spec(tmp_path, {"resamples": 500, "seed": 7, "correction": "bh",
                                         "comparisons": [["T0", "T1"]], "families": {"correlations": "holm"}}))
    assert s.analysis == AnalysisSettings(resamples=500, seed=7, correction="bh", comparisons=(("T0", "T1"),),
                                          families={"correlations": "holm"})


def _spec(tmp_path: Path, section: dict | None) -> Path:
    import shutil

    import yaml
    repo = Path(__file__).resolve().parents[1] / "examples/hello"
    dest = tmp_path / "hello"
    shutil.copytree(repo, dest, ignore=shutil.ignore_patterns("results", "repo"))
    data = yaml.safe_load((dest / "experiment.yaml").read_text())
    data.pop("analysis", None)
    if section is not None:
        data["analysis"] = section
    (dest / "experiment.yaml").write_text(yaml.safe_dump(data))
    return dest / "experiment.yaml"


# ---------------------------------------------------------------- tables

def _outputs(runs: list[dict], judge_rows: list[dict], exp: Any) -> tuple[dict, dict]:
    a = analysis(exp.tiers)
    return (stats.json_safe(a.summary({"experiment": exp.id}, runs, [])),
            stats.json_safe(a.statistical_results(runs, judge_rows)))


CONFIG = {"experiment_id": "e", "task": {"id": "t"}, "agent": {"adapter": "command", "model": "m"},
          "judges": [{"adapter": "command", "model": "j"}], "tiers_to_run": ["T0"], "subtests": {"T0": ["00"]},
          "runs_per_subtest": 1, "thinking": "none", "max_turns": None}


def test_every_table_renders_a_single_run_with_one_judge_in_three_formats():
    from scylla.analysis import tables
    r = run("T0", "00", 1, 0.9, True, cost=None)
    s, res = _outputs([r], [judge(r, "judge_01", 0.9, True)], _Exp("command"))
    for name in tables.of_experiment():
        build = tables.TABLES[name]
        table = build(s, res, CONFIG) if name == "configuration" else build(s, res)
        md, tex, text = tables.markdown(table), tables.latex(table), tables.to_csv(table)
        assert md.startswith(f"**{table.caption}**") and "nan" not in md.lower()
        assert tex.count(r"\toprule") == 1 and tex.rstrip().endswith(r"\end{table}")
        header = next(csv_reader(text))
        assert header[-1] == "note"
    summary_table = tables.tier_summary(s, res)
    row = tables.markdown(summary_table).splitlines()[4]
    # one run: a rate with its Wilson interval, a mean without one, an unknown cost of pass
    assert row.startswith("| T0 | 1 | 1 | 100.0% [20.7%, 100.0%] | 0.900 | 0.900 | — |")
    assert "T0 · SD: n = 1: a standard deviation needs at least 2 runs" in tables.markdown(summary_table)


def csv_reader(text: str):
    import csv
    import io
    return csv.reader(io.StringIO(text))


def test_table_cells_format_and_escape():
    from scylla.analysis import tables
    t = tables.Table("x", "50 % of a_b & c", [tables.Column("name"), tables.Column("cost", "estimate:usd"),
                                              tables.Column("p", "p"), tables.Column("ok", "bool")],
                     [["a|b_c", {"value": 0.5, "ci_low": 0.25, "ci_high": None, "reason": "unbounded"}, 0.0004, True],
                      ["d", {"value": None, "ci_low": None, "ci_high": None, "reason": "no run passed"}, None, None]])
    md = tables.markdown(t)
    assert "| a\\|b_c | $0.5000 [$0.2500, —] | < 0.001 | yes |" in md
    assert "| d | — | — | — |" in md and "- a|b_c · cost: unbounded" in md and "- d · cost: no run passed" in md
    tex = tables.latex(t)
    assert r"\caption{50 \% of a\_b \& c}" in tex and r"a|b\_c & \$0.5000 [\$0.2500, ---] & \textless{} 0.001 & yes \\" in tex
    rows = list(csv_reader(tables.to_csv(t)))
    assert rows[0] == ["name", "cost", "cost ci_low", "cost ci_high", "p", "ok", "note"]
    assert rows[1] == ["a|b_c", "0.5", "0.25", "", "0.0004", "true", "cost: unbounded"]
    assert rows[2] == ["d", "", "", "", "", "", "cost: no run passed"]


def test_a_run_without_a_verdict_counts_among_the_outcomes_only():
    judged = [run("T0", "00", 1, 0.9, True), run("T0", "00", 2, 0.7, True)]
    invalid = run("T0", "00", 3, 0.0, False, outcome="judge invalid", grade="F")
    cell = analysis().cell(judged + [summary.without_verdict(invalid)], None)
    # its consensus' score 0 and fail are not a verdict: 2 of 2 judged runs passed, mean 0.8
    assert cell["pass_rate"] == stats.wilson(2, 2) and cell["mean_score"].value == pytest.approx(0.8)
    assert cell["runs"] == 3 and cell["outcomes"]["judge invalid"] == 1 and cell["grades"]["F"] == 0
    assert summary.without_verdict(judged[0]) is judged[0]
