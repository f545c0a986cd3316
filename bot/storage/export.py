"""Where the reviewers' overlay goes in knowledge/ (`billing-bot review export`).

* A question linked to an entry is a labelled question: `knowledge/asked/reviewed.yaml`
  (`{questions: [{q, expect}]}`), which `kb check` checks and the eval cross-validates on.
* A verification moves `last_verified` / `review_by` in the entry's own file, line by line, so
  the file's comments and layout survive; an approved edit rewrites that entry's block only.
* A question in knowledge/asked/ labelled null (decline) that a newly approved entry answers is
  relabelled with the entry, or the matcher would go on learning to decline it.

Writes go through a temporary file; the caller validates and puts the files back on a problem.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from rapidfuzz import fuzz

from bot.core.kb import same_text_key

SAME_TEXT = 90.0  # same_text_key ratio at or above which an asked question is the entry's own
_ID_LINE = re.compile(r"^  - id:\s*(\S+)\s*$")
_HEADER = "# Labelled questions linked on the review desk (`billing-bot review export`). expect: the entry.\n"


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def merge_asked(asked_dir: Path, links: list[tuple[str, str]]) -> int:
    """Append (entry id, question) links to asked/reviewed.yaml, skipping questions any asked
    file already has. Returns how many were added."""
    from bot.core.asked import load_asked

    have = {same_text_key(a.text) for a in load_asked(asked_dir)} if asked_dir.is_dir() else set()
    path = asked_dir / "reviewed.yaml"
    data = (yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None) or {}
    questions = list(data.get("questions") or [])
    added = 0
    for entry_id, text in links:
        if same_text_key(text) in have:
            continue
        have.add(same_text_key(text))
        questions.append({"q": text, "expect": entry_id})
        added += 1
    if added:
        write_text(path, _HEADER + yaml.safe_dump({"questions": questions}, sort_keys=False, allow_unicode=True, width=100))
    return added


def patch_entries(faq_dir: Path, verified: dict[str, tuple[str, str]], edited: dict[str, dict]) -> list[Path]:
    """Write verifications (entry id -> (last_verified, review_by)) and approved edits (entry id ->
    the whole entry) into the files that hold those entries. Returns the files changed."""
    changed = []
    for path in sorted(faq_dir.glob("*.yaml")):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        out, i, touched = [], 0, False
        while i < len(lines):
            m = _ID_LINE.match(lines[i])
            if not m or (m[1] not in verified and m[1] not in edited):
                out.append(lines[i])
                i += 1
                continue
            end = i + 1
            while end < len(lines) and not _ID_LINE.match(lines[end]) and not re.match(r"^\S", lines[end]):
                end += 1
            while end > i + 1 and not lines[end - 1].strip():  # blank lines after the entry stay
                end -= 1
            block = lines[i:end]
            if m[1] in edited:
                dumped = yaml.safe_dump([edited[m[1]]], sort_keys=False, allow_unicode=True, width=100)
                block = ["  " + line + "\n" if line else "\n" for line in dumped.splitlines()]
            else:
                last, due = verified[m[1]]
                block = [
                    re.sub(r"^(    last_verified:).*$", rf"\g<1> {last}", re.sub(r"^(    review_by:).*$", rf"\g<1> {due}", line))
                    for line in block
                ]
            out += block
            touched = True
            i = end
        if touched:
            write_text(path, "".join(out))
            changed.append(path)
    return changed


def relabel_declines(asked_dir: Path, entry_id: str, texts: list[str]) -> int:
    """Questions labelled null in asked/ that read the same as one of `texts` (a newly approved
    entry's question, the logged question it was drafted from) get `expect: entry_id`."""
    keys = [same_text_key(t) for t in texts if t]
    relabelled = 0
    for path in sorted(asked_dir.glob("*.yaml")) if asked_dir.is_dir() else ():
        text = path.read_text(encoding="utf-8")
        root = yaml.compose(text)
        items = root.value if root is not None and root.id == "mapping" else []
        nodes = next((v for k, v in items if k.value == "questions"), None)
        lines = text.splitlines(keepends=True)
        hits = 0
        for item in nodes.value if nodes is not None and nodes.id == "sequence" else ():
            fields = {k.value: v for k, v in item.value} if item.id == "mapping" else {}
            q, expect = fields.get("q"), fields.get("expect")
            if q is None or expect is None or expect.tag != "tag:yaml.org,2002:null":
                continue
            if any(fuzz.ratio(same_text_key(q.value), k) >= SAME_TEXT for k in keys):
                line = expect.start_mark.line
                lines[line] = re.sub(r"(expect:)\s*(null|~)?", rf"\g<1> {entry_id}", lines[line], count=1)
                hits += 1
        if hits:
            write_text(path, "".join(lines))
            relabelled += hits
    return relabelled
