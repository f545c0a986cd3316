"""Telling the asker in Slack (issue #13): after a review action, everyone whose question now has
an entry gets its answer once, where they asked (the thread, or the DM; a DM for /units, whose
answer was ephemeral). `bot.storage.askers` decides who; this posts."""

from __future__ import annotations

import asyncio
import logging

from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answer import escape
from bot.slack import blocks
from bot.storage.askers import Tell

log = logging.getLogger("bot.slack.app")


def tell_message(tell: Tell, answer) -> dict:
    """The follow-up: what they asked (as logged, redacted), then the entry's answer."""
    when = tell.asked_at[:10]
    asked = f" “{escape(tell.text)}”" if tell.text else ""
    intro = f":bell: You asked{asked} on {when}. A reviewer has found the answer:"
    msg = blocks.message(answer)
    footer = blocks.context_block(["You get these once per question. Turn them off in my *Home* tab."])
    return {
        "text": f"A reviewer answered a question you asked on {when}.",
        "blocks": [blocks.section_block(intro, verbatim=False), *msg["blocks"][: blocks.MAX_BLOCKS - 2], footer],
    }


async def tell_askers(bot, client: AsyncWebClient) -> int:
    """Post each pending answer once; returns how many were posted. Runs after the ack."""
    pending = await asyncio.to_thread(bot.askers.pending)
    if not pending:
        return 0
    if bot.overlay_pending:
        bot.apply_overlay()  # an entry approved a moment ago must answer
    posted = 0
    for tell in pending:
        if bot.askers.opted_out(tell.user_id) or not bot.askers.claim(tell):
            continue
        answer = bot.answerer.answer_entry(tell.entry_id)
        try:
            if answer is not None and (tell.user_id or tell.channel_id):
                channel = tell.user_id if tell.in_dm else tell.channel_id
                await client.chat_postMessage(channel=channel, thread_ts=tell.thread, **tell_message(tell, answer))
                posted += 1
        except Exception as exc:
            log.warning("could not tell the asker of %s: %s", tell.query_id, exc)
        bot.askers.told(tell)  # at most once, even when posting failed
    return posted
