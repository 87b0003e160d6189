"""50 out_of_office: "I am away until Monday" notices.

They belong in the ticket (the agent learns the customer is away) but must not reopen
it, route it, or be answered. Recognised by the Exchange/Outlook and RFC 3834 headers
and by the subjects mail clients write, in the languages we support and a few more.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from functions.core.models import Channel

if TYPE_CHECKING:
    from functions.core.pipeline import Context, Drop

OOO_SUBJECT = re.compile(
    r"(out of (the )?office|automatic reply|auto[- ]?reply|autoreply|away from (the )?office|"
    r"on (vacation|holiday|leave)|abwesenheit|automatische antwort|nicht im büro|"
    r"réponse automatique|absence du bureau|absent du bureau|respuesta automática|"
    r"fuera de la oficina|ausente|resposta automática|fora do escritório|ausência|"
    r"risposta automatica|fuori sede|automatisch antwoord|afwezig|автоответ|"
    r"автоматический ответ|вне офиса|отпуск|不在|自動応答|自動返信|رد تلقائي|خارج المكتب)",
    re.IGNORECASE,
)


def run(ctx: Context) -> Drop | None:
    message = ctx.message
    if message.channel is not Channel.EMAIL:
        return None
    suppress = (message.header("X-Auto-Response-Suppress") or "").upper()
    auto_submitted = (message.header("Auto-Submitted") or "").lower()
    subject_says_so = bool(OOO_SUBJECT.search(message.subject[:300]))
    header_says_so = (
        "OOF" in suppress or message.header("X-MS-Exchange-Inbox-Rules-Loop") is not None
    )
    if (
        subject_says_so
        and (auto_submitted.startswith("auto") or suppress or ctx.findings.auto_response)
    ) or (header_says_so and auto_submitted.startswith("auto")):
        ctx.findings.out_of_office = True
    elif subject_says_so and auto_submitted == "" and message.header("Precedence") is None:
        # many mailers send OOO notices with no header at all; the subject is all there is
        ctx.findings.out_of_office = message.in_reply_to != () or message.references != ()
    if ctx.findings.out_of_office and not ctx.findings.auto_response:
        ctx.findings.auto_response = "out-of-office notice"
    return None
