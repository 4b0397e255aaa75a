"""Inline SVG charts for the monthly HTML report: attainment, daily incidents, availability.

Pure: parts of the report dict in, one `<svg>` string out. Each chart is a standalone XML
document fragment (it parses with `xml.etree`) with an `id`, explicit `width`, `height`
and `viewBox`, so it renders the same inline in HTML, saved as a `.svg` file or in a
headless browser. No scripts, no external references: tooltips are SVG `<title>`
elements. Every text that comes from the report (service names above all, since they
come from labels) goes through `_text()`, which escapes it for XML and drops the
characters XML cannot carry.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any, Iterable, Mapping, Sequence
from xml.sax.saxutils import escape, quoteattr

from slawatch.templates.formats import AVAILABILITY_DIGITS, percent

__all__ = [
    "AVAILABILITY_LIMIT", "PRIORITY_COLORS", "attainment_chart", "availability_axis_start",
    "availability_chart", "daily_chart",
]

PRIORITY_COLORS = {"P0": "#c62828", "P1": "#ef6c00", "P2": "#1e88e5"}
RESPONSE_COLOR, RECOVERY_COLOR = "#3949ab", "#00897b"
MET_COLOR, MISSED_COLOR, NO_DATA_COLOR = "#2e7d32", "#c62828", "#9e9e9e"
AVAILABILITY_LIMIT = 30
"""Services drawn in the availability chart; the rest are counted in a note."""
_FONT = 'font-family="DejaVu Sans, Helvetica, Arial, sans-serif"'
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_AXIS_STARTS = (0.99999, 0.9999, 0.9995, 0.999, 0.995, 0.99, 0.98, 0.95, 0.9, 0.8, 0.5, 0.0)


# -- SVG building blocks ---------------------------------------------------------------------

def _clean(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def _attrs(attributes: Mapping[str, object]) -> str:
    return "".join(f" {name.replace('_', '-')}={quoteattr(_clean(value))}" for name, value in attributes.items())


def _text(x: float, y: float, content: object, **attributes: object) -> str:
    return f'<text x="{x:.1f}" y="{y:.1f}"{_attrs(attributes)}>{escape(_clean(content))}</text>'


def _rect(x: float, y: float, width: float, height: float, fill: str, tooltip: str | None = None) -> str:
    shape = f'x="{x:.1f}" y="{y:.1f}" width="{max(width, 0):.1f}" height="{max(height, 0):.1f}" fill="{fill}"'
    if tooltip is None:
        return f"<rect {shape}/>"
    return f"<rect {shape}><title>{escape(_clean(tooltip))}</title></rect>"


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str = "#bdbdbd", **attributes: object) -> str:
    return f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" stroke="{stroke}"{_attrs(attributes)}/>'


def _svg(chart_id: str, width: int, height: int, title: str, body: Iterable[str]) -> str:
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" id="{chart_id}" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label={quoteattr(_clean(title))} {_FONT} font-size="12">'
    )
    return "\n".join([head, f"<title>{escape(_clean(title))}</title>", *body, "</svg>"])


def _ratio(value: Any) -> float | None:
    return None if value is None else min(max(float(value), 0.0), 1.0)


def _legend(x: float, y: float, items: Sequence[tuple[str, str]], dashed: str | None = None) -> list[str]:
    out = []
    for label, color in items:
        out += [_rect(x, y - 9, 10, 10, color), _text(x + 14, y, label)]
        x += 24 + 7 * len(label)
    if dashed:
        out += [_line(x, y - 4, x + 18, y - 4, "#212121", stroke_width=2, stroke_dasharray="4 3"),
                _text(x + 22, y, dashed)]
    return out


def _ellipsize(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _value_label(x: float, bar_top: float, bar_h: float, color: str, text: str, avoid_y: float | None) -> str:
    """A bar's value above its top, or inside it when the target line crosses the place
    above; a halo in the background colour keeps it readable over grid and target lines."""
    above, inside = bar_top - 5, bar_top + 16  # baselines; the text is about 11 px high

    def clear(baseline: float) -> bool:
        return avoid_y is None or not baseline - 13 <= avoid_y <= baseline + 3

    use_inside = bar_h > 22 and not clear(above) and clear(inside)
    fill, halo = ("#ffffff", color) if use_inside else ("#212121", "#ffffff")
    return _text(x, inside if use_inside else above, text, text_anchor="middle", font_size=11,
                 font_weight="bold", fill=fill, stroke=halo, stroke_width=3, stroke_linejoin="round", paint_order="stroke")


# -- (1) attainment per priority against target --------------------------------------------

def attainment_chart(priorities: Mapping[str, Mapping[str, Any]]) -> str:
    """Grouped bars: response and recovery attainment per priority, a dashed target line each."""
    width, height = 640, 320
    left, right, top, bottom = 56, 620, 44, 262
    plot_h = bottom - top
    body = _legend(left, 22, [("response", RESPONSE_COLOR), ("recovery", RECOVERY_COLOR)], dashed="target")
    for tick in (0, 0.25, 0.5, 0.75, 1.0):
        y = bottom - tick * plot_h
        body += [_line(left, y, right, y, "#e0e0e0"), _text(left - 6, y + 4, percent(tick, 0), text_anchor="end")]
    names = sorted(priorities)
    group_w = (right - left) / max(len(names), 1)
    bar_w = min(group_w * 0.3, 70)
    for i, name in enumerate(names):
        stats = priorities[name]
        centre = left + i * group_w + group_w / 2
        target = _ratio(stats.get("target"))
        target_y = None if target is None else bottom - target * plot_h
        labels = []
        for j, (kind, color) in enumerate((("response", RESPONSE_COLOR), ("recovery", RECOVERY_COLOR))):
            x = centre - bar_w - 2 if j == 0 else centre + 2
            value = _ratio(stats.get(f"{kind}_attainment"))
            if value is None:
                body.append(_text(x + bar_w / 2, bottom - 6, "no data", text_anchor="middle", fill="#757575",
                                  font_size=10))
                continue
            bar_top = bottom - value * plot_h
            met, breached = stats.get(f"{kind}_met"), stats.get(f"{kind}_breached")
            body.append(_rect(x, bar_top, bar_w, value * plot_h, color,
                              f"{name} {kind}: {percent(value)} ({met} met, {breached} breached)"))
            labels.append(_value_label(x + bar_w / 2, bar_top, value * plot_h, color, percent(value), target_y))
        if target_y is not None:
            body.append(_line(centre - bar_w - 14, target_y, centre + bar_w + 14, target_y, "#212121",
                              stroke_width=2, stroke_dasharray="4 3"))
        body += labels  # after the target line, so a line never hides a value
        label = name if target is None else f"{name} · target {percent(target)}"
        body.append(_text(centre, bottom + 20, label, text_anchor="middle", font_weight="bold"))
        incidents = stats.get("incidents")
        body.append(_text(centre, bottom + 38, f"{incidents if incidents is not None else 0} incidents",
                          text_anchor="middle", fill="#616161", font_size=11))
    body.append(_line(left, bottom, right, bottom, "#616161"))
    return _svg("chart-attainment", width, height, "SLA attainment per priority against target", body)


# -- (2) daily incident timeline ---------------------------------------------------------------

def _nice_max(value: int) -> int:
    """The smallest 1/2/5 × 10^k step times 4 that is at least `value` (at least 4)."""
    step = 1
    while step * 4 < value:
        magnitude = 10 ** (len(str(step)) - 1)
        step = {1: 2, 2: 5, 5: 10}[step // magnitude] * magnitude
    return step * 4


def daily_chart(daily: Sequence[Mapping[str, Any]]) -> str:
    """Stacked bars per day (P0 at the bottom, then P1, P2); weekends shaded."""
    width, height = 760, 270
    left, right, top, bottom = 44, 744, 40, 226
    plot_h = bottom - top
    legend = [(p, PRIORITY_COLORS[p]) for p in ("P0", "P1", "P2")]
    body = _legend(left, 20, legend) + [_text(right, 20, "incidents opened per day", text_anchor="end",
                                             fill="#616161")]
    totals = [sum(int(day.get(p) or 0) for p in PRIORITY_COLORS) for day in daily]
    y_max = _nice_max(max(totals, default=0))
    slot = (right - left) / max(len(daily), 1)
    for i, day in enumerate(daily):
        try:
            weekday = date.fromisoformat(str(day.get("date"))).weekday()
        except ValueError:
            weekday = 0
        if weekday >= 5:
            body.append(_rect(left + i * slot, top, slot, plot_h, "#f5f5f5"))
    for k in range(5):
        value = y_max * k / 4
        y = bottom - plot_h * k / 4
        body += [_line(left, y, right, y, "#e0e0e0"),
                 _text(left - 6, y + 4, f"{value:g}", text_anchor="end")]
    bar_w = slot * 0.7
    for i, day in enumerate(daily):
        x = left + i * slot + (slot - bar_w) / 2
        y = bottom
        label = str(day.get("date", ""))
        for priority, color in PRIORITY_COLORS.items():
            count = int(day.get(priority) or 0)
            if count:
                h = count / y_max * plot_h
                y -= h
                body.append(_rect(x, y, bar_w, h, color, f"{label}: {count} {priority}"))
        day_number = label[-2:].lstrip("0") or label
        body.append(_text(x + bar_w / 2, bottom + 14, day_number, text_anchor="middle", font_size=10))
    if not any(totals):
        body.append(_text((left + right) / 2, (top + bottom) / 2, "No incidents this month", text_anchor="middle",
                          fill="#757575", font_size=14))
    body += [_line(left, bottom, right, bottom, "#616161"),
             _text((left + right) / 2, bottom + 34, "day of month (weekends shaded)", text_anchor="middle",
                   fill="#616161", font_size=11)]
    return _svg("chart-daily", width, height, "Incidents opened per day, by priority", body)


# -- (3) availability per service against target ----------------------------------------------

def availability_axis_start(values: Iterable[float | None]) -> float:
    """Where the availability axis starts: a round "nines" value far enough below the lowest
    availability or target that its bar stays visible (an axis from 0 would make 99 % and
    99.99 % look the same)."""
    known = [v for v in (_ratio(v) for v in values) if v is not None]
    low = min(known, default=0.0)
    return next((s for s in _AXIS_STARTS if low - s >= 0.1 * (1 - s)), 0.0)


def _axis_label(value: float, start: float) -> str:
    """A tick of an axis starting at `start`, with as many decimals as its nines need."""
    digits = max(1, min(4, -math.floor(math.log10(1 - start)) if start < 1 else 1))
    return percent(value, digits, trim=True)


def availability_chart(services: Sequence[tuple[str, Mapping[str, Any]]], limit: int = AVAILABILITY_LIMIT) -> str:
    """Horizontal bars per service in the given order (the caller sorts worst first), a target
    tick per service; the first `limit` services are drawn and the rest counted in a note."""
    shown, more = list(services[:limit]), max(len(services) - limit, 0)
    row_h, label_w = 24, 230
    left, right, top = label_w, 640, 46
    width = 760
    height = top + row_h * max(len(shown), 1) + 44 + (20 if more else 0)
    bottom = top + row_h * max(len(shown), 1)
    start = availability_axis_start(
        [s.get("availability") for _, s in shown] + [s.get("target") for _, s in shown])

    def x_of(ratio: float) -> float:
        return left + (right - left) * (max(ratio, start) - start) / (1 - start)

    body = _legend(8, 20, [("target met", MET_COLOR), ("target missed", MISSED_COLOR), ("no data", NO_DATA_COLOR)])
    body.append(_line(right - 150, 16, right - 150, 26, "#212121", stroke_width=2))
    body.append(_text(right - 144, 20, "target"))
    for k in range(5):
        value = start + (1 - start) * k / 4
        x = x_of(value)
        body += [_line(x, top - 4, x, bottom, "#e0e0e0"),
                 _text(x, bottom + 16, _axis_label(value, start), text_anchor="middle", font_size=10)]
    for i, (name, stats) in enumerate(shown):
        y = top + i * row_h
        availability, target = _ratio(stats.get("availability")), _ratio(stats.get("target"))
        met = stats.get("target_met")
        body.append(_text(left - 8, y + 16, _ellipsize(str(name), 32), text_anchor="end"))
        if availability is None:
            body += [_rect(left, y + 5, right - left, row_h - 10, "#eeeeee", f"{name}: no data"),
                     _text(right + 8, y + 16, "no data", fill="#757575")]
        else:
            color = MISSED_COLOR if met is False else MET_COLOR if met else NO_DATA_COLOR
            goal = "" if target is None else f", target {percent(target, AVAILABILITY_DIGITS)}"
            tooltip = f"{name}: {percent(availability, AVAILABILITY_DIGITS)}{goal}"
            body += [_rect(left, y + 5, x_of(availability) - left, row_h - 10, color, tooltip),
                     _text(right + 8, y + 16, percent(availability, AVAILABILITY_DIGITS))]
        if target is not None:
            body.append(_line(x_of(target), y + 2, x_of(target), y + row_h - 2, "#212121", stroke_width=2))
    if not shown:
        body.append(_text((left + right) / 2, top + 16, "No services with an availability target",
                          text_anchor="middle", fill="#757575"))
    body += [_line(left, bottom, right, bottom, "#616161"),
             _text((left + right) / 2, bottom + 32, f"availability (axis starts at {_axis_label(start, start)})",
                   text_anchor="middle", fill="#616161", font_size=11)]
    if more:
        body.append(_text(left, bottom + 52, f"and {more} more services, listed in the table below",
                          fill="#616161", font_size=11))
    return _svg("chart-availability", width, height, "Availability per service against target, worst first", body)
