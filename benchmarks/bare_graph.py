"""An experiment's task graph as a plain dodo.py: doit out of the box on the same work, without Scylla.

    python benchmarks/bare_graph.py SPEC DEST      (writes DEST/graph.json and DEST/dodo.py)

Every Scylla task becomes a task with the same name, task_dep, targets and file_dep (a sealed task's
sealed inputs are its file_dep), an action that does nothing, and doit's defaults otherwise (dbm DB,
md5 checker) but for its quiet reporter (executed-only, as Scylla's: 10,000 "-- " lines cost ~0.3 s). Run from the experiment root (`-d ROOT`) over a complete tree, its
no-op `doit` and `doit list --all --status` are what doit itself costs to check this graph: the floor
under Scylla's P1 and P2 beside the stat walk's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson

DODO = """\
import orjson

DOIT_CONFIG = {{"dep_file": {db!r}, "verbosity": 0, "reporter": "executed-only"}}


def nothing():
    return True


def task_graph():
    with open({graph!r}, "rb") as fh:
        for t in orjson.loads(fh.read()):
            yield {{**t, "actions": [nothing]}}
"""


def export(spec: Path, dest: Path) -> Path:
    """Write DEST/graph.json and DEST/dodo.py for the experiment of `spec`; returns the dodo."""
    from scylla import context, graph, kinds
    from scylla.spec import load_experiment
    exp = load_experiment(spec)
    os.chdir(exp.root)                       # task paths are relative to the experiment root
    context.install(context.RunContext(root=Path(exp.root).resolve(), runs_dir=exp.runs_dir))
    tasks = []
    for d in graph.tasks(exp):
        if d.get("name", "") is None:
            continue                         # group tasks: doit makes them from the subtasks
        sealed = next((u for u in d.get("uptodate", ()) if isinstance(u, kinds.Sealed)), None)
        tasks.append({"basename": d["basename"], **({"name": d["name"]} if "name" in d else {}),
                      "file_dep": sorted(sealed.inputs if sealed else d.get("file_dep", ())),
                      "targets": list(d.get("targets", ())), "task_dep": list(d.get("task_dep", ())),
                      # without inputs doit would run it every time (the baseline: Scylla's seal decides;
                      # preflight: its facts do)
                      **({} if (sealed.inputs if sealed else d.get("file_dep")) else {"uptodate": [True]})})
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "graph.json").write_bytes(orjson.dumps(tasks))
    dodo = dest / "dodo.py"
    dodo.write_text(DODO.format(db=str(dest / ".doit.db"), graph=str(dest / "graph.json")))
    return dodo


if __name__ == "__main__":
    print(export(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
