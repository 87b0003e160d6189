"""10 trust: headers only Helpline may set are removed before any other filter reads them.

Also the pipeline's filter list itself: numbered, ordered, one entry per filter module.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import TYPE_CHECKING

from functions.core import pipeline
from functions.core.filters import trust

if TYPE_CHECKING:
    from .conftest import MakeContext, MakeMessage

FILTERS_DIR = Path(pipeline.__file__).resolve().parent / "filters"


def test_helpline_headers_are_stripped_and_noted(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    message = make_message(
        headers=(
            ("From", "Ana <ana@example.com>"),
            ("X-Helpline-Priority", "urgent"),
            ("Subject", "Question about my order"),
            ("x-helpline-team", "arabic"),
            ("X-Helpline-Priority", "urgent"),
        )
    )
    ctx = make_context(message)

    assert trust.run(ctx) is None

    assert ctx.message.header("X-Helpline-Priority") is None
    assert ctx.message.header("X-Helpline-Team") is None
    assert ctx.message.headers == (
        ("From", "Ana <ana@example.com>"),
        ("Subject", "Question about my order"),
    )
    assert ctx.findings.stripped_headers == ["X-Helpline-Priority", "x-helpline-team"]


def test_other_headers_are_kept_untouched(
    make_message: MakeMessage, make_context: MakeContext
) -> None:
    headers = (
        ("X-Helpdesk-Priority", "urgent"),  # someone else's helpdesk, not ours
        ("X-Help", "me"),
        ("X-Mailer", "Helpline-Fan 1.0"),
    )
    message = make_message(headers=headers)
    ctx = make_context(message)

    trust.run(ctx)

    assert ctx.message.headers == headers
    assert ctx.findings.stripped_headers == []


def test_filters_are_numbered_in_strictly_increasing_order() -> None:
    numbers = [number for number, _, _ in pipeline.filters()]
    assert numbers == sorted(set(numbers))
    assert len(numbers) == len(set(numbers))


def test_every_filter_module_is_in_the_pipeline_once() -> None:
    modules = sorted(
        path.stem for path in FILTERS_DIR.glob("*.py") if not path.stem.startswith("_")
    )
    names = [name for _, name, _ in pipeline.filters()]
    assert sorted(names) == modules
    assert len(names) == len(set(names))


def test_each_entry_runs_its_own_module_and_matches_its_docstring_number() -> None:
    for number, name, run in pipeline.filters():
        module = importlib.import_module(f"functions.core.filters.{name}")
        assert run is module.run, name
        header = re.match(r"(\d+) (\w+):", module.__doc__ or "")
        assert header is not None, f"{name}: docstring should start '<number> {name}:'"
        assert (int(header.group(1)), header.group(2)) == (number, name)
