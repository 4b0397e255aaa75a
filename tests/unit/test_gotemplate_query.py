"""`query` and the functions on its results, through a query function the caller passes in.

The renderer stays pure: it never talks to Prometheus, it calls what it is given. Expected
strings were read back from Prometheus 2.42 running the same PromQL as the fake vectors here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pytest

from slawatch.gotemplate import TemplateError, expand, parse


@dataclass(frozen=True)
class Series:
    labels: Mapping[str, str]
    value: float


VECTORS: dict[str, list[Series]] = {
    "one": [Series({}, 1.0)],
    "instance": [Series({"instance": "a"}, 2.0)],
    "strvalue": [Series({"__value__": "v"}, 2.0)],
    "three": [Series({"i": "b"}, 1.0), Series({"i": "a"}, 2.0), Series({"i": "c"}, 3.0)],
    "none": [],
    "seven": [Series({"j": "k"}, 7.0)],
}


def fake_query(expr: str) -> Sequence[Series]:
    if expr not in VECTORS:
        raise ValueError("1:4: parse error: unexpected end of input inside braces")
    return VECTORS[expr]


def render(text: str) -> str:
    return parse(text).render({"job": "node"}, 1.0, query=fake_query)


RENDERS = [
    ('{{ query "one" | first | value }}', "1", "value of the first sample"),
    ('{{ query "instance" | first | label "instance" }}|[{{ query "one" | first | label "nope" }}]', "a|[]",
     "label of a sample, empty when missing"),
    ('{{ query "strvalue" | first | strvalue }}', "v", "strvalue reads the __value__ label"),
    ('{{ range query "three" | sortByLabel "i" }}{{ .Labels.i }}:{{ .Value }} {{ end }}', "a:2 b:1 c:3 ",
     "sortByLabel sorts stably by a label"),
    ('{{ $r := query "three" }}{{ $s := sortByLabel "i" $r }}{{ range $r }}{{ .Value }}{{ end }}', "213",
     "sortByLabel sorts the result in place, as Go sorts the slice"),
    ('{{ with query "one" }}{{ len . }} {{ (index . 0).Value }}{{ end }}', "1 1", "len and index of a result"),
    ('{{ with query "none" }}some{{ else }}none{{ end }}', "none", "an empty result is false"),
    ('{{ $x := query "one" | first }}[{{ $x.Labels.foo }}]{{ $x.Value | humanize }}', "[]1",
     "fields of a sample through its pointer"),
    ('{{ first (query "seven") }}', "{map[j:k] 7}", "an action prints the sample a pointer points to"),
    ('{{ printf "%v|%+v|%T|%s" (query "one" | first) (query "one" | first) (query "one" | first) '
     '(query "one" | first) }}', "&{map[] 1}|&{Labels:map[] Value:1}|*template.sample|&{map[] %!s(float64=1)}",
     "printf of a *sample"),
    ('{{ printf "%T|%#v" (query "one") (query "one" | first) }}',
     "template.queryResult|&template.sample{Labels:map[string]string{}, Value:1}", "Go types and syntax"),
    ('{{ slice (query "three") 1 | len }}', "2", "slice of a result"),
]


@pytest.mark.parametrize("text, expected", [pytest.param(*r[:2], id=r[2]) for r in RENDERS])
def test_query_results_render_like_prometheus(text: str, expected: str) -> None:
    assert render(text) == expected


ERRORS = [
    ('{{ query "none" | first }}', "error calling first: first() called on vector with no elements", "first of none"),
    ("{{ first nil }}", "error calling first: first() called on vector with no elements", "first of nil"),
    ('{{ query "up{" }}', "error calling query: 1:4: parse error: unexpected end of input inside braces",
     "the query function's error"),
    ("{{ first 1 }}", "can't handle 1 for arg of type template.queryResult", "first of a constant"),
    ("{{ first $labels }}", "wrong type for value; expected template.queryResult; got map[string]string",
     "first of a map"),
    ("{{ value 1 }}", "can't handle 1 for arg of type *template.sample", "value of a constant"),
    ('{{ value (query "one") }}', "wrong type for value; expected *template.sample; got template.queryResult",
     "value of a whole result"),
    ('{{ label "a" nil }}', "error calling label: runtime error: invalid memory address or nil pointer dereference",
     "label of nil"),
    ('{{ sortByLabel "x" $labels }}', "wrong type for value; expected template.queryResult; got map[string]string",
     "sortByLabel of a map"),
    ('{{ (query "one" | first).Nope }}', "can't evaluate field Nope in type *template.sample", "an unknown field"),
    ('{{ len (query "one" | first) }}', "error calling len: len of type template.sample", "len of a sample"),
    ('{{ index (query "one") 1 }}', "error calling index: reflect: slice index out of range", "index past the end"),
]


@pytest.mark.parametrize("text, message", [pytest.param(*e[:2], id=e[2]) for e in ERRORS])
def test_query_errors_read_like_prometheus(text: str, message: str) -> None:
    with pytest.raises(TemplateError) as error:
        render(text)
    assert error.value.message.endswith(message)


def test_the_query_function_gets_the_expression_as_written() -> None:
    seen: list[str] = []
    expand('{{ query "sum(up{job=\\"node\\"})" }}', {}, 1.0, query=lambda e: seen.append(e) or [])
    assert seen == ['sum(up{job="node"})']


def test_without_a_query_function_query_fails_like_a_function_error() -> None:
    text = expand('{{ query "up" | first | value }}', {}, 1.0)
    assert text.endswith("error calling query: slawatch renders this template without a query function>")
