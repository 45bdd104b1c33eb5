"""Read-only and full trees. `doit status` and `doit list` read a read-only tree as it is (same output as on
the writable tree, nothing written, the DB never moved aside); `doit` refuses it in one line. A full disk
fails in one clear line naming the file and the space, leaves nothing half-written, and the next `doit`
after space is freed completes.

A read-only tree is a read-only bind mount: the tests run as root (as CI does), and root ignores
permission bits."""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from conftest import Checkout, fill

READ_COMMANDS = (("status",), ("status", "--json"), ("status", "--why"), ("list", "--all", "--status"),
                 ("list", "--status"), ("list",))


@pytest.fixture
def read_only_view(tmp_path):
    """read_only_view(SRC) -> a read-only bind mount of SRC (unmounted after the test)."""
    mounted = []

    def view(src: Path) -> Path:
        dst = tmp_path / f"read-only-{len(mounted)}"
        dst.mkdir()
        bind = subprocess.run(["mount", "--bind", str(src), str(dst)], capture_output=True, text=True, check=False)
        if bind.returncode != 0:
            pytest.skip(f"bind mounts are not permitted here ({bind.stderr.strip()}): no read-only tree for root")
        mounted.append(dst)
        subprocess.run(["mount", "-o", "remount,bind,ro", str(dst)], check=True)
        with pytest.raises(OSError):
            (dst / "probe").write_text("")
        return dst

    yield view
    for dst in mounted:
        subprocess.run(["umount", str(dst)], check=False)


def snapshot(top: Path) -> dict:
    """Every path under `top`: kind, size, mtime, and a regular file's md5."""
    out = {}
    for path in [top, *top.rglob("*")]:
        st = path.lstat()
        md5 = hashlib.md5(path.read_bytes()).hexdigest() if stat.S_ISREG(st.st_mode) else None
        out[str(path.relative_to(top))] = (stat.S_IFMT(st.st_mode), st.st_size, st.st_mtime_ns, md5)
    return out


def test_status_and_list_read_a_read_only_tree_as_the_writable_one(hello, read_only_view):
    before = snapshot(hello.path)
    ro = Checkout(read_only_view(hello.path))
    on_ro = {cmd: ro.doit(*cmd, check=False) for cmd in READ_COMMANDS}
    assert snapshot(hello.path) == before                 # no preflight.json, lock, journal, DB moved aside
    for cmd, run in on_ro.items():
        assert run.returncode == 0 and "Traceback" not in run.stderr, f"{cmd}: {run}"
        assert "unreadable" not in run.stderr and "corrupt" not in run.stderr, f"{cmd}: {run}"
        writable = hello.doit(*cmd)
        assert run.stdout == writable.stdout, cmd
    assert on_ro[("status",)].stdout.count("✓") > 10 and "Next `doit`: 0 tasks to run" in on_ro[("status",)].stdout
    assert orjson.loads(on_ro[("status", "--json")].stdout)["to_run"] == []


def test_doit_refuses_a_read_only_tree_in_one_line(hello, read_only_view):
    before = snapshot(hello.path)
    ro = Checkout(read_only_view(hello.path))
    run = ro.doit(check=False)
    assert run.returncode != 0 and "Traceback" not in run.stderr + run.stdout, str(run)
    assert run.stderr.strip() == (f"ERROR: {ro.root}: the experiment tree is read-only (Read-only file system); "
                                  f"`doit` records its work there: make it writable, or run on a writable copy "
                                  f"(`doit status` and `doit list` read it as it is)")
    assert ro.calls("agent") == [] and snapshot(hello.path) == before


def test_a_damaged_db_on_a_read_only_tree_reads_as_empty_and_stays(hello, read_only_view):
    """Status cannot move a corrupt DB aside there (and must not try): it reads as empty, finished paid work
    stays done (their seals), the cheap tasks show as to run."""
    db = hello.root / ".scylla/doit.db"
    db.write_bytes(b"not a database" * 100)
    before = snapshot(hello.path)
    ro = Checkout(read_only_view(hello.path))
    run = ro.doit("status", "--json", check=False)
    assert run.returncode == 0 and "Traceback" not in run.stderr, str(run)
    assert "dependency DB .scylla/doit.db is unreadable" in run.stderr and "read as empty" in run.stderr
    to_run = orjson.loads(run.stdout)["to_run"]
    assert to_run and not [t for t in to_run if t.startswith(("agent:", "judge:", "pipeline:", "baseline"))]
    assert snapshot(hello.path) == before


def test_a_db_left_by_a_killed_doit_is_read_with_its_wal_on_a_read_only_tree(hello, read_only_view):
    """A SIGKILLed doit leaves its last records in doit.db-wal (with -shm): read through `mode=ro`, not
    ignored (`immutable=1` would read the main file only)."""
    db = hello.root / ".scylla/doit.db"
    subprocess.run([sys.executable, "-c", f"""
import os, sqlite3
conn = sqlite3.connect({str(db)!r})
conn.execute("pragma wal_autocheckpoint=0")
conn.execute("delete from doit where task_id='tier:T0'")
conn.commit()
os._exit(0)          # as a SIGKILL: no checkpoint, the -wal and -shm stay
"""], check=True)
    assert db.with_name("doit.db-wal").stat().st_size > 0 and db.with_name("doit.db-shm").exists()
    before = snapshot(hello.path)
    ro = Checkout(read_only_view(hello.path))
    run = ro.doit("list", "--all", "--status", check=False)
    assert run.returncode == 0 and "R tier:T0" in run.stdout and "U tier:T1" in run.stdout, str(run)
    assert snapshot(hello.path) == before
    assert hello.doit("list", "--all", "--status").stdout == run.stdout


DERIVED = ("report.html", "report.json", "report.md", "result.json", "summary.md", "tier_comparison.json",
           "T0/result.json", "T1/result.json", "T5/result.json")


@pytest.mark.parametrize("leave", [0, 36 << 10], ids=["no-space-for-the-db", "no-space-for-derived-files"])
def test_a_full_disk_fails_in_one_line_and_the_next_doit_completes(hello, small_disk, leave):
    """A finished tree on a full disk whose derived files must be rebuilt: `doit` fails naming the file and
    the space (no traceback), every file is whole or absent, and once space is freed the next `doit`
    rebuilds exactly the original files, calling no agent or judge."""
    shutil.copytree(hello.path, small_disk / "scylla", symlinks=True)
    tree = Checkout(small_disk / "scylla")
    original = {f: (tree.root / f).read_bytes() for f in DERIVED}
    for f in DERIVED:
        (tree.root / f).unlink()
    filler = fill(small_disk, leave)
    run = tree.doit(check=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "Traceback" not in out and "OperationalError" not in out, str(run)
    message = re.search(rf"{re.escape(str(tree.root))}/(\S+): No space left on device \((needed [^;]+; )?"
                        rf"[\d.]+ (bytes|KiB) free of 24.0 MiB on its file system\); free some space and run "
                        rf"`doit` again", out)
    assert message, str(run)
    if leave == 0:                  # SQLite cannot even make the DB's -shm file
        assert message[1] == ".scylla/doit.db" and run.stdout == "", str(run)
    else:
        assert message[1] in DERIVED and "TaskFailed - taskid:" in run.stdout, str(run)
    assert not list(tree.path.rglob("*.tmp")) and not list(tree.root.glob(".scylla/doit.db.corrupt-*"))
    for f in DERIVED:               # whole or not there
        assert not (tree.root / f).exists() or (tree.root / f).read_bytes() == original[f], f

    filler.unlink()
    tree.doit()
    assert {f: (tree.root / f).read_bytes() for f in DERIVED} == original
    assert tree.calls("agent") == tree.calls("judge") == []
    assert tree.doit().executed == []


def test_a_paid_call_holds_room_for_its_seal_and_starts_only_with_it(small_disk):
    """actions.sealed holds durable.SEAL_RESERVE bytes while an agent or judge call runs: the disk filling
    meanwhile (the agent's own files, a neighbour) cannot keep the finished call from being sealed; with
    no room for it, nothing is called."""
    from scylla import durable
    filler = fill(small_disk, leave=durable.SEAL_RESERVE + 256 * 1024)
    with durable.space_reserved(small_disk / "call.space"):
        with pytest.raises(OSError) as full:                    # the disk fills up during the call
            durable.write_bytes(small_disk / "agent-output", b"x" * durable.SEAL_RESERVE)
        assert durable.out_of_space(full.value)
    durable.write_bytes(small_disk / "seal.json", b"s" * (durable.SEAL_RESERVE // 2))   # then the seal fits
    assert not (small_disk / "call.space").exists()
    filler.unlink()
    fill(small_disk, leave=64 * 1024)
    with pytest.raises(durable.DiskFull, match="call.space"), durable.space_reserved(small_disk / "call.space"):
        pytest.fail("a call started without room for its seal")
