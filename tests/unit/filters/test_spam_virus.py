"""15 spam_virus: the receiving service's verdicts decide; infected mail never gets through."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from functions.core.config import DEFAULT_CONFIG_PATH, parse_config
from functions.core.filters import spam_virus
from functions.core.pipeline import Drop

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage


@pytest.mark.parametrize("virus", ["FAIL", "fail"])
def test_virus_fail_is_dropped(
    make_message: MakeMessage, make_context: MakeContext, virus: str
) -> None:
    ctx = make_context(make_message(verdicts=(("spam", "PASS"), ("virus", virus))))

    verdict = spam_virus.run(ctx)

    assert isinstance(verdict, Drop)
    assert verdict.reason == "virus"


def test_virus_wins_over_a_spam_verdict(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(verdicts=(("spam", "FAIL"), ("virus", "FAIL"))))

    verdict = spam_virus.run(ctx)

    assert verdict is not None and verdict.reason == "virus"


def test_spam_fail_is_tagged_not_dropped(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    ctx = make_context(make_message(verdicts=(("spam", "FAIL"), ("virus", "PASS"))))

    assert spam_virus.run(ctx) is None

    assert ctx.findings.spam is True
    assert ctx.findings.tags == ["spam"]


def test_spam_fail_is_quarantined_when_the_config_says_so(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    text = DEFAULT_CONFIG_PATH.read_text(encoding="utf-8")
    strict = parse_config(text.replace("  spam: tag ", "  spam: quarantine "))
    ctx = make_context(make_message(verdicts=(("spam", "FAIL"),)), config=strict)

    verdict = spam_virus.run(ctx)

    assert verdict is not None and verdict.reason == "spam"


@pytest.mark.parametrize(
    "verdicts",
    [
        (),
        (("spam", "PASS"), ("virus", "PASS")),
        (("spam", "GRAY"), ("virus", "PROCESSING_FAILED")),
        (("spf", "FAIL"), ("dkim", "FAIL")),  # failed authentication alone is not spam
    ],
)
def test_clean_or_unknown_verdicts_pass_untouched(
    make_message: MakeMessage, make_context: MakeContext, verdicts: tuple[tuple[str, str], ...]
) -> None:
    ctx = make_context(make_message(verdicts=verdicts))

    assert spam_virus.run(ctx) is None

    assert ctx.findings.spam is False
    assert ctx.findings.tags == []
