"""The pipeline's toolchain is part of its identity: another ruff makes every pipeline (and the baseline)
stale, and they re-run for free; the judges that read their evidence may re-run and are priced first."""

from __future__ import annotations

import importlib.metadata
import json

from conftest import other_ruff_env


def test_a_new_toolchain_lists_every_pipeline_to_run_and_prices_the_judges_that_may(hello, tmp_path):
    pipelines = sorted(p.relative_to(hello.root).parent.parent.as_posix()
                       for p in hello.root.glob("T*/*/run_*/commands/pipeline.json"))
    assert len(pipelines) == 10
    installed = importlib.metadata.version("ruff")
    before = {r: hello.json(f"{r}/commands/pipeline.json") for r in pipelines}
    for result in [*before.values(), hello.json("pipeline_baseline.json")]:
        assert result["toolchain"]["ruff"] == installed
        # ruff is a dependency: lint and format run (the example's code passes both)
        assert (result["steps"]["lint"]["status"], result["steps"]["format"]["status"]) == ("pass", "pass")
    judged = {r: hello.json(f"{r}/judge/judge_02/judgment.json") for r in pipelines}

    other = other_ruff_env(tmp_path)
    st = json.loads(hello.doit("status", "--json", env=other).stdout)
    assert sorted(st["to_run"]) == sorted(["baseline", *(f"pipeline:{r}" for r in pipelines)])
    assert st["blocked"] == [] and st["refused"] == []
    reasons = st["tasks"][f"pipeline:{pipelines[0]}"]["reasons"]
    assert reasons == [f"configuration changed: toolchain ruff {installed!r} -> '0.0.1'"]
    # what reads the pipelines' evidence may re-run (if a result comes out different), and is priced
    may = set(st["may_run"])
    assert {f"judge_prompt:{r}" for r in pipelines} <= may
    assert {f"judge:{r}/judge_{n:02d}" for r in pipelines for n in (1, 2)} <= may
    # and so may the agents of the tiers whose configuration extends a best subtest (the scores choose it)
    assert sorted(t for t in st["may_run"] if t.startswith("agent:")) == [
        f"agent:{s}/run_0{n}" for s in ("T1/01", "T5/01") for n in (1, 2)]
    rows = st["forecast"]["rows"]
    # the scripted judge reports no cost (unknown, docs/numbers.md): its calls that may run stay unpriced
    assert (rows["judge_02"]["to_run"], rows["judge_02"]["may_run"], rows["judge_02"]["may_unpriced"]) == (0, 10, 10)
    assert (rows["agent"]["to_run"], rows["agent"]["may_run"], rows["agent"]["may_unpriced"]) == (0, 4, 0)
    # the agents are priced from what they cost last time (the scripted agent reports a cost)
    assert all(b.startswith("mean of ") for b in rows["agent"]["basis"]), rows
    assert st["forecast"]["assumption"] is None
    assert rows["agent"]["may_cost_usd"] > 0
    assert st["forecast"]["cost_usd"] == 0 and st["forecast"]["may_cost_usd"] > 0
    text = hello.doit("status", env=other).stdout
    assert f"${st['forecast']['may_cost_usd']:.2f}" in text, text

    run = hello.doit(env=other)
    assert set(st["to_run"]) <= set(run.executed) <= set(st["to_run"]) | may
    assert hello.calls("agent") == [] and hello.calls("judge") == []
    for r in pipelines:
        after = hello.json(f"{r}/commands/pipeline.json")
        assert after["toolchain"]["ruff"] == "0.0.1"
        assert {**after, "toolchain": None} == {**before[r], "toolchain": None}     # the same results
        assert hello.json(f"{r}/judge/judge_02/judgment.json") == judged[r]
    assert hello.json("pipeline_baseline.json")["toolchain"]["ruff"] == "0.0.1"
    assert json.loads(hello.doit("status", "--json", env=other).stdout)["to_run"] == []
    # back to the installed ruff: stale again
    assert "baseline" in json.loads(hello.doit("status", "--json").stdout)["to_run"]
