"""A third-party agent adapter, defined only in the tests (docs/adapters.md walks through it).

The "agent" copies the prompt into ECHO.md in the workspace and reports usage in a format of its own
(`echo-agent: <tokens> tokens, $<cost>`), so the derived result proves its own parser ran. Tier
resources reach it as one AGENTS.md (not Claude Code's CLAUDE.md and .claude/).
"""

from __future__ import annotations

import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

from scylla import durable, records, tree
from scylla.adapters import AgentAdapter, AgentRun, model_md

COST_USD = 0.0125
USAGE = re.compile(r"^echo-agent: (\d+) tokens, \$([0-9.]+)$", re.MULTILINE)


class EchoAgent(AgentAdapter):
    name = "echo"
    description = "copies the prompt into ECHO.md (a test adapter)"
    config_paths = ("AGENTS.md",)

    def run(self, exp, run_paths, workspace: Path, manifest: records.ConfigManifest, agent_dir: Path) -> AgentRun:
        started, t0 = datetime.now(UTC), time.monotonic()
        prompt = Path(tree.PROMPT).read_bytes()            # the experiment's prompt (cwd: the experiment root)
        durable.write_bytes(agent_dir / "prompt.md", prompt)
        (workspace / "ECHO.md").write_bytes(prompt)
        saw = (workspace / "AGENTS.md").read_text() if (workspace / "AGENTS.md").exists() else ""
        output = f"echoed {len(prompt)} bytes; AGENTS.md had {len(saw.splitlines())} lines\n"
        durable.write_text(agent_dir / "stdout.log", f"{output}echo-agent: {len(prompt.split())} tokens, ${COST_USD}\n")
        durable.write_text(agent_dir / "stderr.log", "")
        durable.write_text(agent_dir / "output.txt", output)
        durable.write_json(agent_dir / "command_log.json", {"adapter": exp.agent.adapter, "commands": [
            {"command": "echo", "exit_code": 0, "started_at": started.isoformat(timespec="seconds")}]})
        seconds = time.monotonic() - t0
        durable.write_json(agent_dir / "timing.json", {"agent_duration_seconds": round(seconds, 3),
                                                       "measured_at": started.isoformat(timespec="microseconds")})
        durable.write_text(agent_dir / "MODEL.md", model_md("Agent", exp.agent.model, exp.agent.adapter, None))
        durable.write_text(agent_dir / "replay.sh", "#!/usr/bin/env bash\ncp prompt.md ECHO.md\n")
        if log := os.environ.get("SCYLLA_CALL_LOG"):            # the tests count real calls
            with open(log, "a") as fh:
                fh.write(f"agent {run_paths.id}\n")
        return AgentRun(exit_code=0, duration_seconds=seconds, infra_reason=None)

    def derive_result(self, agent_dir: Path) -> records.AgentResult:
        stdout = (agent_dir / "stdout.log").read_text()
        found = USAGE.search(stdout)
        assert found, f"no usage line in {agent_dir / 'stdout.log'}"
        tokens, cost = found.groups()
        return {"exit_code": 0, "stdout": stdout, "stderr": (agent_dir / "stderr.log").read_text(),
                "token_stats": {"input_tokens": int(tokens), "output_tokens": 0, "cache_creation_tokens": 0,
                                "cache_read_tokens": 0},
                "cost_usd": float(cost), "api_calls": 1, "model_usage": {}, "outcome": "completed"}

    def config_files(self, tiers_dir: Path, manifest: records.ConfigManifest) -> dict[str, bytes]:
        res = manifest["resources"]
        names = res["skills"] + res["agents"] + [s["name"] for s in res["mcp_servers"]] + (res["tools"] or [])
        return {"AGENTS.md": "".join(f"- {n}\n" for n in names).encode()} if names else {}
