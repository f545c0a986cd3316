"""The answer path: routing between units, FAQ, help, no_match and error, and the JSON contract."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from bot.core.answer import Answerer
from bot.core.errors import UnknownRule
from bot.slack import blocks as block_kit


@pytest.fixture(scope="module")
def answerer():
    return Answerer.from_knowledge()


def test_forty_minutes_of_97140_is_three_units(answerer):
    a = answerer.answer("40 min 97140")
    assert ("units", "cms", 40, 3) == (a.kind, a.rule, a.total_minutes, a.total_units)
    assert [{"code": "97140", "minutes": 40, "units": 3, "timed": True}] == [line.to_dict() for line in a.lines]
    assert "38-52 min" in a.text and "next unit starts at 53 total timed minutes" in a.text


def test_names_and_several_codes(answerer):
    a = answerer.answer("25 min manual therapy + 20 min NMR")
    assert [("97140", 25, 2), ("97112", 20, 1)] == [(x.code, x.minutes, x.units) for x in a.lines]
    assert 3 == a.total_units


def test_both_results_shown_when_cms_and_ama_differ(answerer):
    a = answerer.answer("97112: 24, 97110: 23")
    assert 3 == a.total_units
    assert "AMA" in a.text and "4 units" in a.text


def test_rule_in_message_overrides_the_default(answerer):
    assert "ama" == answerer.answer("97112: 24, 97110: 23 ama").rule
    assert 4 == answerer.answer("97112: 24, 97110: 23 ama").total_units
    assert "ama" == answerer.answer("40 min 97140", rule="ama").rule
    assert "cms" == answerer.answer("40 min 97140 cms", rule="ama").rule


def test_untimed_code_alone_is_one_unit(answerer):
    a = answerer.answer("97010")
    assert ("units", 0, 0) == (a.kind, a.total_minutes, a.total_units)
    assert [(False, 1)] == [(x.timed, x.units) for x in a.lines]
    assert any("bundled" in w for w in a.warnings)


def test_conflicting_pair_warns(answerer):
    a = answerer.answer("30 min 97124 + 15 min 97140")
    assert any("97124 and 97140" in w for w in a.warnings)


def test_reverse_question(answerer):
    a = answerer.answer("how many minutes for 3 units?")
    assert ("units", 3) == (a.kind, a.total_units)
    assert "38-52" in a.text


@pytest.mark.parametrize(
    "message, fragment",
    [
        ("97122 40 min", "97112"),
        ("97001", "97161"),
        ("40 min 97141", "97140"),
        ("-5 min 97124", "negative"),
        ("30 hours 97124", "24 hours"),
        ("97124", "how many minutes"),
        ("20 hours 97124 + 10 hours 97140", "24 hours"),
    ],
)
def test_input_errors_say_what_and_how(answerer, message, fragment):
    a = answerer.answer(message)
    assert "error" == a.kind
    assert fragment in a.text
    assert "`" in a.text  # an example of how to ask


@pytest.mark.parametrize("message", ["", "   ", "help", "hi", "Hello!"])
def test_help(answerer, message):
    a = answerer.answer(message)
    assert "help" == a.kind and "40 min 97140" in a.text


def test_eight_minute_rule_question_is_not_a_unit_sum(answerer):
    a = answerer.answer("what is the 8-minute rule?")
    assert a.kind in ("faq", "no_match")
    assert "eight-minute-rule" == a.id


def test_code_question_goes_to_the_faq(answerer):
    a = answerer.answer("can I bill 97124 and 97140 together?")
    assert ("faq", "bill-97124-with-97140") == (a.kind, a.id)
    assert a.sources and a.score is not None


def test_unknown_code_question_is_no_match(answerer):
    a = answerer.answer("can I bill 99213 for massage?")
    assert "no_match" == a.kind
    assert "99213" in a.text


def test_out_of_scope_is_declined(answerer):
    assert "no_match" == answerer.answer("what's the weather in Seattle tomorrow?").kind


def test_user_text_is_escaped(answerer):
    a = answerer.answer("<!channel> 40 min 97999 & more")
    assert "<!" not in a.text and "<@" not in a.text


def test_unknown_default_rule_is_refused():
    with pytest.raises(UnknownRule):
        Answerer.from_knowledge(default_rule="nope")


def test_json_contract_keys(answerer):
    units = json.loads(render.to_json(answerer.answer("40 min 97140")))
    assert {"kind", "text", "rule", "total_minutes", "total_units", "lines", "warnings"} <= set(units)
    faq = json.loads(render.to_json(answerer.answer("do I need an NPI?")))
    assert {"kind", "text", "id", "score", "sources"} <= set(faq)
    nm = json.loads(render.to_json(answerer.answer("best pizza in town")))
    assert "suggestions" in nm


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_any_text_gets_an_answer(text):
    a = _shared().answer(text)
    assert a.kind in ("units", "faq", "help", "no_match", "error")
    json.loads(render.to_json(a))
    render.to_text(a)
    block_kit.to_blocks(a, query_id="q1")


_ANSWERER = None


def _shared():
    global _ANSWERER
    if _ANSWERER is None:
        _ANSWERER = Answerer.from_knowledge()
    return _ANSWERER


@pytest.mark.parametrize(
    "message, kind",
    [
        ("40 min 97140?", "units"),
        ("how many units is 40 minutes?", "units"),
        ("can i bill 40 min of 97124?", "units"),
        ("I did 40 min of massage today", "units"),
        ("3 units = ? min", "units"),
        ("does a unit have to be a complete 15 min", "faq"),
        ("is it true in washington you need 13 of 15 minutes for a unit", "faq"),
        ("what are the minute ranges for 1 2 3 4 units", "faq"),
        ("can i count the same 15 minutes toward 97124 and 97112 if i did them at once", "faq"),
        ("how much should i charge for a 60 min massage cash", "no_match"),
        ("whats a good 8 minute ab workout", "no_match"),
        ("my teacher said WA requires 13 of 15 min, whats the source", "faq"),
        ("40 minutes", "units"),
        ("units for 40 minutes", "units"),
        ("did 25 min 97140 and 20 min 97112, is that 3 units", "units"),
        ("40 min 97140, how many units", "units"),
        ("is 53 minutes 3 or 4 units", "units"),
        ("if I do 22 min is that 1 or 2 units", "units"),
        ("25 min manual therapy + 20 min NMR, what do i bill", "units"),
        # impossible minutes: an error for a note, but a question about hours of school is no note
        ("40 hours 97124", "error"),
        ("97140 for 25 hours", "error"),
        ("does north carolina accept a 600 hour program or do they want more hours", "no_match"),
        ("are therapists paid per service owed overtime over 40 hours", "no_match"),
    ],
)
def test_routing_between_units_and_questions(answerer, message, kind):
    assert kind == answerer.answer(message).kind


@pytest.mark.parametrize("message, entry", [
    ("is there a cap on how many units of 97124 I can bill in one visit? we book 90 min sessions", "unit-caps"),
    # several durations of a story: a units answer would add them up (15 + 60 + 45 min)
    ("client came 15 min late to her 60 min slot so i did 45 min of 97124. does the booked time count toward units"
     " or only what i actually did?", "billing-time-not-spent"),
])
def test_a_question_that_gives_minutes_but_asks_a_rule_gets_the_entry(answerer, message, entry):
    a = answerer.answer(message)
    assert ("faq", entry) == (a.kind, a.id)
    assert "units* of 97124" not in a.text


@pytest.mark.parametrize("message, entry", [
    # a story's times (booked 60, treated 45) are not one session's: the units path added them up and said
    # "Yes: 4 is within the 7 units that 105 timed min supports"
    ("my appointments are booked for 60 min but i only get about 45 min on the table, can i still bill 4 units?",
     "billing-time-not-spent"),
    ("two of us worked on one client at the same time for 60 minutes, can we each bill 4 units?", "group-and-overlap"),
])
def test_a_claim_in_a_story_gets_the_rule_not_a_sum_of_its_times(answerer, message, entry):
    a = answerer.answer(message)
    assert ("faq", entry) == (a.kind, a.id)


def test_a_story_with_several_times_is_not_added_up_when_no_entry_answers(answerer, monkeypatch):
    from bot.core.model import Answer

    monkeypatch.setattr(answerer, "_faq", lambda req, state=None: Answer("no_match", "I'm not sure.", query=req.text))
    a = answerer.answer("booked her for 60 min, she was 20 min late, so can i still bill 4 units?")
    assert "no_match" == a.kind and a.total_units is None
    assert a.text.startswith("Your message gives several times, so I haven't added them up")
    # one time in the question: the claim is checked as before
    a = answerer.answer("i did 50 min with her today, can i still bill 4 units?")
    assert ("units", 3) == (a.kind, a.total_units) and a.text.startswith("*No*:")


@pytest.mark.parametrize("message", ["40 min 97140, is that right?", "did 45 min of 97124 today is that 3 units",
                                     "can i bill 4 units for 50 min of massage?", "40 min 97140 for my low back pt"])
def test_checking_a_sum_stays_a_units_answer(answerer, message):
    assert "units" == answerer.answer(message).kind


@pytest.mark.parametrize(
    "message",
    [
        # minutes that state a rule, not a session
        "my boss says 97140 needs the full 15 min per unit, is that true",
        "someone told me you need 13 minutes to bill a unit in washington",
        # a question about codes or billing separately, after some context and with no "?"
        "10 min hot pack before the massage, is that billable separately",
        "first insurance client tomorrow! which code do i use for a 60 min medical massage",
        "does a unit of 97140 need the whole 15 minutes?",
        "i put a hot pack on for 10 min first. can i bill 97010 for that? heard it's bundled",
        "our seminar said 'check your state' every five minutes. do massage billing rules vary by state?",
        "what's modifier 52 and does it apply when 97124 comes up short of 15 min",
        "my boss says a unit of 97124 isnt billable unless i did the whole 15 minutes",
        "learned in massage school in WA that you need 13 of 15 min for a unit. is that real",
    ],
)
def test_questions_that_give_minutes_go_to_the_knowledge_base(answerer, message):
    assert answerer.answer(message).kind in ("faq", "no_match")


def test_an_faq_answer_says_when_it_was_checked_and_how_old_its_sources_are():
    from datetime import date

    from bot.core.answer import _checked
    from bot.core.model import Source

    sources = (Source("CMS", "https://cms.gov", "primary", "2016-01"), Source("NUCC", "https://nucc.org", "primary", "2024"),
               Source("Blog", "https://b.example"))
    assert "Checked against its sources 2026-12-02; sources dated 2016 to 2024, 1 source undated" == _checked(
        date(2026, 12, 2), sources
    )
    assert "Checked against its sources 2026-12-02; 1 source undated" == _checked(date(2026, 12, 2), sources[2:])
    assert "Checked against its sources 2026-12-02; sources dated 2024" == _checked(date(2026, 12, 2), sources[1:2])
