"""HTML from customers: sanitize it for display, and turn it into plain text.

Sanitizing uses nh3 (the ammonia sanitizer): an allow-list of tags and attributes,
no scripts, no event handlers, no `javascript:` URLs, links opened safely. Turning HTML
into text uses the stdlib parser, which is linear in the input and never raises on
broken markup.
"""

from __future__ import annotations

import re
from html import unescape
from html.parser import HTMLParser

import nh3

_ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "caption", "code", "col", "colgroup", "dd",
    "del", "div", "dl", "dt", "em", "font", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "i",
    "img", "ins", "kbd", "li", "ol", "p", "pre", "q", "s", "small", "span", "strike",
    "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {
    "*": {"dir", "lang", "title", "align"},
    "a": {"href"},
    "img": {"src", "alt", "width", "height"},
    "td": {"colspan", "rowspan"},
    "th": {"colspan", "rowspan"},
    "font": {"color"},
}
# inline images keep their cid: reference so the viewer can map them to attachments
_URL_SCHEMES = {"http", "https", "mailto", "tel", "cid"}


_NESTING_TAG = re.compile(
    r"<(/?)(div|span|font|b|i|u|em|strong|blockquote|table|tbody|tr|td|ul|ol|a|center|small"
    r"|big|sub|sup|s|strike|section|article)[\s>/]",
    re.IGNORECASE,
)
_MAX_NESTING = 2000
_MAX_TEXT_RUN = 1_000_000
_UNCLOSED_TAG = re.compile(r"<[a-zA-Z][^<>]{0,4096}(?=<|$)")
_MAX_UNCLOSED = 200
_BLOCK_BREAK = re.compile(r"(?i)<(?:br|/p|/div|/tr|/li|/h[1-6]|/blockquote)\b[^<>]{0,4096}>")
_ANY_TAG = re.compile(r"<[^<>]{0,4096}>")


def hostile_html(html: str) -> bool:
    """Markup the parsers handle in quadratic time: thousands of nested elements (the
    sanitizer, html5ever), runs of unclosed `<tag` (the stdlib parser), or a megabyte
    of text with no tag. No real mail looks like this; it is read as text instead."""
    depth = deepest = 0
    for match in _NESTING_TAG.finditer(html):
        depth = max(0, depth - 1) if match.group(1) else depth + 1
        deepest = max(deepest, depth)
    if deepest > _MAX_NESTING or max(map(len, html.split("<"))) > _MAX_TEXT_RUN:
        return True
    unclosed = _UNCLOSED_TAG.finditer(html)
    return any(count > _MAX_UNCLOSED for count, _ in enumerate(unclosed, start=1))


def strip_tags(html: str) -> str:
    """Text of markup by regular expressions alone: linear, for hostile input."""
    text = _ANY_TAG.sub("", _BLOCK_BREAK.sub("\n", html))
    return "\n".join(" ".join(line.split()) for line in unescape(text).split("\n"))


def sanitize_html(html: str) -> str:
    """HTML that is safe to show in an agent's browser: no script, no handlers."""
    if hostile_html(html):
        from html import escape

        return "<pre>" + escape(strip_tags(html)) + "</pre>"
    return nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        link_rel="nofollow noopener noreferrer",
        strip_comments=True,
    )


_BLOCK_TAGS = {
    "address", "article", "blockquote", "dd", "div", "dl", "dt", "footer", "h1", "h2",
    "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section", "table",
    "tr", "ul",
}  # fmt: skip
_SKIP_TAGS = {"head", "script", "style", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skip_depth = 0
        self._quote_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self.parts.append("\n")
        elif tag == "blockquote":
            self._quote_depth += 1
            self.parts.append("\n")
        elif tag == "pre":
            self._pre_depth += 1
            self.parts.append("\n")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in {"br", "hr"}:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag == "blockquote":
            self._quote_depth = max(0, self._quote_depth - 1)
            self.parts.append("\n")
        elif tag == "pre":
            self._pre_depth = max(0, self._pre_depth - 1)
            self.parts.append("\n")
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if not self._pre_depth:
            data = _SPACES.sub(" ", data)
        if self._quote_depth:
            # keep quoting visible in text, as mail clients do ("> ")
            prefix = "> " * self._quote_depth
            data = data.replace("\n", "\n" + prefix)
            if not self.parts or self.parts[-1].endswith("\n"):
                data = prefix + data.lstrip()
        self.parts.append(data)


_SPACES = re.compile(r"[ \t\r\n\f\v]+")
_BLANK_RUN = re.compile(r"\n[ \t]*(?:\n[ \t]*){2,}")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def html_to_text(html: str) -> str:
    """Readable plain text from HTML: blocks become lines, quotes keep their `> `.

    The stdlib parser reads the sanitizer's well-formed output (it is quadratic on
    runs of unclosed tags in raw markup); hostile markup is read as text at once."""
    if hostile_html(html):
        return strip_tags(html).strip()
    extractor = _TextExtractor()
    try:
        extractor.feed(sanitize_html(html))
        extractor.close()
    except AssertionError:  # HTMLParser asserts on some malformed declarations
        return unescape(re.sub(r"<[^>]{0,2000}>", " ", html)).strip()
    text = "".join(extractor.parts).replace("\xa0", " ")
    text = _TRAILING_SPACE.sub("\n", text)
    text = _BLANK_RUN.sub("\n\n", text)
    lines = [
        line.strip(" ") if not line.startswith(">") else line.rstrip() for line in text.split("\n")
    ]
    return "\n".join(lines).strip()
