"""doit extensions: a dependency DB that commits task records as they are saved, and fast Task
construction.

Stock doit writes its DB once, when `doit run` ends, so a SIGKILL forgets every task finished in
that invocation. Expensive tasks do not rely on the DB at all (see kinds.Sealed); this backend
keeps the cheap tasks' records too, at most COMMIT_EVERY seconds behind, and treats a damaged DB
as empty (it is only a cache). Read-only commands open it read-only and write nothing (a read-only tree
reads as it is); a DB that cannot be opened or saved (permissions, a full disk) is reported in one line,
never taken for damaged.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import sqlite3
import sys
import threading
import time
import urllib.parse
from collections.abc import Iterable, Iterator

import orjson
from doit import dependency, runner
from doit.cmd_base import NamespaceTaskLoader
from doit.dependency import DatabaseException, SqliteDB
from doit.exceptions import InvalidDodoFile, TaskFailed
from doit.task import Task, dict_to_task

from . import context, durable, reaper
from .errors import DBUnsaved

# A commit per task record costs ~0.2 ms: 1,000 regenerated results paid ~0.25 s for it. Records of
# cheap tasks lost to a SIGKILL inside this window only make those tasks run again (their outputs come
# out byte-identical and are left untouched); paid tasks are recognised by their seals, not by the DB.
COMMIT_EVERY = 0.2


def _read_records(name: str) -> dict:
    """Every record of a DB file, writing nothing the tree keeps. Where its directory can be written, a
    plain connection (the last one to close removes the -wal and -shm files; `mode=ro` would leave them);
    else `mode=ro`, which reads the -wal a killed doit left, or, without one (SQLite cannot make a -shm
    file there), `immutable=1`, which takes no lock and writes nothing at all."""
    uri = "file:" + urllib.parse.quote(os.path.abspath(name))
    if os.access(os.path.dirname(os.path.abspath(name)), os.W_OK):
        modes = ["mode=rw", "mode=ro", "immutable=1"]
    else:
        modes = ["mode=ro", "immutable=1"] if os.path.exists(name + "-wal") else ["immutable=1"]
    for mode in modes:
        try:
            conn = sqlite3.connect(f"{uri}?{mode}", uri=True)
            try:
                return dict(conn.execute("select task_id, task_data from doit"))
            finally:
                conn.close()
        except sqlite3.OperationalError as exc:
            if mode == modes[-1] or _corrupt(exc):
                raise
    raise AssertionError("unreachable")


def _sqlite_error(exc: BaseException) -> BaseException:
    """The sqlite3 error behind doit's DatabaseException (raised from it)."""
    return exc.__context__ if isinstance(exc, DatabaseException) and exc.__context__ else exc


def _corrupt(exc: BaseException) -> bool:
    """Whether a DB error says the file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB), not that it cannot be
    opened or written (permissions, a read-only file system, a full disk): only then is it moved aside."""
    return getattr(_sqlite_error(exc), "sqlite_errorname", "") in ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _cause(exc: BaseException) -> str:
    err = _sqlite_error(exc)
    return f"{err} [{getattr(err, 'sqlite_errorname', type(err).__name__)}]"


def _trouble(name: str, exc: BaseException, doing: str, needed: int | None = None) -> str:
    """Why the DB cannot be opened or saved (not corrupt): a full disk, with the space, or what SQLite said."""
    name, error = os.path.abspath(name), getattr(_sqlite_error(exc), "sqlite_errorname", "")
    # SQLite reports a full disk as SQLITE_FULL, or as an I/O error when it cannot grow its -shm or -wal file
    if error == "SQLITE_FULL" or error.startswith("SQLITE_IOERR") and _free(name) < LOW_SPACE:
        return durable.space_message(name, needed, at_least=True)     # (plus its journal)
    return f"{name}: cannot {doing} the dependency DB ({_cause(exc)})"


LOW_SPACE = 1 << 20     # bytes free below which an I/O error of the DB is taken for a full disk


def _free(path: str) -> float:
    try:
        return shutil.disk_usage(os.path.dirname(path)).free
    except OSError:
        return float("inf")


def _finish(self):
    """doit's Runner.finish, except that a DB it cannot save (a full disk) fails the run with one message
    from the reporter instead of a traceback that skips the reporter's summary."""
    try:
        self.dep_manager.close()
    except DBUnsaved as exc:
        self.reporter.runtime_error(str(exc))
        self.final_result = runner.ERROR
    self.teardown()
    self.reporter.complete_run()
    return self.final_result


runner.Runner.finish = _finish


_namespace_load_tasks = NamespaceTaskLoader.load_tasks


def _load_tasks(self, cmd, pos_args):
    """doit's dodo.py (namespace) loader, telling the namespace first which command runs: doit names the
    command only here, once it made its DB (scylla.loader.Experiment.begin builds the run-time context
    from it and opens the DB accordingly)."""
    begin = (self.namespace or {}).get("SCYLLA_BEGIN")
    if begin is not None:
        begin(cmd)
    return _namespace_load_tasks(self, cmd, pos_args)


NamespaceTaskLoader.load_tasks = _load_tasks


class DurableSqliteDB(SqliteDB):
    """SQLite backend, WAL mode, finished task records committed at least every COMMIT_EVERY
    seconds (doit writes a record's `deps:` key last) and at the end."""

    desc = "sqlite3, committed per task (Scylla)"

    def __init__(self, name, codec, *, module_name=None):
        # opened by open(): doit makes its DB before it tells the task loader which command runs, and the
        # command decides how (read-only commands, and a plan computed beside a run, write nothing: doit's
        # status check drops a task's record when its file checker changed, and that must not reach the DB)
        self.name, self.codec, self._module_name, self._conn = name, codec, module_name, None
        self._cache, self._dirty, self._raw, self._opened = {}, set(), {}, False
        self._committed_at = time.monotonic()

    def open(self):
        """Open the DB as the installed context says (scylla.loader.begin calls it; else the first use)."""
        if self._opened:
            return
        self._opened = True
        name, codec, module_name = self.name, self.codec, self._module_name
        if context.CURRENT.read_only:
            self._open_read_only(name, codec)
            return
        os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
        try:
            super().__init__(name, codec, module_name=module_name)
            self._conn.execute("select count(*) from doit").fetchone()
        except (DatabaseException, sqlite3.DatabaseError) as exc:
            if not _corrupt(exc):       # a permission error, a full disk...: the DB is fine, say what is wrong
                raise InvalidDodoFile(_trouble(name, exc, "open")) from None
            aside = f"{name}.corrupt-{int(time.time())}"
            os.replace(name, aside)
            print(f"scylla: dependency DB {name} was unreadable ({exc}); moved to {aside}, starting "
                  f"fresh (finished agent runs and judgments are recognised from their seals)", file=sys.stderr)
            super().__init__(name, codec, module_name=module_name)
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=normal")
        # one query for every record instead of one per task (10,000 tasks: ~0.2 s); decoded on first use
        self._committed_at = time.monotonic()
        raw = sqlite3.connect(name)
        try:
            self._raw = dict(raw.execute("select task_id, task_data from doit"))
        finally:
            raw.close()

    def _open_read_only(self, name, codec):
        """For status, list, info: every record read, nothing written to the tree (no journal, no -wal or
        -shm file where it cannot be written, a corrupt DB not moved aside: it reads as empty)."""
        self.name, self.codec, self._cache, self._dirty = name, codec, {}, set()
        self._committed_at, self._raw = time.monotonic(), {}
        if not os.path.exists(name):
            return
        try:
            self._raw = _read_records(name)
        except sqlite3.DatabaseError as exc:
            print(f"scylla: dependency DB {name} is unreadable ({_cause(exc)}); read as empty (finished agent "
                  f"runs and judgments are recognised from their seals)", file=sys.stderr)

    def _get_task_data(self, task_id):
        self.open()
        text = self._raw.pop(task_id, None)
        return orjson.loads(text) if text is not None else {}

    def in_(self, task_id):
        self.open()
        return task_id in self._cache or task_id in self._raw

    def set(self, task_id, dependency, value):
        self.open()
        super().set(task_id, dependency, value)
        # `deps:` is the last key Dependency.save_success writes; it runs in doit's main thread, one
        # task at a time, so every dirty record is complete here
        if dependency == "deps:" and time.monotonic() - self._committed_at >= COMMIT_EVERY:
            self._commit_dirty()

    def _commit_dirty(self):
        if context.CURRENT.read_only:
            return
        try:
            self._conn.executemany("insert or replace into doit values (?,?)",
                                   [(t, self.codec.encode(self._cache[t])) for t in self._dirty])
            self._conn.commit()
        except sqlite3.OperationalError:
            # a full disk: the records stay dirty, tried again at the next commit and at the end (dump),
            # which reports it; meanwhile the tasks go on (their outputs are written whole or not at all)
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()
            return
        self._dirty.clear()
        self._committed_at = time.monotonic()

    def dump(self):
        if not self._opened:
            return
        if context.CURRENT.read_only:
            self._dirty = set()
            return
        needed = sum(len(self.codec.encode(self._cache[t])) for t in self._dirty)
        try:
            super().dump()
        except sqlite3.OperationalError as exc:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            raise DBUnsaved(f"{_trouble(self.name, exc, 'save', needed)}; the records of tasks this `doit` ran "
                            f"since it last saved them are lost: the next `doit` runs those again (they make the "
                            f"same files; no agent or judge call)") from None

    def remove_all(self):
        self.open()
        self._raw = {}
        super().remove_all()

    def remove(self, task_id):
        self.open()
        self._raw.pop(task_id, None)
        if context.CURRENT.read_only:
            self._cache.pop(task_id, None)
            self._dirty.discard(task_id)
            return
        try:
            super().remove(task_id)
            self._conn.commit()
        except sqlite3.OperationalError:
            # a full disk: the old record stays; it describes the targets as they were before this failed
            # run (a target it did rewrite no longer matches its Intact record: rebuilt next time)
            with contextlib.suppress(sqlite3.Error):
                self._conn.rollback()


def _remove_success(self, task):
    """Drop a failed task's record only if its actions ran.

    doit's runner (runner.py `_handle_task_error`) calls this for every failure, also for tasks that
    never ran: an UnmetDependency (an upstream task failed: with `--continue` that is every task
    downstream of it, thousands on a damaged tree) or a DependencyError (a file_dep missing). Their
    records still describe inputs their targets were built from, so doit's usual checks stay right.
    Deleting them made every such task run again after the damage was repaired, rewriting files
    (adopted ones too) and rebuilding from workspaces that no longer exist. `task.executed` is set
    by Task.execute and comes back from -P process workers with the task's pickled state."""
    if task.executed:
        self.remove(task.name)


dependency.Dependency.remove_success = _remove_success
_doit_handle_task_error = runner.Runner._handle_task_error


def _handle_task_error(self, node, base_fail):
    """doit's handling of a failure, except that a task that did not run does not stop `doit`.

    Without `--continue` doit stops at the first failure (runner.py `_handle_task_error`), also at a
    DependencyError (a missing file_dep): one lost file then kept every unrelated derived file from
    being regenerated. A task that did not run spent nothing and its dependants are skipped by doit
    anyway (UnmetDependency); a task that ran and failed still stops the run."""
    stopped = self._stop_running
    _doit_handle_task_error(self, node, base_fail)
    if not node.task.executed or isinstance(base_fail, LostInput):
        self._stop_running = stopped


class LostInput(TaskFailed):
    """A task refused to run: an input it derives from is a lost raw capture, or a file changed after its
    task wrote it (kinds.cheap_action, kinds.sealed_action). Like a task that did not run, it does not stop
    `doit`."""


runner.Runner._handle_task_error = _handle_task_error
_doit_worker = runner.MRunner.execute_task_subprocess


def _worker(self, job_q, result_q, reporter_class):
    """A `-P process` worker dies with doit and leaves Ctrl-C to it.

    A worker forked by multiprocessing outlived a SIGKILL of doit's PID, blocked on its job queue
    forever; and a Ctrl-C (SIGINT to the whole group) reached the workers too, where an interrupted
    task could send a worker back to its queue while doit waited for it at exit. Now the kernel kills
    the worker when doit dies (PR_SET_PDEATHSIG), it ignores SIGINT, and doit's SIGTERM on an
    interruption (multiprocessing's terminate) ends it at once; its commands are reaped (reaper.py)."""
    if self.Child is runner.Process:
        reaper.die_with(_LEADER)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
    return _doit_worker(self, job_q, result_q, reporter_class)


_LEADER = os.getpid()          # (imported by doit before it forks its workers)


runner.MRunner.execute_task_subprocess = _worker


class MD5Checker(dependency.MD5Checker):
    """doit's md5 checker, its stats shared with the seal checks through `durable` (cached while a
    read-only command runs; inputs' stats also while doit executes tasks, see durable.INPUT_STATS).
    The class keeps doit's name: doit drops a task's record when the name of the checker class changes."""

    def exists(self, file_path):          # (doit asks this of targets)
        return durable.stat(file_path) is not None

    def info(self, file_path):            # (and this of file_deps)
        st = durable.input_stat(file_path)
        if st is None:
            if durable.lost_capture(file_path, durable.input_stat):
                return LOST
            raise self.CheckerError(f"{file_path}: not found")
        return st

    def check_modified(self, file_path, file_stat, state):
        # a lost or damaged raw capture counts as unchanged: the file derived from it stands, and so does
        # everything built on that (a task that must run anyway refuses it, naming it; plan.py: blocked)
        return file_stat is not LOST and super().check_modified(file_path, file_stat, state) \
            and not durable.damaged_capture(file_path)

    def get_state(self, dep, current_state):
        if durable.stat(dep) is None:     # (lost: keep what was recorded when it was there)
            return None
        return super().get_state(dep, current_state)


LOST = os.stat_result((0,) * 10)          # the `info` of a lost raw capture


# ---------------------------------------------------------------- task construction

# doit's Task.__init__ validates every attribute of every task (~60 µs each: 0.6 s of a 10,000-task
# `doit`). Scylla's task dicts come from checked specs, so they are turned into Tasks from the
# attributes of one validated Task. tests/test_doit_plugins.py checks the result against doit's own.
_PLAIN = Task("template", None).__dict__
_FAST_KEYS = {"basename", "name", "actions", "file_dep", "targets", "task_dep", "uptodate", "meta", "doc",
              "verbosity"}


def _task(name: str, d: dict, **attrs) -> Task:
    task = Task.__new__(Task)
    task.__dict__.update(_PLAIN, name=name, _actions=list(d.get("actions") or ()),
                         file_dep=set(d.get("file_dep", ())), targets=list(d.get("targets", ())),
                         task_dep=list(d.get("task_dep", ())), uptodate=[(u, None, None) if isinstance(u, bool) else (u, [], {})
                                                       for u in d.get("uptodate", ())],
                         meta=d.get("meta"), doc=Task._init_doc(d.get("doc")), verbosity=d.get("verbosity"),
                         # fresh containers: doit mutates these per task
                         setup_tasks=[], creator_params=[], wild_dep=[], calc_dep=set(), value_savers=[],
                         values={}, getargs={}, clean_actions=[], teardown=[], **attrs)
    return task


def _is_plain(d: dict) -> bool:
    """Dicts the fast path covers; anything else (e.g. config_changed, which configures its task)
    goes through doit's own constructor."""
    return d.keys() <= _FAST_KEYS and all(callable(u) and not hasattr(u, "configure_task")
                                          for u in d.get("uptodate", ()))


def tasks_from_dicts(dicts: Iterable[dict]) -> Iterator[Task]:
    """doit Tasks from task dicts as a task generator yields them (`basename`, `name`, group tasks
    with name None), equal to what doit's loader makes of the same dicts, in the same order."""
    groups: dict[str, Task] = {}
    for d in dicts:
        basename = d["basename"]
        if "name" in d and d["name"] is None:
            groups[basename] = _task(basename, d, has_subtask=True)
            yield groups[basename]
            continue
        name = f"{basename}:{d['name']}" if "name" in d else basename
        if _is_plain(d):
            task = _task(name, d)
        else:
            task = dict_to_task({k: v for k, v in d.items() if k != "basename"} | {"name": name})
        if "name" in d:
            task.subtask_of = basename
            if basename not in groups:
                groups[basename] = Task(basename, None, has_subtask=True)
                yield groups[basename]
            groups[basename].task_dep.append(name)
        yield task


# ---------------------------------------------------------------- the cyclic garbage collector

GC_EVERY = 30.0     # seconds between collections once the tasks are made
_collector: threading.Thread | None = None


def collect_garbage_on_a_timer() -> None:
    """Freeze what exists (the tasks), then collect cyclic garbage every GC_EVERY seconds instead of
    after every few hundred allocations.

    doit keeps objects per task (tasks, dispatcher nodes, DB records) until it exits, and the
    allocation-count trigger walked them again and again: 30 % of a no-op `doit` at 10,000 runs
    (22 s vs 16 s), 22 % at 1,130, growing faster than the number of runs. A no-op makes no cyclic
    garbage; a days-long run (threads, exceptions, subprocesses) does, and the timer frees it."""
    global _collector
    gc.freeze()
    gc.disable()
    if _collector is None:
        _collector = threading.Thread(target=_collect, name="scylla-gc", daemon=True)
        _collector.start()


def _collect() -> None:
    while True:
        time.sleep(GC_EVERY)
        gc.collect()


# forked doit workers (-P process) have no timer thread: their own trigger as usual
os.register_at_fork(after_in_child=gc.enable)
