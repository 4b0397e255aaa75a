"""Parser for the Go text/template subset that Prometheus rule files use.

Prometheus renders annotations with Go's text/template, so slawatch parses the same
syntax into a small immutable AST that `slawatch.gotemplate.execute` evaluates. The
tokens come from `slawatch.gotemplate.lex`. Error messages keep Go's wording so that they read like
what `promtool check rules` prints, but carry a 1-based line and column within the
template text.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from slawatch.gotemplate.lex import TemplateError as TemplateError  # re-exported
from slawatch.gotemplate.lex import Tok, Token, lex
from slawatch.gotemplate.printing import go_quote

__all__ = [
    "HEADER_VARIABLES", "Action", "Break", "Chain", "Command", "Continue", "Control", "Dot",
    "Field", "Identifier", "Literal", "Nil", "Node", "Pipe", "TemplateError", "Text",
    "Variable", "parse_nodes",
]

HEADER_VARIABLES = ("$", "$labels", "$externalLabels", "$externalURL", "$value")


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


# ---- parser ----


class _Parser:
    """Recursive descent over the token list, tracking declared variables like Go does."""

    def __init__(self, text: str, check_function: Callable[[str], str | None]) -> None:
        self.text = text
        self.tokens = lex(text)
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
        return "EOF" if token.kind is Tok.EOF else go_quote(self.text[token.pos : token.end])

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
        raise TemplateError.at(self.text, node.pos, f"unexpected . after term {go_quote(source)}")

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
                raise self.error(token, f"undefined variable {go_quote(str(token.value))}")
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
