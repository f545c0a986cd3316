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
from bot.core.times import normalize
from bot.core.visits import split as split_visits

MAX_MINUTES = 24 * 60  # nobody treats for more than a day on one date of service

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25,
    "thirty": 30, "forty": 40, "forty-five": 45, "forty five": 45, "fifty": 50, "sixty": 60, "ninety": 90,
}
# The digits are atomic: a unit word always follows a number, so giving digits back to retry (5 times
# over for "97112") can never match and only costs time.
_NUM = r"(?:(?>\d+(?:[.,]\d+)?)|" + "|".join(sorted(map(re.escape, _NUMBER_WORDS), key=len, reverse=True)) + r")"
# Where a duration can start: a digit, a minus, or a number word ("half an hour", "an hour"). Checked
# first, so the alternatives below run only there (most positions of a message are inside words).
_STARTS = "|".join(sorted({w.split()[0].split("-")[0] for w in _NUMBER_WORDS} | {"half", "an"}, key=len, reverse=True))
_H = r"(?:hours?|hrs?|h)"
_M = r"(?:minutes?|mins?|m)"
_NOT_RULE = r"(?![\s-]*(?:minute\s+)?rule)"  # "8-minute rule" is a rule, not a duration

# Order matters: the longest forms first. Every pattern is a whole duration.
_DURATION = re.compile(
    r"(?<![\w.:-])(?=[-\dotfsenah])(?=[-\d]|(?:" + _STARTS + r")(?![a-z]))(?P<neg>-)?(?:"
    r"(?P<hm_h>\d{1,2}):(?P<hm_m>[0-5]\d)(?!\d)(?P<hm_unit>\s*(?:hours?|hrs?|h)\b)?"  # 1:10
    r"|(?P<h>" + _NUM + r")\s*-?\s*" + _H + r"(?![a-z])\.?(?:\s*(?:and\s+)?(?P<hm>\d{1,2})\s*-?\s*(?:" + _M + r"\b)?(?=\W|$))?"  # 1h 15m, 1.5 hours
    r"|(?P<half>half\s+(?:an\s+)?hour)"
    r"|(?P<an>an|one)\s+hour(?:\s+and\s+(?P<an_m>" + _NUM + r")\s*" + _M + r")?"
    r"|(?P<m>" + _NUM + r")\s*-?\s*" + _M + r"\b" + _NOT_RULE + r"\.?"  # 40 min, 40-minute, 40m
    r")",
    # no IGNORECASE: the scan runs on lower-cased text (`_lower`), which is several times cheaper
)
# "the 97000 series" names a range of codes, not a code
_LOWER_CODE = CODE_PATTERN.replace("A-Z", "a-z")
_CODE = re.compile(rf"(?<![\w-])(?P<code>{_LOWER_CODE})(?![\d])(?!\s*(?:series|range|family)\b)")
# Numbers that look like a mistyped 97xxx code: 4 or 6 digits starting 97.
_CODE_ONLY = re.compile(_LOWER_CODE)  # "97010" before "minutes" is a code
_ALMOST_CODE = re.compile(r"(?<![\w.-])(97\d{2}|97\d{4})(?![\w.])")
_CODE_MINUTES = re.compile(r"\s*[:=]\s*(\d{1,3})(?![\d:])")  # "97110: 33" (minutes after a colon)
_BARE_MINUTES = re.compile(r"\s+(\d{1,3})(?![\d:/]|[.,]\d|\s*(?:units?|x)\b)")  # "97110 33 97140 7"
_HAS_FIVE_DIGITS = re.compile(r"\d{5}")
_FIVE_DIGITS = re.compile(r"(?<![\w.,:/$#-])\d{5}(?![\w.,:/%-]|\s*(?:units?|min|dollars)\b)")
# "billed 4 units for 50 min", "can I bill 4 units for 40 minutes", "is 3 units ok for 35 min": the count
# stands right after a billing verb, or before "ok"; "billed in 15 minute units ... after 8 units" is no claim.
_CLAIM = re.compile(
    r"\b(?:bill|billed|billing|charge|charged|submit|submitted|claim|claimed|code|coded|put\s+down|put)\s+"
    r"(?:for\s+|them\s+|it\s+|as\s+){0,2}(?P<n>\d{1,2})\s*units?\b"
    r"|\b(?P<n2>\d{1,2})\s*units?\s+(?:(?:is|are)\s+)?(?:ok|okay|fine|right|correct|allowed|legit)\b",
    re.IGNORECASE,
)
_REVERSE = re.compile(r"(?P<n>\d{1,3})\s*units?\b", re.IGNORECASE)
_REVERSE_ASK = re.compile(
    r"\bhow\s+(?:many\s+min|much\s+time|long)|\bmin(?:ute)?s?\s+(?:for|in|per|needed|do\s+i\s+need|to\s+bill|=)|=\s*\?",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(r"\s*(?:[,;+&\n/]|\band\b|\bplus\b|\bthen\b|\balso\b|\s-\s)\s*", re.IGNORECASE)
# A question: a "?", a question word first, a question word after some context with no question mark
# ("first client tomorrow!! what code do i bill", "10 min of moist heat, is that billable separately",
# "new grad - should I get an NPI"), or "is that right". Three parts, so each runs only where it can match
# (most notes have no punctuation and no "is"); `_QUESTION` is the same test as one pattern (tests/test_parse.py
# checks that the two agree).
_QUESTION_FIRST = (
    r"^\s*(?:what|whats|what's|can|could|do|does|did(?!\s+(?:\d|an?\s+hour|half))|is|are|was|should|shall|why|when|"
    r"where|who|which|how|will|would|may|any|anyone|is there|tell me|explain)\b"
)
_QUESTION_AFTER_WORDS = (
    r"\s*(?:what|whats|what's|which|why|how|"
    r"(?:is|are|was) (?:that|it|this|there|they|those)|(?:can|could|should|do|does|would) (?:i|we|you|they|it|that|this))\b"
)
_QUESTION_AFTER = r"(?:[,.;:!]|\s[-\u2013\u2014])" + _QUESTION_AFTER_WORDS
_QUESTION_IS_TAIL = r" (?:that|it|this) (?:true|right|correct|a thing|legit|allowed|billable|ok|okay)\b"
_QUESTION_IS = r"\b(?:is|isn't)" + _QUESTION_IS_TAIL
_QUESTION = re.compile(rf"\?|{_QUESTION_FIRST}|{_QUESTION_AFTER}|{_QUESTION_IS}", re.IGNORECASE)
# The parts on lower-cased text: same matches, no IGNORECASE cost. Each starts with a character (or a
# set of them) rather than a look-around, so the regex engine skips ahead to where that character is
# instead of trying every position of a long note: `_QUESTION_AFTER` as its two openings, and the
# `\b` of `_QUESTION_IS` checked just after its "i" (a look-behind over the "i" and the character before).
_QUESTION_FIRST_LOWER = re.compile(_QUESTION_FIRST)
_QUESTION_AFTER_MARK_LOWER = re.compile(r"[,.;:!]" + _QUESTION_AFTER_WORDS)
_QUESTION_AFTER_DASH_LOWER = re.compile(r"\s[-\u2013\u2014]" + _QUESTION_AFTER_WORDS)
_QUESTION_IS_LOWER = re.compile(r"i(?<!\wi)s(?:n't)?" + _QUESTION_IS_TAIL)
_SLACK_USER = re.compile(r"<[@#!][^>]*>")
_SLACK_LINK = re.compile(r"<(?:https?|mailto):[^|>]*\|([^>]*)>|<(?:https?|mailto):[^>]*>")
# ":smile:", not the ":30-1:" of "12:30-1:15". The colon comes first and the look-behind after it (no digit
# before that colon), so the engine jumps from colon to colon.
_EMOJI = re.compile(r":(?<!\d:)[a-z0-9_+\-]+:(?!\d)")


class Segment(NamedTuple):
    """A code named in the message with the minutes given for it (None when none were)."""

    code: str
    minutes: int | None
    said: str  # how the user named it ("97140" or "manual therapy")


class Problem(NamedTuple):
    # negative | too_long | fraction | unknown_code | outside_code | retired_code | almost_code |
    # ask_code (a technique word: which code?) | unsure_time | rule_conflict
    kind: str
    detail: str


class Visit(NamedTuple):
    """One visit of a message that names several (its label as typed, and what it holds)."""

    label: str
    segments: tuple[Segment, ...]
    loose_minutes: tuple[int, ...] = ()


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
    claimed_units: int | None = None  # "billed 4 units for 50 min": the count to check
    notes: tuple[str, ...] = ()  # what the parser read in a way worth saying (clock times)
    technique_warnings: tuple[str, ...] = ()  # a technique word counted as a code, and why
    payer: str | None = None  # a payer named in the message ("BCBS"), profiled or not
    rule_said: tuple[str, ...] = ()  # the rule and payer words as written
    visits: tuple[Visit, ...] = ()  # several visits named: each on its own (segments is all of them)
    durations: int = 0  # how many durations the message gives (several in one visit are added up)

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


class _Scan(NamedTuple):
    """What one visit's text holds (the parser's working result before it becomes a Request)."""

    segments: list[Segment]
    loose: list[int]
    problems: list[Problem]
    unknown: list[str]
    retired: list[str]
    notes: list[str]
    work: str
    durations: int  # how many durations were read (a story's "booked 60, treated 50" gives two)


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
    if "\t" in text:
        text = text.replace("\t", " ")
    while "  " in text:  # runs of spaces to one; each pass halves them (cheaper than a regex over every space)
        text = text.replace("  ", " ")
    return text.strip()

_WORD = re.compile(r"[a-z]+")


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
        # Technique words ("neuromuscular therapy", "stretching") sit in the same alternation as the
        # aliases, so the longer one wins there too ("neuromuscular re-education" is still 97112).
        self._names = {**{w: ("code", c) for w, c in codes.aliases.items()},
                       **{w: ("technique", t.id) for w, t in codes.technique_words.items()}}
        alias_alt = trie_pattern(self._names)
        # Lower-cased text; where a word starts is checked by `_whole_words` (see `_rule` below).
        self._alias = re.compile(rf"(?:{alias_alt})(?![\w-])") if alias_alt else None
        self._rule_words = {**{w: ("rule", r) for w, r in rules.words.items()},
                            **{w: ("payer", p.name) for w, p in rules.payers.items()}}
        # Lower-cased text. The word's start is checked by `_whole_words`, not by a look-behind here: a
        # pattern that starts with its words' first letters lets the engine skip to them.
        self._rule = re.compile(rf"(?:{trie_pattern(self._rule_words)})(?![\w-])")

    def parse(self, raw: str) -> Request:
        text = strip_slack_markup(raw or "")
        norm, time_notes = normalize(text)
        problems: list[Problem] = []
        notes: list[str] = []
        for note in time_notes:
            if note.kind == "odd_range":
                problems.append(Problem("unsure_time", note.detail))
            elif note.kind == "clock_range":
                notes.append(f"Read the clock times {note.detail}.")
            else:
                notes.append(f"Read `{note.detail}` as a time of day, not a duration.")

        work = norm
        rule, payer, said, conflict = None, None, [], None
        first = next(_whole_words(self._rule, _lower(work)), None)
        if first:
            rule, payer, said, conflict, spans = self._rules_named(work, first.start())
            work = _blank(work, spans)
            if conflict:
                problems.append(Problem("rule_conflict", conflict))

        pieces = split_visits(work) if len(work) > 12 else None
        visits: list[Visit] = []
        scans = None
        if pieces:
            scans = [(piece.label, self._scan(piece.text)) for piece in pieces]
            scans = [(label, sc) for label, sc in scans if sc.segments or sc.loose or sc.problems]
            if len(scans) < 2:
                scans = None
            else:
                visits = [Visit(label, tuple(sc.segments), tuple(sc.loose)) for label, sc in scans]
        if scans is None:  # the usual case: one visit
            sc = self._scan(work)
            segments, loose, unknown, retired = sc.segments, sc.loose, sc.unknown, sc.retired
            problems += sc.problems
            notes += sc.notes
            rest, durations = sc.work, sc.durations
        else:
            segments = [seg for _, sc in scans for seg in sc.segments]
            loose = [m for _, sc in scans for m in sc.loose]
            unknown = [c for _, sc in scans for c in sc.unknown]
            retired = [c for _, sc in scans for c in sc.retired]
            for _, sc in scans:
                problems.extend(sc.problems)
                notes.extend(sc.notes)
            rest = " ".join(sc.work for _, sc in scans)
            durations = sum(sc.durations for _, sc in scans)

        reverse = claimed = None
        if "unit" in rest.lower():
            rm = _REVERSE.search(rest)
            if rm and not durations and _REVERSE_ASK.search(rest):
                reverse = int(rm.group("n"))
                rest = _blank(rest, [rm.span()])
            elif rm and durations:
                cm = _CLAIM.search(text)
                if cm:
                    claimed = int(cm.group("n") or cm.group("n2"))
                    rest = _blank(rest, [rm.span()])
        for code in retired:
            problems.append(Problem("retired_code", code))
        for code in unknown:
            family = self.codes.outside_name(code)
            problems.append(Problem("outside_code", code) if family else Problem("unknown_code", code))
        return Request(
            text=text,
            segments=tuple(segments),
            loose_minutes=tuple(loose),
            rule=rule,
            reverse_units=reverse,
            unknown_codes=tuple(dict.fromkeys(unknown)),
            retired_codes=tuple(dict.fromkeys(retired)),
            problems=tuple(problems),
            is_question=_is_question(text),
            leftover_words=tuple(_WORD.findall(rest.lower())),
            claimed_units=claimed,
            notes=tuple(dict.fromkeys(n for n in notes if not n.startswith("!"))) if notes else (),
            technique_warnings=tuple(dict.fromkeys(n[1:] for n in notes if n.startswith("!"))) if notes else (),
            payer=payer,
            rule_said=tuple(said),
            visits=tuple(visits),
            durations=durations,
        )

    def _rules_named(self, work: str, start: int = 0):
        """The rule and payer words in the message, resolved to one rule: a payer with a profile wins
        over a method word (Medicare claims follow CMS); two different methods or payers conflict."""
        rules: dict[str, str] = {}  # rule name -> word as written
        payers: dict[str, str] = {}  # payer name -> word as written
        spans = []
        low = _lower(work)
        for m in _whole_words(self._rule, low, start):
            kind, value = self._rule_words[m.group(0)]
            if kind == "payer" and not self.rules.payers[m.group(0)].named_by(low[m.end():m.end() + 24]):
                continue  # "auto denied": no payer named
            (rules if kind == "rule" else payers).setdefault(value, work[m.start():m.end()])
            spans.append(m.span())
        said = [*payers.values(), *rules.values()]
        payer = next(iter(payers), None)
        profiled = [r for r in (self.rules.payers[w.lower()].rule for w in payers.values()) if r]
        rule = conflict = None
        if len(payers) > 1:
            conflict = " or ".join(payers)
        elif profiled:
            rule = profiled[0]
        elif len(rules) > 1:
            conflict = " or ".join(f"{w} ({name})" for name, w in rules.items())
        elif rules:
            rule = next(iter(rules))
        return rule, payer, said, conflict, spans

    def _scan(self, work: str) -> _Scan:
        """Durations, codes, names and technique words of one visit, paired."""
        work = _lower(work)
        problems: list[Problem] = []
        notes: list[str] = []
        tokens: list[tuple[int, int, str, object]] = []  # (start, end, kind, value)

        for m in _DURATION.finditer(work):
            said = m.group("m")
            if said is not None:  # the common case: "40 min"
                if len(said) == 5 and _CODE_ONLY.fullmatch(said):
                    continue  # "97010 minutes": a code followed by the word, not 97,010 minutes
                minutes = int(said) if said.isdigit() else _number(said)
            else:
                minutes = _duration_minutes(m)
            if m.group("neg"):
                problems.append(Problem("negative", m.group(0).strip()))
                minutes = 0
            if said is None and m.group("hm_h") is not None and int(m.group("hm_h")) >= 4 and not m.group("hm_unit"):
                problems.append(Problem("unsure_time", m.group(0).strip()))  # "10:30": a clock time, or 10 1/2 hours?
            if minutes != int(minutes):
                problems.append(Problem("fraction", f"{m.group(0).strip()} = {minutes:g} min"))
            if minutes > MAX_MINUTES:
                problems.append(Problem("too_long", m.group(0).strip()))
            start, end = m.span()
            tokens.append((start, end, "dur", int(minutes)))
        has_duration = bool(tokens)
        work = _blank(work, [(s, e) for s, e, _, _ in tokens])

        unknown: list[str] = []
        retired: list[str] = []
        code_spans: list[tuple[int, int]] = []
        bare: list[tuple[int, int, int]] = []  # "97110 33": a bare number after a code
        for m in _CODE.finditer(work):
            code = m.group("code").upper()
            code_spans.append((m.start(), m.end()))
            after = _CODE_MINUTES.match(work, m.end())
            if after:  # "97110: 33" -> 33 minutes
                tokens.append((after.start(1), after.end(), "dur", int(after.group(1))))
                code_spans.append((after.start(), after.end()))
                has_duration = True
            elif not has_duration:
                number = _BARE_MINUTES.match(work, m.end())
                if number:
                    bare.append((number.start(1), number.end(1), int(number.group(1))))
            if code in self.codes.codes:
                tokens.append((m.start(), m.end(), "code", (code, m.group(0))))
            elif code in self.codes.retired:
                retired.append(code)
            else:
                unknown.append(code)
                tokens.append((m.start(), m.end(), "unknown", code))
        work = _blank(work, code_spans)
        if "97" in work:  # cheap guard: most messages' codes are blanked out by now
            for m in _ALMOST_CODE.finditer(work):
                problems.append(Problem("almost_code", m.group(0)))
                work = _blank(work, [(m.start(), m.end())])

        if self._alias:
            spans = []
            for m in _whole_words(self._alias, work):
                kind, value = self._names[m.group(0).lower()]
                if kind == "code":
                    tokens.append((m.start(), m.end(), "code", (value, m.group(0))))
                else:
                    technique = self.codes.techniques[value]
                    if technique.code:
                        tokens.append((m.start(), m.end(), "code", (technique.code, m.group(0))))
                        notes.append("!" + technique.note)
                    else:
                        tokens.append((m.start(), m.end(), "code", ("?" + value, m.group(0))))
                spans.append((m.start(), m.end()))
            work = _blank(work, spans)

        # A bare number after each code ("97110 33 97140 7") is its minutes, when every code has one
        # and the message gives no other duration.
        if bare and len(bare) == sum(1 for t in tokens if t[2] in ("code", "unknown")):
            tokens += [(s, e, "dur", n) for s, e, n in bare]
            work = _blank(work, [(s, e) for s, e, _ in bare])
            has_duration = True

        for m in _FIVE_DIGITS.finditer(work) if _HAS_FIVE_DIGITS.search(work) else ():
            unknown.append(m.group(0))  # "40 min 12345": a number where a code stands
            tokens.append((m.start(), m.end(), "unknown", m.group(0)))
            work = _blank(work, [m.span()])

        tokens.sort()
        segments, loose = _pair(work, tokens)
        kept = []
        for seg in segments:
            if seg.code.startswith("?"):
                # A technique word that names no code: ask, unless it has no minutes of its own next to
                # real codes ("I'm an MT, 30 min 97124" names the therapist, not the service).
                # Without minutes it is a question about the technique ("what is NMT?"): left to the FAQ.
                if seg.minutes is not None:
                    problems.append(Problem("ask_code", seg.code[1:]))
                continue
            if seg.code.startswith("!"):
                continue  # an unknown code's minutes stay with it (the answer is an error naming it)
            kept.append(seg)
        durations = sum(1 for t in tokens if t[2] == "dur")
        return _Scan(kept, loose, problems, unknown, retired, notes, work, durations)


def _lower(text: str) -> str:
    """`text` lower-cased, each character staying at its position (a few Unicode letters lower-case to
    two characters: those are kept as they are)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c if len(c.lower()) != 1 else c.lower() for c in text)


def _whole_words(pattern: re.Pattern, low: str, pos: int = 0):
    """The matches of `pattern` in `low` from `pos` that start a word (no letter, digit, "_" or "-" just
    before), as `finditer` would give them with that test as a look-behind in front of the pattern: a
    match inside a word is skipped and the search goes on from its next character."""
    while (m := pattern.search(low, pos)) is not None:
        start = m.start()
        before = low[start - 1] if start else " "
        if before.isalnum() or before in "_-" or not (low[start].isalnum() or low[start] == "_"):
            pos = start + 1
            continue
        yield m
        pos = max(m.end(), start + 1)


def _is_question(text: str) -> bool:
    """`_QUESTION.search(text)`, with each part tried only when the text holds what it needs."""
    if "?" in text:
        return True
    low = _lower(text)
    if _QUESTION_FIRST_LOWER.match(low):
        return True
    if ("," in low or "." in low or ";" in low or ":" in low or "!" in low) and _QUESTION_AFTER_MARK_LOWER.search(low):
        return True
    if ("-" in low or "\u2013" in low or "\u2014" in low) and _QUESTION_AFTER_DASH_LOWER.search(low):
        return True
    return "is" in low and bool(_QUESTION_IS_LOWER.search(low))


def _blank(text: str, spans: list[tuple[int, int]]) -> str:
    """Replace the spans (of matches in `text`) with spaces, keeping every other character at its position.
    One join for all of them: a long note has hundreds."""
    if not spans:
        return text
    if len(spans) == 1:
        s, e = spans[0]
        return text[:s] + " " * (e - s) + text[e:]
    parts = []
    pos = 0
    for s, e in sorted(spans):
        if e <= pos:
            continue  # inside a span already blanked
        s = max(s, pos)
        parts += (text[pos:s], " " * (e - s))
        pos = e
    parts.append(text[pos:])
    return "".join(parts)


_BREAKS: dict[str, bool] = {}  # gap between two tokens -> whether it ends a clause (the short, common gaps)


def _breaks_clause(gap: str) -> bool:
    """Whether the text between two tokens ends a clause. Nearly every gap is " ", " and ", ", " or " + ",
    so short gaps are remembered."""
    known = _BREAKS.get(gap)
    if known is None:
        known = _CLAUSE_BREAK.search(gap) is not None
        if len(gap) <= 16 and len(_BREAKS) < 4096:
            _BREAKS[gap] = known
    return known


def _pair(text: str, tokens: list[tuple[int, int, str, object]]) -> tuple[list[Segment], list[int]]:
    """Give each duration to a code: within a clause, to the code on the side the clause starts with."""
    clauses: list[tuple[list[tuple[str, object]], bool]] = []  # (tokens, whether one names a code)
    items: list[tuple[str, object]] = []
    names_code = False
    pos = 0
    for start, end, kind, value in tokens:
        if items and _breaks_clause(text[pos:start]):
            clauses.append((items, names_code))
            items, names_code = [], False
        items.append((kind, value))
        names_code = names_code or kind != "dur"
        pos = end
    clauses.append((items, names_code))

    segments: list[Segment] = []
    loose: list[int] = []
    for items, names_code in clauses:
        if not names_code:
            if segments:
                # "97124 30 min + 10 min": a clause of minutes only continues the code before it
                last = segments[-1]
                segments[-1] = Segment(last.code, (last.minutes or 0) + sum(v for _, v in items), last.said)
            else:
                loose.extend(v for _, v in items)
            continue
        durations_first = items[0][0] == "dur"
        pending: int | None = None  # minutes waiting for the next code
        current: list[list] = []  # [code, minutes, said] of this clause, made Segments at the end
        for kind, value in items:
            if kind == "dur":
                if durations_first or not current:
                    pending = (pending or 0) + value
                else:
                    current[-1][1] = (current[-1][1] or 0) + value
            else:
                code, said = value if kind == "code" else ("!" + value, value)
                current.append([code, pending, said])
                pending = None
        if pending is not None:  # trailing durations after the last code of a durations-first clause
            current[-1][1] = (current[-1][1] or 0) + pending
        segments += [Segment(code, minutes, said) for code, minutes, said in current]
    if loose and len(segments) == 1 and segments[0].minutes is None and not segments[0].code.startswith("!"):
        # "40 min, 97140"
        segments = [Segment(segments[0].code, sum(loose), segments[0].said)]
        loose = []
    return segments, loose
