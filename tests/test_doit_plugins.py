"""Scylla's fast task construction makes the same doit Tasks as doit's own loader; its DB backend sets aside
only a damaged DB."""

import os

import pytest
from doit.dependency import JSONCodec
from doit.exceptions import InvalidDodoFile
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


def test_a_db_that_cannot_be_opened_is_reported_not_moved_aside(tmp_path):
    """Only a damaged DB (SQLITE_CORRUPT, SQLITE_NOTADB) is set aside; one SQLite cannot open (here a
    directory where the file should be; a permission error, a read-only file system) is left alone."""
    db = tmp_path / "doit.db"
    db.mkdir()
    with pytest.raises(InvalidDodoFile, match=rf"^{db}: cannot open the dependency DB \(unable to open database "
                                              rf"file \[SQLITE_CANTOPEN\]\)$"):
        doit_plugins.DurableSqliteDB(str(db), JSONCodec()).open()     # (doit makes it; the loader opens it)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["doit.db"] and db.is_dir()
    db.rmdir()
    db.write_bytes(b"not a database" * 100)
    fresh = doit_plugins.DurableSqliteDB(str(db), JSONCodec())
    fresh.open()
    fresh.dump()                                                        # damaged: moved aside, a new one made
    assert sorted(p.name.split("-")[0] for p in tmp_path.iterdir()) == ["doit.db", "doit.db.corrupt"]
