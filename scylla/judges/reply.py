"""Turn a judge's reply text into a judgment: robust JSON extraction and normalization."""

from __future__ import annotations

import json
import re

from ..results import clamp_score, grade_for

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


def judgment(reply: dict, pass_threshold: float) -> dict:
    """Normalize a parsed reply: score in [0, 1], grade recomputed from it, passed by the reply
    (or by the rubric's threshold when the reply omits it)."""
    score = clamp_score(reply.get("score"))
    if score is None:
        raise ReplyError(f"'score' is not a number: {reply.get('score')!r}")
    passed = reply.get("passed")
    if not isinstance(passed, bool):
        passed = score >= pass_threshold
    criteria = reply.get("criteria_scores")
    return {"score": score, "passed": passed, "grade": grade_for(score),
            "reasoning": str(reply.get("reasoning") or ""), "is_valid": True,
            "criteria_scores": criteria if isinstance(criteria, dict) else {}}


def verdict_from(text: str, pass_threshold: float) -> tuple[dict | None, str]:
    """The normalized judgment in a reply (None when there is none), and the reply text, annotated
    when it held JSON that is not a usable verdict."""
    parsed = extract_json(text)
    if parsed is None:
        return None, text
    try:
        return judgment(parsed, pass_threshold), text
    except ReplyError as exc:
        return None, f"{text}\n[scylla: {exc}]"


def invalid_judgment(reason: str) -> dict:
    return {"score": 0.0, "passed": False, "grade": "F", "reasoning": f"Invalid judgment: {reason}",
            "is_valid": False, "criteria_scores": {}}
