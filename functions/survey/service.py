"""survey: CSAT/NPS after a ticket is solved, the answer links, and the report counters.

Triggered by the ticket table's stream. Each ticket change is read from its stream
record's images (the deployed event filter passes only what matters; the handler
checks the transition itself too, because the local stack and moto apply no filters):

- a new ticket, its first response and each solve add to the report counters, once per
  event (a retried record finds its claim and adds nothing);
- the transition into solved decides the survey (surveys.decide_survey) and either
  schedules it (`send_at` after the configured delay, in a sparse due index that the
  minute schedule reads) or sends it now.

A survey is created under a stable id with a condition, and moved scheduled -> sending
-> sent with conditions, so a retried record or two overlapping schedules never send
a second one. It goes out on the ticket's channel: email with one-click score links;
Messenger, Instagram, Telegram and X as a question with buttons (WhatsApp only inside
its 24 h window); chat customers rate in the widget when the chat ends, so chat
tickets get an email survey only when the customer left an address and did not rate.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer

from functions.core import ids, reports, surveys
from functions.core.blobs import BlobStore, ObjectRef
from functions.core.errors import (
    DeliveryError,
    RejectedInput,
    UnconfirmedSend,
    maybe_sent,
)
from functions.core.models import Channel, DeliveryStatus, Direction, Message, Ticket
from functions.core.store import TicketStore, ticket_from_item
from functions.core.survey_answers import Answer, SurveyAnswers
from functions.core.surveystore import SurveyRecord, SurveyStore
from functions.core.timeutil import Clock, utcnow

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.pipeline import Sender
    from functions.core.replies import TemplateRenderer
    from functions.core.routing import RoutingPublisher

log = logging.getLogger("helpline.survey")

_deserializer = TypeDeserializer()
MESSAGING = (Channel.MESSENGER, Channel.INSTAGRAM, Channel.WHATSAPP, Channel.TELEGRAM, Channel.X)
PAYLOAD_PREFIX = "survey:"


def _image(record: Mapping[str, Any], which: str) -> dict[str, Any] | None:
    raw = (record.get("dynamodb") or {}).get(which)
    if not raw:
        return None
    from functions.core.store import _from_attr

    return {k: _from_attr(_deserializer.deserialize(v)) for k, v in raw.items()}


def answer_payload(survey_id: str, score: int) -> str:
    """What a button carries back: `survey:<id>:<score>`."""
    return f"{PAYLOAD_PREFIX}{survey_id}:{score}"


class SurveyService:
    def __init__(
        self,
        *,
        config: Config,
        store: TicketStore,
        surveys_store: SurveyStore,
        senders: Mapping[Channel, Sender],
        renderer: TemplateRenderer,
        publisher: RoutingPublisher,
        secret: Any,  # () -> bytes, the token secret
        clock: Clock = utcnow,
        blobs: BlobStore | None = None,
        public_url: Callable[[], str] | None = None,
    ) -> None:
        self.blobs = blobs  # removes the stored files of messages the TTL expired
        self.config = config
        self.settings = config.surveys
        self._public_url = public_url
        self.store = store
        self.surveys = surveys_store
        self.senders = dict(senders)
        self.renderer = renderer
        self.publisher = publisher
        self.secret = secret
        self.clock = clock
        self.answers = SurveyAnswers(
            config=config,
            store=store,
            surveys_store=surveys_store,
            publisher=publisher,
            clock=clock,
        )

    @property
    def base_url(self) -> str:
        """Where survey links go: surveys.base_url, else this function's own API as
        deployed (the address its stack keeps in SSM)."""
        if self.settings.base_url:
            return self.settings.base_url
        return self._public_url() if self._public_url is not None else ""

    # -- the stream ---------------------------------------------------------------------------

    def on_record(self, record: Mapping[str, Any]) -> str:
        """One stream record of the ticket table; what it did, for the log."""
        new = _image(record, "NewImage")
        old = _image(record, "OldImage")
        if record.get("eventName") == "REMOVE" and old and old.get("type") == "message":
            return self._remove_files(old)
        if not new or new.get("type") != "ticket":
            return "not a ticket"
        ticket = ticket_from_item(new)
        before = ticket_from_item(old) if old and old.get("type") == "ticket" else None
        done = []
        if before is None and record.get("eventName") == "INSERT":
            self._count_created(ticket)
            done.append("counted created")
        if ticket.first_response_at and (before is None or before.first_response_at is None):
            self._count_first_response(ticket)
            done.append("counted first response")
        solved_now = ticket.status.value in ("solved", "closed") and ticket.solved_at is not None
        solved_before = before is not None and before.status.value in ("solved", "closed")
        if solved_now and not solved_before:
            self._count_solved(ticket)
            done.append("counted solved")
            if ticket.status.value == "solved":
                done.append(self.schedule(ticket))
        return ", ".join(done) or "nothing to do"

    def _remove_files(self, message: Mapping[str, Any]) -> str:
        """A message left the table (its retention TTL, an erasure): its attachments and
        a body kept outside the item go with it."""
        if self.blobs is None:
            return "message removed"
        keys = [
            a["key"]
            for a in message.get("attachments") or []
            if isinstance(a, dict) and a.get("key")
        ]
        if message.get("body_ref"):
            keys.append(str(message["body_ref"]))
        for key in keys:
            self.blobs.delete(ObjectRef(self.blobs.bucket, key))
        return f"message removed with {len(keys)} stored files"

    def _dimensions(self, ticket: Ticket) -> dict[str, str]:
        none = reports.NO_VALUE
        return {
            "channel": ticket.channel.value,
            "team": ticket.queue or none,
            "language": ticket.language or none,
            "agent": ticket.agent or none,
        }

    def _count_created(self, ticket: Ticket) -> None:
        assert ticket.created_at is not None
        dims = self._dimensions(ticket)
        dims["agent"] = reports.NO_VALUE  # nobody has answered a brand-new ticket
        self.surveys.count(
            f"created#{ticket.id}",
            reports.day_period(ticket.created_at),
            dims,
            reports.ticket_created_delta(is_chat=ticket.channel is Channel.CHAT),
            now=self.clock(),
        )

    def _business_seconds(self, ticket: Ticket, start: datetime, end: datetime) -> float:
        team = ticket.queue or ""
        calendar = self.config.calendar_for_team(
            team if team in self.config.teams else self.config.routing.default_team
        )
        return calendar.business_time_between(start, end).total_seconds()

    def _count_first_response(self, ticket: Ticket) -> None:
        assert ticket.created_at is not None and ticket.first_response_at is not None
        self.surveys.count(
            f"first_response#{ticket.id}",
            reports.day_period(ticket.first_response_at),
            self._dimensions(ticket),
            reports.first_response_delta(
                calendar_seconds=(ticket.first_response_at - ticket.created_at).total_seconds(),
                business_seconds=self._business_seconds(
                    ticket, ticket.created_at, ticket.first_response_at
                ),
            ),
            now=self.clock(),
        )

    def _count_solved(self, ticket: Ticket) -> None:
        assert ticket.created_at is not None and ticket.solved_at is not None
        self.surveys.count(
            f"solved#{ticket.id}#{ticket.solved_at.isoformat()}",  # each solve counts
            reports.day_period(ticket.solved_at),
            self._dimensions(ticket),
            reports.solved_delta(
                calendar_seconds=(ticket.solved_at - ticket.created_at).total_seconds(),
                business_seconds=self._business_seconds(
                    ticket, ticket.created_at, ticket.solved_at
                ),
            ),
            now=self.clock(),
        )

    # -- deciding and scheduling ------------------------------------------------------------------

    def _facts(self, ticket: Ticket) -> surveys.SurveyFacts:
        assert ticket.solved_at is not None
        bundle = self.store.ticket_bundle(ticket.id)
        messages = bundle.messages if bundle else []
        inbound = [m for m in messages if m.direction is Direction.INBOUND]
        found = self.store.get_customer(ticket.customer_id)
        customer = found[0] if found else None
        last_survey, last_nps = self.surveys.last_surveyed(ticket.customer_id)
        reopened = any(
            e.type == "reopened" and e.at > ticket.solved_at
            for e in (bundle.events if bundle else [])
        )
        undeliverable = bool(
            customer
            and ticket.channel is Channel.EMAIL
            and any(m.sender and f"email:{m.sender}" in customer.undeliverable for m in inbound)
        )
        whatsapp_last = max((m.created_at for m in inbound), default=None)
        return surveys.SurveyFacts(
            ticket_id=ticket.id,
            channel=ticket.channel,
            status=ticket.status,
            solved_at=ticket.solved_at,
            solved_by="automatic" if (ticket.solved_by or "helpline") == "helpline" else "agent",
            reopened_since_solved=reopened,
            customer_undeliverable=undeliverable,
            customer_is_auto_responder=bool(inbound) and all(m.automatic for m in inbound),
            last_survey_at=last_survey,
            last_nps_at=last_nps,
            whatsapp_last_inbound_at=whatsapp_last if ticket.channel is Channel.WHATSAPP else None,
        )

    def schedule(self, ticket: Ticket) -> str:
        now = self.clock()
        decision = surveys.decide_survey(self.settings, self._facts(ticket), now=now)
        if not decision.send:
            self.answers.event(ticket.id, "survey_skipped", {"reason": decision.reason})
            return f"no survey: {decision.reason}"
        results = []
        for kind in decision.kinds:
            survey = self._survey(ticket, kind, decision.send_at)
            record = SurveyRecord(survey, "scheduled", decision.send_at)
            if not self.surveys.create(record):
                existing = self.surveys.get(survey.id)
                if existing is not None and existing.state == "scheduled" and decision.is_due(now):
                    results.append(self.send(survey.id))  # a retry after a failed send
                else:
                    results.append(f"{kind} already exists")
                continue
            if decision.is_due(now):
                results.append(self.send(survey.id))
            else:
                self.answers.event(
                    ticket.id,
                    "survey_scheduled",
                    {"kind": kind, "send_at": decision.send_at.isoformat()},
                )
                results.append(f"{kind} scheduled for {decision.send_at.isoformat()}")
        return "; ".join(results)

    def _survey(self, ticket: Ticket, kind: str, send_at: datetime) -> surveys.Survey:
        assert ticket.solved_at is not None
        return surveys.Survey(
            id=surveys.survey_id(ticket.id, ticket.solved_at, kind),  # type: ignore[arg-type]
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            channel=ticket.channel,
            kind=kind,  # type: ignore[arg-type]
            language=ticket.language or self.config.languages.default,
            team=ticket.queue,
            agent=ticket.agent or (ticket.solved_by if ticket.solved_by != "helpline" else None),
            sent_at=send_at,
            expires_at=send_at + self.settings.link_ttl,
        )

    def send_due(self) -> dict[str, int]:
        """The minute schedule: send the surveys whose delay is over, if still wanted."""
        now = self.clock()
        done = {"sent": 0, "skipped": 0, "failed": 0}
        for record in self.surveys.due(now):
            result = self.send(record.survey.id, recheck=True)
            key = (
                "sent" if result.endswith("sent") else "failed" if "failed" in result else "skipped"
            )
            done[key] += 1
        return done

    # -- sending ----------------------------------------------------------------------------------

    def send(self, survey_id: str, *, recheck: bool = False) -> str:
        record = self.surveys.get(survey_id)
        if record is None or record.state != "scheduled":
            return "not scheduled"
        survey = record.survey
        ticket = self.store.get_ticket(survey.ticket_id)
        if ticket is None:
            return self._finish(record, "skipped", "the ticket no longer exists")
        if recheck and (
            ticket.solved_at is None or ticket.status.value not in ("solved", "closed")
        ):
            reason = "The ticket was reopened before the survey went out."
            self.answers.event(ticket.id, "survey_skipped", {"kind": survey.kind, "reason": reason})
            return self._finish(record, "skipped", reason)
        if recheck:
            decision = surveys.decide_survey(self.settings, self._facts(ticket), now=self.clock())
            if not decision.send:
                self.answers.event(
                    ticket.id, "survey_skipped", {"kind": survey.kind, "reason": decision.reason}
                )
                return self._finish(record, "skipped", decision.reason)
        now = self.clock()
        sending = SurveyRecord(
            replace(survey, sent_at=now, expires_at=now + self.settings.link_ttl),
            "sending",
            record.send_at,
        )
        if not self._claim(record, sending):
            return "another run is sending it"
        state = "sent"
        try:
            detail = self._deliver(ticket, sending.survey)
        except DeliveryError as exc:
            self.answers.event(
                ticket.id, "survey_failed", {"kind": survey.kind, "reason": exc.reason}
            )
            if exc.permanent:
                return self._finish(sending, "failed", exc.reason, from_state="sending")
            self._give_back(sending)
            raise
        except UnconfirmedSend as exc:
            # it may have gone out (most such timeouts did): counted as sent, never resent
            state, detail = "unconfirmed", f"unconfirmed: {exc}"
        except Exception:
            self._give_back(sending)
            raise
        if detail.startswith("skipped:"):
            self.answers.event(
                ticket.id, "survey_skipped", {"kind": survey.kind, "reason": detail[8:].strip()}
            )
            return self._finish(sending, "skipped", detail[8:].strip(), from_state="sending")
        self.surveys.mark_surveyed(survey.customer_id, kind=survey.kind, at=now)
        self.surveys.count(
            f"sent#{survey.id}",
            reports.day_period(now),
            self.answers.dimensions(sending.survey, ticket),
            reports.survey_sent_delta(survey.kind),
            now=now,
        )
        self.answers.event(
            ticket.id,
            f"survey_{state}",
            {"kind": survey.kind, "survey": survey.id, "via": detail},
        )
        return self._finish(sending, state, detail, from_state="sending")

    def _claim(self, record: SurveyRecord, sending: SurveyRecord) -> bool:
        """Move scheduled -> sending; when the answer is lost, read back whether it landed
        (a stranded 'sending' survey would never be sent)."""
        try:
            return self.surveys.move(record, from_state="scheduled", to=sending)
        except Exception as exc:
            if not maybe_sent(exc):
                raise
            current = self.surveys.get(record.survey.id)
            if current is None or current.state != "sending":
                raise
            return current.survey.sent_at == sending.survey.sent_at

    def _give_back(self, sending: SurveyRecord) -> None:
        """The send did not happen: schedule it again, so the retried stream record or the
        next minute's schedule sends it (never two of them: the move is conditional)."""
        self.surveys.move(sending, from_state="sending", to=replace(sending, state="scheduled"))

    def _finish(
        self, record: SurveyRecord, state: str, detail: str, *, from_state: str = "scheduled"
    ) -> str:
        self.surveys.move(
            record, from_state=from_state, to=replace(record, state=state, detail=detail[:300])
        )
        return f"{record.survey.kind} {state}"

    def _token(self, survey: surveys.Survey) -> str:
        return surveys.survey_token(survey, secret=self.secret(), now=self.clock())

    def _choices(self, kind: str, locale: str) -> tuple[surveys.Choice, ...]:
        rendered = self.renderer.render("survey", f"{kind}_choices", locale, self._brand())
        return surveys.parse_choices(kind, rendered.text)

    def _brand(self) -> dict[str, Any]:
        brand = self.config.brand
        return {
            "brand": {
                "name": brand.name,
                "support_address": brand.support_address,
                "website": brand.website,
            }
        }

    def _deliver(self, ticket: Ticket, survey: surveys.Survey) -> str:
        if ticket.channel is Channel.CHAT:
            return self._deliver_chat(ticket, survey)
        if ticket.channel is Channel.EMAIL:
            address = self._customer_address(ticket)
            if address is None:
                return "skipped: the customer has no email address"
            return self._email(ticket, survey, address)
        if ticket.channel in MESSAGING:
            return self._message(ticket, survey)
        return "skipped: no way to ask on this channel"

    def _customer_address(self, ticket: Ticket) -> str | None:
        bundle = self.store.ticket_bundle(ticket.id)
        for message in reversed(bundle.messages if bundle else []):
            if (
                message.direction is Direction.INBOUND
                and message.kind == "message"
                and "@" in message.sender
            ):
                return message.sender
        found = self.store.get_customer(ticket.customer_id)
        identity = found[0].identity("email") if found else None
        return identity.value if identity else None

    def _deliver_chat(self, ticket: Ticket, survey: surveys.Survey) -> str:
        from functions.core.channels.chat import session_of
        from functions.core.chatstore import ChatStore

        bundle = self.store.ticket_bundle(ticket.id)
        if bundle and any(e.type == "chat_rated" for e in bundle.events):
            return "skipped: the customer rated the chat in the widget"
        session_id = session_of(ticket.conversation_key)
        chats = ChatStore(self.store.table_name, self.store.client)
        session = chats.get_session(session_id) if session_id else None
        # only an address the visitor proved (the transcript's code): a survey quotes the
        # chat's first words, and anyone can type any address into a chat
        if session is None or not session.verified_email:
            return "skipped: asked in the widget when the chat ended; no verified address"
        return self._email(ticket, survey, session.verified_email)

    def _email(self, ticket: Ticket, survey: surveys.Survey, address: str) -> str:
        from functions.core.channels.email import outbound_message_id

        sender = self.senders.get(Channel.EMAIL)
        if sender is None:
            raise DeliveryError("email is not configured", permanent=True)
        if not self.store.reserve_automatic_mail(
            self.clock(), per_hour=self.config.email.automatic_per_hour
        ):
            # the account-wide cap on automatic mail (an alarm says it was reached)
            return "skipped: the hourly cap on automatic mail was reached"
        if not self.base_url:
            raise DeliveryError(
                "no address for survey links: set surveys.base_url, or deploy the survey "
                "function with its template (which gives it HELPLINE_PUBLIC_URL)",
                permanent=True,
            )
        token = self._token(survey)
        choices = self._choices(survey.kind, survey.language)
        found = self.store.get_customer(ticket.customer_id)
        rendered = self.renderer.render(
            "survey",
            survey.kind,
            survey.language,
            {
                **self._brand(),
                "links": surveys.survey_links(self.base_url, token, choices),
                "comment_url": surveys.survey_url(self.base_url, token),
                "customer_name": found[0].name if found else "",
                "ticket_id": ticket.id,
                "ticket_token": ticket.token,
                "subject": ticket.subject,
            },
        )
        brand = self.config.brand
        subject = (
            rendered.subject
            if ticket.token in rendered.subject
            else f"{rendered.subject} {ticket.token}"
        )
        message_id = ids.new_message_id()
        mail = Message(
            id=message_id,
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=Channel.EMAIL,
            created_at=self.clock(),
            automatic=True,
            author="helpline",
            sender=ticket.account if "@" in (ticket.account or "") else brand.support_address,
            recipients=[address],
            subject=subject,
            text=rendered.text,
            html=rendered.html,
            language=rendered.locale,
            external_id=outbound_message_id(ticket.id, message_id, brand.message_id_domain),
            headers={
                "Auto-Submitted": "auto-generated",
                "X-Auto-Response-Suppress": "All",
                "Content-Language": rendered.locale,
                "X-Helpline-Survey": survey.id,
            },
            kind=f"survey_{survey.kind}",
            delivery=DeliveryStatus.PENDING,
        )
        _send_once(sender.send, mail)
        return "email"

    def _message(self, ticket: Ticket, survey: surveys.Survey) -> str:
        from functions.core.channels import windows

        sender = self.senders.get(ticket.channel)
        if sender is None or not hasattr(sender, "send_choices"):  # every platform sender has it
            return f"skipped: {ticket.channel.value} is not configured for sending"
        last_inbound = ticket.last_inbound_at
        window = windows.decide(
            ticket.channel,
            last_inbound_at=last_inbound,
            now=self.clock(),
            human=False,
            whatsapp_template=None,
        )
        if not window.allowed:
            return f"skipped: {window.reason}"
        found = self.store.get_customer(ticket.customer_id)
        question = self.renderer.render(
            "survey",
            f"{survey.kind}_question",
            survey.language,
            {
                **self._brand(),
                "customer_name": found[0].name if found else "",
                "ticket_id": ticket.id,
                "ticket_token": ticket.token,
                "subject": ticket.subject,
            },
        )
        choices = self._choices(survey.kind, survey.language)
        bundle = self.store.ticket_bundle(ticket.id)
        recipient = next(
            (
                m.sender
                for m in reversed(bundle.messages if bundle else [])
                if m.direction is Direction.INBOUND
            ),
            None,
        )
        if recipient is None:
            return "skipped: no customer message to answer"
        message = Message(
            id=ids.new_message_id(),
            ticket_id=ticket.id,
            direction=Direction.OUTBOUND,
            channel=ticket.channel,
            created_at=self.clock(),
            automatic=True,
            author="helpline",
            sender=ticket.account,
            recipients=[recipient],
            text=question.text.strip(),
            language=question.locale,
            headers={**window.headers, "choices_button": question.subject[:20]},
            kind=f"survey_{survey.kind}",
            delivery=DeliveryStatus.PENDING,
        )
        buttons = [(answer_payload(survey.id, c.score), c.label) for c in choices]
        _send_once(sender.send_choices, message, buttons)
        return ticket.channel.value

    # -- answers ------------------------------------------------------------------------------------

    def read_link(self, token: str) -> surveys.Survey:
        """The survey a link names; RejectedInput (bad/expired token, unknown survey)."""
        survey_id = surveys.read_survey_token(token, secret=self.secret(), now=self.clock())
        record = self.surveys.get(survey_id)
        if record is None:
            raise RejectedInput("bad_token", "this survey does not exist", status=404)
        return record.survey

    def answer(self, survey: surveys.Survey, raw_score: Any, *, via: str) -> Answer:
        return self.answers.answer(survey, raw_score, via=via)

    def comment(self, survey: surveys.Survey, raw_score: Any, text: Any) -> Answer:
        return self.answers.comment(survey, raw_score, text)


def _send_once(send: Callable[..., Any], *args: Any) -> None:
    """Send; a failure that may have delivered anyway becomes UnconfirmedSend."""
    try:
        send(*args)
    except Exception as exc:
        if maybe_sent(exc):
            raise UnconfirmedSend(type(exc).__name__) from exc
        raise


def records_of(event: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    return event.get("Records") or []
