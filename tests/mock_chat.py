"""A loopback mock of the OpenAI Chat Completions API (`POST /v1/chat/completions`, plain JSON and
`stream: true` SSE; `GET /v1/models`), speaking the real wire format so the real `openai` SDK, OpenCode
(@ai-sdk/openai-compatible) and Aider (litellm) talk to it.

Each reply is scripted as (status, chat.completion object or error body), in order, then `default()`;
a streaming request gets the same completion as SSE chunks (text deltas, tool_calls deltas, the
finish chunk, and the usage chunk when `stream_options.include_usage`). Every request is recorded.
`tool_less`: when set, requests that offer no tools (OpenCode's title generation) are answered by it
instead of taking a scripted reply. `refuse`: when set, a request (its record) for which it is true gets
`refusal` (a 429) instead, e.g. every request of a CLI's first session. `responder`: when set, it answers
(from the request body) whatever the script does not, before `default()`: per conversation, safe for
parallel agents (implement_textkit)."""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler

from mock_server import LoopbackMock, request_body

KEY = "sk-mock-openai-0123456789abcdef"
VERDICT = {"score": 0.7, "passed": True, "reasoning": "Mock judge: solid work.",
           "criteria_scores": {"functional": {"score": 0.7, "explanation": "most tests pass"}}}


def completion(message: dict, prompt_tokens: int, completion_tokens: int, cached_tokens: int = 0) -> tuple[int, dict]:
    """A chat.completion with `message` (role assistant); `prompt_tokens` include the `cached_tokens`."""
    usage: dict = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
             "total_tokens": prompt_tokens + completion_tokens}
    if cached_tokens:
        usage["prompt_tokens_details"] = {"cached_tokens": cached_tokens}
    finish = "tool_calls" if message.get("tool_calls") else "stop"
    return 200, {"id": "chatcmpl-mock", "object": "chat.completion", "created": 1764115200, "model": "mock",
                 "choices": [{"index": 0, "message": {"role": "assistant", **message},
                              "finish_reason": finish, "logprobs": None}], "usage": usage}


def text_reply(text: str, prompt_tokens: int = 1000, completion_tokens: int = 100,
               cached_tokens: int = 0) -> tuple[int, dict]:
    return completion({"content": text}, prompt_tokens, completion_tokens, cached_tokens)


def tool_reply(name: str, arguments: dict, text: str | None = None, prompt_tokens: int = 1000,
               completion_tokens: int = 100, cached_tokens: int = 0) -> tuple[int, dict]:
    """A turn calling the tool `name` with `arguments` (and saying `text` first)."""
    call = {"id": f"call_mock_{name}", "type": "function",
            "function": {"name": name, "arguments": json.dumps(arguments)}}
    return completion({"content": text, "tool_calls": [call]}, prompt_tokens, completion_tokens, cached_tokens)


def implement_textkit(body: dict) -> tuple[int, dict]:
    """A stateless agent for parallel runs. OpenCode (tools offered): its write tool writes textkit.py, and
    once the tool's result is back it finishes. Aider (no tools): the edit as a SEARCH/REPLACE block."""
    from pathlib import Path

    from mock_anthropic import TEXTKIT
    if not body.get("tools"):
        stub = (Path(__file__).resolve().parents[1] / "examples/hello/repo/textkit.py").read_text()
        return text_reply(f"Implementing textkit.\n\ntextkit.py\n```python\n<<<<<<< SEARCH\n{stub}=======\n"
                          f"{TEXTKIT}>>>>>>> REPLACE\n```\n", 700, 30)
    if any(m.get("role") == "tool" for m in body.get("messages", [])):
        return text_reply("Done: implemented every function in textkit.py.", 700, 30)
    return tool_reply("write", {"filePath": "textkit.py", "content": TEXTKIT}, "Implementing textkit.", 700, 30)


def verdict_reply(verdict: dict = VERDICT) -> tuple[int, dict]:
    return text_reply(f"Here is my assessment.\n```json\n{json.dumps(verdict)}\n```\nDone.")


def rate_limited() -> tuple[int, dict]:
    return 429, {"error": {"message": "Rate limit reached for requests", "type": "requests",
                           "param": None, "code": "rate_limit_exceeded"}}


def unauthorized() -> tuple[int, dict]:
    return 401, {"error": {"message": "Incorrect API key provided: sk-mock***.", "type": "invalid_request_error",
                           "param": None, "code": "invalid_api_key"}}


def chunks(reply: dict, include_usage: bool) -> list[dict]:
    """A chat.completion as the chat.completion.chunk objects a stream carries."""
    choice, base = reply["choices"][0], {k: reply[k] for k in ("id", "created", "model")}
    message = choice["message"]

    def chunk(delta: dict, finish: str | None = None) -> dict:
        return {**base, "object": "chat.completion.chunk",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]}
    out = [chunk({"role": "assistant", "content": ""})]
    if message.get("content"):
        out.append(chunk({"content": message["content"]}))
    for i, call in enumerate(message.get("tool_calls") or []):
        fn = call["function"]
        out += [chunk({"tool_calls": [{"index": i, "id": call["id"], "type": "function",
                                       "function": {"name": fn["name"], "arguments": ""}}]}),
                chunk({"tool_calls": [{"index": i, "function": {"arguments": fn["arguments"]}}]})]
    out.append(chunk({}, choice["finish_reason"]))
    if include_usage:
        out.append({**base, "object": "chat.completion.chunk", "choices": [], "usage": reply["usage"]})
    return out


class ChatMock(LoopbackMock):
    """Serves scripted replies in order, then `default()`; records every request (path, body, headers,
    time, and whether it was refused). A 429 carries `retry-after` (`retry_after` seconds) and
    `retry-after-ms`."""

    def __init__(self, default=verdict_reply, retry_after: float = 0.01, port: int = 0) -> None:
        super().__init__()
        self.default = default
        self.tool_less = None
        self.refuse = None
        self.refusal = rate_limited
        self.retry_after = retry_after
        mock = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                if self.path.rstrip("/").endswith("/models"):
                    return self._send(200, "application/json", json.dumps(
                        {"object": "list", "data": [{"id": "mock", "object": "model", "owned_by": "mock"}]}).encode())
                self._send(404, "application/json", b'{"error": {"message": "not found"}}')

            def do_POST(self):
                body = request_body(self)
                headers = {k.lower(): v for k, v in self.headers.items()}
                with mock.lock:
                    if mock.refuse is not None and mock.refuse({"path": self.path, "body": body, "headers": headers}):
                        status, payload = mock.refusal()
                    elif mock.tool_less is not None and not body.get("tools"):
                        status, payload = mock.tool_less(body)
                    else:
                        status, payload = mock.script.popleft() if mock.script else \
                            mock.responder(body) if mock.responder else mock.default()
                    mock.requests.append({"path": self.path, "body": body, "at": time.time(), "status": status,
                                          "refused": status != 200, "reply": payload,
                                          "headers": headers})
                if status != 200 or not body.get("stream"):
                    return self._send(status, "application/json", json.dumps(payload).encode())
                include = bool((body.get("stream_options") or {}).get("include_usage"))
                data = "".join(f"data: {json.dumps(c)}\n\n" for c in chunks(payload, include)) + "data: [DONE]\n\n"
                self._send(200, "text/event-stream", data.encode())

            def _send(self, status: int, kind: str, data: bytes):
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(data)))
                if status == 429:
                    self.send_header("retry-after", f"{mock.retry_after:g}")
                    self.send_header("retry-after-ms", str(int(mock.retry_after * 1000)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.serve(Handler, port, "/v1")

    def answered(self) -> list[dict]:
        """The completions the mock served (refusals left out), in order."""
        return [r["reply"] for r in self.requests if not r["refused"]]
