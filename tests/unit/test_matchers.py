"""Alertmanager matchers: amtool's syntax, Alertmanager's semantics, clear errors."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slawatch.matchers import REGEX_ENGINE, Matcher, MatcherError, MatchType, matches, parse_matcher, parse_matchers

EQ, NE, RE, NRE = MatchType.EQUAL, MatchType.NOT_EQUAL, MatchType.REGEX, MatchType.NOT_REGEX


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('team="db"', ("team", EQ, "db")),
        ("team=db", ("team", EQ, "db")),
        ('  team  =  "db"  ', ("team", EQ, "db")),
        ('env!="dev"', ("env", NE, "dev")),
        ('severity=~"crit.*"', ("severity", RE, "crit.*")),
        ("severity=~crit.*", ("severity", RE, "crit.*")),
        ('job!~"a|b"', ("job", NRE, "a|b")),
        ('x=""', ("x", EQ, "")),
        ("x=", ("x", EQ, "")),
        (r'x="say \"hi\""', ("x", EQ, 'say "hi"')),
        (r'x="back\\slash"', ("x", EQ, "back\\slash")),
        (r'x="two\nlines"', ("x", EQ, "two\nlines")),
        (r'x=~"\d+"', ("x", RE, r"\d+")),  # a backslash that is no escape stays, as in Alertmanager
        ('x="a=b!=c"', ("x", EQ, "a=b!=c")),
        ('"service.name"="api"', ("service.name", EQ, "api")),
        ("a:b=c", ("a:b", EQ, "c")),
        ('x="数据库 🔥"', ("x", EQ, "数据库 🔥")),
    ],
)
def test_a_matcher_parses_to_name_type_and_value(text: str, expected: tuple[str, MatchType, str]) -> None:
    m = parse_matcher(text)
    assert (m.name, m.type, m.value) == expected


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('team=="db"', "unescaped double quote"),
        ("team", "expected an operator"),
        ('="db"', "starts with a label name"),
        ('1team="db"', "starts with a label name"),
        ('team="db', "missing closing double quote"),
        ('team="db"x', "unexpected text after the closing quote"),
        ('x=~"("', "invalid regular expression"),
        ('x!~"[a-"', "invalid regular expression"),
        ("", "empty matcher"),
    ],
)
def test_a_bad_matcher_is_refused_naming_it(text: str, reason: str) -> None:
    with pytest.raises(MatcherError) as caught:
        parse_matcher(text)
    assert reason in str(caught.value)
    assert f"'{text.strip()}'" in str(caught.value)


def test_a_list_in_braces_or_with_commas_is_several_matchers() -> None:
    assert parse_matchers(['{team="db", severity=~"crit.*"}']) == [
        Matcher("team", EQ, "db"), Matcher("severity", RE, "crit.*")
    ]
    assert parse_matchers(["team=db,env!=prod,"]) == [Matcher("team", EQ, "db"), Matcher("env", NE, "prod")]
    assert parse_matchers(['x="a,b"', "{}"]) == [Matcher("x", EQ, "a,b")]


def test_bad_lists_are_refused() -> None:
    with pytest.raises(MatcherError, match="missing closing"):
        parse_matchers(['{team="db"'])
    with pytest.raises(MatcherError, match="empty matcher between commas"):
        parse_matchers(["a=b,,c=d"])


def test_a_bare_first_word_is_the_alertname_as_in_amtool() -> None:
    assert parse_matchers(["ServiceDown", "team=db"], bare_alertname=True) == [
        Matcher("alertname", EQ, "ServiceDown"), Matcher("team", EQ, "db")
    ]
    with pytest.raises(MatcherError):
        parse_matchers(["team=db", "ServiceDown"], bare_alertname=True)
    with pytest.raises(MatcherError):
        parse_matchers(["ServiceDown"])


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        ('team="db"', {"team": "db"}, True),
        ('team="db"', {"team": "dba"}, False),
        ('team!="db"', {"team": "web"}, True),
        ('team!="db"', {}, True),
        ('team=""', {}, True),  # an absent label has the value ""
        ('team!=""', {}, False),
        ('team=~".*"', {}, True),
        ('team=~".+"', {}, False),
        ('severity=~"crit.*"', {"severity": "critical"}, True),
        ('severity=~"crit.*"', {"severity": "supercritical"}, False),  # anchored at the start
        ('severity=~"crit"', {"severity": "critical"}, False),  # and at the end
        ('severity=~"crit"', {"severity": "crit\n"}, False),  # `$` is the end of the text, as in Go
        ('job=~"a|b"', {"job": "ab"}, False),  # the alternation is grouped before anchoring
        ('job!~"a|b"', {"job": "c"}, True),
        ('job!~"a|b"', {"job": "a"}, False),
        ('x="数据库"', {"x": "数据库"}, True),
    ],
)
def test_matching_is_alertmanagers(matcher: str, labels: dict[str, str], expected: bool) -> None:
    assert matches([parse_matcher(matcher)], labels) is expected


def test_every_matcher_must_hold_and_none_matches_everything() -> None:
    both = parse_matchers(['team="db"', 'severity=~"crit.*"'])
    assert matches(both, {"team": "db", "severity": "critical"})
    assert not matches(both, {"team": "db", "severity": "warning"})
    assert matches([], {"anything": "x"})


def test_regexes_run_on_re2_when_it_is_installed() -> None:
    pytest.importorskip("re2")
    assert REGEX_ENGINE == "re2"
    with pytest.raises(MatcherError, match="invalid regular expression"):
        parse_matcher(r'x=~"(a)\1"')  # a backreference: Python's re has it, RE2 (like Go) refuses it


_label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True) | st.text(min_size=1, max_size=8)


@given(_label_names, st.sampled_from([EQ, NE]), st.text(max_size=20))
def test_a_matcher_printed_parses_back_to_itself(name: str, type_: MatchType, value: str) -> None:
    m = Matcher(name, type_, value)
    assert parse_matcher(str(m)) == m
    assert parse_matchers([str(m)]) == [m]
