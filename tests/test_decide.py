"""Who answers when the matcher and the classifier are weighed together (bot.core.decide)."""

import math

import numpy as np
import pytest

from bot.core import decide as decide_module
from bot.core.answer import Answerer
from bot.core.decide import FEATURES, TRUSTED_MATCH, Weights, candidates, decide, terms
from bot.core.match import Match, MatchResult
from tests.eval.fit_decide import fold_scaling


@pytest.fixture(scope="module")
def entries():
    found = {e.id: e for e in Answerer.from_knowledge().matcher.entries}
    return found["superbill"], found["denial-co-97"], found["oregon-pip"]


def result(best, *others, off_topic=0.0, verbatim=False):
    candidates = tuple(m for m in (best, *others) if m is not None)
    return MatchResult(best, candidates, off_topic, verbatim)


def lookup(entries):
    return {e.id: e for e in entries}.get


def on_value_only(weight=4.0, intercept=0.0, answer_at=0.5):
    """A model that looks at the classifier's value alone: p = sigmoid(intercept + weight x value)."""
    n = len(terms([0.0] * len(FEATURES)))
    return Weights(tuple(weight if i == FEATURES.index("value") else 0.0 for i in range(n)), intercept, answer_at)


LEARNT = frozenset({"superbill", "denial-co-97", "oregon-pip", None})


def test_each_candidate_gets_what_both_scorers_said_of_it(entries):
    superbill, co97, pip = entries
    matched = result(Match(superbill, 80.0), Match(pip, 40.0), off_topic=30.0)
    scores = [("denial-co-97", 0.5), ("superbill", 0.2), (None, -0.4), ("oregon-pip", -0.9)]
    rows = dict(candidates(matched, scores))
    assert list(rows) == ["denial-co-97", "superbill", "oregon-pip"]  # the classifier's order, then the matcher's
    f = {entry: dict(zip(FEATURES, values)) for entry, values in rows.items()}
    assert f["denial-co-97"] == {"value": 0.5, "lead": pytest.approx(0.3), "decline_value": -0.4, "classifier_first": 1.0,
                                 "classifier_rank": 0.0, "match_score": 0.0, "off_topic": 0.3, "matcher_first": 0.0,
                                 "matcher_ranked": 0.0, "matcher_picked": 0.0, "matcher_declined": 0.0}
    assert f["superbill"]["lead"] == pytest.approx(-0.3) and f["superbill"]["classifier_rank"] == 1.0
    assert (f["superbill"]["match_score"], f["superbill"]["matcher_first"], f["superbill"]["matcher_picked"]) == (0.8, 1.0, 1.0)
    assert (f["oregon-pip"]["match_score"], f["oregon-pip"]["matcher_first"], f["oregon-pip"]["matcher_ranked"]) == (0.4, 0.0, 1.0)
    assert f["oregon-pip"]["classifier_rank"] == 2.0  # among entries: the decline label isn't counted
    declined = dict(candidates(result(None, Match(pip, 40.0)), scores))
    assert all(dict(zip(FEATURES, v))["matcher_declined"] == 1.0 for v in declined.values())


def test_an_entry_the_classifier_never_learnt_is_not_weighed(entries):
    superbill, _, pip = entries
    rows = candidates(result(None, Match(pip, 60.0)), [("superbill", 0.1), (None, -0.5)])
    assert [entry for entry, _ in rows] == ["superbill"]


def test_the_probability_is_the_fitted_pipelines():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures, StandardScaler

    rng = np.random.default_rng(7)
    x = rng.normal(size=(300, len(FEATURES)))
    y = (x[:, 0] + x[:, 1] * x[:, 5] + rng.normal(scale=0.5, size=300)) > 0
    pipeline = make_pipeline(PolynomialFeatures(2, include_bias=False), StandardScaler(), LogisticRegression()).fit(x, y)
    scaler, model = pipeline[1], pipeline[2]
    folded = fold_scaling(model.coef_[0], model.intercept_[0], scaler.mean_, scaler.scale_)
    for row in x[:20]:
        assert folded.probability(list(row)) == pytest.approx(pipeline.predict_proba([row])[0, 1], abs=1e-9)


def test_the_likeliest_entry_answers_above_the_threshold_with_the_matchers_own_score(entries):
    superbill, co97, _ = entries
    matched = result(Match(superbill, 80.0), Match(co97, 60.0))
    sure = decide(matched, lambda: [("denial-co-97", 0.6), ("superbill", -0.5), (None, -1.0)], lookup(entries),
                  learnt=LEARNT, model=on_value_only())
    assert (co97, 60.0) == (sure.best.entry, sure.best.score)
    assert [co97, superbill] == [m.entry for m in sure.candidates]
    agreed = decide(matched, lambda: [("superbill", 0.3), ("denial-co-97", -0.5)], lookup(entries), learnt=LEARNT,
                    model=on_value_only())
    assert (superbill, 80.0) == (agreed.best.entry, agreed.best.score)


def test_below_the_threshold_it_declines_and_offers_the_likeliest_first(entries):
    superbill, co97, pip = entries
    matched = result(Match(superbill, 80.0), Match(co97, 60.0))
    doubtful = decide(matched, lambda: [("oregon-pip", -0.1), ("denial-co-97", -0.3), ("superbill", -0.6), (None, -0.9)],
                      lookup(entries), learnt=LEARNT, model=on_value_only())
    assert doubtful.best is None
    assert [pip, co97, superbill] == [m.entry for m in doubtful.candidates]
    assert doubtful.candidates[0].score == 45.0  # unranked by the matcher: 50 + 50 x value


def test_an_entry_only_the_classifier_ranked_is_shown_with_its_value_as_score(entries):
    superbill, _, pip = entries
    alone = decide(result(None, Match(superbill, 40.0)), lambda: [("oregon-pip", 0.2), ("superbill", -1.0)],
                   lookup(entries), learnt=LEARNT, model=on_value_only())
    assert (pip, 60.0) == (alone.best.entry, alone.best.score)  # 50 + 50 x 0.2: below the desk's 70


def test_what_only_the_matcher_knows_stands(entries):
    superbill, co97, pip = entries
    learnt = frozenset({"superbill", "denial-co-97", None})  # oregon-pip: approved after the build
    sure = lambda: [("denial-co-97", 1.0), ("superbill", -1.0)]  # noqa: E731
    model = on_value_only()
    assert decide(result(Match(pip, 70.0)), sure, lookup(entries), learnt=learnt, model=model).best.entry == pip
    trusted = result(Match(superbill, TRUSTED_MATCH), verbatim=True)
    assert decide(trusted, sure, lookup(entries), learnt=learnt, model=model).best.entry == superbill
    code_bonus = result(Match(superbill, TRUSTED_MATCH))  # 100 without being a phrasing: weighed
    assert decide(code_bonus, sure, lookup(entries), learnt=learnt, model=model).best.entry == co97
    near_declined = result(None, Match(co97, 45.0), off_topic=TRUSTED_MATCH)
    assert decide(near_declined, sure, lookup(entries), learnt=learnt, model=model).best is None
    unknown_code = result(None, Match(co97, 45.0))
    assert decide(unknown_code, sure, lookup(entries), learnt=learnt, unknown_codes=True, model=model).best is None
    mine = decide(result(Match(pip, 70.0)), sure, lookup(entries), learnt=LEARNT, preferred_state="OR", model=model)
    assert mine.best.entry == pip
    assert decide(result(Match(pip, 70.0)), sure, lookup(entries), learnt=LEARNT, model=model).best.entry == co97


def test_the_classifier_is_not_asked_when_the_matchers_result_stands(entries):
    superbill, co97, _ = entries

    def never():
        raise AssertionError("the classifier was asked")

    verbatim = result(Match(superbill, TRUSTED_MATCH), verbatim=True)
    assert decide(verbatim, never, lookup(entries), learnt=LEARNT).best.entry == superbill
    assert decide(result(None, Match(co97, 40.0)), never, lookup(entries), learnt=LEARNT, unknown_codes=True).best is None


def test_the_shipped_weights_fit_these_features_and_weigh_agreement_above_doubt():
    shipped = decide_module.weights()
    assert len(shipped.coefficients) == len(terms([0.0] * len(FEATURES)))
    assert 0.5 <= shipped.answer_at < 1.0
    both = dict(value=0.8, lead=0.9, decline_value=-1.0, classifier_first=1, classifier_rank=0, match_score=0.9,
                off_topic=0.2, matcher_first=1, matcher_ranked=1, matcher_picked=1, matcher_declined=0)
    neither = dict(both, value=-0.9, lead=-0.4, decline_value=0.2, classifier_first=0, classifier_rank=3, match_score=0.3,
                   off_topic=0.5, matcher_first=0, matcher_picked=0, matcher_declined=1)
    assert shipped.probability([both[f] for f in FEATURES]) > shipped.answer_at
    assert shipped.probability([neither[f] for f in FEATURES]) < 0.2


def test_weights_fitted_on_other_features_are_refused(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text('{"features": ["value"], "answer_at": 0.7, "intercept": 0, "coefficients": [1]}')
    with pytest.raises(ValueError, match="fit-decide"):
        decide_module.weights(path)


def test_terms_are_the_features_then_their_pairwise_products():
    assert terms([2.0, 3.0]) == [2.0, 3.0, 4.0, 6.0, 9.0]
    assert math.isclose(on_value_only(weight=2.0, intercept=-1.0).probability([1.0] + [0.0] * (len(FEATURES) - 1)),
                        1 / (1 + math.exp(-1.0)))
