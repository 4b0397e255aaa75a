"""Report rendering: every format, escaping of label values, self-contained HTML, SVG charts,
CSV columns, text width, local times, caps, and user templates."""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import unicodedata
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

from slawatch.report import charts as report_charts
from slawatch.report.render import (
    CSV_COLUMNS,
    FORMATS,
    TEXT_WIDTH,
    escape_markdown,
    render,
    slack_summary,
)
from slawatch.templates import TemplateFailed

HOSTILE = "<script>alert(1)</script> & co"
HOSTILE_HTML = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
HOSTILE_MD = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
HOSTILE_MRKDWN = "&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"
SVG_NS = "{http://www.w3.org/2000/svg}"
CHART_IDS = ("chart-attainment", "chart-daily", "chart-availability")


def _priority(incidents: int, response: tuple[int, int, int], recovery: tuple[int, int, int],
              mtta: tuple[float, float, float] | None, mttr: tuple[float, float, float] | None,
              target: float | None, target_met: bool | None) -> dict[str, Any]:
    def ratio(met: int, breached: int) -> float | None:
        return met / (met + breached) if met + breached else None

    return {
        "incidents": incidents,
        "response_met": response[0], "response_breached": response[1], "response_pending": response[2],
        "response_attainment": ratio(*response[:2]),
        "recovery_met": recovery[0], "recovery_breached": recovery[1], "recovery_pending": recovery[2],
        "recovery_attainment": ratio(*recovery[:2]),
        "mtta_seconds": mtta and mtta[0], "mtta_median_seconds": mtta and mtta[1], "mtta_p90_seconds": mtta and mtta[2],
        "mttr_seconds": mttr and mttr[0], "mttr_median_seconds": mttr and mttr[1], "mttr_p90_seconds": mttr and mttr[2],
        "target": target, "target_met": target_met,
    }


def _service(availability: float | None, incidents: int = 1, target: float = 0.999, **extra: Any) -> dict[str, Any]:
    period = 2_682_000
    budget = (1 - target) * period
    downtime = None if availability is None else round((1 - availability) * period)
    return {
        "incidents": incidents, "p0_incidents": min(incidents, 1), "downtime_seconds": downtime,
        "unknown_seconds": 0, "availability": availability, "target": target,
        "target_met": None if availability is None else availability >= target,
        "error_budget_seconds": budget, "error_budget_used_seconds": downtime,
        "error_budget_used_ratio": None if downtime is None else downtime / budget,
        "query_availability": None, "query_error": None, **extra,
    }


def sample_report() -> dict[str, Any]:
    """October 2026 in Berlin (DST ends on the 25th): a missed P0 target, a P2 without
    tickets (null ratios), 62 breaches, 36 services, and hostile label values."""
    breaches = [
        {"ticket_id": 101, "rule": HOSTILE, "service": HOSTILE, "priority": "P0", "deadline": "response",
         "due": "2026-10-03T12:05:00+00:00", "done_at": "2026-10-03T12:17:30+00:00", "late_seconds": 750,
         "acknowledged_by": "<@U0EVIL> <!channel>", "acknowledged_at": "2026-10-03T12:17:30+00:00"},
        {"ticket_id": 102, "rule": "ServiceDown", "service": "checkout", "priority": "P0", "deadline": "recovery",
         "due": "2026-10-12T08:00:00+00:00", "done_at": None, "late_seconds": None,
         "acknowledged_by": None, "acknowledged_at": None},
        {"ticket_id": 103, "rule": "HighErrorRate_*bold*_[link](x)|pipe", "service": "決済サービス", "priority": "P1",
         "deadline": "response", "due": "2026-10-26T09:30:00+00:00", "done_at": "2026-10-26T10:35:00+00:00",
         "late_seconds": 3900, "acknowledged_by": "alice\x1b[31m\nbob", "acknowledged_at": "2026-10-26T10:35:00+00:00"},
    ]
    breaches += [
        {"ticket_id": 200 + i, "rule": "LatencyHigh", "service": f"svc-{i % 7:02d}", "priority": "P1",
         "deadline": "recovery", "due": f"2026-10-{1 + i % 28:02d}T10:00:00+00:00",
         "done_at": f"2026-10-{1 + i % 28:02d}T11:00:00+00:00", "late_seconds": 3600,
         "acknowledged_by": "bob@example.com", "acknowledged_at": f"2026-10-{1 + i % 28:02d}T09:50:00+00:00"}
        for i in range(59)
    ]
    services = {f"svc-{i:02d}": _service(0.99995 - i * 0.00004, incidents=i % 3) for i in range(32)}
    services |= {
        "api": _service(0.99942, incidents=4, query_availability=0.99951),
        "checkout": _service(0.99712, incidents=6),
        HOSTILE: _service(0.9981, incidents=2),
        "search": _service(None, incidents=0, query_error="bad_data: 1:14: parse error: unexpected <by>"),
    }
    daily = [{"date": f"2026-10-{d:02d}", "P0": 1 if d in (3, 12, 19) else 0, "P1": (d * 7) % 4,
              "P2": (d * 5) % 3} for d in range(1, 32)]
    return {
        "month": "2026-10", "timezone": "Europe/Berlin", "generated_at": "2026-11-01T08:00:00+00:00",
        "service": None,
        "period": {"start": "2026-09-30T22:00:00+00:00", "end": "2026-10-31T23:00:00+00:00", "seconds": 2_682_000},
        "overall": _priority(72, (69, 3, 0), (40, 60, 2), (420.5, 300, 1100), (5400, 3900, 14400), None, None),
        "priorities": {
            "P0": _priority(12, (11, 1, 0), (10, 1, 1), (312.5, 240, 780), (3900, 3300, 7800), 0.95, False),
            "P1": _priority(60, (58, 2, 0), (30, 59, 1), (600, 480, 1500), (7300, 5000, 16000), 0.9, False),
            "P2": _priority(0, (0, 0, 0), (0, 0, 0), None, None, 0.9, None),
        },
        "pending": [
            {"ticket_id": 140, "rule": HOSTILE, "service": "api", "priority": "P0", "deadline": "recovery",
             "due": "2026-10-31T23:30:00+00:00"},
            {"ticket_id": 141, "rule": "DiskFilling", "service": "search", "priority": "P2", "deadline": "response",
             "due": "2026-11-02T09:00:00+00:00"},
        ],
        "breaches": breaches,
        "worst_rules": [{"rule": "LatencyHigh", "breaches": 59}, {"rule": HOSTILE, "breaches": 1}],
        "worst_services": [{"service": "svc-00", "breaches": 9}, {"service": HOSTILE, "breaches": 1}],
        "services": services,
        "daily": daily,
    }


REPORT = sample_report()


def svgs(html: str) -> dict[str, ET.Element]:
    found = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    parsed = [ET.fromstring(svg) for svg in found]
    return {svg.get("id"): svg for svg in parsed}


class _Markup(HTMLParser):
    """Collects tags and attributes (not text) of an HTML document."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str, str]] = []
        self.style = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_style = tag == "style"
        self.attributes += [(tag, name, value or "") for name, value in attrs]

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.style += data


# -- every format ---------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_month(fmt: str) -> None:
    """Each of text, markdown, html, json and csv renders the sample report and names the month."""
    out = render(REPORT, fmt)  # type: ignore[arg-type]
    assert "2026-10" in out
    assert out.endswith("\n")


def test_rendering_does_not_change_the_report() -> None:
    """Rendering is pure: the input dict is left as it was."""
    report = sample_report()
    before = copy.deepcopy(report)
    for fmt in FORMATS:
        render(report, fmt)  # type: ignore[arg-type]
    slack_summary(report)
    assert report == before


def test_unknown_format_is_a_value_error() -> None:
    """A format outside FORMATS is refused with the list of formats."""
    with pytest.raises(ValueError, match="text, markdown, html, json, csv"):
        render(REPORT, "pdf")  # type: ignore[arg-type]


def test_json_is_the_report_unchanged() -> None:
    """`--format json` is the documented input shape, indented."""
    out = render(REPORT, "json")
    assert json.loads(out) == REPORT
    assert out.startswith('{\n  "month": "2026-10"')


# -- escaping of label values ----------------------------------------------------------------

def test_html_escapes_label_values_and_has_no_script() -> None:
    """A rule/service named `<script>alert(1)</script> & co` shows escaped; no `<script` tag exists."""
    html = render(REPORT, "html")
    assert HOSTILE_HTML in html
    assert HOSTILE not in html
    assert "<script" not in html.lower()
    assert "&lt;@U0EVIL&gt; &lt;!channel&gt;" in html


def test_markdown_escapes_label_values() -> None:
    """Label values cannot inject HTML or markdown: `<`, `>`, `&` become entities, markup gets a backslash."""
    md = render(REPORT, "markdown")
    assert HOSTILE_MD in md
    assert "<script" not in md.lower()
    assert r"HighErrorRate\_\*bold\*\_\[link\](x)\|pipe" in md
    for line in md.splitlines():
        if line.startswith("| #101 "):
            assert line.count(" | ") == 8  # nine cells: the `|` in a value did not add one


@pytest.mark.parametrize("raw, escaped", [
    ("a|b", r"a\|b"), ("<b>&", "&lt;b&gt;&amp;"), ("`x`", r"\`x\`"), ("*_[]~", r"\*\_\[\]\~"),
    ("back\\slash", r"back\\slash"), ("two\nlines", "two lines"), ("&lt;", "&amp;lt;"),
])
def test_escape_markdown(raw: str, escaped: str) -> None:
    """Each markdown-significant character is neutralised; a line break cannot end a table row."""
    assert escape_markdown(raw) == escaped


def test_text_replaces_control_characters() -> None:
    """An escape sequence or newline in a label cannot reach the terminal."""
    text = render(REPORT, "text")
    assert "\x1b" not in text
    assert "alice\ufffd[31m b" in text


def test_slack_summary_is_short_escaped_mrkdwn() -> None:
    """The summary names the month, each priority against target and the breaches; `&<>` are escaped."""
    report = sample_report()
    report["services"][HOSTILE]["availability"] = 0.5
    report["services"][HOSTILE]["target_met"] = False
    text = slack_summary(report)
    assert "*SLA report 2026-10*" in text
    assert ":x: *P0*: response 91.7 %, recovery 90.9 % (target 95.0 %), 12 incidents" in text
    assert ":grey_question: *P2*: response n/a" in text
    assert "*Breaches:* 62" in text
    assert f"*Worst availability:* {HOSTILE_MRKDWN} 50.000 %" in text
    assert "<" not in text
    assert len(text) < 1000


# -- HTML: self-contained, charts -----------------------------------------------------------

def test_a_hostile_service_filter_is_escaped_everywhere() -> None:
    """A report scoped to a service named by a label escapes that name in every format."""
    report = {**REPORT, "service": HOSTILE}
    assert f"<title>SLA report 2026-10 (service {HOSTILE_HTML})</title>" in render(report, "html")
    assert f"# SLA report 2026-10 (service {HOSTILE_MD})" in render(report, "markdown")
    assert f"service {HOSTILE_MRKDWN}" in slack_summary(report)
    assert "<script" not in render(report, "html") + render(report, "markdown") + slack_summary(report)


def test_html_is_self_contained() -> None:
    """No script, no external URL, no loaded resource: only the SVG namespace mentions http."""
    html = render(REPORT, "html")
    markup = _Markup()
    markup.feed(html)
    assert not set(markup.tags) & {"script", "link", "img", "iframe", "object", "embed", "base", "form"}
    for tag, name, value in markup.attributes:
        assert not name.startswith("on"), (tag, name)
        assert name not in ("src", "href", "srcset", "action", "style") or tag == "svg", (tag, name)
        if "http" in value or "//" in value:
            assert (tag, name, value) == ("svg", "xmlns", "http://www.w3.org/2000/svg"), (tag, name, value)
    assert "url(" not in markup.style and "@import" not in markup.style
    literal = html.replace('xmlns="http://www.w3.org/2000/svg"', "").replace('http-equiv="Content-Security-Policy"', "")
    assert "http" not in literal.lower()
    assert "default-src 'none'" in html


def test_html_has_three_svg_charts_that_parse_as_xml() -> None:
    """Attainment, daily and availability charts are inline SVG with id, width, height and viewBox."""
    charts = svgs(render(REPORT, "html"))
    assert set(charts) == set(CHART_IDS)
    for chart in charts.values():
        assert int(chart.get("width", "0")) > 0 and int(chart.get("height", "0")) > 0
        assert chart.get("viewBox") == f"0 0 {chart.get('width')} {chart.get('height')}"


def test_svg_text_is_escaped() -> None:
    """A hostile service name is text inside the availability chart, never an element."""
    chart = svgs(render(REPORT, "html"))["chart-availability"]
    assert not [e for e in chart.iter() if e.tag.endswith("script")]
    texts = ["".join(e.itertext()) for e in chart.iter(f"{SVG_NS}text")]
    assert any(t.startswith("<script>alert(1)</script>") for t in texts)


def test_availability_chart_lists_missed_targets_first_and_caps_at_30() -> None:
    """Worst first (missed targets, then lowest availability), 30 bars and a note for the rest."""
    chart = svgs(render(REPORT, "html"))["chart-availability"]
    texts = ["".join(e.itertext()) for e in chart.iter(f"{SVG_NS}text")]
    labels = [t for t in texts if t in {"checkout", "api", "svc-00"} or t.startswith("<script>")]
    assert labels[:2] == ["checkout", HOSTILE]
    assert any(t == "and 6 more services, listed in the table below" for t in texts)
    assert sum(1 for e in chart.iter(f"{SVG_NS}rect") if e.find(f"{SVG_NS}title") is not None) == 30


def test_availability_axis_starts_below_the_lowest_value() -> None:
    """The axis starts at a round "nines" value far enough below the data for bars to show."""
    assert report_charts.availability_axis_start([0.99942, 0.999]) == 0.995
    assert report_charts.availability_axis_start([0.97, 0.999]) == 0.95
    assert report_charts.availability_axis_start([None]) == 0.0


def test_charts_handle_an_empty_month() -> None:
    """No tickets and no services: the charts still render, with a note instead of bars."""
    for svg in (report_charts.attainment_chart({}), report_charts.daily_chart([]),
                report_charts.availability_chart([])):
        ET.fromstring(svg)


# -- CSV ------------------------------------------------------------------------------------------

def test_csv_has_the_documented_columns_and_one_row_per_scope() -> None:
    """CSV: the CSV_COLUMNS header, then P0, P1, P2 and overall; null is an empty cell."""
    rows = list(csv.reader(io.StringIO(render(REPORT, "csv"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert CSV_COLUMNS[2:4] == ("scope", "incidents") and CSV_COLUMNS[-2:] == ("target", "target_met")
    table = [dict(zip(rows[0], row)) for row in rows[1:]]
    assert [r["scope"] for r in table] == ["P0", "P1", "P2", "overall"]
    p0, p2, overall = table[0], table[2], table[3]
    assert p0["month"] == "2026-10" and p0["service"] == ""
    assert float(p0["response_attainment"]) == pytest.approx(11 / 12)
    assert p0["target_met"] == "false" and p2["target_met"] == "" and p2["response_attainment"] == ""
    assert overall["target"] == "" and overall["incidents"] == "72"


# -- text -----------------------------------------------------------------------------------------

def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_text_lines_fit_100_columns() -> None:
    """Every line of the text report fits in 100 columns, counting wide characters as two."""
    text = render(REPORT, "text")
    for line in text.splitlines():
        assert len(line) <= TEXT_WIDTH and _display_width(line) <= TEXT_WIDTH, line


def test_text_has_every_section() -> None:
    """The text report has attainment vs target, times, breaches, offenders, availability, daily, pending."""
    text = render(REPORT, "text")
    for heading in ("ATTAINMENT", "RESPONSE AND RECOVERY TIMES", "BREACHES (62;", "WORST OFFENDERS",
                    "AVAILABILITY BY SERVICE", "DAILY INCIDENTS", "PENDING"):
        assert heading in text
    p0 = next(line for line in text.splitlines() if line.startswith("P0 "))
    assert p0.split() == ["P0", "12", "91.7", "%", "11/1/0", "90.9", "%", "10/1/1", "95.0", "%", "✗", "MISSED"]
    p2 = next(line for line in text.splitlines() if line.startswith("P2 "))
    assert "n/a" in p2


def test_text_shows_times_in_the_report_timezone() -> None:
    """Timestamps are UTC in the report and local in the text: 12:05Z is 14:05 CEST, 09:30Z 10:30 CET."""
    text = render(REPORT, "text")
    assert "Period    2026-10-01 00:00 CEST to 2026-11-01 00:00 CET (Europe/Berlin)" in text
    assert "10-03 14:05" in text and "10-26 10:30" in text


def test_text_caps_breaches_at_50() -> None:
    """At most 50 breaches are listed in text; the rest are counted."""
    text = render(REPORT, "text")
    assert "... and 12 more" in text
    assert len(re.findall(r"^\s*#\d+ ", text, flags=re.M)) == 50 + len(REPORT["pending"])


def _filtered(tmp_path: Path, value: object, name: str) -> str:
    """`value` through the report's filter `name`, as a user's text template prints it."""
    (tmp_path / "report.txt.j2").write_text(f"{{{{ ({value!r})|{name} }}}}")
    return render(REPORT, "text", template_dir=tmp_path)


@pytest.mark.parametrize("seconds, shown", [
    (None, "n/a"), (0, "0s"), (45, "45s"), (750, "12m 30s"), (3900, "1h 05m"), (3600, "1h 00m"),
    (183_600, "2d 03h"), (59.6, "1m 00s"),
])
def test_duration(tmp_path: Path, seconds: float | None, shown: str) -> None:
    """Durations read as the two largest units, minutes and hours zero-padded."""
    assert _filtered(tmp_path, seconds, "duration") == shown


@pytest.mark.parametrize("ratio, shown", [
    (None, "n/a"), (0.975, "97.5 %"), (1.0, "100.0 %"), (0.99995, "99.9 %"), (0, "0.0 %"), (1.42, "142.0 %"),
])
def test_percent(tmp_path: Path, ratio: float | None, shown: str) -> None:
    """One decimal; a shortfall never rounds up to 100 %."""
    assert _filtered(tmp_path, ratio, "percent") == shown


def test_availability_has_three_decimals(tmp_path: Path) -> None:
    """An availability and its target tell 99.86 % from 99.9 %; a shortfall never shows 100 %."""
    assert _filtered(tmp_path, 0.99862, "availability") == "99.862 %"
    assert _filtered(tmp_path, 0.9999999, "availability") == "99.999 %"


def test_table_cells_format_values_as_the_filters_do() -> None:
    """Late and time columns in the text tables use the same durations and percentages."""
    text = render(REPORT, "text")
    assert "12m 30s" in text and "1h 05m" in text and "1h 00m" in text
    assert "99.942 %" in text and "91.7 %" in text


# -- templates ------------------------------------------------------------------------------------

def test_user_template_dir_overrides_a_shipped_template(tmp_path: Path) -> None:
    """A `report.txt.j2` in the user's template dir replaces the shipped one (still escaped)."""
    (tmp_path / "report.txt.j2").write_text(
        "Custom {{ month }}: {{ report.breaches|length }} breaches; first rule {{ breaches[0].rule }}\n")
    assert render(REPORT, "text", template_dir=tmp_path) == f"Custom 2026-10: 62 breaches; first rule {HOSTILE}\n"
    assert "ATTAINMENT" in render(REPORT, "markdown", template_dir=tmp_path).upper()  # others stay shipped


def test_user_template_can_extend_the_shipped_one(tmp_path: Path) -> None:
    """`{% extends "default/report.html.j2" %}` changes one block and keeps the rest escaped."""
    (tmp_path / "report.html.j2").write_text(
        '{% extends "default/report.html.j2" %}{% block pending %}<p>ours: {{ pending[0].rule }}</p>{% endblock %}')
    html = render(REPORT, "html", template_dir=tmp_path)
    assert f"<p>ours: {HOSTILE_HTML}</p>" in html
    assert 'id="chart-daily"' in html


def test_a_failing_user_template_names_file_and_line(tmp_path: Path) -> None:
    """An undefined variable or a sandbox violation is a TemplateFailed with file:line."""
    (tmp_path / "report.txt.j2").write_text("ok\n{{ no_such_thing }}\n")
    with pytest.raises(TemplateFailed, match=r"report\.txt\.j2:2: UndefinedError"):
        render(REPORT, "text", template_dir=tmp_path)
    (tmp_path / "report.md.j2").write_text("{{ report.__class__.__mro__ }}\n")
    with pytest.raises(TemplateFailed, match=r"report\.md\.j2"):
        render(REPORT, "markdown", template_dir=tmp_path)
