"""The OpenAI chat completions mock the judge tests use: tests/mock_chat.py (one mock of the wire
format, plain and streaming), under the name those tests know it by."""

from __future__ import annotations

from mock_chat import VERDICT, ChatMock, rate_limited, text_reply, verdict_reply

OpenAIMock = ChatMock

__all__ = ["VERDICT", "OpenAIMock", "rate_limited", "text_reply", "verdict_reply"]
