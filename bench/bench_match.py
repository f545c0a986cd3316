"""Matcher targets: knowledge-base load <= 100 ms, p99 <= 2 ms per match on the shipped KB,
p99 <= 20 ms per match on a synthetic 10,000-entry KB made from the real entries, and the bot's
whole choice of entry (match, the classifier's second opinion, bot.core.decide) p99 <= 10 ms. The p99 targets
are judged on wall-clock time (what a user waits, including time the thread is not on a CPU);
thread CPU time is printed beside it, as the figure a busy machine inflates least.

Run `python -m bench.bench_match` (or `make bench`). The shipped KB is the bot's matcher as it
runs: the entries, knowledge/phrasings.yaml and the labelled questions of knowledge/asked/.
The timed questions are the ones of knowledge/asked/questions-1.yaml plus typo'd variants (so
the timings include typo correction), matched by a bot that did not learn from that file.
"""

from __future__ import annotations

import gc
import os
import random
import statistics
import string
import sys
import tempfile
import time
from pathlib import Path

from bot.core import index_cache
from bot.core.answer import Answerer
from bot.core.asked import load_asked
from bot.core.kb import FAQ_DIR, Entry, load_kb
from bot.core.match import Matcher, codes_in, load_vocabulary
from tests.eval.run_eval import QUESTIONS, load_questions

CHATTY = QUESTIONS.with_name("questions-5.yaml")  # long messages with context before the question

TARGET_LOAD_MS = 100.0
TARGET_P99_MS = 2.0
TARGET_P99_LARGE_MS = 20.0
TARGET_CHOICE_P99_MS = 10.0  # issue #12: the bot's choice of entry, per question, in process


def _ms(t0: int) -> float:
    return (time.perf_counter_ns() - t0) / 1e6


def bench_load(rounds: int = 15) -> dict:
    """Everything the bot does before its first FAQ answer: reading and validating the FAQ files,
    the vocabulary and the asked questions, and building the matcher index. Timed as it runs
    (the index read back from bot.core.index_cache) and as after an edit to knowledge/ (built)."""
    loaded, built = [], []
    chosen = os.environ.get(index_cache.ENV)
    with tempfile.TemporaryDirectory() as cache:
        os.environ[index_cache.ENV] = cache
        try:
            for _ in range(rounds):
                # Each round starts as a process that has not loaded the index yet: the round before
                # freed and collected outside the timing (`Answerer.from_knowledge().matcher` alone
                # timed freeing the index it had loaded, and the collector's passes over earlier ones).
                gc.collect()
                t0 = time.perf_counter_ns()
                answerer = Answerer.from_knowledge()
                answerer.matcher
                loaded.append(_ms(t0))
                del answerer
            for _ in range(5):
                for stale in Path(cache).glob("*"):
                    stale.unlink()
                t0 = time.perf_counter_ns()
                Answerer.from_knowledge().matcher
                built.append(_ms(t0))
        finally:
            if chosen is None:
                del os.environ[index_cache.ENV]
            else:
                os.environ[index_cache.ENV] = chosen
    return {
        "entries": len(load_kb(FAQ_DIR)),
        "asked": len(load_asked()),
        "load_median_ms": statistics.median(loaded[1:]),
        "load_max_ms": max(loaded[1:]),
        "build_median_ms": statistics.median(built),
    }


def typo(text: str, rnd: random.Random) -> str:
    """Swap two adjacent letters in one longer word, as fast typists do."""
    words = text.split()
    long = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not long:
        return text
    i = rnd.choice(long)
    w = words[i]
    j = rnd.randrange(1, len(w) - 2)
    words[i] = w[:j] + w[j + 1] + w[j] + w[j + 2 :]
    return " ".join(words)


def questions(rnd: random.Random) -> list[str]:
    base = [q.q for q in load_questions()]
    return base + [typo(q, rnd) for q in base]


def long_messages() -> list[str]:
    """Chatty messages with context before the question (knowledge/asked/questions-5.yaml), the
    costliest kind: the question sentences may be scored on their own too."""
    return [q.q for q in load_questions(CHATTY)] if CHATTY.exists() else []


def shipped_matcher(leave_out: str) -> Matcher:
    """The bot's matcher, without the asked file whose questions are timed on it."""
    return shipped_answerer(leave_out).matcher


def shipped_answerer(leave_out: str) -> Answerer:
    return Answerer.from_knowledge(leave_out_asked=frozenset({leave_out}))


class EntryChoice:
    """The bot's choice of entry (Answerer.choose: the matcher, the classifier's second opinion and
    bot.core.decide), timed like a matcher."""

    def __init__(self, answerer: Answerer):
        self.match = answerer.choose


def _timed(matcher: Matcher, texts: list[str]) -> tuple[list[float], list[float]]:
    """Wall-clock and thread-CPU milliseconds per match (the targets judge wall time)."""
    wall, cpu = [], []
    for text in texts:
        codes = codes_in(text)
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        matcher.match(text, codes)
        cpu.append((time.thread_time_ns() - c0) / 1e6)
        wall.append(_ms(t0))
    return wall, cpu


def _percentiles(wall: list[float], cpu: list[float]) -> dict:
    wall, cpu = sorted(wall), sorted(cpu)
    n = len(wall)
    return {
        "n": n,
        "p50_ms": wall[n // 2],
        "p99_ms": wall[int(n * 0.99)],
        "max_ms": wall[-1],
        "cpu_p50_ms": cpu[n // 2],
        "cpu_p99_ms": cpu[int(n * 0.99)],
    }


def bench_cold_latency(matcher: Matcher, texts: list[str]) -> dict:
    """Every question seen for the first time (typo-correction caches empty)."""
    return _percentiles(*_timed(matcher, texts))


def bench_latency(matcher: Matcher, texts: list[str], repeat: int = 3) -> dict:
    _timed(matcher, texts)  # warm-up: lazy indexes, caches
    wall, cpu = [], []
    for _ in range(repeat):
        w, c = _timed(matcher, texts)
        wall += w
        cpu += c
    return _percentiles(wall, cpu)


def synthetic_entries(real: tuple[Entry, ...], n: int, rnd: random.Random) -> list[Entry]:
    """n entries shaped like the real ones: real phrasings with words swapped for words from
    other answers, plus made-up words, so the vocabulary grows like a real KB's would."""
    pool = sorted({w.strip(".,:;()*_•\"'").lower() for e in real for w in e.answer.split()} - {""})
    made_up = [
        "".join(rnd.choice(string.ascii_lowercase) for _ in range(rnd.randint(5, 10))) for _ in range(n // 2)
    ]
    out = []
    for i in range(n):
        base = real[i % len(real)]

        def vary(text: str) -> str:
            words = text.split()
            for _ in range(rnd.randint(1, 3)):
                words[rnd.randrange(len(words))] = rnd.choice(pool)
            words.insert(rnd.randrange(len(words) + 1), rnd.choice(made_up))
            return " ".join(words)

        out.append(
            base.model_copy(
                update={
                    "id": f"{base.id}-{i}",
                    "question": vary(base.question),
                    "phrasings": tuple(vary(p) for p in base.phrasings),
                    "answer": base.answer + " " + " ".join(rnd.choice(made_up) for _ in range(3)),
                }
            )
        )
    return out


def bench_incremental(matcher: Matcher, real: tuple[Entry, ...]) -> dict:
    t0 = time.perf_counter_ns()
    for i in range(100):
        matcher.add_phrasing(
            real[i % len(real)].id, f"reviewer phrasing number {i} about {real[i % len(real)].question}"
        )
    phrasing_ms = _ms(t0) / 100
    t0 = time.perf_counter_ns()
    for i in range(20):
        matcher.add_entry(real[i].model_copy(update={"id": f"draft-{i}"}))
    entry_ms = _ms(t0) / 20
    return {"add_phrasing_ms": phrasing_ms, "add_entry_ms": entry_ms}


def _verdict(value: float, target: float) -> str:
    return f"{value:.2f} ms (target <= {target:g}: {'ok' if value <= target else 'MISSED'})"


def main() -> None:
    rnd = random.Random(11)
    load = bench_load()
    print(
        f"KB load ({load['entries']} entries, {load['asked']} asked questions; the index as built last time): "
        f"median {load['load_median_ms']:.1f} ms, max {_verdict(load['load_max_ms'], TARGET_LOAD_MS)}; "
        f"building it after an edit: median {load['build_median_ms']:.0f} ms"
    )

    kb = load_kb(FAQ_DIR)
    vocabulary = load_vocabulary()
    texts = questions(rnd)
    answerer = shipped_answerer(QUESTIONS.name)
    matcher = answerer.matcher
    for label, result in (
        ("first-time", bench_cold_latency(matcher, texts)),
        ("repeated", bench_latency(matcher, texts)),
    ):
        print(
            f"match, shipped KB, {result['n']} {label} questions: wall p50 {result['p50_ms']:.2f} ms, "
            f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms; "
            f"CPU p50 {result['cpu_p50_ms']:.2f} ms, p99 {result['cpu_p99_ms']:.2f} ms; "
            f"wall p99 {_verdict(result['p99_ms'], TARGET_P99_MS)}"
        )
    choice = bench_cold_latency(EntryChoice(shipped_answerer(QUESTIONS.name)), texts)  # a new matcher: first-time
    print(
        f"choice of entry (match + classifier + decide), shipped KB, {choice['n']} first-time questions: "
        f"wall p50 {choice['p50_ms']:.2f} ms, p99 {choice['p99_ms']:.2f} ms, max {choice['max_ms']:.1f} ms; "
        f"CPU p99 {choice['cpu_p99_ms']:.2f} ms; wall p99 {_verdict(choice['p99_ms'], TARGET_CHOICE_P99_MS)}"
    )

    chatty = long_messages()
    if chatty:
        # few messages, so one slow moment moves the p99: 5 runs, each on a new matcher, reported as
        # the median run, and as each message's fastest run (the machine's noise taken out)
        runs = [_timed(shipped_matcher(CHATTY.name), chatty) for _ in range(5)]
        each = [_percentiles(*run) for run in runs]
        result = {key: statistics.median(p[key] for p in each) for key in each[0]}
        wall, cpu = ([min(times) for times in zip(*(run[i] for run in runs))] for i in (0, 1))
        fastest = _percentiles(wall, cpu)
        print(
            f"match, shipped KB, {result['n']} long chatty messages (first-time, median of 5 runs): "
            f"wall p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms; "
            f"CPU p50 {result['cpu_p50_ms']:.2f} ms, p99 {result['cpu_p99_ms']:.2f} ms; "
            f"wall p99 {_verdict(result['p99_ms'], TARGET_P99_MS)}"
        )
        print(
            f"match, shipped KB, the same messages, each one's fastest of the 5 runs: wall p50 "
            f"{fastest['p50_ms']:.2f} ms, p99 {_verdict(fastest['p99_ms'], TARGET_P99_MS)}; "
            f"CPU p99 {fastest['cpu_p99_ms']:.2f} ms"
        )

    large = synthetic_entries(kb.entries, 10_000, rnd)
    t0 = time.perf_counter_ns()
    big = Matcher(large, vocabulary=vocabulary)
    # the asked questions too, each taught to the first copy of its entry
    first_copy = {entry.id: large[i].id for i, entry in enumerate(kb.entries)}
    for asked in load_asked():
        if asked.entry_id is None:
            big.add_declined(asked.text)
        elif asked.entry_id in first_copy:
            big.add_phrasing(first_copy[asked.entry_id], asked.text)
    print(f"synthetic {len(large):,}-entry KB (and the asked questions): index built in {_ms(t0) / 1000:.1f} s")
    for label, result in (
        ("first-time", bench_cold_latency(big, texts)),
        ("repeated", bench_latency(big, texts, 1)),
    ):
        print(
            f"match, 10,000 entries, {result['n']} {label} questions: wall p50 {result['p50_ms']:.2f} ms, "
            f"p99 {result['p99_ms']:.2f} ms, max {result['max_ms']:.1f} ms; "
            f"CPU p50 {result['cpu_p50_ms']:.2f} ms, p99 {result['cpu_p99_ms']:.2f} ms; "
            f"wall p99 {_verdict(result['p99_ms'], TARGET_P99_LARGE_MS)}"
        )

    inc = bench_incremental(big, tuple(large))
    print(
        f"incremental on the 10,000-entry KB: add_phrasing {inc['add_phrasing_ms']:.2f} ms, "
        f"add_entry {inc['add_entry_ms']:.2f} ms"
    )


if __name__ == "__main__":
    main()
    sys.exit(0)
