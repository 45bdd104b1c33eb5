"""The progress reporter in captured (non-TTY) `doit` runs: progress lines and totals on stderr, stdout
unchanged (one `.  TASK` line per executed task, doit's failure reports)."""

from __future__ import annotations

import re

LINE = re.compile(r"^\[scylla\] (\d+)/(\d+) tasks · (\d+) failed · \$[\d.]+ spent · [\d:]+ elapsed", re.MULTILINE)


def test_a_full_run_reports_the_plan_progress_and_totals(completed):
    _, first, second = completed                           # the README's `doit` on a fresh tree, then a no-op
    assert len(first.executed) == 159 and "[scylla]" not in first.stdout
    assert "[scylla] plan: 159 tasks to run (10 agent, 10 pipeline, 20 judge)" in first.stderr
    progress = [(int(d), int(t)) for d, t, _ in LINE.findall(first.stderr)]
    assert len(progress) >= 5 and all(t == 159 for _, t in progress)
    assert [d for d, _ in progress] == sorted(d for d, _ in progress) and progress[-1][0] == 159
    assert "agent 10/10" in first.stderr and "judge 20/20" in first.stderr
    final = first.stderr.strip().splitlines()[-1]
    assert re.match(r"\[scylla\] finished in [\d:]+: 159 tasks ran \(preflight 1, setup 1, baseline 1, "
                    r"subtest_config 5, agent 10, .*\), 0 failed, 0 up to date · \$0\.30 spent on agents and judges$", final), final
    # nothing to do: no plan is computed (runplan.py), the totals are the only line
    assert second.executed == [] and len(second.stderr.strip().splitlines()) == 1
    assert second.stderr.startswith("[scylla] finished in 0:00: 0 tasks ran, 0 failed, 159 up to date")


def _one_failing_judge(hello, **env):
    (hello.root / "T0/00/run_01/judge/judge_02/.seal.json").unlink()       # re-judge it on purpose
    return hello.doit("--continue", check=False, env={"SCYLLA_EXAMPLE_JUDGE_FAIL": "T0/00/run_01", **env})


def test_a_failure_is_reported_not_hidden(hello, tmp_path):
    scratch = tmp_path / "tmp"                              # where the run plan dry-runs cheap tasks
    scratch.mkdir()
    run = _one_failing_judge(hello, TMPDIR=str(scratch))
    assert list(scratch.iterdir()) == []
    assert run.returncode != 0 and run.executed == ["judge:T0/00/run_01/judge_02"]
    assert "taskid:judge:T0/00/run_01/judge_02" in run.stdout and "infrastructure failure" in run.stdout
    assert len(re.findall(r"^\[scylla\] 1/\d+ tasks · 1 failed", run.stderr, re.MULTILINE)) == 1, run.stderr
    final = run.stderr.strip().splitlines()[-1]
    assert "1 tasks ran (judge 1), 1 failed" in final and "not run (a dependency failed)" in final
    assert final.endswith("· failed: judge:T0/00/run_01/judge_02")


def test_on_a_terminal_a_bar_is_redrawn_in_place(hello):
    run = _one_failing_judge(hello, SCYLLA_PROGRESS="bar")
    assert "\x1b[K[scylla] [" in run.stderr and "1 failed" in run.stderr      # (\r reads as \n here)
    assert "\x1b[K[scylla] finished in" in run.stderr                   # the bar is cleared before the totals
    assert run.executed == ["judge:T0/00/run_01/judge_02"]
