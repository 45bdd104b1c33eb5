"""Helpers shared by the benchmarks: real `doit` in a subprocess (timed, with its peak RSS), copies of
examples/hello, and the in-process stat walk that is the physical floor of any up-to-date check."""

from __future__ import annotations

import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DODO = REPO / "dodo.py"
# Scylla's reporter (doit's executed-only) prints ".  <task>" for executed tasks and nothing else.
EXECUTED = re.compile(r"^\.  (\S+)$", re.MULTILINE)

# `python -m doit`, plus the process's peak RSS written (even on SystemExit) to $SCYLLA_BENCH_RSS_FILE.
RSS_ENV = "SCYLLA_BENCH_RSS_FILE"
DOIT_WITH_RSS = f"""\
import os, resource, runpy
try:
    runpy.run_module("doit", run_name="__main__", alter_sys=True)
finally:
    with open(os.environ["{RSS_ENV}"], "w") as fh:
        fh.write(str(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))
"""


@dataclass
class DoitRun:
    seconds: float           # wall time of the whole `python -m doit ...` process
    rss_mib: float           # its peak resident set size (Linux reports ru_maxrss in KiB)
    stdout: str

    @property
    def executed(self) -> list[str]:
        """Names of the tasks this invocation executed."""
        return EXECUTED.findall(self.stdout)


def doit(spec: Path, *args: str, env: dict | None = None, dodo: Path = DODO) -> DoitRun:
    """`python -m doit -f DODO ARGS exp=SPEC` (DODO: the repository's dodo.py), timed; raises with doit's
    output if it fails."""
    with tempfile.TemporaryDirectory() as tmp:
        rss_file = Path(tmp, "rss")
        cmd = [sys.executable, "-c", DOIT_WITH_RSS, "-f", str(dodo), *args, f"exp={spec}"]
        # bytecode caches on, as in any normal install: a benchmark of Scylla, not of recompiling it
        base = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        started = time.perf_counter()
        proc = subprocess.run(cmd, cwd=tmp, check=False, capture_output=True, text=True,
                              env={**base, **(env or {}), RSS_ENV: str(rss_file)})
        seconds = time.perf_counter() - started
        if proc.returncode != 0:
            raise RuntimeError(f"doit {' '.join(args)} exited {proc.returncode}\n--- stdout\n"
                               f"{proc.stdout[-3000:]}\n--- stderr\n{proc.stderr[-3000:]}")
        return DoitRun(seconds, int(rss_file.read_text()) / 1024, proc.stdout)


def checkout(dest: Path, example: str = "hello", sandbox: str | None = None) -> Path:
    """A copy of examples/<example> (no results) under `dest`, with `sandbox:` set to that kind if given;
    returns its experiment.yaml."""
    target = dest / "examples" / example
    shutil.copytree(REPO / "examples" / example, target, ignore=shutil.ignore_patterns("results", "__pycache__"))
    spec = target / "experiment.yaml"
    if sandbox is not None:
        spec.write_text(spec.read_text() + f"sandbox: {sandbox}\n")
    return spec


def experiment_root(spec: Path) -> Path:
    """The experiment's results root, `<results>/<id>/`, as Scylla resolves it."""
    from scylla.spec import load_experiment
    return load_experiment(spec).root


def stat_walk(root: Path) -> tuple[float, int]:
    """Seconds to os.stat() every file under `root` (os.scandir, recursive, symlinks not followed),
    and how many files that was."""
    started = time.perf_counter()
    count, todo = 0, [str(root)]
    while todo:
        with os.scandir(todo.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    todo.append(entry.path)
                else:
                    os.stat(entry.path, follow_symlinks=False)
                    count += 1
    return time.perf_counter() - started, count


def machine() -> str:
    """One line naming the hardware and software the numbers were measured on."""
    import doit as doit_package
    cpus = os.cpu_count()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else cpus
    version = ".".join(map(str, doit_package.__version__))
    return (f"{platform.platform()}, {cpus} CPUs ({usable} usable), {_cpu_model()}; "
            f"Python {platform.python_version()}; doit {version}")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"
