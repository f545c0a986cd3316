"""The curated FAQ knowledge base: its records, loader and checker (the schema: bot.core.schema).

Entries live in `knowledge/faq/*.yaml` as `{entries: [...]}`. Every problem is reported
as `file:line: message`, with the line taken from the YAML node marks, so whoever edits
the YAML can jump straight to it. Pure: reads files, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, ClassVar

import yaml

KNOWLEDGE_DIR = Path(__file__).resolve().parents[2] / "knowledge"
FAQ_DIR = KNOWLEDGE_DIR / "faq"

__all__ = [
    "FAQ_DIR",
    "KNOWLEDGE_DIR",
    "Entry",
    "KnowledgeBase",
    "KnowledgeBaseError",
    "Problem",
    "SourceRef",
    "check_kb",
    "load_kb",
    "same_text_key",
]


class KnowledgeBaseError(Exception):
    """The knowledge base files are missing or invalid (the message lists each problem)."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


# --- the records -----------------------------------------------------------------------------
# Entries are plain frozen records, validated by a pydantic schema (bot.core.schema.FaqEntry)
# that is imported only when something is validated: building the FAQ index, `kb check`, a
# reviewer's draft. Answering from an index read back from the cache (bot.core.index_cache) then
# needs no pydantic, whose import and model building cost more than the whole rest of that start.
# They offer the part of pydantic's API the code uses: model_validate, model_dump, model_copy.


def _schema():
    from bot.core import schema  # pydantic: only when validating (see above)

    return schema


class _Record:
    """A frozen record with pydantic's model API, its fields checked by `_model()`'s schema."""

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]]

    @classmethod
    def _model(cls) -> Any:
        raise NotImplementedError

    @classmethod
    def _of(cls, valid: Any):
        """The record holding what the schema validated."""
        return cls._new(*(getattr(valid, name) for name in cls._fields))

    @classmethod
    def _new(cls, *values: Any):
        """A record from its field values, in `_fields` order, trusted as valid (no checks)."""
        record = object.__new__(cls)
        for name, value in zip(cls._fields, values, strict=True):
            object.__setattr__(record, name, value)
        return record

    def __init__(self, **data: Any) -> None:
        """:raises pydantic.ValidationError: as the pydantic model would."""
        valid = self._of(self._model().model_validate(data))
        for name in self._fields:
            object.__setattr__(self, name, getattr(valid, name))

    @classmethod
    def model_validate(cls, obj: Any, **options: Any):
        """:raises pydantic.ValidationError: for data the schema rejects."""
        if isinstance(obj, cls):
            return obj
        return cls._of(cls._model().model_validate(obj, **options))

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False):
        """A copy with some fields replaced, not validated (as pydantic's `model_copy`)."""
        values = {name: getattr(self, name) for name in self._fields}
        if deep:
            import copy

            values = copy.deepcopy(values)
        unknown = set(update or ()) - set(values)
        if unknown:
            raise ValueError(f"{type(self).__name__} has no field(s) {sorted(unknown)}")
        values.update(update or {})
        return self._new(*values.values())

    def model_dump(self, **options: Any) -> dict[str, Any]:
        """As pydantic's `model_dump` (mode="json": dates as text, tuples as lists)."""
        return self._as_model().model_dump(**options)

    def _as_model(self) -> Any:
        return self._model().model_construct(**{name: getattr(self, name) for name in self._fields})

    def __setattr__(self, name: str, value: Any) -> None:
        from pydantic_core import ValidationError  # pydantic's, as a frozen pydantic model raises

        raise ValidationError.from_exception_data(
            type(self).__name__, [{"type": "frozen_instance", "loc": (name,), "input": value}]
        )

    def __delattr__(self, name: str) -> None:
        self.__setattr__(name, None)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self._fields)

    def __hash__(self) -> int:
        return hash(tuple(getattr(self, name) for name in self._fields))

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._fields)
        return f"{type(self).__name__}({fields})"

    def __reduce__(self):
        return _new_record, (type(self), tuple(getattr(self, name) for name in self._fields))


def _new_record(cls: type[_Record], values: tuple) -> _Record:
    return cls._new(*values)


class SourceRef(_Record):
    """Where an answer comes from: every entry cites at least one (schema: bot.core.schema.FaqSource)."""

    __slots__ = _fields = ("title", "url", "kind", "date")
    title: str
    url: str
    kind: str  # "primary" (the rule's own author) or "secondary" (anyone explaining it)
    date: str  # the source's own date or revision (YYYY, YYYY-MM or YYYY-MM-DD), or "undated"

    @classmethod
    def _model(cls) -> Any:
        return _schema().FaqSource


class Entry(_Record):
    """One curated question with its answer (schema: bot.core.schema.FaqEntry)."""

    __slots__ = _fields = (
        "id", "question", "phrasings", "answer", "codes", "tags", "state", "sources", "last_verified",
        "review_by", "owner",
    )  # fmt: skip
    id: str
    question: str
    phrasings: tuple[str, ...]
    answer: str
    codes: tuple[str, ...]
    tags: tuple[str, ...]
    state: str | None
    sources: tuple[SourceRef, ...]
    last_verified: date
    review_by: date
    owner: str | None  # who keeps the entry right: a Slack user ID, reminded when review_by comes

    @classmethod
    def _model(cls) -> Any:
        return _schema().FaqEntry

    @classmethod
    def _of(cls, valid: Any) -> Entry:
        entry = super()._of(valid)
        object.__setattr__(entry, "sources", tuple(SourceRef._of(source) for source in valid.sources))
        return entry

    def _as_model(self) -> Any:
        values = {name: getattr(self, name) for name in self._fields}
        values["sources"] = tuple(source._as_model() for source in self.sources)
        return self._model().model_construct(**values)

    def as_plain(self) -> tuple:
        """The entry as plain data (tuples, text, numbers), which the FAQ index cache can store
        with marshal (bot.core.index_cache); `from_plain` reads it back without validating."""
        return (
            self.id, self.question, self.phrasings, self.answer, self.codes, self.tags, self.state,
            tuple((s.title, s.url, s.kind, s.date) for s in self.sources),
            self.last_verified.toordinal(), self.review_by.toordinal(), self.owner,
        )  # fmt: skip

    @classmethod
    def from_plain(cls, plain: tuple) -> Entry:
        *head, sources, last_verified, review_by, owner = plain
        return cls._new(
            *head,
            tuple(SourceRef._new(*source) for source in sources),
            date.fromordinal(last_verified),
            date.fromordinal(review_by),
            owner,
        )


@dataclass(frozen=True)
class Problem:
    """One thing wrong in the knowledge base, located for an editor."""

    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass(frozen=True)
class KnowledgeBase:
    """The loaded entries, in file order, with lookup by id."""

    entries: tuple[Entry, ...]

    @property
    def by_id(self) -> dict[str, Entry]:
        return self._by_id

    def __post_init__(self) -> None:
        object.__setattr__(self, "_by_id", {e.id: e for e in self.entries})

    def __getstate__(self) -> tuple:
        """Plain data (see Entry.as_plain): the FAQ index cache stores it with marshal."""
        return tuple(entry.as_plain() for entry in self.entries)

    def __setstate__(self, state: tuple) -> None:
        object.__setattr__(self, "entries", tuple(map(Entry.from_plain, state)))
        self.__post_init__()

    def get(self, entry_id: str) -> Entry | None:
        return self._by_id.get(entry_id)

    def __len__(self) -> int:
        return len(self.entries)


def same_text_key(text: str) -> str:
    """What makes two phrasings "the same" for duplicate checks: case and spacing ignored."""
    return " ".join(text.casefold().split()).rstrip("?.! ")


# --- reading YAML with line numbers -------------------------------------------------------


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe loader (libyaml when present) that leaves dates as strings.

    Dates are then parsed by pydantic, so `2026-13-01` becomes a located field error
    instead of an exception that aborts the whole file.
    """


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


@dataclass
class _RawEntry:
    """An entry mapping as read, with the line of the entry and of each key and list item."""

    data: Any
    line: int
    key_lines: dict[str, int]
    item_lines: dict[str, list[int]]

    def line_of(self, key: Any, index: Any = None) -> int:
        if isinstance(index, int) and key in self.item_lines and index < len(self.item_lines[key]):
            return self.item_lines[key][index]
        return self.key_lines.get(key, self.line)


def _read_file(path: Path, problems: list[Problem]) -> list[_RawEntry]:
    """Parse one FAQ file into raw entries; YAML and shape errors go to `problems`."""
    name = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as ex:
        problems.append(Problem(name, 1, f"cannot read file: {ex}"))
        return []
    loader = _Loader(text)
    try:
        root = loader.get_single_node()
        data = loader.construct_document(root) if root is not None else None
    except yaml.YAMLError as ex:
        mark = getattr(ex, "problem_mark", None) or getattr(ex, "context_mark", None)
        line = mark.line + 1 if mark else 1
        reason = getattr(ex, "problem", None) or str(ex).splitlines()[0]
        problems.append(Problem(name, line, f"YAML syntax error: {reason}"))
        return []
    finally:
        loader.dispose()

    if not isinstance(data, dict) or "entries" not in data:
        problems.append(Problem(name, 1, "expected a mapping with an `entries:` list at the top"))
        return []
    extra = sorted(str(k) for k in data if k != "entries")
    if extra:
        problems.append(Problem(name, 1, f"unexpected top-level key(s): {', '.join(extra)}"))
    seq_node = next(v for k, v in root.value if k.value == "entries")
    if not isinstance(data["entries"], list):
        problems.append(Problem(name, seq_node.start_mark.line + 1, "`entries` must be a list"))
        return []

    raws = []
    for node, item in zip(seq_node.value, data["entries"]):
        line = node.start_mark.line + 1
        if not isinstance(item, dict):
            problems.append(Problem(name, line, "each entry must be a mapping of fields"))
            continue
        key_lines, item_lines = {}, {}
        for key_node, value_node in node.value:
            if key_node.value in key_lines:
                # PyYAML keeps the last value silently; an editor would not expect that.
                problems.append(
                    Problem(name, key_node.start_mark.line + 1, f"duplicate key {key_node.value!r} in entry")
                )
            key_lines[key_node.value] = key_node.start_mark.line + 1
            if isinstance(value_node, yaml.SequenceNode):
                item_lines[key_node.value] = [n.start_mark.line + 1 for n in value_node.value]
        raws.append(_RawEntry(item, line, key_lines, item_lines))
    return raws


def _label(raw: _RawEntry) -> str:
    entry_id = raw.data.get("id")
    return f"entry {entry_id!r}" if isinstance(entry_id, str) else "entry"


def _validate(raw: _RawEntry, name: str, problems: list[Problem]) -> Entry | None:
    from pydantic import ValidationError  # pydantic only to validate (see the records above)

    try:
        return Entry.model_validate(raw.data)
    except ValidationError as ex:
        errors = ex.errors()
        nested = {e["loc"][0] for e in errors if len(e["loc"]) > 1}
        for err in errors:
            loc = err["loc"]
            if err["type"] == "too_short" and loc and loc[0] in nested:
                continue  # "needs at least one" only because its items were invalid: noise
            key = loc[0] if loc else None
            where = ".".join(str(part) for part in loc) if loc else "entry"
            if err["type"] == "missing":
                message = f"missing field {where!r}"
                line = raw.line
            elif err["type"] == "extra_forbidden":
                message = f"unknown field {where!r}"
                line = raw.line_of(key)
            else:
                reason = err["msg"].removeprefix("Value error, ")
                message = f"{where}: {reason}" if loc else reason
                line = raw.line_of(key, loc[1] if len(loc) > 1 else None)
            problems.append(Problem(name, line, f"{_label(raw)}: {message}"))
        return None


def _scan(
    faq_dir: Path, known_codes: frozenset[str] | None, today: date | None
) -> tuple[list[Entry], list[Problem]]:
    """Read and check every FAQ file; returns the valid entries and all problems found."""
    problems: list[Problem] = []
    if not faq_dir.is_dir():
        return [], [Problem(str(faq_dir), 0, "FAQ directory not found")]
    files = sorted(faq_dir.glob("*.yaml")) + sorted(faq_dir.glob("*.yml"))
    if not files:
        return [], [Problem(str(faq_dir), 0, "no FAQ files (*.yaml) found")]

    entries: list[Entry] = []
    seen_ids: dict[str, str] = {}
    seen_texts: dict[str, tuple[str, str]] = {}  # text key -> (entry id, "file:line")
    for path in files:
        name = str(path)
        for raw in _read_file(path, problems):
            entry = _validate(raw, name, problems)
            if entry is None:
                continue
            where = f"{name}:{raw.line}"
            if entry.id in seen_ids:
                problems.append(
                    Problem(name, raw.line, f"duplicate id {entry.id!r} (first at {seen_ids[entry.id]})")
                )
                continue
            seen_ids[entry.id] = where

            texts = [(entry.question, raw.line_of("question"))] + [
                (p, raw.line_of("phrasings", i)) for i, p in enumerate(entry.phrasings)
            ]
            for text, line in texts:
                key = same_text_key(text)
                if key in seen_texts:
                    other_id, other_where = seen_texts[key]
                    whose = "this entry" if other_id == entry.id else f"entry {other_id!r}"
                    also = f"also in {whose} at {other_where}"
                    problems.append(
                        Problem(
                            name,
                            line,
                            f"entry {entry.id!r}: duplicate phrasing {text!r} ({also})",
                        )
                    )
                else:
                    seen_texts[key] = (entry.id, f"{name}:{line}")

            if known_codes is not None:
                for i, code in enumerate(entry.codes):
                    if code not in known_codes:
                        problems.append(
                            Problem(
                                name,
                                raw.line_of("codes", i),
                                f"entry {entry.id!r}: unknown code {code!r} (not in the code table)",
                            )
                        )
            if today is not None and entry.review_by < today:
                problems.append(
                    Problem(
                        name,
                        raw.line_of("review_by"),
                        f"entry {entry.id!r}: review_by {entry.review_by} has passed; re-verify the answer",
                    )
                )
            entries.append(entry)
    return entries, problems


def load_kb(faq_dir: Path = FAQ_DIR, *, known_codes: frozenset[str] | None = None) -> KnowledgeBase:
    """Load every FAQ file in `faq_dir`.

    :raises KnowledgeBaseError: listing every problem (`file:line: message`), so a broken
        knowledge base never half-loads. Overdue `review_by` dates don't stop loading;
        `check_kb` reports those.
    """
    entries, problems = _scan(Path(faq_dir), known_codes, None)
    if problems:
        raise KnowledgeBaseError(problems)
    return KnowledgeBase(tuple(entries))


def check_kb(faq_dir: Path = FAQ_DIR, *, known_codes: Iterable[str] | None, today: date) -> list[Problem]:
    """Every problem in the knowledge base, in file order (empty when all is well)."""
    codes = frozenset(known_codes) if known_codes is not None else None
    return _scan(Path(faq_dir), codes, today)[1]


def load_phrasings(path: Path) -> dict:
    """knowledge/phrasings.yaml (reviewers' linked phrasings, written by `review export`) as
    `{entry-id: [text, ...]}`; {} when there is no file. Shape errors are `check_phrasings`' job.

    :raises yaml.YAMLError: when the file is not YAML.
    """
    if not path.exists():
        return {}
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    table = data.get("phrasings") if isinstance(data, dict) else None
    if not isinstance(table, dict):
        return {}
    return {key: [t for t in texts if isinstance(t, str)] for key, texts in table.items() if isinstance(texts, list)}


def check_phrasings(path: Path, entry_ids: Iterable[str]) -> list[Problem]:
    """Problems in knowledge/phrasings.yaml: it must map known entry ids to lists of text."""
    if not path.exists():
        return []
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        line = exc.problem_mark.line + 1 if getattr(exc, "problem_mark", None) else 1
        return [Problem(str(path), line, f"not valid YAML: {exc}")]
    if not isinstance(data, dict) or not isinstance(data.get("phrasings"), dict):
        return [Problem(str(path), 1, "expected a mapping `phrasings: {entry-id: [text, ...]}`")]
    known = set(entry_ids)
    problems = []
    for entry_id, texts in data["phrasings"].items():
        if entry_id not in known:
            problems.append(Problem(str(path), 1, f"phrasings for unknown entry {entry_id!r}"))
        if not isinstance(texts, list) or not all(isinstance(t, str) and t.strip() for t in texts):
            problems.append(Problem(str(path), 1, f"{entry_id}: phrasings must be a list of text"))
    return problems


def check_duplicate_keys(path: Path) -> list[Problem]:
    """Mapping keys written twice in one YAML file. PyYAML keeps the last silently, so a synonym
    list or an entry field defined twice loses the first without a word."""
    try:
        root = yaml.compose(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return []  # reported by whoever loads the file
    problems: list[Problem] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                if isinstance(key, yaml.ScalarNode):
                    line = key.start_mark.line + 1
                    if key.value in seen:
                        problems.append(
                            Problem(str(path), line, f"key {key.value!r} defined twice (first at line {seen[key.value]})")
                        )
                    else:
                        seen[key.value] = line
                stack.append(value)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    return sorted(problems, key=lambda p: p.line)
