"""Rate limits pause every worker and are retried; concurrency limits per resource class hold across
doit workers in process and thread mode. Agents and judges here log start/end times to a timeline."""

from __future__ import annotations

import orjson
import pytest
from conftest import harness_env

LIMITED = ('{"type":"result","subtype":"success","is_error":true,"api_error_status":429,'
           '"api_error_type":"rate_limit_error","result":"API Error: Request rejected (429)"}')
# The first $SCYLLA_LIMIT_FIRST agent calls (counted across processes) are refused with a 429 result. Each
# line of the timeline: kind event run time worker (a Dask worker's directory, w0 or w1: tests/test_e2e_dask.py;
# `-` here). SCYLLA_* variables reach the agents on Dask workers too.
WORKER = "W=$(pwd | grep -o '/w[0-9]/dask-scratch-space' | cut -c2-3)"
AGENT = f'''
T="$SCYLLA_SPEC_DIR/timeline"; {WORKER}
exec 9>>"$SCYLLA_SPEC_DIR/count.lock"; flock 9
n=$(( $(cat "$SCYLLA_SPEC_DIR/count" 2>/dev/null || echo 0) + 1 )); echo $n > "$SCYLLA_SPEC_DIR/count"
flock -u 9; exec 9>&-
echo "agent start $SCYLLA_RUN_ID $(date +%s.%N) ${{W:--}}" >> "$T"
if [ "$n" -le "${{SCYLLA_LIMIT_FIRST:-0}}" ]; then
  echo '{LIMITED}'; echo "agent limited $SCYLLA_RUN_ID $(date +%s.%N) ${{W:--}}" >> "$T"; exit 1
fi
"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py"; rc=$?
echo "agent end $SCYLLA_RUN_ID $(date +%s.%N) ${{W:--}}" >> "$T"; exit $rc
'''
JUDGE = f'''
T="$SCYLLA_SPEC_DIR/timeline"; {WORKER}
echo "judge start $SCYLLA_RUN_ID $(date +%s.%N) ${{W:--}}" >> "$T"; sleep 0.3
"$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/judge.py"; rc=$?
echo "judge end $SCYLLA_RUN_ID $(date +%s.%N) ${{W:--}}" >> "$T"; exit $rc
'''


def _setup(checkout, **extra):
    def change(s):
        s["tiers"] = {"T0": ["00", "01"], "T1": ["02"]}
        s["agent"]["command"] = AGENT
        s["agent"]["env"] = ["SCYLLA_LIMIT_FIRST"]   # (a command agent gets no variable it is not given)
        s["judges"][1]["command"] = JUDGE
        s.update(extra)
    checkout.edit_spec(change)


def _env(checkout, **more) -> dict:
    """The agents' shared files: the timeline and the call counter, writable to their sandbox."""
    shared = [checkout.path / f"examples/hello/{name}" for name in ("timeline", "count", "count.lock")]
    return {**harness_env(checkout.call_log, *shared), **more}


def timeline(checkout) -> list[tuple[str, str, str, float, str]]:
    """(kind, event, run, time, worker) of every line the agents and judges wrote."""
    path = checkout.path / "examples/hello/timeline"
    lines = path.read_text().split("\n") if path.exists() else []
    return [(k, e, r, float(t), w) for k, e, r, t, w in (ln.split() for ln in lines if ln)]


def _events(checkout) -> list[tuple[str, str, str, float]]:
    return [event[:4] for event in timeline(checkout)]


def _max_overlap(events, kind: str) -> int:
    points = sorted((t, 1 if e == "start" else -1) for k, e, _, t in events if k == kind)
    best = running = 0
    for _, delta in points:
        running += delta
        best = max(best, running)
    return best


def test_rate_limit_pauses_all_workers_then_completes(fresh):
    _setup(fresh, rate_limit={"retries": 3, "backoff_seconds": 3})
    fresh.doit("-n", "3", env=_env(fresh, SCYLLA_LIMIT_FIRST="2", SCYLLA_EXAMPLE_AGENT_DELAY="0.5"))
    events = _events(fresh)
    limited = sorted(t for k, e, _, t in events if e == "limited")
    assert len(limited) == 2
    pause = orjson.loads((fresh.root / ".scylla/pause.json").read_bytes())
    assert "429" in pause["reason"] and pause["until"] >= limited[0] + 3 - 0.5
    # no agent call starts while a pause is in force (3 s after each refusal; up to 1 s to record it)
    starts = [t for k, e, _, t in events if k == "agent" and e == "start"]
    during = [t for t in starts for lim in limited if lim + 1.0 < t < lim + 3 - 0.1]
    assert during == [] and len(starts) == 8
    # every run ran its agent successfully exactly once and was judged once, after that
    ends = [r for k, e, r, _ in events if k == "agent" and e == "end"]
    assert sorted(ends) == sorted(set(ends)) and len(ends) == 6
    judged = [r for k, e, r, _ in events if k == "judge" and e == "start"]
    assert sorted(judged) == sorted(ends)
    archived = [orjson.loads(p.read_bytes())["reason"] for p in fresh.root.glob("T*/*/.failed/*/archived.json")]
    assert len(archived) == 2 and all(r.startswith("rate limited") for r in archived)
    assert fresh.doit(env=_env(fresh)).executed == []


def test_rate_limit_retries_are_bounded(fresh):
    _setup(fresh, tiers={"T0": ["00"]}, runs=1, rate_limit={"retries": 1, "backoff_seconds": 0.5})
    run = fresh.doit(env=_env(fresh, SCYLLA_LIMIT_FIRST="5"), check=False)
    assert run.returncode == 1 and "still rate limited after 1 retries" in run.stdout
    assert len([e for e in _events(fresh) if e[1] == "limited"]) == 2
    assert not list(fresh.root.glob("T0/00/run_01/judge/*/judgment.json"))      # never judged
    fresh.doit(env=_env(fresh))                                                  # the next doit retries
    assert fresh.json("T0/00/run_01/run_result.json")["exit_code"] == 0


@pytest.mark.parametrize("mode", ["process", "thread"])
def test_concurrency_limits_per_class_hold_across_workers(fresh, mode):
    _setup(fresh, concurrency={"agents": 1, "judges": 2})
    fresh.doit("-n", "4", "-P", mode, env=_env(fresh, SCYLLA_EXAMPLE_AGENT_DELAY="0.4"))
    events = _events(fresh)
    assert _max_overlap(events, "agent") == 1
    assert _max_overlap(events, "judge") <= 2
    assert len([e for e in events if e[:2] == ("agent", "end")]) == 6
