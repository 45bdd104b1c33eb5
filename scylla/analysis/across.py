"""Statistics across experiments (a study, spec.Study), from the stacked runs frame: per-task views (each
experiment is one task) with the Friedman test over tasks, and the paired comparison of two experiments on
the cells (tier, subtest) they share. Both go into statistical_results.json, their p-values into its
registry (families "tasks" and "paired"). Definitions: docs/numbers.md, "Across experiments".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..spec import AnalysisSettings

Row = Mapping[str, Any]


def _by(rows: Sequence[Row], *columns: str) -> dict[tuple, list[Row]]:
    out: dict[tuple, list[Row]] = {}
    for r in rows:
        out.setdefault(tuple(r[c] for c in columns), []).append(r)
    return out


def _scores(rows: Sequence[Row]) -> list[float]:
    return [r["score"] for r in rows if r["score"] is not None]


def _verdicts(rows: Sequence[Row]) -> list[bool]:
    return [bool(r["passed"]) for r in rows if r["passed"] is not None]


def _mean(values: Sequence[float]) -> float | None:
    return sum(values) / len(values) if values else None


def task_views(st: Any, s: AnalysisSettings, runs: Sequence[Row], tiers: Sequence[str], registry: Any) -> dict:
    """Each task's (experiment's) tiers: mean score and pass rate, the tiers' ranks within the task (1 the
    highest mean score, ties sharing their mean rank), wins (a task's best tier wins it; tied best tiers
    share the win), and the Friedman test with Kendall's W over the tasks that ran every tier."""
    boot = {"resamples": s.resamples, "seed": s.seed, "level": s.confidence}
    by_task = _by(runs, "experiment")
    tasks = list(dict.fromkeys(r["experiment"] for r in runs))
    cells, ranks, means = {}, {}, {}
    for task in tasks:
        per_tier = _by(by_task[(task,)], "tier")
        present = [t for t in tiers if (t,) in per_tier]
        cells[task] = {t: {"runs": len(per_tier[(t,)]),
                           "mean_score": st.bootstrap_ci(_scores(per_tier[(t,)]), lambda a: a.mean(axis=1), **boot),
                           "pass_rate": st.wilson(sum(v := _verdicts(per_tier[(t,)])), len(v), s.confidence)}
                       for t in present}
        means[task] = {t: _mean(_scores(per_tier[(t,)])) for t in present}
        scored = [t for t in present if means[task][t] is not None]
        ranks[task] = dict(zip(scored, st.ranks([means[task][t] for t in scored])))
    wins = dict.fromkeys(tiers, 0.0)
    for task in tasks:
        best = [t for t, r in ranks[task].items() if r == min(ranks[task].values())]
        for t in best:
            wins[t] += 1 / len(best)
    complete = [task for task in tasks if len(ranks[task]) == len(tiers)]
    friedman, w = st.friedman([[means[task][t] for t in tiers] for task in complete])
    registry.add("tasks", "Friedman over tasks (tiers' mean scores)", friedman)
    return {"tasks": tasks, "tiers": list(tiers), "cells": cells, "ranks": ranks,
            "mean_rank": {t: _mean([ranks[task][t] for task in complete]) for t in tiers},
            "wins": wins, "complete_tasks": complete,
            "left_out": {task: "did not run every tier (or a tier has no score)" for task in tasks
                         if task not in complete},
            "friedman": {"family": "tasks", **friedman.to_json()}, "kendall_w": w}


def paired(st: Any, s: AnalysisSettings, runs: Sequence[Row], baseline: str, candidate: str,
           registry: Any) -> dict:
    """The candidate experiment against the baseline on the cells (tier, subtest) both ran: per cell the
    change of pass rate and mean score (improved / regressed / unchanged by pass rate), the Wilcoxon
    signed-rank test of the cells' mean scores, McNemar's test of runs paired by run number within a cell,
    and paired bootstrap intervals of the mean differences (candidate − baseline) over cells."""
    boot = {"resamples": s.resamples, "seed": s.seed, "level": s.confidence}
    a, b = (_by([r for r in runs if r["experiment"] == e], "tier", "subtest") for e in (baseline, candidate))
    shared = [k for k in a if k in b]
    cells, runs_a, runs_b = [], [], []
    for key in shared:
        ra, rb = a[key], b[key]
        pa, pb = _verdicts(ra), _verdicts(rb)
        rate_a, rate_b = (sum(p) / len(p) if p else None for p in (pa, pb))
        mean_a, mean_b = _mean(_scores(ra)), _mean(_scores(rb))
        change = ("unknown" if rate_a is None or rate_b is None else "improved" if rate_b > rate_a
                  else "regressed" if rate_b < rate_a else "unchanged")
        cells.append({"tier": key[0], "subtest": key[1], "runs": [len(ra), len(rb)], "pass_rate": [rate_a, rate_b],
                      "mean_score": [mean_a, mean_b], "change": change,
                      "score_difference": None if mean_a is None or mean_b is None else mean_b - mean_a})
        by_number = {r["run"]: r for r in rb}
        for r in ra:
            other = by_number.get(r["run"])
            if other is not None and r["passed"] is not None and other["passed"] is not None:
                runs_a.append(bool(r["passed"]))
                runs_b.append(bool(other["passed"]))
    scored = [c for c in cells if c["score_difference"] is not None]
    rated = [c for c in cells if c["change"] != "unknown"]
    wilcoxon = st.wilcoxon([c["mean_score"][1] for c in scored], [c["mean_score"][0] for c in scored])
    mcnemar = st.mcnemar(runs_b, runs_a)
    registry.add("paired", f"Wilcoxon {candidate} vs {baseline} (cells' mean scores)", wilcoxon)
    registry.add("paired", f"McNemar {candidate} vs {baseline} (runs paired by number)", mcnemar)
    return {
        "baseline": baseline, "candidate": candidate, "cells": cells,
        **{k: sum(1 for c in cells if c["change"] == k) for k in ("improved", "regressed", "unchanged")},
        "only_in": {baseline: [f"{t}/{x}" for t, x in a if (t, x) not in b],
                    candidate: [f"{t}/{x}" for t, x in b if (t, x) not in a]},
        "score_difference": st.paired_difference([c["mean_score"][1] for c in scored],
                                                 [c["mean_score"][0] for c in scored], **boot),
        "pass_rate_difference": st.paired_difference([c["pass_rate"][1] for c in rated],
                                                     [c["pass_rate"][0] for c in rated], **boot),
        "wilcoxon": {"family": "paired", **wilcoxon.to_json()},
        "mcnemar": {"family": "paired", "pairs": len(runs_a), **mcnemar.to_json()},
    }
