"""Private answers (`/units`, the message shortcuts) and their "Share in channel" button: a click
answers the question again under the same settings and posts it visibly through the click's
`response_url`, deleting the private copy, with who shared it."""

from __future__ import annotations

import logging
import time

from slack_bolt.async_app import AsyncApp

from bot.slack import blocks
from bot.slack.blocks import echo
from bot.slack.bot import SlackBot, clip
from bot.slack.share_blocks import (
    SHARE_ACTION,
    parse_share_value,
    share_value,
    shared_header,
    with_share_button,
)

log = logging.getLogger("bot.slack.app")


def register(app: AsyncApp, bot: SlackBot) -> None:
    app.action(SHARE_ACTION)(Sharing(bot).share)


def query_id_of(msg: dict) -> str | None:
    """The query id an answer's feedback buttons carry; answers without them (help) aren't shared."""
    for block in msg.get("blocks", ()):
        if block.get("type") == "context_actions" and block.get("block_id", "").startswith("feedback:"):
            return block["block_id"].removeprefix("feedback:")
    return None


def offer_share(msg: dict, *, mode: str, text: str) -> dict:
    """Add the "Share in channel" button to a private answer (mode "ask" or "count")."""
    query_id = query_id_of(msg)
    if query_id is None:
        return msg
    return with_share_button(msg, share_value(mode=mode, text=text, query_id=query_id))


def answer_for(bot: SlackBot, mode: str, text: str, user_id: str | None, channel_id: str | None, *, shared=False):
    """Answer `text` as the message shortcuts and /units do, with this person's and channel's
    defaults; None for "count" when the text names no minutes or codes."""
    choice = bot.rule_choice(user_id, channel_id)
    if bot.overlay_pending:
        bot.apply_overlay()
    if mode == "count":
        return bot.answerer.count(text, rule=choice.name, rule_from=choice.label(shared=shared))
    return bot.answerer.answer(
        text, rule=choice.name, rule_from=choice.label(shared=shared), home_state=bot.user_state(user_id)
    )


class Sharing:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def share(self, ack, action: dict, body: dict, respond):
        await ack()
        data = parse_share_value(action.get("value"))
        user_id = (body.get("user") or {}).get("id")
        channel_id = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get("channel_id")
        if data is None or not user_id or not body.get("response_url"):
            log.warning("ignored a share click with an unreadable value")
            return
        started = time.perf_counter()
        answer = answer_for(self.bot, data["m"], data["t"], user_id, channel_id, shared=True)
        if answer is None:
            return
        msg = blocks.message(answer, query_id=str(data.get("q") or "")[:40] or None)
        msg["blocks"] = [shared_header(user_id, echo(clip(data["t"], 300))), *msg["blocks"]][: blocks.MAX_BLOCKS]
        log.info("shared an answer in %s (%.1f ms)", channel_id, (time.perf_counter() - started) * 1000)
        # One call: the private copy goes, the visible one appears where it was.
        self.bot.background.start(respond(response_type="in_channel", delete_original=True, **msg), body)
