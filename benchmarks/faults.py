"""Randomised fault trials: interrupt real `doit` runs of examples/hello the ways users and CI do, then
recover with a plain `doit`, and count what must never happen.

    python benchmarks/faults.py --trials 40 --seed 1 [--keep DIR]

Each trial copies the example, starts `doit -n 4 -P <thread|process>` with slow scripted agents, and at a
random moment sends SIGKILL, SIGTERM or SIGINT to doit's PID alone or to its whole process group (a
`kill PID`, a CI timeout, a Ctrl-C). Then it checks, and the table shows per trial:

  exit     doit's exit status (128 + the signal when it could say it was interrupted)
  hang     doit still running 20 s after the signal (then killed)
  left     processes still running in the tree 10 s later (agents by pid, workers, anything with its cwd there)
  dirs     scratch directories of that doit left in $TMPDIR
  torn     JSON files in the tree that do not parse
  repaid   agent runs or judgments sealed before the signal that the recovery `doit` called again
  same     the recovered tree's patches and verdicts equal a clean run's

A trial is bad when it hangs, leaves anything, tears a file, pays again or ends different. The last
line counts bad trials; the exit status is 1 if there was any. tests/test_benchmarks.py runs a few
trials with a fixed seed.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from common import REPO, checkout, experiment_root

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)


@dataclass
class Trial:
    number: int
    mode: str
    sig: signal.Signals
    group: bool
    after: float
    exit: int | None = None
    hang: bool = False
    left: int = 0
    dirs: int = 0
    torn: int = 0
    repaid: int = 0
    same: bool = False

    @property
    def bad(self) -> bool:
        return self.hang or self.left or self.dirs or self.torn or self.repaid or not self.same

    def row(self) -> str:
        target = "group" if self.group else "PID"
        return (f"| {self.number} | -P {self.mode} | {self.sig.name} to {target} at {self.after:.1f} s | {self.exit} | "
                f"{'HANG' if self.hang else 'no'} | {self.left} | {self.dirs} | {self.torn} | {self.repaid} | "
                f"{'yes' if self.same else 'NO'} |")


def _env(work: Path, delay: float) -> dict:
    return {**os.environ, "SCYLLA_CALL_LOG": str(work / "calls.log"), "SCYLLA_EXAMPLE_AGENT_PIDS": str(work / "pids"),
            "SCYLLA_EXAMPLE_AGENT_DELAY": f"{delay:.2f}", "SCYLLA_PROGRESS": "off"}


def _doit(spec: Path, *args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args, f"exp={spec}"],
                          cwd=spec.parent, env=env, capture_output=True, text=True, timeout=900)


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _in_tree(root: Path) -> set[int]:
    found = set()
    for entry in os.scandir("/proc"):
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cwd = os.readlink(f"/proc/{entry.name}/cwd")
            except OSError:
                continue
            if (cwd + "/").startswith(f"{root}/") and _alive(int(entry.name)):
                found.add(int(entry.name))
    return found


def _calls(work: Path) -> list[str]:
    log = work / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _sealed(root: Path) -> set[str]:
    """Sealed paid work as call-log lines: `agent T0/00/run_01`, `judge T0/00/run_01 2`."""
    agents = {f"agent {p.parent.parent.relative_to(root)}" for p in root.glob("T*/*/run_*/agent/.seal.json")}
    judges = {f"judge {p.parent.parent.parent.relative_to(root)} {int(p.parent.name[6:])}"
              for p in root.glob("T*/*/run_*/judge/judge_*/.seal.json") if p.parent.name != "judge_01"}
    return agents | judges


def _verdicts(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for pattern in ("T*/*/run_*/agent/patch.diff",
                                                                      "T*/*/run_*/judge/judge_*/judgment.json")
            for p in root.glob(pattern)}


def _torn(root: Path) -> int:
    bad = 0
    for path in root.rglob("*.json"):
        try:
            json.loads(path.read_bytes())
        except ValueError:
            bad += 1
    return bad


def run_trial(trial: Trial, work: Path, reference: dict[str, bytes], rng: random.Random) -> Trial:
    spec = checkout(work)
    root = experiment_root(spec)
    env = _env(work, rng.uniform(0.5, 3))
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", "4", "-P", trial.mode,
                             f"exp={spec}"], cwd=spec.parent, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    time.sleep(trial.after)
    sealed = _sealed(root) if root.exists() else set()
    (os.killpg if trial.group else os.kill)(proc.pid, trial.sig)
    try:
        trial.exit = proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        trial.hang = True
        os.killpg(proc.pid, signal.SIGKILL)
        trial.exit = proc.wait()
    pids = [int(ln.split()[1]) for ln in (work / "pids").read_text().splitlines()] if (work / "pids").exists() else []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ([p for p in pids if _alive(p)] or _in_tree(work)):
        time.sleep(0.1)
    trial.left = len({p for p in pids if _alive(p)} | _in_tree(work))
    trial.dirs = len(list(Path(tempfile.gettempdir()).glob(f"scylla-*-{proc.pid}-*")))
    trial.torn = _torn(root) if root.exists() else 0
    before = len(_calls(work))
    done = _doit(spec, env={**env, "SCYLLA_EXAMPLE_AGENT_DELAY": "0"})
    trial.repaid = len(set(_calls(work)[before:]) & sealed)
    trial.same = done.returncode == 0 and _verdicts(root) == reference
    return trial


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--keep", type=Path, help="keep each trial's tree under this directory")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    base = args.keep or Path(tempfile.mkdtemp(prefix="scylla-faults-"))
    base.mkdir(parents=True, exist_ok=True)
    clean = checkout(base / "clean")
    _doit(clean, env=_env(base / "clean", 0)).check_returncode()
    reference = _verdicts(experiment_root(clean))
    print("| trial | workers | signal | exit | hang | left | dirs | torn | repaid | same |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for n in range(1, args.trials + 1):
        trial = Trial(n, rng.choice(("thread", "process")), rng.choice(SIGNALS), rng.random() < 0.5,
                      rng.uniform(0.5, 8))
        work = base / f"trial-{n:03d}"
        run_trial(trial, work, reference, rng)
        bad += bool(trial.bad)
        print(trial.row(), flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.trials} trials, {bad} bad (hang, process or directory left, torn file, paid again, or a "
          f"different result)")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
