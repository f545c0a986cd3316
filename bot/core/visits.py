"""Where one message holds several visits: "Pt 1: ... Pt 2: ...", "monday ...; tuesday ...".

Units are counted per patient per date of service, so two patients or two days must never be
pooled. `split` finds the labels that name a patient (Pt 1, patient B, 2nd client, visit 2) or
a day (monday, 11/3, yesterday, today) and cuts the text into pieces, one per (day, patient).
Pieces with the same day and patient are one visit ("pt A am ... pt A pm ..."): the rules
count per day. A message with fewer than two distinct visits is not split at all.

Labels are usually written before their visit; when the first label comes after some notes
("30 min 97124 for pt A, 20 min 97140 for pt B") they are read as following their visit.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_ORDINALS = {"1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4, "fourth": 4,
             "5th": 5, "fifth": 5, "6th": 6, "sixth": 6, "7th": 7, "seventh": 7, "8th": 8, "eighth": 8}
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_ABBR = {"mon": "monday", "tue": "tuesday", "tues": "tuesday", "wed": "wednesday", "thu": "thursday",
         "thur": "thursday", "thurs": "thursday", "fri": "friday", "sat": "saturday", "sun": "sunday"}

_LABEL = re.compile(
    r"(?<![\w/])(?=[pcvsamtwfye\d])(?:"
    r"(?P<who>pt|patient|client|pat)\b\.?\s*#?\s*(?P<id>\d{1,3}(?!\d)|[a-z](?![\w']))"
    r"|(?P<ord>" + "|".join(_ORDINALS) + r")\s+(?:pt|patient|client|visit)\b"
    r"|(?P<visit>visit|session|appt|appointment)\s*#\s*(?P<vid>\d{1,2})\b|(?P<visit2>visit)\s+(?P<vid2>\d{1,2})\b"
    r"|(?P<day>" + "|".join(_DAYS) + r")\b"
    r"|(?P<abbr>" + "|".join(sorted(_ABBR, key=len, reverse=True)) + r")\.?(?=\s*[:\-]|\s+\d{1,2}/\d)"
    r"|(?P<rel>yesterday|today|tomorrow)\b"
    r"|(?P<date>(?:1[0-2]|0?[1-9])/(?:3[01]|[12]\d|0?[1-9])(?:/(?:\d{4}|\d{2}))?)(?![\d/]|\s*(?:hours?|hrs?|h)\b)"
    r")\s*[:\-.)]?",
)  # case-sensitive, run on the lower-cased text (several times faster than IGNORECASE)
# Cheap guard: most messages name no visit at all (substring tests on the lower-cased text).
_TRIGGERS = ("pt", "pat", "client", "visit", "session", "app", "day", "mon", "tue", "wed", "thu", "fri", "sat",
             "sun", "yesterday", "tomorrow", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
             "eighth", "1st", "2nd", "3rd", "th ", "/")
_TRIGGER = re.compile("|".join(map(re.escape, _TRIGGERS)))  # one search instead of a substring test each
_CLAUSE_START = re.compile(r"(?:^|[,;.:(/|\n\u2013\u2014]|\s-|\b(?:and|then|on|for|of))\s*$", re.IGNORECASE)
_CONTENT = re.compile(r"\d|hour|half|minute", re.IGNORECASE)  # a piece without minutes or codes is not a visit
_LETTER_ID_OK = re.compile(r"\s*[:\-,)]|\s+\d")  # "patient a: 20 min" names patient A; "pt a bit sore" doesn't
_IS_DURATION = re.compile(r"\s*(?:minutes?|mins?|m|hours?|hrs?|h)\b", re.IGNORECASE)  # "client 45 min" is a duration


class Label(NamedTuple):
    start: int
    end: int
    kind: str  # "who" (patient, client, numbered visit) or "day"
    key: str  # normalised: "3", "B", "monday", "11/3"
    shown: str  # as typed, without the trailing colon


class Piece(NamedTuple):
    """One visit's text (its spans joined by newlines) and its label as the user wrote it."""

    label: str
    text: str


def find_labels(text: str) -> list[Label]:
    lower = text.lower()
    if not _TRIGGER.search(lower):
        return []
    if len(lower) != len(text):  # a few Unicode letters lower-case to two characters: keep positions
        lower = "".join(c if len(c.lower()) != 1 else c.lower() for c in text)
    out = []
    for m in _LABEL.finditer(lower):
        shown = text[m.start():m.end()].rstrip(" :-.)")
        if m.group("who"):
            ident = text[m.start("id"):m.end("id")]
            after = m.end("id")  # matched in place: slicing off the rest would copy a long note once per label
            if ident.isdigit() and _IS_DURATION.match(text, after):
                continue
            if ident.islower() and not _LETTER_ID_OK.match(text, after):
                continue
            kind, key = "who", ident.upper()
        elif m.group("ord"):
            kind, key = "who", str(_ORDINALS[m.group("ord")])
        elif m.group("visit") or m.group("visit2"):
            kind, key = "who", "visit " + (m.group("vid") or m.group("vid2"))
        elif m.group("day"):
            kind, key = "day", m.group("day")
        elif m.group("abbr"):
            kind, key = "day", _ABBR[m.group("abbr")]
        elif m.group("rel"):
            kind, key = "day", m.group("rel")
        else:
            kind, key = "day", "/".join(str(int(p)) for p in m.group("date").split("/")[:2])
        if kind == "day" and not _CLAUSE_START.search(text, max(0, m.start() - 12), m.start()):
            continue  # "no complaints today" mentions a day; "yesterday 30 min ..., today 40 min" names visits
        out.append(Label(m.start(), m.end(), kind, key, shown))
    return out


def split(text: str) -> list[Piece] | None:
    """The visits in `text`, in the order written; None when it names fewer than two."""
    labels = find_labels(text)
    if not labels:
        return None
    # searched in place (pos, endpos): _CONTENT has no look-arounds, so this is the search of the slice
    prefix_content = _CONTENT.search(text, 0, labels[0].start) is not None
    if len(labels) < 2 and not (labels[0].start > 0 and prefix_content):
        return None
    suffix_mode = prefix_content and not _CONTENT.search(text, labels[-1].end)
    spans: list[tuple[int, int, Label | None]] = []  # text span and the label that names it
    if suffix_mode:
        start = 0
        for label in labels:
            spans.append((start, label.start, label))
            start = label.end
    else:
        if prefix_content:
            spans.append((0, labels[0].start, None))
        for i, label in enumerate(labels):
            end = labels[i + 1].start if i + 1 < len(labels) else len(text)
            spans.append((label.end, end, label))

    visits: dict[tuple[str | None, str | None], list] = {}  # (day, who) -> [shown parts, texts]
    day: Label | None = None
    who: Label | None = None
    for start, end, label in spans:
        if label is not None:
            if label.kind == "day":
                day = label
            else:
                who = label
        if not _CONTENT.search(text, start, end):
            continue
        key = (day.key if day else None, who.key if who else None)
        entry = visits.get(key)
        if entry is None:
            entry = visits[key] = [", ".join([x.shown for x in (day, who) if x is not None]), []]
        entry[1].append(text[start:end])
    if len(visits) < 2:
        return None
    return [Piece(shown or f"Visit {i + 1}", "\n".join(parts)) for i, (shown, parts) in enumerate(visits.values())]
