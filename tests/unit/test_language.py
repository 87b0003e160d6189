"""LanguageDetector: the supported languages, the same answer every time, and hints for
text too short to tell."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.core.config import load_config
from functions.core.language import LanguageDetector

DEMO = load_config().languages


def _detector(supported: tuple[str, ...] = DEMO.supported, default: str = "en") -> LanguageDetector:
    return LanguageDetector(
        supported, default, min_confidence=DEMO.min_confidence, min_length=DEMO.min_length
    )


@pytest.fixture(scope="module")
def detector() -> LanguageDetector:
    return _detector()


SENTENCES = {
    "en": "Hello, my order has not arrived yet. Can you check where it is, please?",
    "es": "Hola, mi pedido todavía no ha llegado. ¿Pueden comprobar dónde está, por favor?",
    "ru": "Здравствуйте, мой заказ до сих пор не пришёл. Проверьте, пожалуйста, где он.",
    "ar": "مرحبا، لم يصل طلبي بعد. هل يمكنكم التحقق من مكانه من فضلكم؟",
    "ja": "こんにちは、注文した商品がまだ届いていません。どこにあるか確認していただけますか？",
    "fr": "Bonjour, ma commande n'est toujours pas arrivée. Pouvez-vous vérifier où elle est ?",
    "de": "Hallo, meine Bestellung ist noch nicht angekommen. Können Sie bitte nachsehen?",
}


@pytest.mark.parametrize(("expected", "text"), SENTENCES.items(), ids=list(SENTENCES))
def test_a_sentence_is_detected(detector: LanguageDetector, expected: str, text: str) -> None:
    detection = detector.detect(text)

    assert detection.language == expected
    assert detection.source == "text"
    assert detection.confidence >= DEMO.min_confidence


def test_a_clear_sentence_beats_a_hint(detector: LanguageDetector) -> None:
    detection = detector.detect(SENTENCES["ru"], ["en"])

    assert (detection.language, detection.source) == ("ru", "text")


@pytest.mark.parametrize(
    "text",
    [
        "Dank je wel",  # Dutch: not supported, so the detector has to guess between others
        "ok",
        "Merci, obrigado, gracias, danke, thanks",
        SENTENCES["es"] + " " + SENTENCES["en"],
    ],
)
def test_the_same_text_always_gets_the_same_answer(text: str) -> None:
    first, second = _detector(), _detector()

    answers = {first.detect(text), first.detect(text), second.detect(text)}
    probabilities = {tuple(first.probabilities(text)), tuple(second.probabilities(text))}

    assert len(answers) == 1
    assert len(probabilities) == 1


@pytest.mark.parametrize(
    ("text", "hint", "expected"),
    [
        ("ok thanks bye", "es", "es"),
        ("Muchas gracias amigo", "pt-BR", "pt"),
        ("Спасибо большое", "ar", "ar"),
        ("merci beaucoup", "DE", "de"),
        ("thank you", "ja_JP", "ja"),
    ],
)
def test_a_hint_wins_on_a_three_word_text(
    detector: LanguageDetector, text: str, hint: str, expected: str
) -> None:
    detection = detector.detect(text, [hint])

    assert (detection.language, detection.source) == (expected, "hint")


@pytest.mark.parametrize("word", ["Bonjour", "Danke", "obrigado", "Gracias", "Hello", "Спасибо"])
def test_a_single_word_without_a_hint_is_never_a_confident_answer(
    detector: LanguageDetector, word: str
) -> None:
    # langdetect gives single words probabilities near 1 and is wrong on a fifth of them
    detection = detector.detect(word)

    assert detection.source in ("guess", "default")
    assert detection.confidence < detector.min_confidence


def test_the_first_supported_hint_is_used(detector: LanguageDetector) -> None:
    detection = detector.detect("ok", [None, "it", "", "ru", "es"])

    assert detection.language == "ru"


def test_no_text_and_no_hint_gives_the_default() -> None:
    detection = _detector(default="es").detect("  123 456 :-) ")

    assert (detection.language, detection.source) == ("es", "default")


@pytest.mark.parametrize(
    "text",
    [
        SENTENCES["ru"],
        "Ciao, il mio ordine non è ancora arrivato. Potete controllare dove si trova?",
        "你好，我的订单还没有到。你们能帮我查一下吗？",
    ],
)
def test_a_language_outside_supported_is_never_returned(text: str) -> None:
    detector = _detector(supported=("en", "es"))

    assert detector.detect(text).language in ("en", "es")
    assert detector.detect(text, ["ru", "it", "zh"]).language in ("en", "es")


_ANY_TEXT_DETECTOR = _detector()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.text(max_size=80), hint=st.one_of(st.none(), st.text(max_size=8)))
def test_any_text_gets_a_supported_language(text: str, hint: str | None) -> None:
    detection = _ANY_TEXT_DETECTOR.detect(text, [hint])

    assert detection.language in DEMO.supported
