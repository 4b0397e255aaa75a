"""Template regexps behave as Go's regexp package under Prometheus: RE2 syntax, linear time.

Every expected value was read back from Prometheus 2.42 (Go 1.19) with the same pattern in
an alert annotation, except the `(?<name>...)` rows, which follow Go 1.22 and later (the Go
that current Prometheus releases are built with).
"""

from __future__ import annotations

import time

import pytest

from slawatch.gotemplate.regexp import PatternError, compile_go, match_string, replace_all_string
from slawatch.gotemplate.values import CallError

MATCHES = [
    ("^b", "a\nb", False, "^ anchors at the start of the text only"),
    ("(?m)^b", "a\nb", True, "the m flag makes ^ match after a newline"),
    ("node$", "node\n", False, "$ is the end of the text, not before a final newline"),
    ("a.b", "a\nb", False, "dot does not match a newline"),
    ("(?s)a.b", "a\nb", True, "the s flag lets dot match a newline"),
    (r"\Aa\z", "a", True, r"\A and \z anchor the whole text"),
    ("[^a]", "\n", True, "a negated class matches a newline"),
    (r"\x{e9}", "é", True, r"\x{...} is a code point"),
    (r"\pL+", "é", True, "Unicode classes are supported"),
    (r"^\d+$", "\u0663", False, r"\d is ASCII only"),
    ("(?i)straße", "STRASSE", False, "case folding is simple, one rune to one rune"),
    ("(?i)k", "\u212a", True, "case folding includes the Kelvin sign"),
    ("a(?i)b", "aB", True, "flags may appear after the start of the pattern"),
    ("(?)a", "a", True, "an empty flag group is allowed"),
    ("(?-i:a)", "a", True, "a negated flag group is allowed"),
    ("host", "my-host-1", True, "match is unanchored"),
    ("(?<n>a)", "a", True, "(?<name>...) names a group (Go 1.22 and later)"),
]


@pytest.mark.parametrize("pattern, text, expected", [pytest.param(*m[:3], id=m[3]) for m in MATCHES])
def test_match_string_follows_go(pattern: str, text: str, expected: bool) -> None:
    assert match_string(pattern, text) is expected


REPLACEMENTS = [
    ("(.*):(\\d+)", "$1 port $2 ${1}x $1x $$ $ $3", "host:9100", "host port 9100 hostx  $ $ ",
     "$1x names the group 1x, $$ is a dollar, a lone $ is text, a missing group is empty"),
    ("(?P<x>l+)", "<${x}|$x|$1|${1}|$xx|${2}>", "hello", "he<ll|ll|ll|ll||>o",
     "named and numbered references"),
    ("(?P<a>x)|(?P<a>y)", "[$a]", "xy", "[x][y]",
     "a repeated name takes the first group of that name that matched"),
    ("(x)", "$1x|${1}x|$01|$\u0661|$", "x", "|xx|||$", "leading zeros and non-ASCII digits are names"),
    ("(x)", "${1", "x", "${1", "an unclosed brace is text"),
    ("", "-", "héllo", "-h-é-l-l-o-", "an empty pattern matches between runes, not bytes"),
    ("é*", "-", "héé", "-h-", "an empty match right after a match is not replaced"),
    ("x*", "-", "abxd", "-a-b-d-", "empty matches around a non-empty one"),
    ("a|", "X", "baac", "XbXXcX", "alternation with an empty branch"),
    ("a*?", "-", "baaac", "-b-a-a-a-c-", "a lazy star matches empty everywhere"),
    (r"\b", "|", "ab cd", "|ab| |cd|", r"\b is an ASCII word boundary"),
    (r"\B", ".", "ab cd", "a.b c.d", r"\B is the inside of an ASCII word"),
    ("(a)|b", "[$1]", "ab", "[a][]", "a group that did not take part is empty"),
    ("(?U)a+", "x", "aaa", "xxx", "the U flag makes repetition lazy"),
    (r"\p{Greek}+", "G", "abγδe", "abGe", "script classes"),
    ("a{,2}", "<$0>", "a{,2}aa", "<a{,2}>aa", "a brace that is no repetition is literal"),
    (r"a\Q.*\E", "X", "a.*b", "Xb", r"\Q...\E quotes"),
    ("(a+)+$", "x", "a" * 29 + "!", "a" * 29 + "!", "a nested repeat that cannot match"),
    ("(a|aa)+$", "x", "a" * 30, "x", "an ambiguous nested repeat that matches"),
]


@pytest.mark.parametrize("pattern, replacement, text, expected",
                         [pytest.param(*r[:4], id=r[4]) for r in REPLACEMENTS])
def test_replace_all_string_follows_go(pattern: str, replacement: str, text: str,
                                       expected: str) -> None:
    assert replace_all_string(pattern, replacement, text) == expected


REJECTED = [
    ("(", "missing closing ): `(`", "an unclosed group"),
    ("a)", "unexpected ): `a)`", "an unopened group"),
    ("[a", "missing closing ]: `[a`", "an unclosed class"),
    ("\\", "trailing backslash at end of expression: ``", "a trailing backslash"),
    ("*", "missing argument to repetition operator: `*`", "a repeat of nothing"),
    ("a**", "invalid nested repetition operator: `**`", "a repeated repeat"),
    ("a++", "invalid nested repetition operator: `++`", "a possessive repeat"),
    ("a{2}{3}", "invalid nested repetition operator: `{2}{3}`", "a repeated counted repeat"),
    ("x{1001}", "invalid repeat count: `{1001}`", "a count over 1000"),
    ("(x{2}){501}", "invalid repeat count: `{501}`", "nested counts over 1000 in total"),
    ("[z-a]", "invalid character class range: `z-a`", "a backwards range"),
    ("[[:foo:]]", "invalid character class range: `[:foo:]`", "an unknown POSIX class"),
    (r"\pX", r"invalid character class range: `\pX`", "an unknown Unicode class"),
    (r"\Z", r"invalid escape sequence: `\Z`", r"\Z, which Go does not have"),
    (r"(a)\1", r"invalid escape sequence: `\1`", "a backreference"),
    (r"\C", r"invalid escape sequence: `\C`", r"\C, which RE2 has and Go does not"),
    (r"[\C]", r"invalid escape sequence: `\C`", r"\C inside a class"),
    ("(?!a)", "invalid or unsupported Perl syntax: `(?!`", "a lookahead"),
    ("(?i-)", "invalid or unsupported Perl syntax: `(?i-)`", "a negation without flags"),
    ("(?P<", "invalid or unsupported Perl syntax: `(?P`", "a truncated named group"),
    ("(?P<é>a)", "invalid named capture: `(?P<é>`", "a non-ASCII group name, which RE2 accepts"),
    ("(?P<>a)", "invalid named capture: `(?P<>`", "an empty group name"),
    ("(?<=a)b", "invalid named capture: `(?<=a)b`", "a lookbehind reads as a bad name (Go 1.22)"),
]


@pytest.mark.parametrize("pattern, message", [pytest.param(*r[:2], id=r[2]) for r in REJECTED])
def test_patterns_go_rejects_are_rejected_with_gos_message(pattern: str, message: str) -> None:
    with pytest.raises(PatternError) as error:
        compile_go(pattern)
    assert str(error.value) == f"error parsing regexp: {message}"


def test_match_reports_a_bad_pattern_as_a_call_error() -> None:
    with pytest.raises(CallError, match=r"^error parsing regexp: missing closing \): `\(`$"):
        match_string("(", "x")


@pytest.mark.parametrize("pattern, quoted", [
    pytest.param("(", "`(`", id="the pattern is backquoted like Go's regexp.MustCompile panic"),
    pytest.param("(\t", "`(\t`", id="a tab still allows backquotes"),
    pytest.param("(`", '"(`"', id="a backquote makes it a double-quoted Go string"),
    pytest.param("(\n", '"(\\n"', id="a newline makes it a double-quoted Go string"),
])
def test_replace_all_reports_a_bad_pattern_like_must_compile(pattern: str, quoted: str) -> None:
    with pytest.raises(CallError) as error:
        replace_all_string(pattern, "", "x")
    assert str(error.value).startswith(f"regexp: Compile({quoted}): error parsing regexp: ")


def test_capture_names_are_listed_by_group_index() -> None:
    assert compile_go(r"(a)(?P<x>b)(?:c)(?<y>d)[(]\((e)").names == ("", "", "x", "y", "")


@pytest.mark.parametrize("function", [
    pytest.param(lambda text: match_string("(a+)+$", text), id="match"),
    pytest.param(lambda text: replace_all_string("(a+)+$", "x", text), id="reReplaceAll"),
    pytest.param(lambda text: replace_all_string("(a|a)*b", "x", text), id="reReplaceAll alternation"),
])
def test_catastrophic_patterns_run_in_linear_time(function) -> None:  # type: ignore[no-untyped-def]
    """`(a+)+$` against 30 characters is hours of backtracking; RE2 takes well under a second."""
    text = "a" * 29 + "!"
    started = time.perf_counter()
    for _ in range(10):
        function(text)
    assert time.perf_counter() - started < 1.0
    long_text = "a" * 100_000 + "!"
    started = time.perf_counter()
    function(long_text)
    assert time.perf_counter() - started < 2.0
