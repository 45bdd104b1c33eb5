"""The analysis data frames: CSV tables of an experiment's results, one row per run, per run × judge
slot, per run × slot × criterion and per subtest (docs/numbers.md, "Analysis frames").

Each frame has one fixed column order (FRAMES) and deterministic bytes: stdlib csv, "\\n" line ends,
UTF-8, floats as Python's repr, None (unknown) as an empty cell, booleans as true/false. Every row
carries the full key (experiment, agent_model, tier, subtest, run), so frames of several experiments
can be stacked without losing which run is which.

They are built hierarchically (graph.py): a subtest's partial frames from its runs' files, a tier's
by concatenating its subtests', the experiment's by concatenating its tiers' (analysis/data/). So no
task reads more than one subtest's runs, and an unchanged partial frame (the same bytes) stops the
cascade above it.
"""

from __future__ import annotations

import csv
import io
import math
import statistics
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import durable, records, results, tree
from ..spec import Experiment, load_yaml
from ..tree import RunPaths, SubtestPaths

DATA_DIR = "analysis/data"
PARTS_DIR = "analysis/parts"
KEY = ("experiment", "agent_model", "tier", "subtest", "run")
RUN_COLUMNS = KEY + (
    "score", "passed", "grade", "impl_rate", "cost_usd", "judge_cost_usd", "total_cost_usd",
    "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens", "tokens_input", "tokens_output",
    "total_tokens", "agent_duration_seconds", "judge_duration_seconds", "duration_seconds", "exit_code",
    "agent_outcome", "api_calls", "num_turns", "empty_diff", "judges", "valid_judges", "pass_votes",
    "split_decision", "pipeline_score", "pipeline_passed", "outcome", "started_at", "ended_at", "measured_at")
JUDGE_COLUMNS = KEY + ("slot", "adapter", "model", "score", "grade", "passed", "is_valid", "impl_rate", "cost_usd",
                       "duration_seconds")
CRITERION_COLUMNS = KEY + ("slot", "criterion", "is_valid", "score", "achieved", "max_points", "weight")
SUBTEST_COLUMNS = KEY[:4] + (
    "runs", "passed", "pass_rate", "mean_score", "median_score", "std_score", "min_score", "max_score",
    "consistency", "mean_cost_usd", "total_cost_usd", "cost_unknown_runs", "total_judge_cost_usd",
    "judge_cost_unknown_runs", "input_tokens", "output_tokens", "cache_creation_tokens", "cache_read_tokens",
    "tokens_input", "tokens_output", "total_tokens", "total_duration_seconds", "wall_clock_seconds", "started_at",
    "ended_at", "invalid_judgments", *(f"grade_{g}" for g in ("S", "A", "B", "C", "D", "F")))
FRAMES = {"runs": RUN_COLUMNS, "judges": JUDGE_COLUMNS, "criteria": CRITERION_COLUMNS, "subtests": SUBTEST_COLUMNS}

# how a run turned out, the first that applies (docs/numbers.md)
OUTCOMES = ("infrastructure", "judge invalid", "passed", "agent error", "empty diff", "failed")
INFRA_OUTCOMES = ("error_api_error",)       # agents/usage.outcome of an API error that ended the run


# ---------------------------------------------------------------- where they are

def paths(directory: str) -> list[str]:
    """The four frames in `directory`, in FRAMES order."""
    return [f"{directory}/{name}.csv" for name in FRAMES]


def runs_csv(directory: str) -> str:
    """The runs frame in `directory`: it records each run's newest measurement (a fresh one changes it)."""
    return f"{directory}/runs.csv"


def part_dir(scope: str) -> str:
    """A subtest's ("T0/00") or a tier's ("T0") partial frames."""
    return f"{PARTS_DIR}/{scope}"


def subtest_inputs(exp: Experiment, sp: SubtestPaths) -> list[str]:
    """Exactly the files a subtest's frames are built from."""
    inputs = [sp.result, tree.RUBRIC]
    for n in range(1, exp.runs + 1):
        run = sp.run(n)
        inputs += [run.run_result, run.agent_result, run.agent("patch.diff"), run.agent("workspace_state.json")]
        inputs += [run.judge(j.number, f) for j in exp.judges for f in ("judgment.json", "timing.json")]
    return inputs


def identity(exp: Experiment) -> dict:
    """What the frames take from the spec rather than from the files (their config_changed)."""
    return {"experiment": exp.id, "agent_model": exp.agent.model,
            "judges": [[j.name, j.adapter, j.model] for j in exp.judges]}


# ---------------------------------------------------------------- cells and CSV

def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"a frame cell must be finite, got {value!r}")
        return repr(value)
    return str(value)


def to_csv(columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([_cell(row.get(c)) for c in columns] for row in rows)
    return out.getvalue()


TEXT_COLUMNS = frozenset({"experiment", "agent_model", "tier", "subtest", "grade", "agent_outcome", "outcome",
                          "started_at", "ended_at", "measured_at", "slot", "adapter", "model", "criterion"})


def parse_cell(column: str, cell: str) -> Any:
    """The inverse of _cell: '' is None, true/false are booleans, numbers are int or float, text stays."""
    if cell == "" or column in TEXT_COLUMNS:
        return cell or None
    if cell in ("true", "false"):
        return cell == "true"
    try:
        return int(cell)
    except ValueError:
        return float(cell)


def read(directory: str, name: str) -> list[dict[str, Any]]:
    """A frame written by to_csv, its cells typed again (parse_cell); its header must be FRAMES[name]."""
    path = Path(f"{directory}/{name}.csv")
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    if not rows or tuple(rows[0]) != FRAMES[name]:
        raise durable.ArtifactError(f"{path}: its header is not the {name} frame's columns "
                                    f"(written by another version of Scylla? delete it to rebuild it)")
    return [{c: parse_cell(c, v) for c, v in zip(rows[0], row, strict=True)} for row in rows[1:]]


def _number(value: Any) -> float | None:
    return float(value) if not isinstance(value, bool) and isinstance(value, (int, float)) \
        and math.isfinite(value) else None


# ---------------------------------------------------------------- rows (pure)

def judge_impl_rate(criteria: Any) -> float | None:
    """Σ achieved / Σ maximum points over the criteria that record both (ProjectScylla's `max`; Scylla's
    pipeline judge records the applicable points, N/A items left out); None when none does or Σ is 0."""
    achieved = maximum = 0.0
    counted = False
    for c in (criteria or {}).values() if isinstance(criteria, dict) else ():
        if not isinstance(c, dict):
            continue
        a, m = _number(c.get("achieved")), _number(c.get("max", c.get("applicable")))
        if a is not None and m is not None:
            achieved, maximum, counted = achieved + a, maximum + m, True
    return achieved / maximum if counted and maximum > 0 else None


def run_impl_rate(judgments: Sequence[Mapping[str, Any]]) -> float | None:
    """The median over the valid judges whose impl rate is known (ProjectScylla: the median over judges)."""
    rates = [r for j in judgments if results.is_valid(j) and (r := judge_impl_rate(j.get("criteria_scores")))
             is not None]
    return statistics.median(rates) if rates else None


def outcome(run: Mapping[str, Any], empty_diff: bool | None) -> str:
    """The run's outcome class (OUTCOMES): the first that applies."""
    if run.get("agent_outcome") in INFRA_OUTCOMES:
        return "infrastructure"
    if not run.get("judge_valid", True):
        return "judge invalid"
    if run.get("judge_passed"):
        return "passed"
    if run.get("exit_code") != 0 or run.get("agent_outcome", "completed") != "completed":
        return "agent error"
    return "empty diff" if empty_diff else "failed"


def run_row(key: dict, run: records.NormalizedRun, agent: Mapping[str, Any], empty_diff: bool | None,
            judgments: Sequence[Mapping[str, Any]]) -> dict:
    """`judgments`: each slot's judgment.json (SlotJudgment: model and judge_number always there)."""
    valid = [j for j in judgments if results.is_valid(j)]
    votes = sum(1 for j in valid if j.get("passed") is True)
    pipeline = next((j for j in judgments if j.get("judge_kind") == "pipeline"), None)
    tokens = run["token_stats"]
    return {
        **key, "score": run["judge_score"], "passed": run["judge_passed"], "grade": run["judge_grade"],
        "impl_rate": run_impl_rate(judgments), "cost_usd": run["cost_usd"], "judge_cost_usd": run["judge_cost_usd"],
        "total_cost_usd": results.total([run["cost_usd"], run["judge_cost_usd"]]), **tokens,
        "tokens_input": run["tokens_input"], "tokens_output": run["tokens_output"], "total_tokens": run["total_tokens"],
        "agent_duration_seconds": run.get("agent_duration_seconds"),
        "judge_duration_seconds": run.get("judge_duration_seconds"), "duration_seconds": run["duration_seconds"],
        "exit_code": run["exit_code"], "agent_outcome": run.get("agent_outcome", "completed"),
        "api_calls": agent.get("api_calls"), "num_turns": agent.get("num_turns"), "empty_diff": empty_diff,
        "judges": len(judgments), "valid_judges": len(valid), "pass_votes": votes,
        "split_decision": 0 < votes < len(valid),
        "pipeline_score": pipeline.get("score") if pipeline else None,
        "pipeline_passed": pipeline.get("passed") if pipeline else None,
        "outcome": outcome(run, empty_diff),
        # (measured_at, the newest measurement, to the microsecond: a fresh one always changes the frames above)
        "started_at": run["started_at"], "ended_at": run["ended_at"], "measured_at": run.get("measured_at"),
    }


def judge_row(key: dict, slot: str, adapter: str, j: Mapping[str, Any], timing: Mapping[str, Any]) -> dict:
    return {**key, "slot": slot, "adapter": j.get("adapter", adapter), "model": j.get("model"),
            "score": _number(j.get("score")), "grade": j.get("grade"), "passed": j.get("passed"),
            "is_valid": results.is_valid(j), "impl_rate": judge_impl_rate(j.get("criteria_scores")),
            "cost_usd": _number(j.get("cost_usd")), "duration_seconds": _number(timing.get("judge_duration_seconds"))}


def criterion_rows(key: dict, slot: str, j: Mapping[str, Any], weights: Mapping[str, float]) -> list[dict]:
    """A criterion is a number (its score) or an object with `score` (and `achieved`, `max`/`applicable`)."""
    criteria = j.get("criteria_scores")
    criteria = criteria if isinstance(criteria, dict) else {}
    rows = []
    for name in sorted(criteria):
        c = criteria[name]
        c = c if isinstance(c, dict) else {"score": c}
        rows.append({**key, "slot": slot, "criterion": name, "is_valid": results.is_valid(j),
                     "score": _number(c.get("score")), "achieved": _number(c.get("achieved")),
                     "max_points": _number(c.get("max", c.get("applicable"))), "weight": weights.get(name)})
    return rows


def rubric_weights(rubric: Any) -> dict[str, float]:
    """Criterion -> weight, as the rubric gives them: its categories' `weight`, or its requirements'."""
    if not isinstance(rubric, dict):
        return {}
    if isinstance(rubric.get("categories"), dict):
        items = [(name, (c or {}).get("weight")) for name, c in rubric["categories"].items()]
    else:
        items = [(r.get("id"), r.get("weight")) for r in rubric.get("requirements") or [] if isinstance(r, dict)]
    return {str(name): w for name, weight in items if (w := _number(weight)) is not None}


def subtest_row(key: dict, s: Mapping[str, Any]) -> dict:
    """The subtest's result.json, except that its SD and consistency are unknown with fewer than 2 runs
    (result.json keeps ProjectScylla's 0 and 1 there; the spread of one run is not zero, it is unmeasured)."""
    tokens, grades = s.get("token_stats") or {}, s.get("grade_distribution") or {}
    row = {**key, **{c: s.get(c) for c in SUBTEST_COLUMNS if c in s and c not in key}}
    if (s.get("runs") or 0) < 2:
        row |= {"std_score": None, "consistency": None}
    return {**row, **{k: tokens.get(k) for k in results.TOKEN_KEYS},
            **{f"grade_{g}": grades.get(g, 0) for g in ("S", "A", "B", "C", "D", "F")}}


# ---------------------------------------------------------------- task actions

def build_subtest(exp: Experiment, sp: SubtestPaths) -> None:
    """A subtest's partial frames from its runs' files (subtest_inputs)."""
    base = {"experiment": exp.id, "agent_model": exp.agent.model, "tier": sp.tier, "subtest": sp.subtest}
    weights = rubric_weights(load_yaml(Path(tree.RUBRIC).read_text(encoding="utf-8")))
    frames: dict[str, list[dict]] = {name: [] for name in FRAMES}
    for n in range(1, exp.runs + 1):
        run, key = sp.run(n), {**base, "run": n}
        judgments = [{"model": j.model, "judge_number": j.number,
                      **records.read(run.judge(j.number, "judgment.json"), records.JudgmentFile)} for j in exp.judges]
        run_result = results.normalized_run(records.read(run.run_result, records.RunResult))
        agent = records.read(run.agent_result, records.AgentResult)
        frames["runs"].append(run_row(key, run_result, agent, _empty_diff(run), judgments))
        for slot, j in zip(exp.judges, judgments, strict=True):
            timing = records.read(run.judge(slot.number, "timing.json"), records.JudgeTiming)
            frames["judges"].append(judge_row(key, slot.name, slot.adapter, j, timing))
            frames["criteria"] += criterion_rows(key, slot.name, j, weights)
    frames["subtests"].append(subtest_row(base, records.read(sp.result, records.SubtestSummary)))
    for (name, columns), target in zip(FRAMES.items(), paths(part_dir(sp.dir)), strict=True):
        durable.write_text(target, to_csv(columns, frames[name]))


def _empty_diff(run: RunPaths) -> bool | None:
    """Whether the agent changed nothing; None when the patch is unknown (an adopted run whose
    workspace ProjectScylla removed: its patch.diff is an empty placeholder)."""
    state = Path(run.agent("workspace_state.json"))
    if state.stat().st_size and durable.read_json_object(state).get("patch_unavailable"):
        return None
    return not Path(run.agent("patch.diff")).read_bytes().strip()


def concatenate(sources: list[str], target_dir: str) -> None:
    """The frames of `sources` (directories of partial frames, in order) stacked: one header, their rows."""
    for name, columns in FRAMES.items():
        header = to_csv(columns, [])
        body = []
        for source in sources:
            text = Path(f"{source}/{name}.csv").read_text(encoding="utf-8")
            if not text.startswith(header):
                raise durable.ArtifactError(f"{source}/{name}.csv: its header is not {header.strip()!r} "
                                            f"(written by another version of Scylla? delete it to rebuild it)")
            body.append(text[len(header):])
        durable.write_text(f"{target_dir}/{name}.csv", header + "".join(body))
