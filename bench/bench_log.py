"""Query-log targets: sustained write rate (>= 5,000 rows/s), the cost of `record_query` on the
answer path (microseconds), and answer latency with logging on vs off.

Run: `python -m bench bench_log` (or `python -m bench.bench_log`). `compare_answer_latency` is
reusable: pass any `answer(text)` callable and messages.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.storage.querylog import QueryLog, QueryRecord, new_query_id, utc_now

QUESTIONS = [
    "40 min 97124",
    "patient John Smith 53 min 97140 + 15 min 97112",
    "can a PT bill 97140 with 97124?",
    "how many units for 38 minutes of massage",
    "does aetna cover 99213?",
    "DOB 3/4/1961 member ID W123456789",
    "what is modifier 59",
    "25 min manual therapy + 20 min NMR",
    "is 97124 timed?",
    "client Mary Lee 1h05 massage",
]
KINDS = ["units", "faq", "faq", "no_match", "units", "help"]


def _records(n: int, seed: int = 5) -> list[QueryRecord]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        kind = rnd.choice(KINDS)
        out.append(
            QueryRecord(
                new_query_id(),
                utc_now(),
                rnd.choice(["slash", "mention", "dm"]),
                "T0001",
                f"C{rnd.randint(1, 40)}",
                f"U{rnd.randint(1, 400)}",
                rnd.choice(QUESTIONS),
                kind,
                "massage-units" if kind == "faq" else None,
                rnd.uniform(60, 100) if kind == "faq" else None,
                "cms" if kind == "units" else None,
                "97124 40m 3u = 3u/40m" if kind == "units" else None,
                rnd.uniform(0.2, 3.0),
            )
        )
    return out


def write_throughput(n: int = 50_000, path: Path | None = None, threads: int = 1) -> dict:
    """Queue n records as fast as the callers can and time until all are on disk."""
    records = _records(n)
    with tempfile.TemporaryDirectory() as tmp:
        log = QueryLog(path or Path(tmp) / "bench.db").start()
        chunk = n // threads
        started = time.perf_counter()

        def feed(part: list[QueryRecord]) -> None:
            for rec in part:
                log.record_query(rec)

        workers = [
            threading.Thread(target=feed, args=(records[i * chunk : (i + 1) * chunk],))
            for i in range(threads)
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        queued = time.perf_counter() - started
        assert log.flush(timeout=600), log.health()
        total = time.perf_counter() - started
        health = log.health()
        log.close()
    return {
        "rows": chunk * threads,
        "threads": threads,
        "seconds": round(total, 3),
        "rows_per_s": round(chunk * threads / total),
        "queue_seconds": round(queued, 3),
        "spilled": health["spilled"],
        "dropped": health["dropped"],
    }


def record_cost(n: int = 50_000) -> dict:
    """What the answer path pays per `record_query` (record built beforehand), writer running."""
    records = _records(n)
    with tempfile.TemporaryDirectory() as tmp:
        log = QueryLog(Path(tmp) / "bench.db").start()
        times = []
        for rec in records:
            t0 = time.perf_counter_ns()
            log.record_query(rec)
            times.append(time.perf_counter_ns() - t0)
        log.close(timeout=120)
    return _summary([t / 1000 for t in times], "us")


def build_cost(n: int = 20_000) -> dict:
    """Cost of building the record itself (new_query_id + utc_now + dataclass), also on the answer path."""
    times = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        QueryRecord(
            new_query_id(),
            utc_now(),
            "dm",
            "T",
            "C",
            "U",
            "40 min 97124",
            "units",
            None,
            None,
            "cms",
            None,
            1.0,
        )
        times.append(time.perf_counter_ns() - t0)
    return _summary([t / 1000 for t in times], "us")


def compare_answer_latency(
    answer: Callable[[str], object],
    messages: Sequence[str],
    *,
    rounds: int = 3,
    path: Path | None = None,
) -> dict:
    """Answer latency (ms) without and with logging, interleaved so drift hits both alike, and in
    alternating order. With logging, each answer also builds its `QueryRecord` and queues it, as
    the Slack app does; without, no record is built."""
    with tempfile.TemporaryDirectory() as tmp:
        log = QueryLog(path or Path(tmp) / "bench.db").start()
        for m in messages[:200]:
            answer(m)  # warm up
        off, on = [], []

        def without_log(m: str) -> None:  # the answer alone: no record built, nothing queued
            t0 = time.perf_counter()
            answer(m)
            off.append((time.perf_counter() - t0) * 1000)

        def with_log(m: str) -> None:  # the answer, its record built and queued, as the Slack app does
            t0 = time.perf_counter()
            a = answer(m)
            elapsed = (time.perf_counter() - t0) * 1000
            if hasattr(a, "kind"):
                log.record_query(QueryRecord.from_answer(a, surface="dm", latency_ms=elapsed, text=m))
            else:
                log.record_query(
                    QueryRecord(
                        new_query_id(), utc_now(), "dm", None, None, None, m, "faq", None, None, None, None, elapsed
                    )
                )
            on.append((time.perf_counter() - t0) * 1000)

        # Alternate which goes first, message by message: the second run of a message finds the
        # caches the first warmed, and neither side should always get that.
        for r in range(rounds):
            for i, m in enumerate(messages):
                first, second = (without_log, with_log) if (i + r) % 2 == 0 else (with_log, without_log)
                first(m)
                second(m)
        log.close(timeout=120)
    return {"off": _summary(off, "ms"), "on": _summary(on, "ms")}


def _summary(values: list[float], unit: str) -> dict:
    values = sorted(values)
    q = statistics.quantiles(values, n=100)
    return {
        "n": len(values),
        f"mean_{unit}": round(statistics.fmean(values), 4),
        f"p50_{unit}": round(q[49], 4),
        f"p95_{unit}": round(q[94], 4),
        f"p99_{unit}": round(q[98], 4),
    }


def main() -> None:
    print("write throughput (target >= 5,000 rows/s):")
    print("  1 thread :", write_throughput(50_000))
    print("  8 threads:", write_throughput(50_000, threads=8))
    print("record_query() cost on the answer path:", record_cost())
    print("QueryRecord build cost:", build_cost())
    try:
        from bench.bench_core import units_messages
        from bot.core.answer import Answerer
    except ImportError as exc:
        print(f"answer latency on/off: skipped ({exc})")
        return
    answerer = Answerer.from_knowledge()
    messages = units_messages(1000) + [q for q in QUESTIONS for _ in range(20)]
    print("answer latency, logging off vs on:", compare_answer_latency(answerer.answer, messages))


if __name__ == "__main__":
    main()
