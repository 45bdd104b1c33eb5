"""Reply parsing, usage accounting, secret redaction and seals: unit level."""

from __future__ import annotations

import json
import os
import random
import time
import tracemalloc
from pathlib import Path

import pytest

from scylla import durable, secrets
from scylla.agents import usage
from scylla.judges import reply


def test_extract_json_fenced_bare_and_prose():
    fenced = 'Here it is:\n```json\n{"score": 0.8, "passed": true}\n```\nThanks.'
    assert reply.extract_json(fenced) == {"score": 0.8, "passed": True}
    prose = 'I think {"score": 0.4, "reasoning": "meh"} is fair. {"other": 1}'
    assert reply.extract_json(prose)["score"] == 0.4
    assert reply.extract_json("no json here {at all}") is None
    assert reply.extract_json('{"not_a_verdict": 1}') is None


MiB = 1 << 20


def test_extraction_skips_prose_braces_and_prefers_a_fenced_verdict():
    stray = 'Add the missing { in parse(). Verdict:\n```json\n{"score": 0.3, "reasoning": "a } and a \\" quote"}\n```'
    assert reply.extract_json(stray) == {"score": 0.3, "reasoning": 'a } and a " quote'}
    assert reply.extract_json('He wrote {"oops } on one line\nthen {"score": 0.9}')["score"] == 0.9
    assert reply.extract_json('x {"verdict": {"score": 0.7}} y') == {"score": 0.7}      # nested counts
    example = 'An example: {"score": 0.5}. My verdict:\n```json\n{"score": 0.8}\n```'
    assert reply.extract_json(example) == {"score": 0.8}


HOSTILE = {
    "1 MiB of {": ("{" * MiB, "no JSON object with a 'score' in the reply"),
    "a { every 100 bytes": (("x" * 99 + "{") * (MiB // 100), "no JSON object with a 'score' in the reply"),
    "1 MiB of unclosed objects with a score": ('{"score": [' * (MiB // 11), "no JSON object with a 'score'"),
    "10 MiB, the verdict past the cap": ("x" * (10 * MiB) + '{"score": 0.5}', "no JSON object with a 'score'"),
    "random bytes": (random.Random(5).randbytes(MiB).decode("utf-8", "replace"), "no JSON object with a 'score'"),
    "nested 1,000 deep": ('{"score": 0.5, "c": ' + '{"a": ' * 1000 + "1" + "}" * 1001,
                          "an object with a 'score' is not readable JSON (RecursionError"),
    "criteria nested 300 deep": ('{"score": 0.5, "criteria_scores": ' + '{"a": ' * 300 + "1" + "}" * 301,
                                 "the verdict cannot be stored as JSON: Recursion limit reached"),
    "a 400-digit score": ('{"score": ' + "9" * 400 + "}", "'score' (an integer of 400 digits) is outside [0, 1]"),
    "a 5,000-digit score": ('{"score": ' + "9" * 5000 + "}",
                            "an object with a 'score' is not readable JSON (ValueError: Exceeds the limit (4300"),
    "a criterion beyond 64 bits": ('{"score": 0.5, "criteria_scores": {"a": ' + "9" * 30 + "}}",
                                   "the verdict cannot be stored as JSON: Integer exceeds 64-bit range"),
    "a lone surrogate": ('{"score": 0.5, "reasoning": "\\ud800"}', "the verdict cannot be stored as JSON: str is not"),
    "1,000 bad candidates": ('{"score": 1,}' * 1000, "an object with a 'score' is not readable JSON (JSONDecodeError"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_a_hostile_reply_is_a_reason_in_bounded_memory_never_an_exception(case, monkeypatch):
    """Linear: one pass over the first REPLY_LIMIT bytes, each outermost object decoded at most once and at
    most MAX_CANDIDATES of them (counted, not timed); memory measured by tracemalloc."""
    text, reason = HOSTILE[case]
    decoded, loads = [], json.loads
    monkeypatch.setattr(reply.json, "loads", lambda s: decoded.append(len(s)) or loads(s))
    tracemalloc.start()
    try:
        verdict, problem = reply.verdict_from(text, 0.6)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert verdict is None and problem.startswith(reason), problem
    assert peak < 16 * MiB, f"{peak / MiB:.1f} MiB"
    assert len(decoded) <= reply.MAX_CANDIDATES and sum(decoded) <= reply.REPLY_LIMIT


def test_the_stored_reply_reads_back_as_the_judge_read_it(tmp_path):
    """A reply cut at the cap keeps whole characters, so the judgment task (read_reply) sees the same text."""
    text = "é" * MiB + '{"score": 1}'
    kept, size = reply.capped(text)
    assert size == 2 * MiB + 12 and len(kept.encode()) == reply.REPLY_LIMIT and kept == "é" * (MiB // 2)
    durable.write_text(tmp_path / "response.txt", kept)
    assert reply.read_reply(tmp_path / "response.txt") == kept
    assert reply.capped("abc") == ("abc", 3)


def test_judgment_recomputes_grade():
    j = reply.judgment({"score": 0.85, "grade": "F", "reasoning": "x"}, 0.6)
    assert j["score"] == 0.85 and j["grade"] == "A" and j["passed"] is True and j["is_valid"]
    assert reply.judgment({"score": 1}, 0.6)["grade"] == "S" and reply.judgment({"score": 0}, 0.6)["passed"] is False
    with pytest.raises(reply.ReplyError):
        reply.judgment({"score": "high"}, 0.6)
    assert reply.invalid_judgment("garbage")["is_valid"] is False


@pytest.mark.parametrize("raw, shown", [("7", "7"), ("-3", "-3"), ("1e308", "1e+308"), ("1.0000001", "1.0000001")])
def test_an_out_of_range_score_is_an_invalid_judgment_with_the_reason(raw, shown):
    """Never clamped into a grade: the reply is unusable, and judgment.json says why."""
    text = f'Verdict:\n```json\n{{"score": {raw}, "passed": true, "reasoning": "great"}}\n```'
    verdict, problem = reply.verdict_from(text, 0.6)
    assert verdict is None and problem == f"'score' {shown} is outside [0, 1]"
    call = {"adapter": "command", "model": "m", "judge_number": 2, "cost_usd": 0.01, "attempts": 2}
    j = reply.judgment_file(text, call, 0.6)
    assert j["is_valid"] is False and j["passed"] is False and j["score"] == 0.0 and j["grade"] == "F"
    assert j["reasoning"] == \
        f"Invalid judgment: no usable JSON verdict after 2 attempt(s): 'score' {shown} is outside [0, 1]"
    assert (j["judge_number"], j["model"], j["cost_usd"]) == (2, "m", 0.01)


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "-Infinity", "true", '"0.5"', "null"])
def test_a_score_that_is_not_a_finite_number_is_invalid(raw):
    verdict, problem = reply.verdict_from(f'{{"score": {raw}}}', 0.6)
    assert verdict is None and problem.startswith("'score' is not a finite number")


def test_usage_takes_the_top_level_usage_as_projectscylla_did_and_keeps_every_model_beside_it():
    """Definition changed (issue 13): token_stats are the CLI result's top-level `usage` and cost_usd its
    `total_cost_usd`, as ProjectScylla took them; `modelUsage` is kept as model_usage, never summed in."""
    result = {"type": "result", "num_turns": 4, "total_cost_usd": 0.102,
              "usage": {"input_tokens": 33, "output_tokens": 700, "cache_read_input_tokens": 195735,
                        "cache_creation_input_tokens": 2000},
              "modelUsage": {
                  "claude-sonnet-4-6": {"inputTokens": 33, "outputTokens": 700, "cacheReadInputTokens": 195735,
                                        "cacheCreationInputTokens": 2000, "costUSD": 0.1},
                  "claude-haiku-4-5": {"inputTokens": 10, "outputTokens": 5, "costUSD": 0.002}}}
    u = usage.usage(result)
    assert u["token_stats"] == {"input_tokens": 33, "output_tokens": 700, "cache_creation_tokens": 2000,
                                "cache_read_tokens": 195735}
    assert u["cost_usd"] == 0.102 and u["api_calls"] == 4
    assert u["model_usage"] == {
        "claude-haiku-4-5": {"input_tokens": 10, "output_tokens": 5, "cache_creation_tokens": 0,
                             "cache_read_tokens": 0, "cost_usd": 0.002},
        "claude-sonnet-4-6": {"input_tokens": 33, "output_tokens": 700, "cache_creation_tokens": 2000,
                              "cache_read_tokens": 195735, "cost_usd": 0.1}}
    # a key the CLI leaves out of `usage` is 0, as ProjectScylla read it
    fallback = usage.usage({"type": "result", "total_cost_usd": 0.5,
                            "usage": {"input_tokens": 33, "cache_read_input_tokens": 195735}})
    assert fallback["token_stats"] == {"input_tokens": 33, "output_tokens": 0, "cache_creation_tokens": 0,
                                       "cache_read_tokens": 195735} and fallback["cost_usd"] == 0.5
    # no total_cost_usd: the models' costs; nothing recorded at all: unknown (None), never 0
    assert usage.usage({**result, "total_cost_usd": None})["cost_usd"] == pytest.approx(0.102)
    nothing = usage.usage(None)
    assert nothing["cost_usd"] is None and set(nothing["token_stats"].values()) == {None}
    assert usage.usage({"type": "result", "result": "done"})["token_stats"]["input_tokens"] is None


def test_result_json_found_after_other_output_and_infra_classes():
    text = 'progress...\n{"type": "result", "subtype": "error_max_turns", "is_error": true}\n'
    result = usage.parse_result_json(text)
    assert usage.outcome(result, 1) == "max_turns" and usage.infra_reason(result) is None
    limited = {"type": "result", "is_error": True, "api_error_status": 429, "api_error_type": "rate_limit_error"}
    assert "429" in usage.infra_reason(limited)
    assert usage.parse_result_json("plain text") is None and usage.outcome(None, 3) == "exit_3"


def test_secrets_redacted():
    env = {"ANTHROPIC_API_KEY": "sk-ant-123456", "GITHUB_TOKEN": "ghp_abcdef", "HOME": "/root"}
    hidden = secrets.secret_values(env)
    assert secrets.redact("key sk-ant-123456 and ghp_abcdef", hidden) == "key [REDACTED] and [REDACTED]"
    assert secrets.safe_env(env)["ANTHROPIC_API_KEY"] == "[REDACTED]" and secrets.safe_env(env)["HOME"] == "/root"
    # a judge's api_key_env may be named anything ending in _KEY (it once reached a replay.sh in clear)
    assert secrets.secret_values({"SCYLLA_TEST_OPENAI_KEY": "sk-test-0123456789", "SORT_ORDER": "descending"}) == \
        ["sk-test-0123456789"]


def test_atomic_write_and_seals(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert durable.write_json("a.json", {"b": 1, "a": float("nan")}) is True
    assert durable.read_json("a.json") == {"a": None, "b": 1}
    mtime = os.stat("a.json").st_mtime_ns
    assert durable.write_json("a.json", {"a": None, "b": 1}) is False and os.stat("a.json").st_mtime_ns == mtime
    durable.write_seal("out", "judge:x", "cfg", ["a.json"])
    seal = durable.read_seal("out")
    assert durable.seal_mismatch(seal, "judge:x", "cfg", ["a.json"]) is None
    assert durable.seal_mismatch(seal, "judge:x", "other", ["a.json"]) == "configuration changed"
    durable.write_json("a.json", {"b": 2})
    assert durable.seal_mismatch(seal, "judge:x", "cfg", ["a.json"]) == "input changed: a.json"
    durable.write_text("out/stdout.log", "the whole capture\n")
    durable.write_seal("out", "judge:x", "cfg", ["a.json"])         # it records the md5 of each output
    assert not durable.damaged_capture("out/stdout.log") and not durable.lost_capture("out/stdout.log")
    os.truncate("out/stdout.log", 5)
    assert durable.damaged_capture("out/stdout.log") and durable.unusable_capture("out/stdout.log")
    os.unlink("out/stdout.log")
    assert durable.lost_capture("out/stdout.log") and durable.damaged_outputs("out", durable.read_seal("out")) \
        == ["out/stdout.log"]
    (tmp_path / "out" / durable.SEAL_NAME).write_text("{trunc")
    with pytest.raises(durable.ArtifactError, match="corrupt JSON"):
        durable.read_seal("out")
    dest = durable.archive([tmp_path / "out"], tmp_path / ".failed", "run_01", "test")
    assert dest.name == "run_01_attempt_01" and (dest / "out").is_dir()


def test_usage_cap_reset_times():
    from datetime import UTC, datetime

    from scylla.agents.usage import reset_delay
    now = datetime(2026, 11, 26, 20, 0, tzinfo=UTC)                 # 12:00 in Los Angeles
    assert reset_delay("You've hit your limit · resets 4pm (America/Los_Angeles)", now) == 4 * 3600
    assert reset_delay("resets 11am (America/Los_Angeles)", now) == 23 * 3600    # tomorrow
    assert reset_delay("You've hit your limit · resets Dec 3, 6am (America/Los_Angeles)", now) == \
        (6 * 24 + 18) * 3600
    assert reset_delay("the judge said: rate limit", now) is None


def test_rate_limit_classification():
    cap = {"type": "result", "is_error": True, "result": "You've hit your limit · resets 4pm (America/Los_Angeles)"}
    assert usage.rate_limit(cap)[0] is True and usage.rate_limit(cap)[1] is not None
    overloaded = {"type": "result", "is_error": True, "api_error_status": 529, "api_error_type": "overloaded_error"}
    assert usage.rate_limit(overloaded) == (True, None)
    # free text in a successful answer never counts
    assert usage.rate_limit({"type": "result", "is_error": False, "result": "hit your limit"}) == (False, None)


@pytest.mark.e2e                # commands in subprocesses
def test_command_captures_are_on_disk_before_a_seal_vouches_for_them(tmp_path, monkeypatch):
    from scylla.process import run_shell
    synced = []
    real_fsync = os.fsync
    monkeypatch.setattr(durable.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")),
                                                         real_fsync(fd)))
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    done = run_shell("echo out; echo err >&2", tmp_path, dict(os.environ), out, err, 30)
    assert done.exit_code == 0 and out.read_text() == "out\n" and err.read_text() == "err\n"
    assert sorted(synced) == [str(err), str(out)]  # unchanged by redaction, so nothing else would sync them
    synced.clear()
    with durable.rebuildable():                    # a derived file's capture: doit rebuilds it after a crash
        run_shell("echo again", tmp_path, dict(os.environ), out, None, 30)
    assert synced == []


@pytest.mark.e2e
def test_a_capture_cut_short_is_reported(tmp_path):
    """/dev/full fails every write with ENOSPC: what the command wrote is known not to be on disk."""
    from scylla.process import run_shell
    done = run_shell("echo out; echo err >&2", tmp_path, dict(os.environ), Path("/dev/full"), tmp_path / "err", 30)
    assert done.exit_code == 0 and "No space left on device" in done.capture_error and "0 bytes" in done.capture_error
    assert (tmp_path / "err").read_text() == "err\n"
    assert run_shell("echo fine", tmp_path, dict(os.environ), tmp_path / "out", None, 30).capture_error is None


@pytest.mark.e2e
def test_a_left_behind_child_does_not_hold_the_command(tmp_path):
    from scylla import process
    started = time.monotonic()
    done = process.run_shell("(sleep 60; echo late) & echo early", tmp_path, dict(os.environ), tmp_path / "o", None, 30)
    assert done.exit_code == 0 and (tmp_path / "o").read_text() == "early\n"
    assert time.monotonic() - started < process.DRAIN_SECONDS + 10


# result objects as the real CLI (2.1.332) ends them, trimmed to the fields that decide
NOT_LOGGED_IN = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": None,
                 "terminal_reason": "api_error", "modelUsage": {}, "usage": {"output_tokens": 0},
                 "result": "Not logged in · Please run /login"}
REFUSED = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": None,
           "api_error": "connection_failed", "terminal_reason": "api_error", "modelUsage": {},
           "result": "API Error: Connection refused — a firewall or proxy may be blocking it (ECONNREFUSED)"}
BAD_KEY = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": 401,
           "api_error_type": "authentication_error", "modelUsage": {}, "result": "Invalid API key · Fix external API key"}


@pytest.mark.parametrize("result, words", [
    (NOT_LOGGED_IN, ["API error", "Not logged in"]), (REFUSED, ["connection_failed", "ECONNREFUSED"]),
    (BAD_KEY, ["authentication failed", "401", "Invalid API key"]),
    ({"type": "result", "subtype": "error_during_execution", "is_error": True, "errors": ["boom"]},
     ["no model answer", "boom"])])
def test_runs_without_a_model_answer_are_infrastructure_failures(result, words):
    reason = usage.infra_reason(result)
    assert reason and all(w in reason for w in words), reason
    assert usage.outcome(result, 1) != "completed" and "success" not in usage.outcome(result, 1)


def test_errors_after_real_model_turns_are_the_agents_outcome():
    answered = {"modelUsage": {"m": {"inputTokens": 10, "outputTokens": 50, "costUSD": 0.1}}}
    for result, outcome in [({"subtype": "error_max_turns", "is_error": True, **answered}, "max_turns"),
                            ({"subtype": "error_max_budget_usd", "is_error": True, **answered}, "error_max_budget_usd"),
                            ({"subtype": "success", "is_error": True, "terminal_reason": "prompt_too_long",
                              **answered}, "error_prompt_too_long"),
                            ({"subtype": "success", "is_error": False, **answered}, "completed")]:
        assert usage.infra_reason({"type": "result", **result}) is None, result
        assert usage.outcome({"type": "result", **result}, 1) == outcome
