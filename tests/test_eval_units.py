"""The hand-worked evaluation set tests/eval/units_cases.yaml: multi-visit notes and follow-ups."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.core.answer import Answerer

CASES = yaml.safe_load((Path(__file__).parent / "eval" / "units_cases.yaml").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def bot() -> Answerer:
    return Answerer.from_knowledge()


def test_the_set_is_big_enough():
    messages = sum(len(c["say"]) if isinstance(c["say"], list) else 1 for c in CASES)
    multi = [c for c in CASES if "visits" in c["expect"] or isinstance(c["say"], list)]
    assert len(multi) >= 40 and messages >= 60


@pytest.mark.parametrize("case", CASES, ids=lambda c: str(c["say"])[:60])
def test_case(bot, case):
    say = case["say"] if isinstance(case["say"], list) else [case["say"]]
    previous, answer = None, None
    for message in say:
        answer = bot.answer(message, previous=previous, conversation=len(say) > 1 or message.startswith("what"))
        if answer.state is not None:
            previous = answer.state
    expect = case["expect"]
    assert expect.get("kind", "units") == answer.kind, answer.text
    if "units" in expect:
        assert expect["units"] == answer.total_units, answer.text
    assert expect.get("visits", []) == [v.total_units for v in answer.visits], answer.text
    if "rule" in expect:
        assert expect["rule"] == answer.rule
    if "lines" in expect:
        assert expect["lines"] == len(answer.lines)
    if "text" in expect:
        assert expect["text"] in answer.text
