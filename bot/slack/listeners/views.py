"""Modal submissions: the reason for a "Not helpful", and a reviewer's draft entry."""

from __future__ import annotations

import asyncio
import re

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answer import escape
from bot.slack import blocks, desk_blocks
from bot.slack.bot import SlackBot, clip


def register(app: AsyncApp, bot: SlackBot) -> None:
    views = Views(bot)
    app.view(blocks.FEEDBACK_REASON_VIEW)(views.feedback_reason)
    app.view(desk_blocks.DRAFT_VIEW)(views.review_draft_submit)


class Views:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def feedback_reason(self, ack, view: dict, body: dict):
        await ack()
        values = view["state"]["values"]
        reason = ((values.get("reason", {}).get("reason") or {}).get("selected_option") or {}).get(
            "value"
        ) or "other"
        note = ((values.get("note", {}).get("note") or {}).get("value") or "").strip()
        self.bot.log.record_feedback(
            view.get("private_metadata", ""),
            body["user"]["id"],
            False,
            f"{reason}: {note}" if note else reason,
        )

    async def review_draft_submit(self, ack, view: dict, body: dict, client: AsyncWebClient):
        """Save the draft (ReviewDesk validates it as a knowledge-base entry) or show what's wrong."""
        bot = self.bot
        user_id = body["user"]["id"]
        values = {
            block: next(iter(v.values())).get("value") or "" for block, v in view["state"]["values"].items()
        }
        sources = [line.strip() for line in values.get("sources", "").splitlines() if line.strip()]
        errors = {}
        if not any("https://" in s or "http://" in s for s in sources):
            errors["sources"] = "Add at least one source with its https:// link."
        codes = [c for c in re.split(r"[\s,;]+", values.get("codes", "")) if c]
        unknown = [c for c in codes if c not in bot.answerer.codes.known]
        if unknown:
            errors["codes"] = f"Not in the code table: {', '.join(unknown)}."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        if bot.overlay_pending or not bot.entry_ids:
            bot.apply_overlay(ids=True)  # draft ids must not collide with entry ids
        # The answer is reviewer-typed text posted as mrkdwn later: escape it, so it can't ping.
        result = await asyncio.to_thread(
            bot.desk.draft,
            user_id,
            values.get("question", ""),
            escape(values.get("answer", "")),
            codes,
            sources,
            query_id=view.get("private_metadata") or None,
        )
        if not result.ok and bot.desk.is_reviewer(user_id):
            await ack(response_action="errors", errors={"answer": clip(result.message, 150)})
            return
        await ack()
        if bot.desk.is_reviewer(user_id):
            bot.background.start(bot.publish_home(client, user_id, notice=result.message), body)
