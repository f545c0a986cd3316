"""Events: mentions (answered in a thread), DMs (answered in the DM), the Home tab opening."""

from __future__ import annotations

import logging

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.slack.bot import SlackBot
from bot.storage.querylog import QueryLog

log = logging.getLogger("bot.slack.app")

# Message subtypes that are a person writing to the bot; every other subtype (edits, deletions,
# joins, bot posts) is acknowledged and dropped, so Slack does not retry it.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")


def register(app: AsyncApp, bot: SlackBot) -> None:
    events = Events(bot)
    middleware = [SkipBotsAndRedeliveries(bot.log)]
    app.event("app_mention", middleware=middleware)(events.app_mention)
    app.event("message", middleware=middleware)(events.message)
    app.event("app_home_opened", middleware=middleware)(events.app_home_opened)


class SkipBotsAndRedeliveries(AsyncMiddleware):
    """Drop other bots' messages (Bolt drops our own) and Slack's re-deliveries of an event already
    seen (`X-Slack-Retry-Num`, either mode): acknowledged, so Slack stops retrying, never answered twice.

    Attached to the event listeners only, so slash commands and button clicks don't pay for it;
    a middleware class rather than a function, as Bolt's keyword injection for function
    middleware costs more than the check itself."""

    def __init__(self, querylog: QueryLog):
        self.log = querylog

    async def async_process(self, *, req, resp, next):
        body = req.body
        if body.get("type") == "event_callback":
            event = body.get("event") or {}
            if event.get("bot_id") or event.get("subtype") == "bot_message":
                return BoltResponse(status=200, body="")
            event_id = body.get("event_id")
            if event_id and self.log.seen_before(event_id):
                log.info("ignored a re-delivered event %s", event_id)
                return BoltResponse(status=200, body="")
        return await next()


class Events:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    async def app_mention(self, event: dict, body: dict, client: AsyncWebClient):
        """A mention in a channel: answered in the thread (a new one from the mention, or its own)."""
        if event.get("channel", "").startswith("D"):
            return  # direct messages are answered by `message`, once
        self.bot.post_reply(event, body, client, surface="mention", thread_ts=event.get("thread_ts") or event["ts"])

    async def message(self, event: dict, body: dict, client: AsyncWebClient):
        """DMs are answered in the DM (in its thread if the user wrote in one). Every other message
        event, any subtype, lands here too and is acknowledged silently: unhandled -> 404 -> retries."""
        if event.get("channel_type") != "im" or event.get("subtype") not in _PERSON_SUBTYPES:
            return
        self.bot.post_reply(event, body, client, surface="dm", thread_ts=event.get("thread_ts"))

    async def app_home_opened(self, event: dict, body: dict, client: AsyncWebClient):
        if event.get("tab", "home") != "home":
            return
        self.bot.background.start(self.bot.publish_home(client, event["user"]), body)
