"""`helpline dev` as a subprocess on free 127.0.0.1 ports: for the end-to-end tests and
the benchmarks that drive the local stack from outside, as a user would.

Its output is drained by two threads, so a stack that logs a lot never blocks on a full
pipe, and the last lines are kept for the error message when it fails.
"""

from __future__ import annotations

import collections
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
READY = "helpline dev ready:"


class DevProcess:
    """One `helpline dev` run; `info` is its dev.json, `ready` its ready line."""

    def __init__(
        self,
        state_dir: Path,
        *,
        config: Path | None = None,
        extra_args: Sequence[str] = (),
        ready_timeout: float = 120.0,
    ) -> None:
        self.state_dir = state_dir
        self.config = config
        self.extra_args = tuple(extra_args)
        self.ready_timeout = ready_timeout
        self.process: subprocess.Popen[str] | None = None
        self.info: dict[str, Any] = {}
        self.ready = ""
        self._tail: collections.deque[str] = collections.deque(maxlen=60)
        self._lines: queue.Queue[str | None] = queue.Queue()

    def __enter__(self) -> DevProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def command(self) -> list[str]:
        ports = ["--aws-port", "0", "--http-port", "0", "--smtp-port", "0"]
        config = ["--config", str(self.config)] if self.config else []
        return [
            sys.executable,
            *("-m", "infra.cli", "dev"),
            *ports,
            *("--state-dir", str(self.state_dir)),
            *config,
            *self.extra_args,
        ]

    def start(self) -> None:
        # the stack makes its own AWS and Helpline settings: none may leak in from here
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "HELPLINE_"))}
        self.process = subprocess.Popen(
            self.command(),
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream, lines in ((self.process.stdout, self._lines), (self.process.stderr, None)):
            threading.Thread(target=self._drain, args=(stream, lines), daemon=True).start()
        deadline = time.monotonic() + self.ready_timeout
        while True:
            remaining = deadline - time.monotonic()
            try:
                line = self._lines.get(timeout=max(remaining, 0.01))
            except queue.Empty:
                line = None
            if line is not None and line.startswith(READY):
                self.ready = line
                break
            if line is None or remaining <= 0:
                self.stop()
                raise RuntimeError("helpline dev did not become ready:\n" + self.log_tail())
        self.info = json.loads((self.state_dir / "dev.json").read_text(encoding="utf-8"))

    def _drain(self, stream: Any, lines: queue.Queue[str | None] | None) -> None:
        for line in stream:
            self._tail.append(line.rstrip("\n"))
            if lines is not None:
                lines.put(line)
        if lines is not None:
            lines.put(None)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    def iam_denials(self) -> list[dict[str, Any]]:
        """Every AWS call a function made that its role's policy does not allow."""
        path = self.state_dir / "lambda" / "iam-denials.jsonl"
        if not path.is_file():
            return []
        text = path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def log_tail(self) -> str:
        """The stack's last lines of output (its warnings and errors)."""
        return "\n".join(self._tail)
