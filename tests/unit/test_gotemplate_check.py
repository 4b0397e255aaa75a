"""Template.check finds what Go's parser accepts but every render fails on, with its place."""

from __future__ import annotations

import pytest

from slawatch.gotemplate import expand, parse

PROBLEMS = [
    ('{{ match "(" $labels.x }}', [(1, 10, "match: error parsing regexp: missing closing ): `(`")],
     "a constant pattern match cannot compile"),
    ('a\n {{ reReplaceAll "x**" "" "y" }}', [(2, 18, "reReplaceAll: error parsing regexp: "
                                                     "invalid nested repetition operator: `**`")],
     "a constant pattern reReplaceAll cannot compile, on a later line"),
    ('{{ "text" | match "[" }}', [(1, 19, "match: error parsing regexp: missing closing ]: `[`")],
     "the pattern of a piped match"),
    ('{{ if true }}{{ with $x := (match "\\\\C" "y") }}{{ end }}{{ end }}',
     [(1, 35, "match: error parsing regexp: invalid escape sequence: `\\C`")],
     "a pattern nested in a parenthesised pipeline inside control structures"),
    ('{{ match "(" "" }}{{ match "a)" "" }}', [(1, 10, "missing closing )"), (1, 28, "unexpected )")],
     "every bad pattern is reported"),
    ('{{ match $labels.pattern "x" }}', [], "a pattern from a variable is only known at render time"),
    ('{{ match "^(a+)+$" $labels.x }}', [], "a valid pattern is no problem"),
    ('{{ printf "(" }}', [], "a string that is no pattern is not checked"),
    ('{{ with query "up" }}{{ . | first | value }}{{ end }}',
     [(1, 9, 'function "query" needs a query function')], "query where the caller passes no query function"),
    ('{{ printf "%v" now }}', [(1, 16, 'function "now" needs the evaluation time')],
     "now as an argument, where the caller passes no evaluation time"),
]


@pytest.mark.parametrize("text, expected", [pytest.param(*p[:2], id=p[2]) for p in PROBLEMS])
def test_check_reports_certain_render_failures_with_line_and_column(
        text: str, expected: list[tuple[int, int, str]]) -> None:
    found = parse(text).check()
    assert [(p.line, p.column) for p in found] == [(line, column) for line, column, _ in expected]
    for problem, (_, _, message) in zip(found, expected):
        assert message in problem.message


def test_a_checked_problem_still_renders_as_prometheus_renders_it() -> None:
    """check() reports; it does not turn the execution error into a parse error."""
    text = expand('{{ match "(" "x" }}', {}, 1.0)
    assert text.startswith("<error expanding template: error executing template: ")
    assert text.endswith("error calling match: error parsing regexp: missing closing ): `(`>")


def test_check_accepts_query_and_now_when_the_caller_passes_them() -> None:
    template = parse('{{ query "up" | first | value }} {{ (now | toTime).Year }}')
    assert template.check(with_query=True, with_now=True) == ()
    assert [p.column for p in template.check(with_query=True)] == [38]
