"""Paths Scylla deletes or writes stay inside the directory meant for them, and never pass a symbolic link.

An agent (or the code it runs) that plants a link where Scylla later removes or fills a directory
(`.scylla/workspaces/<run>-pipeline` -> the user's home) would otherwise make Scylla delete its target
and check the next workspace out there. So every such site checks its path first: each component
below the root is lstat'ed, never followed, and a link is an error naming it and the fix. Below a
checked directory, Scylla's own deletions go through `shutil.rmtree`, which removes a link found
inside the tree without following it.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from .errors import UnsafePath


def problem(path: str | os.PathLike, root: str | os.PathLike | None = None) -> str | None:
    """What makes `path` unsafe to delete or write, or None. `root`: the directory it must stay inside,
    components below which are checked (default: for a relative path the working directory, or the
    one its leading `..` name, as for an adopted tree's `../T0/...`; for an absolute one its parent)."""
    given = os.fspath(path)
    parts = given.split(os.sep)
    lead = 0
    if not os.path.isabs(given):
        while lead < len(parts) - 1 and parts[lead] in ("..", "."):
            lead += 1
    if ".." in parts[lead:]:
        # `a/link/../b` reaches wherever the link points: `..` may only lead a relative path, whose
        # base (the working directory, a real path) has no links
        return f"{given}: '..' inside a path Scylla writes or deletes (a resource name or a planted path)"
    full = os.path.abspath(given)
    if root is not None:
        top = os.path.abspath(root)
    else:
        top = os.path.dirname(full) if os.path.isabs(given) else os.path.abspath(os.sep.join(parts[:lead]) or ".")
    if full != top and not full.startswith(top.rstrip(os.sep) + os.sep):
        return f"{full}: outside {top}, the directory Scylla writes it in"
    link = first_link(full, top)
    if link is None:
        return None
    where = "where Scylla deletes or writes" if link == full else f"on the way to {full}, which Scylla deletes or writes"
    return (f"{link}: a symbolic link (to {_readlink(link)}) {where}; Scylla never follows a link there (it may "
            f"lead out of the experiment; something, e.g. an agent, planted it). Remove it (rm {link}) and run again")


def first_link(path: str | os.PathLike, root: str | os.PathLike) -> str | None:
    """The first component of absolute `path` below `root` (a prefix of it) that is a symbolic link, or
    None; components that do not exist yet end the search (nothing to follow)."""
    full, top = os.fspath(path), os.fspath(root).rstrip(os.sep)
    rel = full[len(top):].strip(os.sep)
    current = top
    for name in rel.split(os.sep) if rel else ():
        current = f"{current}{os.sep}{name}"
        try:
            mode = os.lstat(current).st_mode
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(mode):
            return current
    return None


def check(path: str | os.PathLike, root: str | os.PathLike | None = None) -> Path:
    """`path` made absolute (links not resolved), once `problem` finds nothing; UnsafePath otherwise."""
    if reason := problem(path, root):
        raise UnsafePath(reason)
    return Path(os.path.abspath(path))


def remove(path: str | os.PathLike, root: str | os.PathLike | None = None, ignore_errors: bool = False) -> Path:
    """Delete `path` (a directory with everything in it, or a file; nothing if absent) once `check`ed:
    never a link's target. Returns the absolute path."""
    full = check(path, root)
    try:
        mode = os.lstat(full).st_mode
    except FileNotFoundError:
        return full
    if stat.S_ISDIR(mode):
        shutil.rmtree(full, ignore_errors=ignore_errors)
    else:
        try:
            os.unlink(full)
        except OSError:
            if not ignore_errors:
                raise
    return full


def _readlink(path: str) -> str:
    try:
        return os.readlink(path)
    except OSError:
        return "?"
