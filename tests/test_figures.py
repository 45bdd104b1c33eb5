"""The analysis figures as pure functions of small frames (scylla/analysis/figures.py): the data each plots,
worked by hand; colours by sorted order; a note, not a crash, on small or empty data; valid Vega-Lite; and
the same bytes from the same frames."""

from __future__ import annotations

import csv
import io
import math
import statistics
from typing import Any

import altair as alt
import pytest
from altair.utils.schemapi import validate_jsonschema

from scylla import durable
from scylla.analysis import figures, frames

TIERS = ("T0", "T1", "T5")


def _frame(name: str, rows: list[dict[str, Any]]) -> figures.Frame:
    """Rows as the figures read them: written as the frame's CSV (frames.to_csv), typed back (frames.parse_cell)."""
    header, *lines = csv.reader(io.StringIO(frames.to_csv(frames.FRAMES[name], rows)))
    return [{c: frames.parse_cell(c, v) for c, v in zip(header, line, strict=True)} for line in lines]


def _run(tier: str, subtest: str, run: int, **cells: Any) -> dict[str, Any]:
    return {"experiment": "e", "agent_model": "m", "tier": tier, "subtest": subtest, "run": run, **cells}


def _inputs(**rows: list[dict[str, Any]]) -> dict[str, figures.Frame]:
    return {name: _frame(name, rows.get(name, [])) for name in frames.FRAMES}


def _valid(spec: dict) -> dict:
    validate_jsonschema(spec, alt.vegalite.v6.schema.core.load_schema())
    return spec


def _scale(spec: Any, field: str) -> dict | None:
    """The colour scale of `field` anywhere in a spec."""
    if isinstance(spec, dict):
        color = spec.get("color")
        if isinstance(color, dict) and color.get("field") == field and "scale" in color:
            return color["scale"]
        spec = list(spec.values())
    if isinstance(spec, list):
        return next((s for item in spec if (s := _scale(item, field)) is not None), None)
    return None


# ---------------------------------------------------------------- order and colours

def test_colours_follow_the_sorted_order_of_the_values_never_their_first_appearance():
    assert figures.order(["T10", "T2", None, "T0", "T2", ""]) == ["T0", "T2", "T10"]       # (numbers as numbers)
    domain, palette = figures.colours(["T5", "T0", "T1"])
    assert (domain, palette) == (["T0", "T1", "T5"], list(figures.PALETTE[:3]))
    assert figures.colours(["T1", "T5", "T0"]) == (domain, palette)
    many = [f"T{i}" for i in range(12)]
    assert figures.colours(many)[1][10:] == list(figures.PALETTE[:2])           # (the palette repeats)


def test_a_tier_keeps_its_colour_in_every_figure_whatever_the_figure_holds():
    """The criteria figure of a tier T5 alone colours T5 as the experiment's third tier, as the others do."""
    inputs = _inputs(criteria=[{**_run("T5", "01", 1), "slot": "judge_01", "criterion": "c", "is_valid": True,
                                "score": 0.5}],
                     runs=[_run("T5", "01", 1, cost_usd=0.1, score=0.5, passed=True)])
    for name in ("criteria_by_tier", "cost_quality"):
        scale = _scale(figures.FIGURES[name].plot(inputs, TIERS).spec(), "tier")
        assert scale == {"domain": list(TIERS), "range": list(figures.PALETTE[:3])}, name


# ---------------------------------------------------------------- the data each figure plots

RUNS = [
    _run("T0", "00", 1, score=0.5, grade="C", cost_usd=0.25, judge_cost_usd=0.5, total_cost_usd=0.75, passed=False,
         input_tokens=10, output_tokens=5, cache_creation_tokens=2, cache_read_tokens=1,
         agent_duration_seconds=4.0, judge_duration_seconds=1.0, started_at="2026-01-01T00:00:02+00:00"),
    _run("T0", "00", 2, score=0.75, grade="B", cost_usd=0.5, judge_cost_usd=None, total_cost_usd=None, passed=True,
         input_tokens=20, output_tokens=None, cache_creation_tokens=0, cache_read_tokens=3,
         agent_duration_seconds=2.0, judge_duration_seconds=None, started_at="2026-01-01T00:00:01+00:00"),
    _run("T1", "01", 1, score=None, grade=None, cost_usd=1.0, judge_cost_usd=0.25, total_cost_usd=1.25, passed=None,
         input_tokens=1, output_tokens=1, cache_creation_tokens=1, cache_read_tokens=1,
         agent_duration_seconds=6.0, judge_duration_seconds=3.0, started_at="2026-01-01T00:00:03+00:00"),
]


def test_grades_tokens_and_time_by_tier_count_unknown_cells_as_unknown():
    inputs = _inputs(runs=RUNS)
    assert figures.grade_distribution(inputs, TIERS).rows == [
        {"tier": "T0", "grade": "B", "runs": 1}, {"tier": "T0", "grade": "C", "runs": 1},
        {"tier": "T1", "grade": "unknown", "runs": 1}]
    tokens = {(r["tier"], r["token_type"]): (r["tokens"], r["unknown_runs"]) for r in figures.token_mix(inputs, TIERS).rows}
    assert tokens == {("T0", "input"): (30, 0), ("T0", "output"): (5, 1), ("T0", "cache creation"): (2, 0),
                      ("T0", "cache read"): (4, 0), ("T1", "input"): (1, 0), ("T1", "output"): (1, 0),
                      ("T1", "cache creation"): (1, 0), ("T1", "cache read"): (1, 0)}
    time = figures.agent_judge_time(inputs, TIERS)
    assert [(r["tier"], r["kind"], r["runs"], r["total_seconds"], r["mean_seconds"], r["unknown_runs"])
            for r in time.rows] == [("T0", "agent", 2, 6.0, 3.0, 0), ("T0", "judges", 1, 1.0, 1.0, 1),
                                    ("T1", "agent", 1, 6.0, 6.0, 0), ("T1", "judges", 1, 3.0, 3.0, 0)]
    assert "1 run with unknown durations left out" in str(time.spec()["title"])


def test_cumulative_cost_runs_in_execution_order_and_is_unknown_from_the_first_unknown_cost_on():
    rows = figures.cumulative_cost_rows(_frame("runs", RUNS))
    by_series = {s: [(r["tier"], r["run"], r["cumulative_usd"]) for r in rows if r["series"] == s]
                 for s in figures.COST_SERIES.values()}
    # started at 00:01 (T0/00 run 2), 00:02 (T0/00 run 1), 00:03 (T1/01 run 1)
    assert by_series["agent"] == [("T0", 2, 0.5), ("T0", 1, 0.75), ("T1", 1, 1.75)]
    assert by_series["judges"] == [("T0", 2, None), ("T0", 1, None), ("T1", 1, None)]     # never a partial sum
    assert by_series["agent + judges"] == [("T0", 2, None), ("T0", 1, None), ("T1", 1, None)]
    spec = figures.cumulative_cost(_inputs(runs=RUNS), TIERS).spec()
    assert spec["title"]["subtitle"] == ["judges cost unknown from run 1 on", "agent + judges cost unknown from run 1 on"]


def test_execution_order_breaks_ties_by_measurement_then_key_and_puts_unstarted_runs_last():
    runs = _frame("runs", [_run("T1", "01", 1, started_at=""), _run("T0", "00", 2, started_at="a", measured_at="b"),
                           _run("T0", "00", 1, started_at="a", measured_at="b"), _run("T0", "01", 1, started_at="a",
                                                                                     measured_at="a")])
    assert [(r["tier"], r["subtest"], r["run"]) for r in figures.execution_order(runs)] == \
        [("T0", "01", 1), ("T0", "00", 1), ("T0", "00", 2), ("T1", "01", 1)]


def test_criteria_by_tier_averages_the_valid_judgments_scores_only():
    crit = [{**_run("T0", "00", 1), "slot": "judge_01", "criterion": "functional", "is_valid": True, "score": 0.5},
            {**_run("T0", "00", 2), "slot": "judge_01", "criterion": "functional", "is_valid": True, "score": 1.0},
            {**_run("T0", "00", 2), "slot": "judge_02", "criterion": "functional", "is_valid": False, "score": 0.0},
            {**_run("T0", "00", 2), "slot": "judge_02", "criterion": "style", "is_valid": True, "score": None},
            {**_run("T1", "01", 1), "slot": "judge_01", "criterion": "functional", "is_valid": True, "score": 0.25}]
    plot = figures.criteria_by_tier(_inputs(criteria=crit), TIERS)
    assert plot.rows == [{"criterion": "functional", "tier": "T0", "mean_score": 0.75, "n": 2},
                         {"criterion": "functional", "tier": "T1", "mean_score": 0.25, "n": 1}]


def _judge(experiment: str, tier: str, run: int, slot: str, score: float | None, valid: bool = True) -> dict:
    return {**_run(tier, "00", run), "experiment": experiment, "slot": slot, "score": score, "is_valid": valid}


def test_judge_pairs_match_runs_by_their_full_key_and_skip_invalid_or_unscored_judgments():
    judges = _frame("judges", [
        _judge("a", "T0", 1, "judge_01", 0.5), _judge("a", "T0", 1, "judge_02", 0.75), _judge("a", "T0", 1, "judge_03", 0.25),
        # experiment b's run T0/00/1: the same tier, subtest and run, another run
        _judge("b", "T0", 1, "judge_01", 1.0), _judge("b", "T0", 1, "judge_02", 0.0, valid=False),
        _judge("b", "T0", 1, "judge_03", None)])
    slots, rows = figures.judge_pairs(judges)
    assert slots == ["judge_01", "judge_02", "judge_03"]
    assert [(r["pair"], r["experiment"], r["score_a"], r["score_b"]) for r in rows] == [
        ("judge_01 vs judge_02", "a", 0.5, 0.75), ("judge_01 vs judge_03", "a", 0.5, 0.25),
        ("judge_02 vs judge_03", "a", 0.75, 0.25)]


def test_bland_altman_bias_and_limits_of_agreement_worked_by_hand():
    pairs = [{"pair": "p", "score_a": 0.5, "score_b": 0.75}, {"pair": "p", "score_a": 0.5, "score_b": 0.25},
             {"pair": "p", "score_a": 1.0, "score_b": 1.0}, {"pair": "q", "score_a": 0.25, "score_b": 0.75}]
    rows = figures.bland_altman_rows(pairs)
    sd = statistics.stdev([0.25, -0.25, 0.0])       # 0.25
    assert math.isclose(sd, 0.25)
    assert [(r["mean"], r["difference"]) for r in rows] == [(0.625, 0.25), (0.375, -0.25), (1.0, 0.0), (0.5, 0.5)]
    assert [(r["bias"], r["loa_low"], r["loa_high"]) for r in rows[:3]] == [(0.0, -1.96 * sd, 1.96 * sd)] * 3
    assert (rows[3]["bias"], rows[3]["loa_low"], rows[3]["loa_high"]) == (0.5, None, None)     # one run: no SD


def test_the_heatmap_orders_subtests_naturally_and_prefixes_them_with_the_experiment_when_there_are_several():
    runs = [_run("T10", "01", 2, score=0.5), _run("T2", "01", 1, score=None), _run("T2", "01", 2, score=1.0)]
    plot = figures.subtest_run_heatmap(_inputs(runs=runs), ())
    assert [(r["subtest"], r["run"], r["score"]) for r in plot.rows] == \
        [("T2/01", 1, None), ("T2/01", 2, 1.0), ("T10/01", 2, 0.5)]
    assert "1 run with unknown score left out" in str(plot.spec()["title"])
    two = figures.subtest_run_heatmap(_inputs(runs=[*runs, {**_run("T2", "01", 1, score=0.5), "experiment": "f"}]), ())
    assert {r["subtest"] for r in two.rows} == {"e m T2/01", "e m T10/01", "f m T2/01"}


def test_cost_quality_leaves_out_runs_without_cost_or_score_and_says_so():
    plot = figures.cost_quality(_inputs(runs=RUNS), TIERS)
    assert [(r["tier"], r["run"], r["cost_usd"], r["score"], r["passed"]) for r in plot.rows] == \
        [("T0", 1, 0.25, 0.5, False), ("T0", 2, 0.5, 0.75, True)]
    assert "1 run with unknown cost or score left out" in str(plot.spec()["title"])


# ---------------------------------------------------------------- small data: a note, never a crash

SMALL = {
    "nothing": {},
    "one run, one judge, one tier": {
        "runs": [_run("T0", "00", 1, score=0.5, grade="C", cost_usd=0.1, passed=False)],
        "judges": [_judge("e", "T0", 1, "judge_01", 0.5)],
        "criteria": [{**_run("T0", "00", 1), "slot": "judge_01", "criterion": "c", "is_valid": True, "score": 0.5}]},
    "all equal": {
        "runs": [_run("T0", "00", n, score=1.0, grade="A", cost_usd=0.1, judge_cost_usd=0.0, total_cost_usd=0.1,
                      passed=True, input_tokens=1, output_tokens=1, cache_creation_tokens=1, cache_read_tokens=1,
                      agent_duration_seconds=1.0, judge_duration_seconds=1.0, started_at="x") for n in (1, 2)],
        "judges": [_judge("e", "T0", n, s, 1.0) for n in (1, 2) for s in ("judge_01", "judge_02")]},
    "every cell unknown": {
        "runs": [_run("T0", "00", 1)], "judges": [{**_run("T0", "00", 1), "slot": "judge_01"},
                                                  {**_run("T0", "00", 1), "slot": "judge_02"}],
        "criteria": [{**_run("T0", "00", 1), "slot": "judge_01", "criterion": "c"}]},
}


@pytest.mark.parametrize("case", SMALL)
@pytest.mark.parametrize("name", figures.FRAME_FIGURES)
def test_every_figure_draws_small_or_empty_data_as_a_valid_spec(name, case):
    plot = figures.FIGURES[name].plot(_inputs(**SMALL[case]), ("T0",))
    spec = _valid(plot.spec())
    assert frames.to_csv(plot.columns, plot.rows).splitlines()[0] == ",".join(plot.columns)
    assert b"NaN" not in durable.dumps(spec) and b"Infinity" not in durable.dumps(spec)
    if not plot.rows:                   # nothing to plot: the figure says why
        assert spec["mark"]["type"] == "text" and spec["data"]["values"][0]["note"]


def test_the_notes_say_why_there_is_nothing_to_plot():
    def why(name: str, case: str) -> str:
        return figures.FIGURES[name].plot(_inputs(**SMALL[case]), ("T0",)).spec()["data"]["values"][0]["note"]
    assert why("judge_agreement", "one run, one judge, one tier") == "one judge: no pair to compare"
    assert why("bland_altman", "every cell unknown") == "no run with valid scores from two judges"
    assert why("criteria_by_tier", "every cell unknown").startswith("no criterion scores")
    assert why("grade_distribution", "nothing") == "no runs yet"


# ---------------------------------------------------------------- the same bytes

def test_the_same_frames_give_the_same_spec_csv_svg_and_png_bytes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inputs = _inputs(runs=RUNS)

    def build() -> dict[str, bytes]:
        figures.write("cost_quality", figures.cost_quality(inputs, TIERS))
        return {p: open(p, "rb").read() for p in figures.targets("cost_quality")}
    first = build()
    figures.write("token_mix", figures.token_mix(inputs, TIERS))        # (another figure drawn in between)
    assert build() == first
    assert first["analysis/figures/cost_quality.png"].startswith(b"\x89PNG\r\n\x1a\n")
    assert first["analysis/figures/cost_quality.svg"].startswith(b"<svg")
    assert durable.read_json("analysis/figures/cost_quality.vl.json") == _valid(figures.cost_quality(inputs, TIERS).spec())


def test_the_figures_task_identity_names_the_sorted_tiers_and_the_renderers():
    identity = figures.identity(["T5", "T0"])
    assert identity["tiers"] == ["T0", "T5"] and identity["altair"] == alt.__version__
    assert identity["vl-convert"]


# ---------------------------------------------------------------- figures of the statistics (a fixture shaped as
# scylla/analysis/summary.py writes them; tests/test_e2e_figures.py draws the real ones)

def _est(value, low=None, high=None, n=2, reason=None) -> dict:
    return {"value": value, "ci_low": low, "ci_high": high, "n": n, "reason": reason}


def _cell(score, rate, cost, cop, cop_total, at_k) -> dict:
    return {"runs": 2, "subtests": 1, "passed": 1, "mean_score": score, "pass_rate": rate, "mean_cost_usd": cost,
            "cost_of_pass": cop, "cost_of_pass_total": cop_total,
            "pass_at_k": {str(k): e for k, e in at_k.items()}, "pass_hat_k": {"1": _est(0.5, 0.1, 0.9)}}


SUMMARY = {
    "experiment": "hello", "tier_order": ["T0", "T1", "T5"],
    "tiers": {
        "T0": _cell(_est(0.5, 0.25, 0.75), _est(0.0, 0.0, 0.6576), _est(0.02, 0.01, 0.03),
                    _est(None, reason="no run passed"), _est(None, reason="no run passed"),
                    {1: _est(0.0, 0.0, 0.5), 2: _est(0.0, 0.0, 0.5)}),
        "T1": _cell(_est(0.875, 0.75, 1.0), _est(1.0, 0.3424, 1.0), _est(0.03, 0.02, 0.04),
                    _est(0.03, 0.02, None, reason="upper bound unbounded: a resample without a pass"),
                    _est(None, reason="judge cost unknown"), {1: _est(1.0, 0.5, 1.0), 10: _est(1.0)}),
        "T5": _cell(_est(0.99, n=1, reason="one run"), _est(1.0, 0.2065, 1.0, n=1), _est(0.04, n=1),
                    _est(0.04, n=1), _est(None, reason="judge cost unknown"), {}),
    },
    "frontier": {"tier": "T1", "reason": None, "cost_of_pass": _est(0.03, 0.02, 0.05), "pareto": ["T0", "T1", "T5"],
                 "probability": {"T0": _est(0.25), "T1": _est(0.75), "T5": _est(0.5)}, "left_out": {}},
}
STATISTICS = {
    "tier_comparisons": {"omnibus": {"statistic": 3.0, "p_value": 0.2, "n": 6, "reason": None},
                         "pairs": [{"a": "T0", "b": "T1", "name": "T0 vs T1", "family": "tier pairs",
                                    "mann_whitney": {"statistic": 0.0, "p": 0.1, "n": 4, "reason": None},
                                    "cliffs_delta": _est(1.0, 0.5, 1.0, n=4)},
                                   {"a": "T1", "b": "T5", "name": "T1 vs T5", "family": "tier pairs",
                                    "mann_whitney": {"statistic": None, "p": None, "n": 3, "reason": "n = 1 in T5"},
                                    "cliffs_delta": _est(None, n=3, reason="n = 1 in T5")}]},
    "judges": {"slots": ["judge_01", "judge_02"],
               "leniency": [{"judge": "judge_02", **_est(-0.02, -0.03, -0.01, n=10)},
                            {"judge": "judge_01", **_est(0.02, 0.01, 0.03, n=10)}]},
    "registry": {"tier pairs": {"alpha": 0.05, "correction": "holm", "tests": [
        {"name": "T0 vs T1", "statistic": 0.0, "p": 0.1, "p_adjusted": 0.2, "reject": False, "n": 4, "reason": None},
        {"name": "T1 vs T5", "statistic": None, "p": None, "p_adjusted": None, "reject": None, "n": 3,
         "reason": "n = 1 in T5"}]}},
}


def _stats(**changes) -> dict[str, Any]:
    return {"summary": SUMMARY, "statistics": STATISTICS, **changes}


@pytest.mark.parametrize("name", figures.STATS_FIGURES)
def test_every_figure_of_the_statistics_draws_a_valid_spec_and_the_empty_case_as_a_note(name):
    figure = figures.STATS_FIGURES[name]
    plot = figure.plot(_stats(), TIERS)
    assert plot.rows and b"NaN" not in durable.dumps(_valid(plot.spec()))
    empty = figure.plot(_stats(summary={**SUMMARY, "tier_order": [], "tiers": {}},
                               statistics={"tier_comparisons": {"pairs": []}, "judges": {"leniency": []},
                                           "registry": {}}), TIERS)
    assert not empty.rows and _valid(empty.spec())["mark"]["type"] == "text"


def test_score_and_pass_rate_keep_each_estimate_and_say_why_one_is_missing():
    plot = figures.score_pass_rate(_stats(), TIERS)
    assert [(r["measure"], r["tier"], r["value"], r["ci_low"], r["ci_high"]) for r in plot.rows] == [
        ("mean score", "T0", 0.5, 0.25, 0.75), ("mean score", "T1", 0.875, 0.75, 1.0), ("mean score", "T5", 0.99, None, None),
        ("pass rate", "T0", 0.0, 0.0, 0.6576), ("pass rate", "T1", 1.0, 0.3424, 1.0), ("pass rate", "T5", 1.0, 0.2065, 1.0)]
    assert "mean score of T5: no confidence interval (one run)" in plot.spec()["title"]["subtitle"]


def test_cost_of_pass_says_when_no_run_passed_and_when_a_bound_is_open():
    subtitle = figures.cost_of_pass(_stats(), TIERS).spec()["title"]["subtitle"]
    assert "cost of a pass (agent) of T0: not computable (no run passed)" in subtitle
    assert "cost of a pass (agent) of T1: an open confidence interval (upper bound unbounded: a resample without " \
        "a pass)" in subtitle
    # one line per measure and reason, naming every tier it applies to
    assert "cost of a pass (agent + judges) of T0: not computable (no run passed)" in subtitle
    assert "cost of a pass (agent + judges) of T1, T5: not computable (judge cost unknown)" in subtitle


def test_the_pareto_figure_marks_the_set_the_frontier_and_each_tiers_probability():
    plot = figures.pareto_frontier(_stats(), TIERS)
    assert [(r["tier"], r["pareto"], r["probability"], r["frontier"]) for r in plot.rows] == \
        [("T0", True, 0.25, False), ("T1", True, 0.75, True), ("T5", True, 0.5, False)]
    assert plot.spec()["title"]["subtitle"][0] == "frontier: T1, cost of a pass 0.03 USD"
    none = figures.pareto_frontier(_stats(summary={**SUMMARY, "frontier": {"tier": None, "reason": "no run passed"}}), TIERS)
    assert none.spec()["title"]["subtitle"][0] == "no frontier tier (no run passed)"
    assert not any(r["pareto"] for r in none.rows)


def test_leniency_effect_sizes_and_pass_at_k_rows():
    assert [(r["judge"], r["value"]) for r in figures.judge_leniency(_stats(), TIERS).rows] == \
        [("judge_02", -0.02), ("judge_01", 0.02)]
    assert _scale(figures.judge_leniency(_stats(), TIERS).spec(), "judge")["domain"] == ["judge_01", "judge_02"]
    effects = figures.effect_sizes(_stats(), TIERS)
    assert [(r["comparison"], r["value"], r["p_value"], r["p_adjusted"]) for r in effects.rows] == \
        [("T0 vs T1", 1.0, 0.1, 0.2), ("T1 vs T5", None, None, None)]
    assert "T1 vs T5: not computable (n = 1 in T5)" in effects.spec()["title"]["subtitle"]
    at_k = figures.pass_at_k(_stats(), TIERS)
    assert [(r["tier"], r["metric"], r["k"]) for r in at_k.rows] == [
        ("T0", "pass@k", 1), ("T0", "pass@k", 2), ("T0", "pass^k", 1), ("T1", "pass@k", 1), ("T1", "pass@k", 10),
        ("T1", "pass^k", 1), ("T5", "pass^k", 1)]


def test_a_statistic_the_file_lacks_is_an_error_naming_the_file_and_the_key():
    with pytest.raises(durable.ArtifactError, match=r"analysis/summary.json: no 'tiers'"):
        figures.pass_at_k(_stats(summary={"tier_order": []}), TIERS)
    with pytest.raises(durable.ArtifactError, match=r"analysis/statistical_results.json: no 'judges.leniency'"):
        figures.judge_leniency(_stats(statistics={"judges": {}}), TIERS)


def test_each_figure_is_an_analysis_task_reading_exactly_its_inputs_each_produced_by_one_task(tmp_path):
    from conftest import hello_graph
    tasks = hello_graph(tmp_path)
    producer = {t: d for d in tasks for t in d.get("targets", [])}
    drawn = {d["name"].removeprefix("figures/"): d for d in tasks if d["basename"] == "analysis"
             and d["name"].startswith("figures/")}
    assert list(drawn) == list(figures.FIGURES)
    for name, task in drawn.items():
        assert task["meta"]["id"].kind == "analysis"
        assert task["file_dep"] == [figures.INPUTS[i] for i in figures.FIGURES[name].inputs]
        assert task["targets"] == [f"analysis/figures/{name}{ext}" for ext in (".vl.json", ".csv", ".svg", ".png")]
        # (a frame from analysis:frames, the statistics from analysis:stats: nothing per run, no fan-in)
        assert {f"{producer[p]['basename']}:{producer[p]['name']}" for p in task["file_dep"]} <= \
            {"analysis:frames", "analysis:stats"}
