"""What the CLI prints from values monitored systems wrote: escaped, never interpreted,
and aligned by display width (tickets list, tickets show, alerts; SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from slawatch.cli import main
from slawatch.cli.common import Env
from slawatch.cli.terminal import width
from slawatch.model import Alert, AlertState, Labels
from slawatch.store import alert_states
from slawatch.store.engine import make_engine, upgrade
from tests.support import tickets as seed

NOW = datetime(2026, 10, 20, 12, 0, tzinfo=timezone.utc)
HOSTILE = "\x1b[2Jpwned\rX"  # clears the screen, then overwrites the line from its start
SHOWN = "\\x1b[2Jpwned\\rX"  # what the operator must see instead
CONTROLS = ("\x1b", "\r", "\x9b", "\u202e")


@pytest.fixture
def config(tmp_path: Path, db_url: str) -> Path:
    engine = make_engine(db_url)
    upgrade(engine)
    seed.insert(engine, [
        seed.ticket_row(1, NOW - timedelta(minutes=30), rule="DiskFull", labels={"service": "api", "team": "web"},
                        summary="disk full on api-1"),
        seed.ticket_row(2, NOW - timedelta(minutes=20), rule="DiskFull", labels={"service": "数据库", "team": "dba"},
                        summary="🔥 磁盘满了 on 数据库-1"),
        seed.ticket_row(3, NOW - timedelta(minutes=10), rule="Evil", labels={"service": HOSTILE, "note": HOSTILE},
                        summary=f"summary {HOSTILE} \u202eevil\x9b"),
    ])
    with engine.begin() as conn:
        alert_states.save_group(conn, "g", {}, {"Evil": {
            a.fingerprint: a for a in [
                Alert("Evil", Labels(alertname="Evil", instance=HOSTILE, team="db"), AlertState.FIRING,
                      NOW - timedelta(minutes=5), annotations={"summary": f"bad {HOSTILE}"}),
                Alert("Evil", Labels(alertname="Evil", instance="数据库-1", team="dba"), AlertState.PENDING,
                      NOW - timedelta(minutes=1), annotations={"summary": "🔥 磁盘"}),
            ]
        }})
    engine.dispose()
    path = tmp_path / "slawatch.yaml"
    path.write_text(f"database: {{url: '{db_url}'}}\n")
    return path


def run(config: Path, *args: str) -> Result:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], obj=Env(clock=lambda: NOW))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def _no_controls(text: str) -> None:
    for c in CONTROLS:
        assert c not in text, repr(c)


def test_tickets_list_prints_control_characters_escaped(config: Path) -> None:
    out = run(config, "tickets", "list").stdout
    _no_controls(out)
    assert SHOWN in out and "\\u202eevil\\x9b" in out
    assert len(out.splitlines()) == 4  # the header and three rows: no line was split by \r


def test_tickets_show_prints_labels_and_annotations_escaped(config: Path) -> None:
    out = run(config, "tickets", "show", "3").stdout
    _no_controls(out)
    assert f'note="{SHOWN}"' in out and f"service:      {SHOWN}" in out
    assert "summary:      summary " + SHOWN in out


def test_json_keeps_the_exact_value_as_an_escaped_json_string(config: Path) -> None:
    out = run(config, "tickets", "show", "3", "--format", "json").stdout
    _no_controls(out)
    assert json.loads(out)["labels"]["note"] == HOSTILE
    lines = run(config, "tickets", "list", "--format", "jsonl").stdout
    _no_controls(lines)
    assert json.loads(lines.splitlines()[0])["labels"]["service"] == HOSTILE


def test_alerts_print_label_values_escaped(config: Path) -> None:
    out = run(config, "alerts").stdout
    _no_controls(out)
    assert f'instance="{SHOWN}"' in out and f"bad {SHOWN}" in out


def _columns(lines: list[str], header: str) -> list[int]:
    """The display column where `header`'s column starts, on every line."""
    start = width(lines[0][: lines[0].index(header)])
    return [start] + [width(line[: _column_index(line, start)]) for line in lines[1:]]


def _column_index(line: str, cells: int) -> int:
    """The index of the character at display column `cells` (which must start a cell)."""
    for i in range(len(line) + 1):
        if width(line[:i]) >= cells:
            assert width(line[:i]) == cells, (line, cells)
            return i
    raise AssertionError(f"line shorter than {cells} cells: {line!r}")


def test_tickets_table_aligns_cjk_and_emoji_by_display_width(config: Path) -> None:
    lines = run(config, "tickets", "list").stdout.splitlines()
    header = lines[0]
    for name in ("OPENED (UTC)", "RESPONSE", "SUMMARY"):
        start = width(header[: header.index(name)])
        for line in lines[1:]:
            cell = line[_column_index(line, start):]
            assert cell[:1] not in ("", " "), (name, line)  # a cell starts exactly at the header's column
            before = line[: _column_index(line, start)]
            assert before.endswith("  "), (name, line)
    cjk = next(line for line in lines if "数据库" in line)
    # 数据库 is three characters but six cells: the next column starts six cells + two after SERVICE
    service_at = width(header[: header.index("SERVICE")])
    opened_at = width(header[: header.index("OPENED (UTC)")])
    assert width(cjk[: cjk.index("数据库")]) == service_at
    assert opened_at - service_at == max(width("数据库"), width(SHOWN), len("SERVICE")) + 2
    assert cjk[_column_index(cjk, opened_at):].startswith("2026-10-20 11:40:00")


def test_alerts_table_aligns_cjk_by_display_width(config: Path) -> None:
    lines = run(config, "alerts").stdout.splitlines()
    header = lines[0]
    summary_at = width(header[: header.index("SUMMARY")])
    summaries = [line[_column_index(line, summary_at):] for line in lines[1:]]
    assert sorted(summaries) == sorted([f"bad {SHOWN}", "🔥 磁盘"])


def test_a_real_terminal_stream_gets_no_escape_bytes(config: Path) -> None:
    """As a subprocess, bytes on stdout: no ESC, CR or C1 control in any output."""
    for args in (["tickets", "list"], ["tickets", "show", "3"], ["alerts"]):
        out = subprocess.run([sys.executable, "-m", "slawatch", *args, "--config", str(config)],
                             capture_output=True, timeout=60, check=True).stdout
        assert b"\x1b" not in out and b"\r" not in out and "\x9b".encode() not in out, args
        assert SHOWN.encode() in out
