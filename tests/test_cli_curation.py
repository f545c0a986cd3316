"""The command line tells the truth (issue #13): `ask` answers with the reviewers' live
overlay, `--as` is documented as taken on trust, the OS user is audited beside it; and the
desk's tables keep one row per action under concurrent writers."""

from __future__ import annotations

import getpass
import json
import threading

from click.testing import CliRunner
from sqlite_utils import Database

from bot.cli.commands import cli
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id, utc_now
from bot.storage.review import ReviewDesk

QUESTION = "do massage folks need that ten digit provider thing"


def logged(db_path, text: str) -> str:
    log = QueryLog(db_path).start()
    qid = new_query_id()
    log.record_query(QueryRecord(qid, utc_now(), "cli", None, None, None, text, "no_match", None, None, None, None, 1.0))
    log.close()
    return qid


def run(db_path, *args):
    return CliRunner().invoke(cli, list(args), env={"BILLING_BOT_DB": str(db_path), "BILLING_BOT_LOG_CLI": "0"})


def test_ask_answers_with_the_overlay_a_cli_link_made(db_path):
    before = json.loads(run(db_path, "ask", "--json", QUESTION).output)
    assert "no_match" == before["kind"]
    qid = logged(db_path, QUESTION)
    linked = run(db_path, "review", "link", qid, "npi-need", "--db", str(db_path), "--as", "U024BE7LH")
    assert 0 == linked.exit_code, linked.output
    after = json.loads(run(db_path, "ask", "--json", QUESTION).output)
    assert ("faq", "npi-need") == (after["kind"], after["id"])
    with Database(db_path) as db:
        assert [("U024BE7LH", "link", getpass.getuser())] == [
            (r["user_id"], r["action"], r["os_user"]) for r in db.table("review_actions").rows
        ]


def test_verify_and_an_approved_edit_answer_in_ask(db_path):
    args = ["--db", str(db_path)]
    proposed = run(db_path, "review", "edit", "npi-need", "--answer", "Yes: get one free from NPPES.", *args, "--as", "A")
    assert "Proposed edit-npi-need" in proposed.output
    assert 2 == run(db_path, "review", "approve", "edit-npi-need", *args, "--as", "A").exit_code  # own edit: refused (exit 2, as every refused action)
    assert 0 == run(db_path, "review", "approve", "edit-npi-need", *args, "--as", "B").exit_code
    answer = json.loads(run(db_path, "ask", "--json", "do I need an NPI?").output)
    assert answer["text"].endswith("Yes: get one free from NPPES.")


def test_help_says_as_is_taken_on_trust():
    for args in (["review", "--help"], ["review", "approve", "--help"]):
        out = " ".join(CliRunner().invoke(cli, args).output.split())
        assert "trust" in out.lower() and "os user" in out.lower()


def test_exactly_one_row_per_action_under_8_concurrent_writers(db_path):
    log = QueryLog(db_path, flush_interval=0.005).start()
    ids = [logged(db_path, f"question {n} about {chr(97 + n)}{n}x{n}") for n in range(8)]
    desk = ReviewDesk(log, frozenset(f"R{n}" for n in range(8)), entry_ids=lambda: ["npi-need"])
    start = threading.Barrier(8)

    def writer(n: int) -> None:
        start.wait()
        desk.record_pick(f"U{n}", ids[0], "npi-need")  # 8 people, one question: 8 picks
        desk.record_pick("U0", ids[1], "npi-need")  # one person, 8 clicks: 1 pick
        desk.link(f"R{n}", ids[n], "npi-need")  # 8 links: 8 audit rows
        log.record_feedback(ids[2], "U0", n % 2 == 0)  # one vote, 8 clicks: 1 row

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert log.close()
    with Database(db_path) as db:
        assert 9 == db.table("picks").count
        assert 1 == db.table("feedback").count
        assert 8 == db.table("phrasings").count
        assert sorted(f"R{n}" for n in range(8)) == sorted(r["user_id"] for r in db.table("review_actions").rows)
