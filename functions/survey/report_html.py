"""The support report as one self-contained HTML file a manager opens in a browser.

Everything is inline: CSS in a <style> element, charts as inline SVG, system fonts, no
scripts, no images, no links to anything. Each chart is an <svg role="img"> with a
<title> and a <desc> that states its numbers, drawn with colours that keep 3:1 against
the white page (text 4.5:1) and never tell anything by colour alone; under every chart a
table holds the same numbers for screen readers, copying and printing. Every label (team
names from the config, agent names and addresses from users) is escaped.

Built from a `functions.core.reports.Report`; the arithmetic lives there.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from html import escape

from functions.core.reports import NO_VALUE, Durations, Metrics, Report

__all__ = ["render_report_html"]

# colours (contrast on white): ink 16:1, muted 7.5:1, blue 10:1, mid-blue 5.2:1,
# green 5:1, red 6.5:1, grey 4.8:1, amber 5.5:1
INK = "#111827"
MUTED = "#4b5563"
GRID = "#d1d5db"
BLUE = "#1e3a8a"
MID_BLUE = "#2563eb"
GREEN = "#15803d"
RED = "#b91c1c"
GREY = "#6b7280"
AMBER = "#b45309"
MAX_BARS = 20  # more values than this are listed in the table only
MAX_LABEL = 18  # characters of a label drawn in a chart; the table has the whole label

CHANNEL_NAMES = {
    "email": "Email",
    "chat": "Chat",
    "messenger": "Messenger",
    "instagram": "Instagram",
    "whatsapp": "WhatsApp",
    "telegram": "Telegram",
    "x": "X",
}
LANGUAGE_NAMES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "pt": "Portuguese",
    "ru": "Russian",
    "ar": "Arabic",
    "ja": "Japanese",
}
DIMENSION_NAMES = {"channel": "channel", "team": "team", "language": "language", "agent": "agent"}

_CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: #111827;
  font: 16px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
  "Hiragino Sans", "Yu Gothic", Meiryo, sans-serif; }
header, main, footer { max-width: 1080px; margin: 0 auto; padding: 0 20px; }
header { padding-top: 28px; }
.brand { margin: 0; color: #4b5563; font-weight: 600; letter-spacing: .02em; }
h1 { margin: 4px 0 4px; font-size: 28px; line-height: 1.2; }
h2 { margin: 0 0 12px; font-size: 20px; }
h3 { margin: 20px 0 8px; font-size: 16px; }
.meta { margin: 0 0 20px; color: #4b5563; }
section { background: #fff; border: 1px solid #d1d5db; border-radius: 10px;
  padding: 20px; margin: 0 0 20px; }
.tiles { list-style: none; margin: 0; padding: 0; display: grid; gap: 12px;
  grid-template-columns: repeat(auto-fit, minmax(280px, 1fr)); }
.tile { border: 1px solid #d1d5db; border-radius: 8px; padding: 14px 16px; background: #f9fafb; }
.tile-label { display: block; font-size: 14px; color: #4b5563; font-weight: 600; }
.tile-value { display: block; font-size: 32px; line-height: 1.2; font-weight: 700;
  font-variant-numeric: tabular-nums; }
.tile-value small { font-size: 14px; font-weight: 600; color: #4b5563; }
.tile-second { display: block; font-size: 20px; font-weight: 700; font-variant-numeric: tabular-nums; }
.tile-second small { font-size: 14px; font-weight: 600; color: #4b5563; }
.tile-note { display: block; font-size: 14px; color: #4b5563; }
.charts { display: grid; gap: 24px; grid-template-columns: repeat(auto-fit, minmax(440px, 1fr)); }
@media (max-width: 560px) { .charts { grid-template-columns: 1fr; } }
figure { margin: 0; }
svg { display: block; width: 100%; height: auto; max-width: 640px; }
figcaption { font-weight: 600; margin: 0 0 6px; }
svg text { font-family: inherit; }
.legend { margin: 6px 0 0; font-size: 14px; color: #4b5563; }
.swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  vertical-align: -1px; margin: 0 4px 0 12px; }
.swatch.outline { background: #fff; border: 2px solid #1e3a8a; }
.table-wrap { overflow-x: auto; margin-top: 10px; }
table { border-collapse: collapse; width: 100%; font-size: 14px;
  font-variant-numeric: tabular-nums; }
caption { text-align: left; font-weight: 600; padding: 4px 0 6px; color: #111827; }
th, td { padding: 6px 10px; border-bottom: 1px solid #e5e7eb; text-align: right;
  white-space: nowrap; }
th:first-child, td:first-child { text-align: left; }
thead th { color: #374151; font-weight: 600; border-bottom: 2px solid #d1d5db; }
tbody th { font-weight: 600; }
details { margin-top: 10px; }
summary { cursor: pointer; color: #1e3a8a; font-weight: 600; }
.empty { color: #4b5563; font-style: italic; margin: 8px 0; }
.note { color: #4b5563; font-size: 14px; }
footer { padding-bottom: 28px; color: #4b5563; font-size: 14px; }
footer dl { display: grid; grid-template-columns: max-content 1fr; gap: 4px 16px; }
footer dt { font-weight: 600; color: #374151; }
footer dd { margin: 0; }
@media print {
  body { background: #fff; }
  section { break-inside: avoid; border-color: #9ca3af; }
  .charts { grid-template-columns: 1fr 1fr; }
}
"""


# --- formatting ----------------------------------------------------------------------------


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _trim(number: float, digits: int = 1) -> str:
    text = f"{number:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{_trim(value)}%"


def _rate(value: float | None) -> str:
    return "—" if value is None else f"{_trim(value * 100)}%"


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    text = _trim(value)
    return text if value <= 0 else f"+{text}"


def _duration(seconds: float | None) -> str:
    """Rounded the way people say it: 45 s, 7 min, 1 h 15 min, 2 d 4 h."""
    if seconds is None:
        return "—"
    if seconds < 60:
        return f"{round(seconds)} s"
    minutes = round(seconds / 60)
    if minutes < 60:
        return f"{minutes} min"
    if seconds < 86_400:
        hours, rest = divmod(minutes, 60)
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    hours_total = round(seconds / 3600)
    days, hours = divmod(hours_total, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def _count(n: int) -> str:
    return f"{n:,}".replace(",", "\u202f")  # narrow no-break space groups digits


def _value_label(dimension: str, value: str) -> str:
    if value == NO_VALUE:
        return {"agent": "Unassigned", "team": "No team", "language": "Unknown"}.get(
            dimension, "Unknown"
        )
    if dimension == "channel":
        return CHANNEL_NAMES.get(value, value)
    if dimension == "language":
        name = LANGUAGE_NAMES.get(value.split("-", maxsplit=1)[0])
        return f"{name} ({value})" if name else value
    return value


def _short(label: str) -> str:
    return label if len(label) <= MAX_LABEL else label[: MAX_LABEL - 1].rstrip() + "…"


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _period_labeller(periods: Sequence[str]) -> Callable[[str], str]:
    """Short axis labels ("24 Nov", "W48"); with the year when the report spans two."""
    years = {p[:4] for p in periods}

    def label(period: str) -> str:
        if "-W" in period:
            return period if len(years) > 1 else period[5:]
        day = date.fromisoformat(period)
        short = f"{day.day} {_MONTHS[day.month - 1]}"
        return f"{short} {day.year}" if len(years) > 1 else short

    return label


class _Ids:
    """Unique element ids made by us, never from labels."""

    def __init__(self) -> None:
        self._numbers = itertools.count(1)

    def __call__(self, stem: str) -> str:
        return f"{stem}-{next(self._numbers)}"


# --- SVG pieces ----------------------------------------------------------------------------
# Charts are drawn 480 units wide: two sit side by side in the page at about their
# natural size, so 12-unit text reads as 12 px.

CHART_WIDTH = 480


def _svg(ids: _Ids, height: float, *, title: str, desc: str, body: Sequence[str]) -> str:
    title_id, desc_id = ids("chart-title"), ids("chart-desc")
    return (
        f'<svg role="img" aria-labelledby="{title_id} {desc_id}" '
        f'viewBox="0 0 {CHART_WIDTH} {height:.0f}" width="{CHART_WIDTH}" height="{height:.0f}">'
        f'<title id="{title_id}">{_e(title)}</title><desc id="{desc_id}">{_e(desc)}</desc>'
        + "".join(body)
        + "</svg>"
    )


def _text(
    x: float,
    y: float,
    content: str,
    *,
    anchor: str = "start",
    size: int = 12,
    fill: str = INK,
    bold: bool = False,
) -> str:
    weight = ' font-weight="600"' if bold else ""
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" '
        f'fill="{fill}"{weight}>{_e(content)}</text>'
    )


def _line(x1: float, y1: float, x2: float, y2: float, colour: str = GRID) -> str:
    return (
        f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{colour}" '
        'stroke-width="1"/>'
    )


@dataclass(frozen=True, slots=True)
class _Point:
    period: str  # the full key, for the tooltip
    axis: str  # the short label under the axis
    value: float | None
    shown: str  # the value as text


def _line_chart(
    ids: _Ids,
    points: Sequence[_Point],
    *,
    low: float,
    high: float,
    ticks: Sequence[float],
    tick_label: Callable[[float], str],
    colour: str,
    title: str,
    desc: str,
) -> str:
    height = 230
    left, right, top, bottom = 44, 14, 22, 34
    plot_w, plot_h = CHART_WIDTH - left - right, height - top - bottom

    def y(value: float) -> float:
        return top + plot_h * (high - value) / (high - low)

    inset = 22  # room for the first and last value labels

    def x(index: int) -> float:
        if len(points) == 1:
            return left + plot_w / 2
        return left + inset + index * (plot_w - 2 * inset) / (len(points) - 1)

    body: list[str] = []
    for tick in ticks:
        body.append(_line(left, y(tick), CHART_WIDTH - right, y(tick)))
        body.append(_text(left - 6, y(tick) + 4, tick_label(tick), anchor="end", fill=MUTED))
    every = max(1, -(-len(points) // 6))  # about six labels under the axis, never crowded
    for index in range(0, len(points), every):
        body.append(_text(x(index), height - 12, points[index].axis, anchor="middle", fill=MUTED))
    # a period without answers breaks the line instead of bridging it
    runs: list[list[str]] = [[]]
    for index, point in enumerate(points):
        if point.value is None:
            runs.append([])
        else:
            runs[-1].append(f"{x(index):.1f},{y(point.value):.1f}")
    for run in runs:
        if len(run) > 1:
            body.append(
                f'<polyline points="{" ".join(run)}" fill="none" stroke="{colour}" '
                'stroke-width="2.5" stroke-linejoin="round" stroke-linecap="round"/>'
            )
    label_values = len(points) <= 12
    for index, point in enumerate(points):
        if point.value is None:
            continue
        cx, cy = x(index), y(point.value)
        body.append(
            f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="3.5" fill="{colour}" stroke="#fff" '
            f'stroke-width="1.5"><title>{_e(point.period)}: {_e(point.shown)}</title></circle>'
        )
        if label_values:
            body.append(_text(cx, cy - 8, point.shown, anchor="middle", bold=True))
    return _svg(ids, height, title=title, desc=desc, body=body)


@dataclass(frozen=True, slots=True)
class _Bar:
    label: str
    value: float | None
    shown: str


def _bar_chart(
    ids: _Ids,
    bars: Sequence[_Bar],
    *,
    low: float,
    high: float,
    colour: Callable[[float], str],
    title: str,
    desc: str,
) -> str:
    """Horizontal bars from zero (negative values to the left when `low` < 0)."""
    label_w, value_w, row_h = 130, 58, 28
    plot_w = CHART_WIDTH - label_w - value_w
    height = 12 + row_h * len(bars)

    def x(value: float) -> float:
        return label_w + plot_w * (value - low) / (high - low)

    zero = x(max(low, 0.0))
    body = [_line(zero, 4, zero, height - 4, GREY)]
    for index, bar in enumerate(bars):
        top = 6 + index * row_h
        middle = top + row_h / 2 + 4
        body.append(f"<g><title>{_e(bar.label)}: {_e(bar.shown)}</title>")
        body.append(_text(label_w - 8, middle, _short(bar.label), anchor="end"))
        if bar.value is None:
            body.append(_text(zero + 6, middle, "no data", fill=MUTED))
        else:
            start, stop = sorted((zero, x(bar.value)))
            body.append(
                f'<rect x="{start:.1f}" y="{top + 5}" width="{max(stop - start, 1.5):.1f}" '
                f'height="{row_h - 10}" rx="3" fill="{colour(bar.value)}"/>'
            )
            body.append(_text(CHART_WIDTH - value_w + 6, middle, bar.shown, bold=True))
        body.append("</g>")
    return _svg(ids, height, title=title, desc=desc, body=body)


def _column_chart(
    ids: _Ids, columns: Sequence[tuple[str, int, str]], *, title: str, desc: str
) -> str:
    """Vertical columns of counts (a score distribution), each with its count on top."""
    height = 200
    left, right, top, bottom = 8, 8, 22, 30
    plot_w, plot_h = CHART_WIDTH - left - right, height - top - bottom
    peak = max((n for _, n, _ in columns), default=0) or 1
    slot = plot_w / len(columns)
    body = [_line(left, top + plot_h, CHART_WIDTH - right, top + plot_h, GREY)]
    for index, (label, count, colour) in enumerate(columns):
        bar_h = plot_h * count / peak
        centre = left + index * slot + slot / 2
        body.append(f"<g><title>{_e(label)}: {_count(count)}</title>")
        if count:
            body.append(
                f'<rect x="{centre - slot * 0.32:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{slot * 0.64:.1f}" height="{bar_h:.1f}" rx="3" fill="{colour}"/>'
            )
        body.append(
            _text(centre, top + plot_h - bar_h - 6, _count(count), anchor="middle", bold=True)
        )
        body.append(_text(centre, height - 10, label, anchor="middle", size=13, fill=MUTED))
        body.append("</g>")
    return _svg(ids, height, title=title, desc=desc, body=body)


def _range_chart(ids: _Ids, rows: Sequence[tuple[str, Durations]], *, title: str, desc: str) -> str:
    """Per value, p50 as a solid bar inside an outlined p90 bar, both written beneath."""
    label_w, right, row_h = 130, 12, 44
    plot_w = CHART_WIDTH - label_w - right
    height = 10 + row_h * len(rows)
    peak = max((d.p90 or 0.0 for _, d in rows), default=0.0) or 1.0
    body = [_line(label_w, 4, label_w, height - 4, GREY)]
    for index, (label, durations) in enumerate(rows):
        top = 6 + index * row_h
        shown = f"p50 {_duration(durations.p50)} · p90 {_duration(durations.p90)}"
        body.append(f"<g><title>{_e(label)}: {_e(shown)}</title>")
        body.append(_text(label_w - 8, top + 15, _short(label), anchor="end"))
        if durations.p50 is None or durations.p90 is None:
            body.append(_text(label_w + 6, top + 15, "no data", fill=MUTED))
        else:
            p90_w = max(plot_w * durations.p90 / peak, 2.0)
            p50_w = max(plot_w * durations.p50 / peak, 2.0)
            body.append(
                f'<rect x="{label_w}" y="{top + 3}" width="{p90_w:.1f}" height="16" rx="3" '
                f'fill="#fff" stroke="{BLUE}" stroke-width="1.5"/>'
            )
            body.append(
                f'<rect x="{label_w}" y="{top + 7}" width="{p50_w:.1f}" height="8" rx="2" '
                f'fill="{BLUE}"/>'
            )
            body.append(_text(label_w + 2, top + 34, shown))
        body.append("</g>")
    return _svg(ids, height, title=title, desc=desc, body=body)


# --- tables ----------------------------------------------------------------------------------


def _table(caption: str, head: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A data table: the first cell of each row is its header."""
    header = "".join(f'<th scope="col">{_e(h)}</th>' for h in head)
    body = "".join(
        "<tr>"
        + f'<th scope="row">{_e(row[0])}</th>'
        + "".join(f"<td>{_e(cell)}</td>" for cell in row[1:])
        + "</tr>"
        for row in rows
    )
    return (
        f'<div class="table-wrap"><table><caption>{_e(caption)}</caption>'
        f"<thead><tr>{header}</tr></thead><tbody>{body}</tbody></table></div>"
    )


def _folded(summary: str, table: str) -> str:
    """A long table behind a native disclosure: no script, keyboard and reader friendly."""
    return f"<details><summary>{_e(summary)}</summary>{table}</details>"


def _figure(caption: str, chart: str, after: str = "") -> str:
    return f"<figure><figcaption>{_e(caption)}</figcaption>{chart}{after}</figure>"


def _series_desc(what: str, items: Sequence[tuple[str, str]]) -> str:
    listed = "; ".join(f"{label}: {shown}" for label, shown in items if shown != "—")
    return f"{what}: {listed}." if listed else f"{what}: no data."


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


# --- sections ---------------------------------------------------------------------------------


def _tile(metric: str, label: str, value: str, note: str, second: str = "") -> str:
    return (
        f'<li class="tile" data-metric="{_e(metric)}"><span class="tile-label">{_e(label)}</span>'
        f'<span class="tile-value">{value}</span>'
        + (f'<span class="tile-second">{second}</span>' if second else "")
        + f'<span class="tile-note">{_e(note)}</span></li>'
    )


def _pair(durations: Durations) -> tuple[str, str]:
    return (
        f"{_e(_duration(durations.p50))} <small>p50</small>",
        f"{_e(_duration(durations.p90))} <small>p90</small>",
    )


def _summary(total: Metrics) -> str:
    def answers(n: int) -> str:
        return "no answers yet" if n == 0 else f"{_count(n)} answer{'s' if n != 1 else ''}"

    frt_50, frt_90 = _pair(total.frt_business)
    res_50, res_90 = _pair(total.resolution_business)
    tiles = [
        _tile(
            "csat", "CSAT", _e(_pct(total.csat)), f"{answers(total.csat_responses)} · share of 4–5"
        ),
        _tile(
            "nps",
            "NPS",
            _e(_signed(total.nps)),
            f"{answers(total.nps_responses)} · {_count(total.promoters)} promoters, "
            f"{_count(total.passives)} passives, {_count(total.detractors)} detractors",
        ),
        _tile(
            "response_rate",
            "Response rate",
            _e(_rate(total.response_rate)),
            f"{_count(total.responses)} of {_count(total.surveys_sent)} surveys answered",
        ),
        _tile(
            "first_response",
            "First response, business hours",
            frt_50,
            f"calendar hours: p50 {_duration(total.frt_calendar.p50)}, "
            f"p90 {_duration(total.frt_calendar.p90)}",
            frt_90,
        ),
        _tile(
            "resolution",
            "Resolution, business hours",
            res_50,
            f"calendar hours: p50 {_duration(total.resolution_calendar.p50)}, "
            f"p90 {_duration(total.resolution_calendar.p90)}",
            res_90,
        ),
        _tile(
            "volume",
            "Tickets created",
            _e(_count(total.tickets_created)),
            f"{_count(total.chats)} chats · {_count(total.tickets_solved)} solved · "
            f"{_count(total.follow_ups)} low-score follow-ups",
        ),
    ]
    return (
        '<section aria-labelledby="summary"><h2 id="summary">Summary</h2>'
        f'<ul class="tiles">{"".join(tiles)}</ul></section>'
    )


def _trend(ids: _Ids, report: Report) -> str:
    unit = report.granularity
    heading = f"CSAT and NPS per {unit}"
    if not report.periods:
        return (
            f'<section aria-labelledby="trend"><h2 id="trend">{_e(heading)}</h2>'
            f"{_empty('No data in this period.')}</section>"
        )
    axis = _period_labeller(report.periods)
    csat = [_Point(p, axis(p), m.csat, _pct(m.csat)) for p, m in report.by_period]
    nps = [_Point(p, axis(p), m.nps, _signed(m.nps)) for p, m in report.by_period]
    csat_chart = _line_chart(
        ids,
        csat,
        low=0,
        high=100,
        ticks=(0, 25, 50, 75, 100),
        tick_label=lambda t: f"{t:.0f}%",
        colour=BLUE,
        title=f"CSAT per {unit}",
        desc=_series_desc(
            f"CSAT, the share of answers scoring 4 or 5, per {unit}",
            [(p.period, p.shown) for p in csat],
        ),
    )
    nps_chart = _line_chart(
        ids,
        nps,
        low=-100,
        high=100,
        ticks=(-100, -50, 0, 50, 100),
        tick_label=lambda t: f"{t:+.0f}" if t else "0",
        colour=GREEN,
        title=f"NPS per {unit}",
        desc=_series_desc(
            f"NPS, promoters minus detractors from -100 to +100, per {unit}",
            [(p.period, p.shown) for p in nps],
        ),
    )
    table = _table(
        f"CSAT, NPS and volume per {unit}",
        [
            unit.capitalize(),
            "CSAT",
            "CSAT answers",
            "NPS",
            "NPS answers",
            "Response rate",
            "Tickets",
            "Chats",
            "Solved",
        ],
        [
            [
                p,
                _pct(m.csat),
                _count(m.csat_responses),
                _signed(m.nps),
                _count(m.nps_responses),
                _rate(m.response_rate),
                _count(m.tickets_created),
                _count(m.chats),
                _count(m.tickets_solved),
            ]
            for p, m in report.by_period
        ],
    )
    count = len(report.periods)
    if count > 8:
        table = _folded(f"The numbers per {unit} ({count} rows)", table)
    return (
        f'<section aria-labelledby="trend"><h2 id="trend">{_e(heading)}</h2>'
        f'<div class="charts">{_figure(f"CSAT per {unit}", csat_chart)}'
        f"{_figure(f'NPS per {unit}', nps_chart)}</div>"
        f'<p class="note">A gap in a line is a {unit} without answers.</p>{table}</section>'
    )


def _nps_colour(value: float) -> str:
    return GREEN if value > 0 else RED if value < 0 else GREY


def _by_dimension(ids: _Ids, report: Report) -> str:
    name = DIMENSION_NAMES.get(report.by, report.by)
    heading = f"By {name}"
    if not report.by_value:
        return (
            f'<section aria-labelledby="by"><h2 id="by">{_e(heading)}</h2>'
            f"{_empty('No data in this period.')}</section>"
        )
    labelled = [(_value_label(report.by, v), m) for v, m in report.by_value]
    charted = labelled[:MAX_BARS]
    more = (
        f'<p class="note">Charts show the {MAX_BARS} busiest of {len(labelled)}; '
        "the tables list all.</p>"
        if len(labelled) > MAX_BARS
        else ""
    )
    csat_bars = [_Bar(label, m.csat, _pct(m.csat)) for label, m in charted]
    nps_bars = [_Bar(label, m.nps, _signed(m.nps)) for label, m in charted]
    volume_bars = [
        _Bar(label, float(m.tickets_created), _count(m.tickets_created)) for label, m in charted
    ]
    peak_volume = max((m.tickets_created for _, m in charted), default=0) or 1

    def desc(what: str, bars: Sequence[_Bar]) -> str:
        return _series_desc(f"{what} by {name}", [(b.label, b.shown) for b in bars])

    charts = [
        _figure(
            f"CSAT by {name}",
            _bar_chart(
                ids, csat_bars, low=0, high=100, colour=lambda _: BLUE,
                title=f"CSAT by {name}", desc=desc("CSAT", csat_bars),
            ),
        ),
        _figure(
            f"NPS by {name}",
            _bar_chart(
                ids, nps_bars, low=-100, high=100, colour=_nps_colour,
                title=f"NPS by {name}", desc=desc("NPS", nps_bars),
            ),
        ),
        _figure(
            f"Tickets created by {name}",
            _bar_chart(
                ids, volume_bars, low=0, high=peak_volume, colour=lambda _: MID_BLUE,
                title=f"Tickets created by {name}", desc=desc("Tickets created", volume_bars),
            ),
        ),
    ]  # fmt: skip
    table = _table(
        f"Every {name}",
        [
            name.capitalize(),
            "Tickets",
            "Chats",
            "Solved",
            "Surveys sent",
            "Answers",
            "Response rate",
            "CSAT",
            "NPS",
            "Follow-ups",
        ],
        [
            [
                label,
                _count(m.tickets_created),
                _count(m.chats),
                _count(m.tickets_solved),
                _count(m.surveys_sent),
                _count(m.responses),
                _rate(m.response_rate),
                _pct(m.csat),
                _signed(m.nps),
                _count(m.follow_ups),
            ]
            for label, m in labelled
        ],
    )

    def range_desc(what: str, rows: Sequence[tuple[str, Durations]]) -> str:
        listed = [
            (label, f"p50 {_duration(d.p50)}, p90 {_duration(d.p90)}")
            for label, d in rows
            if d.count
        ]
        return _series_desc(f"{what} by {name}, in business hours", listed)

    frt = [(label, m.frt_business) for label, m in charted]
    resolution = [(label, m.resolution_business) for label, m in charted]
    legend = (
        f'<p class="legend"><span class="swatch" style="background:{BLUE}"></span>p50: half '
        'within<span class="swatch outline"></span>p90: nine in ten within</p>'
    )

    def duration_table(what: str, pick: Callable[[Metrics], tuple[Durations, Durations]]) -> str:
        return _table(
            f"{what} by {name}",
            [name.capitalize(), "p50, business", "p90, business", "p50, calendar", "p90, calendar"],
            [
                [
                    label,
                    _duration(pick(m)[0].p50),
                    _duration(pick(m)[0].p90),
                    _duration(pick(m)[1].p50),
                    _duration(pick(m)[1].p90),
                ]
                for label, m in labelled
            ],
        )

    durations = duration_table(
        "First response time", lambda m: (m.frt_business, m.frt_calendar)
    ) + duration_table("Resolution time", lambda m: (m.resolution_business, m.resolution_calendar))
    times = [
        _figure(
            f"First response time by {name}",
            _range_chart(
                ids,
                frt,
                title=f"First response time by {name}",
                desc=range_desc("First response time", frt),
            ),
        ),
        _figure(
            f"Resolution time by {name}",
            _range_chart(
                ids,
                resolution,
                title=f"Resolution time by {name}",
                desc=range_desc("Resolution time", resolution),
            ),
        ),
    ]
    return (
        f'<section aria-labelledby="by"><h2 id="by">{_e(heading)}</h2>{more}'
        f'<div class="charts">{"".join(charts)}</div>{table}</section>'
        f'<section aria-labelledby="times"><h2 id="times">Response and resolution times by '
        f'{_e(name)}</h2><p class="note">Business hours: time inside the team\'s opening '
        f'hours.</p><div class="charts">{"".join(times)}</div>{legend}{durations}</section>'
    )


CSAT_WORDS = ("very poor", "poor", "okay", "good", "excellent")


def _nps_group(score: int) -> str:
    return "promoter" if score >= 9 else "passive" if score >= 7 else "detractor"


def _distribution(ids: _Ids, total: Metrics) -> str:
    if total.csat_responses:
        scores = list(zip(range(1, 6), total.csat_scores, strict=True))
        chart = _column_chart(
            ids,
            [(str(s), n, GREEN if s >= 4 else RED if s <= 2 else GREY) for s, n in scores],
            title="CSAT answers by score",
            desc="CSAT answers per score, 1 (very poor) to 5 (excellent): "
            + "; ".join(f"{s}: {_count(n)}" for s, n in scores)
            + ".",
        )
        legend = (
            f'<p class="legend"><span class="swatch" style="background:{RED}"></span>1–2'
            f'<span class="swatch" style="background:{GREY}"></span>3'
            f'<span class="swatch" style="background:{GREEN}"></span>4–5 (count towards CSAT)</p>'
        )
        table = _table(
            "CSAT answers by score",
            ["Score", "Answers"],
            [[f"{s} ({w})", _count(n)] for (s, n), w in zip(scores, CSAT_WORDS, strict=True)],
        )
        csat_part = _figure(
            "CSAT answers by score", chart, legend + _folded("The numbers per score", table)
        )
    else:
        csat_part = _empty("No CSAT answers in this period.")

    if total.nps_responses:
        colours = {"promoter": GREEN, "passive": GREY, "detractor": RED}
        chart = _column_chart(
            ids,
            [(str(s), n, colours[_nps_group(s)]) for s, n in enumerate(total.nps_scores)],
            title="NPS answers by score",
            desc=f"NPS answers per score, 0 to 10: {_count(total.detractors)} detractors (0–6), "
            f"{_count(total.passives)} passives (7–8), {_count(total.promoters)} promoters "
            "(9–10); "
            + "; ".join(f"{s}: {_count(n)}" for s, n in enumerate(total.nps_scores))
            + ".",
        )
        legend = (
            f'<p class="legend"><span class="swatch" style="background:{RED}"></span>detractors '
            f'0–6<span class="swatch" style="background:{GREY}"></span>passives 7–8'
            f'<span class="swatch" style="background:{GREEN}"></span>promoters 9–10</p>'
        )
        table = _table(
            "NPS answers by score",
            ["Score", "Group", "Answers"],
            [[str(s), _nps_group(s), _count(n)] for s, n in enumerate(total.nps_scores)],
        )
        nps_part = _figure(
            "NPS answers by score", chart, legend + _folded("The numbers per score", table)
        )
    else:
        nps_part = _empty("No NPS answers in this period.")
    return (
        '<section aria-labelledby="scores"><h2 id="scores">How customers scored</h2>'
        f'<div class="charts"><div>{csat_part}</div><div>{nps_part}</div></div></section>'
    )


_DEFINITIONS = (
    ("CSAT", "The share of CSAT answers that are 4 or 5, on a scale of 1 to 5."),
    ("NPS", "Percent of promoters (9–10) minus percent of detractors (0–6), from −100 to +100."),
    ("Response rate", "Surveys answered divided by surveys sent; answers count in the period "
     "their survey was sent."),
    (
        "p50 / p90",
        "Half (nine in ten) of the tickets were answered or solved within this time. Times "
        "are read from duration buckets (1, 2, 5, 10, 15, 30 min, 1, 2, 4, 8, 12 h, 1, 2, 3, "
        "5, 7, 14, 30 days), so each is accurate to within its bucket.",
    ),
    ("Business hours", "Time inside the team's opening hours; calendar time counts every hour."),
    ("—", "No data: nothing to measure in this period, which is not the same as zero."),
)  # fmt: skip


def render_report_html(
    report: Report, *, title: str, generated_at: datetime, brand_name: str
) -> str:
    """The whole report as one HTML document, safe to open from disk or attach to mail."""
    ids = _Ids()
    if not report.periods:
        span = "No data"
    elif len(report.periods) == 1:
        span = report.periods[0]
    else:
        span = f"{report.periods[0]} to {report.periods[-1]}"
    meta = (
        f"{span} · by {DIMENSION_NAMES.get(report.by, report.by)} · per {report.granularity}"
        f" · generated {generated_at.strftime('%Y-%m-%d %H:%M %Z').strip()}"
    )
    definitions = "".join(f"<dt>{_e(term)}</dt><dd>{_e(text)}</dd>" for term, text in _DEFINITIONS)
    return (
        '<!doctype html>\n<html lang="en" dir="ltr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(title)} · {_e(brand_name)}</title><style>{_CSS}</style></head><body>"
        f'<header><p class="brand">{_e(brand_name)}</p><h1>{_e(title)}</h1>'
        f'<p class="meta">{_e(meta)}</p></header><main>'
        + _summary(report.total)
        + _trend(ids, report)
        + _by_dimension(ids, report)
        + _distribution(ids, report.total)
        + "</main><footer><h2>How to read this report</h2>"
        f"<dl>{definitions}</dl></footer></body></html>\n"
    )
