"""Numbers a reviewer can act on (issue #13): per entry over 30 days (answers, helpful %,
down-votes by reason) and the answer rate of 7 and 30 days, from `ReviewDesk`'s log, in the
Home tab (reviewers only) and `billing-bot review stats`. Expected values worked by hand."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from slack_sdk.models.views import View

from bot.cli.commands import cli
from bot.storage.desk_stats import review_stats
from bot.storage.querylog import QueryLog, QueryRecord, _iso, new_query_id
from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_review import last_home


def seed(log: QueryLog, now: datetime) -> None:
    """In 7 days: npi-need x2, a units answer, a decline. 8-30 days: npi-need, code-97140, a
    decline. 40 days ago: npi-need (outside). Votes on npi-need's answers: 1 up, 2 "outdated",
    1 "wrong"; one up-vote on the old answer (outside)."""

    def q(days: float, kind: str, entry: str | None = None) -> str:
        qid = new_query_id()
        log.record_query(QueryRecord(qid, _iso(now - timedelta(days=days)), "dm", "T", "D1", "U1", "x", kind,
                                     entry, 90.0 if entry else None, None, None, 1.0))
        return qid

    a, b, c = q(1, "faq", "npi-need"), q(1, "faq", "npi-need"), q(10, "faq", "npi-need")
    old = q(40, "faq", "npi-need")
    q(20, "faq", "code-97140")
    q(2, "units")
    q(3, "no_match")
    q(12, "no_match")
    log.record_feedback(a, "U1", True)
    log.record_feedback(a, "U2", False, "outdated")
    log.record_feedback(b, "U3", False, "outdated")
    log.record_feedback(c, "U4", False, "wrong")
    log.record_feedback(old, "U5", True)
    assert log.flush(3)


EXPECTED_ENTRIES = [
    {"entry_id": "npi-need", "answers": 3, "votes": 4, "helpful": 1, "helpful_pct": 25.0,
     "down_votes": {"outdated": 2, "wrong": 1}},
    {"entry_id": "code-97140", "answers": 1, "votes": 0, "helpful": 0, "helpful_pct": None, "down_votes": {}},
]


def test_per_entry_numbers_and_answer_rates(db_path):
    now = datetime.now(UTC)
    with QueryLog(db_path, flush_interval=0.01) as log:
        seed(log, now)
        stats = review_stats(log, now)
    # 7 days: 3 answered (npi x2, units) of 3 + 1 declined = 75%; 30 days: 5 of 5 + 2 = 71.4%
    assert {"7d": 75.0, "30d": 71.4} == stats["answer_rate"]
    assert {"7d": 4, "30d": 7} == stats["questions"]
    assert EXPECTED_ENTRIES == stats["entries"]


def test_review_stats_command(db_path):
    with QueryLog(db_path, flush_interval=0.01) as log:
        seed(log, datetime.now(UTC))
    env = {"BILLING_BOT_DB": str(db_path)}
    as_json = CliRunner().invoke(cli, ["review", "stats", "--json"], env=env)
    assert 0 == as_json.exit_code, as_json.output
    assert EXPECTED_ENTRIES == json.loads(as_json.output)["entries"]
    text = CliRunner().invoke(cli, ["review", "stats"], env=env)
    assert 0 == text.exit_code, text.output
    lines = text.output.splitlines()
    assert "Answer rate  7 days: 75% of 4 questions" == lines[0]
    assert "            30 days: 71.4% of 7 questions" == lines[1]
    assert lines[3].split() == ["npi-need", "3", "25%", "4", "outdated", "2,", "wrong", "1"]
    assert lines[4].split() == ["code-97140", "1", "n/a", "0"]


async def test_the_numbers_are_on_the_reviewers_home_tab_only(slack_app, fake_slack, querylog):
    seed(querylog, datetime.now(UTC))
    await dispatch(slack_app, p.home_opened("UREV1"))
    await dispatch(slack_app, p.home_opened("U1"))
    home = json.dumps(last_home(fake_slack, "UREV1"), ensure_ascii=False)
    assert "*Answer rate:* 75% of 4 questions in 7 days · 71% of 7 in 30 days" in home
    assert "• `npi-need`: 3 answers · 25% helpful of 4 votes · :thumbsdown: outdated 2, wrong 1" in home
    assert "• `code-97140`: 1 answer" in home
    assert "Answer rate" not in json.dumps(last_home(fake_slack, "U1"))


async def test_many_entries_stay_within_a_sections_3000_characters(slack_app, fake_slack, querylog):
    now = datetime.now(UTC)
    for n in range(200):
        querylog.record_query(QueryRecord(new_query_id(), _iso(now), "dm", "T", "D1", "U1", "x", "faq",
                                          f"entry-with-a-rather-long-identifier-{n:03d}", 90.0, None, None, 1.0))
    assert querylog.flush(3)
    await dispatch(slack_app, p.home_opened("UREV1"))
    [published] = fake_slack.calls("views.publish")
    View(**published["view"]).validate_json()
    [section] = [b for b in published["view"]["blocks"] if "By entry, last 30 days" in json.dumps(b)]
    assert len(section["text"]["text"]) <= 3000
    assert "…and 185 more: `billing-bot review stats`" in section["text"]["text"]  # 15 shown
