"""Telling the asker (issue #13): a question asked in Slack, later linked to an entry or answered
by an approved draft, gets the entry's answer once, where it was asked; unless the asker opted
out in App Home. Signed requests to the app, the Web API faked on 127.0.0.1."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.slack.start_blocks import TELL_ME, TELL_ME_ACTION
from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_curation import rows
from tests.test_slack_review import DRAFT, QUESTION, actions, ask, last_home

NPI_ANSWER = "NPI"  # in the npi-need entry's answer


def posts(fake_slack) -> list[dict]:
    return fake_slack.calls("chat.postMessage")


def follow_ups(fake_slack) -> list[dict]:
    return [c for c in posts(fake_slack) if "A reviewer has found the answer" in json.dumps(c.get("blocks"))]


def checkbox(user: str, ticked: bool) -> tuple[str, str]:
    option = {"text": {"type": "plain_text", "text": "Tell me"}, "value": TELL_ME}
    home = {"id": "VHOME", "type": "home", "callback_id": "", "private_metadata": "", "state": {"values": {}}}
    return p.block_actions(
        {"type": "checkboxes", "action_id": TELL_ME_ACTION, "block_id": "tell_me",
         "selected_options": [option] if ticked else []},
        user=user, container={"type": "view", "view_id": "VHOME"}, view=home,
    )


async def test_a_mention_linked_later_is_answered_once_in_its_thread(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.mention(QUESTION, user="U5", ts="1700000000.000100"))
    [where] = rows(querylog, "asked_where")
    assert {"user_id": "U5", "channel_id": "C1", "thread_ts": "1700000000.000100",
            "message_ts": "1700000000.000100", "told_at": None} == {
        k: where[k] for k in ("user_id", "channel_id", "thread_ts", "message_ts", "told_at")}
    assert QUESTION not in json.dumps(where)  # ids and times only
    qid = where["query_id"]

    await dispatch(slack_app, p.button("review_link_candidate", f"{qid}|npi-need", user="UREV1"))
    [told] = follow_ups(fake_slack)
    assert ("C1", "1700000000.000100") == (told["channel"], told["thread_ts"])
    assert NPI_ANSWER in json.dumps(told["blocks"]) and f"You asked “{QUESTION}”" in json.dumps(
        told["blocks"], ensure_ascii=False)
    [where] = rows(querylog, "asked_where")
    assert ("npi-need", True) == (where["told_entry"], where["told_at"] is not None)

    # linked again (another entry), refreshed, restarted: never told twice
    await dispatch(slack_app, p.external_select("review_link", f"review:{qid}", "npi-apply", user="UREV2"))
    await dispatch(slack_app, p.button("review_refresh", "refresh", user="UREV2"))
    assert 1 == len(follow_ups(fake_slack))


async def test_a_dm_is_answered_in_the_dm_on_the_askers_message(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.dm(QUESTION, user="U6"))
    [where] = rows(querylog, "asked_where")
    assert ("D1", None, "1700000000.000200") == (where["channel_id"], where["thread_ts"], where["message_ts"])
    await dispatch(slack_app, p.button("review_link_candidate", f"{where['query_id']}|npi-need", user="UREV1"))
    [told] = follow_ups(fake_slack)
    assert ("D1", "1700000000.000200") == (told["channel"], told["thread_ts"])


async def test_units_askers_get_a_dm_when_a_draft_from_their_question_is_approved(slack_app, fake_slack, querylog):
    asked = await ask(slack_app, "is hot stone massage billed separately", user="U7")
    [where] = rows(querylog, "asked_where")
    assert (asked["query_id"], "C1", None, None) == (
        where["query_id"], where["channel_id"], where["thread_ts"], where["message_ts"])
    await dispatch(slack_app, p.view_submission("review_draft_submit", DRAFT, user="UREV1",
                                                private_metadata=asked["query_id"]))
    assert [] == follow_ups(fake_slack)  # a draft doesn't answer yet
    await dispatch(slack_app, p.button("review_approve", "is-hot-stone-massage-billed-separately", user="UREV2"))
    [told] = follow_ups(fake_slack)
    assert ("U7", None) == (told["channel"], told.get("thread_ts"))  # the ephemeral answer can't be followed up: a DM
    assert "hot stones are a technique within 97124" in json.dumps(told["blocks"])
    assert "&lt;!channel&gt;" in json.dumps(told["blocks"]) and "<!channel>" not in json.dumps(told["blocks"])


async def test_an_asker_who_opted_out_in_app_home_is_not_told(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.home_opened("U8"))
    [tell_me] = [b for b in last_home(fake_slack, "U8") if b.get("block_id") == "tell_me"]
    assert [TELL_ME] == [o["value"] for o in tell_me["elements"][0]["initial_options"]]  # on by default
    await dispatch(slack_app, checkbox("U8", ticked=False))
    [tell_me] = [b for b in last_home(fake_slack, "U8") if b.get("block_id") == "tell_me"]
    assert "initial_options" not in tell_me["elements"][0]
    assert [("U8", 1)] == [(r["user_id"], r["opted_out"]) for r in rows(querylog, "opt_outs")]

    await dispatch(slack_app, p.mention(QUESTION, user="U8"))
    await dispatch(slack_app, p.mention(QUESTION + "?", user="U9", ts="1700000000.000555"))
    qid = rows(querylog, "asked_where")[0]["query_id"]
    await dispatch(slack_app, p.button("review_link_candidate", f"{qid}|npi-need", user="UREV1"))
    assert ["1700000000.000555"] == [c["thread_ts"] for c in follow_ups(fake_slack)]  # U9 only

    await dispatch(slack_app, checkbox("U8", ticked=True))  # back on: for later questions
    assert [("U8", 0)] == [(r["user_id"], r["opted_out"]) for r in rows(querylog, "opt_outs")]
    assert ("U8", "set_tell_me", True) in actions(querylog)


async def test_a_non_reviewers_forged_link_tells_nobody(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.mention(QUESTION, user="U5"))
    qid = rows(querylog, "asked_where")[0]["query_id"]
    await dispatch(slack_app, p.button("review_link_candidate", f"{qid}|npi-need", user="U1"))
    await dispatch(slack_app, p.button("review_refresh", "refresh", user="U1"))
    assert [] == follow_ups(fake_slack) and [] == rows(querylog, "phrasings")


async def test_only_questions_the_desk_can_answer_are_kept_and_purge_clears_them(slack_app, querylog):
    await dispatch(slack_app, p.mention("40 min 97140", user="U5"))  # a units answer: nothing kept
    assert [] == rows(querylog, "asked_where")
    await dispatch(slack_app, p.mention(QUESTION, user="U5"))
    assert 1 == len(rows(querylog, "asked_where"))
    assert 2 == querylog.purge(timedelta(seconds=-1))  # everything "older" than a second from now
    assert [] == rows(querylog, "asked_where")
