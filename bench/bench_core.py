"""Foundation targets: in-process latency of a units message, batch throughput of
`billing-bot ask --json -`, and start-up time of `billing-bot ask` (a units note, and a
knowledge-base question) against a bare import of yaml + rapidfuzz + sqlite_utils in the same
environment."""

from __future__ import annotations

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bot.core.answer import Answerer

CODES = ["97124", "97140", "97112", "97110", "97530", "97116", "97035"]
NAMES = ["massage", "manual therapy", "NMR", "ther ex", "MLD", "myofascial release", "swedish massage"]
FORMS = ["{m} min {c}", "{c} {m} min", "{c} for {m} minutes", "{c}: {m}", "{h}h{mm} {c}", "{m}min {c}"]


def units_messages(n: int, seed: int = 7) -> list[str]:
    """Realistic unit notes: one to three codes or names, assorted duration formats, sometimes a rule word."""
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.choice([1, 1, 2, 2, 3])):
            m = rnd.randint(5, 75)
            c = rnd.choice(CODES + NAMES)
            form = rnd.choice(FORMS)
            if "{h}" in form and m < 60:
                form = "{m} min {c}"
            parts.append(form.format(m=m, c=c, h=m // 60, mm=f"{m % 60:02d}"))
        msg = rnd.choice([" + ", ", ", " and "]).join(parts)
        if rnd.random() < 0.2:
            msg += rnd.choice([" ama", " cms", " per-code", " + 97010"])
        out.append(msg)
    return out


def bench_in_process(answerer: Answerer, messages: list[str]) -> dict:
    for m in messages[:500]:
        answerer.answer(m)  # warm up
    times = []
    for m in messages:
        t0 = time.perf_counter_ns()
        a = answerer.answer(m)
        times.append((time.perf_counter_ns() - t0) / 1e6)
        assert a.kind in ("units", "error"), (m, a.kind)
    times.sort()
    return {"n": len(times), "p50_ms": times[len(times) // 2], "p99_ms": times[int(len(times) * 0.99)],
            "max_ms": times[-1]}


def _bin() -> str:
    return shutil.which("billing-bot", path=str(Path(sys.executable).parent)) or "billing-bot"


def bench_batch(messages: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "notes.txt"
        src.write_text("\n".join(messages) + "\n")
        env = {**os.environ, "BILLING_BOT_DB": str(Path(tmp) / "bench.db")}
        best = None
        for _ in range(3):
            with src.open("rb") as fh:
                t0 = time.perf_counter()
                r = subprocess.run([_bin(), "ask", "--json", "-"], check=False, stdin=fh, capture_output=True, env=env, cwd=tmp)
                elapsed = time.perf_counter() - t0
            assert r.returncode == 0, r.stderr.decode()[-2000:]
            assert len(r.stdout.splitlines()) == len(messages)
            best = elapsed if best is None else min(best, elapsed)
    return {"lines": len(messages), "seconds": best, "per_second": len(messages) / best}


FAQ_QUESTION = "do I need an NPI to bill insurance?"


def bench_startup(runs: int = 15) -> dict:
    """`billing-bot ask` on the units path and on the FAQ path (which also loads the knowledge base
    and its matcher index, read back from the index cache as in daily use), each against a bare
    import of yaml + rapidfuzz + sqlite_utils; the three alternate run by run."""
    with tempfile.TemporaryDirectory() as tmp:
        from bot.core import index_cache

        env = {**os.environ, "BILLING_BOT_DB": str(Path(tmp) / "bench.db"), index_cache.ENV: tmp}
        cmds = {
            "baseline": [sys.executable, "-c", "import yaml, rapidfuzz, sqlite_utils"],
            "units": [_bin(), "ask", "40 min 97140"],
            "faq": [_bin(), "ask", FAQ_QUESTION],
        }
        subprocess.run(cmds["faq"], capture_output=True, check=True, env=env)  # build the index cache once
        samples: dict[str, list[float]] = {k: [] for k in cmds}
        for i in range(runs):
            for name in list(cmds) if i % 2 == 0 else list(cmds)[::-1]:
                t0 = time.perf_counter()
                subprocess.run(cmds[name], capture_output=True, check=True, env=env)
                samples[name].append(time.perf_counter() - t0)
    out = {f"{k}_s": statistics.median(v) for k, v in samples.items()}
    out["units_ratio"] = out["units_s"] / out["baseline_s"]
    out["faq_ratio"] = out["faq_s"] / out["baseline_s"]
    return out


def main() -> None:
    answerer = Answerer.from_knowledge()
    r = bench_in_process(answerer, units_messages(20_000))
    print(f"in-process units message: n={r['n']} p50={r['p50_ms']:.3f} ms p99={r['p99_ms']:.3f} ms "
          f"max={r['max_ms']:.2f} ms  (target p99 <= 0.5 ms)")
    b = bench_batch(units_messages(10_000, seed=11))
    print(f"batch `billing-bot ask --json -`: {b['lines']} lines in {b['seconds']:.2f} s = "
          f"{b['per_second']:,.0f} messages/s  (target >= 5,000/s)")
    s = bench_startup()
    for path in ("units", "faq"):
        print(f"start-up, {path} path: `billing-bot ask` {s[path + '_s'] * 1000:.0f} ms vs "
              f"`python -c \"import yaml, rapidfuzz, sqlite_utils\"` {s['baseline_s'] * 1000:.0f} ms = "
              f"{s[path + '_ratio']:.2f}x  (target <= 2x)")


if __name__ == "__main__":
    main()
