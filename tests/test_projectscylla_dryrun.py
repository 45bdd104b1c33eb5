"""ProjectScylla's published arXiv dry run, reproduced: its committed raw tree (tests/data/projectscylla/dryrun,
see the README there) is adopted with `scylla adopt`, `doit` builds Scylla's aggregates, analysis frames and
statistics (paying for nothing), and the frames, with `scylla.analysis.stats` applied to them, and the
statistics' JSON give ProjectScylla's published numbers row by row, except where ProjectScylla is wrong:
there the test pins Scylla's value and ProjectScylla's, as docs/projectscylla-differences.md lists them.

Joins are on (tier, subtest, run[, judge slot][, criterion]): ProjectScylla names the experiment after its
directory and the agent model by a display name ("Sonnet 4.5"), Scylla by the experiment id and the model id."""

from __future__ import annotations

import csv
import itertools
import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import EXECUTED, PROJECTSCYLLA, REPO

from scylla.analysis import stats

pytestmark = pytest.mark.e2e          # `scylla adopt` and `doit` in subprocesses

DRYRUN = PROJECTSCYLLA / "dryrun"
PUBLISHED = DRYRUN / "published"
NAME = "2026-01-20T06-13-07-test-001"           # the experiment directory ProjectScylla analysed
URL = "https://github.com/mvillmow/Hello-World"
TIERS = [f"T{i}" for i in range(7)]
SUBTEST = {t: "00" if t == "T0" else "01" for t in TIERS}      # max_subtests: 1, the first of each tier
REL = 1e-12
PAID = ("agent", "agent_result", "pipeline", "judge_prompt", "judge", "judgment", "consensus", "run")


# ---------------------------------------------------------------- the adopted tree (one per module)

def _env() -> dict[str, str]:
    """No claude CLI on PATH and no key, an endpoint nobody listens on: nothing can be paid for."""
    path = os.pathsep.join(d for d in os.environ.get("PATH", "").split(os.pathsep)
                           if d and not (Path(d) / "claude").exists())
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANTHROPIC_")}
    return {**env, "PATH": path, "ANTHROPIC_BASE_URL": "http://127.0.0.1:9"}


def _doit(cwd: Path, spec: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), f"exp={spec}"], cwd=cwd,
                          env=_env(), check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


@pytest.fixture(scope="module")
def adopted(tmp_path_factory) -> dict:
    """ProjectScylla's raw tree adopted in a temp copy, then `doit`. The fixture is test-001 with the rubric and
    criteria ProjectScylla ran with (the raw tree's copies: its fixture's rubric changed since)."""
    base = tmp_path_factory.mktemp("dryrun")
    ps = base / NAME
    shutil.copytree(DRYRUN / "raw", ps, symlinks=True)
    fixture = base / "fixture"
    shutil.copytree(PROJECTSCYLLA / "fixtures/test-001", fixture)
    for name in ("rubric.yaml", "criteria.md"):
        shutil.copy(DRYRUN / "raw" / name, fixture / "expected" / name)
    repo = base / "hello-world.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(DRYRUN / "hello-world.bundle"), str(repo)], check=True)
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "adopt", str(ps), "--tiers", str(DRYRUN / "tiers"),
                           "--fixture", str(fixture), "--repo", f"{URL}={repo}"],
                          cwd=base, env=_env(), check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    spec = ps / "scylla.yaml"
    first, again = _doit(base, spec), _doit(base, spec)
    data = ps / "scylla/analysis/data"
    return {"adopt": done.stdout, "doit": EXECUTED.findall(first.stdout), "again": EXECUTED.findall(again.stdout),
            "doit_out": first.stdout + first.stderr, "analysis": ps / "scylla/analysis",
            **{name: _read(data / f"{name}.csv") for name in ("runs", "judges", "criteria", "subtests")}}


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _published(name: str) -> list[dict[str, str]]:
    return _read(PUBLISHED / f"{name}.csv")


def _published_json(name: str) -> dict:
    """ProjectScylla's JSON, which holds bare NaN (not JSON): Python's parser reads it as float('nan')."""
    return json.loads((PUBLISHED / name).read_text(encoding="utf-8"))


def num(cell: str) -> float | None:
    return None if cell == "" else float(cell)


def by(rows: list[dict[str, str]], *key: str) -> dict[tuple, dict[str, str]]:
    out = {tuple(r[k] for k in key): r for r in rows}
    assert len(out) == len(rows), f"duplicate keys {key}"
    return out


def _run_key(run_field: str):
    return lambda r: (r["tier"], r["subtest"], int(r[run_field]))


def column(rows: list[dict[str, str]], name: str) -> list[float]:
    return [float(r[name]) for r in rows]


def _tier(rows: list[dict[str, str]], tier: str) -> list[dict[str, str]]:
    return [r for r in rows if r["tier"] == tier]


# ---------------------------------------------------------------- adoption and the graph

def test_the_dry_run_adopts_whole_and_doit_builds_the_frames_paying_for_nothing(adopted):
    assert "7 finished agent runs, 21 judgments, 7 pipelines" in adopted["adopt"]
    assert "runs: 7 finished, 0 unfinished" in adopted["adopt"]
    kinds = {name.split(":")[0] for name in adopted["doit"]}
    assert not kinds & set(PAID), adopted["doit"]          # no agent, judge or pipeline, nothing re-derived
    assert {"analysis", "subtest", "tier", "experiment"} <= kinds
    assert {"analysis:frames", "analysis:stats"} <= set(adopted["doit"]) and "$0.00 spent" in adopted["doit_out"]
    # then nothing is left to do (preflight checks again while its problem, no claude CLI here, stands)
    assert adopted["again"] == ["preflight"]


# ---------------------------------------------------------------- the frames, row by row

def test_runs_frame_reproduces_projectscyllas_runs_csv_row_by_row(adopted):
    ours = {_run_key("run")(r): r for r in adopted["runs"]}
    theirs = {_run_key("run_number")(r): r for r in _published("runs")}
    assert sorted(ours) == sorted(theirs) == [(t, SUBTEST[t], 1) for t in TIERS]
    for key, p in theirs.items():
        s = ours[key]
        assert (s["grade"], s["passed"], s["exit_code"]) == (p["grade"], p["passed"].lower(), p["exit_code"]), key
        for col in ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens"):
            assert int(s[col]) == int(p[col]), (key, col)
        for col in ("score", "impl_rate", "cost_usd", "duration_seconds", "agent_duration_seconds",
                    "judge_duration_seconds"):
            assert float(s[col]) == pytest.approx(float(p[col]), rel=REL), (key, col)
    # what Scylla adds: ProjectScylla recorded no judge cost, so the total cost is unknown, not the agent's
    assert {(r["judge_cost_usd"], r["total_cost_usd"], r["valid_judges"], r["outcome"]) for r in adopted["runs"]} \
        == {("", "", "3", "passed")}


def test_judges_frame_reproduces_projectscyllas_judges_csv_row_by_row(adopted):
    ours = by(adopted["judges"], "tier", "subtest", "run", "slot")
    theirs = {(r["tier"], r["subtest"], r["run_number"], f"judge_{int(r['judge_number']):02d}"): r
              for r in _published("judges")}
    assert sorted(ours) == sorted(theirs) and len(theirs) == 21
    for key, p in theirs.items():
        s = ours[key]
        assert (s["model"], s["grade"], s["passed"], s["is_valid"]) == \
            (p["judge_model"], p["judge_grade"], p["judge_passed"].lower(), p["judge_is_valid"].lower()), key
        assert float(s["score"]) == pytest.approx(float(p["judge_score"]), rel=REL), key
        assert float(s["impl_rate"]) == pytest.approx(float(p["judge_impl_rate"]), rel=REL), key


def test_criteria_frame_reproduces_projectscyllas_criteria_csv_row_by_row(adopted):
    ours = by(adopted["criteria"], "tier", "subtest", "run", "slot", "criterion")
    theirs = {(r["tier"], r["subtest"], r["run_number"], f"judge_{int(r['judge_number']):02d}", r["criterion"]): r
              for r in _published("criteria")}
    assert sorted(ours) == sorted(theirs) and len(theirs) == 105
    for key, p in theirs.items():
        s = ours[key]
        for mine, their in (("score", "criterion_score"), ("achieved", "criterion_achieved"),
                            ("max_points", "criterion_max")):
            assert float(s[mine]) == pytest.approx(float(p[their]), rel=REL), (key, mine)
    # Scylla adds the rubric's weights: Table 4's
    assert {(r["criterion"], r["weight"]) for r in adopted["criteria"]} == {
        ("functional", "0.35"), ("code_quality", "0.2"), ("proportionality", "0.15"), ("build_pipeline", "0.1"),
        ("overall_quality", "0.2")}


def test_subtests_frame_reproduces_projectscyllas_subtests_csv_except_single_run_consistency(adopted):
    ours = by(adopted["subtests"], "tier", "subtest")
    theirs = by(_published("subtests"), "tier", "subtest")
    assert sorted(ours) == sorted(theirs) == [(t, SUBTEST[t]) for t in TIERS]
    for key, p in theirs.items():
        s = ours[key]
        runs = [r for r in adopted["runs"] if (r["tier"], r["subtest"]) == key]
        assert float(s["pass_rate"]) == float(p["pass_rate"]) == 1.0
        for mine, their in (("mean_score", "mean_score"), ("median_score", "median_score"),
                            ("mean_cost_usd", "mean_cost"), ("total_cost_usd", "total_cost")):
            assert float(s[mine]) == pytest.approx(float(p[their]), rel=REL), (key, mine)
        assert float(s["total_duration_seconds"]) / int(s["runs"]) == pytest.approx(float(p["mean_duration"]), rel=REL)
        impl = column(runs, "impl_rate")
        assert stats.mean(impl).value == pytest.approx(float(p["mean_impl_rate"]), rel=REL)
        assert stats.median(impl).value == pytest.approx(float(p["median_impl_rate"]), rel=REL)
        cop = stats.cost_of_pass(column(runs, "cost_usd"), [r["passed"] == "true" for r in runs])
        assert cop.value == pytest.approx(float(p["cop"]), rel=REL)
        assert [int(s[f"grade_{g}"]) for g in "SABCDF"] == [int(p[f"grade_{g}"]) for g in "SABCDF"]
        # one run: SD unknown in both; ProjectScylla's consistency 1.0 comes from 1 - NaN/mean clamped to [0, 1]
        assert (s["std_score"], p["std_score"], p["std_impl_rate"]) == ("", "", "")
        assert (s["consistency"], float(p["consistency"])) == ("", 1.0)
        assert stats.consistency(column(runs, "score")).value is None


# ---------------------------------------------------------------- summary.json

def test_overall_totals_and_score_statistics_reproduce_summary_json(adopted):
    runs = adopted["runs"]
    published = _published_json("summary.json")
    overall, model = published["overall_stats"], published["by_model"]["Sonnet 4.5"]
    score, impl, cost = column(runs, "score"), column(runs, "impl_rate"), column(runs, "cost_usd")
    assert math.fsum(cost) == pytest.approx(1.0111618, rel=REL) == overall["total_cost"] == model["total_cost"]
    assert sum(int(r["total_tokens"]) for r in runs) == 1_000_213 == model["total_tokens"]
    assert stats.mean(score).value == pytest.approx(0.9708857142857142, rel=REL)
    expected = {
        "mean_score": stats.mean(score).value, "median_score": stats.median(score).value,
        "std_score": stats.sd(score).value, "min_score": min(score), "max_score": max(score),
        "q1_score": float(np.quantile(score, 0.25)), "q3_score": float(np.quantile(score, 0.75)),
        "mean_impl_rate": stats.mean(impl).value, "median_impl_rate": stats.median(impl).value,
        "std_impl_rate": stats.sd(impl).value, "min_impl_rate": min(impl), "max_impl_rate": max(impl),
        "mean_cost_per_run": stats.mean(cost).value, "median_cost": stats.median(cost).value,
        "cop": stats.cost_of_pass(cost, [r["passed"] == "true" for r in runs]).value,
        "mean_duration": stats.mean(column(runs, "duration_seconds")).value,
        "pass_rate": stats.wilson(sum(r["passed"] == "true" for r in runs), len(runs)).value,
    }
    for key, value in expected.items():
        assert value == pytest.approx(model[key], rel=REL), key
    for key in ("pass_rate", "mean_score", "mean_impl_rate", "median_impl_rate", "mean_cost_per_run"):
        assert expected[key] == pytest.approx(overall[key], rel=REL), key
    assert (published["total_runs"], published["total_judge_evaluations"], published["total_criteria_scores"]) == \
        (len(runs), len(adopted["judges"]), len(adopted["criteria"]))
    # ProjectScylla counts distinct subtest ids across tiers ("00", "01"): the experiment has 7 subtests
    assert model["n_subtests"] == 2 and len({(r["tier"], r["subtest"]) for r in runs}) == 7


def test_per_tier_cost_duration_and_token_tables_reproduce(adopted):
    by_tier = _published_json("summary.json")["by_tier"]
    descriptives = {d["tier"]: d for d in _published_json("statistical_results.json")["tier_descriptives"]}
    table5 = _markdown_rows(PUBLISHED / "tab05_cost_analysis.md")
    table7 = _markdown_rows(PUBLISHED / "tab07_subtest_detail.md")
    for tier in TIERS:
        runs = _tier(adopted["runs"], tier)
        cost, passed = column(runs, "cost_usd"), [r["passed"] == "true" for r in runs]
        mine = {"mean_score": stats.mean(column(runs, "score")).value,
                "median_score": stats.median(column(runs, "score")).value,
                "mean_impl_rate": stats.mean(column(runs, "impl_rate")).value,
                "median_impl_rate": stats.median(column(runs, "impl_rate")).value,
                "mean_cost": stats.mean(cost).value, "total_cost": math.fsum(cost),
                "cop": stats.cost_of_pass(cost, passed).value, "pass_rate": stats.wilson(sum(passed), len(runs)).value}
        for key, value in mine.items():
            assert value == pytest.approx(by_tier[tier][key], rel=REL), (tier, key)
        assert mine["cop"] == pytest.approx(descriptives[tier]["cop"], rel=REL)
        assert stats.median(cost).value == pytest.approx(descriptives[tier]["median_cost"], rel=REL)
        # one run per tier: ProjectScylla's SDs are NaN (bare NaN in its JSON); Scylla's are not computable
        assert math.isnan(by_tier[tier]["std_score"]) and stats.sd(column(runs, "score")).value is None
        assert math.isnan(by_tier[tier]["std_impl_rate"]) and stats.sd(column(runs, "impl_rate")).value is None
        assert table7[tier]["Std Dev"] == "nan" and table7[tier]["Mean Score"] == f"{mine['mean_score']:.3f}"
        row = table5[tier]
        assert [int(row[c]) for c in ("Input Tokens", "Output Tokens", "Cache Read", "Cache Create")] == \
            [sum(int(r[c]) for r in runs) for c in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                   "cache_creation_tokens")]
        assert row["Mean Cost ($)"] == f"{mine['mean_cost']:.2f}" and row["CoP ($)"] == f"{mine['cop']:.2f}"
    total = table5["**Total**"]
    assert [int(total[c]) for c in ("Input Tokens", "Output Tokens", "Cache Read", "Cache Create")] == [
        sum(int(r[c]) for r in adopted["runs"]) for c in ("input_tokens", "output_tokens", "cache_read_tokens",
                                                          "cache_creation_tokens")] == [186, 4665, 829766, 165596]


def _markdown_rows(path: Path, key: str | None = None) -> dict[str, dict[str, str]]:
    """A markdown table's rows by their `key` cell (default: the tier, else the first cell)."""
    lines = [ln for ln in path.read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [dict(zip(header, (c.strip() for c in ln.strip("|").split("|")), strict=False)) for ln in lines[2:]]
    key = key or ("Tier" if "Tier" in header else header[0])
    return {r[key]: r for r in rows}


# ---------------------------------------------------------------- statistical_results.json

CORRELATIONS = [("score", "cost_usd"), ("score", "total_tokens"), ("score", "duration_seconds"),
                ("score", "impl_rate"), ("impl_rate", "cost_usd"), ("impl_rate", "duration_seconds"),
                ("cost_usd", "total_tokens")]


def test_every_published_spearman_correlation_reproduces_with_its_p_value(adopted):
    published = {(c["metric1"], c["metric2"]): c for c in _published_json("statistical_results.json")["correlations"]}
    assert sorted(published) == sorted(CORRELATIONS)
    for x, y in CORRELATIONS:
        test = stats.correlation(column(adopted["runs"], x), column(adopted["runs"], y), "spearman")
        assert (test.statistic, test.p, test.n) == \
            (pytest.approx(published[x, y]["spearman_rho"], rel=REL),
             pytest.approx(published[x, y]["p_value"], rel=REL), published[x, y]["n"]), (x, y)
    runs = adopted["runs"]
    assert stats.correlation(column(runs, "score"), column(runs, "impl_rate"), "spearman").statistic == \
        pytest.approx(0.9349469900084572, rel=REL)
    assert stats.correlation(column(runs, "cost_usd"), column(runs, "total_tokens"), "spearman").statistic == \
        pytest.approx(0.8928571428571429, rel=REL)


def test_frontier_is_t5_at_projectscyllas_cost_of_pass_and_alone_on_the_pareto_set(adopted):
    published = [d for d in _published_json("statistical_results.json")["tier_descriptives"] if d["tier"] == "frontier"]
    assert published[0]["frontier_tier"] == "T5" and published[0]["cop"] == 0.06531415
    cops = {t: stats.cost_of_pass(column(_tier(adopted["runs"], t), "cost_usd"),
                                  [r["passed"] == "true" for r in _tier(adopted["runs"], t)]) for t in TIERS}
    cheapest = min(TIERS, key=lambda t: cops[t].value)
    assert (cheapest, cops[cheapest].value) == ("T5", pytest.approx(0.06531415, rel=REL))
    assert cops["T5"].ci_low is None and "n = 1" in cops["T5"].reason        # no interval from one run
    points = [(stats.mean(column(_tier(adopted["runs"], t), "cost_usd")).value,
               stats.mean(column(_tier(adopted["runs"], t), "score")).value) for t in TIERS]
    assert [TIERS[i] for i in stats.pareto(points)] == ["T5"]


def test_single_run_tests_are_not_computable_where_projectscylla_published_nan_or_p_1(adopted):
    published = _published_json("statistical_results.json")
    runs = adopted["runs"]
    # Kruskal–Wallis over 7 tiers of one run: ProjectScylla wrote bare NaN (invalid JSON)
    assert {o["metric"] for o in published["omnibus_tests"]} == {"pass_rate", "impl_rate"}
    assert all(math.isnan(o["h_statistic"]) and math.isnan(o["p_value"]) for o in published["omnibus_tests"])
    for metric in ("passed", "impl_rate"):
        groups = [[float(r[metric] == "true") if metric == "passed" else float(r[metric]) for r in _tier(runs, t)]
                  for t in TIERS]
        test = stats.kruskal(groups)
        assert (test.statistic, test.p) == (None, None) and "fewer than 2" in test.reason
    # Mann–Whitney of one run against one: ProjectScylla's guard returns U = 0, p = 1.0 (and Holm keeps 1.0)
    pairs = published["pairwise_comparisons"]
    assert [(p["tier1"], p["tier2"]) for p in pairs] == list(itertools.pairwise(TIERS))
    assert {(p["n1"], p["n2"], p["u_statistic"], p["p_value_raw"], p["p_value"]) for p in pairs} == {(1, 1, 0.0, 1.0, 1.0)}
    passed = {t: [float(r["passed"] == "true") for r in _tier(runs, t)] for t in TIERS}
    for a, b in itertools.pairwise(TIERS):
        test = stats.mann_whitney(passed[a], passed[b])
        assert (test.statistic, test.p) == (None, None) and "at least 2" in test.reason
    text = (PUBLISHED / "statistical_results.json").read_text() + (PUBLISHED / "summary.json").read_text()
    assert len(re.findall(r"\bNaN\b", text)) == 18          # 4 in the omnibus tests, 14 in by_tier's SDs


# ---------------------------------------------------------------- the tables' values

def test_pass_rate_interval_of_1_of_1_is_wilsons_not_projectscyllas_zero_width(adopted):
    table1 = _markdown_rows(PUBLISHED / "tab01_tier_summary.md")
    for tier in TIERS:
        runs = _tier(adopted["runs"], tier)
        assert table1[tier]["Pass Rate (95% CI)"] == "1.000 (1.000, 1.000)"
        assert table1[tier]["Consistency"] == "1.000" and table1[tier]["Mean Score (±σ)"].endswith("± nan")
        w = stats.wilson(sum(r["passed"] == "true" for r in runs), len(runs))
        assert (w.value, w.ci_low, w.ci_high) == (1.0, pytest.approx(0.2065493143772374, rel=REL), 1.0)


def _units(judges: list[dict[str, str]]) -> list[list[float]]:
    """runs × judge slots, keyed by the full run key (here one experiment: ProjectScylla's pivot on tier,
    subtest and run alone gives the same matrix)."""
    units: dict[tuple, dict[str, float]] = {}
    for j in judges:
        units.setdefault((j["experiment"], j["agent_model"], j["tier"], j["subtest"], j["run"]), {})[j["slot"]] = \
            float(j["score"])
    return [[row[s] for s in sorted(row)] for _, row in sorted(units.items())]


def test_judge_agreement_alpha_and_pairs_reproduce_table_3(adopted):
    units = _units(adopted["judges"])
    alpha = stats.alpha(units, "interval")
    assert alpha.value == pytest.approx(-0.11692939616021758, rel=REL)
    assert alpha.ci_low is not None and alpha.ci_low < alpha.value < alpha.ci_high     # Scylla adds its bootstrap CI
    table = (PUBLISHED / "tab03_judge_agreement.md").read_text()
    assert f"**Krippendorff's α** (interval): {alpha.value:.3f}" in table
    rows = _markdown_rows(PUBLISHED / "tab03_judge_agreement.md")
    for pair in stats.judge_pairs(units):
        row = rows[f"Judge {pair.judges[0] + 1} – Judge {pair.judges[1] + 1}"]
        assert (f"{pair.spearman.statistic:.3f}", f"{pair.pearson.statistic:.3f}",
                f"{pair.mean_abs_diff.value:.4f}") == (row["Spearman ρ"], row["Pearson r"], row["Mean"])  # (its header "Mean |Δ Score|" splits at the bars)
    assert (rows["All Judges (Overall)"]["Spearman ρ"], rows["All Judges (Overall)"]["Pearson r"]) == ("nan", "nan")


def test_criteria_means_are_over_runs_times_judges_with_the_sample_sd_as_table_4(adopted):
    """Table 4: per criterion, the mean and the sample SD (n − 1) of `criterion_score` over every run × judge
    row (21 here), valid or not, the runs not averaged first."""
    rows = _markdown_rows(PUBLISHED / "tab04_criteria_performance.md")
    for criterion in ("functional", "code_quality", "proportionality", "build_pipeline", "overall_quality"):
        scores = [float(r["score"]) for r in adopted["criteria"] if r["criterion"] == criterion]
        assert len(scores) == 21
        m, sd = stats.mean(scores).value, stats.sd(scores).value
        assert rows[criterion]["Sonnet 4.5 Mean (±σ)"] == f"{m:.3f} ± {sd:.3f}"
        assert float(rows[criterion]["Weight"]) == float(
            next(r["weight"] for r in adopted["criteria"] if r["criterion"] == criterion))
    proportionality = [float(r["score"]) for r in adopted["criteria"] if r["criterion"] == "proportionality"]
    assert stats.mean(proportionality).value == pytest.approx(0.940095238095238, rel=REL)
    assert stats.sd(proportionality).value == pytest.approx(0.08304631524752003, rel=REL)


# ---------------------------------------------------------------- the figures' data and the other tables

def test_holm_over_the_16_cells_of_the_correlation_matrix_is_projectscyllas_and_over_the_6_pairs_is_ours(adopted):
    """fig20: ProjectScylla corrects the 4 × 4 matrix's 16 p-values (4 diagonal 0s, each pair twice) together;
    the family is the 6 distinct pairs, where cost–tokens stays significant."""
    from statsmodels.stats.multitest import multipletests
    names = {"Score": "score", "Cost (USD)": "cost_usd", "Total Tokens": "total_tokens",
             "Duration (s)": "duration_seconds"}
    cells = _read(PUBLISHED / "fig20_metric_correlation_heatmap.csv")
    assert len(cells) == 16
    p = {(c["metric1"], c["metric2"]): 0.0 if c["metric1"] == c["metric2"] else
         stats.correlation(column(adopted["runs"], names[c["metric1"]]), column(adopted["runs"], names[c["metric2"]]),
                           "spearman").p for c in cells}
    theirs = multipletests([p[c["metric1"], c["metric2"]] for c in cells], method="holm")[1]
    for c, q in zip(cells, theirs, strict=True):
        assert float(c["p_value_corrected"]) == pytest.approx(q, rel=REL, abs=1e-300), c
    pairs = list(itertools.combinations(names, 2))
    ours = dict(zip(pairs, multipletests([p[pair] for pair in pairs], method="holm")[1], strict=True))
    published = by(cells, "metric1", "metric2")
    assert published["Cost (USD)", "Total Tokens"]["significant"] == "False"
    assert float(published["Cost (USD)", "Total Tokens"]["p_value_corrected"]) == \
        pytest.approx(0.08168624890722471, rel=REL)
    assert ours["Cost (USD)", "Total Tokens"] == pytest.approx(0.04084312445361236, rel=REL) and \
        ours["Cost (USD)", "Total Tokens"] < 0.05
    assert ours["Score", "Cost (USD)"] == pytest.approx(0.646798538222142, rel=REL)
    assert float(published["Score", "Cost (USD)"]["p_value_corrected"]) == 1.0


def test_single_run_figures_and_tables_publish_zero_width_intervals_and_p_1_that_are_not_computable(adopted):
    runs = adopted["runs"]
    passed = {t: [float(r["passed"] == "true") for r in _tier(runs, t)] for t in TIERS}
    for row in _read(PUBLISHED / "fig04_pass_rate_by_tier.csv"):            # pass rate CI: Wilson's
        w = stats.wilson(int(sum(passed[row["tier"]])), len(passed[row["tier"]]))
        assert (row["ci_low"], row["ci_high"]) == ("1.0", "1.0")
        assert (w.ci_low, w.ci_high) == (pytest.approx(0.2065493143772374, rel=REL), 1.0)
    for row in _read(PUBLISHED / "fig11_tier_uplift_significance.csv"):     # Mann–Whitney of 1 run against 1
        a, b = row["transition"].split("→")
        assert row["pvalue"] == "1.0" and stats.mann_whitney(passed[a], passed[b]).p is None
    for row in _read(PUBLISHED / "fig19_effect_size_forest.csv"):           # Cliff's δ on pass, 1 run against 1
        delta = stats.cliffs_delta(passed[row["tier2"]], passed[row["tier1"]])
        assert (row["delta"], row["ci_low"], row["ci_high"]) == ("0.0", "0.0", "0.0")
        assert (delta.value, delta.ci_low, delta.ci_high) == (0.0, None, None) and "at least 2" in delta.reason
    # Table 5's total row: cost of pass nan, though all 7 runs passed (summary.json's by_model cop has it)
    total = _markdown_rows(PUBLISHED / "tab05_cost_analysis.md")["**Total**"]
    cop = stats.cost_of_pass(column(runs, "cost_usd"), [r["passed"] == "true" for r in runs])
    assert total["CoP ($)"] == "nan" and cop.value == pytest.approx(0.1444516857142857, rel=REL)
    assert cop.ci_low is not None and cop.ci_low < cop.value < cop.ci_high                 # with its bootstrap CI
    assert cop.value == pytest.approx(_published_json("summary.json")["by_model"]["Sonnet 4.5"]["cop"], rel=REL)
    # Table 9: the judge models are in config/experiment.json and in every judges.csv row
    config = _markdown_rows(PUBLISHED / "tab09_experiment_config.md")[NAME]
    assert config["Judge Models"] == "N/A"
    assert sorted({j["model"] for j in adopted["judges"]}) == \
        ["claude-haiku-4-5", "claude-opus-4-5-20251101", "claude-sonnet-4-5-20250929"]


def test_adopting_with_projectscyllas_current_test_001_fixture_is_refused_its_rubric_changed(tmp_path):
    """ProjectScylla's test-001 rubric changed after the dry run: the raw tree's rubric.yaml is the one its
    judges read, so the current fixture is refused before anything is written, naming the fix."""
    ps = tmp_path / NAME
    shutil.copytree(DRYRUN / "raw", ps, symlinks=True)
    done = subprocess.run([sys.executable, "-m", "scylla.cli", "adopt", str(ps), "--tiers", str(DRYRUN / "tiers"),
                           "--fixture", str(PROJECTSCYLLA / "fixtures/test-001"), "--repo", f"{URL}={tmp_path}"],
                          cwd=tmp_path, env=_env(), check=False, capture_output=True, text=True, timeout=600)
    assert done.returncode == 2
    assert f"differs from {ps / 'rubric.yaml'}, the rubric ProjectScylla ran with" in done.stderr
    assert "fix: pass --fixture the fixture ProjectScylla ran" in done.stderr
    assert not (ps / "scylla.yaml").exists() and not (ps / "scylla").exists()


def test_single_run_effect_sizes_and_differences_reproduce_tables_2_and_2b(adopted):
    """Cliff's δ and the differences are computable from one run per tier (δ is then −1, 0 or +1): the same
    values; what Scylla does not give is an interval around them."""
    runs = adopted["runs"]
    for table, metric in (("tab02_tier_comparison.md", "passed"), ("tab02b_impl_rate_comparison.md", "impl_rate")):
        rows = _markdown_rows(PUBLISHED / table, "Transition")
        values = {t: [float(r[metric] == "true") if metric == "passed" else float(r[metric]) for r in _tier(runs, t)]
                  for t in TIERS}
        assert len(rows) == 7
        for transition, row in rows.items():
            a, b = transition.split(" ")[0].split("→")
            delta = stats.cliffs_delta(values[b], values[a])
            difference = stats.mean(values[b]).value - stats.mean(values[a]).value
            assert row["Cliff's δ"] == f"{delta.value:+.3f}" and delta.ci_low is None, (table, transition)
            shown = row["Pass Rate Δ"] if metric == "passed" else row["Impl-Rate Δ"]
            assert shown == (f"{difference:+.4f}" if metric == "passed" else f"{difference:+.3f}"), (table, transition)


# ---------------------------------------------------------------- Scylla's own statistics (analysis:stats)

def _strict_json(path: Path) -> dict:
    """Scylla's JSON, refusing NaN and infinities (ProjectScylla's is read with Python's lenient parser)."""
    def refuse(constant: str):
        raise AssertionError(f"{path}: {constant} is not JSON")
    return json.loads(path.read_text(encoding="utf-8"), parse_constant=refuse)


def _scylla_stats(adopted) -> dict:
    """The values of analysis/summary.json and statistical_results.json this module checks, by one name each
    (the one place that knows their keys: docs/numbers.md, "Statistics")."""
    summary = _strict_json(adopted["analysis"] / "summary.json")
    results = _strict_json(adopted["analysis"] / "statistical_results.json")
    return {
        "overall": summary["overall"], "tiers": summary["tiers"], "subtests": summary["subtests"],
        "frontier": summary["frontier"], "criteria": {n: c["overall"] for n, c in summary["criteria"].items()},
        "correlations": {frozenset((c["x"], c["y"])): c for c in results["correlations"]},
        "corrected": {t["name"]: t for t in results["registry"]["correlations"]["tests"]},
        "alpha": results["judges"]["alpha"], "omnibus": results["tier_comparisons"]["omnibus"],
        "pairs": {(p["a"], p["b"]): p for p in results["tier_comparisons"]["pairs"]},
    }


def test_scyllas_statistics_reproduce_the_published_values_and_give_null_with_a_reason_for_the_rest(adopted):
    st = _scylla_stats(adopted)
    overall = st["overall"]
    assert overall["total_cost_usd"] == pytest.approx(1.0111618, rel=REL)
    assert overall["tokens"]["total_tokens"] == 1_000_213 and overall["total_judge_cost_usd"] is None
    assert overall["mean_score"]["value"] == pytest.approx(0.9708857142857142, rel=REL)
    assert overall["impl_rate"]["value"] == pytest.approx(0.9855677655677656, rel=REL)
    proportionality = st["criteria"]["proportionality"]
    assert (proportionality["mean"]["value"], proportionality["sd"]["value"], proportionality["mean"]["n"]) == \
        (pytest.approx(0.940095238095238, rel=REL), pytest.approx(0.08304631524752003, rel=REL), 21)
    # the frontier: ProjectScylla's T5 at 0.06531415, alone on the Pareto set; one run: no interval
    frontier = st["frontier"]
    assert (frontier["tier"], frontier["pareto"]) == ("T5", ["T5"])
    assert frontier["cost_of_pass"]["value"] == pytest.approx(0.06531415, rel=REL)
    assert frontier["cost_of_pass"]["ci_low"] is None and "n = 1" in frontier["cost_of_pass"]["reason"]
    # every correlation ProjectScylla published, with its p-value
    for c in _published_json("statistical_results.json")["correlations"]:
        ours = st["correlations"][frozenset((c["metric1"], c["metric2"]))]
        assert (ours["statistic"], ours["p"], ours["n"]) == (pytest.approx(c["spearman_rho"], rel=REL),
                                                             pytest.approx(c["p_value"], rel=REL), c["n"]), c
    # ProjectScylla's is_significant is p < 0.05 uncorrected; Scylla's family is the 10 pairs, Holm-corrected
    corrected = {frozenset(t["name"].split(" ~ ")): t for t in st["corrected"].values()}
    for c in _published_json("statistical_results.json")["correlations"]:     # the same verdict but cost–tokens
        verdict = corrected[frozenset((c["metric1"], c["metric2"]))]["reject"]
        assert verdict is (c["is_significant"] and c["metric1"] != "cost_usd"), c
    score_impl = st["corrected"]["score ~ impl_rate"]
    assert (score_impl["p_adjusted"], score_impl["reject"]) == (pytest.approx(0.020013213852761808, rel=REL), True)
    assert st["corrected"]["score ~ cost_usd"]["p_adjusted"] == 1.0           # fig20's published value too
    cost_tokens = st["corrected"]["cost_usd ~ total_tokens"]
    assert (cost_tokens["p_adjusted"], cost_tokens["reject"]) == (pytest.approx(0.06126468668041853, rel=REL), False)
    assert len(st["corrected"]) == 10
    alpha = st["alpha"]["interval"]
    assert alpha["value"] == pytest.approx(-0.11692939616021758, rel=REL)
    assert alpha["ci_low"] < alpha["value"] < alpha["ci_high"]
    cop = st["overall"]["cost_of_pass"]                        # Table 5's total, published as nan
    assert cop["value"] == pytest.approx(0.1444516857142857, rel=REL) and cop["ci_low"] < cop["value"] < cop["ci_high"]
    # where ProjectScylla published 1.000, (1.000, 1.000), NaN or p = 1.0 from one run
    for tier in TIERS:
        pass_rate = st["tiers"][tier]["pass_rate"]
        assert (pass_rate["value"], pass_rate["ci_low"], pass_rate["ci_high"]) == \
            (1.0, pytest.approx(0.2065493143772374, rel=REL), 1.0)
        assert st["tiers"][tier]["sd_score"]["value"] is None and st["tiers"][tier]["sd_score"]["reason"]
        consistency = st["subtests"][f"{tier}/{SUBTEST[tier]}"]["consistency"]
        assert consistency["value"] is None and "at least 2 runs" in consistency["reason"]
    assert st["omnibus"]["p"] is None and "fewer than 2" in st["omnibus"]["reason"]
    for a, b in itertools.pairwise(TIERS):
        test = st["pairs"][a, b]["mann_whitney"]
        assert (test["statistic"], test["p"]) == (None, None) and "at least 2" in test["reason"]
