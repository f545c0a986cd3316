"""Follow-ups over Slack: a DM, and a thread the bot answered in after a mention, each keep their
last units question. Signed requests in process (and one over real HTTP); the Web API is the local fake."""

from __future__ import annotations

from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_app import _texts


async def test_dm_follow_up_is_worked_out_as_the_question_changed(slack_app, fake_slack):
    await dispatch(slack_app, p.dm("97110: 33, 97140: 7"))
    await dispatch(slack_app, p.dm("what about ama?"))
    first, second = fake_slack.calls("chat.postMessage")
    # CMS: 40 min -> 3 units. AMA: 33 -> 2, 7 -> 0.
    assert "*3 timed units* for 40 timed minutes" in _texts(first["blocks"])
    said = _texts(second["blocks"])
    assert "Same visit as above, under the AMA/CPT midpoint rule" in said
    assert "*2 timed units* for 40 timed minutes" in said


async def test_dm_follow_up_with_nothing_to_follow_gets_a_short_answer(slack_app, fake_slack):
    await dispatch(slack_app, p.dm("what about ama?", user="U7", channel="D7"))
    [sent] = fake_slack.calls("chat.postMessage")
    assert "no earlier units question" in sent["text"]


async def test_thread_follow_up_after_a_mention(slack_app, fake_slack):
    await dispatch(slack_app, p.mention("25 min manual therapy + 20 min NMR", ts="1700000000.000100"))
    # in the bot's thread: mentioned again, with the thread's ts
    await dispatch(slack_app, p.mention("and 10 min of hot pack?", ts="1700000000.000300",
                                        thread_ts="1700000000.000100"))
    # another thread of the same channel has nothing to follow
    await dispatch(slack_app, p.mention("what if it was 45 min?", ts="1700000000.000400",
                                        thread_ts="1700000000.000009"))
    first, second, third = fake_slack.calls("chat.postMessage")
    assert "1700000000.000100" == second["thread_ts"]
    said = _texts(second["blocks"])
    assert "Same visit as above, plus 10 min 97010" in said
    assert "97010 Hot/cold packs: untimed -> *1 unit*" in said
    assert ("1700000000.000009", True) == (third["thread_ts"], "no earlier units question" in third["text"])


async def test_slash_commands_stay_independent(slack_app, fake_slack):
    await dispatch(slack_app, p.dm("40 min 97140"))
    response = await dispatch(slack_app, p.slash("what about ama?", channel="D1"))
    assert "Same visit" not in response.body


async def test_several_visits_in_block_kit_with_labels_escaped(slack_app, fake_slack):
    await dispatch(slack_app, p.dm("Pt <b>1</b>: 40 min 97140; Pt 2: 25 min 97124"))
    [sent] = fake_slack.calls("chat.postMessage")
    said = _texts(sent["blocks"])
    assert "*5 timed units* over 2 visits" in said
    assert "<b>" not in said and "*Pt 2*: *2 units*" in said


def test_thread_follow_up_over_real_http(served, fake_slack):
    assert 200 == served.post(p.mention("40 min 97140", ts="1700000000.000100")).status_code
    fake_slack.wait("chat.postMessage", 1)
    assert 200 == served.post(p.mention("and if it's cigna?", ts="1700000000.000200",
                                        thread_ts="1700000000.000100")).status_code
    first, second = fake_slack.wait("chat.postMessage", 2)
    assert "Same visit as above, under the Cigna" in _texts(second["blocks"])
    assert "*3 units* of 97140" in second["text"] or "*3 units* of 97140" in _texts(second["blocks"])
