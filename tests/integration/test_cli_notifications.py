"""`slawatch notifications list|retry` over a real database: dead letters are visible and retryable."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from click.testing import CliRunner

from slawatch.cli import main
from slawatch.cli.common import Env
from slawatch.model import NotificationKind, OutboxStatus
from slawatch.store import outbox
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.outbox import NewNotification

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)


def cli(config: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(config)], obj=Env(clock=lambda: NOW))
    return result.exit_code, result.output


def test_failed_rows_are_listed_with_their_error_and_a_retry_queues_them_again(db_url: str, tmp_path: Path) -> None:
    config = tmp_path / "slawatch.yaml"
    config.write_text(f"database: {{url: '{db_url}'}}\n")
    engine = make_engine(db_url)
    upgrade(engine)
    with engine.begin() as conn:
        outbox.add(conn, [NewNotification(None, NotificationKind.DIGEST, "#gone", {"ticket_ids": []}, "d:1"),
                          NewNotification(None, NotificationKind.DIGEST, "#ok", {"ticket_ids": []}, "d:2")], NOW)
        (gone,) = [r for r in outbox.listing(conn) if r["channel"] == "#gone"]
        outbox.dead_letter(conn, outbox.get(conn, gone["id"]), "slack error 200: channel_not_found\x1b[2J", NOW)

    code, out = cli(config, "notifications", "list", "--status", "failed", "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["channel"] == "#gone" and row["status"] == "failed" and "channel_not_found" in row["last_error"]

    code, out = cli(config, "notifications", "list", "--status", "failed")
    assert code == 0 and "channel_not_found\\x1b[2J" in out and "\x1b" not in out  # shown escaped

    code, out = cli(config, "notifications", "retry", str(row["id"]))
    assert code == 0 and "queued again" in out
    with engine.connect() as conn:
        assert outbox.get(conn, row["id"]).status is OutboxStatus.PENDING
    code, out = cli(config, "notifications", "retry", str(row["id"]))
    assert code == 1 and "has not failed" in out
    engine.dispose()
