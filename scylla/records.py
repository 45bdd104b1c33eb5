"""The artifact formats, one typed record each, and their JSON reading and writing in one place.

Every JSON file Scylla writes (and the forecast of `doit status --json`) is a plain dict built by one
module and read by others; the TypedDicts below say which keys each holds and what their values are.
They are TypedDicts, not dataclasses, on purpose: a record *is* the dict that is written, so the bytes,
the key order and what is null versus absent stay exactly those of the builders (results.py,
judges/reply.py, agents/command.py, pipeline.py, resources.py, forecast.py), and files ProjectScylla
wrote are read as they are. Where such a file may lack a key (ProjectScylla's older writers; see
results.normalized_run, results.read_consensus and docs/numbers.md), the key is not required
(`total=False`, `NotRequired`). A value never recorded is None (unknown), never 0 (docs/numbers.md).

`read(path, Record)` and `write(path, record)` are the one way in and out: the errors are durable's
(ArtifactError naming the file), the writes atomic.
"""

import os
from typing import Any, Literal, NotRequired, Required, TypedDict, TypeVar, cast

from . import durable

R = TypeVar("R")


def read(path: str | os.PathLike, record: type[R]) -> R:
    """The JSON object at `path` as `record` (a TypedDict: checked to be an object, not key by key;
    durable.ArtifactError names the file when it is missing, unreadable, corrupt or not an object)."""
    return cast(R, durable.read_json_object(path))


def write(path: str | os.PathLike, record: Any) -> bool:
    """Write a record atomically (durable.write_json: NaN and infinities refused, the same bytes each time)."""
    return durable.write_json(path, record)


# ---------------------------------------------------------------- shared parts

class TokenStats(TypedDict, total=False):
    """ProjectScylla's TokenStats. A count never recorded is None, or absent in run_result.json (whose
    schema allows integers only); aggregates hold the four sums, None when any part is unknown."""
    input_tokens: int | None
    output_tokens: int | None
    cache_creation_tokens: int | None
    cache_read_tokens: int | None


class ModelUsage(TypedDict):
    """One model's usage in a run (agents/usage.py, from the CLI's `modelUsage`), kept beside token_stats."""
    input_tokens: int
    output_tokens: int
    cache_creation_tokens: int
    cache_read_tokens: int
    cost_usd: float | None


class WallClock(TypedDict):
    """results.wall_clock: the span from the earliest start to the latest end (None: some span unknown)."""
    started_at: str | None
    ended_at: str | None
    wall_clock_seconds: float | None


# ---------------------------------------------------------------- agent

class AgentTiming(TypedDict, total=False):
    """agent/timing.json."""
    agent_duration_seconds: float
    measured_at: str                # ISO 8601, to the microsecond (ProjectScylla's: to the second)


class SandboxRecord(TypedDict):
    """The sandbox an agent ran in (adapters.recorded_sandbox, from its command_log.json)."""
    kind: str                           # bubblewrap | docker | none | unknown
    note: str | None                    # e.g. why `auto` ran it unconfined
    network: list[str] | str | None     # the endpoints it could reach, or "unrestricted"
    violations: list[dict[str, Any]]    # denied attempts its output reported (sandbox.violations)


class AgentResult(TypedDict, total=False):
    """agent/result.json (agents/command.derive_result). ProjectScylla's lack model_usage and outcome
    (read as "completed") and the keys taken from the CLI's result line."""
    exit_code: Required[int]
    stdout: Required[str]
    stderr: Required[str]
    token_stats: Required[TokenStats]
    cost_usd: Required[float | None]
    api_calls: Required[int | None]
    model_usage: dict[str, ModelUsage]
    outcome: str
    # present when the CLI's result line has them
    num_turns: int
    subtype: str
    terminal_reason: str
    permission_denials: list[dict[str, Any]]
    cost_source: str                    # where cost_usd came from when the CLI reported none (genai-prices)
    unsupported_resources: list[str]    # tier resources this agent could not be given (recorded, never dropped)
    sandbox: SandboxRecord


# ---------------------------------------------------------------- judges

class Judgment(TypedDict):
    """A judge's verdict (judges/reply.judgment, reply.invalid_judgment): the grade is recomputed from the score."""
    score: float
    passed: bool
    grade: str
    reasoning: str
    is_valid: bool
    criteria_scores: dict[str, Any]


class JudgmentFile(TypedDict, total=False):
    """judge_NN/judgment.json (judges/reply.judgment_file): the verdict and who gave it. ProjectScylla's
    hold only the verdict (older ones without is_valid: valid when scored); the model and slot number then
    come from the spec (actions._judgments)."""
    score: Required[float]
    passed: Required[bool]
    grade: Required[str]
    reasoning: Required[str]
    is_valid: bool
    criteria_scores: Required[dict[str, Any]]
    judge_kind: Literal["pipeline"]     # the deterministic pipeline judge only
    judge_number: int
    model: str
    adapter: str
    cost_usd: float | None              # None: never recorded (an adopted judgment's)
    cost_known: bool                    # an openai judge's: False when its model has no list price


class JudgeTiming(TypedDict, total=False):
    """judge_NN/timing.json (ProjectScylla's failed judges: failed and error instead of a judgment)."""
    judge_duration_seconds: float
    measured_at: str
    failed: bool
    error: str


class SlotJudgment(JudgmentFile, JudgeTiming, total=False):
    """A judge slot's judgment.json as results.consensus and run_result read it (actions._judgments):
    model and judge_number always there (from the spec when the file lacks them), its timing.json's
    keys spread in for run_result."""


class CallRecord(TypedDict):
    """judge_NN/call.json (judges/reply.call_record): what only the call knows. Empty for an adopted
    judgment (ProjectScylla recorded no call)."""
    adapter: str
    model: str
    judge_number: int
    cost_usd: float | None
    attempts: int
    retries_exhausted: bool
    reply_bytes: NotRequired[int]       # the reply's size, when response.txt holds only its first REPLY_LIMIT bytes
    cost_known: NotRequired[bool]       # an openai judge's


class Consensus(TypedDict, total=False):
    """judge/result.json (results.consensus). ProjectScylla's lack is_valid (valid when scored), the
    counts and closest_judge, and have a null score and criteria_scores when no judge was valid."""
    score: Required[float | None]
    passed: Required[bool]
    grade: Required[str]
    is_valid: bool
    reasoning: Required[str]
    criteria_scores: Required[dict[str, Any] | None]
    judge_count: int
    valid_count: int
    closest_judge: int | None           # the valid judge closest to the mean: its reasoning and criteria


# ---------------------------------------------------------------- run

class RunJudge(TypedDict, total=False):
    """One judge in run_result.json (the schema requires model and judge_number only)."""
    model: Required[str]
    judge_number: Required[int]
    score: float                       # the judgment's (judgment.json always holds these five)
    passed: bool
    grade: str
    reasoning: str
    criteria_scores: dict[str, Any]
    is_valid: bool                      # ProjectScylla's older runs lack it (results.is_valid decides)


class _RunKeys(TypedDict, total=False):
    """The run_result.json keys results.normalized_run passes through as they are."""
    run_number: Required[int]           # (the schema's required keys)
    exit_code: Required[int]            # -1: the agent result recorded none
    model_usage: dict[str, ModelUsage]
    agent_duration_seconds: float
    judge_duration_seconds: float
    measured_at: str | None             # the newest measurement beneath (results.latest)
    judge_passed: bool
    judge_reasoning: str
    judge_valid: bool
    criteria_scores: dict[str, Any]
    agent_outcome: str
    permission_denials: list[str]       # the tools the agent was refused
    sandbox: dict[str, Any]             # kind, note, denied: how many attempts the sandbox refused
    workspace_path: str
    logs_path: str
    command_log_path: str | None


class RunResult(_RunKeys, total=False):
    """run_result.json (results.run_result), ProjectScylla's format (tests/data/projectscylla/
    run_result.schema.json): cost_usd, tokens_input and tokens_output are left out when unknown (null
    fails the schema), token_stats holds the known counts only; Scylla's own keys are null when unknown."""
    token_stats: TokenStats
    tokens_input: int                   # input + cache read
    tokens_output: int
    total_tokens: int | None
    cost_usd: float
    judge_cost_usd: float | None
    duration_seconds: float             # agent + judges
    started_at: str | None
    ended_at: str | None
    judge_score: float
    judge_grade: str
    judges: list[RunJudge]


class NormalizedRun(_RunKeys):
    """A run_result.json as the aggregates read it (results.normalized_run): these keys always there."""
    started_at: str | None
    ended_at: str | None
    judges: list[RunJudge]              # each with is_valid
    tokens_input: int | None
    tokens_output: int | None
    duration_seconds: float
    cost_usd: float | None
    judge_cost_usd: float | None
    token_stats: TokenStats             # all four counts, None when unknown
    total_tokens: int | None
    judge_score: float
    judge_grade: str


# ---------------------------------------------------------------- aggregates

class Totals(TypedDict):
    """What a subtest sums over its runs, a tier over its subtests and an experiment over its tiers."""
    runs: int
    total_cost_usd: float | None        # the agents' (an experiment's: agents + judges)
    cost_unknown_runs: int
    total_judge_cost_usd: float | None
    judge_cost_unknown_runs: int
    token_stats: TokenStats
    total_tokens: int | None
    total_duration_seconds: float       # agents + judges, summed over runs
    started_at: str | None
    ended_at: str | None
    wall_clock_seconds: float | None
    measured_at: str | None


class SubtestTotals(Totals):
    """A subtest's result as its tier holds it (tier result.json `subtests`)."""
    tier: str
    subtest: str
    passed: int
    pass_rate: float
    mean_score: float
    median_score: float
    std_score: float
    min_score: float
    max_score: float
    consistency: float
    mean_cost_usd: float | None
    tokens_input: int | None
    tokens_output: int | None
    grade_distribution: dict[str, int]
    invalid_judgments: int


class SubtestSummary(SubtestTotals):
    """<tier>/<subtest>/result.json (results.subtest_summary)."""
    run_scores: list[float]


class BestOfTier(TypedDict):
    """A tier's best subtest and its numbers (None: no subtest), in its result and its comparison row."""
    tier: str
    best_subtest: str | None
    best_median_score: float | None
    best_mean_score: float | None
    best_pass_rate: float | None
    best_mean_cost_usd: float | None
    cost_of_pass: float | None


class TierSummary(Totals, BestOfTier):
    """<tier>/result.json (results.tier_summary)."""
    subtests: dict[str, SubtestTotals]


class BestSubtest(TypedDict):
    """<tier>/best_subtest.json (results.best_identity): the winner's identity only."""
    tier: str
    subtest: str | None


class ExperimentSummary(Totals):
    """result.json of the experiment (results.experiment_summary); its total_cost_usd is agents + judges."""
    experiment_id: str
    frontier_tier: str | None           # the lowest cost of pass
    tiers: list[str]
    total_agent_cost_usd: float | None


class TierComparisonRow(BestOfTier):
    """One row of tier_comparison.json (results.tier_comparison)."""
    runs: int
    total_cost_usd: float | None
    total_judge_cost_usd: float | None


# ---------------------------------------------------------------- pipeline

class PipelineStep(TypedDict):
    """One step of pipeline.json (pipeline._step)."""
    status: Literal["pass", "fail", "na"]
    exit_code: int | None               # None: not run, or killed at its timeout
    reason: str
    command: str


class JunitCounts(TypedDict):
    """pipeline.json `tests`: the junit report's counters summed (pipeline._junit_counts)."""
    total: int
    passed: int
    failed: int
    errors: int
    skipped: int


class PipelineResult(TypedDict, total=False):
    """pipeline.json and pipeline_baseline.json (pipeline._result), or the placeholder of an adopted
    pipeline (pipeline.adopted_placeholder: adopted_from and note, no language or toolchain). Results
    sealed before Scylla recorded a toolchain lack it."""
    language: str
    toolchain: dict[str, str | None]    # tool -> version (None: not installed)
    steps: Required[dict[str, PipelineStep]]
    tests: Required[JunitCounts | None]
    all_passed: Required[bool | None]   # None: adopted (unknown)
    adopted_from: str
    note: str


# ---------------------------------------------------------------- tier resources

class Resources(TypedDict):
    """A subtest's resources (resources.merge): tools None means not restricted."""
    claude_md_blocks: list[str]
    tools: list[str] | None
    skills: list[str]
    agents: list[str]
    mcp_servers: list[dict[str, Any]]


class SubtestRef(TypedDict):
    tier: str
    subtest: str


class ConfigManifest(TypedDict):
    """config_manifest.json (resources.compose; resources.materialize adds files and claude_md_sha256)."""
    tier: str
    subtest: str
    name: str
    description: str
    system_prompt_mode: str
    agent_teams: bool
    inherited_from: list[SubtestRef]
    resources: Resources
    files: NotRequired[dict[str, str]]          # config file -> sha256
    claude_md_sha256: NotRequired[str | None]


# ---------------------------------------------------------------- forecast (doit status --json)

class ForecastRow(TypedDict):
    """The forecast of one row (the agent, or one judge slot): calls that would run and may run, their
    summed cost and seconds (an unknown estimate counts $0 / 0 s: unpriced, untimed count those calls)."""
    to_run: int
    may_run: int
    cost_usd: float
    may_cost_usd: float
    seconds: float
    may_seconds: float
    unpriced: int
    may_unpriced: int
    untimed: int
    basis: list[str]                    # how the estimates were made


class Forecast(TypedDict):
    """forecast.forecast: `doit status --json`'s `forecast`."""
    rows: dict[str, ForecastRow]
    cost_usd: float
    may_cost_usd: float
    seconds: float
    may_seconds: float
    wall_seconds_at_limits: float | None    # None: no concurrency limits
    assumption: str | None                  # the list-price assumption, when an estimate made it


class PlanForecast(TypedDict):
    """The part of a Forecast the budget gate and the progress line read."""
    cost_usd: float
    rows: dict[str, ForecastRow]


class RunPlanSummary(TypedDict, total=False):
    """What the run plan's child sends the running doit as JSON (runplan.summary): every key, or none
    ({}) when the child failed."""
    to_run: dict[str, int]              # tasks per kind this doit runs (those it ran already counted)
    may_run: dict[str, int]
    forecast: PlanForecast
    call_seconds: dict[str, float]      # the forecast's seconds per agent or judge call
    spent_usd: float                    # what the experiment's results cost so far
