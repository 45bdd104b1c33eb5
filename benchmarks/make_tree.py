"""Generate a synthetic, complete Scylla experiment for the benchmarks.

    python benchmarks/make_tree.py --runs 1130 --judges 3 --dest /tmp/bench-1130

N runs (10 per subtest, subtests spread over tiers T0..T6) and J judge slots, on the hello fixture.
It is built through Scylla itself: real `doit` builds every cheap file (setup, baseline, subtest
configs, agent results, judge prompts, judgments, consensus, run results, aggregates, reports), and the
paid tasks' outputs (agent captures of realistic size, pipeline results, judges' replies) are written with
Scylla's writers and sealed with the inputs their tasks declare, exactly as a finished task seals
them. No agent or judge is ever called (their commands would fail). Afterwards every task is up to date.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import shutil
import sys
from pathlib import Path

import orjson
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scylla import durable, graph, loader, pipeline, records, tree
from scylla.agents.command import model_md
from scylla.judges import reply

TIERS = [f"T{i}" for i in range(7)]
RUNS_PER_SUBTEST = 10


def _spec(dest: Path, runs: int, judges: int) -> Path:
    hello = REPO / "examples/hello"
    shutil.copytree(hello / "fixture", dest / "fixture", dirs_exist_ok=True)
    shutil.copytree(hello / "repo", dest / "repo", dirs_exist_ok=True)
    per = RUNS_PER_SUBTEST if runs % RUNS_PER_SUBTEST == 0 else 1
    subtests = runs // per
    for i in range(subtests):
        tier = TIERS[i % len(TIERS)]
        path = dest / "tiers" / tier.lower() / f"{i // len(TIERS) + 1:02d}-synthetic.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump({"name": f"synthetic {i}", "description": "benchmark subtest",
                                        "extends_previous": False, "resources": {}}))
    never = "echo 'benchmark trees are built, never run' >&2; exit 3"
    spec = {"id": f"bench-{runs}x{judges}", "fixture": "fixture", "tiers_dir": "tiers",
            "tiers": sorted({TIERS[i % len(TIERS)] for i in range(subtests)}), "runs": per,
            "agent": {"adapter": "command", "model": "synthetic-agent", "command": never},
            "judges": [{"adapter": "command", "model": f"synthetic-judge-{j}", "command": never}
                       for j in range(1, judges + 1)],
            "results": "results", "repos": {"https://example.invalid/scylla/hello-textkit.git": "repo"}}
    path = dest / "experiment.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _score(*key) -> float:
    """A deterministic pseudo-random score in [0.3, 1.0] per key."""
    digest = hashlib.md5("/".join(map(str, key)).encode()).digest()
    return round(0.3 + 0.7 * digest[0] / 255, 3)


def _stream(run_id: str) -> str:
    """A Claude-Code-style stream-json capture of about 30 KB ending in the result line."""
    lines = [orjson.dumps({"type": "system", "subtype": "init", "model": "synthetic-agent"}).decode()]
    for turn in range(40):
        text = f"Turn {turn} of {run_id}: reading files, editing textkit.py, running the tests. " * 8
        lines.append(orjson.dumps({"type": "assistant", "message": {"content": [{"type": "text", "text": text}]}}).decode())
    lines.append(orjson.dumps({
        "type": "result", "subtype": "success", "is_error": False, "num_turns": 40, "result": "Done.",
        "total_cost_usd": 0.12, "usage": {"input_tokens": 33, "output_tokens": 900, "cache_creation_input_tokens": 20000,
                                          "cache_read_input_tokens": 195735}}).decode())
    return "\n".join(lines) + "\n"


PATCH = "".join(f"diff --git a/textkit.py b/textkit.py\n@@ -{i},1 +{i},1 @@\n-    raise NotImplementedError\n"
                f"+    return len(text.split())  # line {i}\n" for i in range(1, 40))


def _agent(exp, run, out: Path) -> None:
    command = exp.agent.command
    durable.write_bytes(out / "prompt.md", Path(tree.PROMPT).read_bytes())
    durable.write_text(out / "stdout.log", _stream(run.id))
    durable.write_text(out / "stderr.log", "")
    durable.write_text(out / "output.txt", "Done.")
    durable.write_json(out / "command_log.json", {"commands": [{
        "command": command, "cwd": "<workspace>", "exit_code": 0, "timed_out": False, "duration_seconds": 612.5,
        "started_at": "2026-11-26T00:00:00+00:00", "env": {"SCYLLA_RUN_ID": run.id}}]})
    durable.write_text(out / "replay.sh", f"#!/usr/bin/env bash\n{command}\n")
    durable.write_json(out / "timing.json", {"agent_duration_seconds": 612.5, "measured_at": "2026-11-26T00:00:00+00:00"})
    durable.write_text(out / "MODEL.md", model_md("Agent", exp.agent.model, exp.agent.adapter, command))
    durable.write_text(out / "patch.diff", PATCH)
    durable.write_json(out / "workspace_state.json", {"base_commit": exp.fixture.source_hash, "files_changed": 1,
                                                      "changed_files": [{"status": "M", "path": "textkit.py"}]})


def _pipeline(exp, run, out: Path) -> None:
    passed = int(12 * _score(run.id))
    steps: dict[str, records.PipelineStep] = {
        name: {"status": "pass", "command": name, "exit_code": 0, "reason": "exit code 0"}
        for name in pipeline.STEPS}
    steps["test"] = {"status": "pass" if passed == 12 else "fail", "command": "pytest", "exit_code": int(passed < 12),
                     "reason": f"{passed} of 12 tests passed"}
    for name in pipeline.STEPS:
        durable.write_text(out / f"{name}.sh", f"#!/usr/bin/env bash\n{name}\n")
        durable.write_text(out / f"{name}.log", f"{name} output for {run.id}\n" * 20)
    durable.write_json(run.pipeline, pipeline._result("python", steps, {
        "total": 12, "passed": passed, "failed": 12 - passed, "errors": 0, "skipped": 0}))


def _judge(exp, run, slot_number: int, out: Path) -> None:
    slot = exp.judges[slot_number - 1]
    score = _score(run.id, slot_number)
    verdict = {"score": score, "passed": score >= 0.6, "reasoning": f"Synthetic verdict for {run.id}. " * 20,
               "criteria_scores": {"functional": {"score": score, "explanation": "synthetic"}}}
    durable.write_json(out / tree.JUDGE_CALL, reply.call_record(slot.adapter, slot.model, slot.number, cost_usd=0.02,
                                                                attempts=1, parsed=True))
    durable.write_text(out / "response.txt", orjson.dumps(verdict).decode())
    durable.write_text(out / "stdout.log", orjson.dumps(verdict).decode() * 10)
    durable.write_json(out / "timing.json", {"judge_duration_seconds": 41.0, "measured_at": "2026-11-26T00:00:00+00:00"})
    durable.write_text(out / "MODEL.md", model_md("Judge", slot.model, slot.adapter, slot.command))
    durable.write_text(out / "replay.sh", f"#!/usr/bin/env bash\n{slot.command}\n")


def _seal_all(tasks: list[dict], kind: str, write) -> None:
    """Write the outputs of every sealed task of `kind` and seal them as the task itself would."""
    for task in tasks:
        if task.get("basename") != kind or "meta" not in task:
            continue
        _, (_action, *action_args, name, inputs, digest) = task["actions"][0]    # (kinds.space_checked, (action, ...))
        write(*action_args, Path(task["meta"]["sealed"]))
        durable.write_seal(task["meta"]["sealed"], name, digest, inputs)


def make_tree(dest: Path, runs: int, judges: int) -> Path:
    """Build the complete experiment under `dest`; returns its spec path."""
    from doit.cmd_base import ModuleTaskLoader
    from doit.doit_cmd import DoitMain
    dest = Path(dest).resolve()
    dest.mkdir(parents=True, exist_ok=True)
    spec = _spec(dest, runs, judges)
    loaded = loader.load(str(spec))
    exp = loaded["EXPERIMENT"]
    log = io.StringIO()

    def doit(*args: str) -> None:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
            if DoitMain(ModuleTaskLoader(loaded)).run(list(args)) != 0:
                raise SystemExit(f"doit {' '.join(args)} failed:\n{log.getvalue()[-3000:]}")
    doit("setup", "baseline", "subtest_config")
    tasks = list(graph.tasks(exp))
    _seal_all(tasks, "agent", lambda e, run, out: _agent(e, run, out))
    _seal_all(tasks, "pipeline", lambda e, run, out: _pipeline(e, run, out))
    doit("judge_prompt")
    _seal_all(tasks, "judge", lambda e, run, slot, out: _judge(e, run, slot, out))
    doit()
    return spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1130)
    parser.add_argument("--judges", type=int, default=3)
    parser.add_argument("--dest", type=Path, required=True)
    args = parser.parse_args()
    spec = make_tree(args.dest, args.runs, args.judges)
    print(spec)


if __name__ == "__main__":
    main()
