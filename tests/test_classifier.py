"""The classifier answers without scikit-learn, so its features and scores must be scikit-learn's."""

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from bot.core import classifier
from bot.core.classifier import char_features, train, word_features

SAMPLES = [
    "Can I bill 97124 and 97140 together??",
    "what's a superbill",
    "  claim   denied CO-97\tafter chiro adj ",
    "a b c",  # words shorter than the n-grams
    "Florida PIP — does it cover LMTs?",
    "EOB says PR-2, what do I owe",
    "",
]


@pytest.mark.parametrize("text", SAMPLES)
def test_the_features_are_scikit_learns(text):
    words = TfidfVectorizer(ngram_range=classifier.WORD_NGRAMS, token_pattern=classifier._WORD_PATTERN)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=classifier.CHAR_NGRAMS)
    assert sorted(words.build_analyzer()(text)) == sorted(word_features(text))
    assert sorted(chars.build_analyzer()(text)) == sorted(char_features(text))


TRAINING = [
    ("how do i fill out a superbill", "superbill"),
    ("superbill for out of network client", "superbill"),
    ("what goes on a superbill", "superbill"),
    ("what is on a superbill form", "superbill"),
    ("superbill template", "superbill"),
    ("do you give clients a superbill", "superbill"),  # more than the others: the class weights differ
    ("claim denied co-97 bundled", "co-97"),
    ("co 97 denial what does it mean", "co-97"),
    ("denied as bundled co97", "co-97"),
    ("bundling denial co-97 with chiro", "co-97"),
    ("what should i charge cash clients", None),
    ("best massage oil for deep tissue", None),
    ("how much to charge for a 60 minute massage", None),
    ("which massage table to buy", None),
]


def test_scores_are_the_linear_models_decision_values():
    from scipy.sparse import hstack
    from sklearn.svm import LinearSVC

    texts, labels = zip(*TRAINING)
    model = train(texts, labels)
    questions = ["superbill please", "co-97 on my claim", "massage oil", "unrelated words entirely"]

    words = TfidfVectorizer(ngram_range=classifier.WORD_NGRAMS, sublinear_tf=True, min_df=classifier.WORD_MIN_DF,
                            token_pattern=classifier._WORD_PATTERN)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=classifier.CHAR_NGRAMS, sublinear_tf=True,
                            min_df=classifier.CHAR_MIN_DF)
    svm = LinearSVC(C=classifier.REGULARISATION_C, class_weight=classifier.class_weights(labels), random_state=0).fit(
        hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr(), [label or "" for label in labels]
    )
    coef = np.where(np.abs(svm.coef_) >= classifier.PRUNE_BELOW, svm.coef_, 0.0)
    expected = hstack([words.transform(questions), chars.transform(questions)]).tocsr() @ coef.T + svm.intercept_
    for question, row in zip(questions, np.asarray(expected)):
        assert model.best(question) == model.scores(question)[0]
        got = dict(model.scores(question))
        for label, value in zip(svm.classes_, row):
            assert got[label or None] == pytest.approx(value, abs=1e-4)  # weights kept as float32


def test_every_entry_weighs_the_same_in_all_and_declines_keep_their_own_weight():
    labels = ["superbill"] * 6 + ["co-97"] * 2 + [None] * 4
    weights = classifier.class_weights(labels)
    assert weights["superbill"] * 6 == pytest.approx(weights["co-97"] * 2)  # the same total per entry
    assert weights["co-97"] == pytest.approx(12 / (3 * 2))  # n / (classes x count)
    assert weights[""] == classifier.DECLINE_WEIGHT
    assert classifier.class_weights(["a", "b"]) == {"a": 1.0, "b": 1.0}


def test_a_small_entry_is_not_outvoted_by_a_big_neighbour_on_a_shared_word():
    big = [f"what goes in box {i} of the claim form" for i in range(20)] + ["claim form denied", "denied claim form box"]
    small = ["denied claim appeal", "appeal a denied claim", "how to appeal a denial"]
    model = train(big + small, ["claim-form"] * len(big) + ["appeal"] * len(small))
    assert model.best("denied claim")[0] == "appeal"  # unweighted, the 22 claim-form questions win


def test_it_learns_the_labels_it_was_given():
    texts, labels = zip(*TRAINING)
    model = train(texts, labels)
    assert "superbill" == model.best("do you have a superbill template")[0]
    assert "co-97" == model.best("they denied it co-97")[0]
    assert model.best("what oil do you use for a massage")[0] is None
    assert {"superbill", "co-97", None} == {label for label, _ in model.scores("x")}


def test_the_model_survives_marshal():
    import marshal

    texts, labels = zip(*TRAINING)
    model = train(texts, labels)
    again = classifier.TextClassifier.from_plain(marshal.loads(marshal.dumps(model.to_plain())))
    unpickled = __import__("pickle").loads(__import__("pickle").dumps(model))
    restored = classifier.TextClassifier.__new__(classifier.TextClassifier)
    restored.__setstate__(marshal.loads(marshal.dumps(model.__getstate__())))  # as bot.core.index_cache does
    for question in ("superbill please", "co-97 on my claim", "massage oil"):
        assert model.scores(question) == again.scores(question) == unpickled.scores(question) == restored.scores(question)
