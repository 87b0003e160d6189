"""The function table: what each Lambda function is, needs and may do.

One entry per function under functions/. A function is deployed when its `app.py`
exists and it has an entry here and a merge template at infra/functions/<name>.yaml;
`discover()` says which, and fails on an app with no entry (so nothing ships
without a reviewed policy).

Adding a function: write its merge template (events wiring, its own resources and
outputs) and its `FunctionSpec` below (sizes, grants, secrets, endpoints). The grants
are checked against a recorded run of the function in tests/deploy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from infra.deploy.iam import Grant

REPO_ROOT = Path(__file__).resolve().parents[2]
FUNCTIONS_DIR = REPO_ROOT / "functions"
MERGE_TEMPLATES_DIR = REPO_ROOT / "infra" / "functions"


@dataclass(frozen=True, slots=True)
class Endpoint:
    """A URL printed after a deploy: a stack output plus a path."""

    label: str
    output: str
    path: str = ""


@dataclass(frozen=True, slots=True)
class AsyncPolicy:
    """How Lambda retries an asynchronous invocation (SNS, EventBridge) that failed."""

    retries: int  # 0..2
    max_age_seconds: int  # 60..21600
    dead_letter_export: str | None = None  # a shared export holding a queue ARN


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # the package under functions/
    slug: str  # in resource names: helpline-<stage>-<slug>-<handler>
    summary: str
    memory_mb: int
    timeout_seconds: int
    grants: tuple[Grant, ...]
    # config attributes whose secret references this function reads
    secret_sections: tuple[str, ...] = ()
    # for notifications (SNS) and events (EventBridge schedules are handled apart: a
    # missed minute is covered by the next one, so they are never retried)
    async_policy: AsyncPolicy | None = None
    # a default for the ReservedConcurrency stack parameter; None: no parameter
    reserved_concurrency: int | None = None
    experimental_features: tuple[str, ...] = ()
    requires: tuple[str, ...] = ()  # functions whose stack exports this one imports
    endpoints: tuple[Endpoint, ...] = ()
    # test modules whose run exercises every AWS call of the function's code: the IAM
    # check records them (tests/deploy/test_iam_matches_calls.py)
    recorded_by: tuple[str, ...] = ()

    @property
    def app_dir(self) -> Path:
        return FUNCTIONS_DIR / self.name

    @property
    def merge_template(self) -> Path:
        return MERGE_TEMPLATES_DIR / f"{self.name}.yaml"

    def stack_name(self, stage: str) -> str:
        return f"helpline-{stage}-{self.slug}"


# -- grants shared by several functions ------------------------------------------------------

_LOGS = Grant("Logs", ("logs:CreateLogStream", "logs:PutLogEvents"), ("logs",), platform=True)
_SEND_MAIL = Grant("SendMail", ("ses:SendEmail", "ses:SendRawEmail"), ("ses/sender",))
_ROUTE = Grant("Route", ("sqs:SendMessage",), ("queue/routing",))
# a secret is read where its reference says it lives: an SSM parameter or a Secrets
# Manager secret (each grant renders only the references of its kind)
_READ_PARAMETERS = Grant("ReadSecrets", ("ssm:GetParameter",), ("secrets/ssm",))
_READ_SECRETS = Grant(
    "ReadManagedSecrets", ("secretsmanager:GetSecretValue",), ("secrets/secretsmanager",)
)

FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec(
        name="email_ingest",
        slug="email",
        summary="SES -> S3 -> SNS: inbound mail into tickets, routing, acknowledgements",
        memory_mb=512,
        timeout_seconds=60,
        grants=(
            Grant(
                "Tickets",
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ),
                ("table",),
            ),
            Grant("ReadRawMail", ("s3:GetObject",), ("bucket/raw/",)),
            Grant("KeepParts", ("s3:PutObject",), ("bucket/attachments/", "bucket/bodies/")),
            _ROUTE,
            _SEND_MAIL,
            Grant("DeadLetter", ("sqs:SendMessage",), ("queue/inbound-mail-dlq",), platform=True),
            _LOGS,
        ),
        recorded_by=("tests/functional/test_email_ingest.py", "tests/deploy/recorded_paths.py"),
        async_policy=AsyncPolicy(
            retries=2, max_age_seconds=6 * 3600, dead_letter_export="InboundMailDeadLetterQueueArn"
        ),
        # a mail storm (a loop with another autoresponder, a list blast) must not take the
        # account's concurrency from chat and webhooks, which people wait on
        reserved_concurrency=10,
    ),
    FunctionSpec(
        name="chat_ws",
        slug="chat",
        summary="WebSocket chat, its session route and widget, chat housekeeping",
        memory_mb=512,
        timeout_seconds=30,
        grants=(
            Grant(
                "Tickets",
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:Query",
                    "dynamodb:UpdateItem",
                ),
                ("table",),
            ),
            Grant("Lists", ("dynamodb:Query",), ("index/GSI1", "index/GSI2")),
            _ROUTE,
            _SEND_MAIL,
            _READ_PARAMETERS,
            _READ_SECRETS,
            Grant("Push", ("execute-api:ManageConnections",), ("websocket/connections",)),
            _LOGS,
        ),
        recorded_by=("tests/functional/test_chat.py",),
        secret_sections=("chat",),
        async_policy=None,
        experimental_features=("WEBSOCKETS",),
        endpoints=(
            Endpoint("chat WebSocket", "WebsocketConnectEndpointURL"),
            Endpoint("chat widget", "EndpointURL", "chat/widget.js"),
            Endpoint("chat session", "EndpointURL", "chat/session"),
        ),
    ),
    FunctionSpec(
        name="social_dm",
        slug="social",
        summary="Meta, Telegram and X webhooks into tickets",
        memory_mb=512,
        timeout_seconds=15,
        grants=(
            Grant(
                "Tickets",
                (
                    "dynamodb:BatchGetItem",
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                ),
                ("table",),
            ),
            Grant("KeepDeliveries", ("s3:PutObject",), ("bucket/social/raw/",)),
            _ROUTE,
            _READ_PARAMETERS,
            _READ_SECRETS,
            _LOGS,
        ),
        recorded_by=("tests/functional/test_social_dm.py",),
        secret_sections=("social",),
        endpoints=(
            Endpoint("Meta webhook", "EndpointURL", "webhooks/meta"),
            Endpoint("Telegram webhook", "EndpointURL", "webhooks/telegram"),
            Endpoint("X webhook", "EndpointURL", "webhooks/x"),
        ),
    ),
    FunctionSpec(
        name="sla_timer",
        slug="sla",
        summary="every minute: due SLA warnings and breaches, escalations, team-lead mail",
        memory_mb=512,
        timeout_seconds=50,  # under the one-minute schedule, so passes rarely overlap
        grants=(
            Grant("DueTickets", ("dynamodb:Query",), ("index/SlaDue",)),
            Grant("OpenTickets", ("dynamodb:Query",), ("index/GSI2",)),
            # the ticket is re-read and written back in one conditional write
            Grant("Tickets", ("dynamodb:GetItem", "dynamodb:PutItem"), ("table",)),
            Grant("Escalate", ("sqs:SendMessage",), ("queue/escalation",)),
            _SEND_MAIL,
            _LOGS,
        ),
        recorded_by=("tests/functional/test_sla_timer.py",),
        # one pass at a time: overlapping passes are safe (the write is conditional on the
        # ticket's version) but only waste reads and conflicts
        reserved_concurrency=1,
    ),
    FunctionSpec(
        name="survey",
        slug="survey",
        summary="CSAT/NPS after a ticket is solved: sends, the response pages, report counters",
        memory_mb=512,
        timeout_seconds=60,
        grants=(
            Grant(
                "Surveys",
                ("dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:Query", "dynamodb:UpdateItem"),
                ("table",),
            ),
            # surveys that are due to be sent sit in the sparse, sharded SlaDue index too
            Grant("DueSurveys", ("dynamodb:Query",), ("index/SlaDue",)),
            # survey links are made from the address of the stack's own API
            Grant("ReadPublicUrl", ("ssm:GetParameter",), ("public-url",)),
            _ROUTE,
            _SEND_MAIL,
            _READ_PARAMETERS,
            _READ_SECRETS,
            Grant(
                "ReadStream",
                ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"),
                ("stream",),
                platform=True,
            ),
            Grant("ListStreams", ("dynamodb:ListStreams",), ("stream-list",), platform=True),
            Grant(
                "StreamFailures",
                ("sqs:SendMessage",),
                ("queue/stream-dlq",),
                platform=True,
            ),
            _LOGS,
        ),
        recorded_by=("tests/functional/test_survey.py",),
        # the survey token's secret, and the platforms' tokens for surveys sent by DM
        # (chat customers rate in the widget; their surveys go by email)
        secret_sections=("surveys", "social"),
        # a burst of solved tickets must not take the concurrency chat and webhooks need
        reserved_concurrency=5,
        endpoints=(Endpoint("survey pages", "EndpointURL", "survey/"),),
    ),
)


class UnknownFunctionError(LookupError):
    pass


class UndeclaredFunctionError(RuntimeError):
    pass


def spec(name: str) -> FunctionSpec:
    for entry in FUNCTIONS:
        if entry.name == name:
            return entry
    known = ", ".join(f.name for f in FUNCTIONS)
    raise UnknownFunctionError(f"unknown function {name!r} (known: {known})")


def discover(functions_dir: Path = FUNCTIONS_DIR) -> list[FunctionSpec]:
    """The functions that exist (functions/*/app.py), in the table's (deploy) order."""
    present = {path.parent.name for path in functions_dir.glob("*/app.py")}
    undeclared = sorted(present - {f.name for f in FUNCTIONS})
    if undeclared:
        raise UndeclaredFunctionError(
            f"functions/{undeclared[0]}/app.py has no entry in infra/deploy/functions.py "
            "(its sizes, grants and endpoints) and so cannot be deployed"
        )
    return [f for f in FUNCTIONS if f.name in present]


def select(only: Sequence[str] | None, functions_dir: Path = FUNCTIONS_DIR) -> list[FunctionSpec]:
    found = discover(functions_dir)
    if not only:
        return found
    chosen = []
    for name in only:
        entry = spec(name)
        if entry not in found:
            raise UnknownFunctionError(f"functions/{name}/app.py does not exist yet")
        chosen.append(entry)
    return chosen
