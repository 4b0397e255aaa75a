"""The shared Jinja2 environment: user templates over shipped ones, the sandbox, and
failures named by file and line (including templates that are included or extended)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pytest

from slawatch import templates
from slawatch.templates import TemplateFailed


def env(template_dir: Path | None = None, **options: Any) -> jinja2.Environment:
    """The environment over the shipped Slack templates, marking every printed value."""
    return templates.environment("slack", template_dir, finalize=lambda v: f"[{v}]",
                                 filters={"twice": lambda v: v * 2}, **options)


def write(directory: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (directory / name).write_text(text)
    return directory


def test_the_callers_finalize_and_filters_apply_to_every_printed_value(tmp_path: Path) -> None:
    write(tmp_path, {"t.j2": "{{ 'ab'|twice }} {{ n }} text"})
    assert templates.render(env(tmp_path), "t.j2", {"n": 1}) == "[abab] [1] text"


def test_a_user_template_replaces_the_shipped_one_which_stays_reachable_as_default(tmp_path: Path) -> None:
    write(tmp_path, {"digest.md.j2": '{% extends "default/digest.md.j2" %}{% block footer %}ours{% endblock %}'})
    jinja = templates.environment("slack", tmp_path, finalize=str, filters={"summary": str})
    out = templates.render_blocks(jinja, "digest.md.j2",
                                  {"total": 1, "counts": {}, "tickets": [], "more": 0, "oncall": [], "timezone": "UTC"},
                                  ("footer", "body"))
    assert out.filename == str(tmp_path / "digest.md.j2")
    assert out.blocks["footer"] == "ours"
    assert "tickets opened" in (out.blocks["body"] or "")


def test_blocks_are_rendered_in_the_templates_context_and_a_missing_block_is_none(tmp_path: Path) -> None:
    write(tmp_path, {"t.j2": "{% set who = 'top' %}{% block a %}a {{ who }}{% endblock %}\n"})
    out = templates.render_blocks(env(tmp_path), "t.j2", {}, ("a", "b"))
    assert out.whole == "a [top]"
    assert out.blocks == {"a": "a [top]", "b": None}


def test_the_final_newline_is_kept_only_when_asked(tmp_path: Path) -> None:
    write(tmp_path, {"t.j2": "line\n"})
    assert templates.render(env(tmp_path), "t.j2", {}) == "line"
    assert templates.render(env(tmp_path, keep_trailing_newline=True), "t.j2", {}) == "line\n"


def test_an_immutable_environment_keeps_templates_from_changing_their_data(tmp_path: Path) -> None:
    write(tmp_path, {"t.j2": "{{ items.append(3) }}{{ items|length }}"})
    items = [1, 2]
    assert templates.render(env(tmp_path), "t.j2", {"items": [1, 2]}) == "[None][3]"
    with pytest.raises(TemplateFailed, match=r"t\.j2:1: SecurityError"):
        templates.render(env(tmp_path, immutable=True), "t.j2", {"items": items})
    assert items == [1, 2]


def test_templates_are_sandboxed(tmp_path: Path) -> None:
    write(tmp_path, {"t.j2": "ok\n{{ ''.__class__.__mro__ }}\n"})
    with pytest.raises(TemplateFailed, match=r"t\.j2:2: "):
        templates.render(env(tmp_path), "t.j2", {})


@pytest.mark.parametrize(
    ("files", "where", "line", "reason"),
    [
        ({"t.j2": "ok\n\n{{ tikcet.id }}\n"}, "t.j2", 3, "UndefinedError: 'tikcet' is undefined"),
        ({"t.j2": "ok\n{% if x %}\nnever closed\n"}, "t.j2", 3, "Unexpected end of template"),
        ({"t.j2": "ok\n{% include 'inc.j2' %}\n", "inc.j2": "one\ntwo {{ nope }}\n"}, "inc.j2", 2,
         "UndefinedError: 'nope' is undefined"),
        ({"t.j2": "ok\n{% include 'inc.j2' %}\n", "inc.j2": "one\n{% for %}\n"}, "inc.j2", 2, "Expected an expression"),
        ({"t.j2": "ok\n{% include 'missing.j2' %}\n"}, "t.j2", 2, "template not found: missing.j2"),
        ({"t.j2": "{% macro m() %}\n{{ in_macro }}\n{% endmacro %}\n{{ m() }}\n"}, "t.j2", 2,
         "UndefinedError: 'in_macro' is undefined"),
        ({"t.j2": "ok\n{{ 1 // 0 }}\n"}, "t.j2", 2, "ZeroDivisionError"),
    ],
)
def test_a_failure_names_the_file_and_line_it_happened_in(
    tmp_path: Path, files: dict[str, str], where: str, line: int, reason: str
) -> None:
    write(tmp_path, files)
    for render in (lambda e: templates.render(e, "t.j2", {}), lambda e: templates.render_blocks(e, "t.j2", {}, ("a",))):
        with pytest.raises(TemplateFailed) as failure:
            render(env(tmp_path))
        assert (failure.value.template, failure.value.line) == (str(tmp_path / where), line)
        assert failure.value.reason.startswith(reason)
        assert str(failure.value).startswith(f"{tmp_path / where}:{line}: {reason}")


def test_a_template_that_does_not_exist_is_named() -> None:
    with pytest.raises(TemplateFailed) as failure:
        templates.render(env(), "nope.j2", {})
    assert (failure.value.template, failure.value.line, str(failure.value)) == (
        "nope.j2", None, "nope.j2: template not found: nope.j2")
