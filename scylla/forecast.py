"""Expected cost and time of the agent and judge calls a plan would make.

Per call: the mean of up to SAMPLE finished calls of the same kind (the agent, or one judge slot) in
the same tier, else in any tier of this experiment, else the model's list price (`genai-prices`) for
ASSUMED_TOKENS, an assumption the output states. Finished calls are the paid tasks whose seal matches the
current configuration: those the plan finds done, and those that only *may* run (an input they read may
come out different, e.g. after a new pipeline toolchain), so a changed model is never estimated from the
old one, and calls that may be bought again are priced from what they cost last time.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import cast

from . import adapters, records
from .budget import recorded_cost, recorded_seconds
from .kinds import PAID_KINDS, TaskId
from .plan import Plan, _sealed
from .prices import list_price

SAMPLE = 25
ASSUMED_TOKENS = {"agent": (100_000, 5_000), "judge": (10_000, 1_000)}   # input, output per call


def assumption_text() -> str:
    (ai, ao), (ji, jo) = ASSUMED_TOKENS["agent"], ASSUMED_TOKENS["judge"]
    return (f"no finished call to measure: list price (genai-prices) of {ai:,} input + {ao:,} output tokens "
            f"per agent run, {ji:,} + {jo:,} per judgment")


@dataclass
class Estimate:
    cost: float | None          # USD per call; None: unknown
    seconds: float | None       # per call; None: unknown until a call finishes
    basis: str


class Estimator:
    def __init__(self, plan: Plan):
        self.plan = plan
        self.done: dict[tuple[str, str | None], list] = {}
        for name, v in plan.verdicts.items():
            t = plan.id(name)
            if t.kind in PAID_KINDS and v.state in ("done", "may_run"):     # (a may_run one: sealed as configured)
                self.done.setdefault((t.row, t.tier), []).append(plan.tasks[name])
        self.cache: dict[tuple[str, str | None], Estimate] = {}
        self.assumed = False

    def __call__(self, t: TaskId) -> Estimate:
        key = (t.row, t.tier)
        if key not in self.cache:
            self.cache[key] = self._observed(t) or self._priced(t)
        return self.cache[key]

    def _observed(self, t: TaskId) -> Estimate | None:
        for tiers, where in (([t.tier], f"in {t.tier}"), (None, "in this experiment")):
            tasks = [task for (row, tier), ts in self.done.items() if row == t.row and (tiers is None or tier in tiers)
                     for task in ts][:SAMPLE]
            measured = [_measured(task, t.kind) for task in tasks]
            costs = [c for c, _ in measured if c is not None]
            secs = [s for _, s in measured if s is not None]
            if costs or secs:
                return Estimate(statistics.fmean(costs) if costs else None, statistics.fmean(secs) if secs else None,
                                f"mean of {len(tasks)} finished {where}")
        return None

    def _priced(self, t: TaskId) -> Estimate:
        config = self.plan.tasks[t.name].meta.get("config", {})
        adapter = adapters.get(t.kind, config["adapter"]) if "adapter" in config else None
        if adapter is not None and not adapter.paid:
            return Estimate(0.0, 0.0, adapter.description)
        model = config.get("model")
        tokens_in, tokens_out = ASSUMED_TOKENS[t.kind]
        price = list_price(model, config.get("base_url"), tokens_in, 0, tokens_out) if model else None
        self.assumed = True
        return Estimate(price, None, f"list price of {model}" if price is not None else f"no list price for {model}")


def _measured(task, kind: str) -> tuple[float | None, float | None]:
    """(cost, seconds) of a finished call, from its own outputs."""
    sealed = _sealed(task)
    assert sealed is not None           # agent and judge tasks are sealed
    out = sealed.out_dir
    return recorded_cost(kind, out), recorded_seconds(kind, out)


def forecast(plan: Plan, exp, names: list[str]) -> records.Forecast:
    """Expected cost and time of the agent and judge calls among `names` that would (or may) run."""
    estimate = Estimator(plan)
    rows: dict[str, dict] = {}
    for name in names:
        t, v = plan.id(name), plan.verdicts[name]
        if t.kind not in PAID_KINDS or v.state not in ("to_run", "may_run"):
            continue
        e, prefix = estimate(t), "" if v.state == "to_run" else "may_"
        row = rows.setdefault(t.row, {"to_run": 0, "may_run": 0, "cost_usd": 0.0, "may_cost_usd": 0.0,
                                      "seconds": 0.0, "may_seconds": 0.0, "unpriced": 0, "may_unpriced": 0,
                                      "untimed": 0, "basis": []})
        row[v.state] += 1
        row[prefix + "cost_usd"] += e.cost or 0.0
        row[prefix + "seconds"] += e.seconds or 0.0
        row[prefix + "unpriced"] += e.cost is None      # counted as $0 in the sums
        row["untimed"] += e.seconds is None
        if e.basis not in row["basis"]:
            row["basis"].append(e.basis)
    total = {k: sum(r[k] for r in rows.values()) for k in ("cost_usd", "may_cost_usd", "seconds", "may_seconds")}
    return cast(records.Forecast, {     # (rows built and summed key by key: mypy cannot follow)
        "rows": rows, **total, "wall_seconds_at_limits": _wall(rows, exp),
        "assumption": assumption_text() if estimate.assumed else None})


def _wall(rows: dict, exp) -> float | None:
    """Lower bound of the wall time with the experiment's concurrency limits (None without limits)."""
    limits = getattr(exp, "limits", None)
    if not limits or not limits.agents or not limits.judges:
        return None
    agents = sum(r["seconds"] for k, r in rows.items() if k == "agent")
    judges = sum(r["seconds"] for k, r in rows.items() if k != "agent")
    return agents / limits.agents + judges / limits.judges
