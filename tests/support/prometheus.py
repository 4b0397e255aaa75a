"""A real Prometheus server for tests, on a loopback port with a throwaway TSDB.

``PrometheusServer`` writes a config (JSON, which is valid YAML) that scrapes the
given targets and loads the given rule files, starts ``/usr/bin/prometheus``,
and waits (bounded) for ``/-/ready``. Its log goes to ``prometheus.log`` in the
work dir; the log tail is included in any startup failure.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import weakref
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Mapping, NoReturn, Sequence, TypedDict

import pytest
import requests

from tests.support.ports import free_port
from tests.support.waiting import wait_until

DEFAULT_BINARY = "/usr/bin/prometheus"
STARTUP_TIMEOUT = 30.0
STOP_GRACE = 5.0
_PORT_ATTEMPTS = 3

TargetHealth = Literal["up", "down", "unknown"]


class PrometheusStartError(RuntimeError):
    """Prometheus exited or did not become ready; the message carries the log tail."""


class PrometheusAPIError(RuntimeError):
    """The HTTP API answered with ``status: error`` or a non-JSON failure."""


class Alert(TypedDict):
    """One entry of ``/api/v1/alerts``, with timestamps and values parsed."""

    labels: dict[str, str]
    annotations: dict[str, str]
    state: str
    activeAt: datetime | None
    value: float


def prometheus_binary() -> str:
    """Path of the Prometheus binary; fails the test under ``CI``, else skips it.

    ``PROMETHEUS_BINARY`` overrides the lookup.
    """
    override = os.environ.get("PROMETHEUS_BINARY")
    candidates = [override] if override else [shutil.which("prometheus"), DEFAULT_BINARY]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    if os.environ.get("CI"):
        pytest.fail("prometheus binary missing: CI must install Debian's prometheus package")
    pytest.skip("prometheus binary missing (install Debian's prometheus package)")


def parse_timestamp(text: str | None) -> datetime | None:
    """Parse Prometheus' RFC 3339 timestamps (nanoseconds, ``Z``) to aware UTC."""
    if not text or text.startswith("0001-01-01"):
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", text)
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def build_config(
    scrape_targets: Mapping[str, Sequence[str]],
    rule_files: Sequence[Path],
    scrape_interval: str,
    evaluation_interval: str,
    external_labels: Mapping[str, str],
) -> dict[str, Any]:
    """The prometheus.yml content as a dict (rule files referenced by absolute path)."""
    global_section: dict[str, Any] = {
        "scrape_interval": scrape_interval,
        "evaluation_interval": evaluation_interval,
    }
    if external_labels:
        global_section["external_labels"] = dict(external_labels)
    return {
        "global": global_section,
        "rule_files": [str(Path(path).resolve()) for path in rule_files],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": list(targets)}]}
            for job, targets in scrape_targets.items()
        ],
    }


def _reap(proc: subprocess.Popen[bytes]) -> None:
    """SIGCONT (in case it is stopped), SIGTERM, SIGKILL after the grace; always wait."""
    if proc.poll() is not None:
        return
    for sig in (signal.SIGCONT, signal.SIGTERM):
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class PrometheusServer:
    """One Prometheus process on 127.0.0.1; ``start()`` or use as a context manager."""

    def __init__(
        self,
        scrape_targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[Path] = (),
        scrape_interval: str = "1s",
        evaluation_interval: str = "1s",
        external_labels: Mapping[str, str] | None = None,
        *,
        workdir: Path | None = None,
        binary: str | None = None,
        extra_flags: Sequence[str] = (),
        startup_timeout: float = STARTUP_TIMEOUT,
    ) -> None:
        self.scrape_targets: dict[str, list[str]] = {
            job: list(targets) for job, targets in (scrape_targets or {}).items()
        }
        self.rule_files: list[Path] = [Path(path) for path in rule_files]
        self.scrape_interval = scrape_interval
        self.evaluation_interval = evaluation_interval
        self.external_labels: dict[str, str] = dict(external_labels or {})
        self._workdir_arg = workdir
        self._binary = binary
        self._extra_flags = list(extra_flags)
        self._startup_timeout = min(startup_timeout, STARTUP_TIMEOUT)
        self._workdir: Path | None = None
        self._owns_workdir = False
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize | None = None
        self._port = 0
        self._paused = False
        self._session = requests.Session()

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> PrometheusServer:
        """Start the process and wait (≤ 30 s) until ``/-/ready`` answers 200."""
        if self._proc is not None:
            raise RuntimeError("PrometheusServer already started")
        binary = self._binary or prometheus_binary()
        self._prepare_workdir()
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            self._port = free_port()
            self.write_config()
            self._spawn(binary)
            if self._await_ready(retry_port_clash=attempt < _PORT_ATTEMPTS):
                return self
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s; always reaps. Safe to call twice."""
        proc, self._proc = self._proc, None
        if proc is not None:
            _reap(proc)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        self._paused = False
        self._session.close()
        if self._owns_workdir and self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._owns_workdir = False

    def pause(self) -> None:
        """SIGSTOP the process: it keeps its socket but answers nothing."""
        os.kill(self._require_proc().pid, signal.SIGSTOP)
        self._paused = True

    def resume(self) -> None:
        """SIGCONT a paused process."""
        os.kill(self._require_proc().pid, signal.SIGCONT)
        self._paused = False

    def reload(
        self,
        scrape_targets: Mapping[str, Sequence[str]] | None = None,
        rule_files: Sequence[Path] | None = None,
    ) -> None:
        """Rewrite the config if given new targets/rules, then POST ``/-/reload``.

        The reload is synchronous: on return the new rules are loaded, and a
        config Prometheus rejects raises PrometheusAPIError with its reason.
        """
        if scrape_targets is not None:
            self.scrape_targets = {job: list(t) for job, t in scrape_targets.items()}
        if rule_files is not None:
            self.rule_files = [Path(path) for path in rule_files]
        self.write_config()
        response = self._session.post(f"{self.url}/-/reload", timeout=10)
        if response.status_code != 200:
            raise PrometheusAPIError(
                f"reload failed ({response.status_code}): {response.text.strip()}\n"
                f"log {self.log_path}:\n{self.log_tail(10)}"
            )

    def __enter__(self) -> PrometheusServer:
        if self._proc is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- where things are ----------------------------------------------------

    @property
    def port(self) -> int:
        """The listen port (0 before ``start()``)."""
        return self._port

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:41234``."""
        return f"http://127.0.0.1:{self._port}"

    @property
    def workdir(self) -> Path:
        """Directory holding the config, the TSDB (``data/``) and the log."""
        if self._workdir is None:
            raise RuntimeError("PrometheusServer not started")
        return self._workdir

    @property
    def config_path(self) -> Path:
        return self.workdir / "prometheus.yml"

    @property
    def log_path(self) -> Path:
        return self.workdir / "prometheus.log"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        """True while the process exists and has not exited."""
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return self._paused

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the Prometheus log."""
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError as exc:
            return f"<no log: {exc}>"
        return "\n".join(text.splitlines()[-lines:])

    def write_config(self) -> Path:
        """(Re)write prometheus.yml from the current settings."""
        config = build_config(
            self.scrape_targets,
            self.rule_files,
            self.scrape_interval,
            self.evaluation_interval,
            self.external_labels,
        )
        self.config_path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return self.config_path

    # -- HTTP API ------------------------------------------------------------

    def query(
        self, expr: str, timeout: float = 5.0, at: datetime | float | None = None
    ) -> list[dict[str, Any]]:
        """Run an instant query; return ``data.result`` (vector, scalar or string)."""
        params: dict[str, str] = {"query": expr}
        if isinstance(at, datetime):
            params["time"] = f"{at.timestamp():.3f}"
        elif at is not None:
            params["time"] = f"{at:.3f}"
        data = self._api("/api/v1/query", params, timeout)
        result = data["result"]
        if data.get("resultType") in ("scalar", "string"):
            return [{"metric": {}, "value": result}]
        return list(result)

    def alerts(self, timeout: float = 5.0) -> list[Alert]:
        """Active (pending and firing) alerts from ``/api/v1/alerts``."""
        data = self._api("/api/v1/alerts", {}, timeout)
        return [
            Alert(
                labels=dict(raw.get("labels", {})),
                annotations=dict(raw.get("annotations", {})),
                state=raw["state"],
                activeAt=parse_timestamp(raw.get("activeAt")),
                value=float(raw["value"]),
            )
            for raw in data["alerts"]
        ]

    def targets(self, timeout: float = 5.0) -> list[dict[str, Any]]:
        """Active scrape targets from ``/api/v1/targets``."""
        data = self._api("/api/v1/targets", {"state": "active"}, timeout)
        return list(data["activeTargets"])

    def wait_for_target_health(
        self, job: str, health: TargetHealth, timeout: float = 15.0
    ) -> list[dict[str, Any]]:
        """Wait until every target of ``job`` reports ``health``; return those targets."""
        observed: list[object] = []

        def reached() -> list[dict[str, Any]]:
            targets = [t for t in self.targets() if t["labels"].get("job") == job]
            observed[:] = [(t["scrapeUrl"], t["health"], t.get("lastError")) for t in targets]
            return targets if targets and all(t["health"] == health for t in targets) else []

        return wait_until(
            reached,
            timeout,
            0.1,
            f"targets of job {job!r} did not become {health!r}; saw {observed}",
            ignore=(requests.RequestException,),
        )

    # -- internals -------------------------------------------------------------

    def _api(self, path: str, params: Mapping[str, str], timeout: float) -> dict[str, Any]:
        response = self._session.get(f"{self.url}{path}", params=params, timeout=timeout)
        try:
            body = response.json()
        except ValueError:
            raise PrometheusAPIError(
                f"GET {path} -> {response.status_code}: {response.text[:500]}"
            ) from None
        if body.get("status") != "success":
            raise PrometheusAPIError(
                f"GET {path} -> {response.status_code}: "
                f"{body.get('errorType')}: {body.get('error')}"
            )
        return dict(body["data"])

    def _require_proc(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise RuntimeError("Prometheus is not running")
        return self._proc

    def _prepare_workdir(self) -> None:
        if self._workdir_arg is not None:
            self._workdir = Path(self._workdir_arg)
            self._workdir.mkdir(parents=True, exist_ok=True)
        else:
            self._workdir = Path(tempfile.mkdtemp(prefix="prometheus-"))
            self._owns_workdir = True

    def _spawn(self, binary: str) -> None:
        argv = [
            binary,
            f"--config.file={self.config_path}",
            f"--web.listen-address=127.0.0.1:{self._port}",
            f"--storage.tsdb.path={self.workdir / 'data'}",
            "--web.enable-lifecycle",
            "--storage.tsdb.retention.time=1d",
            "--log.level=info",
            *self._extra_flags,
        ]
        with open(self.log_path, "ab") as log:
            log.write(f"### {' '.join(argv)}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.workdir,
            )
        self._finalizer = weakref.finalize(self, _reap, self._proc)

    def _await_ready(self, retry_port_clash: bool) -> bool:
        """True once ready; False if the port was taken and a retry is allowed."""
        proc = self._require_proc()
        deadline = time.monotonic() + self._startup_timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                if retry_port_clash and "address already in use" in self.log_tail(10):
                    self._proc = None
                    return False
                self._fail_start(f"prometheus exited with code {proc.returncode} during startup")
            try:
                if self._session.get(f"{self.url}/-/ready", timeout=1).status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        self._fail_start(f"prometheus not ready after {self._startup_timeout:g}s")

    def _fail_start(self, reason: str) -> NoReturn:
        """Stop everything and raise with the log tail (read before the work dir goes)."""
        message = f"{reason}; log {self.log_path}:\n{self.log_tail()}"
        self.stop()
        raise PrometheusStartError(message)
