"""safepath: a path Scylla deletes or writes stays inside its directory and passes no symbolic link (never
followed); the workspace and archive sites that use it refuse a planted link and leave its target alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scylla import durable, safepath, workspace
from scylla.errors import UnsafePath, WorkspaceError
from scylla.workspace import git


@pytest.fixture
def victim(tmp_path) -> Path:
    """A directory outside the tree, holding a file that must survive untouched."""
    v = tmp_path / "victim"
    v.mkdir()
    (v / "precious.txt").write_text("keep me\n")
    return v


def _untouched(victim: Path) -> bool:
    return sorted(os.listdir(victim)) == ["precious.txt"] and (victim / "precious.txt").read_text() == "keep me\n"


@pytest.fixture
def root(tmp_path, monkeypatch) -> Path:
    """An experiment root as actions see it: the working directory, with .scylla/workspaces/ below."""
    r = tmp_path / "exp"
    (r / ".scylla/workspaces").mkdir(parents=True)
    monkeypatch.chdir(r)
    return r


def test_plain_paths_pass_and_come_back_absolute_without_resolving(root):
    assert safepath.check(".scylla/workspaces/T0-00-run_01") == root / ".scylla/workspaces/T0-00-run_01"
    assert safepath.check(root / ".scylla/workspaces/not/yet/made", root) == root / ".scylla/workspaces/not/yet/made"
    assert safepath.problem("T0/00/run_01/agent") is None              # missing components: nothing to follow


@pytest.mark.parametrize("planted", [".scylla", ".scylla/workspaces", ".scylla/workspaces/T0-00-run_01"])
def test_a_link_at_any_component_below_the_root_is_named(root, victim, planted):
    target = root / planted
    if target.is_dir():
        target.rename(target.with_name(target.name + ".moved"))
    target.symlink_to(victim)
    with pytest.raises(UnsafePath) as err:
        safepath.check(".scylla/workspaces/T0-00-run_01/file")
    message = str(err.value)
    assert message.startswith(f"{target}: a symbolic link (to {victim})")
    assert f"rm {target}" in message and "never follows" in message
    assert isinstance(err.value, WorkspaceError)          # a task's failure, archived and retried like one


def test_a_link_above_the_root_is_the_users_business(tmp_path, victim):
    (tmp_path / "via").symlink_to(victim)
    assert safepath.problem(tmp_path / "via/sub/file", tmp_path / "via") is None


@pytest.mark.parametrize("path, words", [
    ("T0/00/../../../elsewhere", "'..' inside a path"),
    (".scylla/workspaces/x/../../../../y", "'..' inside a path"),
])
def test_dotdot_after_a_name_is_refused(root, path, words):
    with pytest.raises(UnsafePath, match=words):
        safepath.check(path)


def test_leading_dotdot_names_the_root_and_a_path_outside_its_root_is_refused(root, tmp_path):
    """An adopted tree's runs live in `..` (beside the root): its relative paths check from there."""
    assert safepath.check("../T0/00/run_01") == tmp_path / "T0/00/run_01"
    with pytest.raises(UnsafePath, match=f"{tmp_path / 'T0'}: outside {root}"):
        safepath.check("../T0", root)


def test_remove_deletes_a_tree_but_never_through_a_link(root, victim):
    tree = root / ".scylla/workspaces/ws"
    (tree / "sub").mkdir(parents=True)
    (tree / "sub/inner-link").symlink_to(victim)       # inside the tree: removed as a link, not followed
    safepath.remove(tree, root)
    assert not tree.exists() and _untouched(victim)
    (tree.parent / "planted").symlink_to(victim)
    with pytest.raises(UnsafePath):
        safepath.remove(tree.parent / "planted", root, ignore_errors=True)
    assert _untouched(victim) and (tree.parent / "planted").is_symlink()
    safepath.remove(root / "absent", root)              # nothing there: nothing to do


# ---------------------------------------------------------------- the sites

@pytest.fixture
def repo(tmp_path) -> tuple[Path, str]:
    src = tmp_path / "src"
    src.mkdir()
    (src / "README.md").write_text("task\n")
    cache = tmp_path / "cache.git"
    git("init", "--bare", "-q", str(cache))
    return cache, workspace.commit_directory(src, cache)


def test_checkout_refuses_a_link_at_its_path_and_its_target_keeps_its_files(root, victim, repo):
    """Before: the link's target was deleted (rm -rf) and the workspace checked out there."""
    cache, commit = repo
    ws = root / ".scylla/workspaces/T0-00-run_01-pipeline"
    ws.symlink_to(victim)
    with pytest.raises(UnsafePath, match=f"^{ws}: a symbolic link"), workspace.checkout(cache, ws, commit, "."):
        pass
    assert _untouched(victim) and ws.is_symlink()


def test_attempt_path_refuses_a_planted_leftover_and_a_linked_workspaces_dir(root, victim):
    base = ".scylla/workspaces/T0-00-run_02"
    (root / f"{base}@123-planted").symlink_to(victim)
    with pytest.raises(UnsafePath, match="T0-00-run_02@123-planted: a symbolic link"):
        workspace.attempt_path(base, ".")
    assert _untouched(victim)
    (root / f"{base}@123-planted").unlink()
    (root / f"{base}@old").mkdir()                      # a real leftover is still removed
    assert workspace.attempt_path(base, ".").parent == root / ".scylla/workspaces"
    assert not (root / f"{base}@old").exists()
    (victim / "T0-00-run_02@x").mkdir()                 # .scylla/workspaces itself a link: nothing listed there
    (root / ".scylla/workspaces").rename(root / ".scylla/moved")
    (root / ".scylla/workspaces").symlink_to(victim)
    with pytest.raises(UnsafePath, match=f"^{root / '.scylla/workspaces'}: a symbolic link"):
        workspace.attempt_path(base, ".")
    assert (victim / "T0-00-run_02@x").is_dir()


def test_a_workspace_swapped_for_a_link_during_the_run_is_neither_captured_nor_removed(root, victim, repo):
    cache, commit = repo
    ws_path = root / ".scylla/workspaces/T0-00-run_01@1"
    with pytest.raises(UnsafePath), workspace.checkout(cache, ws_path, commit, ".") as ws:
        os.rename(ws, root / "aside")                   # what an agent may do from inside it
        ws.symlink_to(victim)
        workspace.capture(ws, commit)
    assert _untouched(victim)


def test_archive_refuses_a_link_at_its_archive_dir_or_at_what_it_moves(root, victim):
    (root / "T0/00").mkdir(parents=True)
    (root / "T0/00/.failed").symlink_to(victim)
    (root / "T0/00/run_01").mkdir()
    with pytest.raises(UnsafePath, match="T0/00/.failed: a symbolic link"):
        durable.archive([Path("T0/00/run_01")], Path("T0/00/.failed"), "run_01", "test")
    assert _untouched(victim) and (root / "T0/00/run_01").is_dir()
    (root / "T0/00/.failed").unlink()
    (root / "T0/00/run_01/agent").symlink_to(victim)    # an output replaced by a link
    with pytest.raises(UnsafePath, match="T0/00/run_01/agent: a symbolic link"):
        durable.archive([Path("T0/00/run_01/agent")], Path("T0/00/.failed"), "run_01", "test")
    assert _untouched(victim) and not (root / "T0/00/.failed").exists()


def test_write_bytes_replaces_a_link_at_its_file_instead_of_writing_through_it(root, victim):
    (root / "judgment.json").symlink_to(victim / "precious.txt")
    assert durable.write_bytes("judgment.json", b"keep me\n")      # the same bytes: still replaced, not kept
    assert not (root / "judgment.json").is_symlink() and _untouched(victim)
