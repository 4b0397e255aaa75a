"""`slawatch report` as users run it: JSON to a file, and the summary posted to Slack."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from slawatch.incidents import reconcile as incidents
from slawatch.incidents.actions import acknowledge
from slawatch.model import Labels, Sample
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store.engine import make_engine, upgrade
from tests.support.slack_api import SlackApiServer

RULE = AlertingRule(name="ApiDown", expr="x", labels={"priority": "P0", "service": "api"})
GROUP = RuleGroup("g", "r.yaml", timedelta(seconds=15), (RULE,))
OPENED = datetime(2026, 10, 5, 8, 0, tzinfo=timezone.utc)


def seed(db: Path) -> None:
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    sample = Sample(Labels(instance="a"), 0)
    with ThreadPoolExecutor(1) as pool:
        outcome = evaluate_group(GROUP, {}, OPENED, lambda e, t: [sample], pool)
    with engine.begin() as conn:
        incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())
        acknowledge(conn, 1, "alice", OPENED + timedelta(minutes=20))  # 5 minutes late
    engine.dispose()


def run(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "slawatch", "report", "--config", str(config), *args],
        capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})},
    )


def test_json_report_of_a_month_to_a_file(tmp_path: Path) -> None:
    seed(tmp_path / "s.db")
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path / 's.db'}'}}\nsla: {{timezone: Europe/Berlin}}\n")
    out = tmp_path / "r.json"
    result = run(config, "--month", "2026-10", "--format", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads(out.read_text())
    assert report["month"] == "2026-10" and report["timezone"] == "Europe/Berlin"
    p0 = report["priorities"]["P0"]
    assert (p0["incidents"], p0["response_met"], p0["response_breached"]) == (1, 0, 1)
    assert p0["mtta_seconds"] == 1200
    (breach,) = [b for b in report["breaches"] if b["deadline"] == "response"]
    assert breach["late_seconds"] == 300 and breach["acknowledged_by"] == "alice"


def test_bad_month_is_a_clear_error(tmp_path: Path) -> None:
    config = tmp_path / "c.yaml"
    config.write_text(f"database: {{url: 'sqlite:///{tmp_path / 's.db'}'}}\n")
    result = run(config, "--month", "2026-13")
    assert result.returncode == 2 and "2026-13" in result.stderr


def test_post_slack_sends_the_summary_with_the_html_attached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seed(tmp_path / "s.db")
    with SlackApiServer() as slack:
        config = tmp_path / "c.yaml"
        config.write_text(
            f"database: {{url: 'sqlite:///{tmp_path / 's.db'}'}}\n"
            f"slack: {{base_url: '{slack.base_url}', channel: '#sla'}}\n"
        )
        env = {"SLACK_BOT_TOKEN": slack.token, "HTTPS_PROXY": "", "HTTP_PROXY": "", "https_proxy": "", "http_proxy": ""}
        result = run(config, "--month", "2026-10", "--post-slack", env=env)
        assert result.returncode == 0, result.stderr
        (uploaded,) = slack.files()
    html = uploaded.content.decode()
    assert uploaded.filename == "slawatch-2026-10.html" and "<svg" in html
    assert "2026-10" in (uploaded.initial_comment or "")
