"""Slack request bodies and signatures, shaped like the ones Slack sends (see SLACK-NOTES §1.3).

Each builder returns `(body, content_type)`: the raw string is what gets signed, byte for byte.
"""

from __future__ import annotations

import itertools
import json
import time
from urllib.parse import quote, urlencode

from slack_sdk.signature import SignatureVerifier

SECRET = "test-signing-secret"
TEAM, BOT_USER, BOT_ID, APP_ID = "T111", "UBOT", "BBOT", "A111"
FORM, JSON = "application/x-www-form-urlencoded", "application/json"
_ids = itertools.count(1)


def signed_headers(body: str, *, secret: str = SECRET, ts: int | None = None, **extra: str) -> dict[str, str]:
    """Headers as Slack signs them: v0=HMAC-SHA256(secret, 'v0:{ts}:{body}')."""
    ts_text = str(int(time.time()) if ts is None else ts)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts_text, body=body)
    return {"X-Slack-Request-Timestamp": ts_text, "X-Slack-Signature": signature, **extra}


def slash(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    response_url: str = "http://127.0.0.1:9/unused",
    command: str = "/units",
) -> tuple[str, str]:
    return urlencode(
        {
            "token": "legacy",
            "team_id": TEAM,
            "team_domain": "t",
            "channel_id": channel,
            "channel_name": "billing",
            "user_id": user,
            "user_name": "someone",
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "response_url": response_url,
            "trigger_id": f"trig.{next(_ids)}",
        }
    ), FORM


def event(inner: dict, *, event_id: str | None = None) -> tuple[str, str]:
    return json.dumps(
        {
            "token": "legacy",
            "team_id": TEAM,
            "api_app_id": APP_ID,
            "type": "event_callback",
            "event_id": event_id or f"Ev{next(_ids):08d}",
            "event_time": int(time.time()),
            "authorizations": [{"team_id": TEAM, "user_id": BOT_USER, "is_bot": True}],
            "event": inner,
        }
    ), JSON


def mention(
    text: str,
    *,
    user: str = "U1",
    channel: str = "C1",
    ts: str = "1700000000.000100",
    thread_ts: str | None = None,
    event_id: str | None = None,
) -> tuple[str, str]:
    inner = {
        "type": "app_mention",
        "user": user,
        "text": f"<@{BOT_USER}> {text}",
        "ts": ts,
        "channel": channel,
        "event_ts": ts,
    }
    if thread_ts:
        inner["thread_ts"] = thread_ts
    return event(inner, event_id=event_id)


def dm(
    text: str,
    *,
    user: str = "U1",
    channel: str = "D1",
    subtype: str | None = None,
    bot_id: str | None = None,
    event_id: str | None = None,
) -> tuple[str, str]:
    inner = {
        "type": "message",
        "channel_type": "im",
        "user": user,
        "text": text,
        "ts": "1700000000.000200",
        "channel": channel,
        "event_ts": "1700000000.000200",
    }
    if subtype:
        inner["subtype"] = subtype
    if bot_id:
        inner["bot_id"] = bot_id
    return event(inner, event_id=event_id)


def home_opened(user: str = "U1", tab: str = "home") -> tuple[str, str]:
    return event(
        {
            "type": "app_home_opened",
            "user": user,
            "channel": "D1",
            "tab": tab,
            "event_ts": "1700000000.000300",
        }
    )


def url_verification(
    challenge: str = "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
) -> tuple[str, str]:
    return json.dumps({"token": "legacy", "challenge": challenge, "type": "url_verification"}), JSON


def _interactive(payload: dict) -> tuple[str, str]:
    return "payload=" + quote(json.dumps(payload)), FORM


def block_actions(
    action: dict,
    *,
    user: str = "U1",
    response_url: str = "http://127.0.0.1:9/unused",
    container: dict | None = None,
    view: dict | None = None,
) -> tuple[str, str]:
    payload = {
        "type": "block_actions",
        "user": {"id": user, "username": "someone", "team_id": TEAM},
        "api_app_id": APP_ID,
        "token": "legacy",
        "team": {"id": TEAM, "domain": "t"},
        "container": container
        or {"type": "message", "message_ts": "1700000000.000400", "channel_id": "C1", "is_ephemeral": True},
        "trigger_id": f"trig.{next(_ids)}",
        "channel": {"id": "C1", "name": "billing"},
        "response_url": response_url,
        "actions": [{"action_ts": str(time.time()), **action}],
    }
    if view is not None:
        payload["view"] = view
    return _interactive(payload)


def feedback_click(value: str, **kw) -> tuple[str, str]:
    block_id = "feedback:" + value.partition(":")[2]
    return block_actions(
        {"type": "feedback_buttons", "action_id": "answer_feedback", "block_id": block_id, "value": value},
        **kw,
    )


def button(action_id: str, value: str, *, user: str = "U1", block_id: str = "b") -> tuple[str, str]:
    home = {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "state": {"values": {}}}
    return block_actions(
        {"type": "button", "action_id": action_id, "block_id": block_id, "value": value},
        user=user,
        container={"type": "view", "view_id": "VHOME"},
        view=home,
    )


def external_select(action_id: str, block_id: str, value: str, *, user: str = "U1") -> tuple[str, str]:
    home = {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "state": {"values": {}}}
    return block_actions(
        {
            "type": "external_select",
            "action_id": action_id,
            "block_id": block_id,
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        },
        user=user,
        container={"type": "view", "view_id": "VHOME"},
        view=home,
    )


def block_suggestion(action_id: str, block_id: str, value: str, *, user: str = "U1") -> tuple[str, str]:
    return _interactive(
        {
            "type": "block_suggestion",
            "user": {"id": user, "team_id": TEAM},
            "team": {"id": TEAM},
            "api_app_id": APP_ID,
            "token": "legacy",
            "action_id": action_id,
            "block_id": block_id,
            "value": value,
            "container": {"type": "view", "view_id": "VHOME"},
            "view": {"id": "VHOME", "type": "home"},
        }
    )


def view_submission(
    callback_id: str, values: dict, *, private_metadata: str = "", user: str = "U1"
) -> tuple[str, str]:
    """`values`: {block_id: {action_id: value}}; a str is a text input, a dict an option pick."""
    state = {}
    for block_id, actions in values.items():
        state[block_id] = {}
        for action_id, value in actions.items():
            if isinstance(value, dict):
                state[block_id][action_id] = {"type": "static_select", "selected_option": value}
            else:
                state[block_id][action_id] = {"type": "plain_text_input", "value": value}
    return _interactive(
        {
            "type": "view_submission",
            "team": {"id": TEAM, "domain": "t"},
            "user": {"id": user, "team_id": TEAM},
            "api_app_id": APP_ID,
            "token": "legacy",
            "trigger_id": f"trig.{next(_ids)}",
            "view": {
                "id": "VMODAL",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": private_metadata,
                "state": {"values": state},
                "hash": "h",
            },
        }
    )


def message_action(
    callback_id: str,
    message: dict,
    *,
    user: str = "U1",
    channel: str = "C1",
    response_url: str = "http://127.0.0.1:9/unused",
) -> tuple[str, str]:
    """A message shortcut as Slack sends it: the message it was used on comes with the click."""
    return _interactive(
        {
            "type": "message_action",
            "token": "legacy",
            "action_ts": str(time.time()),
            "team": {"id": TEAM, "domain": "t"},
            "user": {"id": user, "username": "someone", "team_id": TEAM, "name": "someone"},
            "channel": {"id": channel, "name": "billing"},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": f"trig.{next(_ids)}",
            "response_url": response_url,
            "message_ts": message.get("ts", "1700000000.000700"),
            "message": {"type": "message", "ts": "1700000000.000700", **message},
        }
    )


def global_shortcut(callback_id: str, *, user: str = "U1") -> tuple[str, str]:
    return _interactive(
        {
            "type": "shortcut",
            "token": "legacy",
            "action_ts": str(time.time()),
            "team": {"id": TEAM, "domain": "t"},
            "user": {"id": user, "username": "someone", "team_id": TEAM},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": f"trig.{next(_ids)}",
        }
    )


def home_select(action_id: str, value: str, *, user: str = "U1") -> tuple[str, str]:
    """A static select changed on the Home tab."""
    home = {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "state": {"values": {}}}
    return block_actions(
        {
            "type": "static_select",
            "action_id": action_id,
            "block_id": "settings",
            "selected_option": {"text": {"type": "plain_text", "text": value}, "value": value},
        },
        user=user,
        container={"type": "view", "view_id": "VHOME"},
        view=home,
    )


def message_button(action_id: str, value: str, *, user: str = "U1", response_url: str) -> tuple[str, str]:
    """A button on an ephemeral message (no copy of the message comes with it)."""
    return block_actions(
        {"type": "button", "action_id": action_id, "block_id": "share", "value": value},
        user=user,
        response_url=response_url,
    )


def member_joined(user: str, *, channel: str = "C1", event_id: str | None = None) -> tuple[str, str]:
    return event(
        {
            "type": "member_joined_channel",
            "user": user,
            "channel": channel,
            "channel_type": "C",
            "team": TEAM,
            "inviter": "U1",
            "event_ts": "1700000000.000800",
        },
        event_id=event_id,
    )
