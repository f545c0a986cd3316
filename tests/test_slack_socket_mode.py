"""Socket Mode against a local WebSocket server speaking Slack's envelope protocol (hello,
envelope, ack), as bolt-python's own adapter tests do: an aiohttp app with a /link
WebSocket on 127.0.0.1, whose URL the fake `apps.connections.open` hands out."""

from __future__ import annotations

import asyncio
import json
from urllib.parse import parse_qsl

from aiohttp import WSMsgType, web

from bot.slack.serve import run_socket_mode
from tests import payloads as p


class FakeSocketModeServer:
    """Sends hello, then each queued envelope; collects the acks the app sends back."""

    def __init__(self, envelopes: list[dict]):
        self.envelopes = envelopes
        self.acks: asyncio.Queue[dict] = asyncio.Queue()
        self.connections = 0

    async def link(self, request: web.Request) -> web.WebSocketResponse:
        self.connections += 1
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.send_json(
            {
                "type": "hello",
                "num_connections": 1,
                "debug_info": {"host": "local-test"},
                "connection_info": {"app_id": p.APP_ID},
            }
        )
        for envelope in self.envelopes:
            await ws.send_json(envelope)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await self.acks.put(json.loads(msg.data))
        return ws

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/link", self.link)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        return f"ws://127.0.0.1:{port}/link"

    async def stop(self) -> None:
        await self.runner.cleanup()


def _envelope(envelope_id: str, kind: str, payload: dict, retry: int = 0) -> dict:
    return {
        "envelope_id": envelope_id,
        "type": kind,
        "payload": payload,
        "accepts_response_payload": kind != "events_api",
        "retry_attempt": retry,
        "retry_reason": "timeout" if retry else "",
    }


async def test_socket_mode_answers_and_acks_envelopes(slack_app, fake_slack, querylog):
    slash = dict(parse_qsl(p.slash("97124 53 min")[0]))
    mention = json.loads(p.mention("40 min 97140", ts="1700000000.000100", event_id="EvSOCKET1")[0])
    server = FakeSocketModeServer(
        [
            _envelope("env-1", "slash_commands", slash),
            _envelope("env-2", "events_api", mention),
            _envelope("env-3", "events_api", mention, retry=1),  # Slack re-delivers: acked, not answered
        ]
    )
    url = await server.start()
    fake_slack.server.expect_request("/apps.connections.open").respond_with_json({"ok": True, "url": url})
    stop = asyncio.Event()
    running = asyncio.create_task(run_socket_mode(slack_app, "xapp-1-A111-1-test", stop=stop))
    try:
        acks = {}
        for _ in range(3):
            ack = await asyncio.wait_for(server.acks.get(), 5)
            acks[ack["envelope_id"]] = ack
        assert {"env-1", "env-2", "env-3"} == set(acks)
        assert "*4 units* of 97124" in json.dumps(acks["env-1"]["payload"]["blocks"])  # answered in the ack
        assert "ephemeral" == acks["env-1"]["payload"]["response_type"]
        for _ in range(100):
            if fake_slack.calls("chat.postMessage") and slack_app.billing_bot.background.pending == 0:
                break
            await asyncio.sleep(0.02)
    finally:
        stop.set()
        await asyncio.wait_for(running, 10)
        await server.stop()
    [sent] = fake_slack.calls("chat.postMessage")
    assert ("C1", "1700000000.000100") == (sent["channel"], sent["thread_ts"])
    [(opened, _)] = [(r, s) for r, s in fake_slack.server.log if r.path == "/apps.connections.open"]
    assert "Bearer xapp-1-A111-1-test" == opened.headers["Authorization"]  # SLACK_API_URL used for it too
    assert 1 == server.connections
