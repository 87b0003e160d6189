"""The HTML report: one self-contained, accessible file that shows the right numbers.

Read back with html.parser, as a browser's accessibility tree would see it: the tiles'
values, every chart's title and description, the tables under the charts. Pixels are
not compared.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser

import pytest

from functions.core.reports import BUCKETS, NO_VALUE, Cell, Report, build_report
from functions.survey.report_html import MAX_BARS, render_report_html

GENERATED = datetime(2026, 11, 30, 8, 0, tzinfo=UTC)
EVIL_TEAM = '<script>alert("team")</script> & "Ops"'
EVIL_AGENT = "Ana <b>O'Neil</b>"


def _histogram(counts: dict[int, int]) -> tuple[int, ...]:
    return tuple(counts.get(i, 0) for i in range(BUCKETS))


def _cells(dimension: str, a: str, b: str) -> dict[tuple[str, str, str], Cell]:
    return {
        ("2026-11-23", dimension, a): Cell(
            csat_sent=8,
            nps_sent=2,
            csat=(0, 1, 0, 1, 2),
            nps=(0,) * 7 + (0, 0, 1, 1),
            tickets_created=20,
            tickets_solved=18,
            frt_biz=_histogram({3: 4, 7: 4, 12: 2}),
            frt_cal=_histogram({7: 10}),
            res_biz=_histogram({10: 5}),
        ),
        ("2026-11-23", dimension, b): Cell(
            csat_sent=2, csat=(0, 0, 0, 0, 1), tickets_created=5, chats=5, follow_ups=1
        ),
        ("2026-11-25", dimension, a): Cell(
            csat_sent=4, csat=(1, 0, 0, 0, 0), nps_sent=1, nps=(1,) + (0,) * 10, tickets_created=10
        ),
    }


def _report(by: str = "channel", a: str = "email", b: str = "chat") -> Report:
    periods = ["2026-11-23", "2026-11-24", "2026-11-25"]
    return build_report(_cells(by, a, b), by=by, granularity="day", periods=periods)


@dataclass
class _Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    children: list[_Element] = field(default_factory=list)
    parent: _Element | None = None

    def all(self, tag: str) -> list[_Element]:
        found = [c for c in self.children if c.tag == tag]
        for child in self.children:
            found.extend(child.all(tag))
        return found

    def ancestors(self) -> list[_Element]:
        node, chain = self.parent, []
        while node is not None:
            chain.append(node)
            node = node.parent
        return chain

    def full_text(self) -> str:
        return self.text + "".join(c.full_text() for c in self.children)


class _Tree(HTMLParser):
    VOID = frozenset({"meta", "br", "hr", "img", "input", "link"})
    SELF_CLOSING = frozenset({"line", "rect", "circle", "polyline", "path"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Element("#root", {})
        self.stack = [self.root]
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(element)
        if tag not in self.VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = _Element(tag, {k: v or "" for k, v in attrs}, parent=self.stack[-1])
        self.stack[-1].children.append(element)

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


def _tiles(root: _Element) -> dict[str, str]:
    tiles = {}
    for item in root.all("li"):
        if "data-metric" in item.attrs:
            values = [c.full_text() for c in item.children if c.attrs.get("class") == "tile-value"]
            tiles[item.attrs["data-metric"]] = " ".join(values[0].split())
    return tiles


def _table_rows(table: _Element) -> list[list[str]]:
    return [
        [" ".join(cell.full_text().split()) for cell in row.children if cell.tag in ("th", "td")]
        for row in table.all("tr")
    ]


def _table(root: _Element, caption: str) -> list[list[str]]:
    for table in root.all("table"):
        if any(c.full_text() == caption for c in table.all("caption")):
            return _table_rows(table)
    raise AssertionError(f"no table captioned {caption!r}")


HTML = render_report_html(
    _report(), title="Weekly support report", generated_at=GENERATED, brand_name="Acme"
)
ROOT = _parse(HTML)


# --- self-contained ----------------------------------------------------------------------------


def test_one_document_with_no_scripts_and_no_outside_assets() -> None:
    assert HTML.startswith("<!doctype html>")
    assert "<script" not in HTML.lower()
    assert not re.search(r"https?://", HTML)
    assert not re.search(r"\b(src|href)\s*=", HTML)
    assert "@import" not in HTML
    assert "url(" not in HTML
    assert ROOT.all("link") == []
    assert ROOT.all("img") == []
    html = ROOT.all("html")[0]
    assert html.attrs["lang"] == "en"
    assert ROOT.all("title")[0].text == "Weekly support report · Acme"


# --- numbers -----------------------------------------------------------------------------------


def test_headline_tiles_show_the_hand_computed_numbers() -> None:
    tiles = _tiles(ROOT)
    # CSAT: answers 1x1, 1x2, 1x4, 3x5 = 6, of which 4 are 4-5 -> 66.7 %
    assert tiles["csat"] == "66.7%"
    # NPS: 2 promoters, 1 detractor of 3 -> +33.3
    assert tiles["nps"] == "+33.3"
    # 9 answers of 17 surveys
    assert tiles["response_rate"] == "52.9%"
    # business FRT: p50 75 min ("1 h 15 min"), p90 36 h
    assert tiles["first_response"] == "1 h 15 min p50"
    assert tiles["volume"] == "35"
    notes = {
        li.attrs["data-metric"]: li.full_text()
        for li in ROOT.all("li")
        if "data-metric" in li.attrs
    }
    assert "1 d 12 h p90" in notes["first_response"]
    assert "calendar hours: p50 1 h 30 min, p90 1 h 54 min" in notes["first_response"]
    assert "9 of 17 surveys answered" in notes["response_rate"]
    assert "2 promoters, 0 passives, 1 detractors" in notes["nps"]


def test_the_trend_table_and_line_show_each_day_and_the_gap() -> None:
    rows = _table(ROOT, "CSAT, NPS and volume per day")
    assert rows[0][:4] == ["Day", "CSAT", "CSAT answers", "NPS"]
    assert rows[1][:4] == ["2026-11-23", "80%", "5", "+100"]  # 4 of 5
    assert rows[2][:4] == ["2026-11-24", "—", "0", "—"]  # no data, not zero
    assert rows[3][:4] == ["2026-11-25", "0%", "1", "-100"]

    csat_svg = next(s for s in ROOT.all("svg") if s.all("title")[0].text == "CSAT per day")
    # the empty day breaks the line: two points, no line segment bridging them
    assert len(csat_svg.all("circle")) == 2
    assert csat_svg.all("polyline") == []
    labels = [t.text for t in csat_svg.all("text")]
    assert "80%" in labels
    assert "0%" in labels


def test_bars_and_table_by_the_chosen_dimension() -> None:
    rows = _table(ROOT, "Every channel")
    assert rows[0] == [
        "Channel",
        "Tickets",
        "Chats",
        "Solved",
        "Surveys sent",
        "Answers",
        "Response rate",
        "CSAT",
        "NPS",
        "Follow-ups",
    ]
    assert rows[1] == ["Email", "30", "0", "18", "15", "8", "53.3%", "60%", "+33.3", "0"]
    assert rows[2] == ["Chat", "5", "5", "0", "2", "1", "50%", "100%", "—", "1"]

    nps_svg = next(s for s in ROOT.all("svg") if s.all("title")[0].text == "NPS by channel")
    texts = [t.text for t in nps_svg.all("text")]
    assert texts == ["Email", "+33.3", "Chat", "no data"]


def test_durations_per_value_in_business_and_calendar_hours() -> None:
    rows = _table(ROOT, "First response time by channel")
    assert rows[1] == ["Email", "1 h 15 min", "1 d 12 h", "1 h 30 min", "1 h 54 min"]
    assert rows[2] == ["Chat", "—", "—", "—", "—"]
    resolution = _table(ROOT, "Resolution time by channel")
    # 5 in (8 h, 12 h]: p50 is rank 3 of 5 -> 8 h + 3/5 x 4 h; p90 rank 5 -> 12 h
    assert resolution[1][:3] == ["Email", "10 h 24 min", "12 h"]


def test_the_score_distribution() -> None:
    csat = _table(ROOT, "CSAT answers by score")
    assert csat[1:] == [
        ["1 (very poor)", "1"],
        ["2 (poor)", "1"],
        ["3 (okay)", "0"],
        ["4 (good)", "1"],
        ["5 (excellent)", "3"],
    ]
    nps = _table(ROOT, "NPS answers by score")
    assert nps[1] == ["0", "detractor", "1"]
    assert nps[10] == ["9", "promoter", "1"]
    svg = next(s for s in ROOT.all("svg") if s.all("title")[0].text == "NPS answers by score")
    assert "1 detractors (0–6), 0 passives (7–8), 2 promoters (9–10)" in svg.all("desc")[0].text


# --- accessibility -------------------------------------------------------------------------------


def test_every_chart_is_an_image_with_a_title_and_a_description() -> None:
    svgs = ROOT.all("svg")
    assert len(svgs) == 9  # 2 trend lines, 3 bars, 2 time ranges, 2 distributions
    ids = {e.attrs["id"] for e in ROOT.all("title") + ROOT.all("desc") if "id" in e.attrs}
    for svg in svgs:
        assert svg.attrs["role"] == "img"
        title, desc = svg.children[0], svg.children[1]
        assert title.tag == "title"
        assert desc.tag == "desc"
        assert title.text.strip()
        assert re.search(r"\d", desc.text), "the description states the numbers"
        assert set(svg.attrs["aria-labelledby"].split()) == {title.attrs["id"], desc.attrs["id"]}
        assert {title.attrs["id"], desc.attrs["id"]} <= ids


def test_a_table_follows_every_chart() -> None:
    for section in ROOT.all("section"):
        if section.all("svg"):
            assert section.all("table"), section.all("h2")[0].text
    for table in ROOT.all("table"):
        assert table.all("caption")
        header_cells = table.all("thead")[0].all("th")
        assert all(th.attrs.get("scope") == "col" for th in header_cells)
        assert all(th.attrs.get("scope") == "row" for th in table.all("tbody")[0].all("th"))


def test_ids_are_unique() -> None:
    ids = [
        e.attrs["id"]
        for e in ROOT.all("title") + ROOT.all("desc") + ROOT.all("h2")
        if "id" in e.attrs
    ]
    assert len(ids) == len(set(ids))


# --- labels from users are escaped ------------------------------------------------------------------


def test_team_and_agent_names_are_escaped_everywhere() -> None:
    for by, name in (("team", EVIL_TEAM), ("agent", EVIL_AGENT)):
        html = render_report_html(
            _report(by, name, NO_VALUE),
            title='Q4 <img src="x">',
            generated_at=GENERATED,
            brand_name="Acme & <Co>",
        )
        root = _parse(html)
        assert "<script" not in html
        assert "<b>" not in html
        assert "<img" not in html
        assert root.all("b") == [] and root.all("img") == []
        rows = _table(root, f"Every {by}")
        assert rows[1][0] == name  # the parser reads back exactly the name
        assert rows[2][0] == ("No team" if by == "team" else "Unassigned")
        assert root.all("h1")[0].text == 'Q4 <img src="x">'
        titles = [t.text for t in root.all("title")]
        assert any(name in t for t in titles)


def test_long_labels_are_shortened_in_charts_only() -> None:
    long_name = "Enterprise accounts, Europe and Middle East"
    root = _parse(
        render_report_html(
            _report("team", long_name, "billing"), title="R", generated_at=GENERATED, brand_name="A"
        )
    )
    svg = next(s for s in root.all("svg") if s.all("title")[0].text == "CSAT by team")
    drawn = [t.text for t in svg.all("text")]
    assert "Enterprise accoun…" in drawn
    assert _table(root, "Every team")[1][0] == long_name


def test_only_the_busiest_values_are_drawn_but_all_are_listed() -> None:
    cells = {
        ("2026-11-23", "agent", f"agent{n:02d}@acme.example"): Cell(
            tickets_created=100 - n, csat=(0, 0, 0, 1, 0)
        )
        for n in range(30)
    }
    report = build_report(cells, by="agent", granularity="day")
    root = _parse(render_report_html(report, title="R", generated_at=GENERATED, brand_name="A"))

    svg = next(s for s in root.all("svg") if s.all("title")[0].text == "Tickets created by agent")
    assert len(svg.all("rect")) == MAX_BARS
    assert len(_table(root, "Every agent")) == 31
    assert "busiest" in root.full_text()


# --- no data -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("granularity", ["day", "week"])
def test_an_empty_report_says_so_instead_of_drawing(granularity: str) -> None:
    report = build_report({}, by="channel", granularity=granularity)  # type: ignore[arg-type]
    html = render_report_html(report, title="R", generated_at=GENERATED, brand_name="A")
    root = _parse(html)

    assert root.all("svg") == []
    assert set(_tiles(root).values()) == {"— p50", "—", "0"}
    assert "No data in this period." in root.full_text()
    assert "No CSAT answers in this period." in root.full_text()


def test_a_weekly_report_labels_weeks() -> None:
    report = build_report(_cells("channel", "email", "chat"), by="channel", granularity="week")
    root = _parse(render_report_html(report, title="R", generated_at=GENERATED, brand_name="A"))

    rows = _table(root, "CSAT, NPS and volume per week")
    assert [r[0] for r in rows[1:]] == ["2026-W48"]
    svg = next(s for s in root.all("svg") if s.all("title")[0].text == "CSAT per week")
    assert "W48" in [t.text for t in svg.all("text")]
    assert "2026-W48 · by channel · per week" in root.full_text()
