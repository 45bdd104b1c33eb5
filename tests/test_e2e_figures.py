"""The analysis figures (analysis/figures/) on examples/hello, by real `doit`: the README's `doit` renders every
one (valid Vega-Lite, SVG and PNG), a second `doit` renders none, `doit 'analysis:*'` from nothing gives the
same bytes each time, and a re-judged slot re-renders just the figures whose inputs (frames, statistics) came
out different, as `doit status` predicted."""

from __future__ import annotations

import csv
import io
import json
import shutil
import xml.etree.ElementTree as ET

import altair as alt
import pytest
from altair.utils.schemapi import validate_jsonschema

from scylla.analysis import figures

pytestmark = pytest.mark.e2e

TASKS = {f"analysis:figures/{name}" for name in figures.FIGURES}


def _figures(root) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted((root / figures.FIGURES_DIR).iterdir())}


def test_the_main_doit_renders_every_figure_as_valid_vega_lite_svg_and_png(completed):
    checkout, first, second = completed
    assert TASKS <= set(first.executed) and second.executed == []
    root = checkout.root
    assert set(_figures(root)) == {p.split("/")[-1] for n in figures.FIGURES for p in figures.targets(n)}
    schema = alt.vegalite.v6.schema.core.load_schema()
    for name in figures.FIGURES:
        spec_path, csv_path, svg_path, png_path = (root / p for p in figures.targets(name))
        spec = json.loads(spec_path.read_text())
        validate_jsonschema(spec, schema)               # raises on a spec Vega-Lite would not take
        assert png_path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), name
        assert ET.parse(svg_path).getroot().tag == "{http://www.w3.org/2000/svg}svg", name
        rows = list(csv.DictReader(io.StringIO(csv_path.read_text())))
        plotted = spec.get("data", {}).get("values")
        assert rows and plotted is not None and len(plotted) == len(rows), name     # hello has data for each
    # numbers: 10 runs, graded as the frames say; the subtest × run heatmap holds every run's score
    runs = list(csv.DictReader(io.StringIO((root / "analysis/data/runs.csv").read_text())))
    grades = list(csv.DictReader(io.StringIO((root / "analysis/figures/grade_distribution.csv").read_text())))
    assert sum(int(r["runs"]) for r in grades) == len(runs) == 10
    heat = list(csv.DictReader(io.StringIO((root / "analysis/figures/subtest_run_heatmap.csv").read_text())))
    assert sorted((r["subtest"], r["run"], r["score"]) for r in heat) == \
        sorted((f"{r['tier']}/{r['subtest']}", r["run"], r["score"]) for r in runs)


def test_analysis_glob_from_nothing_renders_the_same_bytes_each_time(hello):
    built = _figures(hello.root)
    # one by one, and 4 at a time in threads (the first imports of numpy and altair race there: analysis.load)
    for workers in ((), ("-n", "4", "-P", "thread")):
        shutil.rmtree(hello.root / "analysis")
        run = hello.doit(*workers, "analysis:*")
        assert TASKS <= set(run.executed)
        assert _figures(hello.root) == built            # .vl.json, .csv, .svg and .png: byte for byte
    # a frame rebuilt with the same bytes stops there; a damaged figure is rendered again, alone
    (hello.root / "analysis/data/runs.csv").write_text("damaged\n")
    png = hello.root / "analysis/figures/token_mix.png"
    png.write_bytes(png.read_bytes()[:100])
    assert sorted(hello.doit("analysis:*").executed) == ["analysis:figures/token_mix", "analysis:frames"]
    assert _figures(hello.root) == built and hello.doit().executed == []


def test_a_rejudged_slot_re_renders_just_the_figures_whose_inputs_changed_as_predicted(hello):
    run = "T0/00/run_01"
    (hello.root / run / "judge/judge_02/.seal.json").unlink()       # re-judge one slot: the same verdict, a new timing
    status = json.loads(hello.doit("status", "--json").stdout)
    predicted = {n for n in status["to_run"] if n.startswith("analysis:figures/")}
    # runs.csv certainly changes (the run's newest measurement); the other frames and the statistics may
    assert predicted == {f"analysis:figures/{n}" for n, f in figures.FIGURES.items() if "runs" in f.inputs}
    assert TASKS - predicted <= set(status["may_run"])
    inputs = {name: (hello.root / path).read_bytes() for name, path in figures.INPUTS.items()}
    criteria = hello.root / "analysis/figures/criteria_by_tier.png"
    before = criteria.read_bytes(), criteria.stat().st_mtime_ns
    done = hello.doit()
    assert set(hello.calls("judge")) == {f"{run} 2"}
    changed = {name for name, path in figures.INPUTS.items() if (hello.root / path).read_bytes() != inputs[name]}
    # the verdict and criteria are the same: criteria.csv keeps its bytes, and its figure is not rendered again
    assert "runs" in changed and "criteria" not in changed
    assert {n for n in done.executed if n.startswith("analysis:figures/")} == \
        {f"analysis:figures/{n}" for n, f in figures.FIGURES.items() if changed & set(f.inputs)}
    assert (criteria.read_bytes(), criteria.stat().st_mtime_ns) == before
    assert set(status["to_run"]) <= set(done.executed) <= set(status["to_run"]) | set(status["may_run"])
    assert hello.doit().executed == []
