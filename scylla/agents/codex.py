"""The `codex` agent adapter: the real `codex exec` CLI (OpenAI Codex), headless, JSONL events.

Built on the command adapter (same captures, redaction, failure classes): this module decides the
command line, the private configuration and how the events read as one result object. Choices:
* the model provider is configured per run on the command line (`-c model_providers.scylla.*`): the
  spec's `agent.base_url` (else OpenAI's), the key from `agent.api_key_env` (else OPENAI_API_KEY), the
  Responses API (the only wire codex speaks); the model pinned with `-m`; the prompt on stdin (`-`).
* `--ephemeral` (no session files), `--skip-git-repo-check`, `--json`; a private HOME per run whose
  ~/.codex/config.toml trusts the workspace (so the workspace's `.codex/config.toml`, its MCP servers,
  is loaded) and turns analytics off.
* `--dangerously-bypass-approvals-and-sandbox` by default: Scylla's sandbox is the confinement. Codex's
  own (bubblewrap) sandbox needs helper links it refuses to create under a temporary directory, so in
  a tree under /tmp every command the model runs fails ("bwrap: execvp codex-linux-sandbox: No such
  file or directory"); it also denies the network and .git to commands, which other agents get.
  Option `sandbox` (read-only | workspace-write | danger-full-access) uses codex's own instead.

Options (`agent.options`): `cli` (the codex program), `max_retries` (codex's request and stream
retries, before Scylla's rate-limit pause), `sandbox` (above). `thinking` -> `model_reasoning_effort`
(none, low, medium, high, xhigh; max is codex's xhigh; default: the model's). Codex has no turn limit:
`max_turns` is recorded as not applied (the run is bounded by `timeout_seconds`).

Tier resources: AGENTS.md (instructions), skills in `.agents/skills/`, MCP servers in
`.codex/config.toml`; sub-agents, tool allow lists, agent teams and `system_prompt_mode: none` are
recorded as not supported.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from pathlib import Path
from types import MappingProxyType

from .. import prices, records
from ..adapters import AgentRun
from . import claude_files, usage
from . import command as command_adapter

INSTALL = "npm install -g @openai/codex@0.171.0"
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
DEFAULT_KEY = "OPENAI_API_KEY"
PROVIDER = "scylla"                    # the model provider each run configures
CONFIG_PATHS = ("AGENTS.md", ".agents", ".codex")
RECEIVES = frozenset({"skills", "mcp_servers"})
SANDBOXES = ("read-only", "workspace-write", "danger-full-access")
EFFORT = MappingProxyType({"none": "none", "low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh",
                           "max": "xhigh"})
# Claude-Code-style MCP server keys -> codex's (`type` is implied: command = stdio, url = streamable HTTP)
MCP_KEYS = MappingProxyType({"command": "command", "args": "args", "env": "env", "cwd": "cwd", "url": "url",
                             "headers": "http_headers", "startup_timeout_sec": "startup_timeout_sec",
                             "tool_timeout_sec": "tool_timeout_sec", "enabled": "enabled"})


# ---------------------------------------------------------------- the command line and its private HOME

def cli(exp) -> str:
    return str(exp.agent.options.get("cli") or shutil.which("codex") or "codex")


def key_variable(config) -> str:
    return config.api_key_env or DEFAULT_KEY


def command_line(exp) -> str:
    cfg = exp.agent
    p = f"model_providers.{PROVIDER}"
    settings = {"model_provider": PROVIDER, f"{p}.name": PROVIDER, f"{p}.base_url": cfg.base_url or DEFAULT_ENDPOINT,
                f"{p}.env_key": key_variable(cfg), f"{p}.wire_api": "responses"}
    if "max_retries" in cfg.options:
        retries = int(cfg.options["max_retries"])
        settings.update({f"{p}.request_max_retries": retries, f"{p}.stream_max_retries": retries})
    if cfg.thinking in EFFORT:
        settings["model_reasoning_effort"] = EFFORT[cfg.thinking]
    sandbox = cfg.options.get("sandbox")
    if sandbox is None:
        confinement = ["--dangerously-bypass-approvals-and-sandbox"]
    elif sandbox in SANDBOXES:
        confinement = ["-s", str(sandbox)]
        settings["approval_policy"] = "never"
    else:
        raise ValueError(f"agent.options.sandbox: {sandbox!r} is not one of {', '.join(SANDBOXES)} "
                         "(leave it out to rely on Scylla's sandbox)")
    args = [cli(exp), "exec", "--json", "--ephemeral", "--skip-git-repo-check", "-m", cfg.model, *confinement]
    for key, value in settings.items():
        args += ["-c", f"{key}={toml_value(value)}"]
    return shlex.join([*args, "-"])          # `-`: the prompt on stdin


def toml_value(value) -> str:
    """A TOML value of strings, numbers, booleans, lists and tables (a JSON string is a TOML one)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(str(k))} = {toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))


def home_config(workspace: Path) -> str:
    """~/.codex/config.toml of a run: the workspace trusted (its .codex/config.toml loads), no analytics."""
    paths = dict.fromkeys([str(workspace), str(workspace.resolve())])
    return "[analytics]\nenabled = false\n" + "".join(
        f"\n[projects.{json.dumps(p)}]\ntrust_level = \"trusted\"\n" for p in paths)


# replay.sh gives the repeated call a private HOME trusting the current directory, like the run had
REPLAY_HOME = ('export HOME="$(mktemp -d)"', 'mkdir -p "$HOME/.codex"',
               ('printf \'[analytics]\\nenabled = false\\n\\n[projects."%s"]\\ntrust_level = "trusted"\\n\' "$PWD" '
               '> "$HOME/.codex/config.toml"'))


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
    home = command_adapter.home_of(workspace)
    (home / ".codex").mkdir(parents=True, exist_ok=True)      # (codex refuses a CODEX_HOME that does not exist)
    (home / ".codex/config.toml").write_text(home_config(workspace))
    version = command_adapter.cli_version(cli(exp), INSTALL, "set agent.options.cli to its path")
    note = f"**CLI**: {version}\n"
    if exp.agent.max_turns:
        note += f"**max_turns**: {exp.agent.max_turns} not applied (codex has no turn limit)\n"
    return command_adapter.run(exp, run_paths, workspace, manifest, agent_dir, command=command_line(exp),
                               extra_env={"HOME": str(home)}, model_note=note, replay_prelude=REPLAY_HOME,
                               needs_result=True, programs=(cli(exp),), reader=read)


# ---------------------------------------------------------------- its events as one result object

_STATUS = re.compile(r"\b(?:last status:?|unexpected status)\s+(\d{3})\b")
# turn.failed messages codex writes in place of the HTTP status (0.171.0)
_KNOWN = (("hit your usage limit", 429, "rate_limit_error"), ("high demand", 503, "overloaded_error"),
          ("missing environment variable", 401, "authentication_error"),
          ("quota exceeded", None, "insufficient_quota"))
_KINDS = {429: "rate_limit_error", 401: "authentication_error", 403: "authentication_error",
          503: "overloaded_error", 529: "overloaded_error"}


def events(stdout: str) -> list[dict]:
    """The JSONL events of stdout (other lines, and a line cut off by a kill, skipped)."""
    return usage.json_lines(stdout, lambda e: isinstance(e.get("type"), str))


def turn_usage(events_: list[dict]) -> dict | None:
    """The turns' `turn.completed.usage` summed (each is cumulative over its turn's requests), in
    Claude Code's convention: codex's input_tokens include the cached (read) and cache-write ones, so
    the fresh input is what remains; output_tokens include the reasoning ones (billed as output). None
    when no turn completed (a failed turn reports no usage: unknown, never 0)."""
    usages = [e["usage"] for e in events_ if e["type"] == "turn.completed" and isinstance(e.get("usage"), dict)]
    if not usages:
        return None
    total = {k: sum(_count(u.get(k)) for u in usages)
             for k in ("input_tokens", "cached_input_tokens", "cache_write_input_tokens", "output_tokens")}
    return {"input_tokens": max(total["input_tokens"] - total["cached_input_tokens"]
                                - total["cache_write_input_tokens"], 0),
            "output_tokens": total["output_tokens"], "cache_read_input_tokens": total["cached_input_tokens"],
            "cache_creation_input_tokens": total["cache_write_input_tokens"]}


def _count(value) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def failure(message: str) -> dict:
    """The result fields of a failed turn, from codex's own error message."""
    lower = message.lower()
    if "context window" in lower:             # the model's limit, not the provider's: the agent's outcome
        return {"subtype": "error_context_window", "errors": [message]}
    status = int(m[1]) if (m := _STATUS.search(message)) else None
    kind = _KINDS.get(status) if status else None
    for phrase, known_status, known_kind in _KNOWN:
        if status is None and phrase in lower:
            status, kind = known_status, known_kind
    fields = {"subtype": "error_during_execution", "errors": [message], "terminal_reason": "api_error",
              "api_error": message, "result": message}        # (as Claude Code's "API Error: ..." result)
    return {**fields, **({"api_error_status": status} if status else {}), **({"api_error_type": kind} if kind else {})}


def read(stdout: str, stderr: str, model: str | None) -> dict | None:
    """codex exec's JSONL events as one Claude-Code-shaped result object (command.Reader); None when
    stdout holds none of its events. Cost: codex reports none, so the list price of the tokens
    (genai-prices, per turn) with cost_source genai-prices; None when the model is not priced."""
    found = events(stdout)
    if not any(e["type"].startswith(("thread.", "turn.")) for e in found):
        return None
    messages = [e["item"].get("text") for e in found if e["type"] == "item.completed"
                and isinstance(e.get("item"), dict) and e["item"].get("type") == "agent_message"]
    texts = [t for t in messages if isinstance(t, str)]
    result: dict = {"type": "result", "subtype": "success", "is_error": False, "result": texts[-1] if texts else ""}
    ends = [e for e in found if e["type"] in ("turn.completed", "turn.failed")]
    if not ends:                              # killed or crashed mid-turn
        result.update(is_error=True, subtype="error_during_execution", errors=["the CLI ended before its turn did"])
    elif ends[-1]["type"] == "turn.failed":
        error = ends[-1].get("error")
        message = error.get("message") if isinstance(error, dict) else None
        result.update(is_error=True, **failure(message if isinstance(message, str) else "turn failed"))
    used = turn_usage(found)
    if used is not None:
        result["usage"] = used
        cost = price(found, model)
        result["total_cost_usd"] = cost
        if cost is not None:
            result["cost_source"] = "genai-prices"
        if model:
            result["modelUsage"] = {model: {
                "inputTokens": used["input_tokens"], "outputTokens": used["output_tokens"],
                "cacheReadInputTokens": used["cache_read_input_tokens"],
                "cacheCreationInputTokens": used["cache_creation_input_tokens"], "costUSD": cost}}
    return result


def price(events_: list[dict], model: str | None) -> float | None:
    """The list price of every completed turn's tokens (None when genai-prices does not price `model`)."""
    if not model:
        return None
    total = 0.0
    for e in events_:
        if e["type"] == "turn.completed" and isinstance(e.get("usage"), dict):
            u = e["usage"]
            cost = prices.list_price(model, None, _count(u.get("input_tokens")), _count(u.get("cached_input_tokens")),
                                     _count(u.get("output_tokens")), _count(u.get("cache_write_input_tokens")))
            if cost is None:
                return None
            total += cost
    return total


# ---------------------------------------------------------------- tier resources

def config_toml(manifest: records.ConfigManifest) -> str | None:
    """The workspace's `.codex/config.toml`: the subtest's MCP servers (None when it has none)."""
    tables = []
    for server in filter(startable, manifest["resources"]["mcp_servers"]):
        fields = {MCP_KEYS[k]: v for k, v in server.items() if k in MCP_KEYS}
        tables.append(f"[mcp_servers.{json.dumps(server['name'])}]\n"
                      + "".join(f"{k} = {toml_value(v)}\n" for k, v in fields.items()))
    return "\n".join(tables) or None


def startable(server: dict) -> bool:
    """Whether codex can start an MCP server: a command or a URL (a server named only is refused with
    "invalid transport", and codex then does not start at all)."""
    return bool(server.get("command") or server.get("url"))


def unsupported(manifest: records.ConfigManifest) -> tuple[str, ...]:
    """Besides the kinds codex does not receive: MCP servers it cannot start and fields it has no key
    for, and running without a system prompt (codex keeps its built-in instructions; it refuses an empty
    replacement)."""
    servers = manifest["resources"]["mcp_servers"]
    extra = [f"MCP server {s['name']}: no command or url to start it (codex needs one)"
             for s in servers if not startable(s)]
    extra += [f"MCP server {s['name']} field {k}: not supported by codex" for s in filter(startable, servers)
              for k in s if k not in (*MCP_KEYS, "name", "type")]
    if manifest.get("system_prompt_mode") == "none":
        extra.append("system_prompt_mode none: not supported by codex (its built-in instructions stay)")
    return (*claude_files.unsupported(manifest, "codex", RECEIVES), *extra)


class CodexAgent(command_adapter.CliAgent):
    """`codex exec --json` (OpenAI Codex), headless; tier resources as AGENTS.md, .agents/skills and
    .codex/config.toml."""
    name = "codex"
    program, install, key_env, default_endpoint = "codex", INSTALL, DEFAULT_KEY, DEFAULT_ENDPOINT
    description = "the codex CLI (OpenAI Codex), headless"
    config_paths = CONFIG_PATHS

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir)

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        result = command_adapter.derive_result(agent_dir, reader=read)
        result["api_calls"] = None          # codex reports no count of model requests: unknown, not 0
        return result

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        files = claude_files.skill_files(tiers_dir, manifest, ".agents/skills")
        if (text := claude_files.claude_md(tiers_dir, manifest, receives=RECEIVES)) is not None:
            files["AGENTS.md"] = text.encode()
        if (toml := config_toml(manifest)) is not None:
            files[".codex/config.toml"] = toml.encode()
        return files

    def unsupported(self, manifest: records.ConfigManifest) -> tuple[str, ...]:
        return unsupported(manifest)


    def reported_cost(self, log_text: str) -> float | None:
        return None                         # codex reports no cost of its own


AGENT = CodexAgent()
