"""Tier composition on real ProjectScylla subtests: merge rules, parent tiers, and the files a prepared
workspace holds (CLAUDE.md with its resource and environment sections, .claude/, the manifest)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import orjson
import pytest
from conftest import PROJECTSCYLLA

from scylla import adapters, records, resources, workspace
from scylla.agents import claude_files
from scylla.spec import load_experiment, load_subtest, load_tier

TIERS = PROJECTSCYLLA / "tiers"
CLAUDE_CODE = adapters.agent("claude-code")      # renders tier resources as CLAUDE.md and .claude/
L2_AGENTS = ["architecture-design", "code-review-orchestrator", "integration-design", "security-design"]
T2_02_TOOLS = ["Read", "Write", "Edit", "Glob", "Grep", "Bash"]


def _subtest(tier: str, sid: str):
    return next(s for s in load_tier(TIERS, tier) if s.id == sid)


def _block(name: str) -> str:
    return next((TIERS / "blocks").glob(f"{name}-*.md")).read_text().strip("\n")


class Prepared:
    """One subtest composed, materialized, committed on a task repository and checked out, as a run does it."""

    def __init__(self, root: Path, tier: str, sid: str, parents: tuple[Prepared, ...] = ()):
        composed = resources.compose(TIERS, _subtest(tier, sid), [p.manifest for p in parents])
        self.manifest: records.ConfigManifest = resources.materialize(composed, CLAUDE_CODE.config_files(TIERS, composed), root / "config")
        repo = _repository(root / "repo")
        commit = workspace.config_commit(repo / ".git", workspace.head(repo), root / "config", CLAUDE_CODE.config_paths)
        self._checkout = workspace.checkout(repo / ".git", root / "ws", commit)   # kept open for the asserts
        self.ws = self._checkout.__enter__()

    def text(self, rel: str) -> str:
        return (self.ws / rel).read_text()

    def settings(self) -> dict:
        return orjson.loads((self.ws / ".claude/settings.json").read_bytes())

    def files(self) -> list[str]:
        return sorted(p.relative_to(self.ws).as_posix() for p in self.ws.rglob("*")
                      if p.is_file() and ".git" not in p.relative_to(self.ws).parts)

    def committed(self) -> bool:
        return workspace.git("status", "--porcelain", cwd=self.ws) == b""


def _repository(ws: Path) -> Path:
    """A task repository with a CLAUDE.md and .claude/ of its own (the subtest's configuration replaces them)."""
    ws.mkdir(parents=True)
    workspace.git("init", "-q", str(ws))
    (ws / "README.md").write_text("task repository\n")
    (ws / "CLAUDE.md").write_text("the repository's own instructions\n")
    (ws / ".claude").mkdir()
    (ws / ".claude/settings.json").write_text('{"permissions": {"allow": ["WebFetch"]}}\n')
    workspace.git("add", ".", cwd=ws)
    workspace.git("commit", "-q", "-m", "task", cwd=ws, fixed=True)
    return ws


def _section(claude_md: str, heading: str) -> str:
    """The text of one `## heading` section of a CLAUDE.md."""
    return claude_md.split(f"## {heading}\n\n", 1)[1].split("\n## ", 1)[0]


def _bullets(claude_md: str, title: str) -> list[str]:
    """The `- item` lines following `title:` in the resource section."""
    after = _section(claude_md, "Resources for this task").split(f"{title}:\n\n", 1)[1]
    return [line[2:] for line in after.split("\n\n", 1)[0].splitlines()]


def _claude_md_hash_matches(p: Prepared) -> bool:
    return p.manifest["claude_md_sha256"] == hashlib.sha256((p.ws / "CLAUDE.md").read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def chain(tmp_path_factory) -> dict[str, Prepared]:
    """T0/06 (block B01) -> T2/02 (tools) -> T3/01 (L2 agents), each extending the one before."""
    root = tmp_path_factory.mktemp("chain")
    t0 = Prepared(root / "t0", "T0", "06")
    t2 = Prepared(root / "t2", "T2", "02", (t0,))
    t3 = Prepared(root / "t3", "T3", "01", (t2,))
    return {"T0/06": t0, "T2/02": t2, "T3/01": t3}


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


def test_parent_tiers_follow_projectscylla(tmp_path):
    """inherit_best_from names exactly the parents (T5/13 extends_previous: true adds nothing);
    otherwise extends_previous means the previous tier of the experiment."""
    spec = tmp_path / "experiment.yaml"
    spec.write_text(f"""id: parents
fixture: {PROJECTSCYLLA / 'fixtures/test-001'}
tiers_dir: {TIERS}
tiers: {{T0: ["00", "01", "06"], T2: ["02"], T3: ["01"], T5: ["01", "13"]}}
agent: {{adapter: command, model: m, command: "true"}}
judges: [{{adapter: pipeline}}]
""")
    exp = load_experiment(spec)
    parents = {s.key: exp.parent_tiers(s) for s in exp.all_subtests()}
    assert parents == {"T0/00": (), "T0/01": (), "T0/06": (), "T2/02": ("T0",), "T3/01": ("T2",),
                       "T5/01": ("T0",), "T5/13": ("T2", "T3")}


def test_t0_00_empty_prompt_gets_no_claude_md_and_no_claude_dir(tmp_path):
    p = Prepared(tmp_path, "T0", "00")
    assert p.files() == ["README.md"] and p.committed()        # the repository's own config is gone too
    assert p.manifest["system_prompt_mode"] == "none" and p.manifest["inherited_from"] == []
    assert p.manifest["files"] == {} and p.manifest["claude_md_sha256"] is None


def test_t0_01_vanilla_keeps_the_tool_defaults(tmp_path):
    p = Prepared(tmp_path, "T0", "01")
    assert p.manifest["system_prompt_mode"] == "default"
    assert p.files() == ["README.md"] and p.manifest["claude_md_sha256"] is None


def test_blocks_subtest_gets_blocks_then_the_generic_and_environment_sections(tmp_path):
    p = Prepared(tmp_path, "T0", "03")
    claude_md = p.text("CLAUDE.md")
    blocks = [f"B{i:02d}" for i in range(1, 19)]
    assert p.manifest["resources"]["claude_md_blocks"] == blocks
    assert claude_md.startswith("\n\n".join(_block(b) for b in blocks) + "\n\n## Resources for this task\n\n")
    assert _section(claude_md, "Resources for this task").strip() == claude_files.NO_RESOURCES
    assert "use the available tools and your judgment" in claude_files.NO_RESOURCES
    environment = _section(claude_md, "Test environment")
    assert "git push" in environment and "pull requests" in environment and "git fetch" in environment
    assert claude_md.endswith(claude_files.ENVIRONMENT_SECTION + "\n")
    assert p.files() == ["CLAUDE.md", "README.md"] and p.committed()
    assert _claude_md_hash_matches(p)


def test_tools_subtest_names_its_tools_and_restricts_them(chain):
    p = chain["T2/02"]
    assert p.manifest["inherited_from"] == [{"tier": "T0", "subtest": "06"}]
    assert p.manifest["resources"]["tools"] == T2_02_TOOLS
    claude_md = p.text("CLAUDE.md")
    assert claude_md.startswith(_block("B01") + "\n\n## Resources for this task")     # T0/06's block kept
    assert _bullets(claude_md, "Use these tools") == T2_02_TOOLS
    assert p.settings() == {"permissions": {"allow": T2_02_TOOLS}}
    assert p.files() == [".claude/settings.json", "CLAUDE.md", "README.md"]
    assert _claude_md_hash_matches(p)
    assert chain["T0/06"].manifest["claude_md_sha256"] != p.manifest["claude_md_sha256"]


def test_agents_subtest_installs_and_names_the_l2_agents(chain):
    p = chain["T3/01"]
    assert p.manifest["inherited_from"] == [{"tier": "T2", "subtest": "02"}]
    assert p.manifest["resources"]["agents"] == [f"L2/{a}" for a in L2_AGENTS]
    claude_md = p.text("CLAUDE.md")
    assert _bullets(claude_md, "Delegate to these sub-agents where they fit") == L2_AGENTS
    assert _bullets(claude_md, "Use these tools") == T2_02_TOOLS
    for agent in L2_AGENTS:
        assert p.text(f".claude/agents/{agent}.md") == (TIERS / f"agents/L2/{agent}.md").read_text()
    assert p.settings() == {"permissions": {"allow": T2_02_TOOLS}}
    assert _claude_md_hash_matches(p)


def test_agent_teams_subtest_without_blocks_gets_only_the_generated_sections(tmp_path):
    p = Prepared(tmp_path, "T4", "08")
    claude_md = p.text("CLAUDE.md")
    assert claude_md.startswith("## Resources for this task\n\n")
    assert _bullets(claude_md, "Delegate to these sub-agents where they fit") == ["chief-architect"]
    assert claude_md.endswith(claude_files.ENVIRONMENT_SECTION + "\n")
    assert p.text(".claude/agents/chief-architect.md") == (TIERS / "agents/L0/chief-architect.md").read_text()
    assert p.settings() == {"env": {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}}
    assert p.manifest["agent_teams"] is True and _claude_md_hash_matches(p)


def test_mcp_subtest_registers_and_names_its_server(tmp_path):
    p = Prepared(tmp_path, "T2", "06")
    assert p.settings() == {"mcpServers": {"git": {"source": "modelcontextprotocol/servers"}}}
    assert _bullets(p.text("CLAUDE.md"), "Use these MCP servers") == ["git"]


def test_t5_merges_exactly_its_two_tiers_and_all_tools_wins(chain, tmp_path):
    p = Prepared(tmp_path, "T5", "13", (chain["T2/02"], chain["T3/01"]))
    assert p.manifest["inherited_from"] == [{"tier": "T2", "subtest": "02"}, {"tier": "T3", "subtest": "01"}]
    res = p.manifest["resources"]
    assert res["tools"] == ["all"] and res["claude_md_blocks"] == ["B01"]
    assert res["agents"] == [f"L2/{a}" for a in L2_AGENTS]
    claude_md = p.text("CLAUDE.md")
    assert claude_md.startswith(_block("B01") + "\n\n## Resources for this task")
    assert _bullets(claude_md, "Delegate to these sub-agents where they fit") == L2_AGENTS
    assert "All available tools may be used." in _section(claude_md, "Resources for this task")
    assert "Use these tools" not in claude_md
    assert not (p.ws / ".claude/settings.json").exists()         # `all`: no tool restriction
    assert sorted(f.name for f in (p.ws / ".claude/agents").iterdir()) == [f"{a}.md" for a in L2_AGENTS]
    assert _claude_md_hash_matches(p) and p.committed()


def test_tampered_config_is_refused(tmp_path):
    composed = resources.compose(TIERS, _subtest("T4", "08"), [])
    manifest = resources.materialize(composed, CLAUDE_CODE.config_files(TIERS, composed), tmp_path)
    resources.verify(tmp_path, manifest)
    (tmp_path / ".claude/agents/chief-architect.md").write_text("tampered")
    with pytest.raises(resources.ResourceError, match="does not match config_manifest.json"):
        resources.verify(tmp_path, manifest)


def test_unresolvable_skills_fail_with_the_subtest_file():
    with pytest.raises(resources.ResourceError,
                       match="t1/01-agent.yaml: cannot resolve resources.skills: category/agent"):
        resources.compose(TIERS, _subtest("T1", "01"), [])      # ProjectScylla ships no skills/ directory


def test_agent_names_resolve_with_or_without_md(tmp_path):
    (tmp_path / "01-x.yaml").write_text("resources: {agents: {names: [chief-architect.md, log-analyzer]}}\n")
    own, missing = resources.own_resources(TIERS, load_subtest(tmp_path / "01-x.yaml", "T3", "01"))
    assert own["agents"] == ["L0/chief-architect", "L4/log-analyzer"] and missing == []


SECRET = "SECRET outside the tiers directory\n"


@pytest.mark.parametrize("plant, subtest, ref", [
    ("skills/text/title-casing/notes.md", ("T1", "01"), "resources.skills: category/text"),       # a file in a skill
    ("skills/text/title-casing/docs", ("T1", "01"), "resources.skills: category/text"),           # a directory in it
    ("skills/encoding/run-length-encoding", ("T1", "02"), "resources.skills: name/run-length-encoding"),  # the skill
    ("blocks/B02-text-conventions.md", ("T0", "01"), "resources.claude_md.blocks: B02"),
    ("agents/L3", ("T5", "01"), "resources.agents: level/3"),
], ids=["skill-file", "skill-subdir", "skill-dir", "block", "agents-level"])
def test_a_symbolic_link_in_tier_resources_is_refused_never_followed(tmp_path, plant, subtest, ref):
    """A link in a skill (or a block, a sub-agent) would copy any file of the machine into every workspace,
    and so to the model: preflight names it, the config task refuses it, nothing reads through it."""
    import shutil

    from conftest import REPO
    tiers = tmp_path / "tiers"
    shutil.copytree(REPO / "examples/hello/tiers", tiers)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.md").write_text(SECRET)
    link = tiers / plant
    to_dir = link.is_dir() or plant.endswith("docs")
    if link.exists():
        shutil.move(link, tmp_path / "moved")
    link.symlink_to(outside if to_dir else outside / "secret.md")
    sub = _subtest_in(tiers, *subtest)
    own, missing = resources.own_resources(tiers, sub)
    assert missing == [f"{ref} ({link} is a symbolic link ({resources.LINK_FIX}))"], missing
    assert link not in resources.source_files(tiers, sub)
    assert not [f for f in resources.source_files(tiers, sub) if f.is_relative_to(link)]
    with pytest.raises(resources.ResourceError, match=f"cannot resolve {ref} \\({link} is a symbolic link"):
        resources.compose(tiers, sub, [])
    manifest = {"resources": {**resources.EMPTY, **{k: v for k, v in own.items() if v is not None}},
                "system_prompt_mode": "custom", "agent_teams": False}
    with pytest.raises(resources.ResourceError, match=f"{link} is a symbolic link"):
        CLAUDE_CODE.config_files(tiers, manifest)     # an inherited manifest naming it: refused too


def _subtest_in(tiers: Path, tier: str, sid: str):
    return next(s for s in load_tier(tiers, tier) if s.id == sid)
