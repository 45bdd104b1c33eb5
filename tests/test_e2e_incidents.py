"""Incidents the old hand-written tools got wrong, each replayed through real `doit` on a real tree.
Adapter invocations are counted by the scripted agent and judge themselves ($SCYLLA_CALL_LOG)."""

from __future__ import annotations

import orjson
from conftest import downstream

PAID = ("agent:", "judge:", "pipeline:", "baseline")


def _paid(tasks) -> list[str]:
    return [t for t in tasks if t.startswith(PAID)]


def _set_judge_model(slot: int, model: str):
    return lambda spec: spec["judges"][slot - 1].__setitem__("model", model)


def test_a_deleted_run_result_is_restored_identically_without_paid_calls(hello):
    target = hello.root / "T0/01/run_02/run_result.json"
    before = target.read_bytes()
    target.unlink()
    status = hello.status()
    assert _paid(t for t, s in status.items() if s != "U" and ":" in t) == []
    assert status["run:T0/01/run_02"] == "R"
    run = hello.doit()
    assert target.read_bytes() == before
    assert "run:T0/01/run_02" in run.executed
    assert set(run.executed) <= {"run:T0/01/run_02", "subtest:T0/01", "tier:T0", "experiment"}
    assert hello.calls("agent") == [] and hello.calls("judge") == []


def test_b_agent_results_regenerate_from_raw_captures(hello):
    files = sorted(hello.root.glob("T*/*/run_*/agent/result.json"))
    before = {f: f.read_bytes() for f in files}
    for f in files:
        f.unlink()
    run = hello.doit()
    assert {f: f.read_bytes() for f in files} == before
    assert sorted(t for t in run.executed if t.startswith("agent_result:")) == sorted(
        f"agent_result:{f.parent.parent.relative_to(hello.root)}" for f in files)
    assert _paid(run.executed) == []
    assert hello.calls("agent") == [] and hello.calls("judge") == []


def test_c_failed_judges_rerun_exactly_with_their_downstream(hello):
    hello.edit_spec(_set_judge_model(2, "scripted-hello-judge-v2"))
    failing = ["T0/00/run_01", "T1/02/run_02"]
    failed = {f"judge:{rid}/judge_02" for rid in failing}
    blocked = downstream(hello, failed)                      # waits for the failed judges
    slot2 = {f"judge:{p.parent.parent.relative_to(hello.root)}/judge_02"
             for p in hello.root.glob("T*/*/run_*/judge/judge_02")}
    first = hello.doit("--continue", env={"SCYLLA_EXAMPLE_JUDGE_FAIL": ",".join(failing)}, check=False)
    assert first.returncode != 0 and "Traceback" not in first.stdout + first.stderr
    attempted = {f"judge:{c.split()[0]}/judge_02" for c in hello.calls("judge")}
    assert attempted == slot2 - (blocked - failed)           # --continue finished everything else
    for task in attempted - failed:
        assert (hello.root / task.split(":")[1].replace("/judge_02", "/judge/judge_02/.seal.json")).exists()
    for rid in failing:
        tier, sub, run = rid.split("/")
        archived = hello.root / tier / sub / ".failed" / f"{run}_judge_02_attempt_01"
        assert (archived / "judge_02" / "stdout.log").exists() and (archived / "archived.json").exists()
    hello.reset_calls()
    second = hello.doit()
    assert failed <= set(second.executed) <= blocked
    assert {f"judge:{c.split()[0]}/judge_02" for c in hello.calls("judge")} == slot2 & blocked
    assert len(hello.calls("judge")) == len(slot2 & blocked) and hello.calls("agent") == []
    assert hello.doit().executed == []


def test_d_unparseable_judge_reply_is_recorded_invalid_and_rejudged_on_request(hello):
    hello.edit_spec(_set_judge_model(2, "scripted-hello-judge-v2"))
    hello.doit(env={"SCYLLA_EXAMPLE_JUDGE_GARBAGE": "T0/01/run_01"})
    assert hello.calls("judge").count("T0/01/run_01 2") == 2       # the reply was retried once
    judgment = hello.json("T0/01/run_01/judge/judge_02/judgment.json")
    assert judgment["is_valid"] is False and judgment["reasoning"].startswith("Invalid judgment")
    slot1 = hello.json("T0/01/run_01/judge/judge_01/judgment.json")
    consensus = hello.json("T0/01/run_01/judge/result.json")
    assert consensus["valid_count"] == 1 and consensus["score"] == slot1["score"]
    assert "**invalid** (excluded)" in (hello.root / "T0/01/run_01/report.md").read_text()
    assert hello.json("T0/01/result.json")["invalid_judgments"] == 1
    assert "| 1 |" in (hello.root / "T0/report.md").read_text()
    hello.reset_calls()
    assert hello.doit().executed == [] and hello.calls("judge") == []      # not retried by default
    rejudge = hello.doit("rejudge=invalid")
    assert _paid(rejudge.executed) == ["judge:T0/01/run_01/judge_02"]
    assert hello.calls("judge") == ["T0/01/run_01 2"]
    assert hello.json("T0/01/run_01/judge/judge_02/judgment.json")["is_valid"] is True
    assert (hello.root / "T0/01/.superseded/run_01_judge_02_attempt_01/judge_02/judgment.json").exists()


def test_e_rejudging_and_pipeline_work_after_the_workspace_is_gone(hello):
    workspaces = hello.root / ".scylla/workspaces"
    assert not workspaces.exists() or not any(workspaces.iterdir())
    pipeline = hello.root / "T1/01/run_01/commands/pipeline.json"
    before = pipeline.read_bytes()
    pipeline.unlink()
    hello.edit_spec(_set_judge_model(2, "scripted-hello-judge-v2"))
    run = hello.doit()
    assert pipeline.read_bytes() == before                  # re-created from base + config + patch
    assert "pipeline:T1/01/run_01" in run.executed
    assert len(hello.calls("judge")) == 10 and hello.calls("agent") == []
    assert all(hello.json(f"{r.relative_to(hello.root)}")["is_valid"]
               for r in hello.root.glob("T*/*/run_*/judge/judge_02/judgment.json"))


def test_f_adding_a_judge_slot_runs_only_its_tasks_and_aggregates(hello):
    hello.edit_spec(lambda s: s["judges"].append(
        {"adapter": "command", "model": "scripted-hello-judge-3", "command": s["judges"][1]["command"]}))
    run = hello.doit()
    judges = [t for t in run.executed if t.startswith("judge:")]
    assert len(judges) == 10 and all(t.endswith("/judge_03") for t in judges)
    assert _paid(run.executed) == judges
    assert all(t.split(":")[0] in ("judge", "judgment", "consensus", "run", "subtest", "tier", "experiment", "setup",
                                   "analysis") for t in run.executed), run.executed
    assert sorted(t for t in run.executed if t.startswith("judgment:")) == sorted(f"judgment:{t[6:]}" for t in judges)
    assert hello.calls("agent") == [] and sorted(c.split()[1] for c in hello.calls("judge")) == ["3"] * 10
    assert len(hello.json("T0/00/run_01/run_result.json")["judges"]) == 3


def test_f_changing_one_slot_model_rejudges_that_slot_only(hello):
    hello.edit_spec(_set_judge_model(2, "scripted-hello-judge-v2"))
    run = hello.doit()
    judges = [t for t in run.executed if t.startswith("judge:")]
    assert len(judges) == 10 and all(t.endswith("/judge_02") for t in judges)
    assert _paid(run.executed) == judges and hello.calls("agent") == []
    assert set(run.executed) <= downstream(hello, set(judges)) | {"setup", "experiment"}
    assert hello.json("T0/00/run_01/run_result.json")["judges"][1]["model"] == "scripted-hello-judge-v2"


def test_g_raising_runs_adds_only_the_new_runs(hello):
    hello.edit_spec(lambda s: s.__setitem__("runs", 3))
    run = hello.doit()
    per_run = [t for t in run.executed if t.split(":")[0] not in ("subtest", "tier", "experiment", "setup", "analysis")]
    assert per_run and all("/run_03" in t for t in per_run), per_run
    assert sorted(hello.calls("agent")) == sorted(f"{s}/run_03" for s in
                                                  ("T0/00", "T0/01", "T1/01", "T1/02", "T5/01"))
    assert len(hello.calls("judge")) == 5
    assert hello.json("result.json")["runs"] == 15


def test_h_inheriting_agents_keep_their_results_when_the_winner_stays(hello):
    best = {t: (hello.root / f"{t}/best_subtest.json").stat().st_mtime_ns for t in ("T0", "T1")}
    before = hello.json("T0/result.json")["best_median_score"]
    hello.edit_spec(lambda s: s["judges"][1].__setitem__("options", {"score_scale": 0.9}))   # a harsher judge
    run = hello.doit()
    assert "tier:T0" in run.executed and "tier:T1" in run.executed
    assert hello.json("T0/result.json")["best_median_score"] < before          # scores moved, winner stayed
    assert {t: (hello.root / f"{t}/best_subtest.json").stat().st_mtime_ns for t in ("T0", "T1")} == best
    assert not any(t.startswith(("subtest_config:", "agent:")) for t in run.executed)
    assert hello.calls("agent") == []


def test_h_inheriting_subtest_waits_for_its_parent_tiers(fresh):
    """Asking for the inheriting agent first on a fresh tree runs its parents first; no crash."""
    run = fresh.doit("agent:T5/01/run_01")
    order = run.executed
    assert order.index("tier:T0") < order.index("subtest_config:T5/01") < order.index("agent:T5/01/run_01")
    assert order.index("tier:T1") < order.index("subtest_config:T5/01")
    assert "agent:T5/01/run_02" not in order
    manifest = orjson.loads((fresh.root / "T5/01/config_manifest.json").read_bytes())
    assert [p["tier"] for p in manifest["inherited_from"]] == ["T0", "T1"]


def test_h_inheriting_subtest_is_blocked_not_crashed_when_a_parent_tier_fails(fresh):
    run = fresh.doit("--continue", env={"SCYLLA_EXAMPLE_JUDGE_FAIL": "T0/01/run_01"}, check=False)
    assert run.returncode != 0 and "Traceback" not in run.stdout + run.stderr
    first_agents = fresh.calls("agent")
    assert "agent:T5/01/run_01" not in run.executed and "T5/01/run_01" not in first_agents
    assert sorted(first_agents) == ["T0/00/run_01", "T0/00/run_02", "T0/01/run_01", "T0/01/run_02",
                                    "T1/02/run_01", "T1/02/run_02"]     # T1/01 extends T0: it waits too
    fresh.reset_calls()
    again = fresh.doit()
    assert "agent:T5/01/run_01" in again.executed and "experiment" in again.executed
    assert sorted(fresh.calls("agent")) == ["T1/01/run_01", "T1/01/run_02", "T5/01/run_01", "T5/01/run_02"]
    assert sorted(fresh.calls("judge")) == ["T0/01/run_01 2", "T1/01/run_01 2", "T1/01/run_02 2",
                                            "T5/01/run_01 2", "T5/01/run_02 2"]
