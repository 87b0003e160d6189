"""Recording survey answers: what every function that hears a customer's score needs.

A score arrives by a link (the survey function's pages), a tapped button or a typed
number on a messaging platform (social_dm's intake), or the chat widget's rating
(chat_ws). Each is recorded here, the same way: the response and its report counters
in one conditional write (a second click changes the score, the history is kept), an
event on the ticket, and a low score with a comment queued for a call-back. Sending
surveys and the stream that decides them stay in the survey function.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from functions.core import reports, surveys
from functions.core.errors import NotFoundError, RejectedInput
from functions.core.models import Channel, Ticket, TicketEvent
from functions.core.store import TicketStore
from functions.core.surveystore import SurveyRecord, SurveyStore
from functions.core.timeutil import Clock, utcnow

if TYPE_CHECKING:
    from functions.core.config import Config
    from functions.core.routing import RoutingPublisher

log = logging.getLogger("helpline.survey")


@dataclass(frozen=True, slots=True)
class Answer:
    survey: surveys.Survey
    response: surveys.Response
    changed: bool


class SurveyAnswers:
    def __init__(
        self,
        *,
        config: Config,
        store: TicketStore,
        surveys_store: SurveyStore,
        publisher: RoutingPublisher,
        clock: Clock = utcnow,
    ) -> None:
        self.config = config
        self.settings = config.surveys
        self.store = store
        self.surveys = surveys_store
        self.publisher = publisher
        self.clock = clock

    def answer(self, survey: surveys.Survey, raw_score: Any, *, via: str) -> Answer:
        score = surveys.parse_score(survey.kind, raw_score)
        now = self.clock()
        if survey.is_expired(now):
            raise RejectedInput("expired_token", "this survey has closed", status=410)
        for _ in range(5):
            previous = self.surveys.response(survey.id)
            response = (
                surveys.Response.first(survey.id, score, now)
                if previous is None
                else previous.with_score(score, now)
            )
            if previous is not None and response == previous:
                return Answer(survey, previous, changed=False)
            ticket = self.store.get_ticket(survey.ticket_id)
            written = self.surveys.put_response(
                response,
                survey,
                previous=previous,
                # the counters move in the same transaction as the answer
                day=reports.day_period(survey.sent_at),
                dimensions=self.dimensions(survey, ticket),
                delta=reports.response_delta(
                    survey.kind, score, previous.score if previous else None
                ),
            )
            if not written:
                continue  # another click got there first: read it again
            self.event(
                survey.ticket_id,
                "survey_answered",
                {
                    "kind": survey.kind,
                    "score": score,
                    "previous": previous.score if previous else None,
                    "via": via,
                },
                actor="customer",
            )
            return Answer(survey, response, changed=True)
        raise RuntimeError("the survey answer kept changing under us")

    def comment(self, survey: surveys.Survey, raw_score: Any, text: Any) -> Answer:
        comment = surveys.clean_comment(text, self.settings.comment_max_chars)
        answer = self.answer(survey, raw_score, via="comment form")
        if not comment:
            return answer
        now = self.clock()
        for _ in range(5):
            current = self.surveys.response(survey.id)
            if current is None:
                break
            updated = current.with_comment(comment, now)
            if not self.surveys.put_response(updated, survey, previous=current):
                continue
            self.event(
                survey.ticket_id,
                "survey_comment",
                {"kind": survey.kind, "comment": comment[:500]},
                actor="customer",
            )
            if (
                surveys.needs_follow_up(self.settings, survey.kind, updated.score, comment)
                and updated.followed_up_at is None
            ):
                # until it is marked done, a failed follow-up is queued again by the next
                # comment (the customer resending the form); consumers dedupe on message_id
                self._follow_up(survey, updated)
                done = replace(updated, followed_up_at=now)
                if self.surveys.put_response(done, survey, previous=updated):
                    updated = done
            return Answer(survey, updated, changed=True)
        return answer

    def _follow_up(self, survey: surveys.Survey, response: surveys.Response) -> None:
        """A low score with a comment: someone should call the customer back."""
        from functions.core.routing import routing_message

        ticket = self.store.get_ticket(survey.ticket_id)
        if ticket is None:
            return
        now = self.clock()
        found = self.store.get_customer(ticket.customer_id)
        self.publisher.publish(
            routing_message(
                event="low_score_follow_up",
                message_id=f"{survey.id}-follow-up",
                ticket_id=ticket.id,
                team=ticket.queue or self.config.routing.default_team,
                queue=ticket.queue or self.config.routing.default_team,
                priority=ticket.priority,
                language=ticket.language,
                channel=ticket.channel,
                subject=ticket.subject,
                preview=response.comment[:500],
                customer_id=ticket.customer_id,
                customer_name=found[0].name if found else "",
                status=ticket.status.value,
                at=now,
                tags=ticket.tags,
                after_hours=False,
            )
        )
        self.event(
            ticket.id,
            "low_score_follow_up",
            {"kind": survey.kind, "score": response.score, "comment": response.comment[:500]},
        )
        self.surveys.count(
            f"follow_up#{survey.id}",
            reports.day_period(survey.sent_at),
            self.dimensions(survey, ticket),
            reports.follow_up_delta(),
            now=now,
        )

    def answer_by_id(self, survey_id: str, score: int, via: str) -> None:
        """A survey button's answer that came in as a message (Messenger, WhatsApp...).
        A stale or unknown survey is logged, never an error for the delivery."""
        record = self.surveys.get(survey_id)
        if record is None:
            log.warning("an answer to unknown survey %s", survey_id)
            return
        try:
            self.answer(record.survey, score, via=via)
        except RejectedInput as exc:
            log.info("survey answer not recorded: %s", exc.reason)

    def open_survey_for(self, ticket: Ticket, channel: Channel, score: int) -> str | None:
        """The survey a score typed on `channel` answers: sent for this solve of the
        ticket on that channel, unexpired, with `score` on its scale, and not answered
        yet or answered with this very score (the platform redelivering the message, or
        the intake retrying after the score was recorded, must find the same survey);
        CSAT before NPS (asked together, CSAT comes first). None otherwise."""
        if ticket.solved_at is None:
            return None
        now = self.clock()
        for kind in ("csat", "nps"):
            if score not in surveys.SCORES[kind]:
                continue
            survey_id = surveys.survey_id(ticket.id, ticket.solved_at, kind)
            record = self.surveys.get(survey_id)
            if (
                record is not None
                and record.state in ("sent", "unconfirmed")
                and record.survey.channel is channel
                and not record.survey.is_expired(now)
            ):
                response = self.surveys.response(survey_id)
                if response is None or response.score == score:
                    return survey_id
        return None

    def record_chat_rating(
        self, ticket_id: str, score: int, comment: str, agent: str | None
    ) -> None:
        """A rating given in the chat widget is the chat's CSAT survey."""
        ticket = self.store.get_ticket(ticket_id)
        if ticket is None:
            raise NotFoundError(f"no ticket {ticket_id}")
        now = self.clock()
        survey = surveys.Survey(
            id=surveys.survey_id(ticket.id, ticket.created_at or now, "csat"),
            ticket_id=ticket.id,
            customer_id=ticket.customer_id,
            channel=Channel.CHAT,
            kind="csat",
            language=ticket.language or self.config.languages.default,
            team=ticket.queue,
            agent=agent,
            sent_at=now,
            expires_at=now + self.settings.link_ttl,
        )
        if self.surveys.create(SurveyRecord(survey, "sent", now, detail="chat widget")):
            self.surveys.count(
                f"sent#{survey.id}",
                reports.day_period(now),
                self.dimensions(survey, ticket),
                reports.survey_sent_delta("csat"),
                now=now,
            )
        stored = self.surveys.get(survey.id)
        survey = stored.survey if stored else survey
        self.answer(survey, score, via="chat widget")
        if comment:
            self.comment(survey, score, comment)

    def event(
        self, ticket_id: str, kind: str, detail: dict[str, Any], *, actor: str = "helpline"
    ) -> None:
        self.store.put_event(TicketEvent(ticket_id, self.clock(), kind, detail, actor=actor))

    def dimensions(self, survey: surveys.Survey, ticket: Ticket | None) -> dict[str, str]:
        none = reports.NO_VALUE
        return {
            "channel": survey.channel.value,
            "team": survey.team or none,
            "language": (ticket.language if ticket else None) or none,
            "agent": survey.agent or none,
        }
