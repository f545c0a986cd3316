"""The query log: every question, its answer's kind, feedback and the review state, in SQLite.

Answer latency must not depend on the disk, so nothing on the answer path touches SQLite:
`record_*` append to an in-memory queue and return in microseconds; one background writer
thread redacts the text and writes the queue in batches (one transaction per batch). When
the database is locked, read-only or its folder is missing, the writer keeps the batch and
retries with backoff, so entries wait instead of being lost. `close()` drains the queue.

The queue holds `queue_size` records; past that they spill into an overflow of
`overflow_size` (same deque, so order is kept, counted in `health()["spilled"]`); past
both they are dropped and counted (`health()["dropped"]`) rather than block an answer.

Reads (`recent`, `stats`, `purge`, review queries) open their own connection per call:
they run off the answer path (CLI, App Home) and sqlite3 connections are per thread.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import operator
import random
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Self

from sqlite_utils import Database, Migrations

from bot.storage.redact import redact

log = logging.getLogger(__name__)

MIGRATIONS = Migrations("billing_bot_log")
SURFACES = ("slash", "mention", "dm", "cli", "shortcut", "form", "home")


@MIGRATIONS()
def create_queries(db: Database) -> None:
    db.table("queries").create(
        {
            "id": str,
            "ts": str,
            "surface": str,
            "team_id": str,
            "channel_id": str,
            "user_id": str,
            "text": str,
            "kind": str,
            "entry_id": str,
            "score": float,
            "rule": str,
            "units_summary": str,
            "latency_ms": float,
        },
        pk="id",
        not_null={"ts", "surface", "kind"},
    )
    db.table("queries").create_index(["ts"])
    db.table("queries").create_index(["kind", "ts"])
    db.table("queries").create_index(["entry_id"])


@MIGRATIONS()
def create_feedback(db: Database) -> None:
    # One vote per user per answer: a double click or a changed mind stays one row (upsert).
    db.table("feedback").create(
        {"query_id": str, "user_id": str, "helpful": bool, "reason": str, "ts": str},
        pk=("query_id", "user_id"),
        not_null={"helpful", "ts"},
        foreign_keys=[("query_id", "queries", "id")],
    )
    db.table("feedback").create_index(["ts"])


@MIGRATIONS()
def create_review_tables(db: Database) -> None:
    db.table("review_actions").create(
        {"id": int, "ts": str, "user_id": str, "action": str, "target": str, "ok": bool, "message": str},
        pk="id",
        not_null={"ts", "user_id", "action", "ok"},
    )
    # The reviewers' overlay: phrasings linked to entries and drafted entries, until exported.
    db.table("phrasings").create(
        {"entry_id": str, "text": str, "query_id": str, "linked_by": str, "ts": str, "exported_at": str},
        pk=("entry_id", "text"),
        not_null={"ts"},
    )
    db.table("drafts").create(
        {
            "id": str,
            "question": str,
            "answer": str,
            "codes": str,
            "sources": str,
            "query_id": str,
            "drafted_by": str,
            "drafted_at": str,
            "status": str,
            "approved_by": str,
            "approved_at": str,
            "exported_at": str,
        },
        pk="id",
        not_null={"question", "answer", "drafted_by", "drafted_at", "status"},
    )
    db.table("dismissals").create({"item_id": str, "user_id": str, "ts": str}, pk="item_id")


@MIGRATIONS()
def create_state_tables(db: Database) -> None:
    db.table("channel_rules").create(
        {"channel_id": str, "rule": str, "set_by": str, "ts": str}, pk="channel_id"
    )
    db.table("seen_events").create({"event_id": str, "ts": str}, pk="event_id")
    db.table("seen_events").create_index(["ts"])


@MIGRATIONS()
def queries_fts(db: Database) -> None:
    # Datasette picks up queries_fts for a search box; porter makes "massages" find "massage".
    db.table("queries").enable_fts(["text"], create_triggers=True, tokenize="porter")


@MIGRATIONS()
def search_index_in_batches(db: Database) -> None:
    # Per-row triggers cost ~35 us a logged question (an FTS segment written per transaction);
    # the writer indexes new rows in one statement every few seconds instead (~3 us a row).
    for trigger in ("queries_ai", "queries_ad", "queries_au"):
        db.execute(f"DROP TRIGGER IF EXISTS [{trigger}]")
    refresh_search_index(db)


def refresh_search_index(db: Database) -> int:
    """Add questions logged since the last refresh to `queries_fts`; returns how many.

    Rows are only ever appended (rowids grow) or purged (which rebuilds the index), so the
    largest indexed rowid marks where to go on from."""
    last = db.execute("SELECT coalesce(max(id), 0) FROM queries_fts_docsize").fetchone()[0]
    cursor = db.execute(
        "INSERT INTO queries_fts (rowid, text) SELECT rowid, text FROM queries WHERE rowid > ?", [last]
    )
    return cursor.rowcount


@MIGRATIONS(transactional=False)
def wal(db: Database) -> None:
    # Readers (CLI, Datasette) never block the writer, and the writer never blocks them.
    db.enable_wal()


@MIGRATIONS()
def create_personal_settings(db: Database) -> None:
    # A person's own defaults from App Home (rule or payer, state); the channels the bot has
    # greeted (its once-per-channel welcome).
    db.table("user_settings").create({"user_id": str, "rule": str, "state": str, "ts": str}, pk="user_id")
    db.table("channel_welcomes").create({"channel_id": str, "ts": str}, pk="channel_id")


@MIGRATIONS()
def create_curation_tables(db: Database) -> None:
    # Issue #13. A "did you mean" click: explicit feedback, one row per person per question.
    db.table("picks").create(
        {"query_id": str, "user_id": str, "entry_id": str, "ts": str},
        pk=("query_id", "user_id"),
        not_null={"entry_id", "ts"},
    )
    db.table("picks").create_index(["entry_id"])
    # Verified entries and approved edits: the overlay over knowledge/faq/ until exported.
    db.table("verifications").create(
        {"entry_id": str, "last_verified": str, "review_by": str, "verified_by": str, "ts": str, "exported_at": str},
        pk="entry_id",
        not_null={"last_verified", "review_by", "verified_by", "ts"},
    )
    db.table("edits").create(
        {
            "id": str,
            "entry_id": str,
            "entry": str,  # the whole proposed entry, JSON in the FAQ schema
            "proposed_by": str,
            "proposed_at": str,
            "query_id": str,
            "status": str,
            "approved_by": str,
            "approved_at": str,
            "exported_at": str,
        },
        pk="id",
        not_null={"entry_id", "entry", "proposed_by", "proposed_at", "status"},
    )
    # Where a question was asked, so the asker can be told once it has an answer: only the
    # channel and the thread / message ts (no text); purged with the question.
    db.table("asked_where").create(
        {"query_id": str, "user_id": str, "channel_id": str, "thread_ts": str, "ts": str,
         "told_at": str, "told_entry": str},
        pk="query_id",
        not_null={"ts"},
        foreign_keys=[("query_id", "queries", "id")],
    )
    db.table("opt_outs").create({"user_id": str, "ts": str}, pk="user_id")
    # The CLI has no login: who ran it (the OS user) is recorded beside the name given with --as.
    db.table("review_actions").add_column("os_user", str)


@MIGRATIONS()
def text_length(db: Database) -> None:
    # Stored text is capped (TEXT_CAP); the question's full length is kept next to it.
    db.table("queries").add_column("text_length", int)


@MIGRATIONS()
def create_conversations(db: Database) -> None:
    # The last units question of each conversation, for follow-ups (bot.storage.conversations).
    db.table("conversations").create({"key": str, "state": str, "ts": str}, pk="key", not_null={"state", "ts"})
    db.table("conversations").create_index(["ts"])


@MIGRATIONS()
def tell_the_asker(db: Database) -> None:
    # Issue #13: `asked_where.ts` is when the row was written (ISO, what purge compares); the
    # asker's own message ts (a DM reply is threaded on it) goes beside it. An opt-out can be
    # taken back, so it is a flag rather than the row's existence (no row: not opted out).
    db.table("asked_where").add_column("message_ts", str)
    db.table("opt_outs").add_column("opted_out", int)


# -- ids and records --------------------------------------------------------------------------------
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_PAIRS = [a + b for a in _CROCKFORD for b in _CROCKFORD]  # 10 bits -> two characters
_id_lock = threading.Lock()
_id_last = [0, 0]  # last (milliseconds, random part)
_id_random = random.Random()  # seeded from os.urandom; ids need uniqueness, not secrecy


def new_query_id() -> str:
    """A ULID-style id: 'q' + 48-bit ms time + 40 random bits in Crockford base32 (19 chars).

    Sorts by time; within one millisecond the random part counts up, so ids from one
    process are strictly increasing. Short enough for a Slack button value."""
    ms = time.time_ns() // 1_000_000
    with _id_lock:
        last_ms, last_rand = _id_last
        if ms <= last_ms:
            ms, rand = last_ms, last_rand + 1
            if rand >= 1 << 40:
                ms, rand = ms + 1, 0
        else:
            rand = _id_random.getrandbits(39)  # leave headroom to count up
        _id_last[:] = [ms, rand]
    # 88 bits, padded to 90 -> 18 Crockford base32 characters, two at a time from a table
    n = ((ms << 40) | rand) << 2
    return "q" + "".join([_PAIRS[(n >> shift) & 0x3FF] for shift in range(80, -1, -10)])


_second: list[tuple[int, str]] = [(-1, "")]  # the last second formatted: one strftime a second


def utc_now() -> str:
    """Now as `_iso` writes it ('2026-01-31T09:05:07.123+00:00'), in ~1 us instead of datetime's ~5:
    it is on the answer path (every logged question's `ts`)."""
    second, milli = divmod(time.time_ns() // 1_000_000, 1000)
    cached = _second[0]  # one read of one tuple: threads never mix two seconds' parts
    if cached[0] != second:
        cached = _second[0] = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
    return f"{cached[1]}.{milli:03d}+00:00"


def _iso(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds; one format everywhere so string order is time order."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


@dataclass(frozen=True)
class QueryRecord:
    """One question and what the bot did with it. `text` is raw: the writer redacts it."""

    id: str
    ts: str
    surface: str  # one of SURFACES
    team_id: str | None
    channel_id: str | None
    user_id: str | None
    text: str
    kind: str
    entry_id: str | None
    score: float | None
    rule: str | None
    units_summary: str | None
    latency_ms: float

    @classmethod
    def from_answer(
        cls,
        answer,
        *,
        surface: str,
        latency_ms: float,
        text: str | None = None,
        team_id: str | None = None,
        channel_id: str | None = None,
        user_id: str | None = None,
        id: str | None = None,
    ) -> QueryRecord:
        """Build the record from a `bot.core.model.Answer` (text defaults to `answer.query`)."""
        return cls(
            id=id or new_query_id(),
            ts=utc_now(),
            surface=surface,
            team_id=team_id,
            channel_id=channel_id,
            user_id=user_id,
            text=answer.query if text is None else text,
            kind=answer.kind,
            entry_id=answer.id,
            score=answer.score,
            rule=answer.rule,
            units_summary=units_summary(answer) if answer.kind == "units" else None,
            latency_ms=round(latency_ms, 3),
        )


def units_summary(answer) -> str:
    """'97140 40m 3u, 97010 1u = 3u/40m': what was billed, without the question's words."""
    parts = [
        f"{line.code} {line.minutes}m {line.units}u"
        if line.minutes is not None
        else f"{line.code} {line.units}u"
        for line in answer.lines
    ]
    return f"{', '.join(parts)} = {answer.total_units}u/{answer.total_minutes}m"


# -- the log ----------------------------------------------------------------------------------------
_PKS = {
    "queries": "id",
    "feedback": ("query_id", "user_id"),
    "review_actions": "id",
    "phrasings": ("entry_id", "text"),
    "drafts": "id",
    "dismissals": "item_id",
    "channel_rules": "channel_id",
    "seen_events": "event_id",
    "user_settings": "user_id",
    "channel_welcomes": "channel_id",
    "picks": ("query_id", "user_id"),
    "verifications": "entry_id",
    "edits": "id",
    "asked_where": "query_id",
    "opt_outs": "user_id",
    "conversations": "key",
}
INSERT, UPSERT = "insert", "upsert"
# close(wait_for_disk=False) keeps retrying failed writes this long before it gives up: long
# enough for a passing lock, short enough that a command with an answer printed exits at once.
GIVE_UP_AFTER = 0.5
QUERY_COLUMNS = tuple(f.name for f in fields(QueryRecord))
_ROW_COLUMNS = (*QUERY_COLUMNS, "text_length")  # the record's fields, then the question's full length
# Questions go in as multi-row INSERTs of up to _ROWS_PER_INSERT rows: sqlite3 releases the GIL
# around each statement step, so a prepared INSERT per row (executemany) handed the GIL to the
# event loop and back once a row; a 50-row statement hands it over once per 50 rows, at the same
# CPU a row (one JSON parameter for the whole batch, tried first, cost ~25% more CPU a row).
_ROWS_PER_INSERT = 50  # x 14 columns = 700 parameters, far below SQLite's 32,766


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_queries(rows: int) -> str:
    one = f"({', '.join('?' * len(_ROW_COLUMNS))})"
    return f"INSERT OR IGNORE INTO queries ({', '.join(_ROW_COLUMNS)}) VALUES {', '.join([one] * rows)}"


_query_fields = operator.attrgetter(*QUERY_COLUMNS)
_TEXT, _SUMMARY = QUERY_COLUMNS.index("text"), QUERY_COLUMNS.index("units_summary")
SEEN_WINDOW = timedelta(hours=1)  # Slack re-delivers for a few minutes; an hour is plenty
MAINTENANCE_EVERY = 24 * 3600.0
SEARCH_INDEX_EVERY = 5.0  # seconds the search index (Datasette's search box) may lag the log
TEXT_CAP = 2_000  # characters of a question stored; a pasted 50,000-character note is not a question
_REDACT_WINDOW = 2 * TEXT_CAP  # raw characters redacted before the cut (redaction only shortens)


class QueryLog:
    """The SQLite query log with one background writer. See the module docstring."""

    def __init__(
        self,
        path: str | Path,
        *,
        store_text: bool = True,
        purge_days: int | None = None,
        queue_size: int = 10_000,
        overflow_size: int = 100_000,
        batch_size: int = 1_000,
        flush_interval: float = 0.1,
        busy_timeout: float = 1.0,
        retry_max: float = 5.0,
        connect: Callable[[str], sqlite3.Connection] | None = None,
    ):
        """
        :param store_text: False stores no text at all: no question, no feedback reason, no
          units summary (kind, entry and score only).
        :param purge_days: when set, the writer purges rows older than this at start and daily.
        :param busy_timeout: seconds SQLite waits for a lock before the writer backs off.
        :param retry_max: longest pause (seconds) between retries while the database is unusable.
        :param connect: opens a connection for the writer (tests inject faults through it).
        """
        self.path = str(path)
        self.store_text = store_text
        self.purge_days = purge_days
        self.queue_size, self.overflow_size, self.batch_size = queue_size, overflow_size, batch_size
        self.flush_interval, self.busy_timeout, self.retry_max = flush_interval, busy_timeout, retry_max
        self._connect = connect or (lambda p: sqlite3.connect(p, timeout=self.busy_timeout))
        self._cv = threading.Condition(threading.Lock())
        self._buf: deque[tuple[int, str, str, object]] = deque()
        self._seq = 0  # last sequence number handed out
        self._done = 0  # every item up to this sequence number is written (or given up on)
        self._counts = dict.fromkeys(("written", "spilled", "dropped", "failed", "retries", "errors"), 0)
        self.last_error: str | None = None
        self._stopping = self._abandon = self._give_up = False
        self._closing_since = 0.0
        self._hurry = False  # flush() is waiting: write what is queued now, don't gather a batch
        self._thread: threading.Thread | None = None
        self._channel_rules: dict[str, str] = {}
        self._seen: dict[str, float] = {}
        self._seen_lock = threading.Lock()
        self._state_loaded = False
        self._user_settings: dict[str, dict] = {}
        self._welcomed: set[str] = set()

    # -- lifecycle ------------------------------------------------------------------------------------
    def start(self, *, load_state: bool = True) -> QueryLog:
        """Start the writer thread (idempotent) and load persisted state if the database is there.

        :param load_state: read channel rules and recent event ids now (Slack needs them
          before the first event; the CLI doesn't, and must not wait on a locked file)."""
        if load_state and not self._state_loaded:
            try:
                with self.open_db(timeout=0.2) as db:
                    self._load_state(db)
            except (sqlite3.Error, OSError) as exc:  # the writer loads it once it gets through
                self.last_error = str(exc)
        with self._cv:
            if self._thread is not None and self._thread.is_alive():
                return self
            self._stopping = self._abandon = False
            self._thread = threading.Thread(target=self._run, name="querylog-writer", daemon=True)
            self._thread.start()
        return self

    def close(self, timeout: float = 5.0, *, wait_for_disk: bool = True) -> bool:
        """Drain the queue and stop the writer. False if records were still unwritten after
        `timeout` (the database stayed unusable); they are logged as lost, in one line.

        :param wait_for_disk: False gives up at the first failed write instead of retrying
          until `timeout`: a command that has printed its answer exits at once."""
        with self._cv:
            self._stopping = True
            self._give_up = not wait_for_disk
            self._closing_since = time.monotonic()
            self._cv.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)
            if thread.is_alive():
                with self._cv:
                    self._abandon = True
                    self._cv.notify_all()
                thread.join(self.busy_timeout + 1)
        lost = self.pending
        if lost:
            log.warning("query log not saved: %d record%s lost, %s could not be written (%s)",
                        lost, "" if lost == 1 else "s", self.path, self.last_error)
        return lost == 0

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Records queued but not yet written."""
        return self._seq - self._done

    def health(self) -> dict:
        """Counters for /healthz and the CLI: written, pending, spilled, dropped, failed, retries."""
        return {
            **self._counts,
            "pending": self.pending,
            "last_error": self.last_error,
            "writer_alive": bool(self._thread and self._thread.is_alive()),
        }

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything queued so far is written. False on timeout."""
        with self._cv:
            target = self._seq
            if self._done >= target:
                return True
            if self._thread is None or not self._thread.is_alive():
                return False
            self._hurry = True
            self._cv.notify_all()
            return self._cv.wait_for(lambda: self._done >= target, timeout)

    # -- the answer path: never blocks, never raises --------------------------------------------------
    def enqueue(self, table: str, row: object, op: str = INSERT) -> None:
        """Queue one row for `table` (insert-or-ignore, or upsert). Never blocks, never raises."""
        try:
            with self._cv:
                size = len(self._buf)
                if size >= self.queue_size:
                    if size >= self.queue_size + self.overflow_size:
                        self._counts["dropped"] += 1
                        return
                    self._counts["spilled"] += 1
                self._seq += 1
                self._buf.append((self._seq, table, op, row))
                if size + 1 == self.batch_size:
                    self._cv.notify_all()
        except Exception:
            self._counts["errors"] += 1
            log.exception("query log: could not queue a %s row", table)

    def record_query(self, rec: QueryRecord) -> None:
        self.enqueue("queries", rec)

    def record_feedback(self, query_id: str, user_id: str, helpful: bool, reason: str | None = None) -> None:
        row = {
            "query_id": query_id,
            "user_id": user_id,
            "helpful": bool(helpful),
            "reason": reason,
            "ts": utc_now(),
        }
        self.enqueue("feedback", row, UPSERT)

    def seen_before(self, event_id: str) -> bool:
        """Slack re-delivery dedupe: True if this event id was seen in the last hour.
        Checked in memory; persisted (via the writer) so a restart still knows it."""
        now = time.time()
        with self._seen_lock:
            if event_id in self._seen:
                return True
            self._seen[event_id] = now
            if len(self._seen) % 1024 == 0:
                cutoff = now - SEEN_WINDOW.total_seconds()
                self._seen = {k: t for k, t in self._seen.items() if t >= cutoff}
        self.enqueue("seen_events", {"event_id": event_id, "ts": utc_now()})
        return False

    def channel_rule(self, channel_id: str) -> str | None:
        return self._channel_rules.get(channel_id)

    def set_channel_rule(self, channel_id: str, rule: str, user_id: str) -> None:
        """Remember a channel's default unit rule (in memory now, on disk via the writer)."""
        self._channel_rules[channel_id] = rule
        self.enqueue(
            "channel_rules",
            {"channel_id": channel_id, "rule": rule, "set_by": user_id, "ts": utc_now()},
            UPSERT,
        )
        self.record_action(user_id, "set_channel_rule", channel_id, True, rule)

    def user_setting(self, user_id: str | None) -> dict:
        """A person's own defaults: {"rule": ..., "state": ...}, each None when unset."""
        return self._user_settings.get(user_id or "", {"rule": None, "state": None})

    def set_user_setting(self, user_id: str, **values: str | None) -> dict:
        """Change some of a person's defaults (rule=, state=; None clears one). In memory now, on
        disk via the writer; audited like a channel's rule."""
        current = {**self.user_setting(user_id), **{k: v for k, v in values.items() if k in ("rule", "state")}}
        self._user_settings[user_id] = current
        self.enqueue("user_settings", {"user_id": user_id, **current, "ts": utc_now()}, UPSERT)
        self.record_action(user_id, "set_user_setting", user_id, True, dumps(values))
        return current

    def first_welcome(self, channel_id: str) -> bool:
        """True the first time it is asked about a channel, ever (kept across restarts): the
        welcome message is posted at most once per channel."""
        if channel_id in self._welcomed:
            return False
        self._welcomed.add(channel_id)
        self.enqueue("channel_welcomes", {"channel_id": channel_id, "ts": utc_now()})
        return True

    def record_action(
        self, user_id: str, action: str, target: str | None, ok: bool, message: str = "", *, os_user: str | None = None
    ) -> None:
        """Audit trail of review and settings actions (who, what, when, allowed or not).

        :param os_user: the operating-system account that ran a CLI command (beside `--as`)."""
        self.enqueue(
            "review_actions",
            {
                "ts": utc_now(),
                "user_id": user_id,
                "action": action,
                "target": target,
                "ok": ok,
                "message": message,
                "os_user": os_user,
            },
        )

    # -- reads: own connection per call ---------------------------------------------------------------
    @contextmanager
    def open_db(self, timeout: float | None = None) -> Iterator[Database]:
        """A migrated connection for this thread; closed on exit."""
        conn = sqlite3.connect(self.path, timeout=self.busy_timeout if timeout is None else timeout)
        db = Database(conn)
        try:
            MIGRATIONS.apply(db)
            yield db
        finally:
            db.close()

    def recent(self, n: int = 20) -> list[dict]:
        """The last `n` questions, newest first."""
        with self.open_db() as db:
            return list(db.table("queries").rows_where(order_by="ts desc, id desc", limit=n))

    def stats(self, since: datetime) -> dict:
        """Questions, answered %, helpful %, top entries and unanswered questions since `since`."""
        cutoff = _iso(since)
        with self.open_db() as db:
            queries = db.table("queries")
            by_kind = {
                r["kind"]: r["n"]
                for r in db.query(
                    "select kind, count(*) as n from queries where ts >= ? group by kind order by n desc",
                    [cutoff],
                )
            }
            questions = sum(by_kind.values())
            unanswered = by_kind.get("no_match", 0)
            help_ = by_kind.get("help", 0)
            answered = questions - unanswered - help_  # units, faq and error (the input was wrong, and said so)
            votes = db.query(
                "select count(*) as n, coalesce(sum(helpful), 0) as up from feedback where ts >= ?", [cutoff]
            )
            feedback = next(votes)
            top = db.query(
                "select entry_id, count(*) as n from queries"
                " where ts >= ? and kind = 'faq' and entry_id is not null"
                " group by entry_id order by n desc, entry_id limit 5",
                [cutoff],
            )
            examples = queries.rows_where(
                "ts >= ? and kind = 'no_match'", [cutoff], order_by="ts desc", limit=5, select="id, ts, text"
            )
            return {
                "since": cutoff,
                "questions": questions,
                "answered": answered,
                "declined": unanswered,
                "help": help_,
                # of the questions asked, help requests (a blank /units, "help") aside
                "answered_pct": _pct(answered, answered + unanswered),
                "by_kind": by_kind,
                "feedback": feedback["n"],
                "helpful": feedback["up"],
                "helpful_pct": _pct(feedback["up"], feedback["n"]),
                "top_entries": [{"entry_id": r["entry_id"], "count": r["n"]} for r in top],
                "unanswered": unanswered,
                "unanswered_examples": list(examples),
            }

    def purge(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Delete questions (and their feedback) older than `older_than`; returns how many questions.

        :param dry_run: only count them."""
        cutoff = _iso(datetime.now(UTC) - older_than)
        with self.open_db() as db:
            if dry_run:
                return db.table("queries").count_where("ts < ?", [cutoff])
            return _purge(db, cutoff)

    # -- the writer -----------------------------------------------------------------------------------
    def _run(self) -> None:
        db: Database | None = None
        batch: list[tuple[int, str, str, object]] = []
        backoff = 0.0
        next_maintenance = 0.0  # right after the first connection
        next_index = 0.0
        while True:
            with self._cv:
                if self._abandon or (self._stopping and not batch and not self._buf):
                    break
                if backoff:
                    self._cv.wait_for(lambda: self._abandon, backoff)
                    if self._abandon:
                        break
                elif not batch and len(self._buf) < self.batch_size and not (self._stopping or self._hurry):
                    # Gather a batch for up to flush_interval (enqueue wakes us at batch_size) even
                    # when rows are waiting: writing whatever arrived during the last write meant,
                    # under load, a transaction every few rows and the GIL passed back and forth
                    # between this thread and the event loop for each (~0.5 context switches a row).
                    self._cv.wait(self.flush_interval)
                while len(batch) < self.batch_size and self._buf:
                    batch.append(self._buf.popleft())
                if not self._buf:
                    self._hurry = False  # all that flush() waits for is in hand
            try:
                if db is None:
                    db = self._open_writer()
                if time.monotonic() >= next_maintenance:
                    self._maintain(db)
                    next_maintenance = time.monotonic() + MAINTENANCE_EVERY
                index = time.monotonic() >= next_index
                if batch:
                    self._write(db, batch, index=index)  # empties `batch` once written
                elif index:
                    self._refresh_search_index(db)
                if index:
                    next_index = time.monotonic() + SEARCH_INDEX_EVERY
                backoff = 0.0
            except Exception as exc:
                # Locked, read-only, folder missing, not a database: keep the batch, reconnect later.
                if not _unusable(exc):
                    log.exception("query log writer: unexpected error, retrying")
                self._counts["retries"] += 1
                self.last_error = str(exc)
                if db is not None:
                    db.close()
                    db = None
                if self._give_up and time.monotonic() - self._closing_since >= GIVE_UP_AFTER:
                    break  # a moment's lock (a reader, a loaded machine) is retried; a dead file isn't
                backoff = min(self.retry_max, max(0.01, backoff * 2))
        if db is not None:
            if not self._abandon:
                self._refresh_search_index(db)
            db.close()

    def _refresh_search_index(self, db: Database) -> None:
        try:
            with db.atomic():
                refresh_search_index(db)
        except sqlite3.Error as exc:  # the next writer (or a purge) catches up
            log.warning("query log: search index not refreshed: %s", exc)

    def _open_writer(self) -> Database:
        conn = self._connect(self.path)
        db = Database(conn)
        try:
            MIGRATIONS.apply(db)
            # WAL + NORMAL: a commit no longer waits for fsync (the WAL is synced at checkpoints).
            # The database can't be corrupted; a power cut may lose the last moments of log,
            # which the in-memory queue could lose anyway. Was ~half the writer's time.
            db.execute("PRAGMA synchronous = NORMAL")
            if not self._state_loaded:
                self._load_state(db)
        except BaseException:
            db.close()
            raise
        return db

    def _write(self, db: Database, batch: list, index: bool = False) -> None:
        """Write a batch in one transaction (with the search index when `index`); if a row is
        bad, fall back to row by row and skip it."""
        try:
            with db.atomic():
                self._write_rows(db, batch)
                if index:
                    refresh_search_index(db)
        except Exception as exc:
            if _unusable(exc):
                raise
            while batch:
                item = batch[0]
                try:
                    with db.atomic():
                        self._write_rows(db, [item])
                    written = 1
                except Exception as exc:
                    if _unusable(exc):
                        raise  # the caller keeps what is left of the batch and retries
                    written = 0
                    self._counts["failed"] += 1
                    log.exception("query log: skipped a %s row that cannot be written", item[1])
                del batch[0]
                self._mark_done(item[0], written)
            return
        self._mark_done(batch[-1][0], len(batch))
        batch.clear()

    def _write_rows(self, db: Database, items: list) -> None:
        for (table, op), group in itertools.groupby(items, key=lambda item: (item[1], item[2])):
            if table == "queries":
                # The hot path, one row per question: 50 rows a statement (see _ROWS_PER_INSERT).
                rows = [self._query_values(item[3]) for item in group]
                for start in range(0, len(rows), _ROWS_PER_INSERT):
                    chunk = rows[start : start + _ROWS_PER_INSERT]
                    db.conn.execute(_insert_queries(len(chunk)), list(itertools.chain.from_iterable(chunk)))
                continue
            rows = [self._row(table, item[3]) for item in group]
            if op == UPSERT:
                db.table(table).upsert_all(rows, pk=_PKS[table])
            else:
                db.table(table).insert_all(rows, ignore=True)

    def _mark_done(self, seq: int, n: int) -> None:
        with self._cv:
            self._done = seq
            self._counts["written"] += n
            self._cv.notify_all()

    def _query_values(self, rec: QueryRecord) -> list:
        """A question's row, in _ROW_COLUMNS order; redaction, the cap and the no-text setting
        happen here, on the writer thread."""
        row = list(_query_fields(rec))
        row[_TEXT] = cap_text(rec.text) if self.store_text else None
        if not self.store_text:
            row[_SUMMARY] = None
        row.append(len(rec.text or ""))
        return row

    def _row(self, table: str, row: dict) -> dict:
        """Feedback reasons are user text too: redacted (or dropped) like questions."""
        if table == "feedback" and row.get("reason"):
            row = {**row, "reason": redact(row["reason"]) if self.store_text else None}
        return row

    def _maintain(self, db: Database) -> None:
        """Daily: forget old Slack event ids; purge old questions when `purge_days` is set."""
        with db.atomic():
            db.table("seen_events").delete_where("ts < ?", [_iso(datetime.now(UTC) - timedelta(days=2))])
        if self.purge_days is not None:
            purged = _purge(db, _iso(datetime.now(UTC) - timedelta(days=self.purge_days)))
            log.info("query log: purged %d questions older than %d days", purged, self.purge_days)

    def _load_state(self, db: Database) -> None:
        """Bring channel rules and recent event ids into memory; values set since start win."""
        for row in db.table("channel_rules").rows:
            self._channel_rules.setdefault(row["channel_id"], row["rule"])
        self._load_personal_settings(db)
        since = datetime.now(UTC) - SEEN_WINDOW
        with self._seen_lock:
            for row in db.table("seen_events").rows_where("ts >= ?", [_iso(since)]):
                self._seen.setdefault(row["event_id"], datetime.fromisoformat(row["ts"]).timestamp())
        self._state_loaded = True


    def _load_personal_settings(self, db: Database) -> None:
        """People's Home-tab defaults and the channels already welcomed; values set since start win."""
        for row in db.table("user_settings").rows:
            self._user_settings.setdefault(row["user_id"], {"rule": row["rule"], "state": row["state"]})
        self._welcomed.update(row["channel_id"] for row in db.table("channel_welcomes").rows)


def cap_text(text: str | None, cap: int = TEXT_CAP) -> str | None:
    """Redacted text, at most `cap` characters (a cut ends in '…').

    Only the first `2 * cap` raw characters are redacted (a huge paste costs no more than a
    note), cut back to a space so no half of a name or number escapes redaction at the edge."""
    if not text:
        return text
    if len(text) > _REDACT_WINDOW:
        head = text[:_REDACT_WINDOW]
        text = head[: head.rfind(" ")] if " " in head[cap:] else head[:cap]
        cut = True
    else:
        cut = False
    text = redact(text)
    if len(text) > cap or cut:
        text = text[: cap - 1] + "…"
    return text


def _unusable(exc: BaseException) -> bool:
    """The database can't be written right now (locked, read-only, missing, corrupt), as
    opposed to a row that can't be written (constraint, bad value)."""
    return isinstance(exc, sqlite3.OperationalError) or type(exc) is sqlite3.DatabaseError


def _purge(db: Database, cutoff: str) -> int:
    with db.atomic():
        queries = db.table("queries")
        count = queries.count_where("ts < ?", [cutoff])
        for table in ("feedback", "picks", "asked_where"):
            db.table(table).delete_where(
                "ts < ? or query_id in (select id from queries where ts < ?)", [cutoff, cutoff]
            )
        queries.delete_where("ts < ?", [cutoff])
        db.table("seen_events").delete_where("ts < ?", [cutoff])
        if count:
            queries.rebuild_fts()  # no delete trigger: drop the purged questions from the search index
    return count


def _pct(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def parse_age(text: str) -> timedelta:
    """'90d', '12h' or '2w' -> timedelta. Raises ValueError, also for a number without a unit:
    '90' could be days or hours, and a purge must not guess."""
    text = text.strip().lower()
    units = {"d": "days", "h": "hours", "w": "weeks"}
    number, unit = text[:-1], text[-1:]
    if unit not in units or not number.isdigit():
        hint = f" ({text} what? {text}d is {text} days)" if text.isdigit() else ""
        raise ValueError(f"expected a duration with a unit, like 90d, 12h or 2w, not {text!r}{hint}")
    return timedelta(**{units[unit]: int(number)})


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False)
