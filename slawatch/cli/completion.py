"""`slawatch completion SHELL`: the shell completion script, from click's own support.

The script calls `slawatch` with `_SLAWATCH_COMPLETE` set; click then completes
commands, options and choices (`--status`, `--priority`, `--format`, file paths).
"""

from __future__ import annotations

import click

SHELLS = ("bash", "zsh", "fish")
COMPLETE_VAR = "_SLAWATCH_COMPLETE"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
@click.pass_context
def command(ctx: click.Context, shell: str) -> None:
    """Print the completion script for SHELL (bash, zsh or fish).

    \b
    Examples:
      eval "$(slawatch completion bash)"          # in ~/.bashrc
      eval "$(slawatch completion zsh)"           # in ~/.zshrc
      slawatch completion fish > ~/.config/fish/completions/slawatch.fish
    """
    from click.shell_completion import get_completion_class

    root = ctx.find_root()
    completion = get_completion_class(shell)
    assert completion is not None  # the choice admits only shells click supports
    click.echo(completion(root.command, {}, "slawatch", COMPLETE_VAR).source())
