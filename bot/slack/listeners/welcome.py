"""Getting started in a channel: when the bot itself is added to one, it posts one short message
there (what it does, `/units help`), at most once per channel, ever.

`member_joined_channel` needs `channels:read` (public channels) and `groups:read` (private ones);
the bot uses them for this event alone (README, "Connect to Slack")."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.bot import SlackBot
from bot.slack.listeners.events import SkipBotsAndRedeliveries
from bot.slack.start_blocks import welcome_message


def register(app: AsyncApp, bot: SlackBot) -> None:
    welcome = Welcome(bot)
    app.event("member_joined_channel", middleware=[SkipBotsAndRedeliveries(bot.log)])(welcome.member_joined_channel)


class Welcome:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def member_joined_channel(self, event: dict, body: dict, context, client: AsyncWebClient):
        """Someone joined a channel the bot is in: only the bot's own arrival is greeted."""
        bot_user = context.get("bot_user_id") or next(
            (a.get("user_id") for a in body.get("authorizations") or () if a.get("is_bot")), None
        )
        channel = event.get("channel")
        if not bot_user or event.get("user") != bot_user or not channel:
            return
        if self.bot.log.first_welcome(channel):
            self.bot.background.start(client.chat_postMessage(channel=channel, **welcome_message()), body)
