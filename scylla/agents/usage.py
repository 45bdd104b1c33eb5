"""Claude-Code-style result JSON: tokens, cost and failure class.

Claude Code's `--print --output-format json` ends with one result object. Scripted agents and judges
may print the same shape so their usage is accounted for. Tokens come from the top-level `usage` and cost
from `total_cost_usd`, as ProjectScylla took them; `modelUsage` (every model the run used) is kept beside
them as `model_usage` (docs/numbers.md).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson

from .. import records

INFRA_STATUSES = {429, 500, 502, 503, 504, 529}
INFRA_TYPES = {"rate_limit_error", "overloaded_error", "api_error"}
T = TypeVar("T")


def parse_result_json(text: str) -> dict | None:
    """The last line (or the whole text) that is a JSON object with type 'result'."""
    candidates = [text.strip()] + [ln.strip() for ln in reversed(text.strip().splitlines())]
    for candidate in candidates:
        if candidate.startswith("{"):
            try:
                obj = orjson.loads(candidate)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and obj.get("type") == "result":
                return obj
    return None


def _field(result: dict, key: str, kind: type[T], default: T) -> T:
    """result[key] when it is a `kind`, else `default` (absent or of another type)."""
    value = result.get(key)
    return value if isinstance(value, kind) else default


def _int(value) -> int:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0 else 0


def _count(value) -> int | None:
    """A token count as recorded: None when absent or not a number (unknown, never 0)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        return None
    return max(int(value), 0)


def _money(value) -> float | None:
    return None if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
        else float(value)


# the CLI's `usage` keys (top level) and `modelUsage` keys (per model), by token_stats key
USAGE_KEYS = {"input_tokens": "input_tokens", "output_tokens": "output_tokens",
              "cache_creation_tokens": "cache_creation_input_tokens", "cache_read_tokens": "cache_read_input_tokens"}
MODEL_USAGE_KEYS = {"input_tokens": "inputTokens", "output_tokens": "outputTokens",
                    "cache_creation_tokens": "cacheCreationInputTokens", "cache_read_tokens": "cacheReadInputTokens"}


def usage(result: dict | None) -> dict:
    """token_stats, cost_usd, api_calls and model_usage from a result object, as ProjectScylla took them
    (docs/numbers.md): token_stats from the top-level `usage`, cost_usd from `total_cost_usd` (else the sum
    of `modelUsage` costs); every model's usage is kept beside them in model_usage, never mixed into
    token_stats. A value the result does not record is None (unknown), never 0."""
    out: dict[str, Any] = {"token_stats": dict.fromkeys(USAGE_KEYS), "cost_usd": None, "api_calls": 0,
                           "model_usage": {}}
    if not result:
        return out
    u = result.get("usage")
    if isinstance(u, dict):         # a key it leaves out is 0, as ProjectScylla read it (the CLI omits zeros)
        out["token_stats"] = {k: _count(u.get(raw)) or 0 for k, raw in USAGE_KEYS.items()}
    for model, m in sorted(_field(result, "modelUsage", dict, {}).items()):
        if isinstance(m, dict):
            out["model_usage"][model] = model_usage(m)
    costs = [m["cost_usd"] for m in out["model_usage"].values()]
    out["cost_usd"] = _money(result.get("total_cost_usd"))
    if out["cost_usd"] is None and costs and None not in costs:
        out["cost_usd"] = sum(costs)
    out["api_calls"] = _int(result.get("num_turns"))
    return out


def model_usage(m: dict) -> records.ModelUsage:
    """One model's `modelUsage` entry (a count left out is 0, as ProjectScylla read it)."""
    return cast(records.ModelUsage, {**{k: _count(m.get(raw)) or 0 for k, raw in MODEL_USAGE_KEYS.items()},
                                     "cost_usd": _money(m.get("costUSD"))})


AUTH_STATUSES = {401, 403}
# the run reached a limit set for it (or the model's context window, which no retry widens): its turns
# were taken, whatever the usage says
LIMIT_SUBTYPES = {"error_max_turns", "error_max_budget_usd", "error_max_structured_output_retries",
                  "error_context_window"}


def error_text(result: dict) -> str:
    """The CLI's own words about an error result: `result`, else `errors[]`."""
    text, errors = _field(result, "result", str, ""), _field(result, "errors", list, [])
    return (text or "; ".join(str(e) for e in errors)).strip()[:500]


def model_answered(result: dict) -> bool:
    """Whether any model call of the run produced tokens (per modelUsage, else the main loop's usage)."""
    per_model = result.get("modelUsage")
    if isinstance(per_model, dict) and per_model:
        return any(isinstance(u, dict) and _int(u.get("outputTokens")) for u in per_model.values())
    return bool(_int(_field(result, "usage", dict, {}).get("output_tokens")))


def infra_reason(result: dict | None) -> str | None:
    """Why an error result is an infrastructure failure, from structured fields: an API error of any
    kind (auth, connection, rate limit, 5xx: `terminal_reason: api_error`) or a run in which no model
    call answered. Errors after real model turns (max turns, budget, ...) are the agent's outcome."""
    if not result or not result.get("is_error"):
        return None
    status, kind, failure = result.get("api_error_status"), result.get("api_error_type"), result.get("api_error")
    if status in AUTH_STATUSES or kind == "authentication_error":
        why = f"authentication failed (API error {status or ''} {kind or ''})".replace(" )", ")")
    elif status in INFRA_STATUSES or kind in INFRA_TYPES or rate_limit(result)[0]:
        why = f"API error {status or ''} {kind or ''}".strip()
    elif failure or result.get("terminal_reason") == "api_error":
        why = f"API error ({failure or status or 'no model answer'})"
    elif result.get("startup_failure_reason"):
        why = f"the CLI failed to start ({result['startup_failure_reason']})"
    elif result.get("subtype") not in LIMIT_SUBTYPES and not model_answered(result):
        why = "the agent got no model answer"
    else:
        return None
    text = error_text(result)
    return f"{why}: {text}" if text else why


def json_lines(text: str, keep=lambda obj: True) -> list[dict]:
    """The lines of `text` that are JSON objects `keep` accepts (a CLI's JSONL events); any other line,
    and a line cut off by a kill, skipped."""
    found = []
    for line in text.splitlines():
        if line.startswith("{"):
            try:
                obj = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(obj, dict) and keep(obj):
                found.append(obj)
    return found


def assistant_text(stream: str) -> str:
    """The text blocks of stream-json `assistant` events (when a result's `result` is empty)."""
    parts = []
    for event in json_lines(stream, lambda e: e.get("type") == "assistant"):
        content = (event.get("message") or {}).get("content")
        parts += [b.get("text", "") for b in content or [] if isinstance(b, dict) and b.get("type") == "text"]
    return "\n".join(parts)


def rate_limit(result: dict | None) -> tuple[bool, float | None]:
    """Whether an error result is a rate limit / overload / usage cap, and the seconds until a
    stated reset ("You've hit your limit · resets 4pm (America/Los_Angeles)")."""
    if not result or not result.get("is_error"):
        return False, None
    text = _field(result, "result", str, "")
    capped = "hit your limit" in text.lower()
    limited = result.get("api_error_status") in (429, 529) or \
        result.get("api_error_type") in ("rate_limit_error", "overloaded_error") or capped
    return limited, reset_delay(text) if capped else None


def outcome(result: dict | None, exit_code: int) -> str:
    """How the agent's run ended, for the record: completed, max_turns, error_* or exit_<code>.
    Never 'completed' (or the CLI's 'success' subtype) when the CLI reported an error."""
    if result and isinstance(result.get("subtype"), str):
        sub = result["subtype"]
        if sub == "error_max_turns":
            return "max_turns"
        if sub != "success" or not result.get("is_error"):
            return "completed" if sub == "success" else sub
        reason = result.get("terminal_reason")
        return f"error_{reason}" if isinstance(reason, str) and reason else "error"
    return "completed" if exit_code == 0 else f"exit_{exit_code}"


def reported_cost(text: str) -> float | None:
    """The cost an archived attempt's CLI reported: each result line of its stdout.log (a judge's log holds
    one per attempt), summed; None when it reported none (a killed CLI often did not get to print it)."""
    costs = [usage(r)["cost_usd"] for line in text.splitlines() if (r := parse_result_json(line))]
    costs = [c for c in costs if c is not None]
    return sum(costs) if costs else None


_RESETS = re.compile(r"resets\s+(?:(?P<month>[A-Z][a-z]{2})\s+(?P<day>\d{1,2}),\s*)?"
                     r"(?P<hour>\d{1,2})(?::(?P<minute>\d{2}))?\s*(?P<ampm>am|pm)\s*\((?P<zone>[A-Za-z_/+-]+)\)",
                     re.IGNORECASE)


def reset_delay(text: str, now: datetime | None = None) -> float | None:
    """Seconds until a usage cap resets, from Claude's "resets 4pm (America/Los_Angeles)" or
    "resets Apr 3, 6am (America/Los_Angeles)"; None when the text names no reset time."""
    m = _RESETS.search(text or "")
    if not m:
        return None
    try:
        zone = ZoneInfo(m["zone"])
    except (ZoneInfoNotFoundError, ValueError):
        return None
    now = (now or datetime.now(UTC)).astimezone(zone)
    hour = int(m["hour"]) % 12 + (12 if m["ampm"].lower() == "pm" else 0)
    at = now.replace(hour=hour, minute=int(m["minute"] or 0), second=0, microsecond=0)
    if m["month"]:
        month = datetime.strptime(m["month"], "%b").month
        at = at.replace(month=month, day=int(m["day"]))
        if at < now:
            at = at.replace(year=at.year + 1)
    elif at < now:
        at += timedelta(days=1)
    return (at - now).total_seconds()


def priced(reported: list[float], model: str | None, fresh: int, cache_read: int, cache_write: int,
           output: int) -> dict:
    """total_cost_usd for a CLI that prices its own calls: the sum of what it reported when any call
    cost something; else genai-prices of the tokens (it knew no price; `cost_source` says so); else None
    (unknown, never a guess). No tokens at all: nothing was consumed, 0."""
    if any(reported):
        return {"total_cost_usd": sum(reported)}
    if not (fresh or cache_read or cache_write or output):
        return {"total_cost_usd": 0.0}
    from .. import prices
    listed = prices.list_price(model, None, fresh + cache_read + cache_write, cache_read, output) if model else None
    return {"total_cost_usd": listed, **({"cost_source": "genai-prices"} if listed is not None else {})}
