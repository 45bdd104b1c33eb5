"""Throughput of a Dask cluster against one machine, on 1-second scripted agents, in one process run.

    python benchmarks/dask_throughput.py [--runs 16] [--repeat 3] [--threads 4]

Each measurement is a fresh copy of benchmarks/run.py's P5 experiment (examples/hello on T0, the scripted
agent sleeping 1 s, the pipeline judge, a fixture language with no pipeline steps), completed by one real
`doit`:

  local -n 1          the experiment on this machine, one task at a time (the baseline)
  local -n 8          the same with 8 doit threads (-P thread)
  dask 1 x T          `doit -n 2T executor=dask://...` on a real `dask scheduler` with one `dask worker` of
                      T threads (all on 127.0.0.1)
  dask 2 x T          the same with two workers: the scaling per added worker is its speedup over 1 x T

The table gives the median wall time, runs per minute and the speedup over `local -n 1`. Every doit is
checked to have run every agent. Nothing is asserted about timings. On one machine the workers share its
CPUs with the doit: the scaling measured here is the orchestration's (agents that sleep), not a real
cluster's, whose agents each bring their own CPUs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

import yaml
from common import REPO, doit, machine
from run import parallel_experiment

sys.path.insert(0, str(REPO / "tests"))      # the tests' launcher of real scheduler and worker processes
from dask_cluster import Cluster


def experiment(dest: Path, runs: int) -> Path:
    spec = parallel_experiment(dest)
    data = yaml.safe_load(spec.read_text())
    data.update(runs=runs // 2, concurrency={"agents": runs, "judges": runs})
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    return spec


def measure(label: str, runs: int, repeat: int, args: tuple[str, ...]) -> list[float]:
    seconds = []
    for i in range(repeat):
        print(f"  {label} {i + 1}/{repeat}", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            run = doit(experiment(Path(tmp), runs), *args)
        agents = [t for t in run.executed if t.startswith("agent:")]
        assert len(agents) == runs, f"{label}: {len(agents)} agents ran, expected {runs}"
        seconds.append(run.seconds)
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=16, help="agent runs per experiment (even)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=4, help="threads per Dask worker")
    args = parser.parse_args()
    t = args.threads
    results: dict[str, list[float]] = {
        "local -n 1": measure("local -n 1", args.runs, args.repeat, ("-n", "1")),
        "local -n 8 -P thread": measure("local -n 8", args.runs, args.repeat, ("-n", "8", "-P", "thread")),
    }
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            cluster = Cluster.start(Path(tmp) / f"cluster{workers}", workers=workers, threads=t)
            try:
                label = f"dask {workers} x {t}"
                results[label] = measure(label, args.runs, args.repeat,
                                         ("-n", str(2 * workers * t), "-P", "thread", f"executor={cluster.url}"))
            finally:
                cluster.close()
    base = statistics.median(results["local -n 1"])
    print(machine())
    print(f"{args.runs} agent runs of 1 s each (+ a free pipeline judge), fresh experiment per measurement, "
          f"median of {args.repeat}\n")
    print("| executor | wall s | runs/min | speedup vs local -n 1 |\n|---|---|---|---|")
    for label, seconds in results.items():
        median = statistics.median(seconds)
        print(f"| {label} | {median:.1f} | {args.runs / median * 60:.0f} | {base / median:.2f}x |")
    one, two = (statistics.median(results[f"dask {w} x {t}"]) for w in (1, 2))
    print(f"\nscaling per added worker (dask 2 x {t} vs 1 x {t}): {one / two:.2f}x")


if __name__ == "__main__":
    main()
