"""A linear classifier learnt from every labelled question: the matcher's second opinion.

The matcher compares a question with phrasings one at a time, so an entry with one lucky phrasing
can beat the entry a hundred labelled questions point to. A linear model over word and character
n-grams (tf-idf, a linear SVM) weighs all of them at once; cross-validated on knowledge/asked/ it
cut wrong answers by about half (NOTES.md, session 6). scikit-learn trains it when the index is
built, and is imported only then; answering needs none of it: the model is kept as plain arrays
(pickled with the index) and a question's features are worked out here the way scikit-learn's
vectorisers do (tests/test_classifier.py checks the two agree). Pure: no Slack, SQLite or files.
"""

from __future__ import annotations

import math
import re
from array import array
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

__all__ = ["TextClassifier", "train"]

WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (3, 5)
WORD_MIN_DF = 2  # features seen in fewer training questions than this are dropped
CHAR_MIN_DF = 3
REGULARISATION_C = 0.5  # LinearSVC's C, chosen by cross-validation (round value on a plateau)
# An entry's labelled questions weigh as much in all as any other entry's: without this an entry with
# 200 questions outvotes a neighbour with 40 on every shared word. "Decline" keeps weight 1 a question
# (balanced, its ~2,500 questions would count for a handful and out-of-scope answers would rise).
# Cross-validated (NOTES.md, session 8), pruned as below: 100 more right answers, 2 fewer wrong, 3 more
# out of scope answered.
DECLINE_WEIGHT = 1.0
PRUNE_BELOW = 0.02  # weights smaller than this are dropped: 10x fewer; 0.05 (25x) lost 30 right answers on CV with class weights

_WORD = re.compile(r"[A-Za-z0-9]+")
_WORD_PATTERN = _WORD.pattern
_RUNS_OF_SPACE = re.compile(r"\s\s+")  # scikit-learn's char_wb normalisation


def word_features(text: str) -> list[str]:
    """Words and word pairs, lower-cased: scikit-learn's word analyzer with ngram_range (1, 2)."""
    words = _WORD.findall(text.lower())
    return words + [f"{a} {b}" for a, b in pairwise(words)]


def char_features(text: str) -> list[str]:
    """Character 3- to 5-grams inside each space-padded word: scikit-learn's `char_wb` analyzer."""
    grams = []
    for word in _RUNS_OF_SPACE.sub(" ", text.lower()).split():
        padded = f" {word} "
        length = len(padded)
        for n in range(CHAR_NGRAMS[0], CHAR_NGRAMS[1] + 1):
            if n >= length:
                grams.append(padded)  # a word shorter than n gives itself once, then no longer grams
                break
            grams.extend(padded[i : i + n] for i in range(length - n + 1))
    return grams


@dataclass(frozen=True)
class _Features:
    """One vectoriser's vocabulary (feature -> row) and idf, rows numbered from `first`."""

    rows: dict[str, int]
    idf: array  # by row - first
    first: int

    def weighted(self, features: list[str]) -> list[tuple[int, float]]:
        """(row, sublinear tf x idf), l2-normalised, for the features this vocabulary knows."""
        rows, idf, first = self.rows, self.idf, self.first
        pairs = []
        for feature, count in Counter(features).items():
            row = rows.get(feature)
            if row is not None:
                pairs.append((row, (1.0 + math.log(count)) * idf[row - first]))
        norm = math.sqrt(sum(v * v for _, v in pairs)) or 1.0
        return [(row, v / norm) for row, v in pairs]


@dataclass(frozen=True)
class TextClassifier:
    """Labels (entry ids; None for "a question we decline") scored by a sparse linear model."""

    labels: tuple[str | None, ...]
    words: _Features
    chars: _Features
    offsets: array  # feature row r's weights are labels_of[offsets[r]:offsets[r + 1]], weights likewise
    labels_of: array
    weights: array
    intercepts: tuple[float, ...]

    def scores(self, text: str) -> list[tuple[str | None, float]]:
        """Every label with its decision value (higher: more likely), best first."""
        totals = self._totals(text)
        ranked = sorted(range(len(totals)), key=totals.__getitem__, reverse=True)
        return [(self.labels[i], totals[i]) for i in ranked]

    def best(self, text: str) -> tuple[str | None, float]:
        """The likeliest label and its decision value."""
        totals = self._totals(text)
        i = max(range(len(totals)), key=totals.__getitem__)
        return self.labels[i], totals[i]

    def _totals(self, text: str) -> list[float]:
        """Each label's decision value, in the order of `labels`."""
        totals = list(self.intercepts)
        offsets, labels_of, weights = self.offsets, self.labels_of, self.weights
        for row, value in self.words.weighted(word_features(text)) + self.chars.weighted(char_features(text)):
            start, end = offsets[row], offsets[row + 1]
            for label, weight in zip(labels_of[start:end], weights[start:end]):
                totals[label] += weight * value
        return totals

    def to_plain(self) -> tuple:
        """The model as tuples, dicts, numbers and bytes only (what `marshal` can write)."""
        words, chars = self.words, self.chars
        return (
            self.labels,
            (words.rows, words.idf.tobytes(), words.first),
            (chars.rows, chars.idf.tobytes(), chars.first),
            self.offsets.tobytes(),
            self.labels_of.tobytes(),
            self.weights.tobytes(),
            self.intercepts,
        )

    def __getstate__(self) -> tuple:  # plain data: the index cache writes it with marshal
        return self.to_plain()

    def __setstate__(self, state: tuple) -> None:
        restored = self.from_plain(state)
        for name in self.__dataclass_fields__:
            object.__setattr__(self, name, getattr(restored, name))

    @classmethod
    def from_plain(cls, data: tuple) -> TextClassifier:
        """The inverse of `to_plain`."""
        labels, words, chars, offsets, labels_of, weights, intercepts = data
        return cls(
            tuple(labels),
            _Features(words[0], _array("d", words[1]), words[2]),
            _Features(chars[0], _array("d", chars[1]), chars[2]),
            _array("i", offsets),
            _array("H", labels_of),
            _array("f", weights),
            tuple(intercepts),
        )


def _array(typecode: str, data: bytes) -> array:
    values = array(typecode)
    values.frombytes(data)
    return values


def class_weights(labels: Sequence[str | None]) -> dict[str, float]:
    """Each entry's weight a question, so that every entry's questions add up to the same total
    (scikit-learn's "balanced": n / (classes x count)); "" (decline) gets DECLINE_WEIGHT."""
    counts = Counter(label or "" for label in labels)
    total, classes = sum(counts.values()), len(counts)
    weights = {label: total / (classes * count) for label, count in counts.items()}
    if "" in weights:
        weights[""] = DECLINE_WEIGHT
    return weights


def train(texts: Sequence[str], labels: Sequence[str | None]) -> TextClassifier:
    """Fit the model on labelled questions (None: to decline). Needs scikit-learn (imported here)."""
    import numpy as np
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.svm import LinearSVC

    words = TfidfVectorizer(ngram_range=WORD_NGRAMS, sublinear_tf=True, min_df=WORD_MIN_DF, token_pattern=_WORD_PATTERN)
    chars = TfidfVectorizer(analyzer="char_wb", ngram_range=CHAR_NGRAMS, sublinear_tf=True, min_df=CHAR_MIN_DF)
    matrix = hstack([words.fit_transform(texts), chars.fit_transform(texts)]).tocsr()
    names = sorted({label or "" for label in labels})  # "" stands for None while fitting
    model = LinearSVC(C=REGULARISATION_C, class_weight=class_weights(labels), random_state=0)  # the same model every build
    model.fit(matrix, [label or "" for label in labels])
    classes = [str(c) for c in model.classes_]
    assert sorted(classes) == names
    coef = model.coef_ if len(classes) > 2 else np.vstack([-model.coef_[0], model.coef_[0]])
    intercepts = model.intercept_ if len(classes) > 2 else np.array([-model.intercept_[0], model.intercept_[0]])
    by_feature = coef.T  # rows: features (words first, then characters), columns: labels
    offsets, labels_of, weights = array("i", [0]), array("H"), array("f")
    for row in by_feature:
        keep = np.flatnonzero(np.abs(row) >= PRUNE_BELOW)
        labels_of.extend(int(i) for i in keep)
        weights.extend(float(row[i]) for i in keep)
        offsets.append(len(labels_of))
    n_words = len(words.vocabulary_)
    return TextClassifier(
        labels=tuple(c or None for c in classes),
        words=_Features({f: int(i) for f, i in words.vocabulary_.items()}, array("d", words.idf_), 0),
        chars=_Features({f: int(i) + n_words for f, i in chars.vocabulary_.items()}, array("d", chars.idf_), n_words),
        offsets=offsets,
        labels_of=labels_of,
        weights=weights,
        intercepts=tuple(float(b) for b in intercepts),
    )
