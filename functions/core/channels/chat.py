"""Live chat's outbound side: pushes through the API Gateway Management API.

`ChatPusher` posts one server frame to one connection: up to 128 KB of UTF-8, what
PostToConnection accepts (API Gateway cuts it into 32 KB WebSocket frames itself).
Anything bigger is refused here with `FrameTooLargeError` instead of a failing call.
A 410 (GoneException) means the connection is gone: its record is deleted and the push
is never retried. The Management API client is built lazily; its endpoint is the
WebSocket API's URL (`https://{api}.execute-api.{region}.amazonaws.com/{stage}`),
learnt from the first event's request context or given by the deployment, except when
AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI is set (the local stack), which an explicit
endpoint_url would override.

`ChatSender` is the chat channel's `Sender`: automatic replies (the after-hours reply)
and agent replies sent from anywhere (`helpline tickets reply`) reach the customer's
current connection, or, when the customer has left and gave an email address, their
inbox. `chat_message()` is the one shape every chat client sees a message in.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import ClientError

from functions.core.errors import DeliveryError
from functions.core.models import Channel, Direction, Message
from functions.core.timeutil import to_iso

if TYPE_CHECKING:
    from functions.core.chatstore import ChatStore
    from functions.core.store import TicketStore

log = logging.getLogger("helpline.chat")

# PostToConnection's limit for one server frame, in bytes of UTF-8 (a Cyrillic letter
# is 2, CJK 3, an emoji 4); API Gateway splits it into 32 KB WebSocket frames itself
MAX_PUSH_BYTES = 128 * 1024


class FrameTooLargeError(DeliveryError):
    """A frame over what PostToConnection accepts: refused before the call, and final
    (the same frame would be refused again), so a reply's delivery is recorded as
    failed with this reason."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"a {size}-byte frame is over the {MAX_PUSH_BYTES}-byte (128 KB) limit of a "
            "WebSocket push",
            permanent=True,
        )
        self.size = size


def conversation_key(session_id: str) -> str:
    return f"chat:{session_id}"


def session_of(conversation: str | None) -> str | None:
    if conversation and conversation.startswith("chat:"):
        return conversation[5:]
    return None


def cursor_of(message: Message) -> str:
    return f"{to_iso(message.created_at)}#{message.id}"


def chat_message(message: Message, *, agent_names: Mapping[str, str]) -> dict[str, Any]:
    """A stored message as chat clients see it (notes are never shown to customers:
    callers filter them with `customer_visible`)."""
    if message.direction is Direction.INBOUND:
        sender, name = "customer", ""
    elif message.kind == "bot":
        sender, name = "bot", ""
    elif message.automatic:
        sender, name = "helpline", ""
    elif message.direction is Direction.NOTE:
        sender, name = "note", agent_names.get(message.author, message.author.split("@")[0])
    else:
        sender, name = "agent", agent_names.get(message.author, message.author.split("@")[0])
    return {
        "id": message.id,
        "cursor": cursor_of(message),
        "at": to_iso(message.created_at),
        "from": sender,
        "name": name,
        "text": message.stripped_text if message.kind == "agent_reply" else message.text,
        "automatic": message.automatic,
    }


def customer_visible(message: Message) -> bool:
    return message.direction is not Direction.NOTE and message.kind not in (
        "bounce",
        "out_of_office",
        "auto_response",
    )


class ChatPusher:
    def __init__(
        self,
        *,
        endpoint_url: str | None = None,
        client_factory: Callable[[str | None], Any] | None = None,
        on_gone: Callable[[str], None] | None = None,
        learn_endpoint: bool = True,
    ) -> None:
        self.endpoint_url = endpoint_url
        # False when AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI decides the endpoint
        self.learn_endpoint = learn_endpoint
        self._client_factory = client_factory
        self._client: Any = None
        self._lock = threading.Lock()
        self.on_gone = on_gone

    def configure(self, endpoint_url: str) -> None:
        """Learn the endpoint from an event, as Chalice does, unless one was given."""
        with self._lock:
            if self.endpoint_url is None and self.learn_endpoint:
                self.endpoint_url = endpoint_url
                self._client = None

    @property
    def client(self) -> Any:
        with self._lock:
            if self._client is None:
                if self._client_factory is not None:
                    self._client = self._client_factory(self.endpoint_url)
                else:
                    import boto3

                    self._client = boto3.client(
                        "apigatewaymanagementapi", endpoint_url=self.endpoint_url
                    )
            return self._client

    def push(self, connection_id: str | None, frame: str) -> bool:
        """Send one frame; False when the connection is gone (and forgotten).

        Raises `FrameTooLargeError` for a frame API Gateway would refuse: chat_ws builds
        its frames within the limit (history is paged by bytes)."""
        if not connection_id:
            return False
        data = frame.encode("utf-8")
        if len(data) > MAX_PUSH_BYTES:
            raise FrameTooLargeError(len(data))
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                if self.on_gone is not None:
                    self.on_gone(connection_id)
                return False
            raise
        return True

    def push_quietly(self, connection_id: str | None, frame: str) -> bool:
        """For relays that must not fail the caller's stored work (typing, copies to the
        other side): a failure is logged, the stored ticket is the record."""
        try:
            return self.push(connection_id, frame)
        except Exception:
            log.warning("push to a chat connection failed", exc_info=True)
            return False


class ChatSender:
    """The chat channel's Sender for replies composed outside a live chat action."""

    channel = Channel.CHAT

    def __init__(
        self,
        *,
        store: TicketStore,
        chats: ChatStore,
        pusher: ChatPusher,
        agent_names: Mapping[str, str],
        email_fallback: Callable[[Message, str], str] | None = None,
    ) -> None:
        self.store = store
        self.chats = chats
        self.pusher = pusher
        self.agent_names = dict(agent_names)
        self.email_fallback = email_fallback

    def send(self, message: Message) -> str:
        import json

        ticket = self.store.get_ticket(message.ticket_id)
        session_id = session_of(ticket.conversation_key if ticket else None)
        session = self.chats.get_session(session_id) if session_id else None
        if session is None:
            raise DeliveryError("the chat session no longer exists", permanent=True)
        frame = json.dumps(
            {"type": "message", "message": chat_message(message, agent_names=self.agent_names)},
            ensure_ascii=False,
        )
        if session.connection_id and self.pusher.push(session.connection_id, frame):
            return message.id
        if session.contact_email and self.email_fallback is not None and not message.automatic:
            return self.email_fallback(message, session.contact_email)
        raise DeliveryError(
            "the customer has left the chat and gave no email address; the reply is kept "
            "on the ticket and shown if they come back",
            permanent=True,
        )
