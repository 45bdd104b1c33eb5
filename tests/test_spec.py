"""Loading experiment specs, ProjectScylla fixtures and subtests; errors name file and key."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from conftest import PROJECTSCYLLA, REPO

from scylla.spec import (
    SpecError,
    available_tiers,
    load_experiment,
    load_fixture,
    load_tier,
)


def test_all_projectscylla_fixtures_load():
    dirs = sorted(p for p in (PROJECTSCYLLA / "fixtures").iterdir() if (p / "test.yaml").exists())
    fixtures = [load_fixture(d) for d in dirs]
    assert len(fixtures) == 47
    assert {f.id for f in fixtures} >= {"test-001", "test-047"}
    assert all(len(f.source_hash) == 40 and f.repo_url for f in fixtures)


def test_all_projectscylla_subtests_load():
    tiers_dir = PROJECTSCYLLA / "tiers"
    assert available_tiers(tiers_dir) == [f"T{i}" for i in range(7)]
    subtests = [s for t in available_tiers(tiers_dir) for s in load_tier(tiers_dir, t)]
    assert len(subtests) == 120
    by_key = {s.key: s for s in subtests}
    assert by_key["T0/00"].system_prompt_mode == "none" and by_key["T0/00"].resources.blocks == ()
    assert by_key["T2/02"].resources.tools == ("Read", "Write", "Edit", "Glob", "Grep", "Bash")
    assert by_key["T6/01"].resources.tools == ("all",) and len(by_key["T6/01"].resources.mcp_servers) == 9
    assert by_key["T5/15"].inherit_best_from == ("T0", "T1", "T2", "T3", "T4")
    assert by_key["T4/08"].agent_teams is True


@pytest.fixture
def spec_dir(tmp_path) -> Path:
    shutil.copytree(REPO / "examples/hello", tmp_path / "hello", ignore=shutil.ignore_patterns("results"))
    return tmp_path / "hello"


def _write(spec_dir: Path, change) -> Path:
    path = spec_dir / "experiment.yaml"
    data = yaml.safe_load(path.read_text())
    change(data)
    path.write_text(yaml.safe_dump(data))
    return path


def test_example_loads(spec_dir):
    exp = load_experiment(spec_dir / "experiment.yaml")
    assert exp.tiers == ("T0", "T1", "T5") and exp.runs == 2 and len(exp.judges) == 2
    assert [s.key for s in exp.all_subtests()] == ["T0/00", "T0/01", "T1/01", "T1/02", "T5/01"]
    assert exp.parent_tiers(exp.subtests["T1"][0]) == ("T0",)
    assert exp.parent_tiers(exp.subtests["T5"][0]) == ("T0", "T1")


@pytest.mark.parametrize("change,message", [
    (lambda d: d.__setitem__("runs", "two"), "key 'runs': expected a whole number of runs"),
    (lambda d: d.__setitem__("colour", "red"), "unknown key 'colour'"),
    (lambda d: d.__setitem__("tiers", ["T0", "T9"]), "unknown tier 'T9'"),
    (lambda d: d.__setitem__("tiers", {"T0": ["07"]}), "key 'tiers.T0': unknown subtest '07'"),
    (lambda d: d["judges"][1].__setitem__("adapter", "oracle"), "key 'judges[1].adapter': expected one of"),
    (lambda d: d["agent"].pop("command"), "missing key 'agent.command'"),
    (lambda d: d.pop("judges"), "missing key 'judges'"),
    (lambda d: d.__setitem__("fixture", "nowhere"), "nowhere/test.yaml: fixture test.yaml not found"),
    (lambda d: d.__setitem__("budget_usd", 0), "key 'budget_usd': expected a positive number of US dollars, got int 0"),
    (lambda d: d.__setitem__("budget_usd", -5.0), "key 'budget_usd': expected a positive number of US dollars"),
    (lambda d: d.__setitem__("budget_usd", ".inf"), "key 'budget_usd': expected a positive number of US dollars"),
    (lambda d: d.__setitem__("budget_usd", float("inf")), "key 'budget_usd': expected a positive number of US dollars"),
    (lambda d: d.__setitem__("budget_usd", True), "key 'budget_usd': expected a positive number of US dollars"),
])
def test_spec_errors_name_file_and_key(spec_dir, change, message):
    path = _write(spec_dir, change)
    with pytest.raises(SpecError) as err:
        load_experiment(path)
    assert message in str(err.value) and str(spec_dir) in str(err.value)


def test_malformed_yaml_names_line(spec_dir):
    path = spec_dir / "experiment.yaml"
    path.write_text(path.read_text() + "\nagent: [unclosed\n")
    with pytest.raises(SpecError, match=r"experiment.yaml: line \d+ column \d+ malformed YAML"):
        load_experiment(path)


def test_missing_fixture_file(spec_dir):
    (spec_dir / "fixture/expected/criteria.md").unlink()
    with pytest.raises(SpecError, match=r"test.yaml: key 'validation.criteria_file': file .*criteria.md does not exist"):
        load_experiment(spec_dir / "experiment.yaml")


def test_malformed_subtest(spec_dir):
    (spec_dir / "tiers/t1/02-rle-skill.yaml").write_text("name: x\nextends_previous: maybe\n")
    with pytest.raises(SpecError, match=r"02-rle-skill.yaml: key 'extends_previous': expected true or false"):
        load_experiment(spec_dir / "experiment.yaml")
    (spec_dir / "tiers/t1/02-rle-skill.yaml").write_text("name: x\nresources:\n  skils: []\n")
    with pytest.raises(SpecError, match=r"unknown key 'resources.skils'"):
        load_experiment(spec_dir / "experiment.yaml")


def test_inherit_from_tier_outside_experiment(spec_dir):
    path = _write(spec_dir, lambda d: d.__setitem__("tiers", ["T0", "T5"]))
    with pytest.raises(SpecError, match=r"01-best-plus-agents.yaml: key 'inherit_best_from': tier 'T1'"):
        load_experiment(path)


def test_subtest_defaults_follow_projectscylla(tmp_path):
    """extends_previous defaults to true except for T0/00 and T0/01; system_prompt_mode to custom;
    resources may also sit at the top level."""
    for rel, text in {"t0/00-a.yaml": "name: a\n", "t0/01-b.yaml": "name: b\n", "t0/02-c.yaml": "name: c\n",
                      "t1/01-d.yaml": "name: d\nagents: {levels: [3]}\nskills: {names: [x]}\n"}.items():
        (tmp_path / rel).parent.mkdir(exist_ok=True)
        (tmp_path / rel).write_text(text)
    t0, t1 = load_tier(tmp_path, "T0"), load_tier(tmp_path, "T1")
    assert [s.extends_previous for s in t0 + t1] == [False, False, True, True]
    assert {s.system_prompt_mode for s in t0 + t1} == {"custom"}
    assert t1[0].resources.agents == ("level/3",) and t1[0].resources.skills == ("name/x",)
    (tmp_path / "t0/00-a.yaml").write_text("system_prompt_mode: empty\n")
    with pytest.raises(SpecError, match=r"00-a.yaml: key 'system_prompt_mode': expected one of none, default, custom"):
        load_tier(tmp_path, "T0")


def test_inheriting_from_a_higher_tier_is_refused(spec_dir):
    (spec_dir / "tiers/t1/02-rle-skill.yaml").write_text("name: x\ninherit_best_from: [T5]\n")
    with pytest.raises(SpecError, match=r"02-rle-skill.yaml: key 'inherit_best_from': tier 'T5' is not below T1"):
        load_experiment(spec_dir / "experiment.yaml")


def test_a_projectscylla_fixture_sets_the_agent_timeout_and_pipeline_language(tmp_path):
    spec = tmp_path / "experiment.yaml"
    spec.write_text(yaml.safe_dump({
        "id": "ps-test-002", "fixture": str(PROJECTSCYLLA / "fixtures/test-002"),
        "tiers_dir": str(PROJECTSCYLLA / "tiers"), "tiers": ["T0"],
        "agent": {"adapter": "claude-code", "model": "claude-sonnet-4-6"},
        "judges": [{"adapter": "claude-code", "model": "claude-opus-4-6"}],
        "repos": {"https://github.com/mvillmow/modular": str(tmp_path / "clone")}}))
    exp = load_experiment(spec)
    fixture = yaml.safe_load((PROJECTSCYLLA / "fixtures/test-002/test.yaml").read_text())
    assert exp.agent.timeout_seconds == fixture["task"]["timeout_seconds"] == 1380
    assert exp.fixture.language == fixture["language"]
    assert exp.repos[exp.fixture.repo_url] == (tmp_path / "clone").resolve()     # source.repo -> local clone


@pytest.mark.parametrize("yaml_text, key, name", [
    ("resources: {claude_md: {blocks: [../../fixture/expected/criteria]}}", "resources.claude_md.blocks",
     "../../fixture/expected/criteria"),
    ("resources: {skills: {categories: [../../../etc]}}", "resources.skills.categories", "../../../etc"),
    ("skills: {names: [/etc/ssl]}", "skills.names", "/etc/ssl"),
    ("resources: {agents: {names: [L0/../../../../x]}}", "resources.agents.names", "L0/../../../../x"),
    ("resources: {agents: {names: ['..']}}", "resources.agents.names", ".."),
    ("resources: {claude_md: {blocks: ['B*']}}", "resources.claude_md.blocks", "B*"),
])
def test_resource_names_are_plain_names(tmp_path, yaml_text, key, name):
    """A resource name is looked up under the tiers directory, never used as a path: `../` would pull any
    file of the machine into every workspace's CLAUDE.md or .claude/."""
    (tmp_path / "t1").mkdir()
    (tmp_path / "t1/01-x.yaml").write_text(yaml_text + "\n")
    with pytest.raises(SpecError) as err:
        load_tier(tmp_path, "T1")
    assert str(err.value).startswith(f"{tmp_path / 't1/01-x.yaml'}: key '{key}': {name!r} is not a resource name")
    assert "no '/', no '..'" in str(err.value)


def test_agent_levels_are_numbers_not_a_traceback(tmp_path):
    (tmp_path / "t1").mkdir()
    (tmp_path / "t1/01-x.yaml").write_text("agents: {levels: [../2]}\n")
    with pytest.raises(SpecError, match=r"01-x.yaml: key 'agents.levels': expected a list of sub-agent levels"):
        load_tier(tmp_path, "T1")
