import shutil
import sqlite3
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlite_utils import Database

from bot.core.model import Answer, UnitLine
from bot.storage.querylog import (
    MIGRATIONS,
    QUERY_COLUMNS,
    QueryLog,
    QueryRecord,
    new_query_id,
    parse_age,
    utc_now,
)

FAST = {"busy_timeout": 0.05, "retry_max": 0.05, "flush_interval": 0.01}
TABLES = {
    "queries",
    "feedback",
    "review_actions",
    "phrasings",
    "drafts",
    "dismissals",
    "channel_rules",
    "seen_events",
    "user_settings",
    "channel_welcomes",
    "picks",
    "verifications",
    "edits",
    "asked_where",
    "opt_outs",
    "conversations",
    "_sqlite_migrations",
}


@pytest.fixture
def make_log(db_path):
    """QueryLog factory with fast retries; every log is closed after the test."""
    logs = []

    def make(path=db_path, **options):
        log = QueryLog(path, **{**FAST, **options})
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close(timeout=2)


def rec(text="40 min 97124", kind="faq", ts=None, entry_id="massage-units", score=92.0, **fields):
    values = {
        "id": new_query_id(),
        "ts": ts or utc_now(),
        "surface": "slash",
        "team_id": "T1",
        "channel_id": "C1",
        "user_id": "U1",
        "text": text,
        "kind": kind,
        "entry_id": entry_id,
        "score": score,
        "rule": "cms",
        "units_summary": None,
        "latency_ms": 1.5,
    }
    return QueryRecord(**{**values, **fields})


def count(path, table="queries"):
    with Database(path) as db:
        return db.table(table).count


def rows(path, table="queries"):
    with Database(path) as db:
        return list(db.table(table).rows)


def ago(**delta):
    return (datetime.now(UTC) - timedelta(**delta)).isoformat(timespec="milliseconds")


def test_schema_comes_from_migrations_with_wal(make_log, db_path):
    make_log().start().close()
    with Database(db_path) as db:
        assert TABLES <= set(db.table_names())
        assert "queries_fts" in db.table_names()
        assert (*QUERY_COLUMNS, "text_length") == tuple(db.table("queries").columns_dict)  # the writer's prepared INSERT
        assert "wal" == db.journal_mode
        assert [] == MIGRATIONS.pending(db)
        MIGRATIONS.apply(db)  # applying again changes nothing
        assert 12 == len(MIGRATIONS.applied(db))


def test_record_query_is_redacted_and_stored(make_log, db_path):
    log = make_log().start()
    r = rec(text="patient John Smith DOB 3/4/1961, 40 min 97124", units_summary="97124 40m 3u = 3u/40m")
    log.record_query(r)
    assert log.flush()
    assert [{**r.__dict__, "text": "patient [name] DOB [date], 40 min 97124", "text_length": len(r.text)}] == rows(db_path)


def test_store_text_off_keeps_only_kind_entry_and_score(make_log, db_path):
    log = make_log(store_text=False).start()
    r = rec(text="patient John Smith 97124", units_summary="97124 40m 3u = 3u/40m")
    log.record_query(r)
    log.record_feedback(r.id, "U2", False, "wrong code for John")
    assert log.flush()
    [row] = rows(db_path)
    assert (None, None, "faq", "massage-units", 92.0) == (
        row["text"],
        row["units_summary"],
        row["kind"],
        row["entry_id"],
        row["score"],
    )
    assert [None] == [f["reason"] for f in rows(db_path, "feedback")]


def test_feedback_is_one_vote_per_user(make_log, db_path):
    log = make_log().start()
    r = rec()
    log.record_query(r)
    log.record_feedback(r.id, "U2", True)
    log.record_feedback(r.id, "U2", False, "patient Ann Lee says it was 2 units")
    log.record_feedback(r.id, "U3", True)
    assert log.flush()
    votes = {(f["user_id"], f["helpful"], f["reason"]) for f in rows(db_path, "feedback")}
    assert {("U2", 0, "patient [name] says it was 2 units"), ("U3", 1, None)} == votes


def test_seen_before_dedupes_and_survives_restart(make_log):
    log = make_log().start()
    assert [False, True, False] == [log.seen_before("Ev1"), log.seen_before("Ev1"), log.seen_before("Ev2")]
    log.close()
    again = make_log().start()
    assert [True, True, False] == [
        again.seen_before("Ev1"),
        again.seen_before("Ev2"),
        again.seen_before("Ev3"),
    ]


def test_channel_rule_is_read_at_once_and_kept_across_restarts(make_log, db_path):
    log = make_log().start()
    assert None is log.channel_rule("C1")
    log.set_channel_rule("C1", "ama", "U9")
    assert "ama" == log.channel_rule("C1")
    log.close()
    assert "ama" == make_log().start().channel_rule("C1")
    [action] = rows(db_path, "review_actions")
    assert ("U9", "set_channel_rule", "C1", 1) == (
        action["user_id"],
        action["action"],
        action["target"],
        action["ok"],
    )


def test_recent_is_newest_first(make_log):
    log = make_log().start()
    records = [rec(text=f"question {i}") for i in range(5)]
    for r in records:
        log.record_query(r)
    assert log.flush()
    assert ["question 4", "question 3", "question 2"] == [r["text"] for r in log.recent(3)]


def test_stats(make_log):
    log = make_log().start()
    old = rec(ts=ago(days=10))
    week = [
        rec(),
        rec(),
        rec(entry_id="modifier-59"),
        rec(kind="no_match", entry_id=None, score=None, text="99213?"),
        rec(kind="units", entry_id=None, score=None),
        rec(kind="help", entry_id=None, score=None, text=""),  # neither answered nor declined
    ]
    for r in [old, *week]:
        log.record_query(r)
    log.record_feedback(week[0].id, "U2", True)
    log.record_feedback(week[1].id, "U2", True)
    log.record_feedback(week[2].id, "U2", False)
    assert log.flush()
    stats = log.stats(datetime.now(UTC) - timedelta(days=7))
    assert {
        "questions": 6,
        "answered": 4,  # 3 faq + 1 units
        "declined": 1,
        "help": 1,
        "answered_pct": 80.0,  # 4 of the 5 answered or declined
        "by_kind": {"faq": 3, "no_match": 1, "units": 1, "help": 1},
        "feedback": 3,
        "helpful": 2,
        "helpful_pct": 66.7,
        "unanswered": 1,
        "top_entries": [{"entry_id": "massage-units", "count": 2}, {"entry_id": "modifier-59", "count": 1}],
        "unanswered_examples": [{"id": week[3].id, "ts": week[3].ts, "text": "99213?"}],
    } == {k: v for k, v in stats.items() if k != "since"}


def test_purge_deletes_old_questions_and_their_feedback(make_log, db_path):
    log = make_log().start()
    old, new = rec(ts=ago(days=100)), rec(ts=ago(days=1))
    log.record_query(old)
    log.record_query(new)
    log.record_feedback(old.id, "U2", True)
    assert log.flush()
    assert 1 == log.purge(timedelta(days=90))
    assert [new.id] == [r["id"] for r in rows(db_path)]
    assert [] == rows(db_path, "feedback")


def search(db_path, words):
    with Database(db_path) as db:
        db.execute("INSERT INTO queries_fts (queries_fts) VALUES ('integrity-check')")  # raises if corrupt
        return [r[0] for r in db.execute(
            "SELECT q.id FROM queries_fts JOIN queries q ON q.rowid = queries_fts.rowid "
            "WHERE queries_fts MATCH ? ORDER BY q.id", [words]
        )]


def test_search_index_follows_the_log_in_batches_and_after_purges(make_log, db_path):
    log = make_log().start()
    old = rec(text="do I need an NPI number", ts=ago(days=100))
    log.record_query(old)
    assert log.close()
    assert [old.id] == search(db_path, "npi")
    with Database(db_path) as db:
        assert [] == db.triggers  # indexed by the writer in one statement, not a trigger per row
    log = make_log().start()
    new = rec(text="massages for NPIs")
    log.record_query(new)
    assert log.flush()
    assert 1 == log.purge(timedelta(days=90))
    assert log.close()
    assert [new.id] == search(db_path, "npi") == search(db_path, "massage")  # porter: NPIs, massages


def test_purge_days_setting_purges_when_the_writer_starts(make_log, db_path):
    first = make_log().start()
    first.record_query(rec(ts=ago(days=40)))
    first.record_query(rec(ts=ago(days=5)))
    first.close()
    log = make_log(purge_days=30).start()
    log.record_query(rec())
    assert log.flush()
    assert 2 == count(db_path)


def test_close_drains_the_queue(make_log, db_path):
    log = make_log(flush_interval=1.0).start()
    for _ in range(3000):
        log.record_query(rec())
    assert log.close(timeout=10)
    assert 3000 == count(db_path)


def test_a_bad_row_is_skipped_and_the_rest_written(make_log, db_path):
    log = make_log().start()
    log.record_query(rec())
    log.record_query("not a record")
    log.record_query(rec())
    assert log.flush()
    assert (2, 1) == (count(db_path), log.health()["failed"])


# -- faults: the bot keeps answering, the rows wait and arrive -------------------------------------------
@pytest.fixture
def locked(db_path):
    """Hold the write lock from another connection, as another process would."""
    QueryLog(db_path).start().close()
    conn = sqlite3.connect(db_path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    yield conn
    if conn.in_transaction:
        conn.execute("ROLLBACK")
    conn.close()


def test_locked_database_does_not_block_and_loses_nothing(make_log, db_path, locked):
    log = make_log(busy_timeout=1.0).start()
    slowest = 0.0
    for _ in range(200):
        started = time.perf_counter()
        log.record_query(rec())
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 0.5  # far below the 1 s the writer waits on the lock
    assert not log.flush(timeout=0.3)
    assert 200 == log.pending
    locked.execute("ROLLBACK")
    assert log.flush(timeout=10)
    assert 200 == count(db_path)
    assert log.health()["retries"] >= 1


def test_read_only_connection_retries_until_writable(make_log, db_path):
    """Root ignores file modes, so the writer gets a SQLite read-only connection (`mode=ro`):
    the same SQLITE_READONLY error a chmod'd file gives a normal user."""
    QueryLog(db_path).start().close()
    readonly = threading.Event()
    readonly.set()

    def connect(path):
        if readonly.is_set():
            return sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.05)
        return sqlite3.connect(path, timeout=0.05)

    log = make_log(connect=connect).start()
    log.record_query(rec())
    assert not log.flush(timeout=0.3)
    assert "readonly" in log.health()["last_error"]
    readonly.clear()
    assert log.flush(timeout=5)
    assert 1 == count(db_path)


def test_immutable_file_retries_until_writable(make_log, db_path):
    """`chattr +i` makes a file read-only even for root (where the filesystem supports it)."""
    QueryLog(db_path).start().close()
    if (
        shutil.which("chattr") is None
        or subprocess.run(["chattr", "+i", db_path], capture_output=True, check=False).returncode
    ):
        pytest.skip("chattr +i is not available here")
    try:
        log = make_log().start()
        log.record_query(rec())
        assert not log.flush(timeout=0.3)
    finally:
        subprocess.run(["chattr", "-i", db_path], check=True)
    assert log.flush(timeout=5)
    assert 1 == count(db_path)


def test_missing_folder_then_created(make_log, tmp_path):
    path = tmp_path / "not-yet" / "log.db"
    log = make_log(path).start()
    log.record_query(rec())
    log.set_channel_rule("C1", "ama", "U9")
    assert "ama" == log.channel_rule("C1")
    assert not log.flush(timeout=0.3)
    assert "unable to open" in log.health()["last_error"]
    path.parent.mkdir()
    assert log.flush(timeout=5)
    assert 1 == count(path)
    assert [("C1", "ama")] == [(r["channel_id"], r["rule"]) for r in rows(path, "channel_rules")]


# -- load -------------------------------------------------------------------------------------------------
def _hammer(log, threads=8, per_thread=1000):
    def worker():
        for _ in range(per_thread):
            log.record_query(rec())

    workers = [threading.Thread(target=worker) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()


def test_eight_threads_times_a_thousand_make_exactly_8000_rows(make_log, db_path):
    log = make_log().start()
    _hammer(log)
    assert log.flush(timeout=30)
    with Database(db_path) as db:
        assert [(8000, 8000)] == list(
            db.execute("select count(*), count(distinct id) from queries").fetchall()
        )
    assert (0, 0) == (log.health()["dropped"], log.health()["failed"])


def test_full_queue_spills_and_loses_nothing(make_log, db_path, locked):
    log = make_log(queue_size=100).start()
    _hammer(log)
    health = log.health()
    assert (8000, 0) == (health["pending"], health["dropped"])
    assert health["spilled"] > 7000  # all but what the queue and the writer's batch hold
    locked.execute("ROLLBACK")
    assert log.flush(timeout=30)
    assert 8000 == count(db_path)


def test_past_the_overflow_records_are_dropped_and_counted(make_log, db_path):
    log = make_log(queue_size=10, overflow_size=10)  # writer not started: nothing drains
    for _ in range(50):
        log.record_query(rec())
    assert (10, 30, 20) == (log.health()["spilled"], log.health()["dropped"], log.pending)
    log.start()
    assert log.flush()
    assert 20 == count(db_path)


# -- small parts ------------------------------------------------------------------------------------------
def test_query_ids_are_short_unique_and_time_ordered():
    ids = []
    threads = [
        threading.Thread(target=lambda: ids.extend(new_query_id() for _ in range(2000))) for _ in range(4)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 8000 == len(set(ids))
    assert {19} == {len(i) for i in ids}
    first, later = new_query_id(), (time.sleep(0.002), new_query_id())[1]
    assert first < later and first.startswith("q")


def test_record_from_answer():
    answer = Answer(
        "units",
        "3 units",
        rule="cms",
        total_minutes=40,
        total_units=3,
        query="40 min 97140 + 97010",
        lines=(UnitLine("97140", 40, 3, True), UnitLine("97010", None, 1, False)),
    )
    r = QueryRecord.from_answer(answer, surface="dm", latency_ms=2.25, user_id="U1")
    assert ("dm", "40 min 97140 + 97010", "units", "cms", "97140 40m 3u, 97010 1u = 3u/40m", 2.25, "U1") == (
        r.surface,
        r.text,
        r.kind,
        r.rule,
        r.units_summary,
        r.latency_ms,
        r.user_id,
    )


@pytest.mark.parametrize(
    "text, expected",
    [
        ("90d", timedelta(days=90)),
        ("12h", timedelta(hours=12)),
        ("2w", timedelta(weeks=2)),
    ],
)
def test_parse_age(text, expected):
    assert expected == parse_age(text)


def test_parse_age_rejects_nonsense():
    with pytest.raises(ValueError):
        parse_age("ninety days")
    with pytest.raises(ValueError, match="90 what"):
        parse_age("90")  # days or hours? a purge must not guess


def test_datasette_canned_queries_match_the_schema(make_log, db_path):
    """docs/datasette/metadata.yml: every table it names exists and every canned query runs."""
    import re
    from pathlib import Path

    import yaml

    log = make_log().start()
    log.record_query(rec(kind="no_match", entry_id=None, score=None))
    assert log.flush()
    metadata = yaml.safe_load((Path(__file__).parent.parent / "docs/datasette/metadata.yml").read_text())
    [database] = metadata["databases"].values()
    with Database(db_path) as db:
        assert set(database["tables"]) <= set(db.table_names())
        for query in database["queries"].values():
            params = {p: "" for p in re.findall(r"(?<!:):(\w+)", query["sql"])}
            db.execute(query["sql"], params).fetchall()  # raises on a missing table or column


def test_close_gives_up_after_its_timeout_when_the_database_stays_locked(make_log, locked):
    log = make_log()
    log.start().record_query(rec())
    started = time.perf_counter()
    assert not log.close(timeout=0.3)
    assert time.perf_counter() - started < 2
    assert 1 == log.pending


def test_a_file_that_is_not_a_database_is_waited_out(make_log, db_path):
    db_path.write_text("not a database\n" * 100)
    log = make_log().start()
    log.record_query(rec())
    assert not log.flush(timeout=0.3)
    assert "not a database" in log.health()["last_error"] and log.health()["writer_alive"]
    db_path.unlink()
    assert log.flush(timeout=5)
    assert 1 == count(db_path)


def test_stored_text_is_capped_and_its_length_kept(make_log, db_path):
    from bot.storage.querylog import TEXT_CAP

    pasted = "40 min 97140 " * 3846 + "pt John Smith"  # 13 * 3846 + 13 = 50,011 characters
    log = make_log().start()
    log.record_query(rec(text=pasted))
    assert log.close()
    [row] = rows(db_path)
    assert (50_011, 2_000) == (row["text_length"], len(row["text"])) and 2_000 == TEXT_CAP
    assert row["text"].startswith("40 min 97140 40 min") and row["text"].endswith("…")
    assert "Smith" not in row["text"]


def test_text_cut_at_the_cap_never_leaves_half_a_number_unredacted():
    from bot.storage.querylog import cap_text

    # the SSN straddles the raw cut (4,000 characters): the cut goes back to a space first
    text = "x" * 3995 + " SSN 123-45-6789 " + "y" * 100
    assert "123" not in cap_text(text) and "6789" not in cap_text(text)
    # redacted, then cut: "a " * 999 + "SSN [id]" is 2,006 characters -> 1,999 + "…"
    assert "a " * 999 + "S…" == cap_text("a " * 999 + "SSN 123-45-6789")
    assert "short 40 min 97140" == cap_text("short 40 min 97140")
