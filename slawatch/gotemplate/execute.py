"""Prometheus-style alert templates (`{{ $labels.instance }}`), rendered as Prometheus does.

Rule annotations and labels are Go text/template with Prometheus' function map and a
header that defines `$labels`, `$externalLabels`, `$externalURL` and `$value`. Users see
these strings in Slack and tickets next to Prometheus' own, so the text must be
identical: values print with Go's fmt rules, maps in sorted key order, and a missing
label renders as an empty string (Prometheus executes with `missingkey=zero`). Parsing
is in `slawatch.gotemplate.parse`, Go's printing rules in `slawatch.gotemplate.printing`,
regexps in `slawatch.gotemplate.regexp` and the function map in
`slawatch.gotemplate.functions`; this module holds the evaluator and the public API.

What Prometheus takes from its rule evaluation, a query function and the evaluation
time, a render takes as arguments; without them `query` and `now` fail like any
function error. Pure: no I/O, no logging, no clock.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields
from datetime import datetime
from typing import Any

from slawatch.gotemplate.check import template_problems
from slawatch.gotemplate.functions import FUNCTIONS, QueryFunc, RenderInputs, check_function
from slawatch.gotemplate.go_builtins import truth
from slawatch.gotemplate.gotime import METHODS
from slawatch.gotemplate.params import PARAMS, ArgumentError, Function, Param
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
from slawatch.gotemplate.printing import format_value
from slawatch.gotemplate.values import (
    NIL_INTERFACE,
    NO_VALUE,
    AlertData,
    ArgsMap,
    CallError,
    GoStruct,
    Pointer,
    type_name,
)

__all__ = ["SUPPORTED_FUNCTIONS", "Template", "TemplateError", "expand", "parse"]

SUPPORTED_FUNCTIONS = frozenset(FUNCTIONS)
_MISSING = object()  # "no final value piped into this command"
_VALUE = PARAMS["reflect.Value"]


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# ---- evaluation ----


class _Exec:
    """One rendering: the variable stack, the output and Go's evaluation rules."""

    def __init__(self, text: str, data: AlertData, inputs: RenderInputs) -> None:
        self.text = text
        self.inputs = inputs
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
        value = value.target if isinstance(value, Pointer) else value
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
            if value is NIL_INTERFACE:  # Go digs into an interface{} value after each command
                value = NO_VALUE
        for name in pipe.decl:
            if pipe.is_assign:
                self.set_var(pipe, name, value)
            else:
                self.vars.append([name, value])
        return value

    def command(self, dot: object, cmd: Command, final: object) -> object:
        first = cmd.args[0]
        if isinstance(first, Field):
            return self.fields(dot, dot, first, cmd.args, final)
        if isinstance(first, Chain):
            return self.fields(dot, self.pipe(dot, first.node), first, cmd.args, final)
        if isinstance(first, Identifier):
            return self.call(dot, cmd, first, cmd.args[1:], final)
        if isinstance(first, Variable) and first.names:
            return self.fields(dot, self.variable(first), first, cmd.args, final)
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

    def fields(self, dot: object, receiver: object, node: Field | Chain | Variable,
               args: tuple[Node, ...], final: object) -> object:
        """A chain `.a.b.c`; only the last name gets the command's arguments."""
        for i, name in enumerate(node.names):
            last = i == len(node.names) - 1
            receiver = self.field(dot, node, receiver, name, args if last else (), final if last else _MISSING)
        return receiver

    def field(self, dot: object, node: Node, receiver: object, name: str,
              args: tuple[Node, ...], final: object) -> object:
        """Go's evalField: a method of the value, else a struct field or a map key."""
        if receiver is None or receiver is NO_VALUE:
            return NO_VALUE
        target = receiver.target if isinstance(receiver, Pointer) else receiver
        method = METHODS.get(type(target), {}).get(name)
        if method is not None:
            impl, params = method
            bound = Function(lambda *argv: impl(target, *argv), params)
            return self.invoke(dot, node, name, bound, args[1:], final)
        has_args = len(args) > 1 or final is not _MISSING
        if isinstance(target, Mapping):
            if has_args:
                raise self.error(node, f"{name} is not a method but has arguments")
            if isinstance(target, ArgsMap):  # map[string]interface{}: missing is a nil interface
                found = target.get(name)
                return NIL_INTERFACE if found is None else found
            return target.get(name, "")  # missingkey=zero: a missing label is ""
        if isinstance(target, GoStruct) and name in (f.name for f in fields(target)):  # type: ignore[arg-type]
            if has_args:
                raise self.error(node, f"{name} has arguments but cannot be invoked as function")
            return getattr(target, name)
        raise self.error(node, f"can't evaluate field {name} in type {type_name(receiver)}")

    def call(self, dot: object, cmd: Command, ident: Identifier, args: tuple[Node, ...],
             final: object) -> object:
        function = FUNCTIONS[ident.name]
        if ident.name in ("and", "or"):
            self.check_arity(ident, ident.name, function, args, final)
            return self.and_or(dot, ident.name == "or", args, final)
        return self.invoke(dot, cmd, ident.name, function, args, final)

    def check_arity(self, node: Node, name: str, function: Function, args: tuple[Node, ...],
                    final: object) -> int:
        count = len(args) + (final is not _MISSING)
        fixed = len(function.params) - function.variadic
        if function.variadic and count < fixed:
            raise self.error(node, f"wrong number of args for {name}: want at least {fixed} got {len(args)}")
        if not function.variadic and count != fixed:
            raise self.error(node, f"wrong number of args for {name}: want {fixed} got {count}")
        return count

    def invoke(self, dot: object, node: Node, name: str, function: Function,
               args: tuple[Node, ...], final: object) -> object:
        """Go's evalCall: check the arity, convert each argument to its type, call."""
        count = self.check_arity(node, name, function, args, final)
        params = [PARAMS[function.params[min(i, len(function.params) - 1)]] for i in range(count)]
        argv = [self.arg(dot, param, arg) for param, arg in zip(params, args)]
        if final is not _MISSING:
            argv.append(self.checked(node, params[-1], final))
        if function.reads_inputs:
            argv.insert(0, self.inputs)
        try:
            return function.impl(*argv)
        except CallError as exc:
            raise self.error(node, f"error calling {name}: {exc}") from None

    def and_or(self, dot: object, is_or: bool, args: tuple[Node, ...], final: object) -> object:
        """Go 1.18+ short-circuits: later arguments are not evaluated once decided."""
        value: object = NO_VALUE
        for node in args:
            value = self.arg(dot, _VALUE, node)
            if truth(value) == is_or:
                return value
        return value if final is _MISSING else final

    def arg(self, dot: object, param: Param, node: Node) -> object:
        """Go's evalArg: constants by the parameter's kind, other values by validateType."""
        try:
            if isinstance(node, Literal):
                return param.literal(node.value, self.text[node.pos : node.end])
            if isinstance(node, Nil):
                return param.zero()
        except ArgumentError as exc:
            raise self.error(node, str(exc)) from None
        return self.checked(node, param, self.operand(dot, node))

    def checked(self, node: Node, param: Param, value: object) -> object:
        try:
            return param.validate(value)
        except ArgumentError as exc:
            raise self.error(node, str(exc)) from None


# ---- public API ----


class Template:
    """A parsed alert template; render it once per alert and evaluation."""

    def __init__(self, text: str, nodes: tuple[Node, ...]) -> None:
        self.text = text
        self._nodes = nodes

    def render(self, labels: Mapping[str, str], value: float,
               external_labels: Mapping[str, str] = {}, external_url: str = "", *,
               query: QueryFunc | None = None, now: datetime | None = None) -> str:
        """Render for one alert; raises TemplateError where Prometheus' execution fails.

        `labels` are the series' labels as the rule's query returned them (Prometheus does
        not add alertname or the rule's own labels to `$labels`). `query` runs PromQL at
        the evaluation time `now`, which is what the template function `now` returns; a
        naive `now` is taken as UTC.
        """
        data = AlertData(dict(labels), dict(external_labels), external_url, float(value))
        run = _Exec(self.text, data, RenderInputs(external_url, query, now))
        run.walk(self._nodes, data)
        return "".join(run.out)

    def check(self, *, with_query: bool = False, with_now: bool = False) -> tuple[TemplateError, ...]:
        """What every render would fail on though the template parses: a constant regexp Go
        rejects, or `query` / `now` where the caller renders without a query function /
        evaluation time. `slawatch check` reports these with file and line."""
        provided = frozenset(name for name, given in (("query", with_query), ("now", with_now)) if given)
        return template_problems(self.text, self._nodes, provided)


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
           external_labels: Mapping[str, str] = {}, external_url: str = "", *,
           query: QueryFunc | None = None, now: datetime | None = None) -> str:
    """Render like Prometheus' alerting rule: an error becomes the text, never an exception."""
    try:
        template = parse(text)
    except TemplateError as exc:
        return f"<error expanding template: error parsing template: {exc}>"
    try:
        return template.render(labels, value, external_labels, external_url, query=query, now=now)
    except TemplateError as exc:
        return f"<error expanding template: error executing template: {exc}>"
    except Exception as exc:  # noqa: BLE001 - like Prometheus' recover(): never stop a tick
        return f"<error expanding template: internal error: {exc!r}>"
