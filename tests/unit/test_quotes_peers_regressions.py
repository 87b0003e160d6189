"""Shapes from the peers' fixtures that Helpline once got wrong, and the choices made
where two peers expect opposite things of the same mail.

The snippets are written here, shaped like the peers' cases (talon's HTML tests,
mail-parser-reply's Outlook and Swedish fixtures); none is copied from a corpus.
"""

from __future__ import annotations

from bench.fuzz import growth
from functions.core.quotes import ReplyParts, split_reply, split_reply_html

_HEADER_BLOCK = (
    "<b>From: </b>help@shop.example<br><b>To: </b>maria@example.net<br>"
    "<b>Sent: </b>Tuesday, March 3, 2026 9:12:44 AM<br><b>Subject: </b>Re: Order 4417<br>"
    "<br><p>Your parcel left our warehouse.</p>"
)
_ATTRIBUTION = "<div>On Tue, 3 Mar 2026 at 09:12, Shop &lt;help@shop.example&gt; wrote:</div>"


# --- a name in the <div> of the quoted header block (talon: reply separated by <hr>) ----


def test_name_sharing_the_header_blocks_div_goes_to_the_history() -> None:
    html = (
        "<html><body><div>Thanks, the parcel arrived.<div>Only the box was dented.</div>"
        f"<div>Maria<hr>{_HEADER_BLOCK}</div></div></body></html>"
    )
    parts = split_reply_html(html)
    assert parts.reply == "Thanks, the parcel arrived.\nOnly the box was dented."
    assert parts.quoted.startswith("Maria\nFrom: help@shop.example")
    assert "Your parcel left our warehouse." in parts.quoted


def test_same_for_an_original_message_separator_below_the_rule() -> None:
    html = (
        "<div>Thanks, the parcel arrived.</div>"
        f"<div>Maria<hr>-----Original Message-----<br>{_HEADER_BLOCK}</div>"
    )
    parts = split_reply_html(html)
    assert parts.reply == "Thanks, the parcel arrived."
    assert "-----Original Message-----" in parts.quoted


def test_reply_sharing_the_div_with_the_rule_is_kept() -> None:
    # the reply itself is in the <hr>'s <div>: only the header block is history
    html = f"<div>Thanks, the parcel arrived.<br><br>Maria<br><hr>{_HEADER_BLOCK}</div>"
    parts = split_reply_html(html)
    assert parts.reply == "Thanks, the parcel arrived.\n\nMaria"
    assert parts.quoted.startswith("From: help@shop.example")


def test_more_than_a_name_above_the_rule_is_kept() -> None:
    html = f"<div>Hi,</div><div>the parcel arrived but the box was dented<hr>{_HEADER_BLOCK}</div>"
    parts = split_reply_html(html)
    assert parts.reply == "Hi,\n\nthe parcel arrived but the box was dented"


def test_a_name_that_is_the_whole_reply_is_kept() -> None:
    parts = split_reply_html(f"<div>Maria<hr>{_HEADER_BLOCK}</div>")
    assert parts.reply == "Maria"
    assert parts.quoted.startswith("From: help@shop.example")


def test_a_rule_without_a_header_block_below_is_only_a_rule() -> None:
    parts = split_reply_html("<div>Thanks!</div><div>Maria<hr>P.S. the invoice is attached.</div>")
    assert parts == ReplyParts("Thanks!\n\nMaria\nP.S. the invoice is attached.", "", "")


# --- a body that is all one <blockquote> (talon: readable HTML empty) -------------------


def test_body_that_is_one_plain_blockquote_is_kept_whole() -> None:
    html = f"<blockquote>Please see below.{_ATTRIBUTION}<div>Your order shipped.</div></blockquote>"
    parts = split_reply_html(html)
    assert parts.quoted == ""
    assert parts.reply.split("\n") == [
        "Please see below.",
        "On Tue, 3 Mar 2026 at 09:12, Shop <help@shop.example> wrote:",
        "",
        "Your order shipped.",
    ]


def test_blockquote_under_own_text_is_still_the_history() -> None:
    html = f"Thanks!<blockquote>{_ATTRIBUTION}<div>Your order shipped.</div></blockquote>"
    parts = split_reply_html(html)
    assert parts.reply == "Thanks!"
    assert "Your order shipped." in parts.quoted


def test_cite_blockquote_alone_stays_a_quote() -> None:
    html = f'<blockquote type="cite">{_ATTRIBUTION}<div>Your order shipped.</div></blockquote>'
    parts = split_reply_html(html)
    assert parts.reply == ""
    assert "Your order shipped." in parts.quoted


# --- where two peers disagree on the same mail: the choice made -----------------------


def test_rule_above_an_outlook_block_goes_with_the_history() -> None:
    # email_reply_parser wants the reply alone; mail-parser-reply keeps the dashes in
    # the reply. They cannot both hold: the rule is the quote's separator, not reply text.
    text = (
        "Works for me now, thanks.\n\n\n ------------------------------\n\n"
        "*From:* Shop Support [mailto:help@shop.example]\n"
        "*Sent:* Tuesday, March 03, 2026 9:12 AM\n*To:* maria@example.net\n"
        "*Subject:* Your order\n\n\n\nDear customer,\n\nyour order shipped.\n"
    )
    parts = split_reply(text)
    assert parts.reply == "Works for me now, thanks."
    assert parts.quoted.lstrip().startswith("------------------------------\n\n*From:*")


def test_dutch_rule_above_an_outlook_block_goes_with_the_history() -> None:
    text = (
        "Het werkt nu, bedankt.\n\n\n------------------------------\n\n"
        "*Van:* Winkel Support [mailto:help@shop.example]\n"
        "*Verzonden:* dinsdag, 3 maart 2026 09:12\n*Aan:* maria@example.net\n"
        "*Onderwerp:* Uw bestelling\n\n\nBeste klant,\n\nuw bestelling is verzonden.\n"
    )
    parts = split_reply(text)
    assert parts.reply == "Het werkt nu, bedankt."
    assert "*Van:* Winkel Support" in parts.quoted


def test_swedish_gmail_header_with_time_glued_to_the_name_opens_the_history() -> None:
    # mail-parser-reply misses this header and files the whole quote as a signature;
    # the ">" history is history all the same
    text = (
        "Hej Anna,\n\ntack, det fungerar nu.\n\n/Johan\n\n"
        "Den tis 3 mars 2026 09:12Anna Berg <anna.berg@shop.example> skrev:\n\n"
        "> Hej Johan,\n>\n> fungerar inloggningen nu?\n>\n> Med vänlig hälsning,\n> Anna Berg\n"
    )
    parts = split_reply(text)
    assert parts.reply == "Hej Anna,\n\ntack, det fungerar nu."
    assert parts.signature == "/Johan"
    assert parts.quoted.startswith("Den tis 3 mars 2026 09:12Anna Berg")
    assert "> fungerar inloggningen nu?" in parts.quoted


# --- linear time ----------------------------------------------------------------------


def test_many_rules_and_divs_stay_linear() -> None:
    unit = f"<div>Maria<hr>{_HEADER_BLOCK}".encode()
    head = b"<div>Hi</div>"
    measured = growth.measure_confirmed(
        lambda data: split_reply_html(data.decode()), head + unit * 40, head + unit * 320
    )
    assert measured.linear, measured.describe()
