"""Scylla at scale: the issue's budgets measured side by side, in one process run.

    python benchmarks/run.py --runs 1130 10000 --judges 3 --repeat 5 --p5-repeat 5 [--keep DIR] [--skip-p5 | --only-p5]

For every N in --runs, benchmarks/make_tree.py builds a complete experiment of N runs x --judges judge
slots (with --keep DIR it is built once into DIR/tree-<N>x<J>/ and reused afterwards: 10,000 runs take
minutes). After a warm-up round, each repetition measures, in this order:

  P1  `doit list --all --status`, and a raw os.stat() walk of the results root (in-process: the floor)
  P2  a no-op `doit` (checked: it executes nothing)
  P1 and P2 again with doit out of the box on the same graph, without Scylla (benchmarks/bare_graph.py):
      what doit itself costs to check these tasks and files
  P3  `doit` after deleting every run_result.json (deleted again before each repetition; checked: only
      the run: tasks and the aggregates above them run, never an agent, pipeline or judge)

and the table shows medians of --repeat repetitions, per-run cost (seconds / N) and:

  P4  per-run cost at each larger N against the smallest N (linear = flat per-run cost)
  P5  `doit -n 8 -P thread` vs `doit -n 1` on fresh 16-run experiments whose scripted agent sleeps 1 s
      (examples/hello on tier T0, one pipeline judge, a fixture language without a pipeline so that the
      runs' pytest does not compete for the CPUs); a fresh copy per measurement, --p5-repeat of each.
      Beside it, the same 16 agent commands as the only action of a bare dodo.py (no Scylla): the
      speedup this machine allows at the time, since the agents' own start-up CPU is not Scylla's
  B   with --before CHECKOUT (another revision's checkout): `doit list --all --status`, `doit status` and
      the no-op `doit` with its code too, in the same rounds, and this code's time as a ratio of it

P1 also times `doit status` (the whole report), beside the stat walk and the peer figure of issue 14.

Every doit is a real `python -m doit -f dodo.py ... exp=SPEC` subprocess; its peak RSS is recorded.
Nothing is asserted about timings: the table marks each budget met or not met.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from common import REPO, checkout, doit, machine, stat_walk

MAKE_TREE = REPO / "benchmarks" / "make_tree.py"
BARE_GRAPH = REPO / "benchmarks" / "bare_graph.py"
BUDGET_SIZE = (1130, 3)                        # the budgets are for 1,130 runs x 3 judges
REGENERATED = {"run", "subtest", "tier", "experiment", "analysis"}   # what may run once run_result.json files are gone
P5_RUNS, P5_AGENT_DELAY = 16, 1


# ---------------------------------------------------------------- experiments

@dataclass
class Tree:
    spec: Path
    root: Path
    runs: int
    judges: int
    run_results: list[Path] = field(default_factory=list)   # filled in by measure_tree
    files: int = 0                                           # idem
    bare: Path | None = None                                 # idem: its graph as a plain dodo.py

    @property
    def size(self) -> str:
        return f"{self.runs:,} × {self.judges}"


def load_tree(spec: Path) -> Tree:
    from scylla.spec import load_experiment
    exp = load_experiment(spec)
    return Tree(spec, exp.root, len(exp.all_subtests()) * exp.runs, len(exp.judges))


def kept_tree(dest: Path, build: Callable[[Path], Path]) -> Tree:
    """The experiment in `dest`, built by `build(dest) -> spec` unless a finished build is there."""
    marker = dest / "SPEC"                   # written last: a half-built tree is rebuilt
    if marker.exists() and Path(marker.read_text()).exists():
        print(f"reusing {dest}", file=sys.stderr, flush=True)
        return load_tree(Path(marker.read_text()))
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    print(f"building {dest} ...", file=sys.stderr, flush=True)
    spec = build(dest)
    marker.write_text(str(spec))
    return load_tree(spec)


def synthetic(runs: int, judges: int) -> Callable[[Path], Path]:
    """make_tree.py in a child process (it holds the experiment lock and chdirs while it builds)."""
    def build(dest: Path) -> Path:
        out = subprocess.run([sys.executable, str(MAKE_TREE), "--runs", str(runs), "--judges", str(judges),
                              "--dest", str(dest)], check=True, capture_output=True, text=True)
        return Path(out.stdout.strip().splitlines()[-1])
    return build


def hello(dest: Path) -> Path:
    """examples/hello, completed by doit (10 runs x 2 judges; for trying this script out quickly)."""
    spec = checkout(dest)
    doit(spec)
    return spec


def parallel_experiment(dest: Path) -> Path:
    """A fresh examples/hello with 16 runs (T0's two subtests x 8) whose agent sleeps 1 s, one pipeline
    judge, and a fixture language with no pipeline (every step N/A), so orchestration is what is timed."""
    spec = checkout(dest)
    test_yaml = spec.parent / "fixture" / "test.yaml"
    test_yaml.write_text(test_yaml.read_text().replace("language: python", "language: none"))
    data = yaml.safe_load(spec.read_text())
    data.update(tiers={"T0": "all"}, runs=P5_RUNS // 2, judges=[{"adapter": "pipeline"}],
                concurrency={"agents": P5_RUNS, "judges": P5_RUNS})
    data["agent"]["command"] = f"SCYLLA_EXAMPLE_AGENT_DELAY={P5_AGENT_DELAY} {data['agent']['command']}"
    spec.write_text(yaml.safe_dump(data, sort_keys=False))
    assert load_tree(spec).runs == P5_RUNS
    return spec


BARE_DODO = """\
import os, shutil, subprocess

def task_agent():
    for i in range({runs}):
        yield {{"name": str(i), "actions": [(run, [str(i)])], "verbosity": 0}}

def run(name):
    shutil.copytree({repo!r}, name)
    env = {{**os.environ, "SCYLLA_PYTHON": {python!r}, "SCYLLA_SPEC_DIR": {spec_dir!r}}}
    return subprocess.run(["bash", "-c", {command!r}], cwd=name, env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0
"""


def bare_dodo(dest: Path) -> Path:
    """A dodo.py whose P5_RUNS tasks each run the P5 agent command in a copy of the fixture repository."""
    spec = parallel_experiment(dest)
    command = yaml.safe_load(spec.read_text())["agent"]["command"]
    dodo = dest / "bare_dodo.py"
    dodo.write_text(BARE_DODO.format(runs=P5_RUNS, repo=str(spec.parent / "repo"), python=sys.executable,
                                     spec_dir=str(spec.parent), command=command))
    return dodo


# ---------------------------------------------------------------- measurements

@dataclass
class Samples:
    seconds: list[float] = field(default_factory=list)
    rss_mib: list[float] = field(default_factory=list)

    def add(self, seconds: float, rss_mib: float | None = None) -> None:
        self.seconds.append(seconds)
        if rss_mib is not None:
            self.rss_mib.append(rss_mib)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak_rss(self) -> float | None:
        return max(self.rss_mib, default=None)


def basenames(tasks: list[str]) -> set[str]:
    return {t.split(":", 1)[0] for t in tasks}


PEER_STATUS = "0.61–0.69 s"        # whole process, as measured for issue 14 (not on this machine)


def measure_walk(tree: Tree) -> tuple[float, None]:
    seconds, _ = stat_walk(tree.root)
    return seconds, None


def measure_list(tree: Tree) -> tuple[float, float]:
    run = doit(tree.spec, "list", "--all", "--status")
    return run.seconds, run.rss_mib


def measure_status(tree: Tree) -> tuple[float, float]:
    run = doit(tree.spec, "status")
    assert "Next `doit`: 0 tasks to run" in run.stdout, f"status on the complete tree: {run.stdout[-2000:]}"
    return run.seconds, run.rss_mib


def measure_noop(tree: Tree) -> tuple[float, float]:
    run = doit(tree.spec)
    assert not run.executed, f"the no-op doit executed {len(run.executed)} tasks: {run.executed[:5]}"
    return run.seconds, run.rss_mib


def measure_regenerate(tree: Tree) -> tuple[float, float]:
    for path in tree.run_results:
        path.unlink()
    run = doit(tree.spec)
    ran_runs = [t for t in run.executed if t.startswith("run:")]
    assert basenames(run.executed) <= REGENERATED, f"regenerating ran {basenames(run.executed) - REGENERATED}"
    assert len(ran_runs) == tree.runs, f"{len(ran_runs)} run: tasks ran, expected {tree.runs}"
    assert all(p.exists() for p in tree.run_results), "a run_result.json was not regenerated"
    return run.seconds, run.rss_mib


def measure_bare_list(tree: Tree) -> tuple[float, float]:
    assert tree.bare is not None, "the tree was made without its bare dodo.py"
    run = doit(tree.spec, "-d", str(tree.root), "list", "--all", "--status", dodo=tree.bare)
    return run.seconds, run.rss_mib


def measure_bare_noop(tree: Tree) -> tuple[float, float]:
    assert tree.bare is not None, "the tree was made without its bare dodo.py"
    run = doit(tree.spec, "-d", str(tree.root), dodo=tree.bare)
    assert not run.executed, f"the bare no-op doit executed {len(run.executed)} tasks: {run.executed[:5]}"
    return run.seconds, run.rss_mib


BEFORE: Path | None = None         # --before: a checkout of another revision, measured beside this one


def measure_before(*args: str, check=None):
    """One of the checks above with --before's code (its dodo.py and its scylla package first on the path)."""
    def measure(tree: Tree) -> tuple[float, float]:
        assert BEFORE is not None
        run = doit(tree.spec, *args, dodo=BEFORE / "dodo.py", env={"PYTHONPATH": str(BEFORE)})
        if check:
            check(run)
        return run.seconds, run.rss_mib
    return measure


def _executed_nothing(run) -> None:
    assert not run.executed, f"the no-op doit of --before executed {len(run.executed)} tasks: {run.executed[:5]}"


BEFORE_MEASURES = {"before_list": measure_before("list", "--all", "--status"),
                   "before_status": measure_before("status"),
                   "before_noop": measure_before(check=_executed_nothing)}

MEASURES = {"walk": measure_walk, "list": measure_list, "status": measure_status, "bare_list": measure_bare_list,
            "noop": measure_noop,
            "bare_noop": measure_bare_noop, "regenerate": measure_regenerate}


def bare_graph(tree: Tree) -> Path:
    """benchmarks/bare_graph.py's dodo.py for `tree`, its DB filled by one `doit` over the complete tree."""
    out = subprocess.run([sys.executable, str(BARE_GRAPH), str(tree.spec), str(tree.spec.parent / "bare-doit")],
                         check=True, capture_output=True, text=True)
    dodo = Path(out.stdout.strip().splitlines()[-1])
    doit(tree.spec, "-d", str(tree.root), dodo=dodo)
    return dodo


def measure_tree(tree: Tree, repeat: int) -> dict[str, Samples]:
    """A warm-up round, then `repeat` rounds of every measure, interleaved."""
    tree.run_results = sorted(p for p in tree.root.rglob("run_result.json")
                              if not any(part.startswith(".") for part in p.relative_to(tree.root).parts))
    assert len(tree.run_results) == tree.runs, f"{len(tree.run_results)} run_result.json for {tree.runs} runs"
    tree.files = stat_walk(tree.root)[1]
    warm = doit(tree.spec)
    tree.bare = bare_graph(tree)
    if warm.executed:
        print(f"note: the warm-up doit on {tree.size} executed {len(warm.executed)} tasks", file=sys.stderr)
    measures = {**MEASURES, **(BEFORE_MEASURES if BEFORE else {})}
    samples = {name: Samples() for name in measures}
    for round_number in range(repeat + 1):
        print(f"  {tree.size}: round {round_number}/{repeat}", file=sys.stderr, flush=True)
        for name, measure in measures.items():
            result = measure(tree)
            if round_number:                 # round 0 is the warm-up
                samples[name].add(*result)
    return samples


P5_MODES = {"serial": ("-n", "1"), "parallel": ("-n", "8", "-P", "thread")}


def measure_parallel(repeat: int) -> dict[tuple[bool, str], Samples]:
    """P5: each measurement on its own fresh experiment; Scylla and the bare dodo.py interleaved."""
    samples = {(bare, mode): Samples() for bare in (False, True) for mode in P5_MODES}
    for i in range(repeat):
        for (bare, mode), measured in samples.items():
            print(f"  P5 {'bare ' * bare}{mode} {i + 1}/{repeat}", file=sys.stderr, flush=True)
            with tempfile.TemporaryDirectory() as tmp:
                run = doit(Path(tmp), *P5_MODES[mode], dodo=bare_dodo(Path(tmp))) if bare else \
                    doit(parallel_experiment(Path(tmp)), *P5_MODES[mode])
            agents = [t for t in run.executed if t.startswith("agent:")]
            assert len(agents) == P5_RUNS, f"{len(agents)} agents ran, expected {P5_RUNS}"
            measured.add(run.seconds, run.rss_mib)
    return samples


# ---------------------------------------------------------------- the table

@dataclass
class Row:
    check: str
    what: str
    size: str = ""
    value: str = ""
    per_run: str = ""
    rss: str = ""
    samples: str = ""
    budget: str = ""
    status: str = ""


COLUMNS = ("check", "what", "runs × judges", "median", "per run", "peak RSS", "samples", "budget", "status")


def seconds(s: float) -> str:
    return f"{s * 1e6:.0f} µs" if s < 1e-3 else f"{s * 1e3:.1f} ms" if s < 1 else f"{s:.2f} s"


def mib(value: float | None) -> str:
    return "" if value is None else f"{value:.0f} MiB"


def verdict(ok: bool | None) -> str:
    return "—" if ok is None else "met" if ok else "**not met**"


def tree_rows(tree: Tree, samples: dict[str, Samples]) -> list[Row]:
    at_budget = (tree.runs, tree.judges) == BUDGET_SIZE
    walk, listing = samples["walk"].median, samples["list"].median

    def timed(check: str, what: str, name: str, budget: float | None = None) -> Row:
        s = samples[name]
        return Row(check, what, tree.size, seconds(s.median), seconds(s.median / tree.runs),
                   mib(s.peak_rss), f"median of {len(s.seconds)}", "" if budget is None else f"≤ {budget:g} s",
                   "" if budget is None else verdict(s.median <= budget if at_budget else None))

    return [
        timed("P1", f"raw os.stat walk of the results root ({tree.files:,} files, in-process)", "walk"),
        timed("P1", "`doit list --all --status`", "list", 0.5),
        Row("P1", "list --status ÷ stat walk", tree.size, f"{listing / walk:.1f}x", budget="≤ 3x (aim)",
            status=verdict(listing / walk <= 3 if at_budget else None)),
        timed("P1", "the same graph in doit out of the box†: `doit list --all --status`", "bare_list"),
        timed("P1", "`doit status` (the whole report: table, runs, judges, forecast)", "status"),
        Row("P1", "doit status ÷ stat walk", tree.size, f"{samples['status'].median / walk:.1f}x"),
        Row("P1", f"peer: ProjectScylla's own classification of a 1,120-run tree ({PEER_STATUS}, another "
            f"machine, issue 14)", "1,120 × 3", PEER_STATUS),
        timed("P2", "no-op `doit` (executes nothing)", "noop", 1),
        timed("P2", "the same graph in doit out of the box†: no-op `doit`", "bare_noop"),
        timed("P3", f"`doit` after deleting all {tree.runs:,} run_result.json (only run: and aggregates run)",
              "regenerate", 1),
    ] + (before_rows(tree, samples, timed) if "before_list" in samples else [])


def before_rows(tree: Tree, samples: dict[str, Samples], timed) -> list[Row]:
    """The same checks with --before's code, and this code's time as a ratio of it (below 1: faster now)."""
    label = f"--before {before_revision()}"
    rows = []
    for ours, theirs, what in (("list", "before_list", "`doit list --all --status`"),
                               ("status", "before_status", "`doit status`"), ("noop", "before_noop", "no-op `doit`")):
        rows.append(timed("B", f"{label}: {what}", theirs))
        rows.append(Row("B", f"{what}: this code ÷ {label}", tree.size,
                        f"{samples[ours].median / samples[theirs].median:.2f}x"))
    return rows


def before_revision() -> str:
    assert BEFORE is not None
    done = subprocess.run(["git", "-C", str(BEFORE), "log", "-1", "--format=%h"], capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or str(BEFORE)


def linearity_rows(results: list[tuple[Tree, dict[str, Samples]]]) -> list[Row]:
    """P4: per-run cost at each larger N against the smallest N."""
    names = {"list": "`doit list --all --status`", "noop": "no-op `doit`", "regenerate": "regenerate run_result.json"}
    if len(results) < 2:
        return [Row("P4", "per-run cost across sizes (needs two or more --runs)", budget="within ±20 %")]
    (small, small_samples), rows = results[0], []
    for big, big_samples in results[1:]:
        for name, what in names.items():
            change = (big_samples[name].median / big.runs) / (small_samples[name].median / small.runs) - 1
            rows.append(Row("P4", f"per-run cost of {what}, {big.runs:,} vs {small.runs:,} runs",
                            f"{big.size} vs {small.size}", f"{change:+.0%}", budget="within ±20 %",
                            status=verdict(abs(change) <= 0.20)))
    return rows


def parallel_rows(samples: dict[tuple[bool, str], Samples]) -> list[Row]:
    size, rows = f"{P5_RUNS} × 1 (fresh)", []
    for bare, label in ((False, ""), (True, "bare dodo.py, no Scylla: ")):
        serial, parallel = samples[bare, "serial"], samples[bare, "parallel"]
        note = f"median of {len(serial.seconds)}, fresh each"
        speedup = serial.median / parallel.median
        rows += [
            Row("P5", f"{label}`doit -n 1`, agent sleeps {P5_AGENT_DELAY} s", size, seconds(serial.median),
                seconds(serial.median / P5_RUNS), mib(serial.peak_rss), note),
            Row("P5", f"{label}`doit -n 8 -P thread`, agent sleeps {P5_AGENT_DELAY} s", size,
                seconds(parallel.median), seconds(parallel.median / P5_RUNS), mib(parallel.peak_rss), note),
            Row("P5", f"{label}speedup = serial ÷ parallel", size, f"{speedup:.1f}x",
                budget="" if bare else "≥ 6x", status="" if bare else verdict(speedup >= 6)),
        ]
    return rows


def markdown(rows: list[Row]) -> str:
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for row in rows:
        cells = (row.check, row.what, row.size, row.value, row.per_run, row.rss, row.samples, row.budget, row.status)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


# ---------------------------------------------------------------- main

def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, nargs="+", default=[1130, 10000], help="experiment sizes N (runs)")
    parser.add_argument("--judges", type=int, default=3, help="judge slots per run")
    parser.add_argument("--repeat", type=int, default=5, help="repetitions for P1-P3 (medians)")
    parser.add_argument("--p5-repeat", type=int, default=5, help="fresh experiments per P5 mode (slow)")
    parser.add_argument("--keep", type=Path, help="build trees here and reuse the ones already built")
    parser.add_argument("--skip-p5", action="store_true", help="skip the parallel-speedup measurement")
    parser.add_argument("--only-p5", action="store_true", help="measure P5 only (no trees are built)")
    parser.add_argument("--before", type=Path, help="a checkout of another revision: P1/P2 and doit status are "
                        "measured with its code too, interleaved with this code's (rows B)")
    parser.add_argument("--hello", action="store_true", help=argparse.SUPPRESS)   # examples/hello instead of --runs
    return parser.parse_args()


def main() -> None:
    global BEFORE
    args = parse_args()
    BEFORE = args.before.resolve() if args.before else None
    with ExitStack() as stack:
        base = args.keep.resolve() if args.keep else Path(stack.enter_context(tempfile.TemporaryDirectory()))
        builds = ([] if args.only_p5 else [(base / "hello", hello)] if args.hello else
                  [(base / f"tree-{n}x{args.judges}", synthetic(n, args.judges)) for n in sorted(set(args.runs))])
        results = []
        for dest, build in builds:
            tree = kept_tree(dest, build)
            results.append((tree, measure_tree(tree, args.repeat)))
        rows = [row for tree, samples in results for row in tree_rows(tree, samples)]
        rows += linearity_rows(results) if builds else []
        if not args.skip_p5:
            rows += parallel_rows(measure_parallel(args.p5_repeat))
    print(f"machine: {machine()}")
    print(f"command: python {shlex.join(sys.argv)}")
    print()
    print(markdown(rows))
    print()
    print(f"Budgets are the issue's, for {BUDGET_SIZE[0]:,} runs × {BUDGET_SIZE[1]} judges: P1-P3 are marked only "
          "at that size (— elsewhere); P4 and P5 at any size. Times are wall seconds of the whole `python -m doit` "
          "process (medians after a warm-up round); peak RSS is the highest of its samples.")
    print("† benchmarks/bare_graph.py: a plain dodo.py with Scylla's tasks, targets and file_deps (sealed inputs "
          "as file_deps), actions that do nothing, doit's own DB and md5 checker: what doit itself costs to "
          "check this graph, without Scylla.")


if __name__ == "__main__":
    main()
