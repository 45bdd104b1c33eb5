"""The `gemini` agent adapter: the real Gemini CLI (`@google/gemini-cli`), headless, in the run's workspace.

Built on the command adapter (same captures, redaction, failure classes): this module decides the
command line, the CLI's settings and how its output reads. Choices that matter (checked on 0.61.0):
* `-p "" -o json`: the prompt comes on stdin; `json` (not `stream-json`) because only its `stats` carry
  the thought tokens (billed as output) and the request count; stream-json's result drops both.
* `--approval-mode yolo --skip-trust` and GEMINI_CLI_TRUST_WORKSPACE: tools run without asking, as root,
  and the workspace's GEMINI.md and `.gemini/` (project skills, settings.json MCP servers) are honoured.
  The CLI's own sandbox stays off (it needs docker/podman): Scylla's bubblewrap sandbox is the confinement.
* a private HOME per run with `~/.gemini/settings.json`: API-key auth, usage statistics, telemetry and
  update checks off, `general.maxAttempts` (its retries of 429/5xx: 10 with 5-30 s backoff by default),
  `model.maxSessionTurns` (max_turns) and a thinking override for the pinned model.
* errors arrive as one JSON object on stderr ({"error": {"type", "message", "code"}}), stdout empty:
  429 is a rate limit, 401/403 an authentication failure, 53 the turn limit.

Options (`agent.options`): `cli` (its path), `max_retries` (its own API retries before Scylla's pause),
`thinking_budget` (an exact thinking token budget, overriding `thinking`).
`thinking`: Gemini 2.5 models get a thinking budget (none 0, or 128 for 2.5 Pro which cannot turn it off;
low 1024, medium 8192 = the CLI's default, high 24576, xhigh/max -1 = dynamic); Gemini 3 models a
thinking level (none/low LOW, else HIGH: the only levels the CLI knows; they cannot turn thinking off).
Tier resources: GEMINI.md, `.gemini/skills/<name>/SKILL.md` and `.gemini/settings.json` `mcpServers`.
Not supported: sub-agents (0.61 registers a project's `.gemini/agents` only after an interactive
acknowledgement, and Claude Code's agent files name its own tools and models), tool allow lists (they
name Claude Code's tools), agent teams. Tokens of a run that ends in an error (turn limit, API error after
some answers) are unknown: the CLI prints no stats then, and its session file misses helper calls.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
from pathlib import Path

import orjson

from .. import durable, prices, records, resources, safepath
from ..adapters import AgentRun
from ..errors import SpecError
from . import claude_files
from . import command as command_adapter

INSTALL = "npm install -g @google/gemini-cli@0.61.0"
KEY_ENV = "GEMINI_API_KEY"
BASE_URL_ENV = "GOOGLE_GEMINI_BASE_URL"
DEFAULT_ENDPOINT = "https://generativelanguage.googleapis.com"
CONFIG_PATHS = ("GEMINI.md", ".gemini")
RECEIVES = frozenset({"skills", "mcp_servers"})
BUDGETS = {"none": 0, "low": 1024, "medium": 8192, "high": 24576, "xhigh": -1, "max": -1}
LEVELS = {"none": "LOW", "low": "LOW"}          # Gemini 3: every other level is HIGH
TURN_LIMIT_CODE = 53                             # the CLI's exit code and error code for maxSessionTurns
ERROR_TYPES = {401: "authentication_error", 403: "authentication_error", 429: "rate_limit_error",
               503: "overloaded_error"}
STATUS_TYPES = {"UNAUTHENTICATED": "authentication_error", "PERMISSION_DENIED": "authentication_error",
                "RESOURCE_EXHAUSTED": "rate_limit_error", "UNAVAILABLE": "overloaded_error"}


def cli(exp) -> str:
    return str(exp.agent.options.get("cli") or shutil.which("gemini") or "gemini")


def key_env(config) -> str:
    """The variable holding the key: `agent.api_key_env`, else the CLI's own."""
    name = config.api_key_env or KEY_ENV
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise SpecError(f"experiment.yaml: agent.api_key_env {name!r} is not an environment variable name: "
                        "name one such as GEMINI_API_KEY")
    return name


def command_line(exp) -> str:
    args = [cli(exp), "-p", "", "-o", "json", "-m", exp.agent.model, "--approval-mode", "yolo", "--skip-trust"]
    line = shlex.join(args)
    name = key_env(exp.agent)           # a key in another variable reaches the CLI under its own name
    return line if name == KEY_ENV else f'{KEY_ENV}="${{{name}}}" {line}'


def thinking_config(model: str, thinking: str, options: dict) -> dict | None:
    """The generateContent thinkingConfig for the pinned model (None: the CLI's default)."""
    if "thinking_budget" in options:
        return {"thinkingBudget": int(options["thinking_budget"])}
    if thinking == "default":
        return None
    if "gemini-3" in model:
        return {"thinkingLevel": LEVELS.get(thinking, "HIGH")}
    if thinking == "none" and "pro" in model:
        return {"thinkingBudget": 128}          # 2.5 Pro's least: it cannot think not at all
    return {"thinkingBudget": BUDGETS[thinking]}


def settings(exp) -> dict:
    """~/.gemini/settings.json of one run (no secret in it: replay.sh writes the same)."""
    cfg = exp.agent
    out: dict = {"security": {"auth": {"selectedType": "gemini-api-key"}},
                 "privacy": {"usageStatisticsEnabled": False}, "telemetry": {"enabled": False},
                 "general": {"enableAutoUpdate": False, "enableAutoUpdateNotification": False}}
    if "max_retries" in cfg.options:             # attempts = 1 + retries (the CLI caps them at 10)
        out["general"]["maxAttempts"] = int(cfg.options["max_retries"]) + 1
    if cfg.max_turns:
        out["model"] = {"maxSessionTurns": int(cfg.max_turns)}
    thinking = thinking_config(cfg.model, cfg.thinking, cfg.options)
    if thinking is not None:
        out["modelConfigs"] = {"customOverrides": [{"match": {"model": cfg.model}, "modelConfig": {
            "generateContentConfig": {"thinkingConfig": thinking}}}]}
    return out


def private_home(home: Path, exp, manifest: records.ConfigManifest) -> tuple[dict, tuple[str, ...]]:
    """Write the run's ~/.gemini; return the CLI's environment and replay.sh's lines that set up the same."""
    config = home / ".gemini"
    config.mkdir(parents=True, exist_ok=True)
    text = json.dumps(settings(exp), sort_keys=True)
    durable.write_text(config / "settings.json", text)
    # trusted from the start (--skip-trust alone comes after the workspace's .gemini/settings.json was skipped)
    env = {"HOME": str(home), "GEMINI_CLI_NO_RELAUNCH": "true", "GEMINI_CLI_TRUST_WORKSPACE": "true"}
    if exp.agent.base_url:
        env[BASE_URL_ENV] = exp.agent.base_url
    prelude = ['mkdir -p "$HOME/.gemini"', f'printf %s {shlex.quote(text)} > "$HOME/.gemini/settings.json"']
    if manifest.get("system_prompt_mode") == "none":      # an empty file replaces its system prompt
        durable.write_text(config / "system.md", "")
        env["GEMINI_SYSTEM_MD"] = "~/.gemini/system.md"
        prelude.append(': > "$HOME/.gemini/system.md"')
    return env, tuple(prelude)


# ---------------------------------------------------------------- its output as one result object

def _objects(text: str) -> list[dict]:
    """The JSON objects of `text` that start a line (pretty-printed or not; `[ERROR] ` prefixes too)."""
    decoder, found, at = json.JSONDecoder(), [], 0
    for line in text.splitlines(keepends=True):
        start = line.find("{")
        if start >= 0 and line[:start].strip() in ("", "[ERROR]"):
            try:
                obj, _ = decoder.raw_decode(text, at + start)
            except ValueError:
                obj = None
            if isinstance(obj, dict):
                found.append(obj)
        at += len(line)
    return found


def _n(value) -> int:
    return int(value) if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def model_tokens(tokens: dict) -> dict:
    """One model's stats tokens in Claude Code's kinds. Gemini's `prompt` includes the `cached` tokens
    (and `input` = prompt - cached): fresh input = prompt - cached + tool (tool-use prompt tokens are billed
    as input); output = candidates + thoughts (thinking is billed as output); implicit caching writes
    nothing billable, so cache creation is 0."""
    prompt, cached = _n(tokens.get("prompt")), _n(tokens.get("cached"))
    return {"inputTokens": max(prompt - cached, 0) + _n(tokens.get("tool")),
            "outputTokens": _n(tokens.get("candidates")) + _n(tokens.get("thoughts")),
            "cacheReadInputTokens": cached, "cacheCreationInputTokens": 0}


def _success(obj: dict) -> dict:
    models = obj["stats"].get("models") if isinstance(obj["stats"].get("models"), dict) else {}
    per_model, calls = {}, 0
    for name, m in sorted(models.items()):
        if not isinstance(m, dict):
            continue
        tokens = m.get("tokens")
        t = model_tokens(tokens if isinstance(tokens, dict) else {})
        # no cost from the CLI: the list price of the model that answered (stats are keyed by modelVersion)
        t["costUSD"] = prices.list_price(name, None, t["inputTokens"] + t["cacheReadInputTokens"],
                                         t["cacheReadInputTokens"], t["outputTokens"])
        per_model[name] = t
        calls += _n((m.get("api") or {}).get("totalRequests"))
    costs = [m["costUSD"] for m in per_model.values()]
    total = None if None in costs else sum(costs)
    return {"type": "result", "subtype": "success", "is_error": False,
            "result": obj["response"] if isinstance(obj["response"], str) else "", "num_turns": calls,
            "usage": {"input_tokens": sum(m["inputTokens"] for m in per_model.values()),
                      "output_tokens": sum(m["outputTokens"] for m in per_model.values()),
                      "cache_creation_input_tokens": 0,
                      "cache_read_input_tokens": sum(m["cacheReadInputTokens"] for m in per_model.values())},
            "modelUsage": per_model, "total_cost_usd": total, "cost_source": "genai-prices",
            "session_id": obj.get("session_id")}


def _google_status(message: str) -> str | None:
    """The `status` of Google's error JSON when the CLI passes it on as its message."""
    try:
        inner = orjson.loads(message)
    except orjson.JSONDecodeError:
        return None
    error = inner.get("error") if isinstance(inner, dict) else None
    status = error.get("status") if isinstance(error, dict) else None
    return status if isinstance(status, str) else None


def _failure(obj: dict) -> dict:
    error = obj["error"]
    code = error.get("code") if isinstance(error.get("code"), int) else None
    message = str(error.get("message") or error.get("type") or "")
    out = {"type": "result", "is_error": True, "result": message, "session_id": obj.get("session_id")}
    if code == TURN_LIMIT_CODE or error.get("type") == "FatalTurnLimitedError":
        return {**out, "subtype": "error_max_turns", "terminal_reason": "max_turns"}
    kind = STATUS_TYPES.get(_google_status(message) or "") or ERROR_TYPES.get(code or 0)
    if code is not None and 400 <= code < 600 or kind:
        out.update(api_error_status=code, api_error_type=kind or "api_error", terminal_reason="api_error")
    return {**out, "subtype": "error_during_execution"}


def read_result(stdout: str, stderr: str, model: str | None) -> dict | None:
    """The CLI's captures as one Claude-Code-shaped result object (command.Reader): its stdout JSON
    (response and stats), else the error JSON it printed on stderr; None when neither is whole. Tokens
    are unknown (absent) when it failed: it prints no stats then."""
    for obj in reversed(_objects(stdout)):
        if isinstance(obj.get("stats"), dict) and "response" in obj:
            return _success(obj)
    for obj in reversed(_objects(stderr) + _objects(stdout)):
        if isinstance(obj.get("error"), dict):
            return _failure(obj)
    return None


# ---------------------------------------------------------------- tier resources

def config_files(tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
    """GEMINI.md (the composed instructions, naming only what it receives), skills under
    `.gemini/skills/` (the same SKILL.md format) and MCP servers in `.gemini/settings.json`."""
    res, files = manifest["resources"], {}
    text = claude_files.claude_md(tiers_dir, manifest, receives=RECEIVES)
    if text is not None:
        files["GEMINI.md"] = text.encode()
    for skill in res["skills"]:
        src = tiers_dir / "skills" / skill
        for f in resources.skill_files(tiers_dir, skill):        # (a link: refused, never followed)
            files[f".gemini/skills/{src.name}/{f.relative_to(src).as_posix()}"] = f.read_bytes()
    if res["mcp_servers"]:
        files[".gemini/settings.json"] = durable.dumps({"mcpServers": {
            s["name"]: {k: v for k, v in s.items() if k != "name"} for s in res["mcp_servers"]}})
    return files


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path, home: Path) -> AgentRun:
    env, prelude = private_home(home, exp, manifest)
    try:
        version = command_adapter.cli_version(cli(exp), INSTALL, "set agent.options.cli to its path")
        return command_adapter.run(exp, run_paths, workspace, manifest, agent_dir, command=command_line(exp),
                                   extra_env=env, model_note=f"**CLI**: gemini {version}\n",
                                   replay_prelude=prelude, needs_result=True, programs=programs(cli(exp)),
                                   reader=read_result)
    finally:
        safepath.remove(home, ignore_errors=True)


def programs(program: str) -> tuple[str, ...]:
    """What the sandbox must show: the CLI's bundle and its package (it reads its package.json)."""
    real = Path(os.path.realpath(shutil.which(program) or program))
    package = next((p for p in real.parents if (p / "package.json").is_file()), None)
    return (program, *([str(package / "package.json")] if package else []))


class GeminiAgent(command_adapter.CliAgent):
    """The `gemini` CLI (Gemini CLI), headless; tier resources as GEMINI.md and `.gemini/`."""
    name = "gemini"
    program, install, key_env, default_endpoint = "gemini", INSTALL, KEY_ENV, DEFAULT_ENDPOINT

    def key_variable(self, config) -> str:
        return key_env(config)          # (checked: it is written into the command line)
    description = "the gemini CLI (Gemini CLI), headless"
    config_paths = CONFIG_PATHS

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir, command_adapter.home_of(workspace))

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        return command_adapter.derive_result(agent_dir, reader=read_result)

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        return config_files(tiers_dir, manifest)

    def unsupported(self, manifest: records.ConfigManifest) -> tuple[str, ...]:
        return claude_files.unsupported(manifest, self.name, RECEIVES)


    def passed_env(self, config) -> tuple[str, ...]:
        return (key_env(config), BASE_URL_ENV)      # its key, and its endpoint when the caller sets it

    def endpoints(self, config) -> tuple[str, ...]:
        return (config.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_ENDPOINT,)

    def reported_cost(self, log_text: str) -> float | None:
        result = read_result(log_text, "", None)
        cost = result.get("total_cost_usd") if result else None
        return float(cost) if isinstance(cost, (int, float)) and result and result.get("modelUsage") else None


AGENT = GeminiAgent()
