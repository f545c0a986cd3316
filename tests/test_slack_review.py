"""The review desk on the App Home tab (issue #5), driven by signed Slack requests: reviewers
(UREV1, UREV2 in conftest) see the numbers and the queue, link questions to entries, draft
and approve entries, dismiss items; everyone else sees usage only, and their review actions
change nothing and are logged."""

from __future__ import annotations

import json

from tests import payloads as p
from tests.conftest import dispatch

QUESTION = "do massage folks need that ten digit provider thing"
DRAFT = {
    "question": {"question": "Is hot stone massage billed separately?"},
    "answer": {"answer": "No: hot stones are a technique within 97124 <!channel>, not a separate code."},
    "codes": {"codes": "97124"},
    "sources": {"sources": "AMTA billing guide https://www.amtamassage.org/billing"},
}


async def ask(app, text: str, *, user: str = "U1") -> dict:
    """Ask through /units; the answer as Slack got it, plus its query id."""
    body = json.loads((await dispatch(app, p.slash(text, user=user))).body)
    feedback = [b for b in body["blocks"] if b["type"] == "context_actions"]
    body["query_id"] = feedback[0]["elements"][0]["positive_button"]["value"][3:] if feedback else None
    return body


def _word(n: int) -> str:
    """A made-up word no other n shares (no spelling correction reaches it)."""
    import hashlib

    return "".join(chr(97 + b % 26) for b in hashlib.sha256(str(n).encode()).digest()[:9])


def said(message: dict) -> str:
    return json.dumps(message["blocks"], ensure_ascii=False)


def last_home(fake_slack, user: str) -> list[dict]:
    views = [c["view"] for c in fake_slack.calls("views.publish") if c["user_id"] == user]
    return views[-1]["blocks"] if views else []


def actions(querylog) -> list[tuple]:
    assert querylog.flush(3)
    with querylog.open_db() as db:
        return [(r["user_id"], r["action"], bool(r["ok"])) for r in db.table("review_actions").rows]


async def test_reviewer_home_has_the_desk_and_others_only_usage(slack_app, fake_slack):
    unanswered = await ask(slack_app, "best pizza in town <!channel>")
    await ask(slack_app, "40 min 97140")
    await dispatch(slack_app, p.home_opened("UREV1"))
    await dispatch(slack_app, p.home_opened("U1"))
    desk = json.dumps(last_home(fake_slack, "UREV1"), ensure_ascii=False)
    assert "Review desk" in desk and "*Last 7 days:* 2 questions · 50% answered" in desk
    assert "Unanswered: “best pizza in town" in desk and "<!channel>" not in desk
    assert f'"block_id": "review:{unanswered["query_id"]}"' in desk
    usage = json.dumps(last_home(fake_slack, "U1"))
    assert "Review desk" not in usage and "/units 40 min 97140" in usage
    assert len(last_home(fake_slack, "UREV1")) <= 100


async def test_linking_a_question_answers_it_from_the_next_question(slack_app, fake_slack, querylog):
    first = await ask(slack_app, QUESTION)
    assert "not sure I know the answer" in said(first)
    options = json.loads(
        (
            await dispatch(
                slack_app,
                p.block_suggestion("review_link", f"review:{first['query_id']}", "npi", user="UREV1"),
            )
        ).body
    )
    assert "npi-need" in [o["value"] for o in options["options"]]
    await dispatch(
        slack_app, p.external_select("review_link", f"review:{first['query_id']}", "npi-need", user="UREV1")
    )
    assert "Linked" in json.dumps(last_home(fake_slack, "UREV1"))
    again = await ask(slack_app, QUESTION, user="U2")  # no restart
    assert "NPI" in said(again) and "not sure" not in said(again)
    assert ("UREV1", "link", True) in actions(querylog)
    with querylog.open_db() as db:
        [row] = list(db.table("queries").rows_where("id = ?", [again["query_id"]]))
    assert ("faq", "npi-need") == (row["kind"], row["entry_id"])


async def test_non_reviewer_review_actions_change_nothing_and_are_logged(slack_app, fake_slack, querylog):
    first = await ask(slack_app, QUESTION)
    block = f"review:{first['query_id']}"
    options = json.loads((await dispatch(slack_app, p.block_suggestion("review_link", block, "npi"))).body)
    assert [] == options["options"]
    await dispatch(slack_app, p.external_select("review_link", block, "npi-need", user="U1"))
    await dispatch(slack_app, p.button("review_dismiss", first["query_id"], user="U1"))
    await dispatch(
        slack_app, p.button("review_draft", json.dumps({"q": first["query_id"], "t": QUESTION}), user="U1")
    )
    await dispatch(slack_app, p.view_submission("review_draft_submit", DRAFT, user="U1"))
    await dispatch(slack_app, p.button("review_refresh", "refresh", user="U1"))
    assert "not sure" in said(await ask(slack_app, QUESTION))  # still unanswered
    assert [] == fake_slack.calls("views.open") and [] == fake_slack.calls("views.publish")
    assert [
        ("U1", "link", False),
        ("U1", "dismiss", False),
        ("U1", "draft", False),
        ("U1", "draft", False),
    ] == [a for a in actions(querylog) if a[0] == "U1"]
    await dispatch(slack_app, p.home_opened("UREV1"))
    desk = json.dumps(last_home(fake_slack, "UREV1"))
    assert "*2 questions like this* (2 unanswered)" in desk  # still queued, both of them


async def test_draft_needs_a_second_reviewer_then_answers(slack_app, fake_slack, querylog):
    first = await ask(slack_app, "is hot stone work billable as its own line")
    await dispatch(
        slack_app,
        p.button("review_draft", json.dumps({"q": first["query_id"], "t": "is hot stone"}), user="UREV1"),
    )
    [opened] = fake_slack.calls("views.open")
    assert ("review_draft_submit", first["query_id"]) == (
        opened["view"]["callback_id"],
        opened["view"]["private_metadata"],
    )
    assert "is hot stone" == opened["view"]["blocks"][0]["element"]["initial_value"]
    response = await dispatch(
        slack_app,
        p.view_submission("review_draft_submit", DRAFT, user="UREV1", private_metadata=first["query_id"]),
    )
    assert 200 == response.status and not response.body  # accepted: the modal closes
    assert "Drafted" in json.dumps(last_home(fake_slack, "UREV1"))
    draft_id = "is-hot-stone-massage-billed-separately"
    assert "hot stones are a technique" not in said(
        await ask(slack_app, "Is hot stone massage billed separately?")
    )

    await dispatch(slack_app, p.button("review_approve", draft_id, user="UREV1"))  # own draft: refused
    assert "second reviewer" in json.dumps(last_home(fake_slack, "UREV1"))
    await dispatch(slack_app, p.home_opened("UREV2"))
    assert f'"value": "{draft_id}"' in json.dumps(last_home(fake_slack, "UREV2"))
    await dispatch(slack_app, p.button("review_approve", draft_id, user="UREV2"))
    assert "Approved" in json.dumps(last_home(fake_slack, "UREV2"))

    answered = await ask(slack_app, "Is hot stone massage billed separately?", user="U3")
    text = said(answered)
    assert "hot stones are a technique within 97124" in text
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text  # the reviewer's text can't ping either
    assert [("UREV1", "draft", True), ("UREV1", "approve", False), ("UREV2", "approve", True)] == [
        a for a in actions(querylog) if a[1] in ("draft", "approve")
    ]


async def test_draft_form_errors_come_back_to_the_modal(slack_app, querylog):
    bad = {**DRAFT, "sources": {"sources": "a book on my shelf"}, "codes": {"codes": "97124, 12345"}}
    response = await dispatch(slack_app, p.view_submission("review_draft_submit", bad, user="UREV1"))
    errors = json.loads(response.body)
    assert "errors" == errors["response_action"]
    assert {"sources", "codes"} == set(errors["errors"])
    assert "12345" in errors["errors"]["codes"]
    assert [] == [a for a in actions(querylog) if a[1] == "draft"]


async def test_dismissed_items_leave_the_queue(slack_app, fake_slack):
    first = await ask(slack_app, "best pizza in town")
    await dispatch(slack_app, p.button("review_dismiss", first["query_id"], user="UREV2"))
    home = json.dumps(last_home(fake_slack, "UREV2"))
    assert "Dismissed." in home and f"review:{first['query_id']}" not in home


async def test_home_tab_stays_within_100_blocks(slack_app, fake_slack):
    for n in range(70):  # 70 different questions: near-identical ones would form one cluster
        await ask(slack_app, f"what about {_word(n)} and {_word(n + 100)}")
    await dispatch(slack_app, p.home_opened("UREV1"))
    blocks = last_home(fake_slack, "UREV1")
    assert 90 <= len(blocks) <= 100
    assert "more: handle these, then Refresh" in json.dumps(blocks)


def test_review_flow_over_real_http(served, fake_slack, querylog):
    """One flow through uvicorn and the signature check: ask, link, ask again."""
    first = served.post(p.slash(QUESTION)).json()
    query_id = first["blocks"][-1]["elements"][0]["positive_button"]["value"][3:]
    assert (
        200
        == served.post(
            p.external_select("review_link", f"review:{query_id}", "npi-need", user="UREV2")
        ).status_code
    )
    assert served.idle()
    assert "Linked" in json.dumps(last_home(fake_slack, "UREV2"))
    again = served.post(p.slash(QUESTION)).json()
    assert "NPI" in json.dumps(again["blocks"])
    forged = served.post(
        p.external_select("review_link", f"review:{query_id}", "npi-need", user="UREV2"), secret="forged"
    )
    assert 401 == forged.status_code
