"""The daemon's HTTP endpoints: Slack interactivity (Ack / Resolve buttons), /healthz, /metrics.

`make_app` builds a plain WSGI callable from its dependencies (engine, signing secret,
clock, registry, health probe, change hook); `HttpServer` runs it on waitress in a
background thread. Every Slack request is verified with slack-sdk's SignatureVerifier
against the signing secret, using the injected clock, before anything is parsed: a bad
signature or a timestamp more than 5 minutes away from `clock()` is answered 401 and
touches nothing. The secret and request bodies are never logged or echoed.

The clicking user is recorded as the actor (`acknowledged_by` / `resolved_by` and the
timeline event) in the form `slack:<USER_ID> (<username>)`, or `slack:<USER_ID>` when
Slack sends no name; see `slack_actor`.
"""

from __future__ import annotations

import json
import threading
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from http import HTTPStatus
from typing import Any, Callable, Iterable, Literal
from urllib.parse import parse_qs

import structlog
import waitress
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, Field, ValidationError
from slack_sdk.signature import Clock as SlackClock
from slack_sdk.signature import SignatureVerifier
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import BaseWSGIServer

from slawatch.incidents import actions
from slawatch.incidents.ports import Announcer

__all__ = ["ACK_ACTION", "RESOLVE_ACTION", "SLACK_PATH", "HttpServer", "make_app", "slack_actor"]

ACK_ACTION = "ack"  # action_id of the Acknowledge button
RESOLVE_ACTION = "resolve"  # action_id of the Resolve button; a button's value is the ticket id
SLACK_PATH = "/slack/interactions"
RESOLVE_NOTE = "resolved from Slack"
MAX_BODY = 1024 * 1024  # Slack interaction payloads are a few KB; anything larger is not Slack
_ACTOR_MAX = 255  # a Slack actor (id and name) is cut to this many characters
_MAX_TICKET_ID = 2**31 - 1  # tickets.id is a 32-bit integer on PostgreSQL
_STOP_STEP = 0.05

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]
log = structlog.get_logger()


def slack_actor(user_id: str, name: str | None) -> str:
    """`slack:U123ABC (alice)`: the stable Slack user id, plus the display name for humans."""
    name = "".join(c for c in (name or "") if unicodedata.category(c)[0] != "C").strip()
    actor = f"slack:{user_id} ({name})" if name else f"slack:{user_id}"
    return actor[:_ACTOR_MAX]


@dataclass(frozen=True)
class _Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = field(default_factory=list)


def _json(status: int, value: dict[str, Any]) -> _Response:
    return _Response(status, json.dumps(value).encode())


class _SlackUser(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9]{1,32}$")  # Slack ids: U123ABC, W456DEF
    username: str | None = None
    name: str | None = None


class _SlackAction(BaseModel):
    action_id: Literal["ack", "resolve"]
    value: str = Field(pattern=r"^[1-9][0-9]{0,9}$")


class _BlockActions(BaseModel):
    """The part of Slack's `block_actions` payload we use; other fields are ignored."""

    type: Literal["block_actions"]
    user: _SlackUser
    actions: list[_SlackAction] = Field(min_length=1)


class _MalformedRequest(Exception):
    """The body is signed by Slack but is not a block_actions click we understand."""


class _InjectedClock(SlackClock):
    """slack-sdk's clock seam (`now()` in epoch seconds) fed from our injected clock."""

    def __init__(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock

    def now(self) -> float:
        return self._clock().timestamp()


def _parse_click(body: bytes) -> tuple[str, int, str]:
    """(action_id, ticket id, actor) from a form-encoded `payload=<json>` body."""
    try:
        form = parse_qs(body.decode("utf-8"), strict_parsing=True)
        (raw,) = form["payload"]
        click = _BlockActions.model_validate_json(raw)
    except (UnicodeDecodeError, ValueError, KeyError, ValidationError) as exc:
        raise _MalformedRequest(type(exc).__name__) from None
    action = click.actions[0]
    ticket_id = int(action.value)
    if ticket_id > _MAX_TICKET_ID:
        raise _MalformedRequest("ticket id out of range")
    return action.action_id, ticket_id, slack_actor(click.user.id, click.user.username or click.user.name)


class _App:
    """The WSGI callable; routes are a small table of (path, method) -> handler."""

    def __init__(
        self,
        engine: Engine,
        signing_secret: str | None,
        clock: Callable[[], datetime],
        registry: CollectorRegistry | None,
        health: Callable[[], dict[str, Any]] | None,
        on_change: Callable[[int], None] | None,
        announcer: Announcer | None = None,
        ready: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self.engine = engine
        self.announcer = announcer
        self.clock = clock
        self.registry = registry
        self.health = health
        self.ready = ready
        self.on_change = on_change
        self.verifier = SignatureVerifier(signing_secret, clock=_InjectedClock(clock)) if signing_secret else None
        self.routes: dict[str, dict[str, Callable[[dict[str, Any]], _Response]]] = {
            "/healthz": {"GET": self._healthz},
            "/readyz": {"GET": self._readyz},
            "/metrics": {"GET": self._metrics},
            SLACK_PATH: {"POST": self._slack},
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        response = self._route(environ)
        headers = [("Content-Type", response.content_type), ("Content-Length", str(len(response.body)))]
        start_response(f"{response.status} {HTTPStatus(response.status).phrase}", headers + response.headers)
        return [response.body]

    def _route(self, environ: dict[str, Any]) -> _Response:
        methods = self.routes.get(environ.get("PATH_INFO", ""))
        if methods is None:
            return _json(404, {"error": "not found"})
        handler = methods.get(environ["REQUEST_METHOD"])
        if handler is None:
            return _Response(405, b'{"error": "method not allowed"}', headers=[("Allow", ", ".join(methods))])
        return handler(environ)

    def _healthz(self, environ: dict[str, Any]) -> _Response:
        return self._probe(self.health)

    def _readyz(self, environ: dict[str, Any]) -> _Response:
        """Alive and able to page: /healthz's checks plus the daemon's readiness (delivery not
        stuck, Slack auth valid, every group evaluated recently)."""
        return self._probe(self._both)

    def _both(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        reasons = []
        for probe in (self.health, self.ready):
            found = dict(probe()) if probe is not None else {}
            if found.pop("ok", True) is False:
                reasons.append(str(found.pop("reason", "not ready")))
            out.update(found)
        return {**out, "ok": False, "reason": "; ".join(reasons)} if reasons else out

    def _probe(self, probe: Callable[[], dict[str, Any]] | None) -> _Response:
        report: dict[str, Any] = {"database": "ok"}
        reasons = []
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError:
            report["database"] = "unreachable"
            reasons.append("database unreachable")
        try:
            extra = dict(probe()) if probe is not None else {}
        except Exception:  # a broken probe is a failed check, not a 500 without a reason
            log.exception("health_probe_failed")
            extra = {"ok": False, "reason": "health probe failed"}
        if extra.pop("ok", True) is False:
            reasons.append(str(extra.pop("reason", "unhealthy")))
        report.update(extra)
        if reasons:
            return _json(503, {**report, "status": "unavailable", "reason": "; ".join(reasons)})
        return _json(200, {**report, "status": "ok"})

    def _metrics(self, environ: dict[str, Any]) -> _Response:
        if self.registry is None:
            return _json(404, {"error": "metrics disabled"})
        return _Response(200, generate_latest(self.registry), CONTENT_TYPE_LATEST)

    def _slack(self, environ: dict[str, Any]) -> _Response:
        if self.verifier is None:
            return _json(404, {"error": "slack interactivity is not configured"})
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return _json(413, {"error": "request too large"})
        body = environ["wsgi.input"].read(length)
        headers = {
            "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP"),
            "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE"),
        }
        try:
            valid = self.verifier.is_valid_request(body, {k: v for k, v in headers.items() if v is not None})
        except ValueError:  # a timestamp that is not an integer
            valid = False
        if not valid:
            log.warning("slack_request_rejected", reason="bad signature or stale timestamp")
            return _json(401, {"error": "invalid signature or stale timestamp"})
        try:
            action_id, ticket_id, actor = _parse_click(body)
        except _MalformedRequest as exc:
            log.warning("slack_request_malformed", problem=str(exc))
            return _json(400, {"error": "malformed block_actions payload"})
        return self._apply(action_id, ticket_id, actor)

    def _apply(self, action_id: str, ticket_id: int, actor: str) -> _Response:
        """Ack or resolve in one transaction; a refusal is shown to the clicker only."""
        bound = log.bind(ticket_id=ticket_id, action=action_id, actor=actor)
        at = self.clock()
        try:
            with self.engine.begin() as conn:
                if action_id == ACK_ACTION:
                    actions.acknowledge(conn, ticket_id, by=actor, at=at, announcer=self.announcer)
                else:
                    actions.resolve(conn, ticket_id, by=actor, note=RESOLVE_NOTE, at=at, announcer=self.announcer)
        except actions.ActionRefused as exc:
            bound.info("slack_action_refused", reason=str(exc))
            return _json(200, {"response_type": "ephemeral", "text": str(exc)})
        except SQLAlchemyError as exc:
            bound.error("slack_action_failed", error=str(exc.__cause__ or exc).splitlines()[0])
            return _json(503, {"error": "database unavailable; try again"})
        bound.info("slack_action_applied")
        if self.on_change is not None:
            try:
                self.on_change(ticket_id)
            except Exception:  # the change is committed; a failed wake-up must not turn it into an error
                bound.exception("on_change_failed")
        return _Response(200)


def make_app(
    engine: Engine,
    signing_secret: str | None,
    clock: Callable[[], datetime],
    registry: CollectorRegistry | None = None,
    health: Callable[[], dict[str, Any]] | None = None,
    on_change: Callable[[int], None] | None = None,
    announcer: Announcer | None = None,
    ready: Callable[[], dict[str, Any]] | None = None,
) -> WsgiApp:
    """The WSGI app. `clock` must return aware datetimes; it is the only time source.

    `health()` may add fields to /healthz; `{"ok": False, "reason": ...}` makes it 503.
    `ready()` does the same for /readyz, which also runs `health()`.
    Without a signing secret the Slack endpoint answers 404; without a registry, /metrics does.
    `on_change(ticket_id)` runs after a Slack action committed (to wake the notifier).
    """
    return _App(engine, signing_secret, clock, registry, health, on_change, announcer, ready)


class HttpServer:
    """waitress serving a WSGI app from a background thread; `stop()` returns within ~5 s."""

    def __init__(self, app: WsgiApp, host: str, port: int) -> None:
        self._map: dict[int, Any] = {}
        waitress.create_server(
            app, map=self._map, host=host, port=port, threads=4, ident="slawatch",
            max_request_body_size=MAX_BODY, expose_tracebacks=False,
        )
        self._servers = [d for d in self._map.values() if isinstance(d, BaseWSGIServer)]
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def port(self) -> int:
        """The bound port (the kernel's choice when 0 was asked for)."""
        return int(self._servers[0].effective_port)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._servers[0].run, name="slawatch-http", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop accepting, let in-flight requests finish (half of `timeout`), then close all.

        A click that committed still gets its answer. Sockets are closed by the loop thread
        (through its trigger), since closing them from here would race the poll; waits are
        counted in steps, so no clock is read.
        """
        if self._stopped:
            return
        self._stopped = True
        if self._thread is None:
            self._close(idle_only=False)
        else:
            trigger = self._servers[0].trigger
            for _ in range(max(1, int(timeout / 2 / _STOP_STEP))):
                trigger.pull_trigger(lambda: self._close(idle_only=True))
                if not any(isinstance(d, HTTPChannel) for d in list(self._map.values())):
                    break
                self._thread.join(_STOP_STEP)
            trigger.pull_trigger(lambda: self._close(idle_only=False))
            self._thread.join(timeout / 4)
            if self._thread.is_alive():
                log.warning("http_server_stop_timed_out")
        self._servers[0].task_dispatcher.shutdown(cancel_pending=True, timeout=timeout / 4)

    def _close(self, idle_only: bool) -> None:
        """Close listeners and connections (only those with nothing to answer, if idle_only)."""
        for d in list(self._map.values()):
            if isinstance(d, HTTPChannel):
                if not idle_only or not (d.requests or d.total_outbufs_len):
                    d.handle_close()
            elif isinstance(d, BaseWSGIServer) and d.accepting:
                wasyncore.dispatcher.close(d)  # the listening socket; the trigger stays for now
            elif not idle_only:
                d.close()
