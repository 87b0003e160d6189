"""80 language: what language the customer wrote in.

Detected on the quote- and signature-stripped text, so a Spanish reply above an English
quote is Spanish. Hints when the text is short or unsure: the platform or widget
locale, Content-Language, the ticket's language on a follow-up, the customer's last
language. A follow-up keeps its ticket's language unless the text clearly says otherwise.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from functions.core.language import Detection
from functions.core.quotes import split_reply

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    parts = split_reply(message.text)
    stripped = parts.reply or message.text
    ctx.findings.stripped_text = stripped.strip()
    ticket = ctx.findings.ticket
    customer = ctx.findings.customer
    hints = [
        message.locale_hint,
        ticket.language if ticket else None,
        customer.language if customer else None,
    ]
    sample = f"{message.subject}\n{stripped}" if not ticket else stripped
    detection = ctx.detector.detect(sample, hints)
    if ticket and ticket.language and detection.source != "text":
        detection = Detection(ticket.language, detection.confidence, "ticket")
    ctx.findings.language = detection
    return None
