"""Bot answers from a small FAQ per locale: answer only when confident.

A wrong bot answer is worse than none (the customer waits for a person either way),
so a match needs evidence: at least two of the entry's keywords in the message, or
one keyword that is a phrase of several words, or the message being nearly the
question itself. Keywords match whole words, case- and accent-insensitively, so
"pedido" matches "¿Dónde está mi pedido?" but "order" does not match "border".
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from functions.core.chat_settings import FaqEntry
from functions.core.localize import locale_chain

_WORD = re.compile(r"\w+", re.UNICODE)


@dataclass(frozen=True, slots=True)
class FaqMatch:
    entry: FaqEntry
    locale: str
    score: float
    matched: tuple[str, ...]


def _fold(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _words(value: str) -> list[str]:
    return _WORD.findall(_fold(value))


def _contains(words: Sequence[str], phrase: Sequence[str]) -> bool:
    if not phrase:
        return False
    width = len(phrase)
    return any(list(words[i : i + width]) == list(phrase) for i in range(len(words) - width + 1))


def _is_cjk(value: str) -> bool:
    return any("\u3040" <= c <= "\u30ff" or "\u4e00" <= c <= "\u9fff" for c in value)


def match(
    text: str, locale: str | None, faq: Mapping[str, Sequence[FaqEntry]], *, default: str = "en"
) -> FaqMatch | None:
    """The confident answer for `text` in the customer's locale, or None."""
    text = text[:2000]
    words = _words(text)
    folded_text = _fold(text)
    question_words = set(words)
    for candidate in locale_chain(locale, default):
        entries = faq.get(candidate)
        if not entries:
            continue
        best: FaqMatch | None = None
        for entry in entries:
            matched = []
            strong = False
            for keyword in entry.keywords:
                phrase = _words(keyword)
                # Japanese and Chinese are written without spaces: substring match there
                found = (
                    _fold(keyword) in folded_text if _is_cjk(keyword) else _contains(words, phrase)
                )
                if found:
                    matched.append(keyword)
                    strong = strong or len(phrase) > 1 or (_is_cjk(keyword) and len(keyword) >= 3)
            entry_words = set(_words(entry.question))
            overlap = len(entry_words & question_words) / len(entry_words) if entry_words else 0.0
            confident = len(matched) >= 2 or strong or overlap >= 0.8
            if not confident:
                continue
            score = len(matched) + overlap
            if best is None or score > best.score:
                best = FaqMatch(entry, candidate, score, tuple(matched))
        return best
    return None
