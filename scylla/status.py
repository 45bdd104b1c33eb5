"""`doit status`: the experiment at a glance, from doit's own evaluation of the graph (see plan.py).

A table of task kinds by tier (done / to run / may run / failed last time / invalid / blocked), a
summary of runs and judge slots, what the next `doit` would execute and why (`--why`), and a
forecast of its agent and judge cost and time. `--json` prints the same for machines.
"""

from __future__ import annotations

import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

from doit.cmd_base import DoitCmdBase
from doit.control import TaskControl
from doit.exceptions import InvalidCommand

from . import budget, cluster, comparison, context, durable, preflight, records, sandbox
from .forecast import Estimator, forecast
from .kinds import KIND_ORDER, TaskId
from .plan import STATES, Plan, _seal_of, _sealed

ALL = "all"                     # the column of tasks that belong to no tier (setup, baseline, experiment)
MARKS = (("done", "✓"), ("to_run", "▶"), ("may_run", "?"), ("failed", "✗"), ("invalid", "⚠"), ("blocked", "!"),
         ("refused", "⊘"))
LEGEND = ("✓ done  ▶ to run  ? may run (only if an input it waits for comes out different)  "
          "✗ failed last time  ⚠ invalid judgment  ! blocked  ⊘ refused by the budget")
RUN_CLASSES = (("complete", "✓ complete"), ("results", "⟳ results to rebuild"), ("judge", "⚖ to judge"),
               ("agent", "▶ agent to run"), ("may", "? may change"), ("failed", "✗ failed last time"),
               ("refused", "⊘ held back by the budget"), ("blocked", "! blocked"))


@dataclass(frozen=True)
class Selection:
    """--tier T0,T1  --subtest T0/01 (or 01)  --runs 1,3,5  --kind judge (or judge_02, agent, ...)."""
    tiers: frozenset = frozenset()
    subtests: frozenset = frozenset()
    runs: frozenset = frozenset()
    kinds: frozenset = frozenset()

    @staticmethod
    def parse(tier: str = "", subtest: str = "", runs: str = "", kind: str = "") -> Selection:
        split = lambda s: frozenset(x.strip() for x in (s or "").split(",") if x.strip())
        try:
            numbers = frozenset(int(r) for r in split(runs))
        except ValueError:
            raise InvalidCommand(f"--runs expects run numbers like 1,3,5, got {runs!r}") from None
        return Selection(split(tier), split(subtest), numbers, split(kind))

    def __call__(self, t: TaskId) -> bool:
        if self.tiers and t.tier not in self.tiers:
            return False
        if self.subtests and not (t.subtest in self.subtests or (t.subtest or "/").split("/")[1] in self.subtests):
            return False
        if self.runs and t.run not in self.runs:
            return False
        return not self.kinds or t.row in self.kinds or t.kind in self.kinds


# ---------------------------------------------------------------- the report (a dict; --json prints it)

def report(plan: Plan, exp, selection: Selection = Selection(), over_budget: bool = False) -> dict:
    names = sorted(n for n in plan.verdicts if selection(plan.id(n)))     # (--json: the same bytes each time)
    fc = forecast(plan, exp, names)             # what the calls cost, before the budget holds any back
    decision = _gate(plan, exp, over_budget)
    lists = {s: sorted(n for n in names if plan.verdicts[n].state == s) for s in STATES if s != "done"}
    return {
        "experiment": getattr(exp, "id", None),
        "selection": {k: sorted(v) for k, v in vars(selection).items() if v},
        "counts": dict(Counter(plan.verdicts[n].state for n in names)),
        **lists,
        "to_run_by_kind": dict(Counter(plan.id(n).kind for n in lists["to_run"])),
        "failed_last_time": sorted(n for n in names if plan.verdicts[n].failed),
        "invalid": sorted(n for n in names if plan.verdicts[n].invalid),
        "table": _table(plan, names),
        "runs": _runs(plan, names),
        "judges": _judges(plan, names, exp),
        "tasks": {n: {"state": v.state, "reasons": v.reasons, "failed_last_time": v.failed, "invalid": v.invalid}
                  for n in names if (v := plan.verdicts[n]).state != "done" or v.failed or v.invalid},
        "lost": _lost(plan, exp),
        "changed": [{"file": f, "task": t} for f, t in sorted(plan.changed.items())],
        "forecast": fc,
        # the next doit's budget gate (over the whole run, whatever the view's filters)
        "budget": decision and _budget(decision),
    }


def _budget(decision: budget.Decision) -> dict:
    assert decision.spending is not None        # (_gate reads it)
    return {"budget_usd": decision.budget, "spent_usd": decision.spent,
            # of which: archived (failed, interrupted) attempts; calls of unknown cost ($0)
            "archived_usd": decision.spending.archived_usd, "unknown_calls": decision.spending.unknown_calls,
            "forecast_usd": decision.forecast, "left_usd": decision.left(),
            "unpriced_calls": decision.unpriced, "over_budget": decision.override, "refusal": decision.refusal()}


def _lost(plan: Plan, exp) -> list[dict]:
    """Each lost raw capture once, with the paid task that made it, the command that buys exactly that
    task again, and its price (the forecast's estimate for a call of that kind)."""
    estimate, out = Estimator(plan), []
    for path, producer in sorted(plan.lost.items()):
        seal = durable.seal_path(os.path.abspath(_seal_of(plan.tasks[producer]).out_dir))
        e = estimate(plan.id(producer))
        out.append({"file": path, "damage": "missing" if durable.stat(path) is None else "differs from its seal",
                    "paid_task": producer, "price_usd": e.cost, "price_basis": e.basis,
                    "rebuy": f"rm {seal} && doit {producer}"})
    return out


def _hold_for_preflight(plan: Plan, problems: list[str], toolchain: list[str]) -> set[str]:
    """With preflight findings, the next doit starts no agent or judge call (with findings about the
    pipeline's tools, no pipeline or baseline either): those due are blocked."""
    due = {n for n, v in plan.verdicts.items() if v.state in ("to_run", "may_run") and (s := _sealed(plan.tasks[n]))
           and (s.paid or toolchain)}
    if problems and due:
        plan.refuse(due, f"{preflight.REFUSED}: " + "; ".join(problems), state="blocked", held_by="preflight")
    return due if problems else set()


def _gate(plan: Plan, exp, over_budget: bool) -> budget.Decision | None:
    """What the next doit's budget gate decides; the paid tasks it would hold back become `refused`."""
    if exp is None:
        return None
    spending = budget.spending(exp)
    decision = replace(budget.decide(exp, spending.total, forecast(plan, exp, list(plan.verdicts)), over_budget),
                       spending=spending)
    if reason := decision.refusal():
        plan.refuse({n for n, v in plan.verdicts.items()
                     if v.state in ("to_run", "may_run") and getattr(_sealed(plan.tasks[n]), "paid", False)},
                    f"{budget.REFUSED}: {reason}")
    return decision


def _table(plan: Plan, names: list[str]) -> dict:
    table: dict[str, dict[str, Counter]] = {}
    for n in names:
        t, v = plan.id(n), plan.verdicts[n]
        cell = table.setdefault(t.row, {}).setdefault(t.tier or ALL, Counter())
        cell[v.state] += 1
        cell["failed"] += bool(v.failed)
        cell["invalid"] += v.invalid
    return {row: {col: {k: n for k, n in c.items() if n} for col, c in cols.items()} for row, cols in table.items()}


def _runs(plan: Plan, names: list[str]) -> dict:
    """Each run classified by its own tasks (agent, pipeline, judges, derived files)."""
    runs: dict[tuple[str | None, int], list] = {}
    for n in names:
        t = plan.id(n)
        if t.run is not None:
            runs.setdefault((t.subtest, t.run), []).append((t, plan.verdicts[n]))
    counts = Counter(_run_class(tasks) for tasks in runs.values())
    return {"expected": len(runs), **{k: counts[k] for k, _ in RUN_CLASSES},
            "with_invalid_judgments": sum(any(v.invalid for _, v in tasks) for tasks in runs.values())}


def _run_class(tasks: list) -> str:
    states = {v.state for _, v in tasks}
    if "refused" in states:
        return "refused"
    if "blocked" in states:
        return "blocked"
    if any(v.failed for _, v in tasks):
        return "failed"
    to_run = {t.kind for t, v in tasks if v.state == "to_run"}
    if "agent" in to_run:
        return "agent"
    if to_run & {"pipeline", "judge"}:
        return "judge"
    return "results" if to_run else "may" if "may_run" in states else "complete"


def _judges(plan: Plan, names: list[str], exp) -> dict:
    slots = {j.name: j for j in getattr(exp, "judges", ())}
    out: dict[str, Counter] = {}
    for n in names:
        t, v = plan.id(n), plan.verdicts[n]
        if t.kind == "judge":
            assert t.slot is not None                       # (every judge task has its slot)
            c = out.setdefault(t.slot, Counter())
            c["valid" if v.state == "done" and not v.invalid else "invalid" if v.state == "done" else v.state] += 1
            c["failed"] += bool(v.failed)
    return {slot: {"model": getattr(slots.get(slot), "model", None), **{k: c[k] for k in
                   ("valid", "invalid", "to_run", "may_run", "failed", "blocked", "refused")}}
            for slot, c in sorted(out.items())}


# ---------------------------------------------------------------- text

def render(rep: dict, exp, why: bool = False) -> str:
    selection = f" (selection: {rep['selection']})" if rep["selection"] else ""
    lines = [f"experiment {rep['experiment']}{selection}" if rep["experiment"] else
             f"{'comparison' if rep.get('agents') else 'study'} {rep.get('study')}", ""]
    if rep.get("agents"):
        lines += comparison.render(rep["agents"])
    if rep.get("preflight"):
        lines += [(f"Preflight: {len(rep['preflight'])} problem(s) would make paid work fail; `doit` calls no "
                   f"agent or judge until they are fixed:"), *(f"  ✗ {p}" for p in rep["preflight"]), ""]
    if rep.get("cluster"):
        lines += cluster.render(rep["cluster"])
    if box := rep.get("sandbox"):
        lines += [f"Sandbox: {box['kind']}" + (f" (sandbox: {box['setting']})" if box["setting"] != box["kind"] else "")
                  + (f"\n  ⚠ {box['note']}" if box["note"] else ""), ""]
    lines += _render_table(rep["table"], getattr(exp, "tiers", ()), sorted(rep["judges"])) + ["", LEGEND, ""]
    lines += _render_runs(rep["runs"]) + _render_judges(rep["judges"]) + [""]
    lines += _render_changed(rep["changed"]) + _render_lost(rep["lost"])
    lines += _render_next(rep) + _render_forecast(rep["forecast"]) + _render_budget(rep["budget"])
    if why:
        lines += [""] + _render_why(rep)
    elif rep["to_run"] or rep["may_run"] or rep["blocked"] or rep["refused"]:
        lines.append("(`doit status --why` lists every task that would run and why)")
    return "\n".join(lines) + "\n"


def _row_order(table: dict, slots: list[str]) -> list[str]:
    """The kinds in graph order, a row per judge slot where the judges' row would be."""
    order = [name for r in KIND_ORDER for name in (slots if r == "judge" else [r])]
    return [r for r in order if r in table] + [r for r in table if r not in order]


def _render_table(table: dict, tier_order, slots: list[str]) -> list[str]:
    present = {c for r in table.values() for c in r}
    cols = [t for t in tier_order if t in present] + sorted(present - set(tier_order) - {ALL})
    cols += [ALL] if ALL in present else []
    rows = _row_order(table, slots)
    cells = [[" ".join(f"{mark}{table[r].get(c, {})[k]}" for k, mark in MARKS if table[r].get(c, {}).get(k))
              for c in cols] for r in rows]
    width0 = max(len(r) for r in ["kind", *rows])
    widths = [max(len(c), *(len(line[i]) for line in cells)) for i, c in enumerate(cols)]

    def fmt(first: str, items: list[str]) -> str:
        return "  ".join([first.ljust(width0)] + [s.ljust(w) for s, w in zip(items, widths)]).rstrip()
    return [fmt("kind", cols)] + [fmt(r, line) for r, line in zip(rows, cells)]


def _render_runs(runs: dict) -> list[str]:
    if not runs["expected"]:
        return []
    parts = [f"{label} {runs[k]}" for k, label in RUN_CLASSES if runs[k] or k == "complete"]
    if runs["with_invalid_judgments"]:
        parts.append(f"⚠ with an invalid judgment {runs['with_invalid_judgments']}")
    return [f"Total expected runs: {runs['expected']} · " + " · ".join(parts)]


def _render_judges(judges: dict) -> list[str]:
    lines = []
    for slot, c in judges.items():
        extra = "".join(f" · {mark} {c[k]} {word}" for k, mark, word in
                        (("to_run", "▶", "to run"), ("may_run", "?", "may run"), ("blocked", "!", "blocked"),
                         ("refused", "⊘", "refused by the budget")) if c[k])
        lines.append(f"{slot} ({c['model']}): ✓ {c['valid']} · ⚠ {c['invalid']} invalid · "
                     f"✗ {c['failed']} failed last time{extra}")
    return lines


def _render_changed(changed: list[dict]) -> list[str]:
    if not changed:
        return []
    return [(f"Changed since written ({len(changed)}): not the bytes their task wrote (possible tampering); "
             f"nothing reads them as they are, the next `doit` writes them again from their sealed inputs "
             f"(no agent or judge call):"), *(f"  {c['file']} (written by {c['task']})" for c in changed), ""]


TAMPER_HINT = "possible tampering: kept as evidence, nothing is derived from it; "


def _render_lost(lost: list[dict]) -> list[str]:
    if not lost:
        return []
    lines = [(f"Lost ({len(lost)}): raw captures of finished paid work; what needs them is blocked, and only "
              f"paying again brings them back (then `doit status` prices what follows the new call):")]
    for item in lost:
        price = _money(item["price_usd"]) if item["price_usd"] is not None else "unpriced"
        hint = TAMPER_HINT if durable.stat(item["file"]) is not None else ""
        lines.append(f"  {item['file']}, {item['damage']} ({hint}made by {item['paid_task']}; re-buy it, {price}: "
                     f"{item['rebuy']})")
    return lines + [""]


def _render_next(rep: dict) -> list[str]:
    kinds = Counter(rep["to_run_by_kind"])
    paid = f"{kinds['agent']} agent runs, {kinds['judge']} judgments, {kinds['pipeline']} pipelines"
    n = len(rep["to_run"])
    line = f"Next `doit`: {n} task{'s' * (n != 1)} to run ({paid})"
    if rep["may_run"]:
        line += f"; {len(rep['may_run'])} more may run (only if an input they wait for comes out different)"
    if rep["blocked"]:
        line += f"; {len(rep['blocked'])} blocked"
    if rep["refused"]:
        line += f"; {len(rep['refused'])} agent runs and judgments refused by the budget"
    return [line]


_money = budget.money


def _time(s: float | None) -> str:
    if s is None:
        return "unknown"
    s = round(s)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def _render_forecast(fc: records.Forecast) -> list[str]:
    if not fc["rows"]:
        return ["Forecast: no agent or judge call to make."]
    head = f"Forecast of agent and judge calls: {_money(fc['cost_usd'])}, {_time(fc['seconds'])} of calls"
    if any(r["untimed"] for r in fc["rows"].values()):
        head += " (+ calls of unknown duration)"
    if fc["wall_seconds_at_limits"]:
        head += f", at least {_time(fc['wall_seconds_at_limits'])} at the concurrency limits"
    if fc["may_cost_usd"]:
        head += f"; up to {_money(fc['cost_usd'] + fc['may_cost_usd'])} if the may-run tasks run"
    lines = [head]
    for row, r in sorted(fc["rows"].items(), key=lambda kv: (kv[0] != "agent", kv[0])):
        calls = r["to_run"] + r["may_run"]
        cost = "unknown" if r["unpriced"] + r["may_unpriced"] == calls else _money(r["cost_usd"])
        secs = "unknown" if r["untimed"] == calls else _time(r["seconds"])
        may = "" if not r["may_run"] else f" (+{r['may_run']} may run)" if cost == "unknown" else \
            f" (+{r['may_run']} may run: {_money(r['may_cost_usd'])}, {_time(r['may_seconds'])})"
        lines.append(f"  {row:<10} ▶ {r['to_run']:>5}  {cost:>9}  {secs:>8}{may}   [{'; '.join(r['basis'])}]")
    return lines + ([f"  (assumption: {fc['assumption']})"] if fc["assumption"] else [])


def _spent(b: dict) -> str:
    """What was spent, with what it holds that is not a current result's recorded cost."""
    parts = ([f"{_money(b['archived_usd'])} by failed or interrupted attempts"] if b.get("archived_usd") else []) \
        + ([f"{b['unknown_calls']} finished calls of unknown cost counted as $0"] if b.get("unknown_calls") else [])
    return _money(b["spent_usd"]) + (f" ({'; '.join(parts)})" if parts else "")


def _render_budget(b: dict | None) -> list[str]:
    if not b or b["budget_usd"] is None:
        return [] if not b else [f"Spent so far on agents and judges: {_spent(b)} (no budget_usd)"]
    unpriced = f" (+{b['unpriced_calls']} calls of unknown price)" if b["unpriced_calls"] else ""
    line = (f"Budget: {_money(b['budget_usd'])} · spent {_spent(b)} · forecast "
            f"{_money(b['forecast_usd'])}{unpriced} · left after it {_money(b['left_usd'])}")
    if b["over_budget"]:
        line += " · over_budget=1: the budget is not enforced"
    return [line] + ([f"⊘ The next `doit` starts no agent or judge call: {b['refusal']}"] if b["refusal"] else [])


def _render_why(rep: dict) -> list[str]:
    out = []
    for state, title in (("to_run", "Would run"), ("may_run", "May run (if an input comes out different)"),
                         ("refused", "Refused by the budget"), ("blocked", "Blocked")):
        out.append(f"{title} ({len(rep[state])}):")
        out += [f"  {n}: {'; '.join(rep['tasks'][n]['reasons'])}" for n in rep[state]]
    return out


# ---------------------------------------------------------------- the doit command

def _opt(name: str, long: str, kind, default, text: str) -> dict:
    return {"name": name, "short": "", "long": long, "type": kind, "default": default, "help": text}


class Status(DoitCmdBase):
    """`doit status [TASK|GLOB ...]`: registered as a doit command plugin (pyproject entry point)."""
    name = "status"
    doc_purpose = "the experiment at a glance: what is done, what the next `doit` would run, why, and its cost"
    doc_usage = "[TASK|GLOB ...] (what `doit TASK|GLOB ...` would run; default: everything)"
    doc_description = ("Counts propagate down the graph: a task counts as to run when doit will execute it, "
                       "including tasks whose inputs an upstream task rewrites with different bytes.")
    cmd_options = (
        _opt("why", "why", bool, False, "list every task that would run, with its reason"),
        _opt("as_json", "json", bool, False, "print the status as JSON (for CI)"),
        _opt("tier", "tier", str, "", "only these tiers, e.g. T0,T1"),
        _opt("subtest", "subtest", str, "", "only these subtests, e.g. T0/01 or 01"),
        _opt("runs", "runs", str, "", "only these run numbers, e.g. 1,3,5"),
        _opt("kind", "kind", str, "", "only these kinds, e.g. judge, judge_02, agent, run"),
    )

    def _execute(self, why=False, as_json=False, tier="", subtest="", runs="", kind="", pos_args=None):
        control = TaskControl(self.task_list)
        control.process(self.sel_tasks)          # (the tasks named, else the default ones: a shard's)
        namespace = getattr(self.loader, "namespace", {})
        exp = namespace.get("EXPERIMENT")
        plan = Plan(control.tasks, self.dep_manager, control.selected_tasks)
        problems = preflight.findings(exp, preflight.repo_cache(exp)) if exp is not None else []
        held = _hold_for_preflight(plan, problems, preflight.toolchain_findings(exp) if problems else [])
        rep = report(plan, exp, Selection.parse(tier, subtest, runs, kind), namespace.get("OVER_BUDGET", False))
        rep["preflight"] = problems
        if exp is not None and (scheduler := context.CURRENT.executor):
            rep["cluster"] = cluster.describe(scheduler, Path(exp.root).resolve())
        if exp is not None:
            kind, note = sandbox.resolve(exp.sandbox)
            rep["sandbox"] = {"kind": kind, "setting": exp.sandbox.kind, "note": note or None}
        if "STUDY" in namespace:
            rep["study"] = namespace["STUDY"].id
            if namespace["STUDY"].runs_experiments:
                rep["agents"] = comparison.statuses(namespace["STUDY"])
        sys.stdout.write(json.dumps(rep, indent=1) + "\n" if as_json else render(rep, exp, why))
        return 1 if held else 0
