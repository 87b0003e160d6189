"""Language detection: langdetect restricted to the languages we support, plus hints.

Only the configured languages' profiles are loaded (on first use, so a cold start that
never detects pays nothing), the detector is seeded so the same text always gives the
same answer, and the text should already be quote- and signature-stripped. Short or
unsure text yields to hints: the customer's last language, the widget or platform
locale, a Content-Language header. Without a hint, short text (under `min_length`
letters) is given its best guess with a confidence scaled down by its length, always
below `min_confidence`: source "guess", shown as such on the ticket's events.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# our code -> langdetect profile names (langdetect splits Chinese in two)
_PROFILE_NAMES = {"zh": ("zh-cn", "zh-tw"), "nb": ("no",), "he": ("he",)}
# what is not language: links, addresses, handles, numbers, markup. Every branch is
# linear: an address's parts are bounded (RFC 5321: 64 and 255), so a long run without
# spaces (Japanese, Chinese) is not rescanned from each of its characters
_NOISE = re.compile(
    r"https?://\S+|www\.\S+|[^\s@]{1,64}@\S{1,255}|[#@]\w+|\d[\d\s.,:/-]*|[_*=~|<>\[\](){}]+",
    re.UNICODE,
)
SAMPLE_CHARS = 4000  # enough text for a sure answer; keeps the time bounded


@dataclass(frozen=True, slots=True)
class Detection:
    language: str
    confidence: float  # the detector's probability, or 0 when a hint or default decided
    source: str  # "text", "guess" (short text), "hint" or "default"


def base_language(code: str | None) -> str | None:
    if not code:
        return None
    return code.replace("_", "-").lower().split("-")[0] or None


class LanguageDetector:
    def __init__(
        self,
        supported: Sequence[str],
        default: str,
        *,
        min_confidence: float = 0.9,
        min_length: int = 24,
        seed: int = 0,
    ) -> None:
        self.supported = tuple(dict.fromkeys(code.lower() for code in supported))
        self.default = default
        self.min_confidence = min_confidence
        self.min_length = min_length
        self.seed = seed
        self._factory: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        with self._lock:
            if self._factory is None:
                import langdetect
                from langdetect.detector_factory import DetectorFactory

                directory = Path(langdetect.__file__).parent / "profiles"
                profiles = []
                for code in self.supported:
                    for name in _PROFILE_NAMES.get(base_language(code) or code, (code,)):
                        path = directory / name
                        if path.is_file():
                            profiles.append(path.read_text(encoding="utf-8"))
                factory = DetectorFactory()
                factory.seed = self.seed
                if len(profiles) >= 2:
                    factory.load_json_profile(profiles)
                    self._factory = factory
                else:
                    self._factory = False  # one language or none detectable: nothing to detect
            return self._factory

    def _profile_to_code(self, name: str) -> str | None:
        base = "zh" if name.startswith("zh") else ("nb" if name == "no" else name)
        for code in self.supported:
            if code == name or base_language(code) == base:
                return code
        return None

    def probabilities(self, text: str) -> list[tuple[str, float]]:
        """Supported languages with their probability for this text, best first."""
        # the first few thousand characters decide: clean a generous window, not the
        # whole of a 40 MB mail
        cleaned = _NOISE.sub(" ", text[: SAMPLE_CHARS * 4]).strip()
        if not cleaned:
            return []
        factory = self._load()
        if not factory:
            return [(self.supported[0], 1.0)] if self.supported and cleaned else []
        from langdetect.lang_detect_exception import LangDetectException

        detector = factory.create()
        detector.append(cleaned[:SAMPLE_CHARS])
        try:
            found = detector.get_probabilities()
        except LangDetectException:
            return []
        merged: dict[str, float] = {}
        for item in found:
            code = self._profile_to_code(item.lang)
            if code:
                merged[code] = merged.get(code, 0.0) + float(item.prob)
        return sorted(merged.items(), key=lambda pair: pair[1], reverse=True)

    def supported_hint(self, hints: Iterable[str | None]) -> str | None:
        for hint in hints:
            if not hint:
                continue
            wanted = hint.replace("_", "-").lower()
            if wanted in self.supported:
                return wanted
            base = base_language(wanted)
            for code in self.supported:
                if base_language(code) == base:
                    return code
        return None

    def detect(self, text: str, hints: Iterable[str | None] = ()) -> Detection:
        hint = self.supported_hint(hints)
        letters = sum(1 for ch in text if ch.isalpha())
        guesses = self.probabilities(text) if letters else []
        if guesses:
            best, probability = guesses[0]
            long_enough = letters >= self.min_length
            if long_enough and probability >= self.min_confidence:
                return Detection(best, probability, "text")
            if hint is not None:
                return Detection(hint, 0.0, "hint")
            if probability >= 0.5 and long_enough:
                return Detection(best, probability, "text")
            if probability >= 0.5:
                # a word or two: langdetect is sure of itself and often wrong, so the best
                # guess is kept but marked unsure (below min_confidence), and yields to the
                # ticket's language on a follow-up
                scaled = probability * letters / self.min_length
                return Detection(best, min(scaled, self.min_confidence * 0.99), "guess")
        if hint is not None:
            return Detection(hint, 0.0, "hint")
        return Detection(self.default, 0.0, "default")
