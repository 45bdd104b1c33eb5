"""The `opencode` agent adapter: the real `opencode run --format json` against an OpenAI-compatible
endpoint (Chat Completions), configured per run.

Built on the command adapter (same captures, redaction, failure classes). Choices that matter:
* the provider `scylla` (npm `@ai-sdk/openai-compatible`) is given in OPENCODE_CONFIG_CONTENT: its
  baseURL is `agent.base_url`, its apiKey `{env:<key variable>}` (OpenCode substitutes it: the key is
  never written anywhere), and the model's `cost` table (per million tokens) is `agent.options.cost`, else
  genai-prices' list price, so the cost OpenCode reports per step is meaningful (none known: see reader);
* `--title` is given, so OpenCode makes no tool-less title-generation call (which it would not report);
* `--auto`: permissions approved non-interactively (Scylla's sandbox is the confinement);
* model-list fetch, autoupdate, LSP downloads, sharing, default plugins off; Claude Code compatibility
  off (it gets AGENTS.md and `.opencode/`, not CLAUDE.md or ~/.claude skills).
Tokens and cost: the `step_finish` events (one per model request; `tokens.input` excludes cache reads
and writes, as Claude's `input_tokens` does). A rate limit or auth failure: the `error` event's
`statusCode`.

Options: `cli` (path), `cost` ({input, output, cache_read, cache_write} USD per million tokens).
`max_turns` -> the build agent's `steps` (OpenCode then forces a text-only answer: no error, so the
outcome is not `max_turns`); `thinking` low/medium/high/xhigh -> the model's `reasoningEffort` option
(the request's `reasoning_effort`; `--variant` only knows models.dev's variants, whose fetch is off);
`none`, `default` and `max` pass nothing.
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import yaml

from .. import prices, records, resources
from ..adapters import AgentRun
from . import claude_files, usage
from . import command as command_adapter

INSTALL = "npm install -g opencode-ai"
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
KEY_VARIABLE = "OPENAI_API_KEY"
PROVIDER = "scylla"
TITLE = "scylla"
QUIET = {"OPENCODE_DISABLE_MODELS_FETCH": "1", "OPENCODE_DISABLE_AUTOUPDATE": "1",
         "OPENCODE_DISABLE_LSP_DOWNLOAD": "1", "OPENCODE_DISABLE_SHARE": "1", "OPENCODE_DISABLE_DEFAULT_PLUGINS": "1",
         "OPENCODE_DISABLE_CLAUDE_CODE": "1", "OPENCODE_DISABLE_EXTERNAL_SKILLS": "1"}
CONFIG_PATHS = ("AGENTS.md", ".opencode", "opencode.json")
RECEIVES = frozenset({"skills", "agents", "mcp_servers"})
EFFORTS = ("low", "medium", "high", "xhigh")      # `max`: a Claude level, no reasoning_effort of that name
STATUS_TYPES = {429: "rate_limit_error", 401: "authentication_error", 403: "authentication_error",
                529: "overloaded_error", 503: "overloaded_error"}


def cli(exp) -> str:
    return str(exp.agent.options.get("cli") or shutil.which("opencode") or "opencode")


def key_variable(config) -> str:
    return config.api_key_env or KEY_VARIABLE


def cost_table(config) -> dict | None:
    """USD per million tokens for OpenCode's `cost`: the spec's option, else genai-prices' list price."""
    given = config.options.get("cost")
    if isinstance(given, dict):
        return {k: float(v) for k, v in given.items()}
    return prices.mtok_rates(config.model, config.base_url)


def config_content(config) -> str:
    """OPENCODE_CONFIG_CONTENT: the provider, the model (its cost table, its reasoning effort), the turn limit."""
    model: dict = {"name": config.model}
    table = cost_table(config)
    if table:
        model["cost"] = table
    if config.thinking in EFFORTS:          # @ai-sdk/openai-compatible sends it as `reasoning_effort`
        model["options"] = {"reasoningEffort": config.thinking}
    content: dict = {"$schema": "https://opencode.ai/config.json", "autoupdate": False, "share": "disabled",
                     "model": f"{PROVIDER}/{config.model}", "provider": {PROVIDER: {
                         "npm": "@ai-sdk/openai-compatible", "name": PROVIDER,
                         "options": {"baseURL": config.base_url or DEFAULT_ENDPOINT,
                                     "apiKey": f"{{env:{key_variable(config)}}}"},
                         "models": {config.model: model}}}}
    if config.max_turns:
        content["agent"] = {"build": {"steps": config.max_turns}}
    return json.dumps(content, sort_keys=True)


def command_line(exp) -> str:
    cfg = exp.agent
    args = [cli(exp), "run", "--format", "json", "-m", f"{PROVIDER}/{cfg.model}", "--auto", "--title", TITLE]
    return shlex.join(args)       # the prompt comes on stdin


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
    home = command_adapter.home_of(workspace)
    env = {**QUIET, "HOME": str(home), "OPENCODE_CONFIG_CONTENT": config_content(exp.agent)}
    version = command_adapter.cli_version(cli(exp), INSTALL, "set agent.options.cli to its path")
    return command_adapter.run(exp, run_paths, workspace, manifest, agent_dir, command=command_line(exp),
                               extra_env=env, model_note=f"**CLI**: opencode {version}\n", needs_result=True,
                               programs=(cli(exp),), reader=read)


# ---------------------------------------------------------------- its JSON events as one result object

def events(stdout: str) -> list[dict]:
    """The JSON event lines of `--format json` output (anything else, e.g. a cut-off line, skipped)."""
    return usage.json_lines(stdout, lambda e: isinstance(e.get("part", {}), dict))


def _dict(value) -> dict:
    return value if isinstance(value, dict) else {}


def _num(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0.0


def read(stdout: str, stderr: str, model: str | None) -> dict | None:
    """OpenCode's events as a Claude-Code-shaped result (command.Reader); None when it printed none.
    Tokens: the sum over `step_finish` events; output = output + reasoning (OpenAI's completion tokens
    include reasoning, as Claude's output_tokens include thinking). Cost: the sum of the steps' `cost`
    when any is > 0, else genai-prices of the tokens (no cost table was known), else None."""
    evs = events(stdout)
    steps = [e["part"] for e in evs if e.get("type") == "step_finish"]
    errors = [e["error"] for e in evs if e.get("type") == "error" and isinstance(e.get("error"), dict)]
    if not steps and not errors:
        return None
    tokens = {"input": 0, "output": 0, "read": 0, "write": 0}
    for step in steps:
        t = _dict(step.get("tokens"))
        cache = _dict(t.get("cache"))
        tokens["input"] += int(_num(t.get("input")))
        tokens["output"] += int(_num(t.get("output")) + _num(t.get("reasoning")))
        tokens["read"] += int(_num(cache.get("read")))
        tokens["write"] += int(_num(cache.get("write")))
    result: dict = {"type": "result", "subtype": "success", "is_error": False, "num_turns": len(steps),
                    "result": final_text(evs),
                    "usage": {"input_tokens": tokens["input"], "output_tokens": tokens["output"],
                              "cache_creation_input_tokens": tokens["write"],
                              "cache_read_input_tokens": tokens["read"]}}
    result.update(usage.priced([_num(s.get("cost")) for s in steps], model, tokens["input"], tokens["read"],
                               tokens["write"], tokens["output"]))
    if model:
        result["modelUsage"] = {model: {
            "inputTokens": tokens["input"], "outputTokens": tokens["output"], "cacheReadInputTokens": tokens["read"],
            "cacheCreationInputTokens": tokens["write"], "costUSD": result["total_cost_usd"]}}
    if errors:
        result.update(failure(errors[-1]))
    return result


def final_text(evs: list[dict]) -> str:
    """The text parts of the last message that said anything."""
    texts = [e["part"] for e in evs if e.get("type") == "text" and isinstance(e["part"].get("text"), str)]
    if not texts:
        return ""
    last = texts[-1].get("messageID")
    return "\n".join(t["text"] for t in texts if t.get("messageID") == last).strip()


def failure(error: dict) -> dict:
    """An `error` event as the result's failure fields (an API error: its HTTP status and kind)."""
    data = _dict(error.get("data"))
    status = data.get("statusCode")
    message = str(data.get("message") or error.get("name") or "error")
    out: dict = {"is_error": True, "subtype": "error_during_execution", "errors": [message],
                 "result": f"{error.get('name', 'Error')}: {message}"}
    if isinstance(status, int):
        out.update(api_error_status=status, terminal_reason="api_error")
        kind = STATUS_TYPES.get(status) or ("api_error" if status >= 500 else None)
        if kind:
            out["api_error_type"] = kind
    elif error.get("name") == "ProviderAuthError":
        out.update(api_error_type="authentication_error", terminal_reason="api_error")
    return out


def reported_cost(log_text: str) -> float | None:
    result = read(log_text, "", None)
    return result.get("total_cost_usd") if result else None


# ---------------------------------------------------------------- tier resources as OpenCode reads them

def agent_file(path: Path) -> bytes:
    """A Claude sub-agent file as an OpenCode agent: its description and body, `mode: subagent` (Claude's
    `tools: Read,Write` list is not OpenCode's tools map, so it is left out)."""
    text = path.read_text(encoding="utf-8")
    front, body = {}, text
    if text.startswith("---"):
        _, head, body = text.split("---", 2)
        loaded = yaml.safe_load(head)
        front = loaded if isinstance(loaded, dict) else {}
    meta = {"description": str(front.get("description") or path.stem), "mode": "subagent"}
    return f"---\n{yaml.safe_dump(meta, sort_keys=False)}---{body}".encode()


def mcp_server(server: dict) -> dict:
    """A Claude `mcpServers` entry as OpenCode's `mcp` entry (local command or remote URL)."""
    if server.get("url"):
        return {"type": "remote", "url": server["url"], **({"headers": server["headers"]} if server.get("headers") else {})}
    entry = {"type": "local", "command": [server["command"], *server.get("args", [])]}
    return {**entry, **({"environment": server["env"]} if server.get("env") else {})}


def config_files(tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
    """AGENTS.md; skills under .opencode/skills/, sub-agents under .opencode/agents/; MCP servers in the
    project's opencode.json."""
    res = manifest["resources"]
    files: dict[str, bytes] = {}
    text = claude_files.claude_md(tiers_dir, manifest, receives=RECEIVES)
    if text is not None:
        files["AGENTS.md"] = text.encode()
    for skill in res["skills"]:
        src = tiers_dir / "skills" / skill
        for f in resources.skill_files(tiers_dir, skill):
            files[f".opencode/skills/{src.name}/{f.relative_to(src).as_posix()}"] = f.read_bytes()
    for agent in res["agents"]:
        path = resources.resource_file(tiers_dir, tiers_dir / "agents" / f"{agent}.md")
        files[f".opencode/agents/{agent.split('/')[1]}.md"] = agent_file(path)
    if res["mcp_servers"]:
        mcp = {s["name"]: mcp_server({k: v for k, v in s.items() if k != "name"}) for s in res["mcp_servers"]}
        files["opencode.json"] = json.dumps({"$schema": "https://opencode.ai/config.json", "mcp": mcp},
                                            indent=2, sort_keys=True).encode() + b"\n"
    return files


class OpenCodeAgent(command_adapter.CliAgent):
    """`opencode run`, headless, against an OpenAI-compatible endpoint; tier resources as AGENTS.md and
    `.opencode/`."""
    name = "opencode"
    program, install, key_env, default_endpoint = "opencode", INSTALL, KEY_VARIABLE, DEFAULT_ENDPOINT
    description = "the opencode CLI (OpenCode), headless, on an OpenAI-compatible endpoint"
    config_paths = CONFIG_PATHS

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir)

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        return command_adapter.derive_result(agent_dir, reader=read)

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        return config_files(tiers_dir, manifest)

    def unsupported(self, manifest: records.ConfigManifest) -> tuple[str, ...]:
        return claude_files.unsupported(manifest, "opencode", RECEIVES)


    def reported_cost(self, log_text: str) -> float | None:
        return reported_cost(log_text)


AGENT = OpenCodeAgent()
