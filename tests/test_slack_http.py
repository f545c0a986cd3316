"""End to end over real HTTP: the bot's ASGI app (SlackEvents + Bolt) on uvicorn (127.0.0.1, a free port),
requests signed the way Slack signs them, Web API calls caught by the local fake."""

from __future__ import annotations

import json
import time

from tests import payloads as p
from tests.conftest import wait_until


def _queries(querylog) -> list[dict]:
    assert querylog.flush(3)
    with querylog.open_db() as db:
        return list(db.table("queries").rows)


def test_url_verification_echoes_the_challenge(served):
    response = served.post(p.url_verification("abc123"))
    assert (200, {"challenge": "abc123"}) == (response.status_code, response.json())


def test_healthz(served):
    response = served.client.get(served.base + "/healthz")
    assert 200 == response.status_code and response.json()["ok"] is True


def test_slash_command_answer_comes_back_in_the_response(served):
    response = served.post(p.slash("97124 53 min"))
    assert 200 == response.status_code
    assert "*4 units* of 97124" in json.dumps(response.json()["blocks"])


def test_forged_or_stale_requests_get_401_and_nothing_happens(served, fake_slack, querylog):
    forged = served.post(p.mention("40 min 97140"), secret="not-the-secret")
    stale = served.post(p.slash("40 min 97140"), ts=int(time.time()) - 600)
    unsigned = served.client.post(
        served.base + "/slack/events", content=p.slash("40 min 97140")[0], headers={"Content-Type": p.FORM}
    )
    assert [401, 401, 401] == [forged.status_code, stale.status_code, unsigned.status_code]
    assert "4 units" not in stale.text
    served.idle()
    assert [] == fake_slack.calls("chat.postMessage")
    assert [] == _queries(querylog)


def test_redelivered_event_is_answered_once(served, fake_slack, querylog):
    request = p.mention("40 min 97140", event_id="Ev0RETRY1")
    assert 200 == served.post(request).status_code
    assert 1 == len(fake_slack.wait("chat.postMessage", 1))
    retry = served.post(request, **{"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"})
    assert 200 == retry.status_code  # acknowledged, so Slack stops retrying
    assert served.idle()
    assert 1 == len(fake_slack.calls("chat.postMessage"))
    assert 1 == len(_queries(querylog))


def test_bot_and_own_messages_are_ignored(served, fake_slack):
    for request in (
        p.dm("40 min 97140", bot_id="BOTHER", subtype="bot_message"),
        p.dm("40 min 97140", bot_id=p.BOT_ID),
        p.dm("40 min 97140", user=p.BOT_USER),
    ):
        assert 200 == served.post(request).status_code
    served.post(p.dm("40 min 97140", user="U2"))  # a person, to know when the others would have landed
    fake_slack.wait("chat.postMessage", 1)
    served.idle()
    assert ["D1"] == [c["channel"] for c in fake_slack.calls("chat.postMessage")]


def test_mention_gets_a_threaded_reply(served, fake_slack):
    assert 200 == served.post(p.mention("40 min 97140", ts="1700000000.000100")).status_code
    [sent] = fake_slack.wait("chat.postMessage", 1)
    assert ("C1", "1700000000.000100") == (sent["channel"], sent["thread_ts"])
    assert "*3 units* of 97140" in sent["text"]


def test_feedback_click_is_recorded(served, querylog):
    answer = served.post(p.slash("40 min 97140")).json()
    value = answer["blocks"][-1]["elements"][0]["negative_button"]["value"]
    assert 200 == served.post(p.feedback_click(value, user="U9")).status_code
    assert querylog.flush(3)
    with querylog.open_db() as db:
        assert [(value[5:], "U9", 0)] == [
            (r["query_id"], r["user_id"], r["helpful"]) for r in db.table("feedback").rows
        ]


def test_rate_limited_web_api_call_is_retried(served, fake_slack):
    fake_slack.server.expect_oneshot_request("/chat.postMessage").respond_with_json(
        {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": "0"}
    )
    served.post(p.mention("40 min 97140"))
    assert wait_until(lambda: len(fake_slack.calls("chat.postMessage")) == 2)
    assert served.idle()
    first, second = fake_slack.calls("chat.postMessage")
    assert first == second  # the same message, sent again after the 429
    statuses = [resp.status_code for req, resp in fake_slack.server.log if req.path == "/chat.postMessage"]
    assert [429, 200] == statuses
