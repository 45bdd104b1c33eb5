"""Safe paths, through real `doit` on real trees: a link planted at a workspace path, a `../` resource name
and a linked skill are refused with a clear error, and a victim directory outside the tree is never touched
(before: the planted link's target was deleted with rm -rf and the next agent ran in it; `../` pulled any
file into CLAUDE.md; a linked skill copied any file into every workspace)."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

SECRET = "SECRET-0123: a file outside the experiment\n"


@pytest.fixture
def victim(tmp_path) -> Path:
    """A directory outside the checkout and its experiment tree, holding one file."""
    v = tmp_path / "victim"
    v.mkdir()
    (v / "secret.txt").write_text(SECRET)
    return v


def _untouched(victim: Path) -> None:
    assert sorted(os.listdir(victim)) == ["secret.txt"], sorted(os.listdir(victim))
    assert (victim / "secret.txt").read_text() == SECRET


def _nowhere_in(root: Path) -> None:
    """The victim's file reached no file of the experiment tree (workspaces, config/, captures)."""
    leaked = [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and SECRET.encode() in p.read_bytes()]
    assert leaked == []


def _failures(output: str) -> dict[str, str]:
    """Failed task -> the message doit printed for it."""
    return dict(re.findall(r"TaskFailed - taskid:(\S+)\n(.*)", output))


def test_links_planted_at_workspace_paths_are_refused_and_their_target_untouched(fresh, victim, tmp_path):
    """The issue's attack: the first agent plants links at every other run's workspace path (`<run>@<token>`,
    the token is in its environment) and at its own `<run>-pipeline`. Each is refused before anything is
    deleted, checked out or paid for there; with the links gone the next `doit` finishes the experiment."""
    mark = tmp_path / "planted"
    planter = tmp_path / "planter.sh"
    planter.write_text(f"""#!/bin/sh
if [ ! -e {mark} ]; then
  touch {mark}
  dir="$(dirname "$SCYLLA_WORKSPACE")"
  for t in T0-00 T0-01 T1-01 T1-02 T5-01; do for n in 01 02; do
    ln -s {victim} "$dir/$t-run_$n@$SCYLLA_RUN_TOKEN" 2>/dev/null
  done; done
  ln -s {victim} "${{SCYLLA_WORKSPACE%@*}}-pipeline"
fi
exec "$SCYLLA_PYTHON" "$SCYLLA_SPEC_DIR/agent.py"
""")
    planter.chmod(0o755)
    # unconfined: in its sandbox the agent cannot plant anything there (tests/test_e2e_sandbox.py); here
    # Scylla's own path checks are what refuses the links
    fresh.edit_spec(lambda spec: (spec["agent"].update(command=str(planter)), spec.update(sandbox="none")))
    run = fresh.doit("--continue", check=False)
    assert run.returncode != 0, str(run)
    _untouched(victim)
    assert len(fresh.calls("agent")) == 1, str(run)             # no agent ran (or was paid for) in a link
    failed = _failures(run.stdout + run.stderr)
    workspaces = fresh.root / ".scylla/workspaces"
    pipelines = [t for t in failed if t.startswith("pipeline:")]
    assert len(pipelines) == 1 and len([t for t in failed if t.startswith("agent:")]) >= 4, failed   # (T1, T5 wait
    assert set(failed) <= {*pipelines} | {t for t in failed if t.startswith("agent:")}, failed       # for T0's best)
    for task, message in failed.items():
        link = re.match(rf"{task}: refused: ({re.escape(str(workspaces))}/\S+): a symbolic link \(to {victim}\)", message)
        assert link and f"Remove it (rm {link.group(1)})" in message, (task, message)
        assert Path(link.group(1)).is_symlink()
    assert "Traceback" not in run.stdout + run.stderr

    for link in workspaces.iterdir():
        if link.is_symlink():
            link.unlink()
    fresh.reset_calls()
    again = fresh.doit()
    assert len(fresh.calls("agent")) == 9              # the refused ones; the finished run is not paid again
    assert pipelines[0] in again.executed
    assert (fresh.root / "result.json").is_file()
    _untouched(victim)


def test_a_dotdot_resource_name_is_a_spec_error_naming_file_and_key(fresh):
    """`../../fixture/expected/criteria` as a block would have put the grading criteria into CLAUDE.md."""
    subtest = fresh.path / "examples/hello/tiers/t1/01-text-skills.yaml"
    subtest.write_text(subtest.read_text() + "  claude_md:\n    blocks: [../../fixture/expected/criteria]\n")
    for args in ((), ("status",)):
        run = fresh.doit(*args, check=False)
        assert run.returncode != 0, str(run)
        output = run.stdout + run.stderr
        assert (f"{subtest}: key 'resources.claude_md.blocks': '../../fixture/expected/criteria' is not a resource "
                f"name") in output, str(run)
        assert "Traceback" not in output, str(run)
    assert fresh.calls("agent") == [] and not fresh.root.exists()


def test_a_linked_skill_file_is_refused_naming_it_and_never_copied(fresh, victim):
    skill = fresh.path / "examples/hello/tiers/skills/encoding/run-length-encoding"      # T1/02's
    (skill / "notes.md").symlink_to(victim / "secret.txt")
    run = fresh.doit("--continue", check=False)
    assert run.returncode != 0, str(run)
    output = run.stdout + run.stderr
    failed = _failures(output)
    assert f"{skill / 'notes.md'} is a symbolic link (tier resources are copied into every workspace" \
        in failed["subtest_config:T1/02"], failed
    assert "refused by preflight" in output and f"{skill / 'notes.md'} is a symbolic link" in output
    assert "Traceback" not in output
    assert fresh.calls("agent") == []                  # preflight: no paid call while a resource is refused
    _untouched(victim)
    _nowhere_in(fresh.root)
    status = fresh.doit("status", check=False)
    assert status.returncode == 1 and f"{skill / 'notes.md'} is a symbolic link" in status.stdout, str(status)

    (skill / "notes.md").unlink()
    shutil.copy(victim / "secret.txt", skill / "notes.md")     # the file itself, as the message says
    fresh.doit()
    assert (fresh.root / "T1/02/config/.claude/skills/run-length-encoding/notes.md").read_text() == SECRET
