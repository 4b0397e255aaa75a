"""Prometheus-style alert templates (`{{ $labels.instance }}`), rendered as Prometheus does.

Rule annotations and labels are Go text/template with Prometheus' function map and a
header that defines `$labels`, `$externalLabels`, `$externalURL` and `$value`. Users see
these strings in Slack and tickets next to Prometheus' own, so the text must be
identical: values print with Go's fmt rules, maps in sorted key order, and a missing
label renders as an empty string (Prometheus executes with `missingkey=zero`). Parsing
is in `slawatch.gotemplate.parse`, Go's printing rules in `slawatch.gotemplate.values`,
regexps in `slawatch.gotemplate.regexp` and the function map in
`slawatch.gotemplate.functions`; this module holds the evaluator and the public API.
Pure: no I/O, no logging, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlparse

from slawatch.gotemplate.check import template_problems
from slawatch.gotemplate.functions import FUNCTIONS, check_function, truth
from slawatch.gotemplate.parse import (
    Action,
    Break,
    Chain,
    Command,
    Control,
    Dot,
    Field,
    Identifier,
    Literal,
    Nil,
    Node,
    Pipe,
    TemplateError,
    Text,
    Variable,
    parse_nodes,
)
from slawatch.gotemplate.values import NO_VALUE, AlertData, CallError, format_value, type_name

__all__ = ["SUPPORTED_FUNCTIONS", "Template", "TemplateError", "expand", "parse"]

SUPPORTED_FUNCTIONS = frozenset(FUNCTIONS)
_MISSING = object()  # "no final value piped into this command"


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ---- evaluation ----


class _Exec:
    """One rendering: the variable stack, the output and Go's evaluation rules."""

    def __init__(self, text: str, data: AlertData) -> None:
        self.text = text
        self.data = data
        self.out: list[str] = []
        self.vars: list[list[Any]] = [
            ["$", data], ["$labels", data.Labels], ["$externalLabels", data.ExternalLabels],
            ["$externalURL", data.ExternalURL], ["$value", data.Value],
        ]

    def error(self, node: Node, message: str) -> TemplateError:
        context = " ".join(self.text[node.pos : node.end].split())
        return TemplateError.at(self.text, node.pos, f"executing at <{context}>: {message}")

    def walk(self, nodes: tuple[Node, ...], dot: object) -> None:
        for node in nodes:
            if isinstance(node, Text):
                self.out.append(node.text)
            elif isinstance(node, Action):
                value = self.pipe(dot, node.pipe)
                if not node.pipe.decl:
                    self.out.append(format_value(value, top_level=True))
            elif isinstance(node, Control):
                self.control(node, dot)
            else:
                raise _Break() if isinstance(node, Break) else _Continue()

    def control(self, node: Control, dot: object) -> None:
        mark = len(self.vars)
        try:
            value = self.pipe(dot, node.pipe)
            if node.kind == "range":
                self.range(node, dot, value)
            elif truth(value):
                self.walk(node.body, value if node.kind == "with" else dot)
            else:
                self.walk(node.orelse, dot)
        finally:
            del self.vars[mark:]

    def range(self, node: Control, dot: object, value: object) -> None:
        if isinstance(value, Mapping):
            items: list[tuple[object, object]] = [(k, value[k]) for k in sorted(value)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif value is None or value is NO_VALUE:
            items = []
        else:
            raise self.error(node.pipe, f"range can't iterate over {format_value(value)}")
        if not items:
            self.walk(node.orelse, dot)
        decl, mark = node.pipe.decl, len(self.vars)
        for key, elem in items:
            if decl:  # one variable gets the element; two get the key and the element
                self.set_var(node.pipe, decl[-1], elem)
                if len(decl) == 2:
                    self.set_var(node.pipe, decl[0], key)
            try:
                self.walk(node.body, elem)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[mark:]

    def set_var(self, node: Node, name: str, value: object) -> None:
        for slot in reversed(self.vars):
            if slot[0] == name:
                slot[1] = value
                return
        raise self.error(node, f"undefined variable: {name}")

    def variable(self, node: Variable) -> object:
        for name, value in reversed(self.vars):
            if name == node.name:
                return value
        raise self.error(node, f"undefined variable: {node.name}")

    def pipe(self, dot: object, pipe: Pipe) -> object:
        value: object = _MISSING
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: object, cmd: Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.fields(dot, first, first.names, cmd.args, final)
        if isinstance(first, Chain):
            return self.fields(self.pipe(dot, first.node), first, first.names, cmd.args, final)
        if isinstance(first, Identifier):
            return self.call(dot, cmd, first, cmd.args[1:], final)
        if isinstance(first, Variable) and first.names:
            return self.fields(self.variable(first), first, first.names, cmd.args, final)
        if len(cmd.args) > 1 or final is not _MISSING:
            source = self.text[first.pos : first.end]
            raise self.error(first, f"can't give argument to non-function {source}")
        if isinstance(first, Nil):
            raise self.error(first, "nil is not a command")
        return self.operand(dot, first)

    def operand(self, dot: object, node: Node) -> object:
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Variable) and not node.names:
            return self.variable(node)
        if isinstance(node, Pipe):
            return self.pipe(dot, node)
        return self.command(dot, Command(node.pos, node.end, (node,)), _MISSING)

    def fields(self, receiver: object, node: Node, names: tuple[str, ...],
               args: tuple[Node, ...], final: object) -> object:
        for i, name in enumerate(names):
            has_args = i == len(names) - 1 and (len(args) > 1 or final is not _MISSING)
            receiver = self.field(node, receiver, name, has_args)
        return receiver

    def field(self, node: Node, receiver: object, name: str, has_args: bool) -> object:
        if receiver is None or receiver is NO_VALUE:
            return NO_VALUE
        if isinstance(receiver, Mapping):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            return receiver.get(name, "")  # missingkey=zero: a missing label is ""
        if isinstance(receiver, AlertData) and name in AlertData.__slots__:
            if has_args:
                raise self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(receiver, name)
        raise self.error(node, f"can't evaluate field {name} in type {type_name(receiver)}")

    def call(self, dot: object, cmd: Command, ident: Identifier, args: tuple[Node, ...],
             final: object) -> object:
        name = ident.name
        impl, params = FUNCTIONS[name]
        variadic = bool(params) and params[-1].endswith("*")
        count = len(args) + (final is not _MISSING)
        if variadic and count < len(params) - 1:
            raise self.error(ident, f"wrong number of args for {name}: "
                                    f"want at least {len(params) - 1} got {len(args)}")
        if not variadic and count != len(params):
            raise self.error(ident, f"wrong number of args for {name}: "
                                    f"want {len(params)} got {count}")
        if name in ("and", "or"):
            return self.and_or(dot, name == "or", args, final)
        if name in ("externalURL", "pathPrefix"):
            url = self.data.ExternalURL
            return url if name == "externalURL" else urlparse(url).path
        kinds = [params[min(i, len(params) - 1)].rstrip("*") for i in range(count)]
        argv = [self.arg(dot, kind, node) for kind, node in zip(kinds, args)]
        if final is not _MISSING:
            argv.append(self.check_type(ident, kinds[-1], final))
        try:
            return impl(*argv)
        except CallError as exc:
            raise self.error(cmd, f"error calling {name}: {exc}") from None

    def and_or(self, dot: object, is_or: bool, args: tuple[Node, ...], final: object) -> object:
        """Go 1.18+ short-circuits: later arguments are not evaluated once decided."""
        value: object = NO_VALUE
        for node in args:
            value = self.arg(dot, "value", node)
            if truth(value) == is_or:
                return value
        return value if final is _MISSING else final

    def arg(self, dot: object, kind: str, node: Node) -> object:
        if isinstance(node, Literal):
            if kind == "string" and not isinstance(node.value, str):
                raise self.error(node, f"expected string; found {self.text[node.pos:node.end]}")
            return node.value
        if isinstance(node, Nil):
            if kind != "string":
                return None
            raise self.error(node, "cannot assign nil to string")
        return self.check_type(node, kind, self.operand(dot, node))

    def check_type(self, node: Node, kind: str, value: object) -> object:
        if kind == "string" and type(value) is not str:
            if value is NO_VALUE:
                raise self.error(node, "invalid value; expected string")
            raise self.error(node, f"wrong type for value; expected string; got {type_name(value)}")
        return None if value is NO_VALUE and kind == "any" else value


# ---- public API ----


class Template:
    """A parsed alert template; render it once per alert and evaluation."""

    def __init__(self, text: str, nodes: tuple[Node, ...]) -> None:
        self.text = text
        self._nodes = nodes

    def render(self, labels: Mapping[str, str], value: float,
               external_labels: Mapping[str, str] = {}, external_url: str = "") -> str:
        """Render for one alert; raises TemplateError where Prometheus' execution fails.

        `labels` are the series' labels as the rule's query returned them (Prometheus does
        not add alertname or the rule's own labels to `$labels`).
        """
        data = AlertData(dict(labels), dict(external_labels), external_url, float(value))
        run = _Exec(self.text, data)
        run.walk(self._nodes, data)
        return "".join(run.out)

    def check(self) -> tuple[TemplateError, ...]:
        """What every render of this template would fail on though it parses, such as a
        constant regexp Go rejects; `slawatch check` reports these with file and line."""
        return template_problems(self.text, self._nodes)


@functools.lru_cache(maxsize=4096)
def _parse_cached(text: str) -> Template | TemplateError:
    try:
        nodes = parse_nodes(text, check_function)
        return Template(text, nodes)
    except TemplateError as exc:
        return exc
    except RecursionError:
        return TemplateError("template nests too deeply")


def parse(text: str) -> Template:
    """Parse a template, cached: the same rule templates are rendered every tick."""
    result = _parse_cached(text)
    if isinstance(result, TemplateError):
        raise TemplateError(result.message, result.line, result.column)
    return result


def expand(text: str, labels: Mapping[str, str], value: float,
           external_labels: Mapping[str, str] = {}, external_url: str = "") -> str:
    """Render like Prometheus' alerting rule: an error becomes the text, never an exception."""
    try:
        template = parse(text)
    except TemplateError as exc:
        return f"<error expanding template: error parsing template: {exc}>"
    try:
        return template.render(labels, value, external_labels, external_url)
    except TemplateError as exc:
        return f"<error expanding template: error executing template: {exc}>"
    except Exception as exc:  # noqa: BLE001 - like Prometheus' recover(): never stop a tick
        return f"<error expanding template: internal error: {exc!r}>"
