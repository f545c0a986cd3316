"""The Home tab's first screen: example buttons (answered in the Messages tab, by
chat.postMessage to the person) and the person's own defaults (rule or payer, state)."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.bot import SlackBot
from bot.slack.start_blocks import (
    EXAMPLE_ACTION,
    HOME_EXAMPLES,
    NOT_SET,
    RULE_SETTING_ACTION,
    STATE_SETTING_ACTION,
    TELL_ME,
    TELL_ME_ACTION,
)

log = logging.getLogger("bot.slack.app")


def register(app: AsyncApp, bot: SlackBot) -> None:
    home = Home(bot)
    app.action(EXAMPLE_ACTION)(home.example)
    app.action(RULE_SETTING_ACTION)(home.set_rule)
    app.action(STATE_SETTING_ACTION)(home.set_state)
    app.action(TELL_ME_ACTION)(home.set_tell_me)


class Home:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def example(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """An example button: the question answered in the person's DM with the bot (its Messages tab)."""
        await ack()
        question, user_id = action.get("value"), (body.get("user") or {}).get("id")
        if question not in HOME_EXAMPLES or not user_id:
            log.warning("ignored a Home example click with value %r", question)
            return
        msg = self.bot.reply(
            question, surface="home", team_id=(body.get("team") or {}).get("id"), channel_id=None,
            user_id=user_id, asked=question,
        )
        self.bot.background.start(client.chat_postMessage(channel=user_id, **msg), body)

    async def set_rule(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        value = (action.get("selected_option") or {}).get("value")
        rule = self.bot.answerer.rules.get(value or "")
        if value != NOT_SET and rule is None:
            log.warning("ignored a rule setting %r (not in the rule book)", value)
            return
        self._set(client, body, rule=None if value == NOT_SET else rule.name)

    async def set_state(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        value = (action.get("selected_option") or {}).get("value")
        if value != NOT_SET and value not in self.bot.states:
            log.warning("ignored a state setting %r (not a state)", value)
            return
        self._set(client, body, state=None if value == NOT_SET else value)

    async def set_tell_me(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """The "tell me when a reviewer answers" checkbox: unticked is an opt-out."""
        await ack()
        user_id = (body.get("user") or {}).get("id")
        if not user_id:
            return
        ticked = any(o.get("value") == TELL_ME for o in action.get("selected_options") or [])
        self.bot.askers.set_opted_out(user_id, not ticked)
        self.bot.background.start(self.bot.publish_home(client, user_id), body)

    def _set(self, client: AsyncWebClient, body: dict, **values) -> None:
        user_id = (body.get("user") or {}).get("id")
        if not user_id:
            return
        self.bot.log.set_user_setting(user_id, **values)
        self.bot.background.start(self.bot.publish_home(client, user_id), body)
