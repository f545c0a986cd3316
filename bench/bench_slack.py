"""Slack target (issue #15): HTTP `/units` under load, side by side with two floors on the same stack.

Three servers, each in its own process and served the way the bot ships (uvicorn with uvloop and
httptools, `bot.slack.serve.UVICORN_STACK`, `bot.slack.serve.SlackEvents` handing each request from
ASGI straight to Bolt's dispatch, 127.0.0.1):

* `floor`: a bare Bolt AsyncApp whose /units listener only acks (what Bolt itself costs);
* `floor-reply`: the same floor acking every request with the bot's own answer to one message
  (FIXED_MESSAGE, rendered once at start): what sending an answer at all costs. This is the
  limit the targets are measured against;
* `bot`: `bot.slack.serve.http_app` over `build_app`, its query log writing to a temporary file.

A load client in its own process (aiohttp, 16 connections) sends the same signed slash commands
to each, in rounds that alternate the order of the servers, on two mixes: units notes only, and
one in five a knowledge-base question or help. Loads go only to 127.0.0.1 and are bounded (a
fixed number of requests, each load killed after LOAD_TIMEOUT seconds). Reported per server:
req/s, p50/p99, failures, RSS, server CPU per request (user + system, every thread of the server
process) and context switches per request (voluntary + involuntary, summed over its threads).
Medians over rounds, ratios taken per round, and the spread (min-max) of the ratios.

Targets: /units bot >= 0.7x floor-reply's req/s, p99 <= 1.5x, 0 failures, RSS <= 150 MB; on the
mix >= 0.6x; server CPU per request <= 0.3 ms.

`--breakdown` adds two servers: the bot with its query log off (`bot-nolog`) and that bot
answering every message with one fixed answer (`bot-fixed`), to show where the time goes.
`--stack asyncio` serves every server on asyncio + h11 instead (the stack before #15).

    python -m bench.bench_slack [--requests 2000] [--concurrency 16] [--rounds 5]
                                [--mix units|mixed|both] [--breakdown] [--stack shipped|asyncio]
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
KINDS = ("floor", "floor-reply", "bot")
# --breakdown: the bot with its query log off, then also answering every message with one fixed
# answer (to FIXED_MESSAGE)
BREAKDOWN = ("bot-nolog", "bot-fixed")
STACKS = {"shipped": None, "asyncio": {"loop": "asyncio", "http": "h11"}}  # None: serve.UVICORN_STACK
LOAD_TIMEOUT = 180.0  # seconds: one load of --requests requests, however slow the machine
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


def serve(kind: str, port: int, api_url: str, db_dir: str, stack: str = "shipped") -> None:
    import uvicorn
    from starlette.applications import Starlette

    from bot.config import Settings
    from bot.slack.serve import UVICORN_LEAN, UVICORN_STACK, build_components, http_app

    settings = Settings(
        slack_bot_token="xoxb-bench",
        slack_signing_secret=SECRET,
        slack_api_url=api_url,
        db_path=os.path.join(db_dir, f"{kind}.db"),
    )
    if kind.startswith("bot"):
        app, querylog = build_components(settings)
        if kind in ("bot-nolog", "bot-fixed"):  # the same bot with the query log switched off:
            import bot.slack.bot  # no record built either, so the difference is all the log costs

            bot.slack.bot.QueryRecord = _NoRecord
            querylog.record_query = lambda record: None
        if kind == "bot-fixed":  # ... and one answer for every message: what's left is Slack plumbing
            answerer = app.billing_bot.answerer
            fixed = answerer.answer(FIXED_MESSAGE)
            answerer.answer = lambda text, **options: fixed  # whatever the listener passes (rule, rule_from, ...)
        asgi = http_app(app, querylog)
    else:
        from bot.slack.serve import SlackEvents

        reply = None
        if kind == "floor-reply":
            from bot.core.answer import Answerer
            from bot.slack import blocks as render

            answer = Answerer.from_knowledge().answer(FIXED_MESSAGE)
            reply = render.message(answer, query_id="q" + "0" * 18, asked=FIXED_MESSAGE)
        # the floors reach Bolt the way the bot does (SlackEvents: ASGI straight to Bolt's dispatch),
        # so the comparison is of what the bot does, not of the route to it
        asgi = SlackEvents(floor_app(settings, reply), Starlette(routes=[]))
    options = STACKS[stack] or UVICORN_STACK
    uvicorn.run(asgi, host="127.0.0.1", port=port, log_level="warning", access_log=False, **options, **UVICORN_LEAN)


class _NoRecord:
    @staticmethod
    def from_answer(*args, **kwargs):
        return None


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
    """User + system CPU time of a process so far, all its threads (noisy neighbours don't inflate it)."""
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def context_switches(pid: int) -> tuple[int, int]:
    """(voluntary, involuntary) context switches so far, summed over the process's threads
    (/proc/<pid>/status alone counts only the main thread)."""
    voluntary = involuntary = 0
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/status") as fh:
                for line in fh:
                    if line.startswith("voluntary_ctxt_switches:"):
                        voluntary += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches:"):
                        involuntary += int(line.split()[1])
        except FileNotFoundError:  # a thread that just ended
            continue
    return voluntary, involuntary


def spawn_server(kind: str, api_url: str, db_dir: str, stack: str = "shipped") -> tuple[subprocess.Popen, int]:
    """Start `kind` (one of KINDS or BREAKDOWN) on uvicorn in its own process; returns it and its port."""
    port = _free_port()
    cmd = [sys.executable, "-m", "bench.bench_slack", "--serve", kind, "--port", str(port),
           "--api-url", api_url, "--db-dir", db_dir, "--stack", stack]
    return subprocess.Popen(cmd), port


@contextlib.contextmanager
def running_servers(kinds, stack: str = "shipped"):
    """A fake Web API and one server process per kind, listening; yields {kind: (process, port)}."""
    api = ThreadingHTTPServer(("127.0.0.1", 0), _FakeApi)
    threading.Thread(target=api.serve_forever, daemon=True).start()
    api_url = f"http://127.0.0.1:{api.server_address[1]}/"
    servers: dict = {}
    with tempfile.TemporaryDirectory() as db_dir:
        try:
            for kind in kinds:
                servers[kind] = spawn_server(kind, api_url, db_dir, stack)
            for _, port in servers.values():
                _wait_listening(port)
            yield servers
        finally:
            for proc, _ in servers.values():
                proc.terminate()
            for proc, _ in servers.values():
                proc.wait(20)
            api.shutdown()


def _wait_listening(port: int, timeout: float = 30) -> None:
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
        timeout=LOAD_TIMEOUT,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def measured_load(proc: subprocess.Popen, port: int, n: int, concurrency: int, mix: str) -> dict:
    """One load, with the server's CPU and context switches per request over it."""
    cpu, (vol, invol) = _cpu_seconds(proc.pid), context_switches(proc.pid)
    figures = _run_load(port, n, concurrency, mix)
    vol2, invol2 = context_switches(proc.pid)
    figures["cpu_ms"] = (_cpu_seconds(proc.pid) - cpu) * 1000 / n
    figures["csw_vol"] = (vol2 - vol) / n
    figures["csw_invol"] = (invol2 - invol) / n
    return figures


def _spread(values) -> str:
    values = sorted(values)
    return f"{statistics.median(values):.2f} ({values[0]:.2f}-{values[-1]:.2f})"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mix", choices=("units", "mixed", "both"), default="both")
    parser.add_argument("--stack", choices=tuple(STACKS), default="shipped")
    parser.add_argument("--serve", choices=KINDS + BREAKDOWN)
    parser.add_argument(
        "--breakdown",
        action="store_true",
        help="also serve the bot without its query log (bot-nolog) and with neither log nor answering "
        "(bot-fixed), and print each one's server CPU per request: where the bot's time goes",
    )
    parser.add_argument("--load")
    parser.add_argument("--port", type=int)
    parser.add_argument("--api-url")
    parser.add_argument("--db-dir")
    args = parser.parse_args(argv if argv is not None else [])
    if args.serve:
        serve(args.serve, args.port, args.api_url, args.db_dir, args.stack)
        return {}
    if args.load:
        load(args.load, args.requests, args.concurrency, args.mix)
        return {}

    kinds = KINDS + (BREAKDOWN if args.breakdown else ())
    mixes = ("units", "mixed") if args.mix == "both" else (args.mix,)
    rounds: dict[tuple[str, str], list[dict]] = {(mix, kind): [] for mix in mixes for kind in kinds}
    with running_servers(kinds, args.stack) as servers:
        for kind, (_, port) in servers.items():
            for mix in mixes:
                _run_load(port, 300, args.concurrency, mix)  # warm up (imports, auth.test, caches)
        # Alternate which goes first, so drift in the machine's load (other jobs) hits all alike;
        # the ratios are taken per round, from runs seconds apart.
        for n in range(args.rounds):
            for mix in mixes:
                for kind in kinds if n % 2 == 0 else kinds[::-1]:
                    proc, port = servers[kind]
                    rounds[mix, kind].append(measured_load(proc, port, args.requests, args.concurrency, mix))
        rss = {kind: _rss_mb(proc.pid) for kind, (proc, _) in servers.items()}

    result: dict = {"stack": args.stack, "rss_mb": rss}
    print(
        f"HTTP /units on the {args.stack} stack, {args.requests} signed requests x {args.rounds} rounds "
        f"per server and mix, {args.concurrency} clients; medians of rounds (min-max of the per-round ratios):"
    )
    for mix in mixes:
        per = {kind: rounds[mix, kind] for kind in kinds}
        med = {
            kind: {key: statistics.median(r[key] for r in per[kind]) for key in per[kind][0]} for kind in kinds
        }
        for kind in kinds:
            med[kind]["failures"] = sum(r["failures"] for r in per[kind])
        ratios = {
            f"{key}_vs_{base}": [
                (b[key] / f[key]) for b, f in zip(per["bot"], per[base])
            ]
            for key in ("rps", "p99_ms")
            for base in ("floor-reply", "floor")
        }
        result[mix] = {"median": med, "ratios": ratios}
        print(f"  mix={mix}:")
        for kind in kinds:
            r = med[kind]
            print(
                f"    {kind:11} {r['rps']:6.0f} req/s  p50 {r['p50_ms']:5.1f} ms  p99 {r['p99_ms']:5.1f} ms  "
                f"failures {r['failures']}  CPU {r['cpu_ms']:.3f} ms/req  "
                f"ctx switches {r['csw_vol']:.2f} vol + {r['csw_invol']:.2f} invol /req"
            )
        print(
            f"    bot vs floor-reply: req/s {_spread(ratios['rps_vs_floor-reply'])}x, "
            f"p99 {_spread(ratios['p99_ms_vs_floor-reply'])}x; vs bare floor: req/s "
            f"{_spread(ratios['rps_vs_floor'])}x, p99 {_spread(ratios['p99_ms_vs_floor'])}x"
        )
        if args.breakdown:
            cpu = {kind: med[kind]["cpu_ms"] for kind in kinds}
            print(
                f"    server CPU per request over the bare floor's: sending an answer at all (floor-reply) "
                f"{cpu['floor-reply'] - cpu['floor']:.3f} ms; the bot's query log {cpu['bot'] - cpu['bot-nolog']:.3f}"
                f" ms, answering {cpu['bot-nolog'] - cpu['bot-fixed']:.3f} ms, the rest (rendering, the "
                f"listener, the answer's size) {cpu['bot-fixed'] - cpu['floor']:.3f} ms"
            )
    print("  RSS after the rounds: " + ", ".join(f"{kind} {mb:.0f} MB" for kind, mb in rss.items()))
    units = result.get("units")
    checks = []
    if units:
        med, ratios = units["median"], units["ratios"]
        checks += [
            ("units req/s >= 0.7x floor-reply", statistics.median(ratios["rps_vs_floor-reply"]) >= 0.7),
            ("units p99 <= 1.5x floor-reply", statistics.median(ratios["p99_ms_vs_floor-reply"]) <= 1.5),
            ("server CPU <= 0.3 ms/req", med["bot"]["cpu_ms"] <= 0.3),
        ]
    if "mixed" in result:
        checks.append(
            ("mixed req/s >= 0.6x floor-reply", statistics.median(result["mixed"]["ratios"]["rps_vs_floor-reply"]) >= 0.6)
        )
    checks += [
        ("0 failures", all(r["failures"] == 0 for (_, kind), rs in rounds.items() if kind == "bot" for r in rs)),
        ("RSS <= 150 MB", rss["bot"] <= 150),
    ]
    print("  targets: " + "; ".join(f"{name}: {'OK' if ok else 'MISSED'}" for name, ok in checks))
    result["targets"] = dict(checks)
    return result


if __name__ == "__main__":
    main(sys.argv[1:])
