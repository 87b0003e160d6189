"""65 typed_survey_answer: is this a score typed in answer to our survey?

Customers type the number instead of tapping a button ("9", "4/5", "5️⃣"), as the NPS
question invites, and X has no buttons in its DM API at all (its question goes out as a
list). A message that is only a score, on a solved ticket whose survey went out on this
channel, unexpired and unanswered (or answered with this same score: a redelivery),
answers that survey, as a tap would (filter 55): kept on the ticket, it does not reopen
it, wake a team or get an automatic reply. Anything longer is a message. It runs after
follow_up (60), which finds the ticket.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.models import Channel, TicketStatus
from functions.core.surveys import typed_score

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if ctx.findings.survey_answer or ctx.open_survey is None:
        return None
    if message.channel in (Channel.EMAIL, Channel.CHAT):  # links and the widget's rating
        return None
    score = typed_score(message.text)
    if score is None:
        return None
    ticket = ctx.findings.ticket
    if ticket is None and ctx.findings.previous_ticket:  # solved longer ago than reopening
        ticket = ctx.ticket(ctx.findings.previous_ticket)
    if ticket is None or ticket.status is not TicketStatus.SOLVED:
        return None
    survey_id = ctx.open_survey(ticket, message.channel, score)
    if survey_id is None:
        return None
    ctx.findings.ticket = ticket
    ctx.findings.previous_ticket = None
    ctx.findings.survey_answer = (survey_id, score)
    ctx.findings.auto_response = "survey answer"
    return None
