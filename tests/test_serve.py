"""The runners: settings checks, the Starlette app's routes, and a clean shutdown that lets
replies finish and drains the query log (what SIGTERM triggers through uvicorn)."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import httpx
import pytest

from bot.config import Settings
from bot.slack.serve import ConfigError, check, run_server
from bot.storage.querylog import QueryLog
from tests import payloads as p
from tests.conftest import ServedBot, free_port, healthy, serve_http, wait_until

ROOT = Path(__file__).resolve().parent.parent


def test_http_mode_needs_the_signing_secret():
    with pytest.raises(ConfigError, match="SLACK_SIGNING_SECRET"):
        check(Settings(slack_bot_token="xoxb-x"), http=True)
    check(Settings(slack_bot_token="xoxb-x"), http=False)  # Socket Mode doesn't
    with pytest.raises(ConfigError, match="SLACK_BOT_TOKEN"):
        run_server(Settings(slack_signing_secret="s"), force_http=True)


def test_only_post_reaches_bolt(served):
    assert 405 == served.client.get(served.base + "/slack/events").status_code
    assert 404 == served.client.get(served.base + "/").status_code


def test_shutdown_lets_replies_finish_and_drains_the_log(slack_app, querylog, fake_slack):
    served = ServedBot(slack_app, querylog).start()
    for n in range(5):
        served.post(p.mention(f"{20 + n} min 97140", event_id=f"EvSHUT{n}"))
    served.stop()  # what SIGTERM does: uvicorn stops, then the lifespan drains
    assert 5 == len(fake_slack.calls("chat.postMessage"))
    assert 0 == querylog.pending and not querylog.health()["writer_alive"]
    reopened = QueryLog(querylog.path)
    with reopened.open_db() as db:
        assert 5 == db.table("queries").count


def test_serve_command_starts_and_stops_on_sigterm(fake_slack, tmp_path):
    """`billing-bot serve --http` as a real process: healthz answers, SIGTERM exits 0."""
    port = free_port()
    proc = serve_http(fake_slack, tmp_path, port, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        assert wait_until(lambda: healthy(port), 15), "server did not come up"
        body, content_type = p.slash("40 min 97140")
        answer = httpx.post(
            f"http://127.0.0.1:{port}/slack/events",
            content=body,
            headers={"Content-Type": content_type, **p.signed_headers(body)},
        )
        assert "*3 units*" in answer.text
        proc.send_signal(signal.SIGTERM)
        assert 0 == proc.wait(15)
    finally:
        if proc.poll() is None:
            proc.kill()
    with QueryLog(tmp_path / "log.db").open_db() as db:
        assert ["slash"] == [r["surface"] for r in db.table("queries").rows]




def test_events_reach_bolt_without_starlette_and_keep_what_bolt_answers(slack_app, querylog, fake_slack):
    """SlackEvents hands POST /slack/events to Bolt itself: a body in several ASGI messages and a
    query string arrive whole, signatures are still checked, Bolt's status and headers go back."""
    import asyncio

    from bot.slack.serve import http_app

    asgi = http_app(slack_app, querylog)

    async def post(body: bytes, headers: dict[str, str]) -> tuple[int, dict, bytes]:
        chunks = [body[:7], body[7:20], body[20:]]
        messages = [{"type": "http.request", "body": c, "more_body": i < 2} for i, c in enumerate(chunks)]
        sent = []

        async def receive():
            return messages.pop(0)

        async def send(message):
            sent.append(message)

        scope = {
            "type": "http", "method": "POST", "path": "/slack/events", "query_string": b"x=1",
            "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        }
        await asgi(scope, receive, send)
        start, body_message = sent
        return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body_message["body"]

    body, content_type = p.slash("97124 53 min")
    status, headers, answer = asyncio.run(post(body.encode(), p.signed_headers(body, **{"Content-Type": content_type})))
    assert 200 == status and headers["content-type"].startswith("application/json")
    assert int(headers["content-length"]) == len(answer) and b"*4 units* of 97124" in answer
    forged = asyncio.run(post(body.encode(), p.signed_headers(body, secret="wrong", **{"Content-Type": content_type})))
    assert 401 == forged[0]
