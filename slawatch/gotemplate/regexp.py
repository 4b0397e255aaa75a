"""Go (RE2) regular expressions on Python's `re`, for `match` and `reReplaceAll`.

Prometheus' regexp functions use Go's RE2 syntax and Go's replacement rules (`$1`, `${name}`,
no replacement of an empty match right after a match). This module rewrites RE2 patterns
where Python's `re` differs, rejects what `re` cannot express, and applies Go's
ReplaceAllString semantics. It depends only on `slawatch.gotemplate.values`, for Go's
quoting and the call-error type. Pure: no I/O, no clock.
"""

from __future__ import annotations

import functools
import re
import warnings

from slawatch.gotemplate.values import CallError, go_quote

__all__ = ["RegexSyntax", "RegexUnsupported", "match_string", "replace_all_string", "translate_regex"]

_PERL = {"d": "0-9", "s": "\\t\\n\\f\\r ", "w": "0-9A-Za-z_"}
_POSIX = {"alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7f", "blank": "\\t ",
          "cntrl": "\\x00-\\x1f\\x7f", "digit": "0-9", "graph": "!-~", "lower": "a-z",
          "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ", "upper": "A-Z",
          "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f"}


_WORD = "[0-9A-Za-z_]"
_ASCII_BOUNDARY = f"(?:(?<={_WORD})(?!{_WORD})|(?<!{_WORD})(?={_WORD}))"
_ASCII_INSIDE = f"(?:(?<={_WORD})(?={_WORD})|(?<!{_WORD})(?!{_WORD}))"
_REPEAT = re.compile(r"[*+?]|\{[0-9]+(?:,[0-9]*)?\}")


class RegexSyntax(ValueError):
    """RE2 syntax that Go rejects; the message is Go's."""


class RegexUnsupported(RegexSyntax):
    """Valid RE2 that Python's re cannot express; reported when the template is parsed."""


def translate_regex(pattern: str) -> str:
    r"""Rewrite RE2 syntax where Python's re differs, or raise RegexSyntax.

    Differences handled: `$` and `\z` mean end of text, `\d \s \w \b` are ASCII,
    POSIX classes, `\Q...\E`, `\x{...}`, `(?<name>`, a `{` that is no repeat is literal,
    and a repeat of a repeat (Python's possessive `a++`) is an error.
    """
    multiline = re.match(r"\(\?[a-zA-Z]*m", pattern) is not None
    out, i, in_class, repeated = [], 0, False, False
    while i < len(pattern):
        c, nxt = pattern[i], pattern[i + 1 : i + 2]
        rest, step, was_repeat = pattern[i:], 1, False
        if c == "\\" and nxt:
            step = 2
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                end = len(pattern) if end < 0 else end
                out.append(re.escape(pattern[i + 2 : end]))
                step = end + 2 - i
            elif nxt.lower() in _PERL and not (in_class and nxt.isupper()):
                cls = _PERL[nxt.lower()]
                out.append(cls if in_class else f"[{'^' if nxt.isupper() else ''}{cls}]")
            elif nxt in "bB" and not in_class:
                out.append(_ASCII_BOUNDARY if nxt == "b" else _ASCII_INSIDE)
            elif nxt in "123456789CZ":
                raise RegexSyntax(f"invalid escape sequence: `\\{nxt}`")
            elif nxt in "pP":
                raise RegexUnsupported(f"Unicode classes such as `{rest[:4]}` in regexps "
                                        "are not supported by slawatch")
            elif nxt == "z":
                out.append("\\Z")
            elif (m := re.match(r"\\x\{([0-9a-fA-F]{1,6})\}", rest)) is not None:
                out.append(re.escape(chr(int(m.group(1), 16))))
                step = m.end()
            else:
                out.append(rest[:2])
        elif in_class:
            posix = re.match(r"\[:(\w+):\]", rest)
            if posix and posix.group(1) in _POSIX:
                out.append(_POSIX[posix.group(1)])
                step = posix.end()
            else:
                in_class = c != "]"
                out.append("\\[" if c == "[" else c)
        elif c == "[":
            in_class = True
            head = re.match(r"\[\^?\]?", rest).group()  # type: ignore[union-attr]
            out.append(head[:-1] + "\\]" if head.endswith("]") else head)
            step = len(head)
        elif (repeat := _REPEAT.match(rest)) is not None:
            if repeated:
                raise RegexSyntax(f"invalid nested repetition operator: `{out[-1]}{repeat.group()}`")
            step, was_repeat = repeat.end(), True
            if rest[step : step + 1] == "?":  # lazy marker belongs to this repeat
                step += 1
            out.append(rest[:step])
        elif c == "{":
            out.append("\\{")
        elif c == "$" and not multiline:
            out.append("\\Z")
        elif c == "(" and nxt == "?":
            if re.match(r"\(\?[a-zA-Z-]*U", rest):
                raise RegexUnsupported("the regexp flag U is not supported by slawatch")
            if i > 0 and (flags := re.match(r"\(\?[a-zA-Z-]+\)", rest)):
                raise RegexUnsupported(f"regexp flags `{flags.group()}` after the start of a "
                                        "pattern are not supported by slawatch; move them first")
            if re.match(r"\(\?(?:[=!#]|<[=!]|P=|>)", rest):
                raise RegexSyntax(f"invalid or unsupported Perl syntax: `{rest[:3]}`")
            named = rest.startswith("(?<")
            out.append("(?P<" if named else c)
            step = 3 if named else 1
        else:
            out.append(c)
        repeated = was_repeat
        i += step
    return "".join(out)


# Python's wording of common regexp errors -> Go's regexp/syntax error codes.
_RE_ERRORS = {"missing ), unterminated subpattern": "missing closing )",
              "unbalanced parenthesis": "unexpected )",
              "unterminated character set": "missing closing ]",
              "nothing to repeat": "missing argument to repetition operator",
              "multiple repeat": "invalid nested repetition operator",
              "bad escape": "invalid escape sequence", "bad character range": "invalid character class range"}


@functools.lru_cache(maxsize=512)
def _compile(pattern: str) -> re.Pattern[str] | str:
    """Compiled Go regexp, or the parse error message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return re.compile(translate_regex(pattern))
    except RegexSyntax as exc:
        return str(exc)
    except (re.error, ValueError, OverflowError) as exc:
        message = str(getattr(exc, "msg", exc))
        message = next((go for py, go in _RE_ERRORS.items() if message.startswith(py)), message)
        return f"{message}: `{pattern}`"


def match_string(pattern: str, text: str) -> bool:
    regex = _compile(pattern)
    if isinstance(regex, str):
        raise CallError(f"error parsing regexp: {regex}")
    return regex.search(text) is not None


def _go_expand(template: str, match: re.Match[str]) -> str:
    """Go's Regexp.Expand: `$1`, `${1}`, `$name`, `${name}`, `$$`; unknown groups are empty."""
    out, i = [], 0
    while (dollar := template.find("$", i)) >= 0:
        out.append(template[i:dollar])
        i = dollar + 1
        if template.startswith("$", i):
            out.append("$")
            i += 1
            continue
        ref = re.match(r"\{(\w+)\}|(\w+)", template[i:])
        if ref is None:
            out.append("$")
            continue
        name, i = ref.group(1) or ref.group(2), i + ref.end()
        if name.isascii() and name.isdigit() and not (len(name) > 1 and name[0] == "0"):
            group = int(name) if int(name) <= match.re.groups else None
        else:
            group = match.re.groupindex.get(name)
        out.append((match.group(group) or "") if group is not None else "")
    return "".join(out) + template[i:]


def replace_all_string(pattern: str, replacement: str, text: str) -> str:
    """Go's ReplaceAllString: an empty match right after a match is not replaced."""
    regex = _compile(pattern)
    if isinstance(regex, str):
        quoted = f"`{pattern}`" if "`" not in pattern else go_quote(pattern)
        raise CallError(f"regexp: Compile({quoted}): error parsing regexp: {regex}")
    out, last_end, pos = [], 0, 0
    while pos <= len(text) and (m := regex.search(text, pos)) is not None:
        out.append(text[last_end : m.start()])
        if m.end() > last_end or m.start() == 0:
            out.append(_go_expand(replacement, m))
        last_end = m.end()
        pos = m.end() if m.end() > pos else pos + 1
    return "".join(out) + text[last_end:]
