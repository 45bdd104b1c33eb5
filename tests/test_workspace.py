"""Workspaces on real git: the config commit, what the agent sees, capture, and bit-for-bit re-creation."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from scylla import workspace
from scylla.agents.claude_files import (
    CONFIG_PATHS as OWNED,  # CLAUDE.md and .claude/ (Claude Code's)
)
from scylla.workspace import git


def _files(root: Path) -> dict[str, tuple[int, bytes]]:
    """Every file and symlink under `root` (outside .git): mode and content (a symlink: its target)."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root)
        if rel.parts[0] == ".git" or (path.is_dir() and not path.is_symlink()):
            continue
        data = os.readlink(path).encode() if path.is_symlink() else path.read_bytes()
        found[rel.as_posix()] = (path.lstat().st_mode, data)
    return found


@pytest.fixture
def repo(tmp_path) -> tuple[Path, str]:
    """A bare cache holding a base commit with its own CLAUDE.md and .claude/, a nested CLAUDE.md,
    an executable script, a binary file and a file to delete."""
    src = tmp_path / "src"
    (src / ".claude/sub").mkdir(parents=True)
    (src / "pkg").mkdir()
    (src / "README.md").write_text("task\n")
    (src / "CLAUDE.md").write_text("the repository's own instructions\n")
    (src / ".claude/sub/settings.json").write_text("{}\n")
    (src / "pkg/CLAUDE.md").write_text("nested: stays\n")
    (src / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (src / "run.sh").chmod(0o755)
    (src / "data.bin").write_bytes(bytes(range(256)) * 4)
    (src / "old.txt").write_text("to be deleted\n")
    cache = tmp_path / "cache.git"
    git("init", "--bare", "-q", str(cache))
    return cache, workspace.commit_directory(src, cache)


@pytest.fixture
def config(tmp_path) -> Path:
    cfg = tmp_path / "config"
    (cfg / ".claude/skills/s").mkdir(parents=True)
    (cfg / "CLAUDE.md").write_text("the subtest's instructions\n")
    (cfg / ".claude/skills/s/SKILL.md").write_text("a skill\n")
    (cfg / "README.md").write_text("overridden by the configuration\n")
    return cfg


def _committed_by_hand(tmp_path: Path, cache: Path, base: str, config_dir: Path) -> str:
    """The config commit made in a checkout: delete CLAUDE.md and .claude/, copy the files, commit all."""
    ws = tmp_path / "by-hand"
    git(f"--git-dir={cache}", "worktree", "add", "-q", "--detach", str(ws), base)
    (ws / "CLAUDE.md").unlink(missing_ok=True)
    shutil.rmtree(ws / ".claude", ignore_errors=True)
    if config_dir.is_dir():
        shutil.copytree(config_dir, ws, dirs_exist_ok=True)
    git("add", "-A", "--force", ".", cwd=ws)
    git("commit", "-q", "--allow-empty", "-m", "scylla: tier configuration", cwd=ws, fixed=True)
    return workspace.head(ws)


@pytest.mark.parametrize("with_config", [True, False])
def test_config_commit_is_the_commit_made_in_a_checkout(tmp_path, repo, config, with_config):
    cache, base = repo
    config_dir = config if with_config else tmp_path / "no-config"
    expected = _committed_by_hand(tmp_path, cache, base, config_dir)
    assert workspace.config_commit(cache, base, config_dir, OWNED) == expected
    workspace._CONFIG_COMMITS.clear()                    # built again from scratch: same hash
    assert workspace.config_commit(cache, base, config_dir, OWNED) == expected


def test_the_agent_sees_a_clean_repository_at_the_config_commit(tmp_path, repo, config):
    cache, base = repo
    commit = workspace.config_commit(cache, base, config, OWNED)
    with workspace.checkout(cache, tmp_path / "ws", commit) as ws:
        assert workspace.head(ws) == commit
        assert git("rev-parse", "HEAD^", cwd=ws).decode().strip() == base
        assert git("status", "--porcelain", cwd=ws) == b""
        assert (ws / "CLAUDE.md").read_text() == "the subtest's instructions\n"
        assert not (ws / ".claude/sub").exists() and (ws / "pkg/CLAUDE.md").exists()
        assert os.access(ws / "run.sh", os.X_OK)
    assert not (tmp_path / "ws").exists()


def _tree(root: Path) -> dict[str, tuple[int, bytes | None]]:
    return {p.relative_to(root).as_posix(): (p.stat().st_mode, None if p.is_dir() else p.read_bytes())
            for p in sorted(root.rglob("*"))}


def test_a_workspace_repository_starts_as_git_init_makes_it(tmp_path, repo):
    """checkout() copies the files of one `git init` instead of running git init for every workspace."""
    git("init", "-q", "--template=", str(tmp_path / "by-git"))
    for name in ("ws1", "ws2"):                     # the first makes the copy, the second reuses it
        workspace._git_init(tmp_path / name)
        assert _tree(tmp_path / name) == _tree(tmp_path / "by-git")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["by-git", "cache.git", "src", "ws1", "ws2"]


def _git_head(ws) -> str:
    return git("rev-parse", "HEAD", cwd=ws).decode().strip()


def test_capture_reads_head_as_git_does(tmp_path, repo, config):
    """HEAD detached at a commit is read from .git/HEAD; on a branch, git resolves it."""
    cache, base = repo
    commit = workspace.config_commit(cache, base, config, OWNED)
    with workspace.checkout(cache, tmp_path / "ws", commit) as ws:
        assert workspace.head(ws) == _git_head(ws) == commit
        git("checkout", "-q", "-b", "agent-branch", cwd=ws)
        git("commit", "-q", "--allow-empty", "-m", "agent commit", cwd=ws, fixed=True)
        assert (ws / ".git/HEAD").read_text().startswith("ref: ")
        assert workspace.head(ws) == _git_head(ws) != commit
        assert len(workspace.capture(ws, commit)[1]["agent_commits"]) == 1


def test_capture_then_recreate_gives_the_agent_s_files_bit_for_bit(tmp_path, repo, config):
    cache, base = repo
    commit = workspace.config_commit(cache, base, config, OWNED)
    with workspace.checkout(cache, tmp_path / "ws", commit) as ws:
        (ws / "notes").mkdir()
        (ws / "notes/committed.md").write_text("the agent committed this\n")
        git("add", "notes", cwd=ws)
        git("commit", "-q", "-m", "agent work", cwd=ws, fixed=True)
        (ws / "README.md").write_text("edited\n")                     # modified
        (ws / "old.txt").unlink()                                      # deleted
        (ws / "data.bin").write_bytes(bytes(range(255, -1, -1)) * 4)   # binary change
        (ws / "new.bin").write_bytes(b"\0\1\2 new binary\n")           # untracked binary
        (ws / "run.sh").chmod(0o644)                                   # mode change
        (ws / "link").symlink_to("README.md")                          # new symlink
        agent_files = _files(ws)
        patch, state = workspace.capture(ws, commit)
    assert len(state["agent_commits"]) == 1 and state["config_commit"] == commit
    assert {c["path"]: c["status"] for c in state["changed_files"]} == {
        "README.md": "M", "old.txt": "D", "data.bin": "M", "new.bin": "A", "run.sh": "M", "link": "A",
        "notes/committed.md": "A"}
    patch_file = tmp_path / "patch.diff"
    patch_file.write_bytes(patch)
    with workspace.recreated(cache, tmp_path / "again", base, config, patch_file, OWNED) as again:
        assert _files(again) == agent_files
    assert not (tmp_path / "again").exists()


def test_a_leftover_at_the_workspace_path_is_replaced_and_the_cache_is_left_alone(tmp_path, repo, config):
    """A worker killed half-way leaves only its own directory; the cache gets no refs or registrations."""
    cache, base = repo
    commit = workspace.config_commit(cache, base, config, OWNED)
    refs_before = git(f"--git-dir={cache}", "for-each-ref").decode()
    leftover = tmp_path / "ws"
    (leftover / ".git").mkdir(parents=True)
    (leftover / ".git/HEAD").write_text("garbage")
    (leftover / "stray.txt").write_text("from a killed attempt\n")
    with workspace.checkout(cache, leftover, commit) as ws:
        git("commit", "-q", "--allow-empty", "-m", "agent commit", cwd=ws, fixed=True)
        git("branch", "agent-branch", cwd=ws)
        assert not (ws / "stray.txt").exists() and git("status", "--porcelain", cwd=ws) == b""
    assert git(f"--git-dir={cache}", "for-each-ref").decode() == refs_before
    assert not (cache / "worktrees").exists()
