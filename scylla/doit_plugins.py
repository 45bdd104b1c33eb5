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

from doit.dependency import DatabaseException, SqliteDB


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

    def set(self, task_id, dependency, value):
        super().set(task_id, dependency, value)
        if dependency == "deps:":          # the last key Dependency.save_success writes
            self._commit(task_id)

    def _commit(self, task_id):
        self._conn.execute("insert or replace into doit values (?,?)",
                           (task_id, self.codec.encode(self._cache[task_id])))
        self._conn.commit()
        self._dirty.discard(task_id)

    def remove(self, task_id):
        super().remove(task_id)
        self._conn.commit()
