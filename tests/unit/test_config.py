"""Configuration: typed, validated, errors name file, line and key."""

from __future__ import annotations

from datetime import date, time, timedelta
from pathlib import Path

import pytest

from slawatch.config.located import InputError
from slawatch.config.settings import load_settings
from slawatch.model import Priority


def test_defaults_without_a_config_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, env={})
    assert s.prometheus.url == "http://127.0.0.1:9090"
    assert s.rules.evaluation_interval == timedelta(seconds=15)
    assert s.database.url.startswith("sqlite:///")


def test_keys_used_by_existing_scripts(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "prometheus:\n  url: http://prom:9090/\n  timeout: 3s\n"
        "database:\n  url: postgresql+psycopg://u@db/s\n"
        "rules:\n  paths: ['r/*.yaml']\n  evaluation_interval: 1m\n"
    )
    s = load_settings(str(path), env={})
    assert s.prometheus.url == "http://prom:9090"
    assert s.prometheus.timeout == timedelta(seconds=3)
    assert s.rules.evaluation_interval == timedelta(minutes=1)
    assert s.rule_globs() == [str(tmp_path / "r/*.yaml")]


def test_environment_overrides_urls(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("database:\n  url: sqlite:///a.db\n")
    s = load_settings(str(path), env={"SLAWATCH_DATABASE_URL": "sqlite:///b.db", "SLAWATCH_PROMETHEUS_URL": "http://p:1"})
    assert (s.database.url, s.prometheus.url) == ("sqlite:///b.db", "http://p:1")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("prometheus:\n  url: http://x\n  timeot: 3s\n", "c.yaml:3: prometheus.timeot: unknown field"),
        ("rules:\n  evaluation_interval: 5 min\n", "c.yaml:2: rules.evaluation_interval: not a valid duration string"),
        ("rules:\n  paths: rules/*.yaml\n", "c.yaml:2: rules.paths: Input should be a valid list"),
        ("prometheus:\n  url: prom:9090\n", "c.yaml:2: prometheus.url: must start with http"),
        ("sla: {}\nbogus: 1\n", "c.yaml:2: bogus: unknown field"),
        ("- a\n", "c.yaml:1: the config must be a YAML mapping"),
    ],
)
def test_errors_name_file_line_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_settings(str(path), env={})
    found = [str(p).replace(str(path), "c.yaml") for p in info.value.problems]
    assert any(p.startswith(expected) for p in found), found


def test_explicit_config_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read file"):
        load_settings(str(tmp_path / "missing.yaml"), env={})


def test_numbers_durations_and_times_still_parse_while_label_values_keep_their_text(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text(
        "prometheus:\n  timeout: 30\n  max_concurrent_queries: 2\n  unreachable_after: 4\n"
        "  external_labels: {cluster: 010, replica: 1.10, page: yes}\n"
        "slack:\n  rate_per_channel: 2\n  digest_threshold: 5\n  routes: [{match: {tier: 1:30}, channel: '#x'}]\n"
        "sla:\n  business_hours: {start: 08:30, end: 17:00}\n  holidays: {dates: [2026-12-24]}\n"
        "  priorities:\n    P1: {warn_at: 0.7, verification: 1m}\n"
    )
    s = load_settings(str(path), env={})
    assert s.prometheus.timeout == timedelta(seconds=30)
    assert (s.prometheus.max_concurrent_queries, s.prometheus.unreachable_after) == (2, 4)
    assert s.prometheus.external_labels == {"cluster": "010", "replica": "1.10", "page": "yes"}
    assert (s.slack.rate_per_channel, s.slack.digest_threshold) == (2.0, 5)
    assert s.slack.routes[0].match == {"tier": "1:30"}
    assert (s.sla.business_hours.start, s.sla.business_hours.end) == (time(8, 30), time(17))
    assert s.sla.holidays.dates == [date(2026, 12, 24)]
    assert s.sla.priorities[Priority.P1].warn_at == 0.7


def test_an_alias_in_the_config_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "c.yaml"
    path.write_text("slack:\n  channel: &c '#alerts'\n  routes: [{match: {team: db}, channel: *c}]\n")
    with pytest.raises(InputError) as info:
        load_settings(str(path), env={})
    assert [str(p).replace(str(path), "c.yaml") for p in info.value.problems] == [
        "c.yaml:3: YAML aliases are not allowed (*c); write the value out"
    ]
