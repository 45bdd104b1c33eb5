"""Infrastructure failures are told apart from agent outcomes by structured evidence: a run in which the
agent never got a model answer (auth failure, connection refused, a missing CLI) or whose captures could
not be written whole (a full disk) is archived to .failed/, never sealed, judged or priced in the forecast
(spend counts what its CLI reported, separately), and is retried by the next `doit`; the failure message
carries the CLI's own words."""

from __future__ import annotations

import json
import socket

import pytest
from conftest import claude_cli, harness_env
from mock_anthropic import KEY, TEXTKIT, AnthropicMock, error, text, tool

# What the real CLI (2.1.332) prints without a key: captured from `claude -p --output-format stream-json`
NOT_LOGGED_IN = {"type": "result", "subtype": "success", "is_error": True, "api_error_status": None,
                 "terminal_reason": "api_error", "num_turns": 1, "total_cost_usd": 0, "modelUsage": {},
                 "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0,
                           "cache_read_input_tokens": 0},
                 "result": "Not logged in · Please run /login"}

# a scripted agent: the runs named in FAIL_RUNS end as the CLI does without a key, the others are the
# hello agent (which reports $0.25 per run here, so the forecast's mean is easy to check)
AGENT = r'''
case ",$FAIL_RUNS," in *",$SCYLLA_RUN_NUMBER,"*)
  printf '%s\n' "$NOT_LOGGED_IN"; echo "error: not logged in" >&2; exit 1;;
esac
out=$(mktemp); "$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py" > "$out"; rc=$?
"$SCYLLA_PYTHON" -c "import json,sys; r=json.load(open(sys.argv[1])); r['total_cost_usd']=0.25; \
r['modelUsage']={k: {**v, 'costUSD': 0.25} for k, v in r['modelUsage'].items()}; print(json.dumps(r))" "$out"
rm -f "$out"; exit $rc
'''


@pytest.fixture
def mock():
    server = AnthropicMock()
    yield server
    server.close()


def _claude(fresh, **options):
    fresh.edit_spec(lambda s: s.update(tiers={"T0": ["00"]}, runs=1, max_turns=5, agent={
        "adapter": "claude-code", "model": "claude-sonnet-4-6", "options": {"max_retries": 0, **options}}))


def _assert_infra_failed(checkout, run, *words: str) -> None:
    """The run failed as infrastructure: not sealed, archived with the reason, not judged; the doit
    output carries the cause."""
    assert run.returncode != 0, str(run)
    assert "infrastructure failure" in run.stdout, str(run)
    for word in words:
        assert word in run.stdout, f"{word!r} not in the failure message:\n{run}"
    agent = checkout.root / "T0/00/run_01/agent"
    assert not (agent / ".seal.json").exists() and not (agent / "result.json").exists()
    archived = json.loads((checkout.root / "T0/00/.failed/run_01_attempt_01/archived.json").read_text())
    assert archived["reason"].startswith("infra failure")
    assert checkout.calls("judge") == [] and not (checkout.root / "T0/00/run_01/run_result.json").exists()


def _then_retried_and_judged_once(checkout, mock, env) -> None:
    mock.script.extend([[text("Implementing."), tool("Write", file_path="textkit.py", content=TEXTKIT)],
                        [text("Done.")]])
    checkout.doit(env=env)
    result = checkout.json("T0/00/run_01/agent/result.json")
    assert result["outcome"] == "completed" and result["cost_usd"] > 0
    assert checkout.calls("judge") == ["T0/00/run_01 2"]
    assert checkout.doit(env=env).executed == []


def test_an_authentication_failure_is_retried_not_judged(fresh, mock):
    _claude(fresh, cli=claude_cli())
    mock.refuse_first, mock.refusal = 1, error(401, "authentication_error", "invalid x-api-key")
    env = {"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY}
    run = fresh.doit(env=env, check=False)
    _assert_infra_failed(fresh, run, "authentication failed", "401", "Invalid API key")
    assert KEY not in run.stdout + run.stderr
    _then_retried_and_judged_once(fresh, mock, env)


def test_a_refused_connection_is_retried_not_judged(fresh, mock):
    _claude(fresh, cli=claude_cli())
    with socket.socket() as s:          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    run = fresh.doit(env={"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{closed}", "ANTHROPIC_API_KEY": KEY},
                     check=False)
    _assert_infra_failed(fresh, run, "connection_failed")
    # the sandbox's bridge accepted the CLI's connection and could not reach the endpoint (inside, the CLI
    # sees its connection dropped); unconfined, the CLI itself is refused
    box = json.loads((fresh.root / "T0/00/.failed/run_01_attempt_01/agent/command_log.json").read_text())["sandbox"]
    assert "Connection refused" in (run.stdout if box["kind"] == "none" else " ".join(box["endpoint_errors"]))
    _then_retried_and_judged_once(fresh, mock, {"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY})


def test_a_missing_cli_is_found_before_any_call(fresh, mock):
    """Preflight finds it (tests/test_preflight.py covers the other causes): nothing is started,
    archived or sealed, and the next `doit` goes ahead once the CLI is there."""
    _claude(fresh, cli=str(fresh.path / "no-such-dir/claude"))
    env = {"ANTHROPIC_BASE_URL": mock.url, "ANTHROPIC_API_KEY": KEY}
    run = fresh.doit(env=env, check=False)
    assert run.returncode != 0 and "refused by preflight" in run.stdout, str(run)
    assert "no-such-dir/claude" in run.stdout and "npm install" in run.stdout
    assert mock.requests == [] and not (fresh.root / "T0/00/.failed").exists()
    assert not (fresh.root / "T0/00/run_01/agent/.seal.json").exists() and fresh.calls("judge") == []
    _claude(fresh, cli=claude_cli())
    _then_retried_and_judged_once(fresh, mock, env)


def test_a_run_without_a_model_answer_is_neither_sealed_nor_priced(fresh):
    """Spend and the forecast's means come from finished runs only: the failed run is priced like them."""
    fresh.edit_spec(lambda s: (s.update(tiers={"T0": ["00"]}, runs=3),
                               s["agent"].update(command=AGENT, env=["FAIL_RUNS", "NOT_LOGGED_IN"])))
    env = {"FAIL_RUNS": "2", "NOT_LOGGED_IN": json.dumps(NOT_LOGGED_IN)}
    run = fresh.doit("--continue", env=env, check=False)
    assert run.returncode != 0 and "Not logged in" in run.stdout and "error: not logged in" in run.stdout, str(run)
    assert not (fresh.root / "T0/00/run_02/agent/.seal.json").exists()
    assert [r for r in ("run_01", "run_03") if (fresh.root / f"T0/00/{r}/agent/.seal.json").exists()] == \
        ["run_01", "run_03"]
    assert sorted(fresh.calls("judge")) == ["T0/00/run_01 2", "T0/00/run_03 2"]
    st = json.loads(fresh.doit("status", "--json", env=env).stdout)
    assert "agent:T0/00/run_02" in st["to_run"]
    agent_row = st["forecast"]["rows"]["agent"]
    assert agent_row["to_run"] == 1 and agent_row["cost_usd"] == pytest.approx(0.25)   # not $0 from the failure
    # the scripted judge (slot 2) records no cost: 2 calls of unknown cost, counted as $0 and said so (issue 13);
    # the failed attempt's CLI reported $0
    assert [fresh.json(f"T0/00/{r}/judge/judge_02/judgment.json")["cost_usd"] for r in ("run_01", "run_03")] == \
        [None, None]
    assert st["budget"]["spent_usd"] == pytest.approx(0.5) and st["budget"]["unknown_calls"] == 2
    assert st["budget"]["archived_usd"] == 0
    fresh.reset_calls()
    fresh.doit(env={**env, "FAIL_RUNS": ""})
    assert fresh.calls("agent") == ["T0/00/run_02"] and fresh.calls("judge") == ["T0/00/run_02 2"]
    assert fresh.json("T0/00/run_02/agent/result.json")["outcome"] == "completed"


def test_a_full_disk_while_capturing_is_an_infrastructure_failure(fresh, small_disk):
    """The agent fills the disk its captures go to, then prints its result: the capture comes out short,
    so the run is retried, not sealed as the agent's own `exit_1` with empty logs and judged."""
    filler = small_disk / "filler"
    fill = f'head -c 100M /dev/zero > {filler} 2>/dev/null; '
    fresh.edit_spec(lambda s: (s.update(tiers={"T0": ["00"]}, runs=1, results=str(small_disk / "results")),
                               s["agent"].update(command=fill + s["agent"]["command"])))
    root = small_disk / "results/hello"
    run = fresh.doit(check=False, env=harness_env(fresh.call_log, filler))    # (the sandbox lets it write there)
    assert run.returncode != 0 and "infrastructure failure" in run.stdout, str(run)
    assert "No space left on device" in run.stdout, str(run)
    assert not (root / "T0/00/run_01/agent/.seal.json").exists()
    assert not (root / "T0/00/run_01/agent/result.json").exists() and fresh.calls("judge") == []
    filler.unlink()                                  # space is freed: the next doit retries the run
    fresh.edit_spec(lambda s: s["agent"].update(command=s["agent"]["command"].removeprefix(fill)))
    fresh.doit()
    assert json.loads((root / "T0/00/run_01/agent/result.json").read_text())["outcome"] == "completed"
    assert fresh.calls("agent") == ["T0/00/run_01", "T0/00/run_01"] and fresh.calls("judge") == ["T0/00/run_01 2"]
    failed = sorted(p.name for p in (root / "T0/00/.failed").iterdir())
    assert failed == ["run_01_attempt_01"], failed
