"""Alertmanager label matchers: `team="db"`, `severity=~"crit.*"`, `env!="dev"`, `job!~"x|y"`.

The syntax is amtool's (Alertmanager's classic matcher parser), so what users type at
`amtool alert query` works here unchanged:

- a matcher is NAME OP VALUE with OP one of `=`, `!=`, `=~`, `!~`, spaces allowed around OP;
- VALUE is double-quoted (`\\"`, `\\\\` and `\\n` are escapes, any other backslash is kept
  as written, so `=~"\\d+"` is the regex `\\d+`) or unquoted (the rest, trimmed);
- one text may hold a list, `{team="db", severity="critical"}` or `team=db,env=prod`:
  commas inside quotes belong to the value, so quote a value that has one;
- NAME is a Prometheus label name, or any text in double quotes (UTF-8 label names).

Semantics are Alertmanager's: a label that is absent has the value "" (so `env=""`
matches a label set without `env`, and `env!=""` requires one); regexes are fully
anchored (`^(?:VALUE)$`). Regexes run on RE2 (linear time, Go's syntax) when the `re2`
module (PyPI `google-re2`) is installed, else on Python's `re` with `fullmatch`.

Pure: parse text into typed `Matcher` values, and match label sets. Used by the CLI's
filters; general enough for anything that selects alerts or tickets by label.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping, Sequence

try:  # RE2, as Alertmanager and Prometheus use: linear time whatever the pattern
    import re2

    _RE2_OPTIONS = re2.Options()
    _RE2_OPTIONS.log_errors = False  # the error is raised; RE2's own log would clutter stderr
    REGEX_ENGINE = "re2"
except ImportError:  # pragma: no cover - depends on the environment
    re2 = None
    REGEX_ENGINE = "re"

__all__ = [
    "REGEX_ENGINE", "MatchType", "Matcher", "MatcherError", "matches", "parse_matcher", "parse_matchers",
]

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_OPERATORS = ("=~", "!~", "!=", "=")  # two-character operators first


class MatchType(enum.StrEnum):
    EQUAL = "="
    NOT_EQUAL = "!="
    REGEX = "=~"
    NOT_REGEX = "!~"


class MatcherError(ValueError):
    """A matcher that does not parse, or whose regex does not compile; names the matcher."""

    def __init__(self, matcher: str, reason: str) -> None:
        self.matcher, self.reason = matcher, reason
        super().__init__(f"bad matcher '{matcher}': {reason}")


@dataclass(frozen=True)
class Matcher:
    """One label matcher. Constructing it compiles a regex (MatcherError if it is invalid)."""

    name: str
    type: MatchType
    value: str
    _pattern: Any = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "type", MatchType(self.type))
        if self.type in (MatchType.REGEX, MatchType.NOT_REGEX):
            try:
                pattern = _compile(f"(?:{self.value})")  # anchored by fullmatch, as ^(?:VALUE)$
            except Exception as exc:  # re.error and re2.error share no base but Exception
                reason = _reason(exc).replace(f"(?:{self.value})", self.value)
                raise MatcherError(str(self), f"invalid regular expression: {reason}") from None
            object.__setattr__(self, "_pattern", pattern)

    def matches(self, value: str) -> bool:
        """Whether a label's value (\"\" for an absent label) satisfies this matcher."""
        if self.type is MatchType.EQUAL:
            return value == self.value
        if self.type is MatchType.NOT_EQUAL:
            return value != self.value
        found = self._pattern.fullmatch(value) is not None
        return found if self.type is MatchType.REGEX else not found

    def __str__(self) -> str:
        """The matcher in the syntax it parses from: `name="value"`."""
        name = self.name if _NAME.fullmatch(self.name) else _quote(self.name)
        return f"{name}{self.type.value}{_quote(self.value)}"


def matches(matchers: Iterable[Matcher], labels: Mapping[str, str]) -> bool:
    """Whether a label set satisfies every matcher (an empty list matches everything)."""
    return all(m.matches(labels.get(m.name, "")) for m in matchers)


def parse_matchers(texts: Sequence[str], *, bare_alertname: bool = False) -> list[Matcher]:
    """Every matcher in `texts`, each a matcher or a `{...}`/comma-separated list of them.

    With `bare_alertname`, a first text that is a plain word (`ServiceDown`) means
    `alertname="ServiceDown"`, as in `amtool alert query ServiceDown`.
    """
    out: list[Matcher] = []
    for index, text in enumerate(texts):
        if bare_alertname and index == 0 and _NAME.fullmatch(text.strip()):
            out.append(Matcher("alertname", MatchType.EQUAL, text.strip()))
            continue
        out.extend(parse_matcher(token) for token in _split(text))
    return out


def parse_matcher(text: str) -> Matcher:
    """One matcher, `NAME OP VALUE`; MatcherError names it and says what is wrong."""
    stripped = text.strip()
    if not stripped:
        raise MatcherError(text, "an empty matcher (expected e.g. team=\"db\")")
    name, rest = _parse_name(text, stripped)
    rest = rest.lstrip()
    op = next((o for o in _OPERATORS if rest.startswith(o)), None)
    if op is None:
        raise MatcherError(text, f"expected an operator (=, !=, =~, !~) after the label name {name!r}")
    try:
        return Matcher(name, MatchType(op), _parse_value(text, rest[len(op):].strip()))
    except MatcherError as exc:  # name the matcher as it was typed
        raise MatcherError(stripped, exc.reason) from None


def _split(text: str) -> list[str]:
    """Alertmanager's ParseMatchers: drop one pair of braces, split at commas outside quotes."""
    body = text.strip()
    if body.startswith("{"):
        if not body.endswith("}"):
            raise MatcherError(text, "missing closing '}'")
        body = body[1:-1]
        if not body.strip():
            return []
    tokens, token, quoted, escaped = [], [], False, False
    for c in body:
        if c == "," and not quoted:
            tokens.append("".join(token))
            token = []
            continue
        if c == '"' and not escaped:
            quoted = not quoted
        escaped = c == "\\" and not escaped
        token.append(c)
    tokens.append("".join(token))
    if len(tokens) > 1 and not tokens[-1].strip():
        tokens.pop()  # a trailing comma
    if len(tokens) > 1 and any(not t.strip() for t in tokens):
        raise MatcherError(text, "an empty matcher between commas")
    return tokens


def _parse_name(text: str, stripped: str) -> tuple[str, str]:
    if stripped.startswith('"'):
        end = _closing_quote(stripped)
        if end < 0:
            raise MatcherError(text, "missing closing double quote of the label name")
        return _unescape(stripped[1:end]), stripped[end + 1 :]
    found = _NAME.match(stripped)
    if found is None:
        raise MatcherError(text, "a matcher starts with a label name (letters, digits, _ and :, or in double quotes)")
    return found.group(), stripped[found.end() :]


def _parse_value(text: str, raw: str) -> str:
    """A quoted value is unescaped; an unquoted one is taken as written (no quote inside)."""
    if not raw.startswith('"'):
        if '"' in raw:
            raise MatcherError(text, "the value contains an unescaped double quote")
        return raw
    end = _closing_quote(raw)
    if end < 0:
        raise MatcherError(text, "missing closing double quote of the value")
    if end != len(raw) - 1:
        raise MatcherError(text, f"unexpected text after the closing quote: {raw[end + 1:]!r}")
    return _unescape(raw[1:end])


def _closing_quote(text: str) -> int:
    """The index of the quote closing the one at text[0], or -1."""
    escaped = False
    for i, c in enumerate(text[1:], start=1):
        if c == '"' and not escaped:
            return i
        escaped = c == "\\" and not escaped
    return -1


def _unescape(body: str) -> str:
    """`\\n`, `\\"` and `\\\\` are escapes; any other backslash stays, as Alertmanager keeps it."""
    out, i = [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", '"': '"', "\\": "\\"}.get(nxt, "\\" + nxt))
            i += 2
            continue
        out.append(c)
        i += 1
    return "".join(out)


def _compile(pattern: str) -> Any:
    return re2.compile(pattern, options=_RE2_OPTIONS) if re2 is not None else re.compile(pattern)


def _reason(exc: Exception) -> str:
    reason = exc.args[0] if exc.args else exc
    return reason.decode("utf-8", "replace") if isinstance(reason, bytes) else str(reason)


def _quote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
