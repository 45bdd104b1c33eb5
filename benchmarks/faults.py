"""Randomised fault trials on real `doit` runs of examples/hello, each recovered with a plain `doit`,
counting what must never happen.

    python benchmarks/faults.py --trials 40 --seed 1 [--kinds signal,reply,disk,readonly] [--keep DIR]

Each trial copies the example and does one of (chosen at random; `--kinds` restricts them):

  signal    `doit -n 4 -P <thread|process>` with slow scripted agents; at a random moment SIGKILL, SIGTERM or
            SIGINT to doit's PID alone or to its whole process group (a `kill PID`, a CI timeout, a Ctrl-C)
  reply     a `doit` whose second judge answers every run with a hostile reply (1 MiB of `{`, 10 MiB,
            1,000-deep nesting, a 400-digit score, random bytes)
  disk      the example on a tmpfs of a random small size: `doit` runs out of space; the tmpfs is then
            enlarged (mount, as root)
  readonly  a finished tree bind-mounted read-only: `doit status`, `doit status --json` and
            `doit list --all --status` there against the same on the writable tree (mount, as root)

then checks, and the table shows per trial:

  exit     the faulty doit's exit status (signal: 128 + the signal when it could say it was interrupted)
  hang     still running 20 s after the signal, or 10 min after starting (then killed)
  left     processes still running in the tree 10 s later (agents by pid, workers, anything with its cwd there)
  dirs     scratch directories of that doit left in $TMPDIR
  torn     JSON files in the tree that do not parse, or a Python traceback in doit's output
  repaid   agent runs or judgments finished before the fault that a later `doit` called again (reply: any
           judge call of the `doit` after)
  same     the recovered tree's patches and verdicts equal a clean run's (reply: every hostile judgment
           invalid, the rest equal; readonly: the same output, exit 0 and nothing written)

A trial is bad when it hangs, leaves anything, tears a file, pays again or ends different. The last
line counts bad trials; the exit status is 1 if there was any. tests/test_benchmarks.py runs a few
trials with a fixed seed; the same faults have their own tests (test_e2e_signals, test_e2e_hostile_replies,
test_e2e_readonly_and_full).
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

from scylla.reaper import alive, working_in

SIGNALS = (signal.SIGKILL, signal.SIGTERM, signal.SIGINT)
KINDS = ("signal", "reply", "disk", "readonly")
WEIGHTS = (6, 2, 1, 1)
MiB = 1 << 20


def hostile_replies(rng: random.Random) -> dict[str, bytes]:
    return {"1 MiB of {": b"{" * MiB, "10 MiB of prose": b"x" * (10 * MiB),
            "1,000-deep nesting": b'```json\n{"score": 0.5, "c": ' + b'{"a": ' * 1000 + b"1" + b"}" * 1001 + b"\n```",
            "a 400-digit score": b'```json\n{"score": ' + b"9" * 400 + b', "passed": true}\n```',
            "random bytes": rng.randbytes(MiB)}


@dataclass
class Trial:
    number: int
    kind: str
    detail: str = ""
    exit: int | None = None
    hang: bool = False
    left: int = 0
    dirs: int = 0
    torn: int = 0
    repaid: int = 0
    same: bool = False

    @property
    def bad(self) -> bool:
        return bool(self.hang or self.left or self.dirs or self.torn or self.repaid or not self.same)

    def row(self) -> str:
        return (f"| {self.number} | {self.kind} | {self.detail} | {self.exit} | {'HANG' if self.hang else 'no'} | "
                f"{self.left} | {self.dirs} | {self.torn} | {self.repaid} | {'yes' if self.same else 'NO'} |")


# the trials find the agents by the pids they report and check that none outlives its doit: on the host's
# PID namespace (a sandboxed agent's processes die with its namespace: tests/test_e2e_sandbox.py)
NO_PID_NAMESPACE = "none"


def _env(work: Path, delay: float = 0) -> dict:
    return {**os.environ, "SCYLLA_CALL_LOG": str(work / "calls.log"), "SCYLLA_EXAMPLE_AGENT_PIDS": str(work / "pids"),
            "SCYLLA_SANDBOX_WRITABLE": os.pathsep.join(str(work / f) for f in ("calls.log", "pids")),
            "SCYLLA_EXAMPLE_AGENT_DELAY": f"{delay:.2f}", "SCYLLA_PROGRESS": "lines"}


def _doit(spec: Path, *args: str, env: dict, timeout: float = 600) -> subprocess.CompletedProcess:
    try:
        return subprocess.run([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), *args, f"exp={spec}"],
                              cwd=spec.parent, env=env, check=False, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        # no exit status: it hung (trial.exit reads it as `returncode or 0`)
        return subprocess.CompletedProcess(exc.cmd, None, exc.stdout or "", exc.stderr or "")  # type: ignore[arg-type]


def _leftovers(trial: Trial, work: Path, doit_pid: int | None) -> None:
    pids = [int(ln.split()[1]) for ln in (work / "pids").read_text().splitlines()] if (work / "pids").exists() else []
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ([p for p in pids if alive(p)] or working_in(work)):
        time.sleep(0.1)
    trial.left = len({p for p in pids if alive(p)} | working_in(work))
    if doit_pid:
        trial.dirs = len(list(Path(tempfile.gettempdir()).glob(f"scylla-*-{doit_pid}-*")))


def _calls(work: Path) -> list[str]:
    log = work / "calls.log"
    return log.read_text().splitlines() if log.exists() else []


def _sealed(root: Path) -> set[str]:
    """Sealed paid work as call-log lines: `agent T0/00/run_01`, `judge T0/00/run_01 2`."""
    if not root.exists():
        return set()
    agents = {f"agent {p.parent.parent.relative_to(root)}" for p in root.glob("T*/*/run_*/agent/.seal.json")}
    judges = {f"judge {p.parent.parent.parent.relative_to(root)} {int(p.parent.name[6:])}"
              for p in root.glob("T*/*/run_*/judge/judge_*/.seal.json") if p.parent.name != "judge_01"}
    return agents | judges


def _verdicts(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for pattern in ("T*/*/run_*/agent/patch.diff",
                                                                      "T*/*/run_*/judge/judge_*/judgment.json")
            for p in root.glob(pattern)}


def _torn(root: Path, *outputs: str) -> int:
    bad = sum("Traceback (most recent call last)" in (o or "") for o in outputs)
    for path in root.rglob("*.json") if root.exists() else ():
        try:
            json.loads(path.read_bytes())
        except ValueError:
            bad += 1
    return bad


def _recover(trial: Trial, spec: Path, work: Path, sealed: set[str], reference: dict[str, bytes]) -> None:
    root = experiment_root(spec)
    before = len(_calls(work))
    done = _doit(spec, env=_env(work))
    trial.repaid = len(set(_calls(work)[before:]) & sealed)
    trial.same = done.returncode == 0 and _verdicts(root) == reference


# ---------------------------------------------------------------- the kinds of trial

def signal_trial(trial: Trial, work: Path, reference: dict[str, bytes], rng: random.Random) -> None:
    mode, sig, group, after = rng.choice(("thread", "process")), rng.choice(SIGNALS), rng.random() < 0.5, \
        rng.uniform(0.5, 8)
    trial.detail = f"-P {mode}, {sig.name} to {'group' if group else 'PID'} at {after:.1f} s"
    spec = checkout(work, sandbox=NO_PID_NAMESPACE)
    root = experiment_root(spec)
    proc = subprocess.Popen([sys.executable, "-m", "doit", "-f", str(REPO / "dodo.py"), "-n", "4", "-P", mode,
                             f"exp={spec}"], cwd=spec.parent, env=_env(work, rng.uniform(0.5, 3)), text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(after)
    sealed = _sealed(root)
    (os.killpg if group else os.kill)(proc.pid, sig)
    try:
        out, err = proc.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        trial.hang = True
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
    trial.exit = proc.returncode
    _leftovers(trial, work, proc.pid)
    trial.torn = _torn(root, out, err)
    _recover(trial, spec, work, sealed, reference)


def reply_trial(trial: Trial, work: Path, reference: dict[str, bytes], rng: random.Random) -> None:
    name, data = rng.choice(sorted(hostile_replies(rng).items()))
    trial.detail = f"judge 2 replies {name}"
    spec = checkout(work, sandbox=NO_PID_NAMESPACE)
    root = experiment_root(spec)
    (work / "reply").write_bytes(data)
    done = _doit(spec, "-n", "2", env={**_env(work), "SCYLLA_EXAMPLE_JUDGE_REPLY_FILE": str(work / "reply")})
    trial.exit, trial.hang = done.returncode, done.returncode is None
    _leftovers(trial, work, None)
    trial.torn = _torn(root, done.stdout, done.stderr)
    before = len(_calls(work))
    again = _doit(spec, env=_env(work))
    trial.repaid = sum(c.startswith("judge ") for c in _calls(work)[before:])
    verdicts = _verdicts(root)
    invalid = all(json.loads(v).get("is_valid") is False for k, v in verdicts.items() if "/judge_02/" in k)
    trial.same = again.returncode == 0 and invalid and \
        {k: v for k, v in verdicts.items() if "/judge_02/" not in k} == \
        {k: v for k, v in reference.items() if "/judge_02/" not in k}


def _mount(*args: str) -> bool:
    return subprocess.run(["mount", *args], check=False, capture_output=True).returncode == 0


def disk_trial(trial: Trial, work: Path, reference: dict[str, bytes], rng: random.Random) -> None:
    size = rng.randint(600, 2600)           # KiB: the example's finished tree takes ~2.5 MiB
    trial.detail = f"tmpfs of {size} KiB, then 256 MiB"
    work.mkdir(parents=True)
    if not _mount("-t", "tmpfs", "-o", f"size={size}k", "tmpfs", str(work)):
        trial.detail += " (mount not permitted: skipped)"
        trial.same = True
        return
    try:
        spec = checkout(work, sandbox=NO_PID_NAMESPACE)
        root = experiment_root(spec)
        done = _doit(spec, env=_env(work))
        trial.exit, trial.hang = done.returncode, done.returncode is None
        _leftovers(trial, work, None)
        trial.torn = _torn(root, done.stdout, done.stderr)
        sealed = _sealed(root)
        _mount("-o", "remount,size=256m", str(work))
        _recover(trial, spec, work, sealed, reference)
    finally:
        subprocess.run(["umount", "-l", str(work)], check=False, capture_output=True)


def readonly_trial(trial: Trial, work: Path, reference: dict[str, bytes], rng: random.Random,
                   finished: Path) -> None:
    trial.detail = "status, status --json, list --all --status"
    commands = [("status",), ("status", "--json"), ("list", "--all", "--status")]
    writable = [_doit(finished, *c, env=_env(work)) for c in commands]
    shutil.copytree(finished.parents[2], work / "ro", symlinks=True)
    spec = work / "ro" / finished.relative_to(finished.parents[2])
    before = _verdicts(experiment_root(spec))
    if not (_mount("--bind", str(work / "ro"), str(work / "ro")) and
            _mount("-o", "remount,bind,ro", str(work / "ro"))):
        trial.detail += " (mount not permitted: skipped)"
        trial.same = True
        return
    try:
        ro = [_doit(spec, *c, env=_env(work)) for c in commands]
    finally:
        subprocess.run(["umount", "-l", str(work / "ro")], check=False, capture_output=True)
    trial.exit = max(r.returncode or 0 for r in ro)
    trial.torn = sum(_torn(Path("/nonexistent"), r.stdout, r.stderr) for r in ro)
    same_output = [(r.returncode, r.stdout.replace(str(work / "ro"), "")) for r in ro] == \
        [(w.returncode, w.stdout.replace(str(finished.parents[2]), "")) for w in writable]
    trial.same = trial.exit == 0 and same_output and _verdicts(experiment_root(spec)) == before == reference


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=40)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--kinds", default=",".join(KINDS), help="comma-separated, of: " + ", ".join(KINDS))
    ap.add_argument("--keep", type=Path, help="keep each trial's tree under this directory")
    args = ap.parse_args()
    kinds = [k for k in args.kinds.split(",") if k]
    if unknown := set(kinds) - set(KINDS):
        ap.error(f"unknown kind(s): {', '.join(sorted(unknown))}")
    rng = random.Random(args.seed)
    base = args.keep or Path(tempfile.mkdtemp(prefix="scylla-faults-"))
    base.mkdir(parents=True, exist_ok=True)
    clean = checkout(base / "clean")
    _doit(clean, env=_env(base / "clean")).check_returncode()
    reference = _verdicts(experiment_root(clean))
    print("| trial | kind | fault | exit | hang | left | dirs | torn | repaid | same |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    bad = 0
    for n in range(1, args.trials + 1):
        kind = rng.choices(kinds, [WEIGHTS[KINDS.index(k)] for k in kinds])[0]
        trial, work = Trial(n, kind), base / f"trial-{n:03d}"
        if kind == "readonly":
            readonly_trial(trial, work, reference, rng, clean)
        else:
            {"signal": signal_trial, "reply": reply_trial, "disk": disk_trial}[kind](trial, work, reference, rng)
        bad += bool(trial.bad)
        print(trial.row(), flush=True)
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    print(f"\n{args.trials} trials, {bad} bad (hang, process or directory left, torn file or traceback, paid "
          f"again, or a different result)")
    if not args.keep:
        shutil.rmtree(base, ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
