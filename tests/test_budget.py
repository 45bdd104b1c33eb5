"""The budget (`budget_usd`): the gate before paid work and the stop while it runs, through real doit.

Costs are the scripted agent's (a deterministic function of its configuration, $0.02-$0.04 a run);
the scripted judge reports none (unknown: counted as $0, and said so). Adapter calls are counted from
$SCYLLA_CALL_LOG.
"""

from __future__ import annotations

import re
import shutil

import pytest
from test_status import _status

from scylla.budget import money

AGENT_SEALS = "T*/*/run_*/agent/.seal.json"


def _set_budget(checkout, usd: float) -> None:
    checkout.edit_spec(lambda s: s.__setitem__("budget_usd", usd))


def _agent_cost(checkout, run_id: str) -> float:
    return checkout.json(f"{run_id}/agent/result.json")["cost_usd"]


def _ledger(checkout) -> dict:
    return checkout.json(".scylla/budget.json")


def test_the_gate_refuses_with_the_numbers_and_starts_nothing_paid(hello):
    for run in ("T0/00/run_01", "T1/02/run_02"):                  # two agent runs to redo
        (hello.root / run / "agent/.seal.json").unlink()
    before = _status(hello)["budget"]
    spent, forecast = before["spent_usd"], before["forecast_usd"]
    assert forecast > 0 and before["unpriced_calls"] == 0          # priced from the finished runs
    _set_budget(hello, round(spent + forecast / 2, 4))             # covers what was spent, not the forecast
    budget = round(spent + forecast / 2, 4)

    st = _status(hello)
    numbers = (f"over budget: spent {money(spent)} + forecast {money(forecast)} = {money(spent + forecast)} "
               f"> budget_usd {money(budget)}")
    assert st["budget"]["refusal"].startswith(numbers)
    assert {"agent:T0/00/run_01", "agent:T1/02/run_02"} <= set(st["refused"])
    assert not any(t.startswith(("agent:", "judge:")) for t in st["to_run"] + st["may_run"])
    assert "judge_prompt:T0/00/run_01" in st["blocked"]

    run = hello.doit("--continue", check=False)
    assert run.returncode != 0
    assert numbers in run.stderr and "No agent or judge call starts in this doit" in run.stderr
    assert f"refused by the budget: {numbers}" in run.stdout
    assert hello.calls("agent") == [] and hello.calls("judge") == []
    for run_id in ("T0/00/run_01", "T1/02/run_02"):               # nothing archived, nothing sealed
        assert not (hello.root / run_id / "agent/.seal.json").exists()
        assert (hello.root / run_id / "agent/stdout.log").exists()
    assert not list(hello.root.glob("T*/*/.failed"))
    assert "refused by the budget" in run.stderr.strip().splitlines()[-1]

    overridden = _status(hello, "over_budget=1")
    assert overridden["refused"] == [] and "agent:T0/00/run_01" in overridden["to_run"]
    hello.doit("over_budget=1")
    assert sorted(hello.calls("agent")) == ["T0/00/run_01", "T1/02/run_02"]
    assert _status(hello)["to_run"] == []


def _calls_in_order(checkout) -> list[tuple[str, str]]:
    return [tuple(ln.split(" ", 2)[:2]) for ln in checkout.call_log.read_text().splitlines()]


@pytest.mark.parametrize("parallel", [[], ["-n", "3", "-P", "process"], ["-n", "3", "-P", "thread"]],
                         ids=["serial", "processes", "threads"])
def test_paid_work_stops_at_the_budget_and_resumes_when_it_is_raised(hello, parallel):
    for seal in hello.root.glob(AGENT_SEALS):                      # every agent runs again, afresh: the
        shutil.rmtree(seal.parent)                                 # old outputs, archived, would count as spent
    st = _status(hello)
    assert st["budget"]["spent_usd"] == 0 and st["budget"]["unpriced_calls"] == 10   # no price known: $0
    budget = 0.1
    _set_budget(hello, budget)

    run = hello.doit("--continue", *parallel, check=False)
    assert run.returncode != 0
    ran = sorted(hello.calls("agent"))
    assert 3 <= len(ran) < 10
    costs = {r: _agent_cost(hello, r) for r in ran}
    ledger = _ledger(hello)
    assert ledger["spent"] == pytest.approx(sum(costs.values()), abs=1e-9)   # every cost counted, once
    assert ledger["spent"] >= budget > ledger["spent"] - max(costs.values()) * (3 if parallel else 1)
    if not parallel:                                               # one at a time: each started under the budget
        spent = 0.0
        for kind, who in _calls_in_order(hello):
            assert spent < budget, (kind, who, spent)
            spent += costs[who] if kind == "agent" else 0.0
    refused = re.findall(r"refused by the budget: budget exhausted: spent \$([\d.]+) of budget_usd \$0\.1000",
                         run.stdout)
    assert len(refused) == 1                                       # reported once, counted in the totals
    assert budget <= float(refused[0]) <= round(ledger["spent"], 4)    # (calls in flight may add to it later)
    assert re.search(r"\d+ refused by the budget", run.stderr.strip().splitlines()[-1])

    after = _status(hello)
    assert after["budget"]["refusal"].startswith(f"budget exhausted: spent {money(ledger['spent'])}")
    held = {t.split(":", 1)[1] for t in after["refused"] if t.startswith("agent:")}
    assert held and held.isdisjoint(ran) and len(held) + len(ran) == 10
    assert not any(t.startswith(("agent:", "judge:")) for t in after["to_run"])

    hello.reset_calls()
    _set_budget(hello, 1.0)
    hello.doit(*parallel)
    assert sorted(hello.calls("agent")) == sorted(held)
    assert _status(hello)["to_run"] == []
    every_run = [str(p.parent.parent.relative_to(hello.root)) for p in hello.root.glob(AGENT_SEALS)]
    assert len(every_run) == 10         # spent at this doit's start (the runs above) + what it paid
    assert _ledger(hello)["spent"] == pytest.approx(sum(_agent_cost(hello, r) for r in every_run), abs=1e-9)


def test_what_failed_and_interrupted_attempts_consumed_is_spent_and_shown_apart(hello):
    """An archived attempt (.failed/) whose CLI printed its result line consumed what that line says: it
    counts as spent, shown apart from the current results' cost; an attempt killed before its result line
    reported nothing and adds nothing. A finished call whose cost was never recorded is counted as such."""
    before = _status(hello)["budget"]
    assert before["archived_usd"] == 0 and before["unknown_calls"] == 10       # the scripted judge's calls
    failed = hello.root / "T0/00/.failed"
    reported = failed / "run_01_attempt_01/agent/stdout.log"                  # interrupted after its result line
    reported.parent.mkdir(parents=True)
    reported.write_text('{"type": "assistant"}\n{"type": "result", "is_error": true, "total_cost_usd": 0.125, '
                        '"usage": {"input_tokens": 5, "output_tokens": 7}}\n')
    killed = failed / "run_02_attempt_01/agent/stdout.log"                     # killed before it
    killed.parent.mkdir(parents=True)
    killed.write_text('{"type": "assistant", "message": {"usage": {"output_tokens": 3}}}\n')
    st = _status(hello)["budget"]
    assert st["archived_usd"] == pytest.approx(0.125)
    assert st["spent_usd"] == pytest.approx(before["spent_usd"] + 0.125)
    text = hello.doit("status").stdout
    assert f"spent {money(st['spent_usd'])} ($0.1250 by failed or interrupted attempts; 10 finished calls of " \
           f"unknown cost counted as $0)" in text


def test_calls_in_flight_count_against_the_budget_at_the_forecasts_mean():
    """On a wide cluster many calls start before any has recorded its cost: each in flight counts at the
    forecast's mean cost per call, so no more start than the budget has room for."""
    from scylla.budget import _no_room
    ledger = {"budget": 1.0, "spent": 0.5, "per_call_usd": 0.2, "in_flight": {}}
    assert _no_room(ledger) is None                                     # 0.5 + 0.2 fits
    ledger["in_flight"] = {"agent:T0/00/run_01": 0.2}
    assert _no_room(ledger) is None                                     # 0.5 + 0.2 + 0.2 = 0.9
    ledger["in_flight"]["agent:T0/00/run_02"] = 0.2
    reason = _no_room(ledger)                                           # 0.5 + 0.4 + 0.2 = 1.1 > 1.0
    assert reason and "2 calls in flight" in reason and "$0.50" in reason and "over_budget=1" in reason
    ledger.update(in_flight={}, spent=1.0)
    assert "budget exhausted" in _no_room(ledger)
    # with no forecast (a `doit -a`, or calls of unknown price) only what was spent counts
    assert _no_room({"budget": 1.0, "spent": 0.9, "per_call_usd": 0.0, "in_flight": {"a": 0.0, "b": 0.0}}) is None
