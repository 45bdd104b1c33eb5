"""Time examples/hello through real doit, side by side, in one process run.

    python benchmarks/hello_timings.py [--repeat 5]

Prints wall seconds (median of the repeats for the cheap steps) and ratios: a full run serial vs
`-n 2`, a no-op `doit`, and `doit list --all --status` vs a raw os.stat() walk of the same tree.
Not part of the test suite; issue 5 adds the large synthetic trees.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def checkout(base: Path) -> Path:
    dest = base / "scylla"
    dest.mkdir(parents=True)
    shutil.copy2(REPO / "dodo.py", dest / "dodo.py")
    shutil.copytree(REPO / "examples/hello", dest / "examples/hello", ignore=shutil.ignore_patterns("results"))
    return dest


def doit(cwd: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "doit", *args], cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - started


def stat_walk(root: Path) -> float:
    started = time.perf_counter()
    for dirpath, _, files in os.walk(root):
        for name in files:
            os.stat(os.path.join(dirpath, name))
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        serial, parallel = checkout(Path(tmp) / "serial"), checkout(Path(tmp) / "parallel")
        full_serial = doit(serial)
        full_parallel = doit(parallel, "-n", "2")
        noop = statistics.median(doit(serial) for _ in range(repeat))
        status = statistics.median(doit(serial, "list", "--all", "--status") for _ in range(repeat))
        walk = statistics.median(stat_walk(serial / "examples/hello/results") for _ in range(repeat))
    rows = [("full run, serial", full_serial, ""),
            ("full run, doit -n 2", full_parallel, f"{full_serial / full_parallel:.2f}x faster than serial"),
            ("no-op doit", noop, ""),
            ("doit list --all --status", status, f"{status / walk:.0f}x a raw stat walk ({walk * 1000:.1f} ms)")]
    print(f"examples/hello: 10 runs x 2 judges; medians of {repeat} for the cheap steps")
    for name, seconds, note in rows:
        print(f"  {name:28s} {seconds:7.2f} s  {note}")


if __name__ == "__main__":
    main()
