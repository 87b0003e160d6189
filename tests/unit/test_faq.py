from __future__ import annotations

from functions.core.chat_settings import FaqEntry
from functions.core.faq import match

FAQ = {
    "en": (
        FaqEntry(
            "Where is my order?", ("order", "tracking", "delivery", "shipped"), "Track it at ..."
        ),
        FaqEntry("How do I get a refund?", ("refund", "money back", "return"), "Refunds take ..."),
    ),
    "es": (
        FaqEntry(
            "¿Dónde está mi pedido?", ("pedido", "envío", "seguimiento"), "Sigue tu pedido ..."
        ),
    ),
    "ja": (FaqEntry("注文はどこですか？", ("注文", "配送状況"), "注文状況は..."),),
}


def test_two_keywords_answer_with_the_right_entry():
    found = match("Hi, where is my order? The tracking page says nothing", "en", FAQ)
    assert found is not None and found.entry.question == "Where is my order?"


def test_one_plain_keyword_is_not_enough_to_answer():
    assert match("I want to change the delivery address for next week", "en", FAQ) is None


def test_a_phrase_keyword_is_strong_evidence():
    found = match("Can I get my money back please", "en", FAQ)
    assert found is not None and found.entry.question == "How do I get a refund?"


def test_keywords_match_whole_words_only():
    assert match("The border of the tracking form is broken", "en", FAQ) is None


def test_accents_and_case_do_not_matter_and_the_locale_chain_is_followed():
    found = match("¿Cuándo llega mi PEDIDO? No veo el envio", "es-MX", FAQ)
    assert found is not None and found.locale == "es"


def test_japanese_is_matched_without_spaces():
    found = match("注文の配送状況を教えてください", "ja", FAQ)
    assert found is not None and found.locale == "ja"


def test_nothing_matches_in_a_locale_without_faq_falls_back_to_default():
    found = match("where is my order, tracking?", "de", FAQ)
    assert found is not None and found.locale == "en"
    assert match("Wo ist meine Bestellung?", "de", FAQ) is None
