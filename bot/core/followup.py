"""Follow-ups: a message that only changes the last units question of a conversation.

"what about ama?", "and if it's cigna?", "what if it was 45 min?", "and 10 min of hot pack?",
"without the 97112". `read` says whether a parsed message is shaped like one and what it
changes; the answerer applies that to the previous question's state (a small dict kept per
conversation by the adapters: bot.storage.conversations) and works the units out again.

Only conversations have follow-ups (a DM, a thread the bot answered in, the terminal chat);
batch lines and slash commands are always answered on their own.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from bot.core.parse import Request, Segment

_CUE = re.compile(
    r"^\s*(?:(?:and|but|ok|okay|so|now|then|hmm|also)[\s,]+)?(?P<cue>what\s+about|how\s+about|what\s+if|"
    r"and\s+if|if\s+(?:it|that)\s*(?:was|were|is|'s)|instead|make\s+it|change\s+(?:it|that)\s+to|actually|"
    r"without|w/o|drop|remove|minus|take\s+out|leave\s+out|except|no|and|plus|add|with|under|using|for|same)\b",
    re.IGNORECASE,
)
_REMOVE = {"without", "w/o", "drop", "remove", "minus", "take out", "leave out", "except", "no"}
_CHANGE = {"what if", "and if", "instead", "make it", "actually", "if it was", "if it were", "if it is", "if it's",
           "if that was", "if that were", "if that is", "if that's", "change it to", "change that to"}
_ADD = {"and", "plus", "add", "with", "what about", "how about", "same"}
_SHORT = 4  # words: "ama?", "cigna then" are follow-ups without a cue word
# The only other words a follow-up has; "does aetna cover it?" or "what if I treat 45 min without a
# referral?" are questions of their own.
_FILLER = frozenset(
    ["what", "about", "how", "if", "and", "but", "ok", "okay", "so", "now", "then", "also", "plus", "add", "with", "without", "w", "o", "drop", "remove", "minus", "take", "leave", "out", "except", "no", "under", "using", "for", "same", "instead", "make", "it", "its", "s", "that", "was", "were", "is", "be", "change", "to", "actually", "of", "a", "an", "the", "min", "mins", "minute", "minutes", "more", "rule", "hmm", "please", "pls"]
)


class FollowUp(NamedTuple):
    """What a follow-up changes in the previous question."""

    rule: bool = False  # names a rule or payer: work the same visit out under it
    minutes: int | None = None  # "what if it was 45 min": the one timed code's new minutes
    set: tuple[Segment, ...] = ()  # "what if 97124 was 45 min": those codes' new minutes
    add: tuple[Segment, ...] = ()  # "and 10 min of hot pack"
    remove: tuple[str, ...] = ()  # "without the 97112"
    standalone: bool = False  # also a complete note on its own: a follow-up only when there is one to follow


def _cue(text: str) -> str:
    m = _CUE.match(text)
    return " ".join(m.group("cue").lower().split()) if m else ""


def read(req: Request) -> FollowUp | None:
    """The follow-up `req` is, or None when it is a question of its own."""
    if req.visits or req.reverse_units is not None or req.claimed_units is not None or req.problems:
        return None
    if not _FILLER.issuperset(req.leftover_words):
        return None
    cue = _cue(req.text)
    names_rule = bool(req.rule or req.payer)
    if cue in _REMOVE:
        if req.segments and not req.has_minutes:
            return FollowUp(rule=names_rule, remove=tuple(dict.fromkeys(s.code for s in req.segments)))
        return None
    if not req.segments:
        if req.loose_minutes and (cue in _CHANGE or cue in ("what about", "how about")):
            return FollowUp(rule=names_rule, minutes=sum(req.loose_minutes))
        if names_rule and not req.loose_minutes and (cue or len(req.text.split()) <= _SHORT):
            return FollowUp(rule=True)
        return None
    if cue in _CHANGE and all(s.minutes is not None for s in req.segments):
        return FollowUp(rule=names_rule, set=req.segments)
    if cue in _ADD:
        return FollowUp(rule=names_rule, add=req.segments, standalone=True)
    return None
