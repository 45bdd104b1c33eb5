"""Markdown and JSON reports at run, subtest, tier and experiment level (plain and correct).

Reports are derived outputs: deterministic text from result dicts (scylla/records.py), no timestamps.
"""

from __future__ import annotations

import html as html_lib
from collections.abc import Mapping, Sequence
from typing import Any

from . import records, tree


def num(value, digits: int = 3) -> str:
    """A number as every report shows it: 3 decimals, yes/no, — for unknown."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _usd(value) -> str:
    """A cost; None is one never recorded: unknown, never $0.0000."""
    return "unknown" if value is None else f"${value:.4f}"


def _sum_usd(value, unknown_runs: int, runs: int) -> str:
    """A cost summed over runs: unknown says how many runs did not record it."""
    return f"unknown ({unknown_runs} of {runs} runs not recorded)" if value is None and unknown_runs else _usd(value)


def _cost_of_pass(value, pass_rate) -> str:
    return _usd(value) if value is not None or pass_rate else "— (nothing passed)"


def _seconds(value) -> str:
    return "unknown" if value is None else f"{value:.1f} s"


def _durations(d: Mapping[str, Any]) -> str:
    return (f"- Duration: {_seconds(d['total_duration_seconds'])} summed over runs (agents + judges), "
            f"{_seconds(d.get('wall_clock_seconds'))} wall clock")


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def _count(n: int | None) -> str:
    """A token count; None is one the agent's result did not record (ProjectScylla's older results)."""
    return "unknown" if n is None else str(n)


def _tokens(r: Mapping[str, Any]) -> str:
    t = r.get("token_stats") or {}
    parts = ", ".join(f"{_count(t.get(k))} {name}" for k, name in (
        ("input_tokens", "input"), ("output_tokens", "output"), ("cache_creation_tokens", "cache creation"),
        ("cache_read_tokens", "cache read")))
    return f"- Tokens: {_count(r.get('total_tokens'))} total ({parts})"


def _model_usage(usage: Mapping[str, Any] | None) -> list[str]:
    """Every model the agent's run used, as its CLI reported it (token_stats are the main model's)."""
    if not usage:
        return []
    rows = [[model, *(str(u.get(k, 0)) for k in ("input_tokens", "output_tokens", "cache_creation_tokens",
                                                 "cache_read_tokens")), _usd(u.get("cost_usd"))]
            for model, u in sorted(usage.items())]
    return ["## Agent usage by model", "", _table(["model", "input", "output", "cache creation", "cache read",
                                                   "cost"], rows)]


def _html_link(href: str, what: str) -> str:
    return f"- HTML report: [{what}]({href})"


def run_report(run_id: str, r: records.RunResult, html: str | None = None) -> tuple[str, Mapping[str, Any]]:
    """`html`: the run's page in the HTML report, relative to the run's directory."""
    judges = [[str(j["judge_number"]), j["model"], num(j["score"]), j["grade"], num(j["passed"]),
               "valid" if j["is_valid"] else "**invalid** (excluded)"] for j in r["judges"]]
    md = "\n".join([
        f"# Run {run_id}", "",
        (f"- Score: **{num(r['judge_score'])}** (grade {r['judge_grade']}, "
         f"{'passed' if r['judge_passed'] else 'failed'})"),
        (f"- Agent: exit code {r['exit_code']}, outcome {r['agent_outcome']}, "
         f"{r['agent_duration_seconds']:.1f} s, {_usd(r.get('cost_usd'))}"),
        _tokens(r),
        *([f"- Permission denials: {', '.join(r['permission_denials'])}"] if r.get("permission_denials") else []),
        *([_sandbox(r["sandbox"])] if r.get("sandbox") else []),
        f"- Judges: {_usd(r.get('judge_cost_usd'))}, {r['judge_duration_seconds']:.1f} s",
        *([_html_link(html, "every judge's reasoning and criteria, the pipeline steps, the raw files")] if html else []),
        "", "## Judges", "", _table(["slot", "model", "score", "grade", "passed", "validity"], judges),
        *_model_usage(r.get("model_usage")),
        "## Reasoning (judge closest to the consensus)", "", r["judge_reasoning"] or "(none)", "",
    ])
    return md, {"run": run_id, **{k: r.get(k) for k in (
        "judge_score", "judge_grade", "judge_passed", "judge_valid", "exit_code", "cost_usd", "judge_cost_usd",
        "token_stats", "tokens_input", "tokens_output", "total_tokens", "model_usage", "judges")}}


def _sandbox(box: Mapping[str, Any]) -> str:
    denied = f"; {box['denied']} denied attempt(s), listed in agent/result.json" if box.get("denied") else ""
    return f"- Sandbox: {box['kind']}{denied}" + (f" ({box['note']})" if box.get("note") else "")


def subtest_report(s: records.SubtestSummary, runs: list[records.NormalizedRun]) -> tuple[str, Mapping[str, Any]]:
    rows = [[str(r["run_number"]), num(r["judge_score"]), r["judge_grade"], num(r["judge_passed"]),
             str(r["exit_code"]), _usd(r.get("cost_usd")),
             str(sum(1 for j in r["judges"] if not j["is_valid"]))] for r in runs]
    grades = ", ".join(f"{g}: {k}" for g, k in s["grade_distribution"].items() if k)
    n = s["runs"]
    md = "\n".join([
        f"# Subtest {s['tier']}/{s['subtest']}", "",
        f"- Runs: {s['runs']}, pass rate {num(s['pass_rate'])}",
        (f"- Score: mean {num(s['mean_score'])}, median {num(s['median_score'])}, "
         f"stdev {num(s['std_score'])}, consistency {num(s['consistency'])}"),
        (f"- Cost: mean {_usd(s['mean_cost_usd'])}, "
         f"total {_sum_usd(s['total_cost_usd'], s['cost_unknown_runs'], n)} "
         f"(judges {_sum_usd(s['total_judge_cost_usd'], s['judge_cost_unknown_runs'], n)})"),
        _tokens(s), _durations(s), f"- Grades: {grades or '—'}",
        f"- Invalid judgments: {s['invalid_judgments']}",
        _html_link(f"../../{tree.HTML_REPORT_DIR}/{s['tier']}/{s['subtest']}/index.html", "this subtest's runs"), "",
        _table(["run", "score", "grade", "passed", "exit", "cost", "invalid judges"], rows),
    ])
    return md, s        # (report.json is the summary itself)


def _pass_ci(s: Mapping[str, Any]) -> str:
    """A subtest's pass rate's Wilson 95 % interval (analysis.stats.wilson, the analysis' own), from its
    counts; imported here only, when an aggregate is written (scipy and statsmodels take ~0.7 s to load)."""
    runs, passed = s.get("runs"), s.get("passed")
    if not isinstance(runs, int) or not isinstance(passed, int) or runs == 0:
        return "—"
    from .analysis import load
    load("numpy", "scipy.stats", "statsmodels.stats.proportion")      # (one thread at a time)
    from .analysis.stats import wilson
    e = wilson(passed, runs)
    return f"[{num(e.ci_low)}, {num(e.ci_high)}]"


def tier_report(t: records.TierSummary) -> tuple[str, Mapping[str, Any]]:
    rows = [[("**" + sid + "**") if sid == t["best_subtest"] else sid, num(s["median_score"]),
             num(s["mean_score"]), num(s["pass_rate"]), _pass_ci(s), num(s["consistency"]),
             _usd(s["mean_cost_usd"]), _count(s["total_tokens"]), str(s["invalid_judgments"])]
            for sid, s in sorted(t["subtests"].items())]
    md = "\n".join([
        f"# Tier {t['tier']}", "",
        (f"- Best subtest: **{t['best_subtest']}** (median {num(t['best_median_score'])}, "
         f"pass rate {num(t['best_pass_rate'])})"),
        f"- Cost of pass: {_cost_of_pass(t['cost_of_pass'], t['best_pass_rate'])}",
        (f"- Runs: {t['runs']}; agent cost {_sum_usd(t['total_cost_usd'], t['cost_unknown_runs'], t['runs'])}; "
         f"judge cost {_sum_usd(t['total_judge_cost_usd'], t['judge_cost_unknown_runs'], t['runs'])}"),
        _tokens(t), _durations(t), _html_link(_tier_anchor(t["tier"]), "confidence intervals, every subtest and run"),
        "", _table(["subtest", "median", "mean", "pass rate", "95 % CI (Wilson)", "consistency", "mean cost", "tokens",
                    "invalid judges"], rows),
    ])
    return md, t        # (report.json is the summary itself)


def experiment_report(e: records.ExperimentSummary, tiers: Sequence[records.TierSummary]) -> tuple[str, Mapping[str, Any]]:
    rows = [[("**" + t["tier"] + "**") if t["tier"] == e["frontier_tier"] else t["tier"], str(t["best_subtest"]),
             num(t["best_median_score"]), num(t["best_pass_rate"]),
             _pass_ci(t["subtests"].get(str(t["best_subtest"])) or {}),
             _cost_of_pass(t["cost_of_pass"], t["best_pass_rate"]), str(t["runs"]),
             _usd(t["total_cost_usd"]), _usd(t["total_judge_cost_usd"])] for t in tiers]
    passed = any(t["best_pass_rate"] for t in tiers)
    frontier = e["frontier_tier"] or ("unknown — the cost of pass is unknown" if passed
                                      else "none — nothing passed")
    md = "\n".join([
        f"# Experiment {e['experiment_id']}", "",
        f"- Frontier (lowest cost of pass of a tier's best subtest, as ProjectScylla defines it): **{frontier}**",
        (f"- Runs: {e['runs']}; "
         f"agent cost {_sum_usd(e['total_agent_cost_usd'], e['cost_unknown_runs'], e['runs'])}; "
         f"judge cost {_sum_usd(e['total_judge_cost_usd'], e['judge_cost_unknown_runs'], e['runs'])}; "
         f"total {_usd(e['total_cost_usd'])}"),
        _tokens(e), _durations(e),
        _html_link(tree.HTML_REPORT, f"{tree.HTML_REPORT} (confidence intervals, tests, judge agreement, every run)"),
        "", _table(["tier", "best subtest", "median", "pass rate", "95 % CI (Wilson)", "cost of pass", "runs",
                    "agent cost", "judge cost"], rows),
    ])
    return md, {**e, "tier_rows": tiers}


def _tier_anchor(tier: str) -> str:
    """The tier's section of the HTML report, from the tier's directory."""
    return f"../{tree.HTML_REPORT}#tier-{tier}"


def _totals(t: Mapping[str, Any], agent_cost: str) -> str:
    return (f"- Runs: {t['runs']}; agent cost {_sum_usd(t[agent_cost], t['cost_unknown_runs'], t['runs'])}; "
            f"judge cost {_sum_usd(t['total_judge_cost_usd'], t['judge_cost_unknown_runs'], t['runs'])}")


def tier_summary(t: records.TierSummary) -> str:
    """<tier>/summary.md: the tier in a few lines (report.md has the table)."""
    return "\n".join([
        f"# Tier {t['tier']}: summary", "",
        (f"- Best subtest: **{t['best_subtest']}** (median {num(t['best_median_score'])}, "
         f"pass rate {num(t['best_pass_rate'])})"),
        f"- Cost of pass: {_cost_of_pass(t['cost_of_pass'], t['best_pass_rate'])}",
        _totals(t, "total_cost_usd"),
        "- Full report: [report.md](report.md)", _html_link(_tier_anchor(t["tier"]), "confidence intervals, every run"),
        ""])


def experiment_summary(e: records.ExperimentSummary, tiers: Sequence[records.TierSummary]) -> str:
    """summary.md: the answer in a few lines (report.md has the table, the HTML report the statistics)."""
    top = max((s for t in tiers if (s := t["best_median_score"]) is not None), default=None)
    best = [t for t in tiers if top is not None and t["best_median_score"] == top]
    frontier = next((t for t in tiers if t["tier"] == e["frontier_tier"]), None)
    return "\n".join([
        f"# Experiment {e['experiment_id']}: summary", "",
        ("- Highest score (best subtest's median): " + (" = ".join(
            f"**{t['tier']}** ({t['best_subtest']}: median {num(t['best_median_score'])}, "
            f"pass rate {num(t['best_pass_rate'])})" for t in best) or "— (no score)")),
        ("- Frontier (lowest cost of pass of a tier's best subtest): " + (f"**{frontier['tier']}** ({_usd(frontier['cost_of_pass'])})"
                                                 if frontier else "— (nothing passed, or its cost is unknown)")),
        _totals(e, "total_agent_cost_usd") + f"; total {_usd(e['total_cost_usd'])}", _tokens(e),
        "- Full report: [report.md](report.md)",
        _html_link(tree.HTML_REPORT, f"{tree.HTML_REPORT} (confidence intervals, tests, judge agreement, every run)"),
        ""])


def redirect_html(title: str, target: str) -> str:
    """report.html: a page that opens the HTML report (`target`, relative)."""
    t = html_lib.escape(target, quote=True)
    return (f"<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{html_lib.escape(title)}</title>\n"
            f"<meta http-equiv=\"refresh\" content=\"0; url={t}\"></head>\n"
            f"<body><p>The report is <a href=\"{t}\">{t}</a>.</p></body></html>\n")
