"""A failing `doit` (with `--continue`, `-n 4`, threads, or none) never makes doit forget the records of
tasks that did not run (DESIGN §4 rule 6): once the damage is repaired, the next `doit` executes only
the task that really ran and failed, and every file comes out byte-identical, with no paid call.

doit's runner drops the record of every task it reports as failed, also of a task that never ran
because a file_dep was missing (DependencyError) or an upstream task failed (UnmetDependency, with
`--continue` every task downstream); Scylla keeps those (doit_plugins._remove_success).
"""

from __future__ import annotations

import hashlib
import sqlite3

import pytest

from scylla import tree

LOST = "T0/00/run_01/agent/stdout.log"       # a raw capture of finished paid work (what was derived from it stands)
BROKEN = "T0/00/run_01/agent/result.json"     # derived from LOST: its task runs to rebuild it, and fails
FAILS = "agent_result:T0/00/run_01"


def snapshot(root) -> dict[str, str]:
    """Every file of the tree but doit's DB and Scylla's state: path -> sha256."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file() and p.relative_to(root).parts[0] != tree.STATE_DIR}


def records(checkout) -> set[str]:
    db = sqlite3.connect(checkout.root / tree.DB_FILE)
    try:
        return {row[0] for row in db.execute("select task_id from doit")}
    finally:
        db.close()


def settled(checkout):
    """The copied tree, with anything a copy makes due (e.g. a check of the environment) run first."""
    checkout.doit()
    checkout.reset_calls()
    return checkout


def to_run(checkout) -> set[str]:
    """Tasks `doit list --all --status` marks R or E, group tasks (which doit always shows R) aside."""
    status = checkout.status()
    groups = {n for n in status if any(m.startswith(n + ":") for m in status)}
    return {n for n, s in status.items() if s in "RE" and n not in groups}


@pytest.mark.parametrize("options", [("--continue",), ("-n", "4", "--continue"),
                                     ("-n", "4", "-P", "thread", "--continue"), ()],
                         ids=["continue", "n4-continue", "n4-thread-continue", "plain"])
def test_a_failing_doit_keeps_the_records_of_tasks_that_did_not_run(hello, options):
    settled(hello)
    before, kept = snapshot(hello.root), records(hello)
    original = {rel: (hello.root / rel).read_bytes() for rel in (LOST, BROKEN)}
    (hello.root / LOST).unlink()
    (hello.root / BROKEN).write_text('{"started": ')

    damaged = hello.doit(*options, check=False)
    assert damaged.returncode != 0, str(damaged)
    assert damaged.executed == [FAILS] and f"input lost: {LOST}" in damaged.stdout, str(damaged)
    if "--continue" in options:
        # everything downstream of the two (tiers T1 and T5 included) is reported "not run", and stays recorded
        assert damaged.executed == [FAILS] and "UnmetDependency - taskid:experiment" in damaged.stdout, str(damaged)
    # only a task whose action ran and failed loses its record
    assert records(hello) == kept - set(damaged.executed)

    for rel, data in original.items():
        (hello.root / rel).write_bytes(data)
    assert to_run(hello) == set(damaged.executed)
    repaired = hello.doit()
    assert repaired.executed == damaged.executed, str(repaired)
    assert hello.doit().executed == []
    assert snapshot(hello.root) == before
    assert records(hello) == kept
    assert hello.calls("agent") == [] and hello.calls("judge") == []


@pytest.mark.parametrize("options", [(), ("-n", "4")], ids=["plain", "n4"])
def test_a_lost_file_does_not_stop_plain_doit_regenerating_unrelated_files(hello, options):
    """doit stops at the first failure; a task that could not run (an input it derives from is lost) is
    not one: the run results beside it, in the same subtest and in another, are regenerated in this
    invocation."""
    settled(hello)
    before, kept = snapshot(hello.root), records(hello)
    derived = LOST.replace("stdout.log", "result.json")          # must be derived again from the lost log
    originals = {rel: (hello.root / rel).read_bytes() for rel in (LOST, derived)}
    for rel in (LOST, derived, "T0/00/run_02/run_result.json", "T0/01/run_02/run_result.json"):
        (hello.root / rel).unlink()

    run = hello.doit(*options, check=False)
    assert run.returncode != 0 and f"input lost: {LOST}" in run.stdout, str(run)
    assert sorted(run.executed) == ["agent_result:T0/00/run_01", "run:T0/00/run_02", "run:T0/01/run_02"], str(run)
    assert records(hello) == kept - {"agent_result:T0/00/run_01"}      # (it ran, and failed)

    for rel, data in originals.items():
        (hello.root / rel).write_bytes(data)
    assert hello.doit().executed == ["agent_result:T0/00/run_01"]      # its bytes come out the same
    assert hello.doit().executed == []
    assert snapshot(hello.root) == before
    assert hello.calls("agent") == [] and hello.calls("judge") == []
