"""The full pydantic schema of knowledge/codes.yaml and knowledge/rules.yaml.

Run by `billing-bot kb check` and the test suite, not at start-up (see bot/codes.py for why).
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

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
