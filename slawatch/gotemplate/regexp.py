r"""Go regular expressions for `match` and `reReplaceAll`, run on RE2 as Prometheus runs them.

Prometheus' `match` is Go's regexp.MatchString and `reReplaceAll` is
regexp.MustCompile(pattern).ReplaceAllString(text, repl): unanchored, leftmost-first, and
linear in the length of the text. Python's `re` backtracks (`(a+)+$` against a
30-character label value takes minutes and holds the GIL), so patterns run on RE2 itself,
through the google-re2 package. RE2 and Go's regexp/syntax are one dialect; this module
adds only where they part:

- Go rejects `\C` (RE2's any-byte) and capture names outside `[A-Za-z0-9_]`, which RE2
  accepts, and Go's named-capture and flag-group parsing words its errors its own way;
- RE2's error texts (`missing )`) become Go's (`missing closing )`), so a message reads
  like the one Prometheus prints;
- replacement follows Go's Regexp.Expand (`$1`, `${name}`, `$$`; `$1x` names the group
  `1x`), and an empty match right after a match is not replaced.

Matching runs on the UTF-8 bytes of the text, as Go's does. Named captures follow Go 1.22
and later (as current Prometheus releases are built), which accepts `(?<name>...)` besides
`(?P<name>...)`. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from typing import Any

import re2

from slawatch.gotemplate.printing import can_backquote, go_quote
from slawatch.gotemplate.values import CallError

__all__ = ["PatternError", "Regexp", "compile_go", "match_string", "replace_all_string"]

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # errors are returned as values; RE2 must not write to stderr
_OPTIONS.max_mem = 32 << 20  # room for the large patterns Go also compiles (default: 8 MiB)

_CAPTURE_NAME = re.compile(r"[A-Za-z0-9_]+")

# RE2's error codes -> Go's regexp/syntax ErrorCode texts, longest first for prefix matching.
_RE2_TO_GO = sorted({
    "invalid escape sequence": "invalid escape sequence",
    "invalid character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "missing ]": "missing closing ]",
    "missing )": "missing closing )",
    "unexpected )": "unexpected )",
    "trailing \\": "trailing backslash at end of expression",
    "no argument for repetition operator": "missing argument to repetition operator",
    "invalid repetition size": "invalid repeat count",
    "bad repetition operator": "invalid nested repetition operator",
    "invalid perl operator": "invalid or unsupported Perl syntax",
    "invalid UTF-8": "invalid UTF-8",
    "invalid named capture group": "invalid named capture",
    "pattern too large - compile failed": "expression too large",
}.items(), key=lambda item: -len(item[0]))


class PatternError(ValueError):
    """A pattern Go's regexp.Compile rejects; str() is Go's error (`error parsing regexp: ...`)."""


def _error(code: str, expr: str) -> PatternError:
    return PatternError(f"error parsing regexp: {code}: `{expr}`")


@dataclass(frozen=True, slots=True)
class Regexp:
    """A compiled pattern and its capture names by group index (index 0, the match, is "")."""

    pattern: str
    program: Any  # re2's compiled pattern
    names: tuple[str, ...]


def _group_head(pattern: str, i: int, names: list[str]) -> int:
    """Read `(?...` at `i` like Go's parsePerlFlags; record a capture name; return the end."""
    t = pattern[i:]
    with_p = len(t) > 4 and t[2] == "P" and t[3] == "<"
    if with_p or (len(t) > 3 and t[2] == "<"):
        end = t.find(">")  # Go takes the first `>` anywhere after the head
        if end < 0:
            raise _error("invalid named capture", t)
        if not _CAPTURE_NAME.fullmatch(t[4 if with_p else 3 : end]):
            raise _error("invalid named capture", t[: end + 1])
        names.append(t[4 if with_p else 3 : end])
        return i + end + 1
    j, negated, saw_flag = 2, False, False
    while j < len(t):
        c = t[j]
        j += 1
        if c in "imsU":
            saw_flag = True
        elif c == "-" and not negated:
            negated, saw_flag = True, False
        elif c in ":)" and (saw_flag or not negated):
            return i + j
        else:
            break
    raise _error("invalid or unsupported Perl syntax", t[:j])


def _go_syntax(pattern: str) -> tuple[str, ...]:
    """Apply Go's rules that RE2 lacks; return the capture names by group index."""
    names, i, in_class = [""], 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            if pattern.startswith("\\C", i):
                raise _error("invalid escape sequence", "\\C")
            if pattern.startswith("\\Q", i) and not in_class:  # literal text up to \E
                end = pattern.find("\\E", i + 2)
                i = len(pattern) if end < 0 else end + 2
            else:
                i += 2
        elif in_class:
            named = pattern.find(":]", i + 2) if pattern.startswith("[:", i) else -1
            in_class = c != "]" or named >= 0
            i = named + 2 if named >= 0 else i + 1
        elif c == "[":
            in_class, i = True, i + 1
            i += pattern.startswith("^", i)
            i += pattern.startswith("]", i)  # a leading `]` is a literal
        elif c == "(" and pattern.startswith("(?", i):
            i = _group_head(pattern, i, names)
        else:
            if c == "(":
                names.append("")
            i += 1
    return tuple(names)


def _go_error(message: str, pattern: str) -> PatternError:
    """RE2's `code: fragment` as Go's `error parsing regexp: code: `fragment``."""
    for code, go_code in _RE2_TO_GO:
        if message.startswith(code):
            fragment = message[len(code) + 2 :] if len(message) > len(code) else ""
            if go_code == "expression too large":
                fragment = pattern
            return _error(go_code, fragment)
    return PatternError(f"error parsing regexp: {message}")


@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> Regexp | PatternError:
    try:
        names = _go_syntax(pattern)
        pattern.encode("utf-8")
    except PatternError as exc:
        return exc
    except UnicodeEncodeError:
        return _error("invalid UTF-8", pattern.encode("utf-8", "replace").decode())
    try:
        program = re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        raw = exc.args[0] if exc.args else b""
        message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        return _go_error(message, pattern)
    return Regexp(pattern, program, names)


def compile_go(pattern: str) -> Regexp:
    """Go's regexp.Compile; raises PatternError with Go's message."""
    result = _compile(pattern)
    if isinstance(result, PatternError):
        raise PatternError(str(result))
    return result


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def match_string(pattern: str, text: str) -> bool:
    """Go's regexp.MatchString: is there a match anywhere in `text`?"""
    try:
        regex = compile_go(pattern)
    except PatternError as exc:
        raise CallError(str(exc)) from None
    return regex.program.search(_utf8(text)) is not None


def _extract(template: str) -> tuple[str, int, str] | None:
    """Go's extract: the name after a `$`, as `name` or `{name}`; its number or -1; the rest."""
    brace = template.startswith("{")
    body = template[1:] if brace else template
    end = 0
    while end < len(body) and (body[end] == "_" or body[end].isalpha() or body[end].isdecimal()):
        end += 1
    if end == 0 or (brace and body[end : end + 1] != "}"):
        return None
    name = body[:end]
    plain = name.isascii() and name.isdigit() and len(name) < 10 and not (len(name) > 1 and name[0] == "0")
    return name, int(name) if plain else -1, body[end + brace :]


def _expand(regex: Regexp, template: str, src: bytes, match: Any) -> bytes:
    """Go's Regexp.Expand; a group that does not exist or did not take part is empty."""
    out: list[bytes] = []
    while (dollar := template.find("$")) >= 0:
        out.append(_utf8(template[:dollar]))
        template = template[dollar + 1 :]
        if template.startswith("$"):
            out.append(b"$")
            template = template[1:]
            continue
        ref = _extract(template)
        if ref is None:  # malformed: the `$` is text
            out.append(b"$")
            continue
        name, number, template = ref
        if number >= 0:
            group = number if number < len(regex.names) else None
        else:
            group = next((i for i, n in enumerate(regex.names) if n == name and match.span(i)[0] >= 0),
                         None)
        if group is not None and (span := match.span(group))[0] >= 0:
            out.append(src[span[0] : span[1]])
    out.append(_utf8(template))
    return b"".join(out)


def _rune_width(src: bytes, pos: int) -> int:
    """Bytes in the UTF-8 sequence at `pos` (0 at the end), as Go's DecodeRuneInString."""
    if pos >= len(src):
        return 0
    lead = src[pos]
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def replace_all_string(pattern: str, replacement: str, text: str) -> str:
    """Go's MustCompile(pattern).ReplaceAllString(text, replacement), panic text included."""
    try:
        regex = compile_go(pattern)
    except PatternError as exc:
        quoted = f"`{pattern}`" if can_backquote(pattern) else go_quote(pattern)
        raise CallError(f"regexp: Compile({quoted}): {exc}") from None
    src, out = _utf8(text), []
    literal = None if "$" in replacement else _utf8(replacement)
    last_end = search = 0
    while search <= len(src) and (match := regex.program.search(src, search)) is not None:
        start, end = match.span()
        out.append(src[last_end:start])
        if end > last_end or start == 0:  # not an empty match right after the previous one
            out.append(literal if literal is not None else _expand(regex, replacement, src, match))
        last_end = end
        width = _rune_width(src, search)
        search = search + width if search + width > end else search + 1 if search + 1 > end else end
    out.append(src[last_end:])
    return b"".join(out).decode("utf-8", "replace")
