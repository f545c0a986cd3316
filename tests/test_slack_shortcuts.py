"""The message shortcuts and "Share in channel", as Slack sends them (signed message_action and
block_actions requests), with the Web API and the response_url faked on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from tests import payloads as p
from tests.conftest import dispatch
from tests.test_slack_app import _rows, _texts


@pytest.fixture
def response_url(fake_slack) -> str:
    """A response_url on the fake: what the bot posts there is in fake_slack.calls("respond")."""
    fake_slack.server.expect_request("/respond").respond_with_data("ok")
    return fake_slack.url + "respond"


def _table(blocks: list[dict]) -> list[list[str]]:
    [table] = [b for b in blocks if b["type"] == "table"]
    return [[cell["text"] for cell in row] for row in table["rows"]]


def _share_value(blocks: list[dict]) -> str:
    [share] = [b for b in blocks if b.get("block_id") == "share"]
    return share["elements"][0]["value"]


async def test_count_units_answers_a_colleagues_note_privately(slack_app, fake_slack, response_url, querylog):
    note = {"user": "U2", "text": "Pt did 25 min massage and 20 min manual therapy"}
    assert 200 == (await dispatch(slack_app, p.message_action("count_units", note, response_url=response_url))).status
    [sent] = fake_slack.calls("respond")
    assert ("ephemeral", False) == (sent["response_type"], sent["replace_original"])
    said = _texts(sent["blocks"])
    assert "Units in <@U2>'s message: Pt did 25 min massage and 20 min manual therapy" in said
    # 45 timed min -> 3 units (38-52); 97124 gets 1 full block + 1 for its 10 leftover min, 97140 one block
    assert "*3 timed units* for 45 timed minutes under the CMS 8-minute rule" in said
    assert [
        ["Code", "Service", "Minutes", "Units"],
        ["97124", "Massage", "25", "2"],
        ["97140", "Manual therapy", "20", "1"],
        ["Total", " ", "45 timed", "3"],
    ] == _table(sent["blocks"])
    assert "rule from the bot's default" in said
    assert json.loads(_share_value(sent["blocks"]))["m"] == "count"
    [row] = _rows(querylog, "queries")
    assert ("shortcut", "C1", "U1", "units", "97124 25m 2u, 97140 20m 1u = 3u/45m") == (
        row["surface"], row["channel_id"], row["user_id"], row["kind"], row["units_summary"]
    )
    assert [] == fake_slack.calls("chat.postMessage")  # no post as the bot: only the private response


async def test_count_units_counts_even_a_note_that_reads_as_a_question(slack_app, fake_slack, response_url):
    note = {"user": "U2", "text": "did 40 min of 97140 today, is that billable separately?"}
    await dispatch(slack_app, p.message_action("count_units", note, response_url=response_url))
    [sent] = fake_slack.calls("respond")
    assert "*3 units* of 97140 (Manual therapy) for 40 min" in _texts(sent["blocks"])  # 38-52 min = 3


async def test_count_units_on_a_message_without_minutes_or_codes_says_so(slack_app, fake_slack, response_url, querylog):
    await dispatch(slack_app, p.message_action("count_units", {"user": "U2", "text": "see you at the meeting"},
                                               response_url=response_url))
    [sent] = fake_slack.calls("respond")
    assert "I found no minutes or codes in that message" in sent["text"]
    assert "share" not in json.dumps(sent["blocks"])
    assert [] == _rows(querylog, "queries")


async def test_ask_billing_bot_answers_the_message_as_a_question(slack_app, fake_slack, response_url):
    await dispatch(slack_app, p.message_action("ask_billing_bot", {"user": "U2", "text": "do I need an NPI?"},
                                               response_url=response_url))
    [sent] = fake_slack.calls("respond")
    said = _texts(sent["blocks"])
    assert "Asked from <@U2>'s message: do I need an NPI?" in said
    assert "NPI" in sent["text"] and "answer_feedback" in json.dumps(sent["blocks"])


@pytest.mark.parametrize(
    "message, expected",
    [
        ({"user": "U2", "text": "", "files": [{"id": "F1", "name": "notes.png"}], "upload": True},
         "That message has no text I can read"),
        ({"bot_id": "B9", "subtype": "bot_message", "text": "40 min 97140"}, "That's a bot's message"),
        ({"user": "U2", "text": "40 min 97140 " * 3077}, "That message is too long for me (40,001 characters"),
    ],
    ids=["file-only", "bot", "40k"],
)
async def test_a_shortcut_on_what_cant_be_answered_gets_a_short_private_note(
    slack_app, fake_slack, response_url, querylog, message, expected
):
    for callback in ("count_units", "ask_billing_bot"):
        response = await dispatch(slack_app, p.message_action(callback, message, response_url=response_url))
        assert 200 == response.status
    first, second = fake_slack.calls("respond")
    assert first == second and first["response_type"] == "ephemeral"
    assert first["text"].startswith(expected)
    assert len(first["blocks"]) == 1
    assert [] == _rows(querylog, "queries")


async def test_shortcut_answers_echo_the_message_inert(slack_app, fake_slack, response_url):
    note = {"user": "<@U3>", "text": "<!channel> <@U9> 40 min 97140 & <https://evil.example|x>"}
    await dispatch(slack_app, p.message_action("count_units", note, response_url=response_url))
    [request] = [r for r, _ in fake_slack.server.log if r.path == "/respond"]
    raw = request.get_data(as_text=True)
    for live in ("<!channel>", "<@U9>", "<https://evil", "<@<"):
        assert live not in raw
    said = _texts(request.get_json()["blocks"])
    assert "Units in a message: &lt;!channel&gt; &lt;@U9&gt; 40 min 97140 &amp;" in said  # author isn't a user id


async def test_share_posts_a_slash_answer_visibly_with_who_shared_it(slack_app, fake_slack, response_url, querylog):
    body = json.loads((await dispatch(slack_app, p.slash("40 min 97140", user="U1"))).body)
    value = _share_value(body["blocks"])
    query_id = body["blocks"][-1]["block_id"].removeprefix("feedback:")
    assert "share" == body["blocks"][-2]["block_id"]  # the button sits just above the feedback buttons
    await dispatch(slack_app, p.message_button("share_answer", value, user="U1", response_url=response_url))
    [shared] = fake_slack.calls("respond")
    assert ("in_channel", True) == (shared["response_type"], shared["delete_original"])
    said = _texts(shared["blocks"])
    assert said.startswith("<@U1> shared billing-bot's answer to: 40 min 97140")
    assert "*3 units* of 97140" in said and "Share in channel" not in said
    assert f"feedback:{query_id}" == shared["blocks"][-1]["block_id"]  # votes count for the original question
    assert 1 == len(_rows(querylog, "queries"))  # a share isn't a new question


async def test_share_of_a_count_units_answer_counts_again(slack_app, fake_slack, response_url):
    note = {"user": "U2", "text": "did 40 min of 97140 today, is that billable separately?"}
    await dispatch(slack_app, p.message_action("count_units", note, response_url=response_url))
    value = _share_value(fake_slack.calls("respond")[0]["blocks"])
    await dispatch(slack_app, p.message_button("share_answer", value, response_url=response_url))
    shared = fake_slack.calls("respond")[1]
    assert "in_channel" == shared["response_type"]
    assert "*3 units* of 97140" in _texts(shared["blocks"])  # counted, not answered as a question


async def test_a_shared_answer_names_the_sharers_setting_neutrally(slack_app, fake_slack, response_url):
    await dispatch(slack_app, p.home_select("home_setting_rule", "ama", user="U1"))
    body = json.loads((await dispatch(slack_app, p.slash("25 min 97124 + 20 min 97140", user="U1"))).body)
    assert "rule from your Home-tab setting" in _texts(body["blocks"])
    await dispatch(slack_app, p.message_button("share_answer", _share_value(body["blocks"]), response_url=response_url))
    assert "rule from the sharer's Home-tab setting" in _texts(fake_slack.calls("respond")[0]["blocks"])


@pytest.mark.parametrize("value", ["not json", '{"m": "delete", "t": "x"}', '["ask"]', '{"m": "ask"}'])
async def test_a_forged_share_value_posts_nothing(slack_app, fake_slack, response_url, value):
    assert 200 == (await dispatch(slack_app, p.message_button("share_answer", value, response_url=response_url))).status
    assert [] == fake_slack.calls("respond")


async def test_help_and_settings_replies_carry_no_share_button(slack_app):
    for text in ("help", "rule", "codes"):
        body = json.loads((await dispatch(slack_app, p.slash(text))).body)
        assert "share_answer" not in json.dumps(body)


async def test_shortcut_and_share_over_real_http(served, fake_slack, response_url):
    """The same through uvicorn: signed form-encoded payloads as Slack posts them."""
    note = {"user": "U2", "text": "25 min 97124 + 20 min 97140"}
    assert 200 == served.post(p.message_action("count_units", note, response_url=response_url)).status_code
    assert served.idle()
    [private] = fake_slack.wait("respond")
    assert "ephemeral" == private["response_type"]
    value = _share_value(private["blocks"])
    assert 200 == served.post(p.message_button("share_answer", value, response_url=response_url)).status_code
    assert served.idle()
    shared = fake_slack.wait("respond", 2)[1]
    assert "in_channel" == shared["response_type"] and "*3 timed units*" in _texts(shared["blocks"])
    assert 401 == served.post(p.message_action("count_units", note, response_url=response_url), secret="wrong").status_code
