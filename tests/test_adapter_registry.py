"""The adapter registry: names resolve (built-in, registered, entry point, module:Attribute), unknown ones are
spec errors naming file, field and the registered names, nothing is imported before it is used, and the
built-ins' seal identities are what they were before adapters had a protocol."""

from __future__ import annotations

import os
import subprocess
import sys
from importlib.metadata import EntryPoint
from pathlib import Path
from types import MappingProxyType

import pytest
import yaml
from conftest import REPO

from scylla import adapters, durable
from scylla.spec import SpecError, load_experiment

TESTS = Path(__file__).resolve().parent
HELLO = REPO / "examples/hello"


def _spec(tmp_path: Path, agent: dict, judges: list[dict]) -> Path:
    spec = tmp_path / "experiment.yaml"
    spec.write_text(yaml.safe_dump({"id": "reg", "fixture": str(HELLO / "fixture"), "tiers_dir": str(HELLO / "tiers"),
                                    "tiers": ["T0"], "agent": agent, "judges": judges, "thinking": "high",
                                    "max_turns": 7}))
    return spec


CLAUDE = {"adapter": "claude-code", "model": "claude-sonnet-4-6", "options": {"cli": "/x/claude"}}
PANEL = [{"adapter": "claude-code", "model": "claude-opus-4-6"},
         {"adapter": "openai", "model": "gpt-4o", "base_url": "http://localhost:1/v1", "options": {"seed": 3}},
         {"adapter": "pipeline"},
         {"adapter": "command", "model": "m", "command": "judge.sh"}]


def test_unknown_adapters_are_spec_errors_naming_file_field_and_registered_names(tmp_path):
    spec = _spec(tmp_path, {"adapter": "cursor", "model": "gpt-5"}, PANEL)
    with pytest.raises(SpecError) as err:
        load_experiment(spec)
    builtin = sorted(n for k, n in adapters.BUILTIN if k == "agent")      # (each agent CLI adds its own)
    assert {"aider", "claude-code", "codex", "command", "gemini", "opencode"} <= set(builtin)
    assert str(err.value).startswith(f"{spec}: key 'agent.adapter': expected one of {', '.join(builtin)} "
                                     f"(the registered agent adapters) or module:Attribute, got 'cursor'")
    spec = _spec(tmp_path, CLAUDE, [*PANEL, {"adapter": "oracle", "model": "m"}])
    with pytest.raises(SpecError, match=r"key 'judges\[4\].adapter': expected one of claude-code, command, openai, "
                                        r"pipeline \(the registered judge adapters\) or module:Attribute, got 'oracle'"):
        load_experiment(spec)
    spec = _spec(tmp_path, {"adapter": "no_such_module:Agent", "model": "m"}, PANEL)     # the import's own error
    with pytest.raises(SpecError, match=r"got 'no_such_module:Agent' \(cannot load adapter .*No module named"):
        load_experiment(spec)
    spec = _spec(tmp_path, {"adapter": "pipeline", "model": "m"}, PANEL)      # a judge adapter is no agent
    with pytest.raises(SpecError, match="key 'agent.adapter': expected one of aider, claude-code, "):
        load_experiment(spec)


def test_an_adapter_declares_the_spec_keys_it_requires(tmp_path):
    spec = _spec(tmp_path, {"adapter": "command", "model": "m"}, PANEL)
    with pytest.raises(SpecError, match=r"missing key 'agent.command' \(the shell command the command adapter"):
        load_experiment(spec)

    @adapters.register
    class Strict(adapters.JudgeAdapter):
        name = "strict-test-judge"
        requires = MappingProxyType({"base_url": "the endpoint it judges with"})
        default_model = "strict-1"
    try:
        spec = _spec(tmp_path, CLAUDE, [{"adapter": "strict-test-judge"}])
        with pytest.raises(SpecError, match=r"experiment.yaml: missing key 'judges\[0\].base_url' \(the endpoint"):
            load_experiment(spec)
        spec = _spec(tmp_path, CLAUDE, [{"adapter": "strict-test-judge", "base_url": "http://x/v1"}])
        slot = load_experiment(spec).judges[0]
        assert (slot.model, slot.paid) == ("strict-1", True)        # its default model; paid unless it says not
        assert "strict-test-judge" in adapters.names("judge") and "strict-test-judge" not in adapters.names("agent")
    finally:
        adapters._registered.pop(("judge", "strict-test-judge"))
        adapters._loaded.pop(("judge", "strict-test-judge"), None)


def test_entry_points_and_module_attribute_names_resolve(monkeypatch):
    monkeypatch.syspath_prepend(str(TESTS))
    point = EntryPoint(name="echo", value="adapters_for_tests.echo_agent:EchoAgent", group=adapters.ENTRY_POINTS)
    monkeypatch.setattr(adapters, "_entry_points", lambda: [point])
    monkeypatch.setattr(adapters, "_loaded", {})
    echo = adapters.agent("echo")
    assert type(echo).__name__ == "EchoAgent" and echo.config_paths == ("AGENTS.md",)
    assert "echo" in adapters.names("agent") and "echo" not in adapters.names("judge")
    with pytest.raises(adapters.UnknownAdapter, match="no judge adapter named 'echo'"):
        adapters.judge("echo")
    assert type(adapters.agent("adapters_for_tests.echo_agent:EchoAgent")).__name__ == "EchoAgent"


def test_seal_identities_of_the_built_in_adapters_are_unchanged(tmp_path):
    """Digests as the code before the adapter protocol computed them: a change would make every finished
    agent run and judgment stale, and buy it again."""
    exp = load_experiment(_spec(tmp_path, CLAUDE, PANEL))
    assert durable.config_digest(exp.agent.identity(exp.fixture)) == \
        "2b6ad51607f7088ce496354579be370f4fbd865818d9d716fd40d0a29e5b0b40"
    assert [durable.config_digest(j.identity()) for j in exp.judges] == [
        "52edd415a195306333e816b47301e82a304128590eea95eb56a548421f8b87f3",
        "a1494e1891f114e29b3bb78a4d8e12dea6a41f89a553803ebb9e0b8155d0ef8b",
        "c1ab85225416b297b3e00c1ac32a9f8906c2113139e5b6229fcb408eb9bf9c7b",
        "07f17cf722a390a62dda8376c89ef8f537ffefdcdccbe210b34a8966cc0b999a"]
    assert [j.paid for j in exp.judges] == [True, True, False, True]
    assert exp.judges[2].model == "scylla-pipeline-judge"
    hello = load_experiment(HELLO / "experiment.yaml")
    assert durable.config_digest(hello.agent.identity(hello.fixture)) == \
        "1baf281d33f047d0e495fac97338c5143e0884bbc254aa3318ace39031b2c671"


@pytest.mark.e2e            # (fresh interpreters)
def test_importing_the_registry_or_the_planning_modules_imports_no_adapter():
    code = ("import sys, scylla.adapters as a; import scylla.plan, scylla.forecast, scylla.status, scylla.budget, "
            "scylla.preflight, scylla.actions, scylla.spec, scylla.graph\n"
            "mods = {ref.split(':')[0] for ref in a.BUILTIN.values()}\n"
            "print(sorted(m for m in sys.modules if m in mods or m.startswith(('scylla.agents', 'openai'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == "[]"
    code = ("import sys, scylla.adapters as a; a.judge('pipeline')\n"
            "print(sorted(m for m in sys.modules if m.startswith(('scylla.agents', 'scylla.judges.'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(REPO)}).stdout
    assert out.strip() == "['scylla.judges.pipeline']"       # the one named, on first use


CORE = ("actions", "budget", "preflight", "forecast", "spec", "resources", "workspace", "graph", "plan", "status")


def test_core_modules_name_no_concrete_adapter():
    """Only the registry lists the built-ins: no core module imports an adapter module or compares an
    `adapter` with a name."""
    import ast
    adapter_modules = {ref.split(":")[0] for ref in adapters.BUILTIN.values()}
    for name in CORE:
        path = REPO / "scylla" / f"{name}.py"
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                module = f"scylla.{node.module}" if node.level else node.module
                imported = {module, *(f"{module}.{a.name}" for a in node.names)}
                assert not imported & adapter_modules and not any(
                    m.startswith("scylla.agents") for m in imported), f"{path}:{node.lineno} imports an adapter"
            if isinstance(node, ast.Compare):
                names = {n.attr for n in ast.walk(node) if isinstance(n, ast.Attribute)}
                consts = [n.value for n in ast.walk(node) if isinstance(n, ast.Constant)]
                assert not ("adapter" in names and consts), f"{path}:{node.lineno} compares an adapter with a name"
            if isinstance(node, ast.Constant) and node.value in ("claude-code", "openai"):
                raise AssertionError(f"{path}:{node.lineno} names the {node.value} adapter")
