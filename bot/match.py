"""Question -> the FAQ entry it asks about, or an honest "not sure".

Both sides are normalised the same way (case, punctuation, the synonyms, stop-words and
state names of knowledge/vocabulary.yaml, a light stemmer), the question's typos are
corrected against the words the knowledge base uses, and each entry is scored on its best
question/phrasing by two measures: IDF-weighted word overlap (rare words like "ncci" or
"taxonomy" count more than "massage") and rapidfuzz's token-set similarity. Codes and
states the message names move entries up or down. Below the confidence threshold, or when a
message names a code nobody knows, `best` is None and the bot says it doesn't know.
Pure: no Slack, SQLite or environment.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Iterable, Sequence

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.kb import KNOWLEDGE_DIR, Entry

__all__ = ["Match", "MatchResult", "Matcher", "Vocabulary", "codes_in", "load_vocabulary", "DEFAULT_THRESHOLD"]

# Tuned on tests/eval/questions.yaml (python -m tests.eval.run_eval); see the report there.
DEFAULT_THRESHOLD = 46.0
SUGGESTION_FLOOR = 25.0  # candidates below this are not worth offering as "did you mean"
OVERLAP_SHARE = 0.6  # the rest of the text score is rapidfuzz similarity
QUERY_COVERAGE_BETA = 1.5  # >1: a question whose words are mostly unexplained scores low
UNKNOWN_WORD_DF = 1.0  # a word the KB never uses weighs like a word used by this many entries
CODE_BONUS = 18.0  # named codes all covered by the entry (scaled by overlap of the code sets)
CODE_PENALTY = 14.0  # entry is about other codes than the ones named
CODELESS_PENALTY = 4.0  # entry about no code at all while the message names one
STATE_BONUS = 10.0
STATE_PENALTY = 15.0  # entry about another state than the one named
STATELESS_MESSAGE_PENALTY = 3.0  # state entry while the message names no state
PHRASING_CREDIT = 0.7  # a question word found in another phrasing of the same entry
ANSWER_CREDIT = 0.4  # ... found only in the entry's answer
MIN_INFORMATION = 2.0  # questions with less total word weight ("which code do i bill") score lower
SIMILARITY = fuzz.token_set_ratio
WEAK_WORD_WEIGHT = 0.5
SHORTLIST = 200  # choices rescored exactly after the cheap overlap pass

_TOKEN = re.compile(r"[A-Za-z0-9]+")
_CODE = re.compile(r"\d{5}|[a-z]\d{4}")  # on lower-cased tokens: 97124, g0283
_RANGE_WORDS = frozenset({"series", "range", "family"})  # "the 97000 series" is not a code
_APOSTROPHE = re.compile(r"['’`]")


def codes_in(text: str) -> tuple[str, ...]:
    """Code-shaped tokens written in the text (97124, G0283, d1110), upper-cased, in order.

    "the 97000 series" names a range, not a code, so it is left out.
    """
    seen: dict[str, None] = {}
    tokens = [t.lower() for t in _TOKEN.findall(text)]
    for i, token in enumerate(tokens):
        if _is_code(token, tokens[i + 1] if i + 1 < len(tokens) else ""):
            seen.setdefault(token.upper(), None)
    return tuple(seen)


def _is_code(token: str, after: str) -> bool:
    return bool(_CODE.fullmatch(token)) and after not in _RANGE_WORDS


@dataclass(frozen=True)
class Vocabulary:
    """Synonyms, stop-words and state names (domain data, from knowledge/vocabulary.yaml)."""

    synonyms: dict[str, str] = field(default_factory=dict)  # variant (lower-case) -> canonical
    stopwords: frozenset[str] = frozenset()
    weak_words: frozenset[str] = frozenset()  # stemmed; they count at WEAK_WORD_WEIGHT
    state_names: dict[str, str] = field(default_factory=dict)  # "florida", "fl" -> "FL"
    state_labels: dict[str, str] = field(default_factory=dict)  # "FL" -> "florida" (first name listed)
    state_codes: frozenset[str] = frozenset()  # upper-case codes that count when written so

    @classmethod
    def empty(cls) -> Vocabulary:
        return cls()

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        synonyms: dict[str, str] = {}
        for canonical, variants in (data.get("synonyms") or {}).items():
            for variant in (canonical, *(variants or ())):
                synonyms[str(variant).lower()] = str(canonical).lower()
        states = {str(code).upper(): [str(n).lower() for n in names or ()] for code, names in (data.get("states") or {}).items()}
        ambiguous = {str(a).upper() for a in data.get("ambiguous_abbreviations") or ()}
        return cls(
            synonyms=synonyms,
            stopwords=frozenset(str(w).lower() for w in data.get("stopwords") or ()),
            weak_words=frozenset(_stem(str(w).lower()) for w in data.get("weak_words") or ()),
            state_names={name: code for code, names in states.items() for name in names},
            state_labels={code: names[0] if names else code.lower() for code, names in states.items()},
            state_codes=frozenset(states) - ambiguous,
        )


def load_vocabulary(path: Path = KNOWLEDGE_DIR / "vocabulary.yaml") -> Vocabulary:
    """Read the vocabulary file (synonyms, stop-words, states)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        return Vocabulary.from_dict(yaml.load(f, Loader=loader) or {})


def _stem(word: str) -> str:
    """A tiny suffix stripper: "billing", "billed", "bills" -> "bill"; "timed", "time" -> "tim".

    Crude, but applied the same way to questions and phrasings, which is all it needs.
    """
    if len(word) > 4 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith(("ied", "ies")):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith("ed"):
        word = word[:-2]
    elif len(word) > 4 and word.endswith("es") and (word[-3] in "sxz" or word.endswith(("ches", "shes"))):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    if len(word) >= 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsz" and not word.isdigit():
        word = word[:-1]
    return word


@dataclass(frozen=True)
class _Text:
    """A normalised text: its content words and what it names."""

    words: tuple[str, ...]
    codes: tuple[str, ...]
    states: frozenset[str]


class _Normaliser:
    """Turns raw text into content words, identically for questions and phrasings.

    Vocabulary phrases ("work comp", "l&i", "florida") become one token each, so a concept
    counts once however it was written.
    """

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self._phrases: dict[tuple[str, ...], tuple[str, str | None]] = {}
        for variant, canonical in vocab.synonyms.items():
            self._add_phrase(variant, _token_of(canonical), None)
        for name, code in vocab.state_names.items():
            self._add_phrase(name, _token_of(vocab.state_labels.get(code, name)), code)
        self._longest = max((len(k) for k in self._phrases), default=1)
        self.known = {t for key in self._phrases for t in key} | set(vocab.stopwords)  # raw words spelt right

    def _add_phrase(self, phrase: str, token: str, state: str | None) -> None:
        key = tuple(t.lower() for t in _TOKEN.findall(_APOSTROPHE.sub("", phrase)))
        if key:
            self._phrases[key] = (token, state)

    def __call__(self, text: str, spelling: _Spelling | None = None) -> _Text:
        """:param spelling: corrects typed words no indexed text uses (for questions only)."""
        raw = _TOKEN.findall(_APOSTROPHE.sub("", text).replace("_", " "))
        low = [t.lower() for t in raw]
        if spelling is not None:
            low = [w if w in self.known or w.isdigit() else spelling.correct(w) or w for w in low]
        words: list[str] = []
        codes: dict[str, None] = {}
        states: set[str] = set()
        i = 0
        while i < len(raw):
            if raw[i] in self.vocab.state_codes:  # "FL", but not "fl" or "MT"
                words.append(_token_of(self.vocab.state_labels[raw[i]]))
                states.add(raw[i])
                i += 1
                continue
            if _is_code(low[i], low[i + 1] if i + 1 < len(low) else ""):
                codes.setdefault(low[i].upper(), None)
                words.append(low[i])  # kept as a word too: "97124" is the most telling word there is
                i += 1
                continue
            for n in range(min(self._longest, len(low) - i), 0, -1):
                hit = self._phrases.get(tuple(low[i : i + n]))
                if hit is not None:
                    words.append(hit[0])
                    if hit[1]:
                        states.add(hit[1])
                    i += n
                    break
            else:
                if low[i] not in self.vocab.stopwords:
                    words.append(_stem(low[i]))
                i += 1
        return _Text(tuple(words), tuple(codes), frozenset(states))

    def learn(self, text: str) -> None:
        """Remember the words of an indexed text as correctly spelt."""
        self.known.update(t.lower() for t in _TOKEN.findall(_APOSTROPHE.sub("", text)))


def _token_of(phrase: str) -> str:
    """One token for a vocabulary phrase: "workers compensation" -> "workers_compensation"."""
    return "_".join(_TOKEN.findall(_APOSTROPHE.sub("", phrase.lower())))


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float  # 0-100


@dataclass(frozen=True)
class MatchResult:
    best: Match | None  # None when not confident -> the bot answers no_match
    candidates: tuple[Match, ...]  # top 3 distinct entries, best first ("did you mean")


@dataclass
class _Choice:
    entry: int  # index into Matcher._entries
    words: frozenset[str]
    text: str  # the words joined, for rapidfuzz


class Matcher:
    """Ranks FAQ entries for a question; built once, then updated in place by reviewers."""

    def __init__(
        self,
        entries: Iterable[Entry],
        *,
        vocabulary: Vocabulary | None = None,
        threshold: float = DEFAULT_THRESHOLD,
    ):
        """:param vocabulary: None reads knowledge/vocabulary.yaml; pass Vocabulary.empty() for none."""
        self.threshold = threshold
        self._normalise = _Normaliser(vocabulary if vocabulary is not None else _default_vocabulary())
        self._entries: list[Entry] = []
        self._ids: dict[str, int] = {}
        self._choices: list[_Choice] = []
        self._postings: dict[str, list[int]] = defaultdict(list)  # word -> choice indexes
        self._entry_words: list[set[str]] = []  # words of all of an entry's phrasings
        self._answer_words: list[frozenset[str]] = []  # words of its answer (weaker evidence)
        self._df: dict[str, int] = defaultdict(int)  # word -> number of entries using it anywhere
        self._live: list[bool] = []  # False once an entry was replaced by a newer version
        self._by_code: dict[str, set[int]] = defaultdict(set)
        self._by_state: dict[str, set[int]] = defaultdict(set)
        self._spelling = _Spelling(self._normalise.known)
        for entry in entries:
            self.add_entry(entry)

    # --- building the index -------------------------------------------------------------

    def add_entry(self, entry: Entry) -> None:
        """Index a new entry (an approved draft); a known id is replaced by the new version."""
        if entry.id in self._ids:
            self._retire(self._ids[entry.id])
        index = len(self._entries)
        self._entries.append(entry)
        self._ids[entry.id] = index
        self._entry_words.append(set())
        self._answer_words.append(frozenset(self._normalise(entry.answer).words))
        self._learn(entry.answer)
        self._live.append(True)
        for word in self._answer_words[index]:
            self._count(word)
        for code in entry.codes:
            self._by_code[code.upper()].add(index)
        if entry.state:
            self._by_state[entry.state].add(index)
        for text in (entry.question, *entry.phrasings):
            self._add_choice(index, text)

    def add_phrasing(self, entry_id: str, phrasing: str) -> None:
        """Teach the matcher another way to ask for an entry; effective for the next match.

        :raises KeyError: for an id the matcher doesn't know.
        """
        self._add_choice(self._ids[entry_id], phrasing)

    def _add_choice(self, index: int, text: str) -> None:
        self._learn(text)
        words = self._normalise(text).words
        if not words:
            return
        choice = len(self._choices)
        self._choices.append(_Choice(index, frozenset(words), " ".join(words)))
        for word in set(words):
            self._postings[word].append(choice)
            if word not in self._entry_words[index]:
                self._entry_words[index].add(word)
                if word not in self._answer_words[index]:
                    self._count(word)

    def _count(self, word: str) -> None:
        """One more entry uses `word`."""
        self._df[word] += 1

    def _learn(self, text: str) -> None:
        before = len(self._normalise.known)
        self._normalise.learn(text)
        if len(self._normalise.known) != before:
            self._spelling.changed()

    def _retire(self, index: int) -> None:
        """Drop an entry's choices from the index (its slot stays, unreachable)."""
        for word in self._entry_words[index] | self._answer_words[index]:
            self._df[word] -= 1
        for word in self._entry_words[index]:
            self._postings[word] = [c for c in self._postings[word] if self._choices[c].entry != index]
        self._entry_words[index] = set()
        self._answer_words[index] = frozenset()
        self._live[index] = False
        for group in (*self._by_code.values(), *self._by_state.values()):
            group.discard(index)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries[i] for i in self._ids.values())

    # --- matching -----------------------------------------------------------------------

    def match(self, text: str, codes: Sequence[str] = (), *, unknown_codes: Sequence[str] = ()) -> MatchResult:
        """Rank entries for `text`; `best` is None unless the top one is a confident answer.

        :param codes: code numbers the message names (found by the caller's parser, maybe
            from a name like "manual lymph drainage"); codes written in `text` are found too.
        :param unknown_codes: codes named that neither the code table nor the KB knows:
            the answer is then always "not sure" (a guess would be about another code).
        """
        query = self._normalise(text, self._spelling)
        typed = set(query.codes)
        given = {c.upper() for c in codes}
        kb_codes = {c for c, group in self._by_code.items() if group}
        unknown = {c.upper() for c in unknown_codes} - kb_codes
        # A code typed in the text that the caller didn't classify and the KB doesn't cover
        # is unknown too: we can't tell what it is, so we don't guess.
        unknown |= typed - given - kb_codes
        # Codes found from a name ("massage" -> 97124) are left out: the words already count.
        named = typed - unknown

        scores = self._score(query.words, named, query.states)
        ranked = heapq.nlargest(3, scores.items(), key=lambda kv: kv[1])
        candidates = tuple(
            Match(self._entries[i], round(s, 1)) for i, s in ranked if s >= SUGGESTION_FLOOR
        )
        confident = bool(candidates) and candidates[0].score >= self.threshold and not unknown
        return MatchResult(candidates[0] if confident else None, candidates)

    def _weight(self, word: str) -> float:
        """Inverse document frequency over entries: rare words say more about the topic."""
        n = len(self._ids)
        df = self._df.get(word, 0) or UNKNOWN_WORD_DF
        idf = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) if n else 1.0
        return idf * WEAK_WORD_WEIGHT if word in self._normalise.vocab.weak_words else idf

    def _score(self, words: tuple[str, ...], named: set[str], states: frozenset[str]) -> dict[int, float]:
        """Best score per entry index (only entries sharing a word, a code or a state)."""
        query_words = set(words)
        weights = {w: self._weight(w) for w in query_words}
        wq = sum(weights.values())
        overlap: dict[int, float] = defaultdict(float)
        for word in query_words:
            for choice in self._postings.get(word, ()):
                overlap[choice] += weights[word]
        if len(overlap) > SHORTLIST:
            overlap = dict(heapq.nlargest(SHORTLIST, overlap.items(), key=lambda kv: kv[1]))

        query_text = " ".join(words)
        text_scores: dict[int, float] = {}
        for choice_index, shared in overlap.items():
            choice = self._choices[choice_index]
            score = self._text_score(query_text, weights, wq, shared, choice)[0]
            if score > text_scores.get(choice.entry, -1.0):
                text_scores[choice.entry] = score

        # Entries about the named codes or state can match on those alone.
        for group in (*(self._by_code.get(c, ()) for c in named), *(self._by_state.get(s, ()) for s in states)):
            for index in group:
                text_scores.setdefault(index, 0.0)

        results = {}
        for index, text_score in text_scores.items():
            entry = self._entries[index]
            results[index] = max(0.0, min(100.0, text_score + self._adjust(entry, named, states)))
        return results

    def _text_score(
        self, query_text: str, weights: dict[str, float], wq: float, shared: float, choice: _Choice
    ) -> tuple[float, ...]:
        """(score, recall, precision, similarity) of one question/phrasing for the query.

        Recall: how much of the question the entry explains; words this phrasing lacks count
        partly when the entry's other phrasings or its answer use them. Precision: how much
        of the phrasing the question covers.
        """
        wc = sum(self._weight(w) for w in choice.words)
        explained = shared
        others, answer = self._entry_words[choice.entry], self._answer_words[choice.entry]
        for word, weight in weights.items():
            if word not in choice.words:
                if word in others:
                    explained += weight * PHRASING_CREDIT
                elif word in answer:
                    explained += weight * ANSWER_CREDIT
        recall = explained / wq if wq else 0.0
        precision = shared / wc if wc else 0.0
        b2 = QUERY_COVERAGE_BETA**2
        f = (1 + b2) * precision * recall / (b2 * precision + recall) if shared else 0.0
        similarity = SIMILARITY(query_text, choice.text) * min(1.0, recall * 2)
        score = (OVERLAP_SHARE * 100 * f + (1 - OVERLAP_SHARE) * similarity) * min(1.0, wq / MIN_INFORMATION)
        return score, recall, precision, similarity

    @staticmethod
    def _adjust(entry: Entry, named: set[str], states: frozenset[str]) -> float:
        """Points for agreeing with the codes and state the message names, against for not."""
        delta = 0.0
        entry_codes = set(entry.codes)
        if named:
            shared = named & entry_codes
            if shared:  # cosine of the two code sets: 1 when they are the same
                delta += CODE_BONUS * len(shared) / (len(named) * len(entry_codes)) ** 0.5
            elif entry_codes:
                delta -= CODE_PENALTY
            else:
                delta -= CODELESS_PENALTY
        if states:
            if entry.state in states:
                delta += STATE_BONUS
            elif entry.state is not None:
                delta -= STATE_PENALTY
        elif entry.state is not None:
            delta -= STATELESS_MESSAGE_PENALTY
        return delta


class _Spelling:
    """Typo correction of typed words against the words the indexed texts use."""

    def __init__(self, known: set[str]) -> None:
        self._known = known  # shared with the normaliser, which adds to it
        self._by_length: dict[int, list[str]] | None = None
        self._cache: dict[str, str | None] = {}

    def changed(self) -> None:
        self._by_length = None
        self._cache.clear()

    def correct(self, word: str) -> str | None:
        """The known word within one edit (two for long words), or None."""
        if word in self._cache:
            return self._cache[word]
        # Short words are too close to each other to guess: "rain" is not a typo of "pain".
        max_edits = 0 if len(word) < 5 else 1 if len(word) < 8 else 2
        fixed = None
        if max_edits:
            if self._by_length is None:
                self._by_length = defaultdict(list)
                for known in sorted(self._known):
                    self._by_length[len(known)].append(known)
            near = [k for n in range(len(word) - max_edits, len(word) + max_edits + 1) for k in self._by_length.get(n, ())]
            hit = process.extractOne(word, near, scorer=OSA.distance, score_cutoff=max_edits)
            fixed = hit[0] if hit is not None else None
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[word] = fixed
        return fixed


@lru_cache(maxsize=1)
def _default_vocabulary() -> Vocabulary:
    return load_vocabulary()
