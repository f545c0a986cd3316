"""Questions people asked, labelled with the entry that answers them (or none): the matcher
learns from them.

Each file in `knowledge/asked/*.yaml` is `{questions: [{q: text, expect: entry-id or null}]}`,
the same shape as the evaluation sets in tests/eval. A labelled question is taught to the
matcher as one more phrasing of its entry; a question labelled null is one the bot must
decline, taught as such. An entry's own phrasings say what it is about; these say how
people actually ask, typos, context and all. Pure: reads files, nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from bot.core.kb import KNOWLEDGE_DIR, Problem, same_text_key

ASKED_DIR = KNOWLEDGE_DIR / "asked"

__all__ = ["ASKED_DIR", "Asked", "check_asked", "load_asked"]

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NULL = "tag:yaml.org,2002:null"  # `expect: null` (or ~, or nothing); a quoted "null" is text


@dataclass(frozen=True)
class Asked:
    text: str
    entry_id: str | None  # None: out of scope, the bot must decline it
    file: str  # the file's name, so a caller can leave a file out (cross-validation)


def load_asked(directory: Path = ASKED_DIR, *, leave_out: Iterable[str] = ()) -> list[Asked]:
    """Every labelled question under `directory`, file by file in name order; [] when there is
    none. Shape errors are `check_asked`'s job: items that aren't a question are skipped.

    :param leave_out: file names to skip (the evaluation's cross-validation holds one out).
    :raises yaml.YAMLError: when a file is not YAML.
    """
    skip = set(leave_out)
    asked = []
    for path in sorted(Path(directory).glob("*.yaml")):
        if path.name in skip:
            continue
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=_Loader)
        items = data.get("questions") if isinstance(data, dict) else None
        for item in items if isinstance(items, list) else ():
            if not (isinstance(item, dict) and isinstance(item.get("q"), str) and item["q"].strip()):
                continue
            if "expect" not in item or not (item["expect"] is None or isinstance(item["expect"], str)):
                continue  # no label: never guess one (declining an in-scope question would teach the opposite)
            asked.append(Asked(item["q"], item["expect"], path.name))
    return asked


def check_asked(directory: Path, entry_ids: Iterable[str]) -> list[Problem]:
    """Problems in the asked files, each with file and line: YAML errors, items that are not
    `{q: text, expect: id or null}`, unknown entry ids, a question listed twice, and an entry no
    labelled question asks for (nothing would test that it can be found)."""
    known = set(entry_ids)
    problems: list[Problem] = []
    seen: dict[str, tuple[str, int]] = {}  # same-text key -> where first listed
    asked_for: set[str] = set()
    for path in sorted(Path(directory).glob("*.yaml")):
        name = str(path)
        try:
            root = yaml.compose(path.read_text(encoding="utf-8"), Loader=_Loader)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(Problem(name, 1, f"cannot read file: {exc}"))
            continue
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            problems.append(Problem(name, mark.line + 1 if mark else 1, f"YAML syntax error: {exc}"))
            continue
        items = _question_nodes(root)
        if items is None:
            problems.append(Problem(name, 1, "expected a mapping `questions: [{q: ..., expect: ...}]`"))
            continue
        for node in items:
            line = node.start_mark.line + 1
            fields = _scalar_fields(node)
            if fields is None or set(fields) != {"q", "expect"} or not fields["q"][1].strip():
                problems.append(Problem(name, line, "each item must be `{q: question text, expect: entry id or null}`"))
                continue
            tag, expect = fields["expect"]
            if tag != _NULL and expect not in known:
                problems.append(Problem(name, line, f"expect: unknown entry {expect!r}"))
            key = same_text_key(fields["q"][1])
            if key in seen:
                first, first_line = seen[key]
                problems.append(Problem(name, line, f"question listed twice (first at {first}:{first_line})"))
            else:
                seen[key] = (name, line)
            if tag != _NULL:
                asked_for.add(expect)
    problems += [
        Problem(str(directory), 1, f"entry {entry_id!r} has no labelled question in this folder")
        for entry_id in sorted(known - asked_for)
    ]
    return problems


def _question_nodes(root) -> list | None:
    if not isinstance(root, yaml.MappingNode):
        return None
    for key, value in root.value:
        if key.value == "questions":
            return value.value if isinstance(value, yaml.SequenceNode) else None
    return None


def _scalar_fields(node) -> dict[str, tuple[str, str]] | None:
    """The item's keys and their (resolved YAML tag, text), or None when it is not a flat mapping."""
    if not isinstance(node, yaml.MappingNode):
        return None
    fields = {}
    for key, value in node.value:
        if not isinstance(value, yaml.ScalarNode):
            return None
        fields[key.value] = (value.tag, value.value)
    return fields
