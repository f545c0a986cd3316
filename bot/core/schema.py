"""The pydantic schemas of knowledge/: codes.yaml and rules.yaml, and the FAQ entries.

The tables' schema is run by `billing-bot kb check` and the test suite, not at start-up (see
bot/core/codes.py for why). The FAQ entries' schema validates every entry when the FAQ index is
built (bot.core.kb.load_kb), in `kb check`, and for reviewers' drafts; an index read back from
the cache (bot.core.index_cache) was validated when it was built, so answering a question from
it imports none of this.
"""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from bot.core.codes import CODE_PATTERN, KNOWLEDGE_DIR, read_yaml
from bot.core.errors import KnowledgeError


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Model):
    title: str = Field(min_length=1)
    url: str = Field(pattern=r"^https?://\S+$")


class Code(_Model):
    code: str = Field(pattern=rf"^{CODE_PATTERN}$")
    name: str = Field(min_length=1)
    summary: str = Field(min_length=1)
    timed: bool
    aliases: tuple[str, ...] = ()
    warning: str | None = None


class RetiredCode(_Model):
    code: str = Field(pattern=rf"^{CODE_PATTERN}$")
    replacements: tuple[str, ...] = Field(min_length=1)
    note: str = Field(min_length=1)


class Conflict(_Model):
    codes: tuple[str, str]
    note: str = Field(min_length=1)


class Technique(_Model):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    words: tuple[str, ...] = Field(min_length=1)
    note: str = Field(min_length=1)
    ask: tuple[str, ...] = ()
    code: str | None = None

    @model_validator(mode="after")
    def _ask_or_code(self) -> Technique:
        if bool(self.ask) == bool(self.code):
            raise ValueError(f"technique {self.id!r} needs exactly one of `ask` (choices) or `code`")
        return self


class Outside(_Model):
    range: tuple[str, str]
    name: str = Field(min_length=1)


class CodesFile(_Model):
    codes: tuple[Code, ...] = Field(min_length=1)
    retired: tuple[RetiredCode, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    techniques: tuple[Technique, ...] = ()
    outside: tuple[Outside, ...] = ()
    massage_codes: tuple[str, ...] = ()
    sources: tuple[SourceRef, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> CodesFile:
        known = {c.code for c in self.codes}
        if len(known) != len(self.codes):
            raise ValueError("duplicate code in codes")
        aliases: dict[str, str] = {}
        for c in self.codes:
            for a in c.aliases:
                if aliases.setdefault(a.lower(), c.code) != c.code:
                    raise ValueError(f"alias {a!r} names both {aliases[a.lower()]} and {c.code}")
        for r in self.retired:
            if r.code in known:
                raise ValueError(f"{r.code} is both current and retired")
            missing = [x for x in r.replacements if x not in known]
            if missing:
                raise ValueError(f"retired {r.code} points at unknown code(s) {missing}")
        for pair in self.conflicts:
            missing = [x for x in pair.codes if x not in known]
            if missing:
                raise ValueError(f"conflict {pair.codes} names unknown code(s) {missing}")
        for t in self.techniques:
            missing = [x for x in (*t.ask, *([t.code] if t.code else [])) if x not in known]
            if missing:
                raise ValueError(f"technique {t.id!r} names unknown code(s) {missing}")
            for w in t.words:
                if w.lower() in aliases:
                    raise ValueError(f"technique word {w!r} is also an alias of {aliases[w.lower()]}")
        for o in self.outside:
            if any(o.range[0] <= c <= o.range[1] for c in known):
                raise ValueError(f"outside range {o.range} holds a code of the table")
        missing = [c for c in self.massage_codes if c not in known]
        if missing:
            raise ValueError(f"massage_codes names unknown code(s) {missing}")
        return self


class Rule(_Model):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1)
    method: Literal["total", "per_code"]
    threshold: int = Field(default=8, ge=1, le=15)
    cap: int | None = Field(default=None, ge=1)
    note: str | None = None
    aliases: tuple[str, ...] = ()
    source: SourceRef | None = None


class Payer(_Model):
    name: str = Field(min_length=1)
    words: tuple[str, ...] = Field(min_length=1)
    rule: str | None = None
    not_before: tuple[Annotated[str, Field(pattern=r"^[a-z]+$")], ...] = ()


class RulesFile(_Model):
    default: str
    rules: tuple[Rule, ...] = Field(min_length=1)
    payers: tuple[Payer, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> RulesFile:
        names = [r.name for r in self.rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        if self.default not in names:
            raise ValueError(f"default rule {self.default!r} is not defined")
        words: dict[str, str] = {}
        for r in self.rules:
            for w in (r.name, *r.aliases):
                if words.setdefault(w.lower(), r.name) != r.name:
                    raise ValueError(f"rule word {w!r} names both {words[w.lower()]} and {r.name}")
        for p in self.payers:
            if p.rule is not None and p.rule not in names:
                raise ValueError(f"payer {p.name!r} names unknown rule {p.rule!r}")
            for w in p.words:
                if w.lower() in words and w.lower() != p.rule:
                    raise ValueError(f"payer word {w!r} is also a rule word")
        return self


def check_tables(directory: Path = KNOWLEDGE_DIR) -> list[str]:
    """Every schema problem in codes.yaml and rules.yaml, as 'file: where: message' lines."""
    problems: list[str] = []
    for name, model in (("codes.yaml", CodesFile), ("rules.yaml", RulesFile)):
        path = directory / name
        try:
            model.model_validate(read_yaml(path))
        except KnowledgeError as exc:
            problems.append(str(exc))
        except ValidationError as exc:
            for err in exc.errors():
                where = ".".join(str(x) for x in err["loc"]) or "(top)"
                problems.append(f"{path}: {where}: {err['msg']}")
    return problems


# --- FAQ entries (knowledge/faq/*.yaml): bot.core.kb turns a valid one into its plain records ---

_KEBAB = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
_Text = Annotated[str, Field(min_length=1)]


class FaqSource(BaseModel):
    """Where an answer comes from: every entry cites at least one (bot.core.kb.SourceRef)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="SourceRef")

    title: _Text
    # No "|", "<" or ">": in Slack's <url|label> link syntax they would end the URL and relabel the
    # link ("https://evil.example/x|Official CMS manual>" would show as a CMS-titled link).
    url: Annotated[str, Field(pattern=r"^https?://[^\s|<>]+$")]
    # primary: the rule's own author (cms.gov manuals, statutes, state agencies, the AMA, NUCC, X12,
    # the payer's own policy); secondary: anyone explaining it (the default: never claim more).
    # Answers show which, and how old.
    kind: Literal["primary", "secondary"] = "secondary"
    # The source's own date or revision (YYYY, YYYY-MM or YYYY-MM-DD), or "undated".
    date: Annotated[str, Field(pattern=r"^(?:\d{4}(?:-\d{2}(?:-\d{2})?)?|undated)$")] = "undated"


class FaqEntry(BaseModel):
    """One curated question with its answer (bot.core.kb.Entry)."""

    model_config = ConfigDict(frozen=True, extra="forbid", title="Entry")

    id: str
    question: _Text
    phrasings: tuple[_Text, ...]
    answer: _Text
    codes: tuple[str, ...]
    tags: tuple[_Text, ...]
    state: str | None
    sources: Annotated[tuple[FaqSource, ...], Field(min_length=1)]
    last_verified: date
    review_by: date
    # Who keeps the entry right: a Slack user ID, reminded when review_by comes.
    owner: Annotated[str, Field(pattern=r"^[UW][A-Z0-9]{2,}$")] | None = None

    @field_validator("id")
    @classmethod
    def _id_is_kebab_case(cls, value: str) -> str:
        if not re.fullmatch(_KEBAB, value):
            raise ValueError(f"id {value!r} must be kebab-case (lowercase words and digits joined by '-')")
        return value

    @field_validator("codes", mode="before")
    @classmethod
    def _codes_are_quoted(cls, value: Any) -> Any:
        # Unquoted 97124 is an int in YAML; 09xxx would silently lose its zero.
        if isinstance(value, (list, tuple)):
            for code in value:
                if not isinstance(code, str):  # pydantic reports ValueError, not TypeError
                    raise ValueError(f'code {code!r} must be a quoted string, e.g. "97124"')
        return value

    @field_validator("state")
    @classmethod
    def _state_is_two_letters(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Z]{2}", value):
            raise ValueError(f"state {value!r} must be two uppercase letters (e.g. FL) or null")
        return value

    @model_validator(mode="after")
    def _review_after_verified(self) -> FaqEntry:
        if self.review_by <= self.last_verified:
            raise ValueError(f"review_by {self.review_by} must be after last_verified {self.last_verified}")
        return self
