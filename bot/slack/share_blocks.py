"""The "Share in channel" button on private answers (`/units`, the message shortcuts) and the
visible message it becomes.

Slack's block_actions payload for an ephemeral message carries no copy of that message, so the
button carries what is needed to answer again: the question, the rule and state used, and the
query id (feedback on the shared copy counts for the original question)."""

from __future__ import annotations

import json

import orjson

from bot.slack.blocks import button, context_block

SHARE_ACTION = "share_answer"
_VALUE_LIMIT = 2000  # Slack's limit on a button's value


def share_value(*, mode: str, text: str, query_id: str) -> str | None:
    """The button's value, or None when the question is too long to carry (no button then)."""
    data = {"m": mode, "t": text, "q": query_id}
    try:  # every /units answer carries one: orjson writes what json.dumps below would, ~10x faster
        value = orjson.dumps(data).decode()
    except TypeError:  # a lone surrogate, which orjson refuses
        value = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    # JSON escapes for <, > and &: the same value back, and no raw "<!channel>" anywhere in a payload
    value = value.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return value if len(value) <= _VALUE_LIMIT else None


def parse_share_value(value: str | None) -> dict | None:
    """The button's value back as a dict, or None if it isn't one of ours (a forged click)."""
    try:
        data = json.loads(value or "")
    except ValueError:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("t"), str) or data.get("m") not in ("ask", "count"):
        return None
    return data


def with_share_button(msg: dict, value: str | None) -> dict:
    """`msg` (text + blocks) with a "Share in channel" button above its feedback buttons."""
    if value is None:
        return msg
    share = {"type": "actions", "block_id": "share", "elements": [button("Share in channel", SHARE_ACTION, value)]}
    blocks = list(msg["blocks"])
    at = len(blocks) - 1 if blocks and blocks[-1]["type"] == "context_actions" else len(blocks)
    if len(blocks) >= 50:  # keep within a message's 50 blocks: the share button replaces the last text block
        del blocks[at - 2]
        at -= 1
    blocks.insert(at, share)
    return {**msg, "blocks": blocks}


def shared_header(user_id: str, asked: str) -> dict:
    """Who shared it and what was asked (already escaped), above the answer in the channel."""
    return context_block([f"<@{user_id}> shared billing-bot's answer to: {asked}"])
