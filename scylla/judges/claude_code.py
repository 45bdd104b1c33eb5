"""The `claude-code` judge adapter: the real `claude` CLI as a judge, with no tools offered.

Built on the command judge (retries, invalid judgments, cost and rate limits from the result
object): the prompt goes on stdin, Scylla's judge instructions as the system prompt, `--tools ""`
so the model cannot act, stream-json so the reply survives an empty `result` (assistant text
blocks are the fallback). A retry after an unparseable reply appends a stricter reminder.
"""

from __future__ import annotations

import os
import shlex
import shutil
from pathlib import Path

from .. import durable, safepath
from ..adapters import Credentials, Executable, JudgeAdapter
from ..agents import usage
from ..agents.claude_code import (
    CREDENTIALS,
    INSTALL,
    cli_environment,
    preflight_cli,
    private_home,
)
from . import command as command_judge
from .openai_judge import REMINDER


def command_line(slot, system_prompt: Path) -> str:
    cli = str(slot.options.get("cli") or shutil.which("claude") or "claude")
    return shlex.join([cli, "-p", "--output-format", "stream-json", "--verbose", "--model", slot.model,
                       "--tools", "", "--system-prompt-file", str(system_prompt.resolve()),
                       "--no-session-persistence"])


def run(exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
    home = safepath.remove(out_dir.parent / f".home-{slot.name}")     # (never through a planted link)
    env = {**cli_environment(os.environ), **private_home(home, slot.options)}
    retry_prompt = out_dir / ".retry_prompt.md"

    def stdin_for(attempt: int) -> Path:
        if attempt == 1:
            return prompt
        durable.write_text(retry_prompt, prompt.read_text(encoding="utf-8") + "\n\n" + REMINDER + "\n")
        return retry_prompt
    try:
        return command_judge.run(exp, slot, run_paths, prompt, system_prompt, out_dir,
                                 command=command_line(slot, system_prompt), extra_env=env, stdin_for=stdin_for)
    finally:
        safepath.remove(home, ignore_errors=True)
        retry_prompt.unlink(missing_ok=True)


class ClaudeCodeJudge(JudgeAdapter):
    name = "claude-code"
    description = "the claude CLI as a judge, with no tools"

    def run(self, exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
        return run(exp, slot, run_paths, prompt, system_prompt, out_dir)

    def executables(self, slot) -> list[Executable]:
        return [Executable(preflight_cli(slot.options), "set options.cli to its path", INSTALL)]

    def credentials(self, slot) -> Credentials | None:
        return Credentials(CREDENTIALS)

    def reported_cost(self, log_text: str) -> float | None:
        return usage.reported_cost(log_text)


JUDGE = ClaudeCodeJudge()
