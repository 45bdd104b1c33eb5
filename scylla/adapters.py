"""Agents and judges behind one small protocol, found by name in one registry.

An adapter is an object with the attributes and methods of `AgentAdapter` or `JudgeAdapter` below
(subclass one to inherit its defaults). An experiment names it in `agent.adapter` / `judges[].adapter`:

* by a registered name: the built-ins (BUILTIN below: the only place that lists them), those added with
  `register()`, and those of installed distributions' entry points in the group `scylla.adapters`
  (entry point name = adapter name, value = `module:attribute`);
* as `module:Attribute`: the module is imported (installed, or on PYTHONPATH), then the attribute used.

An attribute that is a class is instantiated without arguments. Adapters are imported on first use:
importing this module imports none, and a `doit` imports only those its spec names. docs/adapters.md
says how to add one.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar, Protocol

from . import records

ENTRY_POINTS = "scylla.adapters"
KINDS = ("agent", "judge")

# (kind, name) -> "module:attribute", imported when an experiment first names it
BUILTIN = {
    ("agent", "aider"): "scylla.agents.aider:AGENT",
    ("agent", "claude-code"): "scylla.agents.claude_code:AGENT",
    ("agent", "codex"): "scylla.agents.codex:AGENT",
    ("agent", "command"): "scylla.agents.command:AGENT",
    ("agent", "gemini"): "scylla.agents.gemini:AGENT",
    ("agent", "opencode"): "scylla.agents.opencode:AGENT",
    ("judge", "claude-code"): "scylla.judges.claude_code:JUDGE",
    ("judge", "command"): "scylla.judges.command:JUDGE",
    ("judge", "openai"): "scylla.judges.openai_judge:JUDGE",
    ("judge", "pipeline"): "scylla.judges.pipeline:JUDGE",
}
# captures written before agents recorded their adapter were all read by this one's parser
LEGACY_AGENT = "command"
COMMAND_LOG = "command_log.json"


# ---------------------------------------------------------------- what adapters return and declare

@dataclass(frozen=True)
class AgentRun:
    """How an agent call ended, as its adapter classified it. `infra_reason`: an infrastructure failure
    (the task fails, its outputs are archived, the next `doit` retries it); `rate_limited`: the provider
    refused for now (every worker pauses `retry_after` seconds, else the configured backoff, then the
    task tries again). Anything else is the agent's own outcome, sealed as it is."""
    exit_code: int
    duration_seconds: float
    infra_reason: str | None
    rate_limited: bool = False
    retry_after: float | None = None


@dataclass(frozen=True)
class Executable:
    """A program an adapter runs: preflight checks that `name --version` answers before anything is paid."""
    name: str
    where: str          # how the spec points at it, e.g. "set agent.options.cli to its path"
    install: str        # e.g. "npm install -g @anthropic-ai/claude-code"


@dataclass(frozen=True)
class Credentials:
    """Environment variables holding an adapter's key (any one will do; never stored)."""
    variables: tuple[str, ...]
    note: str = ""      # appended to who needs them, e.g. ", model gpt-4o"


class AgentAdapter(Protocol):
    """An agent: runs on a prompt in a prepared workspace and leaves its raw captures in `agent_dir`."""
    kind: ClassVar[str] = "agent"
    name: str = ""                      # as experiments name it (a registered name)
    paid: bool = True                   # its runs cost money: the budget gates them, the forecast prices them
    description: str = ""
    # spec keys under `agent:` it cannot run without -> what they hold (a missing one is a spec error)
    requires: Mapping[str, str] = MappingProxyType({})
    # workspace paths its tier configuration occupies: the repository's own are removed before the
    # subtest's configuration is committed on top (the agent sees exactly the subtest's configuration)
    config_paths: tuple[str, ...] = ()

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        """Run the agent in `workspace` on `agent_dir/prompt.md`'s task (the experiment's prompt) and
        write into `agent_dir` at least: prompt.md, stdout.log, stderr.log, output.txt (the agent's final
        text, which judges read), command_log.json ({"adapter": name, "commands": [{"exit_code": ...}]}),
        timing.json ({"agent_duration_seconds", "measured_at"}), MODEL.md and replay.sh. Secrets must not
        reach any file (scylla.secrets). Scylla captures the workspace's changes itself afterwards."""
        ...

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        """agent/result.json from the raw captures alone (no call; the same bytes every time): exit_code,
        stdout, stderr, token_stats, cost_usd (None when unknown, never a guess), api_calls, model_usage,
        outcome."""
        ...

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        """The tier configuration of a subtest (its composed manifest) as workspace files: relative path
        -> content. Paths must lie under `config_paths`."""
        return {}

    def unsupported(self, manifest: records.ConfigManifest) -> tuple[str, ...]:
        """The subtest's tier resources this agent has no way to receive (e.g. "sub-agent L2/reviewer"),
        each with why: recorded with every run (command_log.json, MODEL.md, result.json), never dropped
        silently."""
        return ()

    def executables(self, config) -> list[Executable]:
        """Programs it runs (`config`: the spec's AgentConfig)."""
        return []

    def credentials(self, config) -> Credentials | None:
        return None

    def passed_env(self, config) -> tuple[str, ...]:
        """Names (or `PREFIX_*` patterns) of the caller's variables the agent gets besides the minimal
        base, e.g. its key and base URL. Nothing else of the environment reaches it (other adapters' and
        judges' keys included); the spec adds names with `agent.env`."""
        return ()

    def endpoints(self, config) -> tuple[str, ...]:
        """What its sandbox lets it reach (URLs or host:port): its model endpoint. The spec adds more
        with `sandbox.allow`."""
        return ()

    def reported_cost(self, log_text: str) -> float | None:
        """What a failed or interrupted attempt consumed, from its archived stdout.log, if it said."""
        return None


class JudgeAdapter(Protocol):
    """A judge: reads a run's judge prompt and leaves its raw reply in `out_dir`."""
    kind: ClassVar[str] = "judge"
    name: str = ""
    paid: bool = True                   # paid judges also take a judge slot and wait out rate-limit pauses
    description: str = ""               # the forecast's basis for an unpaid one
    requires: Mapping[str, str] = MappingProxyType({})     # spec keys under `judges[N]:` -> what they hold
    default_model: str | None = None    # None: `model` is required
    role: str = "Judge"                 # MODEL.md's heading

    def run(self, exp, slot, run_paths, prompt: Path, system_prompt: Path, out_dir: Path) -> tuple[dict, float]:
        """Judge once (retrying an unparseable reply `slot.retries` times); write response.txt (the final
        reply), stdout.log and replay.sh; return (the call record: cost_usd, attempts, parsed, ...;
        the duration in seconds). Raise scylla.throttle.RateLimited / scylla.durable.InfraFailure when
        the provider refused or failed: those are retried, never recorded as a judgment."""
        ...

    def inputs(self, run_paths) -> list[str]:
        """Files it reads besides judge_prompt.md and the system prompt (they are part of its seal)."""
        return []

    def executables(self, slot) -> list[Executable]:
        return []

    def credentials(self, slot) -> Credentials | None:
        return None

    def reported_cost(self, log_text: str) -> float | None:
        return None


def model_md(role: str, model: str, adapter: str, command: str | None) -> str:
    """MODEL.md of an agent run or a judgment: who answered."""
    text = f"# {role}\n\n**Model**: {model}\n**Adapter**: {adapter}\n"
    return text + (f"**Command**: `{command}`\n" if command else "")


# ---------------------------------------------------------------- the registry

class UnknownAdapter(LookupError):
    """No adapter of this kind under this name (`not_found`), or one that cannot be loaded."""

    def __init__(self, message: str, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


_registered: dict[tuple[str, str], Any] = {}
_loaded: dict[tuple[str, str], Any] = {}


def register(adapter: Any = None, *, name: str | None = None):
    """Register an adapter (an instance, or a class instantiated without arguments) under its `name`
    (or `name=`). Usable as a call or as a class decorator (`@register` / `@register(name="x")`)."""
    def add(obj):
        instance = obj() if isinstance(obj, type) else obj
        key = (_kind_of(instance), name or instance.name)
        if not key[1]:
            raise UnknownAdapter(f"{obj!r}: an adapter is registered under a name: set its `name` or pass name=")
        _registered[key] = instance
        _loaded.pop(key, None)
        return obj
    return add(adapter) if adapter is not None else add


def get(kind: str, name: str):
    """The `kind` adapter experiments call `name` (imported on first use)."""
    key = (kind, name)
    if key in _loaded:
        return _loaded[key]
    if key in _registered:
        adapter = _registered[key]
    elif key in BUILTIN:
        adapter = _import(BUILTIN[key])
    elif ":" in name:
        adapter = _import(name)
    else:
        adapter = _entry_point(kind, name)
    if adapter is None:
        raise UnknownAdapter(f"no {kind} adapter named {name!r} (registered: {', '.join(names(kind))}; "
                             f"or name one as module:Attribute)", not_found=True)
    if _kind_of(adapter) != kind:
        raise UnknownAdapter(f"{name!r} is a {_kind_of(adapter)} adapter, not a {kind} adapter")
    _loaded[key] = adapter
    return adapter


def agent(name: str) -> AgentAdapter:
    return get("agent", name)


def judge(name: str) -> JudgeAdapter:
    return get("judge", name)


def names(kind: str) -> list[str]:
    """Every registered name of `kind`: built-in, registered, and from entry points."""
    found = {n for k, n in [*BUILTIN, *_registered] if k == kind}
    for ep in _entry_points():
        try:
            if _kind_of(_instance(ep.load())) == kind:
                found.add(ep.name)
        except (ImportError, AttributeError, UnknownAdapter):    # a broken plugin must not hide the others
            continue
    return sorted(found)


def _kind_of(adapter) -> str:
    kind = getattr(adapter, "kind", None)
    if kind not in KINDS:
        raise UnknownAdapter(f"{adapter!r} is not an adapter: its `kind` must be one of {', '.join(KINDS)}")
    return kind


def _instance(obj):
    return obj() if isinstance(obj, type) else obj


def _import(ref: str):
    module, _, attribute = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for part in attribute.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise UnknownAdapter(f"cannot load adapter {ref!r}: {exc}") from None
    return _instance(obj)


def _entry_points() -> list:
    from importlib.metadata import (
        entry_points,  # (only when a name is not built in or registered)
    )
    return list(entry_points(group=ENTRY_POINTS))


def _entry_point(kind: str, name: str):
    for ep in _entry_points():
        if ep.name == name:
            adapter = _import(ep.value)
            if getattr(adapter, "kind", None) == kind:
                return adapter
    return None


# ---------------------------------------------------------------- the keys an experiment configures

def judge_keys(slot) -> tuple[str, ...]:
    """The variables holding a judge slot's key: its adapter's credentials and its `api_key_env`. A
    judge's program gets these and no other key."""
    credentials = judge(slot.adapter).credentials(slot)
    named = (slot.api_key_env,) if getattr(slot, "api_key_env", None) else ()
    return tuple(dict.fromkeys([*(credentials.variables if credentials else ()), *named]))


def key_variables(exp) -> tuple[str, ...]:
    """Every variable the experiment's agent and judges hold a key in, whatever its name: their values
    are redacted from every artifact (scylla.secrets.secret_values)."""
    credentials = agent(exp.agent.adapter).credentials(exp.agent)
    names = [*(credentials.variables if credentials else ()), *([exp.agent.api_key_env] if exp.agent.api_key_env else [])]
    for slot in exp.judges:
        names += judge_keys(slot)
    return tuple(dict.fromkeys(names))


# ---------------------------------------------------------------- which agent adapter wrote a capture

def recorded_agent(agent_dir: Path, default: str = LEGACY_AGENT) -> str:
    """The adapter an agent run's command_log.json names (`default` when it names none)."""
    try:
        name = json.loads((Path(agent_dir) / COMMAND_LOG).read_bytes()).get("adapter")
    except (OSError, ValueError, AttributeError):
        name = None
    return name if isinstance(name, str) and name else default


def derive_agent_result(agent_dir: Path) -> records.AgentResult:
    """agent/result.json, by the parser of the adapter that ran, with the sandbox it ran in."""
    result = agent(recorded_agent(agent_dir)).derive_result(Path(agent_dir))
    return {**result, "sandbox": recorded_sandbox(Path(agent_dir))}


def recorded_sandbox(agent_dir: Path) -> records.SandboxRecord:
    """The run's sandbox as its command_log.json records it; "unknown" where it records none (a run from
    before Scylla recorded it, adopted from ProjectScylla, or by an adapter that does not run in one)."""
    try:
        record = json.loads((agent_dir / COMMAND_LOG).read_bytes()).get("sandbox")
    except (OSError, ValueError, AttributeError):
        record = None
    if not isinstance(record, dict):
        return {"kind": "unknown", "note": f"{COMMAND_LOG} records no sandbox", "network": None, "violations": []}
    return {"kind": record.get("kind", "unknown"), "note": record.get("note"), "network": record.get("network"),
            "violations": record.get("violations") or []}
