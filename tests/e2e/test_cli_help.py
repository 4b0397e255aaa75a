"""`--help` of every command shows an example; `slawatch completion` scripts complete in a
real bash, through click's own completion protocol."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from slawatch.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path]
    for name, cmd in group.commands.items():
        if isinstance(cmd, click.Group):
            out += _commands(cmd, (*path, name))
        else:
            out.append((*path, name))
    return out


ALL = _commands(main)


def test_the_commands_are_the_documented_ones() -> None:
    assert set(ALL) >= {
        (), ("run",), ("check",), ("db",), ("db", "upgrade"), ("alerts",), ("tickets",), ("tickets", "list"),
        ("tickets", "show"), ("tickets", "ack"), ("tickets", "resolve"), ("report",), ("completion",),
    }


@pytest.mark.parametrize("path", ALL, ids=lambda p: " ".join(p) or "slawatch")
def test_every_help_text_has_an_example(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output
    examples = result.output.split("Example", 1)[1]
    assert "slawatch " in examples
    # click's \b keeps each example on its own line, unwrapped
    assert all(len(line) < 140 for line in examples.splitlines())


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_script_for_each_shell(shell: str) -> None:
    result = CliRunner().invoke(main, ["completion", shell])
    assert result.exit_code == 0, result.output
    assert "_SLAWATCH_COMPLETE" in result.stdout
    assert f"{shell}_complete" in result.stdout or f"complete_{shell}" in result.stdout


def test_completion_of_an_unknown_shell_is_refused() -> None:
    result = CliRunner().invoke(main, ["completion", "tcsh"])
    assert result.exit_code == 2 and "tcsh" in result.output


def _bash_complete(tmp_path: Path, words: list[str]) -> list[str]:
    """What the script from `slawatch completion bash` offers in a real bash for `words`."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    wrapper = bin_dir / "slawatch"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m slawatch "$@"\n')
    wrapper.chmod(0o755)
    script = subprocess.run([str(wrapper), "completion", "bash"], capture_output=True, text=True, check=True).stdout
    (tmp_path / "slawatch.bash").write_text(script)
    quoted = " ".join(f"'{w}'" for w in words)
    probe = (
        f"source {tmp_path / 'slawatch.bash'}\n"
        f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}\n"
        "_slawatch_completion slawatch\n"  # bash passes the command name as $1
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run(["bash", "--norc", "-c", probe], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="no bash")
def test_bash_completes_commands_subcommands_and_choices(tmp_path: Path) -> None:
    assert {"tickets", "alerts", "report", "completion"} <= set(_bash_complete(tmp_path, ["slawatch", ""]))
    assert _bash_complete(tmp_path, ["slawatch", "tic"]) == ["tickets"]
    assert set(_bash_complete(tmp_path, ["slawatch", "tickets", ""])) == {"list", "show", "ack", "resolve"}
    assert set(_bash_complete(tmp_path, ["slawatch", "tickets", "list", "--status", ""])) == {
        "open", "acknowledged", "resolved"
    }
    assert set(_bash_complete(tmp_path, ["slawatch", "tickets", "list", "--format", "j"])) == {"json", "jsonl"}
    assert _bash_complete(tmp_path, ["slawatch", "alerts", "--st"]) == ["--state"]
