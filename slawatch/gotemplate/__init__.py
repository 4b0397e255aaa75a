"""Prometheus' Go-template language for annotations and labels, rendered as Prometheus does.

    lex        tokens, with Go's delimiters, trim markers and literals
    parse      the small immutable AST
    execute    the evaluator and the public API (`parse`, `expand`, `Template`)
    values     the Go values a template sees and their type names
    printing   Go's fmt rules for printing values
    params     Go's argument conversion and type checks before a call
    gotime     time.Time and time.Duration, as toTime, toDuration and now return them
    regexp     Go regular expressions, run on RE2
    humanize   Prometheus' humanize* functions
    go_builtins  text/template's builtin functions
    functions  Prometheus' template function map, and the render's inputs
    check      load-time checks of what every render would fail on

Pure: no I/O, no logging, no clock.
"""

from slawatch.gotemplate.execute import SUPPORTED_FUNCTIONS, Template, TemplateError, expand, parse
from slawatch.gotemplate.functions import QueryFunc, QuerySample

__all__ = ["SUPPORTED_FUNCTIONS", "QueryFunc", "QuerySample", "Template", "TemplateError", "expand", "parse"]
