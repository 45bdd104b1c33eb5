"""A derived file changed after its task wrote it, while `doit` runs (after doit checked it), is refused by
the task about to read it, naming the file: doit's own Task objects, as doit runs them in its main process
(the up-to-date check) and in a `-P process` worker (the action, on the task's pickled state)."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
from doit.task import Stream, dict_to_task

from scylla import doit_plugins, durable, kinds


def _copy(src: str, dest: str) -> None:
    durable.write_bytes(dest, Path(src).read_bytes().upper())


def _tasks() -> dict:
    """make:a writes a.json from src.txt; use:b writes b.json from a.json: two cheap tasks, as graph.py makes them."""
    made = [kinds.cheap_task("make", "a", _copy, ("src.txt", "a.json"), ["src.txt"], ["a.json"]),
            kinds.cheap_task("use", "b", _copy, ("a.json", "b.json"), ["a.json"], ["b.json"])]
    tasks = [dict_to_task({k: v for k, v in d.items() if k != "basename"} | {"name": f"{d['basename']}:{d['name']}"})
             for d in made]             # (named as doit's loader names them)
    return {t.name: t for t in tasks}


def _checked(tasks: dict, name: str):
    """doit's up-to-date check of `name` (main process): its Intact item, handed the task dict."""
    task = tasks[name]
    (intact, _, _), = task.uptodate
    intact.setup(None, tasks)
    intact(task, task.values)
    return task


@pytest.fixture
def tree(tmp_path, monkeypatch) -> dict:
    monkeypatch.chdir(tmp_path)
    Path("src.txt").write_text('{"score": 0.5}\n')
    tasks = _tasks()
    assert tasks["make:a"].execute(Stream(0)) is None           # the producer runs: its values record a.json
    assert set(tasks["make:a"].values[kinds.INTACT]) == {"a.json"}
    return tasks


def test_an_input_as_its_task_wrote_it_is_read(tree):
    consumer = _checked(tree, "use:b")
    assert consumer.meta[kinds.WRITTEN] == {"a.json": ["make:a", tree["make:a"].values[kinds.INTACT]["a.json"]]}
    assert consumer.execute(Stream(0)) is None
    assert Path("b.json").read_text() == '{"SCORE": 0.5}\n'


@pytest.mark.parametrize("worker", [False, True], ids=["same_process", "process_worker"])
def test_an_input_changed_after_its_task_wrote_it_is_refused_naming_it(tree, worker):
    consumer = _checked(tree, "use:b")
    Path("a.json").write_text('{"SCORE": 0.9}\n')                  # forged after doit checked it
    if worker:      # a -P process worker gets the task's pickled state (runner.JobTaskPickle), its own Task object
        consumer, state = _tasks()["use:b"], pickle.loads(pickle.dumps(consumer.pickle_safe_dict()))
        consumer.update_from_pickle(state)
    failure = consumer.execute(Stream(0))
    assert isinstance(failure, doit_plugins.LostInput)             # did not run: doit goes on with the rest
    assert failure.message == (f"input {kinds.TAMPERED}: a.json (written by make:a; the next `doit` writes it "
                               f"again): possible tampering; nothing was built from it")
    assert not Path("b.json").exists()


def test_a_forgery_that_sets_the_timestamp_back_is_refused_too(tree):
    """Same size, timestamp set back: doit's stat check cannot tell; the task about to read it hashes it."""
    consumer = _checked(tree, "use:b")
    st = os.stat("a.json")
    Path("a.json").write_text('{"SCORE": 0.9}\n')
    os.utime("a.json", ns=(st.st_atime_ns, st.st_mtime_ns))
    failure = consumer.execute(Stream(0))
    assert isinstance(failure, doit_plugins.LostInput) and "a.json (written by make:a; its timestamp was set " \
        "back, so doit cannot tell: delete it and the next `doit` writes it again)" in failure.message
    assert not Path("b.json").exists()


def test_a_dry_run_has_no_task_and_checks_nothing(tree):
    """plan.py dry-runs cheap actions with task=None in a scratch directory."""
    (action,) = tree["use:b"].actions
    Path("a.json").write_text("anything\n")
    assert action.py_callable(*action.args, **action.kwargs, task=None) == \
        {kinds.INTACT: {"b.json": durable.output_record("b.json")}}
