"""The review desk's listeners (Home tab buttons, its modals) and the "did you mean" buttons
under an answer, whose clicks feed the desk.

Every review action goes through `ReviewDesk`, which checks the reviewer on the server side
and audits the attempt, allowed or not: a forged click from anyone else changes nothing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re

from slack_bolt.async_app import AsyncApp
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.answer import escape
from bot.slack import blocks, desk_blocks, tell
from bot.slack.bot import SlackBot, clip

log = logging.getLogger("bot.slack.app")
_PICK = re.compile(f"^{blocks.SUGGESTION_ACTION}:\\d+$")
_EXPIRED = (
    "Sorry, I can't find that question any more (it may have expired from my log). "
    "Please ask it again and I'll answer it fresh."
)


def register(app: AsyncApp, bot: SlackBot) -> None:
    desk = DeskListeners(bot)
    app.action(_PICK)(desk.suggestion_pick)
    app.action(desk_blocks.REVIEW_LINK)(desk.review_link)
    app.options(desk_blocks.REVIEW_LINK)(desk.entry_options)
    app.action(desk_blocks.REVIEW_LINK_CANDIDATE)(desk.review_link_candidate)
    app.action(desk_blocks.REVIEW_APPROVE)(desk.review_approve)
    app.action(desk_blocks.REVIEW_DISMISS)(desk.review_dismiss)
    app.action(desk_blocks.REVIEW_REFRESH)(desk.review_refresh)
    app.action(desk_blocks.REVIEW_DRAFT)(desk.review_draft)
    app.action(desk_blocks.REVIEW_VERIFY)(desk.review_verify)
    app.action(desk_blocks.REVIEW_EDIT)(desk.review_edit)
    app.view(desk_blocks.DRAFT_VIEW)(desk.review_draft_submit)
    app.view(desk_blocks.EDIT_VIEW)(desk.review_edit_submit)


def _entry_form(values: dict, known_codes) -> tuple[dict, dict]:
    """The draft / edit modal's fields, and the errors to show in it (none: {})."""
    sources = [line.strip() for line in values.get("sources", "").splitlines() if line.strip()]
    errors = {}
    if not any("https://" in s or "http://" in s for s in sources):
        errors["sources"] = "Add at least one source with its https:// link."
    elif any(c in s for s in sources for c in "|<>"):
        errors["sources"] = "A source may not contain |, < or > (they would change how the link reads)."
    codes = [c for c in re.split(r"[\s,;]+", values.get("codes", "")) if c]
    unknown = [c for c in codes if c not in known_codes]
    if unknown:
        errors["codes"] = f"Not in the code table: {', '.join(unknown)}."
    state = (values.get("state") or "").strip().upper() or None
    if state and not re.fullmatch(r"[A-Z]{2}", state):
        errors["state"] = "Two letters, e.g. FL, or leave it empty."
    # The answer is reviewer-typed text posted as mrkdwn later: escaped, so it can't ping.
    form = {
        "question": values.get("question", ""),
        "answer": escape(values.get("answer", "").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")),
        "codes": codes,
        "sources": sources,
        "state": state,
    }
    return form, errors


def _values(view: dict) -> dict:
    return {block: next(iter(v.values())).get("value") or "" for block, v in view["state"]["values"].items()}


class DeskListeners:
    def __init__(self, bot: SlackBot):
        self.bot = bot

    # -- "did you mean" -------------------------------------------------------------------------------
    async def suggestion_pick(self, ack, action: dict, body: dict, client: AsyncWebClient, respond):
        """A suggestion clicked: answer with that entry at once, where the question was asked
        (privately if it was private), and record the pick for the desk."""
        await ack()
        bot = self.bot
        query_id, _, entry_id = (action.get("value") or "").partition(":")
        user_id = (body.get("user") or {}).get("id", "")
        container = body.get("container") or {}

        async def run() -> None:
            if bot.overlay_pending or not bot.entry_ids:
                bot.apply_overlay(ids=True)
            result = await asyncio.to_thread(bot.desk.record_pick, user_id, query_id, entry_id)
            answer = bot.answerer.answer_entry(entry_id) if result.ok else None
            msg = blocks.message(answer) if answer else blocks.notice(_EXPIRED)
            channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
            if container.get("is_ephemeral") or not channel:
                await respond(replace_original=False, response_type="ephemeral", **msg)
            else:
                thread = container.get("thread_ts") or (None if channel.startswith("D") else container.get("message_ts"))
                await client.chat_postMessage(channel=channel, thread_ts=thread, **msg)

        bot.background.start(run(), body)

    # -- the desk -------------------------------------------------------------------------------------
    async def review_link(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """ "Link to entry…" on a cluster: every question in it becomes a phrasing of the entry."""
        await ack()
        query_id = action.get("block_id", "").removeprefix("review:")
        entry_id = (action.get("selected_option") or {}).get("value", "")
        self.bot.review(client, body, self.bot.desk.link_cluster, query_id, entry_id)

    async def review_link_candidate(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        query_id, _, entry_id = (action.get("value") or "").partition("|")
        self.bot.review(client, body, self.bot.desk.link_cluster, query_id, entry_id)

    async def review_approve(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.bot.review(client, body, self.bot.desk.approve, action.get("value", ""))

    async def review_dismiss(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """Dismiss a cluster (all its questions), a draft or an edit."""
        await ack()
        self.bot.review(client, body, self.bot.desk.dismiss_cluster, action.get("value", ""))

    async def review_verify(self, ack, action: dict, body: dict, client: AsyncWebClient):
        await ack()
        self.bot.review(client, body, self.bot.desk.verify, action.get("value", ""))

    async def review_refresh(self, ack, body: dict, client: AsyncWebClient):
        await ack()
        user_id = body["user"]["id"]
        if self.bot.desk.is_reviewer(user_id):
            self.bot.background.start(self._refresh(client, user_id), body)

    async def _refresh(self, client: AsyncWebClient, user_id: str) -> None:
        await self.bot.publish_home(client, user_id, reload=True)
        await tell.tell_askers(self.bot, client)  # links made from the CLI since: their askers too

    async def entry_options(self, ack, payload: dict, body: dict):
        """The "Link to entry" picker: entries ranked by what the reviewer typed (up to 100)."""
        if not self.bot.desk.is_reviewer((body.get("user") or {}).get("id")):
            await ack(options=[])
            return
        from rapidfuzz import fuzz, process

        entries = {e.id: e for e in self.bot.answerer.matcher.entries}
        typed = (payload.get("value") or "").strip()
        if typed:
            choices = {entry_id: f"{entry_id} {e.question}" for entry_id, e in entries.items()}
            ids = [m[2] for m in process.extract(typed, choices, scorer=fuzz.WRatio, limit=25)]
        else:
            ids = sorted(entries)[:100]
        await ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": clip(entries[i].question, 75)},
                    "description": {"type": "plain_text", "text": clip(i, 75)},
                    "value": i,
                }
                for i in ids
            ]
        )

    def _refuse(self, user_id: str, action: str, target: str | None) -> bool:
        """True (and audited) when `user_id` may not open a reviewer's modal."""
        if self.bot.desk.is_reviewer(user_id):
            return False
        self.bot.log.record_action(user_id, action, target, False, "not a reviewer")
        log.warning("refused a review action from %s (not a reviewer)", user_id)
        return True

    async def review_draft(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """ "Draft new entry": the modal, prefilled with the logged question."""
        await ack()
        user_id = body["user"]["id"]
        try:
            seed = json.loads(action.get("value") or "{}")
        except ValueError:
            seed = {}
        if self._refuse(user_id, "draft", seed.get("q") or None):
            return
        view = desk_blocks.draft_entry_modal(query_id=str(seed.get("q") or ""), question=str(seed.get("t") or ""))
        self.bot.background.start(client.views_open(trigger_id=body["trigger_id"], view=view), body)

    async def review_edit(self, ack, action: dict, body: dict, client: AsyncWebClient):
        """ "Propose edit": the entry's fields in the draft modal, pre-filled."""
        await ack()
        user_id = body["user"]["id"]
        entry_id = action.get("value", "")
        if self._refuse(user_id, "propose_edit", entry_id):
            return
        bot = self.bot
        if bot.overlay_pending:
            bot.apply_overlay()
        entry = bot.answerer.matcher.entry(entry_id)
        if entry is None:
            bot.background.start(bot.publish_home(client, user_id, notice=f"No entry {entry_id!r}."), body)
            return
        view = desk_blocks.edit_entry_modal(entry)
        bot.background.start(client.views_open(trigger_id=body["trigger_id"], view=view), body)

    async def review_draft_submit(self, ack, view: dict, body: dict, client: AsyncWebClient):
        """Save the draft (ReviewDesk validates it as a knowledge-base entry) or show what's wrong."""
        bot = self.bot
        user_id = body["user"]["id"]
        form = await self._checked_form(ack, view)
        if form is None:
            return
        result = await asyncio.to_thread(
            bot.desk.draft,
            user_id,
            form["question"],
            form["answer"],
            form["codes"],
            form["sources"],
            query_id=view.get("private_metadata") or None,
        )
        await self._submitted(ack, body, client, user_id, result, "answer")

    async def review_edit_submit(self, ack, view: dict, body: dict, client: AsyncWebClient):
        """Save a proposed edit; it answers once a second reviewer approves it."""
        bot = self.bot
        user_id = body["user"]["id"]
        form = await self._checked_form(ack, view)
        if form is None:
            return
        result = await asyncio.to_thread(bot.desk.propose_edit, user_id, view.get("private_metadata") or "", **form)
        await self._submitted(ack, body, client, user_id, result, "answer")

    async def _checked_form(self, ack, view: dict) -> dict | None:
        """The entry form's values, checked; None once the modal shows what's wrong. The overlay is
        applied first, so the desk checks ids against what the matcher knows (drafts must not
        collide with entries)."""
        bot = self.bot
        form, errors = _entry_form(_values(view), bot.answerer.codes.known)
        if errors:
            await ack(response_action="errors", errors=errors)
            return None
        if bot.overlay_pending or not bot.entry_ids:
            bot.apply_overlay(ids=True)
        return form

    async def _submitted(self, ack, body, client, user_id, result, field: str) -> None:
        bot = self.bot
        if not result.ok and bot.desk.is_reviewer(user_id):
            await ack(response_action="errors", errors={field: clip(result.message, 150)})
            return
        await ack()
        if bot.desk.is_reviewer(user_id):
            bot.background.start(bot.publish_home(client, user_id, notice=result.message), body)
