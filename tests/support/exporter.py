"""A tiny Prometheus exporter whose series the test sets directly.

It serves ``/metrics`` in the text exposition format 0.0.4 from a
ThreadingHTTPServer on 127.0.0.1 (an OS-assigned port) in a daemon thread.
Every series is a gauge. ``down()`` makes ``/metrics`` answer HTTP 503, so the
scraping Prometheus records ``up == 0`` for this target.
"""

from __future__ import annotations

import math
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Iterable, Mapping

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

_METRIC_NAME = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_NAME = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

LabelKey = tuple[tuple[str, str], ...]


def escape_label_value(value: str) -> str:
    """Escape a label value as the exposition format requires: \\, \" and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """Render a sample value the way Prometheus parses it (NaN, +Inf, -Inf)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def _label_key(labels: Mapping[str, str]) -> LabelKey:
    for name in labels:
        if not _LABEL_NAME.match(name) or name.startswith("__"):
            raise ValueError(f"invalid label name: {name!r}")
    return tuple(sorted((name, str(value)) for name, value in labels.items()))


def _check_name(name: str) -> str:
    if not _METRIC_NAME.match(name):
        raise ValueError(f"invalid metric name: {name!r}")
    return name


def render(metrics: Mapping[str, Mapping[LabelKey, float]]) -> str:
    """Render gauges as exposition text, sorted for stable output."""
    lines: list[str] = []
    for name in sorted(metrics):
        series = metrics[name]
        if not series:
            continue
        lines.append(f"# TYPE {name} gauge")
        for key in sorted(series):
            body = ",".join(f'{k}="{escape_label_value(v)}"' for k, v in key)
            selector = f"{name}{{{body}}}" if body else name
            lines.append(f"{selector} {format_value(series[key])}")
    return "".join(line + "\n" for line in lines)


class Exporter:
    """A controllable /metrics endpoint; thread-safe; a context manager."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metrics: dict[str, dict[LabelKey, float]] = {}
        self._down = False
        self.scrapes = 0
        """Number of /metrics requests answered (200 or 503)."""
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"exporter-{self.port}",
            daemon=True,
        )
        self._thread.start()

    @property
    def port(self) -> int:
        """The TCP port the exporter listens on."""
        return int(self._server.server_address[1])

    @property
    def address(self) -> str:
        """``host:port``, as a Prometheus static_configs target."""
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """The full URL of the metrics endpoint."""
        return f"http://{self.address}/metrics"

    def set(self, name: str, labels: Mapping[str, str], value: float) -> None:
        """Create or update one series."""
        key = _label_key(labels)
        with self._lock:
            self._metrics.setdefault(_check_name(name), {})[key] = float(value)

    def set_many(
        self,
        name: str,
        series: Iterable[tuple[Mapping[str, str], float]],
        *,
        replace: bool = False,
    ) -> None:
        """Set many series of one metric in one step (a scrape sees all or none).

        With ``replace=True`` the metric's other series disappear in the same step.
        """
        _check_name(name)
        prepared = {_label_key(labels): float(value) for labels, value in series}
        with self._lock:
            if replace:
                self._metrics[name] = prepared
            else:
                self._metrics.setdefault(name, {}).update(prepared)

    def remove(self, name: str, labels: Mapping[str, str]) -> None:
        """Drop one series; a no-op when it is not there."""
        key = _label_key(labels)
        with self._lock:
            series = self._metrics.get(name)
            if series is not None:
                series.pop(key, None)
                if not series:
                    del self._metrics[name]

    def clear(self) -> None:
        """Drop every series."""
        with self._lock:
            self._metrics.clear()

    def down(self) -> None:
        """Answer /metrics with HTTP 503 until ``up()``."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        """Serve /metrics normally again."""
        with self._lock:
            self._down = False

    @property
    def is_down(self) -> bool:
        """True while /metrics answers 503."""
        with self._lock:
            return self._down

    def exposition(self) -> str:
        """The text /metrics would serve now (ignoring ``down()``)."""
        with self._lock:
            return render(self._metrics)

    def close(self) -> None:
        """Stop serving and join the server thread; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> Exporter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Exporter(address={self.address!r})"

    def _snapshot(self) -> tuple[bool, str]:
        with self._lock:
            self.scrapes += 1
            return self._down, render(self._metrics)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        exporter = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                if self.path.split("?", 1)[0] != "/metrics":
                    self._reply(404, "text/plain; charset=utf-8", "not found\n")
                    return
                down, text = exporter._snapshot()
                if down:
                    self._reply(503, "text/plain; charset=utf-8", "exporter is down\n")
                else:
                    self._reply(200, CONTENT_TYPE, text)

            def _reply(self, status: int, content_type: str, text: str) -> None:
                body = text.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Keep test output quiet."""

        return Handler
