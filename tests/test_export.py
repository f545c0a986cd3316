"""`review export` puts each change where it belongs (bot/storage/export.py): verifications and
edits in the entry's own file (comments kept), links in knowledge/asked/, and a declined
question that a newly approved entry answers relabelled."""

from __future__ import annotations

from datetime import date

import yaml

from bot.core.kb import load_kb
from bot.storage.querylog import QueryLog
from bot.storage.review import ReviewDesk

UNITS = """\
# Units: hand-written, with comments that must survive an export.
entries:
  - id: massage-units
    question: How are massage units counted?
    phrasings: []
    answer: In 15-minute units.
    codes: ["97124"]
    tags: []
    state: null
    sources:
      - {title: CMS, url: "https://www.cms.gov"}
    last_verified: 2025-01-01
    review_by: 2026-01-01

  # the next one is edited
  - id: timed-codes
    question: Which codes are timed?
    phrasings: []
    answer: Most of them.
    codes: []
    tags: []
    state: null
    sources:
      - {title: CMS, url: "https://www.cms.gov"}
    last_verified: 2025-06-01
    review_by: 2026-06-01
"""
ASKED = """\
questions:
  - q: is hot stone massage billed separately
    expect: null
  - q: best pizza in town
    expect: null
"""


def test_export_writes_verifications_edits_and_relabels_declines(tmp_path, db_path):
    knowledge = tmp_path / "knowledge"
    (knowledge / "faq").mkdir(parents=True)
    (knowledge / "asked").mkdir()
    (knowledge / "faq" / "units.yaml").write_text(UNITS)
    (knowledge / "asked" / "a.yaml").write_text(ASKED)
    entries = {e.id: e for e in load_kb(knowledge / "faq").entries}
    log = QueryLog(db_path, flush_interval=0.01).start()
    desk = ReviewDesk(log, frozenset({"R1", "R2"}), lookup=entries.get, entry_ids=lambda: list(entries))
    assert desk.verify("R1", "massage-units", today=date(2026, 5, 1)).ok
    edit = desk.propose_edit("R1", "timed-codes", answer="97110, 97112, 97124, 97140 and 97530.")
    assert desk.approve("R2", edit.id).ok
    draft = desk.draft("R1", "Is hot stone massage billed separately?", "No.", [], ["https://www.cms.gov"])
    assert desk.approve("R2", draft.id).ok

    assert (1, 0) == desk.export(knowledge)
    text = (knowledge / "faq" / "units.yaml").read_text()
    assert text.startswith("# Units: hand-written") and "  # the next one is edited\n" in text
    after = {e.id: e for e in load_kb(knowledge / "faq").entries}
    assert (date(2026, 5, 1), date(2027, 5, 1)) == (after["massage-units"].last_verified, after["massage-units"].review_by)
    assert "97110, 97112, 97124, 97140 and 97530." == after["timed-codes"].answer
    assert "is-hot-stone-massage-billed-separately" in after
    assert [
        {"q": "is hot stone massage billed separately", "expect": "is-hot-stone-massage-billed-separately"},
        {"q": "best pizza in town", "expect": None},
    ] == yaml.safe_load((knowledge / "asked" / "a.yaml").read_text())["questions"]
    assert [] == desk.changed_entries()  # exported: the overlay is clear
    log.close()
