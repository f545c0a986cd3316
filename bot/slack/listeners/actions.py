"""Button clicks: feedback on an answer. (The review desk's and the "did you mean" buttons
are in listeners/desk.py.)"""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.slack.bot import SlackBot

log = logging.getLogger("bot.slack.app")


def register(app: AsyncApp, bot: SlackBot) -> None:
    actions = Actions(bot)
    app.action(blocks.FEEDBACK_ACTION)(actions.feedback)


class Actions:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def feedback(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """Helpful / Not helpful: recorded at once; Not helpful then asks why, in a small modal."""
        await ack()
        vote, _, query_id = (action.get("value") or "").partition(":")
        user_id = (body.get("user") or {}).get("id", "")
        if vote not in ("up", "down") or not query_id:
            log.warning("ignored a feedback click with value %r", action.get("value"))
            return
        self.bot.log.record_feedback(query_id, user_id, vote == "up")
        if vote == "down" and body.get("trigger_id"):
            self.bot.background.start(
                client.views_open(trigger_id=body["trigger_id"], view=blocks.feedback_reason_modal(query_id)),
                body,
            )
