"""`doit status` against what the following real `doit` executes, on the example in several states.

"to run" must be exactly what doit executes where the graph decides it, and a lower bound where an
agent's or judge's new answer decides it: then the extra tasks doit executes come from "may run".
Paid work is always exact: the adapter calls the scripted agent and judge count ($SCYLLA_CALL_LOG)
are the agent and judge tasks listed as to run.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys

import pytest
from conftest import claude_ready_env, downstream

from scylla.kinds import TaskId
from scylla.status import Selection

PAID = ("agent", "judge", "pipeline", "baseline")


def _status(checkout, *args: str) -> dict:
    return json.loads(checkout.doit("status", "--json", *args).stdout)


def _paid(names) -> set[str]:
    return {n for n in names if n.split(":")[0] in PAID}


def _kind(name: str) -> str:
    """The kind of a task named in the JSON report (names mirror paths: `judge:T0/00/run_01/judge_02`)."""
    return name.partition(":")[0]


def _expected_calls(names) -> tuple[list[str], list[str]]:
    """Adapter calls the scripted agent and (command) judges log for these tasks (slot 1 is the pipeline judge)."""
    ids = [TaskId(n, _kind(n), slot=n.rsplit("/", 1)[1] if _kind(n) == "judge" else None) for n in names]
    agents = sorted(n.partition(":")[2] for n, t in zip(names, ids) if t.kind == "agent")
    judges = sorted(f"{n.partition(':')[2].rsplit('/', 1)[0]} {int(str(t.slot)[6:])}" for n, t in zip(names, ids)
                    if t.kind == "judge" and t.slot != "judge_01")
    return agents, judges


def _assert_predicted(checkout, st: dict, run, exact: bool = True) -> None:
    executed, to_run, may_run = set(run.executed), set(st["to_run"]), set(st["may_run"])
    assert to_run <= executed, sorted(to_run - executed)
    assert executed <= to_run | may_run, sorted(executed - to_run - may_run)
    if exact:       # (but a figure or table over inputs whose next bytes are unknown "may run", and runs if they differ)
        assert _but_figures(executed - to_run) == set()
    assert _paid(executed) == _paid(to_run)              # no paid "may run" task ran in these states
    agents, judges = _expected_calls(st["to_run"])
    assert sorted(checkout.calls("agent")) == agents
    assert sorted(checkout.calls("judge")) == judges


def _but_figures(names) -> set[str]:
    """A figure or table reads frames or statistics whose next bytes the plan may not know (a new verdict
    decides): it "may run", and runs when they come out different."""
    return {n for n in names if not n.startswith(("analysis:figures/", "analysis:tables/"))}


def _why(checkout, *args: str) -> dict[str, str]:
    """task -> reasons, from `doit status --why`."""
    out = checkout.doit("status", "--why", *args).stdout
    listed = out[out.index("Would run ("):]
    return dict(ln.strip().split(": ", 1) for ln in listed.splitlines() if ln.startswith("  "))


def test_fresh_then_half_done_status_is_what_doit_executes(fresh, completed):
    st = _status(fresh)
    assert st["may_run"] == [] and st["blocked"] == []
    assert set(st["to_run"]) == set(completed[1].executed)          # the README's first `doit`, same tree
    assert st["runs"]["expected"] == 10 and st["runs"]["agent"] == 10
    selected = _status(fresh, "tier:T0")                             # what `doit tier:T0` would run
    part = fresh.doit("tier:T0")
    _assert_predicted(fresh, selected, part)
    assert "tier:T1" not in part.executed and "agent:T1/01/run_01" not in part.executed
    fresh.reset_calls()
    half = _status(fresh)
    assert half["table"]["agent"]["T0"] == {"done": 4} and half["table"]["agent"]["T1"] == {"to_run": 4}
    _assert_predicted(fresh, half, fresh.doit())
    assert _status(fresh)["to_run"] == []


def test_deleted_derived_files_rebuild_exactly_what_status_says(hello):
    deleted = ["T0/01/run_02/run_result.json", "T1/01/run_01/agent/result.json", "T5/01/run_02/judge_prompt.md",
               "T0/report.md"]
    for rel in deleted:
        (hello.root / rel).unlink()
    st = _status(hello)
    assert st["to_run"] == ["agent_result:T1/01/run_01", "judge_prompt:T5/01/run_02", "run:T0/01/run_02", "tier:T0"]
    assert st["may_run"] == [] and st["forecast"]["rows"] == {}
    why = _why(hello)
    assert why["run:T0/01/run_02"] == "missing target: T0/01/run_02/run_result.json"
    _assert_predicted(hello, st, hello.doit())


def test_a_new_judge_slot(hello):
    hello.edit_spec(lambda s: s["judges"].append(
        {"adapter": "command", "model": "scripted-hello-judge-3", "command": s["judges"][1]["command"]}))
    st = _status(hello)
    slot2 = st["judges"]["judge_02"]      # judged; those of runs whose agent may re-run (a new best subtest) may run
    assert st["judges"]["judge_03"]["to_run"] == 10 and slot2["to_run"] == 0 and slot2["valid"] + slot2["may_run"] == 10
    assert st["forecast"]["rows"]["judge_03"]["to_run"] == 10
    bests = {t: (hello.root / f"{t}/best_subtest.json").read_bytes() for t in ("T0", "T1")}
    # the new judge's durations enter every result above its runs: those aggregates certainly run
    assert {_kind(n) for n in st["to_run"]} == \
        {"setup", "judge", "judgment", "consensus", "run", "subtest", "tier", "experiment", "analysis"}
    run = hello.doit()
    # whether a tier's best subtest changes, and with it the agents of the tiers that inherit it, depends
    # on the new judge's scores: those "may run"; here the new verdicts kept every tier's best subtest
    _assert_predicted(hello, st, run)
    assert all((hello.root / f"{t}/best_subtest.json").read_bytes() == b for t, b in bests.items())
    assert not any(t.startswith(("agent:", "subtest_config:")) for t in run.executed)


def test_a_failed_judge_and_an_invalid_judgment(hello):
    hello.edit_spec(lambda s: s["judges"][1].__setitem__("model", "scripted-hello-judge-v2"))
    why = _why(hello)
    assert why["judge:T0/00/run_01/judge_02"] == \
        "configuration changed: model 'scripted-hello-judge' -> 'scripted-hello-judge-v2'"
    assert why["setup"] == "configuration changed"          # (config/experiment.json names the judges)
    first = hello.doit("--continue", env={"SCYLLA_EXAMPLE_JUDGE_FAIL": "T0/00/run_01",
                                          "SCYLLA_EXAMPLE_JUDGE_GARBAGE": "T0/01/run_01"}, check=False)
    assert first.returncode != 0
    hello.reset_calls()

    st = _status(hello)
    assert st["failed_last_time"] == ["judge:T0/00/run_01/judge_02"]
    assert st["invalid"] == ["judge:T0/01/run_01/judge_02"]
    assert st["tasks"]["judge:T0/00/run_01/judge_02"]["reasons"][0].startswith("failed last time (infra failure")
    assert st["judges"]["judge_02"]["invalid"] == 1 and st["judges"]["judge_02"]["failed"] == 1
    assert st["runs"]["failed"] == 1
    second = hello.doit()
    # the failure did not make doit forget the consensus records it blocked: each consensus of a judge
    # that runs now "may run" (the new reply decides), and these replies change every one of them
    _assert_predicted(hello, st, second, exact=False)
    rejudged = {n.split(":")[1].rsplit("/", 1)[0] for n in st["to_run"] if n.startswith("judge:")}
    assert _but_figures(set(second.executed) - set(st["to_run"])) == {f"consensus:{r}" for r in rejudged}
    assert _status(hello)["to_run"] == []

    hello.reset_calls()
    rejudge = _status(hello, "rejudge=invalid")
    assert _paid(rejudge["to_run"]) == {"judge:T0/01/run_01/judge_02"}
    assert rejudge["tasks"]["judge:T0/01/run_01/judge_02"]["reasons"] == \
        ["invalid judgment, re-judging on request (rejudge=invalid)"]
    assert {"run:T0/01/run_01", "subtest:T0/01", "tier:T0", "experiment"} <= set(rejudge["to_run"])
    again = hello.doit("rejudge=invalid")     # (whether consensus changes is the new verdict's to decide)
    _assert_predicted(hello, rejudge, again, exact=False)
    assert _but_figures(set(again.executed) - set(rejudge["to_run"])) == {"consensus:T0/01/run_01"}
    assert _status(hello)["invalid"] == []


def test_why_names_the_edited_rubric_and_the_views_filter(hello):
    rubric = hello.path / "examples/hello/fixture/expected/rubric.yaml"
    rubric.write_text(rubric.read_text() + "\n# stricter wording\n")
    why = _why(hello)
    assert why["setup"] == "changed input: ../../fixture/expected/rubric.yaml"
    assert why["judge_prompt:T0/00/run_01"] == "upstream will run: setup (changes rubric.yaml)"
    assert "upstream will run: setup (changes rubric.yaml)" in why["judge:T1/02/run_01/judge_01"]   # pipeline judge
    st = _status(hello)
    assert {t for t in st["to_run"] if t.startswith("judge:")} >= {f"judge:T0/00/run_01/judge_0{n}" for n in (1, 2)}
    assert not any(t.startswith("agent:") for t in st["to_run"])

    narrowed = _status(hello, "--tier", "T0", "--kind", "judge_02", "--runs", "2")
    assert narrowed["to_run"] == ["judge:T0/00/run_02/judge_02", "judge:T0/01/run_02/judge_02"]
    assert set(narrowed["table"]) == {"judge_02"} and set(narrowed["table"]["judge_02"]) == {"T0"}
    text = hello.doit("status").stdout
    assert any(ln.startswith("judge_01 ") for ln in text.splitlines())      # one row per judge slot
    assert any(ln.startswith("judge_02 ") for ln in text.splitlines())
    assert "Total expected runs: 10" in text and "⚖ to judge" in text and "Forecast" in text
    elsewhere = subprocess.run([sys.executable, "-m", "scylla.cli", "status", "--json", f"exp={hello.spec}"],
                               cwd=hello.path.parent, capture_output=True, text=True, check=True)  # no dodo.py there
    assert json.loads(elsewhere.stdout)["to_run"] == st["to_run"]


def test_selection_and_what_tasks_say_they_are(tmp_path):
    """Every task carries its kind, tier, subtest, run and slot in its metadata (nothing parses names)."""
    from conftest import hello_graph
    from doit.task import Task

    from scylla.kinds import task_id
    ids = {(t := task_id(Task(f"{d['basename']}:{d['name']}" if d.get("name") else d["basename"], None,
                               meta=d.get("meta")))).name: t for d in hello_graph(tmp_path)}
    t = ids["judge:T0/01/run_03/judge_02"]
    assert (t.kind, t.tier, t.subtest, t.run, t.slot, t.row) == ("judge", "T0", "T0/01", 3, "judge_02", "judge_02")
    assert ids["judgment:T0/01/run_03/judge_02"][1:] == ("judgment", "T0", "T0/01", 3, None)
    assert ids["tier:T5"].tier == "T5" and ids["experiment"].tier is None and ids["preflight"].kind == "preflight"
    assert ids["subtest:T1/02"][1:] == ("subtest", "T1", "T1/02", None, None)
    sel = Selection.parse(tier="T0,T1", subtest="01", runs="1,3", kind="judge")
    assert sel(t) and not sel(ids["judge:T0/01/run_02/judge_02"])
    assert not sel(ids["judge:T5/01/run_01/judge_02"]) and not sel(ids["run:T0/01/run_01"])


@pytest.mark.e2e                # `scylla adopt` in a subprocess
def test_an_adopted_projectscylla_tree_shows_exactly_its_unfinished_work(tmp_path):
    from test_adopt import FINISHED, UNFINISHED, _adopt, _doit, _setup
    checkout, hello, ps = _setup(tmp_path, "completed", FINISHED)
    _adopt(checkout, hello, ps)
    st = json.loads(_doit(checkout, ps, "status", "--json", env=claude_ready_env(tmp_path)).stdout)
    # preflight runs in the first `doit` after adoption (adoption runs no check for paid work)
    assert set(st["to_run"]) == UNFINISHED | {"preflight"} and st["may_run"] == [] and st["blocked"] == []
    assert st["runs"]["expected"] == 8 and st["runs"]["agent"] == 1        # the rate-limited run, from its agent on


def _snapshot(root) -> dict:
    """Every file of the tree (size, mtime, bytes) and every record of doit's DB."""
    files = {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns, p.read_bytes())
             for p in root.rglob("*") if p.is_file() and not p.name.startswith("doit.db")}
    with sqlite3.connect(root / ".scylla/doit.db") as db:
        return {**files, "doit.db": sorted(db.execute("select task_id, task_data from doit"))}


def test_status_dry_runs_in_scratch_and_writes_nothing(hello, tmp_path):
    rubric = hello.path / "examples/hello/fixture/expected/rubric.yaml"
    rubric.write_text(rubric.read_text() + "\n# stricter wording\n")      # setup, judge prompts: dry-run
    (hello.root / "T0/00/run_01/run_result.json").unlink()
    hello.edit_spec(lambda s: s["judges"][1].__setitem__("model", "scripted-hello-judge-v2"))
    before = _snapshot(hello.root)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    st = json.loads(hello.doit("status", "--json", env={"TMPDIR": str(scratch)}).stdout)
    assert "upstream will run: setup (changes rubric.yaml)" in st["tasks"]["judge_prompt:T0/00/run_01"]["reasons"]
    assert _snapshot(hello.root) == before
    assert list(scratch.iterdir()) == []                 # the scratch directory is gone too
    assert hello.calls("agent") == [] and hello.calls("judge") == []


def test_a_lost_raw_capture_is_named_once_with_the_command_and_price_to_rebuy_it(hello):
    """Only what a finished paid task captured is lost. What was derived from it stands, and so does
    everything built on that, in this tier and in the tiers inheriting from it; what must be derived
    from it again is blocked, nothing else."""
    (hello.root / "T1/01/run_02/agent/stdout.log").unlink()
    (hello.root / "T1/01/run_02/agent/patch.diff").unlink()
    st = _status(hello)
    seal = str(hello.root / "T1/01/run_02/agent/.seal.json")
    assert [(x["file"], x["paid_task"], x["rebuy"]) for x in st["lost"]] == [
        ("T1/01/run_02/agent/patch.diff", "agent:T1/01/run_02", f"rm {seal} && doit agent:T1/01/run_02"),
        ("T1/01/run_02/agent/stdout.log", "agent:T1/01/run_02", f"rm {seal} && doit agent:T1/01/run_02")]
    t1_costs = [hello.json(f"T1/{s}/run_0{n}/agent/result.json")["cost_usd"] for s in ("01", "02") for n in (1, 2)]
    assert st["lost"][0]["price_usd"] == pytest.approx(sum(t1_costs) / 4)     # the mean of T1's finished agents
    assert st["to_run"] == st["may_run"] == st["blocked"] == []
    text = hello.doit("status").stdout
    assert "Lost (2)" in text and text.count("agent:T1/01/run_02;") == 2
    assert hello.doit().executed == [] and hello.doit("--continue").executed == []

    (hello.root / "T1/01/run_02/agent/result.json").unlink()              # now it must be derived again
    st = _status(hello)
    assert len(st["lost"]) == 2 and st["to_run"] == [] and st["may_run"] == []
    assert set(st["blocked"]) == downstream(hello, {"agent_result:T1/01/run_02"}), st["blocked"]
    run = hello.doit("--continue", check=False)
    assert run.returncode != 0 and "T1/01/run_02/agent/stdout.log" in run.stdout + run.stderr
    assert set(run.executed) <= set(st["blocked"]) and hello.calls("agent") == hello.calls("judge") == []

    subprocess.run(st["lost"][0]["rebuy"].split(" && ")[0].split(), check=True)       # re-buy it
    assert _status(hello)["lost"] == []
    hello.doit()
    # the scripted agent answers as before: the same judge prompt, so the judgments stand
    assert hello.calls("agent") == ["T1/01/run_02"] and hello.calls("judge") == []
    assert hello.doit().executed == []


def test_a_damaged_raw_capture_is_lost_not_a_new_measurement(hello):
    """A truncated log differs from what its seal recorded: nothing is derived from it, no number changes."""
    log = hello.root / "T1/02/run_01/agent/stdout.log"
    log.write_bytes(log.read_bytes()[:40])
    before = hello.json("T1/02/run_01/run_result.json")
    st = _status(hello)
    assert [(x["file"], x["damage"]) for x in st["lost"]] == [("T1/02/run_01/agent/stdout.log", "differs from its seal")]
    assert st["to_run"] == st["blocked"] == []
    assert hello.doit().executed == [] and hello.json("T1/02/run_01/run_result.json") == before
    (hello.root / "T1/02/run_01/agent/result.json").unlink()
    st = _status(hello)
    assert set(st["blocked"]) == downstream(hello, {"agent_result:T1/02/run_01"}) and st["to_run"] == []
    run = hello.doit("--continue", check=False)
    assert run.returncode != 0 and "input lost: T1/02/run_01/agent/stdout.log" in run.stdout, str(run)
    assert not (hello.root / "T1/02/run_01/agent/result.json").exists()
    assert hello.json("T1/02/run_01/run_result.json") == before
    assert hello.calls("agent") == hello.calls("judge") == []
