"""Modal submissions: the reason for a "Not helpful". (The desk's modals: listeners/desk.py.)"""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.slack import blocks
from bot.slack.bot import SlackBot


def register(app: AsyncApp, bot: SlackBot) -> None:
    views = Views(bot)
    app.view(blocks.FEEDBACK_REASON_VIEW)(views.feedback_reason)


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
