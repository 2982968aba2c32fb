"""A chat-completions server on loopback that plays scripted replies and records every
request body exactly as it arrived.

It speaks enough of the OpenAI protocol (``POST /v1/chat/completions``) for the `openai`
client: content, tool calls, refusals, HTTP errors and slow answers. The tests use it to
check the OpenAI-compatible provider on the wire, and ``mamori eval injection`` uses it to
stand in for a model that obeys every injected instruction.

>>> with ChatServer(lambda body: Scripted(content='{"ok": true}')) as server:
...     import httpx
...     r = httpx.post(server.base_url + "/chat/completions", json={"model": "m", "messages": []})
...     r.json()["choices"][0]["message"]["content"], len(server.requests)
('{"ok": true}', 1)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["ChatServer", "Scripted"]


@dataclass
class Scripted:
    """One scripted reply."""

    content: str | None = None
    tool_calls: list[dict[str, str]] = field(default_factory=list)  # {"name", "arguments"}
    delay_s: float = 0.0
    status: int = 200
    refusal: str | None = None


class ChatServer:
    """Serve `script(request_body) -> Scripted` on 127.0.0.1 (a free port) in a thread."""

    def __init__(self, script: Callable[[dict[str, Any]], Scripted]) -> None:
        self.script = script
        self.requests: list[dict[str, Any]] = []
        self.raw: list[bytes] = []
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output clean
                return

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                data = self.rfile.read(length)
                try:
                    body = json.loads(data)
                except json.JSONDecodeError:
                    self._send(400, {"error": {"message": "body is not JSON"}})
                    return
                with server._lock:
                    server.raw.append(data)
                    server.requests.append(body)
                reply = server.script(body)
                if reply.delay_s:
                    time.sleep(reply.delay_s)
                if reply.status != 200:
                    self._send(reply.status, {"error": {"message": f"scripted {reply.status}"}})
                    return
                self._send(200, _completion(body, reply))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                out = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(out)))
                    self.end_headers()
                    self.wfile.write(out)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def sent_text(self) -> str:
        """Every request body received, as one text (to search for what must not be there)."""
        return "\n".join(json.dumps(body, ensure_ascii=False) for body in self.requests)


def _completion(body: dict[str, Any], reply: Scripted) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.refusal:
        message["refusal"] = reply.refusal
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": f"call_{i}",
                "type": "function",
                "function": {"name": c["name"], "arguments": c["arguments"]},
            }
            for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": "chatcmpl-loopback",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body.get("model", "scripted"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
    }
