"""Shortcuts: "Count units" and "Ask billing-bot" on any message (answered privately, through the
shortcut's `response_url`: the bot never reads channel history, so no new scope), and the global
"Units calculator" (the form)."""

from __future__ import annotations

import re
import time

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack import blocks
from bot.slack.blocks import context_block, echo
from bot.slack.bot import SlackBot, clip
from bot.slack.listeners import form
from bot.slack.listeners.sharing import answer_for, offer_share

COUNT_UNITS, ASK_BILLING_BOT, UNITS_CALCULATOR = "count_units", "ask_billing_bot", "units_calculator"
MAX_TEXT = 4000  # characters read from a message: a day's notes fit; Slack allows 40,000
_USER_ID = re.compile(r"[UW][A-Z0-9]{1,20}")

NO_TEXT = "That message has no text I can read (a file or an image?). Type the minutes and codes in `/units`, e.g. `/units 40 min 97140`."
BOT_MESSAGE = "That's a bot's message, so I leave it alone. Ask me with `/units` instead, e.g. `/units 40 min 97140`."
TOO_LONG = "That message is too long for me ({n:,} characters; I read up to {limit:,}). Paste the part with the minutes and codes into `/units`."
NOTHING_TO_COUNT = "I found no minutes or codes in that message. For a question, use *Ask billing-bot* instead."


def register(app: AsyncApp, bot: SlackBot) -> None:
    shortcuts = Shortcuts(bot)
    app.message_shortcut(COUNT_UNITS)(shortcuts.count_units)
    app.message_shortcut(ASK_BILLING_BOT)(shortcuts.ask_billing_bot)
    app.global_shortcut(UNITS_CALCULATOR)(shortcuts.units_calculator)


def refusal(message: dict) -> str | None:
    """Why a message can't be answered (no text, a bot's, too long), or None."""
    text = message.get("text") or ""
    if message.get("bot_id") or message.get("subtype") == "bot_message":
        return BOT_MESSAGE
    if not text.strip():
        return NO_TEXT
    if len(text) > MAX_TEXT:
        return TOO_LONG.format(n=len(text), limit=MAX_TEXT)
    return None


class Shortcuts:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def count_units(self, ack, body: dict, respond):
        await ack()
        self._answer(body, respond, "count")

    async def ask_billing_bot(self, ack, body: dict, respond):
        await ack()
        self._answer(body, respond, "ask")

    def _answer(self, body: dict, respond, mode: str) -> None:
        if respond is None or not body.get("response_url"):  # Slack always sends one; nowhere to answer otherwise
            return
        self.bot.background.start(respond(**self.private_answer(body, mode)), body)

    async def units_calculator(self, ack, body: dict, client: AsyncWebClient):
        await ack()
        user_id = (body.get("user") or {}).get("id")
        form.open_form(self.bot, client, body, user_id=user_id, channel_id=None)

    def private_answer(self, body: dict, mode: str) -> dict:
        """The shortcut's private answer: the message's text answered (mode "ask") or its units
        worked out ("count"), headed by whose message it was; a short note for what can't be."""
        message = body.get("message") or {}
        user_id = (body.get("user") or {}).get("id")
        channel_id = (body.get("channel") or {}).get("id")
        why_not = refusal(message)
        if why_not:
            return {"response_type": "ephemeral", **blocks.notice(why_not)}
        text = message["text"]
        started = time.perf_counter()
        answer = answer_for(self.bot, mode, text, user_id, channel_id)
        if answer is None:
            return {"response_type": "ephemeral", **blocks.notice(NOTHING_TO_COUNT)}
        team_id = (body.get("team") or {}).get("id")
        query_id = self.bot.log_answer(
            answer, surface="shortcut", started=started, team_id=team_id, channel_id=channel_id, user_id=user_id
        )
        msg = blocks.message(answer, query_id=query_id)
        author = message.get("user") or ""
        whose = f"<@{author}>'s message" if _USER_ID.fullmatch(author) else "a message"
        verb = "Units in" if mode == "count" else "Asked from"
        msg["blocks"] = [context_block([f"{verb} {whose}: {echo(clip(text, 300))}"]), *msg["blocks"]][: blocks.MAX_BLOCKS]
        return {"response_type": "ephemeral", "replace_original": False, **offer_share(msg, mode=mode, text=text)}
