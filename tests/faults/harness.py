"""Fail each AWS call of a handler once, let the platform retry, and check nothing is lost.

One *cell* of the matrix is (scenario, call, fault kind). A scenario is one inbound
event handled through the function's real entry point under moto (in-process), in a
fresh environment: a new `mock_aws`, the shared stack created from infra/shared.yaml,
new clients and a new composition root (a cold container). The harness:

1. records the AWS calls a clean run makes, in order, numbered per operation
   (`dynamodb.TransactWriteItems #2` is the second transaction);
2. for one cell, fails exactly that call once, the way AWS fails it:
   - `throttle`: ThrottlingException (DynamoDB: ProvisionedThroughputExceededException;
     the Management API: LimitExceededException, 429), before the request is sent;
   - `5xx`: InternalServerError (500), before the request is sent;
   - `timeout`: a botocore ReadTimeoutError before the request is sent (it was lost);
   - `lost-answer`: the request goes through and its answer is lost: the caller sees the
     same ReadTimeoutError after AWS did the work;
   - `410` (the Management API only): the connection is gone for good, GoneException;
   then retries the whole invocation as its platform does: SNS's asynchronous invoke
   (three tries, then the dead-letter queue), the webhook platform (until it gets a 200),
   the chat widget (resends an unacknowledged message with the same client id, after
   reconnecting if its connection is gone), the SLA schedule (the next minute's pass) and
   the table stream (retries the batch, then the stream's dead-letter queue);
3. checks what a customer or an agent would notice: the customer's message is stored
   exactly once (one message item, one intake record), at most one automatic reply went
   out (and none is recorded as sent that did not), the ticket's index attributes agree
   with its fields (status list, customer list, SLA due) and the lists find it, and every
   routing message for the message names its ticket and team (at least one: consumers
   dedupe on `message_id`); for chat the session also names its ticket and ends where a
   clean run leaves it (with the agent, or after hours), and the agent holds a slot only
   for a chat assigned to them; for the SLA pass every escalation is recorded once,
   published at least once and its mails sent, and nothing is left owed; for surveys at
   most one is sent per solve, one is sent (or, after a send whose answer timed out, it is
   recorded unconfirmed, never sent again), and the solve is counted once. An event that
   ran out of retries is "not lost" only if it sits in its dead-letter queue.

Faults are injected through botocore's `before-call` and `after-call` events on the
functions' shared session (so they bypass botocore's own retries: the handler sees the
error as if every botocore retry had failed), and, for chat, by wrapping the fake
Management API the functional tests use (tests/functional/chat_harness.py). Faults fire
only during the first try; every call, in every try, is recorded.

`tests/faults/test_*.py` run a subset in `make test`; bench/fault_matrix.py runs every
cell and writes the matrix into docs/BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import uuid
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders
from botocore.exceptions import ClientError, ReadTimeoutError

REGION = "us-east-1"
TUESDAY = datetime(2026, 11, 24, 10, 0, tzinfo=UTC)  # London and Madrid are open
SATURDAY = datetime(2026, 11, 28, 11, 0, tzinfo=UTC)  # every team is closed
FRIDAY_EVENING = datetime(2026, 11, 27, 18, 0, tzinfo=UTC)  # 19:00 in Madrid: closed
# Monday 10:05 in Madrid: the Friday-evening ticket's first response (1 business hour
# from the 09:00 opening) warned at 09:45 and breached at 10:00, so one pass finds both
SLA_PASS_AT = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
SPANISH = (
    "Hola, mi pedido no ha llegado todavía y el seguimiento no muestra nada. ¿Me pueden ayudar?"
)

THROTTLE = "throttle"
SERVER_ERROR = "5xx"
TIMEOUT = "timeout"
LOST_ANSWER = "lost-answer"
GONE = "410"
KINDS = (THROTTLE, SERVER_ERROR, TIMEOUT, LOST_ANSWER, GONE)
KIND_TITLES = {
    THROTTLE: "throttle",
    SERVER_ERROR: "5xx",
    TIMEOUT: "timeout (not sent)",
    LOST_ANSWER: "timeout (sent, answer lost)",
    GONE: "410 gone",
}
MANAGEMENT_API = "apigatewaymanagementapi"
POST_TO_CONNECTION = f"{MANAGEMENT_API}.PostToConnection"

# how often each platform tries one event (the first try included)
ASYNC_TRIES = 3  # SNS -> Lambda asynchronous invoke: two retries, then the DLQ
WEBHOOK_TRIES = 4  # Meta retries a delivery that did not get a 200 for hours; we stop at 4
WIDGET_TRIES = 4  # the widget resends an unacknowledged message after each reconnect
STREAM_TRIES = 3  # the survey's event source mapping (MaximumRetryAttempts 2)
SLA_PASSES = 7  # the faulted pass and six more: a stranded claim is taken over after five


# -- calls and faults ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, order=True)
class Call:
    """One AWS call of a run: the operation and which of its calls (1-based)."""

    operation: str  # "dynamodb.TransactWriteItems"
    n: int

    def __str__(self) -> str:
        return f"{self.operation} #{self.n}"

    @classmethod
    def parse(cls, text: str) -> Call:
        operation, _, number = text.partition(" #")
        return cls(operation, int(number))

    @property
    def service(self) -> str:
        return self.operation.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class Fault:
    call: Call
    kind: str

    def __str__(self) -> str:
        return f"{self.call} {self.kind}"


def kinds_for(call: Call) -> tuple[str, ...]:
    """The fault kinds that apply to a call: a 410 only exists on the Management API."""
    if call.service == MANAGEMENT_API:
        return KINDS
    return tuple(k for k in KINDS if k != GONE)


def _throttle_code(service: str) -> tuple[int, str]:
    if service == "dynamodb":
        return 400, "ProvisionedThroughputExceededException"
    if service == MANAGEMENT_API:
        return 429, "LimitExceededException"
    return 400, "ThrottlingException"


def _error(service: str, kind: str) -> tuple[int, str, str]:
    if kind == THROTTLE:
        status, code = _throttle_code(service)
        return status, code, "Rate exceeded (injected)"
    if kind == SERVER_ERROR:
        return 500, "InternalServerError", "Internal server error (injected)"
    if kind == GONE:
        return 410, "GoneException", "The connection is gone (injected)"
    raise ValueError(f"{kind} is not an error response")


def _error_response(status: int, code: str, message: str) -> Any:
    """The parsed error botocore builds its ClientError from."""
    return {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }


def _timeout(operation: str) -> ReadTimeoutError:
    return ReadTimeoutError(endpoint_url=f"https://{operation}.injected")


_PRODUCT = str(Path(__file__).resolve().parents[2] / "functions") + os.sep


def _made_by() -> str:
    """Which product code made the current call: the innermost public function, and
    its caller in another module ("chatstore.claim_slot < service._route"), so the
    matrix's rows say where each call is made."""
    frames: list[tuple[str, str]] = []
    frame = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if code.co_filename.startswith(_PRODUCT) and not code.co_name.startswith("<"):
            frames.append((Path(code.co_filename).stem, code.co_name))
        frame = frame.f_back  # type: ignore[assignment]
    inner = next(
        (
            i
            for i, (module, function) in enumerate(frames)
            if not function.startswith("_") or i + 1 == len(frames) or frames[i + 1][0] != module
        ),
        None,
    )
    if inner is None:
        return ""
    module, function = frames[inner]
    caller = next((f for f in frames[inner + 1 :] if f[0] != module), None)
    named = f"{module}.{function}"
    return f"{named} < {caller[0]}.{caller[1]}" if caller else named


class FaultPlan:
    """Records every call made while armed and fails the planned one once.

    Installed on the functions' shared boto3 session before any client exists (clients
    copy the session's event handlers when they are built). While disarmed (the set-up
    before the invocation, the checks after it) it neither records nor fails anything.
    """

    def __init__(self, fault: Fault | None = None) -> None:
        self.fault = fault
        self.fired = False
        self.attempt = 0  # 0: disarmed; 1: the first try (faults fire); 2+: retries
        self.tries = 0
        self.calls: list[tuple[int, Call]] = []  # (attempt, call)
        self.made_by: dict[Call, str] = {}  # the product code that made each call
        self._counts: Counter[str] = Counter()
        self._lock = threading.RLock()

    # -- attempts --------------------------------------------------------------------------

    @contextmanager
    def trying(self) -> Iterator[int]:
        """One try of the invocation; yields its number."""
        with self._lock:
            self.tries += 1
            self.attempt = number = self.tries
        try:
            yield number
        finally:
            with self._lock:
                self.attempt = 0

    def handler(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """`function` with each call counted as one try (for the platforms' invokers)."""

        def tried(*args: Any, **kwargs: Any) -> Any:
            with self.trying():
                return function(*args, **kwargs)

        return tried

    def first_try_calls(self) -> list[Call]:
        return [call for attempt, call in self.calls if attempt == 1]

    # -- the decision ------------------------------------------------------------------------

    def intercept(self, operation: str) -> str | None:
        """Count the call; the fault kind to inject into it, if it is the planned one."""
        with self._lock:
            if not self.attempt:
                return None
            self._counts[operation] += 1
            call = Call(operation, self._counts[operation])
            self.calls.append((self.attempt, call))
            self.made_by[call] = _made_by()
            if (
                self.fault is not None
                and not self.fired
                and self.attempt == 1
                and self.fault.call == call
            ):
                self.fired = True
                return self.fault.kind
            return None

    # -- botocore --------------------------------------------------------------------------

    def install(self, session: Any) -> None:
        session.events.register("before-call", self._before_call)
        session.events.register("after-call", self._after_call)

    def _before_call(self, model: Any, context: dict[str, Any], **_: Any) -> Any:
        service = model.service_model.service_name
        operation = f"{service}.{model.name}"
        kind = self.intercept(operation)
        if kind is None:
            return None
        if kind == TIMEOUT:
            raise _timeout(operation)
        if kind == LOST_ANSWER:
            context["helpline_lost_answer"] = True  # AWS does the work; the answer is lost
            return None
        status, code, message = _error(service, kind)
        response = AWSResponse(f"https://{operation}.injected", status, HTTPHeaders(), None)
        return response, _error_response(status, code, message)

    def _after_call(self, model: Any, context: dict[str, Any], **_: Any) -> None:
        if context.pop("helpline_lost_answer", False):
            raise _timeout(f"{model.service_model.service_name}.{model.name}")

    # -- the chat Management API (a fake, not botocore) ----------------------------------------

    def management_api(self, fake: Any) -> FaultyManagementApi:
        return FaultyManagementApi(fake, self)


class FaultyManagementApi:
    """The functional tests' fake Management API, its calls recorded and faulted like
    botocore's. A 410 closes the connection for good, as API Gateway's does."""

    def __init__(self, fake: Any, plan: FaultPlan) -> None:
        self.fake = fake
        self.plan = plan

    def post_to_connection(self, *, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        kind = self.plan.intercept(POST_TO_CONNECTION)
        if kind == TIMEOUT:
            raise _timeout(POST_TO_CONNECTION)
        if kind == LOST_ANSWER:
            self.fake.post_to_connection(ConnectionId=ConnectionId, Data=Data)
            raise _timeout(POST_TO_CONNECTION)
        if kind is not None:
            if kind == GONE:
                self.fake.closed.add(ConnectionId)
            status, code, message = _error(MANAGEMENT_API, kind)
            raise ClientError(_error_response(status, code, message), "PostToConnection")
        result: dict[str, Any] = self.fake.post_to_connection(ConnectionId=ConnectionId, Data=Data)
        return result


# -- one fresh environment --------------------------------------------------------------------------


@dataclass(frozen=True)
class Delivery:
    """How the platform's tries of one event ended."""

    tries: int
    errors: tuple[str, ...] = ()
    succeeded: bool = True  # the platform stopped because a try succeeded
    dead_lettered: bool = False


@dataclass
class Environment:
    session: Any  # the test's own session: its calls are neither recorded nor faulted
    resources: Any
    folder: Path
    plan: FaultPlan

    def client(self, service: str) -> Any:
        return self.session.client(service)

    @property
    def store(self) -> Any:
        from functions.core.store import TicketStore

        return TicketStore(self.resources.table, self.client("dynamodb"))

    def components(self, **clients: Any) -> Any:
        """The functions' composition root, as a cold container builds it."""
        from functions.core import wiring

        return wiring.build(wiring.Settings.from_env(), clients=clients or None)

    def use_config(self, path: Path) -> None:
        from functions.core.config import ENV_CONFIG_PATH

        os.environ[ENV_CONFIG_PATH] = str(path)

    def lambda_async(
        self, name: str, handler: Callable[..., Any], event: dict[str, Any], *, dlq_url: str
    ) -> Delivery:
        """SNS's asynchronous invoke: three tries, then the event goes to the DLQ."""
        from infra.local.invoker import AsyncInvoker

        errors: list[str] = []

        def tried(event: dict[str, Any], context: Any) -> Any:
            try:
                return self.plan.handler(handler)(event, context)
            except Exception as exc:
                errors.append(describe(exc))
                raise

        invoker = AsyncInvoker(
            name,
            tried,
            dlq_url=dlq_url,
            sqs_client=self.client("sqs"),
            max_attempts=ASYNC_TRIES,
            retry_delays=(0.0,),
            workers=1,
        )
        record = invoker.invoke(event)
        finished = record.done.wait(120)
        invoker.shutdown()
        if not finished:
            raise RuntimeError(f"{name} did not finish its tries in 120 s")
        return Delivery(
            tries=record.attempts,
            errors=tuple(errors),
            succeeded=record.error is None,
            dead_lettered=record.dead_lettered,
        )


def describe(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, ClientError):
        code = str(exc.response.get("Error", {}).get("Code"))
        return code if name in (code, "ClientError") else f"{name}: {code}"
    return name


def _forget_services() -> None:
    from functions.chat_ws import wiring as chat_wiring
    from functions.email_ingest import wiring as email_wiring
    from functions.sla_timer import wiring as sla_wiring
    from functions.social_dm import wiring as social_wiring
    from functions.survey import wiring as survey_wiring

    for module in (email_wiring, chat_wiring, social_wiring, sla_wiring, survey_wiring):
        module.use(None)


_models: Any = None


def _share_service_models(session: Any) -> None:
    """Give a new boto3 session the loader of the first one, whose service models are
    already parsed: a cold container reads them again (the cold-start bench measures
    that); hundreds of cells need not (it is most of a cell's time otherwise)."""
    global _models
    if _models is None:
        _models = session._loader
        return
    session._session.register_component("data_loader", _models)
    session._loader = _models


@contextmanager
def environment(plan: FaultPlan) -> Iterator[Environment]:
    """A new moto account with the shared stack, and the functions' clients faulted by
    `plan`. The process environment is restored afterwards."""
    import boto3
    from moto import mock_aws

    from functions.core import aws as aws_clients
    from infra.local import moto_patches
    from infra.local.resources import DEMO_CONFIG, create_shared_stack, verify_sender_domain

    saved = dict(os.environ)
    moto_patches.install()  # DynamoDB's atomicity, and transactions that do not copy the table
    try:
        for name in list(os.environ):
            if name.startswith(("AWS_ENDPOINT_URL", "HELPLINE_", "AWS_PROFILE")):
                del os.environ[name]
        os.environ.update(
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION=REGION,
            # botocore sends stream calls to <account>.streams-ddb..., which moto does not route
            AWS_ACCOUNT_ID_ENDPOINT_MODE="disabled",
            POWERTOOLS_METRICS_NAMESPACE="Helpline",
            POWERTOOLS_METRICS_DISABLED="true",
            POWERTOOLS_LOG_LEVEL="CRITICAL",
            POWERTOOLS_DEV="false",
        )
        with warnings.catch_warnings(), mock_aws():
            warnings.simplefilter("ignore")
            session = boto3.session.Session(region_name=REGION)
            _share_service_models(session)
            resources = create_shared_stack(session, stage="test")
            verify_sender_domain(session, "helpline.test")
            os.environ.update(resources.environment(config_path=DEMO_CONFIG))
            aws_clients.clear_session_hooks()
            aws_clients.reset_clients()
            aws_clients.add_session_hook(_share_service_models)
            aws_clients.add_session_hook(plan.install)
            _forget_services()
            with tempfile.TemporaryDirectory(prefix="helpline-faults-") as folder:
                yield Environment(session, resources, Path(folder), plan)
    finally:
        _forget_services()
        aws_clients.clear_session_hooks()
        aws_clients.reset_clients()
        os.environ.clear()
        os.environ.update(saved)


# -- what is there afterwards ---------------------------------------------------------------------


def table_items(env: Environment) -> list[dict[str, Any]]:
    from functions.core.store import deserialize

    client = env.client("dynamodb")
    items: list[dict[str, Any]] = []
    request: dict[str, Any] = {"TableName": env.resources.table, "ConsistentRead": True}
    for _ in range(1000):
        page = client.scan(**request)
        items += [deserialize(item) for item in page.get("Items", [])]
        if not page.get("LastEvaluatedKey"):
            return items
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    raise RuntimeError("the table scan did not end")


def queue_bodies(env: Environment, url: str) -> list[Any]:
    """Every message on a queue (left there: each cell's environment is thrown away)."""
    sqs = env.client("sqs")
    bodies: list[Any] = []
    for _ in range(100):
        messages = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0, VisibilityTimeout=600
        ).get("Messages", [])
        if not messages:
            return bodies
        bodies += [json.loads(m["Body"]) for m in messages]
    raise RuntimeError(f"queue {url} did not run dry")


def routing_messages(env: Environment) -> dict[str, list[dict[str, Any]]]:
    """The routing messages on every team's queue, by team."""
    return {
        team: queue_bodies(env, url)
        for team, url in env.resources.queue_urls.items()
        if team != "escalation"
    }


def sent_mail() -> list[Any]:
    """Everything SES (moto) sent, parsed, with `.destinations`."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends

    from tests.helpers import parse

    sent = []
    for raw in ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages:
        message = parse(raw.raw_data)
        message.destinations = raw.destinations
        sent.append(message)
    return sent


def _index_problems(env: Environment, item: dict[str, Any]) -> list[str]:
    """The ticket item's index attributes against what its own fields say, and the
    indexes themselves finding it."""
    from dataclasses import replace

    from functions.core import ticket_sla
    from functions.core.models import TicketStatus
    from functions.core.store import ticket_from_item, ticket_to_item

    problems = []
    ticket = ticket_from_item(item)
    recomputed = replace(ticket, escalations=list(ticket.escalations))
    ticket_sla.refresh_due(recomputed)
    if recomputed.sla_due != ticket.sla_due:
        problems.append(
            f"the SLA due index says {ticket.sla_due}, the ticket's clocks {recomputed.sla_due}"
        )
    expected = ticket_to_item(recomputed)
    for name in ("GSI1PK", "GSI1SK", "GSI2PK", "GSI2SK", "SlaShard", "SlaDue"):
        if item.get(name) != expected.get(name):
            problems.append(
                f"index attribute {name} is {item.get(name)!r}, not {expected.get(name)!r}"
            )
    store = env.store
    if ticket.id not in {t.id for t in store.customer_tickets(ticket.customer_id)}:
        problems.append("the customer's ticket list does not show the ticket")
    if ticket.id not in {t.id for t in store.list_tickets([TicketStatus(ticket.status)])}:
        problems.append(f"the {ticket.status.value} ticket list does not show the ticket")
    if store.get_customer(ticket.customer_id) is None:
        problems.append("the ticket's customer does not exist")
    return problems


def intake_problems(
    env: Environment,
    delivery: Delivery,
    *,
    channel: str,
    external_id: str,
    replies_sent: int,
    dead_letter: list[Any] | None,
) -> list[str]:
    """The invariants of one inbound customer message (email, chat, social)."""
    items = table_items(env)
    inbound = [
        i
        for i in items
        if i.get("type") == "message"
        and i.get("direction") == "inbound"
        and i.get("external_id") == external_id
    ]
    record = next((i for i in items if i["PK"] == f"MSGID#{channel}#{external_id}"), None)
    tickets = [i for i in items if i.get("type") == "ticket"]
    problems: list[str] = []
    if not delivery.succeeded:
        if not delivery.dead_lettered or not dead_letter:
            problems.append(
                f"lost: all {delivery.tries} tries failed and the event is in no dead-letter queue"
            )
        if len(inbound) > 1:
            problems.append(f"the customer's message is stored {len(inbound)} times")
        return problems
    if len(inbound) != 1:
        problems.append(f"the customer's message is stored {len(inbound)} times, not once")
    if record is None:
        problems.append("the message has no intake record (a redelivery would store it again)")
    elif inbound and (
        record.get("message_id") != inbound[0]["id"]
        or record.get("ticket_id") != inbound[0]["ticket_id"]
    ):
        problems.append("the intake record names another message or ticket")
    if len(tickets) != 1:
        problems.append(f"{len(tickets)} tickets for one message")
    if replies_sent > 1:
        problems.append(f"{replies_sent} automatic replies were sent, not at most one")
    if not inbound or not tickets:
        return problems
    ticket = next((t for t in tickets if t["id"] == inbound[0]["ticket_id"]), None)
    if ticket is None:
        return [*problems, "the message's ticket does not exist"]
    automatic = [
        i
        for i in items
        if i.get("type") == "message"
        and i["PK"] == ticket["PK"]
        and i.get("direction") == "outbound"
        and i.get("automatic")
    ]
    if len(automatic) > 1:
        problems.append(f"{len(automatic)} automatic replies are stored on the ticket")
    if any(m.get("delivery") == "sent" for m in automatic) and replies_sent == 0:
        problems.append("the automatic reply is recorded as sent but never went out")
    problems += _index_problems(env, ticket)
    if ticket.get("conversation_key"):
        pointer = next(
            (i for i in items if i["PK"] == f"CONV#{channel}#{ticket['conversation_key']}"), None
        )
        if pointer is None or pointer.get("ticket_id") != ticket["id"]:
            problems.append("the conversation does not point at the ticket")
    routed = {
        team: [b for b in bodies if b.get("message_id") == inbound[0]["id"]]
        for team, bodies in routing_messages(env).items()
    }
    copies = [b for bodies in routed.values() for b in bodies]
    if not copies:
        problems.append("no routing message for the new message")
    wrong_queue = sorted(
        team for team, bodies in routed.items() if bodies and team != ticket["queue"]
    )
    if wrong_queue:
        problems.append(f"routing messages on {wrong_queue}, the ticket is {ticket['queue']}'s")
    if any(b.get("ticket_id") != ticket["id"] or b.get("team") != ticket["queue"] for b in copies):
        problems.append("a routing message names another ticket or team")
    return problems


# -- the scenarios ------------------------------------------------------------------------------------


class Scenario:
    """One inbound event, handled through its function's entry point."""

    name = ""
    title = ""
    retry = ""  # how the platform retries, for the report

    def __init__(self, env: Environment) -> None:
        self.env = env

    def prepare(self) -> None:
        """What exists before the event (disarmed: nothing recorded or faulted)."""

    def invoke(self) -> Delivery:
        raise NotImplementedError

    def facts(self) -> dict[str, Any]:
        """What a clean run leads to, that a faulted run must match."""
        return {}

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        raise NotImplementedError

    def close(self) -> None:
        """Stop what prepare started."""


def _email_service(components: Any) -> Any:
    from functions.email_ingest import wiring as email_wiring
    from functions.email_ingest.service import EmailIngestService

    service = EmailIngestService(
        config=components.config, intake=components.intake, blobs=components.blobs
    )
    email_wiring.use(service)
    return service


def _mail_event(env: Environment, raw: bytes, received_at: datetime) -> dict[str, Any]:
    from infra.local import ses

    key = f"raw/{uuid.uuid4().hex}"
    env.client("s3").put_object(Bucket=env.resources.bucket, Key=key, Body=raw)
    notification = ses.receipt_notification(
        raw,
        bucket=env.resources.bucket,
        key=key,
        topic_arn=env.resources.inbound_topic_arn,
        envelope_from="bounce@example.com",
        recipients=("support@helpline.test",),
        received_at=received_at,
    )
    return ses.sns_event(notification, topic_arn=env.resources.inbound_topic_arn)


def _deliver_mail(env: Environment, raw: bytes, received_at: datetime) -> str:
    """A mail handled by email_ingest before the faulted event (set-up only)."""
    from functions.email_ingest.app import on_inbound_mail
    from infra.local import ses

    [outcome] = on_inbound_mail(_mail_event(env, raw, received_at), ses.LambdaContext("email"))
    return str(outcome["ticket_id"])


class EmailScenario(Scenario):
    name = "email"
    title = "Inbound email: a new mail in business hours becomes a ticket, routed and acknowledged"
    retry = "SNS invokes asynchronously: three tries, then the inbound-mail dead-letter queue"
    MESSAGE_ID = "fault-matrix-1@example.com"  # the dedupe key: the Message-ID, unbracketed
    CUSTOMER = "ana@example.com"

    def prepare(self) -> None:
        from tests.helpers import make_mail

        components = self.env.components()
        components.intake.clock = lambda: TUESDAY
        components.tickets.clock = lambda: TUESDAY
        _email_service(components)
        self.event = _mail_event(self.env, make_mail(message_id=f"<{self.MESSAGE_ID}>"), TUESDAY)

    def invoke(self) -> Delivery:
        from functions.email_ingest.app import on_inbound_mail

        return self.env.lambda_async(
            "email_ingest", on_inbound_mail, self.event, dlq_url=self.env.resources.mail_dlq_url
        )

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        replies = [
            m
            for m in sent_mail()
            if self.CUSTOMER in m.destinations and m["Auto-Submitted"] == "auto-replied"
        ]
        dead = queue_bodies(self.env, self.env.resources.mail_dlq_url)
        held = [body for body in dead if body == self.event]
        return intake_problems(
            self.env,
            delivery,
            channel="email",
            external_id=self.MESSAGE_ID,
            replies_sent=len(replies),
            dead_letter=held,
        )


class ChatScenario(Scenario):
    """A customer's first chat message, sent by the widget's protocol to `$default`."""

    name = "chat"
    title = "Chat: a customer's first message while an agent who speaks their language is online"
    retry = (
        "the widget resends a message it got no `ack` for, with the same client_id "
        "(reconnecting first when its connection is gone)"
    )
    after_hours = False
    CLIENT_ID = "c1"
    TEXT = "My invoice shows the wrong company name, can you correct it please?"

    def prepare(self) -> None:
        from functions.chat_ws import wiring as chat_wiring
        from infra.local.resources import create_demo_secrets
        from tests.functional.chat_harness import Clock, FakeManagementApi

        self.api = FakeManagementApi()
        components = self.env.components(
            apigatewaymanagementapi=self.env.plan.management_api(self.api)
        )
        create_demo_secrets(self.env.session, components.config)
        self.clock = Clock(SATURDAY if self.after_hours else TUESDAY)
        components.intake.clock = self.clock
        components.tickets.clock = self.clock
        self.components = components
        self.service = chat_wiring.build(components, ws_url="wss://chat.example/test")
        self.service.clock = self.clock
        chat_wiring.use(self.service)
        self.connections: list[str] = []
        self.agent_connection: str | None = None
        if not self.after_hours:
            self.agent_connection = self._connect(
                {"agent_token": self.service.agent_token("emma@helpline.test")}
            )
            self._frame(self.agent_connection, {"action": "status", "status": "online"})
        opened = self.service.open_session({"locale": "en-GB"})
        self.token, self.session_id = opened["token"], opened["session_id"]
        self._customer_connects()

    # -- API Gateway's WebSocket events ---------------------------------------------------------

    def _event(self, connection_id: str, route: str, body: str | None = None) -> dict[str, Any]:
        context = {
            "routeKey": route,
            "eventType": {"$connect": "CONNECT", "$disconnect": "DISCONNECT"}.get(route, "MESSAGE"),
            "stage": "test",
            "domainName": "chat.example",
            "connectionId": connection_id,
            "apiId": "faultapi",
            "requestId": uuid.uuid4().hex,
        }
        event: dict[str, Any] = {"requestContext": context, "isBase64Encoded": False}
        if route == "$default":
            context["messageId"] = uuid.uuid4().hex[:16]
            event["body"] = body
        return event

    def _connect(self, query: dict[str, str]) -> str:
        from functions.chat_ws.app import connect
        from infra.local.ses import LambdaContext

        connection_id = f"conn{uuid.uuid4().hex[:8]}="
        event = self._event(connection_id, "$connect")
        event["queryStringParameters"] = query
        answer = connect(event, LambdaContext("chat_ws"))
        if answer.get("statusCode") != 200:
            raise RuntimeError(f"$connect answered {answer}")
        return connection_id

    def _frame(self, connection_id: str, frame: dict[str, Any]) -> None:
        from functions.chat_ws.app import message
        from infra.local.ses import LambdaContext

        self.clock.advance(seconds=1)  # one action a second stays under the flood limit
        message(self._event(connection_id, "$default", json.dumps(frame)), LambdaContext("chat"))

    def _customer_connects(self) -> None:
        connection = self._connect({"token": self.token})
        self.connections.append(connection)
        self._frame(connection, {"action": "hello", "locale": "en-GB"})

    # -- the event -----------------------------------------------------------------------------------

    def _customer_frames(self) -> list[dict[str, Any]]:
        return [frame for c in self.connections for frame in self.api.frames[c]]

    def _acked(self) -> bool:
        return any(
            f["type"] == "ack" and f.get("client_id") == self.CLIENT_ID
            for f in self._customer_frames()
        )

    def invoke(self) -> Delivery:
        errors: list[str] = []
        frame = {"action": "message", "text": self.TEXT, "client_id": self.CLIENT_ID}
        for attempt in range(1, WIDGET_TRIES + 1):
            if attempt > 1 and self.connections[-1] in self.api.closed:
                self._customer_connects()  # the widget reconnects, then resends
            with self.env.plan.trying():
                try:
                    self._frame(self.connections[-1], frame)
                except Exception as exc:  # API Gateway answers an internal error
                    errors.append(describe(exc))
            if self._acked():
                return Delivery(attempt, tuple(errors))
        return Delivery(WIDGET_TRIES, tuple(errors), succeeded=False)

    def _automatic_pushes(self) -> int:
        frames = self._customer_frames()
        return sum(
            1
            for f in frames
            if f["type"] == "bot" or (f["type"] == "message" and f["message"].get("automatic"))
        )

    def facts(self) -> dict[str, Any]:
        session = self.components.chats.get_session(self.session_id)
        return {"state": session.state if session else None}

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        problems = intake_problems(
            self.env,
            delivery,
            channel="chat",
            external_id=f"{self.session_id}:{self.CLIENT_ID}",
            replies_sent=self._automatic_pushes(),
            dead_letter=None,
        )
        session = self.components.chats.get_session(self.session_id)
        record = self.env.store.get_intake("chat", f"{self.session_id}:{self.CLIENT_ID}")
        if session is None:
            return [*problems, "the chat session is gone"]
        if record is not None and session.ticket_id != record.ticket_id:
            problems.append(f"the chat session names ticket {session.ticket_id}, not the message's")
        if baseline and session.state != baseline["state"]:
            problems.append(
                f"the chat is {session.state!r}; a clean run leaves it {baseline['state']!r}"
            )
        if not self.after_hours:
            presence = self.components.chats.get_presence("emma@helpline.test")
            assigned = int(session.state == "assigned" and session.agent == "emma@helpline.test")
            if presence is not None and presence.active != assigned:
                problems.append(
                    f"the agent holds {presence.active} chat slots for {assigned} assigned chats"
                )
        return problems


class AfterHoursChatScenario(ChatScenario):
    name = "chat-after-hours"
    title = "Chat after hours: a customer's first message gets the after-hours reply"
    after_hours = True
    TEXT = "I would like a refund for my last invoice, it was charged twice."


class SocialScenario(Scenario):
    name = "social"
    title = "Social: a Messenger delivery becomes a ticket, routed and acknowledged on Messenger"
    retry = "Meta redelivers a webhook until it gets a 200"
    MID = "m_fault_matrix_1"
    SENDER = "3383290475046708"
    TEXT = "Hola, mi pedido llegó roto. ¿Qué puedo hacer ahora?"

    def prepare(self) -> None:
        import copy

        from chalice.config import Config
        from chalice.local import LocalGateway

        from functions.social_dm import app as social_app
        from functions.social_dm import wiring as social_wiring
        from infra.local.resources import (
            DEMO_CONFIG,
            config_with_fake_platforms,
            create_demo_secrets,
        )
        from tests.unit.channels.fake_platform import Answer, FakePlatform
        from tests.unit.channels.payloads import chatwoot, page_delivery

        event = copy.deepcopy(chatwoot("incoming_fb_text_message")["messaging"])
        event["sender"]["id"] = self.SENDER
        event["message"] = {"mid": self.MID, "text": self.TEXT}
        event["timestamp"] = int(TUESDAY.timestamp() * 1000)
        self.body = json.dumps(page_delivery(event)).encode()
        sent = {"recipient_id": self.SENDER, "message_id": "m_sent_by_us"}
        self.platform = FakePlatform(default=Answer(200, sent)).start()
        self.env.use_config(
            config_with_fake_platforms(DEMO_CONFIG, self.env.folder / "config", self.platform.url)
        )
        components = self.env.components()
        secrets = create_demo_secrets(self.env.session, components.config)
        self.app_secret = secrets["ssm:/helpline/dev/meta-app-secret"]
        components.intake.clock = lambda: TUESDAY
        components.tickets.clock = lambda: TUESDAY
        service = social_wiring.build(components)
        service.clock = lambda: TUESDAY
        social_wiring.use(service)
        self.gateway = LocalGateway(social_app.app, Config.create(chalice_app=social_app.app))

    def close(self) -> None:
        platform = getattr(self, "platform", None)
        if platform is not None:
            platform.close()

    def invoke(self) -> Delivery:
        import hashlib
        import hmac

        signature = hmac.new(self.app_secret.encode(), self.body, hashlib.sha256).hexdigest()
        errors: list[str] = []
        for attempt in range(1, WEBHOOK_TRIES + 1):
            with self.env.plan.trying():
                response = self.gateway.handle_request(
                    method="POST",
                    path="/webhooks/meta",
                    headers={
                        "content-type": "application/json",
                        "x-hub-signature-256": f"sha256={signature}",
                    },
                    body=self.body,
                )
            status = int(response["statusCode"])
            if status == 200:
                return Delivery(attempt, tuple(errors))
            errors.append(f"HTTP {status}")
        return Delivery(WEBHOOK_TRIES, tuple(errors), succeeded=False)

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        sends = [r for r in self.platform.requests if r.path.endswith("/me/messages")]
        return intake_problems(
            self.env,
            delivery,
            channel="messenger",
            external_id=self.MID,
            replies_sent=len(sends),
            dead_letter=None,
        )


def _scheduled_event() -> dict[str, Any]:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/every-minute"],
        "detail": {},
    }


class SlaScenario(Scenario):
    name = "sla"
    title = (
        "SLA pass: a Friday-evening ticket's first-response warning and breach, found by "
        "Monday's pass, escalated and published"
    )
    retry = "the schedule runs the pass again every minute (six more passes are run)"

    def prepare(self) -> None:
        from functions.sla_timer import wiring as sla_wiring
        from tests.functional.chat_harness import Clock
        from tests.helpers import make_mail

        self.clock = Clock(FRIDAY_EVENING)
        components = self.env.components()
        components.intake.clock = self.clock
        components.tickets.clock = self.clock
        _email_service(components)
        mail = make_mail(text=SPANISH, subject="Mi pedido", sender="Lucía <lucia@example.es>")
        self.ticket_id = _deliver_mail(self.env, mail, FRIDAY_EVENING)
        timer = sla_wiring.build(components)
        timer.clock = self.clock
        timer.metric = lambda name, **dimensions: None
        sla_wiring.use(timer)

    def invoke(self) -> Delivery:
        from functions.sla_timer.app import sla_pass
        from infra.local.ses import LambdaContext

        errors: list[str] = []
        for minute in range(SLA_PASSES):
            self.clock.now = SLA_PASS_AT + timedelta(minutes=minute)
            with self.env.plan.trying():
                try:
                    sla_pass(_scheduled_event(), LambdaContext("sla_timer"))
                except Exception as exc:  # the invocation fails; the next minute runs anyway
                    errors.append(describe(exc))
        return Delivery(SLA_PASSES, tuple(errors))

    def _recorded(self) -> list[Any]:
        bundle = self.env.store.ticket_bundle(self.ticket_id)
        return [e for e in bundle.events if e.type.startswith("sla_") and e.type != "sla_started"]

    def _notified(self, recorded: list[Any]) -> list[tuple[str, ...]]:
        """(crossing, recipient...) of every escalation mail sent."""
        kinds = {e.detail["escalation"]: e.type for e in recorded}
        return sorted(
            {
                (kinds.get(m["X-Helpline-Escalation"], "unrecorded"), *sorted(set(m.destinations)))
                for m in sent_mail()
                if m["X-Helpline-Escalation"]
            }
        )

    def facts(self) -> dict[str, Any]:
        recorded = self._recorded()
        return {
            "crossings": sorted((e.type, e.detail["target"]) for e in recorded),
            "notified": self._notified(recorded),
        }

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        recorded = self._recorded()
        by_id = Counter(e.detail["escalation"] for e in recorded)
        problems += [f"escalation {i} is recorded {n} times" for i, n in by_id.items() if n > 1]
        crossings = sorted((e.type, e.detail["target"]) for e in recorded)
        if baseline and crossings != baseline["crossings"]:
            problems.append(f"recorded {crossings}; a clean run records {baseline['crossings']}")
        published = Counter(
            b["escalation_id"]
            for b in queue_bodies(self.env, self.env.resources.queue_urls["escalation"])
        )
        kinds = {e.detail["escalation"]: e.type for e in recorded}
        for identifier in by_id:
            if not published[identifier]:
                problems.append(f"{kinds[identifier]} {identifier} was never published")
        notified = set(self._notified(recorded))
        for expected in baseline.get("notified", []):
            if tuple(expected) not in notified:
                problems.append(
                    f"the {expected[0]} mail to {', '.join(expected[1:])} was never sent"
                )
        ticket = self.env.store.get_ticket(self.ticket_id)
        if ticket is None:
            return [*problems, "the ticket is gone"]
        if ticket.escalations:
            problems.append(
                f"{len(ticket.escalations)} escalations still owed after {delivery.tries} passes"
            )
        item = next(
            i
            for i in table_items(self.env)
            if i["PK"] == f"TICKET#{self.ticket_id}" and i["SK"] == "TICKET"
        )
        problems += _index_problems(self.env, item)
        return problems


class SurveyScenario(Scenario):
    name = "survey"
    title = "Survey: a solved email ticket's stream record sends one CSAT mail"
    retry = (
        "the stream retries the batch from the failed record (three tries, then the "
        "stream's dead-letter queue); the minute schedule then sends what is due"
    )
    CUSTOMER = "ana@example.com"

    def prepare(self) -> None:
        from functions.survey import wiring as survey_wiring
        from infra.local.resources import (
            DEMO_CONFIG,
            config_with_fake_platforms,
            create_demo_secrets,
        )
        from infra.local.streams import StreamPoller
        from tests.functional.chat_harness import Clock
        from tests.helpers import make_mail

        self.env.use_config(
            config_with_fake_platforms(
                DEMO_CONFIG, self.env.folder / "config", "https://support.example"
            )
        )
        self.clock = Clock(TUESDAY)
        components = self.env.components()
        create_demo_secrets(self.env.session, components.config)
        components.intake.clock = self.clock
        components.tickets.clock = self.clock
        self.components = components
        service = survey_wiring.build(components)
        service.clock = self.clock
        survey_wiring.use(service)
        self.service = service
        _email_service(components)
        mail = make_mail(sender=f"Ana García <{self.CUSTOMER}>", text=SPANISH, subject="Mi pedido")
        self.ticket_id = _deliver_mail(self.env, mail, TUESDAY)
        self.clock.advance(minutes=20)
        components.tickets.reply(self.ticket_id, "Ya está en camino.", agent="lucia@helpline.test")
        self.poller = StreamPoller(
            streams_client=self.env.client("dynamodbstreams"),
            stream_arn=self.env.resources.table_stream_arn,
            handler=self._on_stream,
            sqs_client=self.env.client("sqs"),
            dlq_url=self.env.resources.stream_dlq_url,
            max_attempts=STREAM_TRIES,
            start_at="TRIM_HORIZON",
        )
        self.poller.open()
        self._armed = False
        self.errors: list[str] = []
        self._drain()  # the ticket's creation and first response, counted before the solve
        self.clock.advance(minutes=20)
        components.tickets.resolve(self.ticket_id, actor="lucia@helpline.test")

    def _on_stream(self, event: dict[str, Any], context: Any) -> Any:
        """The survey function's stream entry point; while armed each call is one try."""
        from functions.survey.app import on_ticket_change

        if not self._armed:
            return on_ticket_change(event, context)
        result = self.env.plan.handler(on_ticket_change)(event, context)
        if (result or {}).get("batchItemFailures"):
            self.errors.append("batchItemFailures")  # the record failed; the stream retries it
        return result

    def _drain(self) -> None:
        for _ in range(20):
            if not self.poller.poll_once():
                return
        raise RuntimeError("the table stream did not run dry")

    def invoke(self) -> Delivery:
        from functions.survey.app import send_due_surveys
        from infra.local.ses import LambdaContext

        self._armed = True
        self._drain()  # the solve's batch, tried until it passes or is dead-lettered
        self._armed = False
        self.clock.advance(minutes=1)
        with self.env.plan.trying():
            try:
                send_due_surveys(_scheduled_event(), LambdaContext("survey"))
            except Exception as exc:  # the next minute's schedule runs anyway
                self.errors.append(describe(exc))
        return Delivery(
            self.env.plan.tries, tuple(self.errors), dead_lettered=self.poller.dead_lettered > 0
        )

    def problems(self, delivery: Delivery, baseline: dict[str, Any]) -> list[str]:
        problems: list[str] = []
        surveys = [m for m in sent_mail() if m["X-Helpline-Survey"]]
        dead = queue_bodies(self.env, self.env.resources.stream_dlq_url)
        if len(surveys) > 1:
            problems.append(f"{len(surveys)} surveys were sent for one solve")
        ticket = self.env.store.get_ticket(self.ticket_id)
        customer_surveys = (
            self.service.surveys.customer_surveys(ticket.customer_id) if ticket else []
        )
        record = customer_surveys[0] if customer_surveys and not surveys else None
        if record is not None and record.state == "sent":
            problems.append("no survey went out and it is recorded as sent")
        elif not surveys and not dead and (record is None or record.state != "unconfirmed"):
            # an ambiguous send (a read timeout) is recorded unconfirmed and never resent
            problems.append("no survey was sent and the stream record is in no dead-letter queue")
        cells = self.service.surveys.cells("channel", "2026-11-01", "2026-12-31")
        solved = sum(cell.tickets_solved for cell in cells.values())
        if solved > 1 or (solved == 0 and not dead):
            problems.append(f"the solve is counted {solved} times in the report")
        bundle = self.env.store.ticket_bundle(self.ticket_id)
        sent_events = [e for e in bundle.events if e.type == "survey_sent"]
        if len(sent_events) > 1:
            problems.append(f"{len(sent_events)} survey_sent events for one solve")
        return problems


SCENARIOS: dict[str, type[Scenario]] = {
    s.name: s
    for s in (
        EmailScenario,
        ChatScenario,
        AfterHoursChatScenario,
        SocialScenario,
        SlaScenario,
        SurveyScenario,
    )
}


# -- running cells ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recording:
    """A clean run: the calls of its first try and what it led to."""

    scenario: str
    calls: tuple[Call, ...]
    facts: dict[str, Any] = field(default_factory=dict)
    made_by: dict[Call, str] = field(default_factory=dict)

    def find(self, operation: str, made_by: str) -> Call:
        """The first call of `operation` whose product code includes `made_by` (for the
        reproductions: robust to calls added or removed elsewhere in the sequence)."""
        for call in self.calls:
            if call.operation == operation and made_by in self.made_by.get(call, ""):
                return call
        raise LookupError(f"{self.scenario} makes no {operation} from {made_by}")

    def cells(self, kinds: tuple[str, ...] = KINDS) -> list[Fault]:
        return [
            Fault(call, kind) for call in self.calls for kind in kinds_for(call) if kind in kinds
        ]

    def sites(self) -> list[Fault]:
        """One cell per place in the code that calls AWS (operation and caller), the
        fault kinds taken in turn: every call site failed once, every kind used (the
        fast subset `make test` runs; the bench runs every position and kind)."""
        faults: list[Fault] = []
        seen: set[tuple[str, str]] = set()
        for call in self.calls:
            site = (call.operation, self.made_by.get(call, ""))
            if site in seen:
                continue
            seen.add(site)
            kinds = kinds_for(call)
            faults.append(Fault(call, kinds[len(faults) % len(kinds)]))
        return faults


@dataclass(frozen=True)
class CellResult:
    scenario: str
    fault: Fault | None
    problems: tuple[str, ...]
    tries: int
    errors: tuple[str, ...]
    dead_lettered: bool

    @property
    def passed(self) -> bool:
        return not self.problems

    def explain(self) -> str:
        where = f"{self.scenario}: {self.fault}" if self.fault else f"{self.scenario}: clean run"
        return (
            f"{where} -> {'; '.join(self.problems) or 'ok'} "
            f"(tries {self.tries}, errors {list(self.errors)}, dead-lettered {self.dead_lettered})"
        )


def run_cell(
    scenario: str, fault: Fault | None, baseline: dict[str, Any] | None = None
) -> CellResult:
    """One run of a scenario in a fresh environment, with `fault` (None: a clean run)."""
    result, _ = _run(scenario, fault, baseline)
    return result


def _run(
    scenario: str, fault: Fault | None, baseline: dict[str, Any] | None
) -> tuple[CellResult, Recording]:
    plan = FaultPlan(fault)
    with environment(plan) as env:
        driver = SCENARIOS[scenario](env)
        try:
            driver.prepare()
            delivery = driver.invoke()
            problems = driver.problems(delivery, baseline or {})
            facts = driver.facts()
        finally:
            driver.close()
    if fault is not None and not plan.fired:
        problems.insert(0, f"the fault never fired: {fault.call} was not made in the first try")
    calls = tuple(plan.first_try_calls())
    recording = Recording(scenario, calls, facts, {c: plan.made_by.get(c, "") for c in calls})
    result = CellResult(
        scenario, fault, tuple(problems), delivery.tries, delivery.errors, delivery.dead_lettered
    )
    return result, recording


def record(scenario: str) -> Recording:
    """The calls a clean run makes; raises if the clean run itself breaks an invariant."""
    result, recording = _run(scenario, None, None)
    if not result.passed:
        raise AssertionError(f"the clean run is not clean: {result.explain()}")
    return recording
