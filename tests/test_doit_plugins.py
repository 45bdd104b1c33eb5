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
    assert [t.name for t in ours] == [t.name for t in doits]      # doit runs default tasks in this order
    kinds = {t.name.split(":")[0] for t in ours}
    assert {"setup", "agent", "judge", "run", "subtest", "tier", "experiment"} <= kinds
    for fast, slow in zip(ours, doits):
        assert _comparable(fast) == _comparable(slow), fast.name
