#!/usr/bin/env python3
"""Scripted agent for the offline hello example: a stand-in for Claude Code.

It follows its configuration, never the subtest id: it reads the resources that
Scylla put in the workspace (CLAUDE.md, .claude/skills/*/SKILL.md,
.claude/agents/*.md) and collects the markers `<!-- scylla-hint: FUNC -->` in
them. A hinted function is written correctly; otherwise word_count is always
correct, is_palindrome gets a naive version and the rest stay stubs. A hint
marked `flaky` is followed only on odd run numbers (a naive version otherwise).
It rewrites textkit.py, writes NOTES.md when skills or agents were present, and
prints one JSON result shaped like `claude --output-format json`.
"""

import json
import os
import re
import sys
import time
import uuid
from pathlib import Path

# Per function: the body of each variant ("stub" is the original).
STUB = "    raise NotImplementedError\n"
VARIANTS = {
    "word_count": {
        "correct": "    return len(text.split())\n",
    },
    "is_palindrome": {
        # Naive: forgets to normalise case and punctuation.
        "naive": "    return text == text[::-1]\n",
        "correct": (
            "    chars = [c.lower() for c in text if c.isalnum()]\n"
            "    return chars == chars[::-1]\n"
        ),
    },
    "char_histogram": {
        "correct": (
            "    counts: dict[str, int] = {}\n"
            "    for c in text.lower():\n"
            "        if c.isalpha():\n"
            "            counts[c] = counts.get(c, 0) + 1\n"
            "    return counts\n"
        ),
    },
    "title_case": {
        "correct": (
            '    words = text.split(" ")\n'
            '    return " ".join(w[:1].upper() + w[1:].lower() for w in words)\n'
        ),
    },
    "compress_runs": {
        # Naive: always writes the count, even for runs of length 1.
        "naive": (
            "    out = []\n"
            "    i = 0\n"
            "    while i < len(text):\n"
            "        j = i\n"
            "        while j < len(text) and text[j] == text[i]:\n"
            "            j += 1\n"
            '        out.append(f"{text[i]}{j - i}")\n'
            "        i = j\n"
            '    return "".join(out)\n'
        ),
        "correct": (
            "    out = []\n"
            "    i = 0\n"
            "    while i < len(text):\n"
            "        j = i\n"
            "        while j < len(text) and text[j] == text[i]:\n"
            "            j += 1\n"
            '        out.append(text[i] + (str(j - i) if j - i > 1 else ""))\n'
            "        i = j\n"
            '    return "".join(out)\n'
        ),
    },
}
HINT = re.compile(r"<!--\s*scylla-hint:\s*(\w+)(\s+flaky)?\s*-->")
# A function, from its `def` line through its docstring (the body follows).
FUNC = re.compile(r'(def (\w+)\(.*?\).*?:\n    """.*?"""\n)(.*?)(?=\n\ndef |\Z)', re.DOTALL)


def log(msg: str) -> None:
    print(f"[scripted-agent] {msg}", file=sys.stderr, flush=True)


def read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError:
        return ""


def choose_variants(hints: dict[str, bool], run_number: int) -> dict[str, str]:
    """Map each function to the variant written for it ("stub", "naive", "correct")."""
    chosen = {}
    for name, variants in VARIANTS.items():
        if name in hints and (not hints[name] or run_number % 2 == 1):
            chosen[name] = "correct"
        elif name == "word_count":
            chosen[name] = "correct"  # easy enough without any help
        elif (name == "is_palindrome" or name in hints) and "naive" in variants:
            chosen[name] = "naive"  # attempted, but the details are missed
        else:
            chosen[name] = "stub"  # not attempted
    return chosen


def record_call(line: str) -> None:
    """Tests count real invocations: append one line per call to $SCYLLA_CALL_LOG if set."""
    if os.environ.get("SCYLLA_CALL_LOG"):
        with open(os.environ["SCYLLA_CALL_LOG"], "a", encoding="utf-8") as fh:
            fh.write(line + "\n")


def main() -> int:
    run_id = os.environ.get("SCYLLA_RUN_ID", "local")
    record_call(f"agent {run_id}")
    if os.environ.get("SCYLLA_EXAMPLE_AGENT_PIDS"):     # tests check that no agent outlives its doit
        with open(os.environ["SCYLLA_EXAMPLE_AGENT_PIDS"], "a", encoding="utf-8") as fh:
            fh.write(f"{run_id} {os.getpid()}\n")
    delay = float(os.environ.get("SCYLLA_EXAMPLE_AGENT_DELAY", "0"))
    time.sleep(delay)  # tests use this to make the agent slow
    if run_id in os.environ.get("SCYLLA_EXAMPLE_AGENT_FAIL", "").split(","):
        # Tests inject an infrastructure failure: report a rate limit the way Claude Code does.
        print(json.dumps({"type": "result", "subtype": "success", "is_error": True,
                          "api_error_status": 429, "api_error_type": "rate_limit_error",
                          "result": "API Error: Request rejected (429)"}))
        return 1
    run_number = int(os.environ.get("SCYLLA_RUN_NUMBER", "1"))
    model = os.environ.get("SCYLLA_MODEL", "scripted-agent")
    ws = Path.cwd()
    log(f"run {run_id} (run number {run_number}) in {ws}")

    target = ws / "textkit.py"
    if not target.is_file():
        log("textkit.py not found in the working directory")
        return 1
    prompt_file = os.environ.get("SCYLLA_PROMPT_FILE", "")
    prompt = read(Path(prompt_file)) if prompt_file else ""
    if not prompt:
        log("warning: no prompt (SCYLLA_PROMPT_FILE unset or unreadable)")

    # The resources this configuration provides.
    claude_md = read(ws / "CLAUDE.md")
    skills = sorted((ws / ".claude" / "skills").glob("*/SKILL.md"))
    agents = sorted((ws / ".claude" / "agents").glob("*.md"))
    context = [claude_md] + [read(p) for p in skills + agents]
    log(f"CLAUDE.md: {len(claude_md)} chars; skills: {len(skills)}; agents: {len(agents)}")

    # name -> flaky?; a firm hint anywhere beats a flaky one.
    hints: dict[str, bool] = {}
    for text in context:
        for name, flaky in HINT.findall(text):
            hints[name] = hints.get(name, True) and bool(flaky)
    chosen = choose_variants(hints, run_number)
    log("plan: " + ", ".join(f"{n}={v}" for n, v in chosen.items()))

    # Replace each function body, keeping its signature and docstring.
    def body(m: re.Match) -> str:
        name = m.group(2)
        return m.group(1) + VARIANTS.get(name, {}).get(chosen.get(name, "stub"), STUB)

    target.write_text(FUNC.sub(body, read(target)), encoding="utf-8")
    log("wrote textkit.py")

    extra = 0
    if skills or agents:
        used = [p.parent.name for p in skills] + [p.stem for p in agents]
        notes = "# Notes\n\nResources consulted: " + ", ".join(used) + ".\n"
        (ws / "NOTES.md").write_text(notes, encoding="utf-8")
        log("wrote NOTES.md")
        extra = 1

    # Usage: a deterministic function of the prompt, the resources and the work done.
    done = [n for n, v in chosen.items() if v == "correct"]
    naive = [n for n, v in chosen.items() if v == "naive"]
    context_chars = sum(len(t) for t in context)
    num_turns = 2 + len(done) + len(naive) + extra
    usage = {
        "input_tokens": 400 + (len(prompt) + context_chars) // 4,
        "output_tokens": 200 + 180 * len(done) + 120 * len(naive) + 40 * extra,
        "cache_creation_input_tokens": 2500 + context_chars // 4,
    }
    usage["cache_read_input_tokens"] = usage["cache_creation_input_tokens"] * (num_turns - 1)
    cost = round(
        usage["input_tokens"] * 3e-6
        + usage["output_tokens"] * 15e-6
        + usage["cache_read_input_tokens"] * 0.3e-6
        + usage["cache_creation_input_tokens"] * 3.75e-6,
        6,
    )
    stubs = [n for n, v in chosen.items() if v == "stub"]
    message = f"Implemented {', '.join(done)}."
    if naive:
        message += f" Attempted {', '.join(naive)}."
    if stubs:
        message += f" Left as stubs: {', '.join(stubs)}."
    duration_ms = 900 * num_turns + 5 * usage["output_tokens"]
    result = {
        "type": "result",
        "subtype": "success",
        "is_error": False,
        "result": message,
        "session_id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"scylla-example/{run_id}")),
        "num_turns": num_turns,
        "duration_ms": duration_ms + int(delay * 1000),
        "duration_api_ms": duration_ms,
        "total_cost_usd": cost,
        "usage": usage,
        "modelUsage": {
            model: {
                "inputTokens": usage["input_tokens"],
                "outputTokens": usage["output_tokens"],
                "cacheReadInputTokens": usage["cache_read_input_tokens"],
                "cacheCreationInputTokens": usage["cache_creation_input_tokens"],
                "costUSD": cost,
            }
        },
    }
    print(json.dumps(result))
    log(f"done: {message}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
