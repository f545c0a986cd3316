"""Which entry answers a question: the matcher's pick, checked against the classifier's.

The two are wrong in different ways: the matcher trusts its nearest phrasing, the classifier
(bot.core.classifier) all labelled questions at once. On cross-validation over knowledge/asked/
(NOTES.md, session 6) answering only when they agree, or when the classifier is sure by itself,
answered more questions right and fewer wrong than either alone. Pure: no Slack, SQLite or files.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.core.kb import Entry
from bot.core.match import Match, MatchResult

__all__ = ["ALONE_AT", "TRUSTED_MATCH", "decide"]

# The classifier's decision value at which it answers on its own when the matcher disagrees or
# declines: chosen on cross-validation (round value; lower answers more, and more wrongly).
ALONE_AT = -0.2
# The matcher's score saturates at 100 on a question it knows nearly word for word: a link made on
# the review desk, an approved draft's own question, one labelled to decline. The classifier learns
# those only when the index is next built, so they stand (on cross-validation this changes almost
# nothing).
TRUSTED_MATCH = 100.0


def decide(
    result: MatchResult,
    opinion: Callable[[], tuple[str | None, float]],
    entry_of: Callable[[str], Entry | None],
    *,
    learnt: frozenset[str | None] = frozenset(),
    unknown_codes: bool = False,
    preferred_state: str | None = None,
) -> MatchResult:
    """The matcher's `result` with its `best` kept, replaced or withdrawn after the classifier's
    `opinion()` (its likeliest entry id, None for "decline", and its decision value; called only
    when the matcher's result doesn't stand on its own, as it costs about a millisecond). `learnt`: the
    labels the classifier was trained on; an entry approved since is the matcher's call alone.
    `preferred_state`: the asker's own state, which only the matcher knows: its pick of that
    state's entry stands.

    A message naming a code nobody knows stays declined. The score shown is the matcher's own for
    the chosen entry when it ranked it, else the classifier's value on the same 0-100 scale
    (50 + 50 x value): below 0.4 that is under 70, a low-confidence answer for the review desk.
    """
    best = result.best
    if best is not None and (
        best.score >= TRUSTED_MATCH
        or best.entry.id not in learnt
        or (preferred_state is not None and best.entry.state == preferred_state)
    ):
        return result
    if best is None and (unknown_codes or result.off_topic >= TRUSTED_MATCH):
        return result
    label, value = opinion()
    if best is not None and best.entry.id == label:
        return result
    candidates = result.candidates
    entry = entry_of(label) if label is not None else None
    if entry is not None and value >= ALONE_AT:
        ranked = next((m for m in candidates if m.entry.id == label), None)
        chosen = ranked or Match(entry, round(max(0.0, min(100.0, 50.0 + 50.0 * value)), 1))
        others = (m for m in candidates if m.entry.id != label)
        return MatchResult(chosen, (chosen, *others)[:3], result.off_topic)
    if entry is not None and all(m.entry.id != label for m in candidates):
        candidates = (*candidates[:2], Match(entry, 0.0))  # offered as "did you mean" too
    return MatchResult(None, candidates, result.off_topic)
