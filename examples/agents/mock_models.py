#!/usr/bin/env python3
"""Loopback mock models for examples/agents: each vendor's wire format on the address experiment.yaml names,
each answering as a stateless scripted agent (write textkit.py, then finish), so the five real agent CLIs
run the example offline, for free, deterministically. Nothing leaves 127.0.0.1.

    python examples/agents/mock_models.py        # serves until Ctrl-C

The mocks are the test suite's (tests/mock_*.py, in this repository)."""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests"))

import mock_anthropic
import mock_chat
import mock_gemini
import mock_responses

# the ports experiment.yaml's base_url entries name
PORTS = {"anthropic": 18101, "responses": 18102, "gemini": 18103, "chat": 18104}


def start(ports: dict[str, int] | None = None) -> dict[str, Any]:
    """The four mocks, answering per conversation (`ports`: 0 for any free port)."""
    ports = {**PORTS, **(ports or {})}
    servers: dict[str, Any] = {"anthropic": mock_anthropic.AnthropicMock(port=ports["anthropic"]),
                               "responses": mock_responses.ResponsesMock(port=ports["responses"]),
                               "gemini": mock_gemini.GeminiMock(port=ports["gemini"]),
                               "chat": mock_chat.ChatMock(port=ports["chat"])}
    for name, module in (("anthropic", mock_anthropic), ("responses", mock_responses), ("gemini", mock_gemini),
                         ("chat", mock_chat)):
        servers[name].responder = module.implement_textkit
    return servers


def main() -> int:
    servers = start()
    for name, server in servers.items():
        print(f"{name}: {server.url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        for server in servers.values():
            server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
