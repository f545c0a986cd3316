"""The Slack adapter: `build_app(settings, client, answerer=..., log=...) -> AsyncApp`.

Listeners (bot/slack/listeners/, one module per surface) only translate: payload -> `Answerer`
-> `bot.slack.blocks` -> ack / chat.postMessage, and queue a record in the `QueryLog` (which
never blocks). Two rules keep Slack's 3-second ack:

* The app runs with `process_before_response=True`, so a slash command's answer goes back in
  the ack body itself (no `response_url` round trip, and no 10 ms ack polling in Bolt's runner).
* Nothing awaits the Web API before the ack: replies to events, modals and Home tab publishes
  run in `Background` tasks, which shutdown waits for before the query log is closed.

There is no module-level app: constructing one needs settings, and tests inject a client
pointed at a local fake Web API.
"""

from __future__ import annotations

import json
import os

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core.answer import Answerer
from bot.slack import listeners
from bot.slack.background import Background
from bot.slack.bot import SlackBot
from bot.slack.listeners.commands import COMMAND
from bot.storage.conversations import Conversations
from bot.storage.querylog import QueryLog
from bot.storage.review import ReviewDesk

__all__ = ["COMMAND", "Background", "build_app", "make_client"]

_SORRY = "Sorry, something went wrong on my side and I couldn't answer. It has been logged; please try again."


def make_client(settings: Settings) -> AsyncWebClient:
    """The Web API client: `SLACK_API_URL` honoured, retries for 429s, dropped connections and 5xx."""
    return AsyncWebClient(
        token=settings.slack_bot_token,
        base_url=settings.slack_api_url,
        retry_handlers=[
            AsyncConnectionErrorRetryHandler(max_retry_count=2),
            AsyncRateLimitErrorRetryHandler(max_retry_count=2),  # sleeps Retry-After, off the ack path
            AsyncServerErrorRetryHandler(max_retry_count=1),
        ],
    )


def build_app(
    settings: Settings,
    client: AsyncWebClient,
    *,
    answerer: Answerer,
    log: QueryLog,
    background: Background | None = None,
    desk=None,
    conversations: Conversations | None = None,
) -> AsyncApp:
    """Register every listener on a new AsyncApp.

    :param client: the Web API client (see `make_client`); tests point it at a local fake.
    :param background: where post-ack work runs; pass your own to `drain()` it on shutdown.
    :param desk: a `bot.storage.review.ReviewDesk`; built from `log` and `settings.reviewers` when omitted.
    :param conversations: follow-up state of DMs and threads; kept in `log`'s SQLite file when omitted.
    """
    app = AsyncApp(
        client=client,
        # Without a secret, HTTP requests must never verify: an empty HMAC key is forgeable. Socket
        # Mode skips verification, so it needs none.
        signing_secret=settings.slack_signing_secret or os.urandom(32).hex(),
        process_before_response=True,
        name="billing-bot",
    )
    bot = SlackBot(settings, answerer, log, background or Background())
    bot.conversations = conversations or Conversations(log, store_text=settings.store_text)
    bot.desk = desk or ReviewDesk(
        log,
        settings.reviewers,
        on_change=bot.overlay_changed,
        entry_ids=lambda: bot.entry_ids,
        normalise=bot.normalised,
        suggest=bot.suggest,
        lookup=bot.lookup,
    )
    bot.overlay_changed()  # links and approved drafts from earlier runs: applied before the first answer
    listeners.register(app, bot)

    @app.error
    async def on_error(error: Exception, body: dict) -> BoltResponse:
        """The one error handler. Slack still gets a 200 (a retry would fail the same way); a
        slash command also gets an apology in place of the answer."""
        await bot.report(error, body)
        if body.get("command"):
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": _SORRY}),
                headers={"content-type": "application/json"},
            )
        return BoltResponse(status=200, body="")

    app.billing_bot = bot  # type: ignore[attr-defined]  # serve.py drains bot.background
    return app
