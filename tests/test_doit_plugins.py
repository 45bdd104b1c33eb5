"""Scylla's fast task construction makes the same doit Tasks as doit's own loader."""

import os

from doit.loader import generate_tasks

from scylla import doit_plugins, graph, spec


def _comparable(task) -> dict:
    attrs = dict(vars(task))
    attrs["io"] = vars(attrs["io"])              # IOConfig has no __eq__
    attrs["file_dep"] = sorted(attrs["file_dep"])
    # uptodate objects are made anew on each call: compare what they are
    attrs["uptodate"] = [(type(u).__name__, repr(u), args, kwargs) for u, args, kwargs in attrs["uptodate"]]
    attrs["value_savers"] = len(attrs["value_savers"])
    return attrs


def test_fast_tasks_equal_doits_own_for_every_task_of_an_experiment(fresh):
    exp = spec.load_experiment(fresh.spec)
    here = os.getcwd()
    exp.root.mkdir(parents=True)
    os.chdir(exp.root)
    try:
        doits = generate_tasks("task_scylla", graph.tasks(exp, "invalid"), "doc")
        ours = generate_tasks("task_scylla", doit_plugins.tasks_from_dicts(graph.tasks(exp, "invalid")), "doc")
    finally:
        os.chdir(here)
    doits = {t.name: t for t in doits}
    assert sorted(t.name for t in ours) == sorted(doits)
    kinds = {t.name.split(":")[0] for t in ours}
    assert {"setup", "agent", "judge", "run", "subtest", "tier", "experiment"} <= kinds
    for fast in ours:
        assert _comparable(fast) == _comparable(doits[fast.name]), fast.name
    # groups last: doit runs its default tasks in this order (see tasks_from_dicts)
    assert [t.has_subtask for t in ours] == sorted(t.has_subtask for t in ours)
