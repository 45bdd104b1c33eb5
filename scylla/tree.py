"""The one place that knows every artifact path of an experiment tree.

Paths are relative to the experiment root (`<results>/<experiment_id>`), which is doit's working
directory while the experiment runs: doit's DB keys are then relative, so a tree copied to another
path (or machine) stays up to date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property

from . import context

STATE_DIR = ".scylla"
DB_FILE = f"{STATE_DIR}/doit.db"
RUN_LOCK = f"{STATE_DIR}/run.lock"
CONFIG = "config"
EXPERIMENT_JSON = f"{CONFIG}/experiment.json"
PROMPT = "prompt.md"
RUBRIC = "rubric.yaml"
CRITERIA = "criteria.md"
JUDGE_SYSTEM_PROMPT = f"{CONFIG}/judge_system_prompt.md"
BASELINE = "pipeline_baseline.json"
BASELINE_DIR = "baseline"
REPOS_DIR = f"{STATE_DIR}/repos"
WORKSPACES_DIR = f"{STATE_DIR}/workspaces"
LOCKS_DIR = f"{STATE_DIR}/locks"
PREFLIGHT = f"{STATE_DIR}/preflight.json"
# an adopted ProjectScylla tree: its original files (hard links), and the derived ones adoption kept
# (not in .scylla/: it survives the loss of doit's DB, when every derived task runs again)
ORIGINALS = f"{STATE_DIR}/originals"
ADOPTED_DERIVED = "adopted_derived.json"

REPORT_FILES = ("report.md", "report.json")
# the drill-down HTML report (analysis/report.py): its index, then a page per subtest and per run below
HTML_REPORT_DIR = "analysis/report"
HTML_REPORT = f"{HTML_REPORT_DIR}/index.html"
AGENT_RAW = ("prompt.md", "replay.sh", "stdout.log", "stderr.log", "output.txt", "command_log.json",
             "timing.json", "MODEL.md", "patch.diff", "workspace_state.json")
JUDGE_CALL = "call.json"        # what only the judge call knows: cost, attempts, whether a verdict was parsed
JUDGE_RAW = ("response.txt", JUDGE_CALL, "stdout.log", "timing.json", "MODEL.md", "replay.sh")


# Run directories live under the root, except in an adopted ProjectScylla tree (`runs_dir: ..` or
# `../completed`), where Scylla's own files sit in a root of their own beside ProjectScylla's
# (context.RunContext.runs_dir).

def in_outer_runs_dir(path: str) -> bool:
    """Whether `path` (relative to the root) is in an adopted tree's runs directory outside the root."""
    prefix = context.CURRENT.runs_prefix
    return prefix.startswith("../") and path.startswith(prefix) and re.match(r"T\d+/", path[len(prefix):]) is not None


def run_name(n: int) -> str:
    return f"run_{n:02d}"


@dataclass(frozen=True)
class SubtestPaths:
    tier: str
    subtest: str

    @property
    def dir(self) -> str:
        return f"{self.tier}/{self.subtest}"

    @property
    def result(self) -> str:
        return f"{self.dir}/result.json"

    @property
    def manifest(self) -> str:
        return f"{self.dir}/config_manifest.json"

    @property
    def config_dir(self) -> str:
        """Files copied into every workspace of this subtest (CLAUDE.md, .claude/...)."""
        return f"{self.dir}/config"

    @property
    def runs_dir(self) -> str:
        """Where this subtest's run directories (and their .failed/ archive) live."""
        return f"{context.CURRENT.runs_prefix}{self.dir}"

    @property
    def failed_dir(self) -> str:
        return f"{self.runs_dir}/.failed"

    @property
    def superseded_dir(self) -> str:
        return f"{self.runs_dir}/.superseded"

    def reports(self) -> list[str]:
        return [f"{self.dir}/{f}" for f in REPORT_FILES]

    @property
    def html_dir(self) -> str:
        """Its pages in the HTML report: index.html and one per run."""
        return f"{HTML_REPORT_DIR}/{self.dir}"

    def run(self, n: int) -> RunPaths:
        return RunPaths(self.tier, self.subtest, n)


@dataclass(frozen=True)
class RunPaths:
    tier: str
    subtest: str
    number: int

    # cached: a status check of 10,000 runs asks for these ~100,000 times (run_dir is set before any use)
    @cached_property
    def id(self) -> str:
        return f"{self.tier}/{self.subtest}/{run_name(self.number)}"

    @cached_property
    def dir(self) -> str:
        return f"{context.CURRENT.runs_prefix}{self.id}"

    @property
    def subtest_paths(self) -> SubtestPaths:
        return SubtestPaths(self.tier, self.subtest)

    @property
    def html_page(self) -> str:
        """Its page in the HTML report."""
        return f"{self.subtest_paths.html_dir}/{run_name(self.number)}.html"

    @property
    def agent_dir(self) -> str:
        return f"{self.dir}/agent"

    def agent(self, name: str) -> str:
        return f"{self.agent_dir}/{name}"

    @property
    def agent_result(self) -> str:
        return self.agent("result.json")

    @property
    def commands_dir(self) -> str:
        return f"{self.dir}/commands"

    @property
    def pipeline(self) -> str:
        return f"{self.commands_dir}/pipeline.json"

    @property
    def judge_prompt(self) -> str:
        return f"{self.dir}/judge_prompt.md"

    @property
    def judge_root(self) -> str:
        return f"{self.dir}/judge"

    def judge_dir(self, slot: int) -> str:
        return f"{self.judge_root}/judge_{slot:02d}"

    def judge(self, slot: int, name: str) -> str:
        return f"{self.judge_dir(slot)}/{name}"

    @property
    def consensus(self) -> str:
        return f"{self.judge_root}/result.json"

    @property
    def run_result(self) -> str:
        return f"{self.dir}/run_result.json"

    def reports(self) -> list[str]:
        return [f"{self.dir}/{f}" for f in REPORT_FILES]

    @property
    def workspace(self) -> str:
        return f"{WORKSPACES_DIR}/{self.tier}-{self.subtest}-{run_name(self.number)}"


@dataclass(frozen=True)
class TierPaths:
    tier: str

    @property
    def result(self) -> str:
        return f"{self.tier}/result.json"

    @property
    def best(self) -> str:
        return f"{self.tier}/best_subtest.json"

    def outputs(self) -> list[str]:
        return [self.result, self.best, f"{self.tier}/summary.md"] + [f"{self.tier}/{f}" for f in REPORT_FILES]


EXPERIMENT_RESULT = "result.json"
EXPERIMENT_OUTPUTS = [EXPERIMENT_RESULT, "tier_comparison.json", "report.md", "report.json", "summary.md",
                      "report.html"]
