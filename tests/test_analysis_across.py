"""Statistics across experiments (scylla/analysis/across.py) with worked numbers: ranks with ties, shared
wins, Friedman over the complete tasks only, and the paired comparison's cells, tests and intervals."""

from __future__ import annotations

from typing import Any

import pytest

from scylla.analysis import across, frames, stats
from scylla.spec import AnalysisSettings

S = AnalysisSettings(resamples=200, seed=1)


def run(exp: str, tier: str, subtest: str, n: int, score: float | None, passed: bool | None) -> dict[str, Any]:
    return {**dict.fromkeys(frames.RUN_COLUMNS), "experiment": exp, "tier": tier, "subtest": subtest, "run": n,
            "score": score, "passed": passed}


def registry(*families: str) -> stats.Registry:
    r = stats.Registry()
    for f in families:
        r.declare(f)
    return r


def test_ranks_share_ties_and_wins_split_between_tied_best_tiers():
    assert stats.ranks([0.5, 0.9, 0.5]) == [2.5, 1.0, 2.5]
    runs = [run("a", "T0", "00", 1, 0.5, False), run("a", "T1", "00", 1, 0.9, True), run("a", "T2", "00", 1, 0.9, True),
            run("b", "T0", "00", 1, 0.7, True), run("b", "T1", "00", 1, 0.6, False), run("b", "T2", "00", 1, 0.2, False),
            run("c", "T0", "00", 1, 0.3, False)]                       # c ran T0 only
    reg = registry("tasks")
    v = across.task_views(stats, S, runs, ["T0", "T1", "T2"], reg)
    assert v["ranks"]["a"] == {"T0": 3.0, "T1": 1.5, "T2": 1.5} and v["ranks"]["b"] == {"T0": 1.0, "T1": 2.0, "T2": 3.0}
    assert v["wins"] == {"T0": 2.0, "T1": 0.5, "T2": 0.5}             # c's only tier wins c
    assert v["complete_tasks"] == ["a", "b"] and list(v["left_out"]) == ["c"]
    test, w = stats.friedman([[0.5, 0.9, 0.9], [0.7, 0.6, 0.2]])
    assert v["friedman"]["p"] == test.p and v["kendall_w"] == w
    assert v["mean_rank"] == {"T0": 2.0, "T1": 1.75, "T2": 2.25}
    assert v["cells"]["a"]["T1"]["pass_rate"] == stats.wilson(1, 1)
    assert reg.to_json()["tasks"]["tests"][0]["p"] == test.p


def test_a_paired_comparison_counts_changed_cells_and_pairs_runs_by_number():
    base = [run("v1", "T0", "00", n, s, p) for n, s, p in ((1, 0.9, True), (2, 0.8, True))] + \
        [run("v1", "T0", "01", n, s, p) for n, s, p in ((1, 0.2, False), (2, 0.3, False))] + \
        [run("v1", "T1", "00", 1, 0.5, False)]
    cand = [run("v2", "T0", "00", n, s, p) for n, s, p in ((1, 0.4, False), (2, 0.9, True))] + \
        [run("v2", "T0", "01", n, s, p) for n, s, p in ((1, 0.6, True), (2, 0.7, True))] + \
        [run("v2", "T2", "00", 1, 0.5, False)]
    reg = registry("paired")
    v = across.paired(stats, S, base + cand, "v1", "v2", reg)
    cells = {(c["tier"], c["subtest"]): c for c in v["cells"]}
    assert cells["T0", "00"]["change"] == "regressed" and cells["T0", "01"]["change"] == "improved"
    assert cells["T0", "01"]["pass_rate"] == [0.0, 1.0] and cells["T0", "00"]["score_difference"] == pytest.approx(-0.2)
    assert (v["improved"], v["regressed"], v["unchanged"]) == (1, 1, 0)
    assert v["only_in"] == {"v1": ["T1/00"], "v2": ["T2/00"]}
    # runs paired by number: (T,F) (T,T) (F,T) (F,T) -> b = 1 only in v1... McNemar of v2 against v1
    assert v["mcnemar"]["pairs"] == 4
    assert v["mcnemar"]["p"] == stats.mcnemar([False, True, True, True], [True, True, False, False]).p
    means = [cells[k]["mean_score"] for k in (("T0", "00"), ("T0", "01"))]
    assert [x for m in means for x in m] == pytest.approx([0.85, 0.65, 0.25, 0.65])
    assert v["score_difference"] == stats.paired_difference([m[1] for m in means], [m[0] for m in means],
                                                            resamples=200, seed=1)
    # one cell up 0.4, one down 0.2: the exact signed-rank p of 2 pairs of opposite signs is 1
    assert v["wilcoxon"]["p"] == stats.wilcoxon([m[1] for m in means], [m[0] for m in means]).p == 1.0
    assert [t["name"] for t in reg.to_json()["paired"]["tests"]] == [
        "Wilcoxon v2 vs v1 (cells' mean scores)", "McNemar v2 vs v1 (runs paired by number)"]


def test_the_tier_by_task_heatmap_draws_each_tasks_mean_scores_and_ranks():
    from scylla import durable
    from scylla.analysis import figures
    runs = [run("a", "T0", "00", 1, 0.5, False), run("a", "T1", "00", 1, 0.9, True),
            run("b", "T0", "00", 1, 0.7, True), run("b", "T1", "00", 1, None, None)]
    views = stats.json_safe(across.task_views(stats, S, runs, ["T0", "T1"], registry("tasks")))
    plot = figures.tier_task_heatmap({"statistics": {"tasks": views}}, ("T0", "T1"))
    assert [(r["task"], r["tier"], r["value"], r["rank"]) for r in plot.rows] == [
        ("a", "T0", 0.5, 2.0), ("a", "T1", 0.9, 1.0), ("b", "T0", 0.7, 1.0), ("b", "T1", None, None)]
    assert plot.spec()["layer"][0]["mark"]["type"] == "rect"
    with pytest.raises(durable.ArtifactError, match=r"statistical_results\.json: no 'tasks'"):
        figures.tier_task_heatmap({"statistics": {}}, ("T0",))
