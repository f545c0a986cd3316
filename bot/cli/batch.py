"""Answering a stream of lines (`billing-bot ask -`): one output line per input line, in order.

Lines are read straight from the file descriptor in blocks of whatever is available now,
and each block's answers are written and flushed before waiting for more. So a program
that writes one line and waits for its answer gets it at once, and a file of 10,000 notes
is answered in large blocks. Large blocks are shared out to one worker process per core
(forked, so they start with the knowledge already loaded): answering is pure CPU work and
a single Python process uses one core.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterator

READ_SIZE = 1 << 20  # a pipe returns what it holds (64 KiB at most); a file, a block big enough to share out
PARALLEL_MIN_LINES = 1000  # below this a pool costs more than it saves
CHUNK = 200  # lines per task sent to a worker

_worker_answer: Callable[[str], str] | None = None  # set in the parent before forking


def line_blocks(fd: int) -> Iterator[list[bytes]]:
    """The complete lines available on `fd`, block by block; a last line without newline included."""
    partial = b""
    while True:
        chunk = os.read(fd, READ_SIZE)
        if not chunk:
            break
        lines = (partial + chunk).split(b"\n")
        partial = lines.pop()
        if lines:
            yield lines
    if partial:
        yield [partial]


def _run_worker(text: str) -> str:
    return _worker_answer(text)


def answer_stream(fd: int, write: Callable[[str], None], answer_line: Callable[[str], str], *,
                  parallel: bool = True) -> int:
    """Answer every line of `fd` with `answer_line(text) -> one output line`; returns the line count.

    :param parallel: allow worker processes for large blocks (the caller turns it off when
        answering has side effects that must stay in this process, such as the query log).
    """
    global _worker_answer
    workers = min(os.cpu_count() or 1, 4)
    pool = None
    count = 0
    try:
        for block in line_blocks(fd):
            texts = [raw.decode("utf-8", errors="replace").rstrip("\r") for raw in block]
            if pool is None and parallel and workers > 1 and len(texts) >= PARALLEL_MIN_LINES:
                _worker_answer = answer_line
                pool = multiprocessing.get_context("fork").Pool(workers)
            if pool is not None and len(texts) >= CHUNK:
                outputs = pool.map(_run_worker, texts, chunksize=CHUNK)
            else:
                outputs = [answer_line(t) for t in texts]
            write("\n".join(outputs) + "\n")
            count += len(texts)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return count
