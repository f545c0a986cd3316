"""Runners for the Slack app: Socket Mode (when `SLACK_APP_TOKEN` is set) or HTTP on uvicorn.

HTTP is a small ASGI app: `POST /slack/events` goes straight to Bolt (signature checked
there), `GET /healthz` (a Starlette route) answers liveness. Not Bolt's development server:
it binds every interface on a fixed port, polls for acks and has no clean shutdown.

Start-up fails fast, with one line that says what to fix: token shapes (and a token in the
other's variable) are checked, then `auth.test` with a short timeout, before anything else.
Socket Mode reconnects itself, with exponential backoff (slack_sdk's calculator), one log
line per attempt; a token Slack refuses stops it.

Shutdown (SIGTERM or Ctrl-C) in both modes and at every stage (checking, connecting,
connected, reconnecting): stop taking requests, let replies in flight finish, then drain
the query log, so nothing a user was told is lost from the log. Each wait is bounded, so
the process is gone within a few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator

from slack_bolt.adapter.starlette.async_handler import to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot.config import Settings
from bot.core.errors import BillingBotError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
DRAIN_SECONDS = 3.0  # replies in flight at shutdown
LOG_CLOSE_SECONDS = 1.5  # the query log's last writes at shutdown
AUTH_TIMEOUT = 5.0  # auth.test at start
CONNECT_TIMEOUT = 10.0  # one Socket Mode connection attempt
MAX_BACKOFF = 60.0
STABLE_SECONDS = 30.0  # a connection that lasted this long resets the backoff
# The event loop and HTTP parser uvicorn runs on, named rather than "auto" so a missing
# `uvicorn[standard]` fails at start instead of silently serving on the slower pure-Python stack
# (asyncio + h11 cost about a third more CPU a request, bot and floor alike: issue #15).
UVICORN_STACK = {"loop": "uvloop", "http": "httptools"}
# Per-request work uvicorn does that nothing here uses: rewriting the client address and scheme
# from X-Forwarded-* (a middleware layer and a pass over the headers, ~2 us a request; nothing
# reads scope["client"] or the scheme, and there is no access log) and a "server: uvicorn" header.
UVICORN_LEAN = {"proxy_headers": False, "server_header": False}


class ConfigError(BillingBotError):
    "The settings don't allow the chosen mode, or Slack refused a token: exit 2"


class SlackUnreachable(BillingBotError):
    "The Slack API could not be reached at start (network, proxy or SLACK_API_URL): exit 1"


def build_components(settings: Settings):
    """The answerer (fully loaded, so the first question is as fast as the rest), the query log
    (started) and the Bolt app wired to them."""
    from bot.core.answer import Answerer
    from bot.slack.app import build_app, make_client
    from bot.storage.querylog import QueryLog

    answerer = Answerer.from_knowledge(default_rule=settings.rule)
    answerer.matcher
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
        await asyncio.to_thread(querylog.close, LOG_CLOSE_SECONDS)
    log.info("stopped")


async def _open_session(app: AsyncApp) -> None:
    """One keep-alive aiohttp session for every Web API call (Bolt copies it into each
    request's client) instead of a new connection per reply. Made inside the running loop."""
    import aiohttp

    if app.client.session is None:
        app.client.session = aiohttp.ClientSession()


class SlackEvents:
    """The ASGI app: `POST /slack/events` goes straight to Bolt, everything else (GET /healthz,
    the lifespan, 404 and 405) to the Starlette app `rest`.

    Each Slack request is read from the ASGI messages and handed to `AsyncApp.async_dispatch`
    as Bolt's Starlette adapter would (the raw body, the headers, the query string), and Bolt's
    response is sent back as is; Bolt verifies the signature there, as before. What is skipped
    is only Starlette's per-request wrapping (its middleware, router, Request, Headers and
    Response objects): ~10% of a request's CPU on the event loop."""

    def __init__(self, app: AsyncApp, rest: Starlette):
        self.app, self.rest = app, rest

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != EVENTS_PATH or scope["method"] != "POST":
            return await self.rest(scope, receive, send)
        chunks = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away before sending its body: nothing to answer
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        request = AsyncBoltRequest(
            body=b"".join(chunks).decode("utf-8"),
            query=scope.get("query_string", b"").decode("latin-1") or None,  # None: nothing to parse
            headers={name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]},
        )
        response = await self.app.async_dispatch(request)
        if response.cookies():  # not in this app (no OAuth flow); the adapter's way, to be exact
            return await to_starlette_response(response)(scope, receive, send)
        body = response.body.encode("utf-8") if isinstance(response.body, str) else response.body
        headers = [
            (name.encode("latin-1"), value.encode("latin-1"))
            for name, value in response.first_headers_without_set_cookie().items()
            if name.lower() != "content-length"
        ]
        headers.append((b"content-length", str(len(body)).encode("latin-1")))
        await send({"type": "http.response.start", "status": response.status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def http_app(app: AsyncApp, querylog=None, *, health=None, started: str | None = None) -> SlackEvents:
    """The ASGI app: Bolt at POST /slack/events (`SlackEvents`), liveness at GET /healthz;
    lifespan drains."""

    async def events(request: Request) -> Response:  # never called: SlackEvents answers first
        raise AssertionError("POST /slack/events is served by SlackEvents")

    async def healthz(request: Request) -> Response:
        body = {"ok": True}
        if querylog is not None:
            stats = querylog.health()
            body["log"] = {k: stats[k] for k in ("pending", "written", "dropped", "writer_alive")}
        return JSONResponse(body)

    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await _open_session(app)
        if started:
            log.info("%s", started)
        yield
        await shutdown(app, querylog)

    rest = Starlette(
        routes=[Route(EVENTS_PATH, events, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    return SlackEvents(app, rest)



def check(settings: Settings, http: bool, *, forced_http: bool = False) -> None:
    """The tokens' shapes for the chosen mode; ConfigError says what to set, and where."""
    bot, app_token, secret = settings.slack_bot_token, settings.slack_app_token, settings.slack_signing_secret
    if bot and bot.startswith("xapp-"):
        raise ConfigError(
            "SLACK_BOT_TOKEN holds an app-level token (xapp-...): that one goes in SLACK_APP_TOKEN; "
            "SLACK_BOT_TOKEN takes the Bot User OAuth Token (xoxb-...) from OAuth & Permissions"
        )
    if app_token and app_token.startswith("xox"):
        raise ConfigError(
            f"SLACK_APP_TOKEN holds a {app_token[:4]}- token: it takes the app-level token (xapp-...) from "
            "Basic Information -> App-Level Tokens; the bot token (xoxb-...) goes in SLACK_BOT_TOKEN"
        )
    if not bot:
        mode = "HTTP mode" if http else "Socket Mode"
        raise ConfigError(f"SLACK_BOT_TOKEN is not set: {mode} needs the bot token (xoxb-...) from OAuth & Permissions")
    if not bot.startswith("xoxb-"):
        raise ConfigError(
            f"SLACK_BOT_TOKEN should be a bot token starting xoxb-, not {bot[:5]}...: copy the "
            "Bot User OAuth Token from OAuth & Permissions"
        )
    if app_token and not app_token.startswith("xapp-") and not http:
        raise ConfigError(f"SLACK_APP_TOKEN should be an app-level token starting xapp-, not {app_token[:5]}...")
    if http and not secret:
        if forced_http:
            raise ConfigError(
                "SLACK_SIGNING_SECRET is required in HTTP mode (it verifies that requests come from Slack): "
                "Basic Information -> App Credentials -> Signing Secret"
            )
        raise ConfigError(
            "SLACK_BOT_TOKEN is set, but neither mode is complete: for Socket Mode (recommended) also set "
            "SLACK_APP_TOKEN (xapp-..., Basic Information -> App-Level Tokens); for HTTP mode set "
            "SLACK_SIGNING_SECRET (Basic Information -> App Credentials)"
        )


_BOT_TOKEN_ERRORS = {
    "invalid_auth": "Slack refused SLACK_BOT_TOKEN (invalid_auth): copy the Bot User OAuth Token (xoxb-...) "
    "again from OAuth & Permissions",
    "not_authed": "Slack received no token (not_authed): check SLACK_BOT_TOKEN",
    "account_inactive": "SLACK_BOT_TOKEN belongs to an app that was uninstalled (account_inactive): "
    "reinstall the app and copy its new bot token",
    "token_revoked": "SLACK_BOT_TOKEN was revoked (token_revoked): reinstall the app and copy its new bot token",
    "token_expired": "SLACK_BOT_TOKEN has expired (token_expired): turn off token rotation, or use a fresh token",
}
_APP_TOKEN_ERRORS = {
    "invalid_auth": "Slack refused SLACK_APP_TOKEN (invalid_auth): generate a new app-level token with the "
    "connections:write scope (Basic Information -> App-Level Tokens)",
    "not_allowed_token_type": "SLACK_APP_TOKEN is not an app-level token (not_allowed_token_type): it takes the "
    "xapp-... token from Basic Information -> App-Level Tokens",
    "missing_scope": "SLACK_APP_TOKEN lacks the connections:write scope (missing_scope): add it to the token, "
    "or generate a new one",
    "token_revoked": "SLACK_APP_TOKEN was revoked (token_revoked): generate a new app-level token",
}


def verify_credentials(settings: Settings, timeout: float = AUTH_TIMEOUT) -> dict:
    """`auth.test` with the bot token, once, within `timeout` seconds: the bot's identity.

    :raises ConfigError: Slack refused the token.
    :raises SlackUnreachable: no answer from `SLACK_API_URL` (closed port, DNS, proxy, timeout)."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError, SlackClientError

    quiet = logging.getLogger("bot.slack.preflight")  # the SDK logs the failure we are about to report
    quiet.propagate = False
    quiet.addHandler(logging.NullHandler())
    client = WebClient(
        token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=timeout, retry_handlers=[],
        logger=quiet,
    )
    try:
        return client.auth_test().data
    except SlackApiError as exc:
        error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
        if error in _BOT_TOKEN_ERRORS:
            raise ConfigError(_BOT_TOKEN_ERRORS[error]) from None
        if error:
            raise ConfigError(f"auth.test failed ({error}): check SLACK_BOT_TOKEN") from None
        raise SlackUnreachable(
            f"{settings.slack_api_url} did not answer like the Slack API (HTTP {exc.response.status_code}): "
            "check SLACK_API_URL and any proxy"
        ) from None
    except (OSError, SlackClientError) as exc:  # URLError, refused, reset, timeout: all OSError
        reason = getattr(exc, "reason", None) or exc
        raise SlackUnreachable(
            f"cannot reach the Slack API at {settings.slack_api_url} ({reason}; waited at most {timeout:g} s): "
            "check the network, proxy settings (HTTPS_PROXY) or SLACK_API_URL"
        ) from None


def started_line(mode: str, identity: dict, settings: Settings, where: str = "") -> str:
    """The one line at start: mode, app and team, rule, database, reviewers. Never a token."""
    app = identity.get("user") or "?"
    if identity.get("app_id") or identity.get("bot_id"):
        app += f" ({identity.get('app_id') or identity.get('bot_id')})"
    team = f"{identity.get('team') or '?'} ({identity.get('team_id') or '?'})"
    return (
        f"billing-bot started: mode={mode}{where} app={app} team={team} rule={settings.rule} "
        f"db={settings.db_path} reviewers={len(settings.reviewers)}"
    )


def run_server(
    settings: Settings,
    *,
    force_http: bool = False,
    port: int | None = None,
    host: str = "0.0.0.0",
    auth_timeout: float = AUTH_TIMEOUT,
) -> int:
    """`billing-bot serve`: Socket Mode when SLACK_APP_TOKEN is set (unless `force_http`), else HTTP.

    Returns the exit status (0 after SIGTERM/SIGINT at any stage).
    :raises ConfigError: a setting to fix, or a token Slack refused.
    :raises SlackUnreachable: the Slack API didn't answer at start."""
    from bot.config import prepare_db_folder

    http = force_http or not settings.socket_mode
    querylog = None
    # Until the server's own handlers take over, SIGTERM/SIGINT end a start-up cleanly (status 0).
    with _exit_zero_on(signal.SIGTERM, signal.SIGINT):
        try:
            check(settings, http, forced_http=force_http)
            identity = verify_credentials(settings, auth_timeout)
            prepare_db_folder(settings)
            app, querylog = build_components(settings)
            if http:
                import uvicorn

                port = port or settings.port
                # uvicorn handles SIGTERM/SIGINT: it stops accepting, finishes requests, runs the lifespan
                # shutdown above (replies, then the log), then re-raises the signal: exit 0 on it.
                uvicorn.run(
                    http_app(app, querylog, started=started_line("http", identity, settings, f" port={port}")),
                    host=host,
                    port=port,
                    log_config=None,  # our logging (bot.logsetup), not uvicorn's own handlers
                    log_level="info",
                    access_log=False,
                    timeout_graceful_shutdown=DRAIN_SECONDS,
                    **UVICORN_STACK,
                    **UVICORN_LEAN,
                )
                return 0
            return asyncio.run(
                run_socket_mode(
                    app, settings.slack_app_token, querylog, started=started_line("socket", identity, settings)
                )
            )
        finally:
            if querylog is not None:
                querylog.close(LOG_CLOSE_SECONDS)  # idempotent; covers a server that failed to start


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


class _LastMessage(logging.Handler):
    """Keeps the socket client's last complaint, for our one line, instead of its traceback
    every few seconds (slack_sdk logs "Failed to connect ...; Retrying..." with the stack)."""

    def __init__(self):
        super().__init__(logging.WARNING)
        self.message: str | None = None
        self.failed = asyncio.Event()  # set from the loop's own thread: the SDK logs in a coroutine

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("Failed to connect (error: "):  # its retry loop: one attempt is enough
            message = message.removeprefix("Failed to connect (error: ").removesuffix("); Retrying...")
            self.failed.set()
        self.message = message


def _sdk_logger() -> tuple[logging.Logger, _LastMessage]:
    sdk = logging.getLogger("bot.slack.socket_client")
    sdk.propagate = False
    for old in list(sdk.handlers):
        sdk.removeHandler(old)
    last = _LastMessage()
    sdk.addHandler(last)
    return sdk, last


async def run_socket_mode(
    app: AsyncApp,
    app_token: str,
    querylog=None,
    *,
    stop: asyncio.Event | None = None,
    started: str = "connected to Slack over Socket Mode",
    connect_timeout: float = CONNECT_TIMEOUT,
    ping_interval: float = 10.0,
    backoff_factor: float = 0.5,
) -> int:
    """Connect over Socket Mode and serve until SIGTERM/SIGINT (or `stop` is set); reconnect
    with exponential backoff whenever the connection is lost. Returns 0.

    The socket client uses the app's Web API client, so `SLACK_API_URL` also picks the
    `apps.connections.open` endpoint.
    :raises ConfigError: Slack refused the app-level token."""
    from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):  # not main thread / Windows
            loop.add_signal_handler(sig, stop.set)
            signals.append(sig)
    await _open_session(app)
    sdk_log, last = _sdk_logger()
    handler = AsyncSocketModeHandler(app, app_token, logger=sdk_log, ping_interval=ping_interval)
    client = handler.client
    # We reconnect (with backoff, logged); the SDK's own loop retries at a fixed pace forever.
    client.default_auto_reconnect_enabled = client.auto_reconnect_enabled = False
    dropped = asyncio.Event()

    async def on_close(_message) -> None:
        dropped.set()

    client.on_close_listeners.append(on_close)
    client.on_error_listeners.append(on_close)
    try:
        await _stay_connected(client, stop, dropped, last, started, connect_timeout, backoff_factor)
    finally:
        await handler.close_async()  # no new envelopes
        await shutdown(app, querylog)  # replies in flight, then the log
        for sig in signals:
            loop.remove_signal_handler(sig)
    return 0


async def _stay_connected(client, stop, dropped, last, started, connect_timeout, backoff_factor) -> None:
    import aiohttp
    from slack_sdk.errors import SlackApiError
    from slack_sdk.http_retry.builtin_interval_calculators import BackoffRetryIntervalCalculator

    backoff = BackoffRetryIntervalCalculator(backoff_factor=backoff_factor)
    failures = 0
    connected_once = False
    while not stop.is_set():
        last.message = None
        last.failed.clear()
        try:
            if not await _unless_stopped(stop, _connect_once(client), connect_timeout, last.failed):
                return
        except SlackApiError as exc:
            error = exc.response.get("error") if isinstance(exc.response.data, dict) else None
            if error in _APP_TOKEN_ERRORS:
                raise ConfigError(_APP_TOKEN_ERRORS[error]) from None
            reason = f"apps.connections.open: {error or f'HTTP {exc.response.status_code}'}"
        except TimeoutError:
            reason = last.message if last.failed.is_set() else f"no connection within {connect_timeout:g} s"
        except (aiohttp.ClientError, OSError) as exc:
            reason = f"{type(exc).__name__}: {exc}"
        else:
            if connected_once:
                log.info("reconnected to Slack over Socket Mode")
            else:
                log.info("%s", started)
                connected_once = True
            since = time.monotonic()
            dropped.clear()
            if not await _wait_for_drop(client, stop, dropped):
                return
            if time.monotonic() - since >= STABLE_SECONDS:
                failures = 0
            delay = 0.0 if failures == 0 else min(MAX_BACKOFF, backoff.calculate_sleep_duration(failures - 1))
            failures += 1
            log.warning("lost the Socket Mode connection; reconnecting in %.1f s", delay)
            if await _stopped_within(stop, delay):
                return
            continue
        delay = min(MAX_BACKOFF, backoff.calculate_sleep_duration(failures))
        failures += 1
        log.warning("could not connect to Slack over Socket Mode (%s); retrying in %.1f s (attempt %d)",
                    reason, delay, failures)
        if await _stopped_within(stop, delay):
            return


async def _connect_once(client) -> None:
    client.wss_uri = await client.issue_new_wss_url()
    await client.connect()


async def _unless_stopped(stop: asyncio.Event, coro, timeout: float, failed: asyncio.Event) -> bool:
    """Run `coro` until done (True), `stop` is set (False, `coro` cancelled), or `timeout` passes
    or `failed` is set (TimeoutError, `coro` cancelled)."""
    task = asyncio.ensure_future(coro)
    stopping = asyncio.ensure_future(stop.wait())
    failing = asyncio.ensure_future(failed.wait())
    try:
        done, _ = await asyncio.wait(
            {task, stopping, failing}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED
        )
        if task in done:
            task.result()
            return True
        if stopping in done:
            return False
        raise TimeoutError
    finally:
        for t in (task, stopping, failing):
            t.cancel()
        await asyncio.gather(task, stopping, failing, return_exceptions=True)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


async def _wait_for_drop(client, stop: asyncio.Event, dropped: asyncio.Event, poll: float = 1.0) -> bool:
    """True when the connection is lost (closed, or its pings unanswered); False on stop."""
    while not stop.is_set():
        if dropped.is_set() or not await client.is_connected():
            return True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_first(stop, dropped), poll)
    return False


async def _first(*events: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()
