"""Prometheus is the oracle: slawatch renders every annotation exactly as Prometheus does.

One rule file with constant-vector alerts goes into a real Prometheus (Debian's
`prometheus` package); once they all fire, each annotation and templated label that
Prometheus rendered must equal `slawatch.gotemplate.expand` of the same template with
the same data. Prometheus' `$labels` are the series labels of the rule's query result,
not the alert's labels (no alertname, no rule labels), so that is what is passed here.
Templates that call `query` get, on slawatch's side, a query function that asks the same
Prometheus over its HTTP API; their PromQL is constant, so the evaluation time does not
matter. Functions newer than Prometheus 2.42 (`toDuration`, `now`, `urlQueryEscape`)
cannot be checked here and are covered by unit tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from slawatch.gotemplate.execute import expand

pytestmark = pytest.mark.prometheus

EXTERNAL_LABELS = {"cluster": "eu-1", "env": "prod"}
EXTERNAL_URL = "http://prom.example:9090/prom/"  # templates see it without the trailing slash
TEMPLATE_URL = EXTERNAL_URL.rstrip("/")
STARTUP_TIMEOUT_S = 30.0


def _series(value: str, **labels: str) -> str:
    """A constant vector with the given labels: `label_replace(vector(v), ...)`."""
    expr = f"vector({value})"
    for name, label_value in labels.items():
        expr = f'label_replace({expr}, "{name}", "{label_value}", "", "")'
    return expr


HOST = {"instance": "host.example:9100", "job": "node"}
RULES: list[dict[str, Any]] = [
    {"alert": "Printing", "expr": _series("1234567.891", **HOST), "annotations": {
        "summary": "{{ $labels.instance }} value {{ $value }} missing=[{{ $labels.nope }}]",
        "labels": "{{ $labels }} {{ .Labels.job }} {{ $.Labels.instance }} {{ . }}",
        "printf": '{{ printf "%.2f|%d|%s|%v|%q|%e|%g|%10.3f|%-8.1f|" $value $value $value '
                  '$value $value $value $value $value $value }}',
    }},
    {"alert": "Humanize", "expr": _series("1234567"), "annotations": {
        "humanize": "{{ humanize $value }} {{ humanize1024 $value }} {{ humanize 0.000123 }} "
                    '{{ humanize -1234 }} {{ humanize 0 }} {{ humanize "1234" }} {{ humanize 1e30 }}',
        "durations": "{{ humanizeDuration 90 }} {{ humanizeDuration 0.001234 }} "
                     "{{ humanizeDuration 172805 }} {{ humanizeDuration 59.999 }} "
                     "{{ humanizeDuration -0.5 }}",
        "percent": "{{ humanizePercentage 0.1234 }} {{ humanizePercentage 1 }}",
        "timestamps": "{{ humanizeTimestamp 1.5 }} | {{ humanizeTimestamp 1700000000 }} | "
                      "{{ humanizeTimestamp -1.5 }}",
    }},
    {"alert": "Ratio", "expr": _series("0.1234", service="api"), "annotations": {
        "summary": "{{ $labels.service }} error ratio {{ $value | humanizePercentage }}",
        "value": "{{ $value }} {{ printf \"%.1f%%\" (humanize $value) }}",
    }},
    {"alert": "Latency", "expr": _series("90"), "annotations": {
        "summary": "p99 is {{ $value | humanizeDuration }}",
    }},
    {"alert": "NotANumber", "expr": _series("NaN"), "annotations": {
        "value": "{{ $value }} {{ humanize $value }} {{ humanizeDuration $value }} "
                 '{{ printf "%.2f %v %d %+v" $value $value $value $value }}'
                 "{{ if $value }} truthy{{ end }}",
    }},
    {"alert": "Infinite", "expr": _series("+Inf"), "annotations": {
        "value": '{{ $value }} {{ humanize $value }} {{ printf "% v|%08.2f" $value $value }}',
    }},
    {"alert": "Negative", "expr": _series("-0.5"), "annotations": {
        "value": '{{ $value }} {{ humanize $value }} {{ printf "%+.1e|%08.2f" $value $value }}',
    }},
    {"alert": "Zero", "expr": _series("0"), "annotations": {
        "value": "{{ $value }}{{ if $value }} truthy{{ else }} falsy{{ end }}",
    }},
    {"alert": "Branches", "expr": _series("7"), "annotations": {
        "if": "{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}",
        "with": "{{ with $labels.nope }}yes{{ else }}no label{{ end }}",
        "logic": "{{ and 1 0 }} {{ or 0 \"\" \"z\" }} {{ not \"\" }} {{ eq 1 2 3 1 }} "
                 "{{ ne \"a\" nil }} {{ and nil 1 }}",
    }},
    {"alert": "Ranges", "expr": _series("3", b="2", a="1", c="3"), "annotations": {
        "pairs": "{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
        "values": "{{ range $labels }}[{{ . }}]{{ end }} {{ len $labels }}",
        "loop": "{{ $last := \"\" }}{{ range $k, $v := $labels }}{{ if eq $k \"a\" }}"
                "{{ continue }}{{ end }}{{ $last = $k }}{{ if eq $k \"b\" }}{{ break }}{{ end }}"
                "{{ end }}{{ $last }}",
        "external": "{{ range $externalLabels }}{{ . }},{{ else }}none{{ end }}",
    }},
    {"alert": "Strings", "expr": _series("1", instance="web-01.example.com:443", job="API"),
     "annotations": {
        "case": "{{ title \"hello wORLD x-y o'neil\" }} {{ toUpper $labels.job }} "
                "{{ toLower $labels.job }}",
        "regex": '{{ reReplaceAll "(.*):(\\\\d+)" "$1 port $2" $labels.instance }} '
                 '{{ reReplaceAll "x*" "-" "abxd" }} {{ match "^web" $labels.instance }} '
                 '{{ match "(?i)api$" $labels.job }}',
        "host": "{{ stripPort $labels.instance }} {{ stripPort \"[::1]:80\" }} {{ stripPort \"h\" }}",
        "escape": "{{ js \"a'b<c>&=\" }} {{ html \"<b>&'\" }} {{ urlquery \"a b&c=é\" }} "
                  "{{ safeHtml \"<i>\" }}",
        "index": "{{ index $labels \"job\" }} {{ index $labels \"nope\" }} {{ len \"héllo\" }}",
     }},
    {"alert": "Whitespace", "expr": _series("5", instance="db-1"), "annotations": {
        "description": "Instance {{ $labels.instance }}\n  {{- /* a comment */ -}}\n"
                       "  has {{ $value }} {{- \" items\" }}.\n{{ if true -}}\n  trimmed\n{{- end }}\n",
    }},
    {"alert": "External", "expr": _series("1"), "annotations": {
        "external": "{{ $externalLabels.cluster }} {{ .ExternalLabels }} {{ $externalURL }} "
                    "{{ externalURL }} {{ pathPrefix }}",
    }},
    {"alert": "Printing2", "expr": _series("42", **HOST), "annotations": {
        "print": '{{ print 1 2 "a" "b" 3 }}|{{ println 1 "a" }}|{{ printf "%v|%d" $labels $labels }}',
        "literals": "{{ 1e6 }} {{ 0x10 }} {{ 'a' }} {{ 100000.0 }} {{ -0.0 }} {{ 1_000 }}",
        "printf": '{{ printf "%05d|%+.1f|% d|%t|%c|%U|%x|%X|%#x|%o|%.3s|%5s|%-5s|" 42 3.14159 5 '
                  'true 65 65 255 "hi" 255 8 "abcdef" "ab" "ab" }}',
        "missing": '{{ printf "%s %d" }}|{{ printf "%s" "a" "b" 3 }}|{{ printf "%z" 3 }}',
        "parse": "{{ parseDuration \"1h30m\" }}",
        "exotic": '{{ printf "%#v|%x|%b|%#g|%#U|%+q|% x|%#08x|%.1f" $labels 2.5 2.5 2.5 65 '
                  '"héllo" "abc" 255 (humanize $value) }}',
        "regexp": '{{ reReplaceAll "a{,2}" "<$0>" "a{,2}aa" }} {{ match "\\\\bé" "é" }} '
                  '{{ reReplaceAll "(?P<h>[^.]+)\\\\..*" "${h}" $labels.instance }}',
    }},
    {"alert": "Variables", "expr": _series("12", team="sre"), "annotations": {
        "vars": "{{ $t := $labels.team }}{{ $t = printf \"%s!\" $t }}{{ $t }} "
                "{{ with $v := $value }}{{ $v }}{{ end }}",
    }},
]
SLOW_VALUE = "a" * 29 + "!"  # 30 characters: hours of backtracking for (a+)+$, linear on RE2
RULES += [
    {"alert": "Catastrophic", "expr": _series("1", v=SLOW_VALUE), "annotations": {
        "replace": '{{ reReplaceAll "(a+)+$" "x" $labels.v }}|{{ reReplaceAll "(a|aa)+$" "x" $labels.v }}|'
                   '{{ reReplaceAll "(a|a)*!" "<$0>" $labels.v }}',
        "match": '{{ match "(a+)+$" $labels.v }}|{{ match "^(a+)+!$" $labels.v }}|'
                 '{{ match "(x+x+)+y" $labels.v }}',
    }},
    {"alert": "Regexps", "expr": _series("1", instance="web-01.example.com:9100"), "annotations": {
        "groups": '{{ reReplaceAll "(?P<x>l+)" "<${x}|$x|$1|${1}|$xx|${2}>" "hello" }}|'
                  '{{ reReplaceAll "(?P<a>x)|(?P<a>y)" "[$a]" "xy" }}|'
                  '{{ reReplaceAll "(x)" "$1x|${1}x|$01|$$|$" "x" }}|{{ reReplaceAll "(a)|b" "[$1]" "ab" }}',
        "empty": '{{ reReplaceAll "" "-" "héllo" }}|{{ reReplaceAll "é*" "-" "héé" }}|'
                 '{{ reReplaceAll "a*?" "-" "baaac" }}|{{ reReplaceAll "\\\\b" "|" "ab cd" }}',
        "syntax": '{{ match "\\\\pL+" "é" }}|{{ reReplaceAll "(?U)a+" "x" "aaa" }}|{{ match "a(?i)b" "aB" }}|'
                  '{{ reReplaceAll "\\\\p{Greek}+" "G" "abγδe" }}|{{ match "(?i)k" "\\u212a" }}|'
                  '{{ match "(?m)^b" "a\\nb" }}|{{ match "(?s)a.b" "a\\nb" }}|{{ match "^\\\\d+$" "\\u0663" }}',
        "label": '{{ reReplaceAll "^([^.]+)\\\\..*:(\\\\d+)$" "$1 on $2" $labels.instance }}',
    }},
    {"alert": "MoreFunctions", "expr": _series("1", instance="web-01.example.com:9100"), "annotations": {
        "domain": "{{ stripDomain $labels.instance }}|{{ stripDomain \"foo.example.com\" }}|"
                  "{{ stripDomain \"192.0.2.1:12345\" }}|{{ stripDomain \"[2001:0DB8::1]:12345\" }}|"
                  "{{ stripDomain \"[2001:0DB8::1]::12345\" }}|{{ stripDomain \"01.2.3.4\" }}",
        "links": '{{ graphLink "rate(http_requests_total{code=~\\"5..\\"}[5m]) > 0.1" }}|'
                 '{{ tableLink "up == 0" }}',
        "args": '{{ args 1 "a" nil 2.5 true }}|{{ (args 1 "a").arg1 }}|[{{ (args 1).nope }}]|'
                '{{ printf "%T %#v %+v" (args) (args 2) (args "x") }}',
        "durations": '{{ parseDuration "1h2m10ms" }}|{{ parseDuration "1y2w3d" }}|{{ parseDuration "0" }}',
        "slices": '{{ slice "héllo" 0 1 }}|{{ slice "abc" 1 }}|{{ slice "abcd" 1 3 }}|{{ index "abc" 2 }}',
    }},
    {"alert": "Times", "expr": _series("1435065584.128"), "annotations": {
        "print": "{{ toTime $value }}|{{ toTime \"0\" }}|{{ toTime -1.5 }}|{{ $value | humanizeTimestamp }}",
        "format": '{{ $t := toTime $value }}{{ $t.Format "Monday, 02-Jan-06 15:04:05.000 MST" }}|'
                  '{{ $t.Format "Jan _2 3:04PM" }}|{{ $t.Format "2006-01-02T15:04:05Z07:00" }}|'
                  '{{ $t.Format "20060102 150405.999 -07:00 -0700 -07 Z0700" }}|'
                  '{{ $t.Format "Janet Monet .000x ,99 pm 002 __2 _2006 05.00001" }}|'
                  '{{ $t.Format "3 03 15 4 04 5 05 1 01 2 02 06" }}',
        "fields": "{{ $t := toTime $value }}{{ $t.Year }} {{ $t.Month }} {{ $t.Day }} {{ $t.Hour }} "
                  "{{ $t.Minute }} {{ $t.Second }} {{ $t.Nanosecond }} {{ $t.YearDay }} {{ $t.Weekday }} "
                  "{{ $t.Unix }} {{ $t.UnixMilli }} {{ $t.UnixMicro }} {{ $t.UnixNano }}",
        "arithmetic": "{{ $t := toTime $value }}{{ $t.Add 1500000000 }}|{{ $t.AddDate 0 1 10 }}|"
                      "{{ $t.Sub (toTime 1435000000) }}|{{ $t.Before (toTime 1435000000) }}|"
                      "{{ $t.Truncate 3600000000000 }}|{{ $t.Round 3600000000000 }}|{{ (toTime 0).Add 1.0 }}",
        "durations": "{{ $d := (toTime $value).Sub (toTime 1435000000) }}{{ $d }}|{{ $d.Hours }}|{{ $d.Minutes }}|"
                     "{{ $d.Seconds }}|{{ $d.Milliseconds }}|{{ $d.Round 60000000000 }}|"
                     '{{ printf "%d %s %T %v" $d $d $d $d.Abs }}|{{ ((toTime 0).Sub (toTime 0.0015)) }}',
        "printf": '{{ printf "%v|%s|%T|%T|%#v" (toTime 5) (toTime 5) (toTime 5) (toTime 5).Month (toTime 5) }}',
    }},
    {"alert": "Queries", "expr": _series("1"), "annotations": {
        "first": '{{ query "vector(1)" | first | value }}|'
                 '{{ query "label_replace(vector(2), \\"instance\\", \\"a\\", \\"\\", \\"\\")" | first | label "instance" }}|'
                 '{{ query "label_replace(vector(2), \\"__value__\\", \\"v\\", \\"\\", \\"\\")" | first | strvalue }}|'
                 '[{{ query "vector(1)" | first | label "nope" }}]|{{ query "1.5" | first | value }}',
        "sorted": '{{ range query "label_replace(vector(1), \\"i\\", \\"b\\", \\"\\", \\"\\") or '
                  'label_replace(vector(2), \\"i\\", \\"a\\", \\"\\", \\"\\") or '
                  'label_replace(vector(3), \\"i\\", \\"c\\", \\"\\", \\"\\")" | sortByLabel "i" }}'
                  "{{ .Labels.i }}:{{ .Value }} {{ end }}",
        "shapes": '{{ with query "vector(1)" }}{{ len . }} {{ (index . 0).Value }}{{ end }}|'
                  '{{ with query "vector(1) > 2" }}some{{ else }}none{{ end }}|'
                  '{{ $x := query "vector(5)" | first }}[{{ $x.Labels.foo }}]{{ $x.Value | humanize }}|'
                  '{{ first (query "label_replace(vector(7), \\"j\\", \\"k\\", \\"\\", \\"\\")") }}',
        "printf": '{{ printf "%v|%+v|%T|%T|%#v" (query "vector(3)" | first) (query "vector(3)" | first) '
                  '(query "vector(3)" | first) (query "vector(3)") (query "vector(3)" | first) }}',
    }},
]
# Labels are templated too; each alert's label value must match expand() of its template.
RULES[0]["labels"] = {"host": "{{ $labels.instance | stripPort }}", "severity": "warning"}
RULES[3]["labels"] = {"bucket": "{{ if gt $value 60.0 }}slow{{ else }}ok{{ end }}"}
# Templates that fail at execution: compared by their error message only, since Prometheus
# also names the rule and counts columns after its hidden header.
ERROR_RULES = [
    {"alert": "IntVsFloat", "expr": _series("3"), "annotations": {"e": "{{ gt $value 10 }}"}},
    {"alert": "BadRegexp", "expr": _series("3"), "annotations": {
        "e": '{{ reReplaceAll "(" "x" "y" }}'}},
    {"alert": "WrongType", "expr": _series("3"), "annotations": {"e": "{{ $value | title }}"}},
] + [
    {"alert": f"Failing{i}", "expr": _series("3"), "annotations": {"e": template}}
    for i, template in enumerate([
        '{{ match "a**" "x" }}', '{{ match "\\\\C" "x" }}', '{{ match "(?P<é>a)" "x" }}',
        '{{ reReplaceAll "x{1001}" "" "y" }}', '{{ reReplaceAll "(`" "" "y" }}',
        '{{ match "[[:foo:]]" "" }}', '{{ match "(?!a)" "" }}', '{{ match "\\\\" "" }}',
        "{{ call 1 }}", "{{ call nil }}", '{{ slice "abc" 2 1 }}', '{{ slice "abc" 1 2 3 }}',
        '{{ index "abc" 3 }}', '{{ toTime "nan" }}', "{{ toTime 1e19 }}", "{{ humanize (toTime 5) }}",
        "{{ (toTime 1).Nope }}", "{{ (toTime 1).Format }}", "{{ (toTime 1).Add 1.5 }}",
        "{{ (toTime 1).Sub $value }}", "{{ (toTime 1).Add nil }}", '{{ parseDuration "300y" }}',
        "{{ title (args 1).nope }}", '{{ query "vector(1) > 5" | first }}',
        "{{ first nil }}", "{{ first $labels }}", "{{ value 1 }}", '{{ label "a" nil }}',
        '{{ query "up{" }}', '{{ (query "vector(1)" | first).Nope }}', '{{ index (query "vector(1)") 1 }}',
    ])
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.load(response)


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    value: float


@dataclass(frozen=True)
class Oracle:
    """The running Prometheus: its firing alerts by name, and its HTTP API for `query`."""

    alerts: dict[str, Any]
    port: int

    def query(self, expr: str) -> Sequence[Series]:
        """An instant query, as Prometheus' rule query function answers: a scalar is one sample."""
        url = f"http://127.0.0.1:{self.port}/api/v1/query?" + urllib.parse.urlencode({"query": expr})
        try:
            data = _get_json(url)["data"]
        except urllib.error.HTTPError as exc:  # the engine's error, without the API's wrapping
            raise RuntimeError(json.load(exc)["error"].removeprefix('invalid parameter "query": ')) from None
        if data["resultType"] == "scalar":
            return [Series({}, float(data["result"][1]))]
        return [Series(r["metric"], float(r["value"][1])) for r in data["result"]]

    def expand(self, template: str, labels: dict[str, str], value: float) -> str:
        return expand(template, labels, value, EXTERNAL_LABELS, TEMPLATE_URL, query=self.query)


@pytest.fixture(scope="module")
def prometheus_alerts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Oracle]:
    """Start Prometheus on the rule file; yield its firing alerts and API; always stop it."""
    binary = shutil.which("prometheus")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("prometheus binary not found (install the Debian package prometheus)")
        pytest.skip("prometheus binary not found (install the Debian package prometheus)")
    tmp = tmp_path_factory.mktemp("prometheus")
    rules = tmp / "rules.yml"
    all_rules = [dict(rule, **{"for": "0s"}) for rule in RULES + ERROR_RULES]
    rules.write_text(yaml.safe_dump({"groups": [{"name": "oracle", "rules": all_rules}]}))
    (tmp / "prometheus.yml").write_text(yaml.safe_dump({
        "global": {"evaluation_interval": "1s", "external_labels": EXTERNAL_LABELS},
        "rule_files": [str(rules)],
    }))
    port = _free_port()
    log = (tmp / "prometheus.log").open("w")
    process = subprocess.Popen(
        [binary, f"--web.listen-address=127.0.0.1:{port}", f"--storage.tsdb.path={tmp / 'data'}",
         f"--config.file={tmp / 'prometheus.yml'}", f"--web.external-url={EXTERNAL_URL}",
         "--web.route-prefix=/"],
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        yield Oracle(_wait_for_firing(process, port, tmp / "prometheus.log", len(all_rules)), port)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _wait_for_firing(process: subprocess.Popen[bytes], port: int, log: Path,
                     expected: int) -> dict[str, Any]:
    deadline, firing = time.monotonic() + STARTUP_TIMEOUT_S, {}
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"prometheus exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            alerts = _get_json(f"http://127.0.0.1:{port}/api/v1/alerts")["data"]["alerts"]
        except OSError:
            alerts = []
        firing = {a["labels"]["alertname"]: a for a in alerts if a["state"] == "firing"}
        if len(firing) >= expected:
            return firing
        time.sleep(0.25)
    pytest.fail(f"only {sorted(firing)} of {expected} alerts fired within {STARTUP_TIMEOUT_S}s; "
                f"prometheus log:\n{log.read_text()[-3000:]}")


def _template_inputs(rule: dict[str, Any], alert: dict[str, Any]) -> tuple[dict[str, str], float]:
    """The series labels Prometheus gave the template, and the sample value."""
    rule_labels = set(rule.get("labels", {})) | {"alertname"}
    labels = {k: v for k, v in alert["labels"].items() if k not in rule_labels}
    return labels, float(alert["value"])


@pytest.mark.parametrize("rule", RULES, ids=[r["alert"] for r in RULES])
def test_annotations_and_labels_match_prometheus(rule: dict[str, Any], prometheus_alerts: Oracle) -> None:
    alert = prometheus_alerts.alerts[rule["alert"]]
    labels, value = _template_inputs(rule, alert)
    for name, template in rule["annotations"].items():
        theirs = alert["annotations"][name]
        assert not theirs.startswith("<error expanding template"), f"annotation {name}: {theirs}"
        ours = prometheus_alerts.expand(template, labels, value)
        assert ours == theirs, f"annotation {name}: {template!r}"
    for name, template in rule.get("labels", {}).items():
        ours = prometheus_alerts.expand(template, labels, value)
        assert ours == alert["labels"][name], f"label {name}: {template!r}"


@pytest.mark.parametrize("rule", ERROR_RULES, ids=[r["annotations"]["e"] for r in ERROR_RULES])
def test_execution_errors_read_like_prometheus(rule: dict[str, Any], prometheus_alerts: Oracle) -> None:
    alert = prometheus_alerts.alerts[rule["alert"]]
    labels, value = _template_inputs(rule, alert)
    theirs = alert["annotations"]["e"]
    ours = prometheus_alerts.expand(rule["annotations"]["e"], labels, value)
    assert theirs.startswith("<error expanding template: ") and theirs.endswith(">")
    assert ours.startswith("<error expanding template: ")
    assert ours.endswith(theirs.rsplit(">: ", 1)[-1]), (ours, theirs)


def test_catastrophic_patterns_render_in_linear_time(prometheus_alerts: Oracle) -> None:
    """`(a+)+$` against a 30-character value: Prometheus' output, in far under a second."""
    rule = next(r for r in RULES if r["alert"] == "Catastrophic")
    started = time.perf_counter()
    for template in rule["annotations"].values():
        prometheus_alerts.expand(template, {"v": SLOW_VALUE}, 1.0)
    assert time.perf_counter() - started < 1.0
