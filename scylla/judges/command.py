"""The `command` judge adapter: a shell command that reads the judge prompt and prints a verdict.

Its stdout may be the verdict itself (JSON, fenced or inside prose) or a Claude-Code-style result
JSON whose `result` holds the verdict (then its cost is recorded; without one the cost is unknown, null). An unparseable reply (a score outside
[0, 1] included) is retried `retries` times with SCYLLA_JUDGE_ATTEMPT raised; the final reply is kept
(response.txt) and the judgment task records it as invalid.
A non-zero exit or a timeout is an infrastructure failure. Output is read and kept only up to the limits
of `reply` (stdout read up to CAPTURE_LIMIT, reply and log entries kept up to REPLY_LIMIT).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import MappingProxyType

from .. import adapters, durable, secrets
from ..adapters import JudgeAdapter
from ..agents import usage
from ..agents.command import replay_script
from ..process import run_shell
from ..throttle import RateLimited
from . import reply


def run(exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path, command: str | None = None,
        extra_env: dict | None = None, stdin_for=None) -> tuple[dict, float]:
    """Returns (the call's record for call.json, duration_seconds); writes stdout.log, response.txt
    (the final attempt's reply), replay.sh.
    Adapters built on this one pass their `command`, environment and per-attempt stdin."""
    command = command or slot.command
    env = environment(slot)
    env.update({"SCYLLA_JUDGE_PROMPT_FILE": str(prompt.resolve()),
                "SCYLLA_JUDGE_SYSTEM_PROMPT_FILE": str(system_prompt.resolve()),
                "SCYLLA_RUN_ID": run_paths.id, "SCYLLA_JUDGE_SLOT": str(slot.number),
                "SCYLLA_JUDGE_MODEL": slot.model, "SCYLLA_SPEC_DIR": str(exp.spec_path.parent),
                "SCYLLA_PYTHON": sys.executable})
    env.update({f"SCYLLA_OPTION_{str(k).upper()}": str(v) for k, v in sorted(slot.options.items())})
    env.update(extra_env or {})
    hidden = secrets.secret_values({**os.environ, **env}, adapters.key_variables(exp))
    cost: float | None = 0.0         # None once an attempt reported no cost
    logs, seconds = [], 0.0
    verdict, text, attempt = None, "", 0
    for attempt in range(1, slot.retries + 2):
        env["SCYLLA_JUDGE_ATTEMPT"] = str(attempt)
        out, err = out_dir / f".attempt{attempt}.out", out_dir / f".attempt{attempt}.err"
        done = run_shell(command, prompt.parent.resolve(), env, out, err, slot.timeout_seconds,
                         stdin=stdin_for(attempt) if stdin_for else None)
        seconds += done.duration_seconds
        (stdout, size), (stderr, err_size) = reply.read_head(out, reply.CAPTURE_LIMIT), reply.read_head(err)
        stdout, stderr = secrets.redact(stdout, hidden), secrets.redact(stderr, hidden)   # before any cut
        out.unlink()
        err.unlink()
        logs.append(f"=== attempt {attempt}: exit {done.exit_code} ===\n{_kept(stdout, size)}\n"
                    f"--- stderr ---\n{_kept(stderr, err_size)}\n")
        durable.write_text(out_dir / "stdout.log", "".join(logs))
        if done.timed_out or done.exit_code != 0 or done.capture_error:
            why = "timed out" if done.timed_out else f"exited with code {done.exit_code}" if done.exit_code \
                else f"output not captured whole ({done.capture_error})"
            raise durable.InfraFailure(f"judge command {why}: {(stderr.strip() or stdout.strip())[-500:]}")
        wrapped = usage.parse_result_json(stdout)
        limited, retry_after = usage.rate_limit(wrapped)
        if limited:
            raise RateLimited(f"judge rate limited: {usage.infra_reason(wrapped)}", retry_after)
        if reason := usage.infra_reason(wrapped):
            raise durable.InfraFailure(f"judge {reason}")
        reported = usage.usage(wrapped)["cost_usd"] if wrapped else None
        # the call's cost is known only when every attempt reported its own (docs/numbers.md)
        cost = None if cost is None or reported is None else cost + reported
        text = (wrapped.get("result") or usage.assistant_text(stdout)) if wrapped else stdout
        text, text_size = reply.capped(text)
        reply_bytes = text_size if wrapped else max(size, text_size)
        verdict, _ = reply.verdict_from(text, exp.fixture.pass_threshold)
        if verdict is not None:
            break
    durable.write_text(out_dir / "response.txt", text)
    env["SCYLLA_JUDGE_ATTEMPT"] = "1"
    durable.write_text(out_dir / "replay.sh", secrets.redact(
        replay_script(command, env, f"{run_paths.dir} (the run directory)"), hidden))
    cut = {"reply_bytes": reply_bytes} if reply_bytes > reply.REPLY_LIMIT else {}
    return {"cost_usd": cost, "attempts": attempt, "parsed": verdict is not None, **cut}, seconds


def environment(slot) -> dict:
    """What a judge's program starts from: the minimal base, the user's HOME (a judge is the user's own
    program; adapters that need another give theirs in `extra_env`), the interpreter's and the network's
    settings, and its own key (adapters.judge_keys): never the agent's or another judge's."""
    return {**secrets.base_env(), **secrets.passed(("HOME", *secrets.PYTHON, *secrets.NETWORK)),
            **secrets.passed(adapters.judge_keys(slot))}


def _kept(text: str, size: int) -> str:
    """An attempt's output for stdout.log: its first REPLY_LIMIT bytes, and its full size when cut."""
    kept, encoded = reply.capped(text)
    size = max(size, encoded)
    return kept if size <= reply.REPLY_LIMIT else \
        f"{kept}\n[scylla: output cut: {size} bytes in all, the first {reply.REPLY_LIMIT} kept]"


class CommandJudge(JudgeAdapter):
    name = "command"
    description = "a shell command that prints a verdict"
    requires = MappingProxyType({"command": "the judge's shell command"})

    def run(self, exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
        return run(exp, slot, run_paths, prompt, system_prompt, out_dir)

    def reported_cost(self, log_text: str) -> float | None:
        return usage.reported_cost(log_text)


JUDGE = CommandJudge()
