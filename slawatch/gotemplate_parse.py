"""Lexer and parser for the Go text/template subset that Prometheus rule files use.

Prometheus renders annotations with Go's text/template, so slawatch parses the same
syntax into a small immutable AST that `slawatch.templating` evaluates. Error messages
keep Go's wording so that they read like what `promtool check rules` prints, but carry
a 1-based line and column within the template text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

_SPACE = " \t\r\n"
_NUMBER = re.compile(
    r"[+-]?(?:0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*(?:[pP][+-]?[0-9_]+)?|0[bB][01_]+|0[oO][0-7_]+"
    r"|(?:[0-9][0-9_]*\.?[0-9_]*|\.[0-9][0-9_]*)(?:[eE][+-]?[0-9_]+)?)i?"
)
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\"}
_KEYWORDS = frozenset(
    {"if", "else", "end", "range", "with", "break", "continue", "define", "template", "block"}
)
HEADER_VARIABLES = ("$", "$labels", "$externalLabels", "$externalURL", "$value")


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


# ---- AST: every node knows its source span, for error positions and contexts ----


@dataclass(frozen=True, slots=True)
class Node:
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Text(Node):
    text: str


@dataclass(frozen=True, slots=True)
class Literal(Node):
    value: bool | int | float | str


@dataclass(frozen=True, slots=True)
class Dot(Node):
    pass


@dataclass(frozen=True, slots=True)
class Nil(Node):
    pass


@dataclass(frozen=True, slots=True)
class Field(Node):
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Variable(Node):
    name: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Identifier(Node):
    name: str


@dataclass(frozen=True, slots=True)
class Command(Node):
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Pipe(Node):
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Chain(Node):
    node: Pipe
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Action(Node):
    pipe: Pipe


@dataclass(frozen=True, slots=True)
class Control(Node):
    kind: str  # "if", "with" or "range"
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Break(Node):
    pass


@dataclass(frozen=True, slots=True)
class Continue(Node):
    pass


# ---- lexer ----


def _quote(text: str) -> str:
    """Go's %q for the plain strings that appear in error messages."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


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
            raise self.error(pos, f"bad number syntax: {_quote(source or self.text[pos])}")
        self.emit(Tok.NUMBER, value, pos, end)
        return end


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


# ---- parser ----


class _Parser:
    """Recursive descent over the token list, tracking declared variables like Go does."""

    def __init__(self, text: str, check_function: Callable[[str], str | None]) -> None:
        self.text = text
        self.tokens = _Lexer(text).run()
        self.i = 0
        self.check_function = check_function
        self.vars = list(HEADER_VARIABLES)
        self.range_depth = 0

    def error(self, token: Token, message: str) -> TemplateError:
        return TemplateError.at(self.text, token.pos, message)

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += token.kind is not Tok.EOF
        return token

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_nonspace(self) -> Token:
        token = self.next()
        return self.next() if token.kind is Tok.SPACE else token

    def peek_nonspace(self) -> Token:
        save = self.i
        token = self.next_nonspace()
        self.i = save
        return token

    def describe(self, token: Token) -> str:
        return "EOF" if token.kind is Tok.EOF else _quote(self.text[token.pos : token.end])

    def expect_right(self, context: str) -> None:
        token = self.next_nonspace()
        if token.kind is not Tok.RIGHT:
            raise self.error(token, f"unexpected {self.describe(token)} in {context}")

    def parse(self) -> tuple[Node, ...]:
        nodes, stop = self.item_list()
        if stop is not None:
            raise self.error(stop, f"unexpected {{{{{stop.value}}}}}")
        return nodes

    def item_list(self) -> tuple[tuple[Node, ...], Token | None]:
        """Items up to `{{end}}`, `{{else}}` or EOF; returns them and the stopping keyword."""
        items: list[Node] = []
        while True:
            token = self.next()
            if token.kind is Tok.EOF:
                return tuple(items), None
            if token.kind is Tok.TEXT:
                items.append(Text(token.pos, token.end, str(token.value)))
                continue
            word = self.peek_nonspace()
            if word.kind is not Tok.KEYWORD:
                pipe = self.pipeline("command", Tok.RIGHT)
                items.append(Action(token.pos, pipe.end, pipe))
                continue
            self.next_nonspace()
            if word.value in ("end", "else"):
                return tuple(items), word
            items.append(self.keyword(word))

    def keyword(self, word: Token) -> Node:
        if word.value in ("if", "with", "range"):
            return self.control(word)
        if word.value in ("break", "continue"):
            self.expect_right(str(word.value))
            if self.range_depth == 0:
                raise self.error(word, f"{{{{{word.value}}}}} outside {{{{range}}}}")
            return (Break if word.value == "break" else Continue)(word.pos, word.end)
        raise self.error(word, f"{{{{{word.value}}}}} is not supported in alert templates")

    def control(self, word: Token) -> Control:
        kind, mark = str(word.value), len(self.vars)
        pipe = self.pipeline(kind, Tok.RIGHT)
        self.range_depth += kind == "range"
        body, stop = self.item_list()
        self.range_depth -= kind == "range"
        orelse: tuple[Node, ...] = ()
        if stop is None:
            raise self.error(self.peek(), "unexpected EOF")
        if stop.value == "else":
            after = self.peek_nonspace()
            if kind == "if" and after.kind is Tok.KEYWORD and after.value == "if":
                self.next_nonspace()
                orelse = (self.control(after),)  # `else if` shares the outer {{end}}
            else:
                self.expect_right("else")
                orelse, stop = self.item_list()
                if stop is None or stop.value != "end":
                    found = "EOF" if stop is None else "{{else}}"
                    raise self.error(stop or self.peek(), f"expected end; found {found}")
        if stop is not None and stop.value == "end":
            self.expect_right("end")
        del self.vars[mark:]
        end = self.tokens[self.i - 1].end
        return Control(word.pos, end, kind, pipe, body, orelse)

    def declarations(self, context: str) -> tuple[tuple[str, ...], bool]:
        save, names = self.i, []
        while self.peek_nonspace().kind is Tok.VARIABLE:
            names.append(str(self.next_nonspace().value))
            op = self.next_nonspace()
            if op.kind in (Tok.DECLARE, Tok.ASSIGN):
                self.vars.extend(names)
                return tuple(names), op.kind is Tok.ASSIGN
            if op.kind is not Tok.COMMA:
                break
            if context != "range" or len(names) > 1:
                raise self.error(op, f"too many declarations in {context}")
        self.i = save
        return (), False

    def pipeline(self, context: str, end: Tok) -> Pipe:
        start = self.peek_nonspace()
        decl, is_assign = self.declarations(context)
        cmds: list[Command] = []
        while (token := self.peek_nonspace()).kind is not end:
            if end is Tok.RPAREN and token.kind in (Tok.RIGHT, Tok.EOF):
                raise self.error(start, "unclosed left paren")
            if token.kind in (Tok.PIPE, Tok.RIGHT, Tok.RPAREN, Tok.EOF):
                raise self.error(token, f"unexpected {self.describe(token)} in {context}")
            cmds.append(self.command())  # consumes the `|` after it, like Go
        if not cmds:
            raise self.error(token, f"missing value for {context}")
        self.next_nonspace()
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], (Literal, Dot, Nil)):
                raise self.error(
                    self.tokens[self.i - 1], f"non executable command in pipeline stage {stage}"
                )
        return Pipe(start.pos, cmds[-1].end, decl, is_assign, tuple(cmds))

    def command(self) -> Command:
        args: list[Node] = []
        while True:
            if self.peek_nonspace().kind not in (Tok.PIPE, Tok.RIGHT, Tok.RPAREN, Tok.EOF):
                args.append(self.operand())
            after = self.next()
            if after.kind is Tok.SPACE:
                continue
            if after.kind in (Tok.RIGHT, Tok.RPAREN):
                self.i -= 1
            elif after.kind is not Tok.PIPE and after.kind is not Tok.EOF:
                raise self.error(after, f"unexpected {self.describe(after)} in operand")
            break
        if not args:
            raise self.error(after, "empty command")
        return Command(args[0].pos, args[-1].end, tuple(args))

    def operand(self) -> Node:
        node = self.term()
        names: list[str] = []
        while self.peek().kind is Tok.FIELD:
            names.append(str(self.next().value))
        if not names:
            return node
        end = self.tokens[self.i - 1].end
        if isinstance(node, Field):
            return Field(node.pos, end, node.names + tuple(names))
        if isinstance(node, Variable):
            return Variable(node.pos, end, node.name, node.names + tuple(names))
        if isinstance(node, Pipe):
            return Chain(node.pos, end, node, tuple(names))
        source = self.text[node.pos : node.end]
        raise TemplateError.at(self.text, node.pos, f"unexpected . after term {_quote(source)}")

    def term(self) -> Node:
        token = self.next_nonspace()
        kind, pos, end = token.kind, token.pos, token.end
        if kind is Tok.IDENT:
            problem = self.check_function(str(token.value))
            if problem:
                raise self.error(token, problem)
            return Identifier(pos, end, str(token.value))
        if kind is Tok.VARIABLE:
            if token.value not in self.vars:
                raise self.error(token, f"undefined variable {_quote(str(token.value))}")
            return Variable(pos, end, str(token.value), ())
        if kind is Tok.LPAREN:
            pipe = self.pipeline("parenthesized pipeline", Tok.RPAREN)
            return Pipe(pos, self.tokens[self.i - 1].end, pipe.decl, pipe.is_assign, pipe.cmds)
        if kind in (Tok.STRING, Tok.NUMBER, Tok.BOOL):
            return Literal(pos, end, token.value)  # type: ignore[arg-type]
        if kind is Tok.FIELD:
            return Field(pos, end, (str(token.value),))
        if kind in (Tok.DOT, Tok.NIL):
            return (Dot if kind is Tok.DOT else Nil)(pos, end)
        raise self.error(token, f"unexpected {self.describe(token)} in operand")


def parse_nodes(text: str, check_function: Callable[[str], str | None]) -> tuple[Node, ...]:
    """Parse template text; `check_function(name)` returns an error message or None."""
    return _Parser(text, check_function).parse()
