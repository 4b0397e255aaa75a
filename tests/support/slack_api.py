"""A local Slack Web API server for tests that drive the real ``slack_sdk.WebClient``.

Point the client at it with ``WebClient(token=server.token, base_url=server.base_url)``.
It serves the methods slawatch uses (``chat.postMessage``, ``chat.update``,
``users.lookupByEmail``, ``files.getUploadURLExternal`` + the upload URL +
``files.completeUploadExternal``, ``auth.test``) with Slack's answer shapes: HTTP 200
with ``{"ok": false, "error": ...}`` for API errors, ``unknown_method`` for the rest.
Bodies may be form-encoded, JSON or multipart; the token may come as
``Authorization: Bearer ...`` or as a ``token`` parameter.

Every request is recorded as a :class:`Call`, including rejected ones with the status
they got, so a test can count attempts versus deliveries. Faults are injected at run
time: :meth:`SlackApiServer.fail_next` (429 with Retry-After, 5xx, or an ``ok: false``
error) and :meth:`SlackApiServer.down`, which reads each request and closes the
connection without answering; slack-sdk then raises ``http.client.RemoteDisconnected``
(a ``ConnectionResetError``), after the one retry its default
``ConnectionErrorRetryHandler`` makes.
"""

from __future__ import annotations

import base64
import dataclasses
import email.parser
import email.policy
import hashlib
import json
import re
import threading
import time
import traceback
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.support.waiting import wait_until

UPLOAD = "upload"
"""The method name under which POSTs to an ``upload_url`` are recorded (and can fail)."""

_API_PREFIX = "/api/"
_UPLOAD_PREFIX = "/upload/v1/"
_CONVERSATION_ID = re.compile(r"^[CGD][A-Z0-9]{8,}$")
_USER_ID = re.compile(r"^[UW][A-Z0-9]{8,}$")
_DEFAULT_ERRORS = {429: "ratelimited", 500: "internal_error", 503: "service_unavailable"}


def fake_id(prefix: str, name: str) -> str:
    """A Slack-looking id (``C0A1B2...``) derived from ``name``: stable across runs."""
    digest = base64.b32encode(hashlib.sha1(name.encode("utf-8")).digest()).decode("ascii")
    return prefix + digest[:10]


@dataclass(frozen=True)
class Call:
    """One HTTP request the server received, and what it answered."""

    method: str
    """API method (``chat.postMessage``), or :data:`UPLOAD` for an upload-URL POST."""
    params: dict[str, Any]
    """Query, form, JSON or multipart parameters, merged (form values are strings)."""
    headers: dict[str, str]
    at: float
    """``time.monotonic()`` when the request had been read."""
    status: int | None
    """HTTP status answered; None when the server was down and closed the connection."""
    response: dict[str, Any] | None
    """The JSON body answered (None when down, or for an upload)."""
    body: bytes = b""

    @property
    def delivered(self) -> bool:
        """True when Slack would have acted on it: HTTP 200 and not ``ok: false``."""
        return self.status == 200 and (self.response is None or self.response.get("ok") is True)

    @property
    def error(self) -> str | None:
        """The ``error`` of the answer, if any."""
        return None if self.response is None else self.response.get("error")


@dataclass
class Message:
    """A message posted through ``chat.postMessage``; text/blocks follow ``chat.update``."""

    channel: str
    """The channel id it went to (names and user ids are mapped to ids)."""
    ts: str
    text: str | None
    blocks: list[Any] | None
    thread_ts: str | None
    params: dict[str, Any]
    """The parameters of the original postMessage call."""
    updates: list[dict[str, Any]] = field(default_factory=list)
    """Parameters of each successful ``chat.update`` of this message, in order."""


@dataclass
class UploadedFile:
    """A file uploaded through the files_upload_v2 flow."""

    id: str
    filename: str
    length: int
    content: bytes | None = None
    """The bytes POSTed to the upload URL; None until then."""
    title: str | None = None
    channels: list[str] = field(default_factory=list)
    initial_comment: str | None = None
    thread_ts: str | None = None
    completed: bool = False


@dataclass
class _Fault:
    remaining: int
    status: int
    error: str
    retry_after: int | None


@dataclass
class _Answer:
    status: int | None
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class _InvalidJson(ValueError):
    """The client sent a body labelled JSON that does not parse."""


def _parse_body(content_type: str, body: bytes) -> dict[str, Any]:
    """Parameters of a request body: JSON, form-encoded or multipart/form-data."""
    if not body:
        return {}
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/json":
        try:
            data = json.loads(body.decode("utf-8"))
        except ValueError as exc:
            raise _InvalidJson() from exc
        return data if isinstance(data, dict) else {"_json": data}
    if kind == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1")
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        params: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            params[name] = payload if part.get_filename() else payload.decode("utf-8")
        return params
    return _flatten(parse_qs(body.decode("utf-8"), keep_blank_values=True))


def _flatten(query: dict[str, list[str]]) -> dict[str, Any]:
    return {k: v[0] if len(v) == 1 else v for k, v in query.items()}


def _json_param(value: Any) -> Any:
    """A parameter that is JSON in a form body and already parsed in a JSON body."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class SlackApiServer:
    """A Slack Web API stand-in on 127.0.0.1; thread-safe; a context manager."""

    def __init__(
        self,
        token: str = "xoxb-test-token",
        *,
        bot_user_id: str = "UBOT000001",
        bot_id: str = "BBOT000001",
        team_id: str = "TTEST00001",
        port: int = 0,
    ) -> None:
        self.token = token
        self.bot_user_id = bot_user_id
        self.bot_id = bot_id
        self.team_id = team_id
        self._lock = threading.Lock()
        self._calls: list[Call] = []
        self._faults: dict[str, list[_Fault]] = {}
        self._down = False
        self._last_ts_us = 0
        self._users: dict[str, dict[str, Any]] = {}
        self._channels: dict[str, str] = {}
        self._broken: dict[str, str] = {}  # channel id -> the error every post to it gets
        self._holds: dict[str, float] = {}  # method -> seconds to wait before answering (once)
        self._store: dict[tuple[str, str], Message] = {}
        self._posted: list[Message] = []
        self._files: dict[str, UploadedFile] = {}
        self._file_order: list[str] = []
        self.errors: list[str] = []
        """Tracebacks of exceptions raised inside the fake itself (answered as HTTP 500)."""
        self._handlers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._post_message,
            "chat.update": self._update,
            "conversations.history": self._history,
            "conversations.list": self._list_channels,
            "conversations.replies": self._replies,
            "users.lookupByEmail": self._lookup_by_email,
            "files.getUploadURLExternal": self._get_upload_url,
            "files.completeUploadExternal": self._complete_upload,
        }
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"slack-api-{self.port}",
            daemon=True,
        )
        self._thread.start()

    # -- addresses ------------------------------------------------------------

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT/api/``, for ``WebClient(base_url=...)``."""
        return f"http://127.0.0.1:{self.port}{_API_PREFIX}"

    # -- workspace set-up -----------------------------------------------------

    def add_user(self, email: str, user_id: str, name: str | None = None) -> None:
        """Register a user that ``users.lookupByEmail`` finds (case-insensitive email)."""
        name = name or email.split("@", 1)[0]
        user = {
            "id": user_id,
            "team_id": self.team_id,
            "name": name,
            "real_name": name,
            "deleted": False,
            "is_bot": False,
            "profile": {"email": email, "real_name": name, "display_name": name},
        }
        with self._lock:
            self._users[email.lower()] = user

    def channel_id(self, channel: str) -> str:
        """The id a channel argument maps to: ids stay, ``#name``/``name`` get a stable
        ``C…`` id, a user id (a DM) gets a stable ``D…`` id."""
        if _CONVERSATION_ID.match(channel):
            return channel
        if _USER_ID.match(channel):
            return fake_id("D", channel)
        name = channel.lstrip("#")
        with self._lock:
            return self._channels.setdefault(name, fake_id("C", name))

    # -- fault injection ------------------------------------------------------

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        error: str | None = None,
    ) -> None:
        """Fail the next ``n`` calls of ``method`` (queued after earlier faults).

        - ``status=429`` (the default without ``error``): HTTP 429, ``Retry-After:
          retry_after`` (default 1; whole seconds, as slack-sdk does ``int()`` on it),
          body ``{"ok": false, "error": "ratelimited"}``;
        - ``status=500`` / ``503`` / ...: that HTTP status with an ``ok: false`` body;
        - ``error="invalid_auth"`` (status defaults to 200): HTTP 200, ``ok: false``.
        """
        if n < 1:
            raise ValueError("n must be at least 1")
        if status is None:
            status = 200 if error is not None else 429
        if status == 200 and error is None:
            raise ValueError("a fault with status 200 needs an error")
        if status == 429 and retry_after is None:
            retry_after = 1
        if retry_after is not None and (type(retry_after) is not int or retry_after < 0):
            raise ValueError("retry_after must be a non-negative int (seconds)")
        fault = _Fault(n, status, error or _DEFAULT_ERRORS.get(status, f"http_{status}"), retry_after)
        with self._lock:
            self._faults.setdefault(method, []).append(fault)

    def break_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Every chat.postMessage to ``channel`` answers ``ok: false`` with ``error`` from now on."""
        target = self.channel_id(channel)
        with self._lock:
            self._broken[target] = error

    def hold_next(self, method: str, seconds: float) -> None:
        """Carry out the next call of ``method`` at once but answer it only after ``seconds``:
        a client killed meanwhile has had its call take effect without hearing so."""
        with self._lock:
            self._holds[method] = seconds

    def add_channel(self, name: str) -> str:
        """Make ``#name`` exist (conversations.list lists it); returns its id."""
        return self.channel_id(name)

    def reset_faults(self) -> None:
        """Forget every pending ``fail_next``."""
        with self._lock:
            self._faults.clear()

    def down(self) -> None:
        """Until ``up()``, read each request, record it (status None) and close the
        connection without answering: slack-sdk raises ``RemoteDisconnected``."""
        with self._lock:
            self._down = True

    def up(self) -> None:
        """Answer requests again."""
        with self._lock:
            self._down = False

    @property
    def is_down(self) -> bool:
        with self._lock:
            return self._down

    # -- what was seen --------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        """Every request since start or ``clear()``, in arrival order (a copy)."""
        with self._lock:
            return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The recorded calls of one method, delivered or not."""
        return [c for c in self.calls if c.method == method]

    def messages(self, channel: str | None = None) -> list[Message]:
        """Messages posted (successfully) since start or ``clear()``, in order;
        ``channel`` may be an id, ``#name``, ``name`` or a user id."""
        wanted = None if channel is None else self.channel_id(channel)
        with self._lock:
            return [
                dataclasses.replace(m, updates=list(m.updates))
                for m in self._posted
                if wanted is None or m.channel == wanted
            ]

    def threads(self) -> dict[str, list[Message]]:
        """Thread parent ts -> its replies, in posting order."""
        result: dict[str, list[Message]] = {}
        for message in self.messages():
            if message.thread_ts is not None and message.thread_ts != message.ts:
                result.setdefault(message.thread_ts, []).append(message)
        return result

    def files(self) -> list[UploadedFile]:
        """Files started (getUploadURLExternal) since start or ``clear()``, in order."""
        with self._lock:
            return [dataclasses.replace(self._files[i]) for i in self._file_order]

    def clear(self) -> None:
        """Forget recorded calls, messages and files. Slack-side state stays: earlier
        messages can still be updated, users and faults are kept."""
        with self._lock:
            self._calls.clear()
            self._posted.clear()
            self._file_order.clear()

    def wait_for_calls(self, method: str, count: int, timeout: float = 5.0) -> list[Call]:
        """Wait until ``method`` was called at least ``count`` times; return those calls."""
        if count <= 0:
            return self.calls_to(method)
        return wait_until(
            lambda: (calls := self.calls_to(method)) and len(calls) >= count and calls,
            timeout=timeout,
            interval=0.02,
            message=f"expected {count} call(s) to {method}",
        )

    # -- lifecycle ------------------------------------------------------------

    def close(self) -> None:
        """Stop serving and join the server thread; safe to call twice."""
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> SlackApiServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"SlackApiServer(base_url={self.base_url!r})"

    # -- request handling -----------------------------------------------------

    def _answer(self, path: str, headers: dict[str, str], params: dict[str, Any]) -> tuple[str, _Answer]:
        """Decide the answer to one request (runs on the handler thread)."""
        if path.startswith(_UPLOAD_PREFIX):
            method = UPLOAD
        elif path.startswith(_API_PREFIX):
            method = path[len(_API_PREFIX):]
        else:
            return path, _Answer(404, raw=b"not found\n")
        with self._lock:
            if self._down:
                return method, _Answer(None)
            fault = self._take_fault(method)
        if fault is not None:
            extra = {} if fault.retry_after is None else {"Retry-After": str(fault.retry_after)}
            return method, _Answer(fault.status, {"ok": False, "error": fault.error}, extra)
        if method == UPLOAD:
            return method, self._upload(path[len(_UPLOAD_PREFIX):], params)
        handler = self._handlers.get(method)
        if handler is None:
            return method, _Answer(200, {"ok": False, "error": "unknown_method", "req_method": method})
        auth_error = self._auth_error(headers, params)
        if auth_error is not None:
            return method, _Answer(200, {"ok": False, "error": auth_error})
        return method, _Answer(200, handler(params))

    def _take_fault(self, method: str) -> _Fault | None:
        queue = self._faults.get(method)
        if not queue:
            return None
        fault = queue[0]
        fault.remaining -= 1
        if fault.remaining == 0:
            queue.pop(0)
        return fault

    def _auth_error(self, headers: dict[str, str], params: dict[str, Any]) -> str | None:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = authorization[7:].strip() if authorization.startswith("Bearer ") else params.get("token")
        if not token:
            return "not_authed"
        return None if token == self.token else "invalid_auth"

    def _record(self, call: Call) -> None:
        with self._lock:
            self._calls.append(call)

    def _next_ts(self) -> str:
        with self._lock:
            us = max(time.time_ns() // 1000, self._last_ts_us + 1)
            self._last_ts_us = us
        return f"{us // 1_000_000}.{us % 1_000_000:06d}"

    # -- methods --------------------------------------------------------------

    def _auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        return {
            "ok": True,
            "url": "https://slawatch-test.slack.com/",
            "team": "slawatch test",
            "user": "slawatch",
            "team_id": self.team_id,
            "user_id": self.bot_user_id,
            "bot_id": self.bot_id,
            "is_enterprise_install": False,
        }

    def _post_message(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        target = self.channel_id(str(params["channel"]))
        with self._lock:
            broken = self._broken.get(target)
        if broken is not None:
            return {"ok": False, "error": broken}
        blocks = _json_param(params.get("blocks"))
        if not params.get("text") and not blocks and not params.get("attachments"):
            return {"ok": False, "error": "no_text"}
        channel = self.channel_id(str(params["channel"]))
        ts = self._next_ts()
        thread_ts = params.get("thread_ts") or None
        message = Message(channel, ts, params.get("text"), blocks, thread_ts, dict(params))
        with self._lock:
            self._store[(channel, ts)] = message
            self._posted.append(message)
        return {"ok": True, "channel": channel, "ts": ts, "message": self._message_body(message)}

    def _update(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("channel") or not params.get("ts"):
            return {"ok": False, "error": "invalid_arguments"}
        channel = self.channel_id(str(params["channel"]))
        with self._lock:
            message = self._store.get((channel, str(params["ts"])))
            if message is None:
                return {"ok": False, "error": "message_not_found"}
            if "text" in params:
                message.text = params["text"]
            if "blocks" in params:
                message.blocks = _json_param(params["blocks"])
            message.updates.append(dict(params))
            body = self._message_body(message)
        return {"ok": True, "channel": channel, "ts": message.ts, "text": message.text, "message": body}

    def _list_channels(self, params: dict[str, Any]) -> dict[str, Any]:
        """Every channel that exists (posted to, or made by ``add_channel``), one page."""
        with self._lock:
            channels = [{"id": cid, "name": name, "is_channel": True, "is_archived": False}
                        for name, cid in sorted(self._channels.items())]
        return {"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}}

    def _history(self, params: dict[str, Any]) -> dict[str, Any]:
        """Top-level messages of a channel, newest first (with metadata when asked).

        Like Slack, it wants a channel id: a name answers ``channel_not_found``."""
        if not _CONVERSATION_ID.match(str(params.get("channel", ""))):
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channel_id(str(params.get("channel", "")))
        with self._lock:
            found = [m for m in reversed(self._posted) if m.channel == channel and not m.thread_ts]
            bodies = [self._message_body(m, _truthy(params.get("include_all_metadata"))) for m in found]
        return {"ok": True, "messages": bodies[: int(params.get("limit") or 100)], "has_more": False}

    def _replies(self, params: dict[str, Any]) -> dict[str, Any]:
        """A thread: its parent first, then replies oldest first (a channel id, as in Slack)."""
        if not _CONVERSATION_ID.match(str(params.get("channel", ""))):
            return {"ok": False, "error": "channel_not_found"}
        channel = self.channel_id(str(params.get("channel", "")))
        ts = str(params.get("ts", ""))
        with self._lock:
            found = [m for m in self._posted if m.channel == channel and (m.ts == ts or m.thread_ts == ts)]
            bodies = [self._message_body(m, _truthy(params.get("include_all_metadata"))) for m in found]
        if not bodies:
            return {"ok": False, "error": "thread_not_found"}
        return {"ok": True, "messages": bodies, "has_more": False}

    def _message_body(self, message: Message, with_metadata: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": self.bot_user_id,
            "bot_id": self.bot_id,
            "team": self.team_id,
            "text": message.text or "",
            "ts": message.ts,
        }
        metadata = _json_param(message.params.get("metadata"))
        if with_metadata and metadata:
            body["metadata"] = metadata
        if message.blocks:
            body["blocks"] = message.blocks
        if message.thread_ts:
            body["thread_ts"] = message.thread_ts
        return body

    def _lookup_by_email(self, params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            user = self._users.get(str(params.get("email", "")).lower())
        if user is None:
            return {"ok": False, "error": "users_not_found"}
        return {"ok": True, "user": json.loads(json.dumps(user))}

    def _get_upload_url(self, params: dict[str, Any]) -> dict[str, Any]:
        try:
            filename, length = str(params["filename"]), int(params["length"])
        except (KeyError, TypeError, ValueError):
            return {"ok": False, "error": "invalid_arguments"}
        with self._lock:
            file_id = fake_id("F", f"{len(self._files)}:{filename}")
            self._files[file_id] = UploadedFile(file_id, filename, length)
            self._file_order.append(file_id)
        url = f"http://127.0.0.1:{self.port}{_UPLOAD_PREFIX}{file_id}"
        return {"ok": True, "upload_url": url, "file_id": file_id}

    def _upload(self, file_id: str, params: dict[str, Any]) -> _Answer:
        content = params.pop("_content", b"")
        with self._lock:
            uploaded = self._files.get(file_id)
            if uploaded is None:
                return _Answer(404, raw=b"file not found\n")
            uploaded.content = content
        return _Answer(200, raw=f"OK - {len(content)}".encode("ascii"))

    def _complete_upload(self, params: dict[str, Any]) -> dict[str, Any]:
        entries = _json_param(params.get("files"))
        if not isinstance(entries, list) or not entries:
            return {"ok": False, "error": "invalid_arguments"}
        channels = [str(params["channel_id"])] if params.get("channel_id") else []
        if params.get("channels"):
            channels += str(params["channels"]).split(",")
        channels = [self.channel_id(c) for c in channels]
        answered = []
        with self._lock:
            for entry in entries:
                uploaded = self._files.get(str(entry.get("id")))
                if uploaded is None or uploaded.content is None:
                    return {"ok": False, "error": "file_not_found"}
                uploaded.title = entry.get("title") or uploaded.filename
                uploaded.channels = channels
                uploaded.initial_comment = params.get("initial_comment")
                uploaded.thread_ts = params.get("thread_ts")
                uploaded.completed = True
                answered.append(
                    {"id": uploaded.id, "name": uploaded.filename, "title": uploaded.title,
                     "size": len(uploaded.content), "channels": channels}
                )
        return {"ok": True, "files": answered}

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:  # noqa: N802 (http.server naming)
                self._handle()

            def do_POST(self) -> None:  # noqa: N802
                self._handle()

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                url = urlsplit(self.path)
                headers = dict(self.headers.items())
                content_type = self.headers.get("Content-Type", "")
                method, params = url.path, {}
                try:
                    params = _flatten(parse_qs(url.query, keep_blank_values=True))
                    if url.path.startswith(_UPLOAD_PREFIX) and not content_type.startswith("multipart/"):
                        params["_content"] = raw  # urllib labels raw bytes as form-encoded
                    else:
                        params.update(_parse_body(content_type, raw))
                        if url.path.startswith(_UPLOAD_PREFIX):
                            params["_content"] = next(
                                (v for v in params.values() if isinstance(v, bytes)), b""
                            )
                    method, answer = server._answer(url.path, headers, params)
                except _InvalidJson:
                    answer = _Answer(200, {"ok": False, "error": "invalid_json"})
                except Exception:  # a bug in the fake: answer 500 and keep the traceback
                    server.errors.append(traceback.format_exc())
                    answer = _Answer(500, {"ok": False, "error": "fake_server_exception"})
                recorded = {k: v for k, v in params.items() if k != "_content"}
                server._record(
                    Call(method, recorded, headers, time.monotonic(), answer.status, answer.body, raw)
                )
                with server._lock:
                    hold = server._holds.pop(method, None)
                if hold:
                    time.sleep(hold)
                if answer.status is None:  # down: no answer at all
                    self.close_connection = True
                    return
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                kind = "text/plain" if answer.raw is not None else "application/json"
                self.send_response(answer.status)
                self.send_header("Content-Type", f"{kind}; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                """Keep test output quiet."""

        return Handler


def _truthy(value: Any) -> bool:
    return str(value).lower() in ("1", "true")
