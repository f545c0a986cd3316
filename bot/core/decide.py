"""Which entry answers a question: what the matcher and the classifier each said of it, weighed together.

The two are wrong in different ways: the matcher trusts its nearest phrasing, the classifier
(bot.core.classifier) all labelled questions at once. Every entry either of them ranks gets a
probability of being the right answer from a small logistic model over what both said of it (its
classifier value, lead and rank, its matcher score and rank, how near the question is to one we
decline) and those figures' pairwise products; the likeliest entry answers when that probability
reaches the model's `answer_at`, otherwise the bot declines and offers the likeliest ones.

The weights are fitted on cross-validation over knowledge/asked/ (`make fit-decide`, which runs
tests/eval/fit_decide.py and writes decide_weights.json next to this module), so both scorers are
judged on questions they never learnt from. Against the rules this replaced (answer when the two
agree, or when the classifier is sure alone) it answered more questions right and fewer wrong on the
same folds (NOTES.md, session 8). Pure: no Slack, SQLite or network; the weights ship with the package.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from bot.core.kb import Entry
from bot.core.match import Match, MatchResult

__all__ = ["FEATURES", "TRUSTED_MATCH", "Weights", "candidates", "decide", "settled", "terms", "weights"]

WEIGHTS_FILE = Path(__file__).with_name("decide_weights.json")
# The matcher's score saturates at 100 on a question that is one of an entry's phrasings word for
# word: a link made on the review desk, an approved draft's own question, one labelled to decline.
# The classifier learns those only when the index is next built, so they stand. (A score pushed to
# 100 by a code bonus alone is weighed like any other: on cross-validation that was 16 fewer wrong
# answers for 3 fewer right ones.)
TRUSTED_MATCH = 100.0
CLASSIFIER_CANDIDATES = 5  # the classifier's likeliest entries weighed, besides the matcher's (up to 3)
UNRANKED = 5  # the rank given to an entry below the classifier's first CLASSIFIER_CANDIDATES
NO_DECLINE_VALUE = -2.0  # the decline label's value when the classifier never learnt to decline

# What both scorers said of one candidate entry, in the order the weights expect.
FEATURES = (
    "value",  # the classifier's decision value for the entry
    "lead",  # that value minus the best other entry's
    "decline_value",  # the classifier's value for "decline"
    "classifier_first",  # 1 if it is the classifier's likeliest entry
    "classifier_rank",  # 0-based among entries, at most UNRANKED
    "match_score",  # the matcher's score / 100, 0 if it didn't rank the entry
    "off_topic",  # the matcher's nearness to a question we decline / 100
    "matcher_first",  # 1 if it is the matcher's first candidate
    "matcher_ranked",  # 1 if the matcher ranked it at all
    "matcher_picked",  # 1 if the matcher was confident in it
    "matcher_declined",  # 1 if the matcher was confident in no entry
)


@dataclass(frozen=True)
class Weights:
    """The logistic model over `terms(features)`: coefficients, intercept and the answer threshold."""

    coefficients: tuple[float, ...]
    intercept: float
    answer_at: float

    def probability(self, features: Sequence[float]) -> float:
        logit = self.intercept + math.fsum(w * t for w, t in zip(self.coefficients, terms(features), strict=True))
        return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, logit))))


def terms(features: Sequence[float]) -> list[float]:
    """The features, then every pairwise product (squares included), in scikit-learn's
    PolynomialFeatures(degree=2, include_bias=False) order."""
    n = len(features)
    return [*features, *(features[i] * features[j] for i in range(n) for j in range(i, n))]


@cache
def weights(path: Path = WEIGHTS_FILE) -> Weights:
    """The fitted model shipped with the package (read once)."""
    data = json.loads(path.read_text(encoding="utf-8"))
    if tuple(data["features"]) != FEATURES:
        raise ValueError(f"{path} was fitted on other features; run `make fit-decide`")
    return Weights(tuple(data["coefficients"]), float(data["intercept"]), float(data["answer_at"]))


def settled(
    result: MatchResult,
    learnt: frozenset[str | None],
    *,
    unknown_codes: bool = False,
    preferred_state: str | None = None,
) -> MatchResult | None:
    """The matcher's `result` when it stands without the classifier (None when it must be weighed):
    what only the matcher knows (an entry approved since the build, a question that is one of the
    entry's phrasings word for word, the asker's own state), and a message naming a code nobody
    knows or one it was taught to decline word for word."""
    best = result.best
    if best is not None and (
        (best.score >= TRUSTED_MATCH and result.verbatim)
        or best.entry.id not in learnt
        or (preferred_state is not None and best.entry.state == preferred_state)
    ):
        return result
    if best is None and (unknown_codes or result.off_topic >= TRUSTED_MATCH):
        return result
    return None


def candidates(result: MatchResult, scores: Sequence[tuple[str | None, float]]) -> list[tuple[str, list[float]]]:
    """Each entry to weigh (the classifier's likeliest, then the matcher's others) with its FEATURES.
    `scores`: every label the classifier knows with its value, best first (None: decline). An entry
    the classifier never learnt (approved since the build) isn't weighed."""
    values = dict(scores)
    entries = [label for label, _ in scores if label is not None]
    rank = {label: i for i, label in enumerate(entries)}
    first, second = (values[entries[0]], values[entries[1]]) if len(entries) > 1 else (0.0, 0.0)
    matched = {m.entry.id: (i, m.score) for i, m in enumerate(result.candidates)}
    picked = result.best.entry.id if result.best is not None else None
    chosen = entries[:CLASSIFIER_CANDIDATES] + [e for e in matched if e in rank and e not in entries[:CLASSIFIER_CANDIDATES]]
    decline = values.get(None, NO_DECLINE_VALUE)
    rows = []
    for entry_id in chosen:
        value = values[entry_id]
        at, score = matched.get(entry_id, (None, 0.0))
        rows.append((entry_id, [
            value,
            value - (second if entry_id == entries[0] else first),
            decline,
            float(rank[entry_id] == 0),
            float(min(rank[entry_id], UNRANKED)),
            score / 100.0,
            result.off_topic / 100.0,
            float(at == 0),
            float(at is not None),
            float(picked == entry_id),
            float(result.best is None),
        ]))
    return rows


def decide(
    result: MatchResult,
    opinion: Callable[[], Sequence[tuple[str | None, float]]],
    entry_of: Callable[[str], Entry | None],
    *,
    learnt: frozenset[str | None] = frozenset(),
    unknown_codes: bool = False,
    preferred_state: str | None = None,
    model: Weights | None = None,
) -> MatchResult:
    """The matcher's `result` with its `best` kept, replaced or withdrawn after weighing it with the
    classifier's `opinion()` (every label and its value, best first; called only when the matcher's
    result doesn't stand on its own, as it costs about a millisecond). `learnt`: the labels the
    classifier was trained on. `preferred_state`: the asker's own state, which only the matcher
    knows: its pick of that state's entry stands. `model`: the shipped weights unless given.

    The score shown is the matcher's own for the chosen entry when it ranked it, else the
    classifier's value on the same 0-100 scale (50 + 50 x value): below 0.4 that is under 70, a
    low-confidence answer for the review desk. A decline offers the three likeliest entries.
    """
    stands = settled(result, learnt, unknown_codes=unknown_codes, preferred_state=preferred_state)
    if stands is not None:
        return stands
    model = model or weights()
    ranked = sorted(((model.probability(f), entry_id, f[0]) for entry_id, f in candidates(result, opinion())),
                    reverse=True)  # f[0]: the classifier's value
    matched = {m.entry.id: m for m in result.candidates}
    likeliest = []
    for _, entry_id, value in ranked:
        match = matched.get(entry_id)
        if match is None and (entry := entry_of(entry_id)) is not None:
            match = Match(entry, round(max(0.0, min(100.0, 50.0 + 50.0 * value)), 1))
        if match is not None:
            likeliest.append(match)
    likeliest += [m for m in result.candidates if m.entry.id not in learnt]  # approved since the build
    if ranked and likeliest and ranked[0][0] >= model.answer_at and likeliest[0].entry.id == ranked[0][1]:
        return MatchResult(likeliest[0], tuple(likeliest[:3]), result.off_topic)
    return MatchResult(None, tuple(likeliest[:3]), result.off_topic)
