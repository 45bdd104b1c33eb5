"""Every error Scylla raises on purpose, in one hierarchy. Each message names the file (and the field) at
fault and, where there is one, the fix.

    ScyllaError
    ├── UserError          the user's input is wrong: fix it and run again (nothing was paid)
    │   ├── SpecError          experiment.yaml, a fixture's test.yaml, a tier's files
    │   ├── ResourceError      a subtest resource that does not resolve, or a config/ file changed by hand
    │   └── AdoptError         a ProjectScylla directory `scylla adopt` cannot take over as it is
    ├── InfraFailure       paid work could not run (a missing CLI, authentication, network, git): the
    │   │                  attempt is archived under .failed/ and the next `doit` retries it
    │   ├── RateLimited        the provider refused the call for now (retried after its pause)
    │   └── WorkspaceError     a git or workspace operation failed
    │       └── UnsafePath         a path Scylla would delete or write passes a symbolic link or leaves its directory
    ├── ArtifactError      a file of the experiment tree is missing, truncated or not what its format says
    │   └── ReplyError         a judge's reply holds no usable verdict
    ├── DiskFull           a write failed for lack of space (also an OSError, ENOSPC)
    └── DBUnsaved          doit's DB could not be saved when doit finished
"""

from __future__ import annotations


class ScyllaError(Exception):
    """An error Scylla raises on purpose; its message is meant for the user as it is."""


class UserError(ScyllaError):
    """The user's input is wrong: fix it and run again (nothing was paid)."""


class SpecError(UserError):
    """Invalid experiment input. The message names the file and the key."""


class ResourceError(UserError):
    """A subtest resource does not resolve, or a composed config/ file no longer matches its manifest."""


class AdoptError(UserError):
    """A ProjectScylla experiment that cannot be adopted as it is (the message says what and why)."""


class InfraFailure(ScyllaError):
    """Rate limit, timeout, missing CLI, git/workspace error...: the task fails, its partial outputs are
    archived under .failed/, and the next `doit` retries it."""


class RateLimited(InfraFailure):
    """The provider refused the call for now; `retry_after` seconds (None: use the backoff)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class WorkspaceError(InfraFailure):
    """A git/workspace operation failed; an infrastructure failure (retry later)."""


class UnsafePath(WorkspaceError):
    """A path Scylla was about to delete or write leaves its directory or passes a symbolic link (safepath.py):
    refused, never followed; the message names the path and how to clear it."""


class ArtifactError(ScyllaError):
    """A file of the experiment tree is missing or unreadable; the message names it."""


class ReplyError(ArtifactError):
    """A judge's reply holds no usable verdict (the message says what is wrong with it)."""


class DiskFull(OSError, ScyllaError):
    """A write failed for lack of space. An OSError (ENOSPC), so that what handles a machine's failure
    handles it; its message names the file, the space it needed and the space left. (Made by
    durable.disk_full: its arguments stay OSError's, so it pickles across -P process workers.)"""

    def __str__(self) -> str:
        assert self.strerror is not None        # (disk_full gives it: the message)
        return self.strerror


class DBUnsaved(ScyllaError):
    """doit's DB could not be saved when doit finished (runner.finish reports it)."""
