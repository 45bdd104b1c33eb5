"""The analysis tables: each a doit task reading the statistics (analysis/summary.json,
analysis/statistical_results.json; the configuration table also config/experiment.json) and writing
analysis/tables/<name>.md, .tex (booktabs) and .csv.

A table is built once, as columns of typed cells (`Table`), and rendered three ways: markdown and LaTeX
show an estimate as `value [low, high]` at the report's precision and a value that cannot be computed as
"—" with its reason in a note below; CSV keeps the numbers as they are (an estimate is three columns:
value, ci_low, ci_high) and the reasons in a `note` column, for other tools.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import durable, tree
from . import summary

TABLES_DIR = "analysis/tables"
FORMATS = ("md", "tex", "csv")
DASH = "—"


@dataclass(frozen=True)
class Column:
    title: str
    kind: str = "text"        # text | int | score | usd | p | rate | bool | estimate:<kind>


@dataclass
class Table:
    name: str
    caption: str
    columns: list[Column]
    rows: list[list[Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- formatting

def _number(value: Any, kind: str) -> str:
    if value is None:
        return DASH
    if kind == "int":
        return f"{int(value):,}"
    if kind == "usd":
        return f"${value:,.4f}"
    if kind == "p":
        return "< 0.001" if value < 0.001 else f"{value:.3f}"
    if kind == "rate":
        return f"{value:.1%}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _text(cell: Any, column: Column) -> str:
    """A cell as markdown/LaTeX show it."""
    if column.kind.startswith("estimate:"):
        kind = column.kind.split(":", 1)[1]
        if cell is None or cell.get("value") is None:
            return DASH
        value = _number(cell["value"], kind)
        if cell.get("ci_low") is None and cell.get("ci_high") is None:
            return value
        return f"{value} [{_number(cell.get('ci_low'), kind)}, {_number(cell.get('ci_high'), kind)}]"
    if column.kind == "bool":
        return DASH if cell is None else ("yes" if cell else "no")
    if column.kind == "text":
        return DASH if cell is None else str(cell)
    return _number(cell, column.kind)


def _reasons(table: Table) -> list[str]:
    """A note per cell that cannot be computed (or has no interval) and says why, in table order."""
    notes = list(table.notes)
    for row in table.rows:
        for column, cell in zip(table.columns, row):
            if isinstance(cell, Mapping) and cell.get("reason"):
                note = f"{row[0]} · {column.title}: {cell['reason']}"
                if note not in notes:
                    notes.append(note)
    return notes


def markdown(table: Table) -> str:
    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"
    align = ["---" if c.kind == "text" else "---:" for c in table.columns]
    out = [f"**{table.caption}**", "", line([c.title for c in table.columns]), "|" + "|".join(align) + "|"]
    out += [line([_text(cell, c) for cell, c in zip(row, table.columns)]) for row in table.rows]
    if not table.rows:
        out.append(line(["(no rows)"] + [""] * (len(table.columns) - 1)))
    notes = _reasons(table)
    return "\n".join(out + ([""] + [f"- {n}" for n in notes] if notes else [])) + "\n"


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
          "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
          ">": r"\textgreater{}", "—": "---", "·": r"$\cdot$", "δ": r"$\delta$", "α": r"$\alpha$",
          "ρ": r"$\rho$", "κ": r"$\kappa$", "Δ": r"$\Delta$", "≥": r"$\geq$", "→": r"$\to$", "–": "--"}


def _tex(text: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in text)


def latex(table: Table) -> str:
    spec = "".join("l" if c.kind == "text" else "r" for c in table.columns)
    out = [r"\begin{table}[htbp]", r"\centering", rf"\caption{{{_tex(table.caption)}}}",
           rf"\label{{tab:{table.name}}}", rf"\begin{{tabular}}{{{spec}}}", r"\toprule",
           " & ".join(_tex(c.title) for c in table.columns) + r" \\", r"\midrule"]
    out += [" & ".join(_tex(_text(cell, c)) for cell, c in zip(row, table.columns)) + r" \\" for row in table.rows]
    out += [r"\bottomrule", r"\end{tabular}"]
    notes = _reasons(table)
    if notes:
        out += [r"\par\footnotesize"] + [_tex(n) + r"\\" for n in notes]
    return "\n".join(out + [r"\end{table}"]) + "\n"


def to_csv(table: Table) -> str:
    header: list[str] = []
    for c in table.columns:
        header += [c.title, f"{c.title} ci_low", f"{c.title} ci_high"] if c.kind.startswith("estimate:") else [c.title]
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header + ["note"])
    for row in table.rows:
        cells: list[Any] = []
        reasons = []
        for cell, c in zip(row, table.columns):
            if c.kind.startswith("estimate:"):
                cell = cell or {}
                cells += [cell.get("value"), cell.get("ci_low"), cell.get("ci_high")]
                if cell.get("reason"):
                    reasons.append(f"{c.title}: {cell['reason']}")
            else:
                cells.append(cell)
        writer.writerow(["" if v is None else ("true" if v is True else "false" if v is False else v)
                         for v in cells] + ["; ".join(reasons)])
    return buf.getvalue()


# ---------------------------------------------------------------- the tables

def _cell_columns() -> list[Column]:
    return [Column("runs", "int"), Column("pass rate", "estimate:rate"), Column("mean score", "estimate:score")]


def tier_summary(s: Mapping, r: Mapping) -> Table:
    t = Table("tier_summary", "Tiers: pass rate (Wilson 95 % CI), scores and cost of pass (bootstrap 95 % CI)",
              [Column("tier"), Column("subtests", "int"), *_cell_columns(), Column("median score", "estimate:score"),
               Column("SD", "estimate:score"), Column("impl rate", "estimate:score"),
               Column("cost of pass", "estimate:usd"), Column("P(frontier)", "estimate:rate")])
    for tier in s["tier_order"]:
        c = s["tiers"][tier]
        t.rows.append([tier, c["subtests"], c["runs"], c["pass_rate"], c["mean_score"], c["median_score"],
                       c["sd_score"], c["impl_rate"], c["cost_of_pass"], s["frontier"]["probability"].get(tier)])
    return t


def summary_statistics(s: Mapping, r: Mapping) -> Table:
    t = Table("summary_statistics", "Runs nested in subtests: i.i.d. and cluster-bootstrap CIs of the mean score, "
              "clustered SE, ICC and design effect",
              [Column("scope"), Column("runs", "int"), Column("subtests", "int"),
               Column("mean score", "estimate:score"), Column("mean score (clustered)", "estimate:score"),
               Column("pass rate (clustered)", "estimate:rate"), Column("clustered SE", "estimate:score"),
               Column("ICC", "estimate:score"), Column("design effect", "estimate:score")])
    for scope, c in [("all", s["overall"]), *((tier, s["tiers"][tier]) for tier in s["tier_order"])]:
        t.rows.append([scope, c["runs"], c["subtests"], c["mean_score"], c["mean_score_clustered"],
                       c["pass_rate_clustered"], c["cluster_se"], c["icc"], c["design_effect"]])
    return t


def tier_comparison(s: Mapping, r: Mapping) -> Table:
    tests = {x["name"]: x for x in r["registry"]["tier pairs"]["tests"]}
    family = r["registry"]["tier pairs"]
    t = Table("tier_comparison", f"Tier comparisons on scores: two-sided Mann–Whitney U, p adjusted by "
              f"{family['correction'].upper() if family['correction'] == 'bh' else 'Holm'} over the family; "
              "Cliff's δ and the mean difference (b − a) with bootstrap 95 % CIs",
              [Column("comparison"), Column("n", "int"), Column("U", "score"), Column("p", "p"),
               Column("p adjusted", "p"), Column("significant", "bool"), Column("Cliff's δ", "estimate:score"),
               Column("Δ mean score", "estimate:score"), Column("Δ pass rate", "score")])
    omnibus = r["tier_comparisons"]["omnibus"]
    t.notes.append(f"Kruskal–Wallis over tiers: H = {_number(omnibus['statistic'], 'score')}, "
                   f"p = {_number(omnibus['p'], 'p')}" + (f" ({omnibus['reason']})" if omnibus["reason"] else ""))
    for p in r["tier_comparisons"]["pairs"]:
        mw, listed = p["mann_whitney"], tests.get(p["name"], {})
        t.rows.append([p["name"], mw["n"], mw["statistic"], mw["p"], listed.get("p_adjusted"), listed.get("reject"),
                       p["cliffs_delta"], p["difference"], p["pass_rate_difference"]])
        if mw["reason"]:
            t.notes.append(f"{p['name']} · Mann–Whitney: {mw['reason']}")
    return t


def judge_agreement(s: Mapping, r: Mapping) -> Table:
    j = r["judges"]
    t = Table("judge_agreement", "Judge panel agreement (bootstrap / Wilson 95 % CIs)",
              [Column("measure"), Column("value", "estimate:score")])
    for level in ("interval", "ordinal", "nominal"):
        t.rows.append([f"Krippendorff α ({level})", j["alpha"][level]])
    t.rows.append(["split-decision rate", j["split_decision_rate"]])
    for p in j["pairs"]:
        t.rows.append([f"{p['a']} · {p['b']} Spearman ρ", {**p["spearman"], "value": p["spearman"]["statistic"]}])
        t.rows.append([f"{p['a']} · {p['b']} mean |Δ score|", p["mean_abs_diff"]])
        t.rows.append([f"{p['a']} · {p['b']} weighted κ (grades)", p["weighted_kappa"]])
    return t


def judges(s: Mapping, r: Mapping) -> Table:
    j = r["judges"]
    pipeline = {x["judge"]: x for x in (j["pipeline"] or {}).get("judges", [])}
    loo = {x["judge"]: x for x in j["leave_one_out"]}
    t = Table("judges", "Each judge: leniency (its score − the others' mean), verdicts flipped when it is left "
              "out, and agreement with the pipeline judge",
              [Column("judge"), Column("leniency", "estimate:score"), Column("flips", "int"), Column("of runs", "int"),
               Column("agreement with pipeline", "estimate:rate")])
    for row in j["leniency"]:
        name = row["judge"]
        t.rows.append([name, row, loo[name]["flips"], loo[name]["runs"], (pipeline.get(name) or {}).get("agreement")])
    if j["pipeline"]:
        t.notes.append(f"pipeline judge: {j['pipeline']['pipeline']}")
    return t


def criteria(s: Mapping, r: Mapping) -> Table:
    tiers = s["tier_order"]
    t = Table("criteria", "Criteria: mean score over valid judgments (bootstrap 95 % CI) and SD, overall and by tier",
              [Column("criterion"), Column("weight", "score"), Column("mean", "estimate:score"), Column("SD", "estimate:score"),
               *(Column(tier, "estimate:score") for tier in tiers)])
    for name, c in s["criteria"].items():
        t.rows.append([name, c["weight"], c["overall"]["mean"], c["overall"]["sd"],
                       *((c["tiers"].get(tier) or {}).get("mean") for tier in tiers)])
    return t


def cost(s: Mapping, r: Mapping) -> Table:
    f = s["frontier"]
    t = Table("cost", "Cost: agents' and judges' spend, cost per run and cost of pass (bootstrap 95 % CIs), the Pareto "
              "set of (cost per run, mean score)",
              [Column("tier"), Column("agent cost", "usd"), Column("judge cost", "usd"),
               Column("cost per run", "estimate:usd"), Column("cost of pass", "estimate:usd"),
               Column("cost of pass (agent + judges)", "estimate:usd"), Column("tokens", "int"), Column("Pareto", "bool")])
    for tier in s["tier_order"]:
        c = s["tiers"][tier]
        t.rows.append([tier, c["total_cost_usd"], c["total_judge_cost_usd"], c["mean_cost_usd"], c["cost_of_pass"],
                       c["cost_of_pass_total"], c["tokens"]["total_tokens"],
                       tier in f["pareto"] if tier not in f["left_out"] else None])
    t.notes.append(f"frontier (lowest cost of pass): {f['tier'] or DASH}")
    return t


def subtest_detail(s: Mapping, r: Mapping) -> Table:
    t = Table("subtest_detail", "Subtests: pass rate (Wilson 95 % CI), mean score (bootstrap 95 % CI), consistency "
              "(1 − SD/mean) and cost of pass",
              [Column("subtest"), *_cell_columns(), Column("consistency", "estimate:score"),
               Column("mean cost", "estimate:usd"), Column("cost of pass", "estimate:usd")])
    for key, c in s["subtests"].items():
        t.rows.append([key, c["runs"], c["pass_rate"], c["mean_score"], c["consistency"], c["mean_cost_usd"],
                       c["cost_of_pass"]])
    return t


def registry(s: Mapping, r: Mapping) -> Table:
    t = Table("registry", f"Every p-value of the analysis, by family, each family corrected on its own "
              f"(α = {r['settings']['alpha']})",
              [Column("family"), Column("test"), Column("n", "int"), Column("statistic", "score"), Column("p", "p"),
               Column("p adjusted", "p"), Column("significant", "bool"), Column("correction"), Column("note")])
    for family, f in r["registry"].items():
        for x in f["tests"]:
            t.rows.append([family, x["name"], x["n"], x["statistic"], x["p"], x["p_adjusted"], x["reject"],
                           f["correction"], x["reason"]])
    return t


def power(s: Mapping, r: Mapping) -> Table:
    p = r["power"]
    t = Table("power", "Prospective power: the smallest pass-rate difference each comparison detects (two-sided, "
              f"α = {r['settings']['alpha']}, power 0.8) at its n",
              [Column("comparison"), Column("n a", "int"), Column("n b", "int"), Column("baseline", "rate"),
               Column("detectable difference", "estimate:rate")])
    for c in p["comparisons"]:
        t.rows.append([c["comparison"], c["n_a"], c["n_b"], c["baseline"], c["detectable_difference"]])
    needed = p["runs_needed"]
    t.notes.append(f"runs per tier needed to detect a difference of {needed['difference']:.0%} from "
                   f"{needed['baseline']:.0%}: " + (_number(needed["value"], "int") if needed["value"] is not None
                                                     else f"{DASH} ({needed['reason']})"))
    return t


def configuration(s: Mapping, r: Mapping, config: Mapping) -> Table:
    t = Table("configuration", "Experiment configuration", [Column("setting"), Column("value")])
    judges_ = ", ".join(f"{j.get('adapter')} ({j.get('model')})" for j in config.get("judges", []))
    agent = config.get("agent", {})
    settings = s["settings"]
    rows = [("experiment", config.get("experiment_id")), ("task", (config.get("task") or {}).get("id")),
            ("agent", f"{agent.get('adapter')} ({agent.get('model')})"), ("judges", judges_),
            ("tiers", ", ".join(config.get("tiers_to_run", []))),
            ("subtests", str(sum(len(v) for v in (config.get("subtests") or {}).values()))),
            ("runs per subtest", str(config.get("runs_per_subtest"))), ("thinking", config.get("thinking")),
            ("max turns", str(config.get("max_turns"))),
            ("bootstrap", (f"{settings['method']}, {settings['resamples']:,} resamples, seed {settings['seed']}, "
                           f"{settings['confidence']:.0%} intervals")),
            ("multiple testing", f"{settings['correction']} per family at α = {settings['alpha']}"
             + "".join(f"; {k}: {v}" for k, v in settings["families"].items()))]
    t.rows = [[k, v] for k, v in rows]
    return t


def tasks(s: Mapping, r: Mapping) -> Table:
    v = r["tasks"]
    t = Table("tasks", "Tiers by task: mean score (bootstrap 95 % CI) and the tier's rank within the task "
              "(1 = highest)", [Column("task"), *(Column(tier, "estimate:score") for tier in v["tiers"]),
                                Column("best")])
    for task in v["tasks"]:
        ranks = v["ranks"][task]
        best = [tier for tier, rank in ranks.items() if rank == min(ranks.values())] if ranks else []
        t.rows.append([task, *((v["cells"][task].get(tier) or {}).get("mean_score") for tier in v["tiers"]),
                       ", ".join(best) or None])
    f = v["friedman"]
    t.notes.append(f"Friedman over {len(v['complete_tasks'])} tasks: χ² = {_number(f['statistic'], 'score')}, "
                   f"p = {_number(f['p'], 'p')}, Kendall's W = {_number(v['kendall_w']['value'], 'score')}"
                   + (f" ({f['reason']})" if f["reason"] else ""))
    t.notes.append("mean rank: " + ", ".join(f"{tier} {_number(rank, 'score')}" for tier, rank in v["mean_rank"].items())
                   + "; wins: " + ", ".join(f"{tier} {wins:g}" for tier, wins in v["wins"].items()))
    t.notes += [f"{task} left out of the Friedman test: {why}" for task, why in v["left_out"].items()]
    return t


def experiments(s: Mapping, r: Mapping) -> Table:
    t = Table("experiments", "Experiments (a comparison: agents) over all their runs: pass rate (Wilson 95 % CI), "
              "mean score, cost per run and cost of pass (bootstrap 95 % CI)",
              [Column("experiment"), Column("subtests", "int"), *_cell_columns(),
               Column("mean score (clustered)", "estimate:score"), Column("agent cost per run", "estimate:usd"),
               Column("cost of pass", "estimate:usd"), Column("cost of pass incl. judges", "estimate:usd")])
    for name, c in s["by_experiment"].items():
        t.rows.append([name, c["subtests"], c["runs"], c["pass_rate"], c["mean_score"], c["mean_score_clustered"],
                       c["mean_cost_usd"], c["cost_of_pass"], c["cost_of_pass_total"]])
    return t


def paired(s: Mapping, r: Mapping) -> Table:
    v = r["paired"]
    a, b = v["baseline"], v["candidate"]
    t = Table("paired", f"{b} against {a} on the cells both ran: pass rate and mean score, and the change",
              [Column("cell"), Column(f"runs {a}", "int"), Column(f"runs {b}", "int"), Column(f"pass rate {a}", "rate"),
               Column(f"pass rate {b}", "rate"), Column(f"mean score {a}", "score"), Column(f"mean score {b}", "score"),
               Column("Δ score", "score"), Column("change")])
    for c in v["cells"]:
        t.rows.append([f"{c['tier']}/{c['subtest']}", *c["runs"], *c["pass_rate"], *c["mean_score"],
                       c["score_difference"], c["change"]])
    w, m = v["wilcoxon"], v["mcnemar"]
    d, pr = v["score_difference"], v["pass_rate_difference"]
    t.notes += [f"improved {v['improved']}, regressed {v['regressed']}, unchanged {v['unchanged']} (by pass rate)",
                (f"Δ mean score {_text(d, Column('', 'estimate:score'))}, Δ pass rate "
                 f"{_text(pr, Column('', 'estimate:rate'))} (paired bootstrap over cells)"),
                f"Wilcoxon signed-rank: p = {_number(w['p'], 'p')}" + (f" ({w['reason']})" if w["reason"] else ""),
                f"McNemar on {m['pairs']} runs paired by number: p = {_number(m['p'], 'p')}"
                + (f" ({m['reason']})" if m["reason"] else "")]
    t.notes += [f"only in {e}: {', '.join(cells)}" for e, cells in v["only_in"].items() if cells]
    return t


TABLES: dict[str, Callable[..., Table]] = {
    "tier_summary": tier_summary, "tier_comparison": tier_comparison, "judge_agreement": judge_agreement,
    "judges": judges, "criteria": criteria, "cost": cost, "subtest_detail": subtest_detail,
    "summary_statistics": summary_statistics, "configuration": configuration, "registry": registry, "power": power,
    "experiments": experiments, "tasks": tasks, "paired": paired,
}
ACROSS = ("experiments", "tasks", "paired")          # a study's only


def of_experiment() -> list[str]:
    return [name for name in TABLES if name not in ACROSS]


def of_study(compared: bool) -> list[str]:
    """A study has no configuration of its own (each experiment's is in its tree)."""
    return [name for name in TABLES if name != "configuration" and (compared or name != "paired")]


def inputs(name: str) -> list[str]:
    """What table `name` reads (its file_dep)."""
    extra = [tree.EXPERIMENT_JSON] if name == "configuration" else []
    return [*summary.OUTPUTS, *extra]


def targets(name: str) -> list[str]:
    return [f"{TABLES_DIR}/{name}.{ext}" for ext in FORMATS]


def build(name: str) -> None:
    """The task action: table `name` in markdown, LaTeX and CSV."""
    s, r = (durable.read_json_object(Path(p)) for p in summary.OUTPUTS)
    args = [s, r] + ([durable.read_json_object(Path(tree.EXPERIMENT_JSON))] if name == "configuration" else [])
    table = TABLES[name](*args)
    for path, text in zip(targets(name), (markdown(table), latex(table), to_csv(table))):
        durable.write_text(path, text)
