"""The `openai` judge adapter: any OpenAI-compatible `/v1/chat/completions` endpoint (OpenAI, Ollama,
vLLM, llama.cpp server, ...) through the official `openai` SDK.

The judge system prompt goes in the system message, the run's judge prompt in the user message. An
unparseable reply (a score outside [0, 1] included) is answered with a stricter reminder, `retries`
times; the final reply is kept (response.txt, its first REPLY_LIMIT bytes: the rest is neither read nor
stored, nor sent back with the reminder) and the judgment task records it as invalid. Every API
error (rate limit, 5xx, auth, connection, timeout) is an infrastructure failure: the task fails and the
next `doit` retries it. Cost comes from `genai-prices` when it knows the model.
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

from .. import adapters, durable, secrets
from ..adapters import Credentials, JudgeAdapter
from ..prices import list_price as cost_usd
from ..throttle import RateLimited
from . import reply

REMINDER = ("Your reply did not contain the JSON verdict (with a score from 0.0 to 1.0). Reply again with exactly "
            "one JSON object: "
            '{"score": <0.0-1.0>, "passed": <true|false>, "reasoning": "...", "criteria_scores": {...}}')


KEY_ENV = "OPENAI_API_KEY"     # the variable holding the key when the slot names none (`api_key_env`)


def key_env(slot) -> str:
    return slot.api_key_env or KEY_ENV


def _client(slot):
    from openai import OpenAI
    key = os.environ.get(key_env(slot))      # its own key only: the SDK would otherwise read OPENAI_API_KEY
    if not key and not slot.base_url:
        raise durable.InfraFailure(f"{key_env(slot)} is not set")
    # local servers (Ollama, llama.cpp) accept any key
    return OpenAI(base_url=slot.base_url, api_key=key or "not-needed", timeout=slot.timeout_seconds,
                  max_retries=int(slot.options.get("max_retries", 2)))


def run(exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
    """Returns (the call's record for call.json, duration_seconds); writes stdout.log, response.txt
    (the final attempt's reply), replay.sh."""
    import time

    import openai
    client = _client(slot)
    messages = [{"role": "system", "content": system_prompt.read_text(encoding="utf-8")},
                {"role": "user", "content": prompt.read_text(encoding="utf-8")}]
    params = {k: slot.options[k] for k in ("temperature", "max_tokens", "seed") if k in slot.options}
    params.setdefault("temperature", 0)
    hidden = secrets.secret_values(names=adapters.key_variables(exp))
    log, cost, known, seconds, verdict, text = [], 0.0, True, 0.0, None, ""
    for attempt in range(1, slot.retries + 2):
        started = time.monotonic()
        try:
            response = client.chat.completions.create(model=slot.model, messages=messages, **params)
        except (openai.RateLimitError, openai.InternalServerError) as exc:
            if exc.status_code in (429, 529, 503):
                raise RateLimited(f"judge endpoint {exc.status_code}: {secrets.redact(str(exc), hidden)[:300]}",
                                  _retry_after(exc)) from None
            raise durable.InfraFailure(f"judge endpoint error {exc.status_code}: "
                                       f"{secrets.redact(str(exc), hidden)[:500]}") from None
        except openai.APIError as exc:
            status = getattr(exc, "status_code", None)
            raise durable.InfraFailure(f"judge endpoint error{f' {status}' if status else ''}: "
                                       f"{secrets.redact(str(exc), hidden)[:500]}") from None
        finally:
            seconds += time.monotonic() - started
        text, reply_bytes = reply.capped((response.choices[0].message.content or "") if response.choices else "")
        usage = response.usage
        prompt_tokens = usage.prompt_tokens if usage else 0
        cached = getattr(getattr(usage, "prompt_tokens_details", None), "cached_tokens", None) or 0
        completion = usage.completion_tokens if usage else 0
        price = cost_usd(slot.model, slot.base_url, prompt_tokens, cached, completion)
        cost, known = cost + (price or 0.0), known and price is not None
        log.append(f"=== attempt {attempt}: {prompt_tokens} prompt tokens ({cached} cached), {completion} "
                   f"completion tokens, cost {'unknown' if price is None else f'${price:.6f}'} ===\n{text}\n")
        durable.write_text(out_dir / "stdout.log", secrets.redact("".join(log), hidden))
        verdict, _ = reply.verdict_from(text, exp.fixture.pass_threshold)
        if verdict is not None:
            break
        messages += [{"role": "assistant", "content": text}, {"role": "user", "content": REMINDER}]
    durable.write_text(out_dir / "response.txt", secrets.redact(text, hidden))
    durable.write_text(out_dir / "replay.sh", replay_script(slot, messages[:2], params))
    cut = {"reply_bytes": reply_bytes} if reply_bytes > reply.REPLY_LIMIT else {}
    return {"cost_usd": cost if known else None, "attempts": attempt, "parsed": verdict is not None,
            "cost_known": known, **cut}, seconds


def _retry_after(exc) -> float | None:
    headers = getattr(getattr(exc, "response", None), "headers", None) or {}
    for name, scale in (("retry-after-ms", 0.001), ("retry-after", 1.0)):
        try:
            return float(headers[name]) * scale
        except (KeyError, ValueError, TypeError):
            continue
    return None


def replay_script(slot, messages: list[dict], params: dict) -> str:
    """curl of the first request; the key is read from the environment, never stored."""
    base = (slot.base_url or "https://api.openai.com/v1").rstrip("/")
    body = durable.dumps({"model": slot.model, "messages": messages, **params}).decode()
    return ("#!/usr/bin/env bash\n# Re-sends this judge's first request. Export the API key first.\n"
            f"curl -sS {shlex.quote(base + '/chat/completions')} -H 'Content-Type: application/json' "
            f"-H \"Authorization: Bearer ${{{key_env(slot)}}}\" --data-binary @- <<'SCYLLA_JSON'\n{body}SCYLLA_JSON\n")


class OpenAIJudge(JudgeAdapter):
    name = "openai"
    description = "an OpenAI-compatible chat completions endpoint"

    def run(self, exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
        return run(exp, slot, run_paths, prompt, system_prompt, out_dir)

    def credentials(self, slot) -> Credentials | None:
        # local servers (Ollama, llama.cpp) take any key
        return None if slot.base_url else Credentials((key_env(slot),), f", model {slot.model}")


JUDGE = OpenAIJudge()
