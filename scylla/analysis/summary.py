"""The analysis' statistics from its data frames: `analysis/summary.json` (per subtest, tier and the whole
experiment: rates and means with their intervals, costs, tokens, pass@k, the frontier) and
`analysis/statistical_results.json` (tier comparisons, correlations, judge agreement, power and the
registry of every p-value). Each number is defined in docs/numbers.md ("Statistics"); the formulas are
scylla/analysis/stats.py. A value that cannot be computed is null with its reason; the same frames and
settings give the same bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations, pairwise
from typing import Any, cast

from .. import durable, results
from ..spec import AnalysisSettings, Experiment, Study
from . import across, frames, load

SUMMARY = "analysis/summary.json"
STATISTICAL_RESULTS = "analysis/statistical_results.json"
OUTPUTS = (SUMMARY, STATISTICAL_RESULTS)
INPUTS = tuple(f"{frames.DATA_DIR}/{name}.csv" for name in ("runs", "judges", "criteria"))
Row = Mapping[str, Any]
# run-level metrics whose pairwise rank correlations are reported (each pair once, no diagonal)
CORRELATED = ("score", "impl_rate", "cost_usd", "total_tokens", "duration_seconds")
GRADES = ("S", "A", "B", "C", "D", "F")


@dataclass(frozen=True)
class Scope:
    """What an analysis covers: one experiment, or a study of several (their frames stacked). `header`
    names it in summary.json; `tiers` is the tier order."""
    header: dict[str, Any]
    tiers: tuple[str, ...]
    settings: AnalysisSettings
    compare: tuple[str, str] | None = None      # a study's paired comparison: baseline, candidate

    @classmethod
    def of(cls, exp: Experiment) -> Scope:
        return cls({"experiment": exp.id, "agent_model": exp.agent.model}, exp.tiers, exp.analysis)

    @classmethod
    def of_study(cls, study: Study) -> Scope:
        return cls({"study": study.id, "experiments": [e.id for e in study.experiments],
                    "agent_models": {e.id: e.agent.model for e in study.experiments}},
                   study.tiers, study.analysis, study.compare)

    def identity(self) -> dict:
        """What the statistics take from the spec rather than the frames (their config_changed)."""
        # (a study's summary gained `by_experiment`: its statistics are made again once to hold it)
        return {"header": self.header, "tiers": list(self.tiers), "settings": settings(self.settings),
                "compare": self.compare, **({"sections": ["by_experiment"]} if "study" in self.header else {})}


def build(scope: Scope) -> None:
    """The task action: read the frames, write both JSON files."""
    # (scipy and statsmodels: ~0.7 s, paid only when the action runs; one thread at a time: analysis.load)
    load("scylla.analysis.stats")
    from . import stats
    runs = [without_verdict(r) for r in frames.read(frames.DATA_DIR, "runs")]
    judges = frames.read(frames.DATA_DIR, "judges")
    a = Analysis(stats, scope.settings, list(scope.tiers))
    criteria = frames.read(frames.DATA_DIR, "criteria")
    durable.write_json(SUMMARY, stats.json_safe(a.summary(scope.header, runs, criteria)))
    durable.write_json(STATISTICAL_RESULTS, stats.json_safe(a.statistical_results(runs, judges, scope.compare)))


def without_verdict(run: Row) -> Row:
    """A run whose judges all failed has no verdict (its consensus records score 0, not passed): its score,
    pass, grade and impl rate are unknown to the statistics, which count it among the outcomes only."""
    if run["outcome"] != "judge invalid":
        return run
    return {**run, "score": None, "passed": None, "grade": None, "impl_rate": None}


def settings(s: AnalysisSettings) -> dict:
    return {"resamples": s.resamples, "seed": s.seed, "confidence": s.confidence, "method": "percentile",
            "correction": s.correction, "alpha": s.alpha, "target_difference": s.target_difference,
            "comparisons": [list(c) for c in s.comparisons], "families": dict(sorted(s.families.items()))}


# ---------------------------------------------------------------- plain helpers over frame rows

def _known(rows: Iterable[Row], column: str) -> list[Any]:
    return [r[column] for r in rows if r[column] is not None]


def _sum(rows: Sequence[Row], column: str) -> float | int | None:
    """The sum; None (unknown) when any row's value is unknown (docs/numbers.md, "Unknown is not zero")."""
    return results.total([r[column] for r in rows])


def _count(rows: Iterable[Row], column: str, values: Sequence[Any]) -> dict[str, int]:
    seen = [r[column] for r in rows]
    return {str(v): seen.count(v) for v in values}


def _group(rows: Iterable[Row], *columns: str) -> dict[tuple, list[Row]]:
    out: dict[tuple, list[Row]] = {}
    for r in rows:
        out.setdefault(tuple(r[c] for c in columns), []).append(r)
    return out


def _run_key(r: Row) -> tuple:
    return tuple(r[c] for c in frames.KEY)


# ---------------------------------------------------------------- the analysis

class Analysis:
    """The statistics of one experiment's frames under its settings (seed, resamples, confidence)."""

    def __init__(self, stats: Any, s: AnalysisSettings, tier_order: list[str]) -> None:
        self.st = stats                   # scylla.analysis.stats (Any: imported by the action only)
        self.s = s
        self.tiers = tier_order
        self.boot = {"resamples": s.resamples, "seed": s.seed, "level": s.confidence}

    # ---- cells

    def _mean(self, values: Sequence[float]) -> Any:
        return self.st.bootstrap_ci(values, lambda a: a.mean(axis=1), **self.boot)

    def _known_all(self, rows: Sequence[Row], column: str, what: str) -> tuple[list[float] | None, Any]:
        """The column's values when every run has one, else None and an Estimate saying how many lack it."""
        values = _known(rows, column)
        if len(values) == len(rows):
            return values, None
        return None, self.st.Estimate(None, n=len(rows), reason=f"{len(rows) - len(values)} of {len(rows)} runs' "
                                                                f"{what} is unknown")

    def cell(self, rows: Sequence[Row], clusters: Sequence[Sequence[Row]] | None) -> dict[str, Any]:
        """A subtest's (clusters None), a tier's or the experiment's statistics over its runs."""
        st = self.st
        judged = [r for r in rows if r["passed"] is not None]
        scores = _known(rows, "score")
        passed = sum(1 for r in judged if r["passed"])
        out: dict[str, Any] = {
            "runs": len(rows), "subtests": len(clusters) if clusters is not None else 1, "passed": passed,
            "pass_rate": st.wilson(passed, len(judged), self.s.confidence),
            "mean_score": self._mean(scores),
            "median_score": st.bootstrap_ci(scores, lambda a: _median_rows(a), **self.boot),
            "sd_score": st.sd(scores), "impl_rate": self._mean(_known(rows, "impl_rate")),
            "grades": _count(rows, "grade", GRADES), "outcomes": _count(rows, "outcome", frames.OUTCOMES),
            "tokens": {k: _sum(rows, k) for k in (*results.TOKEN_KEYS, "total_tokens")},
            "total_cost_usd": _sum(rows, "cost_usd"), "total_judge_cost_usd": _sum(rows, "judge_cost_usd"),
            "durations": {"agent_seconds": self._mean(_known(rows, "agent_duration_seconds")),
                          "judge_seconds": self._mean(_known(rows, "judge_duration_seconds")),
                          "total_seconds": _sum(rows, "duration_seconds")},
        }
        out |= self._costs(judged)
        out |= self._pass_at_k(clusters if clusters is not None else [rows])
        if clusters is None:
            out["consistency"] = st.consistency(scores)
        else:
            out |= self._clustered(clusters)
        return out

    def _costs(self, judged: Sequence[Row]) -> dict[str, Any]:
        st, out = self.st, {}
        verdicts = [bool(r["passed"]) for r in judged]
        for name, column, what in (("cost_of_pass", "cost_usd", "agent cost"),
                                   ("cost_of_pass_total", "total_cost_usd", "agent + judge cost")):
            values, unknown = self._known_all(judged, column, what)
            out[name] = unknown or st.cost_of_pass(values or [], verdicts, **self.boot)
        values, unknown = self._known_all(judged, "cost_usd", "agent cost")
        out["mean_cost_usd"] = unknown or self._mean(values or [])
        return out

    def _pass_at_k(self, clusters: Sequence[Sequence[Row]]) -> dict[str, Any]:
        """pass@k and pass^k per subtest, averaged over the subtests (each task counts once, as in Chen et
        al.); k from 1 to the fewest judged runs of a subtest."""
        st = self.st
        counts = [(len(j), sum(1 for r in j if r["passed"])) for g in clusters
                  if (j := [r for r in g if r["passed"] is not None])]
        top = min((n for n, _ in counts), default=0)
        out: dict[str, dict[str, Any]] = {"pass_at_k": {}, "pass_hat_k": {}}
        for k in range(1, top + 1):
            for name, f in (("pass_at_k", st.pass_at_k), ("pass_hat_k", st.pass_hat_k)):
                values = [f(n, c, k).value for n, c in counts]
                out[name][str(k)] = st.Estimate(sum(values) / len(values), n=len(values))
        return out

    def _clustered(self, clusters: Sequence[Sequence[Row]]) -> dict[str, Any]:
        """Runs are nested in subtests: the cluster bootstrap, the clustered SE, ICC and design effect."""
        st = self.st
        scores = [_known(g, "score") for g in clusters]
        passes = [[float(r["passed"]) for r in g if r["passed"] is not None] for g in clusters]
        return {"mean_score_clustered": st.cluster_bootstrap(scores, **self.boot),
                "pass_rate_clustered": st.cluster_bootstrap(passes, **self.boot),
                "cluster_se": st.cluster_se(scores), "icc": st.icc(scores), "design_effect": st.design_effect(scores)}

    # ---- summary.json

    def summary(self, header: Mapping[str, Any], runs: Sequence[Row], criteria: Sequence[Row]) -> dict[str, Any]:
        # a subtest is one of an experiment's: several experiments' subtests of a tier are its clusters
        by_subtest = _group(runs, "experiment", "tier", "subtest")
        several = len({e for e, _, _ in by_subtest}) > 1
        by_tier = {t: [g for (_, tier, _), g in by_subtest.items() if tier == t] for t in self.tiers}
        tiers = {t: self.cell([r for g in gs for r in g], gs) for t, gs in by_tier.items() if gs}
        return {
            **header, "settings": settings(self.s),
            "tier_order": [t for t in self.tiers if t in tiers],
            "overall": self.cell(list(runs), list(by_subtest.values())),
            "tiers": tiers,
            "subtests": {(f"{e}/" if several else "") + f"{t}/{s}": self.cell(g, None)
                         for (e, t, s), g in by_subtest.items()},
            "frontier": self.frontier({t: [r for g in gs for r in g] for t, gs in by_tier.items() if gs}, tiers),
            "criteria": self.criteria(criteria),
            **({"by_experiment": self.by_experiment(by_subtest, header.get("experiments") or [])} if several else {}),
        }

    def by_experiment(self, by_subtest: Mapping[tuple, Sequence[Row]], order: Sequence[str]) -> dict[str, Any]:
        """Each experiment's (a comparison's: each agent's) statistics over all its runs, its subtests its
        clusters, in the spec's `order`: which one does better, with what confidence, at what cost."""
        present = {e for e, _, _ in by_subtest}
        experiments = [e for e in order if e in present] + sorted(present - set(order))
        return {e: self.cell([r for (x, _, _), g in by_subtest.items() if x == e for r in g],
                             [g for (x, _, _), g in by_subtest.items() if x == e]) for e in experiments}

    def criteria(self, rows: Sequence[Row]) -> dict[str, Any]:
        """Each criterion's score over the valid judgments (run × judge), overall and per tier: the mean with
        its bootstrap interval, the SD, and its rubric weight."""
        valid = [r for r in rows if r["is_valid"] and r["score"] is not None]
        out = {}
        for (name,), group in sorted(_group(valid, "criterion").items()):
            by_tier = _group(group, "tier")
            weights = {r["weight"] for r in group}
            out[name] = {"weight": weights.pop() if len(weights) == 1 else None,
                         "overall": self._spread(_known(group, "score")),
                         "tiers": {t: self._spread(_known(by_tier[(t,)], "score")) for t in self.tiers
                                   if (t,) in by_tier}}
        return out

    def _spread(self, values: Sequence[float]) -> dict[str, Any]:
        return {"mean": self._mean(values), "sd": self.st.sd(values)}

    def frontier(self, tier_runs: Mapping[str, Sequence[Row]], cells: Mapping[str, Mapping[str, Any]]) -> dict:
        """The tier of the lowest cost of pass (ProjectScylla's frontier), the Pareto set of (mean agent cost
        per run, mean score) and each tier's bootstrap probability of being on it."""
        st = self.st
        priced = {t: c["cost_of_pass"] for t, c in cells.items() if c["cost_of_pass"].value is not None}
        best = min(priced, key=lambda t: (priced[t].value, self.tiers.index(t))) if priced else None
        pairs = {t: [(r["cost_usd"], r["score"]) for r in rs] for t, rs in tier_runs.items()}
        complete = {t: p for t, p in pairs.items() if p and all(c is not None and s is not None for c, s in p)}
        left_out = sorted(set(pairs) - set(complete), key=self.tiers.index)
        points = [(sum(c for c, _ in p) / len(p), sum(s for _, s in p) / len(p)) for p in complete.values()]
        probability = st.frontier_probability([([c for c, _ in p], [s for _, s in p]) for p in complete.values()],
                                              resamples=self.s.resamples, seed=self.s.seed)
        return {"tier": best, "cost_of_pass": priced[best] if best else
                st.Estimate(None, reason="no tier has a known cost of pass (nothing passed, or costs unknown)"),
                "pareto": [list(complete)[i] for i in st.pareto(points)] if points else [],
                "probability": dict(zip(complete, probability)),
                "left_out": {t: "a run's agent cost or score is unknown" for t in left_out}}

    # ---- statistical_results.json

    def statistical_results(self, runs: Sequence[Row], judges: Sequence[Row],
                            compare: tuple[str, str] | None = None) -> dict[str, Any]:
        """The tests, agreement and power; across several experiments also the per-task views, and the
        paired comparison of `compare` (baseline, candidate) when given."""
        several = len({r["experiment"] for r in runs}) > 1
        registry = self.st.Registry(self.s.alpha)
        for family in ("omnibus", "tier pairs", "correlations") + (("tasks",) if several else ()) + \
                (("paired",) if compare else ()):
            registry.declare(family, self.s.families.get(family, self.s.correction))
        out = {"settings": settings(self.s),
               "tier_comparisons": self.tier_comparisons(runs, registry),
               "correlations": self.correlations(runs, registry),
               "judges": self.judges(runs, judges),
               "power": self.power(runs)}
        if several:
            out["tasks"] = across.task_views(self.st, self.s, runs, self.tiers, registry)
        if compare:
            out["paired"] = across.paired(self.st, self.s, runs, *compare, registry)
        return out | {"registry": registry.to_json()}

    def _tier_scores(self, runs: Sequence[Row]) -> dict[str, list[float]]:
        by_tier = _group(runs, "tier")
        return {t: _known(by_tier[(t,)], "score") for t in self.tiers if (t,) in by_tier}

    def pairs(self, present: Sequence[str]) -> list[tuple[str, str]]:
        """Consecutive tiers, first -> last, then the spec's extra comparisons (each once, in that order)."""
        wanted = list(pairwise(present)) + ([(present[0], present[-1])] if len(present) > 2 else [])
        wanted += [c for c in self.s.comparisons if c[0] in present and c[1] in present]
        return list(dict.fromkeys(wanted))

    def tier_comparisons(self, runs: Sequence[Row], registry: Any) -> dict[str, Any]:
        st, scores = self.st, self._tier_scores(runs)
        omnibus = st.kruskal(list(scores.values()))
        registry.add("omnibus", "Kruskal–Wallis over tiers (score)", omnibus)
        judged = {t: [bool(r["passed"]) for r in rs if r["passed"] is not None]
                  for (t,), rs in _group(runs, "tier").items()}
        out = []
        for a, b in self.pairs(list(scores)):
            name = f"{a} vs {b}"
            test = st.mann_whitney(scores[a], scores[b])
            registry.add("tier pairs", name, test)
            ra, rb = (sum(judged[t]) / len(judged[t]) if judged[t] else None for t in (a, b))
            out.append({"a": a, "b": b, "name": name, "family": "tier pairs", "mann_whitney": test,
                        # δ of b over a: positive when b scores higher
                        "cliffs_delta": st.cliffs_delta(scores[b], scores[a], **self.boot),
                        "difference": st.mean_difference(scores[b], scores[a], **self.boot),
                        "pass_rate_difference": None if ra is None or rb is None else rb - ra})
        return {"omnibus": {"test": "Kruskal–Wallis", "family": "omnibus", **omnibus.to_json()}, "pairs": out}

    def correlations(self, runs: Sequence[Row], registry: Any) -> list[dict[str, Any]]:
        """Spearman's ρ over runs for each pair of CORRELATED metrics, runs with both values known."""
        out = []
        for x, y in combinations(CORRELATED, 2):
            both = [(r[x], r[y]) for r in runs if r[x] is not None and r[y] is not None]
            test = self.st.correlation([p[0] for p in both], [p[1] for p in both], "spearman")
            name = f"{x} ~ {y}"
            registry.add("correlations", name, test)
            out.append({"x": x, "y": y, "method": "spearman", "name": name, "family": "correlations",
                        **test.to_json()})
        return out

    def judges(self, runs: Sequence[Row], judge_rows: Sequence[Row]) -> dict[str, Any]:
        """The panel's agreement over runs (units), every slot that votes in the consensus."""
        st = self.st
        slots = sorted({r["slot"] for r in judge_rows})
        by_run = {k: {r["slot"]: r for r in g} for k, g in _group(judge_rows, *frames.KEY).items()}
        units = [by_run.get(_run_key(r), {}) for r in runs]

        def matrix(value: Callable[[Row], Any]) -> list[list[Any]]:
            return [[value(u[s]) if s in u and u[s]["is_valid"] else None for s in slots] for u in units]

        scores, grades = matrix(lambda j: j["score"]), matrix(lambda j: j["grade"])
        passes = matrix(lambda j: j["passed"] if j["passed"] is not None else None)
        alpha_boot = {"resamples": min(self.s.resamples, 1000), "seed": self.s.seed, "ci_level": self.s.confidence}
        pairs = [{"a": slots[p.judges[0]], "b": slots[p.judges[1]], **p.to_json(),
                  "weighted_kappa": st.weighted_kappa([g[p.judges[0]] for g in grades],
                                                      [g[p.judges[1]] for g in grades])}
                 for p in st.judge_pairs(scores)]
        leniency = st.leniency(scores, **self.boot)
        multi = [r for r in runs if (r["valid_judges"] or 0) >= 2]
        return {
            "slots": slots,
            "alpha": {"interval": st.alpha(scores, "interval", **alpha_boot),
                      "ordinal": st.alpha(st.grade_ranks(grades), "ordinal", **alpha_boot),
                      "nominal": st.alpha(passes, "nominal", **alpha_boot)},
            "pairs": pairs,
            "leniency": [{"judge": s, **e.to_json()} for s, e in zip(slots, leniency)],
            "split_decision_rate": st.wilson(sum(1 for r in multi if r["split_decision"]), len(multi),
                                             self.s.confidence),
            "leave_one_out": self._leave_one_out(slots, units, runs),
            "pipeline": self._against_pipeline(judge_rows, slots, units),
        }

    def _leave_one_out(self, slots: list[str], units: list[dict[str, Row]], runs: Sequence[Row]) -> list[dict]:
        """For each judge: the runs whose consensus verdict (results.consensus) changes without it."""
        out = []
        for left in slots:
            flips = counted = 0
            for u, run in zip(units, runs):
                if run["passed"] is None or left not in u:
                    continue
                rest = [_as_judgment(u[s], n) for n, s in enumerate(slots) if s in u and s != left]
                if not any(results.is_valid(j) for j in rest):
                    continue            # nothing left to decide: not counted
                counted += 1
                flips += results.consensus(cast(list, rest))["passed"] != run["passed"]
            out.append({"judge": left, "flips": flips, "runs": counted,
                        "rate": self.st.wilson(flips, counted, self.s.confidence)})
        return out

    def _against_pipeline(self, judge_rows: Sequence[Row], slots: list[str], units: list[dict[str, Row]]) -> dict | None:
        """Each other judge's pass verdict against the deterministic pipeline judge's, on runs both judged."""
        pipeline = next((s for s in slots if all(r["adapter"] == "pipeline" for r in judge_rows if r["slot"] == s)),
                        None)
        if pipeline is None:
            return None
        out = []
        for s in slots:
            if s == pipeline:
                continue
            both = [(u[s], u[pipeline]) for u in units if s in u and pipeline in u and u[s]["is_valid"]
                    and u[pipeline]["is_valid"] and u[s]["passed"] is not None and u[pipeline]["passed"] is not None]
            agree = sum(1 for a, b in both if a["passed"] == b["passed"])
            gaps = [abs(a["score"] - b["score"]) for a, b in both]
            out.append({"judge": s, "agreement": self.st.wilson(agree, len(both), self.s.confidence),
                        "mean_abs_difference": self.st.mean(gaps),
                        "judge_passes_pipeline_fails": sum(1 for a, b in both if a["passed"] and not b["passed"]),
                        "judge_fails_pipeline_passes": sum(1 for a, b in both if b["passed"] and not a["passed"])})
        return {"pipeline": pipeline, "judges": out}

    def power(self, runs: Sequence[Row]) -> dict[str, Any]:
        """The minimum detectable pass-rate difference of each comparison at its n, from the first tier's
        pass rate, and the runs per tier needed for the target difference."""
        st = self.st
        judged = {t: [bool(r["passed"]) for r in rs if r["passed"] is not None]
                  for (t,), rs in _group(runs, "tier").items()}
        present = [t for t in self.tiers if judged.get(t)]
        baseline = sum(judged[present[0]]) / len(judged[present[0]]) if present else 0.5
        rows = [{"comparison": f"{a} vs {b}", "n_a": len(judged[a]), "n_b": len(judged[b]), "baseline": baseline,
                 "detectable_difference": st.detectable_difference(min(len(judged[a]), len(judged[b])), baseline,
                                                                    self.s.alpha)}
                for a, b in self.pairs(present)]
        needed = st.runs_needed(self.s.target_difference, baseline, self.s.alpha)
        return {"comparisons": rows, "runs_needed": {"difference": self.s.target_difference, "baseline": baseline,
                                                     **needed.to_json()}}


def _median_rows(a: Any) -> Any:
    import numpy as np
    return np.median(a, axis=1)


def _as_judgment(row: Row, number: int) -> dict[str, Any]:
    """A judges-frame row as results.consensus reads a judgment."""
    return {"score": row["score"], "passed": row["passed"], "is_valid": row["is_valid"], "judge_number": number}
