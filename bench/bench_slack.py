"""Slack target (issue #4): HTTP `/units` under load, side by side with the framework floor.

Two servers, each in its own process and served the same way (uvicorn + Starlette + Bolt's
AsyncSlackRequestHandler on 127.0.0.1): the bot (`bot.slack.serve.http_app` over `build_app`, with
its query log writing to a temporary SQLite file) and a bare Bolt AsyncApp whose /units
listener only acks. A load client in a third process (aiohttp, 16 connections) sends the
same 2,000 signed slash commands to each, in alternating rounds; the figures are medians
over rounds (ratios taken per round). A tiny fake Web API in this process answers `auth.test`.

Target: bot >= 0.8x the floor's requests/s, p99 <= 1.5x the floor's, no failures, server
RSS <= 150 MB afterwards.

`--breakdown` adds three servers to the rounds, to show where the bot's extra time goes: the
floor acking with a canned Block Kit answer (the cost of sending an answer at all), the bot
with its query log off, and that bot answering every message with one fixed answer.

    python -m bench.bench_slack [--requests 2000] [--concurrency 16] [--rounds 5] [--mix units|mixed]
                                [--breakdown]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlencode

SECRET = "bench-signing-secret"
# --breakdown: the floor acking with a canned answer, the bot, the bot with its query log off,
# then also answering every message with one fixed answer (to FIXED_MESSAGE)
BREAKDOWN = ("floor-reply", "bot", "bot-nolog", "bot-fixed")
FIXED_MESSAGE = "25 min 97124 + 20 min 97140"
QUESTIONS = [
    "do I need an NPI?",
    "can I bill 97124 and 97140 together?",
    "what is the 8 minute rule",
    "does medicare cover massage",
    "what modifier for 97140 with an adjustment",
    "help",
]


# -- the servers ----------------------------------------------------------------------------------
def floor_app(settings, reply: dict | None = None):
    """The framework floor: a Bolt AsyncApp configured like the bot's, whose listener only acks
    (with `reply`, it acks with that canned message: the cost of sending an answer at all)."""
    from slack_bolt.async_app import AsyncApp
    from slack_sdk.web.async_client import AsyncWebClient

    app = AsyncApp(
        client=AsyncWebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        signing_secret=settings.slack_signing_secret,
        process_before_response=True,
    )

    @app.command("/units")
    async def units(ack):
        if reply is None:
            await ack()
        else:
            await ack(response_type="ephemeral", **reply)

    return app


def serve(kind: str, port: int, api_url: str, db_dir: str) -> None:
    import uvicorn
    from starlette.applications import Starlette
    from starlette.routing import Route

    from bot.config import Settings
    from bot.slack.serve import build_components, http_app

    settings = Settings(
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        db_path=os.path.join(db_dir, f"{kind}.db"),
    )
    if kind.startswith("bot"):
        app, querylog = build_components(settings)
        if kind in ("bot-nolog", "bot-fixed"):  # the same bot with the query log switched off
            querylog.record_query = lambda record: None
        if kind == "bot-fixed":  # ... and one answer for every message: what's left is Slack plumbing
            answerer = app.billing_bot.answerer
            fixed = answerer.answer(FIXED_MESSAGE)
            answerer.answer = lambda text, rule=None: fixed
        asgi = http_app(app, querylog)
    else:
        from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler

        reply = None
        if kind == "floor-reply":
            from bot.core.answer import Answerer
            from bot.slack import blocks as render

            answer = Answerer.from_knowledge().answer(FIXED_MESSAGE)
            reply = render.message(answer, query_id="q" + "0" * 18, asked=FIXED_MESSAGE)
        handler = AsyncSlackRequestHandler(floor_app(settings, reply))

        async def events(request):
            return await handler.handle(request)

        asgi = Starlette(routes=[Route("/slack/events", events, methods=["POST"])])
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False)


class _FakeApi(BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = json.dumps(
            {
                "ok": True,
                "team_id": "T1",
                "user_id": "UBOT",
                "bot_id": "BBOT",
                "user": "bot",
                "team": "T",
                "url": "https://t.slack.com/",
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


# -- the load client (its own process) ------------------------------------------------------------
def messages(n: int, mix: str, seed: int = 11) -> list[str]:
    from bench.bench_core import units_messages

    texts = units_messages(n, seed=seed)
    if mix == "mixed":  # one in five is a question or help, like a real channel
        rnd = random.Random(seed)
        texts = [rnd.choice(QUESTIONS) if rnd.random() < 0.2 else t for t in texts]
    return texts


def signed_bodies(texts: list[str]) -> list[tuple[bytes, dict]]:
    from slack_sdk.signature import SignatureVerifier

    verifier = SignatureVerifier(SECRET)
    out = []
    ts = str(int(time.time()))
    for i, text in enumerate(texts):
        body = urlencode(
            {
                "token": "x",
                "team_id": "T1",
                "channel_id": f"C{i % 7}",
                "user_id": f"U{i % 50}",
                "command": "/units",
                "text": text,
                "response_url": "http://127.0.0.1:9/",
                "trigger_id": f"t{i}",
            }
        )
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": verifier.generate_signature(timestamp=ts, body=body),
        }
        out.append((body.encode(), headers))
    return out


async def _load(url: str, requests: list[tuple[bytes, dict]], concurrency: int) -> dict:
    import aiohttp

    latencies: list[float] = []
    failures = 0
    queue = iter(requests)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def worker():
            nonlocal failures
            for body, headers in queue:
                started = time.perf_counter()
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        if response.status != 200:
                            failures += 1
                except aiohttp.ClientError:
                    failures += 1
                latencies.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "failures": failures,
        "rps": len(latencies) / elapsed,
        "p50_ms": latencies[len(latencies) // 2],
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
    }


def load(url: str, n: int, concurrency: int, mix: str) -> None:
    bodies = signed_bodies(messages(n, mix))
    print(json.dumps(asyncio.run(_load(url, bodies, concurrency))))


# -- orchestration --------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (noisy neighbours don't inflate it)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def spawn_server(kind: str, api_url: str, db_dir: str) -> tuple[subprocess.Popen, int]:
    """Start `kind` (floor or one of BREAKDOWN) on uvicorn in its own process; returns it and its port."""
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.bench_slack", "--serve", kind, "--port", str(port),
           "--api-url", api_url, "--db-dir", db_dir]
    return subprocess.Popen(cmd), port


@contextlib.contextmanager
def running_servers(kinds):
    """A fake Web API and one server process per kind, listening; yields {kind: (process, port)}."""
    api = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{api.server_address[1]}/"
    servers: dict = {}
    with tempfile.TemporaryDirectory() as db_dir:
        try:
            for kind in kinds:
                servers[kind] = spawn_server(kind, api_url, db_dir)
            for _, port in servers.values():
                _wait_listening(port)
            yield servers
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(20)
            api.shutdown()


def _wait_listening(port: int, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"server on {port} did not start")


def _run_load(port: int, n: int, concurrency: int, mix: str) -> dict:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.bench_slack",
            "--load",
            f"http://127.0.0.1:{port}/slack/events",
            "--requests",
            str(n),
            "--concurrency",
            str(concurrency),
            "--mix",
            mix,
        ],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mix", choices=("units", "mixed"), default="units")
    parser.add_argument("--serve", choices=("floor",) + BREAKDOWN)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also serve the floor acking with a canned answer (floor-reply), the bot without its query "
        "log (bot-nolog) and with neither log nor answering (bot-fixed), and print each one's server CPU "
        "per request: where the bot's time goes",
    )
    parser.add_argument("--load")
    parser.add_argument("--port", type=int)
    parser.add_argument("--api-url")
    parser.add_argument("--db-dir")
    args = parser.parse_args(argv if argv is not None else [])
    if args.serve:
        serve(args.serve, args.port, args.api_url, args.db_dir)
        return {}
    if args.load:
        load(args.load, args.requests, args.concurrency, args.mix)
        return {}

    kinds = ("floor",) + (BREAKDOWN if args.breakdown else ("bot",))
    with running_servers(kinds) as servers:
        procs = {kind: proc for kind, (proc, _) in servers.items()}
        ports = {kind: port for kind, (_, port) in servers.items()}
        for kind in procs:
            _run_load(ports[kind], 300, args.concurrency, args.mix)  # warm up (imports, auth.test, caches)
        # Alternate which goes first, so drift in the machine's load (other jobs) hits both alike;
        # the ratios are taken per round, from runs seconds apart.
        rounds: dict[str, list[dict]] = {kind: [] for kind in kinds}
        for n in range(args.rounds):
            for kind in kinds if n % 2 == 0 else kinds[::-1]:
                cpu = _cpu_seconds(procs[kind].pid)
                figures = _run_load(ports[kind], args.requests, args.concurrency, args.mix)
                figures["cpu_ms"] = (_cpu_seconds(procs[kind].pid) - cpu) * 1000 / args.requests
                rounds[kind].append(figures)
        rss = {kind: _rss_mb(proc.pid) for kind, proc in procs.items()}

    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in rounds[kind])

    result = {
        kind: {
            "rps": median(kind, "rps"),
            "p50_ms": median(kind, "p50_ms"),
            "p99_ms": median(kind, "p99_ms"),
            "cpu_ms": median(kind, "cpu_ms"),
            "failures": sum(r["failures"] for r in rounds[kind]),
            "rss_mb": rss[kind],
        }
        for kind in kinds
    }
    pairs = list(zip(rounds["bot"], rounds["floor"]))
    result["rps_ratio"] = statistics.median(b["rps"] / f["rps"] for b, f in pairs)
    result["p99_ratio"] = statistics.median(b["p99_ms"] / f["p99_ms"] for b, f in pairs)
    result["cpu_ratio"] = result["bot"]["cpu_ms"] / result["floor"]["cpu_ms"]
    result["rounds"] = [
        {"rps_ratio": round(b["rps"] / f["rps"], 2), "p99_ratio": round(b["p99_ms"] / f["p99_ms"], 2)}
        for b, f in pairs
    ]
    ok = (
        result["rps_ratio"] >= 0.8
        and result["p99_ratio"] <= 1.5
        and result["bot"]["failures"] == 0
        and result["bot"]["rss_mb"] <= 150
    )
    print(
        f"HTTP /units, {args.requests} signed requests x {args.rounds} rounds, {args.concurrency} clients, "
        f"mix={args.mix} (median round):"
    )
    for kind in kinds:
        r = result[kind]
        print(
            f"  {kind:11}  {r['rps']:7.0f} req/s   p50 {r['p50_ms']:6.1f} ms   p99 {r['p99_ms']:6.1f} ms   "
            f"failures {r['failures']}   RSS {r['rss_mb']:.0f} MB   server CPU {r['cpu_ms']:.2f} ms/request"
        )
    print(
        "  per round bot/floor: "
        + ", ".join(f"{r['rps_ratio']:.2f}x req/s, p99 {r['p99_ratio']:.2f}x" for r in result["rounds"])
    )
    print(
        f"  bot/floor (median of rounds): {result['rps_ratio']:.2f}x req/s (target >= 0.8), p99 {result['p99_ratio']:.2f}x "
        f"(target <= 1.5), RSS {result['bot']['rss_mb']:.0f} MB (target <= 150): {'OK' if ok else 'MISSED'}"
    )
    print(
        f"  server CPU per request, bot/floor: {result['cpu_ratio']:.2f}x (steadier than req/s on a shared machine;"
        f" 1/x is the req/s ratio a saturated server would show)"
    )
    if args.breakdown:
        cpu = {kind: result[kind]["cpu_ms"] for kind in kinds}
        print(
            f"  server CPU per request over the floor's: sending an answer at all (floor-reply) "
            f"{cpu['floor-reply'] - cpu['floor']:.2f} ms; the bot's query log {cpu['bot'] - cpu['bot-nolog']:.2f} ms, "
            f"answering {cpu['bot-nolog'] - cpu['bot-fixed']:.2f} ms, the rest (rendering, the listener, "
            f"the answer's size) {cpu['bot-fixed'] - cpu['floor']:.2f} ms"
        )
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
