"""Load-time checks of a parsed template: what Go's parser accepts but a render will fail on.

Go's text/template only parses at load time, so Prometheus reports a bad regexp constant
when an alert first renders, as `<error expanding template: ...>` in the notification.
The same holds for `query` and `now` where the caller renders without a query function
or an evaluation time. `slawatch check` reports these with file and line instead. The
checks never change how a template renders: rendering still fails at execution, word for
word as in Prometheus. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterator

from slawatch.gotemplate.parse import (
    Action,
    Chain,
    Command,
    Control,
    Identifier,
    Literal,
    Node,
    Pipe,
    TemplateError,
)
from slawatch.gotemplate.regexp import PatternError, compile_go

__all__ = ["PATTERN_FUNCTIONS", "RENDER_INPUTS", "template_problems"]

# Functions whose first argument is a Go regexp.
PATTERN_FUNCTIONS = frozenset({"match", "reReplaceAll"})
# Functions that read an input of the render rather than their arguments, and that input.
RENDER_INPUTS = {"query": "a query function", "now": "the evaluation time"}


def _pipe_commands(pipe: Pipe) -> Iterator[Command]:
    for cmd in pipe.cmds:
        yield cmd
        for i, arg in enumerate(cmd.args):
            if isinstance(arg, (Pipe, Chain)):
                yield from _pipe_commands(arg if isinstance(arg, Pipe) else arg.node)
            elif isinstance(arg, Identifier) and i:  # a function called without arguments
                yield Command(arg.pos, arg.end, (arg,))


def _commands(nodes: tuple[Node, ...]) -> Iterator[Command]:
    """Every command of the template, nested pipelines and bodies included, in text order."""
    for node in nodes:
        if isinstance(node, (Action, Control)):
            yield from _pipe_commands(node.pipe)
        if isinstance(node, Control):
            yield from _commands(node.body + node.orelse)


def template_problems(text: str, nodes: tuple[Node, ...],
                      provided: frozenset[str] = frozenset()) -> tuple[TemplateError, ...]:
    """Failures certain at render time, each at its place in `text`; `provided` names the
    render inputs (`query`, `now`) the caller passes when it renders."""
    problems: list[TemplateError] = []
    for cmd in _commands(nodes):
        head = cmd.args[0]
        if not isinstance(head, Identifier):
            continue
        if head.name in RENDER_INPUTS and head.name not in provided:
            problems.append(TemplateError.at(
                text, head.pos, f'function "{head.name}" needs {RENDER_INPUTS[head.name]}, '
                                "which slawatch does not pass when it renders this template"))
        pattern = cmd.args[1] if len(cmd.args) > 1 else None
        if head.name in PATTERN_FUNCTIONS and isinstance(pattern, Literal) and isinstance(pattern.value, str):
            try:
                compile_go(pattern.value)
            except PatternError as exc:
                problems.append(TemplateError.at(text, pattern.pos, f"{head.name}: {exc}"))
    return tuple(problems)
