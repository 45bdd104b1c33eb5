"""Repository cache, per-run git worktrees, tier configuration, and patch capture / re-creation.

One bare cache per source repository lives in `<exp>/.scylla/repos/`; every run gets a detached
worktree at `source.hash`, the subtest's configuration files committed on top (the *config commit*,
deterministic so it can be re-created bit for bit), and after the agent its changes are captured as
`patch.diff` against that commit. Anything that needs the files later re-creates the workspace from
base commit + config + patch. All git calls that touch the shared cache hold its lock, so
`doit -n N` is safe.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
import subprocess
from pathlib import Path

from . import tree
from .durable import file_lock

# Fixed identity and dates: the same files always give the same commit hash.
_FIXED = {
    "GIT_AUTHOR_NAME": "Scylla", "GIT_AUTHOR_EMAIL": "scylla@localhost",
    "GIT_COMMITTER_NAME": "Scylla", "GIT_COMMITTER_EMAIL": "scylla@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}
_GIT_OPTS = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
             "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"]


class WorkspaceError(Exception):
    """A git/worktree operation failed; this is an infrastructure failure (retry later)."""


def git(*args: str, cwd: str | Path | None = None, fixed: bool = False, input: bytes | None = None,
        env: dict | None = None) -> bytes:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update(_FIXED if fixed else {})
    full_env.update(env or {})
    proc = subprocess.run(["git", *_GIT_OPTS, *args], cwd=cwd, input=input, env=full_env,
                          capture_output=True)
    if proc.returncode != 0:
        raise WorkspaceError(f"git {' '.join(args)} (in {cwd or os.getcwd()}) failed with exit code "
                             f"{proc.returncode}: {proc.stderr.decode(errors='replace').strip()}")
    return proc.stdout


# ---------------------------------------------------------------- repository cache

def _slug(url: str) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", url.rstrip("/").split("/")[-1].removesuffix(".git"))[:40]
    return f"{name}-{hashlib.sha256(url.encode()).hexdigest()[:10]}"


def commit_directory(source: Path, git_dir: Path) -> str:
    """Commit the plain files of `source` into the bare repo `git_dir`, deterministically."""
    index = git_dir / "scylla-import.index"
    env = {"GIT_INDEX_FILE": str(index)}
    try:
        git(f"--git-dir={git_dir}", f"--work-tree={source}", "add", "-A", ".", env=env)
        tree_id = git(f"--git-dir={git_dir}", "write-tree", env=env).decode().strip()
        return git(f"--git-dir={git_dir}", "commit-tree", tree_id, "-m", f"import {source.name}",
                   fixed=True).decode().strip()
    finally:
        index.unlink(missing_ok=True)


def source_commit(source: Path) -> str:
    """The commit hash a plain directory imports as (what a fixture's source.hash must say)."""
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        git("init", "--bare", "-q", tmp)
        return commit_directory(source, Path(tmp))


def ensure_repo(exp_root: Path, url: str, local: Path | None, commit: str) -> Path:
    """A bare cache of the fixture repository that contains `commit`; created once per experiment."""
    cache = exp_root / tree.REPOS_DIR / f"{_slug(url)}.git"
    with file_lock(exp_root / tree.LOCKS_DIR / f"{cache.name}.lock"):
        if _has_commit(cache, commit):
            return cache
        source = local if local is not None else url
        if not cache.exists():
            git("init", "--bare", "-q", str(cache))
        if isinstance(source, Path) and source.is_dir() and not _is_git_repo(source):
            commit_directory(source, cache)
        else:
            try:
                git(f"--git-dir={cache}", "fetch", "-q", str(source), "+refs/heads/*:refs/heads/*",
                    "+refs/tags/*:refs/tags/*")
                git(f"--git-dir={cache}", "fetch", "-q", str(source), commit)
            except WorkspaceError as exc:
                if not _has_commit(cache, commit):
                    raise WorkspaceError(f"cannot fetch {url} (local: {local}): {exc}") from None
        if not _has_commit(cache, commit):
            raise WorkspaceError(f"source.hash {commit} is not in repository {url}"
                                 + (f" (mapped to {local})" if local else ""))
        return cache


def _has_commit(cache: Path, commit: str) -> bool:
    if not cache.exists():
        return False
    try:
        git(f"--git-dir={cache}", "cat-file", "-e", f"{commit}^{{commit}}")
        return True
    except WorkspaceError:
        return False


def _is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


# ---------------------------------------------------------------- worktrees

def create_worktree(exp_root: Path, cache: Path, path: Path, commit: str) -> None:
    with file_lock(exp_root / tree.LOCKS_DIR / f"{cache.name}.lock"):
        _remove_worktree_locked(cache, path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # -f -f: a killed `worktree add` leaves a locked registration of a missing worktree
        git(f"--git-dir={cache}", "worktree", "add", "--detach", "-f", "-f", str(path), commit)


def remove_worktree(exp_root: Path, cache: Path, path: Path) -> None:
    with file_lock(exp_root / tree.LOCKS_DIR / f"{cache.name}.lock"):
        _remove_worktree_locked(cache, path)


def _remove_worktree_locked(cache: Path, path: Path) -> None:
    if path.exists():
        shutil.rmtree(path, ignore_errors=True)
    git(f"--git-dir={cache}", "worktree", "prune")


def apply_config(workspace: Path, config_dir: Path) -> str:
    """Put the subtest's configuration files into the workspace and commit them (deterministic).

    The repository's own CLAUDE.md and .claude/ are removed first: the agent sees exactly the
    subtest's configuration (ProjectScylla's T0/00 runs with no CLAUDE.md and no .claude/ at all)."""
    (workspace / "CLAUDE.md").unlink(missing_ok=True)
    shutil.rmtree(workspace / ".claude", ignore_errors=True)
    if config_dir.is_dir():
        shutil.copytree(config_dir, workspace, dirs_exist_ok=True)
    git("add", "-A", "--force", ".", cwd=workspace)   # a fresh worktree: only the changes above
    git("commit", "-q", "--allow-empty", "-m", "scylla: tier configuration", cwd=workspace, fixed=True)
    return head(workspace)


def head(workspace: Path) -> str:
    return git("rev-parse", "HEAD", cwd=workspace).decode().strip()


# ---------------------------------------------------------------- capture and re-creation

def capture(workspace: Path, config_commit: str) -> tuple[bytes, dict]:
    """The agent's changes against the config commit: committed, uncommitted and untracked."""
    status = git("status", "--porcelain=v1", "-uall", "--ignored=no", cwd=workspace).decode()
    untracked = sorted(line[3:] for line in status.splitlines() if line.startswith("??"))
    uncommitted = sorted(line[3:] for line in status.splitlines() if line and not line.startswith("??"))
    now_head = head(workspace)
    commits = git("log", "--format=%H %s", f"{config_commit}..{now_head}", cwd=workspace).decode().splitlines() \
        if now_head != config_commit else []
    git("add", "-A", ".", cwd=workspace)
    patch = git("diff", "--cached", "--binary", "--no-color", "--no-ext-diff", config_commit, cwd=workspace)
    names = git("diff", "--cached", "--name-status", "--no-renames", config_commit, cwd=workspace).decode()
    changed = [{"status": ln.split("\t", 1)[0], "path": ln.split("\t", 1)[1]}
               for ln in names.splitlines() if "\t" in ln]
    state = {
        "config_commit": config_commit, "head_commit": now_head,
        "agent_commits": [c.split(" ", 1)[0] for c in commits],
        "uncommitted_files": uncommitted, "untracked_files": untracked,
        "changed_files": changed, "files_changed": len(changed),
    }
    return patch, state


@contextlib.contextmanager
def recreated(exp_root: Path, cache: Path, path: Path, base_commit: str, config_dir: Path | None,
              patch: Path | None):
    """A workspace re-created from base commit + tier config + the agent's patch; removed after."""
    create_worktree(exp_root, cache, path, base_commit)
    try:
        if config_dir is not None:
            apply_config(path, config_dir)
        if patch is not None and patch.stat().st_size > 0:
            git("apply", "--binary", "--whitespace=nowarn", str(patch.resolve()), cwd=path)
        yield path
    finally:
        remove_worktree(exp_root, cache, path)
