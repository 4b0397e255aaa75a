"""What the commands share: `--config`, settings, the clock, database access, matcher
arguments, `--since`/`--until` instants, and writing a long stream to stdout.

The CLI is a composition root: it reads the clock here (`now`), once per command, and
a test hands in a fixed one (`main(obj=Env(clock=...))`). Readers get a connection only
after the schema check (`store.engine.require_current`); nothing here migrates.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, NoReturn

import click

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from slawatch.config.settings import Settings
    from slawatch.matchers import Matcher


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class Env:
    """The command's environment as the composition root builds it; tests replace the clock."""

    clock: Callable[[], datetime] = field(default=_utcnow)


def now() -> datetime:
    """The instant this command judges at (aware UTC)."""
    ctx = click.get_current_context(silent=True)
    env = ctx.find_object(Env) if ctx is not None else None
    return (env.clock if env is not None else _utcnow)()


config_option = click.option(
    "--config",
    "config_file",
    envvar="SLAWATCH_CONFIG",
    default=None,
    metavar="FILE",
    type=click.Path(dir_okay=False),
    help="Config file (default: slawatch.yaml, or $SLAWATCH_CONFIG).",
)


def fail(message: str, code: int = 1) -> NoReturn:
    """Print `error: message` to stderr (terminal-safe) and exit."""
    from slawatch.cli.terminal import safe

    click.echo(f"error: {safe(message)}", err=True)
    sys.exit(code)


def load(config_file: str | None) -> Settings:
    """The settings, or every problem printed as `file:line: field: problem` and exit 1."""
    from slawatch.cli.terminal import safe
    from slawatch.config.located import InputError
    from slawatch.config.settings import load_settings

    try:
        return load_settings(config_file)
    except InputError as exc:
        for problem in exc.problems:
            click.echo(safe(str(problem)), err=True)
        sys.exit(1)


def current_engine(settings: Settings, *, read_only: bool) -> Engine:
    """An engine on a database at this slawatch's schema; else the clear message and exit 1."""
    from slawatch.store.engine import SchemaMismatch, make_engine, require_current

    engine = make_engine(settings.database.url, read_only=read_only)
    try:
        require_current(engine)
    except SchemaMismatch as exc:
        engine.dispose()
        fail(str(exc))
    return engine


@contextmanager
def reading(settings: Settings) -> Iterator[Connection]:
    """A connection for a read-only command, after the schema check."""
    engine = current_engine(settings, read_only=True)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _parse_matchers(_ctx: click.Context, _param: click.Parameter, values: tuple[str, ...]) -> list[Matcher]:
    from slawatch.matchers import MatcherError, parse_matchers

    try:
        return parse_matchers(values, bare_alertname=True)
    except MatcherError as exc:
        from slawatch.cli.terminal import safe

        raise click.BadParameter(safe(str(exc))) from None


matcher_arguments = click.argument("matchers", nargs=-1, metavar="[MATCHER]...", callback=_parse_matchers)


class Instant(click.ParamType):
    """An ISO 8601 time (UTC unless it has an offset) or a Prometheus duration ago (`24h`)."""

    name = "TIME"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        if isinstance(value, datetime):
            return value
        from slawatch.config.durations import DurationError, parse_duration

        text = str(value).strip()
        try:
            return now() - parse_duration(text)
        except DurationError:
            pass
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            self.fail(f"{value!r} is neither an ISO 8601 time (2026-10-01T08:00Z) nor a duration (24h, 7d)", param, ctx)
        return at.replace(tzinfo=timezone.utc) if at.tzinfo is None else at.astimezone(timezone.utc)


INSTANT = Instant()


def write_lines(lines: Iterable[str]) -> None:
    """Write a stream of lines to stdout as they come; a closed pipe (`| head`) ends it quietly."""
    out = click.get_text_stream("stdout")
    try:
        for line in lines:
            out.write(line)
            out.write("\n")
        out.flush()
    except BrokenPipeError:
        # Python would print a traceback at exit trying to flush again: point stdout at
        # /dev/null, as the Python documentation recommends, and exit as `head` made us.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(1)
