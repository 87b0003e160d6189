"""One Lambda execution environment of the local stack: a process running a packaged
function from its unpacked zip, as Lambda's Python runtime does.

The local stack starts it as `python -I -S bootstrap.py` with the function's unpacked
zip as its working directory and the environment its template gives it. `-I -S` leave
only the standard library on sys.path; this adds the task root (the zip) and the
runtime's own packages (boto3, botocore and what they need, as Lambda's python3.11
runtime provides them), so a module the zip lacks fails here as it would in Lambda.

Then, as Lambda does: the INIT phase imports the handler's module once; each request
(a JSON line on stdin) calls the handler with the event and a context object, and the
answer (a JSON line on the descriptor the local stack names) is the handler's result or the error in
Lambda's shape (errorType, errorMessage, stackTrace). What the function prints and logs
goes to stdout and stderr, which the local stack keeps as its log.

Every AWS call the function makes is checked against the policy its template gives its
role (iam_policy.py): a call the role does not allow fails with AccessDenied, as IAM
would refuse it, and is reported on stderr and in the denials file. Injected faults
(`helpline dev --fault`) fail chosen calls the way AWS fails them (faults.py).

This file imports only the standard library before the runtime's packages are on
sys.path, and loads its two helpers by path under private names: nothing of the local
stack becomes importable by the function.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
import time
import traceback
import types
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SETTINGS_VARIABLE = "_HELPLINE_LOCAL_LAMBDA"
ANSWER_FD_VARIABLE = "_HELPLINE_ANSWER_FD"


def _load(name: str) -> types.ModuleType:
    """A helper module of this folder, by path, under a name the function never uses."""
    spec = importlib.util.spec_from_file_location(f"_helpline_local_{name}", HERE / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


class Context:
    """The context object Lambda passes to a Python handler."""

    def __init__(self, settings: dict[str, Any], request: dict[str, Any]) -> None:
        self.function_name = settings["function_name"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = settings["function_arn"]
        self.memory_limit_in_mb = int(settings["memory_mb"])
        self.aws_request_id = request["request_id"]
        self.log_group_name = settings["log_group"]
        self.log_stream_name = settings["log_stream"]
        self.identity = None
        self.client_context = None
        self._deadline = float(request["deadline"])

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _error(exc: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorType": error_type or type(exc).__name__,
        "errorMessage": str(exc),
        "stackTrace": traceback.format_tb(exc.__traceback__),
    }


class CallGuard:
    """Every AWS call of the function: the role's policy first, then injected faults."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.iam = _load("iam_policy")
        self.settings = settings
        self.policies = settings["policies"]
        self.denials_file = settings.get("denials_file")
        self.faults = None
        if settings.get("faults"):
            faults = _load("faults")
            self.faults = faults.FaultInjector.parse(settings["faults"])
            self.faults.claim = faults.SharedCounter(settings["faults_counter"]).claim

    def install(self) -> None:
        from botocore.client import BaseClient

        guard = self
        original = getattr(BaseClient, "_make_api_call")  # noqa: B009 (private in the stubs)

        def make_api_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            guard.authorize(client, operation_name, api_params)
            if guard.faults is not None:
                service = client.meta.service_model.service_name
                injected = guard.faults.fault_for(f"{service}.{operation_name}")
                if injected is not None:
                    _, parsed = injected
                    code = parsed["Error"]["Code"]
                    raise client.exceptions.from_code(code)(parsed, operation_name)
            return original(client, operation_name, api_params)

        setattr(BaseClient, "_make_api_call", make_api_call)  # noqa: B010

    def authorize(self, client: Any, operation: str, params: dict[str, Any]) -> None:
        from botocore.exceptions import ClientError

        service = client.meta.service_model.service_name
        settings = self.settings
        try:
            needed = self.iam.required_permissions(
                service,
                operation,
                params,
                region=client.meta.region_name or settings["region"],
                account=settings["account"],
                endpoint_url=client.meta.endpoint_url,
                secret_arns=settings.get("secret_arns") or {},
            )
            denied = self.iam.check(self.policies, needed)
        except self.iam.UnmappedCallError as exc:
            message = f"the local stack cannot tell what {service}.{operation} needs: {exc}"
            self._report(service, operation, "?", "?", message)
            raise ClientError(
                {"Error": {"Code": "AccessDeniedException", "Message": message}}, operation
            ) from None
        if not denied:
            return
        permission, decision = denied[0]
        message = self.iam.describe_denial(
            settings["role_name"],
            permission,
            decision,
            account=settings["account"],
            session=settings["function_name"],
        )
        self._report(service, operation, permission.action, permission.resource, message)
        code = "AccessDenied" if service in ("s3", "sqs") else "AccessDeniedException"
        response: Any = {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 403 if service == "s3" else 400},
        }
        raise ClientError(response, operation)

    def _report(self, service: str, operation: str, action: str, resource: str, why: str) -> None:
        spec = self.settings.get("spec_name", "?")
        print(
            f"IAM: {self.settings['function_name']} may not {action} on {resource} "
            f"({service}.{operation}); grant it to {spec} in infra/deploy/functions.py. {why}",
            file=sys.stderr,
            flush=True,
        )
        if self.denials_file:
            line = json.dumps(
                {
                    "function": self.settings["function_name"],
                    "spec": spec,
                    "call": f"{service}.{operation}",
                    "action": action,
                    "resource": resource,
                    "message": why,
                }
            )
            # one write of a short line with O_APPEND: whole, whatever other workers do
            descriptor = os.open(self.denials_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(descriptor, (line + "\n").encode("utf-8"))
            finally:
                os.close(descriptor)


def _init(settings: dict[str, Any]) -> Any:
    """Lambda's INIT phase: the handler, or the exception that made it fail."""
    task_root = settings["task_root"]
    sys.path[:0] = [task_root, settings["runtime_site"]]
    CallGuard(settings).install()
    module_name, _, attribute = settings["handler"].rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        # Lambda's own words for a zip that cannot be imported
        return RuntimeError(
            f"Runtime.ImportModuleError: Unable to import module '{module_name}': {exc}"
        )
    except Exception as exc:
        return exc
    handler = getattr(module, attribute, None)
    if handler is None:
        return RuntimeError(
            f"Runtime.HandlerNotFound: Handler '{attribute}' missing on module '{module_name}'"
        )
    return handler


def main() -> int:
    settings = json.loads(Path(os.environ.pop(SETTINGS_VARIABLE)).read_text(encoding="utf-8"))
    answers = os.fdopen(int(os.environ.pop(ANSWER_FD_VARIABLE)), "w", encoding="utf-8")
    started = time.monotonic()
    handler = _init(settings)
    init_ms = (time.monotonic() - started) * 1000
    failed_init = isinstance(handler, BaseException)
    print(
        json.dumps({"init": "failed" if failed_init else "ok", "init_ms": round(init_ms, 1)}),
        file=answers,
        flush=True,
    )
    for line in sys.stdin:
        request = json.loads(line)
        request_id = request["request_id"]
        print(f"START RequestId: {request_id} Version: $LATEST", flush=True)
        began = time.monotonic()
        if failed_init:
            error_type = str(handler).split(":", 1)[0] if ":" in str(handler) else None
            answer: dict[str, Any] = {"error": _error(handler, error_type)}
        else:
            try:
                result = handler(request["event"], Context(settings, request))
                answer = {"result": result}
                text = json.dumps(answer)
            except Exception as exc:
                traceback.print_exc()
                answer = {"error": _error(exc)}
            else:
                duration = (time.monotonic() - began) * 1000
                print(f"END RequestId: {request_id}", flush=True)
                print(
                    f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms",
                    flush=True,
                )
                print(text, file=answers, flush=True)
                continue
        print(f"END RequestId: {request_id}", flush=True)
        print(json.dumps(answer, default=str), file=answers, flush=True)
        if failed_init:
            return 1  # Lambda discards an environment whose INIT failed
    return 0


if __name__ == "__main__":
    sys.exit(main())
