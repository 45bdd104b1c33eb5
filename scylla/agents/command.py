"""The `command` agent adapter: any shell command run in the workspace (the offline default).

The command gets the prompt file path and the run's identity in its environment. If its stdout is a
Claude-Code-style result JSON, tokens and cost are read from it (so scripted agents can report usage).
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import MappingProxyType
from typing import cast

from .. import adapters, durable, records, safepath, sandbox, secrets, tree
from ..adapters import COMMAND_LOG, AgentAdapter, AgentRun, model_md
from ..process import run_shell
from ..workspace import borrowed_objects
from . import claude_files, usage

# how an adapter reads its CLI's captures: (stdout, stderr, the model the spec pinned) -> one Claude-Code-
# shaped result object (usage.py reads tokens, cost, failure class and final text from it), or None
Reader = Callable[[str, str, "str | None"], "dict | None"]


def claude_result(stdout: str, stderr: str, model: str | None) -> dict | None:
    """The Claude-Code-style result line of stdout (claude-code and scripted command agents)."""
    return usage.parse_result_json(stdout)


def cli_version(program: str, install: str, where: str) -> str:
    """`program --version`'s answer (for MODEL.md); a CLI that cannot run is an infrastructure failure."""
    try:
        done = subprocess.run([program, "--version"], check=False, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise durable.InfraFailure(f"the CLI {program!r} cannot be run ({exc}): install it ({install}) or {where}") \
            from None
    lines = (done.stdout.strip() or done.stderr.strip()).splitlines()
    return lines[-1] if lines else ""


def environment(exp, run, workspace: Path, prompt: Path, manifest: records.ConfigManifest, home: Path) -> dict:
    """The agent's whole environment: the minimal base, its adapter's variables and those `agent.env`
    names, a private HOME, and the run's SCYLLA_* description. No other key reaches it."""
    cfg = exp.agent
    adapter = adapters.agent(cfg.adapter)
    env = {**secrets.base_env(), **secrets.passed((*adapter.passed_env(cfg), *cfg.env)), "HOME": str(home)}
    env.update({
        "SCYLLA_PROMPT_FILE": str(prompt.resolve()), "SCYLLA_RUN_ID": run.id, "SCYLLA_TIER": run.tier,
        "SCYLLA_SUBTEST": run.subtest, "SCYLLA_RUN_NUMBER": str(run.number), "SCYLLA_MODEL": cfg.model,
        "SCYLLA_MAX_TURNS": "" if cfg.max_turns is None else str(cfg.max_turns),
        "SCYLLA_THINKING": cfg.thinking, "SCYLLA_WORKSPACE": str(workspace),
        "SCYLLA_SYSTEM_PROMPT_MODE": manifest.get("system_prompt_mode", "default"),
        "SCYLLA_SPEC_DIR": str(exp.spec_path.parent), "SCYLLA_PYTHON": sys.executable,
    })
    for key, value in sorted(cfg.options.items()):
        env[f"SCYLLA_OPTION_{str(key).upper()}"] = str(value)
    return env


def replay_script(command: str, env: dict, cwd_note: str, prelude: tuple[str, ...] = (),
                  keep: tuple[str, ...] = (), wrapper: str = "") -> str:
    """A script that repeats the call: the SCYLLA_* variables, the adapter's own variables
    (`keep`) and setup lines (`prelude`), and the prompt on stdin as Scylla gave it; `wrapper`: the
    sandbox to repeat it in (sandbox.replay_prefix)."""
    lines = ["#!/usr/bin/env bash", "# Re-runs this agent call. Secrets are not stored: export them first.",
             f"# Working directory: {cwd_note}", "set -euo pipefail",
             *(['export HOME="$(mktemp -d)"  # a private HOME, as the run had'] if wrapper else []), *prelude]
    for k, v in sorted(env.items()):
        if k.startswith("SCYLLA_") and k != "SCYLLA_PROMPT_FILE" or k in keep:
            lines.append(f"export {k}={shlex.quote(v)}")
    lines.append('export SCYLLA_PROMPT_FILE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/prompt.md"')
    lines.append(f'{wrapper}bash -c {shlex.quote(command)} < "$SCYLLA_PROMPT_FILE"' if wrapper
                 else f'{command} < "$SCYLLA_PROMPT_FILE"')
    return "\n".join(lines) + "\n"


def home_of(workspace: Path) -> Path:
    """The run's private HOME (beside its workspace; removed with it): never through a planted link."""
    return safepath.check(f"{workspace}-home")


def policy(exp, workspace: Path, prompt: Path, programs: tuple[str, ...] = ()) -> sandbox.Policy:
    """The agent's sandbox: its workspace and HOME writable; shown read-only inside what is hidden: its
    prompt, the repository objects its checkout borrows and the spec's directory (scripted agents)."""
    home = home_of(workspace)
    home.mkdir(parents=True, exist_ok=True)
    return exp.confinement.policy(workspace, (workspace, home),
                                  (prompt.resolve(), *borrowed_objects(workspace), exp.spec_path.parent),
                                  adapters.agent(exp.agent.adapter).endpoints(exp.agent), programs)


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path, command: str | None = None,
        extra_env: dict | None = None, model_note: str = "", replay_prelude: tuple[str, ...] = (),
        needs_result: bool = False, programs: tuple[str, ...] = (), reader: Reader = claude_result) -> AgentRun:
    """Run the configured command (or `command`, for adapters built on this one) in the experiment's
    sandbox; write every raw capture except the patch into `agent_dir`. `needs_result`: the command is a
    CLI that always ends with a result object (Claude Code), so a run without one is an infrastructure
    failure. `programs`: the executables it starts (shown to the sandbox). `reader`: how its output
    reads as a result object (default: a Claude-Code-style result line)."""
    cfg = exp.agent
    command = command or cfg.command
    prompt = agent_dir / "prompt.md"
    durable.write_bytes(prompt, Path(tree.PROMPT).read_bytes())
    home = home_of(workspace)
    env = {**environment(exp, run_paths, workspace, prompt, manifest, home), **(extra_env or {})}
    hidden = secrets.secret_values({**os.environ, **env}, names=adapters.key_variables(exp))
    box = policy(exp, workspace, prompt, programs)
    started = datetime.now(UTC)
    try:
        with sandbox.session(box) as session:
            done = run_shell(command, workspace, env, agent_dir / "stdout.log", agent_dir / "stderr.log",
                             cfg.timeout_seconds, stdin=prompt, argv=session.argv)
    finally:
        safepath.remove(home, ignore_errors=True)
    texts = {}
    for name in ("stdout.log", "stderr.log"):      # secrets never stay in an artifact
        path = agent_dir / name
        data = secrets.redact_bytes(path.read_bytes(), hidden)
        durable.write_bytes(path, data)
        texts[name] = data.decode("utf-8", errors="replace")
    result = reader(texts["stdout.log"], texts["stderr.log"], cfg.model)
    text = result.get("result") if result else None
    if not isinstance(text, str):
        text = texts["stdout.log"]
    exit_code = -9 if done.exit_code is None else done.exit_code
    durable.write_text(agent_dir / "output.txt", text)
    confined = {**box.record(), "connections": session.connections, "endpoint_errors": session.errors,
                "violations": sandbox.violations(box, texts)}
    unsupported = list(adapters.agent(cfg.adapter).unsupported(manifest))
    durable.write_json(agent_dir / COMMAND_LOG, {
        "adapter": cfg.adapter, "model": cfg.model, "unsupported": unsupported, "sandbox": confined, "commands": [{
        "command": secrets.redact(command, hidden), "cwd": "<workspace>", "exit_code": exit_code,
        "timed_out": done.timed_out, "duration_seconds": round(done.duration_seconds, 3),
        "started_at": started.isoformat(timespec="seconds"),
        "env": {k: v for k, v in secrets.safe_env(env).items() if k.startswith("SCYLLA_")}}]})
    durable.write_text(agent_dir / "replay.sh", secrets.redact(
        replay_script(command, env, f"a checkout of {exp.fixture.repo_url} at the config commit",
                      replay_prelude, tuple(k for k in extra_env or {} if k not in ("HOME", "CLAUDE_CONFIG_DIR")),
                      sandbox.replay_prefix(box)),
        hidden))
    durable.write_json(agent_dir / "timing.json", {"agent_duration_seconds": round(done.duration_seconds, 3),
                                                   "measured_at": started.isoformat(timespec="microseconds")})
    durable.write_text(agent_dir / "MODEL.md", model_md("Agent", cfg.model, cfg.adapter, command) + model_note
                       + "".join(f"**Not supported by this agent**: {u}\n" for u in unsupported))
    limited, retry_after = usage.rate_limit(result)
    reason = classify(done, exit_code, result, cfg, needs_result)
    if reason and not limited:
        reason = with_tail(reason, agent_dir, ("stderr.log",) if result else ("stderr.log", "stdout.log"))
    return AgentRun(exit_code, done.duration_seconds, reason, limited, retry_after)


def classify(done, exit_code: int, result: dict | None, cfg, needs_result: bool = False) -> str | None:
    """Infra failures are retried by the next `doit`; every other ending is the agent's outcome."""
    if done.timed_out:
        return f"timeout after {cfg.timeout_seconds:g} s"
    if done.capture_error:
        return f"the agent's output could not be captured whole ({done.capture_error})"
    if reason := usage.infra_reason(result):
        return reason
    if exit_code in cfg.infra_exit_codes:
        return f"exit code {exit_code} (configured as infrastructure failure)"
    if needs_result and result is None:
        return f"the CLI ended (exit code {exit_code}) without its result line"
    return None


def with_tail(reason: str, agent_dir: Path, logs: tuple[str, ...], lines: int = 5) -> str:
    """`reason` and the last lines of the first non-empty log of `logs` (already redacted), unless the
    reason already quotes them: the cause is in the failure message, not only in .failed/."""
    for name in logs:
        try:
            text = (agent_dir / name).read_text(encoding="utf-8", errors="replace").strip()
        except OSError:
            continue
        if text:
            tail = "\n".join(text.splitlines()[-lines:])[-800:]
            return reason if tail in reason else f"{reason}\n{name} ends with:\n{tail}"
    return reason


def derive_result(agent_dir: Path, reader: Reader = claude_result) -> records.AgentResult:
    """agent/result.json from the raw captures (a cheap task: no agent call), read by the adapter's
    `reader`; the tier resources its agent could not be given, as the run recorded them."""
    stdout = (agent_dir / "stdout.log").read_text(encoding="utf-8", errors="replace")
    stderr = (agent_dir / "stderr.log").read_text(encoding="utf-8", errors="replace")
    log = durable.read_json_object(agent_dir / COMMAND_LOG)
    exit_code = int(log["commands"][-1]["exit_code"])
    model = log.get("model")
    result = reader(stdout, stderr, model if isinstance(model, str) else None)
    used = usage.usage(result)
    extra = {k: result[k] for k in ("num_turns", "subtype", "terminal_reason", "permission_denials", "cost_source")
             if result and k in result}
    if log.get("unsupported"):
        extra["unsupported_resources"] = log["unsupported"]
    return cast(records.AgentResult, {       # (the result line's keys spread in: mypy cannot follow)
        "exit_code": exit_code, "stdout": stdout, "stderr": stderr, "token_stats": used["token_stats"],
        "cost_usd": used["cost_usd"], "api_calls": used["api_calls"], "model_usage": used["model_usage"],
        "outcome": usage.outcome(result, exit_code), **extra})


class CliAgent(AgentAdapter):
    """The shared declarations of an agent that is a vendor's CLI: `program` (found on PATH unless
    `agent.options.cli` names it), its `install` hint, the variable holding its key (`key_env`, unless
    `agent.api_key_env` names another) and its vendor's endpoint (unless `agent.base_url` names one)."""
    program: str = ""
    install: str = ""
    key_env: str = ""
    default_endpoint: str = ""

    def key_variable(self, config) -> str:
        return config.api_key_env or self.key_env

    def executables(self, config) -> list[adapters.Executable]:
        return [adapters.Executable(str(config.options.get("cli") or self.program),
                                    "set agent.options.cli to its path", self.install)]

    def credentials(self, config) -> adapters.Credentials | None:
        return adapters.Credentials((self.key_variable(config),))

    def passed_env(self, config) -> tuple[str, ...]:
        return (self.key_variable(config),)

    def endpoints(self, config) -> tuple[str, ...]:
        return (config.base_url or self.default_endpoint,)


class CommandAgent(AgentAdapter):
    """Any shell command (`agent.command`); usage is read from a Claude-Code-style result line, if any.
    Its workspaces get the same tier configuration files as Claude Code's (scripted agents often wrap it)."""
    name = "command"
    description = "a shell command run in the workspace"
    requires = MappingProxyType({"command": "the shell command the command adapter runs"})
    config_paths = claude_files.CONFIG_PATHS

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir)

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        return derive_result(agent_dir)

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        return claude_files.config_files(tiers_dir, manifest)

    def reported_cost(self, log_text: str) -> float | None:
        return usage.reported_cost(log_text)


AGENT = CommandAgent()
