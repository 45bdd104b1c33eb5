"""doit extensions: a dependency DB that commits each task's record the moment it is saved.

Stock doit writes its DB once, when `doit run` ends, so a SIGKILL forgets every task finished in
that invocation. Expensive tasks do not rely on the DB at all (see graph.Sealed); this backend
keeps the cheap tasks' records too, and treats an unreadable DB as empty (it is only a cache).
"""

from __future__ import annotations

import os
import sqlite3
import sys
import time

import orjson

from doit import dependency

from . import durable
from doit.dependency import DatabaseException, SqliteDB

# True in read-only commands (status, list, info) and in a plan computed beside a run (runplan.py): doit's
# status check drops a task's record when its file checker changed, and that must not reach the DB then
READ_ONLY = False


class DurableSqliteDB(SqliteDB):
    """SQLite backend, WAL mode, one commit per task record (doit writes `deps:` last)."""

    desc = "sqlite3, committed per task (Scylla)"

    def __init__(self, name, codec, *, module_name=None):
        os.makedirs(os.path.dirname(os.path.abspath(name)), exist_ok=True)
        try:
            super().__init__(name, codec, module_name=module_name)
            self._conn.execute("select count(*) from doit").fetchone()
        except (DatabaseException, sqlite3.DatabaseError) as exc:
            aside = f"{name}.corrupt-{int(time.time())}"
            os.replace(name, aside)
            print(f"scylla: dependency DB {name} was unreadable ({exc}); moved to {aside}, starting "
                  f"fresh (finished agent runs and judgments are recognised from their seals)", file=sys.stderr)
            super().__init__(name, codec, module_name=module_name)
        self._conn.execute("pragma journal_mode=wal")
        self._conn.execute("pragma synchronous=normal")
        # one query for every record instead of one per task (10,000 tasks: ~0.2 s); decoded on first use
        raw = sqlite3.connect(name)
        try:
            self._raw = dict(raw.execute("select task_id, task_data from doit"))
        finally:
            raw.close()

    def _get_task_data(self, task_id):
        text = self._raw.pop(task_id, None)
        return orjson.loads(text) if text is not None else {}

    def in_(self, task_id):
        return task_id in self._cache or task_id in self._raw

    def set(self, task_id, dependency, value):
        super().set(task_id, dependency, value)
        if dependency == "deps:":          # the last key Dependency.save_success writes
            self._commit(task_id)

    def _commit(self, task_id):
        if READ_ONLY:
            return
        self._conn.execute("insert or replace into doit values (?,?)",
                           (task_id, self.codec.encode(self._cache[task_id])))
        self._conn.commit()
        self._dirty.discard(task_id)

    def dump(self):
        if READ_ONLY:
            self._dirty = set()
            return
        super().dump()

    def remove_all(self):
        self._raw = {}
        super().remove_all()

    def remove(self, task_id):
        self._raw.pop(task_id, None)
        if READ_ONLY:
            self._cache.pop(task_id, None)
            self._dirty.discard(task_id)
            return
        super().remove(task_id)
        self._conn.commit()


class MD5Checker(dependency.MD5Checker):
    """doit's md5 checker, its stats shared with the seal checks through `durable.stat` (cached while a
    read-only command runs). The class keeps doit's name: doit drops a task's record when the name of
    the checker class changes."""

    def exists(self, file_path):
        return durable.stat(file_path) is not None

    def info(self, file_path):
        st = durable.stat(file_path)
        if st is None:
            raise self.CheckerError(f"{file_path}: not found")
        return st
