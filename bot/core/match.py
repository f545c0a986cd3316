"""Question -> the FAQ entry it asks about, or an honest "not sure".

Both sides are normalised the same way (case, punctuation, the synonyms, stop-words, stop-phrases
and state names of knowledge/vocabulary.yaml, a light stemmer), and the question's typos are
corrected against the words the knowledge base uses. Each entry is scored on its best
question/phrasing by IDF-weighted word overlap (rare words like "ncci" count more than
"massage"): how much of the question the entry explains (recall; words found only in its
answer count partly) and how much of the phrasing the question covers (precision), blended
with rapidfuzz's token-set similarity. Codes typed in the message and the state it names
move entries up or down. When the two best entries are close, a second opinion decides: BM25
of the question against all of each entry's phrasings taken together (an entry many of whose
phrasings use the question's words beats one whose single phrasing happens to fit). Below the
confidence threshold, or when the message names a code nobody knows, `best` is None and the
bot says it doesn't know. A message with no billing word
at all (the vocabulary's `billing_words`, or a code) needs a clearer match: therapists also ask
about technique, tables or marketing, and one shared word ("lymphatic drainage") is not a topic.
The vocabulary's off-topic questions (the therapist's own insurance, prices, taxes, ...) are
scored like phrasings of no entry: a message about as near to one of them as to any entry
(within DECLINE_MARGIN, unless the entry matches clearly) is declined.
Questions people asked (knowledge/asked/) are learnt the same ways: labelled ones as phrasings
of their entry, out-of-scope ones as questions to decline (`learn`).
Pure: no Slack, SQLite or environment.
"""

from __future__ import annotations

import heapq
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import repeat
from operator import itemgetter
from pathlib import Path
from typing import NamedTuple

import yaml
from rapidfuzz import fuzz, process
from rapidfuzz.distance import OSA

from bot.core.kb import KNOWLEDGE_DIR, Entry

__all__ = [
    "DEFAULT_THRESHOLD",
    "Match",
    "MatchResult",
    "Matcher",
    "Vocabulary",
    "VocabularyError",
    "codes_in",
    "load_vocabulary",
]

# Weights and threshold were chosen on the labelled questions now in knowledge/asked/ (then
# development sets; python -m tests.eval.run_eval --dev-only): round values on a plateau.
DEFAULT_THRESHOLD = 50.0
SUGGESTION_FLOOR = 25.0  # candidates below this are not worth offering as "did you mean"
OVERLAP_SHARE = 0.6  # the rest of the text score is rapidfuzz similarity
QUERY_COVERAGE_BETA = 2.0  # >1: a question whose words are mostly unexplained scores low
UNKNOWN_WORD_DF = 1.0  # a word the KB never uses weighs like a word used by this many entries
CODE_BONUS = 18.0  # named codes all covered by the entry (scaled by overlap of the code sets)
CODE_PENALTY = 14.0  # entry is about other codes than the ones named
CODELESS_PENALTY = 4.0  # entry about no code at all while the message names one
NO_BILLING_WORD_MARGIN = 20.0  # extra confidence needed when the message has no billing word or code
STATE_BONUS = 10.0
STATE_PENALTY = 15.0  # entry about another state than the one named
STATELESS_MESSAGE_PENALTY = 3.0  # state entry while the message names no state
PREFERRED_STATE_BONUS = 3.0  # the asker's own state (a personal setting) when the message names none
ANSWER_CREDIT = 0.4  # ... found only in the entry's answer
SIMILARITY = fuzz.token_set_ratio
WEAK_WORD_WEIGHT = 0.5  # everyday words ("best", "way") listed in the vocabulary count half
STATE_WORD_WEIGHT = 0.5  # a state's name is context (see STATE_BONUS), not the topic
STATE_ONLY_FACTOR = 0.3  # a phrasing that shares nothing but the state's name
FULL_SIMILARITY_RECALL = 0.5  # below this share of the question explained, similarity is scaled down
CANDIDATE_CUTOFF = 0.35  # entries sharing less than this share of the best one's word weight are skipped
LONG_QUESTION_WORDS = 10  # ... and for a question of more words than this (their overlaps spread wide):
LONG_CANDIDATE_CUTOFF = 0.45
FOCUS_BELOW = 70.0  # a message whose best entry already scores this well is not re-read sentence by sentence
FOCUS_AMONG = 8  # the whole message's best entries re-read on a question sentence alone
FOCUS_MIN_WORDS = 3  # a question sentence shorter than this (a code counts twice) says too little alone
TIE_MARGIN = 10.0  # the two best this close: the one whose phrasings use the question's words more wins
BM25_K1, BM25_B = 1.2, 0.75  # that second opinion is BM25 over each entry's phrasings taken together
SHORTLIST = 12  # entries scored phrasing by phrasing after the cheap overlap pass
DECLINE_MARGIN = 15.0  # an entry must beat the nearest question we decline by this much (near both: unsure)
_TIE = 1e-6  # scores this close are equal
CLEAR_MATCH = 90.0  # ... unless it matches the entry this well (an approved entry's own question, near enough)
SIMILARITY_TRIES = 8  # phrasings compared by rapidfuzz per entry at most, the most precise first
DECLINED_AMONG = 5  # questions labelled out of scope scored in full, those sharing the most weight
LIGHT_WORD = 0.5  # words weighing less ("massage", "bill") count, but don't find phrasings by themselves
COMMON_POSTINGS = 200  # words used by more entries than this (or 10% of them) don't make candidates

_NO_COUNTS: Counter[str] = Counter()  # the term counts of every question we decline (never counted)
_FACTORIES = (list, set, int)  # of the index's defaultdicts (see Matcher.__getstate__)
_FACTORIES_BY_NAME = {factory.__name__: factory for factory in _FACTORIES}
_TOKEN = re.compile(r"[A-Za-z0-9]+")
_CODE = re.compile(r"\d{5}|[a-z]\d{4}")  # on lower-cased tokens: 97124, g0283
_RANGE_WORDS = frozenset({"series", "range", "family"})  # "the 97000 series" is not a code
_APOSTROPHE = re.compile(r"['’`]")


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_QUESTION_START = re.compile(
    r"^\s*(?:what|whats|what's|which|why|how|where|who|when|can|could|do|does|did|is|are|should|would|will|am|"
    r"any|anyone|has|have)\b",
    re.IGNORECASE,
)


def _question_sentences(text: str) -> list[str]:
    """The sentences of a longer message that ask something; [] for a one-sentence message."""
    if len(text) < 60:
        return []
    sentences = [s for s in _SENTENCE_END.split(text) if s.strip()]
    if len(sentences) < 2:
        return []
    return [s for s in sentences if "?" in s or _QUESTION_START.match(s)]


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
    """Synonyms, stop-words and -phrases, state names (domain data, from knowledge/vocabulary.yaml)."""

    synonyms: dict[str, str] = field(default_factory=dict)  # variant (lower-case) -> canonical
    stopwords: frozenset[str] = frozenset()
    stop_phrases: frozenset[str] = frozenset()  # chatter of several words ("in charge of"), dropped
    weak_words: frozenset[str] = frozenset()  # stemmed; they count at WEAK_WORD_WEIGHT
    billing_words: frozenset[str] = frozenset()  # as written; a message using none needs a clearer match
    state_names: dict[str, str] = field(default_factory=dict)  # "florida", "fl" -> "FL"
    state_labels: dict[str, str] = field(default_factory=dict)  # "FL" -> "florida" (first name listed)
    state_codes: frozenset[str] = frozenset()  # upper-case codes that count when written so
    state_terms: dict[str, str] = field(default_factory=dict)  # "labor and industries" -> "WA"
    capitals_only: frozenset[str] = frozenset()  # lower-case forms of words that mean something only in capitals
    off_topic: dict[str, tuple[str, ...]] = field(default_factory=dict)  # topic -> questions we decline

    @classmethod
    def empty(cls) -> Vocabulary:
        return cls()

    @classmethod
    def from_dict(cls, data: dict) -> Vocabulary:
        """:raises VocabularyError: for a word that YAML read as something else than text."""
        synonyms: dict[str, str] = {}
        for canonical, variants in (data.get("synonyms") or {}).items():
            for variant in _texts((canonical, *(variants or ())), f"synonyms: {canonical}"):
                synonyms[variant.lower()] = str(canonical).lower()
        states = {
            str(code).upper(): [n.lower() for n in _texts(names or (), f"states: {code}")]
            for code, names in (data.get("states") or {}).items()
        }
        ambiguous = {
            a.upper() for a in _texts(data.get("ambiguous_abbreviations") or (), "ambiguous_abbreviations")
        }
        return cls(
            synonyms=synonyms,
            stopwords=frozenset(w.lower() for w in _texts(data.get("stopwords") or (), "stopwords")),
            stop_phrases=frozenset(p.lower() for p in _texts(data.get("stop_phrases") or (), "stop_phrases")),
            weak_words=frozenset(
                _stem(w.lower()) for w in _texts(data.get("weak_words") or (), "weak_words")
            ),
            billing_words=frozenset(
                w.lower() for w in _texts(data.get("billing_words") or (), "billing_words")
            ),
            state_names={name: code for code, names in states.items() for name in names},
            state_labels={code: names[0] if names else code.lower() for code, names in states.items()},
            state_codes=frozenset(states) - ambiguous,
            state_terms={
                term.lower(): str(code).upper()
                for code, terms in (data.get("state_terms") or {}).items()
                for term in _texts(terms or (), f"state_terms: {code}")
            },
            capitals_only=frozenset(w.lower() for w in _texts(data.get("capitals_only") or (), "capitals_only")),
            off_topic={
                str(topic): tuple(_texts(questions or (), f"off_topic: {topic}"))
                for topic, questions in (data.get("off_topic") or {}).items()
            },
        )


class VocabularyError(ValueError):
    """The vocabulary file has an entry that is not a word."""


def _texts(items: Iterable, where: str) -> list[str]:
    # YAML reads bare yes/no/on/off as booleans and 2013 as a number: they must be quoted.
    bad = [item for item in items if not isinstance(item, str)]
    if bad:
        raise VocabularyError(
            f"{where}: {bad!r} must be quoted text (YAML reads yes/no/on/off as true/false)"
        )
    return list(items)


def load_vocabulary(path: Path = KNOWLEDGE_DIR / "vocabulary.yaml") -> Vocabulary:
    """Read the vocabulary file (synonyms, stop-words, states)."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with open(path, encoding="utf-8") as f:
        return Vocabulary.from_dict(yaml.load(f, Loader=loader) or {})


def _stem(word: str) -> str:
    """A tiny suffix stripper: "billing", "billed", "bills" -> "bill"; "timed", "time" -> "tim".

    Crude, but applied the same way to questions and phrasings, which is all it needs.
    """
    return _final_letters(_inflection_removed(word))


def _inflection_removed(word: str) -> str:
    """"saying" -> "say", "billed" -> "bill", "clinics" -> "clinic": the word as a stop-word list has it."""
    if len(word) > 4 and word.endswith("ing"):
        word = word[:-3]
    elif len(word) > 4 and word.endswith(("ied", "ies")):
        word = word[:-3] + "y"
    elif len(word) > 4 and word.endswith(("ed", "ches", "shes", "ses", "xes", "zes")):
        word = word[:-2]
    elif len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        word = word[:-1]
    return word


def _final_letters(word: str) -> str:
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
    counts once however it was written; stop-phrases ("in charge of") become none.
    """

    def __init__(self, vocab: Vocabulary):
        self.vocab = vocab
        self._phrases: dict[tuple[str, ...], tuple[str | None, str | None]] = {}  # token None: dropped
        for phrase in vocab.stop_phrases:
            self._add_phrase(phrase, None, None)
        for variant, canonical in vocab.synonyms.items():
            token = _token_of(canonical)  # "thank you" -> "thanks", a stop-word: dropped like one
            self._add_phrase(variant, None if token in vocab.stopwords else token, None)
        for name, code in vocab.state_names.items():
            self._add_phrase(name, _token_of(vocab.state_labels.get(code, name)), code)
        self._lengths: dict[str, list[int]] = defaultdict(list)  # first word -> phrase lengths, longest first
        for key in self._phrases:
            self._lengths[key[0]].append(len(key))
        for lengths in self._lengths.values():
            lengths.sort(reverse=True)
        self._stems: dict[str, str] = {}
        self._state_of_word = {_token_of(t): code for t, code in vocab.state_terms.items()}
        self.state_words = frozenset(_token_of(label) for label in vocab.state_labels.values())
        # the billing words as the normaliser writes them ("claims" -> "claim", "icd-10" -> "diagnosis_code")
        self.billing_words = frozenset(w for term in vocab.billing_words for w in self(term).words)
        self.known = {t for key in self._phrases for t in key} | set(vocab.stopwords)  # raw words spelt right

    def _plain(self) -> dict:
        """Plain data for Matcher.__getstate__."""
        state = dict(self.__dict__)
        state["vocab"] = dict(self.vocab.__dict__)
        state["_lengths"] = dict(self._lengths)
        return state

    @classmethod
    def _from_plain(cls, state: dict) -> _Normaliser:
        normaliser = cls.__new__(cls)
        normaliser.__dict__.update(state)
        normaliser.vocab = Vocabulary(**state["vocab"])
        normaliser._lengths = defaultdict(list, state["_lengths"])
        return normaliser

    def _add_phrase(self, phrase: str, token: str | None, state: str | None) -> None:
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
        i, end = 0, len(raw)
        while i < end:
            word = low[i]
            if raw[i] in self.vocab.state_codes:  # "FL", but not "fl" or "MT"
                words.append(_token_of(self.vocab.state_labels[raw[i]]))
                states.add(raw[i])
                i += 1
                continue
            if word in self.vocab.capitals_only and not raw[i][:2].isupper():  # "pt" the patient, not "PT"
                i += 1
                continue
            if word[-1].isdigit() and _is_code(word, low[i + 1] if i + 1 < end else ""):
                codes.setdefault(word.upper(), None)
                words.append(word)  # kept as a word too: "97124" is the most telling word there is
                i += 1
                continue
            for n in self._lengths.get(word, ()):
                hit = self._phrases.get(tuple(low[i : i + n])) if i + n <= end else None
                if hit is not None:
                    if hit[0] is not None:
                        words.append(hit[0])
                    if hit[1]:
                        states.add(hit[1])
                    i += n
                    break
            else:
                stem = self._stems.get(word)
                if stem is None:  # "" for a stop-word, or an inflected one ("saying", "doing")
                    base = _inflection_removed(word)
                    stopwords = self.vocab.stopwords
                    stem = self._stems[word] = "" if word in stopwords or base in stopwords else _final_letters(base)
                if stem:
                    words.append(stem)
                i += 1
        states.update(self._state_of_word[w] for w in words if w in self._state_of_word)
        return _Text(tuple(words), tuple(codes), frozenset(states))

    def learn(self, text: str) -> None:
        """Remember the words of an indexed text as correctly spelt."""
        self.known.update(t.lower() for t in _TOKEN.findall(_APOSTROPHE.sub("", text)))


def _token_of(phrase: str) -> str:
    """One token for a vocabulary phrase: "workers compensation" -> "workers_compensation"."""
    return "_".join(_TOKEN.findall(_APOSTROPHE.sub("", phrase.lower())))


@dataclass(frozen=True)
class _OffTopic:
    """Stands in for an entry while the off-topic questions are scored: no codes, no state."""

    id: str
    codes: tuple[str, ...] = ()
    state: str | None = None


_DECLINED = _OffTopic("declined")  # stands in for each question we decline: one object, however many


@dataclass(frozen=True)
class Match:
    entry: Entry
    score: float  # 0-100


@dataclass(frozen=True)
class MatchResult:
    best: Match | None  # None when not confident -> the bot answers no_match
    candidates: tuple[Match, ...]  # top 3 distinct entries, best first ("did you mean")
    off_topic: float = 0.0  # the score of the nearest question we decline (0-100)
    verbatim: bool = False  # a best candidate scoring 100 because the question, normalised, is one of its phrasings


class _Choice(NamedTuple):  # a tuple: thousands of them are pickled into the index cache
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
        self._postings: dict[str, list[int]] = defaultdict(list)  # word -> entries whose phrasings use it
        self._entry_choices: list[list[int]] = []  # entry -> its choices (question and phrasings)
        # entry -> word -> its choices using it (the keys: every word of the entry's phrasings)
        self._word_choices: list[dict[str, list[int]]] = []
        self._answer_words: list[frozenset[str]] = []  # words of its answer (weaker evidence)
        self._term_counts: list[Counter[str]] = []  # entry -> word -> how many of its phrasings use it
        self._terms = 0  # total of the entries' term counts (for BM25's average length)
        self._df: dict[str, int] = defaultdict(int)  # word -> number of entries using it anywhere
        self._by_code: dict[str, set[int]] = defaultdict(set)  # code -> entries about it
        self._spelling = _Spelling(self._normalise.known)
        self._weights: dict[str, float] = {}  # caches, cleared when word counts change
        self._choice_weights: dict[int, float] = {}
        self._off_topic: set[int] = set()  # indices of the vocabulary's off-topic questions
        self._declined: set[int] = set()  # indices of questions reviewers labelled out of scope, one each
        self._declined_postings: dict[str, list[int]] = defaultdict(list)  # word -> those questions using it
        for entry in entries:
            self.add_entry(entry)
        for topic, questions in self._normalise.vocab.off_topic.items():
            self._add_off_topic(topic, questions)

    # --- building the index -------------------------------------------------------------

    def add_entry(self, entry: Entry) -> None:
        """Index a new entry (an approved draft); a known id is replaced by the new version, in
        its own slot: candidates tied on shared words are shortlisted in slot order, so an entry
        moved to the end would lose ties it used to win."""
        if entry.id in self._ids:
            index = self._ids[entry.id]
            self._retire(index)
            self._entries[index] = entry
        else:
            index = len(self._entries)
            self._entries.append(entry)
            self._ids[entry.id] = index
            self._entry_choices.append([])
            self._word_choices.append({})
            self._term_counts.append(Counter())
            self._answer_words.append(frozenset())
        self._changed()  # the number of entries is in every weight
        self._answer_words[index] = frozenset(self._normalise(entry.answer).words)
        self._learn(entry.answer)
        for word in self._answer_words[index]:
            self._count(word)
        for code in entry.codes:
            self._by_code[code.upper()].add(index)
        for text in (entry.question, *entry.phrasings):
            self._add_choice(index, text)

    def _add_off_topic(self, topic: str, questions: Iterable[str]) -> None:
        """Index questions we decline (the therapist's own insurance, prices, ...) like an entry.

        They compete with the entries but are no answer: a message closest to one is declined.
        Their words don't count in the entries' word weights.
        """
        index = len(self._entries)
        self._entries.append(_OffTopic(topic))
        self._off_topic.add(index)
        self._entry_choices.append([])
        self._word_choices.append({})
        self._term_counts.append(Counter())
        self._answer_words.append(frozenset())
        for text in questions:
            self._add_choice(index, text)

    def replace_entry(self, entry: Entry) -> None:
        """Swap in a new version of a known entry (a reviewer's approved edit, a verification),
        keeping what the matcher learnt of how people ask for it (asked questions, links): a
        plain `add_entry` would forget those. Only dates or sources changed: nothing re-indexed.

        :raises KeyError: for an id the matcher doesn't know.
        """
        index = self._ids[entry.id]
        old = self._entries[index]
        if _indexed_fields(old) == _indexed_fields(entry):
            self._entries[index] = entry
            return
        own = sum(1 for text in (old.question, *old.phrasings) if self._normalise(text).words)
        learnt = [self._choices[c].text.split() for c in self._entry_choices[index][own:]]
        self.add_entry(entry)
        for words in learnt:
            self._index_choice(self._ids[entry.id], words)

    def normalised(self, text: str) -> str:
        """A question as the matcher reads it (content words, synonyms and typos resolved),
        joined by spaces: two questions that read the same here are the same question."""
        return " ".join(self._normalise(text, self._spelling).words)

    def add_phrasing(self, entry_id: str, phrasing: str) -> None:
        """Teach the matcher another way to ask for an entry; effective for the next match.

        :raises KeyError: for an id the matcher doesn't know.
        """
        self._add_choice(self._ids[entry_id], phrasing)

    def learn(self, entry_id: str | None, question: str) -> None:
        """Learn from a question someone asked, labelled with the entry that answers it, or None
        for one the bot must decline (knowledge/asked/). Its typos are not learnt as spellings.

        :raises KeyError: for an id the matcher doesn't know.
        """
        if entry_id is None:
            self.add_declined(question)
        else:
            self._add_choice(self._ids[entry_id], question, spelled_right=False)

    def add_declined(self, question: str) -> None:
        """Teach the matcher a question it must decline (one a reviewer labelled out of scope).

        Each stands alone, like an entry of one phrasing: a message about as near to one of them
        as to any entry is declined (see DECLINE_MARGIN). (As one group, a thousand unrelated
        questions would share some word with any message.) They are found through postings of
        their own, so they never crowd the entries out of the candidates."""
        index = len(self._entries)
        self._entries.append(_DECLINED)
        self._off_topic.add(index)
        self._declined.add(index)
        self._entry_choices.append([])
        self._word_choices.append({})
        self._term_counts.append(_NO_COUNTS)
        self._answer_words.append(frozenset())
        self._add_choice(index, question, spelled_right=False)

    def _add_choice(self, index: int, text: str, *, spelled_right: bool = True) -> None:
        """:param spelled_right: the text's words are correct spellings to correct typos to (curated
            text and reviewers' phrasings). Otherwise (what people typed) its typos are corrected
            as a question's are: "acident" stays a typo to correct, not a word to keep."""
        if spelled_right:
            self._learn(text)
        words = self._normalise(text, None if spelled_right else self._spelling).words  # typos corrected like a question's
        self._index_choice(index, words)

    def _index_choice(self, index: int, words: tuple[str, ...] | list[str]) -> None:
        """Index one phrasing's normalised words for the entry at `index`."""
        if not words:
            return
        choice_index = len(self._choices)
        self._entry_choices[index].append(choice_index)
        self._choices.append(_Choice(index, frozenset(words), " ".join(words)))
        unique = set(words)
        if index not in self._off_topic:  # BM25 (entries only) reads them
            self._term_counts[index].update(unique)
            self._terms += len(unique)
        word_choices = self._word_choices[index]
        for word in unique:
            if word in word_choices:
                word_choices[word].append(choice_index)
                continue
            word_choices[word] = [choice_index]  # the entry's first phrasing with this word
            (self._declined_postings if index in self._declined else self._postings)[word].append(index)
            if word not in self._answer_words[index] and index not in self._off_topic:
                self._count(word)

    def _count(self, word: str) -> None:
        """One more entry uses `word`."""
        self._df[word] += 1
        self._changed()

    def _learn(self, text: str) -> None:
        """The words of an indexed text are spelt right: don't "correct" questions using them."""
        before = len(self._normalise.known)
        self._normalise.learn(text)
        if len(self._normalise.known) != before:
            self._spelling.changed()

    def _retire(self, index: int) -> None:
        """Drop an entry's choices from the index (its slot stays, unreachable)."""
        for word in self._word_choices[index].keys() | self._answer_words[index]:
            self._df[word] -= 1
        for word in self._word_choices[index]:
            self._postings[word].remove(index)
        self._entry_choices[index] = []
        self._word_choices[index] = {}
        self._terms -= self._term_counts[index].total()
        self._term_counts[index] = Counter()
        self._answer_words[index] = frozenset()
        self._changed()
        for group in self._by_code.values():
            group.discard(index)

    @property
    def entries(self) -> tuple[Entry, ...]:
        return tuple(self._entries[i] for i in self._ids.values())

    def entry(self, entry_id: str) -> Entry | None:
        """The current version of an entry (approved edits included), None for an unknown id."""
        index = self._ids.get(entry_id)
        return None if index is None else self._entries[index]

    # --- matching -----------------------------------------------------------------------

    def match(
        self,
        text: str,
        codes: Sequence[str] = (),
        *,
        unknown_codes: Sequence[str] = (),
        prefer_state: str | None = None,
    ) -> MatchResult:
        """Rank entries for `text`; `best` is None unless the top one is a confident answer.

        :param codes: the codes the caller's parser recognised (code table). Codes typed in
            `text` are found here too and prefer the entries about them; a typed code that is
            neither in `codes` nor in the KB counts as unknown. Codes the parser found from a
            name ("massage" -> 97124) don't count: the words themselves are matched.
        :param unknown_codes: codes named that neither the code table nor the KB knows:
            the answer is then always "not sure" (a guess would be about another code).
        :param prefer_state: the asker's own state (a personal setting), a tie-break only: when
            the question names no state, that state's entries lose no points for being about a
            state (see `PREFERRED_STATE_BONUS`); a state named in the question always wins.
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
        if prefer_state and not query.states:
            self._prefer_state(scores, prefer_state.upper())
        if max(scores.values(), default=0.0) < FOCUS_BELOW:
            self._rescore_question_sentences(text, query, named, scores)
        off_topic = max((scores.pop(i) for i in self._off_topic & scores.keys()), default=0.0)
        ranked = heapq.nlargest(3, scores.items(), key=lambda kv: kv[1])
        disputed = (
            len(ranked) > 1
            and ranked[0][1] - ranked[1][1] < TIE_MARGIN
            and self._bm25(ranked[1][0], query.words) > self._bm25(ranked[0][0], query.words)
        )
        if disputed:  # a close call: a second opinion from all of the two entries' phrasings
            ranked[0], ranked[1] = ranked[1], ranked[0]
        # Ranked on the uncapped score (two entries can both pass 100 with their code bonus);
        # the score shown is capped at 100.
        candidates = tuple(
            Match(self._entries[i], round(min(s, 100.0), 1)) for i, s in ranked if s >= SUGGESTION_FLOOR
        )
        threshold = self.threshold
        billing = self._normalise.billing_words
        if billing and not typed and billing.isdisjoint(query.words):
            # "deep tissue massage on the upper traps" shares a topic word, but is no billing question
            threshold += NO_BILLING_WORD_MARGIN
        weak = self._normalise.vocab.weak_words
        confident = (
            bool(candidates)
            and not all(word in weak for word in query.words)  # "you're the best": everyday words name no topic
            and candidates[0].score >= threshold
            # clearly nearer to an entry than to any question we decline
            # (a tie is a decline: scores summed in different orders differ in the last bits)
            and ranked[0][1] > off_topic + (DECLINE_MARGIN if ranked[0][1] < CLEAR_MATCH else 0.0) + _TIE
            and not unknown
            # the two scorers disagree on a close call: show both (suggestions are buttons), don't pick.
            # Cross-validation: 106 right answers become suggestions, 145 wrong ones do (at 990662b).
            and not (disputed and ranked[0][1] < CLEAR_MATCH)
        )
        # only a saturated score can stand without the classifier (bot.core.decide): checked only then
        verbatim = bool(candidates) and candidates[0].score >= 100.0 and self._is_phrasing(ranked[0][0], query.words)
        return MatchResult(candidates[0] if confident else None, candidates, round(min(off_topic, 100.0), 1), verbatim)

    def _is_phrasing(self, index: int, words: tuple[str, ...]) -> bool:
        """Whether these normalised words are one of the entry's phrasings (a labelled question, a
        link made on the review desk): a few string comparisons."""
        text = " ".join(words)
        choices = self._choices
        return any(choices[c].text == text for c in self._entry_choices[index])

    def _prefer_state(self, scores: dict[int, float], state: str) -> None:
        """The asker's state's entries get back the stateless-message penalty and a small bonus:
        enough to win a near tie against another state's or a general entry, not to answer an
        unrelated question (the text score still has to carry it over the threshold)."""
        for index in scores:
            if index < len(self._entries) and getattr(self._entries[index], "state", None) == state:
                scores[index] += STATELESS_MESSAGE_PENALTY + PREFERRED_STATE_BONUS

    def _rescore_question_sentences(self, text: str, query: _Text, named: set[str], scores: dict) -> None:
        """"<what happened>. <the question>?": score the question alone too, and keep each entry's
        better score. Only the whole message's best entries (and the off-topic questions) are re-read."""
        parts = _question_sentences(text)
        if not parts:
            return
        entries = ((i, score) for i, score in scores.items() if i not in self._off_topic)  # those are always re-read
        among = {i for i, _ in heapq.nlargest(FOCUS_AMONG, entries, key=itemgetter(1))}
        for part in parts:
            sentence = self._normalise(part, self._spelling)
            words = sentence.words
            if words == query.words or len(set(words)) < FOCUS_MIN_WORDS - bool(sentence.codes):
                continue
            for index, score in self._score(words, named, query.states, among).items():
                if score > scores.get(index, 0.0):
                    scores[index] = score

    def _bm25(self, index: int, words: Iterable[str]) -> float:
        """BM25 of the question against all of an entry's phrasings as one document."""
        counts, n = self._term_counts[index], len(self._ids)
        if not n or not self._terms:
            return 0.0
        norm = BM25_K1 * (1 - BM25_B + BM25_B * counts.total() * n / self._terms)
        total = 0.0
        for word in dict.fromkeys(words):  # in order (see _choice_weight)
            tf = counts.get(word)
            if tf:
                df = len(self._postings[word])
                total += math.log(1 + (n - df + 0.5) / (df + 0.5)) * tf * (BM25_K1 + 1) / (tf + norm)
        return total

    def _weight(self, word: str) -> float:
        """Inverse document frequency over entries: rare words say more about the topic."""
        weight = self._weights.get(word)
        if weight is None:
            n = len(self._ids)
            df = self._df.get(word, 0) or UNKNOWN_WORD_DF
            weight = math.log(1.0 + (n - df + 0.5) / (df + 0.5)) if n else 1.0
            if word in self._normalise.vocab.weak_words:
                weight *= WEAK_WORD_WEIGHT
            elif word in self._normalise.state_words:
                weight *= STATE_WORD_WEIGHT
            self._weights[word] = weight
        return weight

    def _choice_weight(self, choice_index: int) -> float:
        """Total weight of a phrasing's words (cached). Summed in a fixed order: a set's order
        changes from run to run (hash seeds), and so would the last bits of the sum, and ties."""
        total = self._choice_weights.get(choice_index)
        if total is None:
            total = self._choice_weights[choice_index] = sum(
                self._weight(w) for w in sorted(self._choices[choice_index].words)
            )
        return total

    def warm(self) -> None:
        """Compute every word's and phrasing's weight, and the typo lists, now (they are cached
        lazily, and learning clears them), so that the first questions don't pay for them."""
        for choice_index, choice in enumerate(self._choices):
            if self._entry_choices[choice.entry]:
                self._choice_weight(choice_index)
        self._spelling.prepare()

    def _changed(self) -> None:
        """Word counts changed: cached weights are stale (recomputed lazily, per word)."""
        self._weights.clear()
        self._choice_weights.clear()

    # --- kept on disk (bot.core.index_cache) ------------------------------------------------
    # The index as plain data (lists, dicts, sets, tuples, text, numbers) that marshal can write
    # and read back several times faster than pickle reads thousands of small objects. Only the
    # attributes below are converted; any other is kept as it is (the cache then falls back to
    # pickle for a value marshal can't write).

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_normalise"] = self._normalise._plain()
        state["_spelling"] = self._spelling._plain()
        # entries: an Entry's plain tuple, [id, codes, state] for an off-topic group, None for _DECLINED
        state["_entries"] = [
            None if e is _DECLINED else [e.id, e.codes, e.state] if type(e) is _OffTopic else e.as_plain()
            for e in self._entries
        ]
        choices = self._choices
        state["_choices"] = (
            [c.entry for c in choices], [c.words for c in choices], [c.text for c in choices]
        )  # fmt: skip
        state["_term_counts"] = [None if c is _NO_COUNTS else dict(c) for c in self._term_counts]
        defaults = {}
        for name, value in state.items():
            if type(value) is defaultdict and value.default_factory in _FACTORIES:
                defaults[name] = value.default_factory.__name__
                state[name] = dict(value)
        state["defaultdicts"] = defaults
        return state

    def __setstate__(self, state: dict) -> None:
        state = dict(state)
        for name, factory in state.pop("defaultdicts").items():
            state[name] = defaultdict(_FACTORIES_BY_NAME[factory], state[name])
        normalise = state["_normalise"] = _Normaliser._from_plain(state["_normalise"])
        state["_spelling"] = _Spelling._from_plain(state["_spelling"], normalise.known)
        from_plain, off_topic = Entry.from_plain, _OffTopic
        state["_entries"] = [
            _DECLINED if e is None else off_topic(*e) if type(e) is list else from_plain(e)
            for e in state["_entries"]
        ]
        state["_choices"] = list(map(tuple.__new__, repeat(_Choice), zip(*state["_choices"])))
        state["_term_counts"] = [_NO_COUNTS if c is None else _counter(c) for c in state["_term_counts"]]
        self.__dict__.update(state)

    def _score(
        self, words: tuple[str, ...], named: set[str], states: frozenset[str], among: set[int] | None = None
    ) -> dict[int, float]:
        """Best score per entry index, for the entries whose phrasings share a word (and are `among`;
        the off-topic and declined questions always count)."""
        weights = {w: self._weight(w) for w in words}
        wq = sum(weights.values())
        if not wq:
            return {}
        # Candidates: entries whose phrasings share a word, best overlap first. Words used by
        # a large share of a big KB ("massage") only slow this down; they still count below.
        common = max(COMMON_POSTINGS, len(self._ids) // 10)
        selective = [w for w in weights if len(self._postings.get(w, ())) <= common]
        overlap: dict[int, float] = defaultdict(float)
        for word in selective:
            weight = weights[word]
            for index in self._postings.get(word, ()):
                overlap[index] += weight
        if not selective:  # every word is that common: the rarest one picks the candidates
            rarest = min(weights, key=lambda w: len(self._postings.get(w, ())))
            for index in self._postings.get(rarest, ()):
                used = self._word_choices[index]
                overlap[index] = sum([weight for word, weight in weights.items() if word in used])
        if among is not None:
            off_topic = self._off_topic
            overlap = {index: shared for index, shared in overlap.items() if index in among or index in off_topic}
        if overlap:  # far behind the best on shared words: can't come near it on the score either
            cutoff = CANDIDATE_CUTOFF if len(weights) <= LONG_QUESTION_WORDS else LONG_CANDIDATE_CUTOFF
            floor = max(overlap.values()) * cutoff
            # an entry about a code the message names gets a code bonus later: half the floor will do
            about = set().union(*(self._by_code.get(code, ()) for code in named)) if named else ()
            overlap = {i: shared for i, shared in overlap.items() if shared >= (floor / 2 if i in about else floor)}
        if len(overlap) > SHORTLIST:
            # ties in slot order (not postings order, which a replaced entry's re-indexing changes)
            overlap = dict(heapq.nlargest(SHORTLIST, overlap.items(), key=lambda item: (item[1], -item[0])))
        query_text = " ".join(words)
        text_scores = {index: self._entry_score(index, weights, wq, query_text)[0] for index in overlap}
        text_scores.update(self._declined_scores(weights, wq, query_text))
        return {
            index: max(0.0, text_score + self._adjust(self._entries[index], named, states))
            for index, text_score in text_scores.items()
        }

    def _declined_scores(self, weights: dict[str, float], wq: float, query_text: str) -> dict[int, float]:
        """Text scores of the declined questions sharing the most weight with the question (see
        add_declined). Each is one phrasing, so it is scored here directly: what `_entry_score`
        gives an entry of one phrasing, without its bookkeeping."""
        if not self._declined:
            return {}
        shared: dict[int, float] = defaultdict(float)  # found by the words that aren't light, as in _entry_score
        for word, weight in weights.items():
            if weight >= LIGHT_WORD:
                for index in self._declined_postings.get(word, ()):
                    shared[index] += weight
        if not shared:  # only light words: then they find them
            for word, weight in weights.items():
                for index in self._declined_postings.get(word, ()):
                    shared[index] += weight
        state_words = self._normalise.state_words
        b2 = QUERY_COVERAGE_BETA * QUERY_COVERAGE_BETA
        scores = {}
        for index, _ in heapq.nlargest(DECLINED_AMONG, shared.items(), key=itemgetter(1)):
            choice_index = self._entry_choices[index][0]
            choice = self._choices[choice_index]
            common = sum(weights[w] for w in sorted(choice.words) if w in weights)
            recall, precision = common / wq, common / self._choice_weight(choice_index)
            f = (1 + b2) * precision * recall / (b2 * precision + recall)
            scale = min(1.0, recall / FULL_SIMILARITY_RECALL)
            if all(w in state_words for w in choice.words if w in weights):  # shares nothing but a place name
                scale *= STATE_ONLY_FACTOR
                f *= STATE_ONLY_FACTOR
            similarity = SIMILARITY(query_text, choice.text) * scale
            scores[index] = OVERLAP_SHARE * 100 * f + (1 - OVERLAP_SHARE) * similarity
        return scores

    def _entry_score(self, index: int, weights: dict[str, float], wq: float, query_text: str) -> tuple:
        """(score, best choice, recall, precision, similarity): the entry's best phrasing.

        Recall: how much of the question the entry explains (words found in any of its
        phrasings fully, words found only in its answer partly); it is the same for all of the
        entry's phrasings. Precision: how much of the phrasing the question covers.
        Similarity: rapidfuzz on the normalised words.

        Light words ("massage", "bill": in most phrasings) are most of the cost of walking the
        phrasings, so the phrasings are found through the question's other words, and light
        words only add to those; only when the entry shares nothing else are they used to find
        phrasings. (A phrasing sharing only light words with a question whose rarer words the
        entry also uses is left out: it is a heuristic, measured neutral by make eval.) At most
        SIMILARITY_TRIES phrasings are compared by rapidfuzz, the most precise first.
        """
        word_choices, answer = self._word_choices[index], self._answer_words[index]
        state_words = self._normalise.state_words
        places = not state_words.isdisjoint(weights)  # only then can a phrasing share nothing but a place
        credit = 0.0
        shared_by_choice: dict[int, float] = {}  # the weight of the question's words each phrasing uses
        topical: set[int] = set()  # phrasings sharing a word that isn't a place name
        light = []  # (weight, choices) of the light words
        get = shared_by_choice.get
        for word, weight in weights.items():
            choices = word_choices.get(word)
            if choices:
                credit += weight
                if weight < LIGHT_WORD:
                    light.append((weight, choices))
                    continue
                for choice_index in choices:
                    shared_by_choice[choice_index] = get(choice_index, 0.0) + weight
                if places and word not in state_words:
                    topical.update(choices)
            elif word in answer:
                credit += weight * ANSWER_CREDIT
        if light:
            only_light = not shared_by_choice
            for weight, choices in light:
                for choice_index in choices:
                    if only_light or choice_index in shared_by_choice:
                        shared_by_choice[choice_index] = get(choice_index, 0.0) + weight
                if places:
                    topical.update(choices)
        recall = credit / wq
        # token-set similarity flatters a phrasing found inside a longer, unexplained question
        full_scale = min(1.0, recall / FULL_SIMILARITY_RECALL)
        b2 = QUERY_COVERAGE_BETA * QUERY_COVERAGE_BETA
        choice_weights = self._choice_weights
        keyed = []  # (-precision, choice): with the recall fixed, the best possible score rises with precision
        for choice_index, shared in shared_by_choice.items():
            total = choice_weights.get(choice_index)
            if total is None:
                total = self._choice_weight(choice_index)
            keyed.append((-shared / total, choice_index))
        keyed.sort()  # most precise first; equal ones in phrasing order
        best: tuple = (0.0, -1, 0.0, 0.0, 0.0)
        bound_scale = OVERLAP_SHARE * 100
        similarity_share = (1 - OVERLAP_SHARE) * 100
        tries = 0
        for negative_precision, choice_index in keyed:
            if tries == SIMILARITY_TRIES:
                break
            precision = -negative_precision
            f = (1 + b2) * precision * recall / (b2 * precision + recall)
            scale = full_scale
            place_only = places and choice_index not in topical  # "washington?" names a place, not a topic
            if place_only:
                scale *= STATE_ONLY_FACTOR
                f *= STATE_ONLY_FACTOR
            if bound_scale * f + similarity_share * scale <= best[0]:  # even with a perfect similarity
                if place_only:
                    continue
                break  # and no less precise phrasing can beat the best so far either
            tries += 1
            similarity = SIMILARITY(query_text, self._choices[choice_index].text) * scale
            score = bound_scale * f + (1 - OVERLAP_SHARE) * similarity
            if score > best[0] or (score == best[0] and choice_index < best[1]):
                best = (score, choice_index, recall, precision, similarity)
        return best

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


def _indexed_fields(entry: Entry) -> tuple:
    """What the index is built from: an entry whose other fields change needs no re-indexing."""
    return (entry.question, entry.phrasings, entry.answer, entry.codes, entry.state)


def _edits_allowed(length: int) -> int:
    """Short words are too close to each other to guess ("rain" is not a typo of "pain")."""
    return 0 if length < 5 else 1 if length < 8 else 2


class _Spelling:
    """Typo correction of typed words against the words the indexed texts use."""

    def __init__(self, known: set[str]) -> None:
        self._known = known  # shared with the normaliser, which adds to it
        self._by_length: dict[int, list[str]] | None = None
        self._near: dict[tuple[int, int], list[str]] = {}
        self._cache: dict[str, str | None] = {}

    def _plain(self) -> dict:
        """Plain data for Matcher.__getstate__ (the known words are the normaliser's)."""
        state = dict(self.__dict__)
        del state["_known"]
        if state["_by_length"] is not None:
            state["_by_length"] = dict(state["_by_length"])
        return state

    @classmethod
    def _from_plain(cls, state: dict, known: set[str]) -> _Spelling:
        spelling = cls.__new__(cls)
        spelling.__dict__.update(state)
        spelling._known = known
        if spelling._by_length is not None:
            spelling._by_length = defaultdict(list, spelling._by_length)
        return spelling

    def changed(self) -> None:
        self._by_length = None
        self._cache.clear()

    def prepare(self, longest: int = 30) -> None:
        """Build the lists of known words by length now, not on the first typo."""
        for length in range(longest + 1):
            if _edits_allowed(length):
                self._near_words(length, _edits_allowed(length))

    def _near_words(self, length: int, max_edits: int) -> list[str]:
        """The known words as long as a typo of `length` letters, give or take the edits."""
        if self._by_length is None:
            self._by_length = defaultdict(list)
            for known in sorted(self._known):
                self._by_length[len(known)].append(known)
            self._near.clear()
        near = self._near.get((length, max_edits))
        if near is None:
            lengths = range(length - max_edits, length + max_edits + 1)
            near = self._near[length, max_edits] = [k for n in lengths for k in self._by_length.get(n, ())]
        return near

    def correct(self, word: str) -> str | None:
        """The known word within one edit (two for long words), or None."""
        if word in self._cache:
            return self._cache[word]
        max_edits = _edits_allowed(len(word))
        fixed = None
        if max_edits:
            near = self._near_words(len(word), max_edits)
            for known, _, _ in process.extract(
                word, near, scorer=OSA.distance, score_cutoff=max_edits, limit=8
            ):
                # In short words a changed letter is more often another word than a typo
                # ("dental" is not "denial"); missing, extra and swapped letters are typos.
                if max_edits > 1 or len(known) != len(word) or sorted(known) == sorted(word):
                    fixed = known
                    break
        if len(self._cache) > 10_000:
            self._cache.clear()
        self._cache[word] = fixed
        return fixed


def _counter(counts: dict[str, int]) -> Counter[str]:
    counter: Counter[str] = Counter()
    dict.update(counter, counts)  # as stored: Counter(counts) would add them up one by one
    return counter


@lru_cache(maxsize=1)
def _default_vocabulary() -> Vocabulary:
    return load_vocabulary()
