"""The `aider` agent adapter: the real `aider` CLI, one message, non-interactive, against an OpenAI-compatible
endpoint (Chat Completions, via litellm's `openai/<model>`).

Built on the command adapter (same captures, redaction, failure classes). Choices that matter:
* `--message-file` (the prompt), `--yes-always`, no auto/dirty commits, no .gitignore edit, no update
  check, no analytics upload, no repo map; chat/input history in the private HOME (not the workspace);
* no price fetch: LITELLM_LOCAL_MODEL_COST_MAP=True (litellm's bundled map) and a placeholder for
  aider's own model-price cache in the private HOME, which it would otherwise download from GitHub;
* exact tokens and cost: aider prints k-rounded "Tokens: 2.1k sent", so its `--analytics-log`
  (`message_send`: prompt_tokens, completion_tokens, cost per model request) is appended to stdout after
  aider exits, behind MARKER, and read from there;
* its edits are its edit format's blocks (SEARCH/REPLACE, whole file) in the model's reply text;
* a failed model call leaves a `message_send_starting` without its `message_send`, and aider prints
  the litellm exception (`litellm.RateLimitError: ...`, `litellm.AuthenticationError: ...`): that class
  names the failure. Aider retries rate limits itself for about a minute (RETRY_TIMEOUT, no flag).
Token convention: aider counts an OpenAI-compatible call's `prompt_tokens` as sent (cached ones
included; it reports no cache reads there), so input_tokens is every prompt token and cache_read 0.

Options: `cli` (path). `thinking` low/medium/high/xhigh -> `--reasoning-effort` (none, default, max:
nothing); `max_turns`: not passed, aider has no turn limit (one message, then at most 3 reflections of
its own on failed edits or lint).
"""

from __future__ import annotations

import math
import re
import shlex
import shutil
from pathlib import Path

from .. import records
from ..adapters import AgentRun
from . import claude_files, usage
from . import command as command_adapter

INSTALL = "pip install aider-chat (in a virtualenv of its own)"
KEY_VARIABLE = "OPENAI_API_KEY"
DEFAULT_ENDPOINT = "https://api.openai.com/v1"
CONVENTIONS = "CONVENTIONS.md"
RECEIVES: frozenset[str] = frozenset()
MARKER = "=== scylla: aider analytics log ==="
ANALYTICS = "$HOME/aider-analytics.jsonl"
EFFORTS = ("low", "medium", "high", "xhigh")      # `max`: a Claude level, no reasoning_effort of that name
QUIET = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "AIDER_CHECK_UPDATE": "false", "AIDER_ANALYTICS": "false"}
# aider's model-price cache, present and non-empty so it never downloads litellm's map
NO_PRICE_FETCH = ('mkdir -p "$HOME/.aider/caches" && printf \'{"scylla": {}}\' '
                  '> "$HOME/.aider/caches/model_prices_and_context_window.json"')
# litellm exception class aider printed -> (HTTP status, api_error_type)
EXCEPTIONS = {"RateLimitError": (429, "rate_limit_error"), "AuthenticationError": (401, "authentication_error"),
              "PermissionDeniedError": (403, "authentication_error"),
              "ServiceUnavailableError": (503, "overloaded_error"), "InternalServerError": (500, "api_error"),
              "APIConnectionError": (None, "api_error"), "Timeout": (None, "api_error"),
              "NotFoundError": (404, "api_error"), "BadRequestError": (400, "api_error")}
EXCEPTION = re.compile(r"^litellm\.(\w+):\s*(.*)$", re.MULTILINE)


def cli(exp) -> str:
    return str(exp.agent.options.get("cli") or shutil.which("aider") or "aider")


def key_variable(config) -> str:
    return config.api_key_env or KEY_VARIABLE


def command_line(exp, workspace: Path) -> str:
    cfg = exp.agent
    model = f"openai/{cfg.model}"
    args = [cli(exp), "--message-file", "$SCYLLA_PROMPT_FILE", "--yes-always", "--no-auto-commits",
            "--no-dirty-commits", "--no-gitignore", "--no-check-update", "--no-analytics", "--analytics-log",
            ANALYTICS, "--no-show-model-warnings", "--no-pretty", "--no-stream", "--no-fancy-input",
            "--map-tokens", "0", "--model", model, "--weak-model", model,
            "--chat-history-file", "$HOME/aider.chat.history.md", "--input-history-file", "$HOME/aider.input.history"]
    if cfg.base_url:
        args += ["--openai-api-base", cfg.base_url]
    if cfg.thinking in EFFORTS:
        args += ["--reasoning-effort", cfg.thinking]
    if (workspace / CONVENTIONS).is_file():
        args += ["--read", CONVENTIONS]
    # $-words stay expandable (the prompt file, the private HOME); everything else is quoted
    line = " ".join(f'"{a}"' if a.startswith("$") else shlex.quote(a) for a in args)
    key = key_variable(cfg)
    prefix = f'OPENAI_API_KEY="${key}" ' if key != KEY_VARIABLE else ""
    return (f'{NO_PRICE_FETCH}; {prefix}{line}; status=$?; printf \'\\n%s\\n\' {shlex.quote(MARKER)}; '
            f'cat "{ANALYTICS}" 2>/dev/null; exit $status')


def run(exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
    env = {**QUIET, "HOME": str(command_adapter.home_of(workspace))}
    version = command_adapter.cli_version(cli(exp), INSTALL, "set agent.options.cli to its path")
    return command_adapter.run(exp, run_paths, workspace, manifest, agent_dir, command=command_line(exp, workspace),
                               extra_env=env, model_note=f"**CLI**: {version}\n", needs_result=True,
                               programs=(cli(exp),), reader=read)


# ---------------------------------------------------------------- its output and analytics as one result

def split(stdout: str) -> tuple[str, list[dict] | None]:
    """aider's own output, and the analytics events appended after MARKER (None: no marker, e.g. killed)."""
    head, found, tail = stdout.rpartition(f"\n{MARKER}\n")
    if not found:
        return stdout, None
    return head, usage.json_lines(tail, lambda e: isinstance(e.get("properties", {}), dict))


def _int(value) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _cost(value) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) \
        and math.isfinite(value) and value > 0 else 0.0


def read(stdout: str, stderr: str, model: str | None) -> dict | None:
    """aider's captures as a Claude-Code-shaped result (command.Reader); None when the analytics log was
    not appended (aider was killed before the shell could). Tokens and cost: the `message_send` events
    summed; a call that never got its `message_send` failed, and the litellm exception aider printed
    says how."""
    output, events = split(stdout)
    if events is None:
        return None
    names = [e.get("event") for e in events]
    sends = [e["properties"] for e in events if e.get("event") == "message_send"]
    fresh = sum(_int(s.get("prompt_tokens")) for s in sends)
    out = sum(_int(s.get("completion_tokens")) for s in sends)
    result: dict = {"type": "result", "subtype": "success", "is_error": False, "num_turns": len(sends),
                    "result": output.strip(),
                    "usage": {"input_tokens": fresh, "output_tokens": out, "cache_creation_input_tokens": 0,
                              "cache_read_input_tokens": 0}}
    result.update(usage.priced([_cost(s.get("cost")) for s in sends], model, fresh, 0, 0, out))
    if model:
        result["modelUsage"] = {model: {"inputTokens": fresh, "outputTokens": out, "cacheReadInputTokens": 0,
                                        "cacheCreationInputTokens": 0, "costUSD": result["total_cost_usd"]}}
    if "launched" not in names:
        result.update(is_error=True, subtype="error_during_execution",
                      startup_failure_reason="aider wrote no analytics events (it did not start)")
    elif last_call_failed(names):
        result.update(failure(output))
    return result


def last_call_failed(names: list) -> bool:
    """Whether aider's last model call started and never answered."""
    starts = [i for i, n in enumerate(names) if n == "message_send_starting"]
    return bool(starts) and "message_send" not in names[starts[-1]:]


def failure(output: str) -> dict:
    """The last litellm exception aider printed, as the result's failure fields."""
    found = EXCEPTION.findall(output)
    kind, message = found[-1] if found else ("UnknownError", "the model call did not answer")
    status, error_type = EXCEPTIONS.get(kind, (None, None))
    out: dict = {"is_error": True, "subtype": "error_during_execution", "terminal_reason": "api_error",
                 "api_error": kind, "errors": [f"litellm.{kind}: {message}"], "result": f"litellm.{kind}: {message}"}
    if status:
        out["api_error_status"] = status
    if error_type:
        out["api_error_type"] = error_type
    return out


def reported_cost(log_text: str) -> float | None:
    result = read(log_text, "", None)
    return result.get("total_cost_usd") if result else None


class AiderAgent(command_adapter.CliAgent):
    """`aider --message-file`, non-interactive, on an OpenAI-compatible endpoint; the tier's instructions
    as a read-only conventions file."""
    name = "aider"
    program, install, key_env, default_endpoint = "aider", INSTALL, KEY_VARIABLE, DEFAULT_ENDPOINT
    description = "the aider CLI, one non-interactive message, on an OpenAI-compatible endpoint"
    config_paths = (CONVENTIONS,)

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        return run(exp, run_paths, workspace, manifest, agent_dir)

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        return command_adapter.derive_result(agent_dir, reader=read)

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        text = claude_files.claude_md(tiers_dir, manifest, receives=RECEIVES)
        return {CONVENTIONS: text.encode()} if text is not None else {}

    def unsupported(self, manifest: records.ConfigManifest) -> tuple[str, ...]:
        return claude_files.unsupported(manifest, "aider", RECEIVES)


    def reported_cost(self, log_text: str) -> float | None:
        return reported_cost(log_text)


AGENT = AiderAgent()
