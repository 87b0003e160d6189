"""Splitting a customer's reply from quoted history and signature, rule by rule."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from functions.core.quotes import (
    ReplyParts,
    _split_text,
    _Stats,
    split_reply,
    split_reply_html,
    strip_reply,
)
from tests.helpers import CORPORA


def _corpora() -> Path:
    return CORPORA


def _steps(text: str) -> int:
    stats = _Stats()
    _split_text(text, stats)
    return stats.steps


# --- plain text without quotes ------------------------------------------------------


def test_plain_message_is_all_reply() -> None:
    text = "Hello,\n\nmy order #123 has not arrived.\nCan you check?"
    assert split_reply(text) == ReplyParts(reply=text, quoted="", signature="")


def test_surrounding_blank_lines_are_stripped_and_line_endings_normalised() -> None:
    assert strip_reply("\r\n\r\nHello\r\nthere\r\n\r\n") == "Hello\nthere"


def test_empty_input() -> None:
    assert split_reply("") == ReplyParts("", "", "")
    assert split_reply_html("") == ReplyParts("", "", "")


# --- "On <date>, <name> wrote:" in many languages -----------------------------------


@pytest.mark.parametrize(
    "header",
    [
        "On Tue, Apr 29, 2014 at 4:22 PM, Example Dev <dev@example.com> wrote:",  # en
        "On 04/19/2011 07:10 AM, Roman Tkachenko wrote:",  # en, no address
        "Am 25.11.2014 um 14:59 schrieb Max Muster <max@example.de>:",  # de
        "Le 23 janv. 2015 à 22:03, Brendan <brendan@example.fr> a écrit :",  # fr
        "El 5 mar 2023, a las 10:15, Ana <ana@example.es> escribió:",  # es
        "Em 5 de mar. de 2023, às 10:15, João <joao@example.pt> escreveu:",  # pt
        "Il giorno 5 mar 2023, alle ore 10:15, Luca <luca@example.it> ha scritto:",  # it
        "Op 17-feb.-2015, om 13:18 heeft Julius <j@example.nl> het volgende geschreven:",  # nl
        "Op 13-02-2014 3:18 schreef Julius Caesar <pantheon@rome.com>:",  # nl
        "W dniu 28.01.2015 o 01:53 użytkownik Zoe <zoe@example.pl> napisał:",  # pl
        "Dnia 28 lutego 2023 14:00 Anna Nowak <anna@example.com> napisał(a):",  # pl
        "05.03.2023, 10:15, Иван <ivan@example.ru> написал:",  # ru
        "Den 14 september 2015 02:23, Valentino (valentino@example.se) skrev:",  # sv
        "Den 24. nov. 2025 kl. 10.00 skrev Peter Petersen <peter@example.dk>:",  # da
        "2022年1月1日(金) 9:00 田中太郎 <taro@example.jp>:",  # ja (Gmail)
        "在 2023年3月1日 10:00，张三 <zhang@example.cn> 写道：",  # zh
        "في الأحد، 5 مارس 2023 10:15 ص كتب أحمد <ahmed@example.com>:",  # ar
        "Vào 14:24 8 tháng 6, 2017, Hùng <hung@example.vn> đã viết:",  # vi
        "---- John Smith wrote ----",  # Android
        "Sent from Samsung MobileName <address@example.com> wrote:",
        '26.06.2014, 14:41, "Alexander L" <abc@example.com>:',  # Yandex
        "Thu, 26 Jun 2014 14:00:51 +0400 от Alexander L <abc@example.com>:",  # mail.ru
    ],
)
def test_attribution_header_opens_the_quote(header: str) -> None:
    parts = split_reply(f"My answer.\n\n{header}\n\n> the old message\n> more of it\n")
    assert parts.reply == "My answer."
    assert parts.quoted.startswith(header)
    assert parts.quoted.endswith("> more of it")


@pytest.mark.parametrize(
    "header",
    [
        "On Fri, May 6, 2011 at 6:03 PM, Roman from Hacker News\n<roman@example.com> wrote:",
        "On Nov 30, 2011, at 12:47 PM, Somebody <\nsomebody@example.com>\nwrote:",
        "Am So., 1. Jan. 2023 um 17:22 Uhr\nschrieb John Doe <\nnoreply@example.com>:",
        "W dniu 28 stycznia 2015 01:53 użytkownik Zoe <zoe@example.pl>\nnapisał:",
        "On Mon, Jun 3, 2024 at 12:53 AM Cody <cody@example.com> w=\nrote:",  # QP soft break
        "On Tue, Apr 11, 2017 at 10:07 PM John\n\n<\nmailto:John <john@example.com>\n> wrote:",
    ],
)
def test_attribution_wrapped_over_lines(header: str) -> None:
    parts = split_reply(f"Short answer\n\n{header}\n\nold text\n")
    assert parts.reply == "Short answer"
    assert parts.quoted.endswith("old text")


def test_header_sharing_a_line_with_the_reply() -> None:
    text = "reply--- On Wed, Apr 4, 2012 at 3:59 PM, me@example.com wrote:\n> Hi"
    parts = split_reply(text)
    assert parts.reply == "reply"
    assert parts.quoted.startswith("On Wed, Apr 4")


@pytest.mark.parametrize(
    "text",
    [
        "I checked what the agent wrote: nothing about refunds.\nPlease help.",
        "Yesterday you wrote:\nwe will refund you.\nNothing happened.",  # no date, no quote
        "On your remote host you can run:\n\n  telnet 127.0.0.1 52698\n\nThanks",
        "One outstanding question I had:\nwhy is it slow?",
        "As I wrote on 12 May: the parcel never came.",
    ],
)
def test_wrote_inside_a_sentence_is_not_a_header(text: str) -> None:
    assert split_reply(text).quoted == ""
    assert split_reply(text).reply == text


# --- separators and Outlook header blocks -------------------------------------------


@pytest.mark.parametrize(
    "separator",
    [
        "-----Original Message-----",
        "----- Original Message -----",
        "-----Ursprüngliche Nachricht-----",
        "-------- Message d'origine --------",
        "----- Mensaje original -----",
        "-----Oprindelig meddelelse-----",
        "-----Wiadomość oryginalna-----",
        "-------- Исходное сообщение --------",
        "------------------ 原始邮件 ------------------",
        "-----Reply Message-----",
    ],
)
def test_original_message_separator(separator: str) -> None:
    parts = split_reply(f"Test reply\n\n{separator}\n\nTest")
    assert parts == ReplyParts(reply="Test reply", quoted=f"{separator}\n\nTest", signature="")


@pytest.mark.parametrize(
    "block",
    [
        "From: Bob <bob@example.com>\nSent: Monday, March 1, 2023 10:00\nTo: Support\n"
        "Subject: Order",
        "Von: Bob <bob@example.com>\nGesendet: Montag, 1. März 2023 10:00\nAn: Support\n"
        "Betreff: Bestellung",
        "De : Brendan [mailto:b@example.fr]\nEnvoyé : vendredi 23 janvier 2015 16:39\n"
        "À : Camille\nObjet : Suivi",
        "De: Ana <ana@example.es>\nEnviado el: lunes, 6 de marzo de 2023 10:15\nPara: Soporte\n"
        "Asunto: Pedido",
        "Van: Jan <jan@example.nl>\nVerzonden: maandag 6 maart 2023 10:15\nAan: Support\n"
        "Onderwerp: Bestelling",
        "Från: Anno [mailto:anno@example.se]\nSkickat: den 26 augusti 2015 14:45\n"
        "Till: Leiff\nÄmne: RE: Week 36",
        "Fra: somebody@example.dk\nSendt: 19. marts 2011 12:10\nTil: Somebody\nEmne: Loop",
        "Od: Jan Kowalski <jan@example.pl>\nWysłano: środa, 1 marca 2023 12:00\n"
        "Do: Anna\nTemat: Re: Test",
        "От: Alexander <a@example.ru>\nОтправлено: четверг, 26 июня 2014 г. 15:05\nКому: Alex",
        "  *From:* bob@example.com [mailto:\n  bob@example.com]\n  *Sent:* Wednesday, June 27\n"
        "  *To:* travis@example.com\n  *Subject:* Hello",
        "Date: Wed, 16 May 2012 00:15:02 -0600\nTo: someone@example.com",
    ],
)
def test_outlook_header_block_opens_unmarked_history(block: str) -> None:
    parts = split_reply(f"Thanks, that works.\n\n{block}\n\nThe old message\nin full.")
    assert parts.reply == "Thanks, that works."
    assert parts.quoted.endswith("The old message\nin full.")


def test_rule_line_above_header_block_is_part_of_the_quote() -> None:
    text = "Outlook reply\n________________________________\nFrom: CRM <crm@example.com>\n"
    text += "Sent: Friday, 23 March 2012\nTo: John\nSubject: Hi\n\nbody"
    parts = split_reply(text)
    assert parts.reply == "Outlook reply"
    assert parts.quoted.startswith("____")


def test_form_like_text_is_not_a_header_block() -> None:
    text = "Invitation:\n\nDate: Wednesday 3, October 2011\nTime: 7:00am\nAddress: 130 Fox St"
    assert strip_reply(text) == text


def test_header_block_at_the_top_is_pasted_content_kept_as_reply() -> None:
    text = "Od: Jan <jan@example.pl>\nWysłano: środa, 1 marca 2023 12:00\nTemat: Test\n\nCzesc Anno"
    parts = split_reply(text)
    assert parts.reply == text
    assert parts.quoted == ""


# --- forwards -----------------------------------------------------------------------


def test_forward_with_little_text_of_ones_own_is_kept() -> None:
    text = "FYI\n\n---------- Forwarded message ----------\nFrom: bob@example.com\n"
    text += "Date: Tue, Sep 4, 2012 at 1:35 PM\nSubject: Two\nTo: rob@example.com\n\nText"
    assert split_reply(text) == ReplyParts(reply=text, quoted="", signature="")


@pytest.mark.parametrize(
    "marker",
    [
        "Begin forwarded message:",
        "Anfang der weitergeleiteten Nachricht:",
        "-------- Message transféré --------",
        "---------- Mensaje reenviado ---------",
        "---------- Doorgestuurd bericht ---------",
        "-------- Пересланное сообщение --------",
    ],
)
def test_forward_markers_in_several_languages(marker: str) -> None:
    forward = f"{marker}\nFrom: shop@example.com\nDate: 1 March 2023\nSubject: Order\n\nYour order"
    assert strip_reply(forward) == forward  # nothing of their own: the forward is the message
    own = "I ordered this three weeks ago and it never arrived, my neighbour did not get it "
    own += "either and the tracking page shows nothing at all."
    parts = split_reply(f"{own}\n\n{forward}")
    assert parts.reply == own
    assert parts.quoted.startswith(marker)


def test_sentence_mentioning_forward_is_not_a_marker() -> None:
    text = "Please forward this to the right team:\nmy invoice is wrong."
    assert strip_reply(text) == text


# --- ">" quotes and interleaved replies ---------------------------------------------


def test_bottom_post_and_interleaved_replies_are_kept() -> None:
    text = (
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n\n"
        "> Can you send the invoice?\n>\n\nSure, attached.\n\n"
        "> And the delivery address?\n\nSame as before.\n\n--\nJane"
    )
    parts = split_reply(text)
    assert parts.reply == "Sure, attached.\n\nSame as before."
    assert "> Can you send the invoice?" in parts.quoted
    assert "> And the delivery address?" in parts.quoted
    assert parts.signature == "--\nJane"


def test_quoted_lines_without_header() -> None:
    parts = split_reply("Ja, bitte.\n\n> Sollen wir das Paket erneut senden?\n> Gruß")
    assert parts.reply == "Ja, bitte."
    assert parts.quoted == "> Sollen wir das Paket erneut senden?\n> Gruß"


def test_unmarked_history_after_quote_is_not_interleaved() -> None:
    # a second, unquoted header below means the thread continues unmarked
    text = (
        "First reply.\n\nOn 1 Jan 2023 at 17:22, John <john@example.com> wrote:\n\n"
        "> second message\n\nThird message text\n\n"
        "On 7 Aug 2022 at 23:55, John <john@example.com> wrote:\n\nFourth"
    )
    parts = split_reply(text)
    assert parts.reply == "First reply."
    assert parts.quoted.endswith("Fourth")


def test_wrapped_quoted_line_stays_quoted() -> None:
    text = "Blah\n\nOn Monday, 24 September, 2012 at 3:46 PM, bob wrote:\n\n"
    text += "> View ticket (http://example.com/action\n_nonce=3dd518)\n>\n"
    assert strip_reply(text) == "Blah"


def test_decorative_arrows_are_not_a_quote() -> None:
    text = "Visit us now...\n>>> >>>  http://www.example.com <<<\nVisit our site"
    assert strip_reply(text) == text


# --- signatures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "signature",
    [
        "-- \nrick",
        "--\nJane Doe\nACME Inc.",
        "Sent from my iPhone",
        "Sent from my Verizon Wireless BlackBerry",
        "Get Outlook for iOS<https://aka.ms/o0ukef>",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Enviado desde mi iPhone",
        "Enviado do meu iPhone",
        "Inviato da iPhone",
        "Verzonden vanaf mijn iPhone",
        "Wysłane z mojego iPhone'a",
        "Отправлено с iPhone",
        "Skickat från min iPhone",
        "Sendt fra min iPhone",
        "iPhoneから送信",
        "发自我的iPhone",
        "-Abhishek Kona",
        "Best regards,\nJohn Smith\nACME Corp\n+1 555 0100",
        "Mit freundlichen Grüßen\n\nBob Smith",
        "Cordialement,\nCamille",
        "Saludos,\nAna",
        "Atenciosamente,\nJoão",
        "Cordiali saluti,\nLuca Rossi",
        "Met vriendelijke groet,\nJan de Vries",
        "Pozdrawiam,\nJan",
        "С уважением,\nИван",
        "Med vänlig hälsning,\nAnna",
        "Med venlig hilsen\nAnders Andersen",
        "Jane Doe\nSupport Lead\nTel: +49 30 123456\nE-Mail: jane@example.com",
    ],
)
def test_signature_is_split_off(signature: str) -> None:
    parts = split_reply(f"The parcel arrived damaged.\n\n{signature}")
    assert parts.reply == "The parcel arrived damaged."
    assert parts.signature == signature


@pytest.mark.parametrize(
    "text",
    [
        "Here is another email\n\nSent from my desk, is much easier than my mobile phone.",
        "And here is a fix -- this is not a signature.\n\nkthxbai",
        "Items missing:\n-Blue shirt\n-Red hat",
        "Thanks,\nI will try that tomorrow.",
        "Best regards to your team, you have been great.",
    ],
)
def test_not_a_signature(text: str) -> None:
    assert split_reply(text) == ReplyParts(reply=text, quoted="", signature="")


def test_sign_off_alone_stays_the_reply() -> None:
    # a chat message "Thanks, Bob" has nothing else: it is the reply, not a signature
    assert split_reply("Thanks,\nBob") == ReplyParts(reply="Thanks,\nBob", quoted="", signature="")


def test_signature_above_quote_and_mailing_list_footer_below() -> None:
    text = (
        "Oh thanks.\n\n-Abhishek Kona\n\nOn 01/03/11 7:07 PM, Russell Brown wrote:\n> Hi,\n\n"
        "_______________________________________________\nriak-users mailing list\n"
        "riak-users@lists.example.com"
    )
    parts = split_reply(text)
    assert parts.reply == "Oh thanks."
    assert parts.signature.startswith("-Abhishek Kona")
    assert parts.signature.endswith("riak-users@lists.example.com")


# --- HTML ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "html",
    [
        '<div dir="ltr">Hi. I am fine.</div><div class="gmail_quote"><div class="gmail_attr">'
        "On Thu, Jun 26, 2014 at 2:14 PM, Alex &lt;a@example.com&gt; wrote:</div>"
        '<blockquote class="gmail_quote">Hello! How are you?</blockquote></div>',
        '<p>Hi. I am fine.</p><blockquote type="cite">Hello! How are you?</blockquote>',
        '<div>Hi. I am fine.</div><div class="yahoo_quoted">Hello! How are you?</div>',
        '<div>Hi. I am fine.</div><div class="moz-cite-prefix">On 26.06.2014 14:41, Alex\n'
        'wrote:<br></div><blockquote type="cite">Hello! How are you?</blockquote>',
        '<div>Hi. I am fine.</div><hr><div id="divRplyFwdMsg"><b>From:</b> Alex<br>'
        "<b>Sent:</b> Monday<br><b>To:</b> Bob</div><div>Hello! How are you?</div>",
        '<div>Hi. I am fine.</div><span id="OLK_SRC_BODY_SECTION"><div>From: Bob<br>'
        "Date: Tue, 01 Nov 2011<br></div><div>Hello! How are you?</div></span>",
        '<div>Hi. I am fine.</div><hr id="stopSpelling">Date: Thu, 26 Jun 2014<br>'
        "Subject: Test<br>From: a@example.com<br>To: b@example.com<br>Hello! How are you?",
        "<div>Hi. I am fine.<br><br>Von: Alex &lt;a@example.com&gt;<br>Gesendet: Montag<br>"
        "An: Bob<br>Betreff: Test<br><br>Hello! How are you?</div>",
    ],
)
def test_html_quote_containers(html: str) -> None:
    parts = split_reply_html(html)
    assert parts.reply == "Hi. I am fine."
    assert "Hello! How are you?" in parts.quoted


def test_html_indentation_blockquote_is_content() -> None:
    html = 'Message<blockquote class="gmail_quote"><div>My name is Will.</div></blockquote>'
    assert split_reply_html(html).reply.split() == ["Message", "My", "name", "is", "Will."]
    html = "Reply<blockquote>Regular</blockquote><div>On 11-Apr-2011, at 6:54 PM, Bob "
    html += "&lt;bob@example.com&gt; wrote:</div><blockquote>Nested</blockquote>"
    assert split_reply_html(html).reply.split() == ["Reply", "Regular"]


def test_html_gmail_forward_with_no_own_text_is_kept() -> None:
    html = '<div dir="ltr"><div class="gmail_quote">---------- Forwarded message ---------<br>'
    html += "From: Shop &lt;shop@example.com&gt;<br>Date: Fri, Feb 11, 2010<br>"
    html += "Subject: Your order<br><br>Your order has shipped.</div></div>"
    parts = split_reply_html(html)
    assert parts.reply.startswith("---------- Forwarded message")
    assert parts.reply.endswith("Your order has shipped.")
    assert parts.quoted == ""


# --- robustness and linear time -----------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_never_raises_on_any_text(text: str) -> None:
    parts = split_reply(text)
    assert isinstance(parts.reply, str) and isinstance(parts.quoted, str)
    assert isinstance(split_reply_html(text), ReplyParts)


_LINE = st.sampled_from(
    [
        "",
        "> quoted",
        ">",
        "Hello there",
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:",
        "On Tue, Apr 29, 2014 at 4:22 PM, Dev",
        "<dev@example.com>",
        "wrote:",
        "From: a@example.com",
        "Sent: Monday",
        "To: b",
        "Subject: x",
        "-----Original Message-----",
        "---------- Forwarded message ----------",
        "-- ",
        "Regards,",
        "Bob",
        "Sent from my iPhone",
        "-Bob",
        "________",
        "<blockquote type=cite>",
        '<div class="gmail_quote">',
        "</div>",
        "</blockquote>",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_LINE, max_size=40))
def test_never_raises_on_mail_like_text(lines: list[str]) -> None:
    text = "\n".join(lines)
    parts = split_reply(text)
    # every non-blank line of the input ends up somewhere (nothing is invented)
    for part in (parts.reply, parts.quoted, parts.signature):
        for line in part.split("\n"):
            assert not line.strip() or line in text
    split_reply_html(text)


@pytest.mark.corpus
@pytest.mark.parametrize("name", ["pathological.txt", "email_long_quote.txt"])
def test_redos_probes_complete(name: str) -> None:
    path = _corpora() / "email_reply_parser" / "test" / "emails" / name
    if not path.is_file():
        pytest.skip(f"peer corpus not found at {path} (set HELPLINE_CORPORA)")
    text = path.read_text(encoding="utf-8")
    parts = split_reply(text)
    assert parts.quoted  # both probes hold a quote
    # work is bounded by the number of lines, whatever their length
    assert _steps(text) < 40 * (text.count("\n") + 1)


@pytest.mark.parametrize(
    "unit",
    [
        "Hello\n\nOn Tue, Apr 29, 2014 at 4:22 PM, Dev <dev@example.com> wrote:\n> hi\n",
        "Reply\n> quoted\nmore\n> again\n",
        "From: a\nSent: b\nTo: c\n\n",
        "On On On On On 2012 12:00 x@y wrote:\nreply On 1 a@b wrote:\n",
        "Regards,\nBob\n\n-Bob\n--\n\n",
        "\n\n\n\n",
        "2012-01-01 12:00 a@b " * 20 + "\n",
    ],
)
def test_doubling_the_input_doubles_the_work(unit: str) -> None:
    small = unit * 500
    ratio = _steps(small + small) / _steps(small)
    assert 1.8 < ratio < 2.2


def test_long_lines_cost_no_more_steps() -> None:
    # patterns only ever see a bounded prefix of a line
    short = "x" * 1_000 + "\n> " + "y" * 1_000 + "\nOn 2012-01-01 a@b wrote:\n"
    long = "x" * 200_000 + "\n> " + "y" * 200_000 + "\nOn 2012-01-01 a@b wrote:\n"
    assert _steps(long) == _steps(short)


@pytest.mark.parametrize(
    "text",
    [
        "Sent you the invoice yesterday.",
        "Hi\n________\nOrder 123\nPlease help",
        "Thanksgiving Day",
        "Bestellung Nr. 5",
    ],
)
def test_not_a_signature_either(text: str) -> None:
    assert split_reply(text) == ReplyParts(reply=text, quoted="", signature="")
