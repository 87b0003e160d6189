"""The peer comparisons' rules (bench/peers_*.py): what counts as confident wrong, how
texts are compared, how each peer's output is read, and that a missing peer is reported
as missing. Peers are optional (`.[bench]`): their tests skip when one is not installed.
"""

from __future__ import annotations

import hashlib

import pytest

from bench import peers_common, peers_language, peers_mime, peers_quotes
from bench.peers_common import PeerStatus
from bench.peers_language import Answer, Contender, outcome, score
from bench.peers_quotes import Case, Tool, judge, same_text, same_visible_html_text
from functions.core.config import load_config
from functions.core.mime import ParsedMail, parse_mail
from functions.core.quotes import ReplyParts
from tests.helpers import CORPORA

DEMO = load_config().languages
CPYTHON_DATA = CORPORA.joinpath(*peers_mime.CPYTHON)
REPLY = (
    "Thanks, that works.\n\n"
    "On Mon, Jan 5, 2026 at 9:00 AM Ana Garcia <ana@example.com> wrote:\n"
    "> Could you try restarting it?\n"
)

needs_corpora = pytest.mark.skipif(
    not CORPORA.is_dir(), reason=f"peer corpora not found at {CORPORA} (set HELPLINE_CORPORA)"
)


def _missing(name: str) -> PeerStatus:
    return PeerStatus(name, name, None)


# --------------------------------------------------------------------------- language


def test_a_wrong_language_at_min_confidence_is_confident_wrong() -> None:
    sample = [
        (Answer("es", 0.95), "es"),  # right and sure
        (Answer("pt", 0.90), "es"),  # wrong, exactly at min_confidence: confident wrong
        (Answer("pt", 0.89), "es"),  # wrong but below it: unsure
        (Answer("es", 0.60), "es"),  # right, though unsure
        (Answer(None, 0.0), "en"),  # no language at all
    ]

    result = score(sample, min_confidence=0.9)

    assert result == peers_language.Score(items=5, right=2, confident_wrong=1, unsure=3)


def test_no_language_is_never_right_even_where_a_default_would_match() -> None:
    assert outcome(Answer(None, 0.0), "en", 0.9) == (False, False, True)


def test_helplines_cannot_tell_counts_as_unsure_not_as_right() -> None:
    detect = peers_language.helpline_detect(
        DEMO.supported, DEMO.default, min_confidence=DEMO.min_confidence, min_length=DEMO.min_length
    )

    answer = detect("12345 !!! 678")  # nothing to detect: Helpline falls back to the default

    assert answer == Answer(None, 0.0)
    assert score([(answer, DEMO.default)], DEMO.min_confidence).right == 0


def test_helpline_is_measured_on_the_text_alone() -> None:
    detect = peers_language.helpline_detect(
        DEMO.supported, DEMO.default, min_confidence=DEMO.min_confidence, min_length=DEMO.min_length
    )

    answer = detect("Hola, mi pedido todavía no ha llegado. ¿Pueden comprobar dónde está?")

    assert answer.language == "es"
    assert answer.confidence >= DEMO.min_confidence


def test_langdetect_with_all_profiles_can_answer_outside_the_supported_languages() -> None:
    detect = peers_language.langdetect_detect()

    assert (
        detect("Goedemorgen, mijn bestelling is nog steeds niet aangekomen bij mij thuis.").language
        == "nl"
    )
    assert (
        detect("你好，我的订单还没有到。你能帮我查一下它现在在哪里吗？").language == "zh"
    )  # zh-cn
    assert detect("12345") == Answer(None, 0.0)


def test_lingua_is_restricted_to_the_supported_languages() -> None:
    pytest.importorskip("lingua", reason="lingua-language-detector not installed (.[bench])")
    detect = peers_language.lingua_detect(DEMO.supported)

    answer = detect("Goedemorgen, mijn bestelling is nog steeds niet aangekomen bij mij thuis.")

    assert answer.language in DEMO.supported
    assert 0.0 < answer.confidence <= 1.0


@needs_corpora
@pytest.mark.corpus
def test_a_missing_detector_is_reported_not_installed_and_the_others_are_measured() -> None:
    helpline = peers_language.helpline_detect(
        DEMO.supported, DEMO.default, min_confidence=DEMO.min_confidence, min_length=DEMO.min_length
    )
    racers = [
        Contender(peers_common.helpline_status(), "demo config", helpline),
        Contender(_missing("lingua"), "same languages", None),
    ]

    result = peers_language.run(CORPORA, per_language=2, contestants=racers)
    text = peers_language.markdown(result)

    measured = result["detectors"][0]["kinds"]["sentences"]
    assert measured["items"] == 2 * len(result["languages"])
    assert "lingua (not installed)" in text
    assert "kinds" not in result["detectors"][1]


# --------------------------------------------------------------------------- quotes


def test_texts_are_compared_with_whitespace_normalized() -> None:
    assert same_text("Hello\r\n\r\n   world \n", "Hello world")
    assert not same_text("Hello world", "Helloworld")
    assert not same_text("Hello world", "Hello world!")


def test_html_cases_compare_visible_text_without_quote_marks_or_whitespace() -> None:
    assert same_visible_html_text("> Hi there,\n> Bob", "Hi there, Bob")
    assert not same_visible_html_text("Hi there, Bob", "Hi there, Rob")


def test_a_tool_that_raises_misses_the_case_and_one_without_html_cannot_take_html() -> None:
    def broken(_text: str, _languages: tuple[str, ...]) -> ReplyParts:
        raise RuntimeError("boom")

    tool = Tool(_missing("broken"), broken, None)
    plain = Case("set", "plain", REPLY, False, lambda _parts: "")
    html = Case("set", "html", "<p>Hi</p>", True, lambda _parts: "")

    assert judge(tool, plain).met is False
    assert "RuntimeError" in judge(tool, plain).why
    assert judge(tool, html).met is None


def test_a_case_with_a_time_limit_is_missed_when_the_tool_exceeds_it() -> None:
    tool = peers_quotes.helpline_tool()
    case = Case("set", "slow", REPLY, False, lambda _parts: "", time_limit_s=0.0)

    verdict = judge(tool, case)

    assert verdict.met is False
    assert "limit" in verdict.why


def test_helpline_splits_the_reply_from_the_quote() -> None:
    tool = peers_quotes.helpline_tool()
    assert tool.plain is not None

    parts = tool.plain(REPLY, ())

    assert parts.reply == "Thanks, that works."
    assert "restarting" in parts.quoted


def test_email_reply_parser_fragments_map_onto_reply_quoted_signature() -> None:
    pytest.importorskip("email_reply_parser", reason="email-reply-parser not installed (.[bench])")
    tool = peers_quotes.email_reply_parser_tool()
    assert tool.plain is not None

    parts = tool.plain(REPLY, ())

    assert parts.reply == "Thanks, that works."
    assert "restarting" in parts.quoted
    assert "restarting" not in parts.reply


def test_mail_parser_reply_replies_map_onto_reply_quoted_signature() -> None:
    pytest.importorskip("mailparser_reply", reason="mail-parser-reply not installed (.[bench])")
    tool = peers_quotes.mail_parser_reply_tool()
    assert tool.plain is not None

    parts = tool.plain(REPLY + "\n", ("en",))

    assert parts.reply == "Thanks, that works."
    assert "restarting" in parts.quoted


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # html5lib, inside talon
def test_talon_keeps_the_reply_and_its_dropped_lines_are_the_quote() -> None:
    pytest.importorskip("talon", reason="talon not installed (.[bench])")
    tool = peers_quotes.talon_tool()
    assert tool.plain is not None and tool.html is not None

    parts = tool.plain(REPLY, ())
    html = tool.html("<p>Thanks</p><blockquote>Could you try restarting it?</blockquote>")

    assert parts.reply == "Thanks, that works."
    assert "restarting" in parts.quoted and "wrote:" in parts.quoted
    assert "Thanks" in html.reply and "restarting" not in html.reply


@needs_corpora
@pytest.mark.corpus
def test_helplines_figures_are_the_quote_corpus_tests_figures() -> None:
    result = peers_quotes.run(
        CORPORA, contestants=[peers_quotes.helpline_tool(), Tool(_missing("talon"), None, None)]
    )
    cells = next(iter(result["figures"].values()))
    text = peers_quotes.markdown(result)

    # tests/unit/test_quotes_corpus.py judges the same cases: 94 talon, 23 email_reply_parser, 33 mpr
    assert cells["talon (plain text)"]["total"] + cells["talon (HTML)"]["total"] == 94
    assert cells["email_reply_parser"]["total"] == 23
    assert cells["mail-parser-reply"]["total"] == 33
    assert "talon (not installed)" in text


# --------------------------------------------------------------------------- MIME


@pytest.mark.skipif(not CPYTHON_DATA.is_dir(), reason=f"CPython mails not found at {CPYTHON_DATA}")
@pytest.mark.corpus
def test_mail_parser_adapter_reads_a_cpython_mail_like_helpline() -> None:
    pytest.importorskip("mailparser", reason="mail-parser not installed (.[bench])")
    parser = peers_mime.mail_parser_parser()
    assert parser.parse is not None
    raw = (CPYTHON_DATA / "msg_01.txt").read_bytes()

    theirs, ours = parser.parse(raw), parse_mail(raw)

    assert theirs.from_ is not None and theirs.from_.email == "bbb@ddd.com"
    assert theirs.subject == ours.subject == "This is a test message"
    assert [a.email for a in theirs.to] == [a.email for a in ours.to] == ["bbb@zzz.org"]
    assert same_text(theirs.text, ours.text)


@pytest.mark.skipif(not CPYTHON_DATA.is_dir(), reason=f"CPython mails not found at {CPYTHON_DATA}")
@pytest.mark.corpus
def test_mail_parser_adapter_decodes_attachments_to_their_bytes() -> None:
    pytest.importorskip("mailparser", reason="mail-parser not installed (.[bench])")
    parser = peers_mime.mail_parser_parser()
    assert parser.parse is not None
    raw = (CPYTHON_DATA / "msg_07.txt").read_bytes()  # a base64 GIF

    theirs, ours = parser.parse(raw), parse_mail(raw)

    gif = next(a for a in theirs.attachments if a.filename == "dingusfish.gif")
    assert gif.content.startswith(b"GIF87a")
    assert hashlib.sha256(gif.content).hexdigest() in {a.sha256 for a in ours.attachments}


@needs_corpora
@pytest.mark.corpus
def test_a_parser_that_raises_is_a_crash_and_misses_every_expectation() -> None:
    def broken(_raw: bytes) -> ParsedMail:
        raise ValueError("cannot parse")

    contestants = [peers_mime.Parser(PeerStatus("broken", "broken", "1.0"), broken)]

    result = peers_mime.run(CORPORA, rounds=1, contestants=contestants)

    figures = result["figures"]["broken 1.0"]
    assert len(figures["zammad"]["crashes"]) == result["zammad_mails"] > 0
    assert sum(figures["met"].values()) == 0
    assert "ValueError" in peers_mime.markdown(result)


# --------------------------------------------------------------------------- common


def test_a_missing_peer_is_not_installed_and_a_broken_one_says_why() -> None:
    missing = peers_common.probe("nothing", "no-such-distribution-for-helpline", "no_such_module")
    broken = peers_common.probe("pytest", "pytest", "no_such_module_for_helpline")

    assert missing.label == "nothing (not installed)" and not missing.usable
    assert broken.version and not broken.usable
    assert "cannot import: ModuleNotFoundError" in broken.label


def test_the_peers_section_replaces_its_old_self_and_keeps_the_rest() -> None:
    old = peers_common.BEGIN + "\nold figures\n" + peers_common.END + "\n"
    document = "# Benchmarks\n\n## email_ingest\n\nfigures\n\n" + old + "\n## Later\n"
    new = peers_common.BEGIN + "\nnew figures\n" + peers_common.END + "\n"

    spliced = peers_common.splice(document, new)

    assert "old figures" not in spliced and "new figures" in spliced
    assert spliced.startswith("# Benchmarks\n\n## email_ingest\n\nfigures\n\n")
    assert spliced.endswith("## Later\n")
    assert peers_common.splice("# Benchmarks\n", new) == "# Benchmarks\n\n" + new


def test_the_reading_says_when_helpline_is_above_the_best_peer_on_confident_wrong() -> None:
    def entry(label: str, sentences: int, words: int) -> dict[str, object]:
        kinds = {
            "sentences": {"items": 100, "confident_wrong": sentences},
            "single-words": {"items": 100, "confident_wrong": words},
        }
        return {"label": label, "kinds": kinds}

    measured = [entry("Helpline 0.1.0", 1, 20), entry("lingua 2.1.1", 1, 0), entry("x 1", 5, 30)]

    sentences, words = peers_language._reading(measured)

    assert "(1.0%) is at or below the best peer's (lingua 2.1.1, 1.0%)" in sentences
    assert "(20.0%) is above the best peer's (lingua 2.1.1, 0.0%)" in words
