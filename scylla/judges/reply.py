"""Turn a judge's reply text into a judgment: robust JSON extraction and validation.

A reply is hostile input: whatever it holds (a megabyte of `{`, nesting 1,000 deep, a 400-digit score,
random bytes), reading it takes time and memory linear in its first REPLY_LIMIT bytes and ends in a
verdict or the reason there is none, never in an exception.

The paid judge task keeps the raw reply (`response.txt`) and a record of the call (`call.json`); the
cheap `judgment` task turns them into `judgment.json` with `judgment_file()`, deterministically, so a
lost or damaged judgment.json is rebuilt from the reply without calling the judge again.
"""

from __future__ import annotations

import bisect
import itertools
import json
import math
import os
import re
from array import array
from collections.abc import Mapping
from typing import Any, cast

from .. import durable, records
from ..errors import ReplyError
from ..results import grade_for

# What of a reply is kept (response.txt, each attempt in stdout.log) and read for a verdict: its first
# REPLY_LIMIT bytes (README, Failures: judge-parse). A judge command's stdout is read up to CAPTURE_LIMIT,
# since a stream-json wrapper repeats the reply before its result line gives the cost.
REPLY_LIMIT = 1 << 20
CAPTURE_LIMIT = 4 << 20
MAX_CANDIDATES = 100        # objects mentioning "score" decoded before giving up (a verdict is one of the first)

_FENCED = re.compile(r"```(?:json)?[ \t]*\n(.*?)```", re.DOTALL | re.IGNORECASE)
_SPECIAL = re.compile(r'\{+|[}"\\\n]')       # a run of `{` is one match (1 MiB of them: one step)
_DECODE_ERRORS = (ValueError, RecursionError, OverflowError, MemoryError)


def capped(text: str, limit: int = REPLY_LIMIT) -> tuple[str, int]:
    """(the longest prefix of `text` whose UTF-8 fits in `limit` bytes, whole characters; the UTF-8 size
    of all of it). Unencodable characters (lone surrogates) become '?', so the prefix can always be stored."""
    size = len(text) if text.isascii() else len(text.encode("utf-8", "replace"))
    # `limit` characters hold at least `limit` bytes: only they are encoded (memory bounded by `limit`)
    return text[:limit].encode("utf-8", "replace")[:limit].decode("utf-8", "ignore"), size


def read_head(path: str | os.PathLike, limit: int = REPLY_LIMIT) -> tuple[str, int]:
    """(the first `limit` bytes of a file as text, the file's size): a huge capture is never read whole."""
    with open(path, "rb") as fh:
        return fh.read(limit).decode("utf-8", "replace"), os.fstat(fh.fileno()).st_size


def read_reply(path: str | os.PathLike) -> str:
    """A stored reply (response.txt) as the verdict is read from it: its first REPLY_LIMIT bytes."""
    return capped(read_head(path)[0])[0]


def _spans(text: str) -> tuple[array, array]:
    """(starts, ends) of the outermost balanced {...} in `text`, in order, from one pass. Braces inside
    JSON strings do not count (a string also ends at a newline, which JSON strings cannot hold, so a stray
    quote in prose is forgotten); a `{` never closed (prose) leaves the spans inside it standing.
    Memory: 4 bytes per open brace and per span."""
    starts, ends, stack = array("i"), array("i"), array("i")
    in_string, escaped = False, -1
    for match in _SPECIAL.finditer(text):
        i, ch = match.start(), match.group()
        if i == escaped:
            continue
        if in_string:
            if ch in '"\n':
                in_string = False
            elif ch == "\\":
                escaped = i + 1
        elif ch[0] == "{":
            stack.extend(range(i, match.end()))
        elif ch == "}" and stack:
            start = stack.pop()
            while starts and starts[-1] > start:       # spans inside this one are no longer outermost
                starts.pop(), ends.pop()
            starts.append(start)
            ends.append(i + 1)
        elif ch == '"' and stack:
            in_string = True
    return starts, ends


def _with_score(obj):
    """The first object carrying a 'score' in `obj` (itself, else nested, in document order), or None."""
    pending = [obj]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if "score" in item:
                return item
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            pending.extend(reversed(item))
    return None


def extract(text: str) -> tuple[dict | None, str | None]:
    """(the judge's JSON verdict, None) or (None, why there is none). The verdict is the first object
    carrying a 'score' (nested ones count), looked for first inside fenced ```json blocks, then anywhere.
    Linear in the reply's first REPLY_LIMIT bytes (the rest is not read): one pass finds the outermost
    {...} spans, which are disjoint, and each span that mentions "score" is decoded once (at most
    MAX_CANDIDATES of them); a decoding failure (nesting beyond the recursion limit, an integer of more
    than 4300 digits, garbage) is that candidate's reason, never an exception."""
    text = capped(text)[0]
    starts, ends = _spans(text)
    blocks = [range(bisect.bisect_left(starts, b.start(1)), bisect.bisect_left(starts, b.end(1)))
              for b in _FENCED.finditer(text)]
    fenced = bytearray(len(starts))
    for block in blocks:
        fenced[block.start:block.stop] = b"\1" * len(block)
    problem, tried = None, 0
    for k in itertools.chain(*blocks, (k for k in range(len(starts)) if not fenced[k])):
        if text.find('"score"', starts[k], ends[k]) < 0:
            continue
        if tried == MAX_CANDIDATES:
            problem = f"{problem or 'none had a score'}; gave up after {MAX_CANDIDATES} objects mentioning 'score'"
            break
        tried += 1
        try:
            found = _with_score(json.loads(text[starts[k]:ends[k]]))
        except _DECODE_ERRORS as exc:
            problem = problem or \
                f"an object with a 'score' is not readable JSON ({type(exc).__name__}: {str(exc)[:200]})"
            continue
        if found is not None:
            return found, None
    return None, problem or "no JSON object with a 'score' in the reply"


def extract_json(text: str) -> dict | None:
    return extract(text)[0]


def score(value) -> float:
    """A judge's score: a finite number in [0, 1]. Anything else is not a grade (never clamped into one)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            isinstance(value, float) and not math.isfinite(value):
        raise ReplyError(f"'score' is not a finite number: {_shown(value)}")
    if not 0 <= value <= 1:         # an int is compared exactly: a 400-digit one has no float
        raise ReplyError(f"'score' {_shown(value)} is outside [0, 1]")
    return float(value)


def _shown(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10 ** 20:
        return f"(an integer of {len(str(abs(value)))} digits)"
    text = repr(value)
    return text if len(text) <= 100 else text[:100] + "..."


def judgment(reply: dict, pass_threshold: float) -> records.Judgment:
    """Validate a parsed reply: score in [0, 1], grade recomputed from it, passed by the reply
    (or by the rubric's threshold when the reply omits it)."""
    value = score(reply.get("score"))
    passed = reply.get("passed")
    if not isinstance(passed, bool):
        passed = value >= pass_threshold
    criteria = reply.get("criteria_scores")
    made: records.Judgment = {"score": value, "passed": passed, "grade": grade_for(value),
            "reasoning": str(reply.get("reasoning") or ""), "is_valid": True,
            "criteria_scores": criteria if isinstance(criteria, dict) else {}}
    try:        # judgment.json must be writable: no nesting beyond 255, no integer beyond 64 bits
        durable.dumps(made)
    except (TypeError, ValueError) as exc:      # orjson.JSONEncodeError is a TypeError
        raise ReplyError(f"the verdict cannot be stored as JSON: {exc}") from None
    return made


def verdict_from(text: str, pass_threshold: float) -> tuple[records.Judgment | None, str | None]:
    """(the validated judgment in a reply, None) or (None, why the reply holds no usable verdict)."""
    parsed, problem = extract(text)
    if parsed is None:
        return None, problem
    try:
        return judgment(parsed, pass_threshold), None
    except ReplyError as exc:
        return None, str(exc)
    except RecursionError:                  # str() of a 'reasoning' nested ~1000 deep
        return None, "the verdict is nested too deeply to read"


def invalid_judgment(reason: str) -> records.Judgment:
    return {"score": 0.0, "passed": False, "grade": "F", "reasoning": f"Invalid judgment: {reason}",
            "is_valid": False, "criteria_scores": {}}


def call_record(adapter: str, model: str, judge_number: int, cost_usd: float | None, attempts: int, parsed: bool,
                **extra) -> records.CallRecord:
    """call.json: what only the call knows (the reply itself is response.txt; `reply_bytes`, the final
    reply's full size, is there when response.txt holds only its first REPLY_LIMIT bytes)."""
    return cast(records.CallRecord, {       # (the call's own keys spread in: mypy cannot follow)
        "adapter": adapter, "model": model, "judge_number": judge_number, "cost_usd": cost_usd,
        "attempts": attempts, "retries_exhausted": not parsed, **extra})


def judgment_file(text: str, call: Mapping[str, Any], pass_threshold: float) -> records.JudgmentFile:
    """judgment.json from the final reply and the call record (adapter, model and judge_number always
    given: an adopted judgment's call, which ProjectScylla did not record, has only those)."""
    verdict, problem = verdict_from(text, pass_threshold)
    if verdict is None:
        assert problem is not None          # verdict_from says why there is no verdict
        attempts, size = call.get("attempts"), call.get("reply_bytes")
        if size:
            problem += f" (the reply was {size} bytes: only its first {REPLY_LIMIT} were kept and read)"
        verdict = invalid_judgment(f"no usable JSON verdict after {attempts} attempt(s): {problem}"
                                   if attempts else f"no usable JSON verdict: {problem}")
    kind = {"judge_kind": "pipeline"} if call.get("adapter") == "pipeline" else {}
    extra = {"cost_known": call["cost_known"]} if "cost_known" in call else {}
    return cast(records.JudgmentFile, {       # (optional keys spread in: mypy cannot follow)
        **verdict, **kind, "judge_number": call["judge_number"], "model": call["model"], "adapter": call["adapter"],
        "cost_usd": call.get("cost_usd"), **extra})     # None: never recorded (an adopted judgment's)
