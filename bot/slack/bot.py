"""What every Slack listener shares: the answerer, the query log, the review desk, the
background tasks, and the few steps several surfaces take (answer and log a message, publish
the Home tab, apply the reviewers' overlay, report a failure)."""

from __future__ import annotations

import asyncio
import logging
import time
from functools import cached_property

from slack_sdk.web.async_client import AsyncWebClient

from bot.config import Settings
from bot.core.answer import HELP_EXAMPLES, Answerer
from bot.core.model import Answer
from bot.slack import blocks, desk_blocks, start_blocks, tell
from bot.slack.background import Background
from bot.slack.preferences import RuleChoice, choose_rule
from bot.slack.reviewer_group import ReviewerGroup
from bot.storage import desk_stats
from bot.storage.askers import TOLD_KINDS, Askers
from bot.storage.conversations import Conversations, slack_key
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id
from bot.storage.review import ReviewDesk

log = logging.getLogger("bot.slack.app")


class SlackBot:
    """The state the listeners share. The matcher is only ever changed on the event loop's
    thread (`apply_overlay`); desk calls that may wait on SQLite run in worker threads."""

    def __init__(self, settings: Settings, answerer: Answerer, querylog: QueryLog, background: Background):
        self.settings = settings
        self.answerer = answerer
        self.log = querylog
        self.background = background
        self.askers = Askers(querylog)
        self.reviewer_group = ReviewerGroup(getattr(settings, "reviewer_group", None))
        self.desk: ReviewDesk | None = None
        self.conversations: Conversations | None = None  # follow-up state of DMs and threads
        self.entry_ids: frozenset[str] = frozenset()
        self._overlay_changed = False
        background.on_error = self.report

    # -- answering ------------------------------------------------------------------------------------
    def channel_rule(self, channel_id: str | None) -> str | None:
        """The channel's stored default rule, if it still exists in the rule book."""
        name = self.log.channel_rule(channel_id) if channel_id else None
        return name if name and self.answerer.rules.get(name) else None

    def rule_choice(self, user_id: str | None, channel_id: str | None) -> RuleChoice:
        """The default rule for this person here (their setting, else the channel's), and why."""
        personal = self.log.user_setting(user_id).get("rule") if user_id else None
        return choose_rule(self.answerer.rules, personal, self.log.channel_rule(channel_id) if channel_id else None)

    def user_state(self, user_id: str | None) -> str | None:
        return self.log.user_setting(user_id).get("state") if user_id else None

    def rule_title(self, channel_id: str | None) -> str:
        return self.answerer.resolve_rule(self.channel_rule(channel_id)).title

    def usage(self, channel_id: str | None, where: str) -> list[dict]:
        profiles = [n for n in self.answerer.rules.names() if n not in ("cms", "ama")]
        return blocks.usage_blocks(
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
        where: dict | None = None,
    ) -> dict:
        """Answer one message and log it: returns `text` + `blocks` ready for Slack.

        :param conversation: the DM or thread's key: the message may follow up its last units question.
        :param where: thread_ts / message_ts of a Slack question, kept (ids only) so the asker
          can be told when a reviewer answers it (`bot.storage.askers`)."""
        started = time.perf_counter()
        if self._overlay_changed:
            self.apply_overlay()
        choice = self.rule_choice(user_id, channel_id)
        previous = self.conversations.get(conversation) if conversation else None
        answer: Answer = self.answerer.answer(
            text,
            rule=choice.name,
            rule_from=choice.label(),
            home_state=self.user_state(user_id),
            previous=previous,
            conversation=conversation is not None,
        )
        if conversation and answer.state is not None:
            self.conversations.put(conversation, answer.state)
        query_id = new_query_id()
        if answer.kind == "help":
            place = "in this conversation" if (channel_id or "").startswith("D") else "in this channel"
            msg = {"text": "How to ask me", "blocks": self.usage(channel_id, place)}
        else:
            msg = blocks.message(answer, query_id=query_id, asked=asked)
        self.log_answer(
            answer, surface=surface, started=started, team_id=team_id, channel_id=channel_id, user_id=user_id,
            query_id=query_id,
        )
        if where is not None and answer.kind in TOLD_KINDS:
            self.askers.record(query_id, user_id=user_id, channel_id=channel_id, **where)
        return msg

    def log_answer(
        self,
        answer: Answer,
        *,
        surface: str,
        started: float,
        team_id=None,
        channel_id=None,
        user_id=None,
        query_id: str | None = None,
    ) -> str:
        """Log an answer (`reply`'s, the shortcuts', the form's); returns its query id (a new one
        unless the caller already put `query_id` on the answer's buttons)."""
        query_id = query_id or new_query_id()
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
        return query_id

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
            where={"thread_ts": thread_ts, "message_ts": event.get("ts")},
        )
        self.background.start(client.chat_postMessage(channel=event["channel"], thread_ts=thread_ts, **msg), body)

    # -- Home tab -------------------------------------------------------------------------------------
    async def publish_home(
        self, client: AsyncWebClient, user_id: str, notice: str | None = None, reload: bool = False
    ) -> None:
        """Usage for everyone; the review desk too for reviewers (its SQLite reads run in a thread)."""
        await asyncio.to_thread(self.askers.load)  # opt-outs, read once
        await self.reviewer_group.refresh(client, self.desk)
        usage = [*self.home_start(user_id), *self.usage(None, "by default")]
        desk = None
        if self.desk.is_reviewer(user_id):
            entries = self.answerer.matcher.entries  # read here: the matcher lives on this thread
            snapshot = await asyncio.to_thread(self.desk_snapshot, entries, reload)
            if self._overlay_changed:
                self.apply_overlay()
            desk = desk_blocks.review_desk_blocks(
                viewer=user_id, notice=notice, budget=blocks.MAX_VIEW_BLOCKS - len(usage) - 2, **snapshot
            )
        await client.views_publish(user_id=user_id, view=blocks.home_view(usage, desk))

    def home_start(self, user_id: str) -> list[dict]:
        """The Home tab's first screen: example questions, and this person's own defaults."""
        start = start_blocks.home_start(
            rules=self.answerer.rules,
            states=self.states,
            setting=self.log.user_setting(user_id),
            rule_title=self.answerer.resolve_rule(None).title,
        )
        return [*start[:-1], start_blocks.tell_me_block(not self.askers.opted_out(user_id)), *start[-1:]]

    @cached_property
    def states(self) -> dict[str, str]:
        """State code -> name, for the Home tab's state setting (from knowledge/vocabulary.yaml)."""
        from bot.core.match import load_vocabulary

        labels = load_vocabulary(self.answerer.knowledge.directory / "vocabulary.yaml").state_labels
        return {code: name.title() for code, name in labels.items()}

    def desk_snapshot(self, entries, reload: bool) -> dict:
        """What the review desk shows (SQLite reads: call it in a worker thread)."""
        if reload:
            self.desk.reload()  # another process (the CLI export) may have changed the overlay
        self.log.flush(1.0)  # include the questions asked a moment ago
        return {
            "stats": self.desk.week_stats(),
            "entry_stats": desk_stats.review_stats(self.log),
            "drafts": self.desk.drafts("draft"),
            "edits": self.desk.edits("draft"),
            "clusters": self.desk.clusters()[:50],
            "items": self.desk.due(entries, limit=50),
        }  # more than fit: "and N more"

    # -- what the desk asks of the matcher ------------------------------------------------------------
    def normalised(self, text: str) -> str:
        return self.answerer.matcher.normalised(text)

    def suggest(self, text: str) -> str | None:
        """The entry the matcher ranks first for a question, confident or not."""
        result = self.answerer.matcher.match(text)
        return result.candidates[0].entry.id if result.candidates else None

    def lookup(self, entry_id: str):
        return self.answerer.matcher.entry(entry_id)

    # -- the reviewers' overlay -----------------------------------------------------------------------
    # Every review action goes through ReviewDesk, which refuses non-reviewers and records every
    # attempt, allowed or not.
    def overlay_changed(self) -> None:
        """ReviewDesk's on_change (called from whichever thread acted): apply before the next answer."""
        self._overlay_changed = True

    @property
    def overlay_pending(self) -> bool:
        return self._overlay_changed

    def apply_overlay(self, *, ids: bool = False) -> None:
        """Teach the live matcher new links and approved entries (add_phrasing / add_entry); with
        `ids`, also refresh the entry ids the desk checks links against."""
        self._overlay_changed = False
        desk = self.desk
        if not ids and not (desk.overlay_phrasings() or desk.approved_entries() or desk.changed_entries()):
            return  # nothing to teach: don't load the knowledge base just for this
        matcher = self.answerer.matcher
        self.desk.apply_to(matcher)
        self.entry_ids = frozenset(e.id for e in matcher.entries)

    def review(self, client: AsyncWebClient, body: dict, action, *args) -> None:
        """Run a desk action after the ack, then show its result on the reviewer's Home tab."""
        user_id = body["user"]["id"]

        async def run() -> None:
            await self.reviewer_group.refresh(client, self.desk)
            if self._overlay_changed or not self.entry_ids:
                self.apply_overlay(ids=True)  # so `link` checks against what the matcher knows
            result = await asyncio.to_thread(action, user_id, *args)
            if self._overlay_changed:
                self.apply_overlay()
            if self.desk.is_reviewer(user_id):
                await self.publish_home(client, user_id, notice=result.message)
                if result.ok:
                    await tell.tell_askers(self, client)  # a link or an approval may answer someone
            else:
                log.warning("refused a review action from %s (not a reviewer)", user_id)

        self.background.start(run(), body)

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


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
