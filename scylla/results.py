"""Pure formulas: grades, consensus, run results and subtest/tier/experiment aggregates.

Nothing here touches the file system. Inputs and outputs are plain dicts in ProjectScylla's formats,
typed by the records of scylla/records.py.
Every number is defined once, here, and documented in docs/numbers.md with ProjectScylla's name for it.
A value that was never recorded is None (unknown), never 0, and so is every sum that includes it; a sum
over runs says how many runs it could not count (`*_unknown_runs`).
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, cast

from . import records

GRADES = (("S", 1.0), ("A", 0.80), ("B", 0.60), ("C", 0.40), ("D", 0.20))
GRADE_NAMES = {g for g, _ in GRADES} | {"F"}
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens")
TIE_MARGIN = 0.05


def grade_for(score: float) -> str:
    """S = 1.0, A >= .80, B >= .60, C >= .40, D >= .20, else F."""
    for grade, floor in GRADES:
        if score >= floor - 1e-12:
            return grade
    return "F"


def _number(value) -> bool:
    return not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)


def is_valid(judgment: Mapping[str, Any]) -> bool:
    """A judgment counts when it has a score and does not say it is invalid (ProjectScylla's older
    judgments have no `is_valid`: a scored one is valid, as ProjectScylla reads them)."""
    return judgment.get("is_valid", True) is not False and _number(judgment.get("score"))


def latest(stamps) -> str | None:
    """The newest of these `measured_at` stamps (ISO 8601; unreadable ones and None are skipped).
    Every result records the newest measurement beneath it, so a fresh measurement (a newer stamp,
    to the microsecond) always changes each result above it, even when the durations add up the same."""
    dated = [(t, s) for s in stamps if (t := _when(s)) is not None]
    return max(dated)[1] if dated else None


def _when(stamp) -> datetime | None:
    try:
        t = datetime.fromisoformat(stamp)
    except (TypeError, ValueError):
        return None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _stamp(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="microseconds")


def span(measurements) -> tuple[str | None, str | None]:
    """(started_at, ended_at) of (measured_at, seconds) pairs: the earliest start and the latest end
    (start + seconds). Unknown (None, None) when any measurement has no readable stamp or duration."""
    starts, ends = [], []
    for stamp, seconds in measurements:
        t = _when(stamp)
        if t is None or not _number(seconds):
            return None, None
        starts.append(t)
        ends.append(t + timedelta(seconds=float(seconds)))
    return (_stamp(min(starts)), _stamp(max(ends))) if starts else (None, None)


def wall_clock(items: Sequence[Mapping[str, Any]]) -> records.WallClock:
    """The wall-clock span of results that carry started_at/ended_at: from the earliest start to the
    latest end (pauses between doit invocations included). Unknown when any item's span is."""
    started = [t for i in items if (t := _when(i.get("started_at"))) is not None]
    ended = [t for i in items if (t := _when(i.get("ended_at"))) is not None]
    if not items or len(started) < len(items) or len(ended) < len(items):
        return {"started_at": None, "ended_at": None, "wall_clock_seconds": None}
    return {"started_at": _stamp(min(started)), "ended_at": _stamp(max(ended)),
            "wall_clock_seconds": round((max(ended) - min(started)).total_seconds(), 6)}


# ---------------------------------------------------------------- judges

def consensus(judgments: Sequence[records.SlotJudgment]) -> records.Consensus:
    """Mean of valid scores; passed by strict majority of valid judges; grade from the mean;
    reasoning and criteria from the valid judge closest to the mean (lowest slot on ties)."""
    valid = [j for j in judgments if is_valid(j)]
    if not valid:
        return {"score": 0.0, "passed": False, "grade": "F", "is_valid": False,
                "reasoning": "No valid judgment: every judge failed to produce a parseable verdict.",
                "criteria_scores": {}, "judge_count": len(judgments), "valid_count": 0,
                "closest_judge": None}
    score = statistics.fmean(j["score"] for j in valid)
    passed = sum(1 for j in valid if j.get("passed")) * 2 > len(valid)
    closest = min(valid, key=lambda j: (abs(j["score"] - score), j["judge_number"]))
    return {"score": score, "passed": passed, "grade": grade_for(score), "is_valid": True,
            "reasoning": closest.get("reasoning", ""), "criteria_scores": closest.get("criteria_scores") or {},
            "judge_count": len(judgments), "valid_count": len(valid),
            "closest_judge": closest["judge_number"]}


# ---------------------------------------------------------------- run

def token_stats(agent_result: Mapping[str, Any]) -> records.TokenStats:
    """The four token counts; one the agent result does not record is None (unknown), never 0."""
    stats = agent_result.get("token_stats") or {}
    return cast(records.TokenStats, {k: int(stats[k]) if _number(stats.get(k)) else None for k in TOKEN_KEYS})


def total(values) -> int | float | None:
    """A sum that is unknown (None) when any part is."""
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def total_tokens(stats: Mapping[str, Any]) -> int | float | None:
    """ProjectScylla's TokenStats.total_tokens: input + output + cache_creation + cache_read."""
    return total(stats.get(k) for k in TOKEN_KEYS)


def sum_stats(stats: Sequence[Mapping[str, Any]]) -> records.TokenStats:
    """ProjectScylla's TokenStats sum, key by key (a key is unknown when any part of it is)."""
    return cast(records.TokenStats, {k: total(s.get(k) for s in stats) for k in TOKEN_KEYS})


def _count_total(values) -> int | None:
    """A sum of token counts (integers): unknown (None) when any part is."""
    return cast("int | None", total(values))


def money(value) -> float | None:
    return float(value) if _number(value) else None


def read_consensus(c: Mapping[str, Any]) -> records.Consensus:
    """judge/result.json as run_result reads it. ProjectScylla's may lack `is_valid` (valid when scored)
    or, when no judge was valid, have a null score: that is Scylla's no-valid-judgment consensus."""
    c = {**c, "reasoning": c.get("reasoning") or ""}
    if not _number(c.get("score")):
        return cast(records.Consensus, {**c, "score": 0.0, "passed": False, "grade": "F", "is_valid": False})
    return cast(records.Consensus, {**c, "score": float(c["score"]), "passed": bool(c.get("passed")),
                                    "grade": grade_for(float(c["score"])),
                                    "is_valid": c.get("is_valid", True) is not False})


# run_result.json keys typed as numbers by ProjectScylla's schema: left out when unknown (null fails it)
SCHEMA_NUMBERS = ("cost_usd", "tokens_input", "tokens_output")


def run_result(run_number: int, agent_result: records.AgentResult, agent_timing: records.AgentTiming,
               consensus_: records.Consensus, judges: Sequence[records.SlotJudgment],
               paths: Mapping[str, Any]) -> records.RunResult:
    """ProjectScylla's run_result.json from agent/result.json, agent/timing.json and judge/result.json
    (records.AgentResult, AgentTiming, Consensus). `judges`: judgment dicts with judge_number, model,
    judge_duration_seconds and cost_usd added (a judge cost never recorded is None: unknown)."""
    tokens = token_stats(agent_result)
    consensus_ = read_consensus(consensus_)
    agent_seconds = float(agent_timing.get("agent_duration_seconds") or 0.0)
    judge_seconds = sum(float(j.get("judge_duration_seconds") or 0.0) for j in judges)
    started_at, ended_at = span([(agent_timing.get("measured_at"), agent_seconds)] + [
        (j.get("measured_at"), j.get("judge_duration_seconds")) for j in judges])
    result = {
        "run_number": run_number,
        "exit_code": int(agent_result["exit_code"]) if _number(agent_result.get("exit_code")) else -1,
        "token_stats": {k: v for k, v in tokens.items() if v is not None},     # (the schema: integers only)
        "tokens_input": total([tokens["input_tokens"], tokens["cache_read_tokens"]]),
        "tokens_output": tokens["output_tokens"],
        "total_tokens": total_tokens(tokens),
        "model_usage": agent_result.get("model_usage") or {},
        "cost_usd": money(agent_result.get("cost_usd")),
        "judge_cost_usd": total(money(j.get("cost_usd")) for j in judges),
        "duration_seconds": agent_seconds + judge_seconds,
        "agent_duration_seconds": agent_seconds,
        "judge_duration_seconds": judge_seconds,
        "measured_at": latest([agent_timing.get("measured_at"), *(j.get("measured_at") for j in judges)]),
        "started_at": started_at,
        "ended_at": ended_at,
        "judge_score": consensus_["score"],
        "judge_passed": consensus_["passed"],
        "judge_grade": consensus_["grade"],
        "judge_reasoning": consensus_["reasoning"],
        "judge_valid": consensus_["is_valid"],
        "judges": [{**{k: j.get(k) for k in ("model", "judge_number", "score", "passed", "grade", "reasoning",
                                             "criteria_scores")}, "is_valid": is_valid(j)} for j in judges],
        "criteria_scores": consensus_.get("criteria_scores") or {},
        "agent_outcome": agent_result.get("outcome", "completed"),
        "permission_denials": [str(d.get("tool_name")) for d in agent_result.get("permission_denials") or []
                               if isinstance(d, dict)],
        **({"sandbox": {"kind": box["kind"], "note": box.get("note"), "denied": len(box.get("violations") or [])}}
           if (box := agent_result.get("sandbox")) else {}),
        **paths,
    }
    return cast(records.RunResult, {k: v for k, v in result.items() if not (k in SCHEMA_NUMBERS and v is None)})


# ---------------------------------------------------------------- subtest

def normalized_run(r: records.RunResult) -> records.NormalizedRun:
    """A run_result.json as the aggregates read it, with Scylla's defaults for keys that older
    ProjectScylla writers left out (derived token totals, judges' validity). What ProjectScylla never
    recorded (the judges' cost, the measurements' span) is None: unknown."""
    tokens = token_stats(r)
    judges = [{**j, "is_valid": is_valid(j)} for j in r.get("judges") or []]
    if not _number(r.get("judge_score")):       # ProjectScylla: no valid judge left a null consensus
        r = {**r, "judge_score": 0.0, "judge_passed": False, "judge_grade": "F", "judge_valid": False}
    elif r.get("judge_grade") not in GRADE_NAMES:
        r = {**r, "judge_grade": grade_for(float(r["judge_score"]))}
    normalized = {"started_at": None, "ended_at": None, "judges": judges,
                  "tokens_input": total([tokens["input_tokens"], tokens["cache_read_tokens"]]),
                  "tokens_output": tokens["output_tokens"],
                  "duration_seconds": float(r.get("agent_duration_seconds") or 0.0)
                  + float(r.get("judge_duration_seconds") or 0.0),
                  **{k: v for k, v in r.items() if k != "judges"},
                  "cost_usd": money(r.get("cost_usd")), "judge_cost_usd": money(r.get("judge_cost_usd")),
                  "token_stats": tokens, "total_tokens": total_tokens(tokens)}
    return cast(records.NormalizedRun, normalized)      # (the file's own keys spread in: mypy cannot follow)


def _money_sum(items: Sequence[Mapping[str, Any]], key: str, unknown_key: str) -> dict[str, Any]:
    """A cost summed over runs (or subtests, tiers): None when any is unknown, and how many runs are."""
    counts = [i.get(unknown_key, i.get(key) is None) for i in items]
    return {key: total(money(i.get(key)) for i in items), unknown_key: sum(int(c) for c in counts)}


def subtest_summary(tier: str, subtest: str, runs: list[records.NormalizedRun]) -> records.SubtestSummary:
    """Aggregate a subtest's run results (normalized_run's)."""
    scores = [float(r["judge_score"]) for r in runs]
    costs = [money(r.get("cost_usd")) for r in runs]
    n = len(runs)
    mean = statistics.fmean(scores) if scores else 0.0
    std = statistics.stdev(scores) if n >= 2 else 0.0
    grades = {g: 0 for g, _ in GRADES} | {"F": 0}
    for r in runs:
        grades[r["judge_grade"]] += 1
    agent_cost = _money_sum(runs, "cost_usd", "cost_unknown_runs")
    return {
        "tier": tier, "subtest": subtest, "runs": n,
        "passed": sum(1 for r in runs if r["judge_passed"]),
        "pass_rate": (sum(1 for r in runs if r["judge_passed"]) / n) if n else 0.0,
        "mean_score": mean,
        "median_score": statistics.median(scores) if scores else 0.0,
        "std_score": std,
        "min_score": min(scores, default=0.0), "max_score": max(scores, default=0.0),
        "consistency": max(0.0, 1.0 - std / mean) if mean > 0 else 0.0,
        "mean_cost_usd": (None if None in costs else statistics.fmean([c for c in costs if c is not None])
                          if costs else 0.0),
        "total_cost_usd": agent_cost["cost_usd"], "cost_unknown_runs": agent_cost["cost_unknown_runs"],
        **_judge_cost(runs, "judge_cost_usd"),
        "token_stats": sum_stats([r.get("token_stats") or {} for r in runs]),
        "tokens_input": _count_total(r.get("tokens_input") for r in runs),
        "tokens_output": _count_total(r.get("tokens_output") for r in runs),
        "total_tokens": _count_total(r.get("total_tokens") for r in runs),
        "total_duration_seconds": sum(float(r["duration_seconds"]) for r in runs),
        **wall_clock(runs),
        "measured_at": latest(r.get("measured_at") for r in runs),
        "grade_distribution": grades,
        "invalid_judgments": sum(1 for r in runs for j in r["judges"] if not j["is_valid"]),
        "run_scores": scores,
    }


class _JudgeCost(TypedDict):
    total_judge_cost_usd: float | None
    judge_cost_unknown_runs: int


def _judge_cost(items: Sequence[Mapping[str, Any]], key: str) -> _JudgeCost:
    s = _money_sum(items, key, "judge_cost_unknown_runs")
    return {"total_judge_cost_usd": s[key], "judge_cost_unknown_runs": s["judge_cost_unknown_runs"]}


# ---------------------------------------------------------------- tier

def best_subtest(subtests: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """Highest median score; if the top two are within 0.05, fewer total tokens wins."""
    if not subtests:
        return None
    ranked = sorted(subtests, key=lambda s: (-s["median_score"], s["subtest"]))
    best = ranked[0]
    if len(ranked) > 1:
        second = ranked[1]
        if best["median_score"] - second["median_score"] < TIE_MARGIN and None not in (
                second["total_tokens"], best["total_tokens"]) and second["total_tokens"] < best["total_tokens"]:
            best = second
    return best


def cost_of_pass(mean_cost: float | None, pass_rate: float) -> float | None:
    """mean cost / pass rate: None when nothing passed, and when the mean cost is unknown."""
    return mean_cost / pass_rate if pass_rate > 0 and mean_cost is not None else None


def _totals(items: Sequence[Mapping[str, Any]]) -> records.Totals:
    """What a tier sums over its subtests and an experiment over its tiers."""
    agent = _money_sum(items, "total_cost_usd", "cost_unknown_runs")
    return {
        "runs": sum(i["runs"] for i in items),
        "total_cost_usd": agent["total_cost_usd"], "cost_unknown_runs": agent["cost_unknown_runs"],
        **_judge_cost(items, "total_judge_cost_usd"),
        "token_stats": sum_stats([i.get("token_stats") or {} for i in items]),
        "total_tokens": _count_total(i["total_tokens"] for i in items),
        "total_duration_seconds": sum(i["total_duration_seconds"] for i in items),
        **wall_clock(items),
        "measured_at": latest(i.get("measured_at") for i in items),
    }


def tier_summary(tier: str, subtests: Sequence[records.SubtestSummary]) -> records.TierSummary:
    """`subtests`: their result.json (records.SubtestSummary)."""
    best = best_subtest(subtests)
    return {
        "tier": tier,
        "subtests": {s["subtest"]: cast(records.SubtestTotals, _without(s, "run_scores")) for s in subtests},
        "best_subtest": best["subtest"] if best else None,
        "best_median_score": best["median_score"] if best else None,
        "best_mean_score": best["mean_score"] if best else None,
        "best_pass_rate": best["pass_rate"] if best else None,
        "best_mean_cost_usd": best["mean_cost_usd"] if best else None,
        "cost_of_pass": cost_of_pass(best["mean_cost_usd"], best["pass_rate"]) if best else None,
        **_totals(subtests),
    }


def best_identity(tier: str, summary: records.TierSummary) -> records.BestSubtest:
    """What best_subtest.json holds: the winner's identity only, so score changes that keep the
    winner leave the file byte-identical and inheriting tiers untouched."""
    return {"tier": tier, "subtest": summary["best_subtest"]}


# ---------------------------------------------------------------- experiment

def experiment_summary(experiment_id: str, tiers: Sequence[records.TierSummary]) -> records.ExperimentSummary:
    """Totals and the frontier: the tier with the lowest cost-of-pass. `tiers`: their result.json
    (records.TierSummary)."""
    priced = [t for t in tiers if t["cost_of_pass"] is not None]
    frontier = min(priced, key=lambda t: (t["cost_of_pass"], t["tier"]))["tier"] if priced else None
    totals = _totals(tiers)
    agent, judge = totals["total_cost_usd"], totals["total_judge_cost_usd"]
    return cast(records.ExperimentSummary, {
        "experiment_id": experiment_id,
        "frontier_tier": frontier,
        "tiers": [t["tier"] for t in tiers],
        "total_agent_cost_usd": agent,
        "total_cost_usd": total([agent, judge]),
        **_without(totals, "total_cost_usd"),       # (the agents' cost is total_agent_cost_usd here)
    })


def tier_comparison(tiers: Sequence[records.TierSummary]) -> list[records.TierComparisonRow]:
    keys = ("tier", "best_subtest", "best_median_score", "best_mean_score", "best_pass_rate",
            "best_mean_cost_usd", "cost_of_pass", "runs", "total_cost_usd", "total_judge_cost_usd")
    rows: Sequence[Mapping[str, Any]] = tiers      # (keys taken in a comprehension: mypy cannot follow)
    return [cast(records.TierComparisonRow, {k: t[k] for k in keys}) for t in rows]


def _without(d: Mapping[str, Any], *keys: str) -> dict[str, Any]:
    return {k: v for k, v in d.items() if k not in keys}
