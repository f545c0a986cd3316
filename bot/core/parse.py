"""Message text -> `Request`: the codes, minutes and rule words a therapist wrote.

Therapists write "40 min 97140", "97140 for 40 minutes", "1h15 97124", "1:10 97124",
"25 min manual therapy + 20 min NMR". The parser finds three kinds of token (durations,
codes, code names) and pairs each duration with a code: inside one clause (split on
commas, "+", "and", ...) a duration belongs to the code it stands next to, on the side
the clause starts with. It never raises: anything odd becomes a `Problem` for the answer.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.core.codes import CODE_PATTERN, CodeTable, RuleBook

MAX_MINUTES = 24 * 60  # nobody treats for more than a day on one date of service

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25,
    "thirty": 30, "forty": 40, "forty-five": 45, "forty five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
}
_NUM = r"(?:\d+(?:[.,]\d+)?|" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")"
_H = r"(?:hours?|hrs?|h)"
_M = r"(?:minutes?|mins?|m)"
_NOT_RULE = r"(?![\s-]*(?:minute\s+)?rule)"  # "8-minute rule" is a rule, not a duration

# Order matters: the longest forms first. Every pattern is a whole duration.
_DURATION = re.compile(
    r"(?=[-\dotfsenah])(?<![\w.:-])(?P<neg>-)?(?:"
    r"(?P<hm_h>\d{1,2}):(?P<hm_m>[0-5]\d)(?!\d)(?:\s*(?:hours?|hrs?|h)\b)?"  # 1:10
    r"|(?P<h>" + _NUM + r")\s*-?\s*" + _H + r"(?![a-z])\.?(?:\s*(?:and\s+)?(?P<hm>\d{1,2})\s*-?\s*(?:" + _M + r"\b)?(?=\W|$))?"  # 1h 15m, 1.5 hours
    r"|(?P<half>half\s+(?:an\s+)?hour)"
    r"|(?P<an>an|one)\s+hour(?:\s+and\s+(?P<an_m>" + _NUM + r")\s*" + _M + r")?"
    r"|(?P<m>" + _NUM + r")\s*-?\s*" + _M + r"\b" + _NOT_RULE + r"\.?"  # 40 min, 40-minute, 40m
    r")",
    re.IGNORECASE,
)
# "the 97000 series" names a range of codes, not a code
_CODE = re.compile(rf"(?<![\w-])(?P<code>{CODE_PATTERN})(?![\d])(?!\s*(?:series|range|family)\b)", re.IGNORECASE)
# Numbers that look like a mistyped 97xxx code: 4 or 6 digits starting 97.
_CODE_ONLY = re.compile(CODE_PATTERN, re.IGNORECASE)  # "97010" before "minutes" is a code
_ALMOST_CODE = re.compile(r"(?<![\w.-])(97\d{2}|97\d{4})(?![\w.])")
_CODE_MINUTES = re.compile(r"^\s*[:=]\s*(\d{1,3})(?![\d:])")  # "97110: 33" (minutes after a colon)
_REVERSE = re.compile(r"(?P<n>\d{1,3})\s*units?\b", re.IGNORECASE)
_REVERSE_ASK = re.compile(
    r"\bhow\s+(?:many\s+min|much\s+time|long)|\bmin(?:ute)?s?\s+(?:for|in|per|needed|do\s+i\s+need|to\s+bill|=)|=\s*\?",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;+&\n/]|\band\b|\bplus\b|\bthen\b|\balso\b|\s-\s)\s*", re.IGNORECASE)
_QUESTION = re.compile(
    r"\?|^\s*(?:what|whats|what's|can|could|do|does|did|is|are|was|should|shall|why|when|where|who|which|"
    r"how|will|would|may|any|anyone|is there|tell me|explain)\b"
    # a question after some context, with no question mark: "first client tomorrow!! what code do i bill",
    # "10 min of moist heat, is that billable separately", "new grad - should I get an NPI"
    r"|(?:[,.;:!]|\s[-\u2013\u2014])\s*(?:what|whats|what's|which|why|how|"
    r"(?:is|are|was) (?:that|it|this|there|they|those)|(?:can|could|should|do|does|would) (?:i|we|you|they|it|that|this))\b"
    r"|\b(?:is|isn't) (?:that|it|this) (?:true|right|correct|a thing|legit|allowed|billable|ok|okay)\b",
    re.IGNORECASE,
)
_SLACK_USER = re.compile(r"<[@#!][^>]*>")
_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>|<(?:https?|mailto):[^>]*>")
_EMOJI = re.compile(r":[a-z0-9_+\-]+:")


class Segment(NamedTuple):
    """A code named in the message with the minutes given for it (None when none were)."""

    code: str
    minutes: int | None
    said: str  # how the user named it ("97140" or "manual therapy")


class Problem(NamedTuple):
    kind: str  # negative | too_long | fraction | unknown_code | retired_code | almost_code
    detail: str


class Request(NamedTuple):
    text: str  # the message with Slack markup removed
    segments: tuple[Segment, ...] = ()
    loose_minutes: tuple[int, ...] = ()  # durations with no code next to them
    rule: str | None = None  # a rule or payer profile named in the message
    reverse_units: int | None = None  # "how many minutes for 3 units?"
    unknown_codes: tuple[str, ...] = ()
    retired_codes: tuple[str, ...] = ()
    problems: tuple[Problem, ...] = ()
    is_question: bool = False
    leftover_words: tuple[str, ...] = ()

    @property
    def codes(self) -> tuple[str, ...]:
        """Every code number mentioned, known or not, in order, without repeats."""
        seen: dict[str, None] = {}
        for c in (*(s.code for s in self.segments), *self.retired_codes, *self.unknown_codes):
            seen.setdefault(c, None)
        return tuple(seen)

    @property
    def has_minutes(self) -> bool:
        return bool(self.loose_minutes) or any(s.minutes is not None for s in self.segments)


def strip_slack_markup(text: str) -> str:
    """Drop user/channel mentions and emoji, keep link labels, and unescape &amp; &lt; &gt;."""
    if "<" in text:
        text = _SLACK_USER.sub(" ", text)
        text = _SLACK_LINK.sub(lambda m: m.group(1) or " ", text)
    if ":" in text:
        text = _EMOJI.sub(" ", text)
    if "&" in text:
        text = text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() or ch in "\n\t" else " " for ch in text)
    return _SPACES.sub(" ", text).strip()


_SPACES = re.compile(r"[ \t]+")


def trie_pattern(words) -> str:
    """One regex alternation for many words, shaped as a trie so matching doesn't try each word in turn."""
    trie: dict = {}
    for word in words:
        node = trie
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def build(node: dict) -> str:
        end = "" in node
        branches = [re.escape(ch) + build(child) for ch, child in sorted(node.items()) if ch]
        if not branches:
            return ""
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        return f"(?:{body})?" if end else body

    return build(trie)


def _number(s: str) -> float:
    if s.isdigit():
        return int(s)
    s = s.lower().replace(",", ".")
    return float(_NUMBER_WORDS[s]) if s in _NUMBER_WORDS else float(s)


def _duration_minutes(m: re.Match) -> float:
    minutes = m.group("m")
    if minutes is not None:  # the common case first: "40 min"
        return _number(minutes)
    if m.group("hm_h") is not None:
        return int(m.group("hm_h")) * 60 + int(m.group("hm_m"))
    if m.group("h") is not None:
        return _number(m.group("h")) * 60 + (int(m.group("hm")) if m.group("hm") else 0)
    if m.group("half") is not None:
        return 30
    return 60 + (_number(m.group("an_m")) if m.group("an_m") else 0)


class Parser:
    """Parses messages against one code table and rule book (compiled once)."""

    def __init__(self, codes: CodeTable, rules: RuleBook):
        self.codes = codes
        self.rules = rules
        # Trie-shaped alternations: greedy, so the longest alias wins ("manual therapy" over "manual").
        alias_alt = trie_pattern(codes.aliases)
        self._alias = re.compile(rf"\b(?<![\w-])(?:{alias_alt})(?![\w-])", re.IGNORECASE) if alias_alt else None
        self._rule = re.compile(rf"\b(?<![\w-])(?:{trie_pattern(rules.words)})(?![\w-])", re.IGNORECASE)

    def parse(self, raw: str) -> Request:
        text = strip_slack_markup(raw or "")
        problems: list[Problem] = []
        tokens: list[tuple[int, int, str, object]] = []  # (start, end, kind, value)

        work = text
        rule = None
        for m in self._rule.finditer(work):
            rule = rule or self.rules.words[m.group(0).lower()]
            work = work[: m.start()] + " " * (m.end() - m.start()) + work[m.end():]

        for m in _DURATION.finditer(work):
            if m.group("m") and _CODE_ONLY.fullmatch(m.group("m")):
                continue  # "97010 minutes": a code followed by the word, not 97,010 minutes
            minutes = _duration_minutes(m)
            if m.group("neg"):
                problems.append(Problem("negative", m.group(0).strip()))
                minutes = 0
            if minutes != int(minutes):
                problems.append(Problem("fraction", f"{m.group(0).strip()} = {minutes:g} min"))
            if minutes > MAX_MINUTES:
                problems.append(Problem("too_long", m.group(0).strip()))
            tokens.append((m.start(), m.end(), "dur", int(minutes)))
        work = _blank(work, [(s, e) for s, e, _, _ in tokens])

        unknown: list[str] = []
        retired: list[str] = []
        code_spans: list[tuple[int, int]] = []
        for m in _CODE.finditer(work):
            code = m.group("code").upper()
            code_spans.append((m.start(), m.end()))
            after = _CODE_MINUTES.match(work[m.end():])
            if after:  # "97110: 33" -> 33 minutes
                end = m.end() + after.end()
                tokens.append((end - len(after.group(0)), end, "dur", int(after.group(1))))
                code_spans.append((end - len(after.group(0)), end))
            if code in self.codes.codes:
                tokens.append((m.start(), m.end(), "code", (code, m.group(0))))
            elif code in self.codes.retired:
                retired.append(code)
            else:
                unknown.append(code)
        work = _blank(work, code_spans)
        if "97" in work:  # cheap guard: most messages' codes are blanked out by now
            for m in _ALMOST_CODE.finditer(work):
                problems.append(Problem("almost_code", m.group(0)))
                work = _blank(work, [(m.start(), m.end())])

        if self._alias:
            spans = []
            for m in self._alias.finditer(work):
                tokens.append((m.start(), m.end(), "code", (self.codes.aliases[m.group(0).lower()], m.group(0))))
                spans.append((m.start(), m.end()))
            work = _blank(work, spans)

        reverse = None
        if "unit" in work.lower() and not any(kind == "dur" for _, _, kind, _ in tokens):
            rm = _REVERSE.search(work)
            if rm and _REVERSE_ASK.search(work):
                reverse = int(rm.group("n"))
                work = work[: rm.start()] + " " * (rm.end() - rm.start()) + work[rm.end():]

        tokens.sort()
        segments, loose = _pair(text, tokens)
        for code in retired:
            problems.append(Problem("retired_code", code))
        for code in unknown:
            problems.append(Problem("unknown_code", code))
        return Request(
            text=text,
            segments=tuple(segments),
            loose_minutes=tuple(loose),
            rule=rule,
            reverse_units=reverse,
            unknown_codes=tuple(dict.fromkeys(unknown)),
            retired_codes=tuple(dict.fromkeys(retired)),
            problems=tuple(problems),
            is_question=bool(_QUESTION.search(text)),
            leftover_words=tuple(re.findall(r"[a-z]+", work.lower())),
        )


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the spans with spaces, keeping every other character at its position."""
    for s, e in spans:
        text = text[:s] + " " * (e - s) + text[e:]
    return text


def _pair(text: str, tokens: list[tuple[int, int, str, object]]) -> tuple[list[Segment], list[int]]:
    """Give each duration to a code: within a clause, to the code on the side the clause starts with."""
    clauses: list[list[tuple[str, object]]] = [[]]
    pos = 0
    for start, end, kind, value in tokens:
        if _CLAUSE_BREAK.search(text[pos:start]) and clauses[-1]:
            clauses.append([])
        clauses[-1].append((kind, value))
        pos = end

    segments: list[Segment] = []
    loose: list[int] = []
    for clause in clauses:
        kinds = [k for k, _ in clause]
        if "code" not in kinds:
            if segments:
                # "97124 30 min + 10 min": a clause of minutes only continues the code before it
                last = segments[-1]
                segments[-1] = Segment(last.code, (last.minutes or 0) + sum(v for k, v in clause), last.said)
            else:
                loose.extend(v for k, v in clause)
            continue
        durations_first = kinds[0] == "dur"
        pending: list[int] = []
        current: list[Segment] = []
        for kind, value in clause:
            if kind == "dur":
                if durations_first or not current:
                    pending.append(value)
                else:
                    c = current[-1]
                    current[-1] = Segment(c.code, (c.minutes or 0) + value, c.said)
            else:
                code, said = value
                minutes = sum(pending) if pending else None
                pending = []
                current.append(Segment(code, minutes, said))
        if pending:  # trailing durations after the last code of a durations-first clause
            c = current[-1]
            current[-1] = Segment(c.code, (c.minutes or 0) + sum(pending), c.said)
        segments.extend(current)
    if loose and len(segments) == 1 and segments[0].minutes is None:  # "40 min, 97140"
        segments = [Segment(segments[0].code, sum(loose), segments[0].said)]
        loose = []
    return segments, loose
