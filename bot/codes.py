"""The code table and the rule book, loaded from knowledge/codes.yaml and knowledge/rules.yaml.

Domain data stays in YAML the team reviews; this module only validates it (pydantic) and
offers look-ups the parser and the answer builder need.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from bot.errors import KnowledgeError
from bot.model import Source

KNOWLEDGE_DIR = Path(__file__).resolve().parent.parent / "knowledge"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CODE_PATTERN = r"(?:9\d{4}|[A-Z]\d{4})"  # CPT physical-medicine range and HCPCS level II (G0283)


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SourceRef(_Model):
    title: str
    url: str

    def to_source(self) -> Source:
        return Source(self.title, self.url)


class Code(_Model):
    code: str = Field(pattern=rf"^{CODE_PATTERN}$")
    name: str
    summary: str
    timed: bool
    aliases: tuple[str, ...] = ()
    warning: str | None = None


class RetiredCode(_Model):
    code: str = Field(pattern=rf"^{CODE_PATTERN}$")
    replacements: tuple[str, ...]
    note: str


class Conflict(_Model):
    codes: tuple[str, str]
    note: str


class Rule(_Model):
    """A unit rule or payer profile: how minutes become 15-minute units."""

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    method: Literal["total", "per_code"]
    threshold: int = Field(default=8, ge=1, le=15)
    cap: int | None = Field(default=None, ge=1)
    note: str | None = None
    aliases: tuple[str, ...] = ()
    source: SourceRef | None = None


class _CodesFile(_Model):
    codes: tuple[Code, ...]
    retired: tuple[RetiredCode, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    sources: tuple[SourceRef, ...] = ()


class _RulesFile(_Model):
    default: str
    rules: tuple[Rule, ...]

    @field_validator("rules")
    @classmethod
    def _unique(cls, rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        names = [r.name for r in rules]
        if len(names) != len(set(names)):
            raise ValueError("rule names must be unique")
        return rules


class CodeTable:
    """Every code the bot knows, the retired ones, and pairs payers refuse together."""

    def __init__(self, data: _CodesFile):
        self.codes: dict[str, Code] = {c.code: c for c in data.codes}
        self.retired: dict[str, RetiredCode] = {r.code: r for r in data.retired}
        self.conflicts = data.conflicts
        self.sources = data.sources
        self.aliases: dict[str, str] = {}
        for c in data.codes:
            for alias in c.aliases:
                key = alias.lower()
                if key in self.aliases and self.aliases[key] != c.code:
                    raise KnowledgeError(f"alias {alias!r} names both {self.aliases[key]} and {c.code}")
                self.aliases[key] = c.code
        for r in data.retired:
            for rep in r.replacements:
                if rep not in self.codes:
                    raise KnowledgeError(f"retired code {r.code} points at unknown code {rep}")

    def get(self, code: str) -> Code | None:
        return self.codes.get(code)

    @cached_property
    def known(self) -> frozenset[str]:
        """Current and retired codes: anything a knowledge-base entry may be about."""
        return frozenset(self.codes) | frozenset(self.retired)

    def conflicts_among(self, codes: set[str]) -> list[Conflict]:
        return [c for c in self.conflicts if set(c.codes) <= codes]


class RuleBook:
    """The named unit rules (cms, ama) and payer profiles, with the words that pick them."""

    def __init__(self, data: _RulesFile):
        self.rules: dict[str, Rule] = {r.name: r for r in data.rules}
        if data.default not in self.rules:
            raise KnowledgeError(f"default rule {data.default!r} is not defined")
        self.default = data.default
        self.words: dict[str, str] = {}
        for r in data.rules:
            for word in (r.name, *r.aliases):
                self.words[word.lower()] = r.name

    def get(self, name: str) -> Rule | None:
        return self.rules.get(name.strip().lower()) or self.rules.get(self.words.get(name.strip().lower(), ""))

    def names(self) -> list[str]:
        return list(self.rules)


def _read(path: Path, model: type[BaseModel]):
    try:
        with path.open(encoding="utf-8") as fh:
            raw = yaml.load(fh, Loader=_Loader)
        return model.model_validate(raw)
    except OSError as exc:
        raise KnowledgeError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML: {exc}") from exc
    except ValidationError as exc:
        raise KnowledgeError(f"{path}: {exc}") from exc


def load_code_table(path: Path = KNOWLEDGE_DIR / "codes.yaml") -> CodeTable:
    return CodeTable(_read(path, _CodesFile))


def load_rule_book(path: Path = KNOWLEDGE_DIR / "rules.yaml") -> RuleBook:
    return RuleBook(_read(path, _RulesFile))
