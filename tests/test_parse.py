"""The parser on messages as therapists write them, and on anything else."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core import parse
from bot.core.codes import load_code_table, load_rule_book
from bot.core.parse import Parser, strip_slack_markup

PARSER = Parser(load_code_table(), load_rule_book())


def segs(text: str) -> list[tuple[str, int | None]]:
    return [(s.code, s.minutes) for s in PARSER.parse(text).segments]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("40 min 97140", [("97140", 40)]),
        ("97140 40 min", [("97140", 40)]),
        ("97140 for 40 minutes", [("97140", 40)]),
        ("97140 40min", [("97140", 40)]),
        ("40-minute 97140", [("97140", 40)]),
        ("1h 15m 97124", [("97124", 75)]),
        ("1h15 97124", [("97124", 75)]),
        ("1 hr 15 min 97124", [("97124", 75)]),
        ("1 hour and 15 minutes 97124", [("97124", 75)]),
        ("1:10 97124", [("97124", 70)]),
        ("1.5 hours 97124", [("97124", 90)]),
        ("2 hrs 97124", [("97124", 120)]),
        ("an hour of massage", [("97124", 60)]),
        ("half an hour 97124", [("97124", 30)]),
        ("thirty minutes of manual therapy", [("97140", 30)]),
        ("25 min manual therapy + 20 min NMR", [("97140", 25), ("97112", 20)]),
        ("97124 30 min, 97140 20 min", [("97124", 30), ("97140", 20)]),
        ("30 min 97124, 97140 20 min", [("97124", 30), ("97140", 20)]),
        ("97124 20 min and 97124 15 min", [("97124", 20), ("97124", 15)]),
        ("97124 for 30 min + 10 min", [("97124", 40)]),
        ("97110: 33, 97140: 7", [("97110", 33), ("97140", 7)]),
        ("97010", [("97010", None)]),
        ("45 min swedish massage and a hot pack", [("97124", 45), ("97010", None)]),
        ("20 min ther ex, 10 min e-stim", [("97110", 20), ("97014", 10)]),
        ("40 min MLD", [("97140", 40)]),
        ("40 min myofascial release", [("97140", 40)]),
        ("g0283 and 30 min 97124", [("G0283", None), ("97124", 30)]),
        ("40 min, 97140", [("97140", 40)]),
    ],
)
def test_segments(text, expected):
    assert expected == segs(text)


@pytest.mark.parametrize(
    "text, rule",
    [("40 min 97140 ama", "ama"), ("40 min 97140 per-code", "ama"), ("40 min 97140 under the 8-minute rule", "cms"),
     ("40 min 97140 medicare", "cms"), ("40 min 97140 cigna", "cigna"), ("40 min 97140 full 15", "full-15"),
     ("40 min 97140", None)],
)
def test_rule_words(text, rule):
    assert rule == PARSER.parse(text).rule


def test_eight_minute_rule_is_not_a_duration():
    req = PARSER.parse("what is the 8-minute rule?")
    assert (False, None, True) == (req.has_minutes, None, req.is_question)
    assert not PARSER.parse("explain the 8 minute rule").has_minutes


def test_a_code_before_the_word_minutes_is_a_code_not_a_duration():
    req = PARSER.parse("do 97010 minutes count toward the 8 minute rule")
    assert (False, [("97010", None)], ()) == (req.has_minutes, segs(req.text), req.problems)
    assert [("97124", 40)] == segs("97124 40 minutes") == segs("40 minutes 97124")
    assert "too_long" == PARSER.parse("20000 minutes 97124").problems[0].kind  # not a code: still a duration


def test_reverse_question():
    req = PARSER.parse("how many minutes for 3 units?")
    assert (3, False) == (req.reverse_units, req.has_minutes)


@pytest.mark.parametrize(
    "text, kind, detail",
    [("-5 min 97124", "negative", "-5 min"), ("30 hours 97124", "too_long", "30 hours"),
     ("97122 40 min", "retired_code", "97122"), ("97001", "retired_code", "97001"),
     ("40 min 99213", "outside_code", "99213"), ("40 min 12345", "unknown_code", "12345"),
         ("9714 40 min", "almost_code", "9714"), ("971400 40 min", "almost_code", "971400"),
         ("10:30 97124", "unsure_time", "10:30"), ("30 min nmt", "ask_code", "nmt"), ("cms ama 40 min 97140", "rule_conflict", "cms (cms) or ama (ama)"),
     ("7.5 min 97124", "fraction", "7.5 min = 7.5 min")],
)
def test_problems(text, kind, detail):
    problems = PARSER.parse(text).problems
    assert (kind, detail) in [(p.kind, p.detail) for p in problems]


def test_slack_markup_is_ignored():
    text = "<@U123ABC> 40 min 97140 :smile: see <https://example.com|this> &amp; <!channel>"
    assert [("97140", 40)] == segs(text)
    assert "40 min 97140 see this &" == strip_slack_markup(text)


def test_codes_lists_every_code_once():
    req = PARSER.parse("can I bill 97124 and 97140 together with 97124 or 99213 or 97122?")
    assert ("97124", "97140", "97122", "99213") == req.codes


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=300))
def test_never_raises_on_arbitrary_text(text):
    req = PARSER.parse(text)
    assert all(s.minutes is None or s.minutes >= 0 for s in req.segments)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["40", "min", "97140", "1h", "15", ":", "-", "+", ",", "and", "97124", "NMR", "ama",
                                 "units", "?", "1:10", "hours", "0", "<@U1>", "&amp;", "97122", "x"]), max_size=12))
def test_never_raises_on_billing_shaped_noise(words):
    PARSER.parse(" ".join(words))


# The fast paths against the plain patterns they stand for: `_is_question` against `_QUESTION`, and
# `_whole_words` against the same pattern with its word-start test as a look-behind in front.
_PIECES = ["what", "whats", "which", "how", "is", "isn't", "it", "that", "this", "true", "ok", "can", "i", "do",
           "you", "ama", "cms", "bcbs", "medicare", "cigna", "xama", "nmr", "manual therapy", "myofascial release",
           "40 min", "97140", ",", ".", ";", ":", "!", "-", "\u2013", "?", "\n", "_", "this is"]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(["", " ", "  ", "-", ",", "_"])), max_size=14))
def test_the_fast_question_and_word_searches_agree_with_the_plain_patterns(parts):
    text = "".join(piece + gap for piece, gap in parts)
    assert bool(parse._QUESTION.search(text)) == parse._is_question(text), text
    low = text.lower()
    for pattern in (PARSER._rule, PARSER._alias):
        plain = re.compile(r"\b(?<![\w-])" + pattern.pattern)
        assert [m.span() for m in plain.finditer(low)] == [m.span() for m in parse._whole_words(pattern, low)], text
