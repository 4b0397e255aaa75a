"""Jinja2 for slawatch's templates: one sandboxed environment, one error with file and line.

Slack messages (`notify.messages`) and the monthly report (`report.render`) are rendered
from templates a user may override: a file in the user's template directory replaces
the shipped one of the same name, and the shipped one stays reachable as
`default/<name>`, so a user file can `{% extends "default/report.html.j2" %}` and change
one block. The shipped templates are the subfolders of this package (`slack/`,
`report/`).

Templates are configuration written by users, so they run in Jinja2's sandbox with
StrictUndefined (a typo is an error, not an empty string), and every failure, whether
a syntax error, a missing template, an undefined variable or a sandbox violation, is
`TemplateFailed` naming the file and the line in it, for `slawatch check` to print.
What a template prints is the caller's business: escaping (`finalize`) and filters are
passed in.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment, SandboxedEnvironment

__all__ = ["Output", "TemplateFailed", "environment", "render", "render_blocks"]


class TemplateFailed(Exception):
    """A template did not load, compile or render: which file, which line (None: unknown), why."""

    def __init__(self, template: str, line: int | None, reason: str) -> None:
        self.template, self.line, self.reason = template, line, reason
        where = f"{template}:{line}" if line is not None else template
        super().__init__(f"{where}: {reason}")


def environment(
    shipped: str,
    template_dir: Path | None,
    *,
    finalize: Callable[[Any], Any],
    filters: Mapping[str, Callable[..., Any]],
    autoescape: bool = False,
    immutable: bool = False,
    keep_trailing_newline: bool = False,
) -> SandboxedEnvironment:
    """A sandboxed environment reading `template_dir` first, then the shipped subfolder
    `shipped` of this package, which is also reachable as `default/<name>`.

    `immutable` also forbids templates to modify lists and dicts, for callers that hand
    a template data they do not own (the report dict). `keep_trailing_newline` for
    templates that are whole documents; messages, which are trimmed, leave it off so an
    included file does not add a line break where it is included.
    """
    package = jinja2.PackageLoader(__name__, shipped)
    loaders: list[jinja2.BaseLoader] = [package, jinja2.PrefixLoader({"default": package})]
    if template_dir is not None:
        loaders.insert(0, jinja2.FileSystemLoader(str(template_dir)))
    sandbox = ImmutableSandboxedEnvironment if immutable else SandboxedEnvironment
    env = sandbox(
        loader=jinja2.ChoiceLoader(loaders), autoescape=autoescape, finalize=finalize,
        undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True,
        keep_trailing_newline=keep_trailing_newline,
    )
    env.filters.update(filters)
    return env


def render(env: jinja2.Environment, name: str, variables: Mapping[str, Any]) -> str:
    """Template `name` rendered with `variables`; raises `TemplateFailed` on any failure."""
    template = _load(env, name)
    try:
        return env.concat(template.root_render_func(template.new_context(dict(variables))))
    except Exception as exc:  # anything a template can do wrong
        raise _failed(exc, template.filename or name) from exc


@dataclass(frozen=True)
class Output:
    """What `render_blocks` rendered: the template's file, its whole output, and the
    output of each block asked for (None for a block the template does not have)."""

    filename: str
    whole: str
    blocks: dict[str, str | None]


def render_blocks(env: jinja2.Environment, name: str, variables: Mapping[str, Any], blocks: Iterable[str]) -> Output:
    """Template `name` and some of its blocks, all rendered in one context, so a block
    sees the macros and `{% set %}`s of the template's top level. Raises `TemplateFailed`."""
    template = _load(env, name)
    filename = template.filename or name
    try:
        context = template.new_context(dict(variables))
        whole = env.concat(template.root_render_func(context))
        found = {}
        for block in blocks:
            stack = context.blocks.get(block)
            found[block] = env.concat(stack[0](context)) if stack else None
    except Exception as exc:  # anything a template can do wrong
        raise _failed(exc, filename) from exc
    return Output(filename, whole, found)


def _load(env: jinja2.Environment, name: str) -> jinja2.Template:
    try:
        return env.get_template(name)
    except jinja2.TemplateSyntaxError as exc:
        raise _syntax(exc, name) from None
    except jinja2.TemplateNotFound as exc:
        raise TemplateFailed(name, None, f"template not found: {exc.name}") from None


def _syntax(exc: jinja2.TemplateSyntaxError, name: str) -> TemplateFailed:
    return TemplateFailed(exc.filename or exc.name or name, exc.lineno, exc.message or "syntax error")


def _failed(exc: Exception, filename: str) -> TemplateFailed:
    """The failure of a render, at the innermost template line it happened in (an
    included, imported or extended template's own file and line)."""
    if isinstance(exc, jinja2.TemplateSyntaxError):  # of a template loaded while rendering
        return _syntax(exc, filename)
    where, line = _template_frame(exc) or (filename, None)
    if isinstance(exc, jinja2.TemplateNotFound):
        return TemplateFailed(where, line, f"template not found: {exc.name}")
    return TemplateFailed(where, line, f"{type(exc).__name__}: {exc}")


def _template_frame(exc: BaseException) -> tuple[str, int] | None:
    """File and line of the innermost template frame in `exc`'s traceback.

    Jinja2 runs a template as generated Python whose globals hold `__jinja_template__`;
    its own traceback rewriting maps such a frame to a template line the same way. The
    traceback is read as raised, which is why rendering here calls the template's
    render functions rather than `Template.render` (that would rewrite it first).
    """
    found = None
    tb = exc.__traceback__
    while tb is not None:
        template = tb.tb_frame.f_globals.get("__jinja_template__")
        if isinstance(template, jinja2.Template):
            found = (template.filename or template.name or "?", template.get_corresponding_lineno(tb.tb_lineno))
        tb = tb.tb_next
    return found
