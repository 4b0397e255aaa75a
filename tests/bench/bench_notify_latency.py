"""Fault -> notification latency: slawatch against Prometheus + Alertmanager.

One run sets up everything afresh on 127.0.0.1: an exporter (job ``api``), one
Prometheus (scrape and evaluation every 1s) that evaluates the P0 rule
``ServiceDown`` (``up{job="api"} == 0``, ``for: 5s``) and sends its alerts to two
Alertmanagers (Debian's ``prometheus-alertmanager``), one tuned (``group_wait: 0s,
group_interval: 1s``) and one with Alertmanager's defaults (``group_wait: 30s``),
each posting to a local webhook; and slawatch as a process, evaluating the same rule
file against that Prometheus every 1s and posting to a local Slack Web API server.
Once Prometheus scrapes the target and slawatch has ticked a few times, the
exporter goes down at T (at a random phase of the 1s cycle); the bench records when the first notification of each
path arrives (``time.monotonic()``), and prints per-run latencies, medians and
ratios, plus where slawatch's time went (from its JSON log).

    bash .ci/bench-deps                                  # prometheus, prometheus-alertmanager
    python3 -m tests.bench.bench_notify_latency [--runs 5] [--timeout 90]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Sequence

import requests

from tests.support.daemon_process import DaemonProcess
from tests.support.exporter import Exporter
from tests.support.ports import free_port
from tests.support.prometheus import PrometheusServer, parse_timestamp
from tests.support.slack_api import SlackApiServer
from tests.support.waiting import wait_until

RULE_FOR_SECONDS = 5
RULES = f"""
groups:
  - name: bench
    interval: 1s
    rules:
      - alert: ServiceDown
        expr: up{{job="api"}} == 0
        for: {RULE_FOR_SECONDS}s
        labels: {{priority: P0, service: api}}
        annotations: {{summary: "{{{{ $labels.instance }}}} is down"}}
"""
TUNED_ROUTE = {"group_wait": "0s", "group_interval": "1s"}
DEFAULT_ROUTE: dict[str, str] = {}  # Alertmanager's defaults: group_wait 30s, group_interval 5m
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy")
WARMUP_TICKS = 3
STOP_GRACE = 5.0


class BenchError(RuntimeError):
    """A run could not be measured; the message says what was missing."""


def binary(*names: str) -> str:
    for name in names:
        path = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
        if path:
            return path
    raise BenchError(f"{' or '.join(names)} not found: run `bash .ci/bench-deps` first")


def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    """SIGTERM, SIGKILL after the grace; always reaps."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=STOP_GRACE)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# -- the pieces slawatch is compared with -------------------------------------------


class WebhookSink:
    """An Alertmanager webhook receiver recording each POST with its monotonic arrival."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._received: list[tuple[float, dict[str, Any]]] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                at = time.monotonic()
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                with sink._lock:
                    sink._received.append((at, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Quiet."""

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def first_firing(self, alertname: str, since: float) -> tuple[float, dict[str, Any]] | None:
        """The first post at or after `since` carrying `alertname` firing, and that alert."""
        with self._lock:
            received = list(self._received)
        for at, body in received:
            for alert in body.get("alerts", []):
                if at >= since and alert.get("status") == "firing" and alert.get("labels", {}).get("alertname") == alertname:
                    return at, alert
        return None

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class Alertmanager:
    """Debian's prometheus-alertmanager on a loopback port, clustering off, one webhook route."""

    def __init__(self, name: str, workdir: Path, route: dict[str, str], webhook: str) -> None:
        self.name = name
        self.workdir = workdir / name
        self.workdir.mkdir(parents=True)
        self.route = route
        self.webhook = webhook
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / "alertmanager.log"

    def log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"<no log: {exc}>"

    def start(self, timeout: float = 20.0) -> Alertmanager:
        config = {
            "route": {"receiver": "webhook", "group_by": ["alertname"], **self.route},
            "receivers": [{"name": "webhook", "webhook_configs": [{"url": self.webhook, "send_resolved": False}]}],
        }
        config_path = self.workdir / "alertmanager.yml"
        config_path.write_text(json.dumps(config, indent=2))
        exe = binary("prometheus-alertmanager", "alertmanager")
        for attempt in range(3):
            self.port = free_port()
            argv = [
                exe,
                f"--config.file={config_path}",
                f"--storage.path={self.workdir / 'data'}",
                f"--web.listen-address={self.address}",
                "--cluster.listen-address=",
                "--log.level=info",
            ]
            with open(self.log_path, "ab") as log:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, cwd=self.workdir)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and self.proc.poll() is None:
                try:
                    if requests.get(f"http://{self.address}/-/ready", timeout=1).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
                time.sleep(0.05)
            if self.proc.poll() is not None and "address already in use" in self.log_tail() and attempt < 2:
                continue
            stop_process(self.proc)
            raise BenchError(f"alertmanager {self.name} did not become ready:\n{self.log_tail()}")
        raise AssertionError("unreachable")

    def stop(self) -> None:
        stop_process(self.proc)


class AlertingPrometheus(PrometheusServer):
    """PrometheusServer whose config also sends alerts to the given Alertmanagers."""

    def __init__(self, *args: Any, alertmanagers: Sequence[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.alertmanagers = list(alertmanagers)

    def write_config(self) -> Path:
        path = super().write_config()
        config = json.loads(path.read_text(encoding="utf-8"))
        config["alerting"] = {"alertmanagers": [{"static_configs": [{"targets": self.alertmanagers}]}]}
        path.write_text(json.dumps(config, indent=2), encoding="utf-8")
        return path

    def active_alertmanagers(self) -> list[str]:
        data = self._api("/api/v1/alertmanagers", {}, 5.0)
        return [am["url"] for am in data.get("activeAlertmanagers", [])]


class ScrapeWatch:
    """Timestamps the exporter's first scrape after `arm()` (the first one answered 503)."""

    def __init__(self, exporter: Exporter) -> None:
        self._exporter = exporter
        self._baseline = 0
        self.first_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def arm(self) -> None:
        self._baseline = self._exporter.scrapes
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._exporter.scrapes > self._baseline:
                self.first_at = time.monotonic()
                return
            time.sleep(0.002)

    def close(self) -> None:
        self._stop.set()


# -- one run --------------------------------------------------------------------------


@dataclass
class Run:
    slawatch: float
    tuned: float
    default: float
    notes: dict[str, float | None] = field(default_factory=dict)


def to_monotonic(wall: datetime | str | None, offset: float) -> float | None:
    """A wall-clock instant (aware datetime or ISO text) on this process' monotonic clock."""
    if wall is None:
        return None
    if isinstance(wall, str):
        wall = parse_timestamp(wall)
        if wall is None:
            return None
    return wall.timestamp() + offset


def one_run(workdir: Path, timeout: float) -> Run:
    exporter = Exporter()
    slack = SlackApiServer()
    sinks = {"tuned": WebhookSink(), "default": WebhookSink()}
    ams = {
        "tuned": Alertmanager("am-tuned", workdir, TUNED_ROUTE, sinks["tuned"].url),
        "default": Alertmanager("am-default", workdir, DEFAULT_ROUTE, sinks["default"].url),
    }
    prom: AlertingPrometheus | None = None
    daemon: DaemonProcess | None = None
    watch = ScrapeWatch(exporter)
    try:
        for am in ams.values():
            am.start()
        rules = workdir / "rules.yaml"
        rules.write_text(RULES)
        prom = AlertingPrometheus(
            {"api": [exporter.address]}, [rules], "1s", "1s",
            workdir=workdir / "prometheus", alertmanagers=[am.address for am in ams.values()],
        )
        prom.start()
        config = workdir / "slawatch.yaml"
        config.write_text(
            f"prometheus: {{url: '{prom.url}', timeout: 2s}}\n"
            f"database: {{url: 'sqlite:///{workdir / 'slawatch.db'}'}}\n"
            f"rules: {{paths: ['{rules}'], evaluation_interval: 1s}}\n"
            f"slack: {{base_url: '{slack.base_url}', channel: '#alerts'}}\n"
            "server: {listen: '127.0.0.1:0'}\n"
        )
        daemon = DaemonProcess(config, workdir / "daemon.log", env={"SLACK_BOT_TOKEN": slack.token})
        for name in PROXY_VARS:  # slack-sdk ignores NO_PROXY
            daemon.env.pop(name, None)
        daemon.start()

        prom.wait_for_target_health("api", "up", timeout=30)
        wait_until(lambda: len(prom.active_alertmanagers()) == len(ams), 30, 0.1,  # type: ignore[union-attr]
                   "prometheus did not discover both alertmanagers", ignore=(requests.RequestException,))

        def ticks() -> list[dict[str, Any]]:
            return [e for e in daemon.events() if e.get("event") == "group_evaluated" and e.get("group") == "bench"]  # type: ignore[union-attr]

        seen = len(ticks())  # ticks from before Prometheus had scraped do not count
        wait_until(lambda: len(t := ticks()) >= seen + WARMUP_TICKS and t[-1].get("failed_queries") == 0,
                   30, 0.1, f"slawatch did not tick {WARMUP_TICKS} times cleanly after the target was up")
        if slack.calls_to("chat.postMessage") or prom.alerts():
            raise BenchError("something alerted before the fault; the run is not clean")
        events_before = daemon.events_count()
        # The waits above end just after a scrape or a tick; a fault at a random phase
        # of the 1s cycle is what production sees.
        time.sleep(random.uniform(0.0, 1.0))

        # -- the fault ---------------------------------------------------------------
        watch.arm()
        exporter.down()
        t0 = time.monotonic()
        offset = t0 - time.time()  # wall -> monotonic
        alerts_channel = slack.channel_id("#alerts")

        def slack_arrival() -> float | None:
            for call in slack.calls_to("chat.postMessage"):
                if call.at >= t0 and call.delivered and slack.channel_id(str(call.params.get("channel", ""))) == alerts_channel:
                    return call.at
            return None

        arrivals: dict[str, float | None] = {"slawatch": None, "tuned": None, "default": None}
        prom_alert: dict[str, Any] = {}

        def all_arrived() -> bool:
            if arrivals["slawatch"] is None:
                arrivals["slawatch"] = slack_arrival()
            for key in ("tuned", "default"):
                if arrivals[key] is None and (hit := sinks[key].first_firing("ServiceDown", t0)):
                    arrivals[key] = hit[0]
                    prom_alert.setdefault("startsAt", hit[1].get("startsAt"))
            return all(v is not None for v in arrivals.values())

        try:
            wait_until(all_arrived, timeout, 0.01, "not every path notified")
        except AssertionError:
            missing = [k for k, v in arrivals.items() if v is None]
            raise BenchError(
                f"no notification within {timeout:g}s from: {', '.join(missing)}\n"
                f"slawatch log tail:\n{daemon.log_tail(15)}\n"
                + "".join(f"{am.name} log tail:\n{am.log_tail(10)}\n" for am in ams.values())
            ) from None

        # -- where the time went ------------------------------------------------------
        notes: dict[str, float | None] = {}
        notes["first failed scrape"] = None if watch.first_at is None else watch.first_at - t0
        try:
            active = next((a for a in prom.alerts() if a["labels"].get("alertname") == "ServiceDown"), None)
        except (requests.RequestException, RuntimeError):
            active = None
        if active is not None:
            at = to_monotonic(active["activeAt"], offset)
            notes["prometheus pending (eval ts)"] = None if at is None else at - t0
        fired = to_monotonic(prom_alert.get("startsAt"), offset)
        notes["prometheus firing (eval ts)"] = None if fired is None else fired - t0
        events = daemon.events()[events_before:]

        def first(event: str, key: str = "timestamp") -> float | None:
            found = next((e for e in events if e.get("event") == event), None)
            stamp = to_monotonic(found.get(key), offset) if found else None
            return None if stamp is None else stamp - t0

        notes["slawatch pending (eval ts)"] = first("alert_pending", "active_at")
        firing_tick = next(
            (e for e in events if e.get("event") == "group_evaluated" and e.get("group") == "bench" and e.get("firing")), None
        )
        if firing_tick is not None:
            at = to_monotonic(firing_tick.get("at"), offset)
            notes["slawatch firing (eval ts)"] = None if at is None else at - t0
        notes["slawatch firing logged"] = first("alert_firing")
        notes["slawatch ticket opened"] = first("ticket_opened")
        notes["slawatch tick committed"] = (
            None if firing_tick is None else (to_monotonic(firing_tick.get("timestamp"), offset) or t0) - t0
        )
        notes["slawatch notification_sent"] = first("notification_sent")
        return Run(arrivals["slawatch"] - t0, arrivals["tuned"] - t0, arrivals["default"] - t0, notes)  # type: ignore[operator]
    finally:
        watch.close()
        if daemon is not None and daemon.proc is not None and daemon.proc.poll() is None:
            daemon.signal(signal.SIGTERM)
            try:
                daemon.wait(10)
            except subprocess.TimeoutExpired:
                daemon.kill()
        if prom is not None:
            prom.stop()
        for am in ams.values():
            am.stop()
        for sink in sinks.values():
            sink.close()
        slack.close()
        exporter.close()


# -- main -------------------------------------------------------------------------------


def fmt(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timeout", type=float, default=90.0, help="bound on each wait for a notification (s)")
    parser.add_argument("--keep", action="store_true", help="keep each run's work dir (logs) and print its path")
    parser.add_argument("--quiet", action="store_true", help="no per-run breakdown")
    args = parser.parse_args(argv)
    try:
        binary("prometheus")
        binary("prometheus-alertmanager", "alertmanager")
    except BenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, flush=True)

    runs: list[Run] = []
    for i in range(1, args.runs + 1):
        workdir = Path(tempfile.mkdtemp(prefix="bench-notify-"))
        started = time.monotonic()
        try:
            run = one_run(workdir, args.timeout)
        except (RuntimeError, AssertionError, requests.RequestException) as exc:  # BenchError, start failures
            print(f"run {i}: FAILED: {exc}", file=sys.stderr, flush=True)
            print(f"  logs kept in {workdir}", file=sys.stderr)
            return 1
        if args.keep:
            log(f"run {i}: work dir {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
        runs.append(run)
        log(
            f"run {i}: slawatch {run.slawatch:.2f} s, alertmanager group_wait=0s {run.tuned:.2f} s, "
            f"group_wait=30s {run.default:.2f} s  (run took {time.monotonic() - started:.0f} s)"
        )
        if not args.quiet:
            for name, value in run.notes.items():
                log(f"    {name:32s} {'-' if value is None else f'T+{value:.2f} s'}")

    sla = [r.slawatch for r in runs]
    tuned = [r.tuned for r in runs]
    default = [r.default for r in runs]
    m_sla, m_tuned, m_default = statistics.median(sla), statistics.median(tuned), statistics.median(default)
    log("")
    log(f"fault -> first notification, {len(runs)} run(s); rule `for: {RULE_FOR_SECONDS}s`, scrape and evaluation 1s")
    log(f"slawatch fault->slack        median {m_sla:.1f} s (runs: {fmt(sla)})")
    log(f"alertmanager group_wait=0s   median {m_tuned:.1f} s (runs: {fmt(tuned)})")
    log(f"alertmanager group_wait=30s  median {m_default:.1f} s (runs: {fmt(default)})")
    log(f"slawatch / tuned alertmanager     {m_sla / m_tuned:.2f}x  (target <= 1.00)")
    log(f"default alertmanager / slawatch   {m_default / m_sla:.2f}x")
    # Split each path at its firing evaluation: before it, scrape and evaluation phase
    # plus `for`; after it, what the notifier itself adds.
    split = [
        ("slawatch", "slawatch firing (eval ts)", sla),
        ("alertmanager group_wait=0s", "prometheus firing (eval ts)", tuned),
    ]
    for name, key, totals in split:
        fired = [r.notes.get(key) for r in runs]
        if all(f is not None for f in fired):
            before = [float(f) for f in fired]  # type: ignore[arg-type]
            after = [t - f for t, f in zip(totals, before)]
            log(
                f"  {name:28s} fault->firing eval median {statistics.median(before):.2f} s, "
                f"firing eval->notification median {1000 * statistics.median(after):.0f} ms"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
