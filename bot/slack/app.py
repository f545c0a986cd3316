"""The Slack adapter: `build_app(settings, client, answerer=..., log=...) -> AsyncApp`.

Listeners only translate: payload -> `Answerer` -> `bot.render` -> ack / chat.postMessage, and
queue a record in the `QueryLog` (which never blocks). Two rules keep Slack's 3-second ack:

* The app runs with `process_before_response=True`, so a slash command's answer goes back in
  the ack body itself (no `response_url` round trip, and no 10 ms ack polling in Bolt's runner).
* Nothing awaits the Web API before the ack: replies to events, modals and Home tab publishes
  run in `Background` tasks, which shutdown waits for before the query log is closed.

There is no module-level app: constructing one needs settings, and tests inject a client
pointed at a local fake Web API.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import time
from collections.abc import Awaitable, Callable, Coroutine

from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.response import BoltResponse
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient

from bot import render
from bot.core.answer import HELP_EXAMPLES, Answerer
from bot.config import Settings
from bot.core.model import Answer
from bot.storage.conversations import Conversations, slack_key
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id
from bot.storage.review import ReviewDesk

log = logging.getLogger(__name__)

COMMAND = "/units"
# Message subtypes that are a person writing to the bot; every other subtype (edits, deletions,
# joins, bot posts) is acknowledged and dropped, so Slack does not retry it.
_PERSON_SUBTYPES = (None, "file_share", "thread_broadcast")
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


class Background:
    """Web API calls started after the ack, tracked so shutdown can wait for them (`drain`).

    A failure goes to the same reporter as `@app.error`, not to a scattered try/except."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.on_error: Callable[[BaseException, dict], Awaitable[None]] | None = None

    def start(self, coro: Coroutine, body: dict | None = None) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, body or {}))

    def _done(self, task: asyncio.Task, body: dict) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if self.on_error is not None:
            asyncio.ensure_future(self.on_error(task.exception(), body))
        else:
            log.error("background Slack call failed", exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait for the calls in flight (and any they start); False if some were still running."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True


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
    bot = _Listeners(settings, answerer, log, background or Background())
    bot.conversations = conversations or Conversations(log, store_text=settings.store_text)
    bot.desk = desk or ReviewDesk(
        log, settings.reviewers, on_change=bot.overlay_changed, entry_ids=lambda: bot.entry_ids
    )
    bot.overlay_changed()  # links and approved drafts from earlier runs: applied before the first answer
    bot.register(app)
    app.billing_bot = bot  # type: ignore[attr-defined]  # serve.py drains bot.background
    return app


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


class _Listeners:
    """The listeners, sharing the answerer, the log and the background tasks."""

    def __init__(self, settings: Settings, answerer: Answerer, querylog: QueryLog, background: Background):
        self.settings = settings
        self.answerer = answerer
        self.log = querylog
        self.background = background
        self.desk: ReviewDesk | None = None
        self.conversations: Conversations | None = None
        self.entry_ids: frozenset[str] = frozenset()
        self._overlay_changed = False
        background.on_error = self.report

    def register(self, app: AsyncApp) -> None:
        events = [SkipBotsAndRedeliveries(self.log)]
        app.command(COMMAND)(self.units_command)
        app.event("app_mention", middleware=events)(self.app_mention)
        app.event("message", middleware=events)(self.message)
        app.event("app_home_opened", middleware=events)(self.app_home_opened)
        app.action(render.FEEDBACK_ACTION)(self.feedback)
        app.view(render.FEEDBACK_REASON_VIEW)(self.feedback_reason)
        app.action(render.REVIEW_LINK)(self.review_link)
        app.options(render.REVIEW_LINK)(self.entry_options)
        app.action(render.REVIEW_APPROVE)(self.review_approve)
        app.action(render.REVIEW_DISMISS)(self.review_dismiss)
        app.action(render.REVIEW_REFRESH)(self.review_refresh)
        app.action(render.REVIEW_DRAFT)(self.review_draft)
        app.view(render.DRAFT_VIEW)(self.review_draft_submit)
        app.error(self.on_error)

    # -- answering ------------------------------------------------------------------------------------
    def channel_rule(self, channel_id: str | None) -> str | None:
        """The channel's stored default rule, if it still exists in the rule book."""
        name = self.log.channel_rule(channel_id) if channel_id else None
        return name if name and self.answerer.rules.get(name) else None

    def rule_title(self, channel_id: str | None) -> str:
        return self.answerer.resolve_rule(self.channel_rule(channel_id)).title

    def usage(self, channel_id: str | None, where: str) -> list[dict]:
        profiles = [n for n in self.answerer.rules.names() if n not in ("cms", "ama")]
        return render.usage_blocks(
            rule_title=self.rule_title(channel_id), profiles=profiles, examples=HELP_EXAMPLES, where=where
        )

    def reply(
        self,
        text: str,
        *,
        surface: str,
        team_id: str | None,
        channel_id: str | None,
        user_id: str | None,
        asked: str | None = None,
        conversation: str | None = None,
    ) -> dict:
        """Answer one message and log it: returns `text` + `blocks` ready for Slack.

        :param conversation: the DM or thread's key: the message may follow up its last units question."""
        started = time.perf_counter()
        if self._overlay_changed:
            self.apply_overlay()
        previous = self.conversations.get(conversation) if conversation else None
        answer: Answer = self.answerer.answer(
            text, rule=self.channel_rule(channel_id), previous=previous, conversation=conversation is not None
        )
        if conversation and answer.state is not None:
            self.conversations.put(conversation, answer.state)
        query_id = new_query_id()
        if answer.kind == "help":
            where = "in this conversation" if (channel_id or "").startswith("D") else "in this channel"
            msg = {"text": "How to ask me", "blocks": self.usage(channel_id, where)}
        else:
            msg = render.message(answer, query_id=query_id, asked=asked)
        self.log.record_query(
            QueryRecord.from_answer(
                answer,
                id=query_id,
                surface=surface,
                latency_ms=(time.perf_counter() - started) * 1000,
                team_id=team_id,
                channel_id=channel_id,
                user_id=user_id,
            )
        )
        return msg

    async def units_command(self, ack, command: dict):
        """`/units ...`: answered privately, in the ack body itself (fast path, nothing to post)."""
        text = (command.get("text") or "").strip()
        word, _, rest = text.partition(" ")
        channel_id, user_id = command.get("channel_id"), command.get("user_id")
        if word.lower() == "rule":
            await ack(response_type="ephemeral", **self.rule_command(rest.strip(), channel_id, user_id))
        elif word.lower() == "codes" and not rest.strip():
            await ack(
                response_type="ephemeral",
                text="Codes I know",
                blocks=render.codes_blocks(self.answerer.codes),
            )
        else:
            await ack(
                response_type="ephemeral",
                **self.reply(
                    text,
                    surface="slash",
                    team_id=command.get("team_id"),
                    channel_id=channel_id,
                    user_id=user_id,
                    asked=text,
                ),
            )

    def rule_command(self, name: str, channel_id: str | None, user_id: str | None) -> dict:
        """`/units rule` shows the channel's default rule; `/units rule NAME` sets it (kept in SQLite)."""
        names = ", ".join(f"`{n}`" for n in self.answerer.rules.names())
        if not name:
            stored = self.channel_rule(channel_id)
            how = "set for this channel" if stored else "the bot's default; no rule set for this channel"
            return render.notice(
                f"Rule here: *{render.escape(self.rule_title(channel_id))}* ({how}).\n"
                f"Change it with `/units rule NAME` ({names})."
            )
        rule = self.answerer.rules.get(name)
        if rule is None or not channel_id:
            return render.notice(f"I don't know the rule `{render.echo(name)}`. Choose one of: {names}.")
        self.log.set_channel_rule(channel_id, rule.name, user_id or "")
        return render.notice(
            f"Default rule for this channel is now *{render.escape(rule.title)}*.\n"
            "Anyone can still override it in one message, e.g. `40 min 97140 cms`."
        )

    async def app_mention(self, event: dict, body: dict, client: AsyncWebClient):
        """A mention in a channel: answered in the thread (a new one from the mention, or its own)."""
        if event.get("channel", "").startswith("D"):
            return  # direct messages are answered by `message`, once
        self.post_reply(event, body, client, surface="mention", thread_ts=event.get("thread_ts") or event["ts"])

    async def message(self, event: dict, body: dict, client: AsyncWebClient):
        """DMs are answered in the DM (in its thread if the user wrote in one). Every other message
        event, any subtype, lands here too and is acknowledged silently: unhandled -> 404 -> retries."""
        if event.get("channel_type") != "im" or event.get("subtype") not in _PERSON_SUBTYPES:
            return
        self.post_reply(event, body, client, surface="dm", thread_ts=event.get("thread_ts"))

    def post_reply(self, event: dict, body: dict, client: AsyncWebClient, *, surface: str, thread_ts) -> None:
        """Answer a message event and post the answer after the ack (mentions and DMs). The DM, or the
        thread the answer goes to, is a conversation: a later mention there can follow up the answer."""
        msg = self.reply(
            event.get("text") or "",
            surface=surface,
            team_id=body.get("team_id"),
            channel_id=event.get("channel"),
            user_id=event.get("user"),
            conversation=slack_key(body.get("team_id"), event.get("channel"), thread_ts),
        )
        self.background.start(client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts, **msg), body)

    # -- Home tab -------------------------------------------------------------------------------------
    async def app_home_opened(self, event: dict, body: dict, client: AsyncWebClient):
        if event.get("tab", "home") != "home":
            return
        self.background.start(self.publish_home(client, event["user"]), body)

    async def publish_home(
        self, client: AsyncWebClient, user_id: str, notice: str | None = None, reload: bool = False
    ) -> None:
        """Usage for everyone; the review desk too for reviewers (its SQLite reads run in a thread)."""
        usage = self.usage(None, "by default")
        desk = None
        if self.desk.is_reviewer(user_id):
            entries = self.answerer.matcher.entries  # read here: the matcher lives on this thread
            snapshot = await asyncio.to_thread(self.desk_snapshot, entries, reload)
            if self._overlay_changed:
                self.apply_overlay()
            desk = render.review_desk_blocks(
                viewer=user_id, notice=notice, budget=render.MAX_VIEW_BLOCKS - len(usage) - 2, **snapshot
            )
        await client.views_publish(user_id=user_id, view=render.home_view(usage, desk))

    def desk_snapshot(self, entries, reload: bool) -> dict:
        """What the review desk shows (SQLite reads: call it in a worker thread)."""
        if reload:
            self.desk.reload()  # another process (the CLI export) may have changed the overlay
        self.log.flush(1.0)  # include the questions asked a moment ago
        return {
            "stats": self.desk.week_stats(),
            "drafts": self.desk.drafts("draft"),
            "items": self.desk.queue(limit=50, kb_entries=entries),
        }  # more than fit: "and N more"

    # -- feedback -------------------------------------------------------------------------------------
    async def feedback(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """Helpful / Not helpful: recorded at once; Not helpful then asks why, in a small modal."""
        await ack()
        vote, _, query_id = (action.get("value") or "").partition(":")
        user_id = (body.get("user") or {}).get("id", "")
        if vote not in ("up", "down") or not query_id:
            log.warning("ignored a feedback click with value %r", action.get("value"))
            return
        self.log.record_feedback(query_id, user_id, vote == "up")
        if vote == "down" and body.get("trigger_id"):
            self.background.start(
                client.views_open(trigger_id=body["trigger_id"], view=render.feedback_reason_modal(query_id)),
                body,
            )

    async def feedback_reason(self, ack, view: dict, body: dict):
        await ack()
        values = view["state"]["values"]
        reason = ((values.get("reason", {}).get("reason") or {}).get("selected_option") or {}).get(
            "value"
        ) or "other"
        note = ((values.get("note", {}).get("note") or {}).get("value") or "").strip()
        self.log.record_feedback(
            view.get("private_metadata", ""),
            body["user"]["id"],
            False,
            f"{reason}: {note}" if note else reason,
        )

    # -- the review desk (issue #5) -------------------------------------------------------------------
    # Every action goes through ReviewDesk, which refuses non-reviewers and records every attempt,
    # allowed or not. Desk calls may wait on SQLite, so they run in a worker thread after the ack;
    # the matcher is only ever changed on the event loop's thread (`apply_overlay`).
    def overlay_changed(self) -> None:
        """ReviewDesk's on_change (called from whichever thread acted): apply before the next answer."""
        self._overlay_changed = True

    def apply_overlay(self, *, ids: bool = False) -> None:
        """Teach the live matcher new links and approved entries (add_phrasing / add_entry); with
        `ids`, also refresh the entry ids the desk checks links against."""
        self._overlay_changed = False
        if not ids and not (self.desk.overlay_phrasings() or self.desk.approved_entries()):
            return  # nothing to teach: don't load the knowledge base just for this
        matcher = self.answerer.matcher
        self.desk.apply_to(matcher)
        self.entry_ids = frozenset(e.id for e in matcher.entries)

    def review(self, client: AsyncWebClient, body: dict, action, *args) -> None:
        """Run a desk action after the ack, then show its result on the reviewer's Home tab."""
        user_id = body["user"]["id"]

        async def run() -> None:
            if self._overlay_changed or not self.entry_ids:
                self.apply_overlay(ids=True)  # so `link` checks against what the matcher knows
            result = await asyncio.to_thread(action, user_id, *args)
            if self._overlay_changed:
                self.apply_overlay()
            if self.desk.is_reviewer(user_id):
                await self.publish_home(client, user_id, notice=result.message)
            else:
                log.warning("refused a review action from %s (not a reviewer)", user_id)

        self.background.start(run(), body)

    async def review_link(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        query_id = action.get("block_id", "").removeprefix("review:")
        entry_id = (action.get("selected_option") or {}).get("value", "")
        self.review(client, body, self.desk.link, query_id, entry_id)

    async def review_approve(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.review(client, body, self.desk.approve, action.get("value", ""))

    async def review_dismiss(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.review(client, body, self.desk.dismiss, action.get("value", ""))

    async def review_refresh(self, ack, body: dict, client: AsyncWebClient):
        await ack()
        user_id = body["user"]["id"]
        if self.desk.is_reviewer(user_id):
            self.background.start(self.publish_home(client, user_id, reload=True), body)

    async def entry_options(self, ack, payload: dict, body: dict):
        """The "Link to entry" picker: entries ranked by what the reviewer typed (up to 100)."""
        if not self.desk.is_reviewer((body.get("user") or {}).get("id")):
            await ack(options=[])
            return
        from rapidfuzz import fuzz, process

        entries = {e.id: e for e in self.answerer.matcher.entries}
        typed = (payload.get("value") or "").strip()
        if typed:
            choices = {entry_id: f"{entry_id} {e.question}" for entry_id, e in entries.items()}
            ids = [m[2] for m in process.extract(typed, choices, scorer=fuzz.WRatio, limit=25)]
        else:
            ids = sorted(entries)[:100]
        await ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": _clip(entries[i].question, 75)},
                    "description": {"type": "plain_text", "text": _clip(i, 75)},
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
        if not self.desk.is_reviewer(user_id):
            self.log.record_action(user_id, "draft", seed.get("q") or None, False, "not a reviewer")
            log.warning("refused a review action from %s (not a reviewer)", user_id)
            return
        view = render.draft_entry_modal(query_id=str(seed.get("q") or ""), question=str(seed.get("t") or ""))
        self.background.start(client.views_open(trigger_id=body["trigger_id"], view=view), body)

    async def review_draft_submit(self, ack, view: dict, body: dict, client: AsyncWebClient):
        """Save the draft (ReviewDesk validates it as a knowledge-base entry) or show what's wrong."""
        user_id = body["user"]["id"]
        values = {
            block: next(iter(v.values())).get("value") or "" for block, v in view["state"]["values"].items()
        }
        sources = [line.strip() for line in values.get("sources", "").splitlines() if line.strip()]
        errors = {}
        if not any("https://" in s or "http://" in s for s in sources):
            errors["sources"] = "Add at least one source with its https:// link."
        codes = [c for c in re.split(r"[\s,;]+", values.get("codes", "")) if c]
        unknown = [c for c in codes if c not in self.answerer.codes.known]
        if unknown:
            errors["codes"] = f"Not in the code table: {', '.join(unknown)}."
        if errors:
            await ack(response_action="errors", errors=errors)
            return
        if self._overlay_changed or not self.entry_ids:
            self.apply_overlay(ids=True)  # draft ids must not collide with entry ids
        # The answer is reviewer-typed text posted as mrkdwn later: escape it, so it can't ping.
        result = await asyncio.to_thread(
            self.desk.draft,
            user_id,
            values.get("question", ""),
            render.escape(values.get("answer", "")),
            codes,
            sources,
            query_id=view.get("private_metadata") or None,
        )
        if not result.ok and self.desk.is_reviewer(user_id):
            await ack(response_action="errors", errors={"answer": _clip(result.message, 150)})
            return
        await ack()
        if self.desk.is_reviewer(user_id):
            self.background.start(self.publish_home(client, user_id, notice=result.message), body)

    # -- errors ---------------------------------------------------------------------------------------
    async def report(self, error: BaseException, body: dict) -> None:
        """Log a failure with what it was handling (ids only, never the question text)."""
        kind = body.get("command") or (body.get("event") or {}).get("type") or body.get("type") or "request"
        log.error(
            "failed handling %s (team %s): %s",
            kind,
            body.get("team_id") or (body.get("team") or {}).get("id"),
            error,
            exc_info=error,
        )

    async def on_error(self, error: Exception, body: dict) -> BoltResponse:
        """The one error handler. Slack still gets a 200 (a retry would fail the same way); a
        slash command also gets an apology in place of the answer."""
        await self.report(error, body)
        if body.get("command"):
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": _SORRY}),
                headers={"content-type": "application/json"},
            )
        return BoltResponse(status=200, body="")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
