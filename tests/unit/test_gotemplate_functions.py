"""Prometheus' template functions added for the full reference render as Prometheus renders them.

Expected strings were read back from Prometheus 2.42 with the same template in an alert
annotation, except for `toDuration`, `now`, `urlQueryEscape` and a negative
`parseDuration`, which 2.42 lacks: those follow current Prometheus' own tests.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from slawatch.gotemplate import SUPPORTED_FUNCTIONS, TemplateError, parse

NOW = datetime.fromtimestamp(1353755652, timezone.utc)  # the evaluation time in Prometheus' tests


def render(text: str, value: float = 1.0) -> str:
    return parse(text).render({"instance": "web-1.example.com:9100"}, value, {}, "http://prom.example/p%20x",
                               now=NOW)


RENDERS = [
    ('{{ stripDomain "foo.example.com" }}|{{ stripDomain "foo.example.com:12345" }}|'
     '{{ stripDomain "a.b.c:" }}|{{ stripDomain "01.2.3.4" }}', "foo|foo:12345|a|01",
     "stripDomain keeps the first label of a host name and its port"),
    ('{{ stripDomain "192.0.2.1" }}|{{ stripDomain "192.0.2.1:12345" }}|{{ stripDomain "2001:0DB8::1" }}|'
     '{{ stripDomain "[2001:0DB8::1]:12345" }}|{{ stripDomain "[::1]" }}',
     "192.0.2.1|192.0.2.1:12345|2001:0DB8::1|[2001:0DB8::1]:12345|[::1]",
     "stripDomain leaves IP addresses alone"),
    ('{{ stripDomain "[2001:0DB8::1]::12345" }}|{{ stripDomain "[fe80::1%eth0]:80" }}',
     "[2001:0DB8::1]::12345|[fe80::1%eth0]:80", "stripDomain returns what cannot be split as it is"),
    ("{{ $labels.instance | stripDomain }}", "web-1:9100", "stripDomain on a label"),
    ('{{ graphLink "rate(http_requests_total{code=~\\"5..\\"}[5m]) > 0.1" }}',
     "/graph?g0.expr=rate%28http_requests_total%7Bcode%3D~%225..%22%7D%5B5m%5D%29+%3E+0.1&g0.tab=0",
     "graphLink query-escapes the expression into a graph link"),
    ('{{ tableLink "up == 0" }}|{{ graphLink "é/~_.-" }}',
     "/graph?g0.expr=up+%3D%3D+0&g0.tab=1|/graph?g0.expr=%C3%A9%2F~_.-&g0.tab=0",
     "tableLink links the table tab; unreserved characters stay"),
    ('{{ urlQueryEscape "a b/c?d=é&~" }}', "a+b%2Fc%3Fd%3D%C3%A9%26~", "urlQueryEscape is Go's url.QueryEscape"),
    ('{{ args 1 "a" nil 2.5 true }}|{{ (args 1 "a").arg1 }}|{{ len (args 1 2 3) }}|{{ args }}',
     "map[arg0:1 arg1:a arg2:<nil> arg3:2.5 arg4:true]|a|3|map[]", "args maps its arguments to arg0, arg1, ..."),
    ('[{{ (args 1).nope }}]|{{ index (args "q") "arg0" }}|{{ printf "%T %v" (args 1).arg0 (args 1).nope }}',
     "[<no value>]|q|int <nil>", "a missing key of args is a nil interface"),
    ('{{ range $k, $v := args 1 "x" }}{{ $k }}={{ $v }};{{ end }}|{{ printf "%T %#v %+v" (args) (args 2) (args "x") }}',
     'arg0=1;arg1=x;|map[string]interface {} map[string]interface {}{"arg0":2} map[arg0:x]',
     "args ranges in key order and prints as map[string]interface {}"),
    ('{{ parseDuration "1h2m10ms" }}|{{ parseDuration "-1h2m10ms" }}|{{ parseDuration "-0" }}|'
     '{{ parseDuration "1y2w3d" }}', "3720.01|-3720.01|0|3.30048e+07", "parseDuration, negative as in current Prometheus"),
    ("{{ toTime 1435065584.128 }}|{{ toTime \"1435065584.128\" }}|{{ toTime 0 }}|{{ toTime -1.5 }}",
     "2015-06-23 13:19:44.128 +0000 UTC|2015-06-23 13:19:44.128 +0000 UTC|1970-01-01 00:00:00 +0000 UTC|"
     "1969-12-31 23:59:58.5 +0000 UTC", "toTime prints as Go's Time.String in UTC, to the millisecond"),
    ('{{ (toTime 1435065584.128).Format "2006" }}|{{ printf "%T" (toTime 1) }}|{{ with toTime 5 }}{{ .Unix }}{{ end }}',
     "2015|*time.Time|5", "toTime returns a *time.Time whose methods templates call"),
    ("{{ (1800 | toDuration).String }}|{{ toDuration \"1800\" }}|{{ toDuration 0.0000015 }}|{{ toDuration -90.5 }}",
     "30m0s|30m0s|1.5µs|-1m30.5s", "toDuration returns a *time.Duration that prints like Go"),
    ('{{ toDuration "nan" }}|{{ printf "%T" (toDuration 1) }}', "-2562047h47m16.854775808s|*time.Duration",
     "toDuration of NaN is Go's amd64 conversion to the smallest int64"),
    ("{{ now }}", "1.353755652e+09", "now is the evaluation time in Unix seconds"),
    ('{{ (now | toTime).Format "Mon Jan 2 15:04:05 2006" }}', "Sat Nov 24 11:14:12 2012",
     "now converts to a time"),
    ('{{ ("-30m" | parseDuration | toDuration | (now | toTime).Add).UnixMilli }}', "1353753852000",
     "thirty minutes before the evaluation, as in Prometheus' own tests"),
    ("{{ humanizeDuration ((toTime 5).Sub (toTime 1.5)) }}|{{ humanize ((toTime 1).Sub (toTime 0)) }}",
     "3.5s|1", "a time.Duration counts as its seconds where a number is taken"),
    ('{{ slice "héllo" 0 1 }}|{{ slice "abc" 1 }}|{{ slice "abc" }}|{{ slice "abcd" 1 3 }}', "h|bc|abc|bc",
     "slice cuts strings by byte like Go"),
    ("{{ pathPrefix }}|{{ externalURL }}", "/p x|http://prom.example/p%20x",
     "pathPrefix is the external URL's decoded path"),
]


@pytest.mark.parametrize("text, expected", [pytest.param(*r[:2], id=r[2]) for r in RENDERS])
def test_renders_like_prometheus(text: str, expected: str) -> None:
    assert render(text) == expected


ERRORS = [
    ('{{ slice "abc" 2 1 }}', "error calling slice: invalid slice index: 2 > 1", "slice bounds out of order"),
    ('{{ slice "abc" 4 }}', "error calling slice: index out of range: 4", "slice past the end"),
    ('{{ slice "abc" "x" }}', "error calling slice: cannot index slice/array with type string", "slice by a string"),
    ('{{ slice "abc" 1 2 3 }}', "error calling slice: cannot 3-index slice a string", "3-index slice of a string"),
    ("{{ slice nil }}", "error calling slice: slice of untyped nil", "slice of nil"),
    ("{{ slice 1 }}", "error calling slice: can't slice item of type int", "slice of an int"),
    ('{{ index "abc" 3 }}', "error calling index: reflect: string index out of range", "index just past a string"),
    ("{{ index nil 1 }}", "error calling index: index of untyped nil", "index of nil"),
    ("{{ call 1 }}", "error calling call: non-function of type int", "call of a non-function"),
    ("{{ call nil }}", "error calling call: call of nil", "call of nil"),
    ('{{ toTime "x" }}', 'error calling toTime: strconv.ParseFloat: parsing "x": invalid syntax', "toTime of text"),
    ("{{ toTime true }}", "error calling toTime: can't convert bool to float", "toTime of a bool"),
    ('{{ toTime "nan" }}', "error calling toTime: value is NaN or Inf", "toTime of NaN"),
    ("{{ toTime 1e19 }}", "error calling toTime: 1e+19 cannot be represented as a nanoseconds timestamp "
                          "since it overflows int64", "toTime past int64 nanoseconds"),
    ("{{ humanize (toTime 5) }}", "error calling humanize: can't convert *time.Time to float", "humanize a time"),
    ("{{ humanizeDuration (toDuration 5) }}", "error calling humanizeDuration: can't convert *time.Duration to float",
     "a *time.Duration is no number"),
    ('{{ parseDuration "300y" }}', "error calling parseDuration: duration out of range", "a duration past int64"),
    ('{{ parseDuration "-" }}', "error calling parseDuration: empty duration string", "a bare minus"),
    ("{{ title (args 1).nope }}", "wrong type for value; expected string; got interface {}",
     "a missing args key passed as a string"),
    ('{{ title (index (args 1) "x") }}', "invalid value; expected string", "a missing args key through a pipeline"),
    ("{{ now 1 }}", "wrong number of args for now: want 0 got 1", "now takes no argument"),
]


@pytest.mark.parametrize("text, message", [pytest.param(*e[:2], id=e[2]) for e in ERRORS])
def test_execution_errors_read_like_prometheus(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        render(text)
    assert error.value.message.endswith(message)


def test_now_without_an_evaluation_time_fails_like_a_function_error() -> None:
    """The evaluator never reads the clock: a caller that passes no time gets an error."""
    with pytest.raises(TemplateError, match="error calling now: slawatch renders this template "
                                            "without the evaluation time"):
        parse("{{ now }}").render({}, 1.0)


def test_a_naive_evaluation_time_is_utc() -> None:
    naive = datetime(2012, 11, 24, 11, 14, 12, 999_999)
    assert parse("{{ now }}").render({}, 1.0, now=naive) == "1.353755652999e+09"


@pytest.mark.parametrize("name", ["tmpl", "urlUnescape", "safeUrl"])
def test_names_prometheus_alert_templates_lack_are_not_defined(name: str) -> None:
    """tmpl exists only in console templates; the others are in no Prometheus release."""
    with pytest.raises(TemplateError, match=f'function "{name}" not defined'):
        parse(f"{{{{ {name} . }}}}")


def test_every_function_of_prometheus_template_reference_is_defined() -> None:
    reference = {
        "query", "first", "label", "value", "sortByLabel", "strvalue", "humanize", "humanize1024",
        "humanizeDuration", "humanizePercentage", "humanizeTimestamp", "toTime", "toDuration", "now",
        "title", "toUpper", "toLower", "stripPort", "match", "reReplaceAll", "graphLink", "tableLink",
        "parseDuration", "stripDomain", "urlQueryEscape", "args", "safeHtml", "externalURL", "pathPrefix",
    }
    go_builtins = {"and", "or", "not", "len", "index", "slice", "call", "eq", "ne", "lt", "le", "gt", "ge",
                   "print", "printf", "println", "html", "js", "urlquery"}
    assert SUPPORTED_FUNCTIONS == reference | go_builtins
