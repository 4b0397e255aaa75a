"""The Prometheus edge: run an instant query at a given time, or say why it failed.

Works with any Prometheus-compatible query API (Prometheus, Thanos, Mimir,
VictoriaMetrics) through prometheus-api-client, with one HTTP session reused for all
queries and a timeout on each. Failures come back as QueryFailed with a reason that
separates "could not reach Prometheus" (counts towards monitoring-blind) from "the
query itself is wrong" (a problem of one rule). A URL may carry `user:password@`
(requests sends it as basic auth); every reason is redacted before it leaves here,
because requests quotes the whole URL in some of its exceptions.
"""

from __future__ import annotations

import ast
import json
import math
import re
from datetime import datetime, timedelta

import requests
from prometheus_api_client import PrometheusApiClientException, PrometheusConnect
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from slawatch.model import FailureKind, Labels, QueryFailed, Sample
from slawatch.redact import redact, url_secrets


class PrometheusSource:
    """Instant queries against one Prometheus-compatible endpoint."""

    def __init__(self, url: str, timeout: timedelta, pool_size: int = 8) -> None:
        self.url = url
        self._secrets = url_secrets(url)
        self._timeout = timeout.total_seconds()
        session = requests.Session()
        self._client = PrometheusConnect(url=url, disable_ssl=False, session=session, timeout=self._timeout)
        # Replace the client's adapter: one connection pool sized for a group's concurrent
        # queries, and no transport retries (a rule evaluation is not retried within a
        # tick, as in Prometheus, and retries would stretch a tick past its timeout).
        session.mount(url, HTTPAdapter(pool_connections=1, pool_maxsize=pool_size, max_retries=Retry(total=0, read=False)))

    def query(self, expr: str, at: datetime) -> list[Sample]:
        """Evaluate `expr` at instant `at`; an instant vector or a scalar becomes samples."""
        params = {"time": f"{at.timestamp():.3f}", "timeout": f"{int(self._timeout * 1000)}ms"}
        try:
            result = self._client.custom_query(expr, params=params)
        except requests.Timeout as exc:
            raise self._failed(FailureKind.UNREACHABLE, f"timeout after {self._timeout:g}s") from exc
        except requests.RequestException as exc:
            raise self._failed(FailureKind.UNREACHABLE, str(exc)) from exc
        except PrometheusApiClientException as exc:
            status, error = _api_error(exc)
            kind = FailureKind.BAD_QUERY if status in (400, 422) else FailureKind.UNREACHABLE
            raise self._failed(kind, f"HTTP {status}: {error}") from exc
        except ValueError as exc:  # a proxy answering 200 with something that is not JSON
            raise self._failed(FailureKind.UNREACHABLE, f"invalid response: {exc}") from exc
        return to_samples(result)

    def check_expr(self, expr: str) -> str | None:
        """Ask Prometheus to parse `expr`; the PromQL error message, or None if it parses.

        Evaluating at an instant long before any data (t=1) makes Prometheus parse and
        type-check the expression while scanning nothing.
        """
        try:
            self._client.custom_query(expr, params={"time": "1"})
        except PrometheusApiClientException as exc:
            status, error = _api_error(exc)
            if status in (400, 422):
                return _short(redact(error, self._secrets))
            raise self._failed(FailureKind.UNREACHABLE, f"HTTP {status}: {error}") from exc
        except requests.RequestException as exc:
            raise self._failed(FailureKind.UNREACHABLE, str(exc)) from exc
        return None

    def _failed(self, kind: FailureKind, reason: str) -> QueryFailed:
        """Redacted first, shortened after: a cut URL would no longer look like one."""
        return QueryFailed(kind, _short(redact(reason, self._secrets)))

    def close(self) -> None:
        self._client.close()


def to_samples(result: object) -> list[Sample]:
    """Convert the API's `data.result` into samples; scalars become one unlabelled sample."""
    if isinstance(result, list) and len(result) == 2 and not isinstance(result[0], dict):
        return [Sample(Labels(), _float(result[1]))]  # scalar: [ts, "value"]
    if not isinstance(result, list):
        raise QueryFailed(FailureKind.BAD_QUERY, f"unexpected result type: {type(result).__name__}")
    samples = []
    for item in result:
        if "value" not in item:
            raise QueryFailed(FailureKind.BAD_QUERY, "expression returned a range vector, not an instant vector")
        samples.append(Sample(Labels(item.get("metric", {})), _float(item["value"][1])))
    return samples


def _float(text: str) -> float:
    try:
        return float(text)
    except (TypeError, ValueError):
        return math.nan


def _api_error(exc: PrometheusApiClientException) -> tuple[int, str]:
    """Status code and Prometheus' `error` field from the client's exception text.

    The client raises `HTTP Status Code 400 (b'{"status":"error",...}')`; the body is a
    bytes repr, so it is parsed back rather than matched with string tricks.
    """
    match = re.match(r"HTTP Status Code (\d+) \((.*)\)$", str(exc), re.S)
    if not match:
        return 0, str(exc)
    status = int(match.group(1))
    try:
        body = json.loads(ast.literal_eval(match.group(2)))
        return status, str(body.get("error", body))
    except (ValueError, SyntaxError, AttributeError):
        return status, match.group(2)


def _short(text: str) -> str:
    return text if len(text) <= 300 else text[:300] + "..."
