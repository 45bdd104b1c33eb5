"""The benchmark of issue 5 runs from a checkout with its one documented command and prints its table.

Small sizes only (timings are the benchmark's business, never asserted here): what is checked is that
benchmarks/make_tree.py builds a tree Scylla itself finds complete, and that every measurement's own
checks pass (the no-op executes nothing, regenerating runs only run: and aggregate tasks, the bare
graph's no-op executes nothing).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e          # the benchmark scripts in subprocesses

REPO = Path(__file__).resolve().parents[1]


def test_the_benchmark_prints_its_table(tmp_path):
    done = subprocess.run([sys.executable, "benchmarks/run.py", "--runs", "20", "40", "--judges", "2",
                           "--repeat", "1", "--skip-p5", "--keep", str(tmp_path)],
                          cwd=REPO, check=False, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "note: the warm-up doit" not in done.stderr        # make_tree's trees are complete as built
    rows = [line.split(" | ") for line in done.stdout.splitlines() if re.match(r"\| P\d \|", line)]
    checks = {(r[0].strip("| "), r[2]) for r in rows}
    assert {("P1", "20 × 2"), ("P2", "40 × 2"), ("P3", "40 × 2"), ("P4", "40 × 2 vs 20 × 2")} <= checks
    assert sum("out of the box" in r[1] for r in rows) == 4     # P1 and P2 beside bare doit, at both sizes
    p4 = [r for r in rows if r[0] == "| P4"]
    assert len(p4) == 3 and all(re.fullmatch(r"[+-]\d+%", r[3]) for r in p4)
    # a second run reuses the kept trees
    again = subprocess.run([sys.executable, "benchmarks/run.py", "--runs", "20", "--judges", "2", "--repeat", "1",
                            "--skip-p5", "--keep", str(tmp_path)], cwd=REPO, check=False, capture_output=True,
                           text=True, timeout=900)
    assert again.returncode == 0 and "reusing" in again.stderr, again.stderr[-3000:]


def test_the_fault_trials_run_from_their_documented_command():
    """A fixed-seed handful of benchmarks/faults.py's signal trials: none hangs, leaves a process or a
    directory, tears a file, pays again or ends with a different result (exit 0 says so)."""
    done = subprocess.run([sys.executable, "benchmarks/faults.py", "--trials", "3", "--seed", "7"],
                          cwd=REPO, check=False, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    rows = [line for line in done.stdout.splitlines() if re.match(r"\| \d+ \|", line)]
    assert len(rows) == 3 and "3 trials, 0 bad" in done.stdout
