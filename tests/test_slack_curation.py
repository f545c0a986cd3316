"""The review desk as a curation loop (issue #13), through signed Slack requests to the app with
the Web API faked on 127.0.0.1: "did you mean" buttons, clusters, Verify, Propose edit, and
what a non-reviewer's forged clicks do (nothing, audited)."""

from __future__ import annotations

import json
from datetime import date

import pytest
import yaml
from slack_sdk.models.views import View

from bot.core.answer import escape
from bot.core.kb import FAQ_DIR, load_kb
from bot.storage.querylog import QueryRecord, new_query_id, utc_now
from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_review import QUESTION, actions, ask, last_home, said

NPI_VARIANTS = (
    "do massage folks need that ten digit provider thing",
    "Do massage folks need that ten-digit provider thing?",
    "do massage folks need that ten digit provider thingy",
)


@pytest.fixture
def response_url(fake_slack) -> str:
    """Where Bolt's `respond` posts: the fake Web API, like Slack's own response_url."""
    fake_slack.server.expect_request("/response").respond_with_json({"ok": True})
    return fake_slack.url + "response"


def rows(querylog, table: str) -> list[dict]:
    assert querylog.flush(3)
    with querylog.open_db() as db:
        return list(db.table(table).rows)


def suggestion_buttons(message: dict) -> list[dict]:
    [block] = [b for b in message["blocks"] if b.get("block_id", "").startswith("suggest:")]
    return block["elements"]


def npi_yaml() -> dict:
    entries = yaml.safe_load((FAQ_DIR / "credentials.yaml").read_text())["entries"]
    return next(e for e in entries if e["id"] == "npi-need")


async def test_a_suggestion_click_answers_privately_and_is_recorded_once(slack_app, fake_slack, querylog, response_url):
    asked = await ask(slack_app, QUESTION)
    buttons = suggestion_buttons(asked)
    ids = [b["value"].split(":")[1] for b in buttons]
    assert 3 == len(ids) == len(set(ids))  # three different topics to pick from
    picked = ids[2]
    click = {**buttons[2], "block_id": f"suggest:{asked['query_id']}"}
    for _ in range(2):  # a double click is one pick
        await dispatch(slack_app, p.block_actions(click, user="U1", response_url=response_url))
    replies = fake_slack.calls("response")
    assert 2 == len(replies)
    assert ("ephemeral", False) == (replies[0]["response_type"], replies[0]["replace_original"])
    question = next(e for e in load_kb(FAQ_DIR).entries if e.id == picked).question
    assert escape(question) in json.dumps(replies[0]["blocks"], ensure_ascii=False)
    assert [(asked["query_id"], "U1", picked)] == [
        (r["query_id"], r["user_id"], r["entry_id"]) for r in rows(querylog, "picks")
    ]
    assert [] == fake_slack.calls("chat.postMessage")  # private stays private


async def test_a_click_in_a_thread_is_answered_in_that_thread(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.mention(QUESTION, ts="1700000000.000100"))
    [posted] = fake_slack.wait("chat.postMessage")
    button = suggestion_buttons(posted)[0]
    container = {"type": "message", "message_ts": "1700000000.900000", "thread_ts": "1700000000.000100",
                 "channel_id": "C1", "is_ephemeral": False}
    await dispatch(slack_app, p.block_actions({**button, "block_id": "suggest:x"}, user="U7", container=container))
    answer = fake_slack.wait("chat.postMessage", 2)[1]
    assert ("C1", "1700000000.000100") == (answer["channel"], answer["thread_ts"])
    picked = button["value"].split(":")[1]
    question = next(e for e in load_kb(FAQ_DIR).entries if e.id == picked).question
    assert escape(question) in json.dumps(answer["blocks"], ensure_ascii=False)
    assert ["U7"] == [r["user_id"] for r in rows(querylog, "picks")]


async def test_an_unknown_or_expired_question_gets_a_polite_answer(slack_app, fake_slack, querylog, response_url):
    click = {"type": "button", "action_id": "suggestion_pick:0", "block_id": "suggest:qGONE", "value": "qGONE:npi-need"}
    await dispatch(slack_app, p.block_actions(click, response_url=response_url))
    [reply] = fake_slack.calls("response")
    assert reply["text"].startswith("Sorry, I can't find that question any more")
    assert [] == rows(querylog, "picks")


async def test_near_identical_questions_are_one_cluster_with_the_picked_entry_one_click_away(
    slack_app, fake_slack, querylog, response_url
):
    asked = [await ask(slack_app, q, user=f"U{n}") for n, q in enumerate(NPI_VARIANTS)]
    other = await ask(slack_app, "best pizza in town")
    for n in (0, 2):  # two of the three askers picked npi-need
        click = {"type": "button", "action_id": "suggestion_pick:0", "block_id": "s",
                 "value": f"{asked[n]['query_id']}:npi-need"}
        await dispatch(slack_app, p.block_actions(click, user=f"U{n}", response_url=response_url))
    await dispatch(slack_app, p.home_opened("UREV1"))
    desk = json.dumps(last_home(fake_slack, "UREV1"), ensure_ascii=False)
    biggest = desk.index("*3 questions like this* (3 unanswered)")
    assert biggest < desk.index("best pizza in town")  # biggest cluster first
    assert "2 people who asked this picked `npi-need`" in desk
    newest = asked[2]["query_id"]
    assert f'"value": "{newest}|npi-need"' in desk and "Link all 3 to npi-need" in desk

    await dispatch(slack_app, p.button("review_link_candidate", f"{newest}|npi-need", user="UREV1"))
    assert "Linked 3 of 3 questions to npi-need" in json.dumps(last_home(fake_slack, "UREV1"))
    assert [("UREV1", "link", True)] == [a for a in actions(querylog) if a[1] == "link"]  # one action, one row
    assert 3 == len(rows(querylog, "phrasings"))
    again = await ask(slack_app, "do massage folks need that ten digit provider thing", user="U9")
    assert "NPI" in said(again) and "not sure" not in said(again)
    home = json.dumps(last_home(fake_slack, "UREV1"))
    assert "questions like this" not in home and other["query_id"] in home


async def test_dismissing_a_cluster_takes_all_of_it_off_the_desk(slack_app, fake_slack, querylog):
    asked = [await ask(slack_app, q) for q in NPI_VARIANTS]
    await dispatch(slack_app, p.button("review_dismiss", asked[2]["query_id"], user="UREV2"))
    home = json.dumps(last_home(fake_slack, "UREV2"))
    assert "Dismissed 3 questions." in home and "questions like this" not in home
    assert {a["query_id"] for a in asked} == {r["item_id"] for r in rows(querylog, "dismissals")}


async def test_verify_moves_last_verified_and_review_by_live_and_is_audited(slack_app, fake_slack, querylog):
    entry = npi_yaml()
    every = entry["review_by"] - entry["last_verified"]
    await dispatch(slack_app, p.button("review_verify", "npi-need", user="UREV1"))
    today = date.today()
    [row] = rows(querylog, "verifications")
    assert ("npi-need", today.isoformat(), (today + every).isoformat(), "UREV1") == (
        row["entry_id"], row["last_verified"], row["review_by"], row["verified_by"]
    )
    assert f"Verified npi-need; next review by {today + every}." in json.dumps(last_home(fake_slack, "UREV1"))
    answer = await ask(slack_app, "do I need an NPI?")
    assert f"Checked against its sources {today.isoformat()}" in said(answer)
    assert ("UREV1", "verify", True) in actions(querylog)


EDITED = "You need an NPI when you bill insurance yourself; it is free from NPPES."


async def test_an_edit_is_prefilled_shown_as_a_diff_approved_by_another_then_answers(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.button("review_edit", "npi-need", user="UREV1"))
    [opened] = fake_slack.calls("views.open")
    view = opened["view"]
    View(**view).validate_json()
    fields = {b["block_id"]: b["element"].get("initial_value") for b in view["blocks"] if b["type"] == "input"}
    entry = npi_yaml()
    assert (entry["question"], entry["answer"].strip()) == (fields["question"], fields["answer"].strip())
    sources = fields["sources"].splitlines()
    submitted = {k: {k: v or ""} for k, v in fields.items()}
    submitted["answer"] = {"answer": EDITED}
    response = await dispatch(
        slack_app, p.view_submission("review_edit_submit", submitted, user="UREV1", private_metadata="npi-need")
    )
    assert not response.body  # accepted
    await dispatch(slack_app, p.home_opened("UREV2"))
    desk = json.dumps(last_home(fake_slack, "UREV2"), ensure_ascii=False)
    assert "*Edit* to `npi-need`" in desk and f"+answer: {EDITED}" in desk
    assert "not-an-edit" not in desk and len(sources) == len(entry["sources"])
    assert EDITED not in said(await ask(slack_app, "do I need an NPI?"))  # not before approval

    await dispatch(slack_app, p.button("review_approve", "edit-npi-need", user="UREV1"))  # own edit: refused
    assert "a second reviewer" in json.dumps(last_home(fake_slack, "UREV1"))
    await dispatch(slack_app, p.button("review_approve", "edit-npi-need", user="UREV2"))
    answer = await ask(slack_app, "do I need an NPI?", user="U5")
    assert EDITED in said(answer)  # live, no restart
    [row] = [r for r in rows(querylog, "queries") if r["id"] == answer["query_id"]]
    assert ("faq", "npi-need") == (row["kind"], row["entry_id"])  # the same entry, edited
    assert [("UREV1", "propose_edit", True), ("UREV1", "approve", False), ("UREV2", "approve", True)] == [
        a for a in actions(querylog) if a[1] in ("propose_edit", "approve")
    ]


async def test_a_non_reviewers_forged_desk_clicks_change_nothing_and_are_audited(slack_app, fake_slack, querylog):
    asked = await ask(slack_app, QUESTION)
    await dispatch(slack_app, p.button("review_link_candidate", f"{asked['query_id']}|npi-need", user="U1"))
    await dispatch(slack_app, p.button("review_verify", "npi-need", user="U1"))
    await dispatch(slack_app, p.button("review_edit", "npi-need", user="U1"))
    forged = {"question": {"question": "x"}, "answer": {"answer": "forged"}, "codes": {"codes": ""},
              "sources": {"sources": "CMS https://www.cms.gov/"}, "state": {"state": ""}}
    await dispatch(slack_app, p.view_submission("review_edit_submit", forged, user="U1", private_metadata="npi-need"))
    await dispatch(slack_app, p.button("review_approve", "edit-npi-need", user="U1"))
    assert [] == rows(querylog, "phrasings") + rows(querylog, "verifications") + rows(querylog, "edits")
    assert [] == fake_slack.calls("views.open") and [] == fake_slack.calls("views.publish")
    assert [("U1", "link", False), ("U1", "verify", False), ("U1", "propose_edit", False),
            ("U1", "propose_edit", False), ("U1", "approve", False)] == actions(querylog)
    assert "not sure" in said(await ask(slack_app, QUESTION))


EVIL = "https://evil.example/x|Official_CMS_manual>"


async def test_a_source_url_cannot_relabel_its_link(slack_app, querylog):
    draft = {"question": {"question": "Is hot stone massage billed separately?"}, "answer": {"answer": "No."},
             "codes": {"codes": ""}, "sources": {"sources": EVIL}}
    response = await dispatch(slack_app, p.view_submission("review_draft_submit", draft, user="UREV1"))
    assert {"sources": "A source may not contain |, < or > (they would change how the link reads)."} == json.loads(
        response.body
    )["errors"]
    # the desk refuses it too (the CLI comes this way), and nothing is drafted
    result = slack_app.billing_bot.desk.draft("UREV1", "Is hot stone massage billed?", "No.", (), [EVIL])
    assert not result.ok and "sources.0.url" in result.message
    assert [] == rows(querylog, "drafts")


async def test_the_desk_stays_within_block_kit_limits_with_500_queued_questions(slack_app, fake_slack, querylog):
    for n in range(500):
        text = f"question {n} about {'abcdefghijklmnopqrstuvwxyz'[n % 26]}{n * 7919 % 10007} billing"
        querylog.record_query(QueryRecord(new_query_id(), utc_now(), "dm", "T", "D1", f"U{n}", text,
                                          "no_match", None, None, None, None, 1.0))
    await dispatch(slack_app, p.home_opened("UREV1"))
    [published] = fake_slack.calls("views.publish")
    View(**published["view"]).validate_json()  # slack_sdk's own checks: 100 blocks, text lengths
    blocks = published["view"]["blocks"]
    assert 90 <= len(blocks) <= 100
    assert "more: handle these, then Refresh" in json.dumps(blocks)
