"""The analysis figures: Altair charts of the data frames (analysis/data/) and of the statistics
(analysis/summary.json, analysis/statistical_results.json), each written to analysis/figures/ as its
Vega-Lite spec with the data inline (<name>.vl.json), the data it plots (<name>.csv) and two renderings
made offline by vl-convert (<name>.svg, <name>.png).

Each figure is its own `analysis` task (graph.py) whose file_dep is exactly what FIGURES says it reads,
so a changed frame re-renders just the figures that read it. Same inputs, same bytes: rows in a fixed
order, colours from a fixed palette indexed by the sorted tiers (never Python's per-process hash()), JSON
with sorted keys, PNG at a fixed scale. A figure with nothing to plot (one judge: no pair; no criterion
scores) is a note saying why, never a crash; an empty cell is unknown and left out, and said so.

altair (~0.2 s to import) and vl_convert are imported by the functions that draw, never at module level:
`doit status` loads this module to list the tasks.
"""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .. import durable, pipeline
from . import frames, load, summary

FIGURES_DIR = "analysis/figures"
# what a figure may read, by short name
INPUTS = {**{name: f"{frames.DATA_DIR}/{name}.csv" for name in frames.FRAMES},
          "summary": summary.SUMMARY, "statistics": summary.STATISTICAL_RESULTS}
EXTENSIONS = (".vl.json", ".csv", ".svg", ".png")
SCALE = 2.0         # PNG pixels per Vega pixel (and 72 ppi each: its pHYs chunk is fixed too)
WIDTH, HEIGHT = 360, 240
# vega's tableau10, indexed by a value's place in the sorted list of values (tiers, judge slots, series)
PALETTE = ("#4c78a8", "#f58518", "#e45756", "#72b7b2", "#54a24b", "#eeca3b", "#b279a2", "#ff9da6", "#9d755d",
           "#bab0ac")
GRADES = ("S", "A", "B", "C", "D", "F")
UNKNOWN = "unknown"
GRADE_COLOURS = ("#1a9850", "#91cf60", "#d9ef8b", "#fee08b", "#fc8d59", "#d73027", "#bdbdbd")  # S..F, unknown
TOKENS = {"input_tokens": "input", "output_tokens": "output", "cache_creation_tokens": "cache creation",
          "cache_read_tokens": "cache read"}
COST_SERIES = {"cost_usd": "agent", "judge_cost_usd": "judges", "total_cost_usd": "agent + judges"}

Frame = list[dict[str, Any]]        # a frame's rows as frames.read types them (None: unknown)
Row = dict[str, Any]                # a row a figure plots (and writes to its CSV)


@dataclass(frozen=True)
class Plot:
    """A figure's data (its CSV: `columns`, `rows`) and its chart (an altair chart over those rows)."""

    columns: tuple[str, ...]
    rows: list[Row]
    chart: Any

    def spec(self) -> dict:
        """The Vega-Lite spec (altair validates it against the Vega-Lite schema)."""
        return self.chart.to_dict()


@dataclass(frozen=True)
class Figure:
    title: str
    inputs: tuple[str, ...]         # INPUTS names: what it reads (its task's file_dep)
    plot: Callable[[Mapping[str, Any], Sequence[str]], Plot]    # (inputs by name, the experiment's tiers)

    @property
    def file_dep(self) -> list[str]:
        return [INPUTS[name] for name in self.inputs]


# ---------------------------------------------------------------- where they are

def targets(name: str) -> list[str]:
    return [f"{FIGURES_DIR}/{name}{ext}" for ext in EXTENSIONS]


def identity(tiers: Sequence[str]) -> dict:
    """What a figure's bytes depend on besides its inputs (its task's config_changed): the tiers its
    colours are indexed by, and the versions of what draws it (reads metadata, imports nothing)."""
    return {"tiers": order(tiers), "altair": pipeline.dist_version("altair"),
            "vl-convert": pipeline.dist_version("vl-convert-python")}


# ---------------------------------------------------------------- reading the inputs

def read_inputs(names: Iterable[str]) -> dict[str, Any]:
    return {n: frames.read(frames.DATA_DIR, n) if n in frames.FRAMES else durable.read_json_object(INPUTS[n])
            for n in names}


def num(cell: Any) -> float | None:
    """A frame cell or a JSON value as a number; None when unknown or not a number."""
    if cell is None or isinstance(cell, bool):
        return None
    try:
        return float(cell)
    except (TypeError, ValueError):
        return None


def stat(doc: Mapping[str, Any], source: str, *keys: str) -> Any:
    """The statistics' value at `keys` (the one accessor of summary.json and statistical_results.json:
    a renamed key is one line here); a missing one is an error naming the file and the key."""
    value: Any = doc
    for i, key in enumerate(keys):
        if not isinstance(value, Mapping) or key not in value:
            raise durable.ArtifactError(f"{INPUTS[source]}: no {'.'.join(keys[:i + 1])!r} (written by another "
                                        f"version of Scylla? `doit 'analysis:*'` rebuilds it)")
        value = value[key]
    return value


def registered(doc: Mapping[str, Any], family: str | None, name: str) -> Mapping[str, Any]:
    """Test `name` as the p-value registry of statistical_results.json lists it in `family` (its adjusted p);
    {} when it is not there (a test that was not run)."""
    tests = (stat(doc, "statistics", "registry").get(family or "") or {}).get("tests") or []
    return next((t for t in tests if t.get("name") == name), {})


def estimate(value: Any) -> dict[str, Any]:
    """An Estimate of the statistics (value, ci_low, ci_high, n, reason); absent fields are unknown."""
    value = value if isinstance(value, Mapping) else {}
    return {"value": num(value.get("value")), "ci_low": num(value.get("ci_low")), "ci_high": num(value.get("ci_high")),
            "n": value.get("n"), "reason": value.get("reason")}


# ---------------------------------------------------------------- order and colours (pure)

def natural(value: str) -> tuple:
    """Sort key: digits compare as numbers (T2 before T10)."""
    return tuple(int(p) if i % 2 else p for i, p in enumerate(re.split(r"(\d+)", value)))


def order(values: Iterable[str | None]) -> list[str]:
    return sorted({v for v in values if v}, key=natural)


def colours(values: Iterable[str | None]) -> tuple[list[str], list[str]]:
    """(domain, range): the sorted values and the palette's colours by their place in that order."""
    domain = order(values)
    return domain, [PALETTE[i % len(PALETTE)] for i in range(len(domain))]


def _colour(field: str, title: str, values: Iterable[str | None]) -> Any:
    import altair as alt
    domain, palette = colours(values)
    return alt.Color(f"{field}:N", title=title, sort=domain, scale=alt.Scale(domain=domain, range=palette))


def _fixed_colour(field: str, title: str, domain: Sequence[str], palette: Sequence[str]) -> Any:
    import altair as alt
    return alt.Color(f"{field}:N", title=title, sort=list(domain),
                     scale=alt.Scale(domain=list(domain), range=list(palette[:len(domain)])))


def _title(text: str, notes: Sequence[str] = ()) -> Any:
    import altair as alt
    return alt.TitleParams(text, subtitle=list(notes), anchor="start") if notes else alt.TitleParams(text, anchor="start")


def note(title: str, reason: str, columns: Sequence[str]) -> Plot:
    """The figure of nothing to plot: its title and why (its CSV: the header alone)."""
    import altair as alt
    chart = alt.Chart(alt.Data(values=[{"note": reason}]), title=_title(title)).mark_text(
        align="left", baseline="middle", fontSize=13, color="#555555").encode(
        text="note:N").properties(width=WIDTH, height=40)
    return Plot(tuple(columns), [], chart)


def _data(rows: Sequence[Mapping[str, Any]]) -> Any:
    import altair as alt
    return alt.Data(values=[dict(r) for r in rows])


def _tier_key(row: Mapping[str, Any]) -> tuple:
    return natural(str(row.get("tier") or ""))


def _unknown(count: int, what: str) -> list[str]:
    return [f"{count} run{'s' if count != 1 else ''} with unknown {what} left out"] if count else []


# ---------------------------------------------------------------- figures of the frames (pure)

def grade_distribution(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title, columns = "Grades by tier", ("tier", "grade", "runs")
    counts = Counter((r["tier"], r["grade"] or UNKNOWN) for r in inputs["runs"])
    if not counts:
        return note(title, "no runs yet", columns)
    domain = [*GRADES, UNKNOWN]
    rows = [{"tier": t, "grade": g, "runs": counts[t, g]}
            for t in order(t for t, _ in counts) for g in domain if counts[t, g]]
    chart = alt.Chart(_data(rows), title=_title(title)).mark_bar().encode(
        x=alt.X("tier:N", sort=order(tiers)), y=alt.Y("runs:Q", title="runs", stack="zero", axis=alt.Axis(tickMinStep=1, format="d")),
        color=_fixed_colour("grade", "grade", domain, GRADE_COLOURS),
        order=alt.Order("rank:Q"), tooltip=["tier:N", "grade:N", "runs:Q"],
    ).transform_calculate(rank=f"indexof({domain!r}, datum.grade)").properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def token_mix(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title, columns = "Tokens by type and tier", ("tier", "token_type", "tokens", "unknown_runs")
    runs = inputs["runs"]
    if not runs:
        return note(title, "no runs yet", columns)
    rows: list[Row] = []
    for t in order(r["tier"] for r in runs):
        cells = [r for r in runs if r["tier"] == t]
        for column, label in TOKENS.items():
            known = [v for r in cells if (v := num(r[column])) is not None]
            rows.append({"tier": t, "token_type": label, "tokens": int(sum(known)), "unknown_runs": len(cells) - len(known)})
    unknown = max((r["unknown_runs"] for r in rows), default=0)
    chart = alt.Chart(_data(rows), title=_title(title, _unknown(unknown, "tokens"))).mark_bar().encode(
        x=alt.X("tier:N", sort=order(tiers)), y=alt.Y("tokens:Q", title="tokens", stack="zero"),
        color=_fixed_colour("token_type", "tokens", list(TOKENS.values()), PALETTE),
        order=alt.Order("rank:Q"), tooltip=["tier:N", "token_type:N", "tokens:Q"],
    ).transform_calculate(rank=f"indexof({list(TOKENS.values())!r}, datum.token_type)").properties(
        width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def agent_judge_time(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title, columns = "Agent and judge time per run", ("tier", "kind", "runs", "total_seconds", "mean_seconds",
                                                      "unknown_runs")
    runs = inputs["runs"]
    if not runs:
        return note(title, "no runs yet", columns)
    rows: list[Row] = []
    for t in order(r["tier"] for r in runs):
        cells = [r for r in runs if r["tier"] == t]
        for column, kind in (("agent_duration_seconds", "agent"), ("judge_duration_seconds", "judges")):
            known = [v for r in cells if (v := num(r[column])) is not None]
            rows.append({"tier": t, "kind": kind, "runs": len(known), "total_seconds": sum(known) if known else None,
                         "mean_seconds": statistics.fmean(known) if known else None,
                         "unknown_runs": len(cells) - len(known)})
    unknown = max(r["unknown_runs"] for r in rows)
    chart = alt.Chart(_data(rows), title=_title(title, _unknown(unknown, "durations"))).mark_bar().encode(
        x=alt.X("tier:N", sort=order(tiers)), xOffset=alt.XOffset("kind:N", sort=["agent", "judges"]),
        y=alt.Y("mean_seconds:Q", title="mean seconds per run"),
        color=_fixed_colour("kind", "", ["agent", "judges"], PALETTE),
        tooltip=["tier:N", "kind:N", "runs:Q", "mean_seconds:Q", "total_seconds:Q"],
    ).properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def criteria_by_tier(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """The mean score of each criterion per tier, over the valid judgments that score it."""
    import altair as alt
    title, columns = "Criteria by tier (mean score over valid judgments)", ("criterion", "tier", "mean_score", "n")
    scores: dict[tuple[str, str], list[float]] = defaultdict(list)
    for r in inputs["criteria"]:
        if r["is_valid"] is True and (s := num(r["score"])) is not None:
            scores[r["criterion"], r["tier"]].append(s)
    if not scores:
        return note(title, "no criterion scores (no valid judgment scored a criterion)", columns)
    rows: list[Row] = [{"criterion": c, "tier": t, "mean_score": statistics.fmean(v), "n": len(v)}
            for (c, t), v in sorted(scores.items(), key=lambda kv: (natural(kv[0][0]), natural(kv[0][1])))]
    chart = alt.Chart(_data(rows), title=_title(title)).mark_bar().encode(
        x=alt.X("criterion:N", sort=order(r["criterion"] for r in rows)),
        xOffset=alt.XOffset("tier:N", sort=order(tiers)),
        y=alt.Y("mean_score:Q", title="mean score", scale=alt.Scale(domain=[0, 1])),
        color=_colour("tier", "tier", [*tiers, *(r["tier"] for r in rows)]),
        tooltip=["criterion:N", "tier:N", "mean_score:Q", "n:Q"],
    ).properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def judge_pairs(judges: Frame) -> tuple[list[str], list[Row]]:
    """(the judge slots, one row per run and pair of slots that both gave it a valid score). Runs are
    matched by the full key (experiment, agent model, tier, subtest, run)."""
    scores: dict[tuple, dict[str, float]] = defaultdict(dict)
    for r in judges:
        if r["is_valid"] is True and (s := num(r["score"])) is not None:
            scores[tuple(r[k] for k in frames.KEY)][r["slot"]] = s
    slots = order(r["slot"] for r in judges)
    rows: list[Row] = []
    for a, b in itertools.combinations(slots, 2):
        for key in sorted(scores, key=lambda k: tuple(natural(str(x)) for x in k)):
            run = scores[key]
            if a in run and b in run:
                rows.append({"pair": f"{a} vs {b}", "a": a, "b": b, **dict(zip(frames.KEY, key, strict=True)),
                             "score_a": run[a], "score_b": run[b]})
    return slots, rows


def _no_pair(title: str, slots: Sequence[str], columns: Sequence[str]) -> Plot:
    reason = "one judge: no pair to compare" if len(slots) < 2 else "no run with valid scores from two judges"
    return note(title, reason, columns)


PAIR_COLUMNS = ("pair", "a", "b", *frames.KEY, "score_a", "score_b")


def judge_agreement(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title = "Judge agreement: each pair's scores of the same run"
    slots, rows = judge_pairs(inputs["judges"])
    if not rows:
        return _no_pair(title, slots, PAIR_COLUMNS)
    unit = alt.Scale(domain=[0, 1])
    points = alt.Chart().mark_point(filled=True, opacity=0.7).encode(
        x=alt.X("score_a:Q", title="score of the first judge", scale=unit),
        y=alt.Y("score_b:Q", title="score of the second judge", scale=unit),
        color=_colour("tier", "tier", [*tiers, *(r["tier"] for r in rows)]),
        tooltip=["pair:N", "tier:N", "subtest:N", "run:N", "score_a:Q", "score_b:Q"])
    # (aggregated to one row per facet: one line each, not one per run drawn over each other)
    diagonal = alt.Chart().transform_aggregate(runs="count()").mark_rule(color="#888888", strokeDash=[4, 4]).encode(
        x=alt.datum(0), y=alt.datum(0), x2=alt.datum(1), y2=alt.datum(1))
    chart = alt.layer(points, diagonal, data=_data(rows)).properties(width=WIDTH, height=WIDTH).facet(
        column=alt.Column("pair:N", title=None, sort=order(r["pair"] for r in rows)), title=_title(title))
    return Plot(PAIR_COLUMNS, rows, chart)


def bland_altman_rows(pairs: Sequence[Mapping[str, Any]]) -> list[Row]:
    """Each pair row with its mean and difference (second − first), and its pair's bias (the mean
    difference) and 95 % limits of agreement (bias ± 1.96 SD; unknown with fewer than two runs)."""
    by_pair: dict[str, list[float]] = defaultdict(list)
    for r in pairs:
        by_pair[r["pair"]].append(r["score_b"] - r["score_a"])
    limits = {}
    for pair, diffs in by_pair.items():
        bias = statistics.fmean(diffs)
        sd = statistics.stdev(diffs) if len(diffs) >= 2 else None
        limits[pair] = {"bias": bias, "loa_low": None if sd is None else bias - 1.96 * sd,
                        "loa_high": None if sd is None else bias + 1.96 * sd}
    return [{**r, "mean": (r["score_a"] + r["score_b"]) / 2, "difference": r["score_b"] - r["score_a"],
             **limits[r["pair"]]} for r in pairs]


def bland_altman(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title = "Bland–Altman: difference against mean of each judge pair's scores"
    columns = (*PAIR_COLUMNS, "mean", "difference", "bias", "loa_low", "loa_high")
    slots, pairs = judge_pairs(inputs["judges"])
    if not pairs:
        return _no_pair(title, slots, columns)
    rows = bland_altman_rows(pairs)
    notes = ["limits of agreement: bias ± 1.96 SD (unknown for a pair with one run)"]
    points = alt.Chart().mark_point(filled=True, opacity=0.7).encode(
        x=alt.X("mean:Q", title="mean of the two scores", scale=alt.Scale(domain=[0, 1])),
        y=alt.Y("difference:Q", title="second − first"),
        color=_colour("tier", "tier", [*tiers, *(r["tier"] for r in rows)]),
        tooltip=["pair:N", "tier:N", "subtest:N", "run:N", "mean:Q", "difference:Q"])
    # (each the same on every row of a pair: aggregated to one rule per pair, not one per run)
    bias = alt.Chart().mark_rule(color="#333333").encode(y=alt.Y("bias:Q", aggregate="min"))
    low = alt.Chart().mark_rule(color="#888888", strokeDash=[4, 4]).encode(y=alt.Y("loa_low:Q", aggregate="min"))
    high = alt.Chart().mark_rule(color="#888888", strokeDash=[4, 4]).encode(y=alt.Y("loa_high:Q", aggregate="min"))
    chart = alt.layer(points, bias, low, high, data=_data(rows)).properties(width=WIDTH, height=HEIGHT).facet(
        column=alt.Column("pair:N", title=None, sort=order(r["pair"] for r in rows)), title=_title(title, notes))
    return Plot(columns, rows, chart)


def _cell_label(row: Mapping[str, Any], many: bool) -> str:
    """A subtest's label; with several experiments or agent models in the frames, prefixed by them."""
    label = f"{row['tier']}/{row['subtest']}"
    return f"{row['experiment']} {row['agent_model']} {label}" if many else label


def subtest_run_heatmap(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title, columns = "Score of each run, by subtest", ("subtest", "run", "score", "grade", "passed")
    runs = inputs["runs"]
    if not runs:
        return note(title, "no runs yet", columns)
    many = len({(r["experiment"], r["agent_model"]) for r in runs}) > 1
    rows: list[Row] = sorted(({"subtest": _cell_label(r, many), "run": int(r["run"]), "score": num(r["score"]),
                    "grade": r["grade"], "passed": r["passed"]}
                   for r in runs), key=lambda r: (natural(r["subtest"]), r["run"]))
    unknown = sum(r["score"] is None for r in rows)
    base = alt.Chart().encode(x=alt.X("run:O", title="run", axis=alt.Axis(labelAngle=0)),
                              y=alt.Y("subtest:N", title=None, sort=order(r["subtest"] for r in rows)))
    cells = base.mark_rect().encode(
        color=alt.Color("score:Q", title="score", scale=alt.Scale(domain=[0, 1], scheme="viridis")),
        tooltip=["subtest:N", "run:O", "score:Q", "grade:N", "passed:N"])
    grades = base.mark_text(fontSize=11).encode(
        text="grade:N", color=alt.condition("datum.score > 0.6", alt.value("#000000"), alt.value("#ffffff")))
    chart = alt.layer(cells, grades, data=_data(rows), title=_title(title, _unknown(unknown, "score"))).properties(
        width=max(WIDTH // 3, 40 * len({r["run"] for r in rows})), height=max(HEIGHT // 2, 20 * len({r["subtest"] for r in rows})))
    return Plot(columns, rows, chart)


def execution_order(runs: Frame) -> Frame:
    """The runs in the order they started (then measured; a run that records neither last), key to break ties."""
    return sorted(runs, key=lambda r: (r["started_at"] is None, r["started_at"] or "", r["measured_at"] is None,
                                       r["measured_at"] or "", tuple(natural(str(r[k])) for k in frames.KEY)))


def cumulative_cost_rows(runs: Frame) -> list[Row]:
    """Cumulative agent, judge and total cost in execution order; unknown from the first run whose cost is
    unknown on (a sum that left it out would be a wrong number)."""
    rows = []
    for column, series in COST_SERIES.items():
        total: float | None = 0.0
        for i, r in enumerate(execution_order(runs), 1):
            cost = num(r[column])
            total = None if total is None or cost is None else total + cost
            rows.append({"order": i, "series": series, "tier": r["tier"], "subtest": r["subtest"], "run": int(r["run"]),
                         "started_at": r["started_at"], "cost_usd": cost, "cumulative_usd": total})
    return rows


def cumulative_cost(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title = "Cumulative cost in execution order"
    columns = ("order", "series", "tier", "subtest", "run", "started_at", "cost_usd", "cumulative_usd")
    if not inputs["runs"]:
        return note(title, "no runs yet", columns)
    rows = cumulative_cost_rows(inputs["runs"])
    notes = [f"{s} cost unknown from run {first} on" for s in COST_SERIES.values()
             if (first := next((r["order"] for r in rows if r["series"] == s and r["cumulative_usd"] is None), None))]
    chart = alt.Chart(_data(rows), title=_title(title, notes)).mark_line(point=True).encode(
        x=alt.X("order:Q", title="run, in the order the runs started", axis=alt.Axis(tickMinStep=1)),
        y=alt.Y("cumulative_usd:Q", title="cumulative cost (USD)"),
        color=_fixed_colour("series", "", list(COST_SERIES.values()), PALETTE),
        tooltip=["order:Q", "series:N", "tier:N", "subtest:N", "run:Q", "started_at:N", "cost_usd:Q", "cumulative_usd:Q"],
    ).properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def cost_quality(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    import altair as alt
    title, columns = "Cost and score of each run", ("tier", "subtest", "run", "cost_usd", "score", "passed")
    runs = inputs["runs"]
    rows = [{"tier": r["tier"], "subtest": r["subtest"], "run": int(r["run"]), "cost_usd": c, "score": s,
             "passed": r["passed"] is True}
            for r in runs if (c := num(r["cost_usd"])) is not None and (s := num(r["score"])) is not None]
    if not rows:
        return note(title, "no run with both a known cost and a score" if runs else "no runs yet", columns)
    rows.sort(key=lambda r: (_tier_key(r), natural(r["subtest"]), r["run"]))
    chart = alt.Chart(_data(rows), title=_title(title, _unknown(len(runs) - len(rows), "cost or score"))).mark_point(
        filled=True, size=70, opacity=0.8).encode(
        x=alt.X("cost_usd:Q", title="agent cost (USD)"),
        y=alt.Y("score:Q", title="score", scale=alt.Scale(domain=[0, 1])),
        color=_colour("tier", "tier", [*tiers, *(r["tier"] for r in rows)]),
        shape=alt.Shape("passed:N", title="passed", sort=[True, False], scale=alt.Scale(domain=[True, False],
                                                                                        range=["circle", "cross"])),
        tooltip=["tier:N", "subtest:N", "run:Q", "cost_usd:Q", "score:Q", "passed:N"],
    ).properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


# ---------------------------------------------------------------- figures of the statistics (pure)

ESTIMATE = ("value", "ci_low", "ci_high", "n", "reason")


def _tier_cells(doc: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(tier, its cell of summary.json), in the summary's tier order."""
    cells = stat(doc, "summary", "tiers")
    return [(t, cells.get(t) or {}) for t in stat(doc, "summary", "tier_order")]


def _ci_notes(rows: Sequence[Row], subject: str, measure: Callable[[Row], str] = lambda r: "") -> list[str]:
    """Why a value or a bound is missing (the statistics' own reason), one line per measure and reason
    naming the rows' `subject`s it applies to (seven tiers of one run each: one line, not seven)."""
    grouped: dict[tuple[str, str, str], list[str]] = {}
    for r in rows:
        if r["value"] is None:
            what = "not computable"
        elif r["ci_low"] is None or r["ci_high"] is None:
            what = "no confidence interval" if r["ci_low"] is None and r["ci_high"] is None else \
                "an open confidence interval"
        else:
            continue
        grouped.setdefault((measure(r), what, r["reason"] or "no reason given"), []).append(str(r[subject]))
    return [f"{m + ' of ' if m else ''}{', '.join(names)}: {what} ({reason})"
            for (m, what, reason), names in grouped.items()]


def _interval(field: str, sort: Sequence[str], colour: Any, title: str, horizontal: bool = False,
              domain: Sequence[float] | None = None) -> tuple[Any, Any]:
    """A point per row (`field`: its category) with its confidence interval as a rule (none where a bound is
    unknown): (rule, point) layers, vertical by default."""
    import altair as alt
    scale = alt.Scale(domain=list(domain)) if domain else alt.Undefined
    position, across = (alt.Y, alt.X) if horizontal else (alt.X, alt.Y)
    category = position(f"{field}:N", title=None, sort=list(sort), axis=alt.Axis(labelAngle=0))
    tooltip = [f"{field}:N", "value:Q", "ci_low:Q", "ci_high:Q", "n:Q", "reason:N"]
    end = {"x2": alt.X2("ci_high:Q")} if horizontal else {"y2": alt.Y2("ci_high:Q")}
    rule = alt.Chart().mark_rule(strokeWidth=2).encode(category, across("ci_low:Q", scale=scale, title=title), color=colour,
                                                       **end)
    point = alt.Chart().mark_point(filled=True, size=80).encode(category, across("value:Q", scale=scale, title=title),
                                                                color=colour, tooltip=tooltip)
    return rule, point


def _tier_intervals(inputs: Mapping[str, Any], tiers: Sequence[str], title: str, facet: str,
                    measures: tuple[tuple[str, str], ...], axis: str, notes: list[str], label, **scale) -> Plot:
    """One panel per measure (`facet` column: summary key -> its label), each tier's estimate with its CI.
    `label(row)` names a measure in the notes of the intervals that could not be computed."""
    import altair as alt
    columns = (facet, "tier", *ESTIMATE)
    cells = _tier_cells(inputs["summary"])
    rows = [{facet: name, "tier": t, **estimate(cell.get(key))} for key, name in measures for t, cell in cells]
    if not rows:
        return note(title, "no tiers in the statistics", columns)
    colour = _colour("tier", "tier", [*tiers, *(t for t, _ in cells)])
    rule, point = _interval("tier", order(t for t, _ in cells), colour, axis, **scale)
    chart = alt.layer(rule, point, data=_data(rows)).properties(width=WIDTH // 2 + 60, height=HEIGHT).facet(
        column=alt.Column(f"{facet}:N", title=None, sort=[name for _, name in measures]),
        title=_title(title, [*notes, *_ci_notes(rows, "tier", label)]))
    return Plot(columns, rows, chart)


def score_pass_rate(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    return _tier_intervals(inputs, tiers, "Mean score and pass rate by tier, with 95 % confidence intervals",
                           "measure", (("mean_score", "mean score"), ("pass_rate", "pass rate")), "",
                           ["mean score: bootstrap CI; pass rate: Wilson CI"], lambda r: r["measure"], domain=(0, 1))


def cost_of_pass(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    return _tier_intervals(inputs, tiers,
                           "Cost of a pass by tier (USD per passing run), with 95 % bootstrap confidence intervals",
                           "cost", (("cost_of_pass", "agent"), ("cost_of_pass_total", "agent + judges")),
                           "USD per passing run", [], lambda r: f"cost of a pass ({r['cost']})")


def pareto_frontier(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """Each tier's mean cost per run against its mean score; the Pareto set joined by a line, each tier
    labelled with its bootstrap probability of being on it."""
    import altair as alt
    title = "Cost and score by tier: the Pareto frontier"
    columns = ("tier", "mean_cost_usd", "mean_score", "pareto", "probability", "frontier")
    doc = inputs["summary"]
    frontier = stat(doc, "summary", "frontier")
    pareto, probability = set(frontier.get("pareto") or ()), frontier.get("probability") or {}
    cells = _tier_cells(doc)
    rows = [{"tier": t, "mean_cost_usd": c, "mean_score": s, "pareto": t in pareto,
             "probability": estimate(probability.get(t))["value"],
             "frontier": t == frontier.get("tier")}
            for t, cell in cells if (c := estimate(cell.get("mean_cost_usd"))["value"]) is not None
            and (s := estimate(cell.get("mean_score"))["value"]) is not None]
    if not rows:
        return note(title, "no tier with both a known mean cost and a mean score", columns)
    rows.sort(key=lambda r: (r["mean_cost_usd"], -r["mean_score"], _tier_key(r)))
    best = estimate(frontier.get("cost_of_pass"))
    notes = [f"frontier: {frontier['tier']}, cost of a pass {best['value']:.4g} USD" if frontier.get("tier") and
             best["value"] is not None else f"no frontier tier ({frontier.get('reason') or 'no reason given'})",
             "line: the Pareto set (lower cost, higher score); label: bootstrap probability of being on it",
             *(f"{t} left out ({(frontier.get('left_out') or {}).get(t) or 'its mean cost or score is unknown'})"
               for t, _ in cells if t not in {r["tier"] for r in rows})]
    colour = _colour("tier", "tier", [*tiers, *(t for t, _ in cells)])
    x, y = alt.X("mean_cost_usd:Q", title="mean agent cost per run (USD)"), alt.Y("mean_score:Q", title="mean score",
                                                                                    scale=alt.Scale(domain=[0, 1]))
    line = alt.Chart().transform_filter("datum.pareto").mark_line(color="#888888").encode(x, y, order="mean_cost_usd:Q")
    points = alt.Chart().mark_point(filled=True, size=90).encode(
        x, y, color=colour, shape=alt.Shape("pareto:N", title="on the Pareto set", sort=[True, False],
                                            scale=alt.Scale(domain=[True, False], range=["circle", "triangle"])),
        tooltip=["tier:N", "mean_cost_usd:Q", "mean_score:Q", "pareto:N", "probability:Q"])
    labels = alt.Chart().transform_calculate(
        label="datum.tier + (datum.probability == null ? '' : ' (' + format(datum.probability, '.2f') + ')')").mark_text(
        align="left", dx=8, dy=-8).encode(x, y, text="label:N")
    chart = alt.layer(line, points, labels, data=_data(rows), title=_title(title, notes)).properties(
        width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def judge_leniency(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """Each judge's mean score minus the mean of the others' on the same runs, with its CI."""
    import altair as alt
    title = "Judge leniency: mean score minus the other judges', with 95 % bootstrap confidence intervals"
    columns = ("judge", *ESTIMATE)
    entries = stat(inputs["statistics"], "statistics", "judges", "leniency") or []
    rows = [{"judge": e.get("judge"), **estimate(e)} for e in entries]
    if not rows:
        return note(title, "fewer than two judges: no one to compare a judge with", columns)
    colour = _colour("judge", "judge", [r["judge"] for r in rows])
    rule, point = _interval("judge", order(r["judge"] for r in rows), colour, "mean score minus the others'",
                            horizontal=True)
    zero = alt.Chart().mark_rule(color="#888888", strokeDash=[4, 4]).encode(x=alt.datum(0))
    chart = alt.layer(zero, rule, point, data=_data(rows), title=_title(title, _ci_notes(rows, "judge"))
                      ).properties(width=WIDTH, height=max(60, 30 * len(rows)))
    return Plot(columns, rows, chart)


def effect_sizes(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """Cliff's δ of each tier comparison (b against a) with its bootstrap CI, and its test's adjusted p."""
    import altair as alt
    title = "Effect sizes: Cliff's δ of each tier comparison, with 95 % bootstrap confidence intervals"
    columns = ("comparison", "a", "b", *ESTIMATE, "p_value", "p_adjusted")
    doc = inputs["statistics"]
    pairs = stat(doc, "statistics", "tier_comparisons", "pairs") or []
    rows = [{"comparison": p["name"], "a": p.get("a"), "b": p.get("b"), **estimate(p.get("cliffs_delta")),
             "p_value": num((p.get("mann_whitney") or {}).get("p")),
             "p_adjusted": num(registered(doc, p.get("family"), p["name"]).get("p_adjusted"))} for p in pairs]
    if not rows:
        return note(title, "one tier: no comparison", columns)
    names = [r["comparison"] for r in rows]
    rule, point = _interval("comparison", names, alt.value(PALETTE[0]), "Cliff's δ", horizontal=True,
                            domain=(-1, 1))
    zero = alt.Chart().mark_rule(color="#888888", strokeDash=[4, 4]).encode(x=alt.datum(0))
    notes = ["δ > 0: the second tier's scores tend to be higher", *_ci_notes(rows, "comparison")]
    chart = alt.layer(zero, rule, point, data=_data(rows), title=_title(title, notes)).properties(
        width=WIDTH, height=max(60, 30 * len(rows)))
    return Plot(columns, rows, chart)


def pass_at_k(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """pass@k (at least one of k runs passes) and pass^k (all k pass) by tier, k = 1 .. runs per subtest."""
    import altair as alt
    title = "pass@k and pass^k by tier"
    columns = ("tier", "metric", "k", *ESTIMATE)
    cells = _tier_cells(inputs["summary"])
    rows = [{"tier": t, "metric": label, "k": int(k), **estimate(e)}
            for t, cell in cells for key, label in (("pass_at_k", "pass@k"), ("pass_hat_k", "pass^k"))
            for k, e in sorted((cell.get(key) or {}).items(), key=lambda kv: int(kv[0]))]
    if not rows:
        return note(title, "no pass@k in the statistics", columns)
    unknown = sum(r["value"] is None for r in rows)
    chart = alt.Chart(_data(rows), title=_title(title, [f"{unknown} unknown value{'s' if unknown != 1 else ''} left out"]
                                                if unknown else [])).mark_line(point=True).encode(
        x=alt.X("k:O", title="k (runs)", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("value:Q", title="probability", scale=alt.Scale(domain=[0, 1])),
        color=_colour("tier", "tier", [*tiers, *(t for t, _ in cells)]),
        strokeDash=alt.StrokeDash("metric:N", title="", sort=["pass@k", "pass^k"]),
        tooltip=["tier:N", "metric:N", "k:Q", "value:Q", "n:Q", "reason:N"],
    ).properties(width=WIDTH, height=HEIGHT)
    return Plot(columns, rows, chart)


def tier_task_heatmap(inputs: Mapping[str, Any], tiers: Sequence[str]) -> Plot:
    """A study's tiers by task (experiment): each task's mean score of each tier, labelled with the tier's rank
    within the task (1 the highest; statistical_results.json `tasks`)."""
    import altair as alt
    title = "Mean score of each tier by task, labelled with its rank within the task"
    columns = ("task", "tier", *ESTIMATE, "rank")
    views = stat(inputs["statistics"], "statistics", "tasks")
    rows = [{"task": task, "tier": tier, **estimate(cell.get("mean_score")), "rank": (views["ranks"].get(task) or {}).get(tier)}
            for task in views["tasks"] for tier, cell in (views["cells"].get(task) or {}).items()]
    if not rows:
        return note(title, "no task ran a tier", columns)
    friedman = views.get("friedman") or {}
    notes = [f"Friedman over {len(views.get('complete_tasks') or [])} tasks: p = {friedman['p']:.3g}"
             if friedman.get("p") is not None else f"Friedman: not computable ({friedman.get('reason')})"]
    base = alt.Chart().encode(x=alt.X("tier:N", title="tier", sort=order([*tiers, *(r["tier"] for r in rows)]),
                                      axis=alt.Axis(labelAngle=0)),
                              y=alt.Y("task:N", title=None, sort=list(views["tasks"])))
    cells = base.mark_rect().encode(
        color=alt.Color("value:Q", title="mean score", scale=alt.Scale(domain=[0, 1], scheme="viridis")),
        tooltip=["task:N", "tier:N", "value:Q", "ci_low:Q", "ci_high:Q", "n:Q", "rank:Q"])
    labels = base.mark_text(fontSize=11).encode(
        text=alt.Text("rank:Q", format="g"),
        color=alt.condition("datum.value > 0.6", alt.value("#000000"), alt.value("#ffffff")))
    chart = alt.layer(cells, labels, data=_data(rows), title=_title(title, notes)).properties(
        width=max(WIDTH // 2, 50 * len({r["tier"] for r in rows})), height=max(HEIGHT // 3, 24 * len(views["tasks"])))
    return Plot(columns, rows, chart)


# ---------------------------------------------------------------- the figures and their task action

FRAME_FIGURES: dict[str, Figure] = {
    "grade_distribution": Figure("grades by tier", ("runs",), grade_distribution),
    "token_mix": Figure("tokens by type (input, output, cache creation, cache read) by tier", ("runs",), token_mix),
    "agent_judge_time": Figure("mean agent and judge seconds per run by tier", ("runs",), agent_judge_time),
    "criteria_by_tier": Figure("mean score of each criterion by tier", ("criteria",), criteria_by_tier),
    "judge_agreement": Figure("scores of each pair of judges on the same runs", ("judges",), judge_agreement),
    "bland_altman": Figure("difference against mean of each judge pair's scores", ("judges",), bland_altman),
    "subtest_run_heatmap": Figure("score of each subtest × run", ("runs",), subtest_run_heatmap),
    "cumulative_cost": Figure("agent, judge and total cost summed in execution order", ("runs",), cumulative_cost),
    "cost_quality": Figure("agent cost against score of each run", ("runs",), cost_quality),
}
# the figures of the statistics (analysis:stats' outputs: docs/numbers.md, "Statistics")
STATS_FIGURES: dict[str, Figure] = {
    "score_pass_rate": Figure("mean score and pass rate with CIs by tier", ("summary",), score_pass_rate),
    "cost_of_pass": Figure("cost of a pass (agent; agent + judges) with CIs by tier", ("summary",), cost_of_pass),
    "pareto_frontier": Figure("mean cost against mean score by tier, the Pareto set and each tier's probability of "
                              "being on it", ("summary",), pareto_frontier),
    "judge_leniency": Figure("each judge's score minus the others' with CIs", ("statistics",), judge_leniency),
    "effect_sizes": Figure("Cliff's δ of each tier comparison with CIs", ("statistics",), effect_sizes),
    "pass_at_k": Figure("pass@k and pass^k curves by tier", ("summary",), pass_at_k),
}
FIGURES = {**FRAME_FIGURES, **STATS_FIGURES}
# a study's own (docs/numbers.md, "Across experiments"), beside the figures above over its stacked frames
STUDY_FIGURES: dict[str, Figure] = {
    "tier_task_heatmap": Figure("mean score of each tier by task, with its rank", ("statistics",), tier_task_heatmap),
}


def vegalite_version() -> str:
    """The Vega-Lite version altair's specs are written for ("6.4"), which vl-convert renders them with."""
    import altair as alt
    return ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])


def render(spec: dict, where: str) -> tuple[str, bytes]:
    """(SVG, PNG) of a Vega-Lite spec, offline. `where`: the spec's file, named by an error."""
    import vl_convert
    version = vegalite_version()
    try:
        return (vl_convert.vegalite_to_svg(spec, vl_version=version),
                vl_convert.vegalite_to_png(spec, vl_version=version, scale=SCALE, ppi=72 * SCALE))
    except ValueError as exc:
        raise durable.ArtifactError(f"{where}: vl-convert {pipeline.dist_version('vl-convert-python')} cannot render "
                                    f"it with Vega-Lite {version}: {exc}") from None


def write(name: str, plot: Plot) -> None:
    """The figure's four files, each atomically (the spec first: a failed rendering leaves it to look at)."""
    spec_path, csv_path, svg_path, png_path = targets(name)
    spec = plot.spec()
    durable.write_bytes(spec_path, durable.dumps(spec))
    durable.write_text(csv_path, frames.to_csv(plot.columns, plot.rows))
    svg, png = render(spec, spec_path)
    durable.write_text(svg_path, svg)
    durable.write_bytes(png_path, png)


def build(name: str, tiers: Sequence[str]) -> None:
    """The task action of figure `name`: read its inputs, plot, write."""
    figure = FIGURES.get(name) or STUDY_FIGURES[name]
    load("numpy", "altair", "vl_convert")      # (first, and one thread at a time: analysis.load)
    write(name, figure.plot(read_inputs(figure.inputs), tiers))
