"""Button clicks and menus: feedback on an answer, and the review desk's actions (each checked
by ReviewDesk on the server side, and audited)."""

from __future__ import annotations

import json
import logging

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks, desk_blocks
from bot.slack.bot import SlackBot, clip

log = logging.getLogger("bot.slack.app")


def register(app: AsyncApp, bot: SlackBot) -> None:
    actions = Actions(bot)
    app.action(blocks.FEEDBACK_ACTION)(actions.feedback)
    app.action(desk_blocks.REVIEW_LINK)(actions.review_link)
    app.options(desk_blocks.REVIEW_LINK)(actions.entry_options)
    app.action(desk_blocks.REVIEW_APPROVE)(actions.review_approve)
    app.action(desk_blocks.REVIEW_DISMISS)(actions.review_dismiss)
    app.action(desk_blocks.REVIEW_REFRESH)(actions.review_refresh)
    app.action(desk_blocks.REVIEW_DRAFT)(actions.review_draft)


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

    async def review_link(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        query_id = action.get("block_id", "").removeprefix("review:")
        entry_id = (action.get("selected_option") or {}).get("value", "")
        self.bot.review(client, body, self.bot.desk.link, query_id, entry_id)

    async def review_approve(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.bot.review(client, body, self.bot.desk.approve, action.get("value", ""))

    async def review_dismiss(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.bot.review(client, body, self.bot.desk.dismiss, action.get("value", ""))

    async def review_refresh(self, ack, body: dict, client: AsyncWebClient):
        await ack()
        user_id = body["user"]["id"]
        if self.bot.desk.is_reviewer(user_id):
            self.bot.background.start(self.bot.publish_home(client, user_id, reload=True), body)

    async def entry_options(self, ack, payload: dict, body: dict):
        """The "Link to entry" picker: entries ranked by what the reviewer typed (up to 100)."""
        if not self.bot.desk.is_reviewer((body.get("user") or {}).get("id")):
            await ack(options=[])
            return
        from rapidfuzz import fuzz, process

        entries = {e.id: e for e in self.bot.answerer.matcher.entries}
        typed = (payload.get("value") or "").strip()
        if typed:
            choices = {entry_id: f"{entry_id} {e.question}" for entry_id, e in entries.items()}
            ids = [m[2] for m in process.extract(typed, choices, scorer=fuzz.WRatio, limit=25)]
        else:
            ids = sorted(entries)[:100]
        await ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": clip(entries[i].question, 75)},
                    "description": {"type": "plain_text", "text": clip(i, 75)},
                    "value": i,
                }
                for i in ids
            ]
        )

    async def review_draft(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """ "Draft new entry": the modal, prefilled with the logged question."""
        await ack()
        user_id = body["user"]["id"]
        try:
            seed = json.loads(action.get("value") or "{}")
        except ValueError:
            seed = {}
        if not self.bot.desk.is_reviewer(user_id):
            self.bot.log.record_action(user_id, "draft", seed.get("q") or None, False, "not a reviewer")
            log.warning("refused a review action from %s (not a reviewer)", user_id)
            return
        view = desk_blocks.draft_entry_modal(query_id=str(seed.get("q") or ""), question=str(seed.get("t") or ""))
        self.bot.background.start(client.views_open(trigger_id=body["trigger_id"], view=view), body)
