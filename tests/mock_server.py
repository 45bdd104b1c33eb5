"""What the loopback mocks of the vendors' APIs (mock_anthropic, mock_responses, mock_chat, mock_gemini) share:
the scripted turns, the per-conversation responder, the request log and its lock, and a threaded HTTP server
on 127.0.0.1. Each mock adds its wire format (its request handler)."""

from __future__ import annotations

import json
import threading
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class LoopbackMock:
    def __init__(self) -> None:
        self.script: deque = deque()
        self.responder = None           # body -> reply, for what the script does not answer (parallel runs)
        self.requests: list[dict] = []
        self.lock = threading.Lock()

    def serve(self, handler: type[BaseHTTPRequestHandler], port: int = 0, path: str = "") -> None:
        """Serve `handler` on 127.0.0.1:`port` (0: any free port); `url` is its address and `path`."""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}{path}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def request_body(handler: BaseHTTPRequestHandler) -> dict:
    """The JSON body of the request `handler` is answering ({} when empty)."""
    return json.loads(handler.rfile.read(int(handler.headers.get("Content-Length") or 0)) or b"{}")
