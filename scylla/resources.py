"""Tier resources: a subtest's effective configuration and the files it puts into a workspace.

Own resources come from the subtest YAML; `extends_previous` starts from the previous tier's best
subtest, `inherit_best_from` merges the best subtest of each named tier. Merging: CLAUDE.md blocks
are replaced by whoever lists blocks last (the subtest itself last), skills/agents/MCP servers are
unioned, tools are unioned with `all` winning. The result is written as `config_manifest.json`
plus the files under `T/SS/config/` that every workspace of the subtest receives, in the form the
agent's adapter renders them (AgentAdapter.config_files; Claude Code's: scylla/agents/claude_files.py).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from . import durable, records, safepath
from .errors import ResourceError
from .spec import Subtest

EMPTY: dict[str, Any] = {"claude_md_blocks": [], "skills": [], "agents": [], "tools": None, "mcp_servers": []}


# ---------------------------------------------------------------- resolving names to files

# Resource names are plain names (spec.py refuses `/`, `..`); the files they resolve to are read
# without following a symbolic link: each is copied into every workspace (and so shown to the model),
# and a link could bring in any file of the machine.
LINK_FIX = "tier resources are copied into every workspace: links are refused, never followed; put the file itself there"


def _link(tiers_dir: Path, path: Path) -> str | None:
    """The first symbolic link from `tiers_dir` down to `path` (included), described; None if there is none."""
    link = safepath.first_link(path, tiers_dir)
    return None if link is None else f"{link} is a symbolic link ({LINK_FIX})"


def resource_file(tiers_dir: Path, path: Path) -> Path:
    """`path` (a block or sub-agent file under `tiers_dir`), refused if it leaves `tiers_dir` or passes a link."""
    inside = path.is_relative_to(tiers_dir) and ".." not in path.relative_to(tiers_dir).parts
    if problem := _link(tiers_dir, path) if inside else f"{path} is outside {tiers_dir}":
        raise ResourceError(problem)
    return path


def _skill_tree(tiers_dir: Path, skill: str) -> tuple[list[Path], str | None]:
    """The files of skill `skill` ('category/name'), sorted, and else the first link at or below it."""
    top = tiers_dir / "skills" / skill
    if link := _link(tiers_dir, top):
        return [], link
    files = []
    for dirpath, dirnames, filenames in os.walk(top):         # (never into a linked directory)
        for name in dirnames + filenames:
            if os.path.islink(os.path.join(dirpath, name)):
                return [], f"{os.path.join(dirpath, name)} is a symbolic link ({LINK_FIX})"
        files += [p for name in filenames if (p := Path(dirpath, name)).is_file()]
    return sorted(files), None


def skill_files(tiers_dir: Path, skill: str) -> list[Path]:
    """The files of skill `skill` ('category/name'), sorted; ResourceError on a link at or below it."""
    files, link = _skill_tree(tiers_dir, skill)
    if link:
        raise ResourceError(f"skill {skill}: {link}")
    return files


def block_file(tiers_dir: Path, block: str) -> Path | None:
    hits = sorted((tiers_dir / "blocks").glob(f"{block}-*.md")) + sorted((tiers_dir / "blocks").glob(f"{block}.md"))
    return hits[0] if hits else None


def _skills(tiers_dir: Path, ref: str) -> list[str] | None:
    """Skill ids 'category/name' for a reference 'category/<c>' or 'name/<n>'; None if unresolved."""
    kind, value = ref.split("/", 1)
    root = tiers_dir / "skills"
    if kind == "category":
        found = sorted(p for p in (root / value).glob("*") if p.is_dir()) if (root / value).is_dir() else []
    else:
        found = sorted(p for p in root.glob(f"*/{value}") if p.is_dir())
    return [f"{p.parent.name}/{p.name}" for p in found] or None


def _agents(tiers_dir: Path, ref: str) -> list[str] | None:
    """Agent ids 'L<n>/name' for 'level/<n>' or 'name/<n>'; None if unresolved."""
    kind, value = ref.split("/", 1)
    root = tiers_dir / "agents"
    if kind == "level":
        found = sorted(root.glob(f"L{value}/*.md"))
    else:                                   # ProjectScylla writes names with or without ".md"
        found = sorted(root.glob(f"L*/{value.removesuffix('.md')}.md"))
    return [f"{p.parent.name}/{p.stem}" for p in found] or None


def own_resources(tiers_dir: Path, subtest: Subtest) -> tuple[dict, list[str]]:
    """The subtest's own resources resolved to ids, and the references that did not resolve (or resolve
    to a symbolic link: preflight reports them before any paid call, and the config task refuses them)."""
    r = subtest.resources
    missing: list[str] = []
    blocks = None
    if r.blocks is not None:
        blocks = list(r.blocks)
        for b in r.blocks:
            found = block_file(tiers_dir, b)
            problem = _link(tiers_dir, found) if found else f"no {tiers_dir}/blocks/{b}-*.md"
            missing += [f"resources.claude_md.blocks: {b} ({problem})"] if problem else []
    skills, agents = [], []
    for ref in r.skills:
        ids = _skills(tiers_dir, ref)
        skills += ids or []
        problems = [link for s in ids or [] if (link := _skill_tree(tiers_dir, s)[1])] if ids \
            else [f"nothing under {tiers_dir}/skills"]
        missing += [f"resources.skills: {ref} ({p})" for p in dict.fromkeys(problems)]
    for ref in r.agents:
        ids = _agents(tiers_dir, ref)
        agents += ids or []
        problems = [link for a in ids or [] if (link := _link(tiers_dir, tiers_dir / "agents" / f"{a}.md"))] if ids \
            else [f"nothing under {tiers_dir}/agents"]
        missing += [f"resources.agents: {ref} ({p})" for p in dict.fromkeys(problems)]      # (a linked L<n>: once)
    own = {"claude_md_blocks": blocks, "skills": sorted(set(skills)), "agents": sorted(set(agents)),
           "tools": list(r.tools) if r.tools is not None else None,
           "mcp_servers": [dict(s) for s in r.mcp_servers]}
    return own, missing


def source_files(tiers_dir: Path, subtest: Subtest) -> list[Path]:
    """Every existing file the subtest's own resources read (inputs of its config task); no link (the
    task refuses those)."""
    own, _ = own_resources(tiers_dir, subtest)
    files = [f for b in own["claude_md_blocks"] or [] if (f := block_file(tiers_dir, b)) and not _link(tiers_dir, f)]
    for skill in own["skills"]:
        files += _skill_tree(tiers_dir, skill)[0]
    files += [f for a in own["agents"] if not _link(tiers_dir, f := tiers_dir / "agents" / f"{a}.md")]
    return [subtest.path] + files


# ---------------------------------------------------------------- merging

def merge(base: Mapping[str, Any], overlay: Mapping[str, Any]) -> records.Resources:
    """Overlay resources on a base: blocks replaced when the overlay lists any, the rest unioned."""
    blocks = overlay["claude_md_blocks"] if overlay["claude_md_blocks"] is not None else base["claude_md_blocks"]
    if base["tools"] is None or overlay["tools"] is None:
        tools = overlay["tools"] if base["tools"] is None else base["tools"]
    elif "all" in base["tools"] or "all" in overlay["tools"]:
        tools = ["all"]
    else:
        tools = sorted(set(base["tools"]) | set(overlay["tools"]))
    servers = {s["name"]: s for s in base["mcp_servers"]}
    servers.update({s["name"]: s for s in overlay["mcp_servers"]})
    return {"claude_md_blocks": list(blocks or []), "tools": tools,
            "skills": sorted(set(base["skills"]) | set(overlay["skills"])),
            "agents": sorted(set(base["agents"]) | set(overlay["agents"])),
            "mcp_servers": [servers[k] for k in sorted(servers)]}


def compose(tiers_dir: Path, subtest: Subtest, parents: Sequence[records.ConfigManifest]) -> records.ConfigManifest:
    """The effective manifest of a subtest given its parents' manifests (in inheritance order)."""
    own, missing = own_resources(tiers_dir, subtest)
    if missing:
        raise ResourceError(f"{subtest.path}: cannot resolve " + "; ".join(missing))
    inherited: Mapping[str, Any] = EMPTY
    for parent in parents:
        inherited = merge(inherited, parent["resources"])
    effective = merge(inherited, own)
    if subtest.system_prompt_mode == "none":
        effective["claude_md_blocks"] = []
    return {
        "tier": subtest.tier, "subtest": subtest.id, "name": subtest.name,
        "description": subtest.description, "system_prompt_mode": subtest.system_prompt_mode,
        "agent_teams": subtest.agent_teams,
        "inherited_from": [{"tier": p["tier"], "subtest": p["subtest"]} for p in parents],
        "resources": effective,
    }


# ---------------------------------------------------------------- materializing

def materialize(manifest: records.ConfigManifest, files: dict[str, bytes], config_dir: Path) -> records.ConfigManifest:
    """Write the config files (as the agent's adapter renders the manifest: relative path -> content)
    into `config_dir`, stale ones removed; return the manifest with their hashes. (`claude_md_sha256`
    is a key of ProjectScylla's manifest format.)"""
    safepath.check(config_dir)          # (written into and deleted from: no link on the way)
    if config_dir.exists():
        for p in sorted(config_dir.rglob("*"), reverse=True):
            rel = p.relative_to(config_dir).as_posix()
            if p.is_file() and rel not in files:
                p.unlink()
            elif p.is_dir() and not any(p.iterdir()):
                p.rmdir()
    for rel, data in files.items():
        durable.write_bytes(config_dir / rel, data)
    hashes = {rel: hashlib.sha256(data).hexdigest() for rel, data in sorted(files.items())}
    return {**manifest, "files": hashes, "claude_md_sha256": hashes.get("CLAUDE.md")}


def verify(config_dir: Path, manifest: records.ConfigManifest) -> None:
    """Refuse to run an agent on config files that no longer match their manifest."""
    for rel, digest in manifest["files"].items():
        path = config_dir / rel
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            raise ResourceError(f"{path}: does not match config_manifest.json; "
                                f"delete {config_dir.parent / 'config_manifest.json'} to rebuild it")
