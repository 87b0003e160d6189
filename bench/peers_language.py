"""Language detection side by side, on lingua-py's test sentences and single words.

Detectors, all in one process on the same items:

* Helpline: `functions.core.language.LanguageDetector` built from the demo config's
  `languages` (supported, default, min_confidence, min_length), as the pipeline builds it.
  In the pipeline it also weighs hints (the customer's last language, a locale, a
  ticket's language); here it gets the text only, no hints.
* langdetect with all its profiles, seeded (the library as most projects use it).
* lingua-language-detector restricted to the same languages, high-accuracy mode (its default).

Items: lingua-py's `language-testdata/{sentences,single-words}/<code>.txt` for every
supported language lingua has, the first `per_language` lines of each file. The truth
is the file's language.

Per detector and kind of item:

* accuracy: the language the detector gave is the truth (whatever its confidence). An
  item the detector gave no language for is not right. Helpline's "cannot tell" answer
  (source `default`: the default language with confidence 0) counts as no language,
  so it is never right, even on English text where the default happens to match.
* confident wrong: another language than the truth, and the detector does not say it
  is unsure, i.e. the confidence it reports is at least the config's min_confidence.
  That message goes to the wrong team.
* unsure: no language, Helpline's default, or a confidence below min_confidence.
* time per item: each call timed alone; the detectors take turns going first, item by
  item. Loading models or profiles happens before, in a warm-up pass that is timed
  separately ("load").
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.peers_common import (
    COMMAND,
    PeerStatus,
    helpline_status,
    percent,
    probe,
    rotated,
    table,
    timed,
)

KINDS = ("sentences", "single-words")
KIND_TITLES = {"sentences": "sentences", "single-words": "single words"}
DEFAULT_PER_LANGUAGE = 500


@dataclass(frozen=True, slots=True)
class Answer:
    language: str | None  # None: the detector gave no language from the text
    confidence: float  # what the detector reports for that language (0 when none)


Detect = Callable[[str], Answer]


@dataclass(frozen=True, slots=True)
class Contender:
    status: PeerStatus
    setup: str  # how it was configured, for the table
    detect: Detect | None  # None when it cannot be measured


@dataclass(frozen=True, slots=True)
class Score:
    items: int
    right: int
    confident_wrong: int
    unsure: int


def outcome(answer: Answer, truth: str, min_confidence: float) -> tuple[bool, bool, bool]:
    """(right, confident wrong, unsure) for one answer."""
    if answer.language is None:
        return False, False, True
    sure = answer.confidence >= min_confidence
    right = answer.language == truth
    return right, (not right) and sure, not sure


def score(answers: Sequence[tuple[Answer, str]], min_confidence: float) -> Score:
    """Tally (answer, truth) pairs by the definitions in the module docstring."""
    right = wrong = unsure = 0
    for answer, truth in answers:
        is_right, is_confident_wrong, is_unsure = outcome(answer, truth, min_confidence)
        right += is_right
        wrong += is_confident_wrong
        unsure += is_unsure
    return Score(len(answers), right, wrong, unsure)


# --------------------------------------------------------------------------- detectors


def helpline_detect(
    supported: Sequence[str],
    default: str,
    *,
    min_confidence: float,
    min_length: int,
) -> Detect:
    from functions.core.language import LanguageDetector

    detector = LanguageDetector(
        supported, default, min_confidence=min_confidence, min_length=min_length
    )

    def detect(text: str) -> Answer:
        found = detector.detect(text)  # text only: no hints
        if found.source == "default":
            return Answer(None, 0.0)  # it said it cannot tell and fell back to the default
        # "text", or "guess" (short text: its best guess, with a confidence it scaled down)
        return Answer(found.language, found.confidence)

    return detect


def langdetect_detect(seed: int = 0) -> Detect:
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory
    from langdetect.lang_detect_exception import LangDetectException

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)  # every profile it ships
    factory.seed = seed

    def detect(text: str) -> Answer:
        detector = factory.create()
        detector.append(text)
        try:
            found = detector.get_probabilities()
        except LangDetectException:  # no features in the text
            return Answer(None, 0.0)
        if not found:
            return Answer(None, 0.0)
        best = found[0]
        return Answer(str(best.lang).split("-")[0], float(best.prob))  # zh-cn -> zh

    return detect


def lingua_detect(supported: Sequence[str]) -> Detect:
    from lingua import IsoCode639_1, LanguageDetectorBuilder

    codes = [getattr(IsoCode639_1, code.upper()) for code in supported]
    detector = LanguageDetectorBuilder.from_iso_codes_639_1(*codes).build()

    def detect(text: str) -> Answer:
        values = detector.compute_language_confidence_values(text)
        if not values or values[0].value <= 0:
            return Answer(None, 0.0)
        best = values[0]
        return Answer(best.language.iso_code_639_1.name.lower(), float(best.value))

    return detect


def lingua_codes() -> set[str]:
    from lingua import Language

    return {language.iso_code_639_1.name.lower() for language in Language.all()}


def contenders(
    supported: Sequence[str], default: str, min_confidence: float, min_length: int
) -> list[Contender]:
    """Helpline and the peers, each built the way the module docstring says."""
    found = [
        Contender(
            helpline_status(),
            f"demo config: {len(supported)} languages, min_confidence {min_confidence:g}, "
            f"min_length {min_length}; text only, no hints",
            helpline_detect(
                supported, default, min_confidence=min_confidence, min_length=min_length
            ),
        )
    ]
    langdetect = probe("langdetect", "langdetect", "langdetect")
    found.append(
        Contender(
            langdetect,
            "all profiles, seed 0",
            langdetect_detect() if langdetect.usable else None,
        )
    )
    lingua = probe("lingua", "lingua-language-detector", "lingua")
    usable = [code for code in supported if lingua.usable and code in lingua_codes()]
    found.append(
        Contender(
            lingua,
            f"restricted to the same {len(usable) or len(supported)} languages, high accuracy",
            lingua_detect(usable) if lingua.usable else None,
        )
    )
    return found


# --------------------------------------------------------------------------- data


def load_items(
    corpora: Path, languages: Sequence[str], per_language: int
) -> dict[str, list[tuple[str, str]]]:
    """(text, truth) per kind: the first `per_language` non-blank lines of each file."""
    base = corpora / "lingua-py" / "language-testdata"
    items: dict[str, list[tuple[str, str]]] = {}
    for kind in KINDS:
        rows: list[tuple[str, str]] = []
        for code in languages:
            path = base / kind / f"{code}.txt"
            if not path.is_file():
                continue
            lines = [line.strip() for line in path.read_text(encoding="utf-8").splitlines()]
            rows += [(line, code) for line in lines if line][:per_language]
        items[kind] = rows
    return items


# --------------------------------------------------------------------------- run


def run(
    corpora: Path,
    *,
    per_language: int = DEFAULT_PER_LANGUAGE,
    config_path: Path | None = None,
    contestants: Sequence[Contender] | None = None,
) -> dict[str, Any]:
    """Every detector on the same items, alternating; figures by kind and by language."""
    from functions.core.config import load_config

    languages_config = load_config(config_path).languages
    supported = list(languages_config.supported)
    min_confidence = languages_config.min_confidence
    base = corpora / "lingua-py" / "language-testdata"
    tested = [code for code in supported if (base / "sentences" / f"{code}.txt").is_file()]
    items = load_items(corpora, tested, per_language)
    racers = (
        list(contestants)
        if contestants is not None
        else contenders(
            supported, languages_config.default, min_confidence, languages_config.min_length
        )
    )
    live = [(index, racer) for index, racer in enumerate(racers) if racer.detect is not None]

    load_ms: dict[int, float] = {}
    # one item of every language and kind: lingua loads a language's models on first use
    first_items = list(
        {(kind, truth): text for kind in KINDS for text, truth in items[kind]}.values()
    )
    for index, racer in live:
        assert racer.detect is not None
        start = time.perf_counter()
        for text in first_items:
            racer.detect(text)
        load_ms[index] = (time.perf_counter() - start) * 1000

    answers: dict[int, dict[str, list[tuple[Answer, str]]]] = {
        i: {k: [] for k in KINDS} for i, _ in live
    }
    spent_ns: dict[int, dict[str, int]] = {i: dict.fromkeys(KINDS, 0) for i, _ in live}
    failures: dict[int, int] = dict.fromkeys(load_ms, 0)
    for kind in KINDS:
        for turn, (text, truth) in enumerate(items[kind]):
            for index, racer in rotated(live, turn):
                assert racer.detect is not None
                result = timed(racer.detect, text)
                spent_ns[index][kind] += result.ns
                if result.error is not None:
                    failures[index] += 1
                    answer = Answer(None, 0.0)
                else:
                    answer = result.value
                answers[index][kind].append((answer, truth))

    detectors: list[dict[str, Any]] = []
    for index, racer in enumerate(racers):
        entry: dict[str, Any] = {"label": racer.status.label, "setup": racer.setup}
        if racer.detect is not None:
            entry["load_ms"] = load_ms[index]
            entry["errors"] = failures[index]
            entry["kinds"] = {}
            entry["by_language"] = {}
            for kind in KINDS:
                pairs = answers[index][kind]
                total = score(pairs, min_confidence)
                entry["kinds"][kind] = {
                    **_as_dict(total),
                    "us_per_item": spent_ns[index][kind] / 1000 / max(len(pairs), 1),
                }
                entry["by_language"][kind] = {
                    code: _as_dict(score([p for p in pairs if p[1] == code], min_confidence))
                    for code in tested
                }
        detectors.append(entry)
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "languages": tested,
        "supported": supported,
        "min_confidence": min_confidence,
        "per_language": per_language,
        "items": {kind: len(rows) for kind, rows in items.items()},
        "items_by_language": {
            kind: {code: sum(1 for _, t in rows if t == code) for code in tested}
            for kind, rows in items.items()
        },
        "detectors": detectors,
    }


def _as_dict(total: Score) -> dict[str, int]:
    return {
        "items": total.items,
        "right": total.right,
        "confident_wrong": total.confident_wrong,
        "unsure": total.unsure,
    }


# --------------------------------------------------------------------------- report


def markdown(result: dict[str, Any]) -> str:
    languages = ", ".join(result["languages"])
    counts = result["items_by_language"]
    short = [
        f"{code} {counts[kind][code]} {KIND_TITLES[kind]}"
        for kind in KINDS
        for code in result["languages"]
        if counts[kind][code] < result["per_language"]
    ]
    fewer = f" (fewer where the file is shorter: {', '.join(short)})" if short else ""
    n = result["per_language"]
    lines = [
        "## Peers: language detection",
        "",
        f"`{COMMAND}` (`bench/peers_language.py`), {result['date']}.",
        "",
        f"Data: lingua-py's `language-testdata` for the demo config's languages ({languages}),",
        f"the first {n} sentences and the first {n} single words of each language{fewer}:",
        f"{result['items']['sentences']} sentences and {result['items']['single-words']} words. "
        "The file's language is the truth.",
        "Every detector reads every item in the same run, the detectors taking turns to go first.",
        "",
        f"- **confident wrong**: a language other than the truth, reported with a confidence of at "
        f"least {result['min_confidence']:g}",
        "  (the config's `min_confidence`): the detector does not say it is unsure, and the",
        "  message goes to the wrong team. **unsure**: no language, or a lower confidence.",
        "- **accuracy**: the language given is the truth, whatever its confidence. Helpline's",
        '  "cannot tell" answer (the default language, confidence 0) counts as unsure and never',
        "  as right, even on English items where the default is English.",
        "- Helpline is measured on the text alone, without hints. In the pipeline a hint (the",
        "  customer's last language, a widget or platform locale, the ticket's language), when",
        "  there is one, decides every text that is short (under `min_length` letters) or unsure.",
        "",
    ]
    for kind in KINDS:
        rows = []
        for entry in result["detectors"]:
            if "kinds" not in entry:
                rows.append([entry["label"], entry["setup"], "–", "–", "–", "–"])
                continue
            figures = entry["kinds"][kind]
            rows.append(
                [
                    entry["label"],
                    entry["setup"],
                    percent(figures["right"], figures["items"]),
                    f"**{percent(figures['confident_wrong'], figures['items'])}**",
                    percent(figures["unsure"], figures["items"]),
                    f"{figures['us_per_item']:.0f}",
                ]
            )
        lines += [f"**{KIND_TITLES[kind].capitalize()}** ({result['items'][kind]} items)", ""]
        lines += table(
            ["detector", "set up", "accuracy", "confident wrong", "unsure", "µs per item"],
            rows,
            first_left=2,
        )
        lines.append("")

    measured = [e for e in result["detectors"] if "kinds" in e]
    lines += [
        "Confident wrong by language (sentences / single words):",
        "",
    ]
    rows = []
    for code in result["languages"]:
        row = [code]
        for entry in measured:
            cells = []
            for kind in KINDS:
                figures = entry["by_language"][kind][code]
                cells.append(percent(figures["confident_wrong"], figures["items"]))
            row.append(" / ".join(cells))
        rows.append(row)
    lines += table(["language", *[e["label"] for e in measured]], rows)
    lines += [
        "",
        "Load (first call per detector, models or profiles read): "
        + ", ".join(f"{e['label']} {e['load_ms']:.0f} ms" for e in measured)
        + ".",
    ]
    errors = [f"{e['label']} raised on {e['errors']} items" for e in measured if e["errors"]]
    if errors:
        lines.append("Errors (counted as no language): " + "; ".join(errors) + ".")
    lines += ["", *_reading(measured)]
    return "\n".join(lines) + "\n"


def _reading(measured: list[dict[str, Any]]) -> list[str]:
    """Helpline's confident-wrong share against the best measured peer's, per kind."""
    ours = next((e for e in measured if e["label"].startswith("Helpline")), None)
    peers = [e for e in measured if e is not ours]
    if ours is None or not peers:
        return ["No peer measured: nothing to compare Helpline's figures with."]
    lines = []
    for kind in KINDS:
        best = min(peers, key=lambda entry: _confident_wrong_share(entry, kind))
        mine, theirs = _confident_wrong_share(ours, kind), _confident_wrong_share(best, kind)
        verdict = "at or below" if mine <= theirs else "above"
        lines.append(
            f"- {KIND_TITLES[kind].capitalize()}: Helpline's confident-wrong share "
            f"({100 * mine:.1f}%) is {verdict} the best peer's ({best['label']}, {100 * theirs:.1f}%)."
        )
    return lines


def _confident_wrong_share(entry: dict[str, Any], kind: str) -> float:
    figures = entry["kinds"][kind]
    return int(figures["confident_wrong"]) / max(int(figures["items"]), 1)
