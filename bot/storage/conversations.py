"""The last units question of each conversation, so a follow-up ("what about ama?") can change it.

A conversation is a Slack DM or thread (team + channel + thread) or one terminal chat session.
What is kept is the parsed question (`Answer.state`: codes, minutes, rule, visit labels), never
the message text; with `store_text=False` the visit labels (user text) are replaced by
"Visit 1", "Visit 2". Entries are forgotten after `FORGET_AFTER`.

Reads come from memory; writes go to memory and, through the query log's background writer,
to the same SQLite file, so a restart still knows the conversations of the last few hours and
an answer never waits for the disk.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from bot.storage.querylog import UPSERT, QueryLog

log = logging.getLogger(__name__)

FORGET_AFTER = timedelta(hours=4)
TABLE = "conversations"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")  # the query log's format


def slack_key(team_id: str | None, channel_id: str | None, thread_ts: str | None) -> str:
    """One conversation in Slack: a DM (its top level, or one of its threads) or a channel thread."""
    return f"slack:{team_id or ''}:{channel_id or ''}:{thread_ts or ''}"


class Conversations:
    """Follow-up state per conversation: `get(key)` -> the last state or None, `put(key, state)`."""

    def __init__(self, querylog: QueryLog | None, *, store_text: bool = True, ttl: timedelta = FORGET_AFTER,
                 clock: Callable[[], float] = time.time):
        """:param querylog: writes go through its writer; None keeps them in memory only."""
        self.log = querylog
        self.store_text = store_text
        self.ttl = ttl.total_seconds()
        self.clock = clock
        self._mem: dict[str, tuple[float, dict]] = {}
        self._loaded = querylog is None

    def get(self, key: str) -> dict | None:
        if not self._loaded:
            self._load()
        hit = self._mem.get(key)
        if hit is None:
            return None
        if self.clock() - hit[0] > self.ttl:
            del self._mem[key]
            return None
        return hit[1]

    def put(self, key: str, state: dict) -> None:
        if not self.store_text:
            state = {**state, "visits": [{**v, "label": f"Visit {i + 1}" if v.get("label") else ""}
                                         for i, v in enumerate(state.get("visits", []))]}
        now = self.clock()
        self._mem[key] = (now, state)
        if len(self._mem) > 10_000:  # forget the expired ones now and then
            cutoff = now - self.ttl
            self._mem = {k: v for k, v in self._mem.items() if v[0] >= cutoff}
        if self.log is not None:
            row = {"key": key, "state": json.dumps(state, separators=(",", ":")),
                   "ts": _iso(now)}
            self.log.enqueue(TABLE, row, UPSERT)

    def _load(self) -> None:
        """The conversations of the last few hours from SQLite (once); older rows are deleted."""
        self._loaded = True
        cutoff = _iso(self.clock() - self.ttl)
        try:
            with self.log.open_db(timeout=0.2) as db:
                with db.atomic():
                    db.table(TABLE).delete_where("ts < ?", [cutoff])
                for row in db.table(TABLE).rows_where("ts >= ?", [cutoff]):
                    try:
                        state = json.loads(row["state"])
                    except ValueError:
                        continue
                    seen = datetime.fromisoformat(row["ts"]).timestamp()
                    if row["key"] not in self._mem:
                        self._mem[row["key"]] = (seen, state)
        except (sqlite3.Error, OSError) as exc:  # start empty: follow-ups of before the restart are lost
            log.warning("conversations: could not load follow-up state: %s", exc)
