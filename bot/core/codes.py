"""The code table and the rule book, loaded from knowledge/codes.yaml and knowledge/rules.yaml.

Domain data stays in YAML the team reviews; this module turns it into plain frozen
records and offers the look-ups the parser and the answer builder need.

Why not pydantic here: importing pydantic and building models costs ~150 ms, which would
double `billing-bot ask` start-up for every unit sum. The full schema (bot/schema.py,
pydantic) runs in `billing-bot kb check` and in the test suite; at run time we only
check the shape we rely on.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import yaml

from bot.core.errors import KnowledgeError
from bot.core.model import Source

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "knowledge"
_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

CODE_PATTERN = r"(?:9\d{4}|[A-Z]\d{4})"  # CPT physical-medicine range and HCPCS level II (G0283)


@dataclass(frozen=True)
class Code:
    code: str
    name: str
    summary: str
    timed: bool
    aliases: tuple[str, ...] = ()
    warning: str | None = None


@dataclass(frozen=True)
class RetiredCode:
    code: str
    replacements: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Conflict:
    codes: tuple[str, ...]
    note: str


@dataclass(frozen=True)
class Technique:
    """A technique word that is not a code: either ask which code (`ask`) or use `code` and say so."""

    id: str
    words: tuple[str, ...]
    note: str
    ask: tuple[str, ...] = ()
    code: str | None = None


@dataclass(frozen=True)
class Outside:
    """A range of real CPT codes the bot doesn't cover (answered no_match, never "mistyped")."""

    range: tuple[str, str]
    name: str


@dataclass(frozen=True)
class Payer:
    """A payer named in a message; `rule` is None when the bot has no profile for it."""

    name: str
    words: tuple[str, ...]
    rule: str | None = None
    # Starts of words that, right after one of `words`, make it mean something else: "auto denied" is
    # no car insurer.
    not_before: tuple[str, ...] = ()

    def named_by(self, following: str) -> bool:
        """Whether one of its words means this payer, given the (lower-case) text right after it."""
        word = following.lstrip(" ").split(" ", 1)[0] if following[:1] == " " else ""
        return not (word and word.startswith(self.not_before))


@dataclass(frozen=True)
class Rule:
    """A unit rule or payer profile: how minutes become 15-minute units."""

    name: str
    title: str
    method: str  # "total" (CMS) or "per_code" (AMA)
    threshold: int = 8
    cap: int | None = None
    note: str | None = None
    aliases: tuple[str, ...] = ()
    source: Source | None = None


def _record(cls, raw, path: Path, where: str):
    """Build a record from a YAML mapping, naming the file and item when the shape is wrong."""
    if not isinstance(raw, dict):
        raise KnowledgeError(f"{path}: {where} must be a mapping (run `billing-bot kb check`)")
    try:
        values = {k: tuple(v) if isinstance(v, list) else v for k, v in raw.items()}
        if isinstance(values.get("source"), dict):
            values["source"] = Source(str(values["source"].get("title", "")), str(values["source"].get("url", "")))
        return cls(**values)
    except TypeError as exc:
        raise KnowledgeError(f"{path}: {where}: {exc} (run `billing-bot kb check`)") from None


class CodeTable:
    """Every code the bot knows, the retired ones, and pairs payers refuse together."""

    def __init__(self, codes: list[Code], retired: list[RetiredCode] = (), conflicts: list[Conflict] = (),
                 techniques: list[Technique] = (), outside: list[Outside] = (), massage_codes: list[str] = ()):
        self.codes: dict[str, Code] = {c.code: c for c in codes}
        self.retired: dict[str, RetiredCode] = {r.code: r for r in retired}
        self.conflicts = tuple(conflicts)
        self._conflicts_by_code: dict[str, list[tuple[frozenset, Conflict]]] = {}
        for c in self.conflicts:  # indexed by its first code: most visits hold none of them
            self._conflicts_by_code.setdefault(c.codes[0], []).append((frozenset(c.codes), c))
        self.techniques: dict[str, Technique] = {t.id: t for t in techniques}
        self.technique_words: dict[str, Technique] = {w.lower(): t for t in techniques for w in t.words}
        self.outside = tuple(outside)
        self.massage_codes = tuple(c for c in massage_codes if c in self.codes)  # offered for an unknown code
        self.aliases: dict[str, str] = {}
        for c in codes:
            for alias in c.aliases:
                key = alias.lower()
                if key in self.aliases and self.aliases[key] != c.code:
                    raise KnowledgeError(f"alias {alias!r} names both {self.aliases[key]} and {c.code}")
                self.aliases[key] = c.code
        for r in retired:
            for rep in r.replacements:
                if rep not in self.codes:
                    raise KnowledgeError(f"retired code {r.code} points at unknown code {rep}")

    def get(self, code: str) -> Code | None:
        return self.codes.get(code)

    @cached_property
    def known(self) -> frozenset[str]:
        """Current and retired codes: anything a knowledge-base entry may be about."""
        return frozenset(self.codes) | frozenset(self.retired)

    def conflicts_among(self, codes: Iterable[str]) -> list[Conflict]:
        """The conflicts between `codes`, in the order the codes come (then codes.yaml's order), so the
        same note always warns in the same order (a set's order changes with the hash seed)."""
        ordered = dict.fromkeys(codes)
        present = ordered.keys()
        return [c for code in ordered for pair, c in self._conflicts_by_code.get(code, ()) if pair <= present]

    def outside_name(self, code: str) -> str | None:
        """The family of a real CPT code we don't cover (e.g. 99213 -> office visits), else None."""
        for o in self.outside:
            if o.range[0] <= code <= o.range[1]:
                return o.name
        return None

    def nearest(self, code: str, n: int = 3) -> list[str]:
        """Current codes one or two edits (a swap, a digit, one more or less) from `code`, nearest first."""
        from rapidfuzz.distance import OSA

        scored = sorted((OSA.distance(code, c), c) for c in self.codes)
        return [c for d, c in scored if d <= (1 if len(code) == 5 else 2)][:n] or [c for d, c in scored if d <= 2][:n]


class RuleBook:
    """The named unit rules (cms, ama) and payer profiles, with the words that pick them."""

    def __init__(self, rules: list[Rule], default: str, payers: list[Payer] = ()):
        self.rules: dict[str, Rule] = {r.name: r for r in rules}
        self.payers: dict[str, Payer] = {w.lower(): p for p in payers for w in p.words}
        if default not in self.rules:
            raise KnowledgeError(f"default rule {default!r} is not defined")
        self.default = default
        self.words: dict[str, str] = {}
        for r in rules:
            for word in (r.name, *r.aliases):
                self.words[word.lower()] = r.name

    def get(self, name: str) -> Rule | None:
        return self.rules.get(name.strip().lower()) or self.rules.get(self.words.get(name.strip().lower(), ""))

    def names(self) -> list[str]:
        return list(self.rules)


def read_yaml(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as fh:
            data = yaml.load(fh, Loader=_Loader)
    except OSError as exc:
        raise KnowledgeError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise KnowledgeError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise KnowledgeError(f"{path}: expected a mapping at the top")
    return data


def load_code_table(path: Path = KNOWLEDGE_DIR / "codes.yaml") -> CodeTable:
    data = read_yaml(path)
    return CodeTable(
        [_record(Code, c, path, f"codes[{i}]") for i, c in enumerate(data.get("codes") or [])],
        [_record(RetiredCode, r, path, f"retired[{i}]") for i, r in enumerate(data.get("retired") or [])],
        [_record(Conflict, c, path, f"conflicts[{i}]") for i, c in enumerate(data.get("conflicts") or [])],
        [_record(Technique, t, path, f"techniques[{i}]") for i, t in enumerate(data.get("techniques") or [])],
        [_record(Outside, o, path, f"outside[{i}]") for i, o in enumerate(data.get("outside") or [])],
        [str(c) for c in data.get("massage_codes") or []],
    )


def load_rule_book(path: Path = KNOWLEDGE_DIR / "rules.yaml") -> RuleBook:
    data = read_yaml(path)
    rules = [_record(Rule, r, path, f"rules[{i}]") for i, r in enumerate(data.get("rules") or [])]
    payers = [_record(Payer, p, path, f"payers[{i}]") for i, p in enumerate(data.get("payers") or [])]
    return RuleBook(rules, str(data.get("default", "")), payers)
