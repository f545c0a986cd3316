from datetime import UTC, date, datetime, timedelta

import pytest
import yaml
from sqlite_utils import Database

from bot.core.kb import load_kb
from bot.storage.querylog import QueryLog, QueryRecord, new_query_id, utc_now
from bot.storage.review import ExportError, ReviewDesk, ReviewItem, ReviewResult, _source, slugify

FAST = {"busy_timeout": 0.05, "retry_max": 0.05, "flush_interval": 0.01}
REVIEWERS = frozenset({"R1", "R2"})
KB_IDS = ("massage-units", "modifier-59", "timed-codes")
CMS = ["https://www.cms.gov/medicare/payment/fee-schedules/physician"]


@pytest.fixture
def open_log(db_path):
    logs = []

    def make(**options):
        log = QueryLog(db_path, **{**FAST, **options}).start()
        logs.append(log)
        return log

    yield make
    for log in logs:
        log.close(timeout=2)


@pytest.fixture
def log(open_log):
    return open_log()


@pytest.fixture
def changes():
    return []


@pytest.fixture
def desk(log, changes):
    return ReviewDesk(
        log, REVIEWERS, on_change=lambda: changes.append(1), low_confidence=80, entry_ids=lambda: KB_IDS
    )


def ask(log, text, kind="faq", entry_id="massage-units", score=95.0):
    r = QueryRecord(
        new_query_id(), utc_now(), "dm", "T1", "D1", "U1", text, kind, entry_id, score, None, None, 1.0
    )
    log.record_query(r)
    return r.id


def actions(db_path):
    with Database(db_path) as db:
        return [(a["user_id"], a["action"], a["ok"]) for a in db.table("review_actions").rows]


def test_queue_lists_what_needs_review_most_urgent_first(log, desk):
    unanswered = ask(log, "does aetna cover 99213?", "no_match", None, None)
    unsure = ask(log, "prolonged massage billing", score=71.0)
    ask(log, "how many units for 40 min?", score=97.0)  # confident: not queued
    ask(log, "40 min 97140", "units", None, None)  # unit answers: not queued
    disliked = ask(log, "what is modifier 59", entry_id="modifier-59", score=96.0)
    log.record_feedback(disliked, "U2", False, "wrong for patient John Smith")
    kb = [
        {"id": "timed-codes", "question": "Which codes are timed?", "review_by": "2026-01-01"},
        {"id": "massage-units", "question": "How are units counted?", "review_by": date(2027, 1, 1)},
    ]
    assert log.flush()
    items = desk.queue(kb_entries=kb, today=date(2026, 5, 9))
    assert [
        ("not_helpful", disliked, "not helpful: wrong for patient [name]"),
        ("no_match", unanswered, "no answer"),
        ("low_confidence", unsure, "score 71 for massage-units"),
        ("review_due", "due:timed-codes:2026-01-01", "review by 2026-01-01"),
    ] == [(i.kind, i.id, i.detail) for i in items]
    assert (
        ReviewItem(
            "due:timed-codes:2026-01-01",
            "review_due",
            "Which codes are timed?",
            entry_id="timed-codes",
            detail="review by 2026-01-01",
        )
        == items[-1]
    )
    assert 2 == len(desk.queue(limit=2, kb_entries=kb, today=date(2026, 5, 9)))


def test_non_reviewer_changes_nothing_and_is_logged(log, desk, changes, db_path):
    qid = ask(log, "does aetna cover 99213?", "no_match", None, None)
    assert not desk.is_reviewer("U9")
    results = [
        desk.link("U9", qid, "massage-units"),
        desk.draft("U9", "Q?", "A.", [], CMS),
        desk.approve("U9", "x"),
        desk.dismiss("U9", qid),
    ]
    assert {False} == {r.ok for r in results}
    assert ([], [], []) == (desk.overlay_phrasings(), desk.approved_entries(), changes)
    assert log.flush()
    assert [qid] == [i.id for i in desk.queue()]
    assert [("U9", "link", 0), ("U9", "draft", 0), ("U9", "approve", 0), ("U9", "dismiss", 0)] == actions(
        db_path
    )


def test_link_adds_a_phrasing_at_once_and_keeps_it(open_log, log, desk, changes):
    qid = ask(log, "pt John Smith: can I bill massage and 97140 together?", "no_match", None, None)
    result = desk.link("R1", qid, "modifier-59")
    assert result.ok, result.message
    assert [("modifier-59", "pt [name]: can I bill massage and 97140 together?")] == desk.overlay_phrasings()
    assert [1] == changes
    assert [] == desk.queue()
    assert desk.link("R2", qid, "modifier-59").ok  # linking again is harmless
    assert 1 == len(desk.overlay_phrasings())
    log.close()
    again = ReviewDesk(open_log(), REVIEWERS)
    assert desk.overlay_phrasings() == again.overlay_phrasings()


def test_link_checks_the_entry_and_the_question(log, desk):
    qid = ask(log, "what about 99213?", "no_match", None, None)
    assert ReviewResult(False, "No entry 'no-such-entry' in the knowledge base.") == desk.link(
        "R1", qid, "no-such-entry"
    )
    assert ReviewResult(False, "No question 'q0000' in the log.") == desk.link("R1", "q0000", "massage-units")
    assert [] == desk.overlay_phrasings()


def test_link_needs_stored_text(open_log):
    log = open_log(store_text=False)
    desk = ReviewDesk(log, REVIEWERS)
    result = desk.link("R1", ask(log, "what about 99213?", "no_match"), "massage-units")
    assert (False, []) == (result.ok, desk.overlay_phrasings())
    assert "not stored" in result.message


def test_draft_needs_a_second_reviewer_to_approve(log, desk, changes, db_path):
    drafted = desk.draft(
        "R1",
        "Can I bill 97124 on the same day as 97140?",
        "Yes, with modifier 59 when the areas differ.",
        ["97124", "97140"],
        ["CMS NCCI manual (https://www.cms.gov/ncci)"],
    )
    assert (True, "can-i-bill-97124-on-the-same-day") == (drafted.ok, drafted.id)
    assert [] == desk.approved_entries()
    assert not desk.approve("R1", drafted.id).ok  # the drafter can't approve
    assert [] == changes
    assert desk.approve("R2", drafted.id).ok
    assert [1] == changes
    assert not desk.approve("R2", drafted.id).ok  # only once
    today = datetime.now(UTC).date()
    assert [
        {
            "id": "can-i-bill-97124-on-the-same-day",
            "question": "Can I bill 97124 on the same day as 97140?",
            "phrasings": [],
            "answer": "Yes, with modifier 59 when the areas differ.",
            "codes": ["97124", "97140"],
            "tags": [],
            "state": None,
            "sources": [{"title": "CMS NCCI manual", "url": "https://www.cms.gov/ncci"}],
            "last_verified": today,
            "review_by": today + timedelta(days=365),
        }
    ] == desk.approved_entries()
    assert desk.link(
        "R1", ask(log, "97124 and 97140 same day?", "no_match"), drafted.id
    ).ok  # a new entry links
    assert log.flush()
    assert [
        ("R1", "draft", 1),
        ("R1", "approve", 0),
        ("R2", "approve", 1),
        ("R2", "approve", 0),
        ("R1", "link", 1),
    ] == actions(db_path)


def test_draft_ids_are_unique_and_avoid_kb_ids(desk):
    assert "massage-units-2" == desk.draft("R1", "Massage units", "A.", [], CMS).id
    assert "massage-units-3" == desk.draft("R1", "Massage units?", "B.", [], CMS).id


@pytest.mark.parametrize(
    "question, answer, codes, sources, problem",
    [
        ("  ", "An answer.", [], CMS, "question: String should have at least 1 character"),
        ("A question?", "", [], CMS, "answer: String should have at least 1 character"),
        ("A question?", "An answer.", [], [], "sources: Tuple should have at least 1 item"),
        ("A question?", "An answer.", [], ["AMTA guide"], "sources.0.url: String should match pattern"),
    ],
)
def test_a_draft_must_be_a_loadable_entry(desk, question, answer, codes, sources, problem):
    result = desk.draft("R1", question, answer, codes, sources)
    assert (False, []) == (result.ok, desk.drafts())
    assert problem in result.message


def test_dismiss_queue_items_and_drafts(log, desk):
    qid = ask(log, "what about 99213?", "no_match", None, None)
    kb = [{"id": "timed-codes", "question": "Timed?", "review_by": "2020-01-01"}]
    assert log.flush()
    assert 2 == len(desk.queue(kb_entries=kb))
    assert desk.dismiss("R1", qid).ok
    assert desk.dismiss("R1", "due:timed-codes:2020-01-01").ok
    assert [] == desk.queue(kb_entries=kb)
    draft = desk.draft("R1", "Wrong idea", "Nope.", [], CMS)
    assert desk.dismiss("R2", draft.id).ok
    assert not desk.approve("R2", draft.id).ok
    assert ["dismissed"] == [d["status"] for d in desk.drafts(None)]
    assert not desk.dismiss("R1", "nonsense").ok


def test_export_writes_yaml_then_clears_the_overlay(open_log, log, desk, changes, tmp_path):
    knowledge = tmp_path / "knowledge"
    (knowledge / "faq").mkdir(parents=True)
    (knowledge / "asked").mkdir()
    (knowledge / "asked" / "q.yaml").write_text("questions:\n  - {q: how many units for massage, expect: massage-units}\n")
    desk.link("R1", ask(log, "How many units for massage", "no_match"), "massage-units")  # a duplicate
    desk.link("R1", ask(log, "units for a 53 minute massage?", "no_match"), "massage-units")
    draft = desk.draft("R1", "Is 97124 timed?", "Yes: 15-minute units.", ["97124"], ["https://www.cms.gov"])
    desk.approve("R2", draft.id)
    changes.clear()

    assert (1, 1) == desk.export(knowledge)
    reviewed = yaml.safe_load((knowledge / "faq" / "reviewed.yaml").read_text())
    assert ["is-97124-timed"] == [e["id"] for e in reviewed["entries"]]
    assert ["is-97124-timed"] == [e.id for e in load_kb(knowledge / "faq").entries]  # the bot can load it
    assert {
        "id",
        "question",
        "phrasings",
        "answer",
        "codes",
        "tags",
        "state",
        "sources",
        "last_verified",
        "review_by",
    } == set(reviewed["entries"][0])
    assert {  # links are labelled questions, where kb check and the eval's cross-validation read them
        "questions": [{"q": "units for a 53 minute massage?", "expect": "massage-units"}]
    } == (yaml.safe_load((knowledge / "asked" / "reviewed.yaml").read_text()))
    assert ([], [], [1]) == (desk.overlay_phrasings(), desk.approved_entries(), changes)
    assert (0, 0) == desk.export(knowledge)
    log.close()
    assert ([], []) == (
        ReviewDesk(open_log(), REVIEWERS).overlay_phrasings(),
        ReviewDesk(open_log(), REVIEWERS).approved_entries(),
    )


def test_export_refuses_entries_that_would_break_the_kb(log, desk, tmp_path):
    faq = tmp_path / "knowledge" / "faq"
    faq.mkdir(parents=True)
    (faq / "units.yaml").write_text(
        yaml.safe_dump(
            {
                "entries": [
                    {
                        "id": "timed-codes",
                        "question": "Is 97124 timed?",
                        "phrasings": [],
                        "answer": "Yes.",
                        "codes": [],
                        "tags": [],
                        "state": None,
                        "sources": [{"title": "CMS", "url": CMS[0]}],
                        "last_verified": date(2026, 1, 1),
                        "review_by": date(2027, 1, 1),
                    }
                ]
            }
        )
    )
    desk.approve("R2", desk.draft("R1", "is 97124 timed", "Yes, 15-minute units.", [], CMS).id)
    with pytest.raises(ExportError, match="duplicate phrasing"):
        desk.export(tmp_path / "knowledge")
    assert ["units.yaml"] == sorted(p.name for p in faq.iterdir())
    assert 1 == len(desk.approved_entries())


def test_export_creates_missing_files(desk, tmp_path):
    assert (0, 0) == desk.export(tmp_path / "k")
    assert {"entries": []} == yaml.safe_load((tmp_path / "k" / "faq" / "reviewed.yaml").read_text())


def test_reload_sees_another_process_changes(open_log, log, desk, changes):
    qid = ask(log, "97124 vs 97140?", "no_match")
    assert log.flush()
    other_log = open_log()
    other = ReviewDesk(other_log, REVIEWERS)
    assert other.link("R2", qid, "massage-units").ok
    draft = other.draft("R2", "New question", "New answer.", [], CMS)
    assert other_log.flush()
    assert desk.reload()
    assert [1] == changes
    assert [("massage-units", "97124 vs 97140?")] == desk.overlay_phrasings()
    assert desk.approve("R1", draft.id).ok  # approving the other process's draft
    assert not desk.reload()


def test_week_stats(log, desk):
    ask(log, "a", "no_match", None, None)
    ask(log, "b")
    desk.draft("R1", "Q", "A", [], CMS)
    assert log.flush()
    stats = desk.week_stats()
    assert (2, 50.0, 1, 1, 0, 0) == (
        stats["questions"],
        stats["answered_pct"],
        stats["unanswered"],
        stats["drafts_waiting"],
        stats["approved_not_exported"],
        stats["links_not_exported"],
    )


@pytest.mark.parametrize(
    "source, expected",
    [
        ("https://www.cms.gov", {"title": "https://www.cms.gov", "url": "https://www.cms.gov"}),
        ("CMS manual (https://cms.gov/m)", {"title": "CMS manual", "url": "https://cms.gov/m"}),
        ("AMTA guide", {"title": "AMTA guide", "url": ""}),
        ({"title": "T", "url": "https://u"}, {"title": "T", "url": "https://u"}),
    ],
)
def test_sources(source, expected):
    assert expected == _source(source)


def test_slugify():
    assert "can-i-bill-97124-twice" == slugify("Can I bill 97124 twice?")


def test_apply_to_makes_the_real_answerer_use_the_overlay(log, tmp_path):
    """Link + approve, then the next question is answered from the overlay (no restart)."""
    from bot.core.answer import Answerer

    answerer = Answerer.from_knowledge()
    desk = ReviewDesk(log, REVIEWERS, on_change=lambda: desk.apply_to(answerer.matcher))
    widget = "my clients keep asking about the purple widget thing"
    zebra = "what is the zebra stripe massage policy"
    assert ("no_match", "no_match") == (answerer.answer(widget).kind, answerer.answer(zebra).kind)

    assert desk.link("R1", ask(log, widget, "no_match", None, None), "code-97124").ok
    draft = desk.draft("R1", "What is the zebra stripe massage policy?", "There is none.", [], CMS)
    assert desk.approve("R2", draft.id).ok

    assert ("faq", "code-97124") == (answerer.answer(widget).kind, answerer.answer(widget).id)
    assert ("faq", draft.id) == (answerer.answer(zebra).kind, answerer.answer(zebra).id)
    assert 0 == desk.apply_to(answerer.matcher)  # nothing is added twice
