"""Time examples/hello through real doit, side by side, in one process run.

    python benchmarks/hello_timings.py [--repeat 5]

Prints wall seconds (median of the repeats for the cheap steps) and ratios: a full run serial vs
`-n 2`, a no-op `doit`, and `doit list --all --status` vs a raw os.stat() walk of the same tree.
Not part of the test suite; benchmarks/run.py measures large synthetic trees against the budgets.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from common import checkout, doit, experiment_root, machine, stat_walk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    repeat = parser.parse_args().repeat
    with tempfile.TemporaryDirectory() as tmp:
        serial, parallel = checkout(Path(tmp) / "serial"), checkout(Path(tmp) / "parallel")
        full_serial = doit(serial).seconds
        full_parallel = doit(parallel, "-n", "2").seconds
        noop = statistics.median(doit(serial).seconds for _ in range(repeat))
        status = statistics.median(doit(serial, "list", "--all", "--status").seconds for _ in range(repeat))
        walk = statistics.median(stat_walk(experiment_root(serial))[0] for _ in range(repeat))
    rows = [("full run, serial", full_serial, ""),
            ("full run, doit -n 2", full_parallel, f"{full_serial / full_parallel:.2f}x faster than serial"),
            ("no-op doit", noop, ""),
            ("doit list --all --status", status, f"{status / walk:.0f}x a raw stat walk ({walk * 1000:.1f} ms)")]
    print(machine())
    print(f"examples/hello: 10 runs x 2 judges; medians of {repeat} for the cheap steps")
    for name, seconds, note in rows:
        print(f"  {name:28s} {seconds:7.2f} s  {note}")


if __name__ == "__main__":
    main()
