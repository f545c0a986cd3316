"""Documentation is tested: every command and setting is in the README, every command has help."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from bot.cli.commands import cli
from bot.config import SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def _commands(group: click.Group, prefix: str = "") -> list[tuple[str, click.Command]]:
    out = []
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        cmd = group.get_command(ctx, name)
        out.append((f"{prefix}{name}", cmd))
        if isinstance(cmd, click.Group):
            out += _commands(cmd, f"{prefix}{name} ")
    return out


@pytest.mark.parametrize("name, command", _commands(cli), ids=lambda x: x if isinstance(x, str) else "")
def test_every_command_is_documented_and_has_help(name, command):
    assert f"billing-bot {name}" in README, f"README does not mention `billing-bot {name}`"
    assert (command.help or "").strip(), f"`billing-bot {name}` has no help text"


@pytest.mark.parametrize("setting", SETTINGS, ids=lambda s: s.env)
def test_every_setting_is_in_the_readme(setting):
    assert f"`{setting.env}`" in README
