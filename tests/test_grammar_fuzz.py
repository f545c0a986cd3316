"""Hypothesis on the issue #11 grammar: visit labels, clock times, time words, sums, techniques,
payers, claims and follow-ups. Nothing may raise, and the unit sums keep their invariants."""

from __future__ import annotations

import json
from functools import lru_cache

from hypothesis import given, settings
from hypothesis import strategies as st

from bot import render
from bot.core.answer import Answerer
from bot.core.times import normalize
from bot.core.units import units_for
from bot.core.visits import split
from bot.slack import blocks as block_kit

WORDS = ["Pt 1:", "Pt 2:", "patient A", "patient B", "2nd client", "visit 2:", "monday", "tuesday", "11/3",
         "yesterday", "today", "am session", "pm session", "40", "min", "97140", "97124", "12345", "79124", "9714",
         "at", "10:30", "2:00", "to", "2:45", "2pm-2:45pm", "an hour and a quarter", "1 1/2 hours", "+", "20", "15",
         "hour and fifteen minutes", "one and a half hours", "nmt", "neuromuscular therapy", "stretching",
         "trigger point", "MT", "bcbs", "aetna", "medicare", "ama", "cms", "cigna", "workers comp", "billed",
         "4 units", "can I bill", "?", ",", ";", ".", "and", "what about", "without", "98940", "G0283", "97014",
         "how many minutes for", "3 units of", "-", ":", "1000 minutes", "<!channel>", "&amp;", "\n"]


@lru_cache(maxsize=1)
def _bot() -> Answerer:
    return Answerer.from_knowledge()


@settings(max_examples=250, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=16))
def test_the_new_grammar_never_raises(words):
    text = " ".join(words)
    a = _bot().answer(text)
    assert a.kind in ("units", "faq", "help", "no_match", "error")
    json.loads(render.to_json(a))
    render.to_text(a)
    block_kit.to_blocks(a, query_id="q1")
    if a.kind == "units" and a.visits:
        assert sum(v.total_units for v in a.visits) == a.total_units
        assert len(a.visits) >= 2
    if a.kind == "units" and a.rule == "cms" and not a.visits and a.total_minutes is not None and a.lines:
        assert units_for(a.total_minutes) == a.total_units  # CMS: the total decides


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(WORDS), max_size=10), st.lists(st.sampled_from(WORDS), max_size=6))
def test_follow_ups_never_raise(first, second):
    bot = _bot()
    a = bot.answer(" ".join(first), conversation=True)
    b = bot.answer(" ".join(second), previous=a.state, conversation=True)
    assert b.kind in ("units", "faq", "help", "no_match", "error")
    block_kit.to_blocks(b, query_id="q1")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=300))
def test_times_and_visits_never_raise_on_any_text(text):
    out, _ = normalize(text)
    assert isinstance(out, str)
    pieces = split(text)
    assert pieces is None or len(pieces) >= 2


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 99), st.integers(0, 90), st.sampled_from(["97124", "97140", "97112"])),
                min_size=2, max_size=6, unique_by=lambda t: t[0]))
def test_numbered_patients_are_never_pooled(visits):
    """Each 'Pt N:' visit gets the units of its own minutes under CMS (one code a visit)."""
    text = " ".join(f"Pt {n}: {m} min {code}." for n, m, code in visits)
    a = _bot().answer(text)
    assert "units" == a.kind
    assert [units_for(m) for _, m, _ in visits] == [v.total_units for v in a.visits]
    assert [f"Pt {n}" for n, _, _ in visits] == [v.label for v in a.visits]
