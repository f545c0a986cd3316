"""The one answer model every surface renders (terminal, JSON, Block Kit).

Everything here is plain frozen data: the core builds an `Answer`, the adapters only
render it. The JSON shape is the contract in DESIGN.md (`Answer.to_dict`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, NamedTuple

Kind = Literal["units", "faq", "help", "no_match", "error"]


class UnitLine(NamedTuple):
    """One billed code on one date of service."""

    code: str
    minutes: int | None  # None for untimed codes given without minutes
    units: int
    timed: bool
    name: str = ""  # short plain-language name, e.g. "Massage"
    visit: int | None = None  # which visit (0-based) when the message names several

    def to_dict(self) -> dict:
        out = {"code": self.code, "minutes": self.minutes, "units": self.units, "timed": self.timed}
        if self.visit is not None:
            out["visit"] = self.visit
        return out


@dataclass(frozen=True)
class Visit:
    """One visit of a message that names several: worked out on its own (never pooled)."""

    label: str  # as the user wrote it (raw: escape before echoing)
    total_minutes: int
    total_units: int
    lines: tuple[UnitLine, ...]
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"label": self.label, "total_minutes": self.total_minutes, "total_units": self.total_units,
                "lines": [line.to_dict() for line in self.lines], "warnings": list(self.warnings)}


@dataclass(frozen=True)
class Source:
    title: str
    url: str
    kind: str = "secondary"  # primary: the rule's own author (CMS, a statute, the AMA...); secondary: an explainer
    date: str = "undated"  # the source's own date or revision: YYYY, YYYY-MM, YYYY-MM-DD

    @property
    def label(self) -> str:
        """What the reader needs to weigh it: "primary, 2024-07" / "secondary, undated"."""
        return f"{self.kind}, {self.date}"

    def __str__(self) -> str:
        return f"{self.title} [{self.label}] ({self.url})" if self.url else f"{self.title} [{self.label}]"


@dataclass(frozen=True)
class Suggestion:
    id: str
    question: str

    def to_dict(self) -> dict:
        return {"id": self.id, "question": self.question}


@dataclass(frozen=True)
class Answer:
    """What the bot says to one message.

    `text` is Slack mrkdwn with any echoed user text already escaped; `context` is the
    small print (rule used, source, "rules vary by payer and state") kept apart so Block
    Kit can show it as a context line and the terminal as a footer.
    """

    kind: Kind
    text: str
    context: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    # kind == "units"
    rule: str | None = None
    total_minutes: int | None = None
    total_units: int | None = None
    lines: tuple[UnitLine, ...] = ()
    visits: tuple[Visit, ...] = ()  # several visits named in one message (DESIGN.md `visits`)
    # kind == "faq"
    id: str | None = None
    score: float | None = None
    sources: tuple[Source, ...] = ()
    # kind == "no_match" (and optionally "faq")
    suggestions: tuple[Suggestion, ...] = ()
    # what the question was, after Slack markup was stripped (for the query log)
    query: str = field(default="", compare=False)
    # the parsed units question, for a follow-up in the same conversation (bot.core.followup)
    state: dict | None = field(default=None, compare=False)

    def to_dict(self) -> dict:
        """The JSON object of the contract (only the keys that belong to this kind)."""
        out: dict = {"kind": self.kind, "text": self.text}
        if self.kind == "units":
            out |= {
                "rule": self.rule,
                "total_minutes": self.total_minutes,
                "total_units": self.total_units,
                "lines": [line.to_dict() for line in self.lines],
                "warnings": list(self.warnings),
            }
            if self.visits:
                out["visits"] = [v.to_dict() for v in self.visits]
        elif self.warnings:
            out["warnings"] = list(self.warnings)
        if self.kind == "faq":
            out |= {"id": self.id, "score": self.score, "sources": [str(s) for s in self.sources]}
        if self.suggestions or self.kind == "no_match":
            out["suggestions"] = [s.to_dict() for s in self.suggestions]
        if self.context:
            out["context"] = list(self.context)
        return out
