"""`doit verify` (`scylla verify [SPEC|DIR]`): a read-only audit of a whole experiment tree for tampering.

Every seal must parse, and every output it records must still be the bytes it recorded; every derived file
must still be the bytes its task wrote (the task's doit record, kinds.INTACT). Unlike `doit status`, which
hashes a file only when its timestamp moved (as doit does), verify hashes every file: a forger can set a
timestamp back. Each problem is printed with its file and its fix; the exit code is 1 when there is any.
"""

from __future__ import annotations

import os
import subprocess
import sys

from doit.cmd_base import DoitCmdBase
from doit.control import TaskControl

from . import comparison, durable
from .kinds import INTACT, Intact, rewrite_hint
from .plan import _sealed

TAMPERING = "possible tampering"


def audit(tasks: dict, dep) -> tuple[list[str], int, int, int]:
    """(problems, seals checked, derived files intact, derived files with no record to check them by)."""
    problems: list[str] = []
    seals = intact = unrecorded = 0
    for name in sorted(tasks):
        task = tasks[name]
        if sealed := _sealed(task):
            seals += _audit_seal(name, sealed, problems)
        if not any(isinstance(u, Intact) for u, _, _ in task.uptodate):
            continue                    # not a derived file's task (a group task, preflight, a sealed task)
        recorded = (dep.get_values(name) or {}).get(INTACT) or {}
        for path in task.targets:
            if path not in recorded:
                unrecorded += durable.stat(path) is not None
            elif durable.stat(path) is None:
                problems.append(f"{path}: missing (written by {name}); the next `doit` writes it again")
            elif not durable.output_intact(path, recorded[path], strict=True):
                problems.append(f"{path}: changed since {name} wrote it ({TAMPERING}); "
                                f"{rewrite_hint(path, recorded[path])} (from its inputs, no agent or judge call)")
            else:
                intact += 1
    return sorted(problems), seals, intact, unrecorded


def _audit_seal(name: str, sealed, problems: list[str]) -> int:
    """Check one sealed task's seal and the outputs it records: 1 when there is a seal to check."""
    seal_file = durable.seal_path(sealed.out_dir)
    try:
        seal = durable.read_seal(sealed.out_dir)
    except durable.ArtifactError as exc:
        problems.append(f"{exc}; {TAMPERING}: inspect it; deleting it runs {name} again"
                        + (" (a paid call)" if sealed.paid else ""))
        return 1
    if seal is None:
        return 0                        # not done yet: nothing vouched for
    for path in durable.damaged_outputs(sealed.out_dir, seal, strict=True):
        what = "missing" if durable.stat(path) is None else f"changed since {name} sealed it ({TAMPERING})"
        if sealed.paid:
            fix = (f"kept as evidence, nothing is derived from it; to buy the call again: "
                   f"rm {os.path.abspath(seal_file)} && doit {name}")
        else:
            fix = f"the next `doit` runs {name} again (no agent or judge call)"
        problems.append(f"{path}: {what}; {fix}")
    return 1


class Verify(DoitCmdBase):
    """`doit verify [TASK|GLOB ...]`: registered as a doit command plugin (pyproject entry point)."""
    name = "verify"
    doc_purpose = "check a whole tree for tampering: every seal and what it vouches for, every derived file"
    doc_usage = "[TASK|GLOB ...] (those tasks and what they depend on; default: everything)"
    doc_description = ("Read-only. Prints each file that is not the bytes its task wrote or sealed, with the fix; "
                       "exit code 1 when there is one, 0 when the tree is intact.")
    cmd_options = ()

    def _execute(self, pos_args=None):
        control = TaskControl(self.task_list)
        control.process(pos_args or None)
        selected = _with_dependencies(control.tasks, control.selected_tasks)
        problems, seals, intact, unrecorded = audit({n: control.tasks[n] for n in selected}, self.dep_manager)
        note = f" ({unrecorded} derived files have no record to check them by: doit's DB was lost, or they " \
               f"predate the record)" if unrecorded else ""
        agents_failed = _verify_agents(getattr(self.loader, "namespace", {}).get("STUDY"))
        if problems:
            sys.stdout.write(f"verify: {len(problems)} file{'s' * (len(problems) != 1)} not as written "
                             f"({seals} seals, {intact} derived files intact{note}):\n"
                             + "".join(f"  {p}\n" for p in problems))
            return 1
        sys.stdout.write(f"verify: {seals} seals, {intact} derived files intact{note}\n")
        return 1 if agents_failed else 0


def _verify_agents(study) -> bool:
    """A comparison's agents, each verified by its own `verify` (its output prefixed by its name): whether
    one found a problem."""
    failed = False
    for exp in study.experiments if study is not None and study.runs_experiments else ():
        done = subprocess.run(comparison.doit_command(exp, "verify"), capture_output=True, text=True, check=False)
        sys.stdout.write("".join(f"{exp.id}: {line}\n" for line in (done.stdout + done.stderr).splitlines()))
        failed |= done.returncode != 0
    return failed


def _with_dependencies(tasks: dict, selected: list[str]) -> set[str]:
    out, todo = set(), list(selected)
    while todo:
        name = todo.pop()
        if name not in out:
            out.add(name)
            todo += tasks[name].task_dep + tasks[name].setup_tasks
    return out
