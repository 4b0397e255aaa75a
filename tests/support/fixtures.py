"""Pytest fixtures for the real-Prometheus harness (imported by tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator, Mapping, Protocol, Sequence

import pytest

from tests.support.exporter import Exporter
from tests.support.prometheus import PrometheusServer


class PrometheusFactory(Protocol):
    """Starts a PrometheusServer; the fixture stops it at teardown."""

    def __call__(
        self,
        scrape_targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[Path] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        external_labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> PrometheusServer: ...


@pytest.fixture
def exporter() -> Iterator[Exporter]:
    """A fresh, empty exporter on a loopback port, closed after the test."""
    with Exporter() as instance:
        yield instance


@pytest.fixture
def prometheus_factory(tmp_path: Path) -> Iterator[PrometheusFactory]:
    """A callable that starts Prometheus servers (work dirs under tmp_path).

    Every server it started is stopped and reaped at teardown, even if the test
    failed; the logs stay in ``tmp_path/prometheus-N/prometheus.log``.
    """
    started: list[PrometheusServer] = []

    def start(
        scrape_targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[Path] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        external_labels: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> PrometheusServer:
        kwargs.setdefault("workdir", tmp_path / f"prometheus-{len(started)}")
        server = PrometheusServer(
            scrape_targets,
            rule_files,
            scrape_interval,
            evaluation_interval,
            external_labels,
            **kwargs,
        )
        started.append(server)
        return server.start()

    yield start
    for server in reversed(started):
        server.stop()
