"""Builds ProjectScylla experiment directories the way ProjectScylla writes them (file names, JSON
keys, MODEL.md text, flat or completed/ + in_progress/ layout), for the adoption tests.

Each run is finished up to a chosen stage: "agent" (agent output only, workspace kept), "judged"
(judgments but no run_result.json), "complete". A judge slot listed in `failed_judges` has no
judgment.json, only what ProjectScylla leaves for a failed judge (timing.json + error.log).
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

AGENT_MODEL = "claude-sonnet-4-6"
JUDGE_MODELS = ["claude-opus-4-6", "claude-sonnet-4-6", "claude-haiku-4-5-20251001"]
SOLUTION = "def word_count(text: str) -> int:\n    return len(text.split())\n"


@dataclass
class Run:
    tier: str
    subtest: str
    number: int
    stage: str = "complete"                 # agent | judged | complete
    failed_judges: tuple[int, ...] = ()
    where: str = "completed"                # completed | in_progress (current layout only)
    rate_limited: bool = False              # the agent was refused (429): ProjectScylla archived an attempt
    scores: tuple[float, ...] = (0.9, 0.8, 0.85)
    keep_workspace: bool = False            # kept after judging too (ProjectScylla's --keep-workspaces)
    legacy_keys: bool = False               # judgments and judge/result.json without is_valid (older writers)


@dataclass
class PSExperiment:
    dir: Path
    layout: str                              # flat | current
    runs: list[Run] = field(default_factory=list)

    def run_dir(self, run: Run) -> Path:
        base = self.dir if self.layout == "flat" else self.dir / run.where
        return base / run.tier / run.subtest / f"run_{run.number:02d}"


def _write(path: Path, data) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, (dict, list)):
        data = json.dumps(data, indent=2)
    path.write_text(data)


# What ProjectScylla recorded for each agent run (agent/result.json, run_result.json): the CLI result's
# top-level `usage` (the main model's loop). Its `modelUsage` also lists a second model (the CLI's own haiku
# calls), which ProjectScylla left out.
TOKEN_STATS = {"input_tokens": 29, "output_tokens": 656, "cache_creation_tokens": 23106, "cache_read_tokens": 112686}
HAIKU = "claude-haiku-4-5-20251001"


def _claude_result(cost: float) -> dict:
    return {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 35340, "num_turns": 6,
            "result": "Implemented word_count.", "session_id": "3f1c", "total_cost_usd": cost,
            "usage": {"input_tokens": 29, "cache_creation_input_tokens": 23106, "cache_read_input_tokens": 112686,
                      "output_tokens": 656},
            "modelUsage": {
                AGENT_MODEL: {"inputTokens": 29, "outputTokens": 656, "cacheReadInputTokens": 112686,
                              "cacheCreationInputTokens": 23106, "webSearchRequests": 0, "costUSD": cost - 0.004,
                              "contextWindow": 200000},
                HAIKU: {"inputTokens": 1830, "outputTokens": 92, "cacheReadInputTokens": 0,
                        "cacheCreationInputTokens": 0, "webSearchRequests": 0, "costUSD": 0.004,
                        "contextWindow": 200000}}}


LIMITED = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": 429,
           "api_error_type": "rate_limit_error", "num_turns": 1, "total_cost_usd": 0,
           "result": "API Error: Request rejected (429) · You've hit your limit · resets 4pm (UTC)",
           "usage": {"input_tokens": 0, "output_tokens": 0}}


def _limited_agent(run_dir: Path) -> None:
    """A rate-limited agent as ProjectScylla records it, plus the attempt it archived before."""
    raw = json.dumps(LIMITED)
    _write(run_dir / "agent/stdout.log", raw)
    _write(run_dir / "agent/result.json", {"exit_code": 1, "stdout": raw, "stderr": "", "token_stats": {
        "input_tokens": 0, "output_tokens": 0, "cache_creation_tokens": 0, "cache_read_tokens": 0},
        "cost_usd": 0.0, "api_calls": 1})
    archived = run_dir.parent / ".failed" / f"{run_dir.name}_attempt_01" / "agent"
    _write(archived / "stdout.log", raw)


def _agent(run_dir: Path, repo: Path, keep_workspace: bool) -> None:
    agent = run_dir / "agent"
    raw = json.dumps(_claude_result(0.135))
    _write(agent / "stdout.log", raw)
    _write(agent / "stderr.log", "")
    _write(agent / "output.txt", raw)
    _write(agent / "prompt.md", "Implement textkit.\n")
    _write(agent / "replay.sh", "#!/usr/bin/env bash\nclaude --model claude-sonnet-4-6 --print --output-format json\n")
    _write(agent / "timing.json", {"agent_duration_seconds": 35.34, "measured_at": "2026-03-30T04:12:00+00:00"})
    _write(agent / "command_log.json", {"generated_at": "2026-03-30T04:11:20+00:00", "total_commands": 1, "commands": [
        {"timestamp": "2026-03-30T04:11:20+00:00", "command": ["claude", "--model", AGENT_MODEL], "cwd": "workspace",
         "env_vars": {}, "exit_code": 0, "stdout_file": "cmd_0000_stdout.log", "stderr_file": "cmd_0000_stderr.log",
         "duration_seconds": 35.34}]})
    _write(agent / "MODEL.md", f"# Agent Model Information\n\n**Model**: {AGENT_MODEL}\n"
                               "**Claude Code Version**: 2.1.12 (Claude Code)\n**Timestamp**: 2026-03-30T04:11:20+00:00\n")
    _write(agent / "result.json", {"exit_code": 0, "stdout": raw, "stderr": "", "token_stats": {
        "input_tokens": 29, "output_tokens": 656, "cache_creation_tokens": 23106, "cache_read_tokens": 112686},
        "cost_usd": 0.135, "api_calls": 6})
    if keep_workspace:                       # ProjectScylla removes the workspace only after judging
        shutil.copytree(repo, run_dir / "workspace")
        text = (run_dir / "workspace/textkit.py").read_text()
        start = text.index("def word_count")
        end = text.index("\ndef ", start + 1)
        (run_dir / "workspace/textkit.py").write_text(text[:start] + SOLUTION + "\n" + text[end:])
        _write(run_dir / "workspace/CLAUDE.md", "ProjectScylla's composed CLAUDE.md\n")


def _judges(run_dir: Path, run: Run) -> None:
    _write(run_dir / "judge_prompt.md", "# Judge prompt\n\n(ProjectScylla's full judge prompt)\n")
    for d in ("python_check.sh", "python_test.sh", "run_all.sh", "python_test_output.log"):
        _write(run_dir / "commands" / d, f"# {d}\n")
    for n, model in enumerate(JUDGE_MODELS, start=1):
        jd = run_dir / "judge" / f"judge_{n:02d}"
        if n in run.failed_judges:
            _write(jd / "timing.json", {"judge_duration_seconds": 0.0, "measured_at": "2026-03-30T04:13:00+00:00",
                                        "failed": True, "error": "judge CLI exited 1"})
            _write(jd / "error.log", "judge CLI exited 1\n")
            continue
        score = run.scores[n - 1]
        _write(jd / "judgment.json", {"score": score, "passed": score >= 0.6, "grade": "A" if score >= 0.8 else "B",
                                      "reasoning": f"judge {n}: solid", "criteria_scores": {},
                                      **({} if run.legacy_keys else {"is_valid": True})})
        _write(jd / "MODEL.md", f"# Judge Model Information\n\n**Model**: {model}\n"
                                "**Claude Code Version**: 2.1.12 (Claude Code)\n**Timestamp**: 2026-03-30T04:13:00+00:00\n")
        _write(jd / "response.txt", json.dumps({"score": score}))
        _write(jd / "stdout.log", "{}\n")
        _write(jd / "replay.sh", "#!/usr/bin/env bash\n")
        _write(jd / "timing.json", {"judge_duration_seconds": 50.1, "measured_at": "2026-03-30T04:13:00+00:00"})
    valid = [s for n, s in enumerate(run.scores, start=1) if n not in run.failed_judges]
    mean = sum(valid) / len(valid)
    _write(run_dir / "judge/result.json", {"score": mean, "passed": True, "grade": "A" if mean >= 0.8 else "B",
                                           "reasoning": "closest judge", "criteria_scores": None,
                                           **({} if run.legacy_keys else {"is_valid": not run.failed_judges})})
    _write(run_dir / "judge/timing.json", {"judge_duration_seconds": 150.3, "measured_at": "2026-03-30T04:14:00+00:00"})


def _run_result(run_dir: Path, run: Run) -> None:
    judges: list[dict] = [{"model": m, "score": s, "passed": s >= 0.6, "grade": "A" if s >= 0.8 else "B", "reasoning": "r",
               "judge_number": n, "is_valid": True, "criteria_scores": {}}
              for n, (m, s) in enumerate(zip(JUDGE_MODELS, run.scores), start=1)]
    mean = sum(run.scores) / 3
    _write(run_dir / "run_result.json", {
        "run_number": run.number, "cost_usd": 0.135, "duration_seconds": 185.64, "exit_code": 0,
        "token_stats": {"input_tokens": 29, "output_tokens": 656, "cache_creation_tokens": 23106,
                        "cache_read_tokens": 112686},
        "agent_duration_seconds": 35.34, "judge_duration_seconds": 150.3, "judge_score": mean,
        "judge_passed": True, "judge_grade": "A" if mean >= 0.8 else "B", "judge_reasoning": "closest judge",
        "workspace_path": str(run_dir / "workspace"), "logs_path": str(run_dir / "agent"), "judges": judges,
        "command_log_path": str(run_dir / "agent/command_log.json"), "criteria_scores": {},
        "tokens_input": 112715, "tokens_output": 656})
    _write(run_dir / "report.md", f"# Run {run.number}\n")
    _write(run_dir / "report.json", {"run_number": run.number, "score": mean, "grade": "A", "passed": True})


def build(dest: Path, layout: str, runs: list[Run], fixture: Path, repo: Path, runs_per_subtest: int,
          tiers: list[str]) -> PSExperiment:
    """A ProjectScylla experiment directory with these runs, as ProjectScylla leaves it."""
    test = yaml.safe_load((fixture / "test.yaml").read_text())
    exp = PSExperiment(dest, layout, runs)
    _write(dest / "config/experiment.json", {
        "experiment_id": "hello-ps", "task_repo": test["source"]["repo"], "task_commit": test["source"]["hash"],
        "task_prompt_file": str(fixture / "prompt.md"), "language": "python", "models": [AGENT_MODEL],
        "runs_per_subtest": runs_per_subtest, "tiers_to_run": tiers, "judge_models": JUDGE_MODELS,
        "timeout_seconds": 3600, "max_turns": None, "max_subtests": None, "skip_agent_teams": False,
        "thinking_mode": "None", "use_containers": False})
    shutil.copy(fixture / "prompt.md", dest / "prompt.md")
    for name in ("criteria.md", "rubric.yaml"):
        (dest / name).symlink_to(fixture / "expected" / name)
    _write(dest / "checkpoint.json", {"version": "3.1", "experiment_id": "hello-ps", "status": "interrupted"})
    _write(dest / "pipeline_baseline.json", {"language": "python", "build_passed": True, "all_passed": False})
    for run in runs:
        run_dir = exp.run_dir(run)
        if run.rate_limited:
            _limited_agent(run_dir)
            continue
        _agent(run_dir, repo, keep_workspace=run.stage == "agent" or run.keep_workspace)
        (run_dir / "task_prompt.md").parent.mkdir(parents=True, exist_ok=True)
        (run_dir / "task_prompt.md").symlink_to(dest / "prompt.md")
        if run.stage in ("judged", "complete"):
            _judges(run_dir, run)
        if run.stage == "complete" and not run.failed_judges:
            _run_result(run_dir, run)
    for tier, subtest in sorted({(r.tier, r.subtest) for r in runs}):
        base = dest if layout == "flat" else dest / "completed"
        _write(base / tier / subtest / "config_manifest.json", {"tier_id": tier, "subtest_id": subtest,
                                                                 "resources": {}, "claude_md_hash": None})
    return exp
