"""A loopback mock of the OpenAI chat completions API (`POST /v1/chat/completions`, non-streaming),
speaking the real wire format so the real `openai` SDK talks to it. Each test scripts its replies."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERDICT = {"score": 0.7, "passed": True, "reasoning": "Mock judge: solid work.",
           "criteria_scores": {"functional": {"score": 0.7, "explanation": "most tests pass"}}}


def text_reply(text: str, prompt_tokens: int = 1000, completion_tokens: int = 100) -> tuple[int, dict]:
    return 200, {"id": "chatcmpl-mock", "object": "chat.completion", "created": 1764115200, "model": "mock",
                 "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                              "finish_reason": "stop", "logprobs": None}],
                 "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                           "total_tokens": prompt_tokens + completion_tokens}}


def verdict_reply(verdict: dict = VERDICT) -> tuple[int, dict]:
    return text_reply(f"Here is my assessment.\n```json\n{json.dumps(verdict)}\n```\nDone.")


def rate_limited() -> tuple[int, dict]:
    return 429, {"error": {"message": "Rate limit reached for requests", "type": "requests",
                           "param": None, "code": "rate_limit_exceeded"}}


class OpenAIMock:
    """Serves scripted replies in order, then `default`; records every request (headers and body)."""

    def __init__(self, default=verdict_reply) -> None:
        self.script: deque = deque()
        self.default = default
        self.requests: list[dict] = []
        mock = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                mock.requests.append({"path": self.path, "body": body, "at": time.time(),
                                      "headers": {k.lower(): v for k, v in self.headers.items()}})
                status, payload = (mock.script.popleft() if mock.script else mock.default())
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after-ms", "10")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
