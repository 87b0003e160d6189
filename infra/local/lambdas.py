"""Lambda for the local stack: packaged functions in execution environments of their own.

Each function (one `AWS::Lambda::Function` of a packaged template) runs in worker
processes started from `lambda_runtime/bootstrap.py`, with its unpacked zip as the task
root, only the runtime's packages beside it, and the environment its template gives it.
As in Lambda, an environment serves one invocation at a time and is kept warm for the
next; a concurrent invocation gets an environment of its own (a cold start), up to the
function's reserved concurrency or the local limit. An invocation that runs past the
function's timeout kills its environment, as Lambda does.

`invoke` is a synchronous invocation (API Gateway, the stream poller) and returns
Lambda's answer: the result, or the error in Lambda's shape. `handler` turns a function
into a Python handler that raises `FunctionError` for that answer, for
`invoker.AsyncInvoker` (SNS: retries, then the dead-letter queue).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

log = logging.getLogger("helpline.dev.lambda")
BOOTSTRAP = Path(__file__).resolve().parent / "lambda_runtime" / "bootstrap.py"
SETTINGS_VARIABLE = "_HELPLINE_LOCAL_LAMBDA"
ANSWER_FD_VARIABLE = "_HELPLINE_ANSWER_FD"
DEFAULT_MAX_CONCURRENCY = 8  # per function, where its template reserves none
INIT_TIMEOUT_SECONDS = 60.0  # Lambda gives INIT 10 s; a cold laptop under load needs more
MAX_STARTING = 1  # environments of one function being started at once


@dataclass(frozen=True)
class LambdaFunction:
    """What the local stack needs to run one function, all of it from its template."""

    name: str  # FunctionName
    logical_id: str
    spec_name: str  # the package under functions/
    handler: str
    runtime: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    role_name: str
    policies: list[dict[str, Any]]
    task_root: Path
    reserved_concurrency: int | None = None
    async_retries: int = 2
    async_max_age_seconds: int = 6 * 3600
    dead_letter_arn: str | None = None

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.name}"


@dataclass
class Invocation:
    request_id: str
    function: str
    result: Any = None
    error: dict[str, Any] | None = None
    duration_ms: float = 0.0
    cold: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None

    def error_text(self) -> str:
        if self.error is None:
            return ""
        return f"{self.error.get('errorType')}: {self.error.get('errorMessage')}"


class Environment:
    """One execution environment: a worker process serving one invocation at a time."""

    def __init__(
        self, function: LambdaFunction, settings_path: Path, env: dict[str, str], logs: Any
    ) -> None:
        self.function = function
        read_answers, write_answers = os.pipe()
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", str(BOOTSTRAP)],
            cwd=function.task_root,
            env={
                **env,
                SETTINGS_VARIABLE: str(settings_path),
                ANSWER_FD_VARIABLE: str(write_answers),
            },
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            pass_fds=(write_answers,),
            text=True,
            start_new_session=True,  # a Ctrl-C in the terminal goes to the stack, not here
        )
        os.close(write_answers)
        self._answers = read_answers
        self._buffer = b""
        assert self.process.stdout is not None and self.process.stderr is not None
        for stream in (self.process.stdout, self.process.stderr):
            threading.Thread(
                target=logs, args=(function, stream), name=f"{function.name}-log", daemon=True
            ).start()
        self.init: dict[str, Any] | None = None

    def wait_ready(self, timeout: float) -> dict[str, Any]:
        if self.init is None:
            line = self._read_line(timeout)
            self.init = json.loads(line) if line else {"init": "failed", "init_ms": 0}
        return self.init

    def _read_line(self, timeout: float) -> str | None:
        """One answer line from the worker; None on timeout or when it exited."""
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            ready, _, _ = select.select([self._answers], [], [], remaining)
            if not ready:
                return None
            chunk = os.read(self._answers, 1 << 20)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode("utf-8")

    def invoke(self, request: dict[str, Any], timeout: float) -> dict[str, Any] | None:
        """The worker's answer, or None when it did not answer in time (or died)."""
        assert self.process.stdin is not None
        try:
            self.process.stdin.write(json.dumps(request) + "\n")
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError):
            return None
        line = self._read_line(timeout)
        if line is None:
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            self.process.wait(timeout=5)
        with contextlib.suppress(OSError):
            os.close(self._answers)

    def stop(self) -> None:
        if self.process.stdin is not None:
            with contextlib.suppress(Exception):
                self.process.stdin.close()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()
        with contextlib.suppress(OSError):
            os.close(self._answers)


class FunctionPool:
    """The warm environments of one function, and the limit on how many run at once."""

    def __init__(
        self, function: LambdaFunction, start: Callable[[LambdaFunction], Environment], limit: int
    ) -> None:
        self.function = function
        self._start = start
        self.limit = limit
        self._idle: list[Environment] = []
        self._running = 0
        self._starting = 0
        self._condition = threading.Condition()
        self.cold_starts = 0
        self.invocations = 0

    def _acquire(self, deadline: float) -> tuple[Environment | None, bool]:
        """A warm environment, or a new one. Cold starts of one function happen one at a
        time: in AWS each runs on a machine of its own, here they would share two cores,
        so a burst waits for the first environment to be ready instead of starting ten."""
        with self._condition:
            while True:
                while self._idle:
                    environment = self._idle.pop()
                    if environment.alive:
                        self._running += 1
                        return environment, False
                if self._running < self.limit and self._starting < MAX_STARTING:
                    self._running += 1
                    self._starting += 1
                    break
                waited = self._condition.wait(timeout=max(0.01, deadline - time.monotonic()))
                if not waited and time.monotonic() >= deadline:
                    return None, False
        try:
            environment = self._start(self.function)
            environment.wait_ready(INIT_TIMEOUT_SECONDS)
        except Exception:
            with self._condition:
                self._running -= 1
                self._starting -= 1
                self._condition.notify_all()
            raise
        with self._condition:
            self._starting -= 1
            self._condition.notify_all()
        self.cold_starts += 1
        return environment, True

    def _release(self, environment: Environment | None, keep: bool) -> None:
        with self._condition:
            self._running -= 1
            if environment is not None and keep and environment.alive:
                self._idle.append(environment)
            self._condition.notify_all()

    def invoke(self, event: Any, *, request_id: str | None = None) -> Invocation:
        function = self.function
        invocation = Invocation(request_id or str(uuid.uuid4()), function.name)
        began = time.monotonic()
        # a caller waits for a free environment as long as the function may run
        environment, cold = self._acquire(began + max(function.timeout_seconds, 30) + 30)
        if environment is None:
            invocation.error = {
                "errorType": "TooManyRequestsException",
                "errorMessage": f"Rate Exceeded: {function.name} is at its concurrency limit",
            }
            return invocation
        invocation.cold = cold
        keep = False
        try:
            init = environment.wait_ready(INIT_TIMEOUT_SECONDS)
            deadline = time.time() + function.timeout_seconds
            answer = environment.invoke(
                {"request_id": invocation.request_id, "event": event, "deadline": deadline},
                function.timeout_seconds + 0.5,
            )
            if answer is None:
                why = (
                    f"Task timed out after {function.timeout_seconds:.2f} seconds"
                    if environment.alive
                    else "Runtime exited without providing a reason"
                )
                if init.get("init") == "failed":
                    why = "INIT failed: see the function's log"
                invocation.error = {
                    "errorType": "Sandbox.Timedout" if environment.alive else "Runtime.ExitError",
                    "errorMessage": why,
                }
                environment.kill()
            elif "error" in answer:
                invocation.error = answer["error"]
                keep = init.get("init") != "failed"
            else:
                invocation.result = answer.get("result")
                keep = True
        finally:
            if not keep and environment.alive:
                environment.kill()
            self._release(environment, keep)
        self.invocations += 1
        invocation.duration_ms = (time.monotonic() - began) * 1000
        return invocation

    def stop(self) -> None:
        with self._condition:
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.stop()


@dataclass
class RuntimeSettings:
    """What every environment of the stack shares."""

    runtime_site: Path
    work_dir: Path  # settings files, the denials and fault counters, logs
    account: str
    region: str
    aws_environment: dict[str, str]  # endpoints: how the functions reach the local AWS
    faults: list[str] = field(default_factory=list)
    secret_arns: dict[str, str] = field(default_factory=dict)
    max_concurrency: int = DEFAULT_MAX_CONCURRENCY
    echo: Callable[[str], None] | None = None  # where the functions' log lines go too


class LambdaService:
    """Every function of the local stack, by name."""

    def __init__(self, settings: RuntimeSettings) -> None:
        self.settings = settings
        self.functions: dict[str, LambdaFunction] = {}
        self.pools: dict[str, FunctionPool] = {}
        settings.work_dir.mkdir(parents=True, exist_ok=True)
        (settings.work_dir / "logs").mkdir(exist_ok=True)
        self.denials_file = settings.work_dir / "iam-denials.jsonl"
        self.denials_file.touch()
        self._log_lock = threading.Lock()

    def add(self, function: LambdaFunction) -> None:
        self.functions[function.name] = function
        limit = function.reserved_concurrency or self.settings.max_concurrency
        self.pools[function.name] = FunctionPool(function, self._start, max(1, limit))

    def function(self, name: str) -> LambdaFunction:
        try:
            return self.functions[name]
        except KeyError:
            raise LookupError(f"no function {name} in the local stack") from None

    def invoke(self, name: str, event: Any, *, request_id: str | None = None) -> Invocation:
        return self.pools[self.function(name).name].invoke(event, request_id=request_id)

    def denials(self) -> list[dict[str, Any]]:
        text = self.denials_file.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def stop(self) -> None:
        for pool in self.pools.values():
            pool.stop()

    # -- environments ------------------------------------------------------------------------

    def _settings_file(self, function: LambdaFunction) -> Path:
        path = self.settings.work_dir / "functions" / f"{function.name}.json"
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            document = {
                "function_name": function.name,
                "function_arn": (
                    f"arn:aws:lambda:{self.settings.region}:{self.settings.account}"
                    f":function:{function.name}"
                ),
                "spec_name": function.spec_name,
                "memory_mb": function.memory_mb,
                "log_group": function.log_group,
                "log_stream": "local",
                "handler": function.handler,
                "task_root": str(function.task_root),
                "runtime_site": str(self.settings.runtime_site),
                "role_name": function.role_name,
                "policies": function.policies,
                "account": self.settings.account,
                "region": self.settings.region,
                "secret_arns": self.settings.secret_arns,
                "denials_file": str(self.denials_file),
                "faults": self.settings.faults,
                "faults_counter": str(self.settings.work_dir / "faults-fired.json"),
            }
            temporary = path.with_suffix(".tmp")
            temporary.write_text(json.dumps(document), encoding="utf-8")
            temporary.replace(path)
        return path

    def _environment_variables(self, function: LambdaFunction) -> dict[str, str]:
        """What Lambda sets, the template's variables, and the local endpoints."""
        settings = self.settings
        role_key = f"ASIA{abs(hash(function.role_name)) % 10**12:012d}"
        return {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "LAMBDA_TASK_ROOT": str(function.task_root),
            "LAMBDA_RUNTIME_DIR": str(settings.runtime_site),
            "_HANDLER": function.handler,
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": function.name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
            "AWS_LAMBDA_LOG_GROUP_NAME": function.log_group,
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_REGION": settings.region,
            "AWS_DEFAULT_REGION": settings.region,
            # the role's temporary credentials (the local AWS does not check them;
            # the worker checks every call against the role's policy itself)
            "AWS_ACCESS_KEY_ID": role_key,
            "AWS_SECRET_ACCESS_KEY": "local-role-secret",
            "AWS_SESSION_TOKEN": f"local-session-{function.role_name}",
            "PYTHONDONTWRITEBYTECODE": "1",  # /var/task is read-only in Lambda
            **settings.aws_environment,
            **function.environment,
        }

    def _start(self, function: LambdaFunction) -> Environment:
        return Environment(
            function,
            self._settings_file(function),
            self._environment_variables(function),
            self._pump,
        )

    def _pump(self, function: LambdaFunction, stream: IO[str]) -> None:
        """A worker's output: into the function's log file, and its warnings and errors
        (not the START/END/REPORT lines or metrics) to the stack's own log."""
        path = self.settings.work_dir / "logs" / f"{function.name}.log"
        with open(path, "a", encoding="utf-8") as log_file:
            for line in stream:
                with self._log_lock:
                    log_file.write(line)
                    log_file.flush()
                if self.settings.echo is not None and _worth_echoing(line):
                    self.settings.echo(f"[{function.name}] {line.rstrip()}")


def _worth_echoing(line: str) -> bool:
    if line.startswith(("START RequestId", "END RequestId", "REPORT RequestId")):
        return False
    stripped = line.strip()
    if not stripped:
        return False
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            return True
        if not isinstance(record, dict) or "_aws" in record:  # metrics (EMF)
            return False
        return str(record.get("level", "")).upper() in ("WARNING", "ERROR", "CRITICAL")
    return True


class FunctionError(RuntimeError):
    """A function's invocation ended in an error (Lambda's errorType and errorMessage)."""

    def __init__(self, invocation: Invocation) -> None:
        error = invocation.error or {}
        self.error_type = str(error.get("errorType") or "Unhandled")
        super().__init__(str(error.get("errorMessage") or "the function failed"))


def handler(service: LambdaService, name: str) -> Callable[[Any, Any], Any]:
    """A Python handler that invokes the packaged function `name` and raises on error."""

    def invoke(event: Any, context: Any = None) -> Any:
        request_id = getattr(context, "aws_request_id", None)
        invocation = service.invoke(name, event, request_id=request_id)
        if not invocation.ok:
            raise FunctionError(invocation)
        return invocation.result

    return invoke
