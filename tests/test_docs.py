"""Documentation is tested: every command and setting is in the README, every command has help."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

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


ROOT = Path(__file__).resolve().parent.parent
_BLOCK = re.compile(r"```(?:sh|console)\n(.*?)```", re.DOTALL)
_SAFE = ("ask", "codes", "kb check", "log recent", "log stats", "log purge", "--help")


def test_everything_the_readme_links_is_in_the_repository():
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", README)
    local = [link for link in links if not link.startswith(("http://", "https://", "mailto:"))]
    assert local, "expected links to files in the repository"
    assert [] == [link for link in local if not (ROOT / link).exists()]
    assert "../" not in README  # nothing outside the repository


def _readme_commands() -> list[str]:
    commands = []
    for block in _BLOCK.findall(README):
        for line in block.splitlines():
            line = re.sub(r"\s*\[[^\]]*\]", "", line.removeprefix("$ ").split("  #")[0]).strip()
            if line == "billing-bot ask":
                continue  # the interactive chat (tests/test_cli.py drives it on a pty)
            if not line.startswith("billing-bot ") or any(c in line for c in "<>|…") or "..." in line:
                continue  # a template (`[--json]`, `...`) or needing a file or a pipe
            if line.removeprefix("billing-bot ").startswith(_SAFE):
                commands.append(line)
    return commands


@pytest.mark.parametrize("command", _readme_commands())
def test_every_runnable_command_in_the_readme_works(command, tmp_path):
    args = shlex.split(command)[1:]
    if args[:2] == ["log", "purge"]:
        args.append("--dry-run")  # the README's purge, without deleting anything
    result = CliRunner().invoke(cli, args, env={"BILLING_BOT_DB": str(tmp_path / "log.db"), "BILLING_BOT_LOG_CLI": "0"})
    assert 0 == result.exit_code, (command, result.output, result.exception)
    assert result.output.strip() or args[:2] == ["log", "recent"]  # an empty log lists nothing


def test_the_readme_commands_cover_the_main_ones():
    found = " ".join(_readme_commands())
    for needed in ('ask "-10 min 97124"', "ask --json", "codes", "kb check", "log stats", "log purge --older-than 90d"):
        assert needed in found


def test_the_readme_piped_example_prints_what_it_shows(tmp_path):
    [shown] = re.findall(r"\$ printf '40 min 97140\\n' \| make run\n(.*)\n", README)
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    result = subprocess.run([sys.executable, "-m", "bot", "run"], input="40 min 97140\n", capture_output=True,
                            text=True, env={**env, "BILLING_BOT_LOG_CLI": "0"}, cwd=tmp_path, timeout=60)
    assert 0 == result.returncode, result.stderr
    assert result.stdout.startswith(shown.removesuffix(" | ...")), result.stdout
