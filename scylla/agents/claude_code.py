"""The `claude-code` agent adapter: the real `claude` CLI, headless, in the run's workspace.

Built on the command adapter (same captures, redaction, failure classes): this module only decides
the command line and the environment. Choices that matter:
* `--permission-mode acceptEdits` + `--allowedTools`: edits and commands work as root, where
  `--dangerously-skip-permissions` is refused; a denied tool shows in `permission_denials`.
* `--output-format stream-json --verbose`: the evidence survives a killed run; the last line is the
  result object that tokens and cost are read from (`modelUsage` first).
* a private HOME per run with the workspace marked trusted, so runs share no `~/.claude.json` and
  the workspace's `.claude/settings.json` is honoured; telemetry and non-essential traffic off.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .. import records, safepath, secrets
from ..adapters import AgentAdapter, AgentRun, Credentials, Executable
from . import claude_files, usage
from . import command as command_adapter

# any one of these lets the claude CLI reach a model (its private HOME per run hides an OAuth login)
CREDENTIALS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_OAUTH_TOKEN",
               "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX")
INSTALL = "npm install -g @anthropic-ai/claude-code"
DEFAULT_ENDPOINT = "https://api.anthropic.com"
DEFAULT_TOOLS = ("Read", "Write", "Edit", "Bash", "Glob", "Grep")
QUIET = {"DISABLE_TELEMETRY": "1", "DISABLE_ERROR_REPORTING": "1", "DISABLE_AUTOUPDATER": "1",
         "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}


# the caller's variables the claude CLI reads to reach its model besides its key (endpoint, model and
# provider settings), and those of Bedrock and Vertex while their switch is on
CLI_PREFIXES = ("ANTHROPIC_", "CLAUDE_CODE_")
PROVIDERS = {"CLAUDE_CODE_USE_BEDROCK": ("AWS_",),
             "CLAUDE_CODE_USE_VERTEX": ("CLOUD_ML_REGION", "VERTEX_REGION_", "GOOGLE_", "CLOUDSDK_")}


def cli_environment(environ: Mapping[str, str]) -> dict:
    """The CLI's settings from `environ` (non-secret ANTHROPIC_*/CLAUDE_CODE_* ones, and a cloud provider's
    while it is switched on): the agent and the judges built on the CLI get them; keys are added apart."""
    provider = tuple(p for switch, prefixes in PROVIDERS.items() if environ.get(switch) for p in prefixes)
    return {k: v for k, v in environ.items()
            if (k.startswith(CLI_PREFIXES) and not secrets.is_secret(k)) or (provider and k.startswith(provider))}


# replay.sh gives the repeated call a fresh private HOME that trusts the current directory, like the run had
REPLAY_HOME = (
    'export HOME="$(mktemp -d)"', 'export CLAUDE_CONFIG_DIR="$HOME/.claude"',
    ('printf \'{"hasCompletedOnboarding": true, "projects": {"%s": {"hasTrustDialogAccepted": true}}}\' "$PWD" '
    '> "$HOME/.claude.json"'),
)


def cli(exp) -> str:
    return str(exp.agent.options.get("cli") or shutil.which("claude") or "claude")


def command_line(exp, manifest: records.ConfigManifest) -> str:
    cfg = exp.agent
    tools = [str(t) for t in cfg.options.get("allowed_tools", DEFAULT_TOOLS)]
    args = [cli(exp), "-p", "--output-format", "stream-json", "--verbose", "--model", cfg.model,
            "--permission-mode", "acceptEdits", "--no-session-persistence"]
    if cfg.max_turns:
        args += ["--max-turns", str(cfg.max_turns)]
    if manifest.get("system_prompt_mode") == "none":
        args += ["--system-prompt", " "]
    if cfg.thinking not in ("none", "default"):
        args += ["--effort", cfg.thinking]
    if cfg.options.get("agent"):
        args += ["--agent", str(cfg.options["agent"])]
    args += ["--allowedTools", *tools]       # variadic: last, the prompt comes on stdin
    return shlex.join(args)


def private_home(home: Path, options: dict, trusted: Path | None = None) -> dict:
    """A HOME of its own for one CLI call (no shared ~/.claude.json), and the environment to use it."""
    home.mkdir(parents=True, exist_ok=True)
    config: dict[str, Any] = {"hasCompletedOnboarding": True}
    if trusted is not None:
        config["projects"] = {str(trusted): {"hasTrustDialogAccepted": True}}
    (home / ".claude.json").write_text(json.dumps(config))
    env = {**QUIET, "HOME": str(home), "CLAUDE_CONFIG_DIR": str(home / ".claude")}
    if "max_retries" in options:                 # the CLI's own API retries, before Scylla's pause
        env["CLAUDE_CODE_MAX_RETRIES"] = str(options["max_retries"])
    return env


def preflight_cli(options: dict) -> str:
    """The CLI preflight checks: as configured, else `claude` on PATH."""
    return str(options.get("cli") or "claude")


def endpoint_env(cfg) -> dict:
    """`agent.base_url` and `agent.api_key_env` as the CLI's own variables (the spec's win over the caller's)."""
    env = {"ANTHROPIC_BASE_URL": cfg.base_url} if cfg.base_url else {}
    if cfg.api_key_env and cfg.api_key_env in os.environ:
        env["ANTHROPIC_API_KEY"] = os.environ[cfg.api_key_env]
    return env


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path, home: Path):
    env = {**cli_environment(os.environ), **endpoint_env(exp.agent),
           **private_home(home, exp.agent.options, trusted=workspace)}
    if exp.agent.thinking == "none":             # the CLI thinks adaptively unless told not to
        env["MAX_THINKING_TOKENS"] = "0"
    try:
        version = command_adapter.cli_version(cli(exp), INSTALL, "set agent.options.cli to its path")
        return command_adapter.run(exp, run_paths, workspace, manifest, agent_dir,
                                   command=command_line(exp, manifest), extra_env=env,
                                   model_note=f"**CLI**: {version}\n", replay_prelude=REPLAY_HOME,
                                   needs_result=True, programs=(cli(exp),))
    finally:
        safepath.remove(home, ignore_errors=True)


class ClaudeCodeAgent(AgentAdapter):
    """The `claude` CLI, headless; tier resources as CLAUDE.md and `.claude/`."""
    name = "claude-code"
    description = "the claude CLI (Claude Code), headless"
    config_paths = claude_files.CONFIG_PATHS

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir, command_adapter.home_of(workspace))

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        return command_adapter.derive_result(agent_dir)

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        return claude_files.config_files(tiers_dir, manifest)

    def executables(self, config) -> list[Executable]:
        return [Executable(preflight_cli(config.options), "set agent.options.cli to its path", INSTALL)]

    def credentials(self, config) -> Credentials | None:
        return Credentials((config.api_key_env,) if config.api_key_env else CREDENTIALS)

    def passed_env(self, config) -> tuple[str, ...]:
        return CREDENTIALS          # its key (its settings: cli_environment; the spec's: endpoint_env)

    def endpoints(self, config) -> tuple[str, ...]:
        return (config.base_url or os.environ.get("ANTHROPIC_BASE_URL") or DEFAULT_ENDPOINT,)

    def reported_cost(self, log_text: str) -> float | None:
        return usage.reported_cost(log_text)


AGENT = ClaudeCodeAgent()
