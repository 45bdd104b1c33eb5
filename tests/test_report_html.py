"""The HTML report's rendering (scylla/analysis/report.py), in process, on a small tree built by Scylla's own
actions from fabricated raw files: one tier, one subtest, one run, one judge, costs unknown. The pages are
built the way the graph builds them (frames -> statistics -> report), so they read real statistics."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest
from conftest import REPO

from scylla import actions, durable, spec, tree
from scylla.analysis import figures, frames, report, summary, tables
from scylla.tree import RunPaths, SubtestPaths

HOSTILE = 'Looks fine </pre><script>document.title="pwned"</script> & <b>bold</b>\nsecond line'
EXPLANATION = '<img src=x onerror="alert(1)"> 3/4 checks'
SP = SubtestPaths("T0", "00")


def one_run_experiment(runs: int = 1) -> spec.Experiment:
    """examples/hello cut down to tier T0, subtest 00, `runs` runs and its one command judge (slot 2); 200
    bootstrap resamples (fast)."""
    exp = spec.load_experiment(REPO / "examples/hello/experiment.yaml")
    command_judge = next(j for j in exp.judges if j.adapter == "command")
    return dataclasses.replace(exp, runs=runs, tiers=("T0",), subtests={"T0": exp.subtests["T0"][:1]},
                               judges=(command_judge,), analysis=dataclasses.replace(exp.analysis, resamples=200))


def fabricate_run(exp: spec.Experiment, run: RunPaths, score: float | None, reasoning: str) -> None:
    """A finished run's raw files (agent, pipeline, judge) with no cost recorded, then its consensus and result."""
    slot = exp.judges[0]
    durable.write_json(run.agent_result, {"exit_code": 0, "stdout": "", "stderr": "", "api_calls": 3, "cost_usd": None,
                                          "token_stats": {"input_tokens": 10, "output_tokens": 20,
                                                          "cache_creation_tokens": 0, "cache_read_tokens": 5}})
    durable.write_json(run.agent("timing.json"), {"agent_duration_seconds": 1.25,
                                                  "measured_at": "2026-01-01T00:00:00+00:00"})
    durable.write_text(run.agent("patch.diff"), "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n-a\n+b\n+c\n")
    durable.write_json(run.agent("workspace_state.json"), {})
    for name in tree.AGENT_RAW:
        if not Path(run.agent(name)).exists():
            durable.write_text(run.agent(name), "")
    durable.write_json(run.pipeline, {"steps": {"test": {"status": "pass", "exit_code": 0, "reason": "3 of 3 passed",
                                                         "command": "pytest -q"}},
                                      "tests": {"total": 3, "passed": 3, "failed": 0, "errors": 0, "skipped": 0},
                                      "all_passed": True})
    durable.write_text(f"{run.commands_dir}/test.log", "3 passed\n")
    durable.write_text(run.judge_prompt, "judge this\n")
    verdict = {"score": score, "passed": score >= 0.6, "grade": "A" if score >= 0.8 else "C", "reasoning": reasoning,
               "is_valid": True, "criteria_scores": {"functional": {"score": score, "explanation": EXPLANATION,   # ProjectScylla's items
                                                   "items": {"F1": {"achieved": 1.0, "max": 2.0, "reason": "half"}}}}} \
        if score is not None else {"score": 0.0, "passed": False, "grade": "F", "is_valid": False, "criteria_scores": {},
                                   "reasoning": "Invalid judgment: no JSON object in the reply"}
    durable.write_json(run.judge(slot.number, "judgment.json"), {
        **verdict, "judge_number": slot.number, "model": slot.model, "adapter": slot.adapter, "cost_usd": None})
    durable.write_json(run.judge(slot.number, "timing.json"), {"judge_duration_seconds": 0.5,
                                                              "measured_at": "2026-01-01T00:00:01+00:00"})
    for name in tree.JUDGE_RAW:
        if not Path(run.judge(slot.number, name)).exists():
            durable.write_text(run.judge(slot.number, name), "")
    actions.consensus(exp, run)
    actions.run_result(exp, run)


def build(exp: spec.Experiment, scores: list[float | None], reasoning: str = HOSTILE) -> None:
    """(a score None: that run's judgment is invalid)"""
    """The tree's results, frames, statistics and report, as the graph's tasks build them (cwd: the root)."""
    actions.setup(exp)
    for n, score in enumerate(scores, 1):
        fabricate_run(exp, SP.run(n), score, reasoning)
    actions.subtest(exp, SP)
    actions.tier(exp, "T0")
    actions.experiment(exp)
    frames.build_subtest(exp, SP)
    frames.concatenate([frames.part_dir(SP.dir)], frames.part_dir("T0"))
    frames.concatenate([frames.part_dir("T0")], frames.DATA_DIR)
    summary.build(summary.Scope.of(exp))
    for name in tables.of_experiment():
        tables.build(name)
    for name in figures.FIGURES:
        figures.build(name, exp.tiers)
    report.build_subtest(exp, SP)
    report.build_index(exp)


@pytest.fixture
def one_run(tmp_path, monkeypatch) -> spec.Experiment:
    monkeypatch.chdir(tmp_path)
    exp = one_run_experiment()
    build(exp, [0.85])
    return exp


def page(path: str) -> str:
    return Path(path).read_text(encoding="utf-8")


def without_bundle(text: str) -> str:
    return text.replace(report.vega_bundle(), "")


def hrefs(text: str) -> list[str]:
    return [html.unescape(h) for h in re.findall(r'href="([^"]*)"', text)]


def test_a_judges_reasoning_and_criteria_are_shown_as_text_never_run(one_run):
    run_page = page(SP.run(1).html_page)
    shown = re.findall(r'<pre class="reasoning">(.*?)</pre>', run_page, re.DOTALL)
    assert [html.unescape(s) for s in shown] == [HOSTILE]          # every character of it, as text
    assert "<script>document.title" not in run_page and "<b>bold" not in run_page
    assert run_page.count("<script") == 1                           # the page's own (sortable tables)
    assert "&lt;img src=x onerror=" in run_page and "<img" not in run_page
    assert EXPLANATION in html.unescape(run_page)


def test_every_relative_link_of_every_page_leads_to_a_file(one_run):
    pages = [report.INDEX, f"{SP.html_dir}/index.html", SP.run(1).html_page]
    for p in pages:
        links = [h.split("#")[0] for h in hrefs(page(p)) if not h.startswith("#")]
        assert links, p
        missing = [h for h in links if not (Path(p).parent / h).exists()]
        assert not missing, (p, missing)
    run_links = hrefs(page(SP.run(1).html_page))
    for raw in ("agent/stdout.log", "agent/patch.diff", "commands/test.log", "judge/judge_02/response.txt"):
        assert f"../../../../T0/00/run_01/{raw}" in run_links, raw


def facts(text: str) -> dict[str, list[str]]:
    """A page's <dt>/<dd> pairs as text: name -> each value shown under it."""
    out: dict[str, list[str]] = {}
    for name, value in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", text, re.DOTALL):
        out.setdefault(html.unescape(name), []).append(html.unescape(re.sub(r"<[^>]+>", "", value)))
    return out


def test_a_run_page_shows_its_judge_pipeline_tokens_cost_and_time(one_run):
    text = page(SP.run(1).html_page)
    shown = facts(text)
    assert "<h3>judge_02: scripted-hello-judge <small>(command)</small></h3>" in text
    assert shown["verdict"] == ["score 0.850, grade A, pass"]
    assert shown["tokens"] == ["35 total: 10 input, 20 output, 0 cache creation, 5 cache read"]
    assert shown["agent cost"] == shown["judge cost"] == ["unknown"]          # never $0.0000
    assert shown["cost, time"] == ["unknown, 0.50 s"]
    assert shown["time"] == ["agent 1.25 s, judges 0.50 s, total 1.75 s"]
    assert shown["patch"] == ["1 file, +2 −1 lines"]
    assert "Tests: 3 of 3 passed" in text
    assert "<div><strong>F1</strong> (1.00 / 2.00): half</div>" in text


def test_the_index_of_one_run_and_one_judge_says_what_cannot_be_computed_and_flags_it(one_run):
    index = without_bundle(page(report.INDEX))
    stats = json.loads(Path(summary.STATISTICAL_RESULTS).read_text())
    alpha = stats["judges"]["alpha"]["interval"]
    assert alpha["value"] is None and alpha["reason"]
    assert html.escape(alpha["reason"]) in index                   # the reason, where a number would be
    for word in ("NaN", "nan", "None", "Infinity", "undefined"):
        assert not re.search(rf"\b{word}\b", index), word
    cost_card = re.search(r'<div class="card" id="card-cost">(.*?)</div>\n</div>', index, re.DOTALL)
    assert cost_card and "unknown" in cost_card.group(1) and "$0.0000" not in cost_card.group(1)
    quality = {html.unescape(name): int(count) for name, count in re.findall(
        r'<tr id="flag-[^"]*"><td>([^<]*)</td><td class="n">(\d+)</td>', index)}
    assert quality["unknown agent cost"] == 1 and quality["unknown judge cost"] == 1
    assert quality["cells with n < 2"] == 1 and quality["split decisions"] == 0
    assert 'href="T0/00/run_01.html"' in index
    ids = [i for i in re.findall(r'<div class="chart" id="([^"]+)"', index) if i.startswith("chart-")]
    assert ids == ["chart-score", "chart-pass-rate"]                # the cost charts: no known cost
    assert len(re.findall(r'<div class="chart" id="figure-', index)) == len(figures.FIGURES)
    for chart in ids:
        spec_text = re.search(rf'<script type="application/json" id="spec-{chart}">(.*?)</script>', index, re.DOTALL)
        assert spec_text and json.loads(spec_text.group(1))["layer"]


def test_the_pages_are_the_same_bytes_when_rebuilt(one_run):
    before = {p: Path(p).read_bytes() for p in (report.INDEX, SP.run(1).html_page, f"{SP.html_dir}/index.html")}
    report.build_subtest(one_run, SP)
    report.build_index(one_run)
    assert {p: Path(p).read_bytes() for p in before} == before


def test_summary_md_is_a_short_summary_and_the_markdown_reports_link_to_the_html_report(one_run):
    summary_md, report_md = page("summary.md"), page("report.md")
    assert summary_md != report_md and "|" not in summary_md        # no table: that is report.md's
    assert "Highest score (best subtest's median): **T0**" in summary_md
    assert f"]({tree.HTML_REPORT})" in summary_md and f"]({tree.HTML_REPORT})" in report_md
    assert "](../../analysis/report/T0/00/index.html)" in page("T0/00/report.md")
    assert "](../../../analysis/report/T0/00/run_01.html)" in page("T0/00/run_01/report.md")
    assert "](../analysis/report/index.html#tier-T0)" in page("T0/summary.md")
    assert 'url=analysis/report/index.html"' in page("report.html")


def test_a_tier_table_row_sorts_by_the_numbers_it_shows(tmp_path, monkeypatch):
    """Two runs: the sortable cells carry their exact values (data-v) beside the formatted text."""
    monkeypatch.chdir(tmp_path)
    build(one_run_experiment(runs=2), [0.9, 0.3], reasoning="ok")
    index = without_bundle(page(report.INDEX))
    row = re.search(r'<table class="sortable" id="tier-table">.*?<tbody>\s*<tr>(.*?)</tr>', index, re.DOTALL)
    cells = re.findall(r'data-v="([^"]*)"', row.group(1)) if row else []
    mean = json.loads(Path(summary.SUMMARY).read_text())["tiers"]["T0"]["mean_score"]["value"]
    assert mean == pytest.approx(0.6) and repr(mean) in cells


def test_an_empty_analysis_renders_with_nothing_made_up():
    """summary.json and statistical_results.json with none of their keys: every number is a dash."""
    text = report.index_html("x", report.Analysis({}, {}), [], {}, None)
    assert "No chart" in text and "<script>" in text and report.vega_bundle() not in text
    assert not re.search(r"\d\.\d{3}", text)


def test_a_figures_spec_is_embedded_as_one_more_chart(one_run):
    """The hook for the analysis:figures/* tasks: each .vl.json becomes a chart container and its spec, as is."""
    figure = Path(figures.FIGURES_DIR) / "demo.vl.json"
    spec_doc = {"$schema": "https://vega.github.io/schema/vega-lite/v6.json", "mark": "bar",
                "data": {"values": [{"tier": "T0", "n": 1}]},
                "encoding": {"x": {"field": "tier", "type": "nominal"}, "y": {"field": "n", "type": "quantitative"}},
                "title": "</script><script>alert(1)</script>"}
    durable.write_json(figure, spec_doc)
    text = report.index_html("hello", report.load_analysis(), report.read_csv(frames.runs_csv(frames.DATA_DIR)), {},
                             None, report.figure_charts([str(figure)]))
    assert re.findall(r'<div class="chart" id="([^"]+)"', text)[-1] == "figure-demo"
    embedded = re.search(r'<script type="application/json" id="spec-figure-demo">(.*?)</script>', text, re.DOTALL)
    assert embedded and json.loads(embedded.group(1)) == spec_doc         # (its "</" escaped: it cannot end the element)


def test_the_accessor_reads_the_keys_the_statistics_write(one_run):
    """A key renamed in summary.json or statistical_results.json would show as "—" everywhere: every key
    report.Analysis reads is in what analysis:stats writes (docs/numbers.md, "Statistics")."""
    s = json.loads(Path(summary.SUMMARY).read_text())
    r = json.loads(Path(summary.STATISTICAL_RESULTS).read_text())
    cell_keys = {"runs", "subtests", "passed", "total_cost_usd", "total_judge_cost_usd", "tokens", "durations",
                 "pass_at_k", "pass_hat_k", "grades", "outcomes"}
    assert {"tier_order", "settings", "overall", "tiers", "subtests", "frontier", "criteria"} <= set(s)
    for cell in (s["overall"], s["tiers"]["T0"]):
        assert set(report.CELL_ESTIMATES) - {"consistency"} | cell_keys <= set(cell)
    assert {"consistency", "pass_rate", "mean_score", "mean_cost_usd", "runs", "passed"} <= set(s["subtests"]["T0/00"])
    assert set(report.TOKEN_KEYS) <= set(s["overall"]["tokens"])
    assert {"agent_seconds", "judge_seconds", "total_seconds"} <= set(s["overall"]["durations"])
    assert {"tier", "cost_of_pass", "pareto", "probability", "left_out"} <= set(s["frontier"])
    assert {"weight", "overall", "tiers"} <= set(s["criteria"]["functional"]) and "mean" in s["criteria"]["functional"]["overall"]
    assert {"tier_comparisons", "correlations", "judges", "power", "registry"} <= set(r)
    assert {"omnibus", "pairs"} <= set(r["tier_comparisons"]) and {"statistic", "p"} <= set(r["tier_comparisons"]["omnibus"])
    assert {"slots", "alpha", "pairs", "leniency", "split_decision_rate", "leave_one_out", "pipeline"} <= set(r["judges"])
    assert {"interval", "ordinal", "nominal"} <= set(r["judges"]["alpha"])
    assert {"comparisons", "runs_needed"} <= set(r["power"])
    assert all({"correction", "alpha", "tests"} <= set(f) for f in r["registry"].values()) and r["registry"]


def test_an_invalid_judgment_is_flagged_and_its_run_shows_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    build(one_run_experiment(runs=2), [0.9, None], reasoning="ok")
    index = without_bundle(page(report.INDEX))
    flags = dict(re.findall(r'<tr id="(flag-[^"]*)"><td>[^<]*</td><td class="n">(\d+)</td>', index))
    assert flags["flag-invalid-judgments"] == "1" and flags["flag-runs-with-no-valid-judgment"] == "1"
    row = re.search(r'<tr id="flag-invalid-judgments">.*?</tr>', index, re.DOTALL)
    assert row and 'href="T0/00/run_02.html"' in row.group(0) and "run_01" not in row.group(0)
    shown = facts(page(SP.run(2).html_page))
    assert shown["verdict"] == ["score 0.000, grade F, invalid"]
    assert shown["consensus"][0].endswith("invalid (0 of 1 judges valid, 0 pass votes)")
