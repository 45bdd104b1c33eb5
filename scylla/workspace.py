"""Repository cache, per-run workspaces, tier configuration, and patch capture / re-creation.

One bare cache per source repository lives in `<exp>/.scylla/repos/`. The subtest's configuration
files are committed on top of `source.hash` (the *config commit*, deterministic so it can be re-created
bit for bit); every run gets a private repository checked out at that commit, and after the agent its
changes are captured as `patch.diff` against it. Anything that needs the files later re-creates the
workspace from base commit + config + patch.

Workspaces borrow the cache's objects (`objects/info/alternates`) instead of being worktrees of it: no
registration in the shared cache, so `doit -n N` workers never wait for each other's git work, a killed
worker leaves only its own directory (removed when the run is retried), and nothing the agent does in
its repository (commits, branches, gc) reaches the cache. Only filling the cache takes its lock; the
config commit's objects are written without it (git writes objects atomically).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import os
import re
import subprocess
import tempfile
import threading
from pathlib import Path

from . import reaper, safepath, tree
from .durable import file_lock
from .errors import WorkspaceError

# Fixed identity and dates: the same files always give the same commit hash.
_FIXED = {
    "GIT_AUTHOR_NAME": "Scylla", "GIT_AUTHOR_EMAIL": "scylla@localhost",
    "GIT_COMMITTER_NAME": "Scylla", "GIT_COMMITTER_EMAIL": "scylla@localhost",
    "GIT_AUTHOR_DATE": "2000-01-01T00:00:00+0000", "GIT_COMMITTER_DATE": "2000-01-01T00:00:00+0000",
}
_GIT_OPTS = ["-c", "commit.gpgsign=false", "-c", "core.hooksPath=/dev/null", "-c", "core.autocrlf=false",
             "-c", "init.defaultBranch=main", "-c", "advice.detachedHead=false"]


def git(*args: str, cwd: str | Path | None = None, fixed: bool = False, input: bytes | None = None,
        env: dict | None = None) -> bytes:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    full_env.update(_FIXED if fixed else {})
    full_env.update(env or {})
    proc = subprocess.run(["git", *_GIT_OPTS, *args], check=False, cwd=cwd, input=input, env=full_env,
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


_READY: set[tuple[Path, str]] = set()     # caches this process has seen holding a commit


def cache_path(exp_root: Path, url: str) -> Path:
    """Where the experiment keeps its bare cache of repository `url`."""
    return Path(exp_root) / tree.REPOS_DIR / f"{_slug(url)}.git"


def ensure_repo(exp_root: Path, url: str, local: Path | None, commit: str) -> Path:
    """A bare cache of the fixture repository that contains `commit`; created once per experiment."""
    cache = cache_path(exp_root, url)
    if (cache, commit) not in _READY:
        with file_lock(exp_root / tree.LOCKS_DIR / f"{cache.name}.lock"):
            # checked again under the lock: the first wave of `-n 8` threads all get here at once, and
            # all but the first would otherwise run `git cat-file` one after another before their agents
            if (cache, commit) not in _READY:
                _fill(cache, url, local, commit)
                _READY.add((cache, commit))
    return cache


def _fill(cache: Path, url: str, local: Path | None, commit: str) -> None:
    if has_commit(cache, commit):
        return
    source = local if local is not None else url
    if not cache.exists():
        git("init", "--bare", "-q", str(cache))
    if isinstance(source, Path) and source.is_dir() and not is_git_repo(source):
        commit_directory(source, cache)
    else:
        try:
            git(f"--git-dir={cache}", "fetch", "-q", str(source), "+refs/heads/*:refs/heads/*",
                "+refs/tags/*:refs/tags/*")
            git(f"--git-dir={cache}", "fetch", "-q", str(source), commit)
        except WorkspaceError as exc:
            if not has_commit(cache, commit):
                raise WorkspaceError(f"cannot fetch {url} (local: {local}): {exc}") from None
    if not has_commit(cache, commit):
        raise WorkspaceError(f"source.hash {commit} is not in repository {url}"
                             + (f" (mapped to {local})" if local else ""))


def has_commit(repo: Path, commit: str) -> bool:
    """Whether a repository (bare, like the cache, or a clone) holds `commit`."""
    if not repo.exists():
        return False
    try:
        git("-C", str(repo), "cat-file", "-e", f"{commit}^{{commit}}")
        return True
    except WorkspaceError:
        return False


def is_git_repo(path: Path) -> bool:
    return (path / ".git").exists() or ((path / "HEAD").is_file() and (path / "objects").is_dir())


# ---------------------------------------------------------------- workspaces

_SKELETONS: dict[Path, list[tuple[str, bytes | None]]] = {}
_SKELETON_LOCK = threading.Lock()


def _git_init(path: Path) -> None:
    """`git init -q --template= path`, without a git process per workspace: git makes one empty
    repository per process and parent directory (its probes of the filesystem, e.g. core.filemode,
    hold for every directory beside it), and each workspace gets a copy of its files."""
    try:
        skeleton = _skeleton(path.parent.resolve())
        (path / ".git").mkdir(parents=True)
        for name, data in skeleton:
            if data is None:
                (path / name).mkdir()
            else:
                (path / name).write_bytes(data)
    except OSError as exc:      # what a failed `git init` would have been
        raise WorkspaceError(f"cannot make a repository at {path}: {exc}") from None


def _skeleton(parent: Path) -> list[tuple[str, bytes | None]]:
    """The directories (None) and files (their bytes) of .git/ as `git init` makes it in `parent`."""
    with _SKELETON_LOCK:
        if parent not in _SKELETONS:
            parent.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(prefix=".git-init-", dir=parent) as tmp:
                git("init", "-q", "--template=", tmp)      # no sample hooks to copy
                _SKELETONS[parent] = [(str(p.relative_to(tmp)), None if p.is_dir() else p.read_bytes())
                                      for p in sorted(Path(tmp, ".git").rglob("*"))]
        return _SKELETONS[parent]


@contextlib.contextmanager
def checkout(cache: Path, path: Path, commit: str, within: str | Path | None = None):
    """A private repository at `path` with HEAD detached at `commit`, reading the cache's objects;
    removed afterwards. A leftover of a killed attempt at the same path is removed first.
    `within`: the directory `path` must stay inside with no symbolic link below it (safepath; default
    its parent): a link planted at a workspace path is refused, never deleted through or checked out into."""
    path = safepath.remove(path, within, ignore_errors=True)
    try:
        _git_init(path)
        (path / ".git/objects/info/alternates").write_text(f"{cache.resolve() / 'objects'}\n")
        git("checkout", "-q", "--detach", commit, cwd=path)
        yield path
    finally:
        safepath.remove(path, within, ignore_errors=True)      # (checked again: the agent ran meanwhile)


def borrowed_objects(path: Path) -> list[Path]:
    """The object directories a checkout reads besides its own (the cache's, see checkout())."""
    alternates = Path(path) / ".git/objects/info/alternates"
    return [Path(p) for p in alternates.read_text().split()] if alternates.is_file() else []


def attempt_path(base: str, within: str | Path | None = None) -> Path:
    """This doit's own workspace for a run (`base@<token>`), never one an earlier attempt used: an
    agent process left from a killed doit, if any outlived its reaper, writes into its own directory
    only. Leftovers of earlier attempts are removed first (one doit at a time holds the experiment).
    `within`: as for checkout (default: the working directory for a relative `base`)."""
    safepath.check(base, within)            # (before listing its directory: not a link's target)
    for old in glob.glob(f"{glob.escape(base)}@*"):
        safepath.remove(old, within, ignore_errors=True)
    return safepath.check(f"{base}@{reaper.TOKEN or os.getpid()}", within)


_ConfigKey = tuple[Path, str, str, tuple[str, ...]]     # cache, base, files digest, owned paths
_CONFIG_COMMITS: dict[_ConfigKey, str] = {}
_CONFIG_LOCKS: dict[_ConfigKey, threading.Lock] = {}    # one per configuration: two subtests'
_CONFIG_LOCK = threading.Lock()                                      # commits need not wait for each other


def config_commit(cache: Path, base: str, config_dir: Path, owned: tuple[str, ...]) -> str:
    """`base` with the subtest's configuration files committed on top (deterministic); built once
    per process and configuration.

    The repository's own files at the paths the configuration owns (the agent adapter's `config_paths`,
    e.g. CLAUDE.md and .claude/) are removed first: the agent sees exactly the subtest's configuration
    (ProjectScylla's T0/00 runs with no CLAUDE.md and no .claude/ at all)."""
    key = (cache, base, _files_digest(config_dir), owned)
    with _CONFIG_LOCK:
        lock = _CONFIG_LOCKS.setdefault(key, threading.Lock())
    with lock:
        if key not in _CONFIG_COMMITS:
            _CONFIG_COMMITS[key] = _commit_config(cache, base, config_dir, owned)
        return _CONFIG_COMMITS[key]


def _commit_config(cache: Path, base: str, config_dir: Path, owned: tuple[str, ...]) -> str:
    # A private index over the config directory: the same tree as checking out `base`, deleting
    # the owned paths, copying the files in and `git add -A --force`, without a checkout.
    with tempfile.TemporaryDirectory(prefix="scylla-config-") as tmp:
        files = config_dir.resolve() if config_dir.is_dir() else Path(tmp)
        env = {"GIT_INDEX_FILE": f"{tmp}/index"}

        def run(*args: str) -> bytes:
            return git(f"--git-dir={cache.resolve()}", f"--work-tree={files}", *args, cwd=files, env=env)
        run("read-tree", base)
        if owned:
            run("rm", "--cached", "-r", "-f", "-q", "--ignore-unmatch", "--", *owned)
        if config_dir.is_dir():
            run("add", "--force", "--ignore-removal", ".")
        tree_id = run("write-tree").decode().strip()
    return git(f"--git-dir={cache}", "commit-tree", tree_id, "-p", base, "-m", "scylla: tier configuration",
               fixed=True).decode().strip()


def _files_digest(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(directory.rglob("*")):
        if path.is_file():
            digest.update(f"{path.relative_to(directory)}\0{path.stat().st_mode:o}\0".encode())
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


_OBJECT_ID = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")


def head(workspace: Path) -> str:
    """The commit HEAD points at. Read from .git/HEAD when HEAD is detached (as checkout() leaves it,
    and as it stays unless the agent switches branches): one git process fewer per run. Anything
    else (a branch, a .git file) asks git."""
    try:
        text = (workspace / ".git" / "HEAD").read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    return text if _OBJECT_ID.fullmatch(text) else git("rev-parse", "HEAD", cwd=workspace).decode().strip()


# ---------------------------------------------------------------- capture and re-creation

def capture(workspace: Path, config_commit: str) -> tuple[bytes, dict]:
    """The agent's changes against the config commit: committed, uncommitted and untracked."""
    safepath.check(workspace)      # the agent may have swapped its workspace for a link: git would write there
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
def recreated(cache: Path, path: Path, base_commit: str, config_dir: Path | None, patch: Path | None,
              owned: tuple[str, ...] = (), within: str | Path | None = None):
    """A workspace re-created from base commit + tier config (`owned`: as config_commit) + the agent's
    patch; removed after. `within`: as for checkout."""
    commit = base_commit if config_dir is None else config_commit(cache, base_commit, config_dir, owned)
    with checkout(cache, path, commit, within) as ws:
        if patch is not None and patch.stat().st_size > 0:
            git("apply", "--binary", "--whitespace=nowarn", str(patch.resolve()), cwd=ws)
        yield ws
