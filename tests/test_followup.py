"""Follow-ups in a conversation: the last units question changed, and the state kept for it."""

from __future__ import annotations

import json
import sqlite3
from datetime import timedelta

import pytest

from bot.core.answer import Answerer
from bot.storage.conversations import Conversations, slack_key
from bot.storage.querylog import QueryLog


@pytest.fixture(scope="module")
def bot() -> Answerer:
    return Answerer.from_knowledge()


def chat(bot: Answerer, *messages: str):
    """Answer messages as one conversation; returns the answers."""
    previous, out = None, []
    for m in messages:
        a = bot.answer(m, previous=previous, conversation=True)
        if a.state is not None:
            previous = a.state
        out.append(a)
    return out


def test_rule_change(bot):
    # 97110 33 + 97140 7: CMS 40 min -> 3 units; AMA 33 -> 2 and 7 -> 0
    first, second = chat(bot, "97110: 33, 97140: 7", "what about under ama?")
    assert (3, "cms") == (first.total_units, first.rule)
    assert ("units", 2, "ama") == (second.kind, second.total_units, second.rule)
    assert second.text.startswith("_Same visit as above, under the AMA/CPT midpoint rule (per code):_")


def test_payer_change(bot):
    # 50 + 30 = 80 min -> 5 units; Cigna pays 4
    _, cigna = chat(bot, "50 min 97124 + 30 min 97140", "and if it's cigna?")
    assert ("cigna", 4) == (cigna.rule, cigna.total_units)
    _, bcbs = chat(bot, "50 min 97124 + 30 min 97140 ama", "what about bcbs")
    assert ("cms", 5) == (bcbs.rule, bcbs.total_units)
    assert "No profile for BCBS" in bcbs.text


def test_minutes_change(bot):
    _, second = chat(bot, "40 min 97140", "what if it was 45 min?")
    assert ("units", 45, 3) == (second.kind, second.total_minutes, second.total_units)
    assert "with 97140 at 45 min" in second.text
    # 25 -> 2; then 97124 set to 38: 38 alone -> 3
    _, _, third = chat(bot, "25 min 97124", "what if it was 45 min?", "actually 38 min 97124")
    assert (38, 3) == (third.total_minutes, third.total_units)


def test_minutes_change_with_two_codes_asks_which(bot):
    _, second = chat(bot, "25 min 97140 + 20 min 97112", "what if it was 45 min?")
    assert "error" == second.kind and "97140 or 97112" in second.text


def test_code_added_and_removed(bot):
    # 25 + 20 = 45 -> 3; plus hot pack (untimed, 1 unit); without 97112: 25 -> 2
    _, added, removed = chat(bot, "25 min manual therapy + 20 min NMR", "and 10 min of hot pack?",
                             "without the 97112")
    assert [("97140", 2), ("97112", 1), ("97010", 1)] == [(x.code, x.units) for x in added.lines]
    assert 3 == added.total_units and "plus 10 min 97010" in added.text
    assert [("97140", 2), ("97010", 1)] == [(x.code, x.units) for x in removed.lines]
    assert "without 97112" in removed.text


def test_removing_a_code_that_was_not_there(bot):
    _, second = chat(bot, "40 min 97140", "without 97112")
    assert "error" == second.kind and "97112 wasn't in the visit above" in second.text


def test_multi_visit_follow_up(bot):
    _, ama, add = chat(bot, "monday 40 min 97140; tuesday 25 min 97124", "ama?", "and 10 min 97010")
    assert ([3, 2], "ama") == ([v.total_units for v in ama.visits], ama.rule)
    assert ama.text.startswith("_Same visits as above")
    assert "error" == add.kind and "2 visits" in add.text


def test_follow_up_with_nothing_to_follow(bot):
    a = bot.answer("what about under ama?", previous=None, conversation=True)
    assert "no_match" == a.kind and "no earlier units question" in a.text
    # outside a conversation the same words are a question for the knowledge base (answered, or
    # "not sure" with the close topics offered), never a unit sum
    a = bot.answer("what about under ama?")
    assert a.kind in ("faq", "no_match") and "cms-vs-ama" in {a.id, *(s.id for s in a.suggestions)}


def test_a_complete_note_in_a_conversation_stands_alone(bot):
    _, second = chat(bot, "40 min 97140", "25 min 97124")
    assert [("97124", 25, 2)] == [(x.code, x.minutes, x.units) for x in second.lines]
    assert "Same visit" not in second.text
    # with nothing to follow, "and 10 min hot pack" is a note of its own
    a = bot.answer("and 10 min hot pack", previous=None, conversation=True)
    assert ("units", 1) == (a.kind, len(a.lines))


def test_a_question_in_between_keeps_the_state(bot):
    answers = chat(bot, "40 min 97140", "do I need an NPI?", "what about ama?")
    assert "faq" == answers[1].kind
    assert ("ama", 3) == (answers[2].rule, answers[2].total_units)


def test_an_unreadable_state_is_ignored(bot):
    a = bot.answer("what about ama?", previous={"visits": "nonsense"}, conversation=True)
    assert a.kind in ("faq", "no_match") and "cms-vs-ama" in {a.id, *(s.id for s in a.suggestions)}


# -- the store ----------------------------------------------------------------------------------------
def test_state_is_kept_in_sqlite_and_survives_a_restart(tmp_path):
    log = QueryLog(tmp_path / "log.db", flush_interval=0.01).start()
    store = Conversations(log)
    key = slack_key("T1", "D1", None)
    store.put(key, {"rule": "cms", "payer": None, "visits": [{"label": "Pt 1", "lines": [["97140", 40]]}]})
    assert log.close()
    again = Conversations(QueryLog(tmp_path / "log.db"))
    assert {"label": "Pt 1", "lines": [["97140", 40]]} == again.get(key)["visits"][0]
    assert None is again.get(slack_key("T1", "D2", None))


def test_no_labels_when_text_is_not_stored(tmp_path):
    log = QueryLog(tmp_path / "log.db", flush_interval=0.01).start()
    store = Conversations(log, store_text=False)
    store.put("k", {"rule": "cms", "visits": [{"label": "John Smith", "lines": [["97140", 40]]},
                                              {"label": "Jane Roe", "lines": [["97124", 20]]}]})
    assert log.close()
    [(state,)] = sqlite3.connect(tmp_path / "log.db").execute("select state from conversations").fetchall()
    assert "Smith" not in state and "Roe" not in state
    assert ["Visit 1", "Visit 2"] == [v["label"] for v in json.loads(state)["visits"]]


def test_state_is_forgotten_after_a_few_hours():
    now = [1_000_000.0]
    store = Conversations(None, ttl=timedelta(hours=4), clock=lambda: now[0])
    store.put("k", {"rule": "cms", "visits": []})
    now[0] += 3.9 * 3600
    assert store.get("k") is not None
    now[0] += 0.2 * 3600
    assert store.get("k") is None


@pytest.mark.parametrize("question", ["does aetna cover it?", "what if I treat 45 min without a referral?"])
def test_questions_that_name_a_payer_or_minutes_are_not_follow_ups(bot, question):
    _, a = chat(bot, "40 min 97140", question)
    assert "Same visit" not in a.text and a.kind != "units"
