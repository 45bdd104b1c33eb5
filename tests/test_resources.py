"""Tier composition on real ProjectScylla subtests: merge rules and the files a workspace receives."""

from __future__ import annotations

import orjson

from conftest import PROJECTSCYLLA
from scylla import resources
from scylla.spec import load_tier

TIERS = PROJECTSCYLLA / "tiers"


def _subtest(tier: str, sid: str):
    return next(s for s in load_tier(TIERS, tier) if s.id == sid)


def test_merge_rules():
    base = {"claude_md_blocks": ["B01"], "skills": ["a/x"], "agents": ["L3/p"], "tools": ["Read"],
            "mcp_servers": [{"name": "git"}]}
    over = {"claude_md_blocks": None, "skills": ["b/y"], "agents": [], "tools": ["Bash", "Read"],
            "mcp_servers": [{"name": "fetch"}]}
    merged = resources.merge(base, over)
    assert merged == {"claude_md_blocks": ["B01"], "skills": ["a/x", "b/y"], "agents": ["L3/p"],
                      "tools": ["Bash", "Read"], "mcp_servers": [{"name": "fetch"}, {"name": "git"}]}
    assert resources.merge(base, {**over, "tools": ["all"], "claude_md_blocks": ["B02"]})["tools"] == ["all"]
    assert resources.merge(base, {**over, "claude_md_blocks": ["B02"]})["claude_md_blocks"] == ["B02"]


def test_empty_subtest_gets_no_files(tmp_path):
    manifest = resources.materialize(TIERS, resources.compose(TIERS, _subtest("T0", "00"), []), tmp_path)
    assert manifest["files"] == {} and manifest["claude_md_sha256"] is None and not any(tmp_path.iterdir())


def test_tools_subtest_extends_a_blocks_subtest(tmp_path):
    parent = resources.materialize(TIERS, resources.compose(TIERS, _subtest("T0", "06"), []), tmp_path / "p")
    child = resources.materialize(TIERS, resources.compose(TIERS, _subtest("T2", "02"), [parent]), tmp_path / "c")
    assert child["inherited_from"] == [{"tier": "T0", "subtest": "06"}]
    assert (tmp_path / "c/CLAUDE.md").read_text() == (tmp_path / "p/CLAUDE.md").read_text()
    settings = orjson.loads((tmp_path / "c/.claude/settings.json").read_bytes())
    assert settings == {"permissions": {"allow": ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]}}


def test_agent_teams_and_agents_are_materialized(tmp_path):
    manifest = resources.materialize(TIERS, resources.compose(TIERS, _subtest("T4", "08"), []), tmp_path)
    assert (tmp_path / ".claude/agents/chief-architect.md").is_file()
    settings = orjson.loads((tmp_path / ".claude/settings.json").read_bytes())
    assert settings["env"] == {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}
    resources.verify(tmp_path, manifest)
    (tmp_path / ".claude/agents/chief-architect.md").write_text("tampered")
    try:
        resources.verify(tmp_path, manifest)
    except resources.ResourceError as exc:
        assert "does not match config_manifest.json" in str(exc)
    else:
        raise AssertionError("tampered config accepted")


def test_unresolvable_skills_fail_with_the_subtest_file():
    try:
        resources.compose(TIERS, _subtest("T1", "01"), [])      # ProjectScylla ships no skills/ directory
    except resources.ResourceError as exc:
        assert "t1/01-agent.yaml: cannot resolve resources.skills: category/agent" in str(exc)
    else:
        raise AssertionError("missing skills accepted")
