"""When the matcher and the classifier disagree: who answers (bot.core.decide)."""

import pytest

from bot.core.answer import Answerer
from bot.core.decide import ALONE_AT, TRUSTED_MATCH, decide
from bot.core.match import Match, MatchResult


@pytest.fixture(scope="module")
def entries():
    found = {e.id: e for e in Answerer.from_knowledge().matcher.entries}
    return found["superbill"], found["denial-co-97"], found["oregon-pip"]


def result(best, *others, off_topic=0.0):
    candidates = tuple(m for m in (best, *others) if m is not None)
    return MatchResult(best, candidates, off_topic)


def lookup(entries):
    return {e.id: e for e in entries}.get


def test_agreement_answers_with_the_matchers_score(entries):
    superbill, co97, _ = entries
    picked = decide(result(Match(superbill, 80.0), Match(co97, 60.0)), lambda: ("superbill", -0.9), lookup(entries),
                    learnt=frozenset({"superbill", "denial-co-97", None}))
    assert (superbill, 80.0) == (picked.best.entry, picked.best.score)


def test_a_sure_classifier_overrules_the_matcher_and_a_doubtful_one_makes_it_decline(entries):
    superbill, co97, _ = entries
    learnt = frozenset({"superbill", "denial-co-97", None})
    matched = result(Match(superbill, 80.0), Match(co97, 60.0))
    overruled = decide(matched, lambda: ("denial-co-97", ALONE_AT + 0.1), lookup(entries), learnt=learnt)
    assert (co97, 60.0) == (overruled.best.entry, overruled.best.score)  # the matcher's own score for it
    assert [co97, superbill] == [m.entry for m in overruled.candidates]
    doubtful = decide(matched, lambda: ("denial-co-97", ALONE_AT - 0.1), lookup(entries), learnt=learnt)
    assert doubtful.best is None and [superbill, co97] == [m.entry for m in doubtful.candidates]
    declined = decide(matched, lambda: (None, 0.5), lookup(entries), learnt=learnt)
    assert declined.best is None


def test_an_entry_the_matcher_did_not_rank_gets_a_low_score_and_is_offered_when_doubtful(entries):
    superbill, _, pip = entries
    learnt = frozenset({"superbill", "denial-co-97", "oregon-pip", None})
    declined = result(None, Match(superbill, 40.0))
    alone = decide(declined, lambda: ("oregon-pip", 0.2), lookup(entries), learnt=learnt)
    assert (pip, 60.0) == (alone.best.entry, alone.best.score)  # 50 + 50 x 0.2: below the desk's 70
    offered = decide(declined, lambda: ("oregon-pip", ALONE_AT - 0.5), lookup(entries), learnt=learnt)
    assert offered.best is None and [superbill, pip] == [m.entry for m in offered.candidates]


def test_what_only_the_matcher_knows_stands(entries):
    superbill, co97, pip = entries
    learnt = frozenset({"superbill", "denial-co-97", None})  # oregon-pip: approved after the build
    sure = ("denial-co-97", 1.0)
    assert decide(result(Match(pip, 70.0)), lambda: sure, lookup(entries), learnt=learnt).best.entry == pip
    assert decide(result(Match(superbill, TRUSTED_MATCH)), lambda: sure, lookup(entries), learnt=learnt).best.entry == superbill
    near_declined = result(None, Match(co97, 45.0), off_topic=TRUSTED_MATCH)
    assert decide(near_declined, lambda: sure, lookup(entries), learnt=learnt).best is None
    unknown_code = result(None, Match(co97, 45.0))
    assert decide(unknown_code, lambda: sure, lookup(entries), learnt=learnt, unknown_codes=True).best is None
    learnt_all = learnt | {"oregon-pip"}
    mine = decide(result(Match(pip, 70.0)), lambda: sure, lookup(entries), learnt=learnt_all, preferred_state="OR")
    assert mine.best.entry == pip
    assert decide(result(Match(pip, 70.0)), lambda: sure, lookup(entries), learnt=learnt_all).best.entry == co97


def test_the_classifier_is_not_asked_when_the_matchers_result_stands(entries):
    superbill, co97, _ = entries

    def never():
        raise AssertionError("the classifier was asked")

    learnt = frozenset({"superbill", "denial-co-97", None})
    assert decide(result(Match(superbill, TRUSTED_MATCH)), never, lookup(entries), learnt=learnt).best.entry == superbill
    assert decide(result(None, Match(co97, 40.0)), never, lookup(entries), learnt=learnt, unknown_codes=True).best is None
