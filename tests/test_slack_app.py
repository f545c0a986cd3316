"""The Slack listeners, in process: signed requests through `app.async_dispatch`, Web API calls
answered by the local fake. The real-HTTP path is in test_slack_http.py."""

from __future__ import annotations

import json

from bot.slack.app import build_app, make_client
from bot.storage.querylog import QueryLog
from tests import payloads as p
from tests.conftest import dispatch


def _texts(blocks: list[dict]) -> str:
    """Every piece of text in some blocks, joined (for 'does it say X' checks)."""
    out = []

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    out.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(blocks)
    return "\n".join(out)


def _rows(querylog: QueryLog, table: str) -> list[dict]:
    assert querylog.flush(3)
    with querylog.open_db() as db:
        return list(db.table(table).rows)


async def test_units_command_is_answered_privately_in_the_ack(slack_app, fake_slack, querylog):
    response = await dispatch(slack_app, p.slash("97124 53 min"))
    assert 200 == response.status
    body = json.loads(response.body)
    assert "ephemeral" == body["response_type"]
    text = _texts(body["blocks"])
    assert "*4 units* of 97124" in text
    assert "Rule: CMS 8-minute rule" in text and "Rules vary by payer and state" in text
    feedback = body["blocks"][-1]
    assert "context_actions" == feedback["type"]
    value = feedback["elements"][0]["positive_button"]["value"]
    assert value.startswith("up:q")
    assert [] == fake_slack.calls("chat.postMessage")  # nothing posted: the ack carried it
    [row] = _rows(querylog, "queries")
    assert (value[3:], "slash", "T111", "C1", "U1", "units", "cms") == (
        row["id"],
        row["surface"],
        row["team_id"],
        row["channel_id"],
        row["user_id"],
        row["kind"],
        row["rule"],
    )
    assert "97124 53m 4u = 4u/53m" == row["units_summary"]


async def test_units_alone_or_help_gives_usage_with_examples(slack_app):
    for text in ("", "help"):
        body = json.loads((await dispatch(slack_app, p.slash(text))).body)
        said = _texts(body["blocks"])
        assert "`/units 40 min 97140`" in said
        assert "*Rule in this channel:* CMS 8-minute rule" in said
        assert "/units rule ama" in said
        assert "ephemeral" == body["response_type"]


async def test_channel_rule_is_set_shown_used_and_overridable(slack_app):
    said = _texts(json.loads((await dispatch(slack_app, p.slash("rule ama"))).body)["blocks"])
    assert "now *AMA/CPT midpoint rule (per code)*" in said
    said = _texts(json.loads((await dispatch(slack_app, p.slash("rule"))).body)["blocks"])
    assert "Rule here: *AMA/CPT midpoint rule (per code)* (set for this channel)" in said
    said = _texts(
        json.loads((await dispatch(slack_app, p.slash("25 min 97124 + 20 min 97140"))).body)["blocks"]
    )
    assert "Rule: AMA/CPT midpoint rule (per code)" in said
    said = _texts(
        json.loads((await dispatch(slack_app, p.slash("25 min 97124 + 20 min 97140 cms"))).body)["blocks"]
    )
    assert "Rule: CMS 8-minute rule" in said  # named in the message: wins for that message
    other = _texts(
        json.loads((await dispatch(slack_app, p.slash("40 min 97140", channel="C2"))).body)["blocks"]
    )
    assert "Rule: CMS 8-minute rule" in other  # another channel keeps the default


async def test_channel_rule_survives_a_restart(slack_settings, answerer, querylog):
    app = build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=querylog)
    await dispatch(app, p.slash("rule cigna"))
    querylog.close()
    reopened = QueryLog(slack_settings.db_path).start()
    try:
        app = build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=reopened)
        said = _texts(json.loads((await dispatch(app, p.slash("60 min 97124"))).body)["blocks"])
        assert "Rule: Cigna" in said
    finally:
        reopened.close()


async def test_unknown_rule_is_refused_and_echoed_safely(slack_app, querylog):
    body = (await dispatch(slack_app, p.slash("rule <!channel>"))).body
    assert "<!channel>" not in body
    said = _texts(json.loads(body)["blocks"])
    assert "I don't know the rule `&lt;!channel&gt;`" in said and "`ama`" in said
    assert querylog.channel_rule("C1") is None


async def test_echoed_question_can_never_ping_or_link(slack_app):
    question = "<!channel> <@U123> <!here|here> <https://evil.example|click> 40 min 97140 & more"
    body = (await dispatch(slack_app, p.slash(question))).body
    for live in ("<!channel>", "<@U123>", "<!here", "<https://evil"):
        assert live not in body
    said = _texts(json.loads(body)["blocks"])
    assert "You asked: &lt;!channel&gt; &lt;@U123&gt;" in said
    assert "&amp; more" in said


async def test_codes_lists_the_code_table(slack_app):
    said = _texts(json.loads((await dispatch(slack_app, p.slash("codes"))).body)["blocks"])
    assert "`97124` timed: Massage" in said and "`97010` untimed" in said


async def test_dm_is_answered_in_the_dm(slack_app, fake_slack, querylog):
    response = await dispatch(slack_app, p.dm("40 min 97140"))
    assert 200 == response.status
    [sent] = fake_slack.calls("chat.postMessage")
    assert ("D1", None) == (sent["channel"], sent.get("thread_ts"))
    assert "*3 units* of 97140" in sent["text"] and "*3 units* of 97140" in _texts(sent["blocks"])
    assert ["dm"] == [r["surface"] for r in _rows(querylog, "queries")]


async def test_other_message_events_are_acknowledged_and_ignored(slack_app, fake_slack, querylog):
    for request in (
        p.dm("40 min 97140", subtype="message_changed"),
        p.dm("40 min 97140", subtype="message_deleted"),
        p.dm("40 min 97140", bot_id="BOTHER", subtype="bot_message"),
        p.dm("40 min 97140", user=p.BOT_USER),
        p.event(
            {
                "type": "message",
                "channel_type": "channel",
                "user": "U1",
                "text": "hi",
                "ts": "1.1",
                "channel": "C1",
            }
        ),
    ):
        assert 200 == (await dispatch(slack_app, request)).status  # not 404: Slack would retry a 404
    assert [] == fake_slack.calls("chat.postMessage")
    assert [] == _rows(querylog, "queries")


async def test_mention_replies_in_a_thread(slack_app, fake_slack):
    await dispatch(slack_app, p.mention("40 min 97140", ts="1700000000.000100"))
    await dispatch(
        slack_app, p.mention("do I need an NPI?", ts="1700000000.000500", thread_ts="1700000000.000001")
    )
    first, second = fake_slack.calls("chat.postMessage")
    assert ("C1", "1700000000.000100") == (first["channel"], first["thread_ts"])
    assert ("C1", "1700000000.000001") == (second["channel"], second["thread_ts"])
    assert "NPI" in second["text"]
    assert "answer_feedback" in json.dumps(second["blocks"])


async def test_home_tab_shows_usage_and_the_default_rule(slack_app, fake_slack):
    await dispatch(slack_app, p.home_opened("U1"))
    await dispatch(slack_app, p.home_opened("U1", tab="messages"))
    [published] = fake_slack.calls("views.publish")
    assert "U1" == published["user_id"]
    said = _texts(published["view"]["blocks"])
    assert "*Rule by default:* CMS 8-minute rule" in said and "`/units 40 min 97140`" in said
    assert "Review desk" not in said


async def test_helpful_click_is_recorded(slack_app, fake_slack, querylog):
    body = json.loads((await dispatch(slack_app, p.slash("40 min 97140"))).body)
    query_id = body["blocks"][-1]["elements"][0]["positive_button"]["value"][3:]
    assert 200 == (await dispatch(slack_app, p.feedback_click(f"up:{query_id}", user="U7"))).status
    [vote] = _rows(querylog, "feedback")
    assert (query_id, "U7", 1, None) == (vote["query_id"], vote["user_id"], vote["helpful"], vote["reason"])
    assert [] == fake_slack.calls("views.open")


async def test_not_helpful_asks_why_and_records_the_reason(slack_app, fake_slack, querylog):
    await dispatch(slack_app, p.feedback_click("down:q42", user="U7"))
    assert [("q42", 0, None)] == [
        (r["query_id"], r["helpful"], r["reason"]) for r in _rows(querylog, "feedback")
    ]
    [opened] = fake_slack.calls("views.open")
    assert ("feedback_reason", "q42") == (opened["view"]["callback_id"], opened["view"]["private_metadata"])
    submitted = p.view_submission(
        "feedback_reason",
        {"reason": {"reason": {"value": "payer"}}, "note": {"note": "my payer counts per code"}},
        private_metadata="q42",
        user="U7",
    )
    assert 200 == (await dispatch(slack_app, submitted)).status
    [vote] = _rows(querylog, "feedback")  # one vote per user per answer, now with its reason
    assert ("q42", "U7", 0, "payer: my payer counts per code") == (
        vote["query_id"],
        vote["user_id"],
        vote["helpful"],
        vote["reason"],
    )


async def test_malformed_feedback_value_changes_nothing(slack_app, querylog):
    assert 200 == (await dispatch(slack_app, p.feedback_click("sideways:q1"))).status
    assert [] == _rows(querylog, "feedback")


async def test_a_failure_still_acks_and_apologises(slack_app, answerer, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(answerer, "answer", broken)
    response = await dispatch(slack_app, p.slash("40 min 97140"))
    assert 200 == response.status
    assert "something went wrong" in json.loads(response.body)["text"]
    assert "boom" in caplog.text
    assert 200 == (await dispatch(slack_app, p.mention("40 min 97140"))).status  # no retry storm either
