"""A loopback mock of the Gemini API (`POST /v1beta/models/{model}:streamGenerateContent?alt=sse` and
`:generateContent`), speaking the real wire format so the real `gemini` CLI runs against it. Tests
script the agent loop's turns (requests that offer tools); other requests (the CLI's helpers) get a
short text reply. Errors come in Google's shape: {"error": {"code", "message", "status"}}."""

from __future__ import annotations

import json
import re
import time
from http.server import BaseHTTPRequestHandler

from mock_anthropic import TEXTKIT  # (the file the scripted agent writes)
from mock_server import LoopbackMock, request_body

KEY = "AIza-mock-gemini-key-0123456789abcdef"
MODEL_VERSION = "gemini-2.5-flash"
# every reply's usageMetadata: prompt includes the cached tokens (Gemini's convention)
USAGE = {"promptTokenCount": 1200, "cachedContentTokenCount": 1000, "candidatesTokenCount": 40,
         "thoughtsTokenCount": 5}
STATUSES = {429: "RESOURCE_EXHAUSTED", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED", 500: "INTERNAL",
            503: "UNAVAILABLE"}
PATH = re.compile(r"^/v1beta/models/(?P<model>[^:/?]+):(?P<method>\w+)")


def text(t: str) -> dict:
    return {"text": t}


def call(name: str, **args) -> dict:
    return {"functionCall": {"name": name, "args": args}}


def implement_textkit(body: dict) -> list:
    """A stateless agent for parallel runs: write textkit.py, then finish once the tool's response is back."""
    answered = any("functionResponse" in p for c in body.get("contents", []) for p in c.get("parts", []))
    if answered:
        return [text("Done: implemented every function in textkit.py.")]
    return [text("Implementing textkit."), call("write_file", file_path="textkit.py", content=TEXTKIT)]


def error(code: int, message: str, retry_after: int | None = None) -> dict:
    return {"code": code, "message": message, "retry_after": retry_after}


class GeminiMock(LoopbackMock):
    """`script`: turns for requests that offer tools (the agent's loop). A turn is a list of parts, or an
    `error(...)` dict. When the script is empty, the reply is `responder(body)` if set (per conversation,
    safe for parallel agents), else `default`. Each request is logged."""

    def __init__(self, default: list | None = None, model_version: str = MODEL_VERSION, port: int = 0):
        super().__init__()
        self.default = default or [text("Done.")]
        self.model_version = model_version
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = request_body(self)
                match = PATH.match(self.path)
                with mock.lock:
                    agent_loop = bool(body.get("tools")) and match is not None
                    turn = (mock.script.popleft() if mock.script else mock.responder(body) if mock.responder
                            else mock.default) if agent_loop else [text("ok")]
                    mock.requests.append({"path": self.path, "body": body, "at": time.time(),
                                          "agent_loop": agent_loop, "refused": isinstance(turn, dict),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                if match is None or match["method"] not in ("streamGenerateContent", "generateContent"):
                    return self._json(404, {"error": {"code": 404, "message": f"no {self.path}",
                                                      "status": "NOT_FOUND"}})
                if isinstance(turn, dict):
                    return self._json(turn["code"], {"error": {
                        "code": turn["code"], "message": turn["message"], "status": STATUSES[turn["code"]]}},
                        turn.get("retry_after"))
                reply = mock.reply(turn)
                if match["method"] == "streamGenerateContent":
                    return self._sse(reply)
                self._json(200, reply)

            def _send(self, status: int, content_type: str, data: bytes, retry_after: int | None = None):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                if retry_after is not None:
                    self.send_header("Retry-After", str(retry_after))
                self.end_headers()
                self.wfile.write(data)

            def _json(self, status, payload, retry_after=None):
                self._send(status, "application/json", json.dumps(payload).encode(), retry_after)

            def _sse(self, reply):
                self._send(200, "text/event-stream", f"data: {json.dumps(reply)}\r\n\r\n".encode())

            def log_message(self, *args):
                pass

        self.serve(Handler, port)

    def reply(self, parts: list) -> dict:
        total = USAGE["promptTokenCount"] + USAGE["candidatesTokenCount"] + USAGE["thoughtsTokenCount"]
        return {"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP", "index": 0}],
                "usageMetadata": {**USAGE, "totalTokenCount": total},
                "modelVersion": self.model_version, "responseId": f"mock-{len(self.requests)}"}

    def agent_requests(self) -> list[dict]:
        """The requests of the agent loop that were answered (not refused)."""
        return [r for r in self.requests if r["agent_loop"] and not r["refused"]]
