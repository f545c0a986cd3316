"""Runners for the Slack app: Socket Mode (when `SLACK_APP_TOKEN` is set) or HTTP on uvicorn.

HTTP is a small Starlette app: `POST /slack/events` goes to Bolt (signature checked there),
`GET /healthz` answers liveness. Not Bolt's development server: it binds every interface
on a fixed port, polls for acks and has no clean shutdown.

Shutdown (SIGTERM or Ctrl-C) in both modes: stop taking requests, let replies in flight
finish, then drain the query log, so nothing a user was told is lost from the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator

from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.core.errors import BillingBotError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DRAIN_SECONDS = 10.0
# The event loop and HTTP parser uvicorn runs on, named rather than "auto" so a missing
# `uvicorn[standard]` fails at start instead of silently serving on the slower pure-Python stack
# (asyncio + h11 cost about a third more CPU a request, bot and floor alike: issue #15).
UVICORN_STACK = {"loop": "uvloop", "http": "httptools"}


class ConfigError(BillingBotError):
    "The settings don't allow the chosen mode (a token or the signing secret is missing)"


def build_components(settings: Settings):
    """The answerer (fully loaded, so the first question is as fast as the rest), the query log
    (started) and the Bolt app wired to them."""
    from bot.core.answer import Answerer
    from bot.slack.app import build_app, make_client
    from bot.storage.querylog import QueryLog

    answerer = Answerer.from_knowledge(default_rule=settings.rule)
    answerer.matcher  # noqa: B018 - load the knowledge base now: fail at start, not on a question
    querylog = QueryLog(
        settings.db_path, store_text=settings.store_text, purge_days=settings.purge_days
    ).start()
    app = build_app(settings, make_client(settings), answerer=answerer, log=querylog)
    return app, querylog


async def shutdown(app: AsyncApp, querylog, timeout: float = DRAIN_SECONDS) -> None:
    """Let replies in flight finish, close the shared HTTP session, then drain the log."""
    bot = getattr(app, "billing_bot", None)
    if bot is not None and not await bot.background.drain(timeout):
        log.warning("%d Slack replies still running at shutdown", bot.background.pending)
    session = app.client.session
    if session is not None and not session.closed:
        await session.close()
    if querylog is not None:
        await asyncio.to_thread(querylog.close, timeout)


async def _open_session(app: AsyncApp) -> None:
    """One keep-alive aiohttp session for every Web API call (Bolt copies it into each
    request's client) instead of a new connection per reply. Made inside the running loop."""
    import aiohttp

    if app.client.session is None:
        app.client.session = aiohttp.ClientSession()


def http_app(app: AsyncApp, querylog=None, *, health=None) -> Starlette:
    """Starlette app: Bolt at POST /slack/events, liveness at GET /healthz; lifespan drains."""
    handler = AsyncSlackRequestHandler(app)

    async def events(request: Request) -> Response:
        return await handler.handle(request)

    async def healthz(request: Request) -> Response:
        body = {"ok": True}
        if querylog is not None:
            stats = querylog.health()
            body["log"] = {k: stats[k] for k in ("pending", "written", "dropped", "writer_alive")}
        return JSONResponse(body)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await _open_session(app)
        yield
        await shutdown(app, querylog)

    return Starlette(
        routes=[Route(EVENTS_PATH, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )


def check(settings: Settings, http: bool) -> None:
    if not settings.slack_bot_token:
        raise ConfigError(
            "SLACK_BOT_TOKEN is not set (the bot token, xoxb-...): see 'Connect to Slack' in README.md"
        )
    if http and not settings.slack_signing_secret:
        raise ConfigError(
            "SLACK_SIGNING_SECRET is required in HTTP mode (it verifies that requests come from Slack)"
        )


def run_server(
    settings: Settings, *, force_http: bool = False, port: int | None = None, host: str = "0.0.0.0"
) -> None:
    """`billing-bot serve`: Socket Mode when SLACK_APP_TOKEN is set (unless `force_http`), else HTTP."""
    http = force_http or not settings.socket_mode
    check(settings, http)
    app, querylog = build_components(settings)
    try:
        if http:
            import uvicorn

            # uvicorn handles SIGTERM/SIGINT: it stops accepting, finishes requests, runs the lifespan
            # shutdown above (replies, then the log), then re-raises the signal: exit 0 on it.
            with _exit_zero_on(signal.SIGTERM, signal.SIGINT):
                uvicorn.run(
                    http_app(app, querylog),
                    host=host,
                    port=port or settings.port,
                    log_level="info",
                    access_log=False,
                    timeout_graceful_shutdown=DRAIN_SECONDS,
                    **UVICORN_STACK,
                )
        else:
            asyncio.run(run_socket_mode(app, settings.slack_app_token, querylog))
    finally:
        querylog.close()  # idempotent; covers a server that failed to start


@contextlib.contextmanager
def _exit_zero_on(*signals: int):
    """A requested stop is a clean exit (status 0), not death by signal."""

    def leave(signum, frame):
        raise SystemExit(0)

    previous = {sig: signal.signal(sig, leave) for sig in signals}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


async def run_socket_mode(
    app: AsyncApp, app_token: str, querylog=None, *, stop: asyncio.Event | None = None
) -> None:
    """Connect over Socket Mode and serve until SIGTERM/SIGINT (or `stop` is set).

    The socket client uses the app's Web API client, so `SLACK_API_URL` also picks the
    `apps.connections.open` endpoint."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread / Windows
            loop.add_signal_handler(sig, stop.set)
            signals.append(sig)
    await _open_session(app)
    handler = AsyncSocketModeHandler(app, app_token)
    try:
        await handler.connect_async()
        log.info("connected to Slack over Socket Mode")
        await stop.wait()
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        await handler.close_async()  # no new envelopes
        await shutdown(app, querylog)  # replies in flight, then the log
