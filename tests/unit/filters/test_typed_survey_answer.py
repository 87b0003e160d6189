"""A score typed in answer to a survey (filter 65) instead of a tapped button."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from functions.core.filters import typed_survey_answer
from functions.core.models import Channel, Identity, Ticket, TicketStatus
from functions.core.surveys import typed_score

if TYPE_CHECKING:
    from functions.core.pipeline import Context

    from .conftest import MakeContext, MakeMessage

SURVEY = "S0000000000000042"


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("9", 9),
        (" 4/5 ", 4),
        ("9 / 10", 9),
        ("4 out of 5", 4),
        ("10!", 10),
        ("0", 0),
        ("٥", 5),  # Arabic-Indic digits, as an Arabic keyboard types them
        ("５", 5),  # full width, from a Japanese keyboard
        ("4\ufe0f\u20e3", 4),  # the keycap emoji
        ("🔟", 10),
        ("⭐⭐⭐⭐", 4),
        ("I waited 9 days", None),
        ("5 stars, thank you so much for the quick help", None),
        ("100", None),
        ("⭐⭐⭐⭐⭐⭐", None),
        ("", None),
    ],
)
def test_a_typed_score_is_a_whole_message_that_is_a_score(text: str, score: int | None) -> None:
    assert typed_score(text) == score


def _solved(status: TicketStatus = TicketStatus.SOLVED) -> Ticket:
    return Ticket(
        id="K7Q2M4XD01",
        channel=Channel.TELEGRAM,
        subject="Parcel",
        customer_id="C0000000000AA",
        status=status,
        priority="normal",
        language="en",
        queue="english",
        created_at=datetime(2025, 11, 20, 9, 0, tzinfo=UTC),
        solved_at=datetime(2025, 11, 24, 9, 0, tzinfo=UTC),
    )


def _typed(
    make_message: MakeMessage, make_context: MakeContext, text: str, ticket: Ticket | None
) -> tuple[Context, list[tuple[str, Channel, int]]]:
    asked: list[tuple[str, Channel, int]] = []

    def open_survey(found: Ticket, channel: Channel, score: int) -> str | None:
        asked.append((found.id, channel, score))
        return SURVEY if score in range(1, 6) else None  # a CSAT survey is waiting

    message = make_message(
        channel=Channel.TELEGRAM,
        external_id="telegram:77",
        sender=Identity(Channel.TELEGRAM, "5550001"),
        subject="",
        text=text,
        conversation_key="5550001",
    )
    ctx = make_context(message)
    ctx.open_survey = open_survey
    ctx.findings.ticket = ticket
    typed_survey_answer.run(ctx)
    return ctx, asked


def test_a_typed_score_on_a_solved_ticket_answers_its_survey(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx, asked = _typed(make_message, make_context, "4", _solved())
    assert asked == [("K7Q2M4XD01", Channel.TELEGRAM, 4)]
    assert ctx.findings.survey_answer == (SURVEY, 4)
    assert ctx.findings.auto_response == "survey answer"  # no reopen, no reply


@pytest.mark.parametrize(
    ("text", "ticket"),
    [
        ("I waited 9 days", _solved()),  # a message, not a score
        ("4", _solved(TicketStatus.OPEN)),  # an open ticket asked nothing
        ("4", None),  # no ticket: a new conversation
        ("9", _solved()),  # off the waiting survey's scale
    ],
)
def test_anything_else_stays_a_message(
    make_message: MakeMessage, make_context: MakeContext, text: str, ticket: Ticket | None
) -> None:
    ctx, _ = _typed(make_message, make_context, text, ticket)
    assert ctx.findings.survey_answer is None and ctx.findings.auto_response is None
