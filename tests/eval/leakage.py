"""Held-out questions that aren't held out: near-duplicates of what the bot learns from.

A held-out set only measures the bot on questions it never saw if none of them is (nearly) a
question, phrasing or off-topic example in `knowledge/`, or a question of another held-out set
(two sets sharing a question count it twice). "Near" is the measure the sets were audited with:
rapidfuzz `ratio` >= 90 after lower-casing and stripping punctuation (`utils.default_process`).

`make eval` refuses to report on sets that collide, and `tests/test_eval_sets.py` fails on them,
so a set written today can't quietly become a training set tomorrow.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml
from rapidfuzz import fuzz, process, utils

from bot.core.kb import KNOWLEDGE_DIR

NEAR = 90.0  # rapidfuzz ratio, after default_process
HELD_OUT_DIR = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Collision:
    held_out: str  # "holdout-7.yaml:12" (the 1-based question number)
    other: str  # where the near-duplicate is: "knowledge/asked/x.yaml", "holdout-8.yaml:3", ...
    score: float


def written_order(path: Path) -> tuple[int, str]:
    """Sort key: held-out sets in the order they were written (holdout-9 before holdout-10)."""
    number = path.stem.rpartition("-")[2]
    return (int(number) if number.isdigit() else 0, path.name)


def held_out_sets(directory: Path = HELD_OUT_DIR) -> dict[str, list[str]]:
    """Each held-out set's questions, by file name, oldest set first (of two sets sharing a
    question, `drop` takes it from the newer one)."""
    return {
        path.name: [str(item["q"]) for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
        for path in sorted(directory.glob("holdout*.yaml"), key=written_order)
    }


def knowledge_texts(directory: Path = KNOWLEDGE_DIR) -> list[tuple[str, str]]:
    """(where, text) for every question-like string the bot learns from in `knowledge/`."""
    texts: list[tuple[str, str]] = []
    for path in sorted((directory / "asked").glob("*.yaml")):
        where = path.relative_to(directory.parent).as_posix()
        texts += [(where, str(item["q"])) for item in yaml.safe_load(path.read_text(encoding="utf-8"))["questions"]]
    for path in sorted((directory / "faq").glob("*.yaml")):
        where = path.relative_to(directory.parent).as_posix()
        for entry in yaml.safe_load(path.read_text(encoding="utf-8"))["entries"]:
            texts += [(where, str(entry["question"]))] + [(where, str(p)) for p in entry.get("phrasings") or ()]
    phrasings = directory / "phrasings.yaml"
    if phrasings.exists():
        for items in (yaml.safe_load(phrasings.read_text(encoding="utf-8")) or {}).values():
            texts += [("knowledge/phrasings.yaml", str(p)) for p in items or ()]
    vocabulary = yaml.safe_load((directory / "vocabulary.yaml").read_text(encoding="utf-8"))
    for items in (vocabulary.get("off_topic") or {}).values():
        texts += [("knowledge/vocabulary.yaml", str(p)) for p in items or ()]
    return texts


def _pairs(queries: list[str], choices: list[str]) -> Iterable[tuple[int, int, float]]:
    cleaned = [utils.default_process(c) for c in choices]
    for i, query in enumerate(queries):
        for _, score, j in process.extract(
            utils.default_process(query), cleaned, scorer=fuzz.ratio, processor=None, score_cutoff=NEAR, limit=None
        ):
            yield i, j, score


def collisions(
    sets: dict[str, list[str]] | None = None, knowledge: list[tuple[str, str]] | None = None
) -> list[Collision]:
    """Every held-out question that is a near-duplicate of knowledge/ or of another set's question."""
    sets = held_out_sets() if sets is None else sets
    knowledge = knowledge_texts() if knowledge is None else knowledge
    found: list[Collision] = []
    texts = [text for _, text in knowledge]
    names = list(sets)
    for n, name in enumerate(names):
        questions = sets[name]
        for i, j, score in _pairs(questions, texts):
            found.append(Collision(f"{name}:{i + 1}", knowledge[j][0], score))
        for other in names[n + 1 :]:
            for i, j, score in _pairs(questions, sets[other]):
                found.append(Collision(f"{name}:{i + 1}", f"{other}:{j + 1}", score))
    return found


def drop(found: list[Collision], directory: Path = HELD_OUT_DIR) -> dict[str, int]:
    """Remove the colliding questions from their held-out files (the held-out side of each pair;
    of two sets sharing a question, the later set loses it), keeping the files' comments.
    Returns how many questions each file lost: counts only, so nobody reads what they were."""
    doomed: dict[str, set[int]] = {}
    for c in found:
        name, number = (c.other if c.other.startswith("holdout") else c.held_out).rsplit(":", 1)
        doomed.setdefault(name, set()).add(int(number))
    for name, numbers in doomed.items():
        path = directory / name
        out, number, skipping = [], 0, False
        for line in path.read_text(encoding="utf-8").splitlines(keepends=True):
            if line.startswith("  - q:"):
                number += 1
                skipping = number in numbers
            elif not line.startswith("    "):
                skipping = False
            if not skipping:
                out.append(line)
        path.write_text("".join(out), encoding="utf-8")
    return {name: len(numbers) for name, numbers in doomed.items()}


if __name__ == "__main__":
    import sys

    found = collisions()
    if "--drop" in sys.argv:
        print("dropped from the held-out sets:", drop(found) or "nothing")
    else:
        print(f"{len(found)} held-out questions near-duplicate knowledge/ or another set")
        for c in found:
            print(f"  {c.held_out} ~ {c.other} ({c.score:.0f})")
        sys.exit(1 if found else 0)
