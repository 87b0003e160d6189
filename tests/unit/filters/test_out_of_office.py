"""50 out_of_office: "I am away" notices go on the ticket, unanswered, in any language."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from functions.core.filters import auto_responder, out_of_office

if TYPE_CHECKING:
    from functions.core.pipeline import Context

    from .conftest import MakeContext, MakeMessage

OUR_REPLY = "hl.k7q2m4xd01.0123456789abcdef@helpline.test"
AUTO_REPLIED = (("Auto-Submitted", "auto-replied"),)


def _run(ctx: Context) -> Context:
    """The two filters in pipeline order: auto_responder's finding feeds this one."""
    auto_responder.run(ctx)
    out_of_office.run(ctx)
    return ctx


@pytest.mark.parametrize(
    "subject",
    [
        "Out of Office: Question about my order",
        "Automatic reply: We have received your message [#K7Q2M4XD01]",
        "Abwesenheitsnotiz: Ihre Anfrage",
        "Automatische Antwort: Ihre Anfrage",
        "Réponse automatique : votre demande",
        "Respuesta automática: su solicitud",
        "RESPUESTA AUTOMÁTICA: SU SOLICITUD",
        "Resposta automática: o seu pedido",
        "Risposta automatica: la sua richiesta",
        "Automatisch antwoord: uw vraag",
        "Автоответ: ваш запрос",
        "自動応答: お問い合わせ",
        "不在通知: お問い合わせ",
        "رد تلقائي: طلبك",
    ],
)
def test_notices_in_many_languages_with_an_auto_header(
    make_message: MakeMessage, make_context: MakeContext, subject: str
) -> None:
    ctx = _run(make_context(make_message(subject=subject, headers=AUTO_REPLIED)))

    assert ctx.findings.out_of_office is True
    assert ctx.findings.auto_response is not None


def test_outlook_notice_marked_oof(make_message: MakeMessage, make_context: MakeContext) -> None:
    message = make_message(
        subject="Automatic reply: Question about my order",
        headers=(("X-Auto-Response-Suppress", "OOF, DR, RN, NRN"),),
    )

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is True


def test_exchange_rule_header_with_auto_submitted_needs_no_subject(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        subject="Re: Question about my order",
        headers=(
            ("Auto-Submitted", "auto-generated"),
            ("X-MS-Exchange-Inbox-Rules-Loop", "ana@example.com"),
        ),
    )

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is True


def test_a_headerless_notice_replying_to_us_is_caught_by_its_subject(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Out of office until Monday", in_reply_to=(OUR_REPLY,))

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is True
    assert ctx.findings.auto_response == "out-of-office notice"


def test_auto_responders_reason_is_kept(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Out of office", headers=(("Precedence", "bulk"),))

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is True
    assert ctx.findings.auto_response == "Precedence: bulk"


def test_a_new_mail_about_office_hours_is_a_question_not_a_notice(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Do you offer support out of office hours?")

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is False
    assert ctx.findings.auto_response is None


def test_a_person_replying_under_an_ooo_subject_says_so_explicitly(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        subject="Re: Automatic reply: Question about my order",
        headers=(("Auto-Submitted", "no"),),
        in_reply_to=(OUR_REPLY,),
    )

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is False
    assert ctx.findings.auto_response is None


def test_other_auto_replies_are_not_out_of_office(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Your order has shipped", headers=AUTO_REPLIED)

    ctx = _run(make_context(message))

    assert ctx.findings.out_of_office is False
    assert ctx.findings.auto_response is not None  # still automatic, just not "away"
