"""A platform API on 127.0.0.1 that records what it receives and answers as scripted.

Tests queue answers (`answer(429, ...)`, `answer(500)`, `answer(400, error)`) and then
read `requests` to see the exact path, headers and JSON body a platform would get.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any
    headers: tuple[tuple[str, str], ...] = ()


class FakePlatform:
    def __init__(self, default: Answer | None = None) -> None:
        self.requests: list[Received] = []
        self._script: deque[Answer] = deque()
        self._default = default or Answer(200, {})
        self._lock = threading.Lock()
        platform = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw
                with platform._lock:
                    platform.requests.append(
                        Received("POST", self.path, dict(self.headers.items()), body)
                    )
                    answer = platform._script.popleft() if platform._script else platform._default
                data = (
                    answer.body
                    if isinstance(answer.body, bytes)
                    else json.dumps(answer.body).encode()
                )
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in answer.headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return  # keep test output quiet

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), daemon=True
        )

    @property
    def url(self) -> str:
        port = self._server.server_address[1]
        return f"http://127.0.0.1:{port}"

    def answer(self, status: int, body: Any = None, headers: dict[str, str] | None = None) -> None:
        with self._lock:
            self._script.append(
                Answer(status, {} if body is None else body, tuple((headers or {}).items()))
            )

    def start(self) -> FakePlatform:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


class Sleeps(list[float]):
    """Records backoff delays instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)
