"""Knowledge base schema, loader and checker: every problem located by file and line."""

from __future__ import annotations

import textwrap
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from bot.core.kb import FAQ_DIR, KNOWLEDGE_DIR, Entry, KnowledgeBaseError, Problem, check_kb, load_kb

TODAY = date(2026, 12, 1)
CODES = frozenset({"97124", "97140", "97112"})

GOOD = """\
entries:
  - id: bill-97124-with-97140
    question: Can I bill 97124 and 97140 in the same session?
    phrasings: [can i bill 97124 and 97140 together, massage and manual therapy same visit]
    answer: |
      Often not on the same body region.
    codes: ["97124", "97140"]
    tags: [coding, ncci]
    state: null
    sources: [{title: "NCCI edits", url: "https://example.org/ncci"}]
    last_verified: 2026-11-27
    review_by: 2027-05-27
  - id: florida-pip
    question: Does Florida PIP cover massage?
    phrasings:
      - florida pip massage
      - fl no fault massage
    answer: No, not since 2013.
    codes: []
    tags: [pip]
    state: FL
    sources:
      - title: Florida Statutes 627.736
        url: https://example.org/fl
    last_verified: 2026-11-27
    review_by: 2027-05-27
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, known_codes=CODES, today=TODAY) -> list[str]:
    return [str(p) for p in check_kb(tmp_path, known_codes=known_codes, today=today)]


def test_good_file_loads_with_lookup_by_id(tmp_path):
    write(tmp_path, "coding.yaml", GOOD)
    kb = load_kb(tmp_path, known_codes=CODES)
    assert ["bill-97124-with-97140", "florida-pip"] == [e.id for e in kb.entries]
    entry = kb.get("florida-pip")
    assert entry is kb.by_id["florida-pip"]
    assert ("FL", (), date(2026, 11, 27)) == (entry.state, entry.codes, entry.last_verified)
    assert ("97124", "97140") == kb.get("bill-97124-with-97140").codes
    assert kb.get("nope") is None
    assert [] == problems_of(tmp_path)


def test_entries_are_frozen(tmp_path):
    write(tmp_path, "coding.yaml", GOOD)
    entry = load_kb(tmp_path).entries[0]
    with pytest.raises(ValidationError):
        entry.question = "changed"  # type: ignore[misc]


def test_schema_errors_each_reported_with_file_and_line(tmp_path):
    path = write(
        tmp_path,
        "bad.yaml",
        """\
        entries:
          - id: Bad_Id
            question: Is this ok?
            phrasings: [one, two]
            answer: yes
            codes: ["97124", 97140]
            tags: []
            state: fl
            sources: []
            last_verified: 2026-11-27
            review_by: 2026-13-01
            colour: blue
          - id: no-answer
            question: Where is the answer?
            phrasings: []
            codes: []
            tags: []
            state: null
            sources: [{title: t, url: "not-a-url"}]
            last_verified: 2026-11-27
            review_by: 2027-01-01
        """,
    )
    found = problems_of(tmp_path)
    f = str(path)
    expected_prefixes = [
        f"{f}:2: entry 'Bad_Id': id: id 'Bad_Id' must be kebab-case",
        f"{f}:5: entry 'Bad_Id': answer: Input should be a valid string",  # YAML 1.1: yes is a bool
        f"{f}:6: entry 'Bad_Id': codes: code 97140 must be a quoted string",
        f"{f}:8: entry 'Bad_Id': state: state 'fl' must be two uppercase letters",
        f"{f}:9: entry 'Bad_Id': sources: ",
        f"{f}:11: entry 'Bad_Id': review_by: ",
        f"{f}:12: entry 'Bad_Id': unknown field 'colour'",
        f"{f}:13: entry 'no-answer': missing field 'answer'",
        f"{f}:19: entry 'no-answer': sources.0.url: ",
    ]
    assert len(expected_prefixes) == len(found), found
    for prefix, problem in zip(expected_prefixes, found):
        assert problem.startswith(prefix), (prefix, problem)


def test_review_by_must_follow_last_verified(tmp_path):
    write(tmp_path, "a.yaml", GOOD.replace("review_by: 2027-05-27", "review_by: 2026-11-27", 1))
    [problem] = check_kb(tmp_path, known_codes=CODES, today=TODAY)
    assert 2 == problem.line
    assert "review_by 2026-11-27 must be after last_verified 2026-11-27" in problem.message


def test_review_by_passed_is_reported_but_still_loads(tmp_path):
    write(tmp_path, "a.yaml", GOOD)
    problems = check_kb(tmp_path, known_codes=CODES, today=date(2027, 5, 28))
    assert [12, 26] == [p.line for p in problems]
    assert all("review_by 2027-05-27 has passed" in p.message for p in problems)
    assert [] == check_kb(tmp_path, known_codes=CODES, today=date(2027, 5, 27))
    assert 2 == len(load_kb(tmp_path))


def test_unknown_codes_are_located_on_their_list_item(tmp_path):
    path = write(tmp_path, "a.yaml", GOOD)
    problems = check_kb(tmp_path, known_codes={"97124"}, today=TODAY)
    assert [
        Problem(str(path), 7, "entry 'bill-97124-with-97140': unknown code '97140' (not in the code table)")
    ] == problems
    with pytest.raises(KnowledgeBaseError, match="unknown code '97140'"):
        load_kb(tmp_path, known_codes=frozenset({"97124"}))
    assert 2 == len(load_kb(tmp_path))  # no code table given: codes not checked


def test_duplicate_ids_across_files(tmp_path):
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(
        tmp_path,
        "b.yaml",
        GOOD.replace("florida", "oregon")
        .replace("Florida", "Oregon")
        .replace("fl no", "or no")
        .replace("FL", "OR"),
    )
    problems = [str(p) for p in check_kb(tmp_path, known_codes=CODES, today=TODAY)]
    dup = [p for p in problems if "duplicate id" in p]
    assert [f"{second}:2: duplicate id 'bill-97124-with-97140' (first at {first}:2)"] == dup


def test_duplicate_phrasings_ignore_case_and_spacing_also_question_vs_phrasing(tmp_path):
    path = write(
        tmp_path,
        "a.yaml",
        GOOD
        + """\
  - id: oregon-pip
    question: Florida   PIP massage
    phrasings: [CAN I BILL 97124 AND 97140  TOGETHER?, oregon pip, Oregon PIP]
    answer: Yes, Oregon PIP covers it.
    codes: []
    tags: [pip]
    state: OR
    sources: [{title: ORS 742.524, url: "https://example.org/or"}]
    last_verified: 2026-11-27
    review_by: 2027-05-27
""",
    )
    f = str(path)
    assert [
        f"{f}:28: entry 'oregon-pip': duplicate phrasing 'Florida   PIP massage' (also in entry 'florida-pip' at {f}:16)",
        (
            f"{f}:29: entry 'oregon-pip': duplicate phrasing 'CAN I BILL 97124 AND 97140  TOGETHER?'"
            f" (also in entry 'bill-97124-with-97140' at {f}:4)"
        ),
        f"{f}:29: entry 'oregon-pip': duplicate phrasing 'Oregon PIP' (also in this entry at {f}:29)",
    ] == problems_of(tmp_path)


def test_yaml_syntax_error_is_located_and_other_files_still_checked(tmp_path):
    write(tmp_path, "a.yaml", GOOD.replace("state: FL", "state: FL", 1))
    bad = write(tmp_path, "b.yaml", "entries:\n  - id: x\n    question: [unclosed\n    answer: y\n")
    write(tmp_path, "c.yaml", GOOD.replace("review_by: 2027-05-27", "review_by: 2020-01-01", 1))
    problems = check_kb(tmp_path, known_codes=CODES, today=TODAY)
    assert str(bad) == problems[0].file and problems[0].message.startswith("YAML syntax error")
    assert problems[0].line in (3, 4, 5)
    assert any(p.file.endswith("c.yaml") and "must be after last_verified" in p.message for p in problems)
    assert any(p.file.endswith("c.yaml") and "duplicate id" in p.message for p in problems)


def test_wrong_top_level_shape_and_duplicate_keys(tmp_path):
    a = write(tmp_path, "a.yaml", "- just a list\n")
    b = write(tmp_path, "b.yaml", GOOD.replace("    tags: [pip]\n", "    tags: [pip]\n    tags: [pip, fl]\n"))
    assert [
        f"{a}:1: expected a mapping with an `entries:` list at the top",
        f"{b}:21: duplicate key 'tags' in entry",
    ] == problems_of(tmp_path)


def test_load_raises_one_readable_error_listing_every_problem(tmp_path):
    path = write(
        tmp_path, "a.yaml", GOOD.replace("state: FL", "state: Florida").replace("codes: []", "codes: [1]")
    )
    with pytest.raises(KnowledgeBaseError) as info:
        load_kb(tmp_path)
    lines = str(info.value).splitlines()
    assert 2 == len(info.value.problems) == len(lines)
    assert lines[0].startswith(f"{path}:19: entry 'florida-pip': codes:")
    assert lines[1].startswith(f"{path}:21: entry 'florida-pip': state:")


def test_missing_directory_or_no_files(tmp_path):
    with pytest.raises(KnowledgeBaseError, match="FAQ directory not found"):
        load_kb(tmp_path / "nope")
    assert ["no FAQ files"] == [p.message[:12] for p in check_kb(tmp_path, known_codes=None, today=TODAY)]


def test_entry_can_be_built_in_code_for_approved_drafts():
    entry = Entry(
        id="draft-one",
        question="Q?",
        phrasings=["q"],
        answer="A.",
        codes=["97124"],
        tags=[],
        state=None,
        sources=[{"title": "t", "url": "https://example.org"}],
        last_verified=date(2026, 1, 1),
        review_by=date(2026, 7, 1),
    )
    assert ("q",) == entry.phrasings


def _shipped_code_table() -> frozenset[str]:
    data = yaml.safe_load((KNOWLEDGE_DIR / "codes.yaml").read_text(encoding="utf-8"))
    return frozenset(c["code"] for c in data["codes"]) | frozenset(c["code"] for c in data.get("retired", []))


def test_shipped_knowledge_base_is_clean():
    problems = check_kb(FAQ_DIR, known_codes=_shipped_code_table(), today=TODAY)
    assert [] == [str(p) for p in problems]
    assert len(load_kb(FAQ_DIR)) >= 40


def test_linked_phrasings_file_is_checked(tmp_path):
    from bot.core.kb import check_phrasings

    path = tmp_path / "phrasings.yaml"
    assert [] == check_phrasings(path, ["npi-need"])  # no file: nothing to check
    path.write_text("phrasings:\n  npi-need: [do lmts need a provider number]\n  nope: [x]\n  npi-apply: oops\n")
    messages = [p.message for p in check_phrasings(path, ["npi-need", "npi-apply"])]
    assert ["phrasings for unknown entry 'nope'", "npi-apply: phrasings must be a list of text"] == messages


def test_a_key_written_twice_in_a_yaml_file_is_a_problem(tmp_path):
    from bot.core.kb import check_duplicate_keys

    path = tmp_path / "vocabulary.yaml"
    path.write_text("synonyms:\n  in network: [paneled]\n  lmt: [mt]\n  in network: [credentialed]\nstates: {}\n")
    assert [f"{path}:4: key 'in network' defined twice (first at line 2)"] == [
        str(p) for p in check_duplicate_keys(path)
    ]
    path.write_text("synonyms:\n  in network: [paneled, credentialed]\n")
    assert [] == check_duplicate_keys(path)


def test_entries_are_plain_records_with_the_models_api(tmp_path):
    """Entries are validated by bot.core.schema's pydantic models and kept as plain records
    (reading the index back needs no pydantic); they answer pydantic's calls the same way."""
    import pickle

    from bot.core.kb import SourceRef
    from bot.core.schema import FaqEntry, FaqSource

    assert (Entry._fields, SourceRef._fields) == (tuple(FaqEntry.model_fields), tuple(FaqSource.model_fields))
    write(tmp_path, "coding.yaml", GOOD)
    raw = {data["id"]: data for data in yaml.safe_load(GOOD)["entries"]}
    for entry in load_kb(tmp_path).entries:
        model = FaqEntry.model_validate(raw[entry.id])
        assert model.model_dump(mode="json") == entry.model_dump(mode="json")
        assert model.model_dump() == entry.model_dump()
        assert Entry.model_validate(model.model_dump()) == entry
        assert Entry.model_validate(entry) is entry
        assert entry == pickle.loads(pickle.dumps(entry)) == Entry.from_plain(entry.as_plain())
        assert hash(entry) == hash(Entry.from_plain(entry.as_plain()))
        copy = entry.model_copy(update={"question": "Another?"})
        assert ("Another?", entry.answer) == (copy.question, copy.answer) and copy != entry
    with pytest.raises(ValidationError) as caught:
        Entry.model_validate({**raw["florida-pip"], "sources": [{"title": "t", "url": "ftp://x"}]})
    assert ("sources", 0, "url") in [e["loc"] for e in caught.value.errors()]
