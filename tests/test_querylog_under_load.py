"""The query log's promises where they are hardest to keep: `billing-bot serve --http` as a real
process, many /units requests at once, SIGTERM while they are still arriving. Every answered
question is in the log exactly once, with its text redacted. (Behaviour only: no timings.)"""

from __future__ import annotations

import asyncio
import signal
import subprocess

import httpx

from bot.storage.querylog import QueryLog
from tests import payloads as p
from tests.conftest import free_port, healthy, serve_http, wait_until

REQUESTS = 300
CLIENTS = 16


async def _ask_all(url: str, texts: list[str], stop_after: int, stop) -> list[str]:
    """Send every text as a signed /units, CLIENTS at a time, calling `stop()` once `stop_after`
    answers are in (the other clients keep asking); the query ids the answers carried."""
    pending = iter(texts)
    ids: list[str] = []

    async def client(http: httpx.AsyncClient) -> None:
        for text in pending:
            body, content_type = p.slash(text)
            try:
                response = await http.post(
                    url, content=body, headers={"Content-Type": content_type, **p.signed_headers(body)}
                )
            except httpx.TransportError:  # the server has stopped taking requests
                return
            if response.status_code != 200:  # refused while shutting down: not answered
                continue
            feedback = response.json()["blocks"][-1]
            ids.append(feedback["elements"][0]["positive_button"]["value"].removeprefix("up:"))
            if len(ids) == stop_after:
                stop()

    async with httpx.AsyncClient(timeout=30) as http:
        await asyncio.gather(*(client(http) for _ in range(CLIENTS)))
    return ids


def test_concurrent_questions_then_sigterm_leave_exactly_one_redacted_row_each(fake_slack, tmp_path):
    port = free_port()
    proc = serve_http(fake_slack, tmp_path, port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    texts = [f"patient John Smith {20 + i % 40} min 97140" for i in range(REQUESTS)]
    try:
        assert wait_until(lambda: healthy(port), 20), "server did not come up"
        # SIGTERM while questions are still arriving: the last ones answered are still queued
        stop = lambda: proc.send_signal(signal.SIGTERM)
        ids = asyncio.run(_ask_all(f"http://127.0.0.1:{port}/slack/events", texts, REQUESTS // 2, stop))
        assert 0 == proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert REQUESTS // 2 <= len(ids) == len(set(ids))
    with QueryLog(tmp_path / "log.db").open_db() as db:
        rows = list(db.execute("select id, text from queries").fetchall())
    assert sorted(ids) == sorted(row_id for row_id, _ in rows)  # each answered question, once
    assert not [text for _, text in rows if "John Smith" in text]  # redacted before it was stored
