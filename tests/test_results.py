"""The formulas of results.py with worked numbers."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from scylla import reports, results


def judgment(n, score, passed=True, valid=True, reasoning=""):
    return {"judge_number": n, "model": f"m{n}", "score": score, "passed": passed, "is_valid": valid,
            "grade": results.grade_for(score), "reasoning": reasoning or f"judge {n}",
            "criteria_scores": {"c": n}}


@pytest.mark.parametrize("score,grade", [
    (1.0, "S"), (0.9999, "A"), (0.80, "A"), (0.7999, "B"), (0.60, "B"), (0.5999, "C"), (0.40, "C"),
    (0.3999, "D"), (0.20, "D"), (0.1999, "F"), (0.0, "F")])
def test_grade_boundaries(score, grade):
    assert results.grade_for(score) == grade


def test_consensus_worked_example():
    c = results.consensus([judgment(1, 0.96), judgment(2, 0.96), judgment(3, 1.00)])
    assert math.isclose(c["score"], 0.9733333333333334) and c["grade"] == "A" and c["passed"] is True
    assert c["reasoning"] == "judge 1"            # closest to the mean, lowest slot on ties
    assert c["valid_count"] == 3 and c["is_valid"] is True


def test_consensus_strict_majority_and_invalid_excluded():
    two_of_three = results.consensus([judgment(1, .7), judgment(2, .7), judgment(3, .3, passed=False)])
    assert two_of_three["passed"] is True
    one_of_two = results.consensus([judgment(1, .7), judgment(2, .5, passed=False)])
    assert one_of_two["passed"] is False
    with_invalid = results.consensus([judgment(1, .9), judgment(2, 0.0, passed=False, valid=False)])
    assert with_invalid["score"] == .9 and with_invalid["passed"] is True and with_invalid["valid_count"] == 1
    none = results.consensus([judgment(1, 0.0, valid=False)])
    assert none == {**none, "score": 0.0, "grade": "F", "passed": False, "is_valid": False}


def _run(n, score=0.5, passed=True, tokens=(33, 10, 5, 195735), cost=0.25, agent_s=10.0):
    agent = {"exit_code": 0, "cost_usd": cost, "token_stats": dict(zip(
        ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens"), tokens))}
    judges = [{**judgment(1, score, passed), "judge_duration_seconds": 2.0, "cost_usd": 0.01},
              {**judgment(2, score, passed), "judge_duration_seconds": 3.0, "cost_usd": 0.02}]
    cons = results.consensus(judges)
    return results.run_result(n, agent, {"agent_duration_seconds": agent_s}, cons, judges,
                              {"workspace_path": "w", "logs_path": "l", "command_log_path": "c"})


def test_run_result_token_and_duration_formulas():
    r = _run(1)
    assert r["tokens_input"] == 195768 and r["tokens_output"] == 10       # 33 + 195735
    assert r["token_stats"] == {"input_tokens": 33, "output_tokens": 10, "cache_creation_tokens": 5,
                                "cache_read_tokens": 195735}
    assert r["duration_seconds"] == 15.0 and r["judge_duration_seconds"] == 5.0
    assert math.isclose(r["judge_cost_usd"], 0.03) and r["cost_usd"] == 0.25


def test_a_fresh_measurement_changes_every_result_above_it_even_when_durations_add_up_the_same():
    def run(n, judge_s, at):
        judges = [{**judgment(1, .5), "judge_duration_seconds": judge_s, "measured_at": at}]
        return results.run_result(n, {"exit_code": 0}, {"agent_duration_seconds": 1.0,
                                                        "measured_at": "2026-12-04T10:00:00+00:00"},
                                  results.consensus(judges), judges, {})
    before = [run(1, 0.035, "2026-12-04T10:00:01.000001+00:00"), run(2, 0.040, "2026-12-04T10:00:01+00:00")]
    # both judges re-measured: 0.036 + 0.039 = 0.035 + 0.040, the same seconds in every total
    after = [run(1, 0.036, "2026-12-04T11:00:00.000002+00:00"), run(2, 0.039, "2026-12-04T11:00:00.000001+00:00")]
    old, new = (results.subtest_summary("T0", "00", rs) for rs in (before, after))
    assert old["total_duration_seconds"] == new["total_duration_seconds"]
    assert (old["measured_at"], new["measured_at"]) == ("2026-12-04T10:00:01.000001+00:00",
                                                        "2026-12-04T11:00:00.000002+00:00")
    tiers = [results.tier_summary("T0", [s]) for s in (old, new)]
    assert tiers[0]["measured_at"] != tiers[1]["measured_at"]
    assert results.experiment_summary("e", tiers[1:])["measured_at"] == new["measured_at"]
    # ProjectScylla's stamps (seconds, other offsets, none at all) compare as instants
    assert results.latest(["2026-03-30T04:12:00+00:00", "2026-03-30T06:11:00+02:00", None, "bad"]) == \
        "2026-03-30T04:12:00+00:00"
    assert results.latest([None]) is None


def test_subtest_summary():
    runs = [_run(1, 0.9), _run(2, 0.5, passed=False), _run(3, 0.7)]
    s = results.subtest_summary("T0", "00", runs)
    assert s["pass_rate"] == pytest.approx(2 / 3) and s["median_score"] == 0.7
    assert s["mean_score"] == pytest.approx(0.7) and s["std_score"] == pytest.approx(0.2)
    assert s["consistency"] == pytest.approx(1 - 0.2 / 0.7)
    assert s["mean_cost_usd"] == pytest.approx(0.25) and s["total_cost_usd"] == pytest.approx(0.75)
    assert s["grade_distribution"]["A"] == 1 and s["grade_distribution"]["B"] == 1
    assert s["grade_distribution"]["C"] == 1
    single = results.subtest_summary("T0", "00", [_run(1, 0.0, passed=False)])
    assert single["std_score"] == 0.0 and single["consistency"] == 0.0


def _sub(sid, median, tokens, pass_rate=1.0, cost=1.0):
    return {"subtest": sid, "median_score": median, "mean_score": median, "total_tokens": tokens,
            "pass_rate": pass_rate, "mean_cost_usd": cost, "runs": 2, "total_cost_usd": 2 * cost,
            "total_judge_cost_usd": 0.0, "total_duration_seconds": 1.0}


def test_best_subtest_by_median_with_token_tie_break():
    assert results.best_subtest([_sub("00", .80, 100), _sub("01", .90, 500)])["subtest"] == "01"
    # within 0.05: fewer total tokens wins
    assert results.best_subtest([_sub("00", .87, 100), _sub("01", .90, 500)])["subtest"] == "00"
    # exactly 0.05 apart is not a tie
    assert results.best_subtest([_sub("00", .85, 100), _sub("01", .90, 500)])["subtest"] == "01"
    # a tie on tokens keeps the higher median
    assert results.best_subtest([_sub("00", .88, 500), _sub("01", .90, 500)])["subtest"] == "01"


def test_cost_of_pass_and_frontier():
    t0 = results.tier_summary("T0", [_sub("00", .9, 10, pass_rate=0.5, cost=1.0)])
    t1 = results.tier_summary("T1", [_sub("00", .1, 10, pass_rate=0.0, cost=0.1)])
    assert t0["cost_of_pass"] == 2.0 and t1["cost_of_pass"] is None
    exp = results.experiment_summary("e", [t0, t1])
    assert exp["frontier_tier"] == "T0"
    assert results.experiment_summary("e", [t1])["frontier_tier"] is None
    assert results.best_identity("T0", t0) == {"tier": "T0", "subtest": "00"}


def test_projectscylla_formats_read_as_projectscylla_reads_them():
    """Older ProjectScylla judgments and judge/result.json have no is_valid: scored means valid (its own
    rule, `is_valid is not False`); a consensus with a null score is no valid judgment; a token count the
    agent result does not record is unknown (None), never 0, and so is every total that includes it."""
    legacy = [{k: v for k, v in judgment(n, s).items() if k != "is_valid"} for n, s in ((1, .9), (2, .6), (3, .3))]
    c = results.consensus(legacy + [{**judgment(4, .0), "score": None}])
    assert c["valid_count"] == 3 and math.isclose(c["score"], 0.6) and c["passed"] is True and c["grade"] == "B"
    agent = {"exit_code": 0, "cost_usd": 0.1, "token_stats": {"input_tokens": 5, "output_tokens": 3}}
    r = results.run_result(1, agent, {}, {"score": 0.6, "passed": True, "grade": "B", "reasoning": "r"}, legacy, {})
    assert r["judge_valid"] is True and [j["is_valid"] for j in r["judges"]] == [True] * 3
    # unknown: left out of run_result.json (ProjectScylla's schema types tokens_input as an integer)
    assert r["token_stats"] == {"input_tokens": 5, "output_tokens": 3} and "tokens_input" not in r
    assert r["tokens_output"] == 3 and r["total_tokens"] is None
    none = results.run_result(1, agent, {}, {"score": None, "passed": None, "grade": None}, legacy, {})
    assert [none[k] for k in ("judge_score", "judge_passed", "judge_grade", "judge_valid")] == [0.0, False, "F", False]
    s = results.subtest_summary("T0", "00", [results.normalized_run(r), results.normalized_run(_run(2))])
    assert s["tokens_input"] is None and s["total_tokens"] is None and s["tokens_output"] == 13
    null = results.normalized_run({"run_number": 3, "exit_code": 0, "judge_score": None, "judge_passed": None,
                                   "judge_grade": None, "cost_usd": 0.1})
    assert (null["judge_score"], null["judge_passed"], null["judge_grade"]) == (0.0, False, "F")
    known = {**s, "subtest": "01", "median_score": s["median_score"] + 0.01, "total_tokens": 10 ** 9}
    assert results.best_subtest([s, known])["subtest"] == "01"        # no tie-break on an unknown total


# ---------------------------------------------------------------- one definition per number (issue 13)

def _timed_run(n, tokens, at, agent_s=10.0, judge_costs=(0.01, 0.02), cost=0.25, score=0.5):
    """A run whose agent started at `at` (seconds after 10:00) and whose two judges started after it."""
    base = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
    stamp = lambda s: (base + timedelta(seconds=s)).isoformat(timespec="microseconds")
    agent = {"exit_code": 0, "cost_usd": cost, "token_stats": dict(zip(results.TOKEN_KEYS, tokens))}
    judges = [{**judgment(k, score), "judge_duration_seconds": 2.0, "cost_usd": c,
               "measured_at": stamp(at + agent_s + 1)} for k, c in enumerate(judge_costs, start=1)]
    return results.normalized_run(results.run_result(
        n, agent, {"agent_duration_seconds": agent_s, "measured_at": stamp(at)}, results.consensus(judges), judges,
        {}))


def test_total_tokens_are_input_output_cache_creation_and_cache_read_at_every_level():
    """ProjectScylla's TokenStats.total_tokens: 33 + 10 + 5 + 195735 = 195783 (tokens_input stays
    input + cache_read = 195768: ProjectScylla's total_input)."""
    r = _run(1)
    assert r["total_tokens"] == 195783 and r["tokens_input"] == 195768
    s = results.subtest_summary("T0", "00", [results.normalized_run(_run(n)) for n in (1, 2, 3)])
    assert s["total_tokens"] == 3 * 195783 == 587349
    assert s["token_stats"] == {"input_tokens": 99, "output_tokens": 30, "cache_creation_tokens": 15,
                                "cache_read_tokens": 587205}
    t = results.tier_summary("T0", [s, {**s, "subtest": "01"}])
    assert t["total_tokens"] == 1174698 and t["token_stats"]["cache_creation_tokens"] == 30
    e = results.experiment_summary("e", [t, {**t, "tier": "T1"}])
    assert e["total_tokens"] == 2349396 and e["token_stats"]["cache_read_tokens"] == 4 * 587205


def test_the_best_subtest_tie_break_counts_cache_creation_tokens():
    """Within 0.05 of each other: fewer total tokens wins. 01 reads less input (10 + 100 + 0 + 1000 = 1110
    without cache creation, 9110 with it) than 00 (20 + 100 + 0 + 2000 = 2120, 2120 with it): counting
    cache creation, as ProjectScylla does, 00 wins; leaving it out, 01 would have."""
    s00 = results.subtest_summary("T0", "00", [results.normalized_run(_run(1, 0.87, tokens=(20, 100, 0, 2000)))])
    s01 = results.subtest_summary("T0", "01", [results.normalized_run(_run(1, 0.90, tokens=(10, 100, 8000, 1000)))])
    assert (s00["total_tokens"], s01["total_tokens"]) == (2120, 9110)
    assert results.best_subtest([s00, s01])["subtest"] == "00"
    assert results.tier_summary("T0", [s00, s01])["best_subtest"] == "00"


def test_a_cost_never_recorded_is_unknown_and_every_sum_over_it_says_how_many_runs():
    """A judge cost never recorded (ProjectScylla's judgments have none) is None, never $0; each sum
    over it is None and counts the runs it could not include; the agents' known total stays known."""
    known, unknown = _timed_run(1, (1, 2, 3, 4), 0), _timed_run(2, (1, 2, 3, 4), 60, judge_costs=(0.01, None))
    assert known["judge_cost_usd"] == pytest.approx(0.03) and unknown["judge_cost_usd"] is None
    s = results.subtest_summary("T0", "00", [known, unknown])
    assert s["total_judge_cost_usd"] is None and s["judge_cost_unknown_runs"] == 1
    assert s["total_cost_usd"] == 0.5 and s["cost_unknown_runs"] == 0 and s["mean_cost_usd"] == 0.25
    t = results.tier_summary("T0", [s, results.subtest_summary("T0", "01", [known])])
    assert t["total_judge_cost_usd"] is None and t["judge_cost_unknown_runs"] == 1 and t["total_cost_usd"] == 0.75
    e = results.experiment_summary("e", [t])
    assert e["total_agent_cost_usd"] == 0.75 and e["total_judge_cost_usd"] is None and e["total_cost_usd"] is None
    assert e["judge_cost_unknown_runs"] == 1 and e["cost_unknown_runs"] == 0
    # an agent cost never recorded: left out of run_result.json (the schema types it as a number), and the
    # mean, the total and the cost of pass are unknown
    no_cost = results.run_result(3, {"exit_code": 0}, {}, results.consensus([judgment(1, .9)]), [], {})
    assert "cost_usd" not in no_cost and no_cost["judge_cost_usd"] == 0
    s = results.subtest_summary("T0", "02", [results.normalized_run(no_cost), known])
    assert s["total_cost_usd"] is None and s["cost_unknown_runs"] == 1 and s["mean_cost_usd"] is None
    assert results.tier_summary("T0", [s])["cost_of_pass"] is None


def test_durations_summed_and_wall_clock_are_two_numbers_named_for_what_they_are():
    """Run 1: agent 10:00:00 for 10 s, judges from 10:00:11 for 2 s (ends 10:00:13). Run 2 starts at
    10:00:05 (in parallel) and ends 10:00:18. Summed: 2 x (10 + 2 + 2) = 28 s; wall clock 18 s."""
    r1, r2 = _timed_run(1, (1, 1, 1, 1), 0), _timed_run(2, (1, 1, 1, 1), 5)
    assert (r1["started_at"], r1["ended_at"]) == ("2026-12-04T10:00:00.000000+00:00",
                                                  "2026-12-04T10:00:13.000000+00:00")
    s = results.subtest_summary("T0", "00", [r1, r2])
    assert s["total_duration_seconds"] == 28.0 and s["wall_clock_seconds"] == 18.0
    later = results.subtest_summary("T0", "01", [_timed_run(1, (1, 1, 1, 1), 100)])   # 10:01:40 to 10:01:53
    t = results.tier_summary("T0", [s, later])
    assert t["total_duration_seconds"] == 42.0 and t["wall_clock_seconds"] == 113.0
    assert (t["started_at"], t["ended_at"]) == ("2026-12-04T10:00:00.000000+00:00",
                                                "2026-12-04T10:01:53.000000+00:00")
    assert results.experiment_summary("e", [t])["wall_clock_seconds"] == 113.0
    # a run without stamps (ProjectScylla's run_result.json has none): the span is unknown, never a guess
    stampless = results.normalized_run({k: v for k, v in r1.items() if k not in ("started_at", "ended_at")})
    assert results.subtest_summary("T0", "02", [stampless, r2])["wall_clock_seconds"] is None


def test_reports_show_an_unrecorded_cost_as_unknown_never_as_zero():
    known, unknown = _timed_run(1, (1, 2, 3, 4), 0), _timed_run(2, (1, 2, 3, 4), 60, judge_costs=(None, None))
    s = results.subtest_summary("T0", "00", [known, unknown])
    md, _ = reports.subtest_report(s, [known, unknown])
    assert "(judges unknown (1 of 2 runs not recorded))" in md and "$0.0000" not in md
    assert "- Tokens: 20 total (2 input, 4 output, 6 cache creation, 8 cache read)" in md
    assert "- Duration: 28.0 s summed over runs (agents + judges), 73.0 s wall clock" in md
    run_md, _ = reports.run_report("T0/00/run_02", unknown)
    assert "- Judges: unknown," in run_md
    t = results.tier_summary("T0", [s])
    e = results.experiment_summary("e", [t])
    md, _ = reports.experiment_report(e, [t])
    assert "judge cost unknown (1 of 2 runs not recorded); total unknown" in md and "$0.0000" not in md


def test_the_markdown_reports_give_each_pass_rate_its_wilson_interval():
    from scylla.analysis import stats
    assert reports._pass_ci({"runs": 2, "passed": 2}) == "[0.342, 1.000]"
    low, high = stats.wilson(1, 3).ci_low, stats.wilson(1, 3).ci_high
    assert reports._pass_ci({"runs": 3, "passed": 1}) == f"[{low:.3f}, {high:.3f}]"
    assert reports._pass_ci({"runs": 0, "passed": 0}) == "—" and reports._pass_ci({}) == "—"
