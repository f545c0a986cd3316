"""Web API calls started after the ack, tracked so shutdown can wait for them."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine

log = logging.getLogger(__name__)


class Background:
    """Web API calls started after the ack, tracked so shutdown can wait for them (`drain`).

    A failure goes to the same reporter as `@app.error`, not to a scattered try/except."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task] = set()
        self.on_error: Callable[[BaseException, dict], Awaitable[None]] | None = None

    def start(self, coro: Coroutine, body: dict | None = None) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._done(t, body or {}))

    def _done(self, task: asyncio.Task, body: dict) -> None:
        self._tasks.discard(task)
        if task.cancelled() or task.exception() is None:
            return
        if self.on_error is not None:
            asyncio.ensure_future(self.on_error(task.exception(), body))
        else:
            log.error("background Slack call failed", exc_info=task.exception())

    @property
    def pending(self) -> int:
        return len(self._tasks)

    async def drain(self, timeout: float = 10.0) -> bool:
        """Wait for the calls in flight (and any they start); False if some were still running."""
        deadline = time.monotonic() + timeout
        while self._tasks:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            await asyncio.wait(set(self._tasks), timeout=left)
        return True
