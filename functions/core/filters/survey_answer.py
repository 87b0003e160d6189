"""55 survey_answer: is this a tap on one of our survey buttons?

Messenger, Instagram, WhatsApp and Telegram carry the button's payload back
(`survey:<survey id>:<score>`); a score typed instead is filter 65's. Such a message is
kept on the ticket (it is what the customer did), but it is an answer, not a request:
it does not reopen a solved ticket, wake a team or get an automatic reply. The commit
step records the score.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.models import Channel
from functions.core.surveys import is_survey_id

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop

PREFIX = "survey:"


def answer_in(payload: str) -> tuple[str, int] | None:
    if not payload.startswith(PREFIX):
        return None
    survey_id, _, score = payload[len(PREFIX) :].partition(":")
    if not is_survey_id(survey_id) or not score.isdigit() or len(score) > 2:
        return None
    return survey_id, int(score)


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if message.channel in (Channel.EMAIL, Channel.CHAT):
        return None
    for name, value in message.extra:
        if name in ("quick_reply_payload", "postback_payload"):
            found = answer_in(value)
            if found is not None:
                ctx.findings.survey_answer = found
                ctx.findings.auto_response = "survey answer"
                return None
    return None
