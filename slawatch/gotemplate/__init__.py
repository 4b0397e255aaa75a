"""Prometheus' Go-template language for annotations and labels, rendered as Prometheus does.

    lex        tokens, with Go's delimiters, trim markers and literals
    parse      the small immutable AST
    execute    the evaluator and the public API (`parse`, `expand`, `Template`)
    values     Go's fmt rules for printing values
    regexp     Go regular expressions, run on RE2
    check      load-time checks of what every render would fail on
    functions  Prometheus' template function map

Pure: no I/O, no logging, no clock.
"""

from slawatch.gotemplate.execute import SUPPORTED_FUNCTIONS, Template, TemplateError, expand, parse

__all__ = ["SUPPORTED_FUNCTIONS", "Template", "TemplateError", "expand", "parse"]
