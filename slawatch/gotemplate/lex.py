"""Lexer for the Go text/template subset that Prometheus rule files use.

Turns template text into tokens with Go's rules for delimiters and trim markers, comments,
and string, character and number literals. It also defines `TemplateError`, which the
lexer, the parser and the evaluator all raise. Kept apart from `parse` so the parser
reads on its own; error messages keep Go's wording with a 1-based line and column
within the template text.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from enum import Enum, auto

from slawatch.gotemplate.printing import go_quote

__all__ = ["TemplateError", "Tok", "Token", "lex"]

_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)i?"
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
)


class TemplateError(ValueError):
    """A template that cannot be parsed or executed; `line` and `column` are 1-based."""

    def __init__(self, message: str, line: int = 1, column: int = 1) -> None:
        super().__init__(f"{line}:{column}: {message}")
        self.message = message
        self.line = line
        self.column = column

    @classmethod
    def at(cls, text: str, offset: int, message: str) -> TemplateError:
        """Build the error for a character offset into `text`."""
        line_start = text.rfind("\n", 0, offset) + 1
        return cls(message, text.count("\n", 0, offset) + 1, offset - line_start + 1)


class Tok(Enum):
    TEXT = auto()
    LEFT = auto()
    RIGHT = auto()
    SPACE = auto()
    STRING = auto()
    NUMBER = auto()
    BOOL = auto()
    NIL = auto()
    DOT = auto()
    FIELD = auto()
    VARIABLE = auto()
    IDENT = auto()
    KEYWORD = auto()
    PIPE = auto()
    LPAREN = auto()
    RPAREN = auto()
    DECLARE = auto()
    ASSIGN = auto()
    COMMA = auto()
    EOF = auto()


@dataclass(frozen=True, slots=True)
class Token:
    kind: Tok
    value: object
    pos: int
    end: int


# ---- lexer ----


def _is_alnum(c: str) -> bool:
    return c == "_" or c.isalpha() or c.isdecimal()


class _Lexer:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[Token] = []

    def error(self, offset: int, message: str) -> TemplateError:
        return TemplateError.at(self.text, offset, message)

    def emit(self, kind: Tok, value: object, pos: int, end: int) -> None:
        self.tokens.append(Token(kind, value, pos, end))

    def run(self) -> list[Token]:
        text, pos, trim_next = self.text, 0, False
        while True:
            start = text.find("{{", pos)
            stop = start if start >= 0 else len(text)
            trim_left = start >= 0 and text[start + 2 : start + 3] == "-" and (
                text[start + 3 : start + 4] in tuple(_SPACE)
            )
            chunk = text[pos:stop]
            chunk = chunk.lstrip(_SPACE) if trim_next else chunk
            chunk = chunk.rstrip(_SPACE) if trim_left else chunk
            if chunk:
                self.emit(Tok.TEXT, chunk, pos, stop)
            if start < 0:
                self.emit(Tok.EOF, None, len(text), len(text))
                return self.tokens
            pos = start + (4 if trim_left else 2)
            if text.startswith("/*", pos):
                pos, trim_next = self.comment(start, pos)
            else:
                self.emit(Tok.LEFT, "{{", start, pos)
                pos, trim_next = self.action(start, pos)

    def comment(self, start: int, pos: int) -> tuple[int, bool]:
        close = self.text.find("*/", pos + 2)
        if close < 0:
            raise self.error(start, "unclosed comment")
        after = close + 2
        if self.text.startswith("}}", after):
            return after + 2, False
        if self.text[after : after + 1] in tuple(_SPACE) and self.text.startswith("-}}", after + 1):
            return after + 4, True
        raise self.error(start, "comment ends before closing delimiter")

    def action(self, start: int, pos: int) -> tuple[int, bool]:
        """Lex one action up to its right delimiter; return the end and its trim flag."""
        text, depth = self.text, 0
        while True:
            if pos >= len(text):
                raise self.error(start, "unclosed action")
            c = text[pos]
            if text.startswith("}}", pos):
                self.emit(Tok.RIGHT, "}}", pos, pos + 2)
                return pos + 2, False
            if c in _SPACE:
                end = pos
                while end < len(text) and text[end] in _SPACE:
                    end += 1
                if text.startswith("-}}", end):
                    if end - pos > 1:
                        self.emit(Tok.SPACE, " ", pos, end - 1)
                    self.emit(Tok.RIGHT, "}}", end - 1, end + 3)
                    return end + 3, True
                self.emit(Tok.SPACE, " ", pos, end)
                pos = end
            elif c in "\"`'":
                pos = self.quoted(pos, c)
            elif c == "$" or (c == "." and text[pos + 1 : pos + 2] not in tuple("0123456789")):
                end = pos + 1
                while end < len(text) and _is_alnum(text[end]):
                    end += 1
                word = text[pos:end]
                kind = Tok.VARIABLE if c == "$" else (Tok.FIELD if end > pos + 1 else Tok.DOT)
                self.emit(kind, word if c == "$" else word[1:], pos, end)
                pos = end
            elif c in "0123456789+-.":
                pos = self.number(pos)
            elif _is_alnum(c):
                end = pos
                while end < len(text) and _is_alnum(text[end]):
                    end += 1
                word = text[pos:end]
                if word in ("true", "false"):
                    self.emit(Tok.BOOL, word == "true", pos, end)
                elif word == "nil":
                    self.emit(Tok.NIL, None, pos, end)
                else:
                    self.emit(Tok.KEYWORD if word in _KEYWORDS else Tok.IDENT, word, pos, end)
                pos = end
            elif text.startswith(":=", pos):
                self.emit(Tok.DECLARE, ":=", pos, pos + 2)
                pos += 2
            elif c in "|=,()":
                if c == ")" and depth == 0:
                    raise self.error(pos, "unexpected right paren")
                depth += {"(": 1, ")": -1}.get(c, 0)
                kinds = {"|": Tok.PIPE, "=": Tok.ASSIGN, ",": Tok.COMMA, "(": Tok.LPAREN}
                self.emit(kinds.get(c, Tok.RPAREN), c, pos, pos + 1)
                pos += 1
            else:
                raise self.error(pos, f"bad character U+{ord(c):04X} {c!r}")

    def quoted(self, pos: int, quote: str) -> int:
        text, end = self.text, pos + 1
        while end < len(text) and text[end] != quote:
            if quote != "`" and text[end] == "\\":
                end += 1
            if quote != "`" and end < len(text) and text[end] == "\n":
                end = len(text)
            end += 1
        if end >= len(text):
            kind = {"`": "raw quoted string", '"': "quoted string", "'": "character constant"}
            raise self.error(pos, f"unterminated {kind[quote]}")
        body = text[pos + 1 : end]
        if quote == "`":
            self.emit(Tok.STRING, body.replace("\r", ""), pos, end + 1)
            return end + 1
        value = _unquote(body, quote)
        if quote == "'" and (value is None or len(value) != 1):
            raise self.error(pos, f"malformed character constant: {text[pos:end + 1]}")
        if value is None:
            raise self.error(pos, f"invalid syntax in {text[pos:end + 1]}")
        if quote == "'":
            self.emit(Tok.NUMBER, ord(value), pos, end + 1)
        else:
            self.emit(Tok.STRING, value, pos, end + 1)
        return end + 1

    def number(self, pos: int) -> int:
        match = _NUMBER.match(self.text, pos)
        end = match.end() if match else pos
        while end < len(self.text) and _is_alnum(self.text[end]):
            end += 1
        source = self.text[pos:end]
        value = _number_value(source) if match and match.end() == end and end > pos else None
        if value is None and source.endswith("i") and match and match.end() == end:
            raise self.error(pos, f"complex number {source} is not supported by slawatch")
        if value is None:
            raise self.error(pos, f"bad number syntax: {go_quote(source or self.text[pos])}")
        self.emit(Tok.NUMBER, value, pos, end)
        return end


def lex(text: str) -> list[Token]:
    """The tokens of `text`, ending with EOF; raises TemplateError on Go's lexing errors."""
    return _Lexer(text).run()


def _unquote(body: str, quote: str) -> str | None:
    """Go's strconv.Unquote for "..." and '...' bodies; None on bad syntax."""
    out, i = bytearray(), 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        e = body[i + 1 : i + 2]
        if e in _ESCAPES or e == quote:
            out += _ESCAPES.get(e, quote).encode()
            i += 2
        elif e in ("x", "u", "U"):
            size = {"x": 2, "u": 4, "U": 8}[e]
            digits = body[i + 2 : i + 2 + size]
            if len(digits) != size or not all(d in "0123456789abcdefABCDEF" for d in digits):
                return None
            code = int(digits, 16)
            if e != "x" and (code > 0x10FFFF or 0xD800 <= code < 0xE000):
                return None
            out += bytes([code]) if e == "x" else chr(code).encode()
            i += 2 + size
        elif e and e in "01234567" and re.fullmatch("[0-7]{3}", body[i + 1 : i + 4]):
            code = int(body[i + 1 : i + 4], 8)
            if code > 255:
                return None
            out.append(code)
            i += 4
        else:
            return None
    return out.decode("utf-8", errors="replace")


def _number_value(source: str) -> int | float | None:
    """A Go number constant as the template sees it: int unless it has `.eEpP`."""
    text = source.replace("_", "")
    body = text.lstrip("+-")
    try:
        if body.endswith("i"):
            return None  # complex constants: Go has them, alert templates do not
        if body[:2].lower() == "0x" and "p" in body.lower():
            return float.fromhex(text)
        if body[:2].lower() in ("0x", "0b", "0o"):
            value: int | float = int(text, 0)
        elif any(c in body for c in ".eE"):
            number = float(text)
            return None if number in (math.inf, -math.inf) else number
        elif len(body) > 1 and body[0] == "0":
            value = int(text, 8)
        else:
            value = int(text)
    except ValueError:
        return None
    return value if -(2**63) <= value < 2**63 else None
