"""Numbers a reviewer can act on (issue #13): per entry, over the last 30 days, how often it
answered, how helpful people found it and why they down-voted it; and the answer rate of the
last 7 and 30 days. Read from the query log (its own connection: off the answer path)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.storage.querylog import QueryLog, _iso, _pct

ENTRY_DAYS = 30
NO_REASON = "no reason"

_ENTRIES = """
    select q.entry_id, count(distinct q.id) as answers, count(f.query_id) as votes,
      coalesce(sum(f.helpful), 0) as helpful
    from queries q left join feedback f on f.query_id = q.id
    where q.ts >= :since and q.kind = 'faq' and q.entry_id is not null
    group by q.entry_id
"""
_DOWN = """
    select q.entry_id, coalesce(nullif(f.reason, ''), :none) as reason, count(*) as n
    from feedback f join queries q on q.id = f.query_id
    where q.ts >= :since and q.kind = 'faq' and q.entry_id is not null and not f.helpful
    group by q.entry_id, 2
    order by n desc, reason
"""


def review_stats(log: QueryLog, now: datetime | None = None) -> dict:
    """`{"answer_rate": {"7d", "30d"}, "questions": {"7d", "30d"}, "entries": [...]}`.

    Each entry: answers (FAQ answers it gave to questions asked in the last 30 days), votes,
    helpful, helpful_pct (None without votes), down_votes ({reason: count}, most first).
    Entries with the most down-votes come first, then the most used. The answer rate counts
    units, FAQ and error answers against declines, help requests aside (as `log stats`)."""
    now = now or datetime.now(UTC)
    week, month = log.stats(now - timedelta(days=7)), log.stats(now - timedelta(days=ENTRY_DAYS))
    params = {"since": _iso(now - timedelta(days=ENTRY_DAYS)), "none": NO_REASON}
    with log.open_db() as db:
        counts = list(db.query(_ENTRIES, params))
        down: dict[str, dict[str, int]] = {}
        for r in db.query(_DOWN, params):
            down.setdefault(r["entry_id"], {})[r["reason"]] = r["n"]
    entries = [
        {
            "entry_id": r["entry_id"],
            "answers": r["answers"],
            "votes": r["votes"],
            "helpful": r["helpful"],
            "helpful_pct": _pct(r["helpful"], r["votes"]),
            "down_votes": down.get(r["entry_id"], {}),
        }
        for r in counts
    ]
    entries.sort(key=lambda e: (-sum(e["down_votes"].values()), -e["answers"], e["entry_id"]))
    return {
        "since": params["since"],
        "answer_rate": {"7d": week["answered_pct"], "30d": month["answered_pct"]},
        "questions": {"7d": week["questions"], "30d": month["questions"]},
        "entries": entries,
    }
