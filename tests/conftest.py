"""Fixtures for the Slack tests: a fake Web API (pytest-httpserver), the app built by
`build_app`, in-process dispatch of signed requests, and the app served by uvicorn on
127.0.0.1 for end-to-end tests. Nothing here reaches beyond 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
import uvicorn
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.config import Settings
from bot.core.answer import Answerer
from bot.core.index_cache import ENV as INDEX_CACHE_ENV
from bot.slack.app import build_app, make_client
from bot.slack.serve import http_app
from bot.storage.querylog import QueryLog
from tests.payloads import BOT_ID, BOT_USER, SECRET, TEAM, signed_headers

AUTH_TEST = {
    "ok": True,
    "url": "https://t.slack.com/",
    "team": "T",
    "user": "billing-bot",
    "team_id": TEAM,
    "user_id": BOT_USER,
    "bot_id": BOT_ID,
    "is_enterprise_install": False,
}
REVIEWERS = frozenset({"UREV1", "UREV2"})


INDEX_CACHE = Path(__file__).resolve().parent.parent / ".test-index-cache"


@pytest.fixture(autouse=True, scope="session")
def _index_cache_for_the_tests():
    """The FAQ index cache (bot.core.index_cache) goes to the checkout's `.test-index-cache/`, not
    ~/.cache, and is built before any test runs: building trains the classifier (~20 s of CPU), and
    the servers the tests start as subprocesses (same directory) must not each pay for it within
    their start-up limits. Its key covers code and knowledge, so a stale index is never read."""
    os.environ[INDEX_CACHE_ENV] = str(INDEX_CACHE)
    Answerer.from_knowledge().matcher


@pytest.fixture(autouse=True, scope="session")
def _user_data_in_the_session(tmp_path_factory):
    """The default database (platformdirs' user data folder, XDG_DATA_HOME on Linux) is this
    session's, never the developer's; and no BILLING_BOT_* setting leaks in from the shell."""
    os.environ["XDG_DATA_HOME"] = str(tmp_path_factory.mktemp("user-data"))
    for name in [n for n in os.environ if n.startswith("BILLING_BOT_") and n != INDEX_CACHE_ENV]:
        del os.environ[name]


_SLACK_ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_APP_TOKEN",
    "SLACK_API_URL",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
)


def wait_until(predicate, timeout: float = 3.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(port: int) -> bool:
    """GET /healthz of a server on 127.0.0.1 says ok (a short pause when it doesn't, for polling)."""
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5).json()["ok"] is True
    except httpx.HTTPError:
        time.sleep(0.05)
        return False


def serve_http(fake_slack, tmp_path, port: int, **popen) -> subprocess.Popen:
    """`billing-bot serve --http` as a real process on `port`, talking to the fake Web API, its query
    log in `tmp_path` (Socket Mode's token removed)."""
    env = {
        **os.environ,
        "SLACK_BOT_TOKEN": "xoxb-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": fake_slack.url,
        "BILLING_BOT_DB": str(tmp_path / "log.db"),
        "PORT": str(port),
    }
    env.pop("SLACK_APP_TOKEN", None)
    return subprocess.Popen([sys.executable, "-m", "bot", "serve", "--http"], cwd=tmp_path, env=env, **popen)


class FakeSlack:
    """The Web API as seen by the bot: canned answers, and every call it received."""

    def __init__(self, server):
        self.server = server
        self.url = server.url_for("/")  # the trailing "/" matters to slack_sdk

    def calls(self, method: str) -> list[dict]:
        out = []
        for request, _ in self.server.log:
            if request.path == f"/{method}":
                out.append(request.get_json(silent=True) or dict(request.form))
        return out

    def wait(self, method: str, count: int = 1, timeout: float = 3.0) -> list[dict]:
        wait_until(lambda: len(self.calls(method)) >= count, timeout)
        return self.calls(method)


@pytest.fixture
def db_path(tmp_path):
    """Where a test's query log lives (a fresh folder per test)."""
    return tmp_path / "log.db"


@pytest.fixture
def fake_slack(httpserver, monkeypatch) -> FakeSlack:
    for var in _SLACK_ENV:  # Bolt reads these by default; a developer's real token must not leak in
        monkeypatch.delenv(var, raising=False)
    httpserver.expect_request("/auth.test").respond_with_json(AUTH_TEST)
    for method in ("chat.postMessage", "views.publish", "views.open", "views.update"):
        httpserver.expect_request(f"/{method}").respond_with_json({"ok": True, "ts": "1700000000.900000"})
    return FakeSlack(httpserver)


@pytest.fixture
def slack_settings(fake_slack, tmp_path) -> Settings:
    return Settings(
        slack_bot_token="xoxb-test",
        slack_signing_secret=SECRET,
        slack_api_url=fake_slack.url,
        db_path=tmp_path / "log.db",
        reviewers=REVIEWERS,
    )


@pytest.fixture
def answerer() -> Answerer:
    """A fresh answerer per test: review actions teach its matcher new phrasings."""
    return Answerer.from_knowledge()


@pytest.fixture
def querylog(slack_settings):
    log = QueryLog(slack_settings.db_path, flush_interval=0.01).start()
    yield log
    log.close()


@pytest.fixture
def slack_app(slack_settings, answerer, querylog):
    return build_app(slack_settings, make_client(slack_settings), answerer=answerer, log=querylog)


async def dispatch(app, request: tuple[str, str], *, secret: str = SECRET, ts: int | None = None, **headers):
    """Signed request through the app in-process; waits for the replies it started."""
    body, content_type = request
    signed = {k.lower(): v for k, v in signed_headers(body, secret=secret, ts=ts, **headers).items()}
    response = await app.async_dispatch(
        AsyncBoltRequest(body=body, headers={"content-type": content_type, **signed})
    )
    await app.billing_bot.background.drain(5)
    return response


class ServedBot:
    """The real HTTP app (`http_app`: SlackEvents + Bolt) on uvicorn, in a thread, on 127.0.0.1:<free port>."""

    def __init__(self, app, querylog):
        self.app = app
        config = uvicorn.Config(
            http_app(app, querylog), host="127.0.0.1", port=0, log_level="warning", lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.client = httpx.Client(timeout=5)

    def start(self) -> ServedBot:
        self.thread.start()
        if not wait_until(lambda: self.server.started, 5):
            raise RuntimeError("uvicorn did not start")
        port = self.server.servers[0].sockets[0].getsockname()[1]
        self.base = f"http://127.0.0.1:{port}"
        return self

    def stop(self) -> None:
        self.client.close()
        self.server.should_exit = True
        self.thread.join(10)

    def post(self, request: tuple[str, str], *, secret: str = SECRET, ts: int | None = None, **headers):
        body, content_type = request
        h = {"Content-Type": content_type, **signed_headers(body, secret=secret, ts=ts, **headers)}
        return self.client.post(self.base + "/slack/events", content=body.encode(), headers=h)

    def idle(self, timeout: float = 3.0) -> bool:
        """True once every reply the app started has been sent."""
        return wait_until(lambda: self.app.billing_bot.background.pending == 0, timeout)


@pytest.fixture
def served(slack_app, querylog):
    bot = ServedBot(slack_app, querylog).start()
    yield bot
    bot.stop()


@pytest.fixture(autouse=True)
def _logging_as_it_was():
    """A command run in-process configures logging (bot.logsetup); the next test starts without it."""
    import logging

    from bot import logsetup

    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield
    if logsetup._handler is not None and logsetup._handler not in handlers:
        root.removeHandler(logsetup._handler)
        logsetup._handler = None
    root.setLevel(level)
