"""Alert templates render exactly as Prometheus 2.42 (Go 1.19 text/template) renders them.

Every expected string here was checked against the real Prometheus: the same template
was put into an alerting rule and the annotation read back from /api/v1/alerts
(tests/integration/test_templating_oracle.py keeps a subset of them as a live check).
"""

from __future__ import annotations

import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.gotemplate.execute import Template, TemplateError, expand, parse

LABELS = {"instance": "host.example:9100", "job": "node"}
EXTERNAL = {"cluster": "eu-1", "env": "prod"}
URL = "http://prom.example:9090/prom"


def render(text: str, value: float = 42.0, labels: dict[str, str] = LABELS) -> str:
    return parse(text).render(labels, value, EXTERNAL, URL)


def case(text: str, expected: str, value: float = 42.0, *, id: str,
         labels: dict[str, str] = LABELS) -> object:
    return pytest.param(text, value, labels, expected, id=id)


VALUES = [
    case("[{{ $labels.missing }}]", "[]", id="missing label renders empty (missingkey=zero)"),
    case("{{ $labels }}", "map[instance:host.example:9100 job:node]", id="labels map sorted"),
    case("{{ .Labels.job }}|{{ $.Labels.instance }}", "node|host.example:9100", id="dot and root"),
    case("{{ $externalLabels.cluster }}|{{ .ExternalLabels }}", "eu-1|map[cluster:eu-1 env:prod]",
         id="external labels"),
    case("{{ $externalURL }}|{{ .ExternalURL }}", f"{URL}|{URL}", id="external url variable"),
    case("{{ $value }}", "1.234567891e+06", 1234567.891, id="float uses exponent from 1e6"),
    case("{{ $value }}|{{ .Value }}", "123456.7|123456.7", 123456.7, id="float below 1e6 is plain"),
    case("{{ $value }}", "0.1234", 0.1234, id="float shortest repr"),
    case("{{ $value }}", "3", 3.0, id="integral float prints without point"),
    case("{{ $value }}", "1e-07", 1e-7, id="tiny float exponent"),
    case("{{ $value }}", "0.0001", 1e-4, id="1e-4 stays plain"),
    case("{{ $value }}", "NaN", math.nan, id="NaN"),
    case("{{ $value }}|{{ humanize $value }}", "+Inf|+Inf", math.inf, id="positive infinity"),
    case("{{ $value }}", "-Inf", -math.inf, id="negative infinity"),
    case("{{ $value }}", "-0", -0.0, id="negative zero"),
    case("{{ $value }}", "9.007199254740992e+15", 2.0**53, id="large float"),
    case("{{ 1e6 }} {{ 0.1 }} {{ 100000.0 }} {{ 1e21 }} {{ 0.00001 }} {{ -0.0 }}",
         "1e+06 0.1 100000 1e+21 1e-05 -0", id="float literals"),
    case("{{ 0x10 }} {{ 'a' }} {{ 0o17 }} {{ 0b101 }} {{ 1_000 }} {{ .5 }} {{ 0x1p4 }} {{ 017 }}",
         "16 97 15 5 1000 0.5 16 15", id="number literal forms"),
    case('{{ `raw\\n` }}|{{ "\\x41\\u00e9\\101\\t" }}|{{ \'\\n\' }}', "raw\\n|AéA\t|10",
         id="string and char literals"),
    case("{{ true }} {{ false }} {{ . }}",
         "true false {map[instance:host.example:9100 job:node] map[cluster:eu-1 env:prod] "
         f"{URL} 42}}", id="bools and the data struct"),
]

CONTROL = [
    case("{{ if gt $value 10.0 }}high{{ else if gt $value 5.0 }}mid{{ else }}low{{ end }}", "mid",
         7.0, id="if else-if else"),
    case("{{ if eq $labels.job \"node\" \"other\" }}A{{ else }}B{{ end }}", "A", id="eq any of"),
    case("{{ if $labels.missing }}x{{ else }}empty is false{{ end }}", "empty is false",
         id="empty string is false"),
    case("{{ if $value }}T{{ else }}F{{ end }}", "F", 0.0, id="zero is false"),
    case("{{ if $value }}T{{ else }}F{{ end }}", "T", math.nan, id="NaN is true"),
    case("{{ with $labels.job }}job={{ . }}{{ end }}", "job=node", id="with sets dot"),
    case("{{ with $labels.nope }}yes{{ else }}no{{ end }}", "no", id="with else"),
    case("{{ with $x := $labels.job }}{{ $x }}{{ end }}", "node", id="with declares"),
    case("{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}",
         "instance=host.example:9100;job=node;", id="range key value sorted"),
    case("{{ range $labels }}[{{ . }}]{{ end }}", "[host.example:9100][node]", id="range dot"),
    case("{{ range $v := $labels }}<{{ $v }}>{{ end }}", "<host.example:9100><node>",
         id="range one variable is the element"),
    case("{{ range $labels }}{{ $.Value }}{{ end }}", "4242", id="root inside range"),
    case("{{ range $k, $v := $labels }}x{{ else }}none{{ end }}", "none", labels={},
         id="range else on empty map"),
    case("{{ $x := 1 }}{{ range $k, $v := $labels }}{{ $x = $k }}{{ end }}{{ $x }}", "job",
         id="assignment survives range"),
    case("{{ $v := 3 }}{{ if gt $v 2 }}{{ $v := 10 }}{{ $v }}{{ end }}{{ $v }}", "103",
         id="declaration scoped to if"),
    case("{{ range $k, $v := $labels }}{{ if eq $k \"instance\" }}{{ continue }}{{ end }}"
         "{{ $k }}{{ break }}{{ end }}", "job", id="break and continue"),
    case("{{ $labels.job | printf \"%s!\" }}|{{ \"x\" | printf \"%s%s\" \"y\" }}", "node!|yx",
         id="pipeline passes last argument"),
    case("{{ (index $labels \"job\") }}|{{ .Labels | }}", "node|map[instance:host.example:9100 "
         "job:node]", id="parenthesised pipeline and trailing pipe"),
]

WHITESPACE = [
    case("a  {{- \"b\" -}}  \n c {{- /* comment */ -}} d {{/* c2 */}} e{{- 3 }} {{ -3 }}",
         "abcd  e3 -3", id="trim markers and comments"),
    case("a \n\t{{- 1 -}}\n\t b", "a1b", id="trim newlines and tabs"),
    case("x  {{- /* a */}}|{{ 1 }} {{- 2 }}", "x|12", id="trimmed comment"),
    case('{{ printf\n "%s"\n $labels.job }}', "node", id="newlines inside action"),
    case("line1\n{{ $labels.job }}\n", "line1\nnode\n", id="text kept verbatim"),
]

BUILTINS = [
    case("{{ and 1 0 \"x\" }}|{{ and 1 2 }}|{{ or 0 \"\" \"z\" }}|{{ or 0 \"\" }}|{{ and $value }}",
         "0|2|z||42", id="and or return an operand"),
    case("{{ or (eq 1 1) (gt \"a\" 1) }}|{{ and (eq 1 2) (gt \"a\" 1) }}", "true|false",
         id="and or short circuit"),
    case("{{ not \"\" }}|{{ not 1 }}|{{ not nil }}|{{ ne \"a\" nil }}|{{ and nil 1 }}",
         "true|false|true|true|<no value>", id="not and nil"),
    case("{{ ne 1 2 }}|{{ le 2 2 }}|{{ ge \"b\" \"a\" }}|{{ lt 1.5 2.5 }}|{{ gt $value 40.0 }}",
         "true|true|true|true|true", id="comparisons"),
    case("{{ index $labels \"job\" }}|{{ index $labels \"nope\" }}|{{ index \"abc\" 1 }}",
         "node||98", id="index"),
    case("{{ len $labels }}|{{ len \"héllo\" }}|{{ len \"\" }}", "2|6|0", id="len counts bytes"),
    case("{{ print 1 2 \"a\" \"b\" 3 }}|{{ print 1.5 true nil }}|{{ print }}", "1 2ab3|1.5 true <nil>|",
         id="print spaces between non-strings"),
    case("{{ println 1 \"a\" }}|{{ println }}", "1 a\n|\n", id="println"),
    case("{{ html \"a<b>&'\\\"\\u0000c\" }}|{{ html 1 \"x\" 2.5 }}|{{ html nil }}",
         "a&lt;b&gt;&amp;&#39;&#34;\ufffdc|1x2.5|&lt;no value&gt;", id="html"),
    case("{{ js \"a'b\\\"c<d>e&f=g\\\\h\\u0001iéj`k\" }}|{{ js \"\\u200b\\u2028x\" }}",
         "a\\'b\\\"c\\u003Cd\\u003Ee\\u0026f\\u003Dg\\\\h\\u0001iéj`k|\\u200B\\u2028x", id="js"),
    case("{{ urlquery \"a b&c=d/é~_.-\" }}|{{ urlquery \"a\" 1 }}", "a+b%26c%3Dd%2F%C3%A9~_.-|a1",
         id="urlquery"),
]

PRINTF = [
    case('{{ printf "%d|%s|%v|%q|%.2f|%5.1f|%-6.1f|%e|%g|%x" $value $value $value $value $value '
         '$value $value $value $value 255 }}',
         "%!d(float64=0.1234)|%!s(float64=0.1234)|0.1234|%!q(float64=0.1234)|0.12|  0.1|0.1   |"
         "1.234000e-01|0.1234|ff", 0.1234, id="verbs on a float"),
    case('{{ printf "%s %d" }}|{{ printf "%s" "a" "b" 3 }}|{{ printf "%" }}|{{ printf "%z" 3 }}',
         "%!s(MISSING) %!d(MISSING)|a%!(EXTRA string=b, int=3)|%!(NOVERB)|%!z(int=3)",
         id="missing extra and bad verbs"),
    case('{{ printf "%v|%s|%d" $labels $labels $labels }}',
         "map[instance:host.example:9100 job:node]|map[instance:host.example:9100 job:node]|"
         "map[%!d(string=instance):%!d(string=host.example:9100) %!d(string=job):%!d(string=node)]",
         id="map with verbs"),
    case('{{ printf "%6.2v|%x|%X|%q|%5s|%-5s|%.2s" 3.14159 "hi" "hi" "héllo\\n" "ab" "ab" "abcdef" }}',
         '   3.1|6869|6869|"héllo\\n"|   ab|ab   |ab', id="string verbs"),
    case('{{ printf "%05d|%+.1f|% d|%t|%c|%U|%o|%b|%08.3f|%E|%G|%d|%x|%+d|%-5d|%5.1e" 42 3.14159 5 '
         'true 65 65 8 5 -3.14159 1234.5678 1e-7 3 -255 5 7 12345.678 }}',
         "00042|+3.1| 5|true|A|U+0041|10|101|-003.142|1.234568E+03|1E-07|3|-ff|+5|7    |1.2e+04",
         id="numeric flags"),
    case('{{ printf "%08.3f|%+v|% .2f|%#x|%#o|%O|%.3d|%6.3d|%-6d|%06d" -1.5 3.0 3.0 255 8 8 7 7 -7 '
         '-7 }}', "-001.500|3| 3.00|0xff|010|0o10|007|   007|-7    |-00007", id="more flags"),
    case('{{ printf "%T %T %T %T %T" 1 1.5 "a" $labels true }}|{{ printf "%5t|%-7v|" true false }}',
         "int float64 string map[string]string bool| true|false  |", id="types and bools"),
    case('{{ printf "%10.3e|%G|%v|%.1f|%05s|%-05d|%x" 1234.5 1e-10 1e100 0.05 "ab" 3 -1 }}',
         " 1.234e+03|1E-10|1e+100|0.1|000ab|3    |-1", id="widths and zero padding"),
    case('{{ printf "%.0f" 2.5 }}|{{ printf "%.0f" 3.5 }}|{{ printf "%.2f" 1.005 }}|'
         '{{ printf "%g" 100000.0 }}|{{ printf "%g" 1e6 }}|{{ printf "%.3g" 1234.0 }}',
         "2|4|1.00|100000|1e+06|1.23e+03", id="rounding like Go"),
    case('{{ printf "%v|%.2f|%+.1e|%8.3g|% v|%+f|%08.2f|%-6v" $value $value $value $value $value '
         '$value $value $value }}', "NaN|NaN|+NaN|     NaN| NaN|+NaN|     NaN|NaN   ", math.nan,
         id="NaN flags"),
    case('{{ printf "%v|% v|%08.2f" $value $value $value }}', "+Inf| Inf|    +Inf", math.inf,
         id="Inf flags"),
    case('{{ printf "%v %d %q" nil nil 65 }}|{{ printf "%d" (safeHtml "x") }}',
         "<nil> %!d(<nil>) 'A'|%!d(template.HTML=x)", id="nil and named string type"),
    case('{{ printf "%.1f" (humanize $value) }}|{{ printf "%5d" "x" }}|{{ printf "%+d" 0.5 }}',
         "%!f(string=2)|%!d(string=    x)|%!d(float64=+0.5)", 2.5,
         id="a wrong verb still applies its flags to the value"),
    case('{{ printf "%#v|%#v|%#v|%#v|%#v" "héllo" 2.5 1 true $labels }}',
         '"héllo"|2.5|1|true|map[string]string{"instance":"host.example:9100", "job":"node"}',
         id="go syntax"),
    case('{{ printf "%x|%X|%.3x|%b|%x|%b" 2.5 2.5 0.1 2.5 0.0 -0.0025 }}',
         "0x1.4p+01|0X1.4P+01|0x1.99ap-04|5629499534213120p-51|0x0p+00|-5764607523034235p-61",
         id="hex and binary floats"),
    case('{{ printf "%#g|%#.3g|%#v|%#e|%#.0f|%#x" 2.5 1e-9 2.5 2.5 3.0 2.5 }}',
         "2.50000|1.00e-09|2.5|2.500000e+00|3.|0x1.4000p+01", id="sharp flag on floats"),
    case('{{ printf "%U|%#U|%.6U|%U" 65 65 65 -42 }}',
         "U+0041|U+0041 'A'|U+000041|U+FFFFFFFFFFFFFFD6", id="unicode verb"),
    case('{{ printf "%+q|%#q|%#q|%+q" "héllo" "a b" "a`b" 233 }}',
         "\"h\\u00e9llo\"|`a b`|\"a`b\"|'\\u00e9'", id="quote flags"),
    case('{{ printf "% x|%#x|%# x|%.3x|%08.3x|%X" "abc" "abc" "abc" "héllo" "héllo" "hi" }}',
         "61 62 63|0x616263|0x61 0x62 0x63|68c3a9|0068c3a9|6869", id="hex strings"),
    case('{{ printf "%#08x|%0#12b|%#.6o|%08d|%-08d|" 255 1 -42 -42 -42 }}',
         "0x000000ff|0b000000000001|-000052|-0000042|-42     |",
         id="zero padding ignores the 0x prefix like Go"),
]

PROMETHEUS_FUNCTIONS = [
    case("{{ humanize $value }}|{{ humanize1024 $value }}", "1.235M|1.177Mi", 1234567.0,
         id="humanize big"),
    case("{{ humanize 0.000123 }}|{{ humanize -1234 }}|{{ humanize 0 }}|{{ humanize 0.5 }}|"
         "{{ humanize 999.99999 }}|{{ humanize 12345 }}|{{ humanize 999999 }}|{{ humanize -0.001 }}",
         "123u|-1.234k|0|500m|1000|12.35k|1000k|-1m", id="humanize prefixes and rounding"),
    case("{{ humanize 1e30 }}|{{ humanize 1e-30 }}|{{ humanize 1e24 }}|{{ humanize \"1234\" }}|"
         "{{ humanize \"1_000\" }}", "1e+06Y|1e-06y|1Y|1.234k|1k", id="humanize extremes and strings"),
    case("{{ humanize1024 1 }}|{{ humanize1024 1024 }}|{{ humanize1024 -2048 }}|{{ humanize1024 0.5 }}"
         "|{{ humanize1024 1023 }}|{{ humanize1024 1025 }}|{{ humanize1024 1e30 }}",
         "1|1ki|-2ki|0.5|1023|1.001ki|8.272e+05Yi", id="humanize1024"),
    case("{{ humanizeDuration 90 }}|{{ humanizeDuration 0.001234 }}|{{ humanizeDuration -90 }}|"
         "{{ humanizeDuration 172805 }}|{{ humanizeDuration 59.999 }}|{{ humanizeDuration 0 }}|"
         "{{ humanizeDuration 3600 }}|{{ humanizeDuration -0.5 }}|{{ humanizeDuration 1.23456 }}|"
         "{{ humanizeDuration 1e-12 }}|{{ humanizeDuration 86399.9 }}",
         "1m 30s|1.234ms|-1m 30s|2d 0h 0m 5s|60s|0s|1h 0m 0s|-500ms|1.235s|1ps|23h 59m 59s",
         id="humanizeDuration"),
    case("{{ humanizeDuration $value }}", "-106751991167300d -15h -30m -8s", 1e21,
         id="humanizeDuration wraps past int64 like Go on amd64"),
    case("{{ humanizePercentage 0.1234 }}|{{ humanizePercentage 1 }}|{{ humanizePercentage \"0.5\" }}"
         "|{{ humanizePercentage $value }}", "12.34%|100%|50%|NaN%", math.nan,
         id="humanizePercentage"),
    case("{{ humanizeTimestamp 1.5 }}|{{ humanizeTimestamp 1700000000 }}|{{ humanizeTimestamp -1.5 }}"
         "|{{ humanizeTimestamp 0 }}|{{ humanizeTimestamp 1.0001 }}|"
         "{{ humanizeTimestamp \"1700000000.123\" }}|{{ humanizeTimestamp 9.2e9 }}",
         "1970-01-01 00:00:01.5 +0000 UTC|2023-11-14 22:13:20 +0000 UTC|1969-12-31 23:59:58.5 +0000 "
         "UTC|1970-01-01 00:00:00 +0000 UTC|1970-01-01 00:00:01 +0000 UTC|2023-11-14 22:13:20.122 "
         "+0000 UTC|2261-07-15 11:33:20 +0000 UTC", id="humanizeTimestamp truncates to ms"),
    case("{{ humanize \"Inf\" }}|{{ humanize \"-infinity\" }}|{{ humanize \"nan\" }}|"
         "{{ humanize \"0x1p3\" }}", "+Inf|-Inf|NaN|8", id="humanize parses Go float strings"),
    case("{{ title \"hello wORLD foo_bar x-y 3rd ß o'neil élan a.b\" }}|{{ toUpper \"straße ǆ\" }}|"
         "{{ toLower \"ÀB İ\" }}", "Hello WORLD Foo_bar X-Y 3rd ß O'Neil Élan A.B|STRAßE Ǆ|àb i",
         id="title toUpper toLower"),
    case("{{ stripPort \"host:80\" }}|{{ stripPort \"[::1]:80\" }}|{{ stripPort \"host\" }}|"
         "{{ stripPort \"a:b:c\" }}|{{ stripPort \"[::1]\" }}|{{ stripPort \"host:\" }}|"
         "{{ stripPort \"::1\" }}", "host|::1|host|a:b:c|[::1]|host|::1", id="stripPort"),
    case("{{ safeHtml \"<b>\" }}|{{ html (safeHtml \"<b>\") }}|{{ eq (safeHtml \"x\") \"x\" }}",
         "<b>|&lt;b&gt;|true", id="safeHtml"),
    case("{{ parseDuration \"1h30m\" }}|{{ parseDuration \"1d\" }}|{{ parseDuration \"1h30m15s500ms\" }}"
         "|{{ parseDuration \"0\" }}", "5400|86400|5415.5|0", id="parseDuration"),
    case("{{ externalURL }}|{{ pathPrefix }}", f"{URL}|/prom", id="externalURL and pathPrefix"),
]

REGEX = [
    case('{{ reReplaceAll "(.*):(\\\\d+)" "$1 port $2 ${1}x $1x $$ $ $3" $labels.instance }}',
         "host.example port 9100 host.examplex  $ $ ", id="replacement template like Go"),
    case('{{ reReplaceAll "(?P<host>[^:]+):(?P<port>\\\\d+)" "${port}@$host" $labels.instance }}',
         "9100@host.example", id="named groups"),
    case('{{ reReplaceAll "x*" "-" "abxd" }}|{{ reReplaceAll "a|" "X" "baac" }}',
         "-a-b-d-|XbXXcX", id="empty matches after a match are not replaced"),
    case('{{ reReplaceAll "^" ">" "ab" }}|{{ reReplaceAll "$" "<" "ab" }}|'
         '{{ reReplaceAll "\\\\." "_" "a.b.c" }}|{{ reReplaceAll "(a)(b)?" "[$2|$1]" "ac ab" }}',
         ">ab|ab<|a_b_c|[|a]c [b|a]", id="anchors escapes and unmatched groups"),
    case('{{ match "^host" $labels.instance }}|{{ match "(?i)HOST" $labels.instance }}|'
         '{{ match "node$" "node\\n" }}|{{ match "^\\\\d+$" "\\u0663" }}|'
         '{{ match "^[[:alpha:]]+$" "abc" }}', "true|true|false|false|true",
         id="match is unanchored RE2 with ASCII classes"),
    case('{{ reReplaceAll "a{,2}" "<$0>" "a{,2}aa" }}|{{ match "\\\\bé" "é" }}|'
         '{{ reReplaceAll "\\\\bfoo\\\\b" "F" "foo food foo" }}|'
         '{{ reReplaceAll "\\\\z" "!" "ab\\n" }}|{{ reReplaceAll "a\\\\Q.*\\\\Eb" "X" "a.*b" }}',
         "<a{,2}>aa|false|F food F|ab\n!|X", id="RE2 literal braces ASCII word boundary and quoting"),
    case('{{ match "\\\\pL+" "é" }}|{{ if 1 }}{{ (reReplaceAll "(?U)a+" "x" "aaa") }}{{ end }}|'
         '{{ match "a(?i)b" "aB" }}', "true|xxx|true",
         id="Unicode classes, the U flag and flags after the start run on RE2"),
]


@pytest.mark.parametrize(
    "text, value, labels, expected",
    VALUES + CONTROL + WHITESPACE + BUILTINS + PRINTF + PROMETHEUS_FUNCTIONS + REGEX,
)
def test_renders_like_prometheus(text: str, value: float, labels: dict[str, str],
                                 expected: str) -> None:
    assert render(text, value, labels) == expected


EXEC_ERRORS = [
    ("{{ gt $value 2 }}", "error calling gt: incompatible types for comparison", "int vs float"),
    ('{{ eq "a" 1 }}', "error calling eq: incompatible types for comparison", "string vs int"),
    ("{{ lt true false }}", "error calling lt: invalid type for comparison", "bools not ordered"),
    ("{{ lt $value 50 }}", "incompatible types for comparison", "lt int literal"),
    ("{{ title 3 }}", "expected string; found 3", "literal of wrong type"),
    ("{{ $value | title }}", "wrong type for value; expected string; got float64", "piped float"),
    ("{{ .Nope }}", "can't evaluate field Nope in type struct { Labels map[string]string;",
     "unknown field of the data"),
    ("{{ $labels.job.foo }}", "can't evaluate field foo in type string", "field of a string"),
    ("{{ $value.foo }}", "can't evaluate field foo in type float64", "field of a float"),
    ('{{ .Labels.job "x" }}', "job is not a method but has arguments", "map key with arguments"),
    ("{{ printf }}", "wrong number of args for printf: want at least 1 got 0", "printf arity"),
    ("{{ humanize 1 2 }}", "wrong number of args for humanize: want 1 got 2", "humanize arity"),
    ("{{ humanize true }}", "error calling humanize: can't convert bool to float", "bool to float"),
    ('{{ humanize "abc" }}', 'strconv.ParseFloat: parsing "abc": invalid syntax', "bad string"),
    ('{{ humanize "1e400" }}', 'parsing "1e400": value out of range', "float out of range"),
    ("{{ humanizeTimestamp 1e10 }}",
     "1e+10 cannot be represented as a nanoseconds timestamp since it overflows int64", "overflow"),
    ('{{ reReplaceAll "(" "x" "y" }}', "error calling reReplaceAll: regexp: Compile(`(`): "
     "error parsing regexp:", "bad regexp in reReplaceAll"),
    ('{{ match "(" "x" }}', "error calling match: error parsing regexp: missing closing ): `(`",
     "bad regexp in match"),
    ('{{ reReplaceAll "[" "" "aa" }}', "error parsing regexp: missing closing ]: `[`",
     "unclosed class"),
    ('{{ match "a**" "aa" }}', "error parsing regexp: invalid nested repetition operator: `**`",
     "nested repetition"),
    ('{{ reReplaceAll "a++" "" "aa" }}', "invalid nested repetition operator: `++`",
     "possessive repeat is not RE2"),
    ('{{ reReplaceAll "(a)\\\\1" "" "aa" }}', "error parsing regexp: invalid escape sequence: `\\1`",
     "backreference"),
    ('{{ parseDuration "5 min" }}', 'not a valid duration string: "5 min"', "bad duration"),
    ("{{ index $labels 1 }}", "value has type int; should be string", "map index type"),
    ("{{ index $value 1 }}", "can't index item of type float64", "index a float"),
    ("{{ len nil }}", "error calling len", "len of nil"),
    ("{{ . | len }}", "len of type struct {", "len of the data"),
    ("{{ range 5 }}x{{ end }}", "range can't iterate over 5", "range over int"),
    ("{{ nil }}", "nil is not a command", "nil command"),
    ("{{ 1 2 }}", "can't give argument to non-function 1", "literal with arguments"),
    ("{{ $x = 1 }}", "undefined variable: $x", "assignment to undeclared variable"),
]


@pytest.mark.parametrize("text, message", [pytest.param(t, m, id=i) for t, m, i in EXEC_ERRORS])
def test_execution_errors_raise_like_go(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        render(text)
    assert message in error.value.message


def test_execution_error_points_at_the_failing_command() -> None:
    with pytest.raises(TemplateError) as error:
        render("ok\n  {{ gt $value 2 }}")
    assert (error.value.line, error.value.column) == (2, 6)
    assert "at <gt $value 2>" in str(error.value)


PARSE_ERRORS = [
    ("{{ foo }}", 1, 4, 'function "foo" not defined', "unknown function"),
    ("a\n  {{ nope 1 }}", 2, 6, 'function "nope" not defined', "position on a later line"),
    ('{{ tmpl "x" . }}', 1, 4, 'function "tmpl" not defined', "tmpl exists only in console templates"),
    ('{{ template "x" }}', 1, 4, "{{template}} is not supported", "template action"),
    ("{{ $x }}", 1, 4, 'undefined variable "$x"', "undeclared variable"),
    ("{{ if $x := 1 }}{{ end }}{{ $x }}", 1, 29, 'undefined variable "$x"', "variable scope"),
    ("{{ if }}", 1, 7, "missing value for if", "if without pipeline"),
    ("{{ end }}", 1, 4, "unexpected {{end}}", "stray end"),
    ("{{ else }}", 1, 4, "unexpected {{else}}", "stray else"),
    ("{{ if true }}", 1, 14, "unexpected EOF", "missing end"),
    ("{{ if 1 }}{{ else }}{{ else }}{{ end }}", 1, 24, "expected end; found {{else}}", "two elses"),
    ("{{ }}", 1, 4, "missing value for command", "empty action"),
    ("{{ 1 | 2 }}", 1, 10, "non executable command in pipeline stage 2", "literal stage"),
    ('{{ "a }}', 1, 4, "unterminated quoted string", "unterminated string"),
    ('{{ "a\nb" }}', 1, 4, "unterminated quoted string", "newline in string"),
    ('{{ "\\q" }}', 1, 4, "invalid syntax", "bad escape"),
    ("{{ 'ab' }}", 1, 4, "malformed character constant", "bad char"),
    ("{{ 3x }}", 1, 4, 'bad number syntax: "3x"', "bad number"),
    ("{{ 1e400 }}", 1, 4, "bad number syntax", "float literal overflow"),
    ("{{ (1 }}", 1, 5, "unclosed left paren", "unclosed paren"),
    ("{{ 1) }}", 1, 5, "unexpected right paren", "stray paren"),
    ("{{ break }}", 1, 4, "{{break}} outside {{range}}", "break outside range"),
    ("{{ range $a, $b, $c := . }}{{end}}", 1, 16, "too many declarations in range", "3 vars"),
    ("{{ $a, $b := 1 }}", 1, 6, "too many declarations in command", "2 vars outside range"),
    ("{{/* unclosed", 1, 1, "unclosed comment", "unclosed comment"),
    ("{{/* a */ }}", 1, 1, "comment ends before closing delimiter", "comment spacing"),
    ("x {{ 1 ", 1, 3, "unclosed action", "unclosed action"),
    ("{{ a!b }}", 1, 5, "bad character U+0021", "bad character"),
    ("{{ true.x }}", 1, 4, 'unexpected . after term "true"', "field of a literal"),
    ('{{ printf "%s"$x }}', 1, 15, 'unexpected "$x" in operand', "missing space"),
    ("{{ 1i }}", 1, 4, "complex number 1i is not supported", "complex constant"),
]


@pytest.mark.parametrize(
    "text, line, column, message", [pytest.param(*p[:4], id=p[4]) for p in PARSE_ERRORS]
)
def test_parse_errors_name_line_and_column(text: str, line: int, column: int, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        parse(text)
    assert message in error.value.message
    assert (error.value.line, error.value.column) == (line, column)
    assert str(error.value).startswith(f"{line}:{column}: ")


def test_template_error_is_a_value_error() -> None:
    assert issubclass(TemplateError, ValueError)


def test_expand_turns_execution_errors_into_prometheus_style_text() -> None:
    text = expand("{{ gt $value 10 }}", LABELS, 3.0)
    assert text.startswith("<error expanding template: ")
    assert text.endswith("error calling gt: incompatible types for comparison>")


def test_expand_turns_parse_errors_into_text() -> None:
    text = expand("{{ foo }}", LABELS, 3.0)
    assert text == '<error expanding template: error parsing template: 1:4: function "foo" not defined>'


def test_expand_renders_like_render() -> None:
    text = "{{ $labels.instance }} is at {{ $value | humanize }} in {{ $externalLabels.cluster }}"
    assert expand(text, LABELS, 1234567.0, EXTERNAL) == "host.example:9100 is at 1.235M in eu-1"


def test_defaults_for_external_labels_and_url_are_empty() -> None:
    assert parse("[{{ $externalLabels }}][{{ $externalURL }}]").render(LABELS, 1.0) == "[map[]][]"


def test_parse_is_cached_per_text() -> None:
    assert parse("{{ $value }} cached") is parse("{{ $value }} cached")


def test_template_renders_many_times_without_state() -> None:
    template = parse("{{ $x := 0 }}{{ range $k, $v := $labels }}{{ $x = $k }}{{ end }}{{ $x }}")
    assert [template.render(LABELS, 1.0), template.render({"a": "1"}, 2.0)] == ["job", "a"]


def test_parse_returns_a_template() -> None:
    assert isinstance(parse("x"), Template)


# ---- properties ----


@given(st.text().filter(lambda s: "{{" not in s))
def test_text_without_actions_renders_unchanged(text: str) -> None:
    assert render(text) == text


@given(st.floats(allow_nan=False, allow_infinity=False))
def test_value_prints_in_a_form_that_parses_back_exactly(value: float) -> None:
    assert float(render("{{ $value }}", value)) == value


_SI = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}


@given(st.floats(min_value=1, max_value=1e15, exclude_max=True))
def test_humanize_is_within_four_digit_rounding_of_the_value(value: float) -> None:
    match = re.fullmatch(r"([0-9.]+)([kMGT]?)", render("{{ humanize $value }}", value))
    assert match is not None
    back = float(match.group(1)) * _SI[match.group(2)]
    assert abs(back - value) <= 5e-4 * value * (1 + 1e-12)


@given(st.dictionaries(st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True),
                       st.text(max_size=5), max_size=6))
def test_range_visits_labels_in_sorted_key_order(labels: dict[str, str]) -> None:
    rendered = render("{{ range $k, $v := $labels }}{{ $k }},{{ end }}", 1.0, labels)
    assert rendered == "".join(f"{k}," for k in sorted(labels))
