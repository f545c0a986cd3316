"""Bolt listeners grouped by Slack surface, as in Slack's Bolt starter template: each module's
`register(app, bot)` adds its listeners to the app; `bot` is the shared `SlackBot`."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack.bot import SlackBot
from bot.slack.listeners import (
    actions,
    commands,
    desk,
    events,
    form,
    home,
    sharing,
    shortcuts,
    views,
    welcome,
)


def register(app: AsyncApp, bot: SlackBot) -> None:
    for surface in (commands, events, actions, views, desk, shortcuts, sharing, form, home, welcome):
        surface.register(app, bot)
