"""`billing-bot serve` when things go wrong, as a real process against local fakes (127.0.0.1 only):
Slack refuses a token, nothing listens, a token is in the wrong variable, the WebSocket drops,
SIGTERM arrives at each stage. Every wait is short: the process must be gone within 5 s."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from bot.slack.serve import run_socket_mode
from tests import payloads as p
from tests.conftest import AUTH_TEST, wait_until
from tests.test_slack_socket_mode import FakeSocketModeServer, _envelope

STOP_WITHIN = 5.0


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when the socket is: nothing listens there


def _env(tmp_path: Path, **values: str) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BILLING_BOT_"))}
    env.update({"BILLING_BOT_DB": str(tmp_path / "log.db"), "BILLING_BOT_CACHE_DIR": os.environ.get("BILLING_BOT_CACHE_DIR", "off")})
    env.update(values)
    return env


def _serve(tmp_path, *args, **env) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "serve", *args], cwd=tmp_path, env=_env(tmp_path, **env),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def _run(tmp_path, *args, timeout=STOP_WITHIN, **env) -> subprocess.CompletedProcess:
    started = time.monotonic()
    proc = _serve(tmp_path, *args, **env)
    out, err = proc.communicate(timeout=timeout + 10)  # the assertion below is the real limit
    assert time.monotonic() - started < timeout + 3, "serve took too long to give up"  # + start-up
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


def _one_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert 1 == len(lines), stderr
    assert "Traceback" not in stderr
    return lines[0]


def test_invalid_auth_is_one_line_and_exit_2(httpserver, tmp_path):
    httpserver.expect_request("/auth.test").respond_with_json({"ok": False, "error": "invalid_auth"})
    r = _run(tmp_path, SLACK_BOT_TOKEN="xoxb-revoked", SLACK_APP_TOKEN="xapp-1-A1-1-x",
             SLACK_API_URL=httpserver.url_for("/"))
    assert 2 == r.returncode
    line = _one_line(r.stderr)
    assert "Slack refused SLACK_BOT_TOKEN (invalid_auth)" in line and "xoxb-revoked" not in line


def test_unreachable_api_is_one_line_and_exit_1(tmp_path):
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    r = _run(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1-A1-1-x", SLACK_API_URL=url)
    assert 1 == r.returncode
    line = _one_line(r.stderr)
    assert f"cannot reach the Slack API at {url}" in line and "Connection refused" in line


@pytest.mark.parametrize(
    "env, expected",
    [
        ({"SLACK_BOT_TOKEN": "xapp-1-A1-1-x"}, "SLACK_BOT_TOKEN holds an app-level token (xapp-...): that one goes in SLACK_APP_TOKEN"),
        ({"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xoxb-2"}, "SLACK_APP_TOKEN holds a xoxb- token"),
        ({"SLACK_BOT_TOKEN": "xoxp-1", "SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN should be a bot token starting xoxb-"),
        # `make run` with only the bot token: what each mode still needs
        ({"SLACK_BOT_TOKEN": "xoxb-1"}, "for Socket Mode (recommended) also set SLACK_APP_TOKEN"),
        ({"SLACK_APP_TOKEN": "xapp-1"}, "SLACK_BOT_TOKEN is not set: Socket Mode needs the bot token"),
    ],
)
def test_a_token_in_the_wrong_place_is_named_before_any_network(tmp_path, env, expected):
    url = f"http://127.0.0.1:{_closed_port()}/api/"  # never reached: the shapes are checked first
    r = _run(tmp_path, SLACK_API_URL=url, **env)
    assert 2 == r.returncode
    assert expected in _one_line(r.stderr)


def test_make_run_with_a_partial_configuration_explains_both_modes(tmp_path):
    r = subprocess.run([sys.executable, "-m", "bot", "run"], cwd=tmp_path, capture_output=True, text=True,
                       env=_env(tmp_path, SLACK_BOT_TOKEN="xoxb-1"), timeout=30, stdin=subprocess.DEVNULL)
    assert 2 == r.returncode
    line = _one_line(r.stderr)
    assert "SLACK_APP_TOKEN" in line and "SLACK_SIGNING_SECRET" in line and "HTTP mode" in line


class _Hanging:
    """A TCP server on 127.0.0.1 that accepts and never answers: a Slack API that hangs."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/api/"
        self._conns: list[socket.socket] = []

    def wait_for_client(self, timeout: float = 20.0) -> bool:
        """True once the bot has connected (so it is inside the call): no guessing with sleeps on a
        loaded machine, where start-up alone can take over a second."""
        self.sock.settimeout(timeout)
        try:
            conn, _ = self.sock.accept()
        except TimeoutError:
            return False
        self._conns.append(conn)  # held open, never answered
        return True

    def close(self):
        for conn in self._conns:
            conn.close()
        self.sock.close()


def _sigterm_within(proc: subprocess.Popen, limit: float = STOP_WITHIN) -> tuple[int, float, str]:
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(limit + 5)
    finally:
        if proc.poll() is None:
            proc.kill()
    _, err = proc.communicate()
    return code, time.monotonic() - started, err


def test_sigterm_while_auth_test_hangs(tmp_path):
    hanging = _Hanging()
    try:
        proc = _serve(tmp_path, SLACK_BOT_TOKEN="xoxb-1", SLACK_APP_TOKEN="xapp-1", SLACK_API_URL=hanging.url)
        assert hanging.wait_for_client()  # inside auth.test (it would wait 5 s)
        code, took, err = _sigterm_within(proc)
    finally:
        hanging.close()
    assert (0, True) == (code, took < STOP_WITHIN), err
    assert "Traceback" not in err


def _socket_mode_process(tmp_path, fake_slack, ws_url: str, **env) -> subprocess.Popen:
    fake_slack.server.expect_request("/apps.connections.open").respond_with_json({"ok": True, "url": ws_url})
    return _serve(tmp_path, SLACK_BOT_TOKEN="xoxb-test", SLACK_APP_TOKEN="xapp-1-A111-1-test",
                  SLACK_API_URL=fake_slack.url, **env)


class _ThreadedSocketServer:
    """FakeSocketModeServer on its own loop in a thread, for a bot in another process."""

    def __init__(self, envelopes=(), close_after_hello=0, accept=True):
        self.fake = FakeSocketModeServer(list(envelopes))
        self.close_after_hello = close_after_hello
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        if close_after_hello:
            original = self.fake.link

            async def link(request):
                if self.fake.connections < close_after_hello:
                    from aiohttp import web

                    self.fake.connections += 1
                    ws = web.WebSocketResponse()
                    await ws.prepare(request)
                    await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": p.APP_ID}})
                    await ws.close()  # the connection drops
                    return ws
                return await original(request)

            self.fake.link = link
        self.url = asyncio.run_coroutine_threadsafe(self.fake.start(), self.loop).result(5)

    def acks(self, n: int, timeout: float = 10) -> list[dict]:
        async def get():
            return [await asyncio.wait_for(self.fake.acks.get(), timeout) for _ in range(n)]

        return asyncio.run_coroutine_threadsafe(get(), self.loop).result(timeout + 1)

    def stop(self):
        asyncio.run_coroutine_threadsafe(self.fake.stop(), self.loop).result(5)
        self.loop.call_soon_threadsafe(self.loop.stop)


def test_sigterm_when_connected_drains_the_log_and_logs_one_start_line(tmp_path, fake_slack):
    slash = dict(__import__("urllib.parse").parse.parse_qsl(p.slash("40 min 97140")[0]))
    server = _ThreadedSocketServer([_envelope("env-1", "slash_commands", slash)])
    try:
        proc = _socket_mode_process(tmp_path, fake_slack, server.url, BILLING_BOT_REVIEWERS="U1,U2")
        [ack] = server.acks(1, timeout=20)
        assert "*3 units* of 97140" in json.dumps(ack["payload"])
        code, took, err = _sigterm_within(proc)
    finally:
        server.stop()
    assert 0 == code and took < STOP_WITHIN, err
    [started] = [line for line in err.splitlines() if "billing-bot started" in line]
    assert (f"mode=socket app=billing-bot ({AUTH_TEST['bot_id']}) team=T ({AUTH_TEST['team_id']}) rule=cms "
            f"db={tmp_path / 'log.db'} reviewers=2") in started
    assert "xoxb-test" not in err and "xapp-1-A111" not in err and "40 min" not in err  # no token, no question
    assert "As you gave" not in err
    with Database(tmp_path / "log.db") as db:
        assert ["slash"] == [r["surface"] for r in db.table("queries").rows]  # no row lost


def test_sigterm_while_connecting_to_a_websocket_that_never_opens(tmp_path, fake_slack):
    hanging = _Hanging()
    try:
        proc = _socket_mode_process(tmp_path, fake_slack, hanging.url.replace("http", "ws"))
        assert wait_until(lambda: fake_slack.calls("apps.connections.open"), 20)
        assert hanging.wait_for_client()  # the WebSocket handshake is under way
        code, took, err = _sigterm_within(proc)
    finally:
        hanging.close()
    assert 0 == code and took < STOP_WITHIN, err
    assert "Traceback" not in err


def test_sigterm_while_waiting_to_reconnect(tmp_path, fake_slack):
    url = f"ws://127.0.0.1:{_closed_port()}/link"  # refused: the bot backs off and retries
    proc = _socket_mode_process(tmp_path, fake_slack, url)
    assert wait_until(lambda: len(fake_slack.calls("apps.connections.open")) >= 2, 20)
    code, took, err = _sigterm_within(proc)
    assert 0 == code and took < STOP_WITHIN, err
    retries = [line for line in err.splitlines() if "could not connect to Slack over Socket Mode" in line]
    assert retries and "retrying in" in retries[0] and "(attempt 1)" in retries[0]
    assert "Traceback" not in err and "Retrying..." not in err  # the SDK's own noise stays out


def test_sigterm_in_http_mode_before_any_request(tmp_path, fake_slack):
    port = _closed_port()
    proc = _serve(tmp_path, "--http", SLACK_BOT_TOKEN="xoxb-test", SLACK_SIGNING_SECRET=p.SECRET,
                  SLACK_API_URL=fake_slack.url, PORT=str(port))
    assert wait_until(lambda: _listening(port), 20)
    code, took, err = _sigterm_within(proc)
    assert 0 == code and took < STOP_WITHIN, err
    assert "billing-bot started: mode=http port=" in err


def _listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


async def test_a_dropped_websocket_is_reconnected_and_logged(slack_app, fake_slack, querylog, caplog):
    slash = dict(__import__("urllib.parse").parse.parse_qsl(p.slash("97124 53 min")[0]))
    server = FakeSocketModeServer([_envelope("env-2", "slash_commands", slash)])
    original = server.link

    async def link(request):  # the first connection says hello and drops; the second serves
        from aiohttp import web

        if server.connections == 0:
            server.connections += 1
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            await ws.send_json({"type": "hello", "num_connections": 1, "connection_info": {"app_id": p.APP_ID}})
            await ws.close()
            return ws
        return await original(request)

    server.link = link
    url = await server.start()
    fake_slack.server.expect_request("/apps.connections.open").respond_with_json({"ok": True, "url": url})
    stop = asyncio.Event()
    caplog.set_level(logging.INFO, logger="bot.slack.serve")
    running = asyncio.create_task(run_socket_mode(slack_app, "xapp-1-A111-1-test", stop=stop, backoff_factor=0.05))
    try:
        ack = await asyncio.wait_for(server.acks.get(), 10)
        assert "env-2" == ack["envelope_id"] and "*4 units*" in json.dumps(ack["payload"])
    finally:
        stop.set()
        await asyncio.wait_for(running, 5)
        await server.stop()
    assert 2 == server.connections
    messages = [r.getMessage() for r in caplog.records if r.name == "bot.slack.serve"]
    assert "connected to Slack over Socket Mode" == messages[0]
    assert any(m.startswith("lost the Socket Mode connection; reconnecting in") for m in messages)
    assert "reconnected to Slack over Socket Mode" in messages
    assert 2 == len(fake_slack.calls("apps.connections.open"))


async def test_a_refused_app_token_stops_with_what_to_fix(slack_app, fake_slack):
    from bot.slack.serve import ConfigError

    fake_slack.server.expect_request("/apps.connections.open").respond_with_json({"ok": False, "error": "invalid_auth"})
    with pytest.raises(ConfigError, match=r"Slack refused SLACK_APP_TOKEN \(invalid_auth\)"):
        await asyncio.wait_for(run_socket_mode(slack_app, "xapp-1-bad", stop=asyncio.Event()), 5)
