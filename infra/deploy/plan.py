"""`helpline config plan FILE`: what each function will use, read offline from the config.

For every function: its environment variables and where their values come from, the
secrets its part of the config references, the resources it touches and the IAM
actions it is granted on them. Nothing is packaged and nothing in AWS is asked.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from infra.deploy import functions, iam, package
from infra.deploy.assemble import CONFIG_PATH_IN_PACKAGE
from infra.deploy.functions import FunctionSpec

Printer = Callable[[str], None]

# environment variable -> where its value comes from (the merge templates' Globals)
_ENV_SOURCES = {
    "HELPLINE_STAGE": "the stage",
    "HELPLINE_TABLE": "export helpline-{stage}-TableName",
    "HELPLINE_BUCKET": "export helpline-{stage}-MailBucketName",
    "HELPLINE_QUEUE_URLS": "export helpline-{stage}-RoutingQueueUrls",
    "HELPLINE_MAIL_DLQ_URL": "export helpline-{stage}-InboundMailDeadLetterQueueUrl",
    "HELPLINE_INBOUND_TOPIC": "export helpline-{stage}-InboundMailTopicArn",
    "HELPLINE_CHAT_WS_URL": "the chat WebSocket API (export helpline-{stage}-chat-WebsocketUrl)",
    "HELPLINE_CHAT_MANAGEMENT_URL": "the chat Management API (export helpline-{stage}-chat-ManagementUrl)",
}


def environment(spec: FunctionSpec, stage: str) -> list[tuple[str, str]]:
    from infra.deploy import cfn

    template = cfn.load(spec.merge_template) if spec.merge_template.is_file() else {}
    names = list(
        template.get("Globals", {}).get("Function", {}).get("Environment", {}).get("Variables", {})
    )
    if "WEBSOCKETS" in spec.experimental_features:  # the assembly adds the chat URLs
        names += ["HELPLINE_CHAT_WS_URL", "HELPLINE_CHAT_MANAGEMENT_URL"]
    rows = [
        (name, _ENV_SOURCES.get(name, "the merge template").format(stage=stage)) for name in names
    ]
    rows += [
        ("HELPLINE_CONFIG", f"{CONFIG_PATH_IN_PACKAGE} (this file, shipped in the package)"),
        ("POWERTOOLS_SERVICE_NAME", spec.name),
        ("POWERTOOLS_METRICS_NAMESPACE", "Helpline"),
        ("POWERTOOLS_LOG_LEVEL", "the LogLevel parameter (INFO)"),
    ]
    return sorted(dict(rows).items())


def plan_data(
    config: Any, *, stage: str, specs: Sequence[FunctionSpec] | None = None
) -> list[dict[str, Any]]:
    """Per function: its stack, sizes, environment, secrets and permissions."""
    specs = list(specs) if specs is not None else list(functions.FUNCTIONS)
    present = {spec.name for spec in _present()}
    found = []
    for spec in specs:
        refs = package.function_secret_refs(config, spec)
        permissions = []
        for grant in spec.grants:
            for resource in grant.resources:
                if resource.startswith("secrets/") and not any(
                    ref.scheme == resource.split("/", 1)[1] for ref in refs
                ):
                    continue
                permissions.append(
                    {
                        "resource": resource,
                        "what": _describe(resource),
                        "actions": list(grant.actions),
                        "used_by": "lambda" if grant.platform else "code",
                    }
                )
        found.append(
            {
                "function": spec.name,
                "exists": spec.name in present,
                "stack": spec.stack_name(stage),
                "summary": spec.summary,
                "memory_mb": spec.memory_mb,
                "timeout_seconds": spec.timeout_seconds,
                "reserved_concurrency": spec.reserved_concurrency,
                "env": dict(environment(spec, stage)),
                "secrets": [str(ref) for ref in refs],
                "permissions": permissions,
            }
        )
    return found


def _describe(resource: str) -> str:
    if resource in iam.RESOURCES:
        return iam.RESOURCES[resource]
    if resource.startswith("own-queue/"):
        return f"the stack's own queue {resource.split('/', 1)[1]}"
    return resource


def print_plan(
    config: Any, *, stage: str, specs: Sequence[FunctionSpec] | None = None, out: Printer = print
) -> None:
    for entry in plan_data(config, stage=stage, specs=specs):
        state = (
            ""
            if entry["exists"]
            else f"  (functions/{entry['function']}/app.py does not exist yet)"
        )
        out(f"{entry['function']} -> stack {entry['stack']}{state}")
        out(f"  {entry['summary']}")
        reserved = entry["reserved_concurrency"]
        out(
            f"  memory {entry['memory_mb']} MB, timeout {entry['timeout_seconds']} s"
            + (f", reserved concurrency {reserved}" if reserved is not None else "")
        )
        out("  env:")
        for name, source in entry["env"].items():
            out(f"    {name:<30} {source}")
        out("  secrets:" + ("" if entry["secrets"] else " none"))
        for ref in entry["secrets"]:
            out(f"    {ref}")
        out("  resources and permissions:")
        for permission in entry["permissions"]:
            by = " (used by Lambda for the function)" if permission["used_by"] == "lambda" else ""
            out(f"    {permission['resource']:<24} {', '.join(permission['actions'])}{by}")
            out(f"    {'':<24} {permission['what']}")
        out("")


def _present() -> list[FunctionSpec]:
    try:
        return functions.discover()
    except functions.UndeclaredFunctionError:
        return []
