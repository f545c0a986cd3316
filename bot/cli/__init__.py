"""The `billing-bot` command line: the same answers as Slack, in a terminal."""

from bot.cli.commands import main

__all__ = ["main"]
