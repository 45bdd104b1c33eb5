"""Tier resources as Claude Code reads them: CLAUDE.md and `.claude/` (skills, sub-agents, settings).

CLAUDE.md is the blocks in order, then a section naming the resources to use and one stating the
test-environment rules. A subtest that configures nothing (ProjectScylla's T0/01: the tool's defaults)
or runs without a system prompt (`system_prompt_mode: none`, T0/00) gets no CLAUDE.md.
"""

from __future__ import annotations

from pathlib import Path

from .. import durable, records, resources

# the workspace paths this configuration occupies (the repository's own are removed first)
CONFIG_PATHS = ("CLAUDE.md", ".claude")
# the kinds of tier resources an agent may receive besides its instructions file (Claude Code: all)
RESOURCE_KINDS = frozenset({"skills", "agents", "tools", "mcp_servers"})

ENVIRONMENT_SECTION = """## Test environment

This run is an evaluation: everything you do stays in this local workspace.

- Do not push (`git push`) or write to any remote repository in any other way.
- Do not open pull requests, and do not comment on or edit issues or pull requests.
- Reading from remotes (`git fetch`, documentation, package indexes) is fine."""

NO_RESOURCES = "No particular resources are set up for this task: use the available tools and your judgment."


def config_files(tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
    """Relative path -> content of every file a workspace of this subtest receives."""
    res = manifest["resources"]
    files: dict[str, bytes] = {}
    text = claude_md(tiers_dir, manifest)
    if text is not None:
        files["CLAUDE.md"] = text.encode()
    files.update(skill_files(tiers_dir, manifest, ".claude/skills"))
    for agent in res["agents"]:
        path = resources.resource_file(tiers_dir, tiers_dir / "agents" / f"{agent}.md")
        files[f".claude/agents/{agent.split('/')[1]}.md"] = path.read_bytes()
    settings = settings_json(manifest)
    if settings:
        files[".claude/settings.json"] = durable.dumps(settings)
    return files


def skill_files(tiers_dir: Path, manifest: records.ConfigManifest, root: str) -> dict[str, bytes]:
    """The subtest's skills as `root`/<name>/... (each agent reads them from its own directory)."""
    files = {}
    for skill in manifest["resources"]["skills"]:
        src = tiers_dir / "skills" / skill
        for f in resources.skill_files(tiers_dir, skill):        # (a link: refused, never followed)
            files[f"{root}/{src.name}/{f.relative_to(src).as_posix()}"] = f.read_bytes()
    return files


def claude_md(tiers_dir: Path, manifest: records.ConfigManifest,
              receives: frozenset[str] = RESOURCE_KINDS) -> str | None:
    """The composed CLAUDE.md (see the module docstring), or None when the subtest gets none; other
    agents' instructions files (AGENTS.md, GEMINI.md, ...) are the same text, naming only the resources
    their agent `receives`."""
    res = manifest["resources"]
    configured = any(res[k] for k in ("claude_md_blocks", "skills", "agents", "tools", "mcp_servers"))
    if manifest["system_prompt_mode"] == "none" or not configured:
        return None
    blocks = [_block(tiers_dir, b).read_text(encoding="utf-8").strip("\n") for b in res["claude_md_blocks"]]
    return "\n\n".join(blocks + [resource_section(res, receives), ENVIRONMENT_SECTION]) + "\n"


def _block(tiers_dir: Path, block: str) -> Path:
    path = resources.block_file(tiers_dir, block)
    assert path is not None, f"block {block}: resolved when the manifest was made"
    return resources.resource_file(tiers_dir, path)


def resource_section(res: records.Resources, receives: frozenset[str] = RESOURCE_KINDS) -> str:
    """Markdown naming the sub-agents, skills, MCP servers and tools the agent is meant to use (those of
    the kinds it `receives`)."""
    tools = res["tools"] or []
    named = (("agents", "Delegate to these sub-agents where they fit", [a.split("/")[1] for a in res["agents"]]),
             ("skills", "Apply these skills", [s.split("/")[1] for s in res["skills"]]),
             ("mcp_servers", "Use these MCP servers", [s["name"] for s in res["mcp_servers"]]),
             ("tools", "Use these tools", [] if "all" in tools else tools))
    parts = [f"{title}:\n\n" + "\n".join(f"- {n}" for n in dict.fromkeys(names))
             for kind, title, names in named if names and kind in receives]
    if "all" in tools and "tools" in receives:
        parts.append("All available tools may be used.")
    return "## Resources for this task\n\n" + ("\n\n".join(parts) or NO_RESOURCES)


def settings_json(manifest: records.ConfigManifest) -> dict:
    """`.claude/settings.json`: the tool allow list (none for `all`), MCP servers, agent teams."""
    res = manifest["resources"]
    settings: dict = {}
    if res["tools"] and "all" not in res["tools"]:
        settings["permissions"] = {"allow": res["tools"]}
    if res["mcp_servers"]:
        settings["mcpServers"] = {s["name"]: {k: v for k, v in s.items() if k != "name"} for s in res["mcp_servers"]}
    if manifest["agent_teams"]:
        settings["env"] = {"CLAUDE_CODE_EXPERIMENTAL_AGENT_TEAMS": "1"}
    return settings


def unsupported(manifest: records.ConfigManifest, agent: str, receives: frozenset[str]) -> tuple[str, ...]:
    """The subtest's resources of the kinds an agent does not `receive`, each saying so (recorded with
    every run of it: AgentAdapter.unsupported)."""
    res, why = manifest["resources"], f"not supported by {agent}"
    out = [f"skill {s}: {why}" for s in res["skills"] if "skills" not in receives]
    out += [f"sub-agent {a}: {why}" for a in res["agents"] if "agents" not in receives]
    out += [f"MCP server {m['name']}: {why}" for m in res["mcp_servers"] if "mcp_servers" not in receives]
    if res["tools"] and "all" not in res["tools"] and "tools" not in receives:
        out.append(f"tool allow list {', '.join(res['tools'])}: {why}")
    if manifest["agent_teams"]:
        out.append(f"agent teams: {why} (a Claude Code feature)")
    return tuple(out)
