"""Agent outcomes that are not infrastructure failures are recorded, judged and scored; secrets never
reach an artifact; a timed-out agent is killed with its children and retried later."""

from __future__ import annotations

import orjson

SECRET = "sk-test-0123456789-very-secret"
AGENT = r'''
echo "key=$ANTHROPIC_API_KEY" >&2
echo "token $ANTHROPIC_API_KEY" > leaked.txt
if [ "$SCYLLA_RUN_NUMBER" = 1 ]; then echo "gave up half way"; exit 3; fi
echo '{"type": "result", "subtype": "error_max_turns", "is_error": true, "num_turns": 11,
 "total_cost_usd": 0.5, "usage": {"input_tokens": 33, "output_tokens": 7, "cache_read_input_tokens": 195735}}' | tr -d '\n'
exit 1
'''


def test_agent_outcomes_are_judged_and_secrets_redacted(fresh):
    def spec(s):
        s["tiers"] = {"T0": ["00"]}
        s["agent"]["command"] = AGENT
        s["agent"]["env"] = ["ANTHROPIC_API_KEY"]       # (a command agent gets no key it is not given)
    fresh.edit_spec(spec)
    fresh.doit(env={"ANTHROPIC_API_KEY": SECRET})
    gave_up = fresh.json("T0/00/run_01/run_result.json")
    assert gave_up["exit_code"] == 3 and gave_up["agent_outcome"] == "exit_3"
    assert fresh.json("T0/00/run_01/agent/result.json")["stdout"] == "gave up half way\n"
    max_turns = fresh.json("T0/00/run_02/run_result.json")
    assert max_turns["exit_code"] == 1 and max_turns["agent_outcome"] == "max_turns"
    assert max_turns["tokens_input"] == 195768 and max_turns["cost_usd"] == 0.5
    for r in (gave_up, max_turns):                           # judged and scored like any run
        assert len(r["judges"]) == 2 and all(j["is_valid"] for j in r["judges"])
    assert "leaked.txt" in (fresh.root / "T0/00/run_01/agent/patch.diff").read_text()
    for path in fresh.root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), f"secret leaked into {path}"
    assert "[REDACTED]" in (fresh.root / "T0/00/run_01/agent/stderr.log").read_text()


def test_timed_out_agent_is_killed_archived_and_retried(fresh):
    def spec(s):
        s["tiers"] = {"T0": ["00"]}
        s["runs"] = 1
        s["timeout_seconds"] = 1
        s["sandbox"] = "none"          # unconfined: its child is found by its host pid (child.pid, in the spec dir)
        s["agent"]["command"] = ('if [ -z "$SCYLLA_NO_HANG" ]; then (echo $BASHPID > "$SCYLLA_SPEC_DIR/child.pid"; sleep 60) & '
                                 'sleep 60; fi; "$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py"')
    fresh.edit_spec(spec)
    run = fresh.doit(check=False)
    assert run.returncode != 0 and "timeout after 1 s" in run.stdout
    archived = fresh.root / "T0/00/.failed/run_01_attempt_01"
    log = orjson.loads((archived / "agent/command_log.json").read_bytes())
    assert log["commands"][0]["timed_out"] is True
    child = int((fresh.path / "examples/hello/child.pid").read_text())
    assert not _alive(child), "the agent's background child outlived the timeout"
    fresh.doit(env={"SCYLLA_NO_HANG": "1"})
    assert fresh.json("T0/00/run_01/run_result.json")["exit_code"] == 0


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
