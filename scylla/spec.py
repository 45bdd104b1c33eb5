"""Load experiment.yaml, its ProjectScylla fixture and tier subtests into an immutable Experiment.

Every error names the file, the key and what was expected, so a researcher can fix the input
before any money is spent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

import yaml

from . import adapters
from . import sandbox as sandboxing  # (Experiment.sandbox is its setting)
from .errors import SpecError

DEFAULT_PASS_THRESHOLD = 0.60
TIER_RE = re.compile(r"^T(\d+)$")
SUBTEST_FILE_RE = re.compile(r"^(\d+)-.+\.ya?ml$")
ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
RESOURCE_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._-]*$")     # a file or directory's name, never a path


# ---------------------------------------------------------------- the model

@dataclass(frozen=True)
class AgentConfig:
    adapter: str
    model: str
    command: str | None
    options: dict
    thinking: str
    max_turns: int | None
    timeout_seconds: float
    infra_exit_codes: tuple[int, ...]
    env: tuple[str, ...] = ()           # the caller's variables it gets besides its adapter's own (names)
    # the model endpoint of a CLI agent (None: its vendor's, or the CLI's own variable) and the variable
    # holding its key (None: its adapter's usual one); the key itself is never stored
    base_url: str | None = None
    api_key_env: str | None = None

    def identity(self, fixture: Fixture) -> dict:
        """What decides the agent's behaviour: a change here re-runs agents, nothing else does. (An
        endpoint is part of it only when the spec names one: trees from before the key stay sealed.)"""
        return {
            "adapter": self.adapter, "model": self.model, "command": self.command,
            "options": self.options, "thinking": self.thinking, "max_turns": self.max_turns,
            "repo": fixture.repo_url, "hash": fixture.source_hash,
            **({"base_url": self.base_url} if self.base_url else {}),
        }


@dataclass(frozen=True)
class JudgeSlot:
    number: int
    adapter: str
    model: str
    command: str | None
    options: dict
    retries: int
    timeout_seconds: float
    base_url: str | None = None          # openai: the endpoint (None = OpenAI itself)
    # the variable holding this judge's key (never stored): openai's (unset: OPENAI_API_KEY); a command
    # judge gets it in its environment, and no other key
    api_key_env: str | None = None

    @property
    def name(self) -> str:
        return f"judge_{self.number:02d}"

    @property
    def paid(self) -> bool:
        """Whether its judgments cost money, as its adapter declares (the pipeline judge's are free)."""
        return adapters.judge(self.adapter).paid

    def identity(self) -> dict:
        """What decides this slot's judgments: a change re-judges this slot only."""
        return {"adapter": self.adapter, "model": self.model, "command": self.command,
                "options": self.options, "base_url": self.base_url}


@dataclass(frozen=True)
class Fixture:
    dir: Path
    test_yaml: Path
    id: str
    language: str
    repo_url: str
    source_hash: str
    timeout_seconds: float | None
    prompt: Path
    rubric_path: Path
    criteria: Path
    rubric: dict

    @property
    def pass_threshold(self) -> float:
        return pass_threshold(self.rubric)


def pass_threshold(rubric: dict) -> float:
    """The rubric's `grading.pass_threshold` (0.6 when it sets none)."""
    return float((rubric.get("grading") or {}).get("pass_threshold", DEFAULT_PASS_THRESHOLD))


@dataclass(frozen=True)
class Resources:
    """A subtest's own resources, as its YAML declares them (before inheritance)."""
    blocks: tuple[str, ...] | None = None       # None: not set (inherit); (): explicitly empty
    skills: tuple[str, ...] = ()                 # "category/<c>" or "name/<n>"
    agents: tuple[str, ...] = ()                 # "level/<n>" or "name/<n>"
    tools: tuple[str, ...] | None = None         # ("all",) for no restriction
    mcp_servers: tuple[dict, ...] = ()


@dataclass(frozen=True)
class Subtest:
    tier: str
    id: str
    path: Path
    name: str
    description: str
    extends_previous: bool
    inherit_best_from: tuple[str, ...]
    system_prompt_mode: str
    agent_teams: bool
    resources: Resources

    @property
    def key(self) -> str:
        return f"{self.tier}/{self.id}"


@dataclass(frozen=True)
class Limits:
    """How many agents / judge calls may run at once (None: as many as doit's -n allows), and how
    rate limits are retried: up to `retries` times, pausing every worker for the provider's reset
    time or `backoff_seconds` doubled each time."""
    agents: int | None = None
    judges: int | None = None
    retries: int = 3
    backoff_seconds: float = 60.0


DEFAULT_LIMITS = Limits()        # (frozen: one shared default)


@dataclass(frozen=True)
class AnalysisSettings:
    """How the analysis computes its statistics (docs/numbers.md, "Statistics"): percentile bootstraps of
    `resamples` draws from `seed` at `confidence`; p-values corrected per family (`correction` unless
    `families` names another: holm or bh) at `alpha`; tier pairs compared beyond the consecutive ones and
    first -> last (`comparisons`); the pass-rate difference whose runs needed are reported."""
    resamples: int = 10_000
    seed: int = 0
    confidence: float = 0.95
    correction: str = "holm"
    alpha: float = 0.05
    target_difference: float = 0.1
    comparisons: tuple[tuple[str, str], ...] = ()
    families: dict[str, str] = field(default_factory=dict)


DEFAULT_ANALYSIS = AnalysisSettings()
CORRECTIONS = ("holm", "bh")
FAMILIES = ("omnibus", "tier pairs", "correlations", "tasks", "paired")


DEFAULT_SANDBOX = sandboxing.Setting()     # (frozen: one shared default)


@dataclass(frozen=True)
class Experiment:
    id: str
    spec_path: Path
    root: Path                       # <results>/<id>
    fixture: Fixture
    tiers_dir: Path
    tiers: tuple[str, ...]
    subtests: dict[str, tuple[Subtest, ...]]
    runs: int
    agent: AgentConfig
    judges: tuple[JudgeSlot, ...]
    repos: dict[str, Path]
    budget_usd: float | None
    description: str = ""
    limits: Limits = DEFAULT_LIMITS
    runs_dir: str = "."              # where run directories live, relative to root
    analysis: AnalysisSettings = DEFAULT_ANALYSIS
    sandbox: sandboxing.Setting = DEFAULT_SANDBOX
    # one agent's experiment of a spec naming several `agents:`: the comparison's root, holding the
    # other agents' experiments beside this one (hidden from its agent too)
    comparison_root: Path | None = None
    # where its heavy work runs: `local`, or a Dask scheduler (`dask://host:port`; `doit executor=` wins)
    executor: str = "local"

    @property
    def confinement(self) -> sandboxing.Confinement:
        """Its sandbox, hiding the experiment tree (a comparison's: every agent's) and the fixture's
        expected outputs (rubric, criteria)."""
        fx = self.fixture
        return sandboxing.Confinement(self.sandbox, tuple(dict.fromkeys(
            (self.comparison_root or self.root, fx.rubric_path.parent, fx.criteria.parent))))

    def agent_identity(self) -> dict:
        """What decides an agent run: the agent as configured, the fixture's source, and a sandbox the
        spec names (sandboxing.Setting.identity)."""
        box = self.sandbox.identity()
        return {**self.agent.identity(self.fixture), **({"sandbox": box} if box else {})}

    def all_subtests(self) -> list[Subtest]:
        return [s for t in self.tiers for s in self.subtests[t]]

    def previous_tier(self, tier: str) -> str | None:
        i = self.tiers.index(tier)
        return self.tiers[i - 1] if i > 0 else None

    def parent_tiers(self, subtest: Subtest) -> tuple[str, ...]:
        """Tiers whose best subtest this subtest builds on, in merge order. As in ProjectScylla,
        `inherit_best_from` names them all (the previous tier is not added even when
        `extends_previous` is true); otherwise `extends_previous` means the previous tier."""
        if subtest.inherit_best_from:
            return tuple(dict.fromkeys(subtest.inherit_best_from))
        previous = self.previous_tier(subtest.tier)
        return (previous,) if subtest.extends_previous and previous else ()


# ---------------------------------------------------------------- small checked readers

# libyaml's loader when PyYAML has it (the same safe schema, ~10x faster on 120 subtest files)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load_yaml(text: str) -> Any:
    """yaml.safe_load, with libyaml when present."""
    return yaml.load(text, Loader=_YAML_LOADER)


def _load_yaml(path: Path, what: str) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(f"{path}: {what} not found") from None
    except OSError as exc:
        raise SpecError(f"{path}: cannot read {what} ({exc.strerror})") from None
    try:
        return load_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1} column {mark.column + 1}" if mark else ""
        raise SpecError(f"{path}:{where} malformed YAML: {getattr(exc, 'problem', exc)}") from None


class _Reader:
    """Typed access to a mapping from one file; every error names the file and dotted key."""

    def __init__(self, data: Any, file: Path, prefix: str = "", allowed: tuple[str, ...] | None = None):
        if not isinstance(data, dict):
            where = f"key '{prefix}'" if prefix else "top level"
            raise SpecError(f"{file}: {where}: expected a mapping, got {_kind(data)}")
        self.data, self.file, self.prefix = data, file, prefix
        if allowed is not None:
            unknown = sorted(set(map(str, data)) - set(allowed))
            if unknown:
                raise SpecError(f"{file}: unknown key '{self._key(unknown[0])}' "
                                f"(expected one of: {', '.join(allowed)})")

    def _key(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def fail(self, key: str, expected: str, value: Any) -> SpecError:
        return SpecError(f"{self.file}: key '{self._key(key)}': expected {expected}, got {_kind(value)}")

    def get(self, key: str, types: tuple, expected: str, default: Any = ..., required: bool = False) -> Any:
        if key not in self.data or (self.data[key] is None and not required and default is not ...):
            if required or default is ...:
                raise SpecError(f"{self.file}: missing key '{self._key(key)}' ({expected})")
            return default
        value = self.data[key]
        if isinstance(value, bool) and bool not in types:
            raise self.fail(key, expected, value)
        if not isinstance(value, types):
            raise self.fail(key, expected, value)
        return value

    @overload
    def sub(self, key: str, allowed: tuple[str, ...] | None = None) -> _Reader: ...

    @overload
    def sub(self, key: str, allowed: tuple[str, ...] | None = None, *, default: None) -> _Reader | None: ...

    def sub(self, key: str, allowed: tuple[str, ...] | None = None, default: Any = ...) -> _Reader | None:
        """The mapping at `key`; `default` (None) when it is absent, else it is required."""
        if key not in self.data or self.data[key] is None:
            if default is ...:
                raise SpecError(f"{self.file}: missing key '{self._key(key)}' (a mapping)")
            return default
        return _Reader(self.data[key], self.file, self._key(key), allowed)


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    return f"{type(value).__name__} {value!r}" if not isinstance(value, (dict, list)) else type(value).__name__


def _str_list(reader: _Reader, key: str, default: tuple = ()) -> tuple[str, ...]:
    value = reader.get(key, (list,), "a list of strings", default=list(default))
    if not all(isinstance(v, (str, int)) and not isinstance(v, bool) for v in value):
        raise reader.fail(key, "a list of strings", value)
    return tuple(str(v) for v in value)


# ---------------------------------------------------------------- experiment.yaml

SPEC_KEYS = ("id", "description", "fixture", "tiers_dir", "tiers", "runs", "agent", "judges",
             "thinking", "max_turns", "timeout_seconds", "results", "budget_usd", "repos", "concurrency",
             "rate_limit", "root", "runs_dir", "analysis", "sandbox", "agents", "compare", "executor")
ANALYSIS_KEYS = ("resamples", "seed", "confidence", "correction", "alpha", "target_difference", "comparisons",
                 "families")
AGENT_KEYS = ("adapter", "model", "command", "options", "infra_exit_codes", "env", "base_url", "api_key_env")
# an `agents:` entry: an agent and the name its experiment and rows go by
AGENTS_ENTRY_KEYS = ("name", *AGENT_KEYS)
# names an agent's experiment directory may not take in a comparison's root (the comparison's own files)
RESERVED_AGENT_NAMES = ("analysis", "config", "results")
SANDBOX_KEYS = ("kind", "image", "allow")
JUDGE_KEYS = ("adapter", "model", "command", "options", "retries", "timeout_seconds", "base_url", "api_key_env")
# none: thinking off; default: the agent's own default; the rest are effort levels (Claude's --effort)
THINKING_MODES = ("none", "default", "low", "medium", "high", "xhigh", "max")
DEFAULT_INFRA_EXIT_CODES = (75, 126, 127)   # EX_TEMPFAIL, not executable, not found


def load_experiment(spec_path: str | Path, agent_name: str | None = None) -> Experiment:
    """The experiment a spec describes; for a spec naming several `agents:`, the experiment of the one
    named `agent_name` (its id that name, its root <results>/<spec id>/<name>: load_comparison)."""
    spec_path = Path(spec_path).resolve()
    raw = _load_yaml(spec_path, "experiment spec")
    r = _Reader(raw, spec_path, allowed=SPEC_KEYS)
    base = spec_path.parent

    exp_id = r.get("id", (str,), "an experiment id (letters, digits, . _ -)", required=True)
    if not ID_RE.match(exp_id):
        raise r.fail("id", "an experiment id (letters, digits, . _ -)", exp_id)
    agent_reader, comparison_id = _chosen_agent(r, agent_name), None
    if agent_name is not None:
        comparison_id, exp_id = exp_id, agent_name
    fixture = load_fixture(base / r.get("fixture", (str,), "the path of a fixture directory", required=True))
    tiers_dir = base / r.get("tiers_dir", (str,), "the path of the tiers directory", required=True)
    if not tiers_dir.is_dir():
        raise SpecError(f"{spec_path}: key 'tiers_dir': directory {tiers_dir} does not exist")

    runs = r.get("runs", (int,), "a whole number of runs per subtest (>= 1)", default=1)
    if runs < 1:
        raise r.fail("runs", "a whole number of runs per subtest (>= 1)", runs)
    timeout = r.get("timeout_seconds", (int, float), "seconds (a number > 0)",
                    default=fixture.timeout_seconds or 1800)
    if timeout <= 0:
        raise r.fail("timeout_seconds", "seconds (a number > 0)", timeout)
    max_turns = r.get("max_turns", (int,), "a whole number of turns", default=None)
    thinking = r.get("thinking", (str,), f"a thinking mode: one of {', '.join(THINKING_MODES)}", default="none")
    if thinking not in THINKING_MODES:
        raise r.fail("thinking", f"a thinking mode: one of {', '.join(THINKING_MODES)}", thinking)

    agent = _agent(agent_reader, thinking, max_turns, float(timeout))
    judges = _judges(r, float(timeout))
    tiers, subtests = _tiers(r, tiers_dir)

    repos = {}
    repo_map = r.sub("repos", default=None)
    for url, path in (repo_map.data.items() if repo_map else ()):
        if not isinstance(path, str):
            assert repo_map is not None     # (the loop runs over it)
            raise repo_map.fail(str(url), "a local path (string)", path)
        repos[str(url)] = (base / path).resolve()

    budget = r.get("budget_usd", (int, float), "a positive number of US dollars", default=None)
    if budget is not None and not 0 < budget < float("inf"):
        raise r.fail("budget_usd", "a positive number of US dollars", budget)
    limits = _limits(r)
    results = base / r.get("results", (str,), "the path of the results directory", default="results")
    # `root` and `runs_dir` are written by `scylla adopt`: Scylla's own files in `root`, the runs in
    # the adopted ProjectScylla tree (`runs_dir`, relative to `root`)
    root = r.get("root", (str,), "the path of the experiment root", default=None)
    runs_dir = r.get("runs_dir", (str,), "a path relative to the experiment root", default=".")
    if comparison_id is not None:
        results = results / comparison_id
    return Experiment(
        id=exp_id, spec_path=spec_path, root=(base / root if root else results / exp_id).resolve(),
        fixture=fixture, runs_dir=runs_dir, comparison_root=results.resolve() if comparison_id else None,
        tiers_dir=tiers_dir.resolve(), tiers=tiers, subtests=subtests, runs=runs, agent=agent,
        judges=judges, repos=repos, budget_usd=None if budget is None else float(budget),
        description=r.get("description", (str,), "text", default=""), limits=limits,
        analysis=_analysis(r, tiers), sandbox=_sandbox(r),
        executor=r.get("executor", (str,), "`local` or a Dask scheduler address (dask://HOST:PORT)", default="local"))


def _analysis(r: _Reader, tiers: tuple[str, ...]) -> AnalysisSettings:
    a = r.sub("analysis", ANALYSIS_KEYS, default=None)
    if a is None:
        return DEFAULT_ANALYSIS

    def number(key: str, types: tuple, expected: str, ok: Any, default: Any) -> Any:
        value = a.get(key, types, expected, default=default)
        if not ok(value):
            raise a.fail(key, expected, value)
        return value

    correction = number("correction", (str,), "holm or bh", lambda v: v in CORRECTIONS, "holm")
    pairs = a.get("comparisons", (list,), "a list of tier pairs, e.g. [[T0, T3]]", default=[])
    for pair in pairs:
        if not (isinstance(pair, list) and len(pair) == 2 and all(str(t) in tiers for t in pair)):
            raise a.fail("comparisons", f"a list of pairs of this experiment's tiers ({', '.join(tiers)})", pair)
    families = a.get("families", (dict,), "a mapping: family -> holm or bh", default={})
    for family, how in families.items():
        if family not in FAMILIES or how not in CORRECTIONS:
            raise SpecError(f"{r.file}: key 'analysis.families.{family}': expected one of the families "
                            f"({', '.join(FAMILIES)}) mapped to holm or bh, got {_kind(how)}")
    return AnalysisSettings(
        resamples=number("resamples", (int,), "a whole number of bootstrap resamples (>= 100)",
                         lambda v: v >= 100, 10_000),
        seed=number("seed", (int,), "a whole number >= 0 (the bootstrap's random seed)", lambda v: v >= 0, 0),
        confidence=float(number("confidence", (int, float), "a confidence level between 0 and 1 (e.g. 0.95)",
                                lambda v: 0 < v < 1, 0.95)),
        correction=correction,
        alpha=float(number("alpha", (int, float), "a significance level between 0 and 1 (e.g. 0.05)",
                           lambda v: 0 < v < 1, 0.05)),
        target_difference=float(number("target_difference", (int, float), "a pass-rate difference between 0 and 1",
                                       lambda v: 0 < v < 1, 0.1)),
        comparisons=tuple((str(x), str(y)) for x, y in pairs), families=dict(families))


def _limits(r: _Reader) -> Limits:
    c = r.sub("concurrency", ("agents", "judges"), default=None)
    rl = r.sub("rate_limit", ("retries", "backoff_seconds"), default=None)
    counts = {}
    for key in ("agents", "judges"):
        value = c.get(key, (int,), "a whole number >= 1", default=None) if c else None
        if value is not None and value < 1:
            assert c is not None        # (a value came from it)
            raise c.fail(key, "a whole number >= 1", value)
        counts[key] = value
    retries = rl.get("retries", (int,), "a whole number >= 0", default=3) if rl else 3
    backoff = rl.get("backoff_seconds", (int, float), "seconds (> 0)", default=60) if rl else 60
    if retries < 0 or backoff <= 0:
        assert rl is not None           # (the defaults are valid)
        raise rl.fail("retries" if retries < 0 else "backoff_seconds", "a non-negative count / positive seconds",
                      retries if retries < 0 else backoff)
    return Limits(agents=counts["agents"], judges=counts["judges"], retries=retries, backoff_seconds=float(backoff))


def _agent(a: _Reader, thinking: str, max_turns: int | None, timeout: float) -> AgentConfig:
    adapter = _adapter(a, "agent")
    command = a.get("command", (str,), "a shell command", default=None)
    codes = a.get("infra_exit_codes", (list,), "a list of exit codes", default=list(DEFAULT_INFRA_EXIT_CODES))
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in codes):
        raise a.fail("infra_exit_codes", "a list of exit codes (integers)", codes)
    return AgentConfig(
        adapter=adapter, model=a.get("model", (str,), "a model id", required=True), command=command,
        options=dict(a.get("options", (dict,), "a mapping", default={})), thinking=thinking,
        max_turns=max_turns, timeout_seconds=timeout, infra_exit_codes=tuple(codes), env=_str_list(a, "env"),
        base_url=a.get("base_url", (str,), "an http(s) URL of the model endpoint", default=None),
        api_key_env=a.get("api_key_env", (str,), "an environment variable name", default=None))


def _sandbox(r: _Reader) -> sandboxing.Setting:
    """`sandbox: KIND` or `sandbox: {kind: KIND, image: ..., allow: [URL or host:port, ...]}`."""
    expected = f"one of {', '.join(sandboxing.KINDS)}, or a mapping with kind, image, allow"
    value = r.data.get("sandbox")
    if value is None:
        return sandboxing.Setting()
    s = _Reader({"kind": value}, r.file, "sandbox", SANDBOX_KEYS) if isinstance(value, str) else \
        r.sub("sandbox", SANDBOX_KEYS)
    kind = s.get("kind", (str,), expected, default="auto")
    if kind not in sandboxing.KINDS:
        raise s.fail("kind", expected, kind)
    allow = _str_list(s, "allow")
    for entry in allow:
        try:
            sandboxing.endpoint(entry)
        except ValueError as exc:
            raise SpecError(f"{r.file}: key 'sandbox.allow': {exc}") from None
    image = s.get("image", (str,), "a container image name", default=None)
    if kind == "docker" and not image:
        raise SpecError(f"{r.file}: key 'sandbox.image': sandbox kind docker needs the image agents run in")
    return sandboxing.Setting(kind, image, allow, explicit=True)


def _judges(r: _Reader, timeout: float) -> tuple[JudgeSlot, ...]:
    panel = r.get("judges", (list,), "a list of judge slots (adapter, model)", required=True)
    if not panel:
        raise r.fail("judges", "at least one judge slot", panel)
    slots = []
    for i, entry in enumerate(panel, start=1):
        j = _Reader(entry, r.file, f"judges[{i - 1}]", JUDGE_KEYS)
        adapter = _adapter(j, "judge")
        command = j.get("command", (str,), "a shell command", default=None)
        retries = j.get("retries", (int,), "a whole number of retries (>= 0)", default=1)
        default_model = adapters.judge(adapter).default_model
        if default_model is not None:
            model = j.get("model", (str,), "a model id", default=default_model)
        else:
            model = j.get("model", (str,), "a model id", required=True)
        slots.append(JudgeSlot(
            number=i, adapter=adapter, command=command, model=model,
            options=dict(j.get("options", (dict,), "a mapping", default={})), retries=max(0, retries),
            base_url=j.get("base_url", (str,), "an http(s) URL ending in /v1", default=None),
            api_key_env=j.get("api_key_env", (str,), "an environment variable name", default=None),
            timeout_seconds=float(j.get("timeout_seconds", (int, float), "seconds", default=timeout))))
    return tuple(slots)


def _adapter(r: _Reader, kind: str) -> str:
    """The `adapter` of an agent or judge slot: a registered name (or module:Attribute) whose adapter
    loads, with every spec key it requires set."""
    name = r.get("adapter", (str,), f"the name of a registered {kind} adapter, or module:Attribute", required=True)
    try:
        adapter = adapters.get(kind, name)
    except adapters.UnknownAdapter as exc:
        why = "" if exc.not_found else f" ({exc})"
        raise SpecError(f"{r.file}: key '{r._key('adapter')}': expected one of {', '.join(adapters.names(kind))} "
                        f"(the registered {kind} adapters) or module:Attribute, got {name!r}{why}") from None
    for key, what in adapter.requires.items():
        if not r.data.get(key):
            raise SpecError(f"{r.file}: missing key '{r._key(key)}' ({what})")
    return name


def _tiers(r: _Reader, tiers_dir: Path) -> tuple[tuple[str, ...], dict[str, tuple[Subtest, ...]]]:
    value = r.get("tiers", (list, dict), "a list of tiers like [T0, T1] or a mapping tier -> subtest ids",
                  required=True)
    selection = {str(t): "all" for t in value} if isinstance(value, list) else {str(k): v for k, v in value.items()}
    if not selection:
        raise r.fail("tiers", "at least one tier", value)
    available = available_tiers(tiers_dir)
    tiers, subtests = [], {}
    for tier, chosen in selection.items():
        if not TIER_RE.match(tier):
            raise SpecError(f"{r.file}: key 'tiers': '{tier}' is not a tier id (expected T0, T1, ...)")
        if tier not in available:
            raise SpecError(f"{r.file}: key 'tiers': unknown tier '{tier}' "
                            f"(no subtests in {subtest_dir(tiers_dir, tier)}; available: {', '.join(available) or 'none'})")
        found = load_tier(tiers_dir, tier)
        if chosen != "all":
            if not isinstance(chosen, list):
                raise r.fail(f"tiers.{tier}", "'all' or a list of subtest ids", chosen)
            wanted = [f"{int(c):02d}" if str(c).isdigit() else str(c) for c in chosen]
            unknown = [w for w in wanted if w not in {s.id for s in found}]
            if unknown:
                raise SpecError(f"{r.file}: key 'tiers.{tier}': unknown subtest '{unknown[0]}' "
                                f"(available: {', '.join(s.id for s in found)})")
            found = tuple(s for s in found if s.id in wanted)
        tiers.append(tier)
        subtests[tier] = found
    tiers.sort(key=lambda t: int(t[1:]))
    for tier in tiers:
        for s in subtests[tier]:
            for parent in s.inherit_best_from:
                if parent not in subtests:
                    raise SpecError(f"{s.path}: key 'inherit_best_from': tier '{parent}' is not part of "
                                    f"the experiment ({r.file} key 'tiers')")
                # a tier's best is known only after all its subtests ran: inheriting upwards is a cycle
                if int(parent[1:]) >= int(tier[1:]):
                    raise SpecError(f"{s.path}: key 'inherit_best_from': tier '{parent}' is not below {tier}")
    return tuple(tiers), subtests


# ---------------------------------------------------------------- fixtures

def load_fixture(fixture_dir: Path) -> Fixture:
    fixture_dir = fixture_dir.resolve()
    test_yaml = fixture_dir / "test.yaml"
    r = _Reader(_load_yaml(test_yaml, "fixture test.yaml"), test_yaml)
    source = r.sub("source")
    task = r.sub("task", default=None)
    validation = r.sub("validation", default=None)
    prompt = fixture_dir / (task.get("prompt_file", (str,), "a file name", default="prompt.md") if task else "prompt.md")
    rubric_path = fixture_dir / (validation.get("rubric_file", (str,), "a file name", default="expected/rubric.yaml")
                                 if validation else "expected/rubric.yaml")
    criteria = fixture_dir / (validation.get("criteria_file", (str,), "a file name", default="expected/criteria.md")
                              if validation else "expected/criteria.md")
    for path, what in ((prompt, "task.prompt_file"), (criteria, "validation.criteria_file")):
        if not path.is_file():
            raise SpecError(f"{test_yaml}: key '{what}': file {path} does not exist")
    timeout = task.get("timeout_seconds", (int, float), "seconds", default=None) if task else None
    return Fixture(
        dir=fixture_dir, test_yaml=test_yaml,
        id=str(r.get("id", (str, int), "a fixture id", required=True)),
        language=r.get("language", (str,), "a language name such as python", default="python"),
        repo_url=source.get("repo", (str,), "a repository URL or path", required=True),
        source_hash=str(source.get("hash", (str,), "a commit hash", required=True)),
        timeout_seconds=timeout, prompt=prompt, rubric_path=rubric_path, criteria=criteria,
        rubric=load_rubric(rubric_path))


def load_rubric(path: Path) -> dict:
    """ProjectScylla has two rubric shapes: `categories` (weighted checklists) and a flat
    `requirements` list (id, description, weight). Both are accepted and checked."""
    r = _Reader(_load_yaml(path, "rubric"), path)
    if "categories" not in r.data and "requirements" in r.data:
        for i, req in enumerate(r.get("requirements", (list,), "a list of requirements", required=True)):
            it = _Reader(req, path, f"requirements[{i}]")
            it.get("id", (str,), "a requirement id", required=True)
            it.get("description", (str,), "the requirement text", required=True)
            it.get("weight", (int, float), "a weight (number)", required=True)
        return r.data
    cats = r.sub("categories")
    for name in cats.data:
        c = cats.sub(str(name))
        c.get("weight", (int, float), "a category weight (number)", required=True)
        items = c.get("items", (list,), "a list of rubric items", required=True)
        for i, item in enumerate(items):
            it = _Reader(item, path, f"categories.{name}.items[{i}]")
            it.get("id", (str,), "an item id", required=True)
            it.get("check", (str,), "the check text", required=True)
            it.get("points", (int, float), "points (number)", required=True)
    grading = r.sub("grading", default=None)
    if grading:
        grading.get("pass_threshold", (int, float), "a threshold in [0, 1]", default=DEFAULT_PASS_THRESHOLD)
    return r.data


# ---------------------------------------------------------------- tiers and subtests

def subtest_dir(tiers_dir: Path, tier: str) -> Path:
    """ProjectScylla keeps subtests in <tiers>/subtests/t<N>/; a plain <tiers>/t<N>/ works too."""
    nested = tiers_dir / "subtests"
    return (nested if nested.is_dir() else tiers_dir) / tier.lower()


def available_tiers(tiers_dir: Path) -> list[str]:
    base = subtest_dir(tiers_dir, "T0").parent
    found = [p.name.upper() for p in base.iterdir() if p.is_dir() and re.match(r"^t\d+$", p.name)]
    return sorted(found, key=lambda t: int(t[1:]))


SUBTEST_KEYS = ("name", "description", "extends_previous", "inherit_best_from", "system_prompt_mode",
                "agent_teams", "resources", "tools", "mcp_servers", "skills", "agents")
RESOURCE_KEYS = ("claude_md", "skills", "agents", "tools", "mcp_servers")
SYSTEM_PROMPT_MODES = ("none", "default", "custom")
T0_FIRST_EXTENDING = 2      # ProjectScylla: T0/00 (empty) and T0/01 (vanilla) extend nothing by default


def load_tier(tiers_dir: Path, tier: str) -> tuple[Subtest, ...]:
    folder = subtest_dir(tiers_dir, tier)
    subtests = []
    for path in sorted(folder.iterdir()):
        m = SUBTEST_FILE_RE.match(path.name)
        if m:
            subtests.append(load_subtest(path, tier, f"{int(m.group(1)):02d}"))
    ids = [s.id for s in subtests]
    dup = next((i for i in ids if ids.count(i) > 1), None)
    if dup:
        raise SpecError(f"{folder}: two subtest files share the id {dup}")
    return tuple(subtests)


def load_subtest(path: Path, tier: str, subtest_id: str) -> Subtest:
    """One subtest YAML, with ProjectScylla's defaults: `system_prompt_mode: custom`, and
    `extends_previous: true` except for T0/00 and T0/01."""
    r = _Reader(_load_yaml(path, "subtest definition"), path, allowed=SUBTEST_KEYS)
    inherit = _str_list(r, "inherit_best_from")
    for t in inherit:
        if not TIER_RE.match(t):
            raise r.fail("inherit_best_from", "a list of tier ids like T0", list(inherit))
    mode = r.get("system_prompt_mode", (str,), f"one of {', '.join(SYSTEM_PROMPT_MODES)}", default="custom")
    if mode not in SYSTEM_PROMPT_MODES:
        raise r.fail("system_prompt_mode", f"one of {', '.join(SYSTEM_PROMPT_MODES)}", mode)
    extends = tier != "T0" or int(subtest_id) >= T0_FIRST_EXTENDING
    return Subtest(
        tier=tier, id=subtest_id, path=path.resolve(),
        name=str(r.get("name", (str,), "a subtest name", default=path.stem)),
        description=str(r.get("description", (str,), "text", default="")),
        extends_previous=r.get("extends_previous", (bool,), "true or false", default=extends),
        inherit_best_from=inherit, system_prompt_mode=mode,
        agent_teams=r.get("agent_teams", (bool,), "true or false", default=False),
        resources=_resources(r))


def _resources(r: _Reader) -> Resources:
    res = r.sub("resources", RESOURCE_KEYS, default=None)
    cm = res.sub("claude_md", ("blocks",), default=None) if res else None
    skills = _section(r, res, "skills", ("categories", "names"))
    agents = _section(r, res, "agents", ("levels", "names"))
    tools = _section(r, res, "tools", ("enabled",))
    return Resources(
        blocks=_names(cm, "blocks", "blocks/<name>-*.md") if cm is not None else None,
        skills=(tuple(f"category/{c}" for c in _names(skills, "categories", "skills/<category>/"))
                + tuple(f"name/{n}" for n in _names(skills, "names", "skills/*/<name>/"))) if skills else (),
        agents=(tuple(f"level/{lv}" for lv in _levels(agents))
                + tuple(f"name/{n}" for n in _names(agents, "names", "agents/L*/<name>.md"))) if agents else (),
        tools=_tools(tools) if tools is not None else None,
        mcp_servers=_mcp_servers(r, res))


def _names(r: _Reader, key: str, where: str) -> tuple[str, ...]:
    """Resource names: plain names looked up under the tiers directory (`where`), never paths: `../x`
    would read any file of the machine into every workspace."""
    names = _str_list(r, key)
    for name in names:
        if not RESOURCE_NAME_RE.match(name) or ".." in name:
            raise SpecError(f"{r.file}: key '{r._key(key)}': {name!r} is not a resource name (letters, digits, "
                            f"'.', '_', '-'; no '/', no '..'): name what the tiers directory holds as {where}")
    return names


def _levels(r: _Reader) -> tuple[int, ...]:
    levels = _str_list(r, "levels")
    if not all(str(lv).isdigit() for lv in levels):
        raise r.fail("levels", "a list of sub-agent levels (numbers, as in agents/L<n>/)", list(levels))
    return tuple(int(lv) for lv in levels)


def _section(r: _Reader, res: _Reader | None, key: str, allowed: tuple[str, ...]) -> _Reader | None:
    """A resource mapping, under `resources:` or (as ProjectScylla also accepts) at the top level."""
    return (res.sub(key, allowed, default=None) if res else None) or r.sub(key, allowed, default=None)


def _tools(t: _Reader) -> tuple[str, ...]:
    enabled = t.get("enabled", (list, str), "a list of tool names or 'all'", required=True)
    if isinstance(enabled, str) and enabled != "all":
        raise t.fail("enabled", "a list of tool names or 'all'", enabled)
    return ("all",) if enabled == "all" else _str_list(t, "enabled")


def _mcp_servers(r: _Reader, res: _Reader | None) -> tuple[dict, ...]:
    servers = (res.get("mcp_servers", (list,), "a list of MCP servers ({name: ...})", default=None) if res else None) \
        or r.get("mcp_servers", (list,), "a list of MCP servers ({name: ...})", default=[])
    for i, server in enumerate(servers):
        _Reader(server, r.file, f"mcp_servers[{i}]").get("name", (str,), "a server name", required=True)
    return tuple(servers)


# ---------------------------------------------------------------- several agents compared on one spec

def _chosen_agent(r: _Reader, agent_name: str | None) -> _Reader:
    """The `agent:` section, or the `agents:` entry named `agent_name` (a spec has one or the other)."""
    if "agents" not in r.data:
        if "compare" in r.data:
            raise SpecError(f"{r.file}: key 'compare': compares two of several `agents:`, and this spec names one "
                            f"agent (to compare experiments, write a study: README \"Studies\")")
        if agent_name is not None:
            raise SpecError(f"{r.file}: names one agent (key 'agent'), not several: there is no agent "
                            f"{agent_name!r} to choose (drop agent=)")
        return r.sub("agent", AGENT_KEYS)
    if "agent" in r.data:
        raise SpecError(f"{r.file}: keys 'agent' and 'agents' both given: name one agent, or a list of them")
    entries = _agent_entries(r)
    if agent_name is None:
        raise SpecError(f"{r.file}: key 'agents': a spec naming several agents is a comparison: run it as a "
                        f"whole (`doit exp={r.file}`), or one of its agents with agent=NAME "
                        f"({', '.join(entries)})")
    if agent_name not in entries:
        raise SpecError(f"{r.file}: key 'agents': no agent named {agent_name!r} (names: {', '.join(entries)})")
    return entries[agent_name]


def _agent_entries(r: _Reader) -> dict[str, _Reader]:
    """`agents:` by name (an entry's `name`, else its adapter's): names unique, plain, not reserved."""
    listed = r.get("agents", (list,), "a list of agents (each: name, adapter, model, ...)", required=True)
    if not listed:
        raise r.fail("agents", "a list of at least one agent (each: name, adapter, model, ...)", listed)
    entries: dict[str, _Reader] = {}
    for i, entry in enumerate(listed):
        e = _Reader(entry, r.file, f"agents[{i}]", AGENTS_ENTRY_KEYS)
        name = e.get("name", (str,), "a name for this agent (letters, digits, . _ -)",
                     default=e.get("adapter", (str,), "an adapter name", required=True))
        if not ID_RE.match(name) or name in RESERVED_AGENT_NAMES:
            raise e.fail("name", f"a name (letters, digits, . _ -; not {', '.join(RESERVED_AGENT_NAMES)})", name)
        if name in entries:
            raise SpecError(f"{r.file}: key 'agents[{i}].name': two agents named {name!r}: give each its own "
                            f"`name` (it keys its experiment, rows and reports)")
        entries[name] = _Reader({k: v for k, v in entry.items() if k != "name"}, r.file, f"agents[{i}]", AGENT_KEYS)
    return entries


def is_comparison(spec_path: str | Path) -> bool:
    """Whether an experiment spec names several `agents:` (compared on the same subtests and judges)."""
    raw = _load_yaml(Path(spec_path), "spec")
    return isinstance(raw, dict) and "agents" in raw and "fixture" in raw


def load_comparison(spec_path: str | Path) -> Study:
    """A spec naming several `agents:`: one experiment per agent (same tiers, subtests, runs and judges;
    root <results>/<id>/<name>), run by the comparison's `doit` and analysed together like a study."""
    spec_path = Path(spec_path).resolve()
    r = _Reader(_load_yaml(spec_path, "experiment spec"), spec_path, allowed=SPEC_KEYS)
    names = list(_agent_entries(r))
    experiments = tuple(load_experiment(spec_path, n) for n in names)
    compare = r.get("compare", (list,), f"two of the agents' names (baseline, candidate): {', '.join(names)}",
                    default=None)
    if compare is not None and (len(compare) != 2 or not set(compare) <= set(names) or compare[0] == compare[1]):
        raise r.fail("compare", f"two different names of the agents (baseline, candidate): {', '.join(names)}",
                     compare)
    tiers = experiments[0].tiers
    root = experiments[0].comparison_root
    assert root is not None                   # (set for every agent of a comparison)
    return Study(id=str(r.data["id"]), spec_path=spec_path, root=root,
                 experiments=experiments, compare=(str(compare[0]), str(compare[1])) if compare else None,
                 analysis=_analysis(r, tiers), description=r.get("description", (str,), "text", default=""),
                 runs_experiments=True)


# ---------------------------------------------------------------- a study: several experiments analysed together

STUDY_KEYS = ("id", "description", "experiments", "compare", "results", "analysis")


@dataclass(frozen=True)
class Study:
    """Several experiments analysed together (docs: README "Studies"): their frames stacked, the same
    statistics over all of them, per-task views, and a paired comparison of two (`compare`: baseline,
    candidate). It reads the experiments' analysis frames and never runs their tasks."""
    id: str
    spec_path: Path
    root: Path                       # <results>/<id>
    experiments: tuple[Experiment, ...]
    compare: tuple[str, str] | None
    analysis: AnalysisSettings = DEFAULT_ANALYSIS
    description: str = ""
    # a comparison of agents (load_comparison): its `doit` runs the experiments too, each in its own root
    runs_experiments: bool = False

    @property
    def tiers(self) -> tuple[str, ...]:
        """Every experiment's tiers, each once, in the order they first appear."""
        return tuple(dict.fromkeys(t for e in self.experiments for t in e.tiers))


def is_study(spec_path: str | Path) -> bool:
    """Whether the spec names `experiments:` (a study) rather than a fixture (an experiment)."""
    raw = _load_yaml(Path(spec_path), "spec")
    return isinstance(raw, dict) and "experiments" in raw and "fixture" not in raw


def load_study(spec_path: str | Path) -> Study:
    spec_path = Path(spec_path).resolve()
    r = _Reader(_load_yaml(spec_path, "study spec"), spec_path, allowed=STUDY_KEYS)
    study_id = r.get("id", (str,), "a study id (letters, digits, . _ -)", required=True)
    if not ID_RE.match(study_id):
        raise r.fail("id", "a study id (letters, digits, . _ -)", study_id)
    paths = r.get("experiments", (list,), "a list of experiment spec paths (2 or more)", required=True)
    if len(paths) < 2 or not all(isinstance(p, str) for p in paths):
        raise r.fail("experiments", "a list of experiment spec paths (2 or more)", paths)
    experiments = []
    for i, p in enumerate(paths):
        try:
            experiments.append(load_experiment(spec_path.parent / p))
        except SpecError as exc:
            raise SpecError(f"{spec_path}: key 'experiments[{i}]' ({p}): {exc}") from None
    ids = [e.id for e in experiments]
    if len(set(ids)) < len(ids):
        raise SpecError(f"{spec_path}: key 'experiments': experiment ids must differ (each keys its rows), "
                        f"got {', '.join(ids)}")
    compare = r.get("compare", (list,), f"two of the experiments' ids (baseline, candidate): {', '.join(ids)}",
                    default=None)
    if compare is not None and (len(compare) != 2 or not set(compare) <= set(ids) or compare[0] == compare[1]):
        raise r.fail("compare", f"two different ids of the experiments (baseline, candidate): {', '.join(ids)}",
                     compare)
    results = spec_path.parent / r.get("results", (str,), "the path of the results directory", default="results")
    tiers = tuple(dict.fromkeys(t for e in experiments for t in e.tiers))
    return Study(id=study_id, spec_path=spec_path, root=(results / study_id).resolve(),
                 experiments=tuple(experiments), compare=(str(compare[0]), str(compare[1])) if compare else None,
                 analysis=_analysis(r, tiers), description=r.get("description", (str,), "text", default=""))
