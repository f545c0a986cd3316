"""Times as therapists write them, rewritten to plain durations before the parser reads them.

The parser's duration grammar reads "40 min", "1h15", "1:10", "1.5 hours". People also write
clock times ("at 10:30" is when, not how long), clock ranges ("2:00 to 2:45", "2pm-2:45pm"),
words ("an hour and a quarter", "one and a half hours"), fractions ("1 1/2 hours") and sums
("20 + 20 min"). `normalize` rewrites each of those to "N min" (or blanks a time of day), so
the parser has one grammar to read and a clock time never becomes 675 minutes.

Pure and cheap: one guard regex decides whether any of this can apply at all.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_WORD_NUM = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fifteen": 15, "twenty": 20, "twenty-five": 25, "twenty five": 25,
    "thirty": 30, "forty": 40, "forty-five": 45, "forty five": 45, "fifty": 50,
}
_WNUM = r"(?:\d{1,2}|" + "|".join(sorted(map(re.escape, _WORD_NUM), key=len, reverse=True)) + r")"
_HNUM = r"(?:an?|" + _WNUM[3:]  # hours may be "an hour", "a hour"; minutes may not be "a"
_HOURS = r"(?:hours?|hrs?|h)(?![a-z])"
_MINS = r"(?:minutes?|mins?|m)(?![a-z])"
_AMPM = r"(?:[ap]\.?m\.?(?![a-z])|[ap](?=\s*$|\s*[-\u2013]))"
_CLOCK = r"(?:[01]?\d|2[0-3])(?::[0-5]\d)?"

# Anything below can only apply when one of these is in the (lower-cased) text. Substring tests are
# ~20x cheaper than a regex guard on a short note, and most notes have none of them.
_TRIGGERS = (":", "+", "/", "hour", "half", "quarter", "am", "pm", "a.m", "p.m", "@")
_RANGE_WORDS = ("-", "\u2013", "to", "till", "until")
_AT_WORDS = ("am", "pm", "a.m", "p.m", "@", "at", "around", "start", "began", "by")

# "2:00 to 2:45", "2pm-2:45pm", "from 10 to 10:50", "1:30-2:15 pm"
_RANGE = re.compile(
    rf"(?<![\w:.])(?P<from>from\s+)?(?P<a>{_CLOCK})\s*(?P<a_ap>{_AMPM})?\s*(?:-|\u2013|to|till|until)\s*"
    rf"(?P<b>{_CLOCK})\s*(?P<b_ap>{_AMPM})?(?![\w:])",
    re.IGNORECASE,
)
# Guards, on the lower-cased text (IGNORECASE costs several times more over a long note). Each starts
# with a character or a set of them, so the engine skips to where one is: `_MAYBE_AT` is two patterns,
# and its words need no \b (a guard may say yes too often; `_AT` decides).
_MAYBE_SUM = re.compile(r"\d\s*\+\s*\d")
_MAYBE_RANGE = re.compile(r"\d\s*(?:[ap]\.?m\.?)?\s*(?:-|\u2013|to|till|until)\s*\d")
_MAYBE_AT_CLOCK = re.compile(r"\d\s*[ap](?:\.?m\b|\s*[-\u2013]|\s*$)")
_MAYBE_AT_WORD = re.compile(r"(?:at|@|around|start|began|by)\s*\d")
# A time of day: "at 10:30", "@ 3pm", "10:30am", "started 2:15" (blanked: it is not a duration)
_AT = re.compile(
    rf"(?<![\w:])(?:(?:at|@|around|starting|started|start|began|by)\s*(?:[01]?\d|2[0-3]):[0-5]\d\s*(?:{_AMPM})?"
    rf"|(?:at|@|around|by)\s*(?:{_CLOCK})\s*{_AMPM}"
    rf"|(?:{_CLOCK})\s*{_AMPM})(?![\w:])",
    re.IGNORECASE,
)
# "an hour and a quarter", "hour and fifteen minutes", "1 hour and a half", "two hours and 10 min"
_HOUR_AND = re.compile(
    rf"(?<![\w.])(?:(?P<n>{_HNUM})\s+)?hours?\s+and\s+(?:(?P<frac>a\s+(?:quarter|half))|(?P<m>{_WNUM})\s*(?:{_MINS})?)"
    rf"(?![\w:/])",
    re.IGNORECASE,
)
# "one and a half hours", "2 and a half hrs", "an hour and a half" is _HOUR_AND
_AND_A_HALF = re.compile(rf"(?<![\w.])(?P<n>{_HNUM})\s+and\s+a\s+half\s+{_HOURS}", re.IGNORECASE)
# "1 1/2 hours", "1/2 hr", "3/4 hour"
_FRACTION = re.compile(rf"(?<![\w./])(?:(?P<n>\d{{1,2}})\s+)?(?P<a>[1-9])/(?P<b>[1-9])\s*{_HOURS}", re.IGNORECASE)
# "a quarter of an hour", "three quarters of an hour"
_QUARTERS = re.compile(r"(?<![\w.])(?P<n>a|one|three)\s+quarters?\s+(?:of\s+)?an?\s+hour(?![a-z])", re.IGNORECASE)
# "20 + 20 min", "25 + 15 minutes" (bare numbers summed, the unit after the last one)
_SUM = re.compile(rf"(?<![\w:.])(?P<nums>\d{{1,3}}(?:\s*\+\s*\d{{1,3}})+)\s*(?P<unit>{_MINS}|{_HOURS})", re.IGNORECASE)


class TimeNote(NamedTuple):
    """Something `normalize` did that the answer should say (or ask about)."""

    kind: str  # clock_range | time_of_day | odd_range
    detail: str


def _word(s: str) -> int:
    s = s.lower()
    return int(s) if s.isdigit() else 1 if s in ("a", "an") else _WORD_NUM[s]


def _clock_minutes(clock: str, ampm: str | None) -> int:
    h, _, m = clock.partition(":")
    hour, minute = int(h), int(m or 0)
    if ampm:
        pm = ampm.lower().startswith("p")
        hour = hour % 12 + (12 if pm else 0)
    return hour * 60 + minute


def _range_minutes(m: re.Match) -> int | None:
    a, b = m.group("a"), m.group("b")
    a_ap, b_ap = m.group("a_ap"), m.group("b_ap")
    # A range needs something that makes it clock time: a colon or am/pm on a side ("2-3 units" is not one),
    # or "from" before it with a colon on the end.
    clocky = (":" in a and ":" in b) or a_ap or b_ap or (m.group("from") and (":" in a or ":" in b))
    if not clocky:
        return None
    if b_ap and not a_ap:
        a_ap = b_ap  # "2-2:45pm": both afternoon
    start, end = _clock_minutes(a, a_ap), _clock_minutes(b, b_ap)
    if end <= start and not (a_ap and b_ap):
        end += 12 * 60  # "12:30-1:15" crosses noon on a 12-hour clock
    if end <= start:
        end += 24 * 60
    return end - start


def normalize(text: str) -> tuple[str, tuple[TimeNote, ...]]:
    """`text` with clock ranges, time words, fractions and sums rewritten as "N min", and times of
    day blanked; plus notes on what was read that way."""
    lower = text.lower()
    if not any(t in lower for t in _TRIGGERS):
        return text, ()
    notes: list[TimeNote] = []

    def clock_range(m: re.Match) -> str:
        minutes = _range_minutes(m)
        if minutes is None:
            return m.group(0)
        detail = m.group(0).strip()
        if minutes > 12 * 60:
            notes.append(TimeNote("odd_range", detail))
            return " "
        notes.append(TimeNote("clock_range", f"{detail} = {minutes} min"))
        return f" {minutes} min "

    def time_of_day(m: re.Match) -> str:
        notes.append(TimeNote("time_of_day", m.group(0).strip()))
        return " " * len(m.group(0))

    out = text
    if any(w in lower for w in _RANGE_WORDS) and _MAYBE_RANGE.search(lower):
        out = _RANGE.sub(clock_range, text)
    if any(w in lower for w in _AT_WORDS):
        low = lower if out is text else out.lower()
        if _MAYBE_AT_CLOCK.search(low) or _MAYBE_AT_WORD.search(low):
            out = _AT.sub(time_of_day, out)
    if "hour" in lower:
        out = _HOUR_AND.sub(_hour_and, out)
        if "half" in lower:
            out = _AND_A_HALF.sub(lambda m: f"{_word(m.group('n')) * 60 + 30} min", out)
        if "quarter" in lower:
            out = _QUARTERS.sub(lambda m: f"{45 if m.group('n').lower() == 'three' else 15} min", out)
    if "/" in out:
        out = _FRACTION.sub(_fraction, out)
    if "+" in out and _MAYBE_SUM.search(out):
        out = _SUM.sub(_sum, out)
    return out, tuple(notes)


def _hour_and(m: re.Match) -> str:
    hours = _word(m.group("n")) if m.group("n") else 1
    if m.group("frac"):
        extra = 15 if "quarter" in m.group("frac").lower() else 30
    else:
        extra = _word(m.group("m"))
    return f"{hours * 60 + extra} min"


def _fraction(m: re.Match) -> str:
    a, b = int(m.group("a")), int(m.group("b"))
    if a >= b:
        return m.group(0)
    minutes = (int(m.group("n") or 0) + a / b) * 60
    return f"{minutes:g} min"


def _sum(m: re.Match) -> str:
    total = sum(int(n) for n in re.findall(r"\d+", m.group("nums")))
    if m.group("unit").lower().startswith("h"):
        total *= 60
    return f"{total} min"
