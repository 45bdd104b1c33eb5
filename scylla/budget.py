"""The experiment's budget (`budget_usd`): what was spent, the gate before paid work, the stop during it.

*Spent* is the recorded cost of the experiment's finished agent runs (agent/result.json, else their raw
captures) and judge calls (their call record, call.json; an adopted judgment's judgment.json): what its
current results cost; plus, counted separately, what its failed and interrupted attempts consumed where
the CLI reported it (a result line in an archived attempt's stdout.log under .failed/). A finished call
whose cost was never recorded counts as $0 and is counted as such (`unknown_calls`). Superseded results
(.superseded/) are not counted (docs/numbers.md).

The gate: when the first agent or judge call of a `doit` is due, the run's forecast (runplan.py, the
same plan as `doit status`) is added; if spent + forecast > budget, no paid call starts in this doit.
The stop: each paid task adds its cost to a ledger in .scylla/ as it finishes, and a paid task about to
call its adapter refuses once the ledger reaches the budget (calls already running finish). A refused
task fails before anything is archived or sealed, so a later doit with a raised budget runs it.
`doit over_budget=1` turns both off for one doit.
"""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from . import adapters, context, durable, records, tree

LEDGER = f"{tree.STATE_DIR}/budget.json"
LOCK = f"{tree.LOCKS_DIR}/budget.lock"
REFUSED = "refused by the budget"
OVERRIDE_HINT = "raise budget_usd in the experiment spec, or run `doit over_budget=1` to go ahead anyway"

# The cost of each paid task this doit's own process finished (-P thread), until the progress reporter
# takes it: the reporter runs in doit's main thread, which also dispatches the next tasks, and reading
# every agent's captures again there delayed each dispatch after an agent. (A forked worker's entries
# would never be taken, so worker processes keep none.)
_finished: dict[str, float | None] = {}


def active() -> bool:
    """Whether this doit enforces a budget (context.RunContext.budget_of, set where paid work may run)."""
    ctx = context.CURRENT
    return ctx.budget_of is not None and ctx.budget_of.budget_usd is not None and not ctx.over_budget


def money(x: float | None) -> str:
    """$1,234.50, or 4 decimals below a dollar ($0.0312); negative amounts as -$0.0457."""
    if x is None:
        return "unknown"
    amount = f"{abs(x):,.2f}" if abs(x) >= 0.995 or x == 0 else f"{abs(x):.4f}"
    return f"{'-' if x < 0 else ''}${amount}"


# ---------------------------------------------------------------- recorded costs

def recorded_cost(kind: str, out_dir: str) -> float | None:
    """The cost a finished agent run or judgment recorded in its outputs (None when none is readable)."""
    if kind == "judge":             # the call's own record; ProjectScylla's judgments have only judgment.json
        cost = _number(f"{out_dir}/{tree.JUDGE_CALL}", "cost_usd")
        return cost if cost is not None else _number(f"{out_dir}/judgment.json", "cost_usd")
    try:                            # (a null cost_usd is one never recorded: the captures hold no other)
        return _finite(records.read(f"{out_dir}/result.json", records.AgentResult).get("cost_usd"))
    except durable.ArtifactError:   # agent/result.json not derived yet: read the raw captures
        try:                        # (by the parser of the adapter that wrote them)
            return _finite(adapters.derive_agent_result(Path(out_dir)).get("cost_usd"))
        except (OSError, ValueError, KeyError, IndexError, durable.ArtifactError, adapters.UnknownAdapter):
            return None


def finished_cost(kind: str, out_dir: str) -> float | None:
    """recorded_cost() of a paid task that has just finished, as its worker read it if it ran in this
    process."""
    try:
        return _finished.pop(out_dir)
    except KeyError:
        return recorded_cost(kind, out_dir)


def recorded_seconds(kind: str, out_dir: str) -> float | None:
    """How long a finished agent run or judgment took (its timing.json)."""
    return _number(f"{out_dir}/timing.json", f"{kind}_duration_seconds")


def _number(path: str, key: str) -> float | None:
    try:
        return _finite(durable.read_json_object(path).get(key))
    except durable.ArtifactError:
        return None


def _finite(value) -> float | None:
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return float(value) if number and math.isfinite(value) else None


@dataclass(frozen=True)
class Spending:
    sealed_usd: float       # the recorded cost of the finished (sealed) agent runs and judgments
    unknown_calls: int      # finished calls whose cost was never recorded (in sealed_usd as $0)
    archived_usd: float     # what failed and interrupted attempts consumed, where the CLI reported it

    @property
    def total(self) -> float:
        return self.sealed_usd + self.archived_usd


def spending(exp) -> Spending:
    sealed, unknown, archived = 0.0, 0, 0.0
    for s in exp.all_subtests():
        for n in range(1, exp.runs + 1):
            run = tree.RunPaths(s.tier, s.id, n)
            dirs = [("agent", run.agent_dir)] + [("judge", run.judge_dir(j.number)) for j in exp.judges]
            costs = [recorded_cost(kind, d) for kind, d in dirs if durable.stat(str(durable.seal_path(d)))]
            sealed += sum(c for c in costs if c is not None)
            unknown += costs.count(None)
        archived += sum(reported_cost(exp, log) or 0.0 for log in
                        sorted(Path(tree.SubtestPaths(s.tier, s.id).failed_dir).glob("*_attempt_*/*/stdout.log")))
    return Spending(sealed, unknown, archived)


def reported_cost(exp, log: Path) -> float | None:
    """The cost an archived attempt of an agent run or a judge call reported in its stdout.log, as the
    adapter that wrote it reads it; None when it reported none (a killed CLI often did not get to print it)."""
    try:
        adapter = _attempt_adapter(exp, log.parent)
        return adapter.reported_cost(log.read_text(encoding="utf-8", errors="replace")) if adapter else None
    except (OSError, adapters.UnknownAdapter):
        return None


def _attempt_adapter(exp, out_dir: Path):
    """The adapter whose archived outputs `out_dir` holds: agent/ names its own (else the configured one);
    judge_NN/ is that slot's; a slot no longer in the spec was read as the legacy captures are."""
    if out_dir.name == "agent":
        return adapters.agent(adapters.recorded_agent(out_dir, default=exp.agent.adapter))
    slots = {slot.name: slot for slot in exp.judges}
    return adapters.judge(slots[out_dir.name].adapter) if out_dir.name in slots \
        else adapters.agent(adapters.LEGACY_AGENT)


def spent(exp) -> float:
    """What the experiment has spent: its finished agent runs and judgments, and its archived attempts."""
    return spending(exp).total


# ---------------------------------------------------------------- the decision

@dataclass(frozen=True)
class Decision:
    budget: float | None
    spent: float
    forecast: float
    unpriced: int = 0               # calls the forecast could not price (counted as $0)
    override: bool = False
    spending: Spending | None = None        # what `spent` is made of, when the caller read it

    def refusal(self) -> str | None:
        """Why paid work may not start, or None."""
        if self.budget is None or self.override:
            return None
        if self.spent >= self.budget:
            return f"budget exhausted: spent {money(self.spent)} of budget_usd {money(self.budget)}; {OVERRIDE_HINT}"
        if self.spent + self.forecast > self.budget:
            unpriced = f" ({self.unpriced} calls of unknown price counted as $0)" if self.unpriced else ""
            return (f"over budget: spent {money(self.spent)} + forecast {money(self.forecast)}{unpriced} = "
                    f"{money(self.spent + self.forecast)} > budget_usd {money(self.budget)}; {OVERRIDE_HINT}")
        return None

    def left(self) -> float | None:
        return None if self.budget is None else self.budget - self.spent - self.forecast


def decide(exp, spent_usd: float, forecast: records.PlanForecast, override: bool) -> Decision:
    """The gate's decision for paid work with this forecast (forecast.py's, or the run plan's part of it)."""
    unpriced = sum(r["unpriced"] for r in forecast["rows"].values())
    return Decision(exp.budget_usd, spent_usd, forecast["cost_usd"], unpriced, override)


# ---------------------------------------------------------------- the ledger of a running doit

def open_ledger(decision: Decision, calls: int = 0) -> None:
    """Called once per doit, before its first paid call (in the main process). `calls`: how many paid
    calls the forecast priced, whose mean each call in flight counts for until it has recorded its cost."""
    with durable.file_lock(LOCK):
        _write({**asdict(decision), "invocation": context.CURRENT.invocation, "gate": decision.refusal(),
                "per_call_usd": decision.forecast / calls if calls else 0.0, "in_flight": {}})


def refusal(task: str) -> str | None:
    """In a paid task, before it calls its adapter: why it must not (None: go ahead, and it counts as in
    flight until `record`). Calls in flight (here or on any Dask worker of this doit) count at the
    forecast's mean cost per call: a wide cluster never starts more calls than the budget has room for."""
    if not active():
        return None
    ctx = context.CURRENT
    with durable.file_lock(LOCK):
        ledger = _read()
        if ledger is None:          # no gate ran in this doit (`doit -a`): the stop still applies
            ledger = {"budget": ctx.budget_of.budget_usd, "spent": spent(ctx.budget_of),
                      "invocation": ctx.invocation, "gate": None}
        reason = ledger["gate"] or _no_room(ledger)
        if reason is None:
            ledger.setdefault("in_flight", {})[task] = ledger.get("per_call_usd", 0.0)
        _write(ledger)
    return reason


def _no_room(ledger: dict) -> str | None:
    if reason := Decision(ledger["budget"], ledger["spent"], 0.0).refusal():
        return reason
    in_flight, each = ledger.get("in_flight", {}), ledger.get("per_call_usd", 0.0)
    if in_flight and ledger["spent"] + sum(in_flight.values()) + each > ledger["budget"]:
        return (f"budget reached: spent {money(ledger['spent'])} + {len(in_flight)} calls in flight (about "
                f"{money(each)} each) leave no room for another under budget_usd {money(ledger['budget'])}; "
                f"{OVERRIDE_HINT}")
    return None


def record(kind: str, out_dir: str, task: str, sealed: bool = True) -> None:
    """In a paid task that ended: no longer in flight; if it finished (`sealed`), its recorded cost is
    added to the ledger."""
    cost = recorded_cost(kind, out_dir) if sealed else None
    if sealed and os.getpid() == context.CURRENT.leader:
        _finished[out_dir] = cost
    if not active():
        return
    with durable.file_lock(LOCK):
        ledger = _read()
        if ledger is not None:
            ledger.get("in_flight", {}).pop(task, None)
            ledger["spent"] += cost or 0.0
            _write(ledger)


def _read() -> dict | None:
    try:
        ledger = durable.read_json_object(LEDGER)
    except durable.ArtifactError:
        return None
    return ledger if ledger.get("invocation") == context.CURRENT.invocation else None     # another doit's ledger


def _write(ledger: dict) -> None:
    # Atomic (the workers read it meanwhile) but not fsynced: only the doit named by its `invocation`
    # reads it, a power loss ends that doit, and the next one starts a ledger of its own (_read).
    with durable.rebuildable():
        durable.write_json(LEDGER, ledger)
