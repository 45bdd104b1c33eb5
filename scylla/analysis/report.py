"""The drill-down HTML report (analysis/report/): `index.html`, self-contained (styles, scripts, the
Vega-Embed bundle and every chart's data inline, so it opens from file:// with no network), then per
subtest a page of its runs (`T0/00/index.html`) and a page per run (`T0/00/run_01.html`) with each
judge's verdict, reasoning and criteria, the pipeline steps, and relative links to the run's raw files.

Two kinds of task build it (graph.py): `analysis:report` (the index, from the analysis' statistics and
experiment frames: a fixed number of files) and `analysis:report/T0/00` per subtest (from that subtest's
runs only), so no task's fan-in grows with the number of runs. Pages are deterministic: the same inputs
give the same bytes (no timestamps, sorted keys).

Every key the report reads from summary.json and statistical_results.json is read in `Analysis` below
(docs/numbers.md, "Statistics"): a renamed key is one line there. Templates: scylla/analysis/templates/.
"""

from __future__ import annotations

import csv
import hashlib
import json
import posixpath
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .. import durable, records, reports, tree
from ..spec import Experiment, Subtest, load_yaml
from ..tree import RunPaths, SubtestPaths
from . import figures, frames, load, summary, tables

INDEX = tree.HTML_REPORT
TEMPLATES = Path(__file__).parent / "templates"
LIST_LIMIT = 50                 # runs listed under one data-quality flag (the count is always whole)
# a run's raw files the run page links to: (label, path under the run's directory). Linked by the tree's
# layout, not by whether they exist: a page depends on its file_dep only (plan.py dry-runs it on copies of those)
RUN_FILES = (("agent prompt", "agent/prompt.md"), ("transcript (stdout)", "agent/stdout.log"),
             ("stderr", "agent/stderr.log"), ("final output", "agent/output.txt"), ("patch", "agent/patch.diff"),
             ("command log", "agent/command_log.json"), ("judge prompt", "judge_prompt.md"))


# ---------------------------------------------------------------- where it is and what it reads

def figure_specs(exp: Experiment) -> list[str]:
    """The figures' Vega-Lite specs (`.vl.json`, data inline, written by the analysis:figures/* tasks), which
    the index embeds after its own charts: each a file_dep of the index."""
    del exp
    return [f"{figures.FIGURES_DIR}/{name}.vl.json" for name in figures.FIGURES]


def index_inputs(exp: Experiment) -> list[str]:
    """Exactly the files the index reads (a fixed number, whatever the number of runs)."""
    return [*summary.OUTPUTS, tree.EXPERIMENT_JSON, tree.RUBRIC, frames.runs_csv(frames.DATA_DIR), *figure_specs(exp)]


def subtest_targets(exp: Experiment, sp: SubtestPaths) -> list[str]:
    return [f"{sp.html_dir}/index.html"] + [sp.run(n).html_page for n in range(1, exp.runs + 1)]


def subtest_inputs(exp: Experiment, sp: SubtestPaths) -> list[str]:
    """Exactly the files a subtest's pages are built from: its summary and its runs'."""
    inputs = [sp.result]
    for n in range(1, exp.runs + 1):
        run = sp.run(n)
        inputs += [run.run_result, run.agent_result, run.agent("patch.diff"), run.pipeline]
        inputs += [run.judge(j.number, f) for j in exp.judges for f in ("judgment.json", "timing.json")]
    return inputs


@cache
def templates_digest() -> str:
    """The templates' digest (an uptodate config of the report's tasks: new templates re-render)."""
    h = hashlib.sha256()
    for path in sorted(TEMPLATES.glob("*")):
        h.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()


def subtest_identity(exp: Experiment, s: Subtest) -> dict:
    """What a subtest's pages take from the spec rather than from the files."""
    return {**frames.identity(exp), "subtest": [s.name, s.description], "templates": templates_digest()}


def index_identity(exp: Experiment) -> dict:
    return {**frames.identity(exp), "templates": templates_digest()}


# ---------------------------------------------------------------- the statistics, read in one place

def estimate(x: Any) -> dict:
    """An estimate as the templates read it (every key there; a missing one is unknown)."""
    x = x if isinstance(x, Mapping) else {}
    return {"value": _number(x.get("value")), "ci_low": _number(x.get("ci_low")), "ci_high": _number(x.get("ci_high")),
            "n": x.get("n"), "reason": x.get("reason")}


def hypothesis_test(x: Any, adjusted: Mapping[str, Any] | None = None) -> dict:
    """A test, with its registry entry's adjusted p-value and decision (`adjusted`) when it has one."""
    x, adjusted = (x if isinstance(x, Mapping) else {}), (adjusted or {})
    return {"name": x.get("name") or x.get("test"), "statistic": _number(x.get("statistic")),
            "p": _number(x.get("p")), "p_adjusted": _number(adjusted.get("p_adjusted", x.get("p_adjusted"))),
            "reject": adjusted.get("reject", x.get("reject")), "n": x.get("n"), "reason": x.get("reason")}


def _number(x: Any) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _value(x: Any) -> float | None:
    """A number given as itself or as an estimate's value."""
    return _number(x) if not isinstance(x, Mapping) else estimate(x)["value"]


CELL_ESTIMATES = ("pass_rate", "pass_rate_clustered", "mean_score", "mean_score_clustered", "cluster_se", "icc",
                  "design_effect", "median_score", "sd_score", "impl_rate", "consistency", "mean_cost_usd",
                  "cost_of_pass", "cost_of_pass_total")
TOKEN_KEYS = ("input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "total_tokens")


@dataclass(frozen=True)
class Analysis:
    """summary.json and statistical_results.json (docs/numbers.md, "Statistics"): the only code that
    knows their key names."""
    summary: Mapping[str, Any]
    results: Mapping[str, Any]

    @property
    def tiers(self) -> list[str]:
        return list(self.summary.get("tier_order") or [])

    @property
    def settings(self) -> dict:
        return dict(self.summary.get("settings") or self.results.get("settings") or {})

    def cell(self, scope: str) -> dict:
        """"overall", a tier ("T0") or a subtest ("T0/00"): its numbers, every estimate normalised."""
        if scope == "overall":
            raw = self.summary.get("overall")
        else:
            raw = (self.summary.get("subtests" if "/" in scope else "tiers") or {}).get(scope)
        raw = raw if isinstance(raw, Mapping) else {}
        tokens, durations = raw.get("tokens") or {}, raw.get("durations") or {}
        return {
            "scope": scope, "runs": raw.get("runs"), "subtests": raw.get("subtests"), "passed": raw.get("passed"),
            **{k: estimate(raw.get(k)) for k in CELL_ESTIMATES},
            "total_cost_usd": _number(raw.get("total_cost_usd")),
            "total_judge_cost_usd": _number(raw.get("total_judge_cost_usd")),
            "tokens": {k: tokens.get(k) for k in TOKEN_KEYS},
            "agent_seconds": estimate(durations.get("agent_seconds")),
            "judge_seconds": estimate(durations.get("judge_seconds")),
            "total_seconds": _number(durations.get("total_seconds")),
            "pass_at_k": {k: estimate(v) for k, v in sorted((raw.get("pass_at_k") or {}).items(), key=_k)},
            "pass_hat_k": {k: estimate(v) for k, v in sorted((raw.get("pass_hat_k") or {}).items(), key=_k)},
            "grades": dict(raw.get("grades") or {}), "outcomes": dict(raw.get("outcomes") or {}),
        }

    def subtest_scopes(self) -> list[str]:
        return list(self.summary.get("subtests") or {})

    @property
    def frontier(self) -> dict:
        f = self.summary.get("frontier") or {}
        return {"tier": f.get("tier"), "reason": f.get("reason"), "cost_of_pass": estimate(f.get("cost_of_pass")),
                "pareto": list(f.get("pareto") or []), "left_out": dict(f.get("left_out") or {}),
                "probability": {t: _value(p) for t, p in (f.get("probability") or {}).items()}}

    @property
    def criteria(self) -> list[dict]:
        """Each criterion: its weight, and its mean (with interval) overall and per tier."""
        out = []
        for name, c in sorted((self.summary.get("criteria") or {}).items()):
            tiers = c.get("tiers") or {}
            out.append({"criterion": name, "weight": _number(c.get("weight")),
                        "overall": estimate((c.get("overall") or {}).get("mean")),
                        "tiers": [estimate((tiers.get(t) or {}).get("mean")) for t in self.tiers]})
        return out

    def _registry(self, family: str) -> dict[str, Mapping[str, Any]]:
        tests = ((self.results.get("registry") or {}).get(family) or {}).get("tests") or []
        return {t.get("name"): t for t in tests}

    @property
    def comparisons(self) -> dict:
        c = self.results.get("tier_comparisons") or {}
        adjusted = self._registry("tier pairs")
        omnibus = c.get("omnibus") or {}
        pairs = [{"name": p.get("name") or f"{p.get('a')} vs {p.get('b')}", "a": p.get("a"), "b": p.get("b"),
                  "test": hypothesis_test(p.get("mann_whitney"), adjusted.get(p.get("name"))),
                  "cliffs_delta": estimate(p.get("cliffs_delta")), "difference": estimate(p.get("difference")),
                  "pass_rate_difference": _number(p.get("pass_rate_difference"))} for p in c.get("pairs") or []]
        return {"omnibus": hypothesis_test(omnibus, next(iter(self._registry("omnibus").values()), None)),
                "pairs": pairs}

    @property
    def correlations(self) -> list[dict]:
        adjusted = self._registry("correlations")
        return [{"x": c.get("x"), "y": c.get("y"), "method": c.get("method"), **hypothesis_test(c, adjusted.get(c.get("name")))}
                for c in self.results.get("correlations") or []]

    @property
    def judges(self) -> dict:
        j = self.results.get("judges") or {}
        pipeline = j.get("pipeline") if isinstance(j.get("pipeline"), Mapping) else None
        return {
            "slots": list(j.get("slots") or []),
            "alpha": {level: estimate((j.get("alpha") or {}).get(level)) for level in ("interval", "ordinal", "nominal")},
            "pairs": [{"a": p.get("a"), "b": p.get("b"), "spearman": hypothesis_test(p.get("spearman")),
                       "pearson": hypothesis_test(p.get("pearson")), "mean_abs_difference": estimate(p.get("mean_abs_diff")),
                       "weighted_kappa": estimate(p.get("weighted_kappa"))} for p in j.get("pairs") or []],
            "leniency": [{"judge": x.get("judge"), **estimate(x)} for x in j.get("leniency") or []],
            "split_decision_rate": estimate(j.get("split_decision_rate")),
            "leave_one_out": {x.get("judge"): {"flips": x.get("flips"), "runs": x.get("runs"), "rate": estimate(x.get("rate"))}
                              for x in j.get("leave_one_out") or []},
            "pipeline": None if pipeline is None else {
                "slot": pipeline.get("pipeline"),
                "judges": [{"judge": x.get("judge"), "agreement": estimate(x.get("agreement")),
                            "mean_abs_difference": estimate(x.get("mean_abs_difference")),
                            "only_judge_passes": x.get("judge_passes_pipeline_fails"),
                            "only_pipeline_passes": x.get("judge_fails_pipeline_passes")}
                           for x in pipeline.get("judges") or []]},
        }

    @property
    def power(self) -> dict:
        p = self.results.get("power") or {}
        needed = p.get("runs_needed") or {}
        return {"comparisons": [{"comparison": c.get("comparison"), "n_a": c.get("n_a"), "n_b": c.get("n_b"),
                                 "baseline": _number(c.get("baseline")),
                                 "detectable": estimate(c.get("detectable_difference"))}
                                for c in p.get("comparisons") or []],
                "runs_needed": {"difference": _number(needed.get("difference")),
                                "baseline": _number(needed.get("baseline")), **estimate(needed)}}

    @property
    def registry(self) -> list[dict]:
        return [{"name": name, "correction": f.get("correction"), "alpha": _number(f.get("alpha")),
                 "tests": [hypothesis_test(t) for t in f.get("tests") or []]}
                for name, f in sorted((self.results.get("registry") or {}).items())]


def _k(item: tuple[str, Any]) -> int:
    return int(item[0]) if str(item[0]).isdigit() else 0


def load_analysis() -> Analysis:
    return Analysis(durable.read_json_object(summary.SUMMARY), durable.read_json_object(summary.STATISTICAL_RESULTS))


# ---------------------------------------------------------------- the index's view of the numbers

def best_tiers(a: Analysis) -> list[str]:
    """The tiers with the highest mean score over all their runs (several when tied; none when unknown)."""
    scores = {t: s for t in a.tiers if (s := a.cell(t)["mean_score"]["value"]) is not None}
    top = max(scores.values(), default=None)
    return [t for t, s in scores.items() if s == top]


def read_csv(path: str) -> list[dict[str, str]]:
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _flag(name: str, help_text: str, rows: Sequence[Mapping[str, str]], count: int | None = None) -> dict:
    runs = [{"id": f"{r['tier']}/{r['subtest']}/{tree.run_name(int(r['run']))}",
             "href": f"{r['tier']}/{r['subtest']}/{tree.run_name(int(r['run']))}.html"} for r in rows]
    return {"id": _slug(name), "name": name, "help": help_text, "count": len(rows) if count is None else count,
            "runs": runs[:LIST_LIMIT], "more": max(0, len(runs) - LIST_LIMIT), "cells": []}


def _slug(name: str) -> str:
    return "flag-" + re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _cells_flag(name: str, help_text: str, cells: list[str]) -> dict:
    return {"id": _slug(name), "name": name, "help": help_text, "count": len(cells), "runs": [], "more": 0, "cells": cells}


def data_quality(a: Analysis, runs: Sequence[Mapping[str, str]]) -> list[dict]:
    """The data-quality flags: each a count and the runs (links) it concerns."""
    invalid = [r for r in runs if _int(r["valid_judges"]) < _int(r["judges"])]
    by_outcome = {o: [r for r in runs if r["outcome"] == o] for o in frames.OUTCOMES}
    small = [s for s in a.subtest_scopes() if (a.cell(s)["runs"] or 0) < 2]
    best = best_tiers(a)
    probability = a.frontier["probability"]
    return [
        _flag("invalid judgments", "judgments excluded from the consensus (unparseable or failed replies)", invalid,
              sum(_int(r["judges"]) - _int(r["valid_judges"]) for r in invalid)),
        _flag("runs with no valid judgment", "outcome “judge invalid”: the run has no score", by_outcome["judge invalid"]),
        _flag("split decisions", "valid judges disagree on pass/fail", [r for r in runs if r["split_decision"] == "true"]),
        _flag("agent errors", "the agent exited non-zero or did not complete", by_outcome["agent error"]),
        _flag("infrastructure failures", "an API error ended the run", by_outcome["infrastructure"]),
        _flag("empty diffs", "the agent changed nothing", [r for r in runs if r["empty_diff"] == "true"]),
        _flag("unknown agent cost", "the agent recorded no cost: cost sums leave it out", [r for r in runs if not r["cost_usd"]]),
        _flag("unknown judge cost", "a judge recorded no cost", [r for r in runs if not r["judge_cost_usd"]]),
        _cells_flag("cells with n < 2", "subtests with fewer than 2 runs: no consistency or spread", small),
        _cells_flag("ties for best tier", "tiers sharing the highest mean score", best if len(best) > 1 else []),
        _cells_flag("uncertain frontier", "tiers whose bootstrap probability of being on the Pareto set is between "
                    "5 % and 95 %", [t for t, p in probability.items() if isinstance(p, int | float) and 0.05 < p < 0.95]),
    ]


def _int(text: str) -> int:
    return int(text) if text else 0


def methods(config: Mapping[str, Any], rubric: Any, a: Analysis) -> dict:
    """What the methods appendix says, from the experiment's configuration and the analysis' settings."""
    rubric = rubric if isinstance(rubric, Mapping) else {}
    grading = rubric.get("grading") or {}
    categories = rubric.get("categories") if isinstance(rubric.get("categories"), Mapping) else {}
    return {"config": config, "settings": a.settings,
            "categories": [{"name": n, "weight": (c or {}).get("weight"), "item_count": len((c or {}).get("items") or [])}
                           for n, c in categories.items()],
            "pass_threshold": grading.get("pass_threshold"),
            "grade_scale": dict(grading.get("grade_scale") or {})}


# ---------------------------------------------------------------- charts

TIER_COLOURS = ("#4c78a8", "#f58518", "#54a24b", "#e45756", "#72b7b2", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
                "#bab0ac")


def bounded(e: Mapping[str, Any]) -> bool:
    return e["ci_low"] is not None and e["ci_high"] is not None


def preferred(cell: Mapping[str, Any], field: str, fallback: str | None) -> dict:
    """`field` (e.g. the clustered mean), or `fallback` (the i.i.d. one) when `field` has no interval and it has."""
    e = cell[field]
    return cell[fallback] if fallback and not bounded(e) and (e["value"] is None or bounded(cell[fallback])) else e


def _ci_rows(a: Analysis, field: str, fallback: str | None = None) -> list[dict]:
    rows = []
    for t in a.tiers:
        e = preferred(a.cell(t), field, fallback)
        if e["value"] is not None:
            rows.append({"tier": t, "value": e["value"], "ci_low": e["ci_low"], "ci_high": e["ci_high"], "n": e["n"]})
    return rows


def ci_chart(title: str, y_title: str, rows: list[dict], tiers: Sequence[str], fmt: str = ".3f") -> dict:
    """A point per tier with its confidence interval as a rule (rows without both bounds: the point only);
    colours fixed by the tiers' order."""
    load("altair")
    import altair as alt
    colour = alt.Color("tier:N", scale=alt.Scale(domain=list(tiers), range=list(TIER_COLOURS)), legend=None)
    x = alt.X("tier:N", sort=list(tiers), title="tier")
    tooltip = [alt.Tooltip("tier:N"), alt.Tooltip("value:Q", format=fmt), alt.Tooltip("ci_low:Q", format=fmt),
               alt.Tooltip("ci_high:Q", format=fmt), alt.Tooltip("n:Q")]
    base = alt.Chart(alt.Data(values=rows))
    rule = base.transform_filter("isValid(datum.ci_low) && isValid(datum.ci_high)").mark_rule(strokeWidth=2).encode(
        x=x, y=alt.Y("ci_low:Q", title=y_title), y2="ci_high:Q", color=colour)
    point = base.mark_point(filled=True, size=90).encode(x=x, y=alt.Y("value:Q", title=y_title), color=colour,
                                                           tooltip=tooltip)
    chart = (alt.layer(rule, point) if any(bounded(r) for r in rows) else alt.layer(point)).properties(title=title, width=alt.Step(60),
                                                                                 height=220)
    return chart.to_dict(validate=True)


def charts(a: Analysis) -> list[dict]:
    """The index's own charts, from summary.json: each {"id", "title", "spec"}; a chart with no value to
    show is left out."""
    level = f"{100 * float(a.settings.get('confidence', 0.95)):g} %"
    specs = [("score", f"Mean score by tier ({level} CI, clustered by subtest where known)", "mean score",
              _ci_rows(a, "mean_score_clustered", "mean_score"), ".3f"),
             ("pass-rate", f"Pass rate by tier (Wilson {level} CI)", "pass rate", _ci_rows(a, "pass_rate"), ".3f"),
             ("cost-of-pass", f"Cost of pass, agent + judges ({level} bootstrap CI)", "USD per pass",
              _ci_rows(a, "cost_of_pass_total"), "$.4f"),
             ("cost-of-pass-agent", f"Cost of pass, agent only ({level} bootstrap CI)", "USD per pass",
              _ci_rows(a, "cost_of_pass"), "$.4f")]
    return [{"id": f"chart-{name}", "title": title, "spec": ci_chart(title, y, rows, a.tiers, fmt)}
            for name, title, y, rows, fmt in specs if rows]


def figure_charts(paths: Iterable[str]) -> list[dict]:
    """The figures' Vega-Lite specs (figure_specs), embedded as they are."""
    return [{"id": "figure-" + Path(p).name.removesuffix(".vl.json"), "title": Path(p).name.removesuffix(".vl.json"),
             "spec": durable.read_json_object(p)} for p in paths]


# ---------------------------------------------------------------- rendering

def _fmt_usd(x: Any, digits: int = 4) -> str:
    return "unknown" if x is None else f"${x:.{digits}f}"


def _fmt_pct(x: Any) -> str:
    return "—" if x is None else f"{100 * x:.1f} %"


def _fmt_seconds(x: Any) -> str:
    return "unknown" if x is None else f"{x:.{2 if x < 10 else 1}f} s"


def _fmt_p(x: Any) -> str:
    return "—" if x is None else "< 0.0001" if x < 1e-4 else f"{x:.4f}"


def _fmt_int(x: Any) -> str:
    return "unknown" if x is None else f"{x:,}"


FORMATS: dict[str, Callable[[Any], str]] = {"num": reports.num, "num2": lambda x: reports.num(x, 2), "usd": _fmt_usd, "pct": _fmt_pct, "p": _fmt_p,
           "int": _fmt_int, "seconds": _fmt_seconds}


def fmt(x: Any, kind: str = "num") -> str:
    """A number as the pages show it (`kind`: FORMATS); None is "—" or "unknown", never 0."""
    return FORMATS[kind](x)


def script_json(obj: Any) -> str:
    """JSON inside a <script> element: `</` escaped so no value can close the element."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, allow_nan=False).replace("</", "<\\/")


@cache
def _env():
    load("jinja2")
    import jinja2
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(fmt=fmt, script_json=script_json)
    env.globals.update(preferred=preferred)
    return env


def render(template: str, **context: Any) -> str:
    return _env().get_template(template).render(**context)


BUNDLE_SNIPPET = "window.vegaEmbed = vegaEmbed; window.vega = vega; window.vegaLite = vegaLite;"   # (its default)


@cache
def vega_bundle() -> str:
    """Vega, Vega-Lite and Vega-Embed in one script (vl-convert's bundle, ~0.9 MB), inlined once in the index;
    its Vega-Lite is the version altair writes specs for."""
    load("altair", "vl_convert")
    import altair as alt
    import vl_convert
    version = ".".join(alt.SCHEMA_VERSION.split(".")[:2])           # "v6.4.1" -> "v6.4"
    known = {f"v{v}" for v in vl_convert.get_vegalite_versions()}
    bundle = vl_convert.javascript_bundle(BUNDLE_SNIPPET, vl_version=version if version in known else None)
    if "</script" in bundle.lower():        # (it would end the inline <script> early)
        raise RuntimeError("vl_convert.javascript_bundle() contains '</script': it cannot be inlined")
    return bundle


def downloads() -> list[dict]:
    """The analysis' files the index links to (relative): the frames, the statistics, every table's formats."""
    base = posixpath.dirname(INDEX)
    groups = [("data frames (CSV)", frames.paths(frames.DATA_DIR)), ("statistics (JSON)", list(summary.OUTPUTS))]
    groups += [(f"table: {name}", tables.targets(name)) for name in tables.of_experiment()]
    return [{"name": name, "files": [{"label": posixpath.basename(p), "href": link(base, p)} for p in paths]}
            for name, paths in groups]


def index_html(exp_id: str, a: Analysis, runs: Sequence[Mapping[str, str]], config: Mapping[str, Any], rubric: Any, figures: Sequence[dict] = ()) -> str:
    all_charts = charts(a) + list(figures)
    subtests: dict[str, list[dict]] = {t: [] for t in a.tiers}
    for scope in a.subtest_scopes():
        subtests.setdefault(scope.split("/")[0], []).append(a.cell(scope))
    return render("index.html.j2", title=f"Scylla report: {exp_id}", experiment=exp_id, a=a,
                  overall=a.cell("overall"), tiers=[a.cell(t) for t in a.tiers], subtests=subtests,
                  best=best_tiers(a), frontier=a.frontier, comparisons=a.comparisons, correlations=a.correlations,
                  judges=a.judges, power=a.power, registry=a.registry, quality=data_quality(a, runs),
                  criteria=a.criteria, methods=methods(config, rubric, a), charts=all_charts,
                  downloads=downloads(), bundle=vega_bundle() if all_charts else "", root="")


def build_index(exp: Experiment) -> None:
    """analysis:report: analysis/report/index.html from index_inputs."""
    html = index_html(exp.id, load_analysis(), read_csv(frames.runs_csv(frames.DATA_DIR)),
                      durable.read_json_object(tree.EXPERIMENT_JSON),
                      load_yaml(Path(tree.RUBRIC).read_text(encoding="utf-8")), figure_charts(figure_specs(exp)))
    durable.write_text(INDEX, html)


# ---------------------------------------------------------------- a subtest's pages

def link(from_dir: str, target: str) -> str:
    """A relative link from a page in `from_dir` to `target` (both relative to the experiment root)."""
    return posixpath.relpath(target, from_dir)


def _check(item: str, v: Mapping[str, Any]) -> dict:
    """A rubric item as a judge scored it: Scylla's (status, score, points, evidence) or ProjectScylla's
    (achieved, max, reason)."""
    return {"id": item, "status": v.get("status"), "score": _number(v.get("score", v.get("achieved"))),
            "points": _number(v.get("points", v.get("max"))), "evidence": v.get("evidence", v.get("reason"))}


def _judge_view(slot, j: Mapping[str, Any], timing: Mapping[str, Any], run: RunPaths, page_dir: str) -> dict:
    raw = j.get("criteria_scores")
    criteria: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    rows = []
    for name in sorted(criteria):
        c = criteria[name] if isinstance(criteria[name], Mapping) else {"score": criteria[name]}
        items: Mapping[str, Any] = c["items"] if isinstance(c.get("items"), Mapping) else {}
        rows.append({"name": name, "score": _number(c.get("score")), "achieved": _number(c.get("achieved")),
                     "max": _number(c.get("max", c.get("applicable"))), "explanation": c.get("explanation"),
                     "checks": [_check(k, v) for k, v in sorted(items.items()) if isinstance(v, Mapping)]})
    files = [(label, run.judge(slot.number, name)) for label, name in (("reply", "response.txt"),
                                                                        ("stdout", "stdout.log"), ("call", tree.JUDGE_CALL))]
    return {"slot": slot.name, "adapter": j.get("adapter", slot.adapter), "model": j.get("model", slot.model),
            "kind": j.get("judge_kind"), "score": _number(j.get("score")), "grade": j.get("grade"),
            "passed": j.get("passed"), "valid": j.get("is_valid", j.get("score") is not None),
            "cost_usd": _number(j.get("cost_usd")), "seconds": _number(timing.get("judge_duration_seconds")),
            "error": timing.get("error"), "reasoning": j.get("reasoning") or "", "criteria": rows,
            "files": [{"label": label, "href": link(page_dir, p)} for label, p in files]}


def _diffstat(patch: bytes) -> dict:
    lines = patch.decode("utf-8", "replace").splitlines()
    return {"bytes": len(patch), "files": sum(1 for ln in lines if ln.startswith("diff --git ")),
            "added": sum(1 for ln in lines if ln.startswith("+") and not ln.startswith("+++")),
            "removed": sum(1 for ln in lines if ln.startswith("-") and not ln.startswith("---"))}


def run_view(exp: Experiment, run: RunPaths) -> dict:
    """Everything a run's page shows, from its files (subtest_inputs)."""
    page_dir = run.subtest_paths.html_dir
    r = records.read(run.run_result, records.RunResult)
    agent = records.read(run.agent_result, records.AgentResult)
    pipeline = records.read(run.pipeline, records.PipelineResult)
    judges = [_judge_view(slot, records.read(run.judge(slot.number, "judgment.json"), records.JudgmentFile),
                          records.read(run.judge(slot.number, "timing.json"), records.JudgeTiming), run, page_dir)
              for slot in exp.judges]
    steps = [{"name": name, **{k: s.get(k) for k in ("status", "exit_code", "reason", "command")},
              "log": link(page_dir, f"{run.commands_dir}/{name}.log")}
             for name, s in (pipeline.get("steps") or {}).items()]
    files = [{"label": label, "href": link(page_dir, f"{run.dir}/{rel}")} for label, rel in RUN_FILES]
    return {"id": run.id, "number": run.number, "name": tree.run_name(run.number), "r": r, "agent": agent,
            "tokens": r.get("token_stats") or {}, "judges": judges, "steps": steps,
            "tests": pipeline.get("tests"), "pipeline_note": pipeline.get("note"), "files": files,
            "diff": _diffstat(Path(run.agent("patch.diff")).read_bytes()),
            "valid_judges": sum(1 for j in judges if j["valid"]),
            "pass_votes": sum(1 for j in judges if j["valid"] and j["passed"] is True)}


def build_subtest(exp: Experiment, sp: SubtestPaths) -> None:
    """analysis:report/T0/00: the subtest's page and its runs' pages."""
    s = next(x for x in exp.subtests[sp.tier] if x.id == sp.subtest)
    totals = records.read(sp.result, records.SubtestSummary)
    runs = [run_view(exp, sp.run(n)) for n in range(1, exp.runs + 1)]
    out = sp.html_dir
    context = {"experiment": exp.id, "tier": sp.tier, "subtest": sp.subtest, "name": s.name,
               "description": s.description, "s": totals, "runs": runs, "judge_slots": [j.name for j in exp.judges]}
    durable.write_text(f"{out}/index.html", render("subtest.html.j2", title=f"{sp.dir} · {exp.id}", root="../../",
                                                    **context))
    for i, run in enumerate(runs):
        nav = {"prev": runs[i - 1]["name"] if i else None, "next": runs[i + 1]["name"] if i + 1 < len(runs) else None}
        durable.write_text(sp.run(run["number"]).html_page,
                           render("run.html.j2", title=f"{run['id']} · {exp.id}", root="../../", run=run, nav=nav,
                                  **context))

