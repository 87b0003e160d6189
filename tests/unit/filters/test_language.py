"""80 language: the customer's language, from what they wrote now, not from what they quote."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from functions.core.filters import language
from functions.core.models import Channel, Customer, Ticket, TicketStatus

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

SPANISH_ABOVE_ENGLISH = """Hola, sigo sin recibir el reembolso de mi pedido. ¿Pueden revisarlo, por favor?

On Mon, 24 Nov 2025 at 09:00, Helpline Demo Support <support@helpline.test> wrote:
> Hello Ana,
>
> Thank you for contacting Helpline Demo. We have received your message and a member
> of our team will read it and reply to you as soon as possible. Your ticket number
> is [#K7Q2M4XD01]. If you would like to add anything, simply reply to this email.
>
> Kind regards, the English support team
"""


def _ticket(lang: str | None) -> Ticket:
    return Ticket(
        id="K7Q2M4XD01",
        channel=Channel.EMAIL,
        subject="Pedido",
        customer_id="C0000000000AA",
        status=TicketStatus.OPEN,
        language=lang,
        queue="spanish",
        created_at=datetime(2025, 11, 20, 9, 0, tzinfo=UTC),
    )


def test_a_spanish_reply_above_an_english_quote_is_spanish(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Re: Your request", text=SPANISH_ABOVE_ENGLISH)
    ctx = make_context(message)

    language.run(ctx)

    assert ctx.findings.language is not None
    assert ctx.findings.language.language == "es"
    assert ctx.findings.language.source == "text"
    assert ctx.findings.stripped_text.startswith("Hola, sigo sin recibir")
    assert "Thank you for contacting" not in ctx.findings.stripped_text


def test_a_short_text_takes_the_locale_hint(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="", text="Gracias, ok", locale_hint="pt-BR")
    ctx = make_context(message)

    language.run(ctx)

    assert ctx.findings.language is not None
    assert (ctx.findings.language.language, ctx.findings.language.source) == ("pt", "hint")


def test_a_short_text_takes_the_customers_last_language(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(subject="", text="OK, thanks"))
    ctx.findings.customer = Customer(id="C0000000000AA", language="ru")

    language.run(ctx)

    assert ctx.findings.language is not None
    assert ctx.findings.language.language == "ru"


def test_a_short_follow_up_keeps_the_tickets_language(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(subject="Re: Pedido [#K7Q2M4XD01]", text="ok thanks", locale_hint="de")
    ctx = make_context(message)
    ctx.findings.ticket = _ticket("es")

    language.run(ctx)

    assert ctx.findings.language is not None
    assert (ctx.findings.language.language, ctx.findings.language.source) == ("es", "ticket")


def test_a_follow_up_clearly_in_another_language_is_detected(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    text = "Sorry, I do not speak Spanish. Could somebody please answer me in English instead?"
    ctx = make_context(make_message(subject="Re: Pedido", text=text))
    ctx.findings.ticket = _ticket("es")

    language.run(ctx)

    assert ctx.findings.language is not None
    assert (ctx.findings.language.language, ctx.findings.language.source) == ("en", "text")


def test_a_new_tickets_subject_counts_when_the_body_is_short(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        subject="Здравствуйте, мой заказ до сих пор не пришёл, проверьте пожалуйста", text="?"
    )
    ctx = make_context(message)

    language.run(ctx)

    assert ctx.findings.language is not None
    assert ctx.findings.language.language == "ru"


def test_nothing_to_go_on_gives_the_default(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(subject="", text="12345 :-)"))

    language.run(ctx)

    assert ctx.findings.language is not None
    assert (ctx.findings.language.language, ctx.findings.language.source) == ("en", "default")
