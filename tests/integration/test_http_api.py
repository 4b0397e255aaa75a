"""The daemon's HTTP endpoints over real HTTP: waitress on a loopback port, a real database.

Slack requests are signed exactly as Slack signs them (HMAC-SHA256 of `v0:{ts}:{body}`),
and time is the injected clock, so a replay 6 minutes old is tested without sleeping.
Each test runs on SQLite and on PostgreSQL (the `db_url` fixture).
"""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator
from urllib.parse import urlencode

import pytest
import requests
from prometheus_client import CollectorRegistry
from sqlalchemy import Engine, create_engine
from structlog.testing import capture_logs

from slawatch.incidents import reconcile as incidents
from slawatch.incidents.actions import acknowledge
from slawatch.metrics import Metrics
from slawatch.model import Labels, Sample
from slawatch.rules.files import AlertingRule, RuleGroup
from slawatch.rules.group import evaluate_group
from slawatch.sla.classify import Classification
from slawatch.sla.deadlines import SlaPolicy
from slawatch.store import tickets as store
from slawatch.store.engine import make_engine, upgrade
from slawatch.store.tickets import TicketRow
from slawatch.web import HttpServer, make_app
from tests.support.slack_requests import click, signed_headers

SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
T0 = datetime(2026, 6, 1, 8, 0, tzinfo=timezone.utc)
GROUP = RuleGroup(
    "g", "rules.yaml", timedelta(seconds=15),
    (AlertingRule(name="ServiceDown", expr="down", labels={"priority": "P0", "service": "api"}),),
)
DOWN = Sample(Labels(__name__="up", job="api", instance="a:80"), 0)


class Clock:
    """The injected clock: tests move it by hand."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def open_ticket(engine: Engine, at: datetime) -> int:
    """Open a P0 ticket the way a tick does: evaluator, then incident reconciliation."""
    with ThreadPoolExecutor(1) as pool:
        outcome = evaluate_group(GROUP, {}, at, lambda expr, when: [DOWN], pool)
    with engine.begin() as conn:
        incidents.reconcile(conn, outcome, SlaPolicy.default(), Classification())
        (ticket,) = store.listing(conn)
    return ticket.id


def slack_headers(body: bytes, timestamp: int, secret: str = SECRET) -> dict[str, str]:
    return signed_headers(body, timestamp, secret)


@dataclass
class Api:
    """A running server plus what the tests inspect: engine, clock, on_change calls."""

    engine: Engine
    clock: Clock
    url: str
    changed: list[int] = field(default_factory=list)

    def post_signed(self, body: bytes, timestamp: int | None = None, secret: str = SECRET) -> requests.Response:
        ts = int(self.clock().timestamp()) if timestamp is None else timestamp
        return requests.post(self.url + "/slack/interactions", data=body, headers=slack_headers(body, ts, secret), timeout=5)

    def ticket(self, ticket_id: int) -> TicketRow:
        with self.engine.connect() as conn:
            row = store.get(conn, ticket_id)
        assert row is not None
        return row


Serve = Callable[..., Api]


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    engine = make_engine(db_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def serve(engine: Engine) -> Iterator[Serve]:
    """Start HttpServer on 127.0.0.1:0 with make_app(**overrides); stopped at teardown."""
    servers: list[HttpServer] = []

    def start(**overrides: Any) -> Api:
        api = Api(overrides.pop("engine", engine), Clock(T0 + timedelta(minutes=2)), "")
        options: dict[str, Any] = {"signing_secret": SECRET, "on_change": api.changed.append, **overrides}
        server = HttpServer(make_app(api.engine, clock=api.clock, **options), "127.0.0.1", 0)
        server.start()
        servers.append(server)
        api.url = f"http://127.0.0.1:{server.port}"
        return api

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def api(serve: Serve) -> Api:
    return serve()


def test_signed_ack_click_acknowledges_and_records_the_slack_user(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    response = api.post_signed(click("ack", ticket_id))
    assert (response.status_code, response.content) == (200, b"")
    t = api.ticket(ticket_id)
    assert (t.status, t.acknowledged_by, t.acknowledged_at) == ("acknowledged", "slack:U123ABC (alice)", api.clock())
    with api.engine.connect() as conn:
        assert [(e.kind, e.actor) for e in store.events(conn, ticket_id)][-1] == ("acknowledged", "slack:U123ABC (alice)")
    assert api.changed == [ticket_id]


def test_signed_resolve_click_resolves_manually_by_the_slack_user(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    response = api.post_signed(click("resolve", ticket_id, {"id": "U999", "name": "bob"}))
    assert (response.status_code, response.content) == (200, b"")
    t = api.ticket(ticket_id)
    assert (t.status, t.resolution, t.resolved_by, t.resolved_at) == ("resolved", "manual", "slack:U999 (bob)", api.clock())
    with api.engine.connect() as conn:
        last = store.events(conn, ticket_id)[-1]
    assert (last.kind, last.actor, last.detail) == ("resolved_manually", "slack:U999 (bob)", {"note": "resolved from Slack"})
    assert api.changed == [ticket_id]


def test_a_failing_on_change_hook_does_not_undo_or_fail_the_click(serve: Serve) -> None:
    def broken(ticket_id: int) -> None:
        raise RuntimeError("dispatcher gone")

    api = serve(on_change=broken)
    ticket_id = open_ticket(api.engine, T0)
    assert api.post_signed(click("ack", ticket_id)).status_code == 200
    assert api.ticket(ticket_id).status == "acknowledged"


def test_logs_name_the_outcome_but_never_the_secret_or_the_body(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    body = click("ack", ticket_id)
    with capture_logs() as logs:
        api.post_signed(body, secret="wrong-secret")
        api.post_signed(body)
    assert [e["event"] for e in logs] == ["slack_request_rejected", "slack_action_applied"]
    assert logs[1]["ticket_id"] == ticket_id and logs[1]["actor"] == "slack:U123ABC (alice)"
    text = repr(logs)
    assert SECRET not in text and "wrong-secret" not in text and "response_url" not in text


def test_a_user_without_a_name_is_recorded_by_id_alone(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    assert api.post_signed(click("ack", ticket_id, {"id": "U777"})).status_code == 200
    assert api.ticket(ticket_id).acknowledged_by == "slack:U777"


BAD_SIGNATURES: dict[str, Callable[[bytes, int], dict[str, str]]] = {
    "wrong secret": lambda body, ts: slack_headers(body, ts, secret="not-the-secret"),
    "forged": lambda body, ts: {**slack_headers(body, ts), "X-Slack-Signature": "v0=" + "0" * 64},
    "unsigned": lambda body, ts: {"Content-Type": "application/x-www-form-urlencoded"},
    "timestamp not a number": lambda body, ts: {**slack_headers(body, ts), "X-Slack-Request-Timestamp": "soon"},
}


def test_a_badly_signed_request_is_refused_with_401_and_changes_nothing(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    body = click("ack", ticket_id)
    for case, headers in BAD_SIGNATURES.items():
        response = requests.post(
            api.url + "/slack/interactions", data=body, headers=headers(body, int(api.clock().timestamp())), timeout=5
        )
        assert response.status_code == 401 and "error" in response.json(), case
        assert SECRET not in response.text, case
    t = api.ticket(ticket_id)
    assert (t.status, t.acknowledged_by) == ("open", None) and api.changed == []


def test_a_replay_six_minutes_old_is_refused_even_with_its_valid_signature(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    body = click("resolve", ticket_id)
    recorded_at = int(api.clock().timestamp())
    api.clock.now += timedelta(minutes=6)
    assert api.post_signed(body, timestamp=recorded_at).status_code == 401
    assert api.ticket(ticket_id).status == "open" and api.changed == []


def test_a_timestamp_just_inside_five_minutes_is_accepted(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    body = click("ack", ticket_id)
    recorded_at = int(api.clock().timestamp())
    api.clock.now += timedelta(minutes=4, seconds=59)
    assert api.post_signed(body, timestamp=recorded_at).status_code == 200
    assert api.ticket(ticket_id).status == "acknowledged"


def test_ack_on_an_acknowledged_ticket_answers_ephemeral_text_and_keeps_the_acknowledger(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    with api.engine.begin() as conn:
        acknowledge(conn, ticket_id, "carol", T0 + timedelta(minutes=1))
    response = api.post_signed(click("ack", ticket_id))
    assert response.status_code == 200
    reply = response.json()
    assert reply["response_type"] == "ephemeral" and "already acknowledged by carol" in reply["text"]
    t = api.ticket(ticket_id)
    assert (t.acknowledged_by, t.acknowledged_at) == ("carol", T0 + timedelta(minutes=1))
    assert api.changed == []


def test_a_click_on_a_missing_ticket_answers_ephemeral_text(api: Api) -> None:
    response = api.post_signed(click("resolve", 4242))
    assert response.status_code == 200 and "does not exist" in response.json()["text"]


MALFORMED: dict[str, bytes] = {
    "not json": b"payload=not-json",
    "no payload field": b"token=x",
    "not utf-8": b"payload=%ff%fe",
    "unknown action": click("escalate", 1),
    "non-numeric ticket": click("ack", "one"),
    "ticket id out of range": click("ack", 2**40),
    "other interaction type": urlencode({"payload": json.dumps({"type": "view_submission", "user": {"id": "U1"}})}).encode(),
    "user id not a slack id": click("ack", 1, {"id": "U1) (carol"}),
    "no actions": urlencode({"payload": json.dumps({"type": "block_actions", "user": {"id": "U1"}, "actions": []})}).encode(),
}


def test_a_signed_but_malformed_payload_is_400_and_changes_nothing(api: Api) -> None:
    ticket_id = open_ticket(api.engine, T0)
    for case, body in MALFORMED.items():
        assert api.post_signed(body).status_code == 400, case
    assert api.ticket(ticket_id).status == "open" and api.changed == []


def test_without_a_signing_secret_the_slack_endpoint_is_404(serve: Serve) -> None:
    api = serve(signing_secret=None)
    ticket_id = open_ticket(api.engine, T0)
    assert api.post_signed(click("ack", ticket_id)).status_code == 404
    assert api.ticket(ticket_id).status == "open"


def test_healthz_reports_ok_with_the_daemons_extra_fields(serve: Serve) -> None:
    api = serve(health=lambda: {"ok": True, "leader": True})
    response = requests.get(api.url + "/healthz", timeout=5)
    assert (response.status_code, response.json()) == (200, {"status": "ok", "database": "ok", "leader": True})


def test_healthz_is_503_when_the_daemons_probe_raises(serve: Serve) -> None:
    def broken() -> dict[str, Any]:
        raise RuntimeError("probe bug")

    response = requests.get(serve(health=broken).url + "/healthz", timeout=5)
    assert response.status_code == 503 and response.json()["reason"] == "health probe failed"


def test_healthz_is_503_with_the_reason_when_the_daemon_says_so(serve: Serve) -> None:
    api = serve(health=lambda: {"ok": False, "reason": "scheduler stopped"})
    response = requests.get(api.url + "/healthz", timeout=5)
    assert response.status_code == 503 and response.json()["reason"] == "scheduler stopped"


def test_healthz_is_503_when_the_database_is_unreachable(serve: Serve) -> None:
    unreachable = create_engine("postgresql+psycopg://postgres@127.0.0.1:1/none", connect_args={"connect_timeout": 2})
    api = serve(engine=unreachable)
    response = requests.get(api.url + "/healthz", timeout=10)
    assert response.status_code == 503
    assert response.json() == {"status": "unavailable", "database": "unreachable", "reason": "database unreachable"}
    unreachable.dispose()


def test_metrics_exposes_the_registry(serve: Serve) -> None:
    metrics = Metrics(CollectorRegistry())
    metrics.config_reloads.labels(outcome="success").inc()
    api = serve(registry=metrics.registry)
    response = requests.get(api.url + "/metrics", timeout=5)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    assert 'slawatch_config_reloads_total{outcome="success"} 1.0' in response.text


def test_unknown_paths_are_404_and_wrong_methods_405(api: Api) -> None:
    assert requests.get(api.url + "/nope", timeout=5).status_code == 404
    assert requests.get(api.url + "/metrics", timeout=5).status_code == 404  # no registry given
    wrong = requests.get(api.url + "/slack/interactions", timeout=5)
    assert wrong.status_code == 405 and wrong.headers["Allow"] == "POST"
    assert requests.post(api.url + "/healthz", timeout=5).status_code == 405


def test_stop_closes_the_port_promptly(engine: Engine) -> None:
    server = HttpServer(make_app(engine, SECRET, Clock(T0)), "127.0.0.1", 0)
    server.start()
    url = f"http://127.0.0.1:{server.port}/healthz"
    assert requests.get(url, timeout=5).status_code == 200
    server.stop()
    with pytest.raises(requests.ConnectionError):
        requests.get(url, timeout=2)


def test_stop_lets_an_in_flight_request_finish(engine: Engine) -> None:
    entered, release = threading.Event(), threading.Event()

    def slow_health() -> dict[str, Any]:
        entered.set()
        release.wait(5)
        return {"slow": True}

    server = HttpServer(make_app(engine, SECRET, Clock(T0), health=slow_health), "127.0.0.1", 0)
    server.start()
    with ThreadPoolExecutor(2) as pool:
        in_flight = pool.submit(requests.get, f"http://127.0.0.1:{server.port}/healthz", timeout=5)
        assert entered.wait(5)
        stopping = pool.submit(server.stop)
        release.set()
        stopping.result(timeout=6)
        assert in_flight.result().json()["slow"] is True


def test_readyz_is_503_with_the_daemons_reason_while_healthz_stays_ok(serve: Serve) -> None:
    """/readyz adds the daemon's readiness (delivery stuck, Slack auth) to /healthz's checks."""
    api = serve(ready=lambda: {"ok": False, "reason": "slack auth failed: invalid_auth"})
    assert requests.get(api.url + "/healthz", timeout=5).status_code == 200
    response = requests.get(api.url + "/readyz", timeout=5)
    assert response.status_code == 503 and "invalid_auth" in response.json()["reason"]


def test_readyz_is_ok_when_the_daemon_is_ready(serve: Serve) -> None:
    response = requests.get(serve(ready=lambda: {"ok": True}).url + "/readyz", timeout=5)
    assert response.status_code == 200 and response.json()["status"] == "ok"
