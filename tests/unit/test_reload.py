"""What a reload applies live and what it leaves for a restart (`config.reload.plan_reload`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from slawatch.config.reload import ReloadPlan, plan_reload
from slawatch.config.settings import Settings

BASE: dict[str, Any] = {
    "database": {"url": "sqlite:///a.db"},
    "rules": {"paths": ["rules/*.yaml"]},
    "log": {"level": "info", "format": "json"},
    "slack": {"channel": "#alerts", "routes": [{"match": {"service": "db"}, "channel": "#db"}],
              "signing_secret": "s3cret"},
}


def settings(**sections: dict[str, Any]) -> Settings:
    """BASE with some sections' fields replaced."""
    data = {name: dict(fields) for name, fields in BASE.items()}
    for name, fields in sections.items():
        data.setdefault(name, {}).update(fields)
    return Settings.model_validate(data)


@pytest.mark.parametrize(
    "new, changed, needs_restart",
    [
        (settings(), (), ()),
        (settings(rules={"paths": ["rules/*.yaml", "more/*.yml"]}), ("rules.paths",), ()),
        (settings(rules={"evaluation_interval": "30s"}), ("rules.evaluation_interval",), ()),
        (settings(sla={"priorities": {"P0": {"response": "10m"}}}), ("sla.priorities",), ()),
        (settings(sla={"timezone": "Europe/Berlin"}), ("sla.timezone",), ()),
        (settings(log={"level": "debug"}), ("log.level",), ()),
        (settings(log={"format": "console"}), (), ("log.format",)),
        (settings(log={"level": "debug", "format": "console"}), ("log.level",), ("log.format",)),
        (settings(database={"url": "postgresql+psycopg://u@db/s"}), (), ("database",)),
        (settings(slack={"routes": [{"match": {"service": "db"}, "channel": "#dba"}]}), ("slack.routes",), ()),
        (settings(slack={"signing_secret": "n3w"}), (), ("slack.signing_secret",)),
        (settings(prometheus={"url": "http://other:9090"}), (), ("prometheus",)),
        (settings(server={"listen": "127.0.0.1:9999"}), (), ("server",)),
        (
            settings(rules={"paths": ["r/*.yaml"]}, database={"url": "sqlite:///b.db"}, slack={"channel": "#x"}),
            ("rules.paths", "slack.channel"),
            ("database",),
        ),
    ],
    ids=[
        "no change",
        "rule paths only",
        "evaluation interval",
        "sla priority target",
        "sla timezone",
        "log level is applied",
        "log format needs a restart",
        "log level and format split",
        "database url needs a restart",
        "slack route is applied",
        "slack signing secret needs a restart",
        "prometheus needs a restart",
        "listen address needs a restart",
        "several sections, in section order",
    ],
)
def test_each_change_is_applied_or_named_as_needing_a_restart(
    new: Settings, changed: tuple[str, ...], needs_restart: tuple[str, ...]
) -> None:
    """A changed field is listed as `section.field` to apply, or as needing a restart (the whole
    section for database, server and prometheus; the field for log.format and the signing secret)."""
    assert plan_reload(settings(), new) == ReloadPlan(changed, needs_restart)


def test_the_same_settings_read_from_another_file_are_no_change(tmp_path: Path) -> None:
    """base_dir and source say where the file was, not what it says: moving it changes nothing."""
    moved = settings().model_copy(update={"base_dir": tmp_path, "source": str(tmp_path / "slawatch.yaml")})
    assert plan_reload(settings(), moved) == ReloadPlan((), ())


def test_a_changed_secret_is_named_but_never_shown() -> None:
    """The plan names the signing secret field without its old or new value."""
    plan = plan_reload(settings(), settings(slack={"signing_secret": "n3w"}))
    assert "s3cret" not in repr(plan) and "n3w" not in repr(plan)
