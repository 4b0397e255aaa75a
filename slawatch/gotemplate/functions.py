"""The function map of alert templates: Prometheus' functions next to Go's builtins.

Every function of Prometheus' template reference that an alert template can call, with
the Go parameter types the evaluator converts arguments to. Where Prometheus releases
differ, output and error texts are those of Prometheus 2.42 (the version slawatch is
checked against; `title` is Go's strings.Title), and what later releases accept but 2.42
refused is accepted: the functions `toDuration`, `now` and `urlQueryEscape`, a negative
`parseDuration`, and a time.Duration wherever a number is taken. `tmpl` exists only in
console templates, so, as in Prometheus' alert templates, it is not defined.

`query`, `now`, `externalURL` and `pathPrefix` read the render's inputs instead of their
arguments: the query function and the evaluation time are passed in by the caller, never
fetched or read from the clock here. Pure: no I/O, no clock.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Protocol
from urllib.parse import quote_plus, unquote, urlparse

from slawatch.gotemplate.go_builtins import BUILTINS
from slawatch.gotemplate.gotime import duration_from_seconds, time_from_seconds
from slawatch.gotemplate.humanize import (
    g4,
    humanize,
    humanize1024,
    humanize_duration,
    humanize_timestamp,
    to_float,
)
from slawatch.gotemplate.params import Function
from slawatch.gotemplate.printing import go_quote
from slawatch.gotemplate.regexp import match_string, replace_all_string
from slawatch.gotemplate.values import ArgsMap, CallError, Pointer, QueryResult, SafeHTML, Sample

__all__ = ["FUNCTIONS", "QueryFunc", "QuerySample", "RenderInputs", "check_function"]


class QuerySample(Protocol):
    """One series of an instant vector; `labels` include `__name__`, as Prometheus' do."""

    @property
    def labels(self) -> Mapping[str, str]: ...

    @property
    def value(self) -> float: ...


# Runs PromQL at the evaluation time and returns the instant vector (a scalar result as one
# sample without labels, as Prometheus' rule query function does); raises on failure.
QueryFunc = Callable[[str], Sequence[QuerySample]]


@dataclass(frozen=True, slots=True)
class RenderInputs:
    """What a render supplies besides the alert data, for the functions that read it."""

    external_url: str = ""
    query: QueryFunc | None = None
    now: datetime | None = None


# ---- strings and hosts ----


def _is_separator(c: str) -> bool:
    if c.isascii():
        return not (c.isalnum() or c == "_")
    return not (c.isalpha() or c.isdecimal()) and c.isspace()


def _title(text: str) -> str:
    """Go's strings.Title (Prometheus 2.42): title-case each letter after a separator."""
    out, prev = [], " "
    for c in text:
        title = c.title()
        out.append(title if _is_separator(prev) and len(title) == 1 else c)
        prev = c
    return "".join(out)


def _to_upper(text: str) -> str:
    return "".join(u if len(u := c.upper()) == 1 else c for c in text)


def _to_lower(text: str) -> str:
    return "".join(c.lower()[0] for c in text)


def _split_host_port(host_port: str) -> tuple[str, str] | None:
    """Go's net.SplitHostPort, or None where it returns an error."""
    colon = host_port.rfind(":")
    if colon < 0:
        return None
    if host_port.startswith("["):
        close = host_port.find("]")
        if close < 0 or close + 1 != colon:
            return None
        host, after_open, after_close = host_port[1:close], 1, close + 1
    else:
        host, after_open, after_close = host_port[:colon], 0, 0
        if ":" in host:
            return None
    if "[" in host_port[after_open:] or "]" in host_port[after_close:]:
        return None
    return host, host_port[colon + 1 :]


def _strip_port(host_port: str) -> str:
    split = _split_host_port(host_port)
    return host_port if split is None else split[0]


def _is_ip(host: str) -> bool:
    """Go's net.ParseIP accepts it: dotted IPv4 without leading zeros, or IPv6 without a zone."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return "%" not in host


def _strip_domain(host_port: str) -> str:
    """The first label of a host name, port kept; IP addresses are left alone."""
    host, port = _split_host_port(host_port) or (host_port, "")
    if _is_ip(host):
        return host_port
    host = host.split(".")[0]
    if not port:
        return host
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # Go's net.JoinHostPort


def _query_escape(text: str) -> str:
    """Go's url.QueryEscape."""
    return quote_plus(text, safe="")


_DURATION = re.compile("".join(rf"(?:([0-9]+){u})?" for u in ("y", "w", "d", "h", "m", "s", "ms")))
_DURATION_MS = (31_536_000_000, 604_800_000, 86_400_000, 3_600_000, 60_000, 1000, 1)
_MAX_DURATION_MS = (2**63 - 1) // 1_000_000


def _duration_ms(text: str) -> int:
    """Prometheus 2.42's model.ParseDuration, in milliseconds: units largest first."""
    if text == "0":
        return 0
    match = _DURATION.fullmatch(text) if text else None
    if match is None:
        raise CallError("empty duration string" if not text
                        else f"not a valid duration string: {go_quote(text)}")
    total = 0
    for digits, unit_ms in zip(match.groups(), _DURATION_MS):
        if digits:
            if int(digits) > _MAX_DURATION_MS // unit_ms:
                raise CallError("duration out of range")
            total += int(digits) * unit_ms
    if total > _MAX_DURATION_MS:
        raise CallError("duration out of range")
    return total


def _parse_duration(text: str) -> float:
    """Seconds; a leading `-` negates, as in current Prometheus (2.42 refused it)."""
    negative = text.startswith("-")
    ms = _duration_ms(text[1:] if negative else text)
    return (-ms if negative else ms) / 1000


# ---- query results ----


def _query(inputs: RenderInputs, expr: str) -> QueryResult:
    if inputs.query is None:
        raise CallError("slawatch renders this template without a query function")
    try:
        samples = inputs.query(expr)
    except Exception as exc:  # noqa: BLE001 - the query function's failure is query's error
        raise CallError(str(exc)) from None
    return QueryResult(Pointer(Sample(dict(s.labels), float(s.value))) for s in samples)


def _first(result: QueryResult) -> object:
    if not result:
        raise CallError("first() called on vector with no elements")
    return result[0]


def _sample(sample: Pointer | None) -> Sample:
    if sample is None:  # Go dereferences the nil pointer and recovers the panic
        raise CallError("runtime error: invalid memory address or nil pointer dereference")
    return sample.target  # type: ignore[return-value]


def _sort_by_label(label: str, result: QueryResult) -> QueryResult:
    """Stable, in place, like Go's sort.Stable on the result's slice."""
    result.sort(key=lambda s: _sample(s).Labels.get(label, ""))
    return result


# ---- times, and the render's inputs ----

_UNIX_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def _now(inputs: RenderInputs) -> float:
    """The evaluation time in Unix seconds, at Prometheus' millisecond precision."""
    if inputs.now is None:
        raise CallError("slawatch renders this template without the evaluation time")
    moment = inputs.now if inputs.now.utcoffset() is not None else inputs.now.replace(tzinfo=timezone.utc)
    return ((moment - _UNIX_EPOCH) // timedelta(milliseconds=1)) / 1000.0


def _to_time(value: object) -> Pointer:
    return Pointer(time_from_seconds(to_float(value)))


def _to_duration(value: object) -> Pointer:
    return Pointer(duration_from_seconds(to_float(value)))


def _path_prefix(inputs: RenderInputs) -> str:
    """Go's url.URL.Path of the external URL: the path, percent-decoded."""
    return unquote(urlparse(inputs.external_url).path)


_S, _ANY, _SAMPLE, _RESULT = ("string",), ("interface {}",), "*template.sample", "template.queryResult"
_PROMETHEUS: dict[str, Function] = {
    "query": Function(_query, _S, reads_inputs=True),
    "first": Function(_first, (_RESULT,)),
    "label": Function(lambda label, s: _sample(s).Labels.get(label, ""), ("string", _SAMPLE)),
    "value": Function(lambda s: _sample(s).Value, (_SAMPLE,)),
    "strvalue": Function(lambda s: _sample(s).Labels.get("__value__", ""), (_SAMPLE,)),
    "sortByLabel": Function(_sort_by_label, ("string", _RESULT)),
    "args": Function(lambda *a: ArgsMap((f"arg{i}", v) for i, v in enumerate(a)), _ANY, variadic=True),
    "humanize": Function(lambda v: humanize(to_float(v)), _ANY),
    "humanize1024": Function(lambda v: humanize1024(to_float(v)), _ANY),
    "humanizeDuration": Function(lambda v: humanize_duration(to_float(v)), _ANY),
    "humanizePercentage": Function(lambda v: g4(to_float(v) * 100) + "%", _ANY),
    "humanizeTimestamp": Function(lambda v: humanize_timestamp(to_float(v)), _ANY),
    "toTime": Function(_to_time, _ANY),
    "toDuration": Function(_to_duration, _ANY),
    "now": Function(_now, (), reads_inputs=True),
    "title": Function(_title, _S),
    "toUpper": Function(_to_upper, _S),
    "toLower": Function(_to_lower, _S),
    "stripPort": Function(_strip_port, _S),
    "stripDomain": Function(_strip_domain, _S),
    "match": Function(match_string, ("string", "string")),
    "reReplaceAll": Function(replace_all_string, ("string", "string", "string")),
    "graphLink": Function(lambda expr: f"/graph?g0.expr={_query_escape(expr)}&g0.tab=0", _S),
    "tableLink": Function(lambda expr: f"/graph?g0.expr={_query_escape(expr)}&g0.tab=1", _S),
    "urlQueryEscape": Function(_query_escape, _S),
    "parseDuration": Function(_parse_duration, _S),
    "safeHtml": Function(SafeHTML, _S),
    "externalURL": Function(lambda inputs: inputs.external_url, (), reads_inputs=True),
    "pathPrefix": Function(_path_prefix, (), reads_inputs=True),
}

FUNCTIONS: dict[str, Function] = {**BUILTINS, **_PROMETHEUS}


def check_function(name: str) -> str | None:
    """The parse error for calling `name`, or None if the function exists."""
    return None if name in FUNCTIONS else f'function "{name}" not defined'
