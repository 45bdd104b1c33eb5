"""A loopback mock of the OpenAI Responses API (`POST /v1/responses`, SSE streaming), speaking the real
wire format so the real `codex` CLI runs against it. Tests script the agent's turns: each request
takes the next turn (a list of output items, or an `error(...)`), then `default`. Every request is
recorded."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from mock_server import LoopbackMock, request_body

KEY = "sk-proj-mock-key-0123456789abcdef"
# what each response reports (codex sums them per turn): input includes the cached and cache-write
# parts, output the reasoning part
USAGE = {"input_tokens": 1200, "cached_tokens": 800, "cache_write_tokens": 100, "output_tokens": 40,
         "reasoning_tokens": 16}


def message(text: str) -> dict:
    return {"type": "message", "role": "assistant", "status": "completed",
            "content": [{"type": "output_text", "text": text, "annotations": []}]}


def exec_command(cmd: str) -> dict:
    """Codex's shell tool: it runs `cmd` in the workspace."""
    return {"type": "function_call", "name": "exec_command", "arguments": json.dumps({"cmd": cmd}),
            "status": "completed"}


def write_file(path: str, content: str) -> dict:
    """An exec_command that writes `content` to `path` (a quoted heredoc: no shell expansion)."""
    return exec_command(f"cat > {path} <<'SCYLLA_EOF'\n{content}SCYLLA_EOF\n")


def implement_textkit(body: dict) -> list:
    """A stateless agent for parallel runs: write textkit.py, then finish once the command's output is back."""
    from mock_anthropic import TEXTKIT
    items = body.get("input")
    if isinstance(items, list) and any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items):
        return [message("Done: implemented every function in textkit.py.")]
    return [write_file("textkit.py", TEXTKIT)]


def error(status: int, message: str, code: str = "rate_limit_exceeded", kind: str = "requests",
          retry_after: float | None = None) -> dict:
    return {"error": status, "body": {"error": {"message": message, "type": kind, "param": None, "code": code}},
            "retry_after": retry_after}


class ResponsesMock(LoopbackMock):
    """`script`: turns for the agent's requests, in order; then `responder(body)` if set (per conversation,
    safe for parallel agents), else `default`. `usage`: what each response reports (tests compare the
    run's tokens with it)."""

    def __init__(self, default: list | None = None, usage: dict | None = None, port: int = 0):
        super().__init__()
        self.default = default or [message("Done.")]
        self.usage = dict(usage or USAGE)
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = request_body(self)
                with mock.lock:
                    turn = mock.script.popleft() if mock.script else \
                        mock.responder(body) if mock.responder else mock.default
                    n = len(mock.requests)
                    mock.requests.append({"path": self.path, "body": body, "at": time.time(),
                                          "refused": isinstance(turn, dict),
                                          "headers": {k.lower(): v for k, v in self.headers.items()}})
                if isinstance(turn, dict):
                    return self._error(turn)
                self._sse(mock.response(n, body.get("model", "gpt-5"), turn))

            def do_GET(self):           # (model lists and the like: nothing to offer)
                self._send(404, "application/json", b'{"error": {"message": "not found"}}')

            def _error(self, turn: dict):
                headers = {"retry-after": f"{turn['retry_after']:g}"} if turn["retry_after"] is not None else {}
                self._send(turn["error"], "application/json", json.dumps(turn["body"]).encode(), headers)

            def _sse(self, response: dict):
                events: list[tuple[str, dict]] = [("response.created", {"response": {**response, "status": "in_progress", "output": [],
                                                             "usage": None}})]
                for i, item in enumerate(response["output"]):
                    events += [("response.output_item.added", {"output_index": i, "item": item}),
                               ("response.output_item.done", {"output_index": i, "item": item})]
                events.append(("response.completed", {"response": response}))
                data = "".join(f"event: {name}\ndata: {json.dumps({'type': name, **payload})}\n\n"
                               for name, payload in events).encode()
                self._send(200, "text/event-stream", data)

            def _send(self, status: int, kind: str, data: bytes, headers: dict | None = None):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                self.send_header("x-request-id", "req_mock")
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serve(Handler, port, "/v1")

    def response(self, n: int, model: str, items: list) -> dict:
        output = []
        for i, item in enumerate(items):
            item = {**item, "id": f"{'fc' if item['type'] == 'function_call' else 'msg'}_mock_{n}_{i}"}
            if item["type"] == "function_call":
                item["call_id"] = f"call_mock_{n}_{i}"
            output.append(item)
        u = self.usage
        return {"id": f"resp_mock_{n}", "object": "response", "created_at": 1764115200, "status": "completed",
                "model": model, "output": output, "usage": {
                    "input_tokens": u["input_tokens"], "input_tokens_details": {
                        "cached_tokens": u["cached_tokens"], "cache_write_tokens": u["cache_write_tokens"]},
                    "output_tokens": u["output_tokens"],
                    "output_tokens_details": {"reasoning_tokens": u["reasoning_tokens"]},
                    "total_tokens": u["input_tokens"] + u["output_tokens"]}}
