"""Reply splitting and HTML under hostile input: the reply parsers' own fixtures edited
at random, arbitrary text, and text built from the markers the splitter looks for.
Neither module may raise at all, and sanitized HTML never keeps a script."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.support import FAST, MANY, check, mutated, token_soup


@MANY
@given(raw=mutated("quotes"))
def test_edited_real_replies_split(raw: bytes) -> None:
    check("quotes", raw)


@MANY
@given(raw=token_soup("quotes", max_size=80))
def test_text_built_from_quote_markers_splits(raw: bytes) -> None:
    check("quotes", raw)


@FAST
@given(text=st.text(max_size=2000))
def test_any_text_splits(text: str) -> None:
    check("quotes", text.encode("utf-8", "surrogatepass"))


@FAST
@given(raw=mutated("html", most=6))
def test_edited_real_html_is_sanitized_and_read(raw: bytes) -> None:
    check("html", raw)


@FAST
@given(raw=token_soup("html", max_size=50))
def test_html_built_from_quote_markup_is_sanitized_and_read(raw: bytes) -> None:
    check("html", raw)
