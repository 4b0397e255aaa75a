"""The monthly SLA report, rendered: text, markdown, html, json or csv, and the Slack summary.

Pure: the report dict (the shape `slawatch report --format json` prints) in, a string out.
The only I/O is Jinja2 reading templates: the user's `template_dir` first, then the
package's `slawatch/templates/report` (also reachable as `default/<name>`, so a user file
may `{% extends "default/report.html.j2" %}` and change one block; see `slawatch.templates`).
Templates run in Jinja2's sandbox, which here also keeps them from modifying the report;
they get the report as `report` plus ready-made lists and helpers (see `_context`), so a
user template never re-implements sorting, capping or escaping.

Escaping is not optional. Rule, service and acknowledged-by values come from labels and
are untrusted. Every `{{ value }}` goes through a per-format `finalize`: html autoescapes,
markdown escapes markup characters and HTML, Slack escapes `&`, `<`, `>`, text replaces
control characters (a label cannot move the terminal's cursor). Helpers that build whole
tables (`table`, `md_table`) escape each cell themselves and return text marked as built.

Formats: text (aligned tables, lines of at most 100 columns), markdown (GitHub tables),
html (one self-contained file: inline CSS, inline SVG charts from `charts`, no
script, no external reference), json (`json.dumps(report, indent=2)`: the documented
input shape, unchanged) and csv (the attainment table only, see `CSV_COLUMNS`).
"""

from __future__ import annotations

import csv
import io
import json
import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Literal, Mapping, Sequence
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jinja2
from markupsafe import Markup

from slawatch import templates
from slawatch.notify.messages import escape_mrkdwn
from slawatch.report import charts as report_charts
from slawatch.templates.formats import AVAILABILITY_DIGITS, human_duration, percent

__all__ = ["COLUMNS", "CSV_COLUMNS", "FORMATS", "TEXT_WIDTH", "Column", "escape_markdown", "render", "slack_summary"]

Format = Literal["text", "markdown", "html", "json", "csv"]
FORMATS: tuple[str, ...] = ("text", "markdown", "html", "json", "csv")
TEMPLATES = {"text": "report.txt.j2", "markdown": "report.md.j2", "html": "report.html.j2"}
SLACK_TEMPLATE = "summary.slack.j2"
TEXT_WIDTH = 100
ROW_LIMITS = {"text": 50, "markdown": 200, "html": 1000, "slack": 0}
"""Breaches and pending tickets listed per format; the rest are counted ("and N more")."""
OFFENDERS_SHOWN = 10
PRIORITIES = ("P0", "P1", "P2")

CSV_COLUMNS: tuple[str, ...] = (
    "month", "service", "scope", "incidents",
    "response_met", "response_breached", "response_pending", "response_attainment",
    "recovery_met", "recovery_breached", "recovery_pending", "recovery_attainment",
    "mtta_seconds", "mtta_median_seconds", "mtta_p90_seconds",
    "mttr_seconds", "mttr_median_seconds", "mttr_p90_seconds", "target", "target_met",
)
"""CSV header. One row per priority (scope `P0`, `P1`, `P2`) then `overall`. `month` is the
report's month (`2026-10`), `service` its service filter (empty: all services). Counts are
integers, attainments and target ratios 0..1, times in seconds; empty = no data (null);
`target_met` is `true`/`false`/empty. CSV holds one table, so it is the attainment table
only: breaches, services and the daily timeline are in json, markdown and html."""


@dataclass(frozen=True)
class Column:
    """One table column: a header, the row key (several keys: a `met/late/pend` cell), the
    format name (see `_Formats.cell`) and the alignment (`<` or `>`)."""

    header: str
    key: str | tuple[str, ...]
    fmt: str = "text"
    align: str = "<"


def _counts(prefix: str) -> tuple[str, ...]:
    return (f"{prefix}_met", f"{prefix}_breached", f"{prefix}_pending")


COLUMNS: dict[str, tuple[Column, ...]] = {
    "attainment": (
        Column("Scope", "scope"), Column("Incidents", "incidents", "int", ">"),
        Column("Response", "response_attainment", "percent", ">"),
        Column("met/late/pend", _counts("response"), "counts", ">"),
        Column("Recovery", "recovery_attainment", "percent", ">"),
        Column("met/late/pend", _counts("recovery"), "counts", ">"),
        Column("Target", "target", "percent", ">"), Column("Status", "target_met", "status"),
    ),
    "times": (
        Column("Scope", "scope"), Column("MTTA mean", "mtta_seconds", "duration", ">"),
        Column("MTTA median", "mtta_median_seconds", "duration", ">"),
        Column("MTTA p90", "mtta_p90_seconds", "duration", ">"),
        Column("MTTR mean", "mttr_seconds", "duration", ">"),
        Column("MTTR median", "mttr_median_seconds", "duration", ">"),
        Column("MTTR p90", "mttr_p90_seconds", "duration", ">"),
    ),
    "breaches": (
        Column("Ticket", "ticket_id", "ticket", ">"), Column("Prio", "priority"), Column("Deadline", "deadline"),
        Column("Rule", "rule"), Column("Service", "service"), Column("Due", "due", "time"),
        Column("Done", "done_at", "time"), Column("Late", "late_seconds", "duration", ">"),
        Column("Ack by", "acknowledged_by"),
    ),
    "pending": (
        Column("Ticket", "ticket_id", "ticket", ">"), Column("Prio", "priority"), Column("Deadline", "deadline"),
        Column("Rule", "rule"), Column("Service", "service"), Column("Due", "due", "time"),
    ),
    "worst_rules": (Column("Rule", "rule"), Column("Breaches", "breaches", "int", ">")),
    "worst_services": (Column("Service", "service"), Column("Breaches", "breaches", "int", ">")),
    "availability": (
        Column("Service", "service"), Column("Incidents", "incidents", "int", ">"),
        Column("P0", "p0_incidents", "int", ">"),
        Column("Availability", "availability", "availability", ">"),
        Column("Measured", "query_availability", "availability", ">"),
        Column("Target", "target", "availability", ">"), Column("Status", "target_met", "status"),
        Column("Downtime", "downtime_seconds", "duration", ">"), Column("Unknown", "unknown_seconds", "duration", ">"),
        Column("Budget", "error_budget_seconds", "duration", ">"),
        Column("Budget used", "error_budget_used_seconds", "duration", ">"),
        Column("Used", "error_budget_used_ratio", "percent", ">"),
    ),
    "daily": (
        Column("Date", "date"), Column("P0", "P0", "int", ">"), Column("P1", "P1", "int", ">"),
        Column("P2", "P2", "int", ">"),
    ),
    "availability_text": (
        Column("Service", "service"), Column("Avail.", "availability", "availability", ">"),
        Column("Target", "target", "availability", ">"), Column("Status", "target_met", "status"),
        Column("Downtime", "downtime_seconds", "duration", ">"), Column("Unknown", "unknown_seconds", "duration", ">"),
        Column("Budget used", "error_budget_used_seconds", "duration", ">"),
        Column("of budget", "error_budget_used_ratio", "percent", ">"),
    ),
}
"""The tables every shipped template prints, in one place so the formats agree."""


class _Built(str):
    """Text a helper built and escaped itself; `finalize` passes it through."""

    __slots__ = ()


# -- value formatting -------------------------------------------------------------------------

def _status(met: bool | None) -> str:
    return "n/a" if met is None else "✓ met" if met else "✗ MISSED"


_VALUES: dict[str, Callable[..., str]] = {
    "duration": partial(human_duration, padded=True, rounded=True),  # `1h 05m`: columns line up
    "percent": percent,
    "availability": partial(percent, digits=AVAILABILITY_DIGITS),
    "status": _status,
}
"""How the report writes a value, by table column format and by template filter alike."""


def _terminal_safe(text: str) -> str:
    """Whitespace controls become spaces, other control and format characters U+FFFD."""
    return "".join(
        " " if c in "\t\n\r" else "\ufffd" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c
        for c in text
    )


_MARKDOWN = {c: "\\" + c for c in "\\`*_[]|~"} | {"<": "&lt;", ">": "&gt;", "&": "&amp;"}


def escape_markdown(text: str) -> str:
    """Escape a value for a GitHub markdown table cell: markup characters get a backslash,
    `<`, `>`, `&` become entities, line breaks and control characters become spaces."""
    return "".join(_MARKDOWN.get(c, c) for c in " ".join(_terminal_safe(text).split()))


class _Formats:
    """Value formatting bound to the report's timezone (`compact`: short times for text)."""

    def __init__(self, zone: ZoneInfo, compact: bool = False) -> None:
        self._zone, self._compact = zone, compact

    def localtime(self, iso: str | None, zone_name: bool = False, fmt: str | None = None) -> str:
        """An ISO timestamp (UTC) in the report's timezone: `2026-10-03 14:05` (text tables:
        `10-03 14:05`); with `zone_name`: `2026-10-03 14:05 CEST`."""
        if iso is None:
            return "n/a"
        at = datetime.fromisoformat(str(iso))
        at = (at if at.utcoffset() is not None else at.replace(tzinfo=timezone.utc)).astimezone(self._zone)
        fmt = fmt or ("%m-%d %H:%M" if self._compact and not zone_name else "%Y-%m-%d %H:%M")
        return at.strftime(fmt + (" %Z" if zone_name else ""))

    def cell(self, row: Mapping[str, Any], column: Column | Sequence[Any]) -> str:
        """One table cell as text (not yet escaped)."""
        column = column if isinstance(column, Column) else Column(*column)
        if isinstance(column.key, str):
            value = row.get(column.key)
        else:
            return "/".join("n/a" if row.get(k) is None else str(row.get(k)) for k in column.key)
        formatters: dict[str, Callable[[Any], str]] = {**_VALUES, "time": self.localtime, "ticket": lambda v: f"#{v}"}
        if value is None:
            return "n/a"
        return formatters.get(column.fmt, str)(value)


# -- table helpers ----------------------------------------------------------------------------

def _width(text: str) -> int:
    return sum(0 if unicodedata.combining(c) else 2 if unicodedata.east_asian_width(c) in "WF" else 1
               for c in text)


def _clip(text: str, width: int) -> str:
    if _width(text) <= width:
        return text
    out, used = "", 0
    for c in text:
        if used + _width(c) > width - 1:
            break
        out, used = out + c, used + _width(c)
    return out + "…"


def _text_table(formats: _Formats, rows: Iterable[Mapping[str, Any]], columns: Sequence[Any],
                width: int = TEXT_WIDTH) -> _Built:
    """Aligned columns, two spaces apart, no line wider than `width`: the widest text
    columns are shortened (with `…`) until the table fits."""
    columns = [c if isinstance(c, Column) else Column(*c) for c in columns]
    body = [[_terminal_safe(formats.cell(row, c)) for c in columns] for row in rows]
    header = [c.header for c in columns]
    widths = [max(_width(cell) for cell in column) for column in zip(header, *body)]
    flexible = [i for i, c in enumerate(columns) if c.fmt == "text"]
    while sum(widths) + 2 * (len(widths) - 1) > width and flexible:
        widest = max(flexible, key=lambda i: widths[i])
        if widths[widest] <= max(6, _width(header[widest])):
            break
        widths[widest] -= 1

    def line(cells: Sequence[str]) -> str:
        parts = []
        for cell, size, column in zip(cells, widths, columns):
            cell = _clip(cell, size)
            pad = " " * (size - _width(cell))
            parts.append(pad + cell if column.align == ">" else cell + pad)
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * size for size in widths)
    return _Built("\n".join([line(header), rule, *(line(cells) for cells in body)]))


def _md_table(formats: _Formats, rows: Iterable[Mapping[str, Any]], columns: Sequence[Any]) -> _Built:
    """A GitHub table; every cell escaped with `escape_markdown`."""
    columns = [c if isinstance(c, Column) else Column(*c) for c in columns]
    lines = ["| " + " | ".join(escape_markdown(c.header) for c in columns) + " |",
             "|" + "|".join("---:" if c.align == ">" else "---" for c in columns) + "|"]
    lines += ["| " + " | ".join(escape_markdown(formats.cell(row, c)) for c in columns) + " |" for row in rows]
    return _Built("\n".join(lines))


def _sparkline(daily: Sequence[Mapping[str, Any]]) -> _Built:
    """Two columns per day: `·` no incident, `▁`…`█` scaled to the busiest day; below it
    the day of the month every seven days."""
    totals = [sum(int(day.get(p) or 0) for p in PRIORITIES) for day in daily]
    peak = max(totals, default=0)
    blocks = "▁▂▃▄▅▆▇█"
    marks = " ".join("·" if n == 0 else blocks[max(math.ceil(n / peak * 8), 1) - 1] for n in totals)
    ruler = [" "] * len(marks)
    for i, day in enumerate(daily):
        number = str(day.get("date", ""))[-2:].lstrip("0")
        if i % 7 == 0 and 2 * i + len(number) <= len(ruler):
            ruler[2 * i : 2 * i + len(number)] = number
    return _Built(marks + "\n" + "".join(ruler).rstrip())


# -- context ----------------------------------------------------------------------------------

def _service_order(item: tuple[str, Mapping[str, Any]]) -> tuple[bool, float, str]:
    """Worst first: services that missed their target, then by availability; no data last."""
    name, stats = item
    availability = stats.get("availability")
    return (stats.get("target_met") is not False, math.inf if availability is None else availability, name)


def _context(report: Mapping[str, Any], formats: _Formats, limit: int) -> dict[str, Any]:
    services = sorted(report["services"].items(), key=_service_order)
    scopes = [{"scope": p, **report["priorities"][p]} for p in sorted(report["priorities"])]
    breaches, pending = list(report["breaches"]), list(report["pending"])
    return {
        "report": report, "month": report["month"], "timezone": report["timezone"],
        "scope_name": "all services" if report["service"] is None else f"service {report['service']}",
        "priorities": scopes, "scopes": [*scopes, {"scope": "overall", **report["overall"]}],
        "breaches": breaches[:limit], "breaches_more": max(len(breaches) - limit, 0),
        "pending": pending[:limit], "pending_more": max(len(pending) - limit, 0),
        "worst_rules": report["worst_rules"][:OFFENDERS_SHOWN],
        "worst_services": report["worst_services"][:OFFENDERS_SHOWN],
        "services": [{"service": name, **stats} for name, stats in services],
        "worst_service": next(({"service": n, **s} for n, s in services if s.get("availability") is not None), None),
        "query_errors": [(name, s["query_error"]) for name, s in services if s.get("query_error")],
        "daily": report["daily"], "columns": COLUMNS, **_daily_facts(report["daily"]),
        "cell": formats.cell,
    }


def _daily_facts(daily: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    totals = [(sum(int(day.get(p) or 0) for p in PRIORITIES), str(day.get("date"))) for day in daily]
    count, day = max(totals, key=lambda t: t[0], default=(0, ""))
    return {"daily_peak": {"count": count, "date": day} if count else None,
            "p0_days": [str(d.get("date")) for d in daily if d.get("P0")],
            "busy_days": [d for d, (n, _) in zip(daily, totals) if n]}


def _environment(template_dir: Path | None, finalize: Callable[[Any], Any], autoescape: bool,
                 formats: _Formats) -> jinja2.Environment:
    """The report's templates see the caller's dict, hence the immutable sandbox; they are
    whole files, hence the kept final newline."""
    filters = {**_VALUES, "localtime": formats.localtime}
    return templates.environment("report", template_dir, finalize=finalize, filters=filters, autoescape=autoescape,
                                 immutable=True, keep_trailing_newline=True)


def _finalizer(escape: Callable[[str], str]) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        if value is None:
            return "n/a"
        if isinstance(value, (_Built, Markup)):
            return value
        return escape(value if isinstance(value, str) else str(value))
    return finalize


def _zone(report: Mapping[str, Any]) -> ZoneInfo:
    try:
        return ZoneInfo(str(report["timezone"]))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"timezone: unknown time zone {report['timezone']!r}") from exc


# -- public API -------------------------------------------------------------------------------

def render(report: Mapping[str, Any], fmt: Format, template_dir: Path | None = None) -> str:
    """Render the report dict in one of `FORMATS`; raises `templates.TemplateFailed` when a
    (user) template fails and `ValueError` for an unknown format or timezone."""
    if fmt == "json":
        return json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        return _csv(report)
    if fmt not in TEMPLATES:
        raise ValueError(f"unknown report format {fmt!r} (expected one of {', '.join(FORMATS)})")
    formats = _Formats(_zone(report), compact=fmt == "text")
    context = _context(report, formats, ROW_LIMITS[fmt])
    if fmt == "html":
        env = _environment(template_dir, _finalizer(str), True, formats)
        context["charts"] = {
            "attainment": Markup(report_charts.attainment_chart(report["priorities"])),
            "daily": Markup(report_charts.daily_chart(report["daily"])),
            "availability": Markup(report_charts.availability_chart(
                [(s["service"], s) for s in context["services"]])),
        }
        context["availability_limit"] = report_charts.AVAILABILITY_LIMIT
    elif fmt == "markdown":
        env = _environment(template_dir, _finalizer(escape_markdown), False, formats)
        context["md_table"] = lambda rows, columns: _md_table(formats, rows, columns)
    else:
        env = _environment(template_dir, _finalizer(_terminal_safe), False, formats)
        context["table"] = lambda rows, columns, width=TEXT_WIDTH: _text_table(formats, rows, columns, width)
        context["sparkline"] = _sparkline
        context["width"] = TEXT_WIDTH
    return templates.render(env, TEMPLATES[fmt], context)


def slack_summary(report: Mapping[str, Any], template_dir: Path | None = None) -> str:
    """The short mrkdwn text posted with `--post-slack` (the HTML report goes as the file):
    month, attainment per priority against target, breaches, worst service availability.
    Every printed value is escaped for mrkdwn (`&`, `<`, `>`) and put on one line."""
    formats = _Formats(_zone(report))
    env = _environment(template_dir, _finalizer(lambda s: escape_mrkdwn(" ".join(_terminal_safe(s).split()))),
                       False, formats)
    context = _context(report, formats, ROW_LIMITS["slack"])
    context["breach_count"] = len(report["breaches"])
    context["pending_count"] = len(report["pending"])
    return templates.render(env, SLACK_TEMPLATE, context).strip() + "\n"


def _csv(report: Mapping[str, Any]) -> str:
    """See `CSV_COLUMNS`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    scopes = [(p, report["priorities"][p]) for p in sorted(report["priorities"])]
    for scope, stats in [*scopes, ("overall", report["overall"])]:
        row = {**stats, "month": report["month"], "service": report["service"], "scope": scope}
        writer.writerow(["" if row.get(c) is None else str(row[c]).lower() if isinstance(row[c], bool) else row[c]
                         for c in CSV_COLUMNS])
    return out.getvalue()
