"""Docs that can fail: every CLI command is in the README's reference."""

from pathlib import Path

import click

from kpoc.cli import cli

README = (Path(__file__).parents[1] / "README.md").read_text()


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, cmd in group.commands.items():
        path = f"{prefix} {name}"
        if isinstance(cmd, click.Group):
            found += _commands(cmd, path)
        else:
            found.append(path)
    return found


def test_every_command_is_in_the_readme_reference():
    missing = [c for c in _commands(cli, "kpoc") if f"`{c}" not in README]
    assert not missing, f"add these to README.md's command reference: {missing}"


def test_readme_first_screen_has_the_two_setup_commands():
    first_screen = "\n".join(README.splitlines()[:15])
    assert "make demo" in first_screen and "make test" in first_screen
