"""summary.json and statistical_results.json shaped as the analysis:stats contract says (docs/numbers.md,
"Statistics"), for the HTML report's unit tests: small, with unknowns and reasons where the real ones
have them."""

from __future__ import annotations

from typing import Any


def est(value: float | None, low: float | None = None, high: float | None = None, n: int = 2,
        reason: str | None = None) -> dict[str, Any]:
    return {"value": value, "ci_low": low, "ci_high": high, "n": n, "reason": reason}


NONE = est(None, n=1, reason="needs at least 2 runs")


def cell(runs: int, passed: int, score: float | None, cost: float | None, *, judge_cost: float | None = None,
         subtests: int = 1, tier: bool = True) -> dict[str, Any]:
    rate = passed / runs if runs else None
    out: dict[str, Any] = {
        "runs": runs, "subtests": subtests, "passed": passed,
        "pass_rate": est(rate, 0.1 if rate is not None else None, 0.9 if rate is not None else None, runs),
        "mean_score": est(score, None if score is None else score - 0.1, None if score is None else score + 0.05, runs),
        "median_score": est(score, n=runs), "sd_score": est(0.0 if runs > 1 else None, n=runs,
                                                            reason=None if runs > 1 else "needs at least 2 runs"),
        "impl_rate": est(score, n=runs),
        "mean_cost_usd": est(cost, cost, cost, runs) if cost is not None else est(None, n=runs, reason="cost unknown"),
        "cost_of_pass": est(cost / rate, cost, None, runs, "upper bound unbounded: a resample with no pass")
        if cost is not None and rate else est(None, n=runs, reason="nothing passed"),
        "cost_of_pass_total": est(None, n=runs, reason="judge cost unknown") if judge_cost is None or not rate or cost is None
        else est((cost + judge_cost) / rate, None, None, runs),
        "total_cost_usd": None if cost is None else cost * runs, "total_judge_cost_usd": judge_cost,
        "tokens": {"input_tokens": 100 * runs, "output_tokens": 50 * runs, "cache_creation_tokens": None,
                   "cache_read_tokens": 0, "total_tokens": None},
        "durations": {"agent_seconds": est(1.5, n=runs), "judge_seconds": est(0.5, n=runs), "total_seconds": 2.0 * runs},
        "pass_at_k": {str(k): est(rate, n=runs) for k in range(1, runs + 1)},
        "pass_hat_k": {str(k): est(rate, n=runs) for k in range(1, runs + 1)},
        "grades": {"S": 0, "A": passed, "B": 0, "C": runs - passed, "D": 0, "F": 0},
        "outcomes": {"passed": passed, "failed": runs - passed},
    }
    if tier:
        out |= {"pass_rate_clustered": est(rate, n=runs), "mean_score_clustered": est(score, n=runs),
                "cluster_se": NONE, "icc": NONE, "design_effect": NONE}
    else:
        out["consistency"] = est(1.0, n=runs) if runs > 1 else NONE
    return out


def summary(tiers: dict[str, dict[str, tuple[int, int, float | None, float | None]]], *,
            frontier: str | None = "T0") -> dict[str, Any]:
    """tiers: tier -> subtest -> (runs, passed, mean score, mean agent cost)."""
    subtests = {f"{t}/{s}": cell(*v, tier=False) for t, subs in tiers.items() for s, v in subs.items()}
    tier_cells = {}
    for t, subs in tiers.items():
        runs = sum(v[0] for v in subs.values())
        passed = sum(v[1] for v in subs.values())
        scores = [v[2] for v in subs.values() if v[2] is not None]
        costs = [v[3] for v in subs.values() if v[3] is not None]
        tier_cells[t] = cell(runs, passed, sum(scores) / len(scores) if scores else None,
                             sum(costs) / len(costs) if costs and len(costs) == len(subs) else None, subtests=len(subs))
    all_runs = sum(c["runs"] for c in tier_cells.values())
    overall = cell(all_runs, sum(c["passed"] for c in tier_cells.values()), 0.5, 0.02, subtests=len(subtests))
    return {
        "experiment": "hello", "agent_model": "scripted-hello-agent",
        "settings": {"resamples": 1000, "seed": 0, "confidence": 0.95, "method": "percentile", "correction": "holm"},
        "tier_order": list(tiers), "overall": overall, "tiers": tier_cells, "subtests": subtests,
        "frontier": {"tier": frontier, "reason": None if frontier else "nothing passed",
                     "cost_of_pass": est(0.04, 0.03, 0.05) if frontier else est(None, reason="nothing passed"),
                     "pareto": [frontier] if frontier else [], "probability": {t: 0.5 for t in tiers}},
    }


def statistical_results(tiers: list[str], slots: list[str]) -> dict[str, Any]:
    pairs = [{"a": a, "b": b, "name": f"{a} vs {b}",
              "mann_whitney": {"statistic": 1.0, "p_value": 0.2, "n": 4, "reason": None, "family": "tier pairs",
                               "p_adjusted": 0.4, "reject": False},
              "cliffs_delta": est(0.5, -0.5, 1.0, 4), "difference": est(0.17, -0.1, 0.3, 4),
              "pass_rate_difference": 0.5} for a, b in zip(tiers, tiers[1:], strict=False)]
    one_judge = len(slots) < 2
    alpha = est(None, n=0, reason="needs at least 2 judges") if one_judge else est(0.61, 0.2, 0.9, 10)
    return {
        "settings": {"resamples": 1000, "seed": 0, "confidence": 0.95, "method": "percentile", "correction": "holm"},
        "tier_comparisons": {"omnibus": {"statistic": 2.5, "p_value": 0.28, "n": 10, "reason": None,
                                         "family": "omnibus", "p_adjusted": 0.28, "reject": False}, "pairs": pairs},
        "correlations": [{"x": "score", "y": "impl_rate", "method": "spearman", "statistic": 0.93, "p_value": 0.001,
                          "n": 10, "reason": None}],
        "judges": {
            "slots": slots, "alpha": {"interval": alpha, "ordinal": alpha, "nominal": alpha},
            "pairs": [] if one_judge else [{"a": slots[0], "b": slots[1], "spearman": 0.9, "pearson": 0.8,
                                            "mean_abs_difference": 0.05, "weighted_kappa": est(0.7, 0.4, 0.9, 10),
                                            "n": 10}],
            "leniency": [{"judge": s, **est(0.01, -0.02, 0.04, 10)} for s in slots],
            "split_decision_rate": est(0.1, 0.02, 0.4, 10),
            "leave_one_out": [{"judge": s, "flips": 1, "runs": 10, "rate": est(0.1, n=10)} for s in slots],
            "pipeline": None,
        },
        "power": [{"comparison": p["name"], "n_a": 4, "n_b": 4, "detectable_difference": est(0.8, n=8)} for p in pairs],
        "runs_needed": {"difference": 0.1, **est(385.0, n=0)},
        "registry": {"alpha": 0.05, "families": {
            "omnibus": {"correction": "holm", "tests": [{"name": "Kruskal–Wallis", "p_value": 0.28, "p_adjusted": 0.28,
                                                         "reject": False}]},
            "tier pairs": {"correction": "holm", "tests": [{"name": p["name"], "p_value": 0.2, "p_adjusted": 0.4,
                                                            "reject": False} for p in pairs]}}},
    }
