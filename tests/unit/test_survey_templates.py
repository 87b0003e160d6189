"""The survey templates: complete in every language, safe, accessible, right to left in Arabic.

Rendered through the real TemplateRenderer (purpose "survey"), with the choice labels
read from the `<kind>_choices` templates and the links built by functions.core.surveys,
as the survey function does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Any

import pytest

from functions.core.config import DEFAULT_TEMPLATES_DIR, Brand
from functions.core.localize import SUPPORTED_LOCALES
from functions.core.replies import RenderedReply, TemplateRenderer
from functions.core.surveys import MAX_CHOICE_LABEL, SCORES, parse_choices, survey_links

RENDERER = TemplateRenderer(DEFAULT_TEMPLATES_DIR)
DIRECTORY = DEFAULT_TEMPLATES_DIR / "survey"
BRAND = Brand(
    name="Acme",
    support_address="help@acme.example",
    from_name="Acme Support",
    message_id_domain="acme.example",
    website="https://acme.example",
)
BASE = "https://support.acme.example"
TOKEN = "eyJhdWQiOiJzdXJ2ZXkifQ.c2lnbmF0dXJl"
TICKET_TOKEN = "[#K7Q2M4XD9A]"
EMAILS = ("csat", "nps")
MESSAGING = ("csat_question", "nps_question", "csat_choices", "nps_choices")
PAGES = ("page_thanks", "page_comment_saved", "page_invalid")
HOSTILE_NAME = 'Jane <script>alert("name")</script>'
HOSTILE_SUBJECT = "<img src=x onerror=alert(1)> & more"
HOSTILE_COMMENT = '<b>great</b> <a href="https://evil.example">click</a>'


def _choices(kind: str, locale: str) -> list[dict[str, Any]]:
    rendered = RENDERER.render("survey", f"{kind}_choices", locale, {})
    return survey_links(BASE, TOKEN, parse_choices(kind, rendered.text))


def _email_vars(kind: str, locale: str, **changes: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "links": _choices(kind, locale),
        "comment_url": f"{BASE}/survey/{TOKEN}",
        "brand": BRAND,
        "customer_name": "Jane Doe",
        "ticket_id": "K7Q2M4XD9A",
        "ticket_token": TICKET_TOKEN,
        "subject": "Printer on fire",
    }
    variables.update(changes)
    return variables


def _page_vars(kind: str, locale: str, **changes: Any) -> dict[str, Any]:
    variables: dict[str, Any] = {
        "brand": BRAND,
        "kind": kind,
        "score": 4 if kind == "csat" else 9,
        "links": _choices(kind, locale),
        "comment_action": f"{BASE}/survey/{TOKEN}/comment",
        "comment": "",
        "comment_max_chars": 5000,
        "comment_error": None,
        "reason": "expired",
    }
    variables.update(changes)
    return variables


def _render(name: str, locale: str, variables: dict[str, Any]) -> RenderedReply:
    rendered = RENDERER.render("survey", name, locale, variables)
    assert rendered.locale == locale, "no silent fallback to another language"
    return rendered


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[_Element] = field(default_factory=list)

    def all(self, tag: str) -> list[_Element]:
        found = [c for c in self.children if c.tag == tag]
        for child in self.children:
            found.extend(child.all(tag))
        return found

    def full_text(self) -> str:
        return self.text + "".join(c.full_text() for c in self.children)

    def by_id(self, wanted: str) -> _Element:
        for element in self.all_elements():
            if element.attrs.get("id") == wanted:
                return element
        raise AssertionError(f"no element with id {wanted!r}")

    def all_elements(self) -> list[_Element]:
        found = list(self.children)
        for child in self.children:
            found.extend(child.all_elements())
        return found


class _Tree(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {})
        self.stack = [self.root]
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        if self.stack[-1].tag != tag:
            self.errors.append(f"</{tag}> closes <{self.stack[-1].tag}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].text += data


def _parse(html: str) -> _Element:
    tree = _Tree()
    tree.feed(html)
    tree.close()
    assert tree.errors == []
    assert [e.tag for e in tree.stack] == ["#root"], "every element is closed"
    return tree.root


def _clean(rendered: RenderedReply) -> None:
    for part in (rendered.subject, rendered.text, rendered.html or ""):
        assert "{{" not in part
        assert "{%" not in part
        assert "None" not in part
        assert "Undefined" not in part
        assert not re.search(r"[ \t]+$", part, re.MULTILINE), "trailing whitespace"
    assert rendered.subject.strip()
    assert rendered.text.strip()


# --- completeness ------------------------------------------------------------------------------


def _expected_files() -> set[str]:
    names = set()
    for locale in SUPPORTED_LOCALES:
        for name in EMAILS + PAGES:
            names |= {f"{name}.{locale}.{ext}.j2" for ext in ("subject", "txt", "html")}
        for name in MESSAGING:
            names |= {f"{name}.{locale}.{ext}.j2" for ext in ("subject", "txt")}
    return names


def test_every_template_exists_and_nothing_else() -> None:
    found = {p.name for p in DIRECTORY.iterdir() if not p.name.startswith("_")}
    assert found == _expected_files()


# --- emails ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", EMAILS)
@pytest.mark.parametrize("variant", ["full", "no name or subject"])
def test_survey_emails_render(kind: str, locale: str, variant: str) -> None:
    changes = {"customer_name": "", "subject": ""} if variant != "full" else {}
    variables = _email_vars(kind, locale, **changes)
    rendered = _render(kind, locale, variables)
    _clean(rendered)
    assert rendered.html is not None
    links = variables["links"]

    # plain text: every one-click link, the comment page and the ticket
    for link in links:
        assert link["url"] in rendered.text
        assert link["label"] in rendered.text
    assert variables["comment_url"] in rendered.text
    if variant == "full":
        assert "Jane Doe" in rendered.text
    else:
        assert "Jane" not in rendered.text

    root = _parse(rendered.html)
    html = root.all("html")[0]
    assert html.attrs["lang"] == locale
    assert html.attrs["dir"] == ("rtl" if locale == "ar" else "ltr")
    anchors = {a.attrs["href"]: a for a in root.all("a")}
    assert variables["comment_url"] in anchors
    for link in links:
        anchor = anchors[link["url"]]
        visible = " ".join(anchor.full_text().split())
        if kind == "csat":
            # the words are in the link itself, not only a number
            assert link["label"] in visible
            assert visible.startswith(str(link["score"]))
        else:
            assert visible == str(link["score"])
            assert anchor.attrs["aria-label"] == link["label"]
            assert not link["label"].isdigit(), "an NPS choice is named in words"
    assert TICKET_TOKEN in root.full_text() or variant != "full"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", EMAILS)
def test_html_in_email_variables_is_escaped(kind: str, locale: str) -> None:
    variables = _email_vars(kind, locale, customer_name=HOSTILE_NAME, subject=HOSTILE_SUBJECT)
    rendered = _render(kind, locale, variables)
    assert rendered.html is not None

    root = _parse(rendered.html)
    assert root.all("script") == []
    assert root.all("img") == []
    text = root.full_text()
    assert HOSTILE_NAME in text
    if kind == "csat":
        assert HOSTILE_SUBJECT in text


def test_the_arabic_token_keeps_its_order_inside_right_to_left_text() -> None:
    rendered = _render("csat", "ar", _email_vars("csat", "ar"))
    assert f"\u200e{TICKET_TOKEN}\u200e" in rendered.text
    assert rendered.html is not None
    assert f'<span dir="ltr">{TICKET_TOKEN}</span>' in rendered.html


def test_japanese_mail_without_a_name_has_no_empty_salutation() -> None:
    rendered = _render("csat", "ja", _email_vars("csat", "ja", customer_name=""))
    assert "様" not in rendered.text
    assert rendered.html is not None
    assert "様" not in rendered.html


@pytest.mark.parametrize("name", ["csat", "nps", "page_thanks", "page_invalid"])
def test_french_punctuation_takes_a_no_break_space(name: str) -> None:
    variables = _email_vars("csat", "fr") if name in EMAILS else _page_vars("csat", "fr")
    rendered = _render(name, "fr", variables)
    # (not the subject: the renderer collapses every whitespace there, no-break ones too)
    for part in (rendered.text, rendered.html or ""):
        without_urls = re.sub(r"https?://\S+", "", part)
        assert not re.search(r" [?:!;»]", without_urls), "a plain space before French punctuation"


# --- messaging ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", EMAILS)
def test_choices_are_one_short_label_per_score(kind: str, locale: str) -> None:
    rendered = _render(f"{kind}_choices", locale, {})
    choices = parse_choices(kind, rendered.text)

    assert [c.score for c in choices] == list(SCORES[kind])
    labels = [c.label for c in choices]
    assert len(set(labels)) == len(labels)
    assert all(len(label) <= MAX_CHOICE_LABEL for label in labels)
    assert 0 < len(rendered.subject) <= 20, "the WhatsApp list button holds 20 characters"
    if kind == "nps":
        assert all(str(c.score) in c.label for c in choices)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize("kind", EMAILS)
def test_messaging_questions_render(kind: str, locale: str) -> None:
    variables = _email_vars(kind, locale)
    rendered = _render(f"{kind}_question", locale, variables)
    _clean(rendered)

    assert rendered.html is None
    assert len(rendered.subject) <= 60
    if kind == "csat":
        assert TICKET_TOKEN in rendered.text
    else:
        assert "Acme" in rendered.text
        assert "0" in rendered.text
        assert "10" in rendered.text


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_questions_without_a_name_still_greet(locale: str) -> None:
    rendered = _render("csat_question", locale, _email_vars("csat", locale, customer_name=""))
    assert not rendered.text.startswith((" ", ",", "、"))
    assert "  " not in rendered.text


# --- pages -----------------------------------------------------------------------------------------------


PAGE_CASES = [
    ("page_thanks", {"kind": "csat"}),
    ("page_thanks", {"kind": "nps"}),
    ("page_thanks", {"kind": "csat", "score": None}),
    ("page_thanks", {"kind": "nps", "score": None}),
    ("page_thanks", {"kind": "csat", "comment": "x" * 5001, "comment_error": "too_long"}),
    ("page_comment_saved", {"comment": "Thanks, all good"}),
    ("page_comment_saved", {"comment": ""}),
    ("page_invalid", {"reason": "expired"}),
    ("page_invalid", {"reason": "invalid"}),
]


def _page(name: str, locale: str, changes: dict[str, Any]) -> tuple[RenderedReply, _Element]:
    changes = dict(changes)
    kind = changes.pop("kind", "csat")
    rendered = _render(name, locale, _page_vars(kind, locale, **changes))
    _clean(rendered)
    assert rendered.html is not None
    return rendered, _parse(rendered.html)


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
@pytest.mark.parametrize(("name", "changes"), PAGE_CASES)
def test_pages_are_localized_self_contained_documents(
    name: str, changes: dict[str, Any], locale: str
) -> None:
    rendered, root = _page(name, locale, changes)
    assert rendered.html is not None
    assert rendered.html.startswith("<!doctype html>")

    html = root.all("html")[0]
    assert html.attrs["lang"] == locale
    assert html.attrs["dir"] == ("rtl" if locale == "ar" else "ltr")
    assert len(root.all("h1")) == 1
    assert " ".join(root.all("title")[0].full_text().split()).startswith(rendered.subject)
    # nothing from elsewhere, nothing that needs JavaScript
    assert root.all("script") == []
    assert root.all("link") == []
    assert root.all("img") == []
    assert "src=" not in rendered.html
    assert "url(" not in rendered.html
    # the token in the address never leaves in a Referer header
    referrer = [m.attrs["content"] for m in root.all("meta") if m.attrs.get("name") == "referrer"]
    assert referrer == ["no-referrer"]
    for anchor in root.all("a"):
        href = anchor.attrs["href"]
        assert href.startswith((f"{BASE}/survey/", "mailto:")), href


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_the_thank_you_page_shows_the_score_and_a_form_that_posts(locale: str) -> None:
    rendered, root = _page("page_thanks", locale, {"kind": "csat", "score": 2})
    links = _choices("csat", locale)
    chosen = next(link for link in links if link["score"] == 2)

    lead = next(p for p in root.all("p") if p.attrs.get("class") == "lead")
    recorded = lead.all("strong")[0].full_text()
    assert recorded.startswith("2")
    assert recorded.endswith(chosen["label"])
    assert recorded in rendered.text
    current = [a for a in root.all("a") if a.attrs.get("aria-current") == "true"]
    assert [a.attrs["href"] for a in current] == [chosen["url"]]
    assert {a.attrs["href"] for a in root.all("a")} >= {link["url"] for link in links}

    form = root.all("form")[0]
    assert form.attrs["method"] == "post"
    assert form.attrs["action"] == f"{BASE}/survey/{TOKEN}/comment"
    hidden = [i for i in form.all("input") if i.attrs.get("type") == "hidden"]
    assert [(i.attrs["name"], i.attrs["value"]) for i in hidden] == [("score", "2")]
    textarea = form.all("textarea")[0]
    assert textarea.attrs["name"] == "comment"
    assert textarea.attrs["maxlength"] == "5000"
    label = form.all("label")[0]
    assert label.attrs["for"] == textarea.attrs["id"]
    assert label.full_text().strip()
    assert "5000" in root.by_id("comment-hint").full_text()
    assert "aria-invalid" not in textarea.attrs
    assert form.all("button")[0].attrs["type"] == "submit"


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_an_nps_page_names_each_number_and_the_ends_of_the_scale(locale: str) -> None:
    _, root = _page("page_thanks", locale, {"kind": "nps", "score": None})
    links = _choices("nps", locale)
    anchors = {a.attrs["href"]: a for a in root.all("a")}

    for link in links:
        assert anchors[link["url"]].full_text() == str(link["score"])
        assert anchors[link["url"]].attrs["aria-label"] == link["label"]
    assert [a for a in root.all("a") if "aria-current" in a.attrs] == []
    assert root.all("input") == [], "no score to carry before one was chosen"
    scale = next(p for p in root.all("p") if p.attrs.get("class") == "scale")
    assert "0" in scale.full_text()
    assert "10" in scale.full_text()


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_refused_comment_is_kept_and_the_reason_announced(locale: str) -> None:
    long_comment = "<i>long</i> " * 500
    _, root = _page(
        "page_thanks",
        locale,
        {"kind": "csat", "comment": long_comment, "comment_error": "too_long"},
    )
    error = root.by_id("comment-error")
    assert error.attrs["role"] == "alert"
    assert "5000" in error.full_text()
    textarea = root.all("textarea")[0]
    assert textarea.attrs["aria-invalid"] == "true"
    assert "comment-error" in textarea.attrs["aria-describedby"].split()
    assert textarea.full_text() == long_comment  # kept, as text, to be shortened
    assert root.all("i") == []


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_a_saved_comment_is_shown_as_text(locale: str) -> None:
    rendered, root = _page("page_comment_saved", locale, {"comment": HOSTILE_COMMENT})
    assert rendered.html is not None
    assert root.all("b") == []
    assert [a.attrs["href"] for a in root.all("a")] == []
    assert root.all("blockquote")[0].full_text() == HOSTILE_COMMENT


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_expired_and_broken_links_get_different_clear_pages(locale: str) -> None:
    expired, expired_root = _page("page_invalid", locale, {"reason": "expired"})
    broken, broken_root = _page("page_invalid", locale, {"reason": "invalid"})

    assert expired.subject != broken.subject
    assert expired_root.all("h1")[0].full_text() != broken_root.all("h1")[0].full_text()
    for root in (expired_root, broken_root):
        assert root.all("form") == []
        mail = [a.attrs["href"] for a in root.all("a")]
        assert mail == [f"mailto:{BRAND.support_address}"]
    assert BRAND.support_address in expired.text


def test_an_unsupported_locale_falls_back_to_english() -> None:
    rendered = RENDERER.render("survey", "page_invalid", "pt-BR", _page_vars("csat", "pt"))
    assert rendered.locale == "pt"
    assert (
        RENDERER.render("survey", "csat_question", "sv", _email_vars("csat", "en")).locale == "en"
    )
