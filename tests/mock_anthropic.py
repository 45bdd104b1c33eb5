"""A loopback mock of the Anthropic Messages API (`POST /v1/messages`, SSE streaming and plain JSON),
speaking the real wire format so the real `claude` CLI runs against it. Tests script the main loop's
turns; helper requests (no tools offered) get a short text reply."""

from __future__ import annotations

import json
import time
from collections import deque
from http.server import BaseHTTPRequestHandler

from mock_server import LoopbackMock, request_body

USAGE = {"input_tokens": 33, "cache_creation_input_tokens": 100, "cache_read_input_tokens": 2000}


KEY = "sk-ant-mock-key-0123456789abcdef"
TEXTKIT = '''"""textkit, implemented."""


def word_count(text: str) -> int:
    return len(text.split())


def is_palindrome(text: str) -> bool:
    chars = [c.lower() for c in text if c.isalnum()]
    return chars == chars[::-1]


def char_histogram(text: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    for c in text.lower():
        if c.isalpha():
            counts[c] = counts.get(c, 0) + 1
    return counts


def title_case(text: str) -> str:
    return " ".join(w[:1].upper() + w[1:].lower() for w in text.split(" "))


def compress_runs(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        j = i
        while j < len(text) and text[j] == text[i]:
            j += 1
        out.append(text[i] + (str(j - i) if j - i > 1 else ""))
        i = j
    return "".join(out)
'''


def text(t: str) -> dict:
    return {"type": "text", "text": t}


def tool(name: str, **input_) -> dict:
    return {"type": "tool_use", "name": name, "input": input_}


def implement_textkit(body: dict) -> list:
    """A stateless agent for parallel runs: write textkit.py, then finish once the tool result is back."""
    answered = any(isinstance(m.get("content"), list) and any(b.get("type") == "tool_result" for b in m["content"])
                   for m in body.get("messages", []))
    if answered:
        return [text("Done: implemented every function in textkit.py.")]
    return [text("Implementing textkit."), tool("Write", file_path="textkit.py", content=TEXTKIT)]


def error(status: int, kind: str, message: str) -> dict:
    return {"error": status, "type": kind, "message": message}


class AnthropicMock(LoopbackMock):
    """`script`: turns for requests that offer tools (the agent's loop). A turn is a list of content
    blocks, or an `error(...)` dict. When the script is empty, the reply is `responder(body)` if set
    (per conversation, safe for parallel agents), else `default`. `refuse_first`: that many agent-loop
    requests get `refusal` (a 429) before any scripted turn. Each request is logged with its time."""

    def __init__(self, default: list | None = None, output_tokens: int = 12, port: int = 0):
        super().__init__()
        self.default = default or [text("Done.")]
        self.plain: deque = deque()          # replies to requests that offer no tools (judges)
        self.plain_default = [text("ok")]
        self.output_tokens = output_tokens
        self.refuse_first = 0
        self.refusal = error(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit")
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = request_body(self)
                with mock.lock:
                    main_loop = bool(body.get("tools")) and "/messages" in self.path and "count_tokens" not in self.path
                    if main_loop and mock.refuse_first > 0:
                        mock.refuse_first -= 1
                        turn = mock.refusal
                    elif main_loop:
                        turn = mock.script.popleft() if mock.script else \
                            mock.responder(body) if mock.responder else mock.default
                    else:
                        turn = mock.plain.popleft() if mock.plain else mock.plain_default
                    mock.requests.append({"path": self.path, "body": body, "at": time.time(), "main_loop": main_loop,
                                          "refused": isinstance(turn, dict),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                if "count_tokens" in self.path:
                    return self._json(200, {"input_tokens": 100})
                if isinstance(turn, dict):
                    return self._json(turn["error"], {"type": "error", "error": {"type": turn["type"],
                                                                                 "message": turn["message"]}})
                message = mock.message(body.get("model", "claude-sonnet-4-6"), turn)
                if body.get("stream"):
                    return self._sse(message)
                self._json(200, message)

            def _json(self, status, payload):
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", "req_mock")
                self.end_headers()
                self.wfile.write(data)

            def _sse(self, message):
                events = [("message_start", {"type": "message_start", "message": {
                    **message, "content": [], "stop_reason": None,
                    "usage": {**message["usage"], "output_tokens": 1}}})]
                for i, block in enumerate(message["content"]):
                    if block["type"] == "text":
                        events += [("content_block_start", {"type": "content_block_start", "index": i,
                                                            "content_block": {"type": "text", "text": ""}}),
                                   ("content_block_delta", {"type": "content_block_delta", "index": i,
                                                            "delta": {"type": "text_delta", "text": block["text"]}})]
                    else:
                        events += [("content_block_start", {"type": "content_block_start", "index": i,
                                                            "content_block": {**block, "input": {}}}),
                                   ("content_block_delta", {"type": "content_block_delta", "index": i, "delta": {
                                       "type": "input_json_delta", "partial_json": json.dumps(block["input"])}})]
                    events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
                events += [("message_delta", {"type": "message_delta", "delta": {
                               "stop_reason": message["stop_reason"], "stop_sequence": None},
                               "usage": {"output_tokens": message["usage"]["output_tokens"]}}),
                           ("message_stop", {"type": "message_stop"})]
                data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("request-id", "req_mock")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serve(Handler, port)

    def message(self, model: str, blocks: list) -> dict:
        content, n = [], 0
        for block in blocks:
            if block["type"] == "tool_use":
                n += 1
                block = {**block, "id": f"toolu_mock_{len(self.requests)}_{n}"}
            content.append(block)
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        return {"id": f"msg_mock_{len(self.requests)}", "type": "message", "role": "assistant", "model": model,
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {**USAGE, "output_tokens": self.output_tokens}}
