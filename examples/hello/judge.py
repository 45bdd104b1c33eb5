#!/usr/bin/env python3
"""Scripted judge for the offline hello example: a stand-in for a language-model judge.

It reads the judge prompt ($SCYLLA_JUDGE_PROMPT_FILE), takes the pipeline result from
the fenced ```json block after the `## Build/test pipeline` heading, and replies like
an LLM judge: a sentence, a fenced JSON verdict, a closing sentence. The verdict
depends on the prompt only (not on the slot, model or attempt), so it is reproducible.
Category weights mirror fixture/expected/rubric.yaml.
"""

import json
import os
import shutil
import sys

WEIGHTS = {"functional": 0.60, "code_quality": 0.25, "overall_quality": 0.15}
PASS_THRESHOLD = 0.60


def pipeline_result(prompt: str) -> dict | None:
    """The JSON block of the `## Build/test pipeline` section, or None if absent/invalid."""
    lines = [line.rstrip() for line in prompt.splitlines()]
    try:
        start = lines.index("## Build/test pipeline")
    except ValueError:
        return None
    block: list[str] | None = None
    for line in lines[start + 1 :]:
        if block is None:
            if line.startswith("```json"):
                block = []
            elif line.startswith("## "):
                return None  # next section began before any JSON block
        elif line.startswith("```"):
            try:
                data = json.loads("\n".join(block))
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
        else:
            block.append(line)
    return None


def verdict(pipeline: dict) -> dict:
    steps = pipeline.get("steps") or {}

    def status(step: str) -> str:
        return (steps.get(step) or {}).get("status", "na")

    tests = pipeline.get("tests") or {}
    total, passed = tests.get("total") or 0, tests.get("passed") or 0
    frac = passed / total if total else 0.0
    build_ok = status("build") != "fail"
    lint = status("lint")

    functional = frac
    quality = (1.0 if build_ok else 0.0) * (0.5 if lint == "fail" else 1.0)
    # The "subjective" part: a working, complete solution reads as good code.
    overall = 0.0 if not build_ok else 0.9 if frac == 1.0 else round(0.3 + 0.5 * frac, 4)
    scores = {"functional": functional, "code_quality": quality, "overall_quality": overall}
    # a judge option (spec: judges[N].options.score_scale) makes a harsher or kinder judge
    scale = float(os.environ.get("SCYLLA_OPTION_SCORE_SCALE", "1"))
    score = round(min(1.0, scale * sum(WEIGHTS[k] * v for k, v in scores.items())), 4)
    return {
        "score": score,
        "passed": score >= PASS_THRESHOLD,
        "reasoning": (
            f"{passed} of {total} tests pass; build {status('build')}, lint {lint}. "
            "The score weights test results most, then code quality and readability."
        ),
        "criteria_scores": {
            "functional": {
                "score": round(functional, 4),
                "explanation": f"{passed}/{total} tests in tests/test_textkit.py pass.",
            },
            "code_quality": {
                "score": quality,
                "explanation": f"Byte-compile step {status('build')}; ruff check {lint}.",
            },
            "overall_quality": {
                "score": overall,
                "explanation": "Complete and tidy."
                if overall >= 0.9
                else "Partial solution; some functions are missing or wrong.",
            },
        },
    }


def record_call(line: str) -> None:
    """Tests count real invocations: append one line per call to $SCYLLA_CALL_LOG if set."""
    if os.environ.get("SCYLLA_CALL_LOG"):
        with open(os.environ["SCYLLA_CALL_LOG"], "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def main() -> int:
    run_id = os.environ.get("SCYLLA_RUN_ID", "?")
    slot = os.environ.get("SCYLLA_JUDGE_SLOT", "?")
    record_call(f"judge {run_id} {slot}")
    # Tests inject failures per run: a crash (non-zero exit), a reply with no JSON in it, or a score out of range;
    # or, for every run, a reply read from a file.
    if run_id in os.environ.get("SCYLLA_EXAMPLE_JUDGE_FAIL", "").split(","):
        print("[scripted-judge] simulated crash", file=sys.stderr)
        return 2
    if run_id in os.environ.get("SCYLLA_EXAMPLE_JUDGE_GARBAGE", "").split(","):
        print("I am not sure what to say about this run.")
        return 0
    if run_id in os.environ.get("SCYLLA_EXAMPLE_JUDGE_SCORE_7", "").split(","):
        print('Excellent work.\n```json\n{"score": 7, "passed": true, "reasoning": "7 out of 10"}\n```')
        return 0
    if os.environ.get("SCYLLA_EXAMPLE_JUDGE_REPLY_FILE"):     # a hostile reply: these bytes, as they are
        with open(os.environ["SCYLLA_EXAMPLE_JUDGE_REPLY_FILE"], "rb") as fh:
            shutil.copyfileobj(fh, sys.stdout.buffer)
        return 0
    path = os.environ.get("SCYLLA_JUDGE_PROMPT_FILE", "")
    try:
        with open(path, encoding="utf-8") as fh:
            prompt = fh.read()
    except OSError:
        prompt = ""
    print(f"[scripted-judge] run {os.environ.get('SCYLLA_RUN_ID', '?')}", file=sys.stderr)

    pipeline = pipeline_result(prompt)
    if pipeline is None:
        reply = {
            "score": 0.0,
            "passed": False,
            "reasoning": "The prompt has no readable '## Build/test pipeline' JSON block.",
            "criteria_scores": {},
        }
        print("I could not find the pipeline results, so I cannot credit the work.\n")
    else:
        reply = verdict(pipeline)
        print("I reviewed the pipeline results and the change to textkit.py.\n")
    print("```json\n" + json.dumps(reply, indent=2) + "\n```\n")
    print("This concludes my evaluation.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
