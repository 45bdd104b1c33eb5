"""Turn a judge's reply text into a judgment: robust JSON extraction and validation.

The paid judge task keeps the raw reply (`response.txt`) and a record of the call (`call.json`); the
cheap `judgment` task turns them into `judgment.json` with `judgment_file()`, deterministically, so a
lost or damaged judgment.json is rebuilt from the reply without calling the judge again.
"""

from __future__ import annotations

import json
import math
import re

from ..results import grade_for

_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)


class ReplyError(Exception):
    pass


def extract_json(text: str) -> dict | None:
    """The judge's JSON object: a fenced ```json block, else the first bare object in the prose.
    Only objects that carry a 'score' count, so quoted examples or other braces are skipped."""
    candidates = [m.group(1) for m in _FENCED.finditer(text)]
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch == "{":
            candidates.append(text[i:])
    for candidate in candidates:
        candidate = candidate.strip()
        try:
            obj, _ = decoder.raw_decode(candidate)
        except ValueError:
            continue
        if isinstance(obj, dict) and "score" in obj:
            return obj
    return None


def score(value) -> float:
    """A judge's score: a finite number in [0, 1]. Anything else is not a grade (never clamped into one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ReplyError(f"'score' is not a finite number: {value!r}")
    if not 0.0 <= value <= 1.0:
        raise ReplyError(f"'score' {value!r} is outside [0, 1]")
    return float(value)


def judgment(reply: dict, pass_threshold: float) -> dict:
    """Validate a parsed reply: score in [0, 1], grade recomputed from it, passed by the reply
    (or by the rubric's threshold when the reply omits it)."""
    value = score(reply.get("score"))
    passed = reply.get("passed")
    if not isinstance(passed, bool):
        passed = value >= pass_threshold
    criteria = reply.get("criteria_scores")
    return {"score": value, "passed": passed, "grade": grade_for(value),
            "reasoning": str(reply.get("reasoning") or ""), "is_valid": True,
            "criteria_scores": criteria if isinstance(criteria, dict) else {}}


def verdict_from(text: str, pass_threshold: float) -> tuple[dict | None, str | None]:
    """(the validated judgment in a reply, None) or (None, why the reply holds no usable verdict)."""
    parsed = extract_json(text)
    if parsed is None:
        return None, "no JSON object with a 'score' in the reply"
    try:
        return judgment(parsed, pass_threshold), None
    except ReplyError as exc:
        return None, str(exc)


def invalid_judgment(reason: str) -> dict:
    return {"score": 0.0, "passed": False, "grade": "F", "reasoning": f"Invalid judgment: {reason}",
            "is_valid": False, "criteria_scores": {}}


def call_record(adapter: str, model: str, judge_number: int, cost_usd: float | None, attempts: int, parsed: bool,
                **extra) -> dict:
    """call.json: what only the call knows (the reply itself is response.txt)."""
    return {"adapter": adapter, "model": model, "judge_number": judge_number, "cost_usd": cost_usd,
            "attempts": attempts, "retries_exhausted": not parsed, **extra}


def judgment_file(text: str, call: dict, pass_threshold: float) -> dict:
    """judgment.json from the final reply and the call record (adapter, model and judge_number always
    given: an adopted judgment's call, which ProjectScylla did not record, has only those)."""
    verdict, problem = verdict_from(text, pass_threshold)
    if verdict is None:
        attempts = call.get("attempts")
        verdict = invalid_judgment(f"no usable JSON verdict after {attempts} attempt(s): {problem}"
                                   if attempts else f"no usable JSON verdict: {problem}")
    if call.get("adapter") == "pipeline":
        verdict["judge_kind"] = "pipeline"
    extra = {"cost_known": call["cost_known"]} if "cost_known" in call else {}
    return {**verdict, "judge_number": call["judge_number"], "model": call["model"], "adapter": call["adapter"],
            "cost_usd": call.get("cost_usd"), **extra}     # None: never recorded (an adopted judgment's)
