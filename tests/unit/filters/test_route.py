"""90 route: rules, then language, then the default team; a follow-up stays where it is."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from functions.core.config import DEFAULT_CONFIG_PATH, Config, parse_config
from functions.core.filters import language, route
from functions.core.language import Detection
from functions.core.models import Channel, Customer, Ticket, TicketStatus

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

SPANISH = "Hola, necesito una copia de la factura de mi último pedido, por favor."


@pytest.fixture(scope="module")
def billing_config() -> Config:
    """The demo config plus a billing team that a keyword rule sends invoices to."""
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    text = text.replace(
        "\nrouting:\n",
        "  billing:\n    name: Billing\n    languages: [en]\n    calendar: london\n\nrouting:\n",
        1,
    )
    text = text.replace(
        "  rules:\n",
        "  rules:\n    - name: invoices\n      when:\n        keywords: [invoice, factura]\n"
        "      team: billing\n",
        1,
    )
    # every team a policy notifies about needs a lead (sla.team_leads)
    text = text.replace(
        "  team_leads:\n", "  team_leads:\n    billing: lead.billing@helpline.test\n", 1
    )
    return parse_config(text)


def _ticket(queue: str, priority: str = "normal") -> Ticket:
    return Ticket(
        id="K7Q2M4XD01",
        channel=Channel.EMAIL,
        subject="Pedido",
        customer_id="C0000000000AA",
        status=TicketStatus.OPEN,
        priority=priority,
        language="es",
        queue=queue,
        created_at=datetime(2025, 11, 20, 9, 0, tzinfo=UTC),
    )


def test_a_rule_naming_a_team_beats_the_language_team(
    make_message: MakeMessage, make_context: MakeContext, billing_config: Config
) -> None:
    ctx = make_context(make_message(subject="Factura", text=SPANISH), config=billing_config)
    ctx.findings.language = Detection("es", 0.99, "text")

    route.run(ctx)

    assert ctx.findings.route is not None
    assert (ctx.findings.route.team, ctx.findings.route.reason) == ("billing", "rule")
    assert ctx.findings.route.rules == ("invoices",)


@pytest.mark.parametrize(
    ("lang", "team", "reason"),
    [
        ("es", "spanish", "language"),
        ("ru", "russian", "language"),
        ("ar", "arabic", "language"),
        ("ja", "english", "default"),  # no team speaks Japanese
        (None, "english", "default"),
    ],
)
def test_without_a_rule_the_language_decides(
    make_message: MakeMessage,
    make_context: MakeContext,
    lang: str | None,
    team: str,
    reason: str,
) -> None:
    ctx = make_context(make_message(subject="Pedido", text="..."))
    ctx.findings.language = Detection(lang, 0.99, "text") if lang else None

    route.run(ctx)

    assert ctx.findings.route is not None
    assert (ctx.findings.route.team, ctx.findings.route.reason) == (team, reason)


def test_an_unsure_guess_goes_to_the_default_team(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    # "Gracias" alone: the detector's guess is kept on the ticket but, unsure, picks no team
    ctx = make_context(make_message(subject="", text="Gracias"))
    language.run(ctx)
    assert ctx.findings.language is not None and ctx.findings.language.source == "guess"

    route.run(ctx)

    assert ctx.findings.route is not None
    assert (ctx.findings.route.team, ctx.findings.route.reason) == ("english", "default")


def test_a_hint_picks_the_team_for_short_text(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(subject="", text="Gracias"))
    ctx.findings.language = Detection("es", 0.0, "hint")  # the widget's or platform's locale

    route.run(ctx)

    assert ctx.findings.route is not None
    assert (ctx.findings.route.team, ctx.findings.route.reason) == ("spanish", "language")


def test_a_matching_rule_adds_its_tags_and_priority(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(subject="Site down!", text="Total outage since 9am."))
    ctx.findings.language = Detection("en", 0.99, "text")
    ctx.findings.add_tag("spam")

    route.run(ctx)

    assert ctx.findings.route is not None
    assert ctx.findings.route.priority == "urgent"
    assert ctx.findings.tags == ["spam", "outage"]


def test_a_customer_tag_rule_uses_the_customers_tags(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message())
    ctx.findings.language = Detection("en", 0.99, "text")
    ctx.findings.customer = Customer(id="C0000000000AA", tags=["vip"])

    route.run(ctx)

    assert ctx.findings.route is not None
    assert ctx.findings.route.priority == "high"


def test_a_keyword_only_in_the_quoted_history_does_not_match(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    text = (
        "Thanks, everything works again now.\n\n"
        "On Mon, 24 Nov 2025 at 09:00, Ana <ana@example.com> wrote:\n"
        "> Total outage since 9am, nothing loads at all, please help us quickly!\n"
    )
    ctx = make_context(make_message(subject="Re: Help", text=text))
    language.run(ctx)  # it strips the quote

    route.run(ctx)

    assert ctx.findings.route is not None
    assert ctx.findings.route.priority == "normal"
    assert "outage" not in ctx.findings.tags


def test_a_follow_up_keeps_its_team_and_priority(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    text = "Sorry, another question: can you also change the delivery address, please?"
    ctx = make_context(make_message(subject="Re: Pedido", text=text))
    ctx.findings.ticket = _ticket("spanish", priority="high")
    ctx.findings.language = Detection("en", 0.99, "text")

    route.run(ctx)

    assert ctx.findings.route is not None
    assert ctx.findings.route.team == "spanish"
    assert ctx.findings.route.priority == "high"
    assert ctx.findings.route.reason == "ticket"


def test_a_follow_up_whose_team_no_longer_exists_is_routed_again(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(subject="Re: Pedido", text=SPANISH))
    ctx.findings.ticket = _ticket("portuguese")  # removed from the config since
    ctx.findings.language = Detection("es", 0.99, "text")

    route.run(ctx)

    assert ctx.findings.route is not None
    assert (ctx.findings.route.team, ctx.findings.route.reason) == ("spanish", "language")
