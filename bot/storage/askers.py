"""Telling the asker (issue #13): where a Slack question was asked, so that when a reviewer
links it (or its cluster) to an entry, or approves a draft written from it, the asker gets the
entry's answer once, in the thread or DM where they asked, unless they opted out.

Only ids and timestamps are kept (`asked_where`: channel, thread ts, message ts; never text),
written through the query log's writer off the answer path, and purged with the question.
Nothing here talks to Slack: `pending()` says who to tell what, the caller posts, then
`told()` records it so nobody is told twice.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from bot.storage.querylog import INSERT, UPSERT, QueryLog, utc_now

# Only questions the desk offers to link or draft from (declines and FAQ answers) are worth a
# row: a units calculation is never one, and every row costs the writer.
TOLD_KINDS = frozenset({"no_match", "faq"})


@dataclass(frozen=True)
class Tell:
    """One asker to tell: where they asked, and the entry that now answers."""

    query_id: str
    user_id: str | None
    channel_id: str | None
    thread_ts: str | None
    message_ts: str | None
    surface: str
    text: str | None  # the question as logged (redacted; None when text isn't stored)
    asked_at: str
    entry_id: str

    @property
    def in_dm(self) -> bool:
        """Answers to /units were ephemeral and can't be followed up: those askers get a DM."""
        return self.surface == "slash" or not self.channel_id

    @property
    def thread(self) -> str | None:
        """The thread to answer in: the one they asked in, else (in a DM) their own message."""
        if self.in_dm:
            return None
        return self.thread_ts or self.message_ts


_PENDING = """
    select a.query_id, a.user_id, a.channel_id, a.thread_ts, a.message_ts, q.surface, q.text,
      q.ts as asked_at, l.entry_id
    from asked_where a
    join queries q on q.id = a.query_id
    join (
      select query_id, entry_id, ts from phrasings where query_id is not null
      union all
      select query_id, id as entry_id, approved_at as ts from drafts
        where query_id is not null and status in ('approved', 'exported')
    ) l on l.query_id = a.query_id
    where a.told_at is null
      and coalesce(a.user_id, '') not in (select user_id from opt_outs where coalesce(opted_out, 1))
    order by l.ts, a.query_id
"""


class Askers:
    """Where questions were asked, who opted out, and who has been told. Thread-safe."""

    def __init__(self, log: QueryLog):
        self.log = log
        self._lock = threading.Lock()
        self._opted_out: dict[str, bool] = {}
        self._loaded = False
        self._claimed: set[str] = set()  # query ids told (or being told) by this process

    # -- the answer path: queue only -------------------------------------------------------------
    def record(
        self,
        query_id: str,
        *,
        user_id: str | None,
        channel_id: str | None,
        thread_ts: str | None = None,
        message_ts: str | None = None,
    ) -> None:
        """Remember where a question was asked (ids and timestamps only). Never blocks."""
        self.log.enqueue(
            "asked_where",
            {
                "query_id": query_id,
                "user_id": user_id,
                "channel_id": channel_id,
                "thread_ts": thread_ts,
                "message_ts": message_ts,
                "ts": utc_now(),
                "told_at": None,
                "told_entry": None,
            },
            INSERT,
        )

    # -- opting out (App Home) ------------------------------------------------------------------------
    def load(self) -> None:
        """Read the opt-outs once (SQLite: call it off the event loop); later changes win."""
        if self._loaded:
            return
        try:
            with self.log.open_db() as db:
                rows = list(db.table("opt_outs").rows)
        except Exception:
            return
        with self._lock:
            for row in rows:
                self._opted_out.setdefault(row["user_id"], row.get("opted_out") in (None, 1))
            self._loaded = True

    def opted_out(self, user_id: str | None) -> bool:
        with self._lock:
            return bool(user_id) and self._opted_out.get(user_id, False)

    def set_opted_out(self, user_id: str, opted_out: bool) -> None:
        """In memory now, on disk via the writer; audited like the other Home-tab settings."""
        with self._lock:
            self._opted_out[user_id] = opted_out
        self.log.enqueue("opt_outs", {"user_id": user_id, "ts": utc_now(), "opted_out": int(opted_out)}, UPSERT)
        self.log.record_action(user_id, "set_tell_me", user_id, True, "off" if opted_out else "on")

    # -- telling ----------------------------------------------------------------------------------------
    def pending(self) -> list[Tell]:
        """Askers whose question now has an entry and who haven't been told (SQLite: off the
        event loop). One per question: the first link or approval wins."""
        self.log.flush(1.0)  # the link made a moment ago
        self.load()
        try:
            with self.log.open_db() as db:
                rows = list(db.query(_PENDING))
        except Exception:
            return []
        out, seen = [], set()
        with self._lock:
            for r in rows:
                if r["query_id"] in seen or r["query_id"] in self._claimed:
                    continue
                if self._opted_out.get(r["user_id"] or "", False):
                    continue
                seen.add(r["query_id"])
                out.append(Tell(**r))
        return out

    def claim(self, tell: Tell) -> bool:
        """True once per question in this process: whoever claims it tells the asker."""
        with self._lock:
            if tell.query_id in self._claimed:
                return False
            self._claimed.add(tell.query_id)
            return True

    def told(self, tell: Tell) -> None:
        """Record that the asker was told (or that telling failed: never retried, never twice)."""
        self.log.enqueue(
            "asked_where",
            {
                "query_id": tell.query_id,
                "user_id": tell.user_id,
                "channel_id": tell.channel_id,
                "thread_ts": tell.thread_ts,
                "message_ts": tell.message_ts,
                "ts": utc_now(),
                "told_at": utc_now(),
                "told_entry": tell.entry_id,
            },
            UPSERT,
        )
