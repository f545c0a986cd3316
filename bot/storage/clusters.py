"""Near-identical questions in the review queue, grouped so a reviewer handles them at once.

Twenty people asking "do LMTs need an NPI" in twenty spellings are one gap in the knowledge
base, not twenty queue items. Questions are compared as the matcher reads them (its
normalisation: synonyms, stop-words, typos), with rapidfuzz; biggest groups come first.
Pure: takes the queue's items and two callables, touches no database.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from rapidfuzz import fuzz, process

# Word order ignored, spelling-level differences tolerated: "npi need lmt" ~ "lmt need npi".
# At 85, "does aetna cover 97124" and "does cigna cover 97124" (one word of four differs)
# stay apart; see tests/test_clusters.py for the worked cases.
SAME_QUESTION = 88.0
CLUSTERED_KINDS = frozenset({"no_match", "not_helpful", "low_confidence"})


@dataclass(frozen=True)
class Cluster:
    """Questions that read the same. `id` is its newest question's id: what the desk's
    buttons carry (the server recomputes the cluster from it, so a button can't name
    questions of its own choosing)."""

    items: tuple  # bot.storage.review.ReviewItem, newest first
    candidate: str | None = None  # the entry most likely to answer them
    picked: int = 0  # how many of them picked `candidate` from "did you mean"

    @property
    def id(self) -> str:
        return self.items[0].id

    @property
    def size(self) -> int:
        return len(self.items)

    @property
    def newest(self):
        return self.items[0]

    @property
    def query_ids(self) -> list[str]:
        return [i.query_id for i in self.items if i.query_id]

    def kinds(self) -> dict[str, int]:
        """How many of each kind, e.g. {"no_match": 3, "not_helpful": 1}."""
        return dict(Counter(i.kind for i in self.items))


def cluster_items(
    items: Iterable,
    normalise: Callable[[str], str],
    *,
    picks: Mapping[str, str] | None = None,
    threshold: float = SAME_QUESTION,
) -> list[Cluster]:
    """Group queue items (newest first within a group), biggest group first, then newest.

    :param normalise: text -> the words that matter (the matcher's `normalised`).
    :param picks: query id -> the entry its asker picked from "did you mean": a group's
      candidate is the entry picked most often in it.
    """
    picks = picks or {}
    ordered = sorted(items, key=lambda i: i.ts or "", reverse=True)
    groups: list[list] = []
    keys: list[str] = []  # one per group: its newest question, normalised
    for item in ordered:
        key = normalise(item.text or "") if item.text else ""
        found = process.extractOne(key, keys, scorer=fuzz.token_sort_ratio, score_cutoff=threshold) if key else None
        if found is None:
            groups.append([item])
            keys.append(key)
        else:
            groups[found[2]].append(item)
    clusters = []
    for group in groups:
        votes = Counter(picks[i.query_id] for i in group if i.query_id in picks)
        candidate, picked = votes.most_common(1)[0] if votes else (None, 0)
        clusters.append(Cluster(tuple(group), candidate, picked))
    clusters.sort(key=lambda c: (-c.size, _neg(c.newest.ts or "")))
    return clusters


def _neg(ts: str) -> tuple:
    """Sort key for newest first inside an ascending sort."""
    return tuple(-ord(ch) for ch in ts)
